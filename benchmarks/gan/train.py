"""Models, rules, losses and the training loop of the GAN benchmark.

The generator (2 → 128 → 128 → 2, ReLU, standard normal noise in ℝ²) and the
critic (2 → 128 → 128 → 1, ReLU) live in one ``nnx.Module`` with ``.generator``
and ``.critic``; each rule is one optax / minimaxjax transformation on the joint
parameters, driven by ``minimaxjax.gan.nnx_train_step`` (``steps_per_call``
whole iterations per jitted call, fresh data and noise per field evaluation).
"""

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import minimaxjax as mmx
from benchmarks.gan import mixtures
from minimaxjax import gan

__all__ = [
    "BATCH",
    "LOSSES",
    "RULES",
    "Gan",
    "Rule",
    "RunResult",
    "make_rule",
    "train",
]

BATCH = 256
NOISE_DIM = 2
HIDDEN = 128
# Adam-family betas for every adaptive rule (Gulrajani et al.'s WGAN-GP setting,
# the one Gidel et al. use for ExtraAdam).
BETAS = (0.5, 0.9)


class _MLP(nnx.Module):
    """``d_in → 128 → 128 → d_out`` with ReLU."""

    def __init__(self, d_in: int, d_out: int, rngs: nnx.Rngs) -> None:
        self.l1 = nnx.Linear(d_in, HIDDEN, rngs=rngs)
        self.l2 = nnx.Linear(HIDDEN, HIDDEN, rngs=rngs)
        self.l3 = nnx.Linear(HIDDEN, d_out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.l3(jax.nn.relu(self.l2(jax.nn.relu(self.l1(x)))))


class Critic(nnx.Module):
    """``2 → 128 → 128 → 1``, scores ``(batch,)``."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.net = _MLP(2, 1, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.net(x)[:, 0]


class Gan(nnx.Module):
    """The two players: ``generator`` (noise in ℝ² → ℝ²) and ``critic``."""

    def __init__(self, seed: int) -> None:
        rngs = nnx.Rngs(seed)
        self.generator = _MLP(NOISE_DIM, 2, rngs)
        self.critic = Critic(rngs)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule of the benchmark: a builder ``lr -> transformation``, its default
    learning rate and the grid that ``--full`` sweeps."""

    label: str
    build: Callable[[float], optax.GradientTransformation]
    lr: float
    grid: tuple[float, ...]


def _adam(lr: float) -> optax.GradientTransformation:
    return optax.adam(lr, b1=BETAS[0], b2=BETAS[1])


# Mirror-GAN and Mirror-Prox-GAN (Hsieh, Liu & Cevher, ICML 2019): MixedNE-LD
# with one SGLD chain per player (the generator's against the committed critic,
# the critic's against the committed generator) of MIRROR_GAN_STEPS steps, each
# averaged exponentially with weight MIRROR_GAN_BETA, the committed parameters
# moving half-way (β) to the averages; Mirror-Prox-GAN first runs those chains
# to an extrapolated point and then chains against it. The settings are ours,
# not the paper's (its experimental section could not be read here): K = 3 so
# that Mirror-GAN costs 1 + 2·2 = 5 field evaluations an iteration (11 for
# Mirror-Prox-GAN; the paper's chains are longer), β = 0.5 (mmx.mixed_ne_ld's
# default) and a small temperature τ = 1e-3, so the Langevin noise √(2η)·τ per
# step is far below the weights' scale. The chains are plain SGLD: the RMSprop
# preconditioning of the paper's image experiments is not used. The key is
# fixed (the builder only gets the learning rate); the data and generator noise
# still differ per seed. lr 3e-2 diverged (NaN) within 300 iterations on ring8
# with WGAN-GP (joint chains, K = 5), hence the grid stops at 1e-2.
MIRROR_GAN_STEPS = 3
MIRROR_GAN_BETA = 0.5
MIRROR_GAN_TEMPERATURE = 1e-3


def _mirror_gan(
    lr: float, *, extrapolate: bool = False
) -> optax.GradientTransformation:
    return mmx.mixed_ne_ld(
        lr,
        MIRROR_GAN_TEMPERATURE,
        key=jax.random.key(0),
        inner_steps=MIRROR_GAN_STEPS,
        beta=MIRROR_GAN_BETA,
        chains="per_player",
        extrapolate=extrapolate,
    )


RULES: dict[str, Rule] = {
    "sim_adam": Rule("simultaneous Adam", _adam, 1e-3, (1e-4, 3e-4, 1e-3)),
    "alt_adam": Rule(
        "alternating Adam (5 critic : 1 gen.)",
        lambda lr: mmx.alternating(
            {"critic": _adam(lr), "generator": _adam(lr)},
            turns=["critic"] * 5 + ["generator"],
        ),
        1e-3,
        (1e-4, 3e-4, 1e-3),
    ),
    "optimistic_adam": Rule(
        "optimistic Adam",
        lambda lr: optax.optimistic_adam(lr, b1=BETAS[0], b2=BETAS[1]),
        1e-3,
        (1e-4, 3e-4, 1e-3),
    ),
    "extra_adam": Rule(
        "ExtraAdam",
        lambda lr: mmx.extra_adam(lr, b1=BETAS[0], b2=BETAS[1]),
        2e-3,
        (3e-4, 1e-3, 2e-3),
    ),
    "extragradient": Rule(
        "extragradient (SGD)",
        lambda lr: mmx.extragradient(lr),
        1e-2,
        (3e-3, 1e-2, 3e-2),
    ),
    "extra_rmsprop": Rule(
        "Extra-RMSProp (mmx.extra)",
        lambda lr: mmx.extra(optax.rmsprop(lr)),
        1e-3,
        (3e-4, 1e-3, 2e-3),
    ),
    "mirror_gan": Rule(
        "Mirror-GAN (K=3)",
        _mirror_gan,
        1e-2,
        (1e-3, 3e-3, 1e-2),
    ),
    "mirror_prox_gan": Rule(
        "Mirror-Prox-GAN (K=3)",
        functools.partial(_mirror_gan, extrapolate=True),
        1e-2,
        (1e-3, 3e-3, 1e-2),
    ),
}

# Rules that cost several times the gradients of the others per iteration: on
# request (--rules), not in the default run nor in --full.
COSTLY = ("mirror_gan", "mirror_prox_gan")

# Loss name -> (formulation in minimaxjax.gan.LOSSES, critic penalty).
LOSSES: dict[str, tuple[str, Any]] = {
    "wgan_gp": ("wasserstein", functools.partial(gan.gradient_penalty, weight=10.0)),
    "non_saturating": ("non_saturating", None),
}
LOSS_LABELS = {"wgan_gp": "WGAN-GP", "non_saturating": "non-saturating"}


@functools.cache
def make_rule(name: str, lr: float) -> optax.GradientTransformation:
    """The transformation of rule ``name`` at learning rate ``lr``: one object per
    ``(name, lr)``, so that the seeds of a rule share its compiled train step (an
    ``nnx.Optimizer`` holds its transformation as a static field)."""
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; choose from {', '.join(RULES)}")
    return RULES[name].build(lr)


@dataclasses.dataclass
class RunResult:
    """One training run: final metrics (last iterate and generator EMA), the
    evaluation curve, final samples, the wall time, and the iteration at which
    the generator's parameters were found not finite (``None``: they stayed
    finite)."""

    final: dict[str, float]
    ema: dict[str, float]
    curve: dict[str, list[float]]
    samples: np.ndarray
    seconds: float
    diverged: int | None = None

    def save(self, path: Path) -> None:
        """Write the run to ``path`` (``.npz``: the samples and a JSON record),
        through a temporary file, so that a killed run leaves no partial file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "final": self.final,
            "ema": self.ema,
            "curve": self.curve,
            "seconds": self.seconds,
            "diverged": self.diverged,
        }
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as f:
            np.savez(f, samples=self.samples, record=np.asarray(json.dumps(record)))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> "RunResult":
        """Read a run written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            record = json.loads(str(data["record"]))
            return cls(samples=data["samples"], **record)


@functools.cache
def _step(
    loss: str, dataset: str, steps_per_call: int
) -> Callable[[nnx.Module, nnx.Optimizer, jax.Array], Any]:
    formulation, penalty = LOSSES[loss]
    mixture = mixtures.DATASETS[dataset]()
    return gan.nnx_train_step(
        formulation,
        sample_real=lambda key: mixture.sample(key, BATCH),
        sample_noise=lambda key: jax.random.normal(key, (BATCH, NOISE_DIM)),
        penalty=penalty,
        steps_per_call=steps_per_call,
    )


@nnx.jit
def _generate(generator: nnx.Module, noise: jax.Array) -> jax.Array:
    return generator(noise)


@jax.jit
def _finite(params: Any) -> jax.Array:
    leaves = jax.tree.leaves(params)
    return jnp.all(jnp.stack([jnp.isfinite(leaf).all() for leaf in leaves]))


def train(
    rule: optax.GradientTransformation,
    *,
    loss: str,
    dataset: str,
    seed: int,
    iterations: int,
    eval_every: int,
    steps_per_call: int = 50,
    ema_decay: float = 0.9,
    num_eval: int = 2500,
    curve_eval: int = 500,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Train one GAN and evaluate it.

    Every ``eval_every`` iterations the curve records modes covered and the
    high-quality share on ``num_eval`` generator samples and W₁ between
    ``curve_eval`` generator and target samples. The generator EMA is updated
    after every jitted call (every ``steps_per_call`` iterations) with
    ``ema_decay`` per call. At the end: modes, HQ share and W₁ (POT, exact) on
    ``num_eval`` generator samples against ``num_eval`` target samples, for the
    last iterate and for the EMA.

    A run whose generator parameters are not finite at a curve point stops
    training there: its samples are NaN, so the critic's gradient and then every
    parameter are NaN at the next step, and the EMA (updated with them) is NaN
    too, for good. The rest of the curve is recorded from that state without
    training, and ``diverged`` says at which iteration it was found.

    Args:
      rule: the transformation on the joint parameters.
      loss: a key of :data:`LOSSES`.
      dataset: a key of :data:`mixtures.DATASETS`.
      seed: initialisation, data and noise seed.
      iterations: iterations of the rule (a multiple of ``steps_per_call`` is
        used, rounded up).
      eval_every: iterations between curve points (a multiple of
        ``steps_per_call``).
      steps_per_call: iterations per jitted call.
      ema_decay: the generator EMA's decay per call.
      num_eval: generator and target samples for the final metrics.
      curve_eval: samples for the curve's W₁.
      progress: called with the number of iterations done after each call.

    Returns:
      The run's :class:`RunResult`.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    if dataset not in mixtures.DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r}; choose from {', '.join(mixtures.DATASETS)}"
        )
    mixture = mixtures.DATASETS[dataset]()
    steps_per_call = min(steps_per_call, iterations, eval_every)
    calls = -(-iterations // steps_per_call)
    per_eval = max(1, eval_every // steps_per_call)
    step = _step(loss, dataset, steps_per_call)
    tic = time.perf_counter()
    model = Gan(seed)
    optimizer = nnx.Optimizer(model, rule, wrt=nnx.Param)
    ema = nnx.clone(model.generator)
    base = jax.random.key(seed)
    eval_key = jax.random.fold_in(base, 1_000_003)
    target = np.asarray(mixture.sample(jax.random.fold_in(eval_key, 1), num_eval))
    noise = jax.random.normal(jax.random.fold_in(eval_key, 2), (num_eval, NOISE_DIM))
    curve: dict[str, list[float]] = {"iteration": [], "modes": [], "hq": [], "w": []}

    def record(done: int) -> None:
        x = np.asarray(_generate(model.generator, noise))
        m = mixtures.metrics(mixture, x)
        curve["iteration"].append(float(done))
        curve["modes"].append(m["modes"])
        curve["hq"].append(m["hq"])
        curve["w"].append(mixtures.wasserstein(x[:curve_eval], target[:curve_eval]))

    record(0)
    diverged = None
    for call in range(calls):
        done = (call + 1) * steps_per_call
        if diverged is None:
            step(model, optimizer, jax.random.fold_in(base, call))
            new = nnx.state(model.generator, nnx.Param)
            old = nnx.state(ema, nnx.Param)
            nnx.update(ema, gan.average(old, new, call + 1, decay=ema_decay))
        if (call + 1) % per_eval == 0 or call + 1 == calls:
            record(done)
            generator = nnx.state(model.generator, nnx.Param)
            if diverged is None and not _finite(generator):
                diverged = done
        if progress is not None:
            progress(steps_per_call)
    samples = np.asarray(_generate(model.generator, noise))
    final = mixtures.metrics(mixture, samples, target)
    ema_samples = np.asarray(_generate(ema, noise))
    ema_metrics = mixtures.metrics(mixture, ema_samples, target)
    return RunResult(
        final=final,
        ema=ema_metrics,
        curve=curve,
        samples=samples,
        seconds=time.perf_counter() - tic,
        diverged=diverged,
    )
