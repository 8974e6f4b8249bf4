"""Robust-training methods and the NNX/Linen train steps, against closed forms on
linear models and float64 NumPy references computed here."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn
from flax import nnx
from flax.training.train_state import TrainState

import minimaxjax as mmx
from minimaxjax import adversarial as adv

EPS = 0.1


def linear_logits(w, x):
    return x @ w


def batch(num=8, dim=3, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.8, (num, dim))
    y = rng.integers(0, classes, num)
    w = rng.normal(size=(dim, classes))
    return x, y, w


# ----------------------------------------------------------- NumPy references


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_ce(z, y):
    return -np_log_softmax(z)[np.arange(len(y)), y]


def np_kl(p_logits, q_logits):
    lp, lq = np_log_softmax(p_logits), np_log_softmax(q_logits)
    return (np.exp(lp) * (lp - lq)).sum(-1)


def np_mart(zc, za, y, lam):
    la = np_log_softmax(za)
    pa = np.exp(la)
    rows = np.arange(len(y))
    wrong = pa.copy()
    wrong[rows, y] = -np.inf
    boosted = -la[rows, y] - np.log(1 - wrong.max(-1))
    pc = np.exp(np_log_softmax(zc))[rows, y]
    return boosted + lam * np_kl(zc, za) * (1 - pc)


def ce_gradient(w, points, y):
    """∇_W of the mean cross-entropy of a linear model: Xᵀ(softmax − onehot)/n."""
    p = np.exp(np_log_softmax(points @ w))
    p[np.arange(len(y)), y] -= 1
    return points.T @ p / len(y)


def numeric_gradient(loss, w, h=1e-6):
    grad = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        grad[idx] = (loss(w + e) - loss(w - e)) / (2 * h)
    return grad


def run(method, w, x, y, key=0):
    return method(
        linear_logits,
        jnp.asarray(w),
        jnp.asarray(x),
        jnp.asarray(y),
        jax.random.key(key),
    )


# -------------------------------------------------------------- the methods


def test_standard_is_the_clean_cross_entropy_gradient(x64):
    x, y, w = batch(classes=3)
    signal = run(adv.standard(), w, x, y)
    np.testing.assert_allclose(signal.gradient, ce_gradient(w, x, y), rtol=1e-10)
    np.testing.assert_allclose(signal.loss, np_ce(x @ w, y).mean(), rtol=1e-12)
    assert float(signal.accuracy) == np.mean((x @ w).argmax(-1) == y)


@pytest.mark.parametrize(
    "method",
    [
        adv.pgd_at(eps=EPS, step_size=EPS / 4, num_steps=10),
        adv.fgsm_at(eps=EPS),
    ],
    ids=["pgd_at", "fgsm_at"],
)
def test_two_class_linear_model_attacks_reach_the_closed_form_and_danskin(x64, method):
    # Two classes: the CE grows with the margin (w_other − w_y)·x, so the ℓ∞ worst
    # case is x + ε sign(w_other − w_y); the gradient is the CE's at that point,
    # with nothing flowing through the attack.
    x, y, w = batch(classes=2)
    direction = np.sign(w[:, 1 - y] - w[:, y]).T
    worst = x + EPS * direction
    signal = run(method, w, x, y)
    np.testing.assert_allclose(signal.inputs, worst, atol=1e-12)
    np.testing.assert_allclose(signal.gradient, ce_gradient(w, worst, y), rtol=1e-9)
    np.testing.assert_allclose(signal.loss, np_ce(worst @ w, y).mean(), rtol=1e-12)


def test_fgsm_with_random_start_steps_from_its_start_inside_the_ball(x64):
    # From s ∈ [−ε, ε] one step of 1.25ε along the ascent direction d and a clip
    # to the ball ends at least 0.25ε along d from x in every coordinate.
    x, y, w = batch(num=64, classes=2)
    direction = np.sign(w[:, 1 - y] - w[:, y]).T
    moved = np.asarray(run(adv.fgsm_at(eps=EPS, random_start=True), w, x, y).inputs) - x
    assert np.abs(moved).max() <= EPS + 1e-12
    assert (moved * direction).min() >= 0.25 * EPS - 1e-12
    assert len(np.unique(np.round(moved, 9))) > 3  # the start is random


def test_trades_gradient_is_the_formulas_at_the_attack_point(x64):
    x, y, w = batch(classes=3)
    beta = 6.0
    signal = run(
        adv.trades(eps=EPS, step_size=EPS / 4, num_steps=5, beta=beta), w, x, y
    )
    points = np.asarray(signal.inputs)
    assert np.abs(points - x).max() <= EPS + 1e-12

    def loss(v):
        return (np_ce(x @ v, y) + beta * np_kl(x @ v, points @ v)).mean()

    np.testing.assert_allclose(signal.loss, loss(w), rtol=1e-12)
    np.testing.assert_allclose(signal.gradient, numeric_gradient(loss, w), atol=1e-7)
    # the attack increased the divergence it maximises
    assert np_kl(x @ w, points @ w).mean() > 0


def test_mart_gradient_is_the_formulas_at_the_attack_point(x64):
    x, y, w = batch(classes=3)
    signal = run(adv.mart(eps=EPS, step_size=EPS / 4, num_steps=5, lam=2.0), w, x, y)
    points = np.asarray(signal.inputs)

    def loss(v):
        return np_mart(x @ v, points @ v, y, 2.0).mean()

    np.testing.assert_allclose(signal.loss, loss(w), rtol=1e-12)
    np.testing.assert_allclose(signal.gradient, numeric_gradient(loss, w), atol=1e-7)
    assert np_ce(points @ w, y).mean() > np_ce(x @ w, y).mean()


def test_beta_game_field_is_each_players_gradient_in_closed_form(x64):
    x, y, w = batch(classes=4)
    targets = (y + 1) % 4
    delta = np.full_like(x, 0.05)
    V = adv.beta_game(
        linear_logits, jnp.asarray(x), jnp.asarray(y), jnp.asarray(targets)
    )
    out = V({"defender": jnp.asarray(w), "attacker": jnp.asarray(delta)})
    # defender: the CE's gradient at x + δ; attacker: −∇_δ mean(h_j − h_y), which for
    # a linear model is −(w_j − w_y)/n per example.
    np.testing.assert_allclose(
        out["defender"], ce_gradient(w, x + delta, y), rtol=1e-10
    )
    np.testing.assert_allclose(out["attacker"], -(w[:, targets] - w[:, y]).T / len(y))


def test_beta_at_steps_the_defender_at_the_best_targeted_attack(x64):
    x, y, w = batch(classes=4)
    method = adv.beta_at(eps=EPS, step_size=EPS / 4, num_steps=10)
    signal = run(method, w, x, y)
    points = np.asarray(signal.inputs)
    # Linear logits: margin j is maximised at x + ε sign(w_j − w_y); the best class
    # is the one whose margin there is largest.
    rows = np.arange(len(y))
    best = np.full(len(y), -np.inf)
    expected = np.zeros_like(x)
    for j in range(4):
        cand = x + EPS * np.sign(w[:, [j]] - w[:, y]).T
        m = (cand @ w)[rows, j] - (cand @ w)[rows, y]
        m[j == y] = -np.inf
        better = m > best
        expected[better], best[better] = cand[better], m[better]
    np.testing.assert_allclose(points, expected, atol=1e-12)
    np.testing.assert_allclose(signal.gradient, ce_gradient(w, expected, y), rtol=1e-9)


def test_ddi_with_one_attack_is_pgd_at_and_with_many_the_min_norm_element(x64):
    x, y, w = batch(num=16, classes=3)
    kwargs = dict(eps=0.3, step_size=0.1, num_steps=3)
    one = run(adv.ddi(num_attacks=1, **kwargs), w, x, y, key=5)
    key = jax.random.split(jax.random.key(5), 1)[0]
    pgd = adv.pgd_at(**kwargs)(
        linear_logits, jnp.asarray(w), jnp.asarray(x), jnp.asarray(y), key
    )
    np.testing.assert_allclose(one.gradient, pgd.gradient, rtol=1e-12)

    many = run(adv.ddi(num_attacks=3, qp_steps=2000, **kwargs), w, x, y, key=5)
    keys = jax.random.split(jax.random.key(5), 3)
    grads = np.stack(
        [
            np.asarray(
                adv.pgd_at(**kwargs)(
                    linear_logits, jnp.asarray(w), jnp.asarray(x), jnp.asarray(y), k
                ).gradient
            ).ravel()
            for k in keys
        ]
    )
    d = np.asarray(many.gradient).ravel()
    # d is in the hull and no vertex or segment point is shorter (KKT of the QP:
    # ⟨g_k − d, d⟩ ≥ 0 for every k).
    assert np.all(grads @ d - d @ d >= -1e-8)
    assert d @ d <= (grads**2).sum(1).min() + 1e-12


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: adv.pgd_at(eps=0.0, step_size=0.1, num_steps=3), "eps"),
        (lambda: adv.pgd_at(eps=float("nan"), step_size=0.1, num_steps=3), "eps"),
        (lambda: adv.pgd_at(eps=0.1, step_size=0.1, num_steps=0), "num_steps"),
        (lambda: adv.trades(eps=0.1, step_size=-1.0, num_steps=3), "step_size"),
        (lambda: adv.mart(eps=0.1, step_size=0.1, num_steps=3, norm="l1"), "norm"),
        (lambda: adv.trades(eps=0.1, step_size=0.1, num_steps=3, beta=-1.0), "beta"),
        (lambda: adv.mart(eps=0.1, step_size=0.1, num_steps=3, lam=-1.0), "lam"),
        (lambda: adv.ddi(eps=0.1, step_size=0.1, num_steps=3, num_attacks=0), "num_at"),
        (lambda: adv.beta_at(eps=0.1, step_size=0.1, num_steps=2.5), "num_steps"),
        (lambda: adv.fgsm_at(eps=0.1, step_size=0.1), "only used with random_start"),
        (lambda: adv.nnx_train_step("pgd"), "method must be"),
        (lambda: adv.linen_train_step(None), "method must be"),
    ],
)
def test_bad_arguments_are_named_before_any_computation(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# --------------------------------------------------------------- train steps


def mlp(seed=0):
    rngs = nnx.Rngs(seed)
    return nnx.Sequential(
        nnx.Linear(3, 8, rngs=rngs), nnx.relu, nnx.Linear(8, 3, rngs=rngs)
    )


@pytest.mark.parametrize(
    "method",
    [
        adv.standard(),
        adv.pgd_at(eps=EPS, step_size=0.05, num_steps=3),
        adv.trades(eps=EPS, step_size=0.05, num_steps=3),
        adv.beta_at(eps=EPS, step_size=0.05, num_steps=3),
        adv.ddi(eps=EPS, step_size=0.05, num_steps=3, num_attacks=2),
    ],
    ids=["standard", "pgd_at", "trades", "beta_at", "ddi"],
)
def test_nnx_step_is_the_method_then_the_optimizer(method):
    x, y, _ = batch(num=16, classes=3)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y)
    model = mlp()
    optimizer = nnx.Optimizer(model, optax.sgd(0.5), wrt=nnx.Param)
    graphdef, params = nnx.split(model, nnx.Param)
    signal = method(
        lambda p, v: nnx.merge(graphdef, p)(v), params, x, y, jax.random.key(3)
    )
    expected = jax.tree.map(lambda p, g: p - 0.5 * g, params, signal.gradient)
    metrics = adv.nnx_train_step(method)(model, optimizer, x, y, jax.random.key(3))
    assert float(metrics["loss"]) == pytest.approx(float(signal.loss), rel=1e-5)
    got = nnx.state(model, nnx.Param)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(optimizer.step[...]) == 1


@pytest.mark.standard_promotion  # optax's Adam mixes int and float
def test_nnx_and_linen_steps_agree_with_adam():
    x, y, _ = batch(num=16, classes=3)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y)
    method = adv.mart(eps=EPS, step_size=0.05, num_steps=3)
    model = nnx.Linear(3, 3, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)
    params = {"kernel": model.kernel[...], "bias": model.bias[...]}
    state = TrainState.create(
        apply_fn=nn.Dense(3).apply, params=params, tx=optax.adam(0.05)
    )
    nnx_step, linen_step = adv.nnx_train_step(method), adv.linen_train_step(method)
    for i in range(5):
        key = jax.random.key(i)
        a = nnx_step(model, optimizer, x, y, key)
        state, b = linen_step(state, x, y, key)
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
    np.testing.assert_allclose(model.kernel[...], state.params["kernel"], rtol=1e-5)
    assert int(state.step) == 5


def test_opaque_extragradient_is_one_whole_iteration_on_one_batch():
    x, y, _ = batch(num=16, classes=3)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y)
    method = adv.pgd_at(eps=EPS, step_size=0.05, num_steps=3)
    key, lr = jax.random.key(7), 0.3
    model = mlp()
    graphdef, w0 = nnx.split(model, nnx.Param)

    def g(p, k):
        return method(lambda q, v: nnx.merge(graphdef, q)(v), p, x, y, k).gradient

    # Korpelevich: w̄ = w − η g(w), w⁺ = w − η g(w̄), the attack re-run at w̄.
    w_bar = jax.tree.map(lambda p, d: p - lr * d, w0, g(w0, key))
    w_plus = jax.tree.map(
        lambda p, d: p - lr * d, w0, g(w_bar, jax.random.fold_in(key, 1))
    )
    optimizer = nnx.Optimizer(model, mmx.extragradient(lr), wrt=nnx.Param)
    adv.nnx_train_step(method, opaque=True)(model, optimizer, x, y, key)
    got = nnx.state(model, nnx.Param)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(w_plus), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_linen_opaque_sam_matches_its_two_evaluations():
    x, y, _ = batch(num=16, classes=3)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y)
    module = nn.Dense(3)
    params = module.init(jax.random.key(0), x)["params"]
    method, rho, lr = adv.standard(), 0.05, 0.1
    state = TrainState.create(apply_fn=module.apply, params=params, tx=adv.sam(lr, rho))
    state, _ = adv.linen_train_step(method, opaque=True)(state, x, y, jax.random.key(0))

    def g(p):
        return method(
            lambda q, v: module.apply({"params": q}, v), p, x, y, jax.random.key(0)
        ).gradient

    g0 = g(params)
    norm = optax.tree_utils.tree_norm(g0)
    w_bar = jax.tree.map(lambda p, d: p + rho * d / norm, params, g0)
    expected = jax.tree.map(lambda p, d: p - lr * d, params, g(w_bar))
    for a, b in zip(
        jax.tree.leaves(state.params), jax.tree.leaves(expected), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class BatchNormNet(nnx.Module):
    def __init__(self, rngs):
        self.linear = nnx.Linear(3, 3, rngs=rngs)
        self.norm = nnx.BatchNorm(3, momentum=0.9, rngs=rngs)

    def __call__(self, x):
        return self.norm(self.linear(x))


def test_batch_statistics_follow_the_points_the_loss_saw():
    x, y, _ = batch(num=16, classes=3)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y)
    model = BatchNormNet(nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    method = adv.pgd_at(eps=EPS, step_size=0.05, num_steps=3)
    signal = method(
        lambda p, v: nnx.merge(graphdef, p, jax.tree.map(lambda r: r, rest))(v),
        params,
        x,
        y,
        jax.random.key(1),
    )
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    adv.nnx_train_step(method)(model, optimizer, x, y, jax.random.key(1))
    # One update with momentum 0.9 from zero, at the new weights' activations.
    activations = model.linear(signal.inputs)
    np.testing.assert_allclose(
        model.norm.mean[...], 0.1 * jnp.mean(activations, axis=0), rtol=1e-5, atol=1e-7
    )


def test_a_model_with_dropout_is_refused_by_name():
    rngs = nnx.Rngs(0)
    model = nnx.Sequential(nnx.Linear(3, 3, rngs=rngs), nnx.Dropout(0.5, rngs=rngs))
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    step = adv.nnx_train_step(adv.standard())
    with pytest.raises(ValueError, match="random state"):
        step(model, optimizer, jnp.ones((2, 3)), jnp.array([0, 1]), jax.random.key(0))


@pytest.mark.standard_promotion
def test_pgd_training_trades_non_robust_features_for_robust_ones():
    # Tsipras et al.'s construction: one robust feature (mean ±0.6, noise 0.2) and
    # ten weak but jointly decisive ones (mean ±0.1, noise 0.05) that a ℓ∞ shift of
    # ε = 0.15 flips. Standard training leans on the weak ones and loses its
    # accuracy under attack; PGD-AT keeps the robust feature's (≈ P(N(0.45, 0.2) >
    # 0) ≈ 0.99 in closed form, above 0.9 after a short run).
    rng = np.random.default_rng(0)
    sign = rng.choice([-1.0, 1.0], 256)
    robust = 0.6 * sign + 0.2 * rng.normal(size=256)
    weak = 0.1 * sign[:, None] + 0.05 * rng.normal(size=(256, 10))
    x = jnp.asarray(np.column_stack([robust, weak]), jnp.float32)
    y = jnp.asarray((sign > 0).astype(np.int32))
    attack = adv.pgd_at(eps=0.15, step_size=0.05, num_steps=10)
    results = {}
    for name, method in {"standard": adv.standard(), "pgd": attack}.items():
        model = nnx.Linear(11, 2, use_bias=False, rngs=nnx.Rngs(0))
        optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)
        step = adv.nnx_train_step(method)
        for i in range(150):
            step(model, optimizer, x, y, jax.random.key(i))
        signal = attack(linear_logits, model.kernel[...], x, y, jax.random.key(99))
        results[name] = float(signal.accuracy)
    assert results["standard"] < 0.5 < 0.9 < results["pgd"]
