"""GAN losses, their composition with mmx.field / mmx.game_field, gradient
penalties, the spectral Lipschitz bound, spectral normalisation through Flax and
weight clipping of the critic, against closed forms and float64 NumPy references
computed here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import minimaxjax as mmx
from minimaxjax import gan


def np_log_sigmoid(x):
    return -np.logaddexp(0.0, -np.asarray(x, np.float64))


REAL = np.array([2.5, -1.0, 0.3, 4.0, -0.2], np.float64)
FAKE = np.array([-3.0, 0.7, 1.2, -0.5], np.float64)  # another batch size


def np_relu(x):
    return np.maximum(x, 0.0)


CRITIC_REFERENCES = {
    "minimax_value": (
        gan.minimax_value,
        lambda r, f: np_log_sigmoid(r).mean() + np_log_sigmoid(-f).mean(),
    ),
    "minimax_critic_loss": (
        gan.minimax_critic_loss,
        lambda r, f: -np_log_sigmoid(r).mean() - np_log_sigmoid(-f).mean(),
    ),
    "wasserstein_value": (gan.wasserstein_value, lambda r, f: r.mean() - f.mean()),
    "wasserstein_critic_loss": (
        gan.wasserstein_critic_loss,
        lambda r, f: f.mean() - r.mean(),
    ),
    "hinge_critic_loss": (
        gan.hinge_critic_loss,
        lambda r, f: np_relu(1 - r).mean() + np_relu(1 + f).mean(),
    ),
    "least_squares_critic_loss": (
        gan.least_squares_critic_loss,
        lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
    ),
}

GENERATOR_REFERENCES = {
    "minimax_generator_loss": (
        gan.minimax_generator_loss,
        lambda f: np_log_sigmoid(-f).mean(),
    ),
    "non_saturating_generator_loss": (
        gan.non_saturating_generator_loss,
        lambda f: -np_log_sigmoid(f).mean(),
    ),
    "wasserstein_generator_loss": (gan.wasserstein_generator_loss, lambda f: -f.mean()),
    "hinge_generator_loss": (gan.hinge_generator_loss, lambda f: -f.mean()),
    "least_squares_generator_loss": (
        gan.least_squares_generator_loss,
        lambda f: 0.5 * ((f - 1) ** 2).mean(),
    ),
}


# ------------------------------------------------------------------------ losses


@pytest.mark.parametrize("name", sorted(CRITIC_REFERENCES))
def test_critic_losses_match_their_formulas(x64, name):
    fn, reference = CRITIC_REFERENCES[name]
    expected = reference(REAL, FAKE)
    np.testing.assert_allclose(fn(jnp.asarray(REAL), jnp.asarray(FAKE)), expected)
    # (batch, 1) scores give the same value
    got = fn(jnp.asarray(REAL[:, None]), jnp.asarray(FAKE[:, None]))
    np.testing.assert_allclose(got, expected)
    assert jnp.shape(got) == ()


@pytest.mark.parametrize("name", sorted(GENERATOR_REFERENCES))
def test_generator_losses_match_their_formulas(x64, name):
    fn, reference = GENERATOR_REFERENCES[name]
    np.testing.assert_allclose(fn(jnp.asarray(FAKE)), reference(FAKE))
    np.testing.assert_allclose(fn(jnp.asarray(FAKE[:, None])), reference(FAKE))


def test_minimax_losses_are_stable_for_large_logits():
    real = np.array([200.0, -200.0, 90.0], np.float32)
    fake = np.array([-300.0, 150.0, 0.0], np.float32)
    r64, f64 = real.astype(np.float64), fake.astype(np.float64)
    checks = [
        (gan.minimax_value(jnp.asarray(real), jnp.asarray(fake)),
         np_log_sigmoid(r64).mean() + np_log_sigmoid(-f64).mean()),
        (gan.minimax_critic_loss(jnp.asarray(real), jnp.asarray(fake)),
         -np_log_sigmoid(r64).mean() - np_log_sigmoid(-f64).mean()),
        (gan.minimax_generator_loss(jnp.asarray(fake)), np_log_sigmoid(-f64).mean()),
        (gan.non_saturating_generator_loss(jnp.asarray(fake)),
         -np_log_sigmoid(f64).mean()),
    ]  # fmt: skip
    for got, expected in checks:
        assert np.isfinite(float(got))
        np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    # and their gradients are finite too (1 − sigmoid(200) underflows float32)
    g = jax.grad(gan.non_saturating_generator_loss)(jnp.asarray(fake))
    np.testing.assert_allclose(g, -(1 - 1 / (1 + np.exp(-f64))) / 3, atol=1e-7)
    g = jax.grad(gan.minimax_generator_loss)(jnp.asarray(fake))
    assert np.all(np.isfinite(g))


def test_losses_registry_is_consistent(x64):
    real, fake = jnp.asarray(REAL), jnp.asarray(FAKE)
    assert set(gan.LOSSES) == {
        "minimax",
        "non_saturating",
        "wasserstein",
        "hinge",
        "least_squares",
    }
    for name in ("minimax", "wasserstein"):  # zero-sum: critic = −value
        loss = gan.LOSSES[name]
        assert loss.value is not None
        np.testing.assert_allclose(loss.critic(real, fake), -loss.value(real, fake))
    for name in ("non_saturating", "hinge", "least_squares"):
        assert gan.LOSSES[name].value is None
    assert gan.LOSSES["non_saturating"].critic is gan.minimax_critic_loss


def test_losses_jit_and_vmap(x64):
    r4 = REAL[:4]
    scores = jnp.asarray(np.stack([r4, FAKE]))  # two problems of batch 4
    vmapped = jax.vmap(gan.hinge_critic_loss)(scores, scores[::-1])
    expected = [
        np_relu(1 - r4).mean() + np_relu(1 + FAKE).mean(),
        np_relu(1 - FAKE).mean() + np_relu(1 + r4).mean(),
    ]
    np.testing.assert_allclose(vmapped, expected)
    np.testing.assert_allclose(
        jax.jit(gan.least_squares_critic_loss)(jnp.asarray(r4), jnp.asarray(FAKE)),
        0.5 * ((r4 - 1) ** 2).mean() + 0.5 * (FAKE**2).mean(),
    )


# ---------------------------------------------------------- composition with mmx


def generate(a, noise):  # G(z) = a·z, z scalar per example
    return noise[:, None] * a[None, :]


def critic(w, x):  # f(x) = w·x
    return x @ w


RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3))  # real data
NOISE = RNG.normal(size=(5,))
A0 = np.array([0.5, -1.0, 2.0])
W0 = np.array([0.3, 0.2, -0.4])


def test_wasserstein_value_through_field_matches_closed_form(x64):
    def phi(a, w, real, noise):
        return gan.wasserstein_value(critic(w, real), critic(w, generate(a, noise)))

    V = mmx.field(phi)
    v_a, v_w = V((jnp.asarray(A0), jnp.asarray(W0)), jnp.asarray(X), jnp.asarray(NOISE))
    # Φ(a, w) = mean(x)·w − mean(z) a·w
    grad_a = -NOISE.mean() * W0
    grad_w = X.mean(axis=0) - NOISE.mean() * A0
    np.testing.assert_allclose(v_a, grad_a, rtol=1e-12)
    np.testing.assert_allclose(v_w, -grad_w, rtol=1e-12)


def test_non_saturating_game_through_game_field_matches_numpy(x64):
    def generator_loss(z, real, noise):
        fake = critic(z["critic"], generate(z["generator"], noise))
        return gan.non_saturating_generator_loss(fake)

    def critic_loss(z, real, noise):
        fake = critic(z["critic"], generate(z["generator"], noise))
        return gan.minimax_critic_loss(critic(z["critic"], real), fake)

    V = mmx.game_field({"generator": generator_loss, "critic": critic_loss})
    z = {"generator": jnp.asarray(A0), "critic": jnp.asarray(W0)}
    out = V(z, jnp.asarray(X), jnp.asarray(NOISE))

    def sigmoid(t):
        return 1 / (1 + np.exp(-t))

    s_fake = NOISE * (A0 @ W0)  # f(G(z_i)) = z_i a·w
    s_real = X @ W0
    # ℓ_G = mean softplus(−s_fake): ∂/∂a = mean(−σ(−s_fake) z_i) w
    grad_a = np.mean(-sigmoid(-s_fake) * NOISE) * W0
    # ℓ_D = mean softplus(−s_real) + mean softplus(s_fake)
    grad_w = (
        np.mean(-sigmoid(-s_real)[:, None] * X, axis=0)
        + np.mean(sigmoid(s_fake) * NOISE) * A0
    )
    np.testing.assert_allclose(out["generator"], grad_a, rtol=1e-10)
    np.testing.assert_allclose(out["critic"], grad_w, rtol=1e-10)


# ------------------------------------------------------------- gradient penalties


def linear_critic(w):
    return lambda x: jnp.sum(x * w[None], axis=tuple(range(1, x.ndim)))


def test_gradient_penalty_of_a_unit_norm_linear_critic_is_zero():
    w = np.array([[0.6, 0.0], [0.0, 0.8]], np.float32)  # ‖w‖_F = 1
    real = jnp.asarray(RNG.normal(size=(8, 2, 2)), jnp.float32)
    fake = jnp.asarray(RNG.normal(size=(8, 2, 2)), jnp.float32)
    key = jax.random.key(1)
    p = gan.gradient_penalty(linear_critic(jnp.asarray(w)), real, fake, key)
    assert abs(float(p)) < 1e-6
    p = gan.gradient_penalty(linear_critic(jnp.asarray(2 * w)), real, fake, key)
    np.testing.assert_allclose(float(p), 10.0 * (2 - 1) ** 2, rtol=1e-5)
    p = gan.gradient_penalty(
        linear_critic(jnp.asarray(3 * w)), real, fake, key, weight=0.5, target=2.0
    )
    np.testing.assert_allclose(float(p), 0.5 * (3 - 2) ** 2, rtol=1e-5)


def test_gradient_penalty_of_a_nonlinear_critic(x64):
    # With real == fake every interpolate is the data point, whatever t is.
    x = RNG.normal(size=(5, 3))

    def critic_fn(x):
        return 0.5 * jnp.sum(x**2, axis=1)  # ∇ = x

    penalty = jax.jit(
        gan.gradient_penalty,
        static_argnums=0,
        static_argnames=("weight", "target"),
    )
    p = penalty(
        critic_fn, jnp.asarray(x), jnp.asarray(x), jax.random.key(0), weight=3.0
    )
    expected = 3.0 * np.mean((np.linalg.norm(x, axis=1) - 1) ** 2)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    # Interpolates lie on the segment: with real = 0, fake = c and ∇f(x̂) = x̂,
    # ‖∇f(x̂_i)‖ = (1 − t_i)‖c‖ ∈ [0, ‖c‖].
    c = np.ones((64, 3))
    p = penalty(
        critic_fn,
        jnp.zeros((64, 3), jnp.float64),
        jnp.asarray(c),
        jax.random.key(2),
        weight=1.0,
        target=0.0,
    )
    assert 0.0 < float(p) < 3.0
    assert 0.2 < float(p) / 3.0 < 0.5  # E(1 − t)² = 1/3 for t ~ U[0, 1]


def test_gradient_penalty_differentiates_through_the_critic(x64):
    real = jnp.asarray(RNG.normal(size=(4, 2)))
    fake = jnp.asarray(RNG.normal(size=(4, 2)))

    def penalty(w):
        return gan.gradient_penalty(
            lambda x: x @ w, real, fake, jax.random.key(0), weight=10.0
        )

    w = np.array([1.5, -2.0])  # ‖w‖ = 2.5: P = 10(‖w‖ − 1)², ∇ = 20(‖w‖ − 1) w/‖w‖
    grad = jax.jit(jax.grad(penalty))
    np.testing.assert_allclose(grad(jnp.asarray(w)), 20 * 1.5 * w / 2.5)
    g = grad(jnp.zeros(2, jnp.float64))  # zero gradient norm
    assert np.all(np.isfinite(g))


def test_r1_penalty(x64):
    w = np.array([1.0, -2.0, 0.5])
    x = RNG.normal(size=(7, 3))
    r1 = gan.r1_penalty(lambda x: x @ jnp.asarray(w), jnp.asarray(x), weight=4.0)
    np.testing.assert_allclose(r1, 4.0 / 2 * (w @ w), rtol=1e-12)
    r1 = gan.r1_penalty(lambda x: 0.5 * jnp.sum(x**2, axis=1)[:, None], jnp.asarray(x))
    np.testing.assert_allclose(r1, 10.0 / 2 * np.mean(np.sum(x**2, axis=1)))


# ------------------------------------------------------------------ Lipschitz


def test_lipschitz_upper_bound_is_the_product_of_spectral_norms(x64):
    w1, w2 = RNG.normal(size=(4, 6)), RNG.normal(size=(6, 2))
    expected = (
        np.linalg.svd(w1, compute_uv=False)[0] * np.linalg.svd(w2, compute_uv=False)[0]
    )
    got = gan.lipschitz_upper_bound([jnp.asarray(w1), jnp.asarray(w2)])
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    params = {
        "dense1": {"kernel": jnp.asarray(w1), "bias": jnp.ones(6, jnp.float64)},
        "dense2": {"kernel": jnp.asarray(w2), "bias": jnp.ones(2, jnp.float64)},
    }
    np.testing.assert_allclose(gan.lipschitz_upper_bound(params), expected, rtol=1e-10)
    np.testing.assert_allclose(
        jax.jit(gan.lipschitz_upper_bound)(params), expected, rtol=1e-10
    )


def test_spectral_norm_from_flax_normalises_the_critic():
    class Critic(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.SpectralNorm(nnx.Linear(3, 8, rngs=rngs), rngs=rngs)
            self.l2 = nnx.SpectralNorm(nnx.Linear(8, 1, rngs=rngs), rngs=rngs)

        def __call__(self, x):
            return self.l2(nnx.relu(self.l1(x)))

    rngs = nnx.Rngs(0)
    model = Critic(rngs)
    # scale the raw kernels far from norm 1 first
    model.l1.layer_instance.kernel[...] = 5.0 * model.l1.layer_instance.kernel[...]
    x = jnp.asarray(RNG.normal(size=(4, 3)), jnp.float32)
    step = nnx.jit(lambda model, x: model(x))
    for _ in range(20):
        step(model, x)
    for layer in (model.l1, model.l2):
        kernel = np.asarray(layer.layer_instance.kernel[...], np.float64)
        np.testing.assert_allclose(np.linalg.norm(kernel, 2), 1.0, atol=1e-2)
    bound = float(gan.lipschitz_upper_bound(nnx.state(model, nnx.Param)))
    assert 0.95 < bound <= 1.0 + 1e-2


# ------------------------------------------------------------ weight clipping


def test_weight_clipping_clips_only_the_critic():
    clip = mmx.constraints.box(-0.01, 0.01, player="critic")
    z = {
        "generator": {"kernel": jnp.array([[3.0, -2.0]], jnp.float32)},
        "critic": {
            "kernel": jnp.array([[0.5, -0.005]], jnp.float32),
            "bias": jnp.array([-1.0], jnp.float32),
        },
    }
    out = clip(z)
    np.testing.assert_array_equal(out["generator"]["kernel"], [[3.0, -2.0]])
    np.testing.assert_allclose(out["critic"]["kernel"], [[0.01, -0.005]])
    np.testing.assert_allclose(out["critic"]["bias"], [-0.01])


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", sorted(CRITIC_REFERENCES))
def test_critic_outputs_with_several_values_are_rejected(name):
    fn, _ = CRITIC_REFERENCES[name]
    good = jnp.zeros(4, jnp.float32)
    bad = jnp.zeros((4, 3), jnp.float32)
    with pytest.raises(ValueError, match="real"):
        fn(bad, good)
    with pytest.raises(ValueError, match="fake"):
        fn(good, bad)


@pytest.mark.parametrize("name", sorted(GENERATOR_REFERENCES))
def test_generator_loss_rejects_several_values_per_example(name):
    fn, _ = GENERATOR_REFERENCES[name]
    with pytest.raises(ValueError, match=r"fake.*\(4, 3\)"):
        fn(jnp.zeros((4, 3), jnp.float32))


def test_penalty_errors():
    real = jnp.zeros((4, 2), jnp.float32)
    key = jax.random.key(0)

    def critic_fn(x):
        return jnp.sum(x, axis=1)

    with pytest.raises(ValueError, match="weight"):
        gan.gradient_penalty(critic_fn, real, real, key, weight=-1.0)
    with pytest.raises(ValueError, match="weight"):
        gan.r1_penalty(critic_fn, real, weight=-1.0)
    with pytest.raises(ValueError, match=r"fake.*real"):
        gan.gradient_penalty(critic_fn, real, jnp.zeros((4, 3), jnp.float32), key)
    with pytest.raises(ValueError, match="critic_fn"):
        gan.r1_penalty(lambda x: x, real)  # two scores per example
    with pytest.raises(ValueError, match="params_or_kernels"):
        gan.lipschitz_upper_bound([jnp.zeros((3, 3, 2, 4), jnp.float32)])
    with pytest.raises(ValueError, match="params_or_kernels"):
        gan.lipschitz_upper_bound({"bias": jnp.zeros(3, jnp.float32)})
