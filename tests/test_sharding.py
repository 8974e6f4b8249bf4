"""Data parallelism with JAX's own SPMD: the library's steps, run on a batch sharded
over four CPU devices, give the single-device result.

The four devices exist only in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (this process initialised
JAX already). The subprocess and this process run the same cases (``CASES``), the
first on a ``Mesh`` of the four devices, the second with no mesh (one device).
"""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVICES = 4

# Each case takes a one-axis Mesh (None: no sharding) and returns plain numbers.
CASES = r'''
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import minimaxjax as mmx
from minimaxjax import adversarial as adv
from minimaxjax import gan


def place(tree, mesh, spec):
    return tree if mesh is None else jax.device_put(tree, NamedSharding(mesh, spec))


def leaves(tree):
    return [np.asarray(v).tolist() for v in jax.tree.leaves(tree)]


def devices(array):
    return len(array.sharding.device_set)


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.relu(nn.Dense(16)(x)))


def adversarial(mesh):
    """Three PGD-AT steps on a batch of 64 split over the mesh, params replicated."""
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.uniform(kx, (64, 5))
    y = jax.random.randint(ky, (64,), 0, 3)
    module = MLP()
    state = TrainState.create(
        apply_fn=module.apply, params=module.init(kp, x)["params"], tx=optax.sgd(0.1)
    )
    state = place(state, mesh, P())
    x, y = place(x, mesh, P("data")), place(y, mesh, P("data"))
    step = adv.linen_train_step(
        adv.pgd_at(eps=0.1, step_size=0.05, num_steps=3, bounds=(0.0, 1.0))
    )
    for i in range(3):
        state, metrics = step(state, x, y, jax.random.key(i))
    return {
        "params": leaves(state.params),
        "loss": float(metrics["loss"]),
        "input_devices": [devices(x), devices(y)],
        "params_devices": [devices(v) for v in jax.tree.leaves(state.params)],
    }


def solve(mesh):
    """4096 bilinear games' starts split over the mesh, one vmapped solve."""
    A = jnp.array([[1.0, 2.0], [-1.0, 0.5]])
    V = mmx.field(lambda x, y: x @ A @ y)
    kx, ky = jax.random.split(jax.random.key(1))
    starts = (jax.random.normal(kx, (4096, 2)), jax.random.normal(ky, (4096, 2)))
    starts = place(starts, mesh, P("data"))
    run = jax.jit(
        jax.vmap(lambda z0: mmx.solve(V, z0, mmx.extragradient(0.1), 200).params)
    )
    out = run(starts)
    return {
        "params": leaves(out),
        "input_devices": [devices(s) for s in starts],
        "output_devices": [devices(v) for v in out],
    }


def gan_step(mesh):
    """Two calls of five extragradient iterations whose real and noise batches are
    drawn inside the step and constrained to the data sharding."""
    G, D = nn.Dense(2), nn.Dense(1)
    params = {
        "generator": G.init(jax.random.key(0), jnp.ones((1, 1)))["params"],
        "critic": D.init(jax.random.key(1), jnp.ones((1, 2)))["params"],
    }
    state = TrainState.create(apply_fn=None, params=params, tx=mmx.extragradient(1e-2))
    state = place(state, mesh, P())
    seen = []  # the device count of each batch's sharding, as compiled

    def constrain(batch):
        if mesh is not None:
            batch = jax.lax.with_sharding_constraint(
                batch, NamedSharding(mesh, P("data"))
            )
        jax.debug.inspect_array_sharding(
            batch, callback=lambda s: seen.append(len(s.device_set))
        )
        return batch

    step = gan.linen_train_step(
        "hinge",
        generate=lambda p, n: G.apply({"params": p}, n),
        criticise=lambda p, x: D.apply({"params": p}, x)[:, 0],
        sample_real=lambda k: constrain(1.0 + jax.random.normal(k, (64, 2))),
        sample_noise=lambda k: constrain(jax.random.normal(k, (64, 1))),
        steps_per_call=5,
    )
    for i in range(2):
        state, _ = step(state, jax.random.key(i))
    return {
        "params": leaves(state.params),
        "batch_devices": sorted(set(seen)),
        "params_devices": [devices(v) for v in jax.tree.leaves(state.params)],
    }


def nnx_gan_step(mesh):
    """The same with Flax NNX: model and optimizer state replicated over the mesh
    (``nnx.state`` placed, then ``nnx.update``), batches sharded on 'data'."""
    from flax import nnx

    class Gan(nnx.Module):
        def __init__(self, rngs):
            self.generator = nnx.Linear(1, 2, rngs=rngs)
            self.critic = nnx.Sequential(nnx.Linear(2, 1, rngs=rngs), lambda s: s[:, 0])

    model = Gan(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, mmx.extragradient(1e-2), wrt=nnx.Param)
    for obj in (model, optimizer):
        nnx.update(obj, place(nnx.state(obj), mesh, P()))
    shard = (lambda b: b) if mesh is None else (
        lambda b: jax.lax.with_sharding_constraint(b, NamedSharding(mesh, P("data")))
    )
    step = gan.nnx_train_step(
        "wasserstein",
        sample_real=lambda k: shard(1.0 + jax.random.normal(k, (64, 2))),
        sample_noise=lambda k: shard(jax.random.normal(k, (64, 1))),
        steps_per_call=5,
    )
    for i in range(2):
        step(model, optimizer, jax.random.key(i))
    params = nnx.state(model, nnx.Param)
    return {
        "params": leaves(params),
        "params_devices": [devices(v) for v in jax.tree.leaves(params)],
        "state_devices": [devices(v) for v in jax.tree.leaves(nnx.state(optimizer))],
    }
'''

RUNNER = r"""
import json

from jax.sharding import Mesh

assert len(jax.devices()) == DEVICES, jax.devices()
mesh = Mesh(np.array(jax.devices()), ("data",))
print(json.dumps({name: globals()[name](mesh) for name in NAMES}))
"""

NAMES = ("adversarial", "solve", "gan_step", "nnx_gan_step")


def _cases():
    module = types.ModuleType("sharding_cases")
    exec(compile(CASES, "sharding_cases", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def sharded():
    """The cases' results on a mesh of DEVICES CPU devices, from a subprocess."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    script = f"DEVICES = {DEVICES}\nNAMES = {NAMES!r}\n" + CASES + RUNNER
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def single():
    """The cases' results on one device, in this process, each computed once."""
    cases, results = _cases(), {}

    def get(name):
        if name not in results:
            results[name] = getattr(cases, name)(None)
        return results[name]

    return get


def _assert_same_params(sharded_params, single_params):
    assert len(sharded_params) == len(single_params)
    for a, b in zip(sharded_params, single_params, strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)


def test_adversarial_training_data_parallel(sharded, single):
    out = sharded["adversarial"]
    assert out["input_devices"] == [DEVICES, DEVICES]  # the batch really was split
    assert set(out["params_devices"]) == {DEVICES}  # and the params replicated
    reference = single("adversarial")
    _assert_same_params(out["params"], reference["params"])
    np.testing.assert_allclose(out["loss"], reference["loss"], rtol=1e-5)


def test_solve_vmapped_over_sharded_games(sharded, single):
    out = sharded["solve"]
    assert out["input_devices"] == [DEVICES, DEVICES]
    assert out["output_devices"] == [DEVICES, DEVICES]
    _assert_same_params(out["params"], single("solve")["params"])


def test_gan_step_with_sharded_batches(sharded, single):
    out = sharded["gan_step"]
    assert out["batch_devices"] == [DEVICES]  # every drawn batch, as compiled
    assert set(out["params_devices"]) == {DEVICES}
    reference = single("gan_step")
    assert reference["batch_devices"] == [1]
    _assert_same_params(out["params"], reference["params"])


def test_nnx_gan_step_with_replicated_state_and_sharded_batches(sharded, single):
    out = sharded["nnx_gan_step"]
    assert set(out["params_devices"]) == {DEVICES}
    assert set(out["state_devices"]) == {DEVICES}  # the anchor, the step count
    _assert_same_params(out["params"], single("nnx_gan_step")["params"])


def test_the_comparison_can_fail(sharded, single):
    """A different run is told apart: the tolerance is not vacuous."""
    params = sharded["adversarial"]["params"]
    moved = [(np.array(p) * (1 + 1e-3) + 1e-3).tolist() for p in params]
    with pytest.raises(AssertionError):
        _assert_same_params(moved, single("adversarial")["params"])
