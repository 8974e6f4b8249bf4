"""mmx.solve: budgets, status codes, freezing on divergence, traces, projections."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

V = mmx.field(lambda x, y: x * y)
Z0 = (jnp.array(1.0), jnp.array(0.0))


def z0():
    """The start (1, 0), in float64 inside the x64 fixture."""
    return (jnp.array(1.0), jnp.array(0.0))


def test_num_steps_counts_field_evaluations(x64):
    # EG: 2 evaluations per iteration; 7 evaluations = 3 iterations + 1 unused.
    sol = mmx.solve(V, z0(), mmx.extragradient(0.5), 7)
    assert sol.trace["field_norm"].shape == (7,)
    assert int(sol.stats["num_evaluations"]) == 6
    assert int(sol.stats["num_iterations"]) == 3
    assert np.isnan(sol.trace["field_norm"][-1])
    rate = np.sqrt(1 - 0.25 + 0.0625)
    np.testing.assert_allclose(float(jnp.hypot(*sol.params)), rate**3, rtol=1e-12)


def test_trace_records_every_evaluation(x64):
    # On Φ = xy, ‖V(z)‖ = ‖z‖. EG from z: z̄ = z − αJz, ‖z̄‖ = √(1+α²)‖z‖.
    a = 0.5
    sol = mmx.solve(V, z0(), mmx.extragradient(a), 4)
    rate = np.sqrt(1 - a**2 + a**4)
    expected = [1.0, np.sqrt(1 + a**2), rate, rate * np.sqrt(1 + a**2)]
    np.testing.assert_allclose(sol.trace["field_norm"], expected, rtol=1e-12)


def test_converged_status_and_tol(x64):
    sol = mmx.solve(V, z0(), mmx.extragradient(0.5), 1000, tol=1e-6)
    assert int(sol.status) == mmx.Status.CONVERGED
    assert float(jnp.hypot(*sol.params)) <= 1e-6
    # The first iterate under tol: the previous one was above.
    rate = np.sqrt(1 - 0.25 + 0.0625)
    k = int(np.ceil(np.log(1e-6) / np.log(rate)))
    assert int(sol.stats["num_iterations"]) == k
    assert int(sol.stats["num_evaluations"]) == 2 * k + 1
    assert np.all(np.isnan(sol.trace["field_norm"][2 * k + 1 :]))
    assert mmx.status_message(sol.status).startswith("converged")


def test_max_steps_status():
    sol = mmx.solve(V, Z0, mmx.extragradient(0.5), 10, tol=1e-6)
    assert int(sol.status) == mmx.Status.MAX_STEPS


def test_divergence_freezes_at_last_finite_iterate(x64):
    # GDA multiplies ‖z‖ by √(1+α²) per iteration; with α = 3 (factor √10) float64
    # overflows after about log(1.8e308)/log(√10) ≈ 617 iterations.
    sol = mmx.solve(V, z0(), mmx.gda(3.0), 2000)
    assert int(sol.status) == mmx.Status.DIVERGED
    assert all(bool(jnp.isfinite(p)) for p in sol.params)
    k = int(sol.stats["num_iterations"])
    np.testing.assert_allclose(
        float(jnp.log(jnp.hypot(*sol.params))), k * 0.5 * np.log(10.0), rtol=1e-9
    )
    # One more GDA step from the returned iterate overflows.
    x, y = (float(p) for p in sol.params)
    with np.errstate(over="ignore"):
        assert not np.all(np.isfinite([x - 3.0 * y, y + 3.0 * x])) or not np.isfinite(
            np.hypot(x - 3.0 * y, y + 3.0 * x)
        )
    assert np.all(np.isnan(sol.trace["field_norm"][k + 1 :]))


def test_non_finite_field_keeps_last_finite_iterate():
    def V_nan(z):
        x, y = z
        bad = x > 1.5
        return (jnp.where(bad, jnp.nan, -1.0 + 0 * y), jnp.zeros_like(y))

    sol = mmx.solve(V_nan, (jnp.array(0.0), jnp.array(0.0)), mmx.gda(1.0), 10)
    assert int(sol.status) == mmx.Status.DIVERGED
    assert float(sol.params[0]) == 2.0  # 0 → 1 → 2, then V(2) is NaN
    assert int(sol.stats["num_iterations"]) == 2


def test_infinite_field_clipped_back_by_a_projection_still_diverges():
    # V_x = −1 until x > 1.5, then +inf: GDA with α = 1 goes 0 → 1 → 2, then x − inf
    # = −inf, which the box clips back to −3, a finite iterate. Only the trace
    # shows the non-finite field value; the run must still stop at x = 2.
    def V_inf(z):
        x, y = z
        return (jnp.where(x > 1.5, jnp.inf, -1.0), jnp.zeros_like(y))

    box = mmx.constraints.box(-3.0, 3.0)
    sol = mmx.solve(
        V_inf, (jnp.array(0.0), jnp.array(0.0)), mmx.gda(1.0), 10, projection=box
    )
    assert int(sol.status) == mmx.Status.DIVERGED
    assert float(sol.params[0]) == 2.0
    assert int(sol.stats["num_iterations"]) == 2
    trace = np.asarray(sol.trace["field_norm"])
    np.testing.assert_array_equal(trace[:2], [1.0, 1.0])
    assert np.isinf(trace[2]) and np.all(np.isnan(trace[3:]))


@pytest.mark.parametrize(
    "rule",
    [
        # optax's Adam is not strict-promotion clean (tests/conftest.py).
        pytest.param(
            mmx.extra_adam(0.1), id="extra_adam", marks=pytest.mark.standard_promotion
        ),
        pytest.param(mmx.extragradient(0.1), id="extragradient"),
        pytest.param(mmx.optimistic_gda(0.1), id="optimistic_gda"),
        pytest.param(mmx.proximal_point(0.1, inner_steps=3), id="proximal_point"),
    ],
)
@pytest.mark.parametrize("tol", [None, 0.0])
def test_a_run_stopped_by_a_nan_returns_the_last_finite_params_and_state(
    x64, rule, tol
):
    # x climbs (V_x = −1) until the field turns NaN at x > 1.05: the replay (tol
    # None) and the checked loop (tol 0) must return every leaf of the params and
    # the state from the last iteration whose field values were all finite, here
    # found by a plain Python loop of opaque updates.
    def V_nan(z):
        x, y = z["x"], z["y"]
        bad = x > 1.05
        return {"x": jnp.where(bad, jnp.nan, -1.0), "y": 0.1 * x + 0 * y}

    start = {"x": jnp.array(0.0), "y": jnp.array([0.5, -0.5])}
    num_steps = 600
    sol = mmx.solve(V_nan, start, rule, num_steps, tol=tol)

    z, state, iterations = start, rule.init(start), 0
    while True:
        values = [V_nan(z)]

        def field(w, phase, values=values):
            values.append(V_nan(w))
            return values[-1]

        updates, new_state = rule.update(values[0], state, z, field=field)
        if not all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(values)):
            break
        z, state = optax.apply_updates(z, updates), new_state
        iterations += 1
    per_iteration = len(values)
    assert 5 < iterations < num_steps // per_iteration  # it did stop mid-run
    assert int(sol.status) == mmx.Status.DIVERGED
    assert int(sol.stats["num_iterations"]) == iterations
    for got, want in zip(
        jax.tree.leaves((sol.params, sol.state)),
        jax.tree.leaves((z, state)),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_a_nan_in_a_field_value_the_rule_ignores_stops_the_run(x64):
    # Alternating GDA reads V_x at (x, y) and V_y at (x⁺, y): the other halves are
    # ignored, but a NaN there is still a non-finite field value (status DIVERGED).
    def V_nan(z):
        x, y = z
        return (x, jnp.where(x < 0.55, jnp.nan, -y))

    sol = mmx.solve(
        V_nan, (jnp.array(1.0), jnp.array(1.0)), mmx.alternating_gda(0.5), 20
    )
    # x halves each step: 1 → 0.5 at the first move, so the second evaluation of
    # the first iteration (at x⁺ = 0.5) holds the NaN; nothing is committed.
    assert int(sol.status) == mmx.Status.DIVERGED
    assert [float(v) for v in sol.params] == [1.0, 1.0]
    assert int(sol.stats["num_iterations"]) == 0


def test_vmap_with_some_starts_diverging_matches_single_runs(x64):
    # GDA on xy: α = 3 overflows float64 after ~617 iterations, α = 0.1 does not.
    rates = jnp.array([0.1, 3.0, 0.2])
    batched = jax.jit(jax.vmap(lambda a: mmx.solve(V, z0(), mmx.gda(a), 1000)))(rates)
    for i, a in enumerate([0.1, 3.0, 0.2]):
        single = mmx.solve(V, z0(), mmx.gda(a), 1000)
        assert int(batched.status[i]) == int(single.status)
        for b, p in zip(batched.params, single.params, strict=True):
            np.testing.assert_allclose(float(b[i]), float(p), rtol=1e-12)
        np.testing.assert_allclose(
            batched.trace["field_norm"][i], single.trace["field_norm"], rtol=1e-12
        )
        assert int(batched.stats["num_iterations"][i]) == int(
            single.stats["num_iterations"]
        )
    assert [int(s) for s in batched.status] == [
        mmx.Status.MAX_STEPS,
        mmx.Status.DIVERGED,
        mmx.Status.MAX_STEPS,
    ]
    # Runs that did not diverge grow as √(1+α²) per iteration, all 1000 of them.
    for i, a in [(0, 0.1), (2, 0.2)]:
        np.testing.assert_allclose(
            float(jnp.hypot(batched.params[0][i], batched.params[1][i])),
            (1 + a**2) ** 500,
            rtol=1e-9,
        )


def test_projection_in_solve_is_projected_extragradient(x64):
    # min_x max_y x·y + x on the box [−1, 1]²: V = (y + 1, −x).
    V_lin = mmx.field(lambda x, y: x * y + x)
    box = mmx.constraints.box(-0.2, 0.2)
    a = 0.3
    sol = mmx.solve(
        V_lin, (jnp.array(0.1), jnp.array(0.1)), mmx.extragradient(a), 6, projection=box
    )
    x, y = 0.1, 0.1
    for _ in range(3):
        xb = np.clip(x - a * (y + 1), -0.2, 0.2)
        yb = np.clip(y + a * x, -0.2, 0.2)
        x, y = np.clip(x - a * (yb + 1), -0.2, 0.2), np.clip(y + a * xb, -0.2, 0.2)
    np.testing.assert_allclose([float(p) for p in sol.params], [x, y], rtol=1e-12)


def test_jit_and_vmap_over_keys():
    def noisy(z, key):
        e = jax.random.normal(key, (2,))
        x, y = z
        return (y + 0.1 * e[0], -x + 0.1 * e[1])

    keys = jax.random.split(jax.random.key(0), 8)
    run = jax.jit(
        jax.vmap(lambda k: mmx.solve(noisy, Z0, mmx.extragradient(0.3), 20, key=k))
    )
    sols = run(keys)
    assert sols.trace["field_norm"].shape == (8, 20)
    assert len(np.unique(np.asarray(sols.params[0]))) == 8


def test_args_are_passed_to_the_field():
    Va = mmx.field(lambda x, y, c: c * x * y)
    a = mmx.solve(Va, Z0, mmx.gda(0.1), 3, args=(jnp.array(2.0),))
    b = mmx.solve(V, Z0, mmx.gda(0.2), 3)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)


def test_repeated_calls_reuse_the_compilation():
    opt = mmx.extragradient(0.1)
    mmx.solve(V, Z0, opt, 10)
    size = mmx.solve.__globals__["_solve_jit"]._cache_size()
    mmx.solve(V, (jnp.array(2.0), jnp.array(1.0)), opt, 10)
    assert mmx.solve.__globals__["_solve_jit"]._cache_size() == size


@pytest.mark.parametrize("num_steps", [0, -3, 2.5, True, "10"])
def test_rejects_bad_num_steps(num_steps):
    with pytest.raises(
        (ValueError, TypeError), match="num_steps must be a positive int"
    ):
        mmx.solve(V, Z0, mmx.gda(0.1), num_steps)


def test_rejects_budget_smaller_than_one_iteration():
    with pytest.raises(ValueError, match="num_steps=2 is smaller than the 3 field"):
        mmx.solve(V, Z0, mmx.proximal_point(0.1, inner_steps=3), 2)


def test_rejects_field_with_wrong_structure():
    def bad(z):
        return z[0]

    with pytest.raises(
        ValueError, match="field must return a pytree with the structure"
    ):
        mmx.solve(bad, Z0, mmx.gda(0.1), 3)

    def bad_shape(z):
        return (jnp.ones(2), z[1])

    with pytest.raises(ValueError, match=r"at \[0\] it returned shape \(2,\)"):
        mmx.solve(bad_shape, Z0, mmx.gda(0.1), 3)


def test_rejects_non_optimizer_and_bad_tol():
    with pytest.raises(TypeError, match="optimizer must be an optax"):
        mmx.solve(V, Z0, lambda g: g, 3)
    with pytest.raises(ValueError, match="tol must be None or a non-negative"):
        mmx.solve(V, Z0, mmx.gda(0.1), 3, tol=-1.0)


def test_user_optax_chain_runs_under_solve():
    opt = optax.chain(optax.clip_by_global_norm(1.0), mmx.extragradient(0.1))
    sol = mmx.solve(V, Z0, opt, 10)
    assert int(sol.stats["num_evaluations"]) == 10


_LARGE = (1 << 17) + 3


@pytest.mark.parametrize(
    ("num_steps", "stop"), [(10, 0), (200, 63), (200, 64), (200, 198), (_LARGE, 70_000)]
)
def test_clipped_infinite_field_stops_at_any_point_of_any_length(num_steps, stop):
    # As above, x moves 0 → 1 → … by GDA with α = 1 until V_x turns +inf at x = stop
    # + 1; the box clips the iterate back, so only the trace shows it.
    def V_inf(z):
        x, y = z
        return (jnp.where(x > stop + 0.5, jnp.inf, -1.0), jnp.zeros_like(y))

    box = mmx.constraints.box(-1e6, 1e6)
    sol = mmx.solve(
        V_inf, (jnp.array(0.0), jnp.array(0.0)), mmx.gda(1.0), num_steps, projection=box
    )
    assert int(sol.status) == mmx.Status.DIVERGED
    assert float(sol.params[0]) == stop + 1
    assert int(sol.stats["num_iterations"]) == stop + 1
    trace = np.asarray(sol.trace["field_norm"])
    np.testing.assert_array_equal(trace[: stop + 1], 1.0)
    assert np.isinf(trace[stop + 1]) and np.all(np.isnan(trace[stop + 2 :]))
