r"""Linear fields ``V(z) = M(z − z*)``: the bilinear, quadratic and lower-bound games.

Their constants hold on the whole space: ``lipschitz = ‖M‖₂``, and
``weak_mvi_rho`` is the infimum of ``⟨Mw, w⟩/‖Mw‖²`` over ``w = z − z*``.
"""

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax import operators
from minimaxjax.games import _numerics as numerics
from minimaxjax.games._game import Game, frozen, pair, real, real_array


def bilinear(
    n: int = 1,
    A: Any = None,
    *,
    b: Any = None,
    c: Any = None,
    key: jax.Array | None = None,
) -> Game:
    r"""The bilinear game, where GDA spirals out and EG, OGDA, PPM converge.

    .. math::

        Φ(x, y) = x^\top A y + b^\top x + c^\top y, \qquad
        V(z) = (Ay + b,\; −A^\top x − c).

    The default ``Φ = xy`` has ``V(z) = Jz`` with ``J² = −I``. The solution solves
    ``Ay* = −b``, ``Aᵀx* = −c`` (the least-norm one; None if there is none);
    ``lipschitz = ‖A‖₂`` holds everywhere and ``weak_mvi_rho`` is 0 (the field is
    monotone). ``init`` is all ones.

    Args:
      n: the dimension of each player when ``A`` is None: ``n = 1`` gives
        scalar players and ``A = 1``; ``n > 1`` draws ``A`` with standard normal
        entries divided by ``√n`` (from ``key``).
      A: a scalar (scalar players) or an ``(m, n)`` matrix (vector players);
        overrides ``n``.
      b: the linear term of ``x`` (scalar or ``(m,)``), zero by default.
      c: the linear term of ``y`` (scalar or ``(n,)``), zero by default.
      key: PRNG key for the random ``A`` (``jax.random.PRNGKey(0)`` if None).

    Returns:
      An unconstrained :class:`Game`; ``params`` holds ``A``, ``b`` and ``c``.

    Example:
      >>> from minimaxjax import games
      >>> game = games.bilinear()
      >>> [float(v) for v in game.field((game.init[0], 2.0 * game.init[1]))]
      [2.0, -1.0]
      >>> games.bilinear(3).init[0].shape
      (3,)

    References:
      Daskalakis, Ilyas, Syrgkanis & Zeng, *Training GANs with Optimism*, ICLR
      2018, https://arxiv.org/abs/1711.00141.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(
            f"n must be a positive int, got {n!r} of type {type(n).__name__}."
        )
    if n < 1:
        raise ValueError(f"n must be a positive int, got {n}.")
    if A is None:
        if n == 1:
            A = np.ones(())
        else:
            key = jax.random.PRNGKey(0) if key is None else key
            # Drawn in float32 so the game is the same with and without x64.
            draw = jax.random.normal(key, (n, n), jnp.float32)
            A = np.asarray(draw, np.float64) / math.sqrt(n)
    elif n != 1:
        raise ValueError(f"pass either n or A, got n={n} and A of shape {np.shape(A)}.")
    A = real_array("A", A, (0, 2))
    shape_b: tuple[int, ...] = A.shape[:1]  # () for a scalar A, (m,) for a matrix
    shape_c: tuple[int, ...] = A.shape[1:]
    b = np.zeros(shape_b) if b is None else real_array("b", b, (len(shape_b),))
    c = np.zeros(shape_c) if c is None else real_array("c", c, (len(shape_c),))
    if b.shape != shape_b or c.shape != shape_c:
        raise ValueError(
            f"b and c must have shapes {shape_b} and {shape_c} to match A of shape "
            f"{A.shape}, got {b.shape} and {c.shape}."
        )

    if A.ndim == 0:
        a_, b_, c_ = float(A), float(b), float(c)

        def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
            return a_ * x * y + b_ * x + c_ * y

        z_star: tuple[Any, Any] | None = None
        if a_ != 0.0:
            z_star = (0.0 - c_ / a_, 0.0 - b_ / a_)  # 0.0 − … avoids −0.0
        elif b_ == 0.0 and c_ == 0.0:
            z_star = (0.0, 0.0)
        lipschitz = abs(a_)
    else:

        def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
            dtype = jnp.result_type(x)
            return (
                x @ (jnp.asarray(A, dtype) @ y)
                + jnp.asarray(b, dtype) @ x
                + jnp.asarray(c, dtype) @ y
            )

        x_star = np.linalg.lstsq(A.T, -c, rcond=None)[0]
        y_star = np.linalg.lstsq(A, -b, rcond=None)[0]
        scale = 1e-10 * (1.0 + np.abs(A).max())
        solvable = np.allclose(A.T @ x_star, -c, atol=scale) and np.allclose(
            A @ y_star, -b, atol=scale
        )
        z_star = (x_star, y_star) if solvable else None
        lipschitz = float(np.linalg.norm(A, 2))
    init = (np.ones(shape_b), np.ones(shape_c))
    return Game(
        name="bilinear",
        field=operators.field(phi),
        phi=phi,
        solution=None if z_star is None else pair(*z_star),
        bounds=None,
        lipschitz=lipschitz,
        init=pair(*init),
        weak_mvi_rho=0.0 if z_star is not None else None,
        params=frozen({"A": A, "b": b, "c": c}),
        description="Bilinear: xᵀAy + bᵀx + cᵀy, GDA diverges, EG/OGDA/PPM converge.",
    )


def _quadratic_blocks(P: Any, B: Any, Q: Any) -> tuple[np.ndarray, ...]:
    P, B, Q = (
        real_array(name, v, (0, 2)) for name, v in (("P", P), ("B", B), ("Q", Q))
    )
    if P.ndim == B.ndim == Q.ndim == 0:
        return P, B, Q
    m = P.shape[0] if P.ndim else (B.shape[0] if B.ndim else None)
    n = Q.shape[0] if Q.ndim else (B.shape[1] if B.ndim else None)
    m, n = m or n, n or m
    assert m is not None and n is not None
    if B.ndim == 0 and m != n:
        raise ValueError(
            f"a scalar B needs square blocks, got P {m}x{m} and Q {n}x{n}."
        )
    P = P * np.eye(m) if P.ndim == 0 else P
    Q = Q * np.eye(n) if Q.ndim == 0 else Q
    B = B * np.eye(m) if B.ndim == 0 else B
    if P.shape != (m, m) or Q.shape != (n, n) or B.shape != (m, n):
        raise ValueError(
            "P, B, Q must have shapes (m, m), (m, n), (n, n), got "
            f"{P.shape}, {B.shape}, {Q.shape}."
        )
    return P, B, Q


def quadratic(P: Any = 1.0, B: Any = 1.0, Q: Any = 1.0) -> Game:
    r"""A quadratic game: strongly monotone, or weak-MVI with negative curvature.

    .. math::

        Φ(x, y) = \tfrac12 x^\top P x + x^\top B y − \tfrac12 y^\top Q y, \qquad
        V(z) = Mz, \quad M = \begin{bmatrix} P_s & B \\ −B^\top & Q_s \end{bmatrix},

    ``P_s``, ``Q_s`` the symmetric parts. With ``P, Q ≻ 0`` the game is strongly
    convex–strongly concave (``V`` is ``min(λ_min(P_s), λ_min(Q_s))``-strongly
    monotone); with negative ``P``, ``Q`` and a strong coupling ``B`` it is
    nonconvex–nonconcave yet satisfies a weak MVI. The solution is the origin,
    ``lipschitz = ‖M‖₂`` (everywhere) and ``weak_mvi_rho`` the infimum of
    ``⟨Mz, z⟩/‖Mz‖²``: ``λ_min(sym(M⁻¹))`` when ``M`` is invertible, the same on
    ``range(M)`` with the pseudo-inverse when ``range(M) ⊥ null(M)`` (so ≥ 0
    whenever ``P_s, Q_s ⪰ 0``, singular or not), None otherwise (the quotient is
    unbounded below). ``init`` is all ones.

    Args:
      P: the ``x`` curvature: a scalar (times the identity) or an ``(m, m)``
        matrix.
      B: the coupling: a scalar (times the identity) or an ``(m, n)`` matrix.
      Q: the ``y`` curvature (Φ is *minus* ``½yᵀQy``): a scalar or an ``(n, n)``
        matrix.

    All three scalars give scalar players; any matrix gives vector players.

    Returns:
      An unconstrained :class:`Game`; ``params`` holds ``P``, ``B``, ``Q``.

    Example:
      >>> from minimaxjax import games
      >>> game = games.quadratic(P=-0.5, B=2.0, Q=-0.5)  # nonconvex-nonconcave
      >>> round(game.weak_mvi_rho, 4)  # = P / (P² + B²)
      -0.1176

    References:
      Diakonikolas, Daskalakis & Jordan, *Efficient Methods for Structured
      Nonconvex-Nonconcave Min-Max Optimization*, AISTATS 2021,
      https://arxiv.org/abs/2011.00364.
    """
    P, B, Q = _quadratic_blocks(P, B, Q)
    if P.ndim == 0:
        p_, b_, q_ = float(P), float(B), float(Q)

        def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
            return 0.5 * p_ * x * x + b_ * x * y - 0.5 * q_ * y * y

        M = np.array([[p_, b_], [-b_, q_]])
        init: tuple[Any, Any] = (1.0, 1.0)
        zero: tuple[Any, Any] = (0.0, 0.0)
    else:

        def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
            dtype = jnp.result_type(x)
            P_, B_, Q_ = (jnp.asarray(v, dtype) for v in (P, B, Q))
            return 0.5 * x @ (P_ @ x) + x @ (B_ @ y) - 0.5 * y @ (Q_ @ y)

        M = np.block([[(P + P.T) / 2, B], [-B.T, (Q + Q.T) / 2]])
        m, n = B.shape
        init, zero = (np.ones(m), np.ones(n)), (np.zeros(m), np.zeros(n))
    return Game(
        name="quadratic",
        field=operators.field(phi),
        phi=phi,
        solution=pair(*zero),
        bounds=None,
        lipschitz=float(np.linalg.norm(M, 2)),
        init=pair(*init),
        weak_mvi_rho=numerics.rho_or_none(numerics.linear_rho(M)),
        params=frozen({"P": P, "B": B, "Q": Q}),
        description="Quadratic: ½xᵀPx + xᵀBy − ½yᵀQy, a linear field.",
    )


def lower_bound(a: float = 2.0 * math.sqrt(2.0), b: float = -1.0) -> Game:
    r"""Pethick et al.'s lower-bound example: a linear game with negative weak-MVI ρ.

    .. math::

        Φ(x, y) = axy + \tfrac{b}{2}x^2 − \tfrac{b}{2}y^2, \qquad
        V(z) = (bx + ay,\; by − ax).

    With ``b < 0`` both players face the wrong curvature; the coupling ``a`` keeps
    a weak MVI with ``ρ = b/(a² + b²)`` and ``L = √(a² + b²)`` (``−1/9`` and ``3``
    for the defaults). The solution is the origin; ``init`` ``(1, 1)``.

    Args:
      a: the coupling.
      b: the curvature of both players.

    Returns:
      An unconstrained :class:`Game` (the case ``P = Q = b``, ``B = a`` of
      :func:`quadratic`).

    Example:
      >>> from minimaxjax import games
      >>> game = games.lower_bound()
      >>> round(game.lipschitz, 12), round(game.weak_mvi_rho, 12)
      (3.0, -0.111111111111)

    References:
      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    a, b = real("a", a), real("b", b)
    game = quadratic(P=b, B=a, Q=b)
    return dataclasses.replace(
        game,
        name="lower_bound",
        params=frozen({"a": a, "b": b}),
        description="Lower bound: axy + (b/2)(x² − y²), a negative weak-MVI ρ.",
    )
