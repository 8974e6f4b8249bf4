"""Langevin GDA: the drift against GDA's formula, the noise against the closed-form
stationary law of a linear field, key handling, and the escaping-trap setting."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import minimaxjax as mmx

KEY = jax.random.key(0)


def identity_field(z):
    return z  # Φ = ½‖x‖² − ½‖y‖²: V(z) = z


def test_zero_temperature_is_gda(x64):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 2))

    def V(z):
        x, y = z
        a = jnp.asarray(A, x.dtype)
        return (a @ y, -(a.T @ x))

    z0 = (rng.normal(size=3), rng.normal(size=2))
    sol = mmx.solve(
        V, tuple(map(jnp.asarray, z0)), mmx.langevin_gda(0.1, 0.0, key=KEY), 5
    )
    x, y = z0
    for _ in range(5):
        x, y = x - 0.1 * (A @ y), y + 0.1 * (A.T @ x)
    np.testing.assert_allclose(sol.params[0], x, rtol=1e-12)
    np.testing.assert_allclose(sol.params[1], y, rtol=1e-12)


@pytest.mark.parametrize("eta", [0.1, 0.5])
def test_stationary_variance_of_a_linear_field(eta):
    # z⁺ = (1 − η)z + √(2η)τξ: Var → 2ητ²/(1 − (1 − η)²) = 2τ²/(2 − η).
    tau, n = 0.7, 50_000
    z0 = (jnp.zeros(n), jnp.zeros(n))
    sol = mmx.solve(identity_field, z0, mmx.langevin_gda(eta, tau, key=KEY), 300)
    x, y = (np.asarray(p, np.float64) for p in sol.params)
    expected = 2 * tau**2 / (2 - eta)
    for v in (x, y):
        assert abs(v.mean()) < 0.02
        assert v.var() == pytest.approx(expected, rel=0.03)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.02  # players draw independent noise


def test_one_step_noise_scale():
    # From z = 0 with V = 0: z⁺ = √(2η)τξ exactly, so z⁺/(√(2η)τ) is N(0, 1).
    eta, tau = 0.02, 3.0
    z = (jnp.zeros(100_000),)
    opt = mmx.langevin_gda(eta, tau, key=KEY)
    updates, _ = opt.update((jnp.zeros(100_000),), opt.init(z), z)
    xi = np.asarray(updates[0], np.float64) / (np.sqrt(2 * eta) * tau)
    assert abs(xi.mean()) < 0.01
    assert xi.std() == pytest.approx(1.0, rel=0.01)


def test_key_is_split_every_step_and_reruns_are_identical():
    opt = mmx.langevin_gda(0.1, 1.0, key=KEY)
    z = (jnp.zeros(4), jnp.zeros(4))
    g = (jnp.zeros(4), jnp.zeros(4))
    state = opt.init(z)
    first, state1 = opt.update(g, state, z)
    second, state2 = opt.update(g, state1, z)
    again, _ = opt.update(g, state, z)
    assert not np.allclose(first[0], second[0])
    assert not np.allclose(first[0], first[1])
    np.testing.assert_array_equal(first[0], again[0])
    assert int(state2.steps) == 2
    assert not np.array_equal(
        jax.random.key_data(state1.key), jax.random.key_data(state2.key)
    )


def test_per_player_rates_draw_independent_noise():
    opt = mmx.langevin_gda((0.1, 0.1), 1.0, key=KEY)
    z = (jnp.zeros(4), jnp.zeros(4))
    updates, state = opt.update(z, opt.init(z), z)
    assert isinstance(state, mmx.PerPlayerState)
    assert not np.allclose(updates[0], updates[1])


def test_temperature_schedule():
    # τ_0 = 1, then 0: one noisy step, then plain GDA on V(z) = z.
    opt = mmx.langevin_gda(0.25, optax.linear_schedule(1.0, 0.0, 1), key=KEY)
    z = (jnp.zeros(3),)
    state = opt.init(z)
    updates, state = opt.update(identity_field(z), state, z)
    z = optax.apply_updates(z, updates)
    noisy = np.asarray(z[0], np.float64)
    assert np.all(noisy != 0.0)
    for _ in range(4):
        updates, state = opt.update(identity_field(z), state, z)
        z = optax.apply_updates(z, updates)
    np.testing.assert_allclose(z[0], noisy * 0.75**4, rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        mmx.langevin_gda(0.1, -0.5, key=KEY)
    with pytest.raises(TypeError, match="key"):
        mmx.langevin_gda(0.1, 1.0, key=0)
    with pytest.raises(TypeError, match="learning_rate"):
        mmx.langevin_gda("fast", 1.0, key=KEY)
    with pytest.raises(TypeError, match=r"learning_rate\[1\]"):
        mmx.langevin_gda((0.1, "fast"), 1.0, key=KEY)
    mmx.langevin_gda(0.1, 1.0, key=jax.random.PRNGKey(0))  # raw uint32 keys too


def test_gda_ends_on_the_spurious_curve_of_the_escaping_trap():
    # Kamalaruban et al. (NeurIPS 2020): from (x, ω) = (0.926, 0.941) GDA settles
    # on the hyperbola xω = 1/2, where V = 0 but the origin is the equilibrium.
    game = mmx.games.escaping_trap()
    z0 = (jnp.asarray(0.926), jnp.asarray(0.941))
    sol = mmx.solve(game.field, z0, mmx.gda(0.1), 5000, projection=game.projection)
    x, omega = (float(p) for p in sol.params)
    assert abs(x * omega - 0.5) < 1e-4
    assert np.hypot(x, omega) > 1.0


def test_a_langevin_rule_without_a_key_says_how_to_pass_one():
    for rule in (mmx.langevin_gda, mmx.langevin_rmsprop):
        with pytest.raises(TypeError, match=r"key=jax\.random\.key"):
            rule(0.1, 1.0)


# ------------------------------------------------------- RMSprop-preconditioned


def np_rmsprop_langevin_drift(A, z0, eta, decay, eps, steps):
    """τ = 0: v⁺ = αv + (1 − α)g², z⁺ = z − ηg/(λ + √v⁺), in float64 NumPy."""
    z, v = np.asarray(z0, np.float64), np.zeros(len(z0))
    for _ in range(steps):
        g = A @ z
        v = decay * v + (1 - decay) * g * g
        z = z - eta * g / (eps + np.sqrt(v))
    return z


def test_rmsprop_at_zero_temperature_is_preconditioned_gda(x64):
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4))
    z0 = rng.normal(size=4)

    def V(z):
        (w,) = z
        return (jnp.asarray(A) @ w,)

    opt = mmx.langevin_rmsprop(0.05, 0.0, key=KEY, decay=0.9, eps=1e-3)
    sol = mmx.solve(V, (jnp.asarray(z0),), opt, 30)
    expected = np_rmsprop_langevin_drift(A, z0, 0.05, 0.9, 1e-3, 30)
    np.testing.assert_allclose(sol.params[0], expected, rtol=1e-10)


def test_rmsprop_noise_is_scaled_by_the_preconditioner():
    # One step from v = 0 with a constant field c: v⁺ = (1 − α)c², G = 1/(λ + √v⁺),
    # update = −ηGc + √(2ηG)τξ, so (update + ηGc)/(√(2ηG)τ) is N(0, 1).
    eta, tau, decay, eps, n = 0.01, 0.5, 0.99, 1e-5, 100_000
    c = np.where(np.arange(n) % 2 == 0, 0.3, -2.0)  # two preconditioner values
    opt = mmx.langevin_rmsprop(eta, tau, key=KEY, decay=decay, eps=eps)
    z = (jnp.zeros(n),)
    updates, state = opt.update((jnp.asarray(c, jnp.float32),), opt.init(z), z)
    G = 1 / (eps + np.sqrt((1 - decay) * c * c))
    drift = -eta * G * c
    xi = (np.asarray(updates[0], np.float64) - drift) / (np.sqrt(2 * eta * G) * tau)
    for half in (xi[0::2], xi[1::2]):
        assert abs(half.mean()) < 0.015
        assert half.std() == pytest.approx(1.0, rel=0.015)
    np.testing.assert_allclose(state.nu[0], (1 - decay) * c * c, rtol=1e-6)
    assert int(state.steps) == 1


def test_rmsprop_per_player_rates_and_reruns():
    opt = mmx.langevin_rmsprop((0.1, 0.2), 1.0, key=KEY)
    z = (jnp.zeros(4), jnp.zeros(4))
    g = (jnp.ones(4), jnp.ones(4))
    updates, state = opt.update(g, opt.init(z), z)
    again, _ = opt.update(g, opt.init(z), z)
    assert isinstance(state, mmx.PerPlayerState)
    assert not np.allclose(updates[0], updates[1])
    np.testing.assert_array_equal(updates[0], again[0])


def test_rmsprop_bad_arguments():
    with pytest.raises(
        ValueError, match=r"temperature must be finite and >= 0, got -1\.0"
    ):
        mmx.langevin_rmsprop(0.1, -1.0, key=KEY)
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\), got 1\.0"):
        mmx.langevin_rmsprop(0.1, 1.0, key=KEY, decay=1.0)
    with pytest.raises(ValueError, match=r"eps must be > 0, got 0\.0"):
        mmx.langevin_rmsprop(0.1, 1.0, key=KEY, eps=0.0)
    with pytest.raises(TypeError, match="key"):
        mmx.langevin_rmsprop(0.1, 1.0, key=1)
    with pytest.raises(TypeError, match="learning_rate"):
        mmx.langevin_rmsprop("fast", 1.0, key=KEY)
