"""What ``mmx.solve`` costs over a hand-written fused loop of the same rule.

For each update rule and each game this times four jit-compiled programs that make
the same number of field evaluations and record ``‖V‖`` at every one:

* **hand**: a hand-written ``lax.scan`` of the rule in plain ``jnp`` on the same
  pytree ``z = (x, y)`` (each rule's ``baseline`` in ``mmx.rules.RULES``): one
  scan step per iteration, the phases unrolled, nothing else; on a game where
  some starts overflow, the same loop guarded to keep the last finite iterate
  (``minimaxjax.rules._baselines.guarded``: a ``stopped`` flag, and an iteration
  whose field values or new carry are not all finite is not committed), since a
  plain loop returns NaN there;
* **solve**: ``mmx.solve(V, z0, rule, num_steps)``, which runs each iteration as one
  opaque ``update`` call, then checks that every field value, the last iterate and
  the optimizer state were finite (and would replay the run with a check at every
  iteration, to freeze at the last finite iterate, if they were not), and returns
  the whole ``Solution`` (params, state, status, trace, stats);
* **hand again**: the hand-written loop compiled a second time, a control: its
  ratio to the first (``A/A``) shows how far two runs of one program drift apart
  on this machine, so a ``solve/hand`` within that drift is noise;
* **transparent**: the loop a user writes around the transparent mode, one
  ``update`` call per field evaluation in a ``lax.scan``; multi-phase rules then
  switch on the phase at run time (the column shows what that costs; ``solve``
  does not run this way).

Games: a 2-D quadratic-bilinear game with scalar players, a 512-dimensional bilinear
game ``Φ = (x − a)ᵀA(y − b)``, the 2-D game from 4096 starts at once (``jax.vmap``
over ``z0`` of each program), the unconstrained Forsaken game (no projection) from
4096 starts drawn from N(0, I), of which a few percent overflow (``diverged``: the
fraction whose ``solve`` status is DIVERGED), all four held to the target, and the
2-D game with a small budget (10⁴ evaluations, runs of about 0.1 ms), whose own
table gives the fixed cost of a call in µs: there a fifth program, ``solve -> (z,
trace)``, returns only what the hand-written loop returns (the last iterate and the
trace), which splits what ``solve`` adds to a call into the cost of returning the
rest of the ``Solution`` (JAX's dispatch costs a few µs per returned array; the
``arrays`` column counts them) and the cost of its checks. Compilation is excluded.
Each repeat runs the four programs back to back (the order rotating), each run
blocked on, and the table gives the median time of each and, as ``solve/hand`` and
``transparent/hand``, the median over repeats of the ratio of the two runs of one
repeat, with a 95% confidence interval for that median (``solve 95% CI``,
distribution-free: two order statistics of the ratios; target: ``solve/hand ≤
1.05``, and the summary counts the rows whose whole interval is above it). Pairing
cancels the slow drift of a shared machine (load from other jobs, a busy hypervisor,
clock changes), which moves whole repeats; the fastest run alone is no steady
estimate here, since on a 2-core VM single runs of the same vmapped program spread
by 20% or more. On Linux the benchmark restarts itself once with a higher glibc mmap
threshold, so that no program page-faults its 16-32 MB trace buffers in afresh at
every call. Rows where a program takes over half a second get 3 repeats (marked
``*``; their interval is the whole range of the three ratios), rows where every
program takes under 5 ms ten times the repeats. The trace of ``solve`` is checked
against the hand-written one (``check``: the largest difference of the finite
entries relative to the largest value; inf where the non-finite entries, or the
starts that stopped, differ).

Run ``python -m benchmarks.overhead`` (about 6 minutes on two CPU cores);
``--quick`` runs tiny sizes as a smoke test, ``--repeats N`` sets the repeats,
``--rules``/``--games`` pick a subset and ``--clock cpu`` times the process's CPU
time (all threads) instead of wall time, steadier on a machine shared with other
jobs.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import minimaxjax as mmx
from benchmarks import _paired
from minimaxjax.rules import _baselines

PyTree = Any

LR = 0.1
ADAM_LR = 0.01
INNER_STEPS = 5
TARGET = 1.05  # solve/hand
LEAN = "solve -> (z, trace)"  # the fixed-cost games' fifth program
SHORT = 0.005  # seconds: rows whose programs all run shorter get 10x the repeats
CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,
    "cpu": time.process_time,
}


def _setting(name: str) -> tuple[float, dict[str, Any]]:
    """The step size and options a rule is measured with."""
    options = {"inner_steps": INNER_STEPS} if name == "proximal_point" else {}
    return (ADAM_LR if name == "extra_adam" else LR), options


def rules() -> dict[str, optax.GradientTransformation]:
    """The registered rules that have a hand-written baseline, as measured."""
    return {
        name: spec.build(_setting(name)[0], **_setting(name)[1])
        for name, spec in mmx.rules.RULES.items()
        if spec.baseline is not None
    }


def baseline(rule: str, *, guarded: bool = False) -> Callable[..., Any]:
    """The rule's hand-written loop ``(field, z0, num_steps) -> (z, trace)``;
    ``guarded``, the loop that keeps the last finite iterate, ``-> (z, trace,
    stopped)``."""
    spec = mmx.rules.RULES[rule]
    lr, options = _setting(rule)
    assert spec.baseline is not None
    loop = _baselines.guarded(spec.baseline) if guarded else spec.baseline
    return lambda field, z0, n: loop(field, z0, n, lr=lr, **{**spec.options, **options})


@dataclass(frozen=True)
class Game:
    """A field built from data, a start (batched along axis 0 when ``batched``) and
    a budget.

    The data (the bilinear game's matrix and shifts) are arguments of every timed
    program, as a model's weights are, not constants compiled into each: XLA:CPU
    puts a constant at a different address in every executable, and with the 1 MB
    matrix as a constant two compilations of one hand-written loop ran up to 3.4%
    apart (in three processes: 1.001, 1.023, 1.034); as an argument, within 0.7%.
    """

    name: str
    field_of: Callable[..., Callable[[PyTree], PyTree]]
    data: tuple[Any, ...]
    z0: PyTree
    num_steps: int
    batched: bool = False
    #: Starts of which some overflow: the baseline is then the hand-written loop
    #: that keeps the last finite iterate, as ``solve`` does (a plain loop ends in
    #: NaN there, which is no result to compare with).
    guarded: bool = False
    #: Runs so short that the table shows the fixed cost of a call, in µs, rather
    #: than holding ``solve/hand`` to :data:`TARGET`.
    fixed_cost: bool = False

    @property
    def field(self) -> Callable[[PyTree], PyTree]:
        return self.field_of(*self.data)


def quadratic_2d(mu: float = 0.1, a: float = 0.3, b: float = -0.2) -> Callable:
    """``Φ = (x−a)(y−b) + μ/2 (x−a)² − μ/2 (y−b)²``, scalar players.

    The equilibrium ``(a, b)`` is off the origin so that converging iterates never
    reach subnormal floats, which would time the FPU instead of the loop.
    """
    return mmx.field(
        lambda x, y: (x - a) * (y - b) + 0.5 * mu * ((x - a) ** 2 - (y - b) ** 2)
    )


def bilinear(A: jax.Array, a: jax.Array, b: jax.Array) -> Callable:
    """``Φ = (x − a)ᵀA(y − b)``."""
    return mmx.field(lambda x, y: (x - a) @ A @ (y - b))


def bilinear_data(dim: int, seed: int = 0) -> tuple[jax.Array, ...]:
    """``(A, a, b)`` for :func:`bilinear`: ``A`` Gaussian scaled to spectral norm
    1, the shifts uniform in ``[−1, 1]``."""
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((dim, dim))
    matrix /= np.linalg.norm(matrix, 2)
    A = jnp.asarray(matrix, jnp.float32)
    a = jnp.asarray(rng.uniform(-1, 1, dim), jnp.float32)
    b = jnp.asarray(rng.uniform(-1, 1, dim), jnp.float32)
    return A, a, b


def normal_starts(batch: int, seed: int = 2) -> tuple[jax.Array, jax.Array]:
    """``batch`` starts ``(x, y)`` drawn from N(0, I), float32."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, batch)).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


def games(quick: bool) -> dict[str, Game]:
    """The games, keyed by their ``--games`` name."""
    # Budgets (field evaluations, multiples of 10 so that every rule runs whole
    # iterations) put one hand-written run at roughly 50-200 ms on a 2-core CPU.
    steps_2d, dim, steps_nd, batch, steps_batch = (
        (100, 8, 100, 16, 100) if quick else (4_000_000, 512, 2_000, 4096, 2_000)
    )
    rng = np.random.default_rng(1)
    starts = tuple(jnp.asarray(s) for s in rng.uniform(-1, 1, (2, batch)))
    start_nd = tuple(jnp.asarray(s) for s in rng.uniform(-1, 1, (2, dim)))
    V2 = quadratic_2d()
    # Unconstrained (no projection): with lr = 0.1, 3-10% of the N(0, I) starts
    # overflow within 240 evaluations for every rule but ExtraAdam, whose steps
    # Adam bounds by its step size.
    forsaken = mmx.games.forsaken().field
    forsaken_batch = 256 if quick else batch

    def scalar_game() -> Callable:
        return V2

    def forsaken_game() -> Callable:
        return forsaken

    start_2d = (jnp.float32(1.0), jnp.float32(-0.8))
    steps_small = 100 if quick else 10_000
    return {
        "2d": Game("2-D", scalar_game, (), start_2d, steps_2d),
        "nd": Game(
            f"bilinear {dim}-D", bilinear, bilinear_data(dim), start_nd, steps_nd
        ),
        "vmap": Game(
            f"2-D x{batch} vmap", scalar_game, (), starts, steps_batch, batched=True
        ),
        "forsaken": Game(
            f"Forsaken x{forsaken_batch} vmap",
            forsaken_game,
            (),
            normal_starts(forsaken_batch),
            steps_batch,
            batched=True,
            guarded=True,
        ),
        # Runs of a tenth of a millisecond, where fixed costs show.
        "small": Game(
            "2-D small", scalar_game, (), start_2d, steps_small, fixed_cost=True
        ),
    }


def transparent_loop(
    field: Callable[[PyTree], PyTree],
    z0: PyTree,
    optimizer: optax.GradientTransformation,
    num_steps: int,
) -> tuple[PyTree, jax.Array]:
    """One transparent ``update`` per field evaluation, as in a training loop."""

    def body(carry: Any, _: None) -> Any:
        z, state = carry
        g = field(z)
        updates, state = optimizer.update(g, state, z)
        return (optax.apply_updates(z, updates), state), _baselines.norm(g)

    (z, state), norms = jax.lax.scan(body, (z0, optimizer.init(z0)), length=num_steps)
    return mmx.iterate(z, state), norms


def programs(
    game: Game, rule: str, optimizer: optax.GradientTransformation
) -> dict[str, Callable[[PyTree, tuple[Any, ...]], Any]]:
    """The jit-compiled programs ``(z0, data) -> (params, field_norm, …)``: four,
    and for a ``fixed_cost`` game a fifth, ``solve -> (z, trace)``: ``solve``
    returning only what the hand-written loop returns (the last iterate and the
    trace), which separates the cost of returning a whole ``Solution`` (JAX's
    dispatch costs a few µs per returned array) from that of ``solve``'s checks."""
    hand = baseline(rule, guarded=game.guarded)
    V, n = game.field_of, game.num_steps
    fns: dict[str, Callable[[PyTree, tuple[Any, ...]], Any]] = {
        "hand": lambda z0, data: hand(V(*data), z0, n),
        "solve": lambda z0, data: mmx.solve(V(*data), z0, optimizer, n),
        # A second, separately compiled copy of the hand-written loop: the control.
        "hand again": lambda z0, data: hand(V(*data), z0, n),
        "transparent": lambda z0, data: transparent_loop(V(*data), z0, optimizer, n),
    }
    if game.fixed_cost:

        def lean(z0: PyTree, data: tuple[Any, ...]) -> Any:
            sol = mmx.solve(V(*data), z0, optimizer, n)
            return sol.params, sol.trace["field_norm"]

        fns[LEAN] = lean
    if game.batched:
        return {k: jax.jit(jax.vmap(f, in_axes=(0, None))) for k, f in fns.items()}
    return {k: jax.jit(f) for k, f in fns.items()}


def trace_of(output: Any) -> np.ndarray:
    if isinstance(output, mmx.Solution):
        return np.asarray(output.trace["field_norm"])
    return np.asarray(output[1])


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference of the finite entries relative to the largest of
    ``b``'s; inf where the two are not finite at the same entries or differ
    there (NaN against inf)."""
    finite = np.isfinite(b)
    if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(
        a[~finite], b[~finite], equal_nan=True
    ):
        return math.inf
    if not finite.any():
        return 0.0
    scale = max(float(np.max(np.abs(b[finite]))), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(a[finite] - b[finite]))) / scale


@dataclass
class Row:
    game: str
    evaluations: int
    rule: str
    times: dict[str, list[float]]
    check: float
    reduced: bool
    fixed_cost: bool = False
    #: How many arrays the hand-written loop and ``solve`` return.
    arrays: tuple[int, int] = (0, 0)
    #: The fraction of starts whose ``solve`` status is DIVERGED.
    diverged: float = 0.0

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratios(self, name: str) -> list[float]:
        """``name``'s time over the hand-written loop's, repeat by repeat."""
        return [
            a / b for a, b in zip(self.times[name], self.times["hand"], strict=True)
        ]

    def ratio(self, name: str) -> float:
        """The median of :meth:`ratios`."""
        return statistics.median(self.ratios(name))

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """A ``level`` confidence interval for :meth:`ratio` (see
        :func:`median_interval`)."""
        return median_interval(self.ratios(name), level)


def median_interval(
    values: Sequence[float], level: float = 0.95
) -> tuple[float, float]:
    r"""A distribution-free confidence interval for the median of ``values``.

    For ``n`` independent draws sorted as :math:`x_{(1)} \le \dots \le x_{(n)}`,
    :math:`[x_{(k)}, x_{(n+1-k)}]` holds the median of their distribution with
    probability :math:`1 - 2\,P(B < k)`, :math:`B \sim \mathrm{Binomial}(n, 1/2)`;
    ``k`` is the largest with :math:`P(B < k) \le (1 - \text{level})/2` (for
    ``n = 100`` at 95%: ``k = 40``, the interval :math:`[x_{(40)}, x_{(61)}]`).
    Under six values no ``k`` reaches 95%; the interval is then the whole range.

    Reference: W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed.
    (1999), ch. 3 (the binomial confidence interval for a quantile).
    """
    xs = sorted(values)
    n = len(xs)
    if not n:
        raise ValueError("values must not be empty.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    tail = (1 - Fraction(str(level))) / 2
    k, below = 0, 0  # below = 2^n P(B < k)
    while k < (n + 1) // 2 and Fraction(below + math.comb(n, k), 2**n) <= tail:
        below += math.comb(n, k)
        k += 1
    k = max(k, 1)
    return xs[k - 1], xs[n - k]


def measure(
    game: Game,
    rule: str,
    optimizer: optax.GradientTransformation,
    repeats: int,
    clock: Callable[[], float],
) -> Row:
    fns = programs(game, rule, optimizer)
    outputs, first = {}, {}
    for name, f in fns.items():
        jax.block_until_ready(f(game.z0, game.data))  # compile
        start = clock()
        outputs[name] = jax.block_until_ready(f(game.z0, game.data))
        first[name] = clock() - start
    check = relative_difference(trace_of(outputs["solve"]), trace_of(outputs["hand"]))
    stopped = np.asarray(outputs["solve"].status) == mmx.Status.DIVERGED
    if game.guarded and not np.array_equal(stopped, outputs["hand"][2]):
        check = math.inf  # the guarded loop stopped on other starts than solve
    diverged = float(np.mean(stopped))
    reduced = max(first.values()) > 0.5 and repeats > 3
    if reduced:
        repeats = 3
    elif max(first.values()) < SHORT:
        repeats *= 10
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        # Rotate the order so that no program always runs first (or after another).
        for k in names[r % len(names) :] + names[: r % len(names)]:
            start = clock()
            jax.block_until_ready(fns[k](game.z0, game.data))
            times[k].append(clock() - start)
    arrays = (
        len(jax.tree.leaves(outputs["hand"])),
        len(jax.tree.leaves(outputs["solve"])),
    )
    return Row(
        game.name,
        game.num_steps,
        rule,
        times,
        check,
        reduced,
        game.fixed_cost,
        arrays,
        diverged,
    )


def machine() -> str:
    cpu = _paired.cpu_name()
    import jaxlib

    return (
        f"{platform.platform()}; {cpu}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}; jax {jax.__version__}, jaxlib "
        f"{jaxlib.__version__}, optax {optax.__version__}; backend "
        f"{jax.default_backend()} ({jax.devices()[0].device_kind}); load average "
        f"{os.getloadavg()[0]:.1f}"
    )


def _ms(seconds: float) -> str:
    """Milliseconds to 0.1 ms, or to 1 µs under 10 ms."""
    return f"{1e3 * seconds:.1f}" if seconds >= 0.01 else f"{1e3 * seconds:.3f}"


def _us(seconds: float) -> str:
    return f"{1e6 * seconds:.0f}"


def _lead(row: Row) -> list[str]:
    """The cells under :data:`_LEAD`."""
    return [row.game, f"{row.evaluations:,}", row.rule]


def _verdict(row: Row) -> list[str]:
    """The cells under :data:`_VERDICT`."""
    return [
        f"{row.ratio('solve'):.3f}",
        "{:.3f}-{:.3f}".format(*row.interval("solve")),
        f"{row.ratio('hand again'):.3f}",
    ]


_LEAD = ["game", "evals", "rule"]
_VERDICT = ["solve/hand", "solve 95% CI", "A/A"]


def table(rows: Sequence[Row]) -> str:
    """The rows held to :data:`TARGET`: times, ratios and the controls."""
    header = [
        *_LEAD,
        "hand ms",
        "solve ms",
        *_VERDICT,
        "transp. ms",
        "transp./hand",
        "diverged",
        "check",
    ]
    body = [
        [
            *_lead(row),
            _ms(row.median("hand")),
            _ms(row.median("solve")) + ("*" if row.reduced else ""),
            *_verdict(row),
            _ms(row.median("transparent")),
            f"{row.ratio('transparent'):.3f}",
            f"{100 * row.diverged:.1f}%",
            f"{row.check:.0e}",
        ]
        for row in rows
    ]
    return _render(header, body, left={0, 2})


def fixed_cost_table(rows: Sequence[Row]) -> str:
    """The ``fixed_cost`` rows: what ``solve`` adds to a call, in µs, returning a
    whole ``Solution`` and returning what the hand-written loop returns."""
    header = [
        *_LEAD,
        "hand us",
        "solve us",
        "solve-hand us",
        *_VERDICT,
        "arrays",
        "(z, trace) us",
        "(z, trace)-hand us",
        "(z, trace)/hand",
    ]
    body = [
        [
            *_lead(row),
            _us(row.median("hand")),
            _us(row.median("solve")),
            _us(row.median("solve") - row.median("hand")),
            *_verdict(row),
            f"{row.arrays[0]}->{row.arrays[1]}",
            _us(row.median(LEAN)),
            _us(row.median(LEAN) - row.median("hand")),
            f"{row.ratio(LEAN):.3f}",
        ]
        for row in rows
    ]
    return _render(header, body, left={0, 2})


def _render(header: list[str], body: list[list[str]], left: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule_line = "-" * len(line(header))
    return "\n".join([line(header), rule_line, *map(line, body)])


def _choose(value: str | None, options: dict[str, Any], what: str) -> dict[str, Any]:
    if not value:
        return options
    names = value.split(",")
    unknown = sorted(set(names) - set(options))
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {list(options)}")
    return {k: v for k, v in options.items() if k in names}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs each")
    parser.add_argument("--rules", default=None, help="comma-separated rule names")
    parser.add_argument(
        "--games", default=None, help="comma-separated: 2d,nd,vmap,forsaken,small"
    )
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="what to time"
    )
    options = parser.parse_args(argv)
    repeats = options.repeats or (2 if options.quick else 15)
    if repeats < 1:
        parser.error("--repeats must be a positive int")
    chosen_rules = _choose(options.rules, rules(), "rules")
    chosen_games = _choose(options.games, games(options.quick), "games")

    print(machine())
    print(
        f"{options.clock} clock, {repeats} repeats ({10 * repeats} for programs "
        f"under {1e3 * SHORT:.0f} ms) of the programs back to back, "
        "ratios paired within a repeat, compile "
        f"excluded; lr={LR} (extra_adam {ADAM_LR}), proximal_point "
        f"inner_steps={INNER_STEPS}\n"
    )
    clock = CLOCKS[options.clock]
    rows = [
        measure(game, rule, optimizer, repeats, clock)
        for game in chosen_games.values()
        for rule, optimizer in chosen_rules.items()
    ]
    print(summary(rows))


def summary(rows: Sequence[Row]) -> str:
    """The tables and the verdict: the target over the rows held to it, the fixed
    cost of a call over the others, the A/A control over all."""
    held = [row for row in rows if not row.fixed_cost]
    fixed = [row for row in rows if row.fixed_cost]
    lines = []
    if held:
        lines.append(table(held))
    if fixed:
        lines.append(("\n" if held else "") + fixed_cost_table(fixed))
    lines.append("")
    if held:
        ratios = [row.ratio("solve") for row in held]
        worst = max(held, key=lambda row: row.ratio("solve"))
        geomean = math.exp(statistics.fmean(math.log(x) for x in ratios))
        over = [row for row in held if row.ratio("solve") > TARGET]
        surely = [row for row in over if row.interval("solve")[0] > TARGET]
        games = ", ".join(dict.fromkeys(row.game for row in held))
        lines.append(
            f"solve/hand on {games}: worst {worst.ratio('solve'):.3f} ({worst.rule}, "
            f"{worst.game}), geometric mean {geomean:.3f}; target <= {TARGET}: "
            f"missed on {len(over)} of {len(held)} rows, with the whole 95% "
            f"interval of the median above it on {len(surely)}"
        )
    if fixed:

        def added(name: str) -> str:
            us = [row.median(name) - row.median("hand") for row in fixed]
            ratios = [row.ratio(name) for row in fixed]
            return (
                f"{_us(min(us))} to {_us(max(us))} us (x{min(ratios):.3f} to "
                f"x{max(ratios):.3f})"
            )

        games = ", ".join(dict.fromkeys(row.game for row in fixed))
        lines.append(
            f"fixed cost of a call on {games} (not held to the target): solve adds "
            f"{added('solve')}; returning only the last iterate and the trace, as "
            f"the hand-written loop does, {added(LEAN)}"
        )
    controls = [row.ratio("hand again") for row in rows]
    lines.append(
        "A/A control (the same hand-written loop compiled twice): "
        f"{min(controls):.3f} to {max(controls):.3f}"
    )
    return "\n".join(lines)


# glibc hands buffers over 32 MB back to the OS after each call, and the next call
# page-faults them in again: with 16-32 MB traces that moves single timings by up
# to 50%. All programs reuse their buffers with a higher mmap threshold.
_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 32),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 34),
}


def _reexec_with_steady_malloc() -> None:
    """Restart this process once with ``_MALLOC`` set (Linux/glibc only)."""
    if platform.system() != "Linux" or all(k in os.environ for k in _MALLOC):
        return
    env = {**os.environ, **_MALLOC}
    os.execve(
        sys.executable,
        [sys.executable, "-m", "benchmarks.overhead", *sys.argv[1:]],
        env,
    )


if __name__ == "__main__":
    _reexec_with_steady_malloc()
    main()
