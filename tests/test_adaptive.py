"""Pethick et al.'s EG+ family: CurvatureEG+ (adaptive), SEG+ and BC-SEG+.

The headline check is the Forsaken game of Hsieh, Mertikopoulos & Cevher (2020),
written out here: GDA, EG, EG+ and OGDA with step 1/L end on a limit cycle, while
the curvature-adaptive EG+ converges.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

# ------------------------------------------------------------------- Forsaken


def forsaken_phi(u):
    return u**2 / 4 - u**4 / 2 + u**6 / 6


def forsaken(x, y):
    return x * (y - 0.45) + forsaken_phi(x) - forsaken_phi(y)


V = mmx.field(forsaken)
BOX = mmx.constraints.box(-1.5, 1.5)
# Published constants of Forsaken on the box (Pethick et al. 2022).
PUBLISHED_LIPSCHITZ = 12.4
PUBLISHED_SOLUTION = (0.078027, 0.411934)
TOL = 1e-3
# One instance, so solve's compilation cache is shared between tests.
ADAPTIVE = mmx.adaptive_extragradient_plus(projection=BOX)


def forsaken_start():
    return (jnp.array(1.0), jnp.array(-0.8))


def field_norm(z):
    return jnp.sqrt(sum(jnp.sum(v**2) for v in V(z)))


def lipschitz_on_box(num=61):
    """max ‖DV(z)‖₂ over a grid of the box [−1.5, 1.5]² (the grid holds the
    maximiser: x = ±1.5 where φ'' peaks and y² = 3/5 where φ'' is least)."""
    grid = jnp.linspace(-1.5, 1.5, num)
    xs, ys = jnp.meshgrid(grid, grid)

    def norm_at(x, y):
        jac = jax.jacfwd(lambda w: jnp.stack(V((w[0], w[1]))))(jnp.stack([x, y]))
        # Largest eigenvalue of the symmetric 2×2 matrix JᵀJ, in closed form.
        (p, q), (_, r) = jac.T @ jac
        return jnp.sqrt((p + r) / 2 + jnp.sqrt(((p - r) / 2) ** 2 + q**2))

    return float(
        jax.jit(lambda a, b: jnp.max(jax.vmap(jax.vmap(norm_at))(a, b)))(xs, ys)
    )


def test_forsaken_lipschitz_constant_is_the_published_one():
    assert abs(lipschitz_on_box() - PUBLISHED_LIPSCHITZ) < 0.05


def test_adaptive_eg_plus_converges_on_forsaken_with_solve():
    # num_steps counts field evaluations, about 3 per iteration here.
    sol = mmx.solve(V, forsaken_start(), ADAPTIVE, 2000, tol=TOL)
    assert int(sol.status) == mmx.Status.CONVERGED
    iterations = int(sol.stats["num_iterations"])
    assert iterations < 500
    assert float(field_norm(sol.params)) <= TOL
    np.testing.assert_allclose(
        [float(v) for v in sol.params], PUBLISHED_SOLUTION, atol=5e-3
    )
    # solve's count = V(z^k) at every iteration (and at the converged iterate) +
    # the calls the rule made inside update, which its state counts.
    assert int(sol.stats["num_evaluations"]) == (
        iterations + 1 + int(sol.state.num_evaluations)
    )
    # The trace holds one entry per evaluation, each iteration's ‖V(z^k)‖
    # standing for all its evaluations, and NaN after the stop.
    trace = np.asarray(sol.trace["field_norm"])
    used = int(sol.stats["num_evaluations"])
    assert trace.shape == (2000,)
    assert np.all(np.isnan(trace[used:]))
    assert trace[used - 1] <= TOL
    assert np.all(trace[: used - 1] > TOL)


def test_adaptive_eg_plus_converges_on_forsaken_in_a_hand_loop():
    @jax.jit
    def step(z, state):
        updates, state = ADAPTIVE.update(V(z), state, z, field=lambda w, phase: V(w))
        z = optax.apply_updates(z, updates)
        return z, state, field_norm(z)

    z = forsaken_start()
    state = ADAPTIVE.init(z)
    norm = field_norm(z)
    iterations = 0
    while norm >= TOL and iterations < 500:
        z, state, norm = step(z, state)
        iterations += 1
    assert norm < TOL
    assert iterations < 500
    np.testing.assert_allclose([float(v) for v in z], PUBLISHED_SOLUTION, atol=5e-3)
    # γ_k ends near ν/‖DV(z*)‖, far above the global step 1/L.
    assert float(state.learning_rate) > 4 / PUBLISHED_LIPSCHITZ


FIXED_STEP_RULES = {
    "gda": (lambda lr: mmx.gda(lr, projection=BOX), 1),
    "extragradient": (lambda lr: mmx.extragradient(lr, projection=BOX), 2),
    "extragradient_plus": (
        lambda lr: mmx.extragradient_plus(lr, 0.5, projection=BOX),
        2,
    ),
    "optimistic_gda": (lambda lr: mmx.optimistic_gda(lr, projection=BOX), 1),
}


@pytest.mark.parametrize("name", sorted(FIXED_STEP_RULES))
def test_fixed_step_rules_end_on_a_limit_cycle_on_forsaken(x64, name):
    make, evaluations = FIXED_STEP_RULES[name]
    iterations = 6000
    sol = mmx.solve(
        V,
        forsaken_start(),
        make(1 / PUBLISHED_LIPSCHITZ),
        evaluations * iterations,
        tol=TOL,
    )
    assert int(sol.status) == mmx.Status.MAX_STEPS
    # ‖V‖ at the committed iterates over the last third: bounded away from zero
    # and oscillating between about 0.5 and 2.2 (Pethick et al. 2022).
    tail = np.asarray(sol.trace["field_norm"])[::evaluations][-2000:]
    assert 0.4 < tail.min() < 0.7
    assert 2.0 < tail.max() < 2.4


def test_adaptive_counts_its_field_calls():
    """Un-jitted, a Python counter sees every call the rule makes."""
    calls = []

    def counting(w, phase):
        calls.append(phase)
        return V(w)

    opt = mmx.adaptive_extragradient_plus(projection=BOX, power_iterations=1)
    z = forsaken_start()
    state = opt.init(z)
    iterations = 2
    with jax.disable_jit():
        for _ in range(iterations):
            updates, state = opt.update(V(z), state, z, field=counting)
            z = optax.apply_updates(z, updates)
    assert int(state.num_evaluations) == len(calls)
    # One linearisation and one first linesearch trial per iteration, plus one
    # call per backtrack; the start of Forsaken needs some backtracking.
    assert int(state.num_backtracks) > 0
    assert len(calls) == 2 * iterations + int(state.num_backtracks)
    assert set(calls) == {0}  # one sample per iteration


def test_adaptive_needs_the_field():
    opt = mmx.adaptive_extragradient_plus()
    z = forsaken_start()
    with pytest.raises(ValueError, match="opaque mode"):
        opt.update(V(z), opt.init(z), z)
    with pytest.raises(ValueError, match="needs params"):
        opt.update(V(z), opt.init(z), field=lambda w, phase: V(w))


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("relaxation", 2.0),
        ("relaxation", 0.0),
        ("lipschitz_fraction", 1.0),
        ("backtracking_factor", 1.5),
        ("sigma_fraction", 1.0),
        ("sigma_fraction", -0.1),
        ("max_learning_rate", 0.0),
    ],
)
def test_adaptive_rejects_out_of_range_hyperparameters(argument, value):
    with pytest.raises(ValueError, match=argument):
        mmx.adaptive_extragradient_plus(**{argument: value})


def test_adaptive_jit_and_vmap_over_starts():
    xs = jnp.array([1.0, -1.2, 0.5, 1.4, -0.3, 0.9])
    ys = jnp.array([-0.8, 1.0, -1.3, 1.4, 0.2, 0.9])
    run = jax.jit(jax.vmap(lambda z: mmx.solve(V, z, ADAPTIVE, 2000, tol=TOL)))
    batched = run((xs, ys))
    run((xs[::-1], ys[::-1]))
    assert run._cache_size() == 1
    assert np.all(np.asarray(batched.status) == mmx.Status.CONVERGED)
    np.testing.assert_allclose(
        np.asarray(batched.params[0]), PUBLISHED_SOLUTION[0], atol=1e-2
    )
    np.testing.assert_allclose(
        np.asarray(batched.params[1]), PUBLISHED_SOLUTION[1], atol=1e-2
    )
    # The same run alone (rounding may differ along a ~300-step trajectory).
    single = mmx.solve(V, (xs[2], ys[2]), ADAPTIVE, 2000, tol=TOL)
    assert int(single.status) == mmx.Status.CONVERGED
    np.testing.assert_allclose(
        [float(batched.params[0][2]), float(batched.params[1][2])],
        [float(v) for v in single.params],
        atol=1e-4,
    )


def test_adaptive_on_nested_dict_players_matches_flat_players_and_keeps_dtypes():
    nested_field = mmx.game_field(
        {
            "min": lambda z: forsaken(z["min"]["x"], z["max"][0]),
            "max": lambda z: -forsaken(z["min"]["x"], z["max"][0]),
        }
    )

    def step(field, z):
        state = ADAPTIVE.init(z)
        updates, state = ADAPTIVE.update(
            field(z), state, z, field=lambda w, phase: field(w)
        )
        return optax.apply_updates(z, updates), state

    nested = {"min": {"x": jnp.array(1.0)}, "max": [jnp.array(-0.8)]}
    z_nested, s_nested = jax.jit(step, static_argnums=0)(nested_field, nested)
    z_flat, s_flat = jax.jit(step, static_argnums=0)(V, forsaken_start())
    np.testing.assert_allclose(
        [float(z_nested["min"]["x"]), float(z_nested["max"][0])],
        [float(v) for v in z_flat],
        rtol=1e-5,
    )
    assert int(s_nested.num_evaluations) == int(s_flat.num_evaluations)
    # float32 in, float32 out; the state keeps the dtypes of init.
    assert all(jnp.result_type(a) == jnp.float32 for a in jax.tree.leaves(z_flat))
    assert [jnp.result_type(a) for a in jax.tree.leaves(s_flat)] == [
        jnp.result_type(a) for a in jax.tree.leaves(ADAPTIVE.init(forsaken_start()))
    ]


def test_adaptive_keeps_bfloat16():
    z = jax.tree.map(lambda a: a.astype(jnp.bfloat16), forsaken_start())
    state = ADAPTIVE.init(z)
    state_dtypes = [jnp.result_type(s) for s in jax.tree.leaves(state)]
    updates, state = jax.jit(
        lambda z, s: ADAPTIVE.update(V(z), s, z, field=lambda w, phase: V(w))
    )(z, state)
    assert all(jnp.result_type(u) == jnp.bfloat16 for u in jax.tree.leaves(updates))
    assert [jnp.result_type(s) for s in jax.tree.leaves(state)] == state_dtypes
    assert all(bool(jnp.isfinite(u)) for u in jax.tree.leaves(updates))


# ---------------------------------------------------------------------- rho

# On Φ = xy, V(z) = Jz with J² = −I: ‖DV‖ = 1, so γ_k = ν (the linesearch
# accepts it), H z − H z̄ = γV(z̄) = γ(Jz + γz) and z − z̄ = γJz, whence
# α_k = σ_k/γ + 1/(1 + γ²) and z^{k+1} = (1 − α_kγ²)z − α_kγJz, a contraction of
# ‖z‖ = ‖V(z)‖ by q = √((1 − αγ²)² + (αγ)²) per iteration.
NU = 0.99  # lipschitz_fraction, the default
S = 0.99  # sigma_fraction, the default


def rotation_ratio(rho):
    """α_k on Φ = xy: σ_k/γ + 1/(1 + γ²) with γ = ν, σ_k = max(ρ, −sγ/2)."""
    sigma = -S * NU / 2 if rho is None else max(rho, -S * NU / 2)
    return sigma / NU + 1 / (1 + NU**2)


def rotation_iterations(rho, start_norm, tol):
    """The least k with q^k ‖V(z⁰)‖ ≤ tol."""
    alpha = rotation_ratio(rho)
    q = np.hypot(1 - alpha * NU**2, alpha * NU)
    return int(np.ceil(np.log(start_norm / tol) / -np.log(q)))


@pytest.mark.parametrize("rho", [None, 0.0], ids=["conservative", "monotone"])
def test_rho_zero_takes_the_monotone_steps_on_the_bilinear_game(x64, rho):
    game = mmx.games.bilinear()
    assert game.weak_mvi_rho == 0.0
    tol = 1e-6
    start_norm = float(np.hypot(*[float(v) for v in game.field(game.init)]))
    expected = rotation_iterations(rho, start_norm, tol)
    # 3 evaluations per iteration here (V(z^k), the linearisation, one trial);
    # solve stops when less than one worst-case iteration (33) is left.
    budget = 3 * expected + 40
    opt = mmx.adaptive_extragradient_plus(rho=rho)
    sol = mmx.solve(game.field, game.init, opt, budget, tol=tol)
    assert int(sol.status) == mmx.Status.CONVERGED
    iterations = int(sol.stats["num_iterations"])
    assert iterations == expected
    assert float(np.hypot(*[float(v) for v in game.field(sol.params)])) < tol
    if rho == 0.0:
        assert iterations <= 100
    else:  # the conservative σ_k = −0.99γ_k/2 crawls: α_k ≈ 0.01
        assert iterations > 1000


@pytest.mark.parametrize("rho", [None, 0.25, 0.0, -0.3, -0.49, -10.0])
def test_rho_sets_the_relaxation_and_is_clipped_at_minus_s_gamma_over_two(x64, rho):
    """α_k from one update on Φ = xy against the closed form: ρ itself down to
    −sγ/2 = −0.49005, the conservative choice below (−0.49 is just above)."""
    game = mmx.games.bilinear()
    opt = mmx.adaptive_extragradient_plus(rho=rho)
    z = game.init
    _, state = opt.update(
        game.field(z), opt.init(z), z, field=lambda w, p: game.field(w)
    )
    np.testing.assert_allclose(float(state.learning_rate), NU, rtol=1e-12)
    np.testing.assert_allclose(
        float(state.update_ratio), rotation_ratio(rho), rtol=1e-12
    )


def test_rho_below_minus_s_gamma_over_two_is_the_conservative_rule():
    """Clipped: a ρ far below −sγ_k/2 runs exactly as no ρ at all."""
    runs = [
        mmx.solve(V, forsaken_start(), make, 60)
        for make in (
            ADAPTIVE,
            mmx.adaptive_extragradient_plus(projection=BOX, rho=-1e3),
        )
    ]
    for a, b in zip(runs[0].params, runs[1].params, strict=True):
        assert float(a) == float(b)


def test_forsaken_still_escapes_the_cycle_with_its_rho():
    game = mmx.games.forsaken()
    rho = game.weak_mvi_rho
    assert rho < -1.5  # the infimum on the box
    opt = mmx.adaptive_extragradient_plus(projection=BOX, rho=rho)
    sol = mmx.solve(V, forsaken_start(), opt, 2000, tol=TOL)
    assert int(sol.status) == mmx.Status.CONVERGED
    assert float(field_norm(sol.params)) < TOL
    np.testing.assert_allclose(
        [float(v) for v in sol.params], PUBLISHED_SOLUTION, atol=5e-3
    )
    # σ_k = max(ρ, −0.99γ_k/2) is the conservative choice while γ_k < −2ρ/0.99
    # ≈ 3.07, i.e. while ‖DV(z^k)‖ > 0.32: the same run as without ρ.
    plain = mmx.solve(V, forsaken_start(), ADAPTIVE, 2000, tol=TOL)
    assert int(sol.stats["num_iterations"]) == int(plain.stats["num_iterations"])
    np.testing.assert_allclose(
        [float(v) for v in sol.params], [float(v) for v in plain.params], rtol=1e-6
    )


def test_rho_under_inject_hyperparams_is_traced():
    game = mmx.games.bilinear()
    opt = optax.inject_hyperparams(
        mmx.adaptive_extragradient_plus,
        static_args=("power_iterations", "max_backtracks"),
    )(rho=0.0)
    z = game.init
    step = jax.jit(
        lambda z, s: opt.update(game.field(z), s, z, field=lambda w, p: game.field(w))
    )
    _, state = step(z, opt.init(z))
    np.testing.assert_allclose(
        float(state.inner_state.update_ratio), rotation_ratio(0.0), rtol=1e-5
    )


BAD_RHOS = [
    (float("nan"), ValueError),
    (float("inf"), ValueError),
    (-float("inf"), ValueError),
    ("0.0", TypeError),
    (True, TypeError),
    (1j, TypeError),
    (np.array([0.0, 1.0]), TypeError),
]


@pytest.mark.parametrize(("rho", "error"), BAD_RHOS)
@pytest.mark.parametrize(
    "make",
    [
        lambda rho: mmx.adaptive_extragradient_plus(rho=rho),
        lambda rho: mmx.stochastic_extragradient_plus(0.5, 0.5, rho=rho),
        lambda rho: mmx.bias_corrected_extragradient_plus(0.5, 0.5, rho=rho),
    ],
    ids=["adaptive", "seg_plus", "bc_seg_plus"],
)
def test_a_bad_rho_is_rejected(make, rho, error):
    with pytest.raises(error, match="rho"):
        make(rho)


# ------------------------------------------------------------- constraints

# Φ = ½(x − 2)² + xy − ½(y + 3)² is strongly monotone; on the box [−1, 1]² its
# solution is the corner (1, −1): there V = (−2, 1) points out of the box
# (V_x ≤ 0 at the upper bound of x, V_y ≥ 0 at the lower bound of y).
V_CONSTRAINED = mmx.field(lambda x, y: 0.5 * (x - 2) ** 2 + x * y - 0.5 * (y + 3) ** 2)
UNIT_BOX = mmx.constraints.box(-1.0, 1.0)


@pytest.mark.parametrize(
    ("make", "num_steps"),
    [
        # About 3 evaluations per iteration, 3000 iterations.
        (lambda: mmx.adaptive_extragradient_plus(projection=UNIT_BOX), 9000),
        (
            lambda: mmx.stochastic_extragradient_plus(0.3, 0.5, projection=UNIT_BOX),
            3000,
        ),
        (
            lambda: mmx.bias_corrected_extragradient_plus(
                0.3, 0.5, projection=UNIT_BOX
            ),
            3000,
        ),
    ],
    ids=["adaptive", "seg_plus", "bc_seg_plus"],
)
def test_projection_finds_the_constrained_solution(make, num_steps):
    z0 = (jnp.array(0.0), jnp.array(0.5))
    sol = mmx.solve(V_CONSTRAINED, z0, make(), num_steps)
    np.testing.assert_allclose([float(v) for v in sol.params], [1.0, -1.0], atol=1e-5)


# ------------------------------------------------------------ SEG+ and BC-SEG+

# Φ = (μ/2)x² + xy − (μ/2)y² with μ < 0: V(z) = Mz, M = [[μ, 1], [−1, μ]], is not
# monotone but satisfies the weak Minty inequality with ρ = μ/(1 + μ²) ≈ −0.099,
# and γ = 0.5 > −2ρ as the theory asks.
MU = -0.1
V_WEAK = mmx.field(lambda x, y: 0.5 * MU * x**2 + x * y - 0.5 * MU * y**2)
NOISE = 0.1
GAMMA = 0.5


def noisy_weak(z, key):
    """V(z) plus additive Gaussian noise of standard deviation 0.1 per entry."""
    noise = NOISE * jax.random.normal(key, (2,))
    v = V_WEAK(z)
    return (v[0] + noise[0], v[1] + noise[1])


def weak_start():
    return (jnp.array(1.0), jnp.array(1.0))


def diminishing(k):
    return 1 / (1 + k / 50)


@pytest.mark.parametrize(
    ("ratio", "reference"),
    [
        (1.0, mmx.extragradient),
        (0.3, lambda lr: mmx.extragradient_plus(lr, 0.3)),
    ],
    ids=["extragradient", "extragradient_plus"],
)
def test_seg_plus_with_a_constant_ratio_is_eg_plus_vmapped_over_steps(ratio, reference):
    n = 40
    steps = jnp.array([0.1, 0.3, 0.5])
    a = jax.vmap(
        lambda lr: mmx.solve(
            V_WEAK, weak_start(), mmx.stochastic_extragradient_plus(lr, ratio), n
        )
    )(steps)
    b = jax.vmap(lambda lr: mmx.solve(V_WEAK, weak_start(), reference(lr), n))(steps)
    np.testing.assert_allclose(
        np.asarray(a.trace["field_norm"]), np.asarray(b.trace["field_norm"]), rtol=1e-5
    )


def test_bias_corrected_is_seg_plus_on_a_deterministic_field():
    """With α_0 = 1 the correction (1 − α_k)(h^{k−1} − H z^{k−1}) starts at zero and
    stays zero when V is deterministic."""
    n_iterations = 30
    seg_plus = mmx.solve(
        V_WEAK,
        weak_start(),
        mmx.stochastic_extragradient_plus(GAMMA, diminishing),
        2 * n_iterations,
    )
    bc = mmx.solve(
        V_WEAK,
        weak_start(),
        mmx.bias_corrected_extragradient_plus(GAMMA, diminishing),
        3 * n_iterations,
    )
    np.testing.assert_allclose(
        [float(v) for v in bc.params],
        [float(v) for v in seg_plus.params],
        rtol=1e-5,
        atol=1e-7,
    )


def test_bias_corrected_follows_the_algorithm_sample_for_sample(x64):
    """Three iterations against a direct transcription of BC-SEG+ in NumPy, with
    the samples ξ_k fed by hand: phase 0 must reuse the caller's sample at
    z^{k−1}."""
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(3, 2, 2))  # [iteration, phase, coordinate]
    M = np.array([[MU, 1.0], [-1.0, MU]])
    alphas = [0.7, 0.4, 0.25]

    def F(z, xi):
        return M @ z + xi

    # Reference: z^{-1} = h^{-1} = z^0.
    z = np.array([1.0, 1.0])
    z_prev, h_prev = z.copy(), z.copy()
    expected = []
    for k, alpha in enumerate(alphas):
        h = (
            z
            - GAMMA * F(z, samples[k, 0])
            + (1 - alpha) * (h_prev - z_prev + GAMMA * F(z_prev, samples[k, 0]))
        )
        z_bar = h
        z_next = z - alpha * GAMMA * F(z_bar, samples[k, 1])
        z_prev, h_prev, z = z, h, z_next
        expected.append(z)

    opt = mmx.bias_corrected_extragradient_plus(GAMMA, lambda k: jnp.asarray(alphas)[k])

    @jax.jit
    def step(w, state, xi):  # xi[phase]: the sample each phase sees
        def sampled(point, phase):
            v = V_WEAK(point)
            return (v[0] + xi[phase, 0], v[1] + xi[phase, 1])

        updates, state = opt.update(sampled(w, 0), state, w, field=sampled)
        return optax.apply_updates(w, updates), state

    w = (jnp.array(1.0), jnp.array(1.0))
    state = opt.init(w)
    for k in range(len(alphas)):
        w, state = step(w, state, jnp.asarray(samples[k]))
        np.testing.assert_allclose([float(v) for v in w], expected[k], rtol=1e-12)


def seg_noise_floor():
    """Stationary E‖z‖² of constant-step stochastic EG on V(z) + ξ, in closed form.

    z̄ = z − γ(Mz + ξ₀), z⁺ = z − γ(Mz̄ + ξ₁) is the linear recursion z⁺ = Az + Bξ
    with A = I − γM + γ²M² and B = [γ²M, −γI]; its stationary covariance solves
    the Lyapunov equation Σ = AΣAᵀ + σ²BBᵀ.
    """
    M = np.array([[MU, 1.0], [-1.0, MU]])
    A = np.eye(2) - GAMMA * M + GAMMA**2 * M @ M
    B = np.hstack([GAMMA**2 * M, -GAMMA * np.eye(2)])
    Q = NOISE**2 * B @ B.T
    sigma = np.linalg.solve(np.eye(4) - np.kron(A, A), Q.reshape(-1)).reshape(2, 2)
    return float(np.trace(sigma))


def test_diminishing_update_beats_constant_step_seg_under_noise():
    """Mean ‖z − z*‖² over 64 noise seeds: constant-step SEG stalls at its noise
    floor; SEG+ and BC-SEG+ (α_k → 0) keep converging below it."""
    iterations = 1000
    keys = jax.random.split(jax.random.key(0, impl="rbg"), 64)  # fast to compile

    def mean_squared_distance(opt, evaluations):
        def final(key):
            return mmx.solve(
                noisy_weak, weak_start(), opt, evaluations * iterations, key=key
            ).params

        x, y = jax.jit(jax.vmap(final))(keys)
        return float(jnp.mean(x**2 + y**2))

    floor = seg_noise_floor()
    assert floor > 0.05  # constant steps cannot get below this in expectation
    seg_plus = mean_squared_distance(
        mmx.stochastic_extragradient_plus(GAMMA, diminishing), 2
    )
    bc_seg_plus = mean_squared_distance(
        mmx.bias_corrected_extragradient_plus(GAMMA, diminishing), 3
    )
    assert seg_plus < floor / 20
    assert bc_seg_plus < floor / 20


@pytest.mark.parametrize(
    "make",
    [
        mmx.stochastic_extragradient_plus,
        mmx.bias_corrected_extragradient_plus,
    ],
    ids=["seg_plus", "bc_seg_plus"],
)
def test_stochastic_rules_need_the_field_and_a_fixed_scalar_step(make):
    opt = make(GAMMA, 0.5)
    z = weak_start()
    with pytest.raises(ValueError, match="opaque mode"):
        opt.update(V_WEAK(z), opt.init(z), z)
    with pytest.raises(TypeError, match="learning_rate"):
        make(lambda k: 0.5, 0.5)
    with pytest.raises(TypeError, match="learning_rate"):
        make((0.5, 0.1), 0.5)
    with pytest.raises(ValueError, match="update_ratio"):
        make(GAMMA, -0.5)


@pytest.mark.parametrize(
    "make",
    [
        mmx.stochastic_extragradient_plus,
        mmx.bias_corrected_extragradient_plus,
    ],
    ids=["seg_plus", "bc_seg_plus"],
)
def test_stochastic_rules_check_the_step_against_rho(make):
    """ρ only constrains the fixed step, γ > −2ρ; it leaves the update alone."""
    rho = MU / (1 + MU**2)  # the weak-Minty constant of V_WEAK
    with pytest.raises(ValueError, match="learning_rate"):
        make(-2 * rho, 0.5, rho=rho)  # γ = −2ρ, on the boundary
    with pytest.raises(ValueError, match="learning_rate"):
        make(0.1, 0.5, rho=-0.1)
    make(0.1, 0.5, rho=0.0)  # monotone: any γ > 0
    evaluations = 2 if make is mmx.stochastic_extragradient_plus else 3
    with_rho, without = (
        mmx.solve(V_WEAK, weak_start(), opt, evaluations * 20)
        for opt in (make(GAMMA, diminishing, rho=rho), make(GAMMA, diminishing))
    )
    for a, b in zip(with_rho.params, without.params, strict=True):
        assert float(a) == float(b)
    # Traced under inject_hyperparams: no check, and the rule still runs.
    injected = optax.inject_hyperparams(make)(
        learning_rate=GAMMA, update_ratio=0.5, rho=rho
    )
    z = weak_start()
    updates, _ = jax.jit(
        lambda z, s: injected.update(V_WEAK(z), s, z, field=lambda w, p: V_WEAK(w))
    )(z, injected.init(z))
    assert all(bool(jnp.isfinite(u)) for u in jax.tree.leaves(updates))


@pytest.mark.parametrize(
    "make",
    [
        mmx.stochastic_extragradient_plus,
        mmx.bias_corrected_extragradient_plus,
    ],
    ids=["seg_plus", "bc_seg_plus"],
)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_stochastic_rules_keep_dtypes_and_inject_hyperparams(make, dtype):
    z = jax.tree.map(lambda a: a.astype(dtype), weak_start())
    plain = make(GAMMA, 0.5)
    injected = optax.inject_hyperparams(make)(learning_rate=GAMMA, update_ratio=0.5)

    def run(opt):
        state = opt.init(z)
        dtypes = [jnp.result_type(s) for s in jax.tree.leaves(state)]
        w = z
        for _ in range(3):
            updates, state = opt.update(
                V_WEAK(w), state, w, field=lambda p, phase: V_WEAK(p)
            )
            w = optax.apply_updates(w, updates)
        assert [jnp.result_type(s) for s in jax.tree.leaves(state)] == dtypes
        assert all(jnp.result_type(a) == dtype for a in jax.tree.leaves(w))
        return w

    np.testing.assert_allclose(
        np.asarray([float(v) for v in run(plain)]),
        np.asarray([float(v) for v in run(injected)]),
        rtol=1e-6,
    )
