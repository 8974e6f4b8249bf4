"""Tests for minimaxjax.games.

Every expected number is derived here, independently of the module: gradients
worked out by hand and written in float64 NumPy, closed forms (stated next to
each), bisection, Newton's method, a linear program, and Jacobians from
``jax.jacfwd`` on grids and random points.
"""

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import minimaxjax as mmx
from minimaxjax import games

SQRT2 = math.sqrt(2.0)
RPS = np.array([[0.0, 1.0, -1.0], [-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]])
_rng = np.random.default_rng(20240611)
A45 = _rng.normal(size=(4, 5))
A23 = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
B2 = np.array([1.0, -2.0])
C3 = A23.T @ np.array([1.0, -1.0])  # in the range of Aᵀ, so Aᵀx = −c is solvable
P3 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.5]])
B32 = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]])
Q2 = np.array([[1.0, 0.2], [0.2, 3.0]])
E22 = np.array([[0.0, 0.0], [0.0, 1.0]])


def d_forsaken(u):  # φ(u) = u²/4 − u⁴/2 + u⁶/6
    return u / 2 - 2 * u**3 + u**5


def d2_forsaken(u):
    return 1 / 2 - 6 * u**2 + 5 * u**4


def forsaken_phi_ref(offset):
    def potential(u):
        return u**2 / 4 - u**4 / 2 + u**6 / 6

    return lambda x, y: x * (y - offset) + potential(x) - potential(y)


def forsaken_ref(offset):
    return lambda x, y: (y - offset + d_forsaken(x), -x + d_forsaken(y))


def d_global(u):  # ψ(u) = u²/3 − u⁴/3 + 2u⁶/21
    return 2 * u / 3 - 4 * u**3 / 3 + 4 * u**5 / 7


def polar_ref(a, b):
    def V(x, y):
        radial = a / 16 * (x**2 + y**2 - 1) * (16 * (x**2 + y**2) - 9)
        return (-b * y + radial * x, b * x + radial * y)

    return V


@dataclasses.dataclass(frozen=True)
class Case:
    make: object
    field: object  # V(x, y) in float64 NumPy, derived by hand
    phi: object = None  # Φ(x, y) in float64 NumPy, or None (field-only game)
    matrix: np.ndarray | None = None  # the loss matrix of a matrix game
    points: tuple = ()  # extra (x, y) points some tests look up in `evaluation`


# The diagonal x = y of the polar game's box, up to the corner r² = 2·1.1².
POLAR_DIAGONAL = tuple((u, u) for u in np.sqrt(np.linspace(0.0, 1.1**2, 2001)))

CASES = {
    "bilinear": Case(games.bilinear, lambda x, y: (y, -x), lambda x, y: x * y),
    "bilinear_scalar_terms": Case(
        lambda: games.bilinear(A=2.0, b=1.0, c=-3.0),
        lambda x, y: (2 * y + 1, -2 * x + 3),
        lambda x, y: 2 * x * y + x - 3 * y,
    ),
    # Vector games: references act on the last axis, so they take batches.
    "bilinear_matrix": Case(
        lambda: games.bilinear(A=A23, b=B2, c=C3),
        lambda x, y: (y @ A23.T + B2, -(x @ A23) - C3),
        lambda x, y: np.sum(x * (y @ A23.T), -1) + x @ B2 + y @ C3,
    ),
    "almost_bilinear": Case(
        games.almost_bilinear,
        lambda x, y: (y, -x - 0.1 * (y - y**3)),
        lambda x, y: x * y + 0.1 * (y**2 / 2 - y**4 / 4),
    ),
    "almost_bilinear_on_x": Case(
        lambda: games.almost_bilinear(0.2, on="x"),
        lambda x, y: (y + 0.2 * (x - x**3), -x),
        lambda x, y: x * y + 0.2 * (x**2 / 2 - x**4 / 4),
    ),
    "forsaken": Case(
        games.forsaken,
        forsaken_ref(0.45),
        forsaken_phi_ref(0.45),
        points=((1.5, math.sqrt(0.6)),),  # where ‖DV‖ peaks (test below)
    ),
    "forsaken_offset_0.1": Case(
        lambda: games.forsaken(0.1), forsaken_ref(0.1), forsaken_phi_ref(0.1)
    ),
    "global_forsaken": Case(
        games.global_forsaken,
        lambda x, y: (y + d_global(x), -x + d_global(y)),
        lambda x, y: (
            x * y
            + (x**2 / 3 - x**4 / 3 + 2 * x**6 / 21)
            - (y**2 / 3 - y**4 / 3 + 2 * y**6 / 21)
        ),
    ),
    "polar_game": Case(games.polar_game, polar_ref(1 / 3, 1.0), points=POLAR_DIAGONAL),
    "polar_game_a1_b2": Case(lambda: games.polar_game(1.0, 2.0), polar_ref(1.0, 2.0)),
    "monkey_saddle": Case(
        games.monkey_saddle,
        lambda x, y: (3 * x**2 - 3 * y**2, 6 * x * y),
        lambda x, y: x**3 - 3 * x * y**2,
        points=((1.0, 1.0),),
    ),
    "weird_saddle": Case(
        games.weird_saddle,
        lambda x, y: (y - 2 * x * y**2, 2 * x**2 * y - x),
        lambda x, y: -(x**2) * y**2 + x * y,
        points=((1.0, -1.0),),
    ),
    "escaping_trap": Case(
        games.escaping_trap,
        lambda x, w: (w - 2 * w**2 * x, 2 * w * x**2 - x),
        lambda x, w: -(w**2) * x**2 + w * x,
        points=((2.0, -2.0),),
    ),
    "quadratic": Case(
        games.quadratic,
        lambda x, y: (x + y, y - x),
        lambda x, y: x**2 / 2 + x * y - y**2 / 2,
    ),
    "quadratic_weak_mvi": Case(
        lambda: games.quadratic(P=-0.5, B=2.0, Q=-0.25),
        lambda x, y: (-0.5 * x + 2 * y, -0.25 * y - 2 * x),
        lambda x, y: -0.25 * x**2 + 2 * x * y + 0.125 * y**2,
    ),
    "quadratic_matrix": Case(
        lambda: games.quadratic(P=P3, B=B32, Q=Q2),
        lambda x, y: (x @ P3 + y @ B32.T, y @ Q2 - x @ B32),  # P3, Q2 symmetric
        lambda x, y: (
            np.sum(x * (x @ P3 / 2 + y @ B32.T), -1) - np.sum(y * (y @ Q2), -1) / 2
        ),
    ),
    # Singular M: ⟨Mz, z⟩/‖Mz‖² = x²/x² = 1, and (the matrix case, M non-normal)
    # x₁²/(x₁² + x₂² + y₂²), whose infimum 0 is approached at x₁ = 0.
    "quadratic_singular": Case(
        lambda: games.quadratic(P=1.0, B=0.0, Q=0.0),
        lambda x, y: (x, 0.0 * y),
        lambda x, y: x**2 / 2,
    ),
    "quadratic_singular_matrix": Case(
        lambda: games.quadratic(P=np.diag([1.0, 0.0]), B=E22, Q=0.0),
        lambda x, y: (x * [1.0, 0.0] + y @ E22.T, -(x @ E22)),
        lambda x, y: x[..., 0] ** 2 / 2 + np.sum(x * (y @ E22.T), -1),
    ),
    "lower_bound": Case(
        games.lower_bound,
        lambda x, y: (-x + 2 * SQRT2 * y, -y - 2 * SQRT2 * x),
        lambda x, y: 2 * SQRT2 * x * y - x**2 / 2 + y**2 / 2,
    ),
    "rock_paper_scissors": Case(
        games.rock_paper_scissors,
        lambda x, y: (y @ RPS.T, -(x @ RPS)),
        lambda x, y: np.sum(x * (y @ RPS.T), -1),
        matrix=RPS,
    ),
    "matrix_game": Case(
        lambda: games.matrix_game(A45),
        lambda x, y: (y @ A45.T, -(x @ A45)),
        lambda x, y: np.sum(x * (y @ A45.T), -1),
        matrix=A45,
    ),
}
CASE_IDS = list(CASES)


def as_np(z):
    return tuple(np.asarray(v, np.float64) for v in z)


def sample(game, case, rng, num):
    """A batch of random points: in the box, on the simplices, or Gaussian."""
    if case.matrix is not None:
        m, n = case.matrix.shape
        return rng.dirichlet(np.ones(m), num), rng.dirichlet(np.ones(n), num)
    if game.bounds is not None:
        (lx, hx), (ly, hy) = game.bounds
        return rng.uniform(lx, hx, num), rng.uniform(ly, hy, num)
    x0, y0 = as_np(game.init)
    return 2 * rng.normal(size=(num, *x0.shape)), 2 * rng.normal(size=(num, *y0.shape))


def grid(bounds, num):
    (lx, hx), (ly, hy) = bounds
    X, Y = np.meshgrid(np.linspace(lx, hx, num), np.linspace(ly, hy, num))
    return X.ravel(), Y.ravel()


def concat(*batches):
    return tuple(np.concatenate(parts) for parts in zip(*batches, strict=True))


def inner(a, b):
    """Per-point inner product of batched players (scalars or vectors)."""
    return np.sum(a * b, axis=-1) if np.ndim(a) == 2 else a * b


@functools.cache
def build(name):
    """Each case's game, built once in float64 (tests run under the x64 fixture)."""
    with jax.enable_x64(True):
        return CASES[name].make()


class Evaluation(NamedTuple):
    """A case on its point set: the solution first, then random points, a grid
    over the box, and the case's extra points last."""

    X: np.ndarray
    Y: np.ndarray
    phi: np.ndarray  # Φ (zeros for field-only games)
    v: np.ndarray  # V, players flattened and concatenated
    norms: np.ndarray  # ‖DV‖₂ from jax.jacfwd


@functools.cache
def evaluation(name):
    """Evaluate each case once, in one compiled call, for all the tests."""
    case, game = CASES[name], build(name)
    with jax.enable_x64(True):
        x_star, y_star = as_np(game.solution)
        X, Y = concat(
            (x_star[None], y_star[None]),
            sample(game, case, np.random.default_rng(0), 300),
        )
        if game.bounds is not None:
            X, Y = concat((X, Y), grid(game.bounds, 61))
        if case.points:
            X, Y = concat(
                (X, Y), tuple(np.array(p) for p in zip(*case.points, strict=True))
            )
        _, unravel = ravel_pytree(tuple(jnp.asarray(v) for v in game.init))

        def flat_field(w):
            v = ravel_pytree(game.field(unravel(w)))[0]
            return v, v

        def one(x, y):
            w = ravel_pytree((x, y))[0]
            J, v = jax.jacfwd(flat_field, has_aux=True)(w)
            phi = game.phi(x, y) if game.phi is not None else jnp.zeros((), w.dtype)
            return phi, v, J

        phi, v, J = jax.jit(jax.vmap(one))(jnp.asarray(X), jnp.asarray(Y))
    norms = np.linalg.norm(np.asarray(J), 2, axis=(1, 2))
    return Evaluation(X, Y, np.asarray(phi), np.asarray(v), norms)


@functools.cache
def _jitted_projection(game):
    return jax.jit(game.projection)


def project(game, z):
    # optax's simplex projection divides an int by a float, which the strict
    # promotion of conftest rejects; the projection itself is what we test.
    with jax.numpy_dtype_promotion("standard"):
        return as_np(_jitted_projection(game)(tuple(jnp.asarray(v) for v in z)))


def norm(z):
    return math.sqrt(sum(float(np.sum(np.square(v))) for v in z))


# ---------------------------------------------------------------------------
# Properties every game must have.


@pytest.mark.parametrize("name", CASE_IDS)
def test_field_matches_hand_derived_formula(name, x64):
    X, Y, _, v, _ = evaluation(name)
    want = np.concatenate(
        [np.reshape(w, (len(X), -1)) for w in CASES[name].field(X, Y)], axis=1
    )
    np.testing.assert_allclose(v, want, rtol=1e-12, atol=1e-12)
    assert v.dtype == np.float64


@pytest.mark.parametrize("name", CASE_IDS)
def test_phi_matches_and_field_is_its_signed_gradient(name, x64):
    case, game = CASES[name], build(name)
    if case.phi is None:
        assert game.phi is None
        return
    X, Y, phi, v, _ = evaluation(name)
    np.testing.assert_allclose(phi, case.phi(X, Y), rtol=1e-12, atol=1e-12)
    # Central differences of Φ along random directions: V = [∇xΦ, −∇yΦ].
    rng = np.random.default_rng(1)
    h = 1e-5
    U, W = rng.normal(size=np.shape(X)), rng.normal(size=np.shape(Y))
    dx = (case.phi(X + h * U, Y) - case.phi(X - h * U, Y)) / (2 * h)
    dy = (case.phi(X, Y + h * W) - case.phi(X, Y - h * W)) / (2 * h)
    split = np.size(X[0])
    scale = 1.0 + np.abs(dx) + np.abs(dy)
    assert np.all(
        np.abs(np.sum(v[:, :split] * np.reshape(U, (len(X), -1)), 1) - dx)
        <= 1e-6 * scale
    )
    assert np.all(
        np.abs(np.sum(v[:, split:] * np.reshape(W, (len(X), -1)), 1) + dy)
        <= 1e-6 * scale
    )


@pytest.mark.parametrize("name", CASE_IDS)
def test_solution_solves_the_game(name, x64):
    case = CASES[name]
    game = build(name)
    assert game.solution is not None
    z = as_np(game.solution)
    flat_v = evaluation(name).v[0]  # the point set starts with the solution
    v = (flat_v[: np.size(z[0])].reshape(np.shape(z[0])), flat_v[np.size(z[0]) :])
    if case.matrix is None:
        assert norm(case.field(*z)) <= 1e-8
        assert norm(v) <= 1e-8
    else:
        # A mixed Nash equilibrium: no pure deviation helps either player.
        x, y = z
        assert np.all(x >= 0) and np.all(y >= 0)
        np.testing.assert_allclose([x.sum(), y.sum()], 1.0, atol=1e-12)
        assert (case.matrix.T @ x).max() - (case.matrix @ y).min() <= 1e-12
    if game.projection is not None:
        # A fixed point of the projected field map, for any step.
        for step in (1.0, 0.1):
            moved = project(
                game, tuple(a - step * b for a, b in zip(z, v, strict=True))
            )
            assert norm(tuple(a - b for a, b in zip(moved, z, strict=True))) <= 1e-8
    if game.bounds is not None:
        for value, (lo, hi) in zip(z, game.bounds, strict=True):
            assert lo <= float(value) <= hi


@pytest.mark.parametrize("name", CASE_IDS)
def test_init_is_feasible(name, x64):
    case = CASES[name]
    game = build(name)
    z0 = as_np(game.init)
    if game.projection is not None:
        assert (
            norm(tuple(a - b for a, b in zip(project(game, z0), z0, strict=True)))
            <= 1e-12
        )
    if game.bounds is not None:
        for value, (lo, hi) in zip(z0, game.bounds, strict=True):
            assert lo <= float(value) <= hi
    assert norm(case.field(*z0)) > 1e-3  # the start is not already a solution


@pytest.mark.parametrize("name", CASE_IDS)
def test_lipschitz_bounds_the_jacobian_norm(name, x64):
    game = build(name)
    norms = evaluation(name).norms
    assert norms.max() <= game.lipschitz * (1 + 1e-10)
    # And it is the supremum, not a loose bound: the points come within 1%.
    assert norms.max() >= 0.99 * game.lipschitz


@pytest.mark.parametrize("name", CASE_IDS)
def test_weak_mvi_rho_is_a_valid_and_tight_bound(name, x64):
    case = CASES[name]
    game = build(name)
    if game.weak_mvi_rho is None:
        pytest.skip("no weak MVI constant for this game")
    rho = game.weak_mvi_rho
    x_star, y_star = as_np(game.solution)
    X, Y = sample(game, case, np.random.default_rng(3), 5000)
    if game.bounds is not None:
        X, Y = concat((X, Y), grid(game.bounds, 301))
    vx, vy = case.field(X, Y)
    dot = inner(vx, X - x_star) + inner(vy, Y - y_star)
    sq = inner(vx, vx) + inner(vy, vy)
    dist = np.sqrt(inner(X - x_star, X - x_star) + inner(Y - y_star, Y - y_star))
    # ⟨V(z), z − z*⟩ ≥ ρ‖V(z)‖², up to rounding in the products.
    assert np.all(dot - rho * sq >= -1e-12 * (np.sqrt(sq) * dist + abs(rho) * sq + 1))
    planar = np.ndim(X) == 1
    if rho != 0.0 and planar and name != "almost_bilinear":
        # Attained (up to the sampling) somewhere in the region; for the almost
        # bilinear game on y it is only approached at the origin.
        keep = sq > 1e-12
        assert np.min(dot[keep] / sq[keep]) <= rho + 0.02 * abs(rho)


def test_every_game_is_covered(x64):
    covered = {build(name).name for name in CASE_IDS}
    assert covered == set(games.ALL) | {"matrix_game"}


# ---------------------------------------------------------------------------
# Known constants of individual games.


def bisect(f, lo, hi, iterations=200):
    flo = f(lo)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == (flo > 0):
            lo, flo = mid, f(mid)
        else:
            hi = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize(("offset", "bracket"), [(0.45, (0.3, 0.5)), (0.1, (0.0, 0.2))])
def test_forsaken_solution_by_bisection(offset, bracket, x64):
    # V = 0 ⟺ x = φ'(y) and y − offset + φ'(φ'(y)) = 0, one equation in y.
    y = bisect(lambda y: y - offset + d_forsaken(d_forsaken(y)), *bracket)
    x = d_forsaken(y)
    np.testing.assert_allclose(
        as_np(games.forsaken(offset).solution), (x, y), atol=1e-12
    )


def test_forsaken_published_constants(x64):
    game = build("forsaken")
    # Pethick et al. (ICLR 2022, https://openreview.net/forum?id=2_vhkAMARk):
    # z* ≈ (0.078027, 0.411934), L ≈ 12.4 on the box.
    np.testing.assert_allclose(as_np(game.solution), (0.078027, 0.411934), atol=1e-6)
    assert abs(game.lipschitz - 12.4) < 0.01
    # The sup sits at x = ±1.5 (largest φ'') and y² = 3/5 (smallest φ'',
    # from φ''' = −12u + 20u³ = 0).
    np.testing.assert_allclose(
        evaluation("forsaken").norms[-1], game.lipschitz, rtol=1e-12
    )
    assert game.bounds == ((-1.5, 1.5), (-1.5, 1.5))
    np.testing.assert_allclose(as_np(game.init), (1.0, -0.8))


def test_forsaken_limit_cycle_under_solve(x64):
    # Pethick et al. (ICLR 2022): from (1, −0.8) with α = 1/L, extragradient ends
    # on a limit cycle, ‖V‖ oscillating between about 0.5 and 2.2.
    game = build("forsaken")
    sol = mmx.solve(
        game.field,
        game.init,
        mmx.extragradient(1.0 / game.lipschitz),
        8000,
        projection=game.projection,
    )
    tail = np.asarray(sol.trace["field_norm"])[-2000:]
    assert 0.4 < tail.min() < 0.7 and 2.0 < tail.max() < 2.4


def forsaken_quotient(z_star, x, y):
    """q(z) = ⟨V(z), z − z*⟩/‖V(z)‖² of Forsaken (offset 0.45) and its gradient.

    With N = ⟨V, z − z*⟩ and D = ‖V‖²: ∇N = DVᵀ(z − z*) + V, ∇D = 2DVᵀV and
    DV = [[φ''(x), 1], [−1, φ''(y)]], so DVᵀw = (φ''(x)w₁ − w₂, w₁ + φ''(y)w₂).
    """
    vx, vy = forsaken_ref(0.45)(x, y)
    dx, dy = x - z_star[0], y - z_star[1]
    a, b = d2_forsaken(x), d2_forsaken(y)
    num, den = vx * dx + vy * dy, vx**2 + vy**2
    grad_num = (a * dx - dy + vx, dx + b * dy + vy)
    grad_den = (2 * (a * vx - vy), 2 * (vx + b * vy))
    grad = tuple(
        (gn * den - num * gd) / den**2
        for gn, gd in zip(grad_num, grad_den, strict=True)
    )
    return num / den, np.array(grad)


def forsaken_stationary_point(z_star, z, steps=30, h=1e-6):
    """Newton on ∇q from z, the Hessian by central differences of ∇q."""
    for _ in range(steps):
        grad = forsaken_quotient(z_star, *z)[1]
        hess = np.stack(
            [
                (
                    forsaken_quotient(z_star, *(z + h * e))[1]
                    - forsaken_quotient(z_star, *(z - h * e))[1]
                )
                / (2 * h)
                for e in np.eye(2)
            ],
            axis=1,
        )
        z = z - np.linalg.solve(hess, grad)
    value, grad = forsaken_quotient(z_star, *z)
    return z, value, grad, (hess + hess.T) / 2


def test_forsaken_weak_minty_constants(x64):
    # z*: Newton on V = (y − 0.45 + φ'(x), φ'(y) − x) from near the origin.
    V = forsaken_ref(0.45)
    z_star = np.array([0.0, 0.4])
    for _ in range(30):
        jac = np.array([[d2_forsaken(z_star[0]), 1.0], [-1.0, d2_forsaken(z_star[1])]])
        z_star = z_star - np.linalg.solve(jac, np.array(V(*z_star)))
    assert np.abs(V(*z_star)).max() < 1e-14
    np.testing.assert_allclose(as_np(build("forsaken").solution), z_star, atol=1e-12)

    # Pethick et al. (2022) minimise this quotient numerically and report
    # ρ ≈ −0.477761: a strict local minimiser near (−1.01236, −0.10475).
    z, value, grad, hess = forsaken_stationary_point(z_star, np.array([-1.0, -0.1]))
    assert np.abs(grad).max() < 1e-10 and np.linalg.eigvalsh(hess).min() > 0
    np.testing.assert_allclose(value, -0.477761, atol=1e-6)
    np.testing.assert_allclose(z, (-1.01236, -0.10475), atol=1e-5)

    # The infimum over the box: a dense grid, refined by the same Newton. It is
    # interior and lies below every grid node (so the boundary holds no lower
    # value), at −1.5206 near (−0.258, 0.792).
    X, Y = grid(((-1.5, 1.5), (-1.5, 1.5)), 1201)
    with np.errstate(invalid="ignore", divide="ignore"):
        Q = forsaken_quotient(z_star, X, Y)[0]
    Q = np.where(np.isfinite(Q), Q, np.inf)
    start = np.array([X[np.argmin(Q)], Y[np.argmin(Q)]])
    z_min, rho, grad, hess = forsaken_stationary_point(z_star, start)
    assert np.abs(grad).max() < 1e-10 and np.linalg.eigvalsh(hess).min() > 0
    assert np.all(np.abs(z_min) < 1.5) and rho <= Q.min()
    np.testing.assert_allclose(z_min, (-0.258, 0.792), atol=1e-3)
    np.testing.assert_allclose(rho, -1.5206, atol=1e-4)
    # As z → z* along d the quotient tends to ⟨Jd, d⟩/‖Jd‖², J = DV(z*); these
    # limits go down to −0.4527, above the infimum.
    jac = np.array([[d2_forsaken(z_star[0]), 1.0], [-1.0, d2_forsaken(z_star[1])]])
    angles = np.linspace(0.0, np.pi, 100_001)
    d = np.stack([np.cos(angles), np.sin(angles)])
    Jd = jac @ d
    limit = np.min(np.sum(Jd * d, 0) / np.sum(Jd * Jd, 0))
    np.testing.assert_allclose(limit, -0.4527, atol=1e-4)
    assert limit > rho
    np.testing.assert_allclose(build("forsaken").weak_mvi_rho, rho, rtol=1e-9)
    assert value > rho  # Pethick et al.'s value is not the infimum


def test_polar_game_constants(x64):
    a, b = 1 / 3, 1.0
    game = build("polar_game")
    V = polar_ref(a, b)
    # On the circles r = 1 and r = 3/4 the field is a pure rotation: ⟨V(z), z⟩ = 0.
    for r in (1.0, 0.75):
        for t in np.linspace(0.0, 2 * np.pi, 13):
            x, y = r * np.cos(t), r * np.sin(t)
            vx, vy = V(x, y)
            assert abs(vx * x + vy * y) <= 1e-14
    # ‖DV‖ depends on r² only: its scan along the diagonal reaches L.
    diag = evaluation("polar_game").norms[-len(POLAR_DIAGONAL) :]
    np.testing.assert_allclose(diag.max(), game.lipschitz, rtol=1e-9)
    # ⟨V, z⟩/‖V‖² = kh/(k²h² + b²), k = a/16, h = (r² − 1)(16r² − 9); its minimum
    # is at the minimum of h, h(25/32) = −49/64, since k·49/64 < |b|.
    k, h_min = a / 16, -49 / 64
    np.testing.assert_allclose(
        game.weak_mvi_rho, k * h_min / (k**2 * h_min**2 + b**2), rtol=1e-9
    )
    assert game.phi is None
    assert game.bounds == ((-1.1, 1.1), (-1.1, 1.1))
    np.testing.assert_allclose(as_np(game.init), (1.0, 0.5))


@pytest.mark.parametrize(("eps", "on"), [(0.1, "y"), (0.2, "x"), (0.05, "x")])
def test_almost_bilinear_constants(eps, on, x64):
    game = games.almost_bilinear(eps, on=on)
    # DV = [[0, 1], [−1, c]] (or c top-left) with |c| = ε|φ''| ≤ ε·max(1, 3B² − 1),
    # whose norm is (|c| + √(c² + 4))/2.
    c = eps * max(1.0, 3 * 1.5**2 - 1)
    np.testing.assert_allclose(
        game.lipschitz, (c + math.sqrt(c * c + 4)) / 2, rtol=1e-12
    )
    # On y: ⟨V, z⟩ = −εy²(1 − y²) ≥ −ε‖V‖², approached near the origin: ρ = −ε.
    # On x: ⟨V, z⟩ = εx²(1 − x²), worst at |x| = 1.5: ρ = ε(1 − 1.5²).
    want = -eps if on == "y" else eps * (1 - 1.5**2)
    np.testing.assert_allclose(game.weak_mvi_rho, want, rtol=1e-6)


def test_saddle_lipschitz_constants_at_the_corners(x64):
    # Closed forms: ‖DV‖ = 6‖z‖ for the monkey saddle; for the weird saddle
    # ‖DV‖ = √((x² − y²)² + (1 − 4xy)²) + x² + y², largest at (R, −R).
    # The corners, (1, 1), (1, −1) and (2, −2), are the cases' extra points.
    for name, want in [
        ("monkey_saddle", 6 * SQRT2),
        ("weird_saddle", 7.0),
        ("escaping_trap", 25.0),
    ]:
        np.testing.assert_allclose(evaluation(name).norms[-1], want, rtol=1e-12)
        np.testing.assert_allclose(build(name).lipschitz, want, rtol=1e-12)


def test_escaping_trap_equilibrium_and_traps(x64):
    game = build("escaping_trap")
    phi = CASES["escaping_trap"].phi
    u = np.linspace(-2.0, 2.0, 81)
    # (0, 0) is a saddle point on the box: Φ(0, ω) ≤ Φ(0, 0) ≤ Φ(x, 0).
    assert np.all(phi(0.0, u) <= phi(0.0, 0.0)) and np.all(phi(0.0, 0.0) <= phi(u, 0.0))
    # The hyperbola xω = 1/2 is made of zeros of the field that are no equilibria.
    for x in (0.5, 1.0, 1.5):
        assert norm(game.field((jnp.asarray(x), jnp.asarray(0.5 / x)))) <= 1e-15
        assert phi(x + 0.1, 0.5 / x) < phi(x, 0.5 / x)  # x could do better

    # Projected GDA from the start is caught by one of them.
    def step(_, z):
        v = game.field(z)
        return game.projection(tuple(a - 0.05 * b for a, b in zip(z, v, strict=True)))

    z = jax.jit(lambda z: jax.lax.fori_loop(0, 2000, step, z))(game.init)
    x, w = as_np(z)
    assert abs(x * w - 0.5) < 1e-6 and abs(x) > abs(w)


def test_lower_bound_constants(x64):
    a, b = 2 * SQRT2, -1.0
    game = build("lower_bound")
    # V(z) = Mz with M = bI + a·rotation: ‖M‖ = √(a² + b²) and M⁻¹'s symmetric
    # part is b/(a² + b²)·I.
    np.testing.assert_allclose(game.lipschitz, math.sqrt(a * a + b * b), rtol=1e-12)
    np.testing.assert_allclose(game.lipschitz, 3.0, rtol=1e-12)
    np.testing.assert_allclose(game.weak_mvi_rho, b / (a * a + b * b), rtol=1e-12)
    assert game.params["a"] == a and game.params["b"] == b


def test_quadratic_strongly_monotone(x64):
    game = build("quadratic_matrix")
    M = np.block([[P3, B32], [-B32.T, Q2]])
    # Strong monotonicity: ⟨Mz, z⟩ ≥ min(λ(P), λ(Q))‖z‖² > 0, hence ρ > 0.
    mu = min(np.linalg.eigvalsh(P3).min(), np.linalg.eigvalsh(Q2).min())
    z = np.random.default_rng(4).normal(size=(5000, 5))
    assert np.all(np.einsum("ij,ij->i", z @ M.T, z) >= (mu - 1e-12) * np.sum(z * z, 1))
    assert game.weak_mvi_rho > 0
    np.testing.assert_allclose(game.lipschitz, np.linalg.svd(M, compute_uv=False)[0])


@pytest.mark.parametrize(
    ("P", "B", "Q", "want"),
    [
        # M = diag(2, 0, 0, 1): ⟨Mz, z⟩/‖Mz‖² = (2x₁² + y₂²)/(4x₁² + y₂²) ≥ 1/2.
        (np.diag([2.0, 0.0]), 0.0, np.diag([0.0, 1.0]), 0.5),
        # Skew and singular, as a bilinear game with a rank-one coupling: ⟨Mz, z⟩ = 0.
        (0.0, np.array([[1.0, 0.0], [0.0, 0.0]]), 0.0, 0.0),
        # P = Q = B = 0: V ≡ 0, every ρ holds; the monotone bound 0.
        (0.0, 0.0, 0.0, 0.0),
    ],
)
def test_quadratic_singular_monotone_rho(P, B, Q, want, x64):
    game = games.quadratic(P=P, B=B, Q=Q)
    assert game.weak_mvi_rho is not None
    np.testing.assert_allclose(game.weak_mvi_rho, want, atol=1e-12)


def test_quadratic_singular_without_weak_mvi(x64):
    # M = [[−1, 1], [−1, 1]] maps every z onto the line of (1, 1), which it kills:
    # along z = (1 + t, t), V(z) = Mz = (−1, −1) while ⟨V(z), z⟩ = −1 − 2t, so
    # ⟨V(z), z⟩/‖V(z)‖² = −(1 + 2t)/2 has no lower bound and no ρ exists.
    game = games.quadratic(P=-1.0, B=1.0, Q=1.0)
    assert game.weak_mvi_rho is None
    for t in (0.0, 1e3, 1e6):
        z = (jnp.asarray(1.0 + t), jnp.asarray(t))
        np.testing.assert_allclose(as_np(game.field(z)), (-1.0, -1.0), atol=1e-9)


# The games whose field is monotone where their constants hold: they must carry
# a ρ ≥ 0 (⟨V(z) − V(z*), z − z*⟩ ≥ 0 and V(z*) = 0, or the VI at z* on the
# simplices).
MONOTONE = {
    "bilinear",
    "bilinear_scalar_terms",
    "bilinear_matrix",
    "quadratic",
    "quadratic_matrix",
    "quadratic_singular",
    "quadratic_singular_matrix",
    "rock_paper_scissors",
    "matrix_game",
}


@pytest.mark.parametrize("name", CASE_IDS)
def test_monotone_games_carry_a_nonnegative_rho(name, x64):
    case, game = CASES[name], build(name)
    rng = np.random.default_rng(5)
    X1, Y1 = sample(game, case, rng, 4000)
    X2, Y2 = sample(game, case, rng, 4000)
    dv = [a - b for a, b in zip(case.field(X1, Y1), case.field(X2, Y2), strict=True)]
    gap = inner(dv[0], X1 - X2) + inner(dv[1], Y1 - Y2)
    scale = inner(X1 - X2, X1 - X2) + inner(Y1 - Y2, Y1 - Y2)
    monotone = bool(np.all(gap >= -1e-12 * (1 + scale)))
    assert monotone == (name in MONOTONE)
    if monotone:
        assert game.weak_mvi_rho is not None and game.weak_mvi_rho >= -1e-12


def test_bilinear_random_matrix_is_reproducible():
    game = games.bilinear(3)
    A = np.asarray(
        jax.random.normal(jax.random.PRNGKey(0), (3, 3), jnp.float32), np.float64
    )
    np.testing.assert_array_equal(game.params["A"], A / math.sqrt(3))
    with jax.enable_x64(True):
        game64 = games.bilinear(3)
        np.testing.assert_array_equal(game64.params["A"], game.params["A"])
        assert game64.init[0].dtype == jnp.float64
    other = games.bilinear(3, key=jax.random.PRNGKey(1))
    assert not np.array_equal(other.params["A"], game.params["A"])


def test_bilinear_without_a_critical_point():
    game = games.bilinear(A=0.0, b=1.0)  # V = (1, 0) never vanishes
    assert game.solution is None and game.weak_mvi_rho is None
    game = games.bilinear(A=np.array([[1.0, 0.0], [0.0, 0.0]]), c=np.array([0.0, 1.0]))
    assert game.solution is None


def test_matrix_game_solutions(x64):
    # Rock–paper–scissors: uniform play, value 0 (by symmetry, closed form).
    rps = build("rock_paper_scissors")
    for v in as_np(rps.solution):
        np.testing.assert_allclose(v, np.full(3, 1 / 3), atol=1e-12)
    np.testing.assert_allclose(rps.lipschitz, math.sqrt(3.0), rtol=1e-12)
    # A pure saddle point: entry (0, 0) is the largest of its row, smallest of
    # its column.
    pure = games.matrix_game([[2.0, 1.0], [3.0, 4.0]])
    np.testing.assert_allclose(as_np(pure.solution)[0], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(as_np(pure.solution)[1], [1.0, 0.0], atol=1e-12)
    # A 2x2 game without a saddle point: x equalises the columns, y the rows.
    mixed = games.matrix_game([[3.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(as_np(mixed.solution)[0], [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(as_np(mixed.solution)[1], [0.25, 0.75], atol=1e-12)


def test_matrix_game_value_matches_linear_programming(x64):
    optimize = pytest.importorskip("scipy.optimize")
    m, n = A45.shape
    # min v s.t. Aᵀx ≤ v, Σx = 1, x ≥ 0 (variables x, v).
    lp = optimize.linprog(
        c=np.r_[np.zeros(m), 1.0],
        A_ub=np.c_[A45.T, -np.ones(n)],
        b_ub=np.zeros(n),
        A_eq=np.r_[np.ones(m), 0.0][None],
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
    )
    x, y = as_np(build("matrix_game").solution)
    np.testing.assert_allclose(x @ A45 @ y, lp.fun, atol=1e-9)


# ---------------------------------------------------------------------------
# API: registry, pytree behaviour, precision, argument checks.


def test_registry_names_are_the_factories():
    for name, factory in games.ALL.items():
        assert getattr(games, name) is factory
        game = factory()
        assert isinstance(game, games.Game) and game.name == name
    with pytest.raises(TypeError):
        games.ALL["new"] = games.bilinear  # read-only


def test_game_is_a_static_pytree():
    game = games.forsaken()
    assert jax.tree.leaves(game) == []
    out = jax.jit(lambda g, z: g.field(z))(game, game.init)
    np.testing.assert_allclose(np.asarray(out), np.asarray(game.field(game.init)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        game.lipschitz = 1.0


@pytest.mark.parametrize("name", sorted(games.ALL))
def test_default_precision_float32(name):
    game = games.ALL[name]()
    # Tracing under conftest's strict promotion catches any float64 leak; the
    # extra argument (a key, as solve passes) is accepted and ignored.
    v = jax.eval_shape(game.field, game.init, jax.random.PRNGKey(0))
    for a, b in zip(game.init, v, strict=True):
        assert a.dtype == jnp.float32 and b.dtype == jnp.float32 and a.shape == b.shape


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: games.forsaken("0.45"), TypeError, "offset must be a real number"),  # type: ignore[arg-type]
        (lambda: games.forsaken(float("nan")), ValueError, "offset must be finite"),
        (lambda: games.almost_bilinear(on="z"), ValueError, 'on must be "x" or "y"'),  # type: ignore[arg-type]
        (lambda: games.almost_bilinear(eps=[0.1]), TypeError, "eps must be a real"),  # type: ignore[arg-type]
        (lambda: games.polar_game(a=math.inf), ValueError, "a must be finite"),
        (lambda: games.lower_bound(b=True), TypeError, "b must be a real number"),
        (lambda: games.bilinear(0), ValueError, "n must be a positive int"),
        (lambda: games.bilinear(2.5), TypeError, "n must be a positive int"),  # type: ignore[arg-type]
        (lambda: games.bilinear(2, A=np.eye(2)), ValueError, "pass either n or A"),
        (lambda: games.bilinear(A=np.ones(3)), ValueError, "A must have 0 or 2"),
        (lambda: games.bilinear(A=np.eye(2), b=np.ones(3)), ValueError, "b and c must"),
        (lambda: games.matrix_game([1.0, 2.0]), ValueError, "A must have 2 dim"),
        (lambda: games.matrix_game([[1.0, np.nan]]), ValueError, "finite"),
        (lambda: games.matrix_game("rps"), TypeError, "A must be a real array"),
        (lambda: games.quadratic(P=np.eye(2), Q=np.eye(3)), ValueError, "scalar B"),
        (lambda: games.quadratic(P=np.eye(2), B=np.ones((3, 2))), ValueError, "shapes"),
    ],
)
def test_invalid_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()
