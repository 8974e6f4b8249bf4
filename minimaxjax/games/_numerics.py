"""The float64 NumPy numerics behind the games' constants.

Solutions, Lipschitz constants and weak-MVI constants are computed, never typed
in: real polynomial roots polished by Newton, exact ranges of polynomials, a
global optimiser for smooth functions on a box, and the weak-MVI constant of a
linear field.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.polynomial import Polynomial

from minimaxjax.games._game import Box

# A matrix whose condition number exceeds this is treated as singular.
_SINGULAR = 1e12


def real_roots(p: Polynomial) -> list[float]:
    """The real roots of ``p`` (those with a negligible imaginary part)."""
    return [
        float(root.real)
        for root in p.roots()
        if abs(root.imag) <= 1e-6 * max(1.0, float(abs(root)))
    ]


def newton(
    residual: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray],
    z: np.ndarray,
    *,
    steps: int = 8,
    tol: float = 1e-12,
) -> np.ndarray | None:
    """Polish an approximate root ``z`` of ``residual`` by Newton's method.

    Stops early at a singular Jacobian. Returns the root, or None when the
    residual stays above ``tol`` (the start was not close to a root).
    """
    for _ in range(steps):
        jac = jacobian(z)
        if np.linalg.cond(jac) > _SINGULAR:
            break
        z = z - np.linalg.solve(jac, residual(z))
    return z if np.abs(residual(z)).max() < tol else None


def poly_range(p: Polynomial, lo: float, hi: float) -> tuple[float, float]:
    """Exact range of ``p`` on ``[lo, hi]``: endpoints and real critical points."""
    points = [lo, hi, *(u for u in real_roots(p.deriv()) if lo < u < hi)]
    values = p(np.array(points))
    return float(values.min()), float(values.max())


def norm_2x2(p: Any, q: Any, r: Any, s: Any) -> Any:
    """Spectral norm of ``[[p, q], [r, s]]`` (vectorised), in closed form."""
    return 0.5 * (np.hypot(p + s, q - r) + np.hypot(p - s, q + r))


def optimize_on_box(
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
    point, which converges to the local optimum to rounding error. NaN values
    (``0/0`` at a root of a quotient) are skipped.
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


def rho_or_none(rho: float) -> float | None:
    """``rho`` if finite: −∞ means no weak MVI holds."""
    return rho if math.isfinite(rho) else None


def linear_rho(M: np.ndarray) -> float:
    r"""The largest ρ with ``⟨Mz, z⟩ ≥ ρ‖Mz‖²`` for all ``z``, or −∞ if none.

    With ``d = Mz`` the quotient is ``⟨d, z⟩/‖d‖²``. When ``range(M)`` is
    orthogonal to ``null(M)`` (always for invertible or monotone ``M``), ``z`` is
    ``M⁺d`` plus a null vector orthogonal to ``d``, and the infimum over
    ``d ∈ range(M)`` is the smallest eigenvalue of ``sym(M⁺)`` on ``range(M)``:
    ``λ_min(sym(M⁻¹))`` for invertible ``M``. Otherwise a null vector ``n`` with
    ``⟨Mz, n⟩ ≠ 0`` drives the quotient to −∞ along ``z + tn``. The zero matrix
    satisfies the inequality for every ρ; it gets 0, the monotone bound.
    """
    if np.linalg.cond(M) <= _SINGULAR:
        inverse = np.linalg.inv(M)
        return float(np.linalg.eigvalsh((inverse + inverse.T) / 2).min())
    U, s, Vt = np.linalg.svd(M)
    rank = int(np.sum(s > s[0] / _SINGULAR))
    if rank == 0:
        return 0.0
    range_, null = U[:, :rank], Vt[rank:].T
    if np.abs(range_.T @ null).max() > 1e-10:
        return -math.inf
    pinv = Vt[:rank].T @ (U[:, :rank].T / s[:rank, None])
    on_range = range_.T @ ((pinv + pinv.T) / 2) @ range_
    return float(np.linalg.eigvalsh(on_range).min())


def local_rho(jac: np.ndarray) -> float:
    """The infimum of the weak-MVI quotient as ``z → z*``, ``jac = DV(z*)``.

    Along ``z = z* + td``, ``t → 0``, the quotient ``⟨V(z), z − z*⟩/‖V(z)‖²``
    tends to ``⟨Jd, d⟩/‖Jd‖²``, whose infimum is :func:`linear_rho` of ``J``
    when ``J`` is invertible. For a singular ``J`` the higher-order terms decide
    and the limit is unknown: −∞.
    """
    if np.linalg.cond(jac) > _SINGULAR:
        return -math.inf
    return linear_rho(jac)
