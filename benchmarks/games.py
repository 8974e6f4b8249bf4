"""Every update rule on every game of the zoo: who converges, how fast, and where not.

``python -m benchmarks`` runs each rule on each game of ``mmx.games.ALL`` from a grid
of starting points (the literature's start and random ones in the game's box) and
step sizes (fractions of ``1/L``), all at once: one ``jax.vmap`` of
``mmx.solve`` over the flattened grid, one compilation per rule and game. Every run
gets the same budget of field evaluations (``num_steps``), so an extragradient
iteration (two evaluations) is charged twice what a GDA iteration is, and stops at
``‖V‖ ≤ 1e-6``. Per game it prints a table:

* **converged**: the fraction of starts with ``‖V‖ < 1e-6`` within the budget, at
  the best step size;
* **at z***: of those, the fraction that ended within ``1e-2`` of the game's
  known solution (the rest found another zero of ``V``: the spurious critical
  points of the weird saddle and the escaping trap);
* **median evals**: the median number of field evaluations those runs needed;
* **best step**: the step size with the most converged starts (ties: the fewest
  evaluations; when none converges, the smallest ‖V‖ at the end), as a multiple
  of ``1/L``;
* **verdict**: *converged* when at least half the starts converge at the best
  step, most of them to ``z*`` (*spurious* when most converge elsewhere).
  Otherwise :func:`minimaxjax.diagnostics.detect_cycle` reads the ‖V‖ trace of
  the literature's start at every step size: *cycle* if it finds a limit cycle
  (bounded, periodic, ‖V‖ bounded away from 0) at some step size, *diverged* if
  at least half the step sizes diverge (non-finite, or ‖V‖ growing exponentially
  or at least like √k), *slow* if ‖V‖ is still shrinking at some step size when
  the budget runs out, *saturating* if ‖V‖ grows ever more slowly at some step
  size, not seen to diverge (ExtraAdam's bounded orbit on the bilinear game; a
  projected game's iterates are bounded, so its growth is never divergence),
  *unclear* otherwise.

The adaptive rule (``adaptive_extragradient_plus``) has no step size; it gets the
same budget of field evaluations as the others (``solve`` stops it before an
iteration could exceed it; its power iterations on the linearised field are
Jacobian–vector products, not counted) and the game's weak-Minty bound ``ρ``
(``Game.weak_mvi_rho``: 0 for monotone games, which lets it take the long steps
the conservative default forgoes). Constrained games
hand their projection to the rule itself, so ``solve`` and the trajectories of the
phase portraits run exactly the same iteration.

Plots (in ``--out``; PNG at 150 dpi, or ``--format svg|pdf``): per game a phase
portrait with each rule's trajectory from the literature's start (planar games)
and the known spurious critical points, and the ‖V‖ curves from that start; a
summary coloured by verdict with the converged fractions; and the stability
regions of the linear rules.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minimaxjax as mmx
from minimaxjax import diagnostics
from minimaxjax import games as zoo

PyTree = Any
Projection = Callable[[PyTree], PyTree] | None

TOL = 1e-6
INNER_STEPS = 5  # proximal point: fixed-point steps per iteration
UPDATE_RATIO = 0.5  # EG+: the second step as a fraction of the first
PORTRAIT_ITERATIONS = 300  # iterations drawn in the phase portraits
AT_SOLUTION = 1e-2  # a converged run ending this close to z* found the solution


# --------------------------------------------------------------------------------
# Rules


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule as the benchmark builds it for a game: ``build(step_size, game)``."""

    name: str
    build: Callable[[Any, zoo.Game], optax.GradientTransformation]
    note: str = ""
    adaptive: bool = False  # picks its own steps: no step-size grid


# The registry's options this benchmark runs with, and the note its table prints.
OPTIONS = {
    "proximal_point": (
        {"inner_steps": INNER_STEPS},
        f"{INNER_STEPS} fixed-point steps",
    ),
    "extragradient_plus": ({"update_ratio": UPDATE_RATIO}, f"β={UPDATE_RATIO}"),
    "extra_adam": ({}, "b1=0.9, b2=0.999"),
}


def _registered(spec: mmx.rules.RuleSpec) -> Rule:
    options, note = OPTIONS.get(spec.name, ({}, ""))

    def build(lr: Any, game: zoo.Game) -> optax.GradientTransformation:
        if spec.name == "alternating_gda":  # players move in turn: project each move
            rule = spec.build(lr, **options)
            return (
                rule
                if game.projection is None
                else mmx.projected(rule, game.projection)
            )
        return spec.build(lr, projection=game.projection, **options)

    return Rule(spec.name, build, note)


def _adaptive(lr: Any, game: zoo.Game) -> optax.GradientTransformation:
    # The game's weak-Minty bound lets the rule take longer steps where it is
    # monotone (ρ = 0); None keeps the conservative default.
    return mmx.adaptive_extragradient_plus(
        projection=game.projection, rho=game.weak_mvi_rho
    )


def all_rules() -> dict[str, Rule]:
    """The registered rules and the adaptive one, by name."""
    rules = [_registered(spec) for spec in mmx.rules.RULES.values()]
    rules.append(
        Rule(
            "adaptive_extragradient_plus",
            _adaptive,
            note="curvature EG+ with the game's ρ; no step size",
            adaptive=True,
        )
    )
    return {rule.name: rule for rule in rules}


# --------------------------------------------------------------------------------
# Configuration


@dataclasses.dataclass(frozen=True)
class Config:
    """What one run of the benchmark does."""

    games: tuple[str, ...]
    rules: tuple[str, ...]
    budget: int  # field evaluations per run
    num_starts: int  # the literature's start and num_starts - 1 random ones
    step_fractions: tuple[float, ...]  # step sizes, as multiples of 1/L
    phase_portraits: bool  # record trajectories (planar games) and draw them
    stability_plot: bool
    seed: int = 0


QUICK_GAMES = ("bilinear", "forsaken")


def make_config(
    *,
    quick: bool,
    games: Sequence[str] | None = None,
    rules: Sequence[str] | None = None,
) -> Config:
    """The default run, or the ``--quick`` smoke run: fewer games, starts, step sizes
    and evaluations, and no trajectories (their compilation would double the time),
    so convergence plots and the summary only."""
    if quick:
        return Config(
            games=tuple(games or QUICK_GAMES),
            rules=tuple(rules or all_rules()),
            budget=400,
            num_starts=8,
            step_fractions=(0.1, 0.3, 1.0),
            phase_portraits=False,
            stability_plot=False,
        )
    return Config(
        games=tuple(games or zoo.ALL),
        rules=tuple(rules or all_rules()),
        budget=2000,
        num_starts=32,
        step_fractions=(0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
        phase_portraits=True,
        stability_plot=True,
    )


# --------------------------------------------------------------------------------
# Running one rule on one game


@dataclasses.dataclass
class Result:
    """The runs of one rule on one game, as NumPy arrays over (step, start)."""

    game: str
    rule: str
    adaptive: bool
    step_sizes: np.ndarray  # (S,) absolute; NaN for the adaptive rule
    step_fractions: np.ndarray  # (S,) multiples of 1/L
    status: np.ndarray  # (S, N) int
    evaluations: np.ndarray  # (S, N) field evaluations used
    iterations: np.ndarray  # (S, N) iterations made
    field_norm: np.ndarray  # (S, N, T) ‖V‖ per evaluation
    distance: np.ndarray  # (S, N) ‖z_final − z*‖ (NaN when the game has no z*)
    trajectories: np.ndarray | None  # (S, I + 1, 2) iterates from the start, planar
    per_iteration: int  # field evaluations per iteration (1 for the adaptive rule)
    budget: int  # field evaluations each run was given
    seconds: float = 0.0
    projected: bool = False  # the game's constraint set bounds every iterate
    # Filled by summarise():
    best: int = 0
    fraction: float = 0.0
    at_solution: float = math.nan  # of the converged runs, the fraction at z*
    median_evaluations: float = math.nan
    verdict: str = ""


def is_planar(game: zoo.Game) -> bool:
    """Two players with one coordinate each: a phase portrait can show it."""
    return len(jax.tree.leaves(game.init)) == 2 and all(
        np.size(leaf) == 1 for leaf in jax.tree.leaves(game.init)
    )


def _start_box(game: zoo.Game) -> tuple[np.ndarray, np.ndarray]:
    """Per-coordinate bounds to draw random starts from."""
    leaves = jax.tree.leaves(game.init)
    if game.bounds is not None:
        lo = np.concatenate(
            [
                np.full(np.size(x), b[0])
                for x, b in zip(leaves, game.bounds, strict=True)
            ]
        )
        hi = np.concatenate(
            [
                np.full(np.size(x), b[1])
                for x, b in zip(leaves, game.bounds, strict=True)
            ]
        )
        return lo, hi
    centre = game.solution if game.solution is not None else game.init
    c = np.concatenate(
        [np.ravel(np.asarray(x, float)) for x in jax.tree.leaves(centre)]
    )
    z0 = np.concatenate([np.ravel(np.asarray(x, float)) for x in leaves])
    radius = max(1.0, 2.0 * float(np.max(np.abs(z0 - c))))
    return c - radius, c + radius


def sample_starts(game: zoo.Game, num: int, seed: int) -> PyTree:
    """``num`` starts stacked on axis 0: the literature's first, then uniform ones in
    the game's box (projected onto its constraint set)."""
    lo, hi = _start_box(game)
    rng = np.random.default_rng(seed)
    flat = rng.uniform(lo, hi, size=(num - 1, lo.shape[0]))
    leaves, treedef = jax.tree.flatten(game.init)
    sizes = np.cumsum([0] + [int(np.size(x)) for x in leaves])
    randoms = jax.tree.unflatten(
        treedef,
        [
            jnp.asarray(
                flat[:, sizes[i] : sizes[i + 1]].reshape((num - 1, *np.shape(x))),
                jnp.result_type(x),
            )
            for i, x in enumerate(leaves)
        ],
    )
    if game.projection is not None:
        randoms = jax.vmap(game.projection)(randoms)
    return jax.tree.map(
        lambda first, rest: jnp.concatenate([first[None], rest]), game.init, randoms
    )


def run(game: zoo.Game, rule: Rule, config: Config) -> Result:
    """All starts × step sizes of one rule on one game: one compiled program."""
    tic = time.perf_counter()
    if rule.adaptive:
        fractions = np.array([math.nan])
    else:
        fractions = np.asarray(config.step_fractions, dtype=float)
    num_steps = config.budget
    lipschitz = float(game.lipschitz or 1.0)
    step_sizes = fractions / lipschitz
    starts = sample_starts(game, config.num_starts, config.seed)
    num_starts, num_sizes = config.num_starts, fractions.shape[0]
    planar = config.phase_portraits and is_planar(game)
    dtype = jnp.result_type(jax.tree.leaves(game.init)[0])

    def solve_one(z0: PyTree, lr: jax.Array) -> tuple[jax.Array, ...]:
        sol = mmx.solve(game.field, z0, rule.build(lr, game), num_steps, tol=TOL)
        if game.solution is None:
            distance = jnp.full([], jnp.nan)
        else:
            distance = jnp.sqrt(
                sum(
                    jnp.sum(jnp.square(a - b))
                    for a, b in zip(
                        jax.tree.leaves(sol.params),
                        jax.tree.leaves(game.solution),
                        strict=True,
                    )
                )
            )
        return (
            sol.status,
            sol.stats["num_evaluations"],
            sol.stats["num_iterations"],
            sol.trace["field_norm"],
            distance,
        )

    # One iteration of the rule costs this many evaluations (1 for the adaptive
    # rule: its trajectory and trace are recorded per evaluation).
    per_iteration = (
        1
        if rule.adaptive
        else mmx.rules.evaluations_per_iteration(
            rule.build(step_sizes[0], game), game.init
        )
    )
    num_iterations = min(PORTRAIT_ITERATIONS, max(1, num_steps // per_iteration))

    def trajectory(lr: jax.Array) -> PyTree:
        path = diagnostics.trajectory(
            game.field, game.init, rule.build(lr, game), num_iterations
        )
        return jnp.stack([jnp.ravel(x) for x in path.iterates], axis=-1).reshape(
            num_iterations + 1, 2
        )

    @jax.jit
    def program(zs: PyTree, lrs_flat: jax.Array, lrs: jax.Array) -> Any:
        runs = jax.vmap(solve_one)(zs, lrs_flat)
        paths = jax.vmap(trajectory)(lrs) if planar else None
        return runs, paths

    tiled = jax.tree.map(
        lambda x: jnp.tile(x, (num_sizes,) + (1,) * (x.ndim - 1)), starts
    )
    lrs = jnp.asarray(np.nan_to_num(step_sizes), dtype)
    (status, evaluations, iterations, norms, distance), paths = jax.block_until_ready(
        program(tiled, jnp.repeat(lrs, num_starts), lrs)
    )
    shape = (num_sizes, num_starts)
    return Result(
        projected=game.projection is not None,
        game=game.name,
        rule=rule.name,
        adaptive=rule.adaptive,
        step_sizes=step_sizes,
        step_fractions=fractions,
        status=np.asarray(status).reshape(shape),
        evaluations=np.asarray(evaluations).reshape(shape),
        iterations=np.asarray(iterations).reshape(shape),
        field_norm=np.asarray(norms, dtype=float).reshape(*shape, -1),
        distance=np.asarray(distance, dtype=float).reshape(shape),
        trajectories=None if paths is None else np.asarray(paths, dtype=float),
        per_iteration=per_iteration,
        budget=config.budget,
        seconds=time.perf_counter() - tic,
    )


# --------------------------------------------------------------------------------
# Summaries


def summarise(result: Result) -> Result:
    """Pick the best step size and a verdict (see the module docstring)."""
    converged = result.status == mmx.Status.CONVERGED
    fractions = converged.mean(axis=1)
    with np.errstate(all="ignore"):
        used = np.where(converged, result.evaluations, np.nan).astype(float)
        medians = np.array(
            [np.nanmedian(row) if np.isfinite(row).any() else np.inf for row in used]
        )
    if fractions.max() > 0:
        order = sorted(range(len(fractions)), key=lambda s: (-fractions[s], medians[s]))
    else:
        tail = result.field_norm[..., -max(1, result.field_norm.shape[-1] // 4) :]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: stopped early
            smallest = np.nanmin(np.where(np.isfinite(tail), tail, np.inf), axis=-1)
        score = np.where(
            result.status == mmx.Status.DIVERGED, np.inf, smallest
        )  # (S, N)
        order = sorted(range(len(fractions)), key=lambda s: np.median(score[s]))
    best = order[0]
    result.best = best
    result.fraction = float(fractions[best])
    if converged[best].any() and np.isfinite(result.distance[best]).all():
        near = result.distance[best] <= AT_SOLUTION
        result.at_solution = float(near[converged[best]].mean())
    result.median_evaluations = (
        float(medians[best]) if np.isfinite(medians[best]) else math.nan
    )
    result.verdict = _verdict(result)
    return result


def _outcome(result: Result, step: int) -> diagnostics.Outcome:
    """What the run from the literature's start at one step size ended on."""
    if result.status[step, 0] == mmx.Status.DIVERGED:
        return diagnostics.Outcome.DIVERGED
    # ‖V‖ at the committed iterates: the first evaluation of every iteration (the
    # adaptive rule's trace repeats each iteration's ‖V(z^k)‖ for its evaluations).
    trace = result.field_norm[step, 0][:: result.per_iteration]
    if result.adaptive:
        trace = trace[np.r_[True, trace[1:] != trace[:-1]]]
    try:
        # A 10 % change of the size across the tail calls a trend (the default
        # 50 % misses GDA's slow spiral on Φ = xy with small steps).
        return diagnostics.detect_cycle(
            trace, growth=1.1, bounded=result.projected
        ).outcome
    except ValueError:  # too short to tell
        return diagnostics.Outcome.UNKNOWN


def _verdict(result: Result) -> str:
    if result.fraction >= 0.5:
        return "spurious" if result.at_solution < 0.5 else "converged"
    outcomes = [_outcome(result, s) for s in range(result.status.shape[0])]
    if diagnostics.Outcome.LIMIT_CYCLE in outcomes:
        return "cycle"
    if outcomes.count(diagnostics.Outcome.DIVERGED) >= len(outcomes) / 2:
        return "diverged"
    if diagnostics.Outcome.CONVERGED in outcomes:
        return "slow"
    if diagnostics.Outcome.SATURATING in outcomes:
        return "saturating"
    return "unclear"


def _format_step(result: Result) -> str:
    if result.adaptive:
        return "adaptive"
    return f"{result.step_fractions[result.best]:.2f}/L"


def table(game: zoo.Game, results: Sequence[Result], config: Config) -> str:
    """The printed table of one game."""
    lines = [
        f"== {game.name}: {game.description}",
        f"   L = {game.lipschitz:.4g}, start {_fmt_point(game.init)}, "
        f"{config.num_starts} starts x {len(config.step_fractions)} step sizes, "
        f"budget {config.budget} field evaluations, tol {TOL:g}",
    ]
    header = ("rule", "converged", "at z*", "median evals", "best step", "verdict")
    rows = [
        (
            r.rule,
            f"{r.fraction:.0%}",
            "-" if math.isnan(r.at_solution) else f"{r.at_solution:.0%}",
            "-" if math.isnan(r.median_evaluations) else f"{r.median_evaluations:.0f}",
            _format_step(r),
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        return "   " + "  ".join(cells)

    lines += [line(header), "   " + "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in rows]
    return "\n".join(lines)


def _fmt_point(z: PyTree) -> str:
    values = np.concatenate(
        [np.ravel(np.asarray(x, float)) for x in jax.tree.leaves(z)]
    )
    if values.size > 4:
        return f"({values.size} coordinates)"
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"


# --------------------------------------------------------------------------------
# Plots


# Zeros of V other than z*, drawn on the phase portraits: the hyperbolas on which
# the min player sits at a local maximum of its loss (Kamalaruban et al. 2020;
# Hsieh, Mertikopoulos & Cevher 2021, https://arxiv.org/abs/2006.09065).
SPURIOUS_CRITICAL_SETS: dict[str, dict[str, Callable[[Any, Any], Any]]] = {
    "weird_saddle": {"spurious critical points xy = ½": lambda x, y: x * y - 0.5},
    "escaping_trap": {"spurious critical points xω = ½": lambda x, y: x * y - 0.5},
}
FORMATS = ("png", "svg", "pdf")
DPI = 150  # PNG resolution; SVG and PDF are vector graphics


def _plot_bounds(game: zoo.Game) -> Any:
    if game.bounds is not None:
        return game.bounds
    lo, hi = _start_box(game)
    return ((lo[0], hi[0]), (lo[1], hi[1]))


def _squeezed(traces: dict[str, np.ndarray], steps: dict[str, np.ndarray]) -> bool:
    """Whether the fastest run stops within a tenth of the evaluations of the
    longest, so that a linear axis squeezes it against the left edge."""
    ends = []
    for label, trace in traces.items():
        x = steps.get(label, np.arange(1, trace.shape[0] + 1))
        finite = np.isfinite(trace)
        if finite.any():
            ends.append(float(x[finite][-1]))
    return len(ends) > 1 and min(ends) < 0.1 * max(ends)


def plot_game(
    game: zoo.Game, results: Sequence[Result], out: Path, fmt: str = "png"
) -> list[Path]:
    """The phase portrait (planar games) and convergence curves of one game."""
    import matplotlib.pyplot as plt

    from minimaxjax import plotting

    written = []
    paths = {
        f"{r.rule} ({_format_step(r)})": r.trajectories[r.best]
        for r in results
        if r.trajectories is not None
    }
    if paths:
        fig = plotting.phase_portrait(
            game.field,
            paths,
            bounds=_plot_bounds(game),
            solution=game.solution,
            critical_sets=SPURIOUS_CRITICAL_SETS.get(game.name),
            z_like=game.init,
            title=f"{game.name}: trajectories from {_fmt_point(game.init)}",
        )
        fig.set_size_inches(10.0, 7.0)
        written.append(_save(fig, out / f"{game.name}_phase.{fmt}"))
        plt.close(fig)
    traces, steps = {}, {}
    for r in results:
        trace = r.field_norm[r.best, 0]
        label = f"{r.rule} ({_format_step(r)})"
        traces[label] = trace
        if r.adaptive:
            # A trace per iteration: place iteration k at k times the mean number
            # of evaluations per iteration the run used.
            iterations = max(1, int(r.iterations[r.best, 0]))
            scale = float(r.evaluations[r.best, 0]) / iterations
            steps[label] = scale * np.arange(1, trace.shape[0] + 1)
    fig = plotting.convergence(
        traces,
        steps=steps,
        tol=TOL,
        xscale="log" if _squeezed(traces, steps) else "linear",
        title=f"{game.name}: ‖V‖ from {_fmt_point(game.init)} at each rule's best step",
    )
    fig.set_size_inches(8.0, 5.0)
    written.append(_save(fig, out / f"{game.name}_convergence.{fmt}"))
    plt.close(fig)
    return written


def plot_summary(
    results: dict[str, list[Result]],
    rules: Sequence[str],
    out: Path,
    fmt: str = "png",
) -> Path:
    """Every rule on every game, coloured by verdict, with the converged fraction."""
    import matplotlib.pyplot as plt

    from minimaxjax import plotting

    games = list(results)
    values = np.full((len(rules), len(games)), np.nan)
    notes = [["" for _ in games] for _ in rules]
    verdicts = [["" for _ in games] for _ in rules]
    for j, game in enumerate(games):
        for r in results[game]:
            i = rules.index(r.rule)
            values[i, j] = r.fraction
            notes[i][j] = f"{r.fraction:.0%}\n{r.verdict}"
            verdicts[i][j] = r.verdict
    fig = plotting.heatmap(
        values,
        list(rules),
        games,
        annotations=notes,
        outcomes=verdicts,
        colorbar_label="verdict\n(% of starts converged\nat the best step)",
        title="Which rule solves which game",
    )
    path = _save(fig, out / f"summary.{fmt}")
    plt.close(fig)
    return path


def plot_stability(out: Path, fmt: str = "png") -> Path:
    """The stability regions of the rules with a closed-form linearisation."""
    import matplotlib.pyplot as plt

    from minimaxjax import plotting

    fig = plotting.stability_region(
        [
            "gda",
            "alternating_gda",
            "extragradient",
            "extragradient_plus",
            "optimistic_gda",
            "reflected_gda",
            "proximal_point",
        ],
        inner_steps=INNER_STEPS,
        update_ratio=UPDATE_RATIO,
        title="Stable step sizes: h = α·eig(DV(z*)) inside the region",
    )
    path = _save(fig, out / f"stability_regions.{fmt}")
    plt.close(fig)
    return path


def _save(fig: Any, path: Path) -> Path:
    """Write ``fig`` in the format its suffix names (PNG at ``DPI``)."""
    fig.savefig(path, format=path.suffix[1:], dpi=DPI, bbox_inches="tight")
    return path


# --------------------------------------------------------------------------------
# Command line


def machine() -> str:
    """Where the numbers come from."""
    cores = _cores()
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{cores} CPU cores available ({os.cpu_count()} on the machine), "
        f"jax {jax.__version__} on {jax.default_backend()} ({devices}), "
        f"minimaxjax {mmx.__version__}"
    )


def _names(value: str) -> list[str]:
    return [name for part in value.split(",") for name in part.split() if name]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    rules = list(all_rules())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Run every update rule on every game of the zoo from a grid of starts "
            "and step sizes; print a table per game and write plots."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run in seconds (games {', '.join(QUICK_GAMES)} unless "
        "--games says otherwise, 8 starts, 3 step sizes, 400 evaluations, no phase "
        "portraits)",
    )
    parser.add_argument(
        "--games",
        type=_names,
        default=None,
        help=f"comma-separated games (default: all): {', '.join(zoo.ALL)}",
    )
    parser.add_argument(
        "--rules",
        type=_names,
        default=None,
        help=f"comma-separated rules (default: all): {', '.join(rules)}",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmark_results"),
        help="folder for the plots (default: benchmark_results)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="png",
        help=f"file format of the plots (default: png, at {DPI} dpi)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: one per available CPU core; 1 runs "
        "everything in this process)",
    )
    args = parser.parse_args(argv)
    for kind, chosen, known in (
        ("game", args.games, zoo.ALL),
        ("rule", args.rules, rules),
    ):
        unknown = [name for name in chosen or () if name not in known]
        if unknown:
            parser.error(
                f"unknown {kind}(s) {', '.join(unknown)}; "
                f"choose from {', '.join(known)}"
            )
    return args


@functools.cache
def _game(name: str) -> zoo.Game:
    return zoo.ALL[name]()


def run_pair(game: str, rule: str, config: Config) -> Result:
    """One task of the pool: build the game (once per process) and run a rule."""
    return summarise(run(_game(game), all_rules()[rule], config))


def _pool(jobs: int) -> Any:
    """Worker processes (spawned: JAX does not survive a fork) or None for jobs=1."""
    if jobs <= 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def escaping_trap_row(out: Path, fmt: str, quick: bool) -> Path:
    """Mixed strategies on the escaping trap: GDA and extragradient against
    MixedNE-LD over 32 keys (2 with ``quick``), printed, and the trajectories'
    plot."""
    from benchmarks import mixed

    inner_steps = 5 if quick else 100
    if quick:
        trap = mixed.trap_runs(steps=20, iterations=3, inner_steps=inner_steps, seeds=2)
    else:
        trap = mixed.trap_runs(
            steps=3000, iterations=150, inner_steps=inner_steps, seeds=32
        )
    print(mixed.trap_summary(trap, inner_steps) + "\n")
    path = out / f"escaping_trap_mixed.{fmt}"
    mixed.plot_trap(trap, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks``: run, print the tables, write the plots."""
    tic = time.perf_counter()
    args = parse_args(argv)
    config = make_config(quick=args.quick, games=args.games, rules=args.rules)
    import matplotlib

    matplotlib.use("Agg")
    from tqdm import tqdm  # type: ignore[import-untyped]

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(game, rule) for game in config.games for rule in config.rules]
    jobs = min(args.jobs or _cores(), len(tasks))
    quick = " (quick)" if args.quick else ""
    print(f"minimaxjax benchmark: every rule on every game{quick}")
    print(f"machine: {machine()}")
    print(f"worker processes: {jobs}")
    print(f"output folder: {out}")
    print()
    sys.stdout.flush()

    results: dict[str, list[Result]] = {game: [] for game in config.games}
    written: list[Path] = []
    pool = _pool(jobs)
    try:
        if pool is None:
            pending: Any = (run_pair(game, rule, config) for game, rule in tasks)
        else:
            futures = [
                pool.submit(run_pair, game, rule, config) for game, rule in tasks
            ]
            pending = (future.result() for future in futures)
        with tqdm(
            total=len(tasks),
            file=sys.stderr,
            disable=None,  # only on a terminal: logs and pipes get the tables alone
            unit="run",
            dynamic_ncols=True,
        ) as bar:
            for (game, rule), result in zip(tasks, pending, strict=True):
                bar.set_description(f"{game} / {rule}")
                bar.update()
                results[game].append(result)
                if len(results[game]) == len(config.rules):
                    bar.write(
                        table(_game(game), results[game], config) + "\n",
                        file=sys.stdout,
                    )
                    sys.stdout.flush()
                    written += plot_game(_game(game), results[game], out, args.format)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    written.append(plot_summary(results, list(config.rules), out, args.format))
    if config.stability_plot:
        written.append(plot_stability(out, args.format))

    if "escaping_trap" in config.games:
        written.append(escaping_trap_row(out, args.format, args.quick))

    rules = all_rules()
    notes = [f"{name}: {rules[name].note}" for name in config.rules if rules[name].note]
    if notes:
        print("notes: " + "; ".join(notes))
    print(f"wrote {len(written)} plots to {out}:")
    for path in written:
        print(f"  {path.name}")
    print(f"total time: {time.perf_counter() - tic:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
