"""Checkpoint and resume with orbax: rule states mid-iteration, solve from a saved
Solution, GAN and adversarial train steps interrupted and resumed bit for bit;
run-time failures reported as a status or raised (``throw``) under jit."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from flax import nnx
from flax.training.train_state import TrainState

import minimaxjax as mmx
from minimaxjax import adversarial as adv
from minimaxjax import gan

A = jnp.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]])
V = mmx.field(
    lambda x, y: x @ A @ y + 0.05 * jnp.sum(x**2) - 0.05 * jnp.sum(y**2),
    players=("x", "y"),
)


def start():
    """Two players on simplices, so the mirror rules run on them too."""
    return {"x": jnp.array([0.3, 0.7]), "y": jnp.array([0.2, 0.3, 0.5])}


def save_and_restore(path, tree, like):
    """``tree`` saved with orbax to ``path``, restored with the structure, shapes
    and dtypes of ``like`` (fresh objects of the run, or ``jax.eval_shape``)."""
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, tree)
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(
            path, jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        )


def committed(tree):
    """``tree`` committed to the default device, as orbax restores arrays: a run
    from it and a run from a restored checkpoint share one compilation."""
    return jax.device_put(tree, jax.devices()[0])


def leaves(tree):
    """NumPy leaves, PRNG keys as their raw data."""
    return [
        np.asarray(
            jax.random.key_data(x)
            if jnp.issubdtype(jnp.result_type(x), jax.dtypes.prng_key)
            else x
        )
        for x in jax.tree.leaves(tree)
    ]


def assert_bitwise_equal(got, want):
    got_leaves, want_leaves = leaves(got), leaves(want)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    assert len(got_leaves) == len(want_leaves) > 0
    for a, b in zip(got_leaves, want_leaves, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b, strict=True)


RULES = [
    *(pytest.param(name, id=name) for name in mmx.rules.RULES if name != "extra_adam"),
    # optax's Adam is not strict-promotion clean (tests/conftest.py).
    pytest.param("extra_adam", id="extra_adam", marks=pytest.mark.standard_promotion),
    pytest.param("langevin_gda", id="langevin_gda"),
    pytest.param("mirror_prox", id="mirror_prox"),
]


def make_rule(name):
    if name == "langevin_gda":  # a PRNG key in the state
        return mmx.langevin_gda(0.1, 0.01, key=jax.random.key(3))
    if name == "mirror_prox":
        return mmx.mirror_prox(0.1)
    return mmx.rules.RULES[name].build(0.1)


@pytest.mark.parametrize("name", RULES)
def test_transparent_run_resumes_bit_for_bit_mid_iteration(tmp_path, name):
    # Transparent mode, one field evaluation per update call: after 5 calls a
    # two-evaluation rule sits between its extrapolation and its update call.
    opt = make_rule(name)

    @jax.jit
    def call(params, state):
        updates, state = opt.update(V(params), state, params)
        return optax.apply_updates(params, updates), state

    params, state = start(), opt.init(start())
    for _ in range(5):
        params, state = call(params, state)
    if name in ("extragradient", "extragradient_plus", "extra_adam"):
        # Mid-iteration: params at the extrapolated point, the anchor in the state.
        def extra(node):
            return isinstance(node, mmx.ExtraState)

        (found,) = [s for s in jax.tree.leaves(state, is_leaf=extra) if extra(s)]
        assert int(found.phase) == 1
        assert not np.array_equal(mmx.iterate(params, state)["x"], params["x"])
    saved = {"params": params, "state": state}
    fresh = {"params": start(), "state": opt.init(start())}
    restored = save_and_restore(tmp_path / "ckpt", saved, fresh)
    assert_bitwise_equal(restored, saved)

    def finish(params, state):
        for _ in range(6):
            params, state = call(params, state)
        return params, state, mmx.iterate(params, state)

    assert_bitwise_equal(
        finish(restored["params"], restored["state"]), finish(params, state)
    )


SOLVE_RULES = [
    pytest.param(mmx.extragradient(0.2), id="extragradient"),
    # Params hold the reflected point: the Solution's raw_params resume it.
    pytest.param(mmx.reflected_gda(0.2), id="reflected_gda"),
    pytest.param(mmx.langevin_gda(0.1, 0.01, key=jax.random.key(0)), id="langevin"),
]


@pytest.mark.parametrize("opt", SOLVE_RULES)
def test_solve_resumes_from_a_restored_solution(tmp_path, opt):
    # From an explicit state, as the resumed run: one compilation for both.
    z, state = committed((start(), opt.init(start())))
    first = mmx.solve(V, z, opt, 40, state=state)
    like = jax.eval_shape(lambda: first)
    restored = save_and_restore(tmp_path / "ckpt", first, like)
    assert isinstance(restored, mmx.Solution)
    assert_bitwise_equal(restored, first)

    resumed = mmx.solve(V, restored, opt, 40)
    assert_bitwise_equal(resumed, mmx.solve(V, first, opt, 40))
    whole = mmx.solve(V, start(), opt, 80)
    assert_bitwise_equal(
        (resumed.params, resumed.state, resumed.raw_params),
        (whole.params, whole.state, whole.raw_params),
    )
    # The explicit form: the params the rule holds, and its state.
    explicit = mmx.solve(V, restored.raw_params, opt, 40, state=restored.state)
    assert_bitwise_equal(explicit, resumed)


def test_a_resumed_trace_starts_at_the_committed_iterate():
    opt = mmx.reflected_gda(0.2)
    first = mmx.solve(V, start(), opt, 10, save_every=5, state=opt.init(start()))
    assert not np.array_equal(first.raw_params["x"], first.params["x"])
    more = mmx.solve(V, first, opt, 10, save_every=5)
    saved = jax.tree.map(lambda a: a[0], more.trace["iterates"])
    assert_bitwise_equal(saved, first.params)


def test_solve_resumes_a_stochastic_run(tmp_path):
    def noisy(z, key):
        e = jax.random.normal(key, (5,))
        v = V(z)
        return {"x": v["x"] + 0.1 * e[:2], "y": v["y"] + 0.1 * e[2:]}

    opt = mmx.extragradient(0.2)
    z, state = committed((start(), opt.init(start())))
    first = mmx.solve(noisy, z, opt, 30, key=jax.random.key(1), state=state)
    like = jax.eval_shape(lambda: first)
    restored = save_and_restore(tmp_path / "noisy", first, like)
    key = jax.random.key(2)
    assert_bitwise_equal(
        mmx.solve(noisy, restored, opt, 30, key=key),
        mmx.solve(noisy, first, opt, 30, key=key),
    )


def test_solve_resumes_a_rule_whose_evaluations_vary(tmp_path):
    # A linesearch: the run stops before an iteration could exceed its budget, so
    # two halves may commit fewer iterations than the whole; a restored run
    # continues exactly as the one in memory.
    opt = mmx.adaptive_extragradient_plus(power_iterations=2, max_backtracks=2)
    z, state = committed((start(), opt.init(start())))
    first = mmx.solve(V, z, opt, 60, state=state)
    restored = save_and_restore(
        tmp_path / "counted", first, jax.eval_shape(lambda: first)
    )
    assert_bitwise_equal(mmx.solve(V, restored, opt, 60), mmx.solve(V, first, opt, 60))


def test_solve_rejects_a_state_of_another_rule_or_both_forms():
    z = start()
    with pytest.raises(ValueError, match="state must be a state of this optimizer"):
        mmx.solve(V, z, mmx.gda(0.1), 4, state=mmx.extragradient(0.1).init(z))
    sol = mmx.solve(V, z, mmx.gda(0.1), 4)
    with pytest.raises(ValueError, match="a Solution to resume or a state, not both"):
        mmx.solve(V, sol, mmx.gda(0.1), 4, state=sol.state)


# GANs: 1-d noise to 2-d samples, a linear critic.


def first_column(scores):
    return scores[:, 0]


class Gan(nnx.Module):
    def __init__(self, rngs):
        self.generator = nnx.Linear(1, 2, rngs=rngs)
        # One function for every instance: equal graphs, one compilation.
        self.critic = nnx.Sequential(nnx.Linear(2, 1, rngs=rngs), first_column)


def sample_real(key):
    return 1.0 + jax.random.normal(key, (16, 2))


def sample_noise(key):
    return jax.random.normal(key, (16, 1))


def run(step, carry, key, num_calls):
    """``num_calls`` calls of ``step(carry, subkey)``, the loop's key split at each;
    returns the carry and the loop's key (part of what a checkpoint holds)."""
    for _ in range(num_calls):
        key, subkey = jax.random.split(key)
        carry = step(carry, subkey)
    return carry, key


@pytest.mark.standard_promotion  # optax's Adam inside extra_adam
def test_nnx_gan_run_interrupted_and_resumed_matches_an_uninterrupted_run(tmp_path):
    rule = mmx.extra_adam({"generator": 1e-2, "critic": 2e-2}, b1=0.5)
    train = gan.nnx_train_step(
        "wasserstein",
        sample_real=sample_real,
        sample_noise=sample_noise,
        penalty=functools.partial(gan.gradient_penalty, weight=1.0),
    )

    def step(carry, key):
        model, optimizer = carry
        train(model, optimizer, key)
        return model, optimizer

    def fresh(seed):
        model = Gan(nnx.Rngs(seed))
        optimizer = nnx.Optimizer(model, rule, wrt=nnx.Param)
        nnx.update(model, committed(nnx.state(model)))
        nnx.update(optimizer, committed(nnx.state(optimizer)))
        return model, optimizer

    (model, optimizer), _ = run(step, fresh(0), committed(jax.random.key(7)), 5)

    (first, first_opt), key = run(step, fresh(0), committed(jax.random.key(7)), 2)
    saved = {"model": nnx.state(first), "optimizer": nnx.state(first_opt), "key": key}
    new_model, new_opt = fresh(1)  # other initial weights, overwritten
    like = {"model": nnx.state(new_model), "optimizer": nnx.state(new_opt), "key": key}
    restored = save_and_restore(tmp_path / "ckpt", saved, like)
    nnx.update(new_model, restored["model"])
    nnx.update(new_opt, restored["optimizer"])
    (new_model, new_opt), _ = run(step, (new_model, new_opt), restored["key"], 3)

    assert int(new_opt.step[...]) == int(optimizer.step[...]) == 5
    assert_bitwise_equal(nnx.state(new_model), nnx.state(model))
    assert_bitwise_equal(nnx.state(new_opt), nnx.state(optimizer))


def test_linen_gan_run_interrupted_and_resumed_matches_an_uninterrupted_run(tmp_path):
    G, D = nn.Dense(2), nn.Dense(1)
    train = gan.linen_train_step(
        "hinge",
        generate=lambda p, n: G.apply({"params": p}, n),
        criticise=lambda p, x: D.apply({"params": p}, x)[:, 0],
        sample_real=sample_real,
        sample_noise=sample_noise,
        steps_per_call=3,
    )
    tx = mmx.extragradient(5e-2)  # one rule: TrainState holds it as static data

    def fresh(seed):
        k1, k2 = jax.random.split(jax.random.key(seed))
        params = {
            "generator": G.init(k1, jnp.ones((1, 1)))["params"],
            "critic": D.init(k2, jnp.ones((1, 2)))["params"],
        }
        state = TrainState.create(apply_fn=None, params=params, tx=tx)
        return committed(state.replace(step=jnp.zeros([], jnp.int32)))  # not weak

    def step(state, key):
        return train(state, key)[0]

    whole, _ = run(step, fresh(0), committed(jax.random.key(5)), 4)
    first, key = run(step, fresh(0), committed(jax.random.key(5)), 1)
    restored = save_and_restore(
        tmp_path / "ckpt", {"state": first, "key": key}, {"state": fresh(1), "key": key}
    )
    resumed, _ = run(step, restored["state"], restored["key"], 3)
    assert int(resumed.step) == int(whole.step) == 12
    assert_bitwise_equal(resumed, whole)


# Adversarial training: a linear classifier, PGD-AT with a random start, the
# extragradient rule in transparent mode (one evaluation per step), interrupted
# between an extrapolation and its update.


def batch(key):
    k_x, k_y = jax.random.split(key)
    return jax.random.normal(k_x, (8, 4)), jax.random.randint(k_y, (8,), 0, 3)


def test_nnx_adversarial_run_resumed_mid_iteration_matches(tmp_path):
    train = adv.nnx_train_step(adv.pgd_at(eps=0.1, step_size=0.05, num_steps=2))
    rule = mmx.extragradient(0.1)  # one rule: the optimizer's graph holds it

    def step(carry, key):
        model, optimizer = carry
        k_batch, k_attack = jax.random.split(key)
        train(model, optimizer, *batch(k_batch), k_attack)
        return model, optimizer

    def fresh(seed):
        model = nnx.Linear(4, 3, rngs=nnx.Rngs(seed))
        optimizer = nnx.Optimizer(model, rule, wrt=nnx.Param)
        nnx.update(model, committed(nnx.state(model)))
        nnx.update(optimizer, committed(nnx.state(optimizer)))
        return model, optimizer

    (model, optimizer), _ = run(step, fresh(0), committed(jax.random.key(9)), 6)

    (first, first_opt), key = run(step, fresh(0), committed(jax.random.key(9)), 3)
    assert int(first_opt.opt_state.phase[...]) == 1  # at the extrapolated point
    new_model, new_opt = fresh(1)
    restored = save_and_restore(
        tmp_path / "ckpt",
        {"model": nnx.state(first), "optimizer": nnx.state(first_opt), "key": key},
        {"model": nnx.state(new_model), "optimizer": nnx.state(new_opt), "key": key},
    )
    nnx.update(new_model, restored["model"])
    nnx.update(new_opt, restored["optimizer"])
    (new_model, new_opt), _ = run(step, (new_model, new_opt), restored["key"], 3)
    assert_bitwise_equal(nnx.state(new_model), nnx.state(model))
    assert_bitwise_equal(nnx.state(new_opt), nnx.state(optimizer))


def test_linen_adversarial_run_resumed_mid_iteration_matches(tmp_path):
    module = nn.Dense(3)
    train = adv.linen_train_step(adv.trades(eps=0.1, step_size=0.05, num_steps=2))
    tx = mmx.extragradient(0.1)

    def fresh(seed):
        params = module.init(jax.random.key(seed), jnp.ones((1, 4)))["params"]
        state = TrainState.create(apply_fn=module.apply, params=params, tx=tx)
        return committed(state.replace(step=jnp.zeros([], jnp.int32)))  # not weak

    def step(state, key):
        k_batch, k_attack = jax.random.split(key)
        return train(state, *batch(k_batch), k_attack)[0]

    whole, _ = run(step, fresh(0), committed(jax.random.key(4)), 6)
    first, key = run(step, fresh(0), committed(jax.random.key(4)), 3)
    restored = save_and_restore(
        tmp_path / "ckpt", {"state": first, "key": key}, {"state": fresh(1), "key": key}
    )
    resumed, _ = run(step, restored["state"], restored["key"], 3)
    assert_bitwise_equal(resumed, whole)


# Failures known only at run time.


def test_a_nan_learning_rate_under_jit_is_a_diverged_status():
    z = start()
    sol = jax.jit(lambda lr: mmx.solve(V, z, mmx.extragradient(lr), 10))(jnp.nan)
    assert int(sol.status) == mmx.Status.DIVERGED
    assert int(sol.stats["num_iterations"]) == 0
    assert_bitwise_equal(sol.params, z)


def test_throw_raises_the_status_message():
    z = start()
    with pytest.raises(
        RuntimeError, match=r"mmx\.solve failed: diverged.*learning rate"
    ):
        mmx.solve(V, z, mmx.gda(1e38), 10, throw=True)  # overflows
    with pytest.raises(ValueError, match="learning_rate must be finite and >= 0"):
        mmx.gda(jnp.nan)  # known before the run: an error at once
    with pytest.raises(ValueError, match=r"learning_rate\['y'\] must be finite"):
        mmx.extra_adam({"x": 1e-3, "y": -1e-3})
    jitted = jax.jit(lambda lr: mmx.solve(V, z, mmx.gda(lr), 10, throw=True))
    with pytest.raises(Exception, match=r"mmx\.solve failed: diverged") as error:
        jax.block_until_ready(jitted(jnp.nan))
    assert isinstance(error.value, jax.errors.JaxRuntimeError)
    batched = jax.jit(
        jax.vmap(lambda lr: mmx.solve(V, z, mmx.gda(lr), 10, throw=True).params)
    )
    with pytest.raises(jax.errors.JaxRuntimeError, match=r"mmx\.solve failed"):
        jax.block_until_ready(batched(jnp.array([0.1, jnp.nan])))
    # The default returns the status instead, one per run.
    statuses = jax.vmap(lambda lr: mmx.solve(V, z, mmx.gda(lr), 10).status)(
        jnp.array([0.1, jnp.nan])
    )
    assert [int(s) for s in statuses] == [mmx.Status.MAX_STEPS, mmx.Status.DIVERGED]


def test_traced_negative_learning_rate_and_eps_do_not_break_jit():
    z = start()
    run_solve = jax.jit(
        lambda lr: mmx.solve(V, z, mmx.extragradient(lr), 10, throw=True)
    )
    sol = jax.block_until_ready(run_solve(jnp.array(-0.1)))
    assert int(sol.status) == mmx.Status.MAX_STEPS  # ascent, but finite: no error

    x = jnp.ones((2, 3))

    def loss_fn(inputs):
        return jnp.sum(inputs**2, axis=1)

    attack = jax.jit(lambda eps: adv.fgsm(loss_fn, x, eps))
    np.testing.assert_allclose(attack(jnp.array(0.1)), 1.1 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="eps must be positive and finite"):
        adv.fgsm(loss_fn, x, jnp.nan)
