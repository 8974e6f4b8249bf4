"""mmx.field, mmx.game_field and the Jacobian-norm helper."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minimaxjax as mmx


def test_field_is_descent_for_x_and_ascent_for_y(x64):
    # Φ = x·A·y + ½|x|² − ½|y|²:  ∇xΦ = Ay + x,  ∇yΦ = Aᵀx − y.
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 2))
    x, y = rng.normal(size=3), rng.normal(size=2)
    V = mmx.field(lambda x, y: x @ A @ y + 0.5 * x @ x - 0.5 * y @ y)
    vx, vy = V((jnp.asarray(x), jnp.asarray(y)))
    np.testing.assert_allclose(vx, A @ y + x, rtol=1e-12)
    np.testing.assert_allclose(vy, -(A.T @ x - y), rtol=1e-12)


def test_field_keeps_pytree_structure_and_list_container():
    def phi(x, y):
        return jnp.sum(x["a"] * y[0]) + jnp.sum(x["b"]) * jnp.sum(y[1] ** 2)

    z = [{"a": jnp.ones(2), "b": jnp.ones((2, 2))}, (jnp.ones(2), jnp.ones(3))]
    out = mmx.field(phi)(z)
    assert isinstance(out, list)
    assert jax.tree.structure(out) == jax.tree.structure(z)
    np.testing.assert_allclose(out[1][1], -2 * 4.0 * np.ones(3))


def test_field_with_flax_params_and_minibatch_args():
    model = nn.Dense(1)
    x = model.init(jax.random.key(0), jnp.ones((1, 2)))
    y = jnp.ones((4, 2))  # an adversarial perturbation of the batch

    def phi(params, delta, batch, targets):
        pred = model.apply(params, batch + delta)[:, 0]
        return jnp.mean((pred - targets) ** 2)

    V = mmx.field(phi)
    batch, targets = jnp.ones((4, 2)), jnp.zeros(4)
    vx, vy = V((x, y), batch, targets)
    gx, gy = jax.grad(phi, argnums=(0, 1))(x, y, batch, targets)
    jax.tree.map(np.testing.assert_allclose, vx, gx)
    np.testing.assert_allclose(vy, -gy)


def test_field_has_aux():
    V = mmx.field(lambda x, y: (x * y, {"value": x * y}), has_aux=True)
    (vx, vy), aux = V((jnp.array(2.0), jnp.array(3.0)))
    assert float(vx) == 3.0 and float(vy) == -2.0 and float(aux["value"]) == 6.0


def test_field_with_prng_key_argument():
    def phi(x, y, key):
        noise = jax.random.normal(key, ())
        return (1.0 + noise) * x * y

    V = mmx.field(phi)
    a = V((jnp.array(1.0), jnp.array(1.0)), jax.random.key(0))
    b = V((jnp.array(1.0), jnp.array(1.0)), jax.random.key(1))
    assert float(a[0]) != float(b[0])


@pytest.mark.parametrize(
    ("phi", "message"),
    [
        (lambda x, y: x * y, "phi must return a single floating-point scalar"),
        (lambda x, y: jnp.sum(x * y).astype(jnp.int32), "dtype int32"),
    ],
)
def test_field_rejects_non_scalar_and_integer_phi(phi, message):
    V = mmx.field(phi)
    with pytest.raises(ValueError, match=message):
        V((jnp.ones(3), jnp.ones(3)))


def test_field_rejects_non_pair_z():
    V = mmx.field(lambda x, y: x * y)
    with pytest.raises(ValueError, match=r"z must be a pair \(x, y\).*length 3"):
        V((jnp.ones(()), jnp.ones(()), jnp.ones(())))
    with pytest.raises(ValueError, match=r"z is a dict.*players=\(x_key, y_key\)"):
        V({"x": jnp.ones(()), "y": jnp.ones(())})


def test_field_rejects_non_callable():
    with pytest.raises(TypeError, match="phi must be callable"):
        mmx.field(3.0)


def test_game_field_zero_sum_matches_field(x64):
    phi = lambda x, y: jnp.sin(x) * y**2 + x * y  # noqa: E731
    z = (jnp.array(0.3), jnp.array(-1.2))
    a = mmx.field(phi)(z)
    b = mmx.game_field((lambda z: phi(*z), lambda z: -phi(*z)))(z)
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_game_field_three_players_dict(x64):
    # ℓ_a = a·b, ℓ_b = b·c, ℓ_c = c·a + c²: V = (b, c, a + 2c).
    losses = {
        "a": lambda z: z["a"] * z["b"],
        "b": lambda z: z["b"] * z["c"],
        "c": lambda z: z["c"] * z["a"] + z["c"] ** 2,
    }
    z = {"a": jnp.array(1.0), "b": jnp.array(2.0), "c": jnp.array(3.0)}
    out = mmx.game_field(losses)(z)
    assert out == {"a": 2.0, "b": 3.0, "c": 7.0}


def test_game_field_has_aux():
    V = mmx.game_field(
        (lambda z: (z[0] * z[1], "a"), lambda z: (-z[0] * z[1], "b")), has_aux=True
    )
    out, aux = V((jnp.array(1.0), jnp.array(2.0)))
    assert aux == ("a", "b") and float(out[1]) == -1.0


def test_game_field_rejects_mismatched_players():
    V = mmx.game_field((lambda z: z[0], lambda z: z[1]))
    with pytest.raises(ValueError, match="one top-level child per loss"):
        V((jnp.ones(()), jnp.ones(()), jnp.ones(())))
    with pytest.raises(TypeError, match=r"losses\[1\] must be callable"):
        mmx.game_field((lambda z: z[0], 2.0))


def test_jacobian_operator_norm_matches_dense_svd(x64):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 3))
    P = rng.normal(size=(4, 4))
    P = P @ P.T
    V = mmx.field(lambda x, y: x @ A @ y + 0.5 * x @ P @ x + jnp.sum(jnp.sin(y)))
    z = (jnp.asarray(rng.normal(size=4)), jnp.asarray(rng.normal(size=3)))
    dense = np.block(
        [[P, A], [-A.T, np.diag(np.sin(np.asarray(z[1])))]]
    )  # −∇²_yy Φ = diag(sin y)
    expected = np.linalg.norm(dense, 2)
    got = mmx.jacobian_operator_norm(V, z, num_iterations=200)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
