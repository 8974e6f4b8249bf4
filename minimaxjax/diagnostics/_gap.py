"""The duality gap of a matrix game at a pair of mixed strategies."""

from typing import Any

import jax
import jax.numpy as jnp

from minimaxjax.diagnostics._flat import common_dtype

__all__ = ["duality_gap"]


def duality_gap(A: Any, x: Any, y: Any) -> jax.Array:
    r"""The duality gap of ``min_{x∈Δ_m} max_{y∈Δ_n} xᵀAy`` at ``(x, y)``.

    .. math::

        \operatorname{gap}(x, y) = \max_{y' ∈ Δ_n} x^\top A y'
        - \min_{x' ∈ Δ_m} x'^\top A y
        = \max_j (x^\top A)_j - \min_i (A y)_i,

    the orientation of :func:`minimaxjax.games.matrix_game` (``x``, the rows,
    minimises). It is non-negative on the simplices and zero exactly at the Nash
    equilibria; ``gap(x, y) ≤ ε`` makes both strategies ε-optimal. Traceable.

    Args:
      A: the ``(m, n)`` loss matrix of the row player.
      x: the row player's mixed strategy, shape ``(m,)``.
      y: the column player's mixed strategy, shape ``(n,)``.

    Returns:
      The gap, a scalar array (float64 if any input is float64, else float32).

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> game = mmx.games.rock_paper_scissors()
      >>> A = game.params["A"]
      >>> float(mmx.diagnostics.duality_gap(A, *game.solution))
      0.0
      >>> rock = jnp.array([1.0, 0.0, 0.0])
      >>> float(mmx.diagnostics.duality_gap(A, rock, rock))   # 1 − (−1)
      2.0

    References:
      von Neumann, *Zur Theorie der Gesellschaftsspiele*, Math. Ann. 100, 1928.
      Nemirovski, *Prox-Method with Rate of Convergence O(1/t)*, SIAM J. Optim.
      15, 2004, https://doi.org/10.1137/S1052623403425629 (the gap as the
      accuracy measure of saddle-point methods).
    """
    dtype = common_dtype([A, x, y])
    A, x, y = (jnp.asarray(v).astype(dtype) for v in (A, x, y))
    if A.ndim != 2:
        raise ValueError(f"A must be an (m, n) matrix, got shape {A.shape}.")
    m, n = A.shape
    if x.shape != (m,):
        raise ValueError(
            f"x must have shape ({m},) to match A {A.shape}, got {x.shape}."
        )
    if y.shape != (n,):
        raise ValueError(
            f"y must have shape ({n},) to match A {A.shape}, got {y.shape}."
        )
    return jnp.max(x @ A) - jnp.min(A @ y)
