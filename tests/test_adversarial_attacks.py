"""The attacks of ``minimaxjax.adversarial``: closed-form worst cases on linear
models, the ball and the bounds never left, strength on a small trained network,
and bad arguments rejected by name before anything runs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimaxjax import adversarial
from minimaxjax.adversarial._apgd import _checkpoints

BATCH, DIM, CLASSES = 5, 6, 4


def linear_problem(seed=0):
    """A linear classifier h(x) = x W, its inputs, labels and wrong targets. The
    targeted margin M(x) = x·(W_t − W_y) is linear with weight w = W_t − W_y, so
    its largest increase over B_ε(x) is ε‖w‖₁ (ℓ∞, the dual norm) or ε‖w‖₂ (ℓ2),
    reached at δ = ε sign(w) or δ = ε w/‖w‖₂."""
    rng = np.random.default_rng(seed)
    weights = jnp.asarray(rng.normal(size=(DIM, CLASSES)), jnp.float32)
    inputs = jnp.asarray(rng.normal(size=(BATCH, DIM)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, CLASSES, BATCH), jnp.int32)
    targets = (labels + 1 + jnp.arange(BATCH) % (CLASSES - 1)) % CLASSES
    w = (weights[:, targets] - weights[:, labels]).T  # (batch, dim)
    return weights, inputs, labels, targets, w


def dual_norm(w, norm):
    return jnp.sum(jnp.abs(w), axis=1) if norm == "linf" else jnp.linalg.norm(w, axis=1)


def distance(delta, norm):
    flat = delta.reshape(delta.shape[0], -1)
    if norm == "linf":
        return jnp.max(jnp.abs(flat), axis=1)
    return jnp.linalg.norm(flat, axis=1)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_linear_model_attacks_reach_the_closed_form_worst_case(norm):
    weights, inputs, labels, targets, w = linear_problem()
    eps = 0.3

    def loss_fn(x):
        return adversarial.margin(x @ weights, labels, targets)

    expected = loss_fn(inputs) + eps * dual_norm(w, norm)
    # In ℓ∞ the sign steps reach the corner from any start. In ℓ2 a start off
    # the ray x + t·w only converges to it, so the ℓ2 runs start at x.
    key = jax.random.key(1) if norm == "linf" else None
    attacks = {
        "fgsm": adversarial.fgsm(loss_fn, inputs, eps, norm),
        "pgd": adversarial.pgd(
            loss_fn,
            inputs,
            eps=eps,
            step_size=eps / 4,
            num_steps=10,
            norm=norm,
            key=key,
        ),
        "apgd": adversarial.apgd(
            loss_fn, inputs, eps=eps, num_steps=20, norm=norm, key=key
        ),
    }
    for name, attacked in attacks.items():
        np.testing.assert_allclose(
            loss_fn(attacked), expected, rtol=1e-5, atol=1e-5, err_msg=name
        )


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_true_gradient_ascent_steps_along_the_gradient(norm):
    # The loss x·w has gradient w. One step of projected gradient ascent from x
    # is Π(x + α w); the sign method's is Π(x + α sign(w)) in ℓ∞.
    _, inputs, _, _, w = linear_problem(seed=3)
    eps, alpha = 10.0, 0.05  # a ball large enough that nothing is projected

    def loss_fn(x):
        return jnp.sum(x * w, axis=1)

    step = functools.partial(
        adversarial.pgd, loss_fn, inputs, eps=eps, step_size=alpha, num_steps=1
    )
    np.testing.assert_allclose(
        step(norm=norm, ascent="gradient"), inputs + alpha * w, rtol=1e-6
    )
    steepest = jnp.sign(w) if norm == "linf" else w / dual_norm(w, "l2")[:, None]
    np.testing.assert_allclose(
        step(norm=norm), inputs + alpha * steepest, rtol=1e-6, atol=1e-7
    )
    # Enough steps of true gradient ascent also reach the worst case ε‖w‖.
    far = adversarial.pgd(
        loss_fn,
        inputs,
        eps=0.2,
        step_size=1.0,
        num_steps=30,
        norm=norm,
        ascent="gradient",
    )
    np.testing.assert_allclose(
        loss_fn(far), loss_fn(inputs) + 0.2 * dual_norm(w, norm), rtol=1e-5
    )


def test_bounds_clip_the_worst_case():
    # With x in [0, 1] and bounds [0, 1], the ℓ∞ worst case of x·w moves each
    # coordinate to min(1, x + ε) where w > 0 and max(0, x − ε) where w < 0.
    _, inputs, _, _, w = linear_problem(seed=4)
    inputs = jax.nn.sigmoid(inputs)
    eps = 0.4
    expected = jnp.where(
        w > 0, jnp.minimum(1.0, inputs + eps), jnp.maximum(0.0, inputs - eps)
    )
    attacked = adversarial.pgd(
        lambda x: jnp.sum(x * w, axis=1),
        inputs,
        eps=eps,
        step_size=0.1,
        num_steps=10,
        bounds=(0.0, 1.0),
    )
    np.testing.assert_allclose(attacked, expected, rtol=1e-6)


def test_apgd_schedule_is_the_published_one():
    # N = 100: the first window is 0.22·N = 22 steps, then 3 fewer each time down
    # to 0.06·N = 6: checkpoints at 22, 41, 57, 70, 80, 87, 93, 99.
    is_checkpoint, windows = _checkpoints(100)
    assert np.flatnonzero(is_checkpoint).tolist() == [22, 41, 57, 70, 80, 87, 93, 99]
    assert windows[is_checkpoint].tolist() == [22, 19, 16, 13, 10, 7, 6, 6]


@functools.partial(jax.jit, static_argnames="norm")
def _every_attack(inputs, scale, eps, key, norm):
    """Each attack once, on a non-linear loss (steps overshoot, so the projection
    matters); jitted with a traced radius so that examples share compilations."""

    def loss_fn(x):
        return jnp.sum(jnp.sin(x * scale[None]), axis=(1, 2))

    def logits_fn(x):
        features = jnp.sum(x * scale[None], axis=2)  # (batch, width)
        return jnp.stack([jnp.sin(k * features[:, 0]) for k in (1.0, 2.0, 3.0)], 1)

    labels = jnp.zeros(inputs.shape[0], jnp.int32)
    common = dict(eps=eps, norm=norm, bounds=(0.0, 1.0), key=key)
    return [
        adversarial.fgsm(loss_fn, inputs, eps, norm, bounds=(0.0, 1.0)),
        adversarial.pgd(loss_fn, inputs, step_size=eps, num_steps=3, **common),
        adversarial.pgd(
            loss_fn, inputs, step_size=eps, num_steps=3, ascent="gradient", **common
        ),
        adversarial.apgd(loss_fn, inputs, num_steps=5, **common),
        adversarial.beta_attack(
            logits_fn, inputs, labels, step_size=eps, num_steps=3, **common
        ),
    ]


@settings(max_examples=16, deadline=None)
@given(
    eps=st.floats(0.01, 0.8),
    norm=st.sampled_from(["linf", "l2"]),
    seed=st.integers(0, 2**16),
)
def test_perturbations_stay_in_the_ball_and_the_bounds(eps, norm, seed):
    rng = np.random.default_rng(seed)
    inputs = jnp.asarray(rng.uniform(size=(3, 4, 2)), jnp.float32)
    scale = jnp.asarray(5 * rng.normal(size=(4, 2)), jnp.float32)
    key = jax.random.key(seed)
    for x in _every_attack(inputs, scale, jnp.float32(eps), key, norm):
        assert x.shape == inputs.shape
        assert np.all(np.asarray(distance(x - inputs, norm)) <= eps * (1 + 1e-5))
        assert np.all((np.asarray(x) >= 0.0) & (np.asarray(x) <= 1.0))


@pytest.mark.parametrize("num_steps", [1, 100])
def test_apgd_returns_its_best_iterate(num_steps):
    # A rugged loss, so later iterates are often worse than earlier ones. From
    # x, the first iterate is x^1 = Π(x + 2ε sign ∇ℓ(x)) = x + ε sign ∇ℓ(x);
    # the point returned is at least as good as x and x^1.
    rng = np.random.default_rng(5)
    inputs = jnp.asarray(rng.normal(size=(64, 3)), jnp.float32)
    scale = jnp.asarray(30 * rng.normal(size=3), jnp.float32)

    def loss_fn(x):
        return jnp.sum(jnp.cos(x * scale[None]), axis=1)

    eps = 0.5
    first = inputs + eps * jnp.sign(jax.grad(lambda x: jnp.sum(loss_fn(x)))(inputs))
    attacked = adversarial.apgd(loss_fn, inputs, eps=eps, num_steps=num_steps)
    floor = np.maximum(np.asarray(loss_fn(inputs)), np.asarray(loss_fn(first)))
    assert np.all(np.asarray(loss_fn(attacked)) >= floor - 1e-6)


def test_attacks_jit_with_a_traced_radius_and_vmap_over_keys():
    weights, inputs, labels, targets, w = linear_problem(seed=6)

    def loss_fn(x):
        return adversarial.margin(x @ weights, labels, targets)

    @jax.jit
    def attack(eps, key):
        return adversarial.pgd(
            loss_fn, inputs, eps=eps, step_size=eps / 2, num_steps=5, key=key
        )

    attacked = attack(jnp.float32(0.25), jax.random.key(0))
    np.testing.assert_allclose(
        loss_fn(attacked), loss_fn(inputs) + 0.25 * dual_norm(w, "linf"), rtol=1e-5
    )
    many = jax.vmap(attack, in_axes=(None, 0))(
        jnp.float32(0.25), jax.random.split(jax.random.key(1), 3)
    )
    assert many.shape == (3, *inputs.shape)


def test_a_flax_model_is_attacked_through_its_apply():
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Linear(DIM, CLASSES, rngs=nnx.Rngs(0))
    _, inputs, labels, targets, _ = linear_problem(seed=7)
    # The model is linear: h(x) = x W + b, so the targeted margin's weight is
    # W_t − W_y and ℓ∞ PGD moves it by ε‖W_t − W_y‖₁.
    weights = model.kernel[...]
    w = (weights[:, targets] - weights[:, labels]).T

    def loss_fn(x):
        return adversarial.margin(model(x), labels, targets)

    attacked = adversarial.pgd(
        loss_fn, inputs, eps=0.2, step_size=0.1, num_steps=5, key=jax.random.key(0)
    )
    np.testing.assert_allclose(
        loss_fn(attacked), loss_fn(inputs) + 0.2 * dual_norm(w, "linf"), rtol=1e-5
    )


# A small network trained here, in plain JAX, on Gaussian blobs.


def _trained_network():
    rng = np.random.default_rng(0)
    classes, dim, hidden, n = 5, 10, 32, 400
    centres = 1.5 * rng.normal(size=(classes, dim))
    labels = rng.integers(0, classes, n)
    inputs = centres[labels] + rng.normal(size=(n, dim))
    params = {
        "w1": rng.normal(size=(dim, hidden)) / np.sqrt(dim),
        "b1": np.zeros(hidden),
        "w2": rng.normal(size=(hidden, classes)) / np.sqrt(hidden),
        "b2": np.zeros(classes),
    }
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)
    inputs = jnp.asarray(inputs, jnp.float32)
    labels = jnp.asarray(labels, jnp.int32)

    def logits(p, x):
        return jnp.tanh(x @ p["w1"] + p["b1"][None]) @ p["w2"] + p["b2"][None]

    def loss(p):
        return jnp.mean(adversarial.cross_entropy(logits(p, inputs), labels))

    @jax.jit
    def train(p):
        def step(_, p):
            return jax.tree.map(lambda a, g: a - 0.5 * g, p, jax.grad(loss)(p))

        return jax.lax.fori_loop(0, 300, step, p)

    params = train(params)
    return functools.partial(logits, params), inputs[:200], labels[:200]


@pytest.fixture(scope="module")
def network():
    return _trained_network()


def test_apgd_and_the_worst_case_are_at_least_as_strong_as_pgd(network):
    logits_fn, inputs, labels = network
    eps = 0.9  # where the attacks differ: about 40% robust

    def correct(x):
        return jnp.argmax(logits_fn(x), axis=1) == labels

    clean = float(jnp.mean(correct(inputs)))
    assert clean > 0.8  # the network learned something worth attacking

    @jax.jit
    def attacked(x):
        def ce(z):
            return adversarial.cross_entropy(logits_fn(z), labels)

        def dlr(z):
            return adversarial.dlr_loss(logits_fn(z), labels)

        return {
            "pgd_ce": adversarial.pgd(
                ce, x, eps=eps, step_size=eps / 4, num_steps=10, key=jax.random.key(1)
            ),
            "apgd_ce": adversarial.apgd(ce, x, eps=eps, num_steps=50),
            "apgd_dlr": adversarial.apgd(
                dlr, x, eps=eps, num_steps=50, key=jax.random.key(2)
            ),
        }

    @jax.jit
    def targeted(x, target):
        def toward_target(z):
            return adversarial.targeted_dlr_loss(logits_fn(z), labels, target)

        return adversarial.apgd(toward_target, x, eps=eps, num_steps=50)

    outputs = attacked(inputs)
    attacks = {name: lambda x, y, a=a: a for name, a in outputs.items()}
    accuracy = {
        name: float(adversarial.robust_accuracy(logits_fn, inputs, labels, [attack]))
        for name, attack in attacks.items()
    }
    # Each attack alone: clean-and-still-correct, computed here directly.
    for name, x in outputs.items():
        assert accuracy[name] == pytest.approx(
            float(jnp.mean(correct(inputs) & correct(x)))
        )
    assert 0.0 < accuracy["pgd_ce"] < clean  # PGD-10 works, with something to win
    assert accuracy["apgd_dlr"] <= accuracy["pgd_ce"]
    assert accuracy["apgd_ce"] <= accuracy["pgd_ce"]

    # The worst case is the per-example AND of clean and each attack's success.
    robust = adversarial.is_robust(logits_fn, inputs, labels, list(attacks.values()))
    expected = correct(inputs)
    for x in outputs.values():
        expected &= correct(x)
    np.testing.assert_array_equal(robust, expected)
    worst = float(
        adversarial.robust_accuracy(logits_fn, inputs, labels, list(attacks.values()))
    )
    assert worst == pytest.approx(float(jnp.mean(expected)))
    assert worst <= min(accuracy.values())

    # Targeted: the attack toward y + 1 lands there more often than the untargeted
    # attacks of the same budget happen to.
    target = (labels + 1) % 5

    def lands_on_target(x):
        return float(jnp.mean(jnp.argmax(logits_fn(x), axis=1) == target))

    assert lands_on_target(targeted(inputs, target)) > max(
        lands_on_target(outputs["apgd_ce"]), lands_on_target(outputs["apgd_dlr"])
    )


def test_beta_margin_at_least_pgd_cross_entropy(network):
    logits_fn, inputs, labels = network
    settings_ = dict(eps=0.5, step_size=0.125, num_steps=10)
    by_ce = adversarial.pgd(
        lambda z: adversarial.cross_entropy(logits_fn(z), labels), inputs, **settings_
    )
    by_beta = adversarial.beta_attack(logits_fn, inputs, labels, **settings_)
    margin_ce = np.asarray(adversarial.margin(logits_fn(by_ce), labels))
    margin_beta = np.asarray(adversarial.margin(logits_fn(by_beta), labels))
    assert margin_beta.mean() >= margin_ce.mean()
    assert np.mean(margin_beta >= margin_ce - 1e-5) >= 0.9
    # BETA's answer is the best of its per-class runs, so its margin is the
    # largest of the targeted PGD margins, computed here one class at a time.
    per_class = []
    for j in range(5):
        target = jnp.full_like(labels, j)
        x = adversarial.pgd(
            lambda z, t=target: adversarial.margin(logits_fn(z), labels, t),
            inputs,
            **settings_,
        )
        m = adversarial.margin(logits_fn(x), labels, target)
        per_class.append(jnp.where(labels == j, -jnp.inf, m))
    np.testing.assert_allclose(
        margin_beta, np.max(np.stack(per_class), axis=0), rtol=1e-5, atol=1e-5
    )


def test_losses_against_their_definitions():
    logits = jnp.array([[2.0, 0.5, 1.0, -1.0], [0.0, 3.0, 1.0, 2.5]])
    labels = jnp.array([0, 2])
    target = jnp.array([3, 1])
    # By hand: sorted rows are (2, 1, .5, -1) and (3, 2.5, 1, 0).
    np.testing.assert_allclose(
        adversarial.cross_entropy(logits, labels),
        np.log(np.exp(np.asarray(logits)).sum(1)) - np.array([2.0, 1.0]),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        adversarial.margin(logits, labels), [1.0 - 2.0, 3.0 - 1.0]
    )
    np.testing.assert_allclose(
        adversarial.dlr_loss(logits, labels),
        [-(2.0 - 1.0) / (2.0 - 0.5), -(1.0 - 3.0) / (3.0 - 1.0)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        adversarial.targeted_dlr_loss(logits, labels, target),
        [-(2.0 + 1.0) / (2.0 - 0.5 * (0.5 - 1.0)), -(1.0 - 3.0) / (3.0 - 0.5)],
        rtol=1e-6,
    )


# Bad arguments: rejected by name before the loss is ever evaluated.


def _counting_loss():
    calls = []

    def loss_fn(x):
        calls.append(1)
        return jnp.sum(x, axis=1)

    return loss_fn, calls


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(eps=0.0), "eps must be positive"),
        (dict(eps=-1.0), "eps must be positive"),
        (dict(eps=float("nan")), "eps must be positive and finite, got nan"),
        (dict(num_steps=0), "num_steps must be at least 1"),
        (dict(norm="l1"), "norm must be one of"),
        (dict(step_size=0.0), "step_size must be positive"),
        (dict(restarts=2), "restarts > 1 needs a key"),
        (dict(ascent="newton"), "ascent must be"),
    ],
)
def test_pgd_rejects_bad_arguments_before_running(kwargs, match):
    loss_fn, calls = _counting_loss()
    arguments = dict(eps=0.1, step_size=0.1, num_steps=2) | kwargs
    with pytest.raises(ValueError, match=match):
        adversarial.pgd(loss_fn, jnp.zeros((3, 2)), **arguments)
    assert not calls


def test_attacks_name_the_bad_argument():
    inputs = jnp.full((3, 2), 0.5)
    with pytest.raises(
        ValueError, match=r"loss_fn must return .* shape \(3,\), got \(\)"
    ):
        adversarial.fgsm(lambda x: jnp.sum(x), inputs, 0.1)
    with pytest.raises(ValueError, match=r"bounds lo must be a scalar or shaped like"):
        adversarial.fgsm(
            lambda x: jnp.sum(x, axis=1), inputs, 0.1, bounds=(jnp.zeros(2), 1.0)
        )
    with pytest.raises(ValueError, match="inputs must lie within bounds"):
        adversarial.apgd(
            lambda x: jnp.sum(x, axis=1), inputs + 1.0, eps=0.1, bounds=(0.0, 1.0)
        )
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        adversarial.apgd(lambda x: jnp.sum(x, axis=1), inputs, eps=0.1, num_steps=0)
    with pytest.raises(ValueError, match="eps must be positive"):
        adversarial.fgsm(lambda x: jnp.sum(x, axis=1), inputs, -0.1)
    logits = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        adversarial.cross_entropy(logits, jnp.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"target must lie in \[0, 4\)"):
        adversarial.margin(logits, jnp.array([0, 1, 2]), jnp.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        adversarial.dlr_loss(logits, jnp.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        adversarial.beta_attack(
            lambda x: jnp.zeros((3, 4)),
            inputs,
            jnp.array([0, 1, 7]),
            eps=0.1,
            step_size=0.1,
            num_steps=1,
        )
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        adversarial.beta_attack(
            lambda x: jnp.zeros((3, 4)),
            inputs,
            jnp.array([0, 1, 2]),
            eps=0.1,
            step_size=0.1,
            num_steps=0,
        )
    with pytest.raises(ValueError, match="attacks must list at least one"):
        adversarial.robust_accuracy(
            lambda x: jnp.zeros((3, 4)), inputs, jnp.array([0, 1, 2]), []
        )
