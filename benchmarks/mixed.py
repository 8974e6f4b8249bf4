"""Mixed strategies: the figures of ``docs/mixed_strategies.md``.

``python -m benchmarks.mixed --out docs/images`` writes two PNGs:

* ``mixed_escaping_trap.png``: on the escaping-trap game
  ``max_ω min_x −ω²x² + ωx`` over ``[−2, 2]²``, the trajectories of projected GDA,
  extragradient (both stall on the spurious curve ``xω = 1/2``, where ``Φ = 1/4``)
  and of MixedNE-LD from several keys (most reach the equilibrium ``(0, 0)``),
  all from ``(x, ω) = (0.926, 0.941)``, over the contours of ``Φ``;
* ``mixed_rps_mirror.png``: entropic mirror descent against mirror-prox on
  rock–paper–scissors: the row player's strategy on the simplex (last iterate and
  average) and the duality gap of each against the iteration.

``--quick`` runs tiny sizes (the smoke test of ``tests/test_mixed_benchmark.py``).
"""

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minimaxjax as mmx

TRAP_START = (0.926, 0.941)
# MixedNE-LD on the trap: η = 0.1, K = 100 as the authors; a hotter chain and a
# longer average than their τ = 0.01, β = 0.5 (which escape from this start in
# fewer than half the runs; see tests/test_mixed_ne.py).
MIXED = {"learning_rate": 0.1, "temperature": 0.05, "inner_steps": 100, "beta": 0.1}


def transparent_iterates(
    opt: optax.GradientTransformation,
    field: Any,
    start: Any,
    calls_per_iteration: int,
    iterations: int,
    projection: Any = None,
) -> Any:
    """The committed iterate after each of ``iterations`` iterations of ``opt``
    run in transparent mode (params projected after every call), stacked."""

    def call(carry: Any, _: Any) -> Any:
        z, state = carry
        updates, state = opt.update(field(z), state, z)
        z = optax.apply_updates(z, updates)
        return (z if projection is None else projection(z), state), None

    def iteration(carry: Any, _: Any) -> Any:
        carry, _ = jax.lax.scan(call, carry, length=calls_per_iteration)
        return carry, mmx.iterate(*carry)

    _, saved = jax.lax.scan(iteration, (start, opt.init(start)), length=iterations)
    return saved


def trap_runs(
    steps: int, iterations: int, inner_steps: int, seeds: int
) -> dict[str, np.ndarray]:
    """Trajectories ``(T + 1, 2)`` of GDA and EG, and ``(seeds, T + 1, 2)`` of
    MixedNE-LD, from ``TRAP_START`` on the escaping trap."""
    game = mmx.games.escaping_trap()
    start = tuple(jnp.asarray(v) for v in TRAP_START)
    out = {}
    for name, rule, calls in (
        ("GDA", mmx.gda(0.1), 1),
        ("extragradient", mmx.extragradient(0.1), 2),
    ):
        path = transparent_iterates(
            rule, game.field, start, calls, steps, game.projection
        )
        out[name] = np.c_[np.asarray(path[0]), np.asarray(path[1])]
    options = {**MIXED, "inner_steps": inner_steps}

    def mixed(key: jax.Array) -> Any:
        opt = mmx.mixed_ne_ld(key=key, projection=game.projection, **options)
        return transparent_iterates(opt, game.field, start, inner_steps, iterations)

    keys = jax.random.split(jax.random.key(0), seeds)
    x, omega = jax.jit(jax.vmap(mixed))(keys)
    out["MixedNE-LD"] = np.stack([np.asarray(x), np.asarray(omega)], axis=-1)
    first = np.asarray(TRAP_START)
    out["GDA"] = np.r_[first[None], out["GDA"]]
    out["extragradient"] = np.r_[first[None], out["extragradient"]]
    starts = np.broadcast_to(first, (seeds, 1, 2))
    out["MixedNE-LD"] = np.concatenate([starts, out["MixedNE-LD"]], axis=1)
    return out


def plot_trap(runs: dict[str, np.ndarray], path: Path | None = None) -> Any:
    """The figure; saved to ``path`` (and closed) if given, else returned."""
    import matplotlib.pyplot as plt

    grid = np.linspace(-2, 2, 201)
    X, W = np.meshgrid(grid, grid)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    levels = ax.contourf(
        X,
        W,
        -(W**2) * X**2 + W * X,
        levels=np.linspace(-1.5, 0.3, 19),
        cmap="RdBu_r",
        extend="min",
    )
    fig.colorbar(levels, ax=ax, label=r"$\Phi(x, \omega) = -\omega^2x^2 + \omega x$")
    for sign in (1, -1):
        xs = sign * np.linspace(0.25, 2, 200)
        ax.plot(
            xs, 0.5 / xs, "k--", lw=1.2, label=r"$x\omega = 1/2$" if sign > 0 else None
        )
    for i, path_i in enumerate(runs["MixedNE-LD"]):
        ax.plot(
            *path_i.T,
            color="tab:green",
            lw=0.8,
            alpha=0.7,
            label="MixedNE-LD (one line per key)" if i == 0 else None,
        )
        ax.plot(*path_i[-1], "o", color="tab:green", ms=4)
    for name, color in (("GDA", "tab:orange"), ("extragradient", "tab:purple")):
        ax.plot(*runs[name].T, color=color, lw=2, label=name)
        ax.plot(*runs[name][-1], "s", color=color, ms=7)
    ax.plot(*TRAP_START, "k*", ms=12, label="start")
    ax.plot(0, 0, "wo", mec="k", ms=8, label="equilibrium (0, 0)")
    ax.set(
        xlim=(-2, 2),
        ylim=(-2, 2),
        xlabel=r"$x$ (minimises)",
        ylabel=r"$\omega$ (maximises)",
        title="The escaping trap",
    )
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def rps_runs(iterations: int, learning_rate: float) -> dict[str, np.ndarray]:
    """Row strategies ``(T + 1, 3)``, their running averages, and duality gaps of
    mirror descent and mirror-prox on rock–paper–scissors, per iteration."""
    game = mmx.games.rock_paper_scissors()
    A = game.params["A"]
    out: dict[str, np.ndarray] = {}
    for name, rule, calls in (
        ("mirror descent", mmx.mirror_descent(learning_rate), 1),
        ("mirror-prox", mmx.mirror_prox(learning_rate), 2),
    ):
        x, y = transparent_iterates(rule, game.field, game.init, calls, iterations)
        x = jnp.concatenate([game.init[0][None], x])
        y = jnp.concatenate([game.init[1][None], y])
        count = jnp.arange(1, iterations + 2, dtype=x.dtype)[:, None]
        x_bar, y_bar = jnp.cumsum(x, 0) / count, jnp.cumsum(y, 0) / count
        gap = jax.vmap(lambda a, b: mmx.diagnostics.duality_gap(A, a, b))
        out[f"{name}: last"] = np.asarray(x)
        out[f"{name}: average"] = np.asarray(x_bar)
        out[f"{name}: last gap"] = np.asarray(gap(x, y))
        out[f"{name}: average gap"] = np.asarray(gap(x_bar, y_bar))
    return out


def plot_rps(runs: dict[str, np.ndarray], path: Path | None = None) -> Any:
    """The figure; saved to ``path`` (and closed) if given, else returned."""
    import matplotlib.pyplot as plt

    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    left.fill(*corners.T, color="0.95", ec="k")
    for label, corner in zip(("rock", "paper", "scissors"), corners, strict=True):
        left.annotate(label, corner, ha="center", va="bottom" if corner[1] else "top")
    style = {"mirror descent": "tab:red", "mirror-prox": "tab:blue"}
    for name, color in style.items():
        for kind, ls in (("last", "-"), ("average", ":")):
            points = runs[f"{name}: {kind}"] @ corners
            left.plot(*points.T, ls, color=color, lw=1.2, label=f"{name}, {kind}")
            right.semilogy(
                runs[f"{name}: {kind} gap"],
                ls,
                color=color,
                label=f"{name}, {kind} iterate",
            )
    left.plot(*corners.mean(0), "k*", ms=10, label="equilibrium (1/3, 1/3, 1/3)")
    left.set(aspect="equal", title="Row player on the simplex")
    left.axis("off")
    left.legend(fontsize=8, loc="upper right")
    right.set(
        xlabel="iteration",
        ylabel="duality gap",
        title="Rock–paper–scissors: duality gap",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def trap_summary(trap: dict[str, np.ndarray], inner_steps: int) -> str:
    """The escaping trap's row: where each rule ends, as a short table."""
    lines = [
        f"escaping trap from (x, ω) = {TRAP_START}: the equilibrium is (0, 0), the "
        "spurious curve xω = 1/2",
        f"{'rule':<14} {'runs':>5} {'within 0.1 of (0, 0)':>21} {'on xω = 1/2':>12}",
    ]
    for name in ("GDA", "extragradient", "MixedNE-LD"):
        ends = trap[name][..., -1, :].reshape(-1, 2)
        near = np.hypot(ends[:, 0], ends[:, 1]) < 0.1
        trapped = np.abs(ends[:, 0] * ends[:, 1] - 0.5) < 1e-2
        lines.append(
            f"{name:<14} {len(ends):>5} {near.mean():>21.0%} {trapped.mean():>12.0%}"
        )
    options = {**MIXED, "inner_steps": inner_steps}
    options_text = ", ".join(f"{k} = {v:g}" for k, v in options.items())
    lines.append(f"(GDA and extragradient at step 0.1; MixedNE-LD: {options_text})")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mixed", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("docs/images"),
        help="folder for the PNGs (default docs/images)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, for the smoke test"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    inner_steps = 5 if args.quick else 100
    if args.quick:
        trap = trap_runs(steps=20, iterations=3, inner_steps=inner_steps, seeds=2)
        rps = rps_runs(iterations=20, learning_rate=0.5)
    else:
        trap = trap_runs(steps=3000, iterations=150, inner_steps=inner_steps, seeds=8)
        rps = rps_runs(iterations=400, learning_rate=0.5)
    plot_trap(trap, args.out / "mixed_escaping_trap.png")
    plot_rps(rps, args.out / "mixed_rps_mirror.png")
    print(trap_summary(trap, inner_steps))
    for name in ("mirror descent", "mirror-prox"):
        print(
            f"rock–paper–scissors, {name}: gap of the last iterate "
            f"{rps[f'{name}: last gap'][-1]:.2e}, of the average "
            f"{rps[f'{name}: average gap'][-1]:.2e}"
        )
    print(
        f"wrote {args.out / 'mixed_escaping_trap.png'} and "
        f"{args.out / 'mixed_rps_mirror.png'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
