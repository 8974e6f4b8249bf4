"""``python -m benchmarks.gan``: mode coverage of GANs on Gaussian mixtures.

Trains a small GAN (MLP generator and critic, batch 256) on the 25-Gaussians
grid and the 8-Gaussians ring with each rule (simultaneous Adam, alternating
Adam with five critic steps per generator step, optimistic Adam, ExtraAdam,
extragradient with SGD, Extra-RMSProp through ``mmx.extra``, Mirror-GAN and
Mirror-Prox-GAN through ``mmx.mixed_ne_ld``) and each loss
(WGAN-GP, non-saturating), over several seeds, then prints per dataset × loss
a table of modes covered, high-quality share and W₁ to the target (mean and
min–max over seeds), for the last iterate and the generator EMA, with the wall
time per run.

Configurations:

* ``--quick``: a smoke test (8-Gaussians ring, non-saturating loss, simultaneous
  Adam against extragradient, one seed, 200 iterations, 500 evaluation
  samples).
* default: a reduced run for two CPU cores (under ten minutes; 264 s on an idle
  2-core VM): the 8-Gaussians ring, WGAN-GP, the six rules of one to six field
  evaluations an iteration at their default learning rate (not the Mirror rules,
  whose iterations cost five and eleven: add them with ``--rules``), 3 seeds,
  1,000 iterations.
* ``--full``: the same six rules × every loss × dataset (the Mirror rules on
  request), each rule's learning rate tuned on its grid (seed 0, a fifth of the
  iterations, least W₁; the grid's table is printed), then 3 seeds at the
  chosen rate, 60,000 iterations on the grid and 20,000 on the ring: hours on a
  CPU.

Every run is written to ``--out``/``runs`` as it finishes. ``--resume`` reuses the
runs found there with the same configuration, so a long run that was stopped
goes on where it was, and slices of ``--full`` made by separate commands (other
``--rules``, other machines) add up to its table. ``--report`` prints the tables
and draws the plots from the saved runs alone, leaving out the rules whose runs
are not all there yet.

Plots (in ``--out``): ``gan_<dataset>_<loss>_samples.png``, one scatter panel
per rule (seed 0, last iterate, target means marked), and
``gan_<dataset>_<loss>_curves.png``, modes, high-quality share and W₁ versus
iteration (mean over seeds).
"""

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.games import machine
from benchmarks.gan import mixtures, train

# The rules of the default run and of --full. The default run is sized for under
# ten minutes on two cores; train.COSTLY, the Mirror rules, are neither in it nor
# in --full, only on request (--rules).
SIX_RULES = [name for name in train.RULES if name not in train.COSTLY]
DEFAULT: dict[str, Any] = {
    "rules": SIX_RULES,
    "losses": ["wgan_gp"],
    "datasets": ["ring8"],
    "seeds": 3,
    "iterations": 1000,
}
QUICK: dict[str, Any] = {
    "rules": ["sim_adam", "extragradient"],
    "losses": ["non_saturating"],
    "datasets": ["ring8"],
    "seeds": 1,
    "iterations": 200,
}
NUM_EVAL = 2500  # generator and target samples for the final metrics
QUICK_NUM_EVAL = 500
FULL: dict[str, Any] = {
    "rules": SIX_RULES,
    "losses": list(train.LOSSES),
    "datasets": list(mixtures.DATASETS),
    "seeds": 3,
    "iterations": None,  # per dataset: FULL_ITERATIONS
}
FULL_ITERATIONS = {"grid25": 60_000, "ring8": 20_000}
# --full tunes each rule's learning rate on seed 0 over this fraction of the
# iterations, then trains every seed at the rate with the least W₁ (best_lr).
TUNE_FRACTION = 5


def _names(value: str) -> list[str]:
    return [name for part in value.split(",") for name in part.split() if name]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; unknown names are rejected with the choices."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gan", description=__doc__.split("\n")[0]
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a smoke test")
    size.add_argument(
        "--full", action="store_true", help="everything with the lr grid (hours)"
    )
    parser.add_argument("--rules", default=None, help="comma-separated rules")
    parser.add_argument("--losses", default=None, help="comma-separated losses")
    parser.add_argument("--datasets", default=None, help="comma-separated datasets")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument(
        "--eval-every", type=int, default=None, help="iterations between curve points"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmark_results"))
    saved = parser.add_mutually_exclusive_group()
    saved.add_argument(
        "--resume",
        action="store_true",
        help="reuse the runs already in OUT/runs with the same configuration",
    )
    saved.add_argument(
        "--report",
        action="store_true",
        help="tables and plots from the runs in OUT/runs only; train nothing",
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL if args.full else DEFAULT
    for kind, known in (
        ("rules", train.RULES),
        ("losses", train.LOSSES),
        ("datasets", mixtures.DATASETS),
    ):
        value = getattr(args, kind)
        chosen = _names(value) if value else list(base[kind])
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            parser.error(
                f"unknown {kind} {', '.join(unknown) or '(none)'}; choose from "
                f"{', '.join(known)}"
            )
        setattr(args, kind, chosen)
    if args.seeds is None:
        args.seeds = base["seeds"]
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.iterations is None:
        args.iterations = base["iterations"]
    if args.iterations is not None and args.iterations < 1:
        parser.error(f"--iterations must be at least 1, got {args.iterations}")
    if args.eval_every is not None and args.eval_every < 1:
        parser.error(f"--eval-every must be at least 1, got {args.eval_every}")
    return args


def _iterations(args: argparse.Namespace, dataset: str) -> int:
    return int(args.iterations or FULL_ITERATIONS[dataset])


def _tune_iterations(iterations: int) -> int:
    return max(1, iterations // TUNE_FRACTION)


def _eval_every(args: argparse.Namespace, iterations: int) -> int:
    if args.eval_every is not None:
        return int(args.eval_every)
    return max(50, iterations // 10)


def _cell(values: Sequence[float], fmt: str) -> str:
    v = np.asarray(values, np.float64)
    if len(v) == 1:
        return format(v[0], fmt)
    return f"{format(v.mean(), fmt)} [{format(v.min(), fmt)}–{format(v.max(), fmt)}]"


def table(
    mixture: mixtures.Mixture,
    loss: str,
    iterations: int,
    rows: list[tuple[str, float, list[train.RunResult]]],
    num_eval: int = NUM_EVAL,
    caption: str = "",
) -> str:
    """One dataset × loss: a row per rule (and learning rate), mean [min–max]."""
    seeds = len(rows[0][2]) if rows else 0
    head = (
        f"{'rule':<37} {'lr':>7} {'modes':>15} {'HQ (%)':>17} {'W1':>18} "
        f"{'modes EMA':>15} {'HQ EMA (%)':>17} {'W1 EMA':>18} {'s/run':>6}"
    )
    lines = [
        f"{caption}{mixture.name} ({mixture.num_modes} modes, σ = {mixture.sigma:g}), "
        f"{train.LOSS_LABELS[loss]}: {seeds} seed(s) × {iterations} iterations; "
        f"{num_eval:,} samples; mean [min–max] over seeds",
        head,
        "-" * len(head),
    ]
    for name, lr, results in rows:
        lines.append(
            f"{train.RULES[name].label:<37} {lr:>7.0e} "
            f"{_cell([r.final['modes'] for r in results], '.1f'):>15} "
            f"{_cell([100 * r.final['hq'] for r in results], '.1f'):>17} "
            f"{_cell([r.final['w'] for r in results], '.3f'):>18} "
            f"{_cell([r.ema['modes'] for r in results], '.1f'):>15} "
            f"{_cell([100 * r.ema['hq'] for r in results], '.1f'):>17} "
            f"{_cell([r.ema['w'] for r in results], '.3f'):>18} "
            f"{np.mean([r.seconds for r in results]):>6.1f}"
        )
    for name, lr, results in rows:
        at = [r.diverged for r in results]
        if any(a is not None for a in at):
            lines.append(
                f"{train.RULES[name].label} (lr {lr:g}) diverged, generator not "
                "finite, by iteration: "
                + ", ".join("-" if a is None else f"{a:,}" for a in at)
                + " (seeds in order; training stopped there)"
            )
    return "\n".join(lines)


def plot_samples(
    path: Path,
    mixture: mixtures.Mixture,
    title: str,
    panels: list[tuple[str, train.RunResult]],
) -> None:
    """One scatter panel per rule: seed 0's last-iterate samples, means marked."""
    import matplotlib.pyplot as plt

    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9), squeeze=False)
    lim = float(np.abs(mixture.means).max()) * 1.5
    for ax, (label, result) in zip(axes[0], panels, strict=True):
        x = result.samples
        ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, color="C0")
        ax.scatter(
            mixture.means[:, 0], mixture.means[:, 1], s=12, marker="x", color="C3"
        )
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[])
        ax.set_aspect("equal")
        ax.set_title(
            f"{label}\n{result.final['modes']:.0f}/{mixture.num_modes} modes",
            fontsize=7,
        )
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def plot_curves(
    path: Path,
    mixture: mixtures.Mixture,
    title: str,
    curves: list[tuple[str, list[train.RunResult]]],
) -> None:
    """Modes, high-quality share and W₁ (500 samples) versus iteration."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), layout="constrained")
    for i, (label, results) in enumerate(curves):
        it = np.asarray(results[0].curve["iteration"])
        for ax, key, scale in zip(
            axes, ("modes", "hq", "w"), (1.0, 100.0, 1.0), strict=True
        ):
            values = scale * np.mean([r.curve[key] for r in results], axis=0)
            ax.plot(it, values, color=f"C{i}", label=label)
    axes[0].set(xlabel="iteration", ylabel="modes covered", ylim=(0, None))
    axes[0].axhline(mixture.num_modes, color="grey", lw=0.5)
    axes[1].set(xlabel="iteration", ylabel="high-quality samples (%)")
    axes[2].set(xlabel="iteration", ylabel="W₁ (500 samples)", yscale="log")
    axes[0].legend(fontsize=6)
    fig.suptitle(title + " (mean over seeds)", fontsize=9)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def best_lr(grid: Sequence[tuple[float, train.RunResult]]) -> float:
    """The learning rate whose run ends with the least W₁ to the target (last
    iterate; a diverged run, W₁ infinite or NaN, last); the first of the grid on a
    tie.

    W₁ rather than the modes covered: a fifth of the way through, the mode counts
    are small and noisy (on the grid, 0 to 2 of 25 for ExtraAdam at every rate of
    its grid after 12,000 iterations), while W₁ moves with both the modes reached
    and the mass put near them."""

    def w(pair: tuple[float, train.RunResult]) -> float:
        value = pair[1].final["w"]
        return value if np.isfinite(value) else np.inf

    return min(grid, key=w)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Train, print the tables and write the plots."""
    tic = time.perf_counter()
    args = parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    from tqdm import tqdm  # type: ignore[import-untyped]

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mode = " (quick)" if args.quick else " (full)" if args.full else ""
    print(f"minimaxjax GAN benchmark{mode}: mixtures of Gaussians")
    print(f"machine: {machine()}")
    print(
        f"rules: {', '.join(args.rules)}; losses: {', '.join(args.losses)}; "
        f"datasets: {', '.join(args.datasets)}; {args.seeds} seed(s); batch "
        f"{train.BATCH}; Adam betas {train.BETAS}; "
        f"{'learning-rate grid' if args.full else 'default learning rates'}"
    )
    print(f"output folder: {out}\n")
    sys.stdout.flush()

    num_eval = QUICK_NUM_EVAL if args.quick else NUM_EVAL
    tune = args.full
    groups = [
        (dataset, loss, name)
        for dataset in args.datasets
        for loss in args.losses
        for name in args.rules
    ]
    total = sum(
        _iterations(args, dataset) * args.seeds
        + (len(train.RULES[name].grid) * _tune_iterations(_iterations(args, dataset)))
        * tune
        for dataset, _, name in groups
    )
    runs = out / "runs"
    resumed = 0
    missing = 0  # --report: runs not saved yet
    incomplete: list[str] = []  # --report: groups left out of the tables

    def run(
        bar: Any, dataset: str, loss: str, name: str, lr: float, seed: int, n: int
    ) -> train.RunResult | None:
        nonlocal resumed, missing
        bar.set_description(f"{dataset} / {loss} / {name} lr={lr:g} / seed {seed}")
        every = _eval_every(args, n)
        path = runs / (
            f"{dataset}_{loss}_{name}_lr{lr:g}_seed{seed}_{n}it_every{every}_"
            f"{num_eval}samples.npz"
        )
        if (args.resume or args.report) and path.exists():
            resumed += 1
            bar.update(n)
            return train.RunResult.load(path)
        if args.report:
            missing += 1
            bar.update(n)
            return None
        result = train.train(
            train.make_rule(name, lr),
            loss=loss,
            dataset=dataset,
            seed=seed,
            iterations=n,
            eval_every=every,
            num_eval=num_eval,
            progress=bar.update,
        )
        result.save(path)
        return result

    tuned: dict[tuple[str, str, str], list[tuple[float, train.RunResult]]] = {}
    results: dict[tuple[str, str, str], tuple[float, list[train.RunResult]]] = {}
    with tqdm(
        total=total, file=sys.stderr, disable=None, unit="it", smoothing=0.05
    ) as bar:
        for dataset, loss, name in groups:
            iterations = _iterations(args, dataset)
            lr = train.RULES[name].lr
            if tune:
                short = _tune_iterations(iterations)
                tries = [
                    (rate, run(bar, dataset, loss, name, rate, 0, short))
                    for rate in train.RULES[name].grid
                ]
                grid = [(rate, r) for rate, r in tries if r is not None]
                if len(grid) < len(tries):  # --report: the rate is not chosen yet
                    bar.update(iterations * args.seeds)
                    missing += args.seeds
                    incomplete.append(f"{dataset}/{loss}/{name}")
                    continue
                tuned[(dataset, loss, name)] = grid
                lr = best_lr(grid)
            trained = [
                run(bar, dataset, loss, name, lr, seed, iterations)
                for seed in range(args.seeds)
            ]
            done = [r for r in trained if r is not None]
            if len(done) == len(trained):
                results[(dataset, loss, name)] = (lr, done)
            else:
                incomplete.append(f"{dataset}/{loss}/{name}")

    for dataset in args.datasets:
        mixture = mixtures.DATASETS[dataset]()
        iterations = _iterations(args, dataset)
        for loss in args.losses:
            if tune:
                rows = [
                    (name, rate, [result])
                    for name in args.rules
                    for rate, result in tuned.get((dataset, loss, name), [])
                ]
                caption = "learning-rate grid, seed 0: "
                short = _tune_iterations(iterations)
                if rows:
                    print(table(mixture, loss, short, rows, num_eval, caption) + "\n")
            rows = [
                (name, *results[(dataset, loss, name)])
                for name in args.rules
                if (dataset, loss, name) in results
            ]
            if not rows:
                continue
            caption = "chosen learning rates: " if tune else ""
            print(table(mixture, loss, iterations, rows, num_eval, caption) + "\n")
            labelled = [
                (f"{train.RULES[name].label}, lr {lr:g}", seeds)
                for name, lr, seeds in rows
            ]
            title = f"{dataset}, {train.LOSS_LABELS[loss]}, {iterations} iterations"
            stem = f"gan_{dataset}_{loss}"
            plot_samples(
                out / f"{stem}_samples.png",
                mixture,
                title + ", seed 0",
                [(label, seeds[0]) for label, seeds in labelled],
            )
            plot_curves(out / f"{stem}_curves.png", mixture, title, labelled)
            sys.stdout.flush()
    if resumed:
        print(f"{resumed} run(s) read from {runs}")
    if missing:
        print(
            f"--report: {missing} run(s) not saved yet; left out of the tables: "
            f"{', '.join(incomplete)}"
        )
    print(f"total time: {time.perf_counter() - tic:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
