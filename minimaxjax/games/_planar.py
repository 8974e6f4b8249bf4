r"""Planar games with a closed-form field: the polar game, the monkey and weird
saddles, and the escaping trap."""

import math
from typing import Any

import jax
import numpy as np

from minimaxjax import operators
from minimaxjax.games import _numerics as numerics
from minimaxjax.games._game import Game, box_projection, frozen, pair, real, square


def polar_game(a: float = 1 / 3, b: float = 1.0) -> Game:
    r"""The polar game: the circles ‖z‖ = 3/4 and 1 are closed orbits of its flow.

    .. math::

        V(z) = \Big(−by + \tfrac{a}{16}\,x\,(r^2 − 1)(16r^2 − 9),\;
                     bx + \tfrac{a}{16}\,y\,(r^2 − 1)(16r^2 − 9)\Big),
        \qquad r^2 = x^2 + y^2,

    on the box ``[−1.1, 1.1]²``, start ``(1, 0.5)``. The field rotates with speed
    ``b`` and pushes radially by ``(a/16)(r² − 1)(16r² − 9)``; it is not the
    gradient field of any Φ (``phi`` is None). The solution is the origin; ``a``
    controls how negative the weak-MVI ρ is.

    Args:
      a: strength of the radial term.
      b: rotation speed (``b ≠ 0`` keeps the origin the only zero).

    Returns:
      A box-constrained :class:`Game`; ``lipschitz`` is ``sup ‖DV‖₂`` on the box
      (``‖DV‖`` depends on ``r²`` only and is maximised numerically).

    Example:
      >>> from minimaxjax import games
      >>> game = games.polar_game()
      >>> [float(v) for v in game.field(game.solution)]
      [0.0, 0.0]
      >>> game.phi is None
      True

    References:
      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    a, b = real("a", a), real("b", b)
    k = a / 16.0

    def V(z: Any, *_: Any) -> Any:
        x, y = z
        r2 = x * x + y * y
        radial = k * (r2 - 1.0) * (16.0 * r2 - 9.0)
        return type(z)((radial * x - b * y, radial * y + b * x))

    # DV = k·(h I + 2h′ zzᵀ) + b·rotation, h(s) = (s − 1)(16s − 9), s = r²: the
    # symmetric part has eigenvalues kh (across z) and k(h + 2sh′) (along z), so
    # ‖DV‖ = (√((λ₁ + λ₂)² + 4b²) + |λ₁ − λ₂|)/2 depends on s alone.
    def jac_norm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = x * x + y * y
        h, dh = (s - 1.0) * (16.0 * s - 9.0), 32.0 * s - 25.0
        lam1, lam2 = k * h, k * (h + 2.0 * s * dh)
        return 0.5 * (np.hypot(lam1 + lam2, 2.0 * b) + np.abs(lam1 - lam2))

    # ⟨V(z), z⟩ = k h r² and ‖V(z)‖² = (k²h² + b²) r², z* = 0.
    def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = x * x + y * y
        kh = k * (s - 1.0) * (16.0 * s - 9.0)
        return np.where(s > 0.0, kh / (kh * kh + b * b), np.inf)

    bounds = square(1.1)
    return Game(
        name="polar_game",
        field=V,
        phi=None,
        solution=pair(0.0, 0.0),
        bounds=bounds,
        lipschitz=numerics.optimize_on_box(jac_norm, bounds, maximize=True),
        init=pair(1.0, 0.5),
        projection=box_projection(bounds),
        weak_mvi_rho=numerics.rho_or_none(
            numerics.optimize_on_box(ratio, bounds, maximize=False)
        )
        if b != 0.0
        else None,
        params=frozen({"a": a, "b": b}),
        description="Polar game: limit cycles at ‖z‖ = 3/4 and 1 around 0.",
    )


def monkey_saddle() -> Game:
    r"""The monkey saddle: a degenerate critical point with three descending valleys.

    .. math::

        Φ(x, y) = x^3 − 3xy^2, \qquad V(z) = (3x^2 − 3y^2,\; 6xy).

    The origin is the only critical point and every second derivative vanishes
    there. ``DV = 6[[x, −y], [y, x]]`` so ``‖DV‖ = 6‖z‖`` and ``L = 6√2`` on the
    box ``[−1, 1]²`` (our choice; the region of the constants only, the game is
    unconstrained). ``init`` ``(0.5, 0.5)`` is our choice. No weak MVI holds
    (``⟨V(z), z⟩/‖V(z)‖² = x/(3r²)`` is unbounded below), so ``weak_mvi_rho`` is
    None.

    Returns:
      An unconstrained :class:`Game`.

    Example:
      >>> from minimaxjax import games
      >>> game = games.monkey_saddle()
      >>> round(game.lipschitz, 4)
      8.4853

    References:
      Kamalaruban et al., *Robust Reinforcement Learning via Adversarial Training
      with Langevin Dynamics*, NeurIPS 2020, https://arxiv.org/abs/2002.06063.
    """

    def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
        return x**3 - 3.0 * x * y**2

    radius = 1.0
    return Game(
        name="monkey_saddle",
        field=operators.field(phi),
        phi=phi,
        solution=pair(0.0, 0.0),
        bounds=square(radius),
        lipschitz=6.0 * math.sqrt(2.0) * radius,
        init=pair(0.5, 0.5),
        description="Monkey saddle: a degenerate saddle at the origin.",
    )


def _weird_saddle_lipschitz(radius: float) -> float:
    # DV = [[−2y², 1 − 4xy], [4xy − 1, 2x²]], so ‖DV‖ = √((x² − y²)² + (1 − 4xy)²)
    # + x² + y²; both terms grow with x² and y² when xy ≤ 0, so the sup on
    # [−R, R]² is at (R, −R): 1 + 4R² + 2R².
    return 1.0 + 6.0 * radius**2


def weird_saddle() -> Game:
    r"""The weird saddle: a saddle at the origin and a hyperbola of critical points.

    .. math::

        Φ(x, y) = −x^2 y^2 + xy, \qquad V(z) = (y − 2xy^2,\; 2x^2 y − x).

    ``V`` vanishes at the origin (the solution) and on the whole hyperbola
    ``xy = 1/2``, where ``x`` sits at a local *maximum* of ``Φ(·, y)``: spurious
    critical points. ``⟨V(z), z⟩ = 0`` everywhere, so ``weak_mvi_rho`` is 0. The
    box ``[−1, 1]²`` (our choice) is the region of the constants only; the game is
    unconstrained. ``init`` ``(0.5, 0.5)`` is our choice.

    Returns:
      An unconstrained :class:`Game`.

    Example:
      >>> from minimaxjax import games
      >>> game = games.weird_saddle()
      >>> game.lipschitz
      7.0

    References:
      Kamalaruban et al., *Robust Reinforcement Learning via Adversarial Training
      with Langevin Dynamics*, NeurIPS 2020, https://arxiv.org/abs/2002.06063.
    """

    def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
        return -(x**2) * y**2 + x * y

    radius = 1.0
    return Game(
        name="weird_saddle",
        field=operators.field(phi),
        phi=phi,
        solution=pair(0.0, 0.0),
        bounds=square(radius),
        lipschitz=_weird_saddle_lipschitz(radius),
        init=pair(0.5, 0.5),
        weak_mvi_rho=0.0,
        description="Weird saddle: a saddle at 0, spurious critical points xy = 1/2.",
    )


def escaping_trap() -> Game:
    r"""The escaping-trap game: pure-strategy methods stall on spurious critical points.

    .. math::

        \max_{ω ∈ [−2, 2]}\ \min_{x ∈ [−2, 2]}\ −ω^2 x^2 + ωx .

    In minimaxjax's order ``z = (x, ω)``: the first player ``x`` minimises
    ``Φ(x, ω) = −ω²x² + ωx``, the second ``ω`` maximises, and
    ``V(z) = (ω − 2ω²x,\; 2ωx² − x)``. The origin is a pure equilibrium on the
    box (``Φ(0, ω) = Φ(x, 0) = 0``), but the field also vanishes on the hyperbola
    ``xω = 1/2``, where ``x`` sits at a local maximum of its own loss; the part with
    ``|x| > |ω|`` attracts gradient descent–ascent (the "traps"). Start ``(1, 1)``
    (our choice) lies in such a basin.

    Returns:
      A box-constrained :class:`Game` on ``[−2, 2]²``.

    Example:
      >>> from minimaxjax import games
      >>> game = games.escaping_trap()
      >>> [float(v) for v in game.field(game.init)]
      [-1.0, 1.0]
      >>> game.lipschitz
      25.0

    References:
      Kamalaruban et al., *Robust Reinforcement Learning via Adversarial Training
      with Langevin Dynamics*, NeurIPS 2020, https://arxiv.org/abs/2002.06063.
    """

    def phi(x: jax.Array, omega: jax.Array, *_: Any) -> jax.Array:
        return -(omega**2) * x**2 + omega * x

    radius = 2.0
    bounds = square(radius)
    return Game(
        name="escaping_trap",
        field=operators.field(phi),
        phi=phi,
        solution=pair(0.0, 0.0),
        bounds=bounds,
        lipschitz=_weird_saddle_lipschitz(radius),
        init=pair(1.0, 1.0),
        projection=box_projection(bounds),
        weak_mvi_rho=0.0,
        description="Escaping trap: spurious critical points xω = 1/2, a pure NE at 0.",
    )
