"""Data parallelism across processes: the library's train steps, run by two JAX
processes on one global mesh, give the one-process result.

Two processes on this machine stand for two hosts. Each starts with
``jax.distributed.initialize`` (a coordinator on a free localhost port, CPU
collectives over gloo), owns two forced CPU devices, and loads only its half of
the batch; ``jax.make_array_from_process_local_data`` assembles the global batch
over the mesh of all four devices. This process runs the same cases (``CASES``)
on one device with the whole batch, and the results must agree to float rounding.
"""

import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 2
LOCAL_DEVICES = 2

# Each case takes a one-axis Mesh over the devices of every process (None: one
# device, no sharding) and returns plain numbers.
CASES = r'''
import flax.linen as nn
import jax
import numpy as np
from flax.training.train_state import TrainState
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import minimaxjax as mmx
from minimaxjax import adversarial as adv


def replicate(tree, mesh):
    """Every process holds the same values; place them on every device."""
    if mesh is None:
        return tree
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(
        lambda v: jax.make_array_from_process_local_data(sharding, np.asarray(v)),
        tree,
    )


def split_batch(batch, mesh):
    """This process's rows of the global batch, assembled over the mesh."""
    if mesh is None:
        return batch
    sharding = NamedSharding(mesh, P("data"))
    rows = len(batch) // jax.process_count()
    start = jax.process_index() * rows
    local = np.asarray(batch)[start : start + rows]  # all this process loads
    return jax.make_array_from_process_local_data(sharding, local, batch.shape)


def local_value(v):
    """A replicated array's value, read from this process's first device."""
    return np.asarray(v.addressable_shards[0].data) if hasattr(v, "sharding") else v


def leaves(tree):
    return [local_value(v).tolist() for v in jax.tree.leaves(tree)]


def layout(array):
    """How an array is spread: devices in all, devices of this process, rows here."""
    if not isinstance(array, jax.Array):
        return None
    return {
        "devices": len(array.sharding.device_set),
        "local_devices": len(array.addressable_shards),
        "local_rows": sum(s.data.shape[0] for s in array.addressable_shards),
        "fully_addressable": array.is_fully_addressable,
    }


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.relu(nn.Dense(16)(x)))


def adversarial(mesh):
    """Two PGD-AT steps of extragradient (one iteration: the extrapolation, then
    the update) on a global batch of 64 examples, the parameters replicated."""
    rng = np.random.default_rng(0)  # NumPy: no op-by-op compiles before the step
    x = rng.uniform(size=(64, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=64).astype(np.int32)
    module = MLP()
    params = jax.jit(module.init)(jax.random.key(0), x)["params"]
    state = TrainState.create(
        apply_fn=module.apply, params=params, tx=mmx.extragradient(0.1)
    )
    state = replicate(state, mesh)
    x, y = split_batch(x, mesh), split_batch(y, mesh)
    step = adv.linen_train_step(
        adv.pgd_at(eps=0.1, step_size=0.05, num_steps=3, bounds=(0.0, 1.0))
    )
    for i in range(2):
        state, metrics = step(state, x, y, jax.random.key(i))
    return {
        "params": leaves(state.params),
        "loss": float(local_value(metrics["loss"])),
        "inputs": [layout(x), layout(y)],
        "params_devices": [
            len(v.sharding.device_set) for v in jax.tree.leaves(state.params)
        ],
    }
'''

WORKER = r"""
import json
import sys

import jax

process_id, port = int(sys.argv[1]), sys.argv[2]
jax.distributed.initialize(
    coordinator_address=f"127.0.0.1:{port}",
    num_processes=PROCESSES,
    process_id=process_id,
    initialization_timeout=60,
)
exec(CASES)
from jax.sharding import Mesh

assert jax.process_count() == PROCESSES
assert len(jax.local_devices()) == LOCAL_DEVICES
# jax.devices() lists every process's devices, process by process: each
# process's rows of the batch are contiguous on the "data" axis.
mesh = Mesh(np.array(jax.devices()), ("data",))
out = {name: globals()[name](mesh) for name in NAMES}
out["process"] = {
    "index": jax.process_index(),
    "count": jax.process_count(),
    "devices": len(jax.devices()),
    "collectives": jax.config.jax_cpu_collectives_implementation,
}
print("RESULT " + json.dumps(out), flush=True)
jax.distributed.shutdown()
"""

NAMES = ("adversarial",)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cases():
    module = types.ModuleType("multihost_cases")
    exec(compile(CASES, "multihost_cases", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def processes():
    """The cases' results in each of PROCESSES processes sharing one mesh."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={LOCAL_DEVICES}",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    header = (
        f"PROCESSES = {PROCESSES}\nLOCAL_DEVICES = {LOCAL_DEVICES}\n"
        f"NAMES = {NAMES!r}\nCASES = {CASES!r}\n"
    )
    port = str(_free_port())
    launched = [
        subprocess.Popen(
            [sys.executable, "-c", header + WORKER, str(i), port],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    outputs = []
    try:
        for p in launched:
            outputs.append(p.communicate(timeout=240)[0])
    finally:
        for p in launched:  # one hung or failed process must not outlive the test
            if p.poll() is None:
                p.kill()
                p.communicate()
    results = []
    for p, output in zip(launched, outputs, strict=True):
        assert p.returncode == 0, output
        lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
        assert lines, output
        results.append(json.loads(lines[-1].removeprefix("RESULT ")))
    return results


@pytest.fixture(scope="module")
def single():
    """The cases' results in this process on one device, each computed once."""
    cases, results = _cases(), {}

    def get(name):
        if name not in results:
            results[name] = getattr(cases, name)(None)
        return results[name]

    return get


def _assert_same_params(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6)


def test_the_processes_share_one_mesh(processes):
    assert [r["process"]["index"] for r in processes] == list(range(PROCESSES))
    for r in processes:
        assert r["process"]["count"] == PROCESSES
        assert r["process"]["devices"] == PROCESSES * LOCAL_DEVICES
        assert r["process"]["collectives"] == "gloo"


def test_adversarial_training_across_processes(processes, single):
    reference = single("adversarial")
    for r in processes:
        out = r["adversarial"]
        for spread in out["inputs"]:  # each process held half the batch
            assert spread == {
                "devices": PROCESSES * LOCAL_DEVICES,
                "local_devices": LOCAL_DEVICES,
                "local_rows": 64 // PROCESSES,
                "fully_addressable": False,
            }
        assert set(out["params_devices"]) == {PROCESSES * LOCAL_DEVICES}
        _assert_same_params(out["params"], reference["params"])
        np.testing.assert_allclose(out["loss"], reference["loss"], rtol=1e-5)


def test_the_comparison_can_fail(processes, single):
    """A different run is told apart: the tolerance is not vacuous."""
    params = processes[0]["adversarial"]["params"]
    moved = [(np.array(p) * (1 + 1e-3) + 1e-3).tolist() for p in params]
    with pytest.raises(AssertionError):
        _assert_same_params(moved, single("adversarial")["params"])
