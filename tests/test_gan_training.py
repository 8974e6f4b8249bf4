"""The GAN field and the NNX/Linen train steps: a step is a whole iteration of the
rule with fresh data per field evaluation, checked against the iteration written
out by hand; every registered rule runs jitted; a fixed seed repeats bit for bit."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn
from flax import nnx
from flax.training.train_state import TrainState

import minimaxjax as mmx
from minimaxjax import gan


def sample_real(key):
    return jnp.array([[2.0, -1.0]]) + 0.5 * jax.random.normal(key, (16, 2))


def sample_noise(key):
    return jax.random.normal(key, (16, 1))


def draws(key, i, k):
    real_key, noise_key, penalty_key = jax.random.split(
        jax.random.fold_in(jax.random.fold_in(key, i), k), 3
    )
    return sample_real(real_key), sample_noise(noise_key), penalty_key


class Gan(nnx.Module):
    def __init__(self, rngs):
        self.generator = nnx.Linear(1, 2, rngs=rngs)
        self.critic = nnx.Linear(2, 1, rngs=rngs)


def linear_fields(a, b, w, c, real, noise):
    """WGAN on G(z) = z·a + b and f(x) = x·w + c in float64 NumPy:
    ℓ_G = −E f(G(z)), ℓ_D = E f(G(z)) − E f(x)."""
    real, noise = np.asarray(real, np.float64), np.asarray(noise, np.float64)
    mean_z = noise.mean()
    fake_mean = mean_z * a + b
    return {
        "a": -mean_z * w,
        "b": -w,
        "w": fake_mean - real.mean(0),
        "c": 0.0,
    }


def test_gan_field_is_each_players_loss_gradient(x64):
    # Wasserstein with linear players: closed-form gradients.
    def generate(p, z):
        return z @ p["a"][None, :] + p["b"][None, :]

    def criticise(p, x):
        return x @ p["w"] + p["c"]

    rng = np.random.default_rng(0)
    z = {
        "generator": {"a": jnp.asarray(rng.normal(size=2)), "b": jnp.zeros(2)},
        "critic": {"w": jnp.asarray(rng.normal(size=2)), "c": jnp.asarray(0.3)},
    }
    real, noise = (
        jnp.asarray(rng.normal(size=(8, 2))),
        jnp.asarray(rng.normal(size=(8, 1))),
    )
    V = gan.gan_field("wasserstein", generate, criticise)
    v, losses = V(z, real, noise, jax.random.key(0))
    expected = linear_fields(
        np.asarray(z["generator"]["a"]),
        np.asarray(z["generator"]["b"]),
        np.asarray(z["critic"]["w"]),
        0.3,
        real,
        noise,
    )
    np.testing.assert_allclose(v["generator"]["a"], expected["a"], rtol=1e-12)
    np.testing.assert_allclose(v["generator"]["b"], expected["b"], rtol=1e-12)
    np.testing.assert_allclose(v["critic"]["w"], expected["w"], rtol=1e-12)
    np.testing.assert_allclose(v["critic"]["c"], 0.0, atol=1e-12)
    fake = np.asarray(generate(z["generator"], noise))
    w = np.asarray(z["critic"]["w"])
    np.testing.assert_allclose(
        losses["generator"], -(fake @ w + 0.3).mean(), rtol=1e-12
    )


def test_a_penalty_moves_only_the_critic(x64):
    def generate(p, z):
        return z * p[None, :]

    def criticise(p, x):
        return x @ p

    z = {"generator": jnp.array([1.0, 2.0]), "critic": jnp.array([2.0, 0.0])}
    real, noise = jnp.ones((4, 2)), jnp.ones((4, 1))
    plain = gan.gan_field("wasserstein", generate, criticise)(
        z, real, noise, jax.random.key(0)
    )
    penalised = gan.gan_field(
        "wasserstein",
        generate,
        criticise,
        penalty=functools.partial(gan.gradient_penalty, weight=10.0),
    )(z, real, noise, jax.random.key(0))
    np.testing.assert_array_equal(plain[0]["generator"], penalised[0]["generator"])
    # linear critic: ∇x f = w, penalty 10(‖w‖ − 1)², gradient 20(‖w‖ − 1) w/‖w‖
    np.testing.assert_allclose(
        penalised[0]["critic"] - plain[0]["critic"], [20.0, 0.0], rtol=1e-12
    )


def test_nnx_step_is_stochastic_extragradient_with_fresh_draws():
    model = Gan(nnx.Rngs(0))
    start = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    optimizer = nnx.Optimizer(model, mmx.extragradient(0.05), wrt=nnx.Param)
    step = gan.nnx_train_step(
        "wasserstein",
        sample_real=sample_real,
        sample_noise=sample_noise,
        steps_per_call=2,
    )
    key = jax.random.key(3)
    step(model, optimizer, key)

    def V(p, real, noise):
        g = linear_fields(
            p["generator"]["kernel"][0],
            p["generator"]["bias"],
            p["critic"]["kernel"][:, 0],
            p["critic"]["bias"][0],
            real,
            noise,
        )
        return {
            "generator": {"kernel": g["a"][None, :], "bias": g["b"]},
            "critic": {"kernel": g["w"][:, None], "bias": np.array([g["c"]])},
        }

    def axpy(p, t, d):
        return jax.tree.map(lambda u, v: u - t * v, p, d)

    p = jax.tree.map(lambda a: np.asarray(a, np.float64), start)
    for i in range(2):  # Korpelevich, each evaluation on its own draw
        real0, noise0, _ = draws(key, i, 0)
        real1, noise1, _ = draws(key, i, 1)
        p_bar = axpy(p, 0.05, V(p, real0, noise0))
        p = axpy(p, 0.05, V(p_bar, real1, noise1))
    got = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    for name in ("generator", "critic"):
        for leaf in ("kernel", "bias"):
            np.testing.assert_allclose(
                got[name][leaf], p[name][leaf], rtol=2e-5, atol=1e-6
            )
    assert int(optimizer.step[...]) == 2


# The Linen step runs on a sample of the rules (one field evaluation, two, and an
# alternating schedule); the NNX step on every rule.
LINEN_RULES = ("gda", "extra_adam", "alternating_gda")


@pytest.mark.standard_promotion  # optax's Adam mixes int and float
@pytest.mark.parametrize("name", sorted(mmx.rules.RULES))
def test_every_registered_rule_trains_jitted_in_the_flax_apis(name):
    spec = mmx.rules.RULES[name]
    kwargs = dict(sample_real=sample_real, sample_noise=sample_noise, steps_per_call=3)
    model = Gan(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, spec.make(1e-3), wrt=nnx.Param)
    metrics = gan.nnx_train_step("hinge", **kwargs)(model, optimizer, jax.random.key(0))
    assert int(optimizer.step[...]) == 3
    assert all(np.isfinite(float(v)) for v in metrics.values())
    if name not in LINEN_RULES:  # the Linen step shares the rule plumbing: a sample
        return

    G, D = nn.Dense(2), nn.Dense(1)
    params = {
        "generator": G.init(jax.random.key(0), jnp.ones((1, 1)))["params"],
        "critic": D.init(jax.random.key(1), jnp.ones((1, 2)))["params"],
    }
    state = TrainState.create(apply_fn=None, params=params, tx=spec.make(1e-3))
    step = gan.linen_train_step(
        "hinge",
        generate=lambda p, n: G.apply({"params": p}, n),
        criticise=lambda p, x: D.apply({"params": p}, x)[:, 0],
        **kwargs,
    )
    state, metrics = step(state, jax.random.key(0))
    assert int(state.step) == 3
    assert all(np.isfinite(float(v)) for v in metrics.values())


@pytest.mark.standard_promotion
def test_a_fixed_seed_repeats_bit_for_bit_and_linen_matches_nnx():
    def run_nnx():
        model = Gan(nnx.Rngs(0))
        optimizer = nnx.Optimizer(model, mmx.extra_adam(1e-2), wrt=nnx.Param)
        step = gan.nnx_train_step(
            "non_saturating",
            sample_real=sample_real,
            sample_noise=sample_noise,
            penalty=functools.partial(gan.gradient_penalty, weight=1.0),
            steps_per_call=5,
        )
        step(model, optimizer, jax.random.key(7))
        return nnx.as_pure(nnx.state(model, nnx.Param))

    first, second = run_nnx(), run_nnx()
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)


def test_generator_averages_match_their_formulas():
    thetas = [np.array([1.0, -1.0]) * t for t in (2.0, 4.0, 8.0)]
    uniform = ema = jnp.zeros(2)
    for t, theta in enumerate(thetas, start=1):
        uniform = gan.average(uniform, jnp.asarray(theta), t)
        ema = gan.average(ema, jnp.asarray(theta), t, decay=0.9)
    np.testing.assert_allclose(uniform, np.mean([np.zeros(2), *thetas], 0), rtol=1e-6)
    expected = np.zeros(2)
    for theta in thetas:
        expected = 0.9 * expected + 0.1 * theta
    np.testing.assert_allclose(ema, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        gan.average(uniform, uniform, 1, decay=1.0)


def test_bad_input_is_named_before_training():
    kwargs = dict(sample_real=sample_real, sample_noise=sample_noise)
    with pytest.raises(ValueError, match="loss must be one of"):
        gan.nnx_train_step("wgan", **kwargs)
    with pytest.raises(ValueError, match="steps_per_call"):
        gan.nnx_train_step("hinge", steps_per_call=0, **kwargs)
    with pytest.raises(TypeError, match="sample_real must be a function"):
        gan.nnx_train_step("hinge", sample_real=np.ones(3), sample_noise=sample_noise)
    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    with pytest.raises(ValueError, match="attribute 'generator'"):
        gan.nnx_train_step("hinge", **kwargs)(model, optimizer, jax.random.key(0))
    V = gan.gan_field("hinge", lambda p, n: n * p[None, :], lambda p, x: x @ p)
    z = {"generator": jnp.ones(3), "critic": jnp.ones(3)}
    with pytest.raises(ValueError, match="same shape"):
        V(z, jnp.ones((4, 2)), jnp.ones((4, 1)), jax.random.key(0))


def test_batches_and_rules_that_do_not_fit_the_model_are_named_first():
    model = Gan(nnx.Rngs(0))
    wide_noise = functools.partial(jax.random.normal, shape=(16, 5))
    wide_real = functools.partial(jax.random.normal, shape=(16, 3))
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    G, D = nn.Dense(2), nn.Dense(1)
    params = {
        "generator": G.init(jax.random.key(0), jnp.ones((1, 1)))["params"],
        "critic": D.init(jax.random.key(1), jnp.ones((1, 2)))["params"],
    }
    state = TrainState.create(apply_fn=None, params=params, tx=optax.sgd(0.1))
    for kwargs, name in (
        (dict(sample_real=sample_real, sample_noise=wide_noise), "sample_noise"),
        (dict(sample_real=wide_real, sample_noise=sample_noise), "sample_real"),
    ):
        step = gan.nnx_train_step("wasserstein", **kwargs)
        with pytest.raises(ValueError, match=rf"{name} gives batches of shape"):
            step(model, optimizer, jax.random.key(0))
        linen_step = gan.linen_train_step(
            "wasserstein",
            generate=lambda p, n: G.apply({"params": p}, n),
            criticise=lambda p, x: D.apply({"params": p}, x)[:, 0],
            **kwargs,
        )
        with pytest.raises(ValueError, match=rf"{name} gives batches of shape"):
            linen_step(state, jax.random.key(0))
    after = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    jax.tree.map(np.testing.assert_array_equal, before, after)

    two_timescales = mmx.extra_adam({"generator": 1e-4, "discriminator": 4e-4})
    with pytest.raises(ValueError, match=r"learning_rate has 2 per-player.*critic"):
        nnx.Optimizer(model, two_timescales, wrt=nnx.Param)
    with pytest.raises(ValueError, match="turns must be a non-empty sequence"):
        mmx.alternating(
            {"critic": optax.sgd(0.1), "generator": optax.sgd(0.1)}, turns=[]
        )
