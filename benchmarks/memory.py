"""What each registered rule holds, in copies of the params, and what one GAN
training step of each rule takes in memory.

Two tables:

* **State size.** The floating-point elements of ``opt.init(params)``'s leaves
  over the elements of ``params`` (integer and boolean leaves — step counts,
  phases, flags — are counted apart and are scalars). GDA holds nothing, an
  extra-gradient rule its anchor ``z^k``, OGDA the previous field value,
  reflected GDA the committed iterate, ExtraAdam Adam's two moments and the
  anchor. For each rule the table also says what it reads of that state in
  opaque mode (``update(..., field=fn)``, the mode ``solve`` and the GAN steps
  use): the extra-gradient family's anchor is carried through opaque calls
  unread (the rule steps from ``params``), so an opaque-only loop holds one
  params-sized buffer it does not need.
* **Peak memory of one GAN step.** The GAN benchmark's models
  (``benchmarks/gan/train.py``: generator 2→128→128→2, critic 2→128→128→1,
  batch 256, WGAN-GP on 25 Gaussians) trained by ``gan.linen_train_step``
  (``steps_per_call=1``, one whole iteration of the rule in opaque mode, the
  parameters a ``{"generator", "critic"}`` dict of the NNX model's states), its
  compiled program's ``memory_analysis()``: argument, output and temporary
  buffers, and their sum, taken as the peak (``alias``, what outputs share with
  donated inputs, is subtracted; zero here, as the library's step donates
  nothing). Without donation XLA writes every output to a fresh buffer, the
  state's unread anchor included: the extra-gradient rules' outputs are one
  params-sized buffer larger than GDA's, and each call copies the anchor.

``python -m benchmarks.memory`` prints both tables and writes them as JSON
(``--out``, default ``benchmark_results/memory.json``); ``--quick`` builds the
GAN step with a batch of 8 for GDA and ExtraAdam only (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from flax.training.train_state import TrainState

import minimaxjax as mmx
from benchmarks.gan import mixtures
from benchmarks.gan import train as gan_train
from minimaxjax import gan

#: What each registered rule reads of its state in opaque mode, by name: a
#: one-line reason for the table (a rule not listed shows "?").
OPAQUE_READS = {
    "gda": "nothing (no state)",
    "alternating_gda": "nothing (no state)",
    "proximal_point": "not the anchor (steps from params)",
    "extragradient": "not the anchor (steps from params)",
    "extragradient_plus": "not the anchor (steps from params)",
    "optimistic_gda": "the previous field value",
    "reflected_gda": "the committed iterate",
    "extra_adam": "both moments, not the anchor",
}
#: Copies of the params an opaque-only loop of the rule must hold.
OPAQUE_NEEDS = {
    "gda": 0,
    "alternating_gda": 0,
    "proximal_point": 0,
    "extragradient": 0,
    "extragradient_plus": 0,
    "optimistic_gda": 1,
    "reflected_gda": 1,
    "extra_adam": 2,
}
QUICK_RULES = ("gda", "extra_adam")
LR = 1e-3  # irrelevant to the sizes; a float, so no schedule state


def _elements(tree: Any, *, floating: bool) -> int:
    total = 0
    for leaf in jax.tree.leaves(tree):
        is_float = jnp.issubdtype(leaf.dtype, jnp.floating)
        if is_float == floating:
            total += int(np.prod(leaf.shape))
    return total


def state_size(opt: optax.GradientTransformation, params: Any) -> dict[str, Any]:
    """The floating elements of ``opt.init(params)`` over those of ``params``
    (traced with ``jax.eval_shape``: nothing is allocated), and the other
    (integer, boolean) elements."""
    state = jax.eval_shape(opt.init, params)
    n = _elements(params, floating=True)
    floats = _elements(state, floating=True)
    return {
        "float_elements": floats,
        "param_elements": n,
        "copies": floats / n,
        "other_elements": _elements(state, floating=False),
    }


def game_params() -> dict[str, Any]:
    """The GAN benchmark's initial parameters as plain arrays (the state-size
    table's params: any pytree gives the same ratios)."""
    model = gan_train.Gan(0)
    return {
        "generator": nnx.to_pure_dict(nnx.state(model.generator, nnx.Param)),
        "critic": nnx.to_pure_dict(nnx.state(model.critic, nnx.Param)),
    }


def state_table(params: Any | None = None) -> dict[str, dict[str, Any]]:
    """Every registered rule's state size (``RuleSpec.build`` with its default
    options)."""
    params = game_params() if params is None else params
    rows = {}
    for name, spec in mmx.rules.RULES.items():
        row = state_size(spec.build(LR), params)
        row["opaque_reads"] = OPAQUE_READS.get(name, "?")
        row["opaque_needs"] = OPAQUE_NEEDS.get(name)
        rows[name] = row
    return rows


def gan_step(
    opt: optax.GradientTransformation, batch: int
) -> tuple[Any, TrainState, jax.Array]:
    """One WGAN-GP iteration of ``opt`` on the GAN benchmark's models (the
    library's Linen step over the NNX modules' split states), its initial
    ``TrainState`` and a key."""
    model = gan_train.Gan(0)
    g_def, g_params = nnx.split(model.generator, nnx.Param)
    c_def, c_params = nnx.split(model.critic, nnx.Param)
    mixture = mixtures.DATASETS["grid25"]()
    formulation, penalty = gan_train.LOSSES["wgan_gp"]
    step = gan.linen_train_step(
        formulation,
        generate=lambda p, noise: nnx.merge(g_def, p)(noise),
        criticise=lambda p, x: nnx.merge(c_def, p)(x),
        sample_real=lambda key: mixture.sample(key, batch),
        sample_noise=lambda key: jax.random.normal(key, (batch, gan_train.NOISE_DIM)),
        penalty=penalty,
        steps_per_call=1,
    )
    params = {"generator": g_params, "critic": c_params}
    state = TrainState.create(apply_fn=None, params=params, tx=opt)
    return step, state, jax.random.key(0)


def step_memory(opt: optax.GradientTransformation, batch: int) -> dict[str, int]:
    """``memory_analysis()`` of one compiled GAN step of ``opt`` (bytes)."""
    step, state, key = gan_step(opt, batch)
    analysis = step.lower(state, key).compile().memory_analysis()
    if analysis is None:  # a backend without it
        return {}
    out = {
        k: int(getattr(analysis, f"{k}_size_in_bytes"))
        for k in ("argument", "output", "temp", "alias", "generated_code")
    }
    out["peak"] = out["argument"] + out["output"] + out["temp"] - out["alias"]
    out["params_bytes"] = sum(
        x.size * x.dtype.itemsize for x in jax.tree.leaves(state.params)
    )
    out["state_bytes"] = sum(
        x.size * x.dtype.itemsize for x in jax.tree.leaves(state.opt_state)
    )
    return out


def step_rules() -> dict[str, optax.GradientTransformation]:
    """The registered rules, and plain simultaneous Adam for reference."""
    rules: dict[str, optax.GradientTransformation] = {
        name: spec.build(LR) for name, spec in mmx.rules.RULES.items()
    }
    rules["optax.adam (reference)"] = optax.adam(LR)
    return rules


def step_table(
    batch: int, names: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    rules = step_rules()
    return {
        name: step_memory(opt, batch)
        for name, opt in rules.items()
        if names is None or name in names
    }


def machine() -> dict[str, Any]:
    device = jax.devices()[0]
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": device.device_kind,
        "load_average": os.getloadavg()[0],
    }


def format_states(rows: dict[str, dict[str, Any]]) -> str:
    header = (
        f"{'rule':<20} {'copies':>6} {'float elems':>11} {'int/bool':>8}  "
        f"{'opaque needs':>12}  opaque mode reads"
    )
    lines = [header, "-" * len(header)]
    for name, r in rows.items():
        need = "?" if r["opaque_needs"] is None else str(r["opaque_needs"])
        lines.append(
            f"{name:<20} {r['copies']:>6.2f} {r['float_elements']:>11,} "
            f"{r['other_elements']:>8}  {need:>12}  {r['opaque_reads']}"
        )
    n = next(iter(rows.values()))["param_elements"]
    lines.append(f"(params: {n:,} floating elements)")
    return "\n".join(lines)


def format_steps(rows: dict[str, dict[str, int]]) -> str:
    def kib(b: int) -> str:
        return f"{b / 1024:,.1f}"

    header = (
        f"{'rule':<24} {'state KiB':>9} {'argument':>9} {'output':>9} "
        f"{'temp':>9} {'peak KiB':>9}"
    )
    lines = [header, "-" * len(header)]
    for name, r in rows.items():
        if not r:
            lines.append(f"{name:<24} (no memory_analysis on this backend)")
            continue
        lines.append(
            f"{name:<24} {kib(r['state_bytes']):>9} {kib(r['argument']):>9} "
            f"{kib(r['output']):>9} {kib(r['temp']):>9} {kib(r['peak']):>9}"
        )
    first = next((r for r in rows.values() if r), None)
    if first:
        lines.append(
            f"(KiB; params {kib(first['params_bytes'])} KiB; peak = argument + "
            "output + temp - alias)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description=(__doc__ or "").split("\n")[0],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="GAN steps of GDA and ExtraAdam with a batch of 8 (smoke test)",
    )
    parser.add_argument(
        "--rules", default=None, help="comma-separated rules of the GAN-step table"
    )
    parser.add_argument(
        "--out",
        default="benchmark_results/memory.json",
        help="the JSON file written (default %(default)s)",
    )
    options = parser.parse_args(argv)
    batch = 8 if options.quick else gan_train.BATCH
    names = None if options.rules is None else options.rules.split(",")
    if options.quick and names is None:
        names = list(QUICK_RULES)
    info = machine()
    print(
        f"{info['platform']}, Python {info['python']}, jax {info['jax']} on "
        f"{info['backend']} ({info['device']}), load average "
        f"{info['load_average']:.1f}"
    )
    states = state_table()
    print("\nstate size of opt.init(params), in copies of the params:")
    print(format_states(states))
    steps = step_table(batch, names)
    print(
        f"\none GAN step (WGAN-GP, 25 Gaussians, batch {batch}, generator "
        "2-128-128-2, critic 2-128-128-1), compiled memory_analysis():"
    )
    print(format_steps(steps))
    result = {"machine": info, "batch": batch, "state": states, "gan_step": steps}
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {out}")
    return result


if __name__ == "__main__":
    main()
