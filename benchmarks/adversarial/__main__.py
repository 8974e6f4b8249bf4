"""``python -m benchmarks.adversarial``: robust training on real data, as a table.

Trains each model with each method (standard, FGSM-AT, PGD-AT, TRADES, MART,
BETA-AT, DDi; FGSM with a random start on request) through
``minimaxjax.adversarial.nnx_train_step``, then evaluates the best (validation
PGD-10) and last checkpoints: clean accuracy, FGSM, PGD-10, PGD-40, BETA-10,
APGD-CE, APGD-T and the per-example worst case over them, at three radii.

The default is scikit-learn's 8×8 digits (shipped with the package) with an MLP
and a small CNN: a few minutes on two CPU cores. ``--dataset mnist|cifar10
--data-dir DIR`` reads MNIST IDX files or the CIFAR-10 Python batches a user
already has (nothing is downloaded); CIFAR-10 trains a PreAct-ResNet-18 with the
usual ε = 8/255 setting (Rice et al.), a GPU job.

Plots (in ``--out``): accuracy versus ε per model, validation accuracy per epoch
(catastrophic overfitting shows as FGSM accuracy rising while PGD accuracy
collapses) and adversarial examples of the standard and PGD-AT models.
"""

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from benchmarks.adversarial import data as datasets
from benchmarks.adversarial import models, train
from benchmarks.games import machine

# Per dataset: models, training ε, evaluation radii, epochs, batch size, optimizer.
SETTINGS: dict[str, dict[str, Any]] = {
    "digits": {
        "models": ("mlp", "cnn"),
        "eps": 0.1,
        "eval_eps": (0.05, 0.1, 0.2),
        "epochs": 15,
        "batch_size": 64,
        "validation": 200,
    },
    "mnist": {
        "models": ("cnn",),
        "eps": 0.3,
        "eval_eps": (0.1, 0.2, 0.3),
        "epochs": 20,
        "batch_size": 128,
        "validation": 1000,
    },
    "cifar10": {
        "models": ("preact_resnet18",),
        "eps": 8 / 255,
        "eval_eps": (4 / 255, 8 / 255, 16 / 255),
        "epochs": 200,
        "batch_size": 128,
        "validation": 1000,
    },
}


def optimizer(dataset: str, epochs: int, steps_per_epoch: int) -> Any:
    """Adam for the small data sets; Rice et al.'s SGD schedule for CIFAR-10."""
    if dataset != "cifar10":
        return optax.adam(1e-3)
    boundaries = {
        int(0.5 * epochs * steps_per_epoch): 0.1,
        int(0.75 * epochs * steps_per_epoch): 0.1,
    }
    schedule = optax.piecewise_constant_schedule(0.1, boundaries)
    return optax.chain(
        optax.add_decayed_weights(5e-4), optax.sgd(schedule, momentum=0.9)
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.adversarial", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", choices=datasets.NAMES, default="digits")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--models", default=None, help="comma-separated models")
    parser.add_argument("--methods", default=None, help="comma-separated methods")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--train-eps",
        type=float,
        default=None,
        help="training radius ε (default: 0.1 digits, 0.3 MNIST, 8/255 CIFAR-10)",
    )
    parser.add_argument(
        "--eval-eps",
        default=None,
        help="comma-separated evaluation radii (default: 0.05,0.1,0.2 on digits)",
    )
    parser.add_argument("--apgd-steps", type=int, default=100)
    parser.add_argument(
        "--targets", type=int, default=3, help="APGD-T target classes (default 3)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--out", type=Path, default=Path("benchmark_results"))
    args = parser.parse_args(argv)
    setting = SETTINGS[args.dataset]
    # --quick: one small model, standard training against PGD-AT, short attacks.
    default_models = ["mlp"] if args.quick else list(setting["models"])
    default_methods = ["standard", "pgd_at"] if args.quick else train.DEFAULT_METHODS
    chosen = {
        "models": args.models.split(",") if args.models else default_models,
        "methods": args.methods.split(",") if args.methods else list(default_methods),
    }
    for kind, known in (("models", models.MODELS), ("methods", train.METHODS)):
        unknown = [name for name in chosen[kind] if name not in known]
        if unknown:
            parser.error(
                f"unknown {kind} {', '.join(unknown)}; choose from {', '.join(known)}"
            )
    args.models, args.methods = chosen["models"], chosen["methods"]
    if args.epochs is None:
        args.epochs = 2 if args.quick else setting["epochs"]
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.train_eps is not None and not args.train_eps > 0:
        parser.error(f"--train-eps must be positive, got {args.train_eps}")
    if args.eval_eps is not None:
        try:
            args.eval_eps = tuple(float(v) for v in args.eval_eps.split(","))
        except ValueError:
            parser.error(f"--eval-eps must be comma-separated numbers: {args.eval_eps}")
        if not all(v > 0 for v in args.eval_eps):
            parser.error(f"--eval-eps must be positive, got {args.eval_eps}")
    return args


def _subset(data: datasets.Dataset, train_size: int, test_size: int) -> Any:
    return data._replace(
        train_inputs=data.train_inputs[:train_size],
        train_labels=data.train_labels[:train_size],
        test_inputs=data.test_inputs[:test_size],
        test_labels=data.test_labels[:test_size],
    )


def table(model: str, eps: float, rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    """One model's accuracies (%) at radius ε, a row per method and checkpoint."""
    columns = ["clean", *train.ATTACKS, "worst"]
    head = f"{'method':<9} {'ckpt':<10}" + "".join(f"{c:>9}" for c in columns)
    lines = [f"{model}, ε = {eps:g}: accuracy (%) on the test set", head]
    lines.append("-" * len(head))
    for method, checkpoint, result in rows:
        values = [result["clean"]] + [result[eps].get(c, np.nan) for c in columns[1:]]
        cells = "".join(f"{100 * v:>9.1f}" for v in values)
        label = f"{checkpoint} (ep {result['epoch']})"
        lines.append(f"{method:<9} {label:<10}{cells}")
    return "\n".join(lines)


def plot_accuracy(
    path: Path, model: str, eval_eps: Sequence[float], results: Any
) -> None:
    """Worst-case accuracy versus ε, best (solid) and last (dashed) checkpoints."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    radii = [0.0, *eval_eps]
    for i, (method, by_checkpoint) in enumerate(results.items()):
        for checkpoint, style in (("best", "-"), ("last", "--")):
            r = by_checkpoint[checkpoint]
            values = [r["clean"]] + [r[eps]["worst"] for eps in eval_eps]
            ax.plot(
                radii,
                [100 * v for v in values],
                style,
                color=f"C{i}",
                marker="o",
                label=f"{method} ({checkpoint})",
            )
    ax.set(
        xlabel="ε (ℓ∞)", ylabel="worst-case accuracy (%)", title=model, ylim=(0, 100)
    )
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def plot_curves(path: Path, model: str, histories: dict[str, train.History]) -> None:
    """Validation FGSM and PGD-10 accuracy per epoch, per method."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for i, (method, history) in enumerate(histories.items()):
        epochs = np.arange(1, len(history.pgd) + 1)
        axes[0].plot(epochs, 100 * np.array(history.fgsm), color=f"C{i}", label=method)
        axes[1].plot(epochs, 100 * np.array(history.pgd), color=f"C{i}", label=method)
    axes[0].set(
        title=f"{model}: validation FGSM", xlabel="epoch", ylabel="accuracy (%)"
    )
    axes[1].set(title=f"{model}: validation PGD-10", xlabel="epoch")
    axes[1].legend(fontsize=7)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def plot_examples(
    path: Path, data: datasets.Dataset, eps: float, nets: dict[str, Any]
) -> None:
    """Clean test images and their PGD-10 points for each model in ``nets``."""
    import matplotlib.pyplot as plt

    x = jnp.asarray(data.test_inputs[:8])
    y = jnp.asarray(data.test_labels[:8])
    rows = [("clean", x, None)]
    for method, logits_fn in nets.items():
        attack = train.make_attacks(logits_fn, eps)["PGD-10"]
        rows.append((f"{method}: PGD-10", attack(x, y, jax.random.key(0)), logits_fn))
    fig, axes = plt.subplots(len(rows), 8, figsize=(8, 1.2 * len(rows) + 0.4))
    for r, (label, images, logits_fn) in enumerate(rows):
        fn = logits_fn or next(iter(nets.values()))
        predictions = np.asarray(jnp.argmax(fn(images), axis=-1))
        for c in range(8):
            ax = axes[r, c]
            image = np.asarray(images[c])
            ax.imshow(
                image.squeeze(-1) if image.shape[-1] == 1 else image,
                cmap="gray",
                vmin=0,
                vmax=1,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"pred {predictions[c]}", fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"ε = {eps:g}; predictions of the row's model (clean: first model)")
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Train, evaluate, print the tables and write the plots."""
    tic = time.perf_counter()
    args = parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    from tqdm import tqdm  # type: ignore[import-untyped]

    setting = dict(SETTINGS[args.dataset])
    if args.train_eps is not None:
        setting["eps"] = args.train_eps
    if args.eval_eps is not None:
        setting["eval_eps"] = args.eval_eps
    data = datasets.load(args.dataset, args.data_dir)
    if args.quick:
        data = _subset(data, 400, 100)
        setting = {**setting, "validation": 100}
    apgd_steps = 5 if args.quick else args.apgd_steps
    if args.quick:
        args.targets = 1
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    quick = " (quick)" if args.quick else ""
    print(f"minimaxjax adversarial-training benchmark{quick}: {data.name}")
    print(f"machine: {machine()}")
    print(
        f"train: ε = {setting['eps']:g} (ℓ∞), {args.epochs} epochs, batch "
        f"{setting['batch_size']}, {len(data.train_labels) - setting['validation']} "
        f"training / {setting['validation']} validation / {len(data.test_labels)} "
        f"test examples; APGD {apgd_steps} steps, APGD-T {args.targets} targets"
    )
    print(f"output folder: {out}\n")
    sys.stdout.flush()

    for model_name in args.models:
        results: dict[str, dict[str, Any]] = {}
        histories: dict[str, train.History] = {}
        nets: dict[str, Any] = {}
        for method_name in args.methods:
            model = models.make_model(model_name, data, seed=args.seed)
            steps = (len(data.train_labels) - setting["validation"]) // setting[
                "batch_size"
            ]
            best, last, history = train.train(
                model,
                train.make_method(method_name, setting["eps"]),
                data,
                epochs=args.epochs,
                batch_size=setting["batch_size"],
                tx=optimizer(args.dataset, args.epochs, steps),
                eps=setting["eps"],
                seed=args.seed,
                validation=setting["validation"],
                progress=lambda r, m=f"{model_name} / {method_name}": tqdm(
                    r,
                    desc=m,
                    file=sys.stderr,
                    disable=None,
                    unit="epoch",
                ),
            )
            graphdef = nnx.graphdef(model)
            results[method_name] = {}
            for name, snapshot in (("best", best), ("last", last)):
                if name == "last" and last.epoch == best.epoch:  # the same weights
                    results[method_name]["last"] = results[method_name]["best"]
                    continue
                results[method_name][name] = train.evaluate(
                    graphdef,
                    snapshot,
                    data,
                    setting["eval_eps"],
                    seed=args.seed,
                    apgd_steps=apgd_steps,
                    targets=args.targets,
                )
            histories[method_name] = history
            if method_name in ("standard", "pgd_at"):
                nets[method_name] = train.logits_of(graphdef, best.state)
        for eps in setting["eval_eps"]:
            rows = [
                (method, checkpoint, by_checkpoint[checkpoint])
                for method, by_checkpoint in results.items()
                for checkpoint in ("best", "last")
            ]
            print(table(model_name, eps, rows) + "\n")
        print(f"{model_name}: validation PGD-10 accuracy (%) per epoch")
        for method, history in histories.items():
            trace = " ".join(f"{100 * v:.0f}" for v in history.pgd)
            print(f"  {method:<9} {trace}")
        print()
        stem = f"adversarial_{data.name}_{model_name}"
        plot_accuracy(
            out / f"{stem}_accuracy.png", model_name, setting["eval_eps"], results
        )
        plot_curves(out / f"{stem}_curves.png", model_name, histories)
        if nets:
            plot_examples(out / f"{stem}_examples.png", data, setting["eps"], nets)
        sys.stdout.flush()
    print(f"total time: {time.perf_counter() - tic:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
