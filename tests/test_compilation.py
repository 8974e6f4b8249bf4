"""Determinism and compilation: every rule gives bit-identical results when run
and compiled again, and a train step or a solve compiles once however often it is
called, with hyperparameters passed as arrays.

Compilations are counted by XLA backend compiles, the ``jax.monitoring`` event
that JAX records for every executable it builds (``BACKEND_COMPILE_EVENT``); each
counting test also checks that the counter saw the first call's compilation, so a
counter that sees nothing fails.
"""

import contextlib
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax.training.train_state import TrainState

import minimaxjax as mmx
from minimaxjax import adversarial as adv
from minimaxjax import gan

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"

A = jnp.array([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0], [2.0, 0.1, 0.7]])
# A bilinear game with a small quadratic term: x^T A y + 0.05 |x|^2 - 0.05 |y|^2.
V = mmx.field(lambda x, y: x @ A @ y + 0.05 * (x @ x) - 0.05 * (y @ y))
Z0 = (jnp.array([1.0, -0.5, 0.25]), jnp.array([0.5, 1.0, -1.0]))


@contextlib.contextmanager
def compilations():
    """The names of the functions XLA compiles inside the block."""
    names: list[str] = []

    def listener(event: str, duration: float, **kwargs) -> None:
        del duration
        if event == BACKEND_COMPILE_EVENT:
            names.append(str(kwargs.get("fun_name")))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def compiles_per_call(fn, calls):
    """The compilations of each call of ``fn`` on each argument tuple in ``calls``
    (the arguments are built before counting)."""
    counts = []
    for args in calls:
        with compilations() as names:
            jax.block_until_ready(fn(*args))
        counts.append(names)
    return counts


def test_the_counter_sees_compilations():
    f = jax.jit(lambda x: jnp.sin(x) * 3.0)
    x = jnp.arange(5.0)
    first, again = compiles_per_call(f, [(x,), (x,)])
    assert len(first) == 1 and "jit(<lambda>)" in first[0]
    assert again == []
    (other_shape,) = compiles_per_call(f, [(jnp.arange(6.0),)])
    assert len(other_shape) == 1  # a new shape is a new compilation


rules = pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.standard_promotion)
        if name == "extra_adam"  # optax's Adam takes b1 ** count with an int count
        else name
        for name in mmx.rules.RULES
    ],
)


@rules
def test_solve_is_deterministic(name):
    spec = mmx.rules.RULES[name]
    optimizer = spec.build(0.05)
    with compilations() as first_compiles:
        first = mmx.solve(V, Z0, optimizer, 60)
    assert first_compiles, "the first solve compiled nothing: the counter is broken"
    again = mmx.solve(V, Z0, optimizer, 60)  # the same executable
    # A rule built again is a new static argument of solve: compiled afresh.
    with compilations() as rebuilt_compiles:
        rebuilt = mmx.solve(V, Z0, spec.build(0.05), 60)
    assert rebuilt_compiles
    for other in (again, rebuilt):  # params, state, status, trace and stats
        leaves = jax.tree.leaves(first)
        assert len(leaves) == len(jax.tree.leaves(other))
        for a, b in zip(leaves, jax.tree.leaves(other), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(first.params[0]), np.asarray(Z0[0]))


def test_nnx_train_step_compiles_once():
    model = nnx.Sequential(
        nnx.Linear(4, 8, rngs=nnx.Rngs(0)), nnx.relu, nnx.Linear(8, 3, rngs=nnx.Rngs(1))
    )
    optimizer = nnx.Optimizer(model, mmx.extragradient(0.1), wrt=nnx.Param)
    step = adv.nnx_train_step(adv.pgd_at(eps=0.1, step_size=0.05, num_steps=3))
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.uniform(kx, (16, 4))
    y = jax.random.randint(ky, (16,), 0, 3)
    calls = [(model, optimizer, x, y, jax.random.key(i)) for i in range(3)]
    before = np.asarray(model.layers[0].kernel[...]).copy()
    first, second, third = compiles_per_call(step, calls)
    assert len(first) == 1, first
    assert second == [] and third == []
    assert int(optimizer.step[...]) == 3
    assert not np.array_equal(before, np.asarray(model.layers[0].kernel[...]))


def test_gan_linen_train_step_compiles_once():
    G, D = nn.Dense(2), nn.Dense(1)
    params = {
        "generator": G.init(jax.random.key(0), jnp.ones((1, 1)))["params"],
        "critic": D.init(jax.random.key(1), jnp.ones((1, 2)))["params"],
    }
    state = TrainState.create(apply_fn=None, params=params, tx=mmx.extragradient(1e-2))
    step = gan.linen_train_step(
        "hinge",
        generate=lambda p, n: G.apply({"params": p}, n),
        criticise=lambda p, x: D.apply({"params": p}, x)[:, 0],
        sample_real=lambda k: 1.0 + jax.random.normal(k, (32, 2)),
        sample_noise=lambda k: jax.random.normal(k, (32, 1)),
        steps_per_call=2,
    )
    keys = [jax.random.key(i) for i in range(3)]
    counts = []
    for key in keys:
        with compilations() as names:
            state, metrics = step(state, key)
            jax.block_until_ready(metrics)
        counts.append(names)
    assert len(counts[0]) == 1, counts[0]
    assert counts[1:] == [[], []]
    assert int(state.step) == 6


def test_array_hyperparameters_do_not_recompile():
    run = jax.jit(lambda lr, z: mmx.solve(V, z, mmx.extragradient(lr), 100).params)
    calls = [(jnp.asarray(lr, jnp.float32), Z0) for lr in (0.1, 0.05, 0.02)]
    first, *rest = compiles_per_call(run, calls)
    assert len(first) == 1, first
    assert rest == [[], []]
    # The rate is a traced value, not a constant baked in: the results differ and
    # match solve with the rate as a Python float.
    out = [run(*args) for args in calls[:2]]
    assert not np.array_equal(np.asarray(out[0][0]), np.asarray(out[1][0]))
    for (lr, _), params in zip(calls[:2], out, strict=True):
        reference = mmx.solve(V, Z0, mmx.extragradient(float(lr)), 100).params
        for a, b in zip(params, reference, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_a_recompilation_is_seen():
    """A rate baked in as a Python constant (a new closure per rate) recompiles:
    the counting above would notice the mistake it guards against."""

    @functools.partial(jax.jit, static_argnums=0)
    def run(lr, z):
        return mmx.solve(V, z, mmx.extragradient(lr), 100).params

    first, second = compiles_per_call(run, [(0.1, Z0), (0.05, Z0)])
    assert len(first) >= 1 and len(second) >= 1
