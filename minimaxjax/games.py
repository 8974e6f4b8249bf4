r"""The game zoo: the minimax test problems of the literature, ready to solve.

Every factory returns a :class:`Game`: the field ``V(z) = [∇xΦ(x, y), −∇yΦ(x, y)]``
of ``min_x max_y Φ(x, y)`` (``x`` minimises, ``y`` maximises), the literature's
start, a known solution, the box the constants hold on, and the constants
themselves. ``z = (x, y)`` is a tuple of float arrays: scalars for the planar
games, vectors for ``bilinear(n > 1)``, ``quadratic`` with matrices and matrix
games. Arrays are built in JAX's default float dtype (float64 under
``jax.enable_x64``), so build the game inside the precision you will run in.

No constant is typed in: solutions are roots of the field found in float64 NumPy
(polynomial roots polished by Newton, linear algebra, or an exact enumeration for
matrix games), Lipschitz constants are the supremum of ‖DV‖₂ over ``bounds``
(closed forms, or a dense grid refined locally where no closed form is short),
and weak-MVI constants come from the same machinery.

Example:
  >>> from minimaxjax import games
  >>> game = games.bilinear()
  >>> [float(v) for v in game.field(game.init)]
  [1.0, -1.0]
  >>> sorted(games.ALL)[:3]
  ['almost_bilinear', 'bilinear', 'escaping_trap']
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import Polynomial

from minimaxjax import constraints, operators

__all__ = [
    "ALL",
    "Box",
    "Game",
    "almost_bilinear",
    "bilinear",
    "escaping_trap",
    "forsaken",
    "global_forsaken",
    "lower_bound",
    "matrix_game",
    "monkey_saddle",
    "polar_game",
    "quadratic",
    "rock_paper_scissors",
    "weird_saddle",
]

Box = tuple[tuple[float, float], tuple[float, float]]
"""A box ``((lo_x, hi_x), (lo_y, hi_y))``, one interval per player."""

Pair = tuple[jax.Array, jax.Array]


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True, eq=False)
class Game:
    r"""A minimax test problem ``min_x max_y Φ(x, y)`` with its known constants.

    A static pytree (no leaves, hashed by identity): it passes through ``jax.jit``
    and ``jax.tree`` functions unchanged, so a benchmark can close over it or pass
    it as an argument.

    Attributes:
      name: the factory's name (the key of :data:`ALL`).
      field: ``V(z, *args)`` with ``z = (x, y)``; extra ``args`` (keys, batches)
        are accepted and ignored by these deterministic games.
      phi: ``Φ(x, y, *args)`` with ``field == mmx.field(phi)``, or None when the
        game is given by its field only (the polar game).
      solution: a critical point ``z*`` (``V(z*) = 0``), which for constrained
        games is also a fixed point of ``z ↦ P(z − V(z))``; None if unknown.
      bounds: the box ``((lo_x, hi_x), (lo_y, hi_y))`` on which ``lipschitz`` and
        ``weak_mvi_rho`` hold (and which plots should show); None when they hold
        on the whole space (linear fields, matrix games).
      lipschitz: ``sup ‖DV(z)‖₂`` over ``bounds`` (or globally), the L of the
        step-size rules ``α = 1/L``.
      init: the start ``z⁰`` used in the literature (or documented by the
        factory where the literature gives none).
      projection: the projection onto the constraint set (``bounds`` for box
        constrained games, a product of simplices for matrix games), from
        :mod:`minimaxjax.constraints`; None for unconstrained games.
      weak_mvi_rho: the largest ρ with ``⟨V(z), z − z*⟩ ≥ ρ‖V(z)‖²`` for all ``z``
        in ``bounds`` (on the simplices for matrix games; everywhere for the
        other games without bounds), ``z* = solution``. Negative means the field
        may point away from ``z*`` (Diakonikolas et al. 2021; Pethick et al.
        write ρ/2 for this ρ). None when no finite ρ exists or none is computed.
      params: the numbers that define this instance (offsets, matrices, …).
      description: one line on what the game is for.
    """

    name: str
    field: operators.Field
    phi: Callable[..., jax.Array] | None
    solution: Pair | None
    bounds: Box | None
    lipschitz: float | None
    init: Pair
    projection: Callable[[Any], Any] | None = None
    weak_mvi_rho: float | None = None
    params: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    description: str = ""


# ---------------------------------------------------------------------------
# Argument checks and array helpers.


def _real(name: str, value: Any) -> float:
    arr = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if (
        arr is None
        or isinstance(value, bool)
        or arr.ndim != 0
        or not (
            np.issubdtype(arr.dtype, np.floating)
            or np.issubdtype(arr.dtype, np.integer)
        )
    ):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    out = float(arr)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}.")
    return out


def _array(name: str, value: Any, ndims: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a real array, got {type(value).__name__}."
        ) from None
    if arr.ndim not in ndims:
        raise ValueError(
            f"{name} must have {' or '.join(str(d) for d in ndims)} dimensions, got "
            f"shape {arr.shape}."
        )
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be non-empty and finite, got {arr!r}.")
    return arr


def _jax(value: Any) -> jax.Array:
    # Through float64 NumPy: strongly typed, in JAX's default float dtype.
    return jnp.asarray(np.asarray(value, dtype=np.float64))


def _pair(x: Any, y: Any) -> Pair:
    return (_jax(x), _jax(y))


def _square(radius: float) -> Box:
    return ((-radius, radius), (-radius, radius))


def _box_projection(bounds: Box) -> Callable[[Any], Any]:
    (lo_x, hi_x), (lo_y, hi_y) = bounds
    return constraints.chain(
        constraints.box(lo_x, hi_x, player=0), constraints.box(lo_y, hi_y, player=1)
    )


def _in_box(z: tuple[float, float], bounds: Box) -> bool:
    return all(lo <= v <= hi for v, (lo, hi) in zip(z, bounds, strict=True))


def _horner(p: Polynomial, u: Any) -> Any:
    """``p(u)`` by plain arithmetic: it traces in JAX and runs in NumPy alike."""
    out: Any = 0.0
    for c in reversed(p.coef):
        out = out * u + float(c)
    return out


def _norm_2x2(p: Any, q: Any, r: Any, s: Any) -> Any:
    """Spectral norm of ``[[p, q], [r, s]]`` (vectorised), in closed form."""
    return 0.5 * (np.hypot(p + s, q - r) + np.hypot(p - s, q + r))


def _optimize_on_box(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    bounds: Box,
    *,
    maximize: bool,
    num: int = 201,
    candidates: int = 12,
    rounds: int = 30,
) -> float:
    """Global max (or min) of a smooth ``fn(x, y)`` on a box: grid, then zoom.

    The coarse grid locates the basins; each of the best ``candidates`` nodes is
    refined by repeatedly re-gridding a window four times smaller around the best
    point, which converges to the local optimum to rounding error.
    """
    sign = -1.0 if maximize else 1.0
    (lo_x, hi_x), (lo_y, hi_y) = bounds

    def objective(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            v = sign * np.asarray(fn(x, y), dtype=np.float64)
        return np.where(np.isnan(v), np.inf, v)

    xs, ys = np.linspace(lo_x, hi_x, num), np.linspace(lo_y, hi_y, num)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    F = objective(X, Y)
    best = float(F.min())
    start = np.argpartition(F, candidates, axis=None)[:candidates]
    cx, cy = X.flat[start], Y.flat[start]
    wx, wy = xs[1] - xs[0], ys[1] - ys[0]
    offsets = np.linspace(-1.0, 1.0, 9)
    for _ in range(rounds):  # all candidates at once: (candidates, 9, 9) grids
        GX = np.clip(cx[:, None, None] + wx * offsets[None, :, None], lo_x, hi_x)
        GY = np.clip(cy[:, None, None] + wy * offsets[None, None, :], lo_y, hi_y)
        GX, GY = np.broadcast_arrays(GX, GY)
        G = objective(GX, GY).reshape(len(cx), -1)
        k = np.argmin(G, axis=1)
        rows = np.arange(len(cx))
        cx, cy = GX.reshape(len(cx), -1)[rows, k], GY.reshape(len(cx), -1)[rows, k]
        best = min(best, float(G[rows, k].min()))
        wx, wy = wx / 4.0, wy / 4.0
    return sign * best


def _rho_or_none(rho: float) -> float | None:
    return rho if math.isfinite(rho) else None


def _local_rho(jac: np.ndarray) -> float:
    """``inf_d ⟨Jd, d⟩/‖Jd‖² = λ_min(sym(J⁻¹))`` for an invertible ``J`` (else −∞)."""
    if np.linalg.cond(jac) > 1e12:
        return -math.inf
    inverse = np.linalg.inv(jac)
    return float(np.linalg.eigvalsh((inverse + inverse.T) / 2).min())


# ---------------------------------------------------------------------------
# Planar games Φ = xy − offset·x + f(x) − g(y) (Forsaken and friends).


def _separable(
    *,
    name: str,
    f: Polynomial,
    g: Polynomial,
    offset: float,
    bounds: Box,
    init: tuple[float, float],
    constrained: bool,
    params: Mapping[str, Any],
    description: str,
) -> Game:
    """``Φ(x, y) = xy − offset·x + f(x) − g(y)`` with polynomials ``f``, ``g``.

    ``V = (y − offset + f'(x), g'(y) − x)`` and ``DV = [[f''(x), 1], [−1, g''(y)]]``.
    The spectral norm is convex in ``(f'', g'')`` and the two curvatures range
    independently over intervals, so ``sup ‖DV‖`` is attained at one of the four
    corners of the curvature rectangle: the Lipschitz constant below is exact.
    """
    df, dg = f.deriv(), g.deriv()
    d2f, d2g = df.deriv(), dg.deriv()

    def phi(x: jax.Array, y: jax.Array, *_: Any) -> jax.Array:
        return x * y - offset * x + _horner(f, x) - _horner(g, y)

    # Critical points: x = g'(y) and y − offset + f'(g'(y)) = 0, a 1-D polynomial.
    reduced = Polynomial([-offset, 1.0]) + df(dg)

    def residual(z: np.ndarray) -> np.ndarray:
        return np.array([z[1] - offset + df(z[0]), dg(z[1]) - z[0]])

    critical = []
    for root in reduced.roots():
        if abs(root.imag) > 1e-6 * max(1.0, float(abs(root))):
            continue
        z = np.array([dg(root.real), root.real])
        for _ in range(8):  # Newton on the 2-D system polishes the root.
            jac = np.array([[d2f(z[0]), 1.0], [-1.0, d2g(z[1])]])
            if np.linalg.cond(jac) > 1e12:
                break
            z = z - np.linalg.solve(jac, residual(z))
        if np.abs(residual(z)).max() < 1e-12 and _in_box((z[0], z[1]), bounds):
            critical.append(z)
    z_star = min(critical, key=np.linalg.norm) if critical else None

    (lo_x, hi_x), (lo_y, hi_y) = bounds
    f_lo, f_hi = _poly_range(d2f, lo_x, hi_x)
    g_lo, g_hi = _poly_range(d2g, lo_y, hi_y)
    lipschitz = max(
        float(_norm_2x2(a, 1.0, -1.0, b)) for a in (f_lo, f_hi) for b in (g_lo, g_hi)
    )

    rho = None
    if z_star is not None:

        def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            vx, vy = y - offset + df(x), dg(y) - x
            return (vx * (x - z_star[0]) + vy * (y - z_star[1])) / (vx**2 + vy**2)

        # The infimum may only be approached as z → z*, along the directional
        # limits ⟨Jd, d⟩/‖Jd‖², J = DV(z*), whose infimum is λ_min(sym(J⁻¹)).
        jac = np.array([[d2f(z_star[0]), 1.0], [-1.0, d2g(z_star[1])]])
        local = _local_rho(jac)
        rho = _rho_or_none(min(_optimize_on_box(ratio, bounds, maximize=False), local))

    return Game(
        name=name,
        field=operators.field(phi),
        phi=phi,
        solution=None if z_star is None else _pair(*z_star),
        bounds=bounds,
        lipschitz=lipschitz,
        init=_pair(*init),
        projection=_box_projection(bounds) if constrained else None,
        weak_mvi_rho=rho,
        params=types.MappingProxyType(dict(params)),
        description=description,
    )


def _poly_range(p: Polynomial, lo: float, hi: float) -> tuple[float, float]:
    """Exact range of ``p`` on ``[lo, hi]``: endpoints and real critical points."""
    points = [lo, hi]
    for root in p.deriv().roots():
        real = float(root.real)
        if abs(root.imag) < 1e-8 * max(1.0, float(abs(root))) and lo < real < hi:
            points.append(real)
    values = p(np.array(points))
    return float(values.min()), float(values.max())


# φ(u) = u²/4 − u⁴/2 + u⁶/6 (Hsieh et al. 2020) and ψ(u) = u²/3 − u⁴/3 + 2u⁶/21.
_FORSAKEN_POTENTIAL = Polynomial([0.0, 0.0, 1 / 4, 0.0, -1 / 2, 0.0, 1 / 6])
_GLOBAL_FORSAKEN_POTENTIAL = Polynomial([0.0, 0.0, 1 / 3, 0.0, -1 / 3, 0.0, 2 / 21])
# φ(u) = u²/2 − u⁴/4, the perturbation of the almost bilinear game.
_ALMOST_BILINEAR_POTENTIAL = Polynomial([0.0, 0.0, 1 / 2, 0.0, -1 / 4])


def forsaken(offset: float = 0.45) -> Game:
    r"""The Forsaken game: every standard method ends on a limit cycle.

    .. math::

        Φ(x, y) = x(y − \text{offset}) + φ(x) − φ(y), \qquad
        φ(u) = \tfrac14 u^2 − \tfrac12 u^4 + \tfrac16 u^6,

    on the box ``[−1.5, 1.5]²``. The solution attracts only inside an unstable
    limit cycle close around it; outside, GDA, EG and EG+ are drawn to an
    attracting limit cycle, so from the usual start ``(1, −0.8)`` with ``α = 1/L``
    they cycle with ‖V‖ between about 0.5 and 2.2. The field satisfies a weak
    Minty inequality with negative ρ, which adaptive EG+ variants exploit.

    ``weak_mvi_rho`` is computed from the definition ``⟨V(z), z − z*⟩ ≥ ρ‖V(z)‖²``
    as the infimum over the box: about −1.52, reached at an interior point near
    ``(−0.26, 0.79)``; as ``z → z*`` the ratio tends to about −0.45. The literature
    quotes ρ ≈ −0.478 for this game (the constant in Pethick et al.'s experiments);
    we could not reproduce it from the definition on any ball around ``z*`` or on
    the box, so we report the computed infimum.

    Args:
      offset: the linear coupling shift (0.45 in Pethick et al.; the lectures
        also use 0.1 and 0.5).

    Returns:
      A box-constrained :class:`Game`. ``solution`` is the critical point in the
      box (the one nearest the origin if there are several), ``lipschitz`` the
      exact ``sup ‖DV‖₂`` on the box.

    Example:
      >>> from minimaxjax import games
      >>> game = games.forsaken()
      >>> [round(float(v), 6) for v in game.solution]
      [0.078027, 0.411934]
      >>> round(game.lipschitz, 2)
      12.4

    References:
      Hsieh, Mertikopoulos & Cevher, *The limits of min-max optimization
      algorithms: convergence to spurious non-critical sets*, ICML 2021,
      https://arxiv.org/abs/2006.09065.

      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    offset = _real("offset", offset)
    return _separable(
        name="forsaken",
        f=_FORSAKEN_POTENTIAL,
        g=_FORSAKEN_POTENTIAL,
        offset=offset,
        bounds=_square(1.5),
        init=(1.0, -0.8),
        constrained=True,
        params={"offset": offset},
        description="Forsaken: a solution hidden inside an attracting limit cycle.",
    )


def global_forsaken() -> Game:
    r"""The global Forsaken game: a Forsaken variant with a weak MVI on the whole box.

    .. math::

        Φ(x, y) = xy + ψ(x) − ψ(y), \qquad
        ψ(u) = \tfrac13 u^2 − \tfrac13 u^4 + \tfrac{2}{21} u^6.

    The solution is the origin. ``bounds`` (``[−1.5, 1.5]²``, our choice) is the
    region of the constants only: the game is unconstrained. ``init`` is
    Forsaken's start ``(1, −0.8)``.

    Returns:
      An unconstrained :class:`Game`.

    Example:
      >>> from minimaxjax import games
      >>> game = games.global_forsaken()
      >>> [float(v) for v in game.field(game.solution)]
      [0.0, 0.0]

    References:
      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    return _separable(
        name="global_forsaken",
        f=_GLOBAL_FORSAKEN_POTENTIAL,
        g=_GLOBAL_FORSAKEN_POTENTIAL,
        offset=0.0,
        bounds=_square(1.5),
        init=(1.0, -0.8),
        constrained=False,
        params={},
        description="Global Forsaken: a Forsaken variant, weak MVI on the whole box.",
    )


def almost_bilinear(eps: float = 0.1, *, on: Literal["x", "y"] = "y") -> Game:
    r"""The almost bilinear game: a small perturbation of ``xy`` with a limit cycle.

    .. math::

        Φ(x, y) = xy + εφ(y) \quad(\text{on}=y), \qquad
        Φ(x, y) = xy + εφ(x) \quad(\text{on}=x), \qquad
        φ(u) = \tfrac12 u^2 − \tfrac14 u^4.

    With ``on="y"`` (Hsieh et al.) the origin repels the continuous-time
    dynamics, and extragradient with small steps (``α`` below about ``ε``) is
    attracted to a limit cycle around it; with ``on="x"`` (the form printed in some
    lectures) the origin attracts and an unstable limit cycle bounds its basin.
    The solution is the origin either way. ``bounds`` (``[−1.5, 1.5]²``, our
    choice, holding the cycle) is the region of the constants only: the game is
    unconstrained. ``init`` ``(0.5, 0.5)`` is our choice.

    Args:
      eps: the size ε of the perturbation.
      on: which player carries εφ, ``"y"`` (default) or ``"x"``.

    Returns:
      An unconstrained :class:`Game`.

    Example:
      >>> from minimaxjax import games
      >>> game = games.almost_bilinear(0.1)
      >>> [round(float(v), 4) for v in game.field(game.init)]
      [0.5, -0.5375]

    References:
      Hsieh, Mertikopoulos & Cevher, *The limits of min-max optimization
      algorithms: convergence to spurious non-critical sets*, ICML 2021,
      https://arxiv.org/abs/2006.09065.
    """
    eps = _real("eps", eps)
    if on not in ("x", "y"):
        raise ValueError(f'on must be "x" or "y" (the player carrying εφ), got {on!r}.')
    zero = Polynomial([0.0])
    # −g(y) = εφ(y) puts the perturbation on the maximiser.
    f, g = (
        (zero, -eps * _ALMOST_BILINEAR_POTENTIAL)
        if on == "y"
        else (eps * _ALMOST_BILINEAR_POTENTIAL, zero)
    )
    return _separable(
        name="almost_bilinear",
        f=f,
        g=g,
        offset=0.0,
        bounds=_square(1.5),
        init=(0.5, 0.5),
        constrained=False,
        params={"eps": eps, "on": on},
        description=f"Almost bilinear: xy + εφ({on}), a limit cycle around 0.",
    )


# ---------------------------------------------------------------------------
# Other planar games.


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
    a, b = _real("a", a), _real("b", b)
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

    bounds = _square(1.1)
    return Game(
        name="polar_game",
        field=V,
        phi=None,
        solution=_pair(0.0, 0.0),
        bounds=bounds,
        lipschitz=_optimize_on_box(jac_norm, bounds, maximize=True),
        init=_pair(1.0, 0.5),
        projection=_box_projection(bounds),
        weak_mvi_rho=_rho_or_none(_optimize_on_box(ratio, bounds, maximize=False))
        if b != 0.0
        else None,
        params=types.MappingProxyType({"a": a, "b": b}),
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
        solution=_pair(0.0, 0.0),
        bounds=_square(radius),
        lipschitz=6.0 * math.sqrt(2.0) * radius,
        init=_pair(0.5, 0.5),
        params=types.MappingProxyType({}),
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
        solution=_pair(0.0, 0.0),
        bounds=_square(radius),
        lipschitz=_weird_saddle_lipschitz(radius),
        init=_pair(0.5, 0.5),
        weak_mvi_rho=0.0,
        params=types.MappingProxyType({}),
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
    bounds = _square(radius)
    return Game(
        name="escaping_trap",
        field=operators.field(phi),
        phi=phi,
        solution=_pair(0.0, 0.0),
        bounds=bounds,
        lipschitz=_weird_saddle_lipschitz(radius),
        init=_pair(1.0, 1.0),
        projection=_box_projection(bounds),
        weak_mvi_rho=0.0,
        params=types.MappingProxyType({}),
        description="Escaping trap: spurious critical points xω = 1/2, a pure NE at 0.",
    )


# ---------------------------------------------------------------------------
# Linear fields: bilinear and quadratic games.


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
    A = _array("A", A, (0, 2))
    shape_b: tuple[int, ...] = A.shape[:1]  # () for a scalar A, (m,) for a matrix
    shape_c: tuple[int, ...] = A.shape[1:]
    b = np.zeros(shape_b) if b is None else _array("b", b, (len(shape_b),))
    c = np.zeros(shape_c) if c is None else _array("c", c, (len(shape_c),))
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
        solution=None if z_star is None else _pair(*z_star),
        bounds=None,
        lipschitz=lipschitz,
        init=_pair(*init),
        weak_mvi_rho=0.0 if z_star is not None else None,
        params=types.MappingProxyType({"A": A, "b": b, "c": c}),
        description="Bilinear: xᵀAy + bᵀx + cᵀy, GDA diverges, EG/OGDA/PPM converge.",
    )


def _quadratic_blocks(P: Any, B: Any, Q: Any) -> tuple[np.ndarray, ...]:
    P, B, Q = (_array(name, v, (0, 2)) for name, v in (("P", P), ("B", B), ("Q", Q)))
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
    ``lipschitz = ‖M‖₂`` (everywhere) and ``weak_mvi_rho = λ_min(sym(M⁻¹))`` when
    ``M`` is invertible. ``init`` is all ones.

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
        solution=_pair(*zero),
        bounds=None,
        lipschitz=float(np.linalg.norm(M, 2)),
        init=_pair(*init),
        weak_mvi_rho=_rho_or_none(_local_rho(M)),
        params=types.MappingProxyType({"P": P, "B": B, "Q": Q}),
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
    a, b = _real("a", a), _real("b", b)
    game = quadratic(P=b, B=a, Q=b)
    return dataclasses.replace(
        game,
        name="lower_bound",
        params=types.MappingProxyType({"a": a, "b": b}),
        description="Lower bound: axy + (b/2)(x² − y²), a negative weak-MVI ρ.",
    )


# ---------------------------------------------------------------------------
# Matrix games on simplices.


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
        solution=None if equilibrium is None else _pair(*equilibrium),
        bounds=None,
        lipschitz=float(np.linalg.norm(A, 2)),
        init=_pair(x0 / x0.sum(), y0 / y0.sum()),
        projection=constraints.chain(
            constraints.simplex(player=0), constraints.simplex(player=1)
        ),
        weak_mvi_rho=0.0,
        params=types.MappingProxyType({"A": A}),
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
    A = _array("A", A, (2,))
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


ALL: Mapping[str, Callable[[], Game]] = types.MappingProxyType(
    {
        factory.__name__: factory
        for factory in (
            bilinear,
            almost_bilinear,
            forsaken,
            global_forsaken,
            polar_game,
            monkey_saddle,
            weird_saddle,
            escaping_trap,
            quadratic,
            lower_bound,
            rock_paper_scissors,
        )
    }
)
"""Every game with a default instance, by name: ``ALL[name]()`` builds it.

``matrix_game`` is absent (it needs a matrix); ``rock_paper_scissors`` stands for
it.
"""
