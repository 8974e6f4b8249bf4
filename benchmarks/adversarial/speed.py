"""What ``adversarial.nnx_train_step`` costs over a hand-fused JAX loop, side by side.

The workload is one epoch of PGD-10 adversarial training (Madry et al.) of the
digits :class:`~benchmarks.adversarial.models.SmallCNN`: ℓ∞ ball ε = 0.1, attack
step 0.025, a uniform random start, inputs clipped to ``[0, 1]``, batch size 128
(the 1347 training images give 10 batches, the last partial one dropped), SGD with
momentum 0.9 and learning rate 0.05 (optax). Every contender runs the same
batches with the same attack keys in every epoch:

* **library**: ``adv.nnx_train_step(adv.pgd_at(...))`` called once per batch on
  the NNX model and its ``nnx.Optimizer``;
* **hand**: a hand-fused loop, the model split into ``(graphdef, params)`` once,
  then one ``jax.jit``-compiled pure step ``(params, opt_state, x, y, key) ->
  (params, opt_state, loss)`` per batch, with PGD written inline (``lax.fori_loop``
  of sign-gradient steps, clipped to the ball and to ``[0, 1]``) and the
  cross-entropy's gradient at the stop-gradient adversarial point, then the optax
  update; nothing from minimaxjax in it;
* **hand (scan epoch)**: the same step, the whole epoch in one ``lax.scan`` over
  the batches stacked beforehand (one call per epoch);
* **library (A/A)**: a second, independently built and compiled library step,
  the control: its ratio to the first shows how far two runs of one program
  drift apart on this machine;
* **pytorch** (when ``import torch`` works): the same epoch in eager PyTorch on
  the CPU, the same architecture and initial weights (copied from the NNX model),
  with as many threads as JAX's CPU backend uses.

Before timing, one step of the library and of the hand-written loop from the same
parameters and key must give the same new parameters (``rtol=1e-4``; the random
start is drawn exactly as ``minimaxjax.adversarial.pgd`` draws it), and the
warm-up epochs (which compile) of every contender, all started from the same
weights, are compared too. Each round then times one epoch of every contender in
a rotating order (wall clock, ``jax.block_until_ready``, compilation excluded),
and the ratios are medians over rounds of the two epochs' ratio within a round,
with their min-max range: pairing cancels the slow drift of a shared machine,
which moves whole rounds. Target: ``library/hand <= 1.05``.

Run ``python -m benchmarks.adversarial.speed`` (11 rounds, about 7 minutes on two
CPU cores); ``--quick`` (2 rounds, epochs of 3 batches of 32) is a smoke test and
``--repeats N`` sets the rounds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import minimaxjax.adversarial as adv
from benchmarks import _paired
from benchmarks._paired import Result, jax_threads, max_rel, torch_available
from benchmarks.adversarial.data import Dataset, batches, load_digits
from benchmarks.adversarial.models import make_model
from benchmarks.overhead import machine

EPS = 0.1
STEP_SIZE = 0.025
NUM_STEPS = 10
BOUNDS = (0.0, 1.0)
BATCH_SIZE = 128
QUICK_BATCH_SIZE = 32
LR = 0.05
MOMENTUM = 0.9
TARGET = 1.05  # library/hand
SEED = 0
#: Tolerance of the one-step agreement check (library against hand).
STEP_RTOL = 1e-4
#: Tolerance of the warm-up-epoch comparison: after several steps sign(∇) may
#: flip on pixels where the gradient is at rounding level in one program and not
#: in the other, which moves the next steps slightly.
EPOCH_RTOL = 1e-3

LIBRARY, HAND, SCAN, AA, TORCH = (
    "library",
    "hand",
    "hand (scan epoch)",
    "library (A/A)",
    "pytorch",
)

Batch = tuple[jax.Array, jax.Array, jax.Array]  # inputs, labels, attack key


@functools.cache
def optimizer() -> optax.GradientTransformation:
    """SGD with momentum, as measured: one object, so that a step jitted on
    optimizers that hold it (a static field) compiles once."""
    return optax.sgd(LR, momentum=MOMENTUM)


def library_method(random_start: bool = True) -> adv.Method:
    """The library's PGD-10 adversarial training method, as measured."""
    return adv.pgd_at(
        eps=EPS,
        step_size=STEP_SIZE,
        num_steps=NUM_STEPS,
        norm="linf",
        bounds=BOUNDS,
        random_start=random_start,
    )


def _cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Softmax cross-entropy per example."""
    picked = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    return jax.nn.logsumexp(logits, axis=1) - picked


def hand_step_fn(
    graphdef: nnx.GraphDef, tx: optax.GradientTransformation
) -> Callable[..., tuple[Any, Any, jax.Array]]:
    """The hand-fused step ``(params, opt_state, x, y, key) -> (params, opt_state,
    loss)``, not compiled: PGD-10 inline, then one optax step."""
    eps, alpha, lo, hi = EPS, STEP_SIZE, BOUNDS[0], BOUNDS[1]

    def step(
        params: Any, opt_state: Any, x: jax.Array, y: jax.Array, key: jax.Array
    ) -> tuple[Any, Any, jax.Array]:
        def logits(p: Any, z: jax.Array) -> jax.Array:
            return nnx.merge(graphdef, p)(z)

        def attack_loss(z: jax.Array) -> jax.Array:
            return jnp.sum(_cross_entropy(logits(params, z), y))

        # The start minimaxjax.adversarial.pgd draws with restarts=1: the first
        # of split(key, 1), uniform in [-1, 1] times ε, projected.
        u = jax.random.uniform(jax.random.split(key, 1)[0], x.shape, x.dtype, -1, 1)
        start = jnp.clip(x + jnp.clip(x + eps * u - x, -eps, eps), lo, hi)

        def ascent(_: int, z: jax.Array) -> jax.Array:
            g = jax.grad(attack_loss)(z)
            z = x + jnp.clip(z + alpha * jnp.sign(g) - x, -eps, eps)
            return jnp.clip(z, lo, hi)

        z = jax.lax.stop_gradient(jax.lax.fori_loop(0, NUM_STEPS, ascent, start))

        def mean_loss(p: Any) -> jax.Array:
            return jnp.mean(_cross_entropy(logits(p, z), y))

        loss, grads = jax.value_and_grad(mean_loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


@dataclass
class Workload:
    """The data and model every contender trains."""

    dataset: Dataset
    batches: list[Batch]

    @property
    def stacked(self) -> Batch:
        """The batches stacked along a new leading axis (for the scan epoch)."""
        xs, ys, keys = zip(*self.batches, strict=True)
        return jnp.stack(xs), jnp.stack(ys), jnp.stack(keys)

    def model(self) -> nnx.Module:
        """A fresh SmallCNN with the benchmark's initial weights."""
        return make_model("cnn", self.dataset, seed=SEED)


def workload(max_batches: int | None = None, batch_size: int = BATCH_SIZE) -> Workload:
    """The digits training set in batches of ``batch_size`` (one fixed shuffle)
    with one attack key per batch; ``max_batches`` keeps the first ones."""
    dataset = load_digits()
    pairs = list(
        batches(
            dataset.train_inputs,
            dataset.train_labels,
            batch_size,
            key_or_seed=SEED,
            shuffle=True,
            drop_last=True,
        )
    )[:max_batches]
    keys = jax.random.split(jax.random.key(SEED + 1), len(pairs))
    return Workload(
        dataset,
        [(jnp.asarray(x), jnp.asarray(y), keys[i]) for i, (x, y) in enumerate(pairs)],
    )


class Contender:
    """A training run whose :meth:`epoch` trains one epoch and blocks on it."""

    def epoch(self) -> None:
        raise NotImplementedError

    def params(self) -> list[np.ndarray]:
        """The current weights, in the order of the NNX model's ``Param`` leaves."""
        raise NotImplementedError


class Library(Contender):
    """``adv.nnx_train_step`` per batch, with its own compiled step."""

    def __init__(self, work: Workload) -> None:
        self.work = work
        self.model = work.model()
        self.optimizer = nnx.Optimizer(self.model, optimizer(), wrt=nnx.Param)
        self.step = adv.nnx_train_step(library_method())

    def epoch(self) -> None:
        metrics = None
        for x, y, key in self.work.batches:
            metrics = self.step(self.model, self.optimizer, x, y, key)
        jax.block_until_ready((metrics, nnx.state(self.model, nnx.Param)))

    def params(self) -> list[np.ndarray]:
        return [
            np.asarray(a) for a in jax.tree.leaves(nnx.state(self.model, nnx.Param))
        ]


class Hand(Contender):
    """The hand-fused step per batch; ``scan``: the whole epoch in one call."""

    def __init__(self, work: Workload, *, scan: bool = False) -> None:
        self.work = work
        self.graphdef, self.state = nnx.split(work.model(), nnx.Param)
        tx = optimizer()
        self.opt_state = tx.init(self.state)
        step = hand_step_fn(self.graphdef, tx)
        self.step = jax.jit(step)
        self.scan = scan
        if scan:
            self.stacked = work.stacked

            def run_epoch(params: Any, opt_state: Any, batch: Batch) -> Any:
                def body(carry: Any, b: Batch) -> tuple[Any, jax.Array]:
                    params, opt_state, loss = step(*carry, *b)
                    return (params, opt_state), loss

                (params, opt_state), losses = jax.lax.scan(
                    body, (params, opt_state), batch
                )
                return params, opt_state, losses

            self.run_epoch = jax.jit(run_epoch)

    def epoch(self) -> None:
        if self.scan:
            self.state, self.opt_state, loss = self.run_epoch(
                self.state, self.opt_state, self.stacked
            )
        else:
            loss = None
            for x, y, key in self.work.batches:
                self.state, self.opt_state, loss = self.step(
                    self.state, self.opt_state, x, y, key
                )
        jax.block_until_ready((self.state, self.opt_state, loss))

    def params(self) -> list[np.ndarray]:
        return [np.asarray(a) for a in jax.tree.leaves(self.state)]


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Flax's ``"SAME"`` padding (low, high) of one spatial axis."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Torch(Contender):
    """The same PGD-AT epoch in eager PyTorch (CPU, NCHW), from the NNX model's
    initial weights: Conv 3×3 (32, SAME) → ReLU → Conv 3×3 stride 2 (64, SAME)
    → ReLU → flatten (in NHWC order, as the NNX model) → Dense 128 → ReLU →
    Dense 10."""

    def __init__(self, work: Workload, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.work = work
        model = work.model()
        height, width = (int(d) for d in work.dataset.train_inputs.shape[1:3])
        self.pad2 = (
            *_same_padding(width, 3, 2),
            *_same_padding(height, 3, 2),
        )  # F.pad's order: last axis first
        state = nnx.state(model, nnx.Param)

        def tensor(a: Any) -> Any:
            return torch.tensor(np.asarray(a), dtype=torch.float32)

        def conv(layer: Any) -> tuple[Any, Any]:
            return tensor(layer["kernel"][...]).permute(3, 2, 0, 1), tensor(
                layer["bias"][...]
            )

        def dense(layer: Any) -> tuple[Any, Any]:
            return tensor(layer["kernel"][...]).T, tensor(layer["bias"][...])

        self.weights = [
            w.contiguous().requires_grad_(True)
            for w in (
                *conv(state["conv1"]),
                *conv(state["conv2"]),
                *dense(state["dense"]),
                *dense(state["head"]),
            )
        ]
        self.opt = torch.optim.SGD(self.weights, lr=LR, momentum=MOMENTUM)
        self.data = [
            (
                torch.from_numpy(np.array(x)).permute(0, 3, 1, 2).contiguous(),
                torch.from_numpy(np.array(y)).long(),
            )
            for x, y, _ in work.batches
        ]
        self.generator = torch.Generator().manual_seed(SEED)

    def logits(self, x: Any) -> Any:
        """The model's logits of an NCHW batch."""
        functional = self.torch.nn.functional
        w1, b1, w2, b2, w3, b3, w4, b4 = self.weights
        h = functional.relu(functional.conv2d(x, w1, b1, padding=1))
        h = functional.relu(functional.conv2d(functional.pad(h, self.pad2), w2, b2, 2))
        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)
        h = functional.relu(functional.linear(h, w3, b3))
        return functional.linear(h, w4, b4)

    def attack(self, x: Any, y: Any) -> Any:
        """PGD-10 from a uniform random start, clipped to the ball and [0, 1]."""
        torch = self.torch
        u = torch.rand(x.shape, generator=self.generator) * 2 - 1
        z = (x + (EPS * u).clamp(-EPS, EPS)).clamp(*BOUNDS)
        for _ in range(NUM_STEPS):
            z.requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(self.logits(z), y, reduction="sum")
            (g,) = torch.autograd.grad(loss, z)
            with torch.no_grad():
                z = x + (z + STEP_SIZE * g.sign() - x).clamp(-EPS, EPS)
                z = z.clamp(*BOUNDS)
        return z.detach()

    def epoch(self) -> None:
        for x, y in self.data:
            z = self.attack(x, y)
            self.opt.zero_grad(set_to_none=True)
            loss = self.torch.nn.functional.cross_entropy(self.logits(z), y)
            loss.backward()
            self.opt.step()

    def params(self) -> list[np.ndarray]:
        w1, b1, w2, b2, w3, b3, w4, b4 = (w.detach().numpy() for w in self.weights)
        conv = [b1, w1.transpose(2, 3, 1, 0), b2, w2.transpose(2, 3, 1, 0)]
        return [*conv, b3, w3.T, b4, w4.T]


def check_one_step(work: Workload, library: Library, hand: Hand) -> float:
    """One step of the library and of the hand-written loop from the same
    weights, batch and key (with the random start, drawn identically): the new
    weights must agree to ``STEP_RTOL``. Uses the contenders' compiled steps on
    fresh weights. Returns the largest relative difference."""
    x, y, key = work.batches[0]
    model = work.model()
    opt = nnx.Optimizer(model, optimizer(), wrt=nnx.Param)
    library.step(model, opt, x, y, key)
    want = [np.asarray(a) for a in jax.tree.leaves(nnx.state(model, nnx.Param))]
    graphdef, params = nnx.split(work.model(), nnx.Param)
    assert graphdef == hand.graphdef
    params, _, _ = hand.step(params, optimizer().init(params), x, y, key)
    got = [np.asarray(a) for a in jax.tree.leaves(params)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=STEP_RTOL, atol=1e-6)
    return max_rel(got, want)


def check_torch_logits(work: Workload, contender: Torch) -> float:
    """The PyTorch model's logits against the NNX model's on the first batch, at
    the shared initial weights; returns the largest relative difference."""
    x = work.batches[0][0]
    want = np.asarray(work.model()(x))
    with contender.torch.no_grad():
        got = contender.logits(contender.data[0][0]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    return max_rel([got], [want])


def measure(contenders: dict[str, Contender], repeats: int) -> Result:
    """``repeats`` rounds, each one epoch of every contender in a rotating order."""
    return _paired.measure(
        {k: c.epoch for k, c in contenders.items()}, repeats, label_width=22
    )


RATIOS = (
    (LIBRARY, HAND, "library/hand"),
    (AA, LIBRARY, "library(A/A)/library"),
    (TORCH, LIBRARY, "pytorch/library"),
    (SCAN, HAND, "hand(scan)/hand"),
)


def report(result: Result, steps: int) -> str:
    """The table of median epoch times, the paired ratios and the verdict."""
    names = list(result.times)
    width = max(len(n) for n in names)
    lines = [
        f"{'contender':<{width}}  {'epoch s':>8}  {'min s':>8}  {'ms/step':>8}",
        "-" * (width + 32),
    ]
    for name in names:
        med = result.median(name)
        lines.append(
            f"{name:<{width}}  {med:8.4f}  {min(result.times[name]):8.4f}  "
            f"{1e3 * med / steps:8.2f}"
        )
    lines.append("")
    lines.append("paired ratios (median over rounds of the per-round ratio):")
    for name, over, label in RATIOS:
        if name in result.times and over in result.times:
            lines.append("  " + result.ratio_line(name, over, label))
    lines.append("")
    lines.append(verdict(result))
    return "\n".join(lines)


def verdict(result: Result) -> str:
    """Whether ``library/hand <= TARGET`` holds, read against the A/A spread."""
    ratio = statistics.median(result.ratios(LIBRARY, HAND))
    control = result.ratios(AA, LIBRARY)
    noise = max(abs(c - 1.0) for c in control)
    if ratio <= TARGET:
        state = "met"
        detail = (
            "the median is within the A/A spread of 1"
            if abs(ratio - 1.0) <= noise
            else "outside the A/A spread of 1, but under the target"
        )
    elif ratio - 1.0 <= noise:
        state = "missed"
        detail = "but within the A/A spread (noise on this machine cannot tell)"
    else:
        state = "missed"
        detail = "beyond the A/A spread"
    return (
        f"target library/hand <= {TARGET}: {state} (median {ratio:.3f}; "
        f"{detail}: A/A per-round ratios {min(control):.3f}-{max(control):.3f}, "
        f"largest deviation from 1 {noise:.3f})"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.adversarial.speed",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 rounds of epochs of 3 batches of 32 (smoke test)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds")
    options = parser.parse_args(argv)
    repeats = options.repeats or (2 if options.quick else 11)
    if repeats < 1:
        parser.error("--repeats must be a positive int")
    # The smoke test keeps the programs (and so their compilation, most of its
    # time) and shrinks the work: 3 batches of 32.
    batch_size = QUICK_BATCH_SIZE if options.quick else BATCH_SIZE
    work = workload(3 if options.quick else None, batch_size)
    steps = len(work.batches)
    threads = jax_threads()

    print(machine())
    print(
        f"PGD-{NUM_STEPS} adversarial training of the digits SmallCNN: linf eps={EPS},"
        f" step {STEP_SIZE}, random start, bounds {BOUNDS}; batch {batch_size}, "
        f"{steps} batches an epoch; SGD lr={LR} momentum={MOMENTUM}"
    )
    print(
        f"wall clock, {repeats} rounds of one epoch each (order rotating), "
        "compile excluded (one warm-up epoch each); JAX: XLA:CPU thread pool on "
        f"{threads} cores"
    )

    library, hand, twin = Library(work), Hand(work), Library(work)
    if options.quick:  # a smoke test: the A/A twin reuses the compiled step
        twin.step = library.step
    contenders: dict[str, Contender] = {
        LIBRARY: library,
        HAND: hand,
        SCAN: Hand(work, scan=True),
        AA: twin,
    }
    pytorch = None
    if torch_available():
        import torch

        pytorch = contenders[TORCH] = Torch(work, threads)
        print(
            f"pytorch {torch.__version__}: eager, CPU, torch.set_num_threads("
            f"{threads}) (as many as JAX uses)"
        )
    else:
        print(
            "pytorch: skipped (import torch failed); install it with "
            '`pip install -e ".[compare]"`'
        )

    # The PyTorch model's function checked at the shared initial weights, before
    # any contender trains.
    torch_check = None if pytorch is None else check_torch_logits(work, pytorch)
    # Compile (the warm-up epoch), then check the contenders compute one thing.
    for name, c in contenders.items():
        start = time.perf_counter()
        c.epoch()
        print(f"warm-up epoch (compile) {name}: {time.perf_counter() - start:.1f} s")
    step_diff = check_one_step(work, library, hand)
    print(
        f"agreement check: one step of library and hand from the same weights and "
        f"key (same random start): max relative difference {step_diff:.1e} "
        f"(rtol {STEP_RTOL:g}): ok"
    )
    reference = library.params()
    diffs = []
    for name, c in contenders.items():
        if name in (LIBRARY, TORCH):  # pytorch's random starts are its own
            continue
        diff = max_rel(c.params(), reference)
        assert diff <= EPOCH_RTOL, f"{name} drifted from library: {diff:.1e}"
        diffs.append(f"{name} {diff:.1e}")
    if torch_check is not None:
        diffs.append(f"pytorch logits at the initial weights {torch_check:.1e}")
    print(
        "agreement check: weights after the warm-up epoch against library's: "
        + ", ".join(diffs)
        + f" (tolerance {EPOCH_RTOL:g}): ok\n"
    )

    result = measure(contenders, repeats)
    print(report(result, steps))


if __name__ == "__main__":
    main()
