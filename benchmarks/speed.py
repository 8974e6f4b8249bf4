"""The library's speed against what it replaces, side by side in one run.

Five sections, each timed by ``benchmarks/_paired.py``'s paired rounds (one call
of every contender per round, in a rotating order; compilation excluded by a
warm-up call; ratios are medians over rounds of the per-round ratio, with their
min-max) and each with an A/A control, a second, separately compiled copy of
one contender, whose spread is the resolution of the machine:

* **optimistic**: ``mmx.optimistic_gda`` against
  ``optax.optimistic_gradient_descent`` (target ≤ 1.02) on a problem of
  realistic size: two players of 1024×1024 (2·2²⁰ parameters), the field of
  ``Φ = ΣX∘Y + μ/2‖X‖² − μ/2‖Y‖²`` (elementwise, so that the rule's own work is
  most of the loop's), 50 iterations in one ``lax.scan``.
* **solve**: ``mmx.solve`` against the hand-written fused loops of
  ``benchmarks/overhead.py`` (its programs and games reused), every rule with a
  baseline on its bilinear 512-D game (target ≤ 1.05, as there).
* **bilinear**: a dense bilinear game ``Φ = xᵀAy``, n = 4096 (A float32, 64 MiB,
  an argument of the program): field evaluations per second of
  ``mmx.field(Φ)`` against the two matrix–vector products ``(Ay, −Aᵀx)`` it
  needs (target ≤ 1.03), 20 evaluations a call chained by the contraction
  ``z ← b + ½V(z)`` (‖A‖₂ = 1: no overflow, no subnormals).
* **gan**: ``benchmarks.gan_speed``'s contenders (nnx, linen, hand, nnx A/A;
  blocks of 50 WGAN-GP ExtraAdam iterations), target ≤ 1.05.
* **adversarial**: ``benchmarks.adversarial.speed``'s contenders (library, hand,
  library A/A; one PGD-10 epoch of the digits SmallCNN), target ≤ 1.05.

``python -m benchmarks.speed`` prints every section's absolute times (with the
device's name: on a GPU the same run gives its absolute times) and ratios, and
writes them as JSON (``--out``, default ``benchmark_results/speed.json``).
``--quick`` shrinks every size and compiles as little as it can (two rules in
the solve section; the GAN and adversarial A/A twins share the first
contender's compiled step): a smoke test, no meaningful timing.
``--sections a,b`` runs a subset, ``--repeats N`` sets the rounds (default 11).
No test asserts a timing; ``tests/test_speed_benchmark.py`` checks the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minimaxjax as mmx
from benchmarks import _paired, overhead

SECTIONS = ("optimistic", "solve", "bilinear", "gan", "adversarial")
TARGETS = {
    "optimistic": 1.02,
    "solve": 1.05,
    "bilinear": 1.03,
    "gan": 1.05,
    "adversarial": 1.05,
}
REPEATS = 11
QUICK_REPEATS = 2
# --quick compiles as little as it can: two rules in the solve section, and the
# GAN and adversarial A/A twins reuse the first contender's compiled step.
QUICK_SOLVE_RULES = ("gda", "extragradient")
OGDA_LR = 0.01
OGDA_MU = 0.1


def machine() -> dict[str, Any]:
    """Platform, versions, device and load average."""
    cpu = _paired.cpu_name()
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": _paired.jax_threads(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "backend": jax.default_backend(),
        "device": jax.devices()[0].device_kind,
        "load_average": list(os.getloadavg()),
    }


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def summarise(
    result: _paired.Result,
    pairs: Sequence[tuple[str, str, str]],
    control: tuple[str, str],
    target: float,
    held: Sequence[str],
    per_call: float = 1.0,
    unit: str = "call",
) -> dict[str, Any]:
    """Times, paired ratios and verdicts of one section.

    ``pairs``: ``(name, over, label)`` of the ratios to report; ``control``: the
    A/A pair; ``held``: the labels held to ``target``; ``per_call``: units of
    work per timed call (iterations, evaluations), for the absolute times."""
    times = {
        name: {
            "median_s": result.median(name),
            "min_s": min(ts),
            f"median_s_per_{unit}": result.median(name) / per_call,
        }
        for name, ts in result.times.items()
    }
    ratios = {label: _stats(result.ratios(n, o)) for n, o, label in pairs}
    aa = result.ratios(*control)
    noise = max(abs(r - 1.0) for r in aa)
    ratios["A/A"] = _stats(aa)
    verdicts = {}
    for label in held:
        median = ratios[label]["median"]
        verdicts[label] = {
            "target": target,
            "met": median <= target,
            "within_aa_spread": abs(median - 1.0) <= noise,
        }
    return {
        "times": times,
        "ratios": ratios,
        "verdicts": verdicts,
        "repeats": len(aa),
    }


def _measure(runs: dict[str, Callable[[], Any]], repeats: int) -> _paired.Result:
    """A warm-up call of each (compilation), then the paired rounds."""
    for run in runs.values():
        run()
    return _paired.measure(runs, repeats)


def _blocking(f: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: jax.block_until_ready(f(*args))


# --- optimistic: mmx.optimistic_gda against optax ------------------------------


def ogda_loop(opt: optax.GradientTransformation, steps: int) -> Callable[..., Any]:
    """A jitted ``lax.scan`` of ``steps`` iterations of ``opt`` on the field of
    ``Φ = ΣX∘Y + μ/2‖X‖² − μ/2‖Y‖²``."""
    V = mmx.field(
        lambda x, y: jnp.sum(x * y) + 0.5 * OGDA_MU * (jnp.sum(x**2) - jnp.sum(y**2))
    )

    def run(z: Any) -> Any:
        def body(carry: Any, _: None) -> tuple[Any, None]:
            z, state = carry
            updates, state = opt.update(V(z), state, z)
            return (optax.apply_updates(z, updates), state), None

        (z, state), _ = jax.lax.scan(body, (z, opt.init(z)), length=steps)
        return z, state

    return jax.jit(run)


def optimistic(quick: bool, repeats: int) -> dict[str, Any]:
    side, steps = (32, 5) if quick else (1024, 50)
    rng = np.random.default_rng(0)
    z0 = tuple(
        jnp.asarray(rng.standard_normal((side, side)), jnp.float32) for _ in range(2)
    )
    loops = {
        "mmx.optimistic_gda": ogda_loop(mmx.optimistic_gda(OGDA_LR), steps),
        "optax.optimistic_gd": ogda_loop(
            optax.optimistic_gradient_descent(OGDA_LR), steps
        ),
        "mmx (A/A)": ogda_loop(mmx.optimistic_gda(OGDA_LR), steps),
    }
    a = loops["mmx.optimistic_gda"](z0)[0]
    b = loops["optax.optimistic_gd"](z0)[0]
    diff = _paired.max_rel([np.asarray(x) for x in a], [np.asarray(x) for x in b])
    result = _measure({k: _blocking(f, z0) for k, f in loops.items()}, repeats)
    out = summarise(
        result,
        [("mmx.optimistic_gda", "optax.optimistic_gd", "mmx/optax")],
        ("mmx (A/A)", "mmx.optimistic_gda"),
        TARGETS["optimistic"],
        ["mmx/optax"],
        per_call=steps,
        unit="iteration",
    )
    out["problem"] = (
        f"two players {side}x{side} ({2 * side * side:,} params), elementwise "
        f"field, {steps} iterations a call, lr {OGDA_LR}"
    )
    out["agreement_max_rel"] = diff
    return out


# --- solve against the hand-written loops -------------------------------------


def solve(quick: bool, repeats: int) -> dict[str, Any]:
    game = overhead.games(quick)["nd"]
    rows = {}
    for rule, optimizer in overhead.rules().items():
        if quick and rule not in QUICK_SOLVE_RULES:
            continue
        fns = overhead.programs(game, rule, optimizer)
        fns = {k: fns[k] for k in ("hand", "solve", "hand again")}
        outputs = {
            k: jax.block_until_ready(f(game.z0, game.data)) for k, f in fns.items()
        }
        diff = overhead.relative_difference(
            overhead.trace_of(outputs["solve"]), overhead.trace_of(outputs["hand"])
        )
        result = _paired.measure(
            {k: _blocking(f, game.z0, game.data) for k, f in fns.items()}, repeats
        )
        row = summarise(
            result,
            [("solve", "hand", "solve/hand")],
            ("hand again", "hand"),
            TARGETS["solve"],
            ["solve/hand"],
            per_call=game.num_steps,
            unit="evaluation",
        )
        row["trace_max_rel"] = diff
        rows[rule] = row
    return {
        "problem": f"{game.name}, {game.num_steps:,} field evaluations a call",
        "rows": rows,
    }


# --- dense bilinear: the field against its two matrix-vector products ----------


def bilinear_loop(kind: str, evaluations: int) -> Callable[..., Any]:
    """``evaluations`` steps ``z ← b + ½V(z)`` (one field evaluation each) of
    ``Φ = xᵀAy``: ``kind`` ``"field"`` through ``mmx.field``, ``"matvec"`` the
    two products written out."""

    def run(A: jax.Array, z0: Any, b: Any) -> Any:
        if kind == "field":
            V = mmx.field(lambda x, y: x @ A @ y)
        else:

            def V(z: Any) -> Any:
                x, y = z
                return A @ y, -(x @ A)

        def body(z: Any, _: None) -> tuple[Any, None]:
            v = V(z)
            return tuple(bi + 0.5 * vi for bi, vi in zip(b, v, strict=True)), None

        z, _ = jax.lax.scan(body, z0, length=evaluations)
        return z

    return jax.jit(run)


def bilinear(quick: bool, repeats: int) -> dict[str, Any]:
    n, evaluations = (256, 5) if quick else (4096, 20)
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((n, n)).astype(np.float32)
    # ‖A‖₂ ≈ 2√n for a Gaussian matrix; 1 after scaling by the exact norm.
    matrix /= np.float32(np.linalg.norm(matrix, 2))
    A = jnp.asarray(matrix)
    z0 = tuple(jnp.asarray(rng.uniform(-1, 1, n), jnp.float32) for _ in range(2))
    b = tuple(jnp.asarray(rng.uniform(-1, 1, n), jnp.float32) for _ in range(2))
    loops = {
        "mmx.field": bilinear_loop("field", evaluations),
        "two matvecs": bilinear_loop("matvec", evaluations),
        "mmx.field (A/A)": bilinear_loop("field", evaluations),
    }
    diff = _paired.max_rel(
        [np.asarray(x) for x in loops["mmx.field"](A, z0, b)],
        [np.asarray(x) for x in loops["two matvecs"](A, z0, b)],
    )
    result = _measure({k: _blocking(f, A, z0, b) for k, f in loops.items()}, repeats)
    out = summarise(
        result,
        [("mmx.field", "two matvecs", "field/matvecs")],
        ("mmx.field (A/A)", "mmx.field"),
        TARGETS["bilinear"],
        ["field/matvecs"],
        per_call=evaluations,
        unit="evaluation",
    )
    out["evaluations_per_s"] = {
        name: evaluations / t["median_s"] for name, t in out["times"].items()
    }
    out["problem"] = (
        f"Phi = x^T A y, n = {n} (A float32, {4 * n * n / 2**20:.0f} MiB, an "
        f"argument), {evaluations} evaluations a call"
    )
    out["agreement_max_rel"] = diff
    return out


# --- GAN and adversarial training steps (their benchmarks' contenders) ---------


def gan(quick: bool, repeats: int) -> dict[str, Any]:
    from benchmarks import gan_speed as g

    n = g.QUICK_BLOCK if quick else g.BLOCK
    key = jax.random.key(g.SEED + 1)
    contenders: dict[str, g.Contender] = {
        g.NNX: g.Nnx(n, key),
        g.LINEN: g.Linen(n, key),
        g.HAND: g.Hand(n, key),
        g.AA: g.Nnx(n, key, twin=not quick),
    }
    result = _measure({k: c.block for k, c in contenders.items()}, repeats)
    out = summarise(
        result,
        [(g.NNX, g.HAND, "nnx/hand"), (g.LINEN, g.HAND, "linen/hand")],
        (g.AA, g.NNX),
        TARGETS["gan"],
        ["nnx/hand", "linen/hand"],
        per_call=n,
        unit="iteration",
    )
    out["problem"] = (
        f"WGAN-GP ExtraAdam on 25 Gaussians (benchmarks.gan_speed), batch "
        f"{g.BATCH_SIZE}, blocks of {n} iterations"
    )
    return out


def adversarial(quick: bool, repeats: int) -> dict[str, Any]:
    from benchmarks.adversarial import speed as a

    batch = a.QUICK_BATCH_SIZE if quick else a.BATCH_SIZE
    work = a.workload(3 if quick else None, batch)
    library, twin = a.Library(work), a.Library(work)
    if quick:
        twin.step = library.step  # the same compiled step: one compile fewer
    contenders: dict[str, a.Contender] = {
        a.LIBRARY: library,
        a.HAND: a.Hand(work),
        a.AA: twin,
    }
    result = _measure({k: c.epoch for k, c in contenders.items()}, repeats)
    steps = len(work.batches)
    out = summarise(
        result,
        [(a.LIBRARY, a.HAND, "library/hand")],
        (a.AA, a.LIBRARY),
        TARGETS["adversarial"],
        ["library/hand"],
        per_call=steps,
        unit="step",
    )
    out["problem"] = (
        f"PGD-{a.NUM_STEPS} adversarial training of the digits SmallCNN "
        f"(benchmarks.adversarial.speed), batch {batch}, {steps} steps an epoch"
    )
    return out


RUNNERS: dict[str, Callable[[bool, int], dict[str, Any]]] = {
    "optimistic": optimistic,
    "solve": solve,
    "bilinear": bilinear,
    "gan": gan,
    "adversarial": adversarial,
}


# --- report ---------------------------------------------------------------------


def _verdict_text(v: dict[str, Any], median: float) -> str:
    state = "met" if v["met"] else "missed"
    spread = "within" if v["within_aa_spread"] else "outside"
    return f"{state} (<= {v['target']}; {spread} the A/A spread)"


def _section_lines(name: str, section: dict[str, Any]) -> list[str]:
    rows = section.get("rows", {"": section})
    lines = [f"== {name}: {section['problem']}"]
    width = 24
    for rule, row in rows.items():
        if rule:
            lines.append(f"  -- {rule}")
        for contender, t in row["times"].items():
            per = next(k for k in t if k.startswith("median_s_per_"))
            lines.append(
                f"  {contender:<{width}} median {1e3 * t['median_s']:10.3f} ms  "
                f"min {1e3 * t['min_s']:10.3f} ms  "
                f"({1e6 * t[per]:.2f} us per {per.removeprefix('median_s_per_')})"
            )
        for label, r in row["ratios"].items():
            text = (
                f"  {label:<{width}} {r['median']:.3f}  "
                f"(min-max {r['min']:.3f}-{r['max']:.3f})"
            )
            if label in row["verdicts"]:
                text += "  " + _verdict_text(row["verdicts"][label], r["median"])
            lines.append(text)
    if "evaluations_per_s" in section:
        lines.append(
            "  evaluations/s: "
            + ", ".join(
                f"{k} {v:,.0f}" for k, v in section["evaluations_per_s"].items()
            )
        )
    if "agreement_max_rel" in section:
        lines.append(
            f"  agreement (contender against its baseline, max relative "
            f"difference): {section['agreement_max_rel']:.1e}"
        )
    return lines


def summary_table(sections: dict[str, dict[str, Any]]) -> str:
    """One line per held ratio: the median, its min-max, the target, the A/A."""
    header = (
        f"{'section':<12} {'ratio':<28} {'median':>7} {'min-max':>13} "
        f"{'A/A median':>10} {'target':>6}  verdict"
    )
    lines = [header, "-" * len(header)]
    for name, section in sections.items():
        rows = section.get("rows", {"": section})
        for rule, row in rows.items():
            for label, v in row["verdicts"].items():
                r, aa = row["ratios"][label], row["ratios"]["A/A"]
                full = f"{label} {rule}".strip()
                lines.append(
                    f"{name:<12} {full:<28} {r['median']:>7.3f} "
                    f"{r['min']:>6.3f}-{r['max']:<6.3f} {aa['median']:>10.3f} "
                    f"{v['target']:>6}  {_verdict_text(v, r['median'])}"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description=(__doc__ or "").split("\n")[0],
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated subset of: " + ", ".join(SECTIONS),
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds")
    parser.add_argument(
        "--out",
        default="benchmark_results/speed.json",
        help="the JSON file written (default %(default)s)",
    )
    options = parser.parse_args(argv)
    repeats = options.repeats or (QUICK_REPEATS if options.quick else REPEATS)
    if repeats < 1:
        parser.error("--repeats must be a positive int")
    chosen = [s for s in options.sections.split(",") if s]
    unknown = [s for s in chosen if s not in RUNNERS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")

    info = machine()
    print(
        f"{info['platform']}; {info['cpu']}, {info['cores']} cores; Python "
        f"{info['python']}; jax {info['jax']}, optax {info['optax']}; "
        f"{info['backend']} device: {info['device']}; load average "
        + " ".join(f"{x:.1f}" for x in info["load_average"])
    )
    print(
        f"wall clock, {repeats} paired rounds (order rotating), compile excluded; "
        "ratios: median over rounds of the per-round ratio (min-max)\n"
    )
    sections: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for name in chosen:
        start = time.perf_counter()
        sections[name] = RUNNERS[name](options.quick, repeats)
        seconds[name] = time.perf_counter() - start
        print("\n".join(_section_lines(name, sections[name])))
        print(f"  ({seconds[name]:.0f} s with compilation)\n")
    print(summary_table(sections))
    info["load_average_end"] = list(os.getloadavg())
    print(
        "load average at the end: "
        + " ".join(f"{x:.1f}" for x in info["load_average_end"])
    )
    result = {
        "machine": info,
        "quick": options.quick,
        "repeats": repeats,
        "seconds": seconds,
        "sections": sections,
    }
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written: {out}")
    return result


if __name__ == "__main__":
    main()
