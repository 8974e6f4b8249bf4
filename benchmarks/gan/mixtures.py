"""The mixture-of-Gaussians targets and the mode-collapse metrics.

Two targets, uniform over their modes:

* ``grid25``: 25 Gaussians with means on the grid ``{−4, −2, 0, 2, 4}²`` and
  σ = 0.05 (the 5×5 grid of Dumoulin et al.'s ALI paper, used with this spread
  in Gulrajani et al.'s WGAN-GP code as "25gaussians");
* ``ring8``: 8 Gaussians with means on a circle of radius 2 and σ = 0.02 (the
  ring of Metz et al., *Unrolled Generative Adversarial Networks*, ICLR 2017,
  https://arxiv.org/abs/1611.02163, which uses σ = 0.02 on radius 2).

Metrics on generator samples: *modes covered* (a mode counts when at least 1% of
the samples fall within 3σ of its mean), the *high-quality share* (the fraction
of samples within 3σ of some mode), and the Wasserstein distance to target
samples, computed exactly by POT's network simplex (``ot.emd2``, uniform weights).

References:
  Gulrajani, Ahmed, Arjovsky, Dumoulin and Courville, *Improved Training of
  Wasserstein GANs*, NeurIPS 2017, https://arxiv.org/abs/1704.00028. Metz, Poole,
  Pfau and Sohl-Dickstein, *Unrolled Generative Adversarial Networks*, ICLR 2017.
  Srivastava, Valkov, Russell, Gutmann and Sutton, *VEEGAN*, NeurIPS 2017,
  https://arxiv.org/abs/1705.07761 (the 3σ high-quality criterion). Flamary et
  al., *POT: Python Optimal Transport*, JMLR 2021.
"""

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "DATASETS",
    "Mixture",
    "grid25",
    "high_quality",
    "metrics",
    "mode_counts",
    "modes_covered",
    "ring8",
    "wasserstein",
]

Cost = Literal["euclidean", "sqeuclidean"]


@dataclasses.dataclass(frozen=True)
class Mixture:
    """A uniform mixture of isotropic Gaussians in the plane.

    Attributes:
      name: a short name (``grid25``, ``ring8``).
      means: the modes' means, ``(modes, 2)``.
      sigma: the common standard deviation per coordinate.
    """

    name: str
    means: np.ndarray
    sigma: float

    @property
    def num_modes(self) -> int:
        """The number of modes."""
        return int(self.means.shape[0])

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` float32 samples ``(n, 2)``: a uniform mode, plus σ·N(0, I)."""
        mode_key, noise_key = jax.random.split(key)
        modes = jax.random.randint(mode_key, (n,), 0, self.num_modes)
        means = jnp.asarray(self.means, jnp.float32)[modes]
        return means + jnp.float32(self.sigma) * jax.random.normal(
            noise_key, (n, 2), jnp.float32
        )


def grid25() -> Mixture:
    """25 Gaussians, means on ``{−4, −2, 0, 2, 4}²``, σ = 0.05."""
    axis = np.arange(-4.0, 5.0, 2.0)
    means = np.array([(x, y) for x in axis for y in axis], np.float32)
    return Mixture("grid25", means, 0.05)


def ring8() -> Mixture:
    """8 Gaussians, means on the circle of radius 2, σ = 0.02."""
    angles = 2 * math.pi * np.arange(8) / 8
    means = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture("ring8", means.astype(np.float32), 0.02)


DATASETS = {"grid25": grid25, "ring8": ring8}


def _distances(mixture: Mixture, samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, np.float64)
    return np.linalg.norm(x[:, None, :] - mixture.means[None, :, :], axis=-1)


def mode_counts(
    mixture: Mixture, samples: np.ndarray, radius: float = 3.0
) -> np.ndarray:
    """How many samples fall within ``radius``·σ of each mode, ``(modes,)``.

    A sample counts for its nearest mode only (the balls do not overlap on the
    benchmark's mixtures).
    """
    d = _distances(mixture, samples)
    nearest = d.argmin(axis=1)
    close = d[np.arange(len(d)), nearest] <= radius * mixture.sigma
    return np.bincount(nearest[close], minlength=mixture.num_modes)


def modes_covered(
    mixture: Mixture,
    samples: np.ndarray,
    *,
    threshold: float = 0.01,
    radius: float = 3.0,
) -> int:
    """Modes with at least ``threshold`` of the samples within ``radius``·σ."""
    counts = mode_counts(mixture, samples, radius)
    return int(np.sum(counts >= threshold * len(samples)))


def high_quality(mixture: Mixture, samples: np.ndarray, radius: float = 3.0) -> float:
    """The share of samples within ``radius``·σ of some mode."""
    return float(mode_counts(mixture, samples, radius).sum() / len(samples))


def wasserstein(x: np.ndarray, y: np.ndarray, cost: Cost = "euclidean") -> float:
    """The exact optimal-transport cost between two equal-weight sample sets.

    ``cost="euclidean"`` gives W₁ (in the data's units); ``"sqeuclidean"`` gives
    W₂² (the squared 2-Wasserstein distance). Computed by POT (``ot.emd2``, the
    network simplex) on the full cost matrix. A sample set with a non-finite point
    (a diverged generator) is infinitely far: ``inf``, never the 0 that the
    solver returns on a NaN cost matrix.
    """
    import ot  # type: ignore[import-untyped]

    if cost not in ("euclidean", "sqeuclidean"):
        raise ValueError(f"cost must be 'euclidean' or 'sqeuclidean', got {cost!r}.")
    a = np.asarray(x, np.float64)
    b = np.asarray(y, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    weights_a = np.full(len(a), 1.0 / len(a))
    weights_b = np.full(len(b), 1.0 / len(b))
    matrix = ot.dist(a, b, metric=cost)
    return float(ot.emd2(weights_a, weights_b, matrix, numItermax=10_000_000))


def metrics(
    mixture: Mixture,
    samples: np.ndarray,
    target: np.ndarray | None = None,
    cost: Cost = "euclidean",
) -> dict[str, float]:
    """Modes covered, high-quality share and (with ``target``) the W-distance."""
    result = {
        "modes": float(modes_covered(mixture, samples)),
        "hq": high_quality(mixture, samples),
    }
    if target is not None:
        result["w"] = wasserstein(samples, target, cost)
    return result
