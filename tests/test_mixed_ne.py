"""MixedNE-LD: the algorithm against a float64 NumPy transcription, its two modes,
its evaluation count, its errors, and the escaping-trap game, where GDA and
extragradient stall on the spurious curve xω = 1/2 and MixedNE-LD reaches (0, 0)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

KEY = jax.random.key(0)
TRAP = mmx.games.escaping_trap()


def linear_field(A):
    def V(z):
        (w,) = z
        return (jnp.asarray(A, w.dtype) @ w,)

    return V


def np_mixed_ne_ld(A, z0, eta, K, beta, iterations):
    """τ = 0: c⁰ = z̄ = z, c⁺ = c − ηAc, z̄ ← (1 − β)z̄ + βc⁺ (K times),
    z ← (1 − β)z + βz̄."""
    z = np.asarray(z0, np.float64)
    for _ in range(iterations):
        chain, average = z, z
        for _ in range(K):
            chain = chain - eta * A @ chain
            average = (1 - beta) * average + beta * chain
        z = (1 - beta) * z + beta * average
    return z


def loop(opt, V, z0, calls):
    """``calls`` transparent updates in a scan; returns the last params, state."""

    def body(carry, _):
        z, state = carry
        updates, state = opt.update(V(z), state, z)
        return (optax.apply_updates(z, updates), state), None

    return jax.lax.scan(body, (z0, opt.init(z0)), length=calls)[0]


def test_zero_temperature_matches_the_algorithm(x64):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    z0 = rng.normal(size=3)
    eta, K, beta, iterations = 0.05, 3, 0.3, 7
    opt = mmx.mixed_ne_ld(eta, 0.0, key=KEY, inner_steps=K, beta=beta)
    sol = mmx.solve(linear_field(A), (jnp.asarray(z0),), opt, K * iterations)
    expected = np_mixed_ne_ld(A, z0, eta, K, beta, iterations)
    np.testing.assert_allclose(sol.params[0], expected, rtol=1e-12)
    assert int(sol.stats["num_iterations"]) == iterations
    assert int(sol.state.steps) == iterations


def test_counts_inner_steps_as_evaluations():
    z = (jnp.zeros(2), jnp.zeros(2))
    for K in (1, 4):
        opt = mmx.mixed_ne_ld(0.1, 0.1, key=KEY, inner_steps=K)
        assert int(opt.init(z).max_evaluations()) == K
    opt = mmx.mixed_ne_ld(0.1, 0.1, key=KEY, inner_steps=4)
    sol = mmx.solve(lambda z: z, z, opt, 10)  # two iterations fit in 10
    assert int(sol.stats["num_evaluations"]) == 8


def test_opaque_and_transparent_modes_agree(x64):
    # Same key, same splits: the transparent loop visits the chain's samples and
    # ends every K calls on the committed iterate of the opaque run.
    K, iterations = 4, 5
    opt = mmx.mixed_ne_ld(
        0.1, 0.3, key=KEY, inner_steps=K, beta=0.4, projection=TRAP.projection
    )
    z0 = (jnp.asarray(0.926), jnp.asarray(0.941))
    sol = mmx.solve(TRAP.field, z0, opt, K * iterations)
    z, _ = loop(opt, TRAP.field, z0, K * iterations)
    for got, want in zip(z, sol.params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # Half-way through an iteration, iterate() is the anchor z_t.
    z_mid, state_mid = loop(opt, TRAP.field, z0, K * iterations + 2)
    assert int(state_mid.phase) == 2
    np.testing.assert_allclose(mmx.iterate(z_mid, state_mid)[0], sol.params[0])
    assert not np.allclose(z_mid[0], sol.params[0])


def test_one_step_and_full_weight_is_langevin_gda():
    z = (jnp.zeros(5), jnp.ones(5))
    g = (jnp.ones(5), -jnp.ones(5))
    mixed = mmx.mixed_ne_ld(0.1, 0.7, key=KEY, inner_steps=1, beta=1.0)
    plain = mmx.langevin_gda(0.1, 0.7, key=KEY)
    a, _ = mixed.update(g, mixed.init(z), z, field=lambda w, k: w)
    b, _ = plain.update(g, plain.init(z), z)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-6)


def test_projection_keeps_every_sample_in_the_box():
    opt = mmx.mixed_ne_ld(
        0.5, 5.0, key=KEY, inner_steps=3, beta=0.5, projection=TRAP.projection
    )
    z0 = (jnp.asarray(1.9), jnp.asarray(-1.9))
    z, _ = loop(opt, TRAP.field, z0, 30)
    assert all(abs(float(p)) <= 2.0 for p in z)


def test_bad_arguments():
    with pytest.raises(
        ValueError, match=r"temperature must be finite and >= 0, got -0\.1"
    ):
        mmx.mixed_ne_ld(0.1, -0.1, key=KEY)
    with pytest.raises(ValueError, match=r"inner_steps.*got 0"):
        mmx.mixed_ne_ld(0.1, 0.1, key=KEY, inner_steps=0)
    with pytest.raises(TypeError, match="inner_steps"):
        mmx.mixed_ne_ld(0.1, 0.1, key=KEY, inner_steps=2.5)
    for beta in (0.0, 1.5, -0.5):
        with pytest.raises(ValueError, match=rf"beta must be in \(0, 1\], got {beta}"):
            mmx.mixed_ne_ld(0.1, 0.1, key=KEY, beta=beta)
    with pytest.raises(TypeError, match=r"key=jax\.random\.key"):
        mmx.mixed_ne_ld(0.1, 0.1)
    with pytest.raises(TypeError, match="key"):
        mmx.mixed_ne_ld(0.1, 0.1, key=0)
    with pytest.raises(TypeError, match="learning_rate"):
        mmx.mixed_ne_ld("fast", 0.1, key=KEY)
    opt = mmx.mixed_ne_ld(0.1, 0.1, key=KEY)
    z = (jnp.zeros(2),)
    with pytest.raises(ValueError, match="params"):
        opt.update(z, opt.init(z), None)


# ------------------------------------------- per-player chains and extrapolation


def np_per_player(A, blocks, z0, etas, K, beta, iterations, extrapolate):
    """τ = 0, one chain per player against the others held at ``opp``:
    c_i ← c_i − η_i (A w)_i with w = opp except w_i = c_i (K times, from z);
    z̄_i ← (1 − β)z̄_i + βc_i. extrapolate: the chains against z gives z̃, the
    chains against z̃ the average z moves to."""
    z = np.asarray(z0, np.float64)
    for _ in range(iterations):

        def stage(opp, z=z):
            average = z.copy()
            for eta, block in zip(etas, blocks, strict=True):
                chain = z.copy()
                for _ in range(K):
                    w = opp.copy()
                    w[block] = chain[block]
                    chain[block] = chain[block] - eta * (A @ w)[block]
                    average[block] = (1 - beta) * average[block] + beta * chain[block]
            return average

        average = stage(z)
        if extrapolate:
            average = stage((1 - beta) * z + beta * average)
        z = (1 - beta) * z + beta * average
    return z


def split_field(A, sizes):
    """V(z) = A·concat(z) for a dict of players of the given sizes."""

    def V(z):
        flat = jnp.concatenate([z["x"], z["y"]])
        out = jnp.asarray(A, flat.dtype) @ flat
        return {"x": out[: sizes[0]], "y": out[sizes[0] :]}

    return V


@pytest.mark.parametrize("extrapolate", [False, True])
def test_per_player_chains_match_the_algorithm(x64, extrapolate):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(5, 5))
    A = A - A.T + 0.5 * np.eye(5)  # a monotone game: skew plus a little PSD
    z0 = rng.normal(size=5)
    etas, K, beta, iterations = (0.05, 0.02), 3, 0.4, 6
    opt = mmx.mixed_ne_ld(
        {"x": etas[0], "y": etas[1]},
        0.0,
        key=KEY,
        inner_steps=K,
        beta=beta,
        chains="per_player",
        extrapolate=extrapolate,
    )
    z = {"x": jnp.asarray(z0[:2]), "y": jnp.asarray(z0[2:])}
    per = int(opt.init(z).max_evaluations())
    assert per == 1 + 2 * (K - 1) + extrapolate * 2 * K
    sol = mmx.solve(split_field(A, (2, 3)), z, opt, per * iterations)
    blocks = (slice(0, 2), slice(2, 5))
    expected = np_per_player(A, blocks, z0, etas, K, beta, iterations, extrapolate)
    got = np.concatenate([sol.params["x"], sol.params["y"]])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert int(sol.state.steps) == iterations


def test_one_step_per_player_is_gda_and_extrapolated_is_extragradient(x64):
    # K = 1, β = 1, τ = 0: the chains against z_t are simultaneous GDA, which
    # spirals out on the bilinear game xy; the extrapolated variant is
    # extragradient, z⁺ = z − ηV(z − ηV(z)), which spirals in.
    def V(z):
        x, y = z
        return (y, -x)

    z0 = (jnp.asarray(1.0), jnp.asarray(0.5))
    eta, n = 0.1, 50
    options = dict(key=KEY, inner_steps=1, beta=1.0, chains="per_player")
    gda = mmx.mixed_ne_ld(eta, 0.0, **options)
    prox = mmx.mixed_ne_ld(eta, 0.0, extrapolate=True, **options)
    a = mmx.solve(V, z0, gda, n).params
    # Three evaluations: at z, then each player's at (x, ỹ) and (x̃, y).
    assert int(prox.init(z0).max_evaluations()) == 3
    b = mmx.solve(V, z0, prox, 3 * n).params
    x, y = 1.0, 0.5
    for _ in range(n):
        x, y = x - eta * y, y + eta * x
    np.testing.assert_allclose(a, (x, y), rtol=1e-12)
    x, y = 1.0, 0.5
    for _ in range(n):
        xh, yh = x - eta * y, y + eta * x
        x, y = x - eta * yh, y + eta * xh
    np.testing.assert_allclose(b, (x, y), rtol=1e-12)
    assert np.hypot(*a) > np.hypot(1.0, 0.5) > np.hypot(*b)


@pytest.mark.parametrize("extrapolate", [False, True])
def test_per_player_modes_agree(x64, extrapolate):
    # With noise and the box: the transparent loop visits every evaluation point
    # in the opaque run's order and draws the same noise.
    K, iterations = 3, 4
    opt = mmx.mixed_ne_ld(
        (0.1, 0.05),
        0.3,
        key=KEY,
        inner_steps=K,
        beta=0.4,
        chains="per_player",
        extrapolate=extrapolate,
        projection=TRAP.projection,
    )
    z0 = (jnp.asarray(0.926), jnp.asarray(0.941))
    per = int(opt.init(z0).max_evaluations())
    sol = mmx.solve(TRAP.field, z0, opt, per * iterations)
    # One call short of the next iteration's end: iterate() is z_t.
    z, state = loop(opt, TRAP.field, z0, per * iterations + per - 1)
    assert int(state.phase) == per - 1 and int(state.steps) == iterations
    for got, want in zip(mmx.iterate(z, state), sol.params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_per_player_visits_one_moving_player_at_a_time():
    # Each evaluation after the first moves one player's chain against the
    # other held at z_t: the points visited share one coordinate with z_t, x
    # moving at phases 1 and 3, ω at 2 and 4; then params are z_{t+1}.
    opt = mmx.mixed_ne_ld(0.1, 0.5, key=KEY, inner_steps=3, chains="per_player")
    z = (jnp.asarray(0.3), jnp.asarray(-0.7))
    state = opt.init(z)
    for phase in range(1, 6):
        updates, state = opt.update(TRAP.field(z), state, z)
        z = optax.apply_updates(z, updates)
        if phase < 5:
            assert int(state.phase) == phase
            held = (z[1], -0.7) if phase % 2 == 1 else (z[0], 0.3)
            assert float(held[0]) == pytest.approx(held[1], abs=1e-7)
    assert int(state.phase) == 0 and int(state.steps) == 1
    assert float(z[0]) != pytest.approx(0.3) and float(z[1]) != pytest.approx(-0.7)


def test_opaque_mode_loops_over_the_evaluations():
    # The chain runs in a loop: a long chain compiles as fast as a short one,
    # and the state counts the field calls that tracing cannot see.
    z = (jnp.asarray(0.3), jnp.asarray(-0.7))
    opt = mmx.mixed_ne_ld(0.1, 0.5, key=KEY, inner_steps=1000, chains="per_player")
    state = opt.init(z)
    assert int(state.max_evaluations()) == 1 + 2 * 999
    _, state = jax.jit(
        lambda s: opt.update(TRAP.field(z), s, z, field=lambda w, k: TRAP.field(w))
    )(state)
    assert int(state.evaluations()) == 1998 and int(state.steps) == 1
    assert mmx.rules.evaluations_per_iteration(opt, z) == 2  # one traced call


def test_per_player_bad_arguments():
    with pytest.raises(ValueError, match=r"chains must be one of .*got 'both'"):
        mmx.mixed_ne_ld(0.1, 0.1, key=KEY, chains="both")
    with pytest.raises(ValueError, match=r"extrapolate=True .*chains='per_player'"):
        mmx.mixed_ne_ld(0.1, 0.1, key=KEY, extrapolate=True)
    with pytest.raises(ValueError, match=r"per-player learning_rate needs chains"):
        mmx.mixed_ne_ld((0.1, 0.2), 0.1, key=KEY)
    with pytest.raises(ValueError, match=r"learning_rate\['y'\] must be finite"):
        mmx.mixed_ne_ld({"x": 0.1, "y": -1.0}, 0.1, key=KEY, chains="per_player")
    opt = mmx.mixed_ne_ld({"x": 0.1, "z": 0.2}, 0.1, key=KEY, chains="per_player")
    with pytest.raises(ValueError, match=r"learning_rate has 2 per-player entries"):
        opt.init({"x": jnp.zeros(2), "y": jnp.zeros(2)})


# ------------------------------------------------------------ the escaping trap
#
# max_ω min_x Φ = −ω²x² + ωx on [−2, 2]², z = (x, ω). V vanishes on the curve
# xω = 1/2, where Φ = −1/4 + 1/2 = 1/4; the equilibrium is (0, 0), Φ = 0.

TRAP_START = (jnp.asarray(0.926), jnp.asarray(0.941))
SEEDS = 16


def phi(z):
    x, omega = z
    return -(omega**2) * x**2 + omega * x


@pytest.mark.parametrize("rule", [mmx.gda(0.1), mmx.extragradient(0.1)])
def test_pure_strategy_rules_stall_on_the_spurious_curve(rule):
    sol = mmx.solve(TRAP.field, TRAP_START, rule, 5000, projection=TRAP.projection)
    x, omega = (float(p) for p in sol.params)
    assert abs(x * omega - 0.5) < 1e-3
    assert float(phi(sol.params)) == pytest.approx(0.25, abs=1e-3)
    assert np.hypot(x, omega) > 1.0


def mixed_ne_ld_runs(start, iterations, **options):
    """MixedNE-LD from ``start`` with SEEDS keys (vmapped), in transparent mode."""

    def one(key):
        opt = mmx.mixed_ne_ld(key=key, projection=TRAP.projection, **options)
        z, state = loop(opt, TRAP.field, start, iterations * options["inner_steps"])
        return mmx.iterate(z, state)

    keys = jax.random.split(jax.random.key(2020), SEEDS)
    return jax.jit(jax.vmap(one))(keys)


def test_mixed_ne_ld_escapes_the_trap():
    # The authors' toy settings from their start (ω, θ) = (−0.2, −0.6), i.e.
    # z = (x, ω) = (−0.6, −0.2), where GDA stalls on the curve: every run ends at
    # the equilibrium.
    paper = dict(learning_rate=0.1, temperature=0.01, inner_steps=100, beta=0.5)
    start = (jnp.asarray(-0.6), jnp.asarray(-0.2))
    stalled = mmx.solve(
        TRAP.field, start, mmx.gda(0.1), 5000, projection=TRAP.projection
    )
    assert abs(float(stalled.params[0] * stalled.params[1]) - 0.5) < 1e-3
    x, omega = mixed_ne_ld_runs(start, 100, **paper)
    assert np.all(np.hypot(x, omega) < 0.1)
    # From (0.926, 0.941), deeper in the basin of the curve, a hotter chain with
    # a longer average (τ = 0.05, β = 0.1) reaches (0, 0) in most runs; the
    # others are still on the curve, where Φ = 1/4.
    tuned = dict(learning_rate=0.1, temperature=0.05, inner_steps=100, beta=0.1)
    x, omega = mixed_ne_ld_runs(TRAP_START, 150, **tuned)
    near = np.hypot(x, omega) < 0.1
    assert near.mean() > 0.5
    assert np.all(np.abs(phi((x, omega))[near]) < 0.01)
