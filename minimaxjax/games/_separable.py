r"""The games ``Φ(x, y) = xy − offset·x + f(x) − g(y)``: Forsaken and its kin.

Forsaken, global Forsaken and the almost bilinear game differ only in the
polynomials ``f`` and ``g``; one builder finds their solution, the exact
Lipschitz constant on the box and the weak-MVI constant.
"""

from collections.abc import Mapping
from typing import Any, Literal

import jax
import numpy as np
from numpy.polynomial import Polynomial

from minimaxjax import operators
from minimaxjax.games import _numerics as numerics
from minimaxjax.games._game import Box, Game, box_projection, frozen, pair, real, square


def _horner(p: Polynomial, u: Any) -> Any:
    """``p(u)`` by plain arithmetic: it traces in JAX and runs in NumPy alike."""
    out: Any = 0.0
    for c in reversed(p.coef):
        out = out * u + float(c)
    return out


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

    def residual(z: np.ndarray) -> np.ndarray:
        return np.array([z[1] - offset + df(z[0]), dg(z[1]) - z[0]])

    def jacobian(z: np.ndarray) -> np.ndarray:
        return np.array([[d2f(z[0]), 1.0], [-1.0, d2g(z[1])]])

    # Critical points: x = g'(y) and y − offset + f'(g'(y)) = 0, a 1-D polynomial
    # whose real roots Newton on the 2-D system polishes.
    (lo_x, hi_x), (lo_y, hi_y) = bounds
    critical = [
        z
        for y in numerics.real_roots(Polynomial([-offset, 1.0]) + df(dg))
        if (z := numerics.newton(residual, jacobian, np.array([dg(y), y]))) is not None
        and lo_x <= z[0] <= hi_x
        and lo_y <= z[1] <= hi_y
    ]
    z_star = min(critical, key=np.linalg.norm) if critical else None

    f_lo, f_hi = numerics.poly_range(d2f, lo_x, hi_x)
    g_lo, g_hi = numerics.poly_range(d2g, lo_y, hi_y)
    lipschitz = max(
        float(numerics.norm_2x2(a, 1.0, -1.0, b))
        for a in (f_lo, f_hi)
        for b in (g_lo, g_hi)
    )

    rho = None
    if z_star is not None:

        def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            vx, vy = y - offset + df(x), dg(y) - x
            return (vx * (x - z_star[0]) + vy * (y - z_star[1])) / (vx**2 + vy**2)

        # The infimum may only be approached as z → z*, where the quotient is 0/0.
        rho = numerics.rho_or_none(
            min(
                numerics.optimize_on_box(ratio, bounds, maximize=False),
                numerics.local_rho(jacobian(z_star)),
            )
        )

    return Game(
        name=name,
        field=operators.field(phi),
        phi=phi,
        solution=None if z_star is None else pair(*z_star),
        bounds=bounds,
        lipschitz=lipschitz,
        init=pair(*init),
        projection=box_projection(bounds) if constrained else None,
        weak_mvi_rho=rho,
        params=frozen(params),
        description=description,
    )


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

    ``weak_mvi_rho`` is the infimum over the box of the quotient
    ``⟨V(z), z − z*⟩/‖V(z)‖²``: −1.5206, attained near ``(−0.258, 0.792)``
    (its limits at ``z*``, along the directions, go down to −0.4527). The value
    ρ ≈ −0.477761 of Pethick et al. (2022) is the same quotient, without a
    factor ½, at a strict *local* minimiser, ``(−1.01236, −0.10475)``, which
    their numerical minimiser returned; it is not the infimum on the box.

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
      >>> round(game.lipschitz, 2), round(game.weak_mvi_rho, 4)
      (12.4, -1.5206)

    References:
      Hsieh, Mertikopoulos & Cevher, *The limits of min-max optimization
      algorithms: convergence to spurious non-critical sets*, ICML 2021,
      https://arxiv.org/abs/2006.09065.

      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    offset = real("offset", offset)
    return _separable(
        name="forsaken",
        f=_FORSAKEN_POTENTIAL,
        g=_FORSAKEN_POTENTIAL,
        offset=offset,
        bounds=square(1.5),
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
    Forsaken's start ``(1, −0.8)``. The game is not monotone (``ψ''`` is negative
    for ``|u|`` between about 0.44 and 1.1), and ``weak_mvi_rho`` is negative.

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
        bounds=square(1.5),
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
    eps = real("eps", eps)
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
        bounds=square(1.5),
        init=(0.5, 0.5),
        constrained=False,
        params={"eps": eps, "on": on},
        description=f"Almost bilinear: xy + εφ({on}), a limit cycle around 0.",
    )
