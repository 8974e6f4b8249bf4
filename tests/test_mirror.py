"""Entropic mirror rules on simplices and the matrix-game duality gap.

References are float64 NumPy: the multiplicative-weights step
``p⁺ = p·exp(−αg)/Σ p·exp(−αg)``, the gap ``max_j (xᵀA)_j − min_i (Ay)_i`` and the
game's value (Shapley–Snow from ``matrix_game`` for rock–paper–scissors, SciPy's
LP for the 20×30 game, whose submatrices are too many for ``matrix_game``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.optimize import linprog

import minimaxjax as mmx

RPS = mmx.games.rock_paper_scissors()
A_RPS = np.asarray(RPS.params["A"])


def np_step(p, g, lr, axis=-1):
    w = p * np.exp(-lr * g)
    return w / w.sum(axis=axis, keepdims=True)


def np_gap(A, x, y):
    return float((x @ A).max() - (A @ y).min())


def lp_value(A):
    """``min_x max_j (xᵀA)_j`` over the simplex, by linear programming."""
    m, n = A.shape
    res = linprog(
        np.r_[np.zeros(m), 1.0],
        A_ub=np.c_[A.T, -np.ones(n)],
        b_ub=np.zeros(n),
        A_eq=np.r_[np.ones(m), 0.0][None],
        b_eq=[1.0],
        bounds=[(0, None)] * m + [(None, None)],
    )
    assert res.success
    return float(res.x[-1])


def matrix_field(A):
    def V(z):
        x, y = z
        a = jnp.asarray(A, x.dtype)
        return (a @ y, -(a.T @ x))

    return V


def f64(*arrays):
    return tuple(jnp.asarray(a, jnp.float64) for a in arrays)


# ----------------------------------------------------------------- one step


def test_mirror_descent_step_matches_numpy(x64):
    rng = np.random.default_rng(1)
    p = (rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(3), size=2))
    g = (rng.normal(size=4), rng.normal(size=(2, 3)))
    opt = mmx.mirror_descent(0.7)
    params = f64(*p)
    updates, _ = opt.update(f64(*g), opt.init(params), params)
    new = optax.apply_updates(params, updates)
    for got, pi, gi in zip(new, p, g, strict=True):
        np.testing.assert_allclose(got, np_step(pi, gi, 0.7), rtol=1e-12, atol=1e-15)


def test_mirror_descent_axis_and_per_player_rates(x64):
    rng = np.random.default_rng(2)
    x = rng.dirichlet(np.ones(3), size=4).T  # columns on the simplex: axis 0
    y = rng.dirichlet(np.ones(3), size=4).T
    g = (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    opt = mmx.mirror_descent({"x": 0.2, "y": 1.5}, axis=0)
    params = {"x": jnp.asarray(x), "y": jnp.asarray(y)}
    field = {"x": jnp.asarray(g[0]), "y": jnp.asarray(g[1])}
    updates, _ = opt.update(field, opt.init(params), params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["x"], np_step(x, g[0], 0.2, axis=0), rtol=1e-12)
    np.testing.assert_allclose(new["y"], np_step(y, g[1], 1.5, axis=0), rtol=1e-12)


def test_mirror_descent_schedule_counts_steps(x64):
    schedule = optax.linear_schedule(1.0, 0.0, 10)
    opt = mmx.mirror_descent(schedule)
    p = f64(np.array([0.5, 0.5]))
    g = f64(np.array([1.0, 0.0]))
    state = opt.init(p)
    expected = np.array([0.5, 0.5])
    for k in range(3):
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
        expected = np_step(expected, np.array([1.0, 0.0]), 1.0 - k / 10)
    # optax's schedule returns float32 step sizes.
    np.testing.assert_allclose(p[0], expected, rtol=1e-6)


# ------------------------------------------------------- several iterations


def np_mirror_prox(A, x, y, lr, iterations):
    for _ in range(iterations):
        xb, yb = np_step(x, A @ y, lr), np_step(y, -A.T @ x, lr)
        x, y = np_step(x, A @ yb, lr), np_step(y, -A.T @ xb, lr)
    return x, y


def np_optimistic(A, x, y, lr, iterations):
    gx_old, gy_old = A @ y, -A.T @ x
    for _ in range(iterations):
        gx, gy = A @ y, -A.T @ x
        x, y = np_step(x, 2 * gx - gx_old, lr), np_step(y, 2 * gy - gy_old, lr)
        gx_old, gy_old = gx, gy
    return x, y


SMALL = np.random.default_rng(3).normal(size=(4, 3))
SMALL_Z0 = (np.full(4, 0.25), np.array([0.5, 0.3, 0.2]))


def test_mirror_prox_transparent_and_opaque_match_numpy(x64):
    expected = np_mirror_prox(SMALL, *SMALL_Z0, 0.4, 5)
    V = matrix_field(SMALL)
    opt = mmx.mirror_prox(0.4)
    z = f64(*SMALL_Z0)
    state = opt.init(z)
    assert isinstance(state, mmx.ExtraState)
    for _ in range(10):  # two calls per iteration
        updates, state = opt.update(V(z), state, z)
        z = optax.apply_updates(z, updates)
    for got, want in zip(mmx.iterate(z, state), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    sol = mmx.solve(V, f64(*SMALL_Z0), opt, 10)
    assert int(sol.stats["num_evaluations"]) == 10
    assert int(sol.stats["num_iterations"]) == 5
    for got, want in zip(sol.params, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_optimistic_mirror_descent_matches_numpy(x64):
    expected = np_optimistic(SMALL, *SMALL_Z0, 0.3, 6)
    sol = mmx.solve(
        matrix_field(SMALL), f64(*SMALL_Z0), mmx.optimistic_mirror_descent(0.3), 6
    )
    for got, want in zip(sol.params, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_evaluations_per_iteration():
    z = (jnp.full(3, 1 / 3), jnp.full(2, 0.5))
    counts = [
        mmx.rules.evaluations_per_iteration(rule(0.1), z)
        for rule in (mmx.mirror_descent, mmx.mirror_prox, mmx.optimistic_mirror_descent)
    ]
    assert counts == [1, 2, 1]


# ------------------------------------------------------------- convergence


def test_mirror_prox_last_iterate_solves_rock_paper_scissors(x64):
    sol = mmx.solve(RPS.field, f64(*RPS.init), mmx.mirror_prox(0.5), 2000)
    x, y = (np.asarray(p) for p in sol.params)
    xs, ys = (np.asarray(p, np.float64) for p in RPS.solution)
    value = float(xs @ A_RPS @ ys)  # 0
    assert np_gap(A_RPS, x, y) < 1e-4
    assert abs(float(x @ A_RPS @ y) - value) < 1e-4
    np.testing.assert_allclose(
        float(mmx.diagnostics.duality_gap(A_RPS, x, y)), np_gap(A_RPS, x, y), atol=1e-12
    )


def test_mirror_prox_last_iterate_solves_a_random_game(x64):
    A = np.random.default_rng(0).normal(size=(20, 30))
    value = lp_value(A)
    x0, y0 = np.arange(1.0, 21.0), np.arange(30.0, 0.0, -1.0)
    z0 = f64(x0 / x0.sum(), y0 / y0.sum())
    sol = mmx.solve(matrix_field(A), z0, mmx.mirror_prox(1.5), 30_000)
    x, y = (np.asarray(p) for p in sol.params)
    gap = np_gap(A, x, y)
    assert gap < 1e-4
    # The gap brackets the value: max_j (xᵀA)_j ≥ value ≥ min_i (Ay)_i.
    assert (A @ y).min() - 1e-9 <= value <= (x @ A).max() + 1e-9
    assert abs(float(x @ A @ y) - value) < 1e-4
    np.testing.assert_allclose(
        float(mmx.diagnostics.duality_gap(A, x, y)), gap, atol=1e-12
    )


def test_mirror_descent_average_converges_but_last_iterate_cycles_out(x64):
    gaps_avg, gaps_last = {}, {}
    for T in (250, 4000):
        opt = mmx.mirror_descent(1.0 / np.sqrt(T))
        sol = mmx.solve(RPS.field, f64(*RPS.init), opt, T, save_every=1)
        xs, ys = (np.asarray(p) for p in sol.trace["iterates"])
        assert xs.shape == (T + 1, 3)
        gaps_avg[T] = np_gap(A_RPS, xs[:T].mean(0), ys[:T].mean(0))
        gaps_last[T] = np_gap(A_RPS, xs[-1], ys[-1])
    assert gaps_avg[4000] < gaps_avg[250] / 3
    # Constant-step mirror descent drifts away from the interior equilibrium.
    sol = mmx.solve(RPS.field, f64(*RPS.init), mmx.mirror_descent(0.1), 4000)
    last = np_gap(A_RPS, *(np.asarray(p) for p in sol.params))
    start = np_gap(A_RPS, *(np.asarray(p, np.float64) for p in RPS.init))
    assert last > 0.05 and last > start


def test_optimistic_mirror_descent_last_iterate_solves_rps(x64):
    opt = mmx.optimistic_mirror_descent(0.3)
    sol = mmx.solve(RPS.field, f64(*RPS.init), opt, 2000)
    x, y = (np.asarray(p) for p in sol.params)
    assert np_gap(A_RPS, x, y) < 1e-4
    np.testing.assert_allclose(x, np.full(3, 1 / 3), atol=1e-4)


def test_float32_runs_stay_on_the_simplex():
    sol = mmx.solve(RPS.field, RPS.init, mmx.mirror_prox(0.5), 400)
    for p in sol.params:
        assert p.dtype == jnp.float32
        assert float(p.min()) >= 0.0
        assert abs(float(p.sum()) - 1.0) < 1e-5


# ------------------------------------------------------------- duality gap


def test_duality_gap_closed_forms():
    assert float(mmx.diagnostics.duality_gap(A_RPS, *RPS.solution)) == 0.0
    uniform = jnp.full(3, 1 / 3, jnp.float32)
    assert abs(float(mmx.diagnostics.duality_gap(A_RPS, uniform, uniform))) < 1e-6
    # Pure strategies (i, j): max_j' A[i, j'] − min_i' A[i', j].
    A = np.array([[3.0, 1.0, -2.0], [0.0, 2.0, 4.0]])
    for i in range(2):
        for j in range(3):
            x, y = np.eye(2)[i], np.eye(3)[j]
            expected = A[i].max() - A[:, j].min()
            got = float(mmx.diagnostics.duality_gap(A, jnp.asarray(x), jnp.asarray(y)))
            assert got == pytest.approx(expected, abs=1e-6)


def test_duality_gap_orientation_matches_matrix_game(x64):
    # A saddle point in pure strategies: row 0 (the minimiser's), column 0.
    game = mmx.games.matrix_game([[2.0, 1.0], [3.0, 4.0]])
    A = np.asarray(game.params["A"])
    x, y = (np.asarray(p, np.float64) for p in game.solution)
    np.testing.assert_array_equal(x, [1.0, 0.0])
    np.testing.assert_array_equal(y, [1.0, 0.0])
    assert float(mmx.diagnostics.duality_gap(A, x, y)) == 0.0
    # With the roles swapped (the rows maximising) it is no equilibrium: 3 − 1.
    assert float(mmx.diagnostics.duality_gap(A.T, y, x)) == 2.0


def test_duality_gap_is_traceable():
    gap = jax.jit(mmx.diagnostics.duality_gap)(
        jnp.asarray(A_RPS, jnp.float32), jnp.full(3, 1 / 3), jnp.eye(3)[0]
    )
    # max_j (column means of A) − min_i A[i, 0] = 0 − (−1).
    assert float(gap) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [(np.ones(2), np.ones(3), "x must have shape"), (np.ones(3), np.ones(2), "y must")],
)
def test_duality_gap_shape_errors(x, y, match):
    with pytest.raises(ValueError, match=match):
        mmx.diagnostics.duality_gap(A_RPS, x, y)


# ------------------------------------------------------------- bad inputs

RULES = (mmx.mirror_descent, mmx.mirror_prox, mmx.optimistic_mirror_descent)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ((jnp.array([0.5, 0.5]), jnp.array([1.2, -0.2])), r"params\[1\].*non-negative"),
        ((jnp.array([0.5, 0.6]), jnp.array([1.0, 0.0])), r"params\[0\].*sum to 1"),
        ({"x": jnp.array(1.0)}, r"params\['x'\].*no axis"),
        ((jnp.array([1, 0]),), r"params\[0\].*floating"),
    ],
)
def test_bad_params_raise_at_init(rule, params, match):
    with pytest.raises(ValueError, match=match):
        rule(0.1).init(params)


def test_tolerance_scales_with_size():
    p = (jnp.full(1000, 1e-3, jnp.float32) * (1 + 5e-6),)  # off by 5e-6 < 1e-2
    mmx.mirror_prox(0.1).init(p)


def test_bad_axis_and_learning_rate():
    with pytest.raises(TypeError, match="axis"):
        mmx.mirror_descent(0.1, axis=1.0)
    with pytest.raises(TypeError, match="learning_rate"):
        mmx.mirror_prox("fast")
    with pytest.raises(ValueError, match="learning_rate"):
        mmx.optimistic_mirror_descent((0.1, 0.2, 0.3)).init(RPS.init)


def test_traced_params_are_not_checked():
    opt = mmx.mirror_descent(0.1)
    jax.jit(opt.init)((jnp.array([0.5, 0.5]),))
