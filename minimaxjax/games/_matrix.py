r"""Finite zero-sum games in mixed strategies, and their exact equilibria."""

import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax import constraints, operators
from minimaxjax.games._game import Game, frozen, pair, real_array


def _matrix_game_equilibrium(
    A: np.ndarray, max_pairs: int = 50_000
) -> tuple[np.ndarray, np.ndarray] | None:
    """A Nash equilibrium of ``min_x max_y xᵀAy`` on simplices, exactly.

    Shapley & Snow (1950): every extreme optimal pair is the solution of the
    equalising system of some square submatrix ``M`` (rows ``I``, columns ``J``):
    ``Mᵀx_I = v1``, ``M y_J = v1``, ``Σx = Σy = 1``. Enumerate the ``k × k``
    submatrices for ``k = 1, 2, …`` (all of them at once per ``k``) and return the
    first pair that is feasible and optimal (``max Aᵀx ≤ v ≤ min Ay``). None when
    there are more than ``max_pairs`` submatrices.
    """
    m, n = A.shape
    if math.comb(m + n, m) > max_pairs:
        return None
    tol = 1e-10 * max(1.0, float(np.abs(A).max()))
    for k in range(1, min(m, n) + 1):
        rows = np.array(list(itertools.combinations(range(m), k)))
        cols = np.array(list(itertools.combinations(range(n), k)))
        row_sets = np.repeat(rows, len(cols), axis=0)
        col_sets = np.tile(cols, (len(rows), 1))
        count = len(row_sets)
        M = A[row_sets[:, :, None], col_sets[:, None, :]]

        def bordered(S: np.ndarray, count: int = count, k: int = k) -> np.ndarray:
            top = np.concatenate([S, -np.ones((count, k, 1))], axis=2)
            bottom = np.concatenate(
                [np.ones((count, 1, k)), np.zeros((count, 1, 1))], 2
            )
            return np.concatenate([top, bottom], axis=1)

        Bx, By = bordered(np.swapaxes(M, 1, 2)), bordered(M)
        regular = np.linalg.cond(Bx) < 1e12
        if not regular.any():
            continue
        rhs = np.zeros((int(regular.sum()), k + 1, 1))
        rhs[:, -1] = 1.0
        sx = np.linalg.solve(Bx[regular], rhs)[..., 0]
        sy = np.linalg.solve(By[regular], rhs)[..., 0]
        rows_idx = np.arange(len(sx))[:, None]
        x = np.zeros((len(sx), m))
        y = np.zeros((len(sy), n))
        x[rows_idx, row_sets[regular]] = sx[:, :k]
        y[rows_idx, col_sets[regular]] = sy[:, :k]
        value = sx[:, k]
        feasible = (
            (x.min(axis=1) >= -tol)
            & (y.min(axis=1) >= -tol)
            & ((x @ A).max(axis=1) <= value + tol)
            & ((y @ A.T).min(axis=1) >= value - tol)
        )
        if feasible.any():
            i = int(np.argmax(feasible))
            xs, ys = np.clip(x[i], 0.0, None), np.clip(y[i], 0.0, None)
            return xs / xs.sum(), ys / ys.sum()
    return None


def _matrix_game(A: np.ndarray, name: str, description: str) -> Game:
    m, n = A.shape

    def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
        return x @ (jnp.asarray(A, jnp.result_type(x)) @ y)

    equilibrium = _matrix_game_equilibrium(A)
    # A non-uniform interior start: uniform play is the equilibrium of many games.
    x0, y0 = np.arange(1.0, m + 1.0), np.arange(n, 0.0, -1.0)
    return Game(
        name=name,
        field=operators.field(phi),
        phi=phi,
        solution=None if equilibrium is None else pair(*equilibrium),
        bounds=None,
        lipschitz=float(np.linalg.norm(A, 2)),
        init=pair(x0 / x0.sum(), y0 / y0.sum()),
        projection=constraints.chain(
            constraints.simplex(player=0), constraints.simplex(player=1)
        ),
        weak_mvi_rho=0.0,
        params=frozen({"A": A}),
        description=description,
    )


def matrix_game(A: Any) -> Game:
    r"""A finite two-player zero-sum game in mixed strategies.

    .. math::

        \min_{x ∈ Δ_m} \max_{y ∈ Δ_n} x^\top A y, \qquad V(z) = (Ay,\; −A^\top x),

    ``A[i, j]`` is the loss of the row player (``x``, who minimises) when the
    rows play ``i`` and the columns ``j``. ``projection`` projects each player
    onto its simplex. ``solution`` is an exact mixed Nash equilibrium (it
    satisfies the VI ``⟨V(z*), z − z*⟩ ≥ 0`` on the simplices; computed for games
    with at most ``C(m + n, m) = 50 000`` square submatrices, None beyond).
    ``lipschitz = ‖A‖₂``, ``weak_mvi_rho = 0`` (monotone). ``init`` puts weights
    proportional to ``1, …, m`` on the rows and ``n, …, 1`` on the columns.

    Args:
      A: the ``(m, n)`` loss matrix of the row player.

    Returns:
      A simplex-constrained :class:`Game` with vector players ``x ∈ Δ_m``,
      ``y ∈ Δ_n``.

    Example:
      >>> from minimaxjax import games
      >>> game = games.matrix_game([[3.0, 1.0], [0.0, 2.0]])
      >>> [[round(float(p), 4) for p in v] for v in game.solution]
      [[0.5, 0.5], [0.25, 0.75]]

    References:
      Shapley & Snow, *Basic solutions of discrete games*, Contributions to the
      Theory of Games I, 1950.

      Daskalakis & Panageas, *Last-Iterate Convergence: Zero-Sum Games and
      Constrained Min-Max Optimization*, ITCS 2019,
      https://arxiv.org/abs/1807.04252.
    """
    A = real_array("A", A, (2,))
    return _matrix_game(
        A, "matrix_game", f"Matrix game: a {A.shape[0]}x{A.shape[1]} zero-sum game."
    )


def rock_paper_scissors() -> Game:
    r"""Rock–paper–scissors: the matrix game whose only equilibrium is uniform play.

    .. math::

        A = \begin{bmatrix} 0 & 1 & −1 \\ −1 & 0 & 1 \\ 1 & −1 & 0 \end{bmatrix}
        \quad(\text{rows and columns: rock, paper, scissors}),

    ``A[i, j] = 1`` when ``i`` loses to ``j``. The value is 0, the equilibrium
    ``(1/3, 1/3, 1/3)`` for both players, and ``‖A‖₂ = √3``. See
    :func:`matrix_game` for the conventions.

    Returns:
      A simplex-constrained :class:`Game`.

    Example:
      >>> from minimaxjax import games
      >>> game = games.rock_paper_scissors()
      >>> [round(float(p), 6) for p in game.solution[0]]
      [0.333333, 0.333333, 0.333333]

    References:
      Daskalakis & Panageas, *Last-Iterate Convergence: Zero-Sum Games and
      Constrained Min-Max Optimization*, ITCS 2019,
      https://arxiv.org/abs/1807.04252.
    """
    A = np.array([[0.0, 1.0, -1.0], [-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]])
    return _matrix_game(A, "rock_paper_scissors", "Rock–paper–scissors: uniform NE.")
