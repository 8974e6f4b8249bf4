"""What ``gan.nnx_train_step`` and ``gan.linen_train_step`` cost over a hand-fused
JAX loop: one WGAN-GP ExtraAdam iteration, side by side.

The workload is the 25-Gaussians toy GAN: real data from a 5×5 grid of Gaussians
(centres ``{-4, -2, 0, 2, 4}²``, σ = 0.05), noise ``N(0, I₂)``, a generator
2→128→128→2 and a critic 2→128→128→1 (ReLU MLPs), batch 256, the Wasserstein
loss with the WGAN-GP gradient penalty (weight 10), and ExtraAdam (lr 2e-3,
betas (0.5, 0.9)) with a fresh real batch, noise and penalty key at each of the
two field evaluations of an iteration. Each contender runs a *block* of ``N``
iterations (``N = 50``) per timed call:

* **nnx**: ``gan.nnx_train_step(..., steps_per_call=N)`` (a ``fori_loop`` in one
  ``nnx.jit``) on an NNX model with ``.generator`` and ``.critic`` and its
  ``nnx.Optimizer(model, mmx.extra_adam(...), wrt=nnx.Param)``;
* **linen**: ``gan.linen_train_step(..., steps_per_call=N)`` (a ``lax.scan``) on
  a Linen ``TrainState``;
* **hand**: a hand-fused loop in plain JAX and optax (nothing from minimaxjax):
  the parameters a dict of arrays, one ``jax.jit``-compiled ``lax.scan`` over
  the ``N`` iterations, each one ExtraAdam written out with ``optax.adam``
  (extrapolate from the anchor, then step from the anchor with the field at the
  extrapolated point; Adam's moments and count advance at both evaluations);
* **nnx (A/A)**: a second, independently built and compiled nnx contender, the
  control: its ratio to the first shows how far two runs of one program drift
  apart on this machine;
* **natural nnx loop**: ``gan.nnx_train_step(..., steps_per_call=1)`` called
  once per iteration, ``N`` calls a block (what a plain Python training loop
  pays per call);
* **pytorch** (when ``import torch`` works): the same iteration in eager PyTorch
  on the CPU (Gidel et al.'s ExtraAdam, written out), the same initial weights,
  as many threads as JAX's CPU backend uses.

Before timing, a few iterations of nnx, linen and hand from the same weights and
key must give the same parameters (``rtol=1e-4``): the hand loop draws its data,
noise and penalty keys as each library step documents (NNX: evaluation ``k`` of
iteration ``i`` from ``split(fold_in(fold_in(key, i), k), 3)``; Linen: the same
from ``split(key, steps)[i]``). PyTorch's field is checked against JAX's on one
shared batch. Each round then times one block of every contender in a rotating
order (wall clock, ``jax.block_until_ready``, compilation excluded by a warm-up
block), and the ratios are medians over rounds of the two blocks' ratio within a
round, with their min-max range. Target: ``nnx/hand`` and ``linen/hand`` ≤ 1.05.

Run ``python -m benchmarks.gan_speed`` (11 rounds of blocks of 50 iterations);
``--quick`` (2 rounds of blocks of 3 iterations, the agreement check's length, so
that it reuses the contenders' compiled steps) is a smoke test, ``--repeats N``
sets the rounds and ``--torch-threads T`` PyTorch's threads.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from flax.training.train_state import TrainState

import minimaxjax as mmx
from benchmarks import _paired
from benchmarks._paired import Result, jax_threads, max_rel, torch_available
from benchmarks.overhead import machine
from minimaxjax import gan

BATCH_SIZE = 256
HIDDEN = 128
SIGMA = 0.05
GP_WEIGHT = 10.0
LR = 2e-3
B1, B2 = 0.5, 0.9
BLOCK = 50  # iterations per timed call
QUICK_BLOCK = 3
CHECK_STEPS = 3  # iterations of the agreement check
CHECK_RTOL = 1e-4
SEED = 0
TARGET = 1.05  # nnx/hand and linen/hand

NNX, LINEN, HAND, AA, NATURAL, TORCH = (
    "nnx",
    "linen",
    "hand",
    "nnx (A/A)",
    "natural nnx loop",
    "pytorch",
)

Params = dict[str, Any]

#: The 25 centres of the real distribution.
CENTRES = np.array(
    [(x, y) for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)],
    dtype=np.float32,
)


def sample_real(key: jax.Array) -> jax.Array:
    """A batch of the 25-Gaussians mixture: a uniform centre plus σ-noise."""
    centre_key, noise_key = jax.random.split(key)
    idx = jax.random.randint(centre_key, (BATCH_SIZE,), 0, len(CENTRES))
    noise = jax.random.normal(noise_key, (BATCH_SIZE, 2))
    return jnp.asarray(CENTRES)[idx] + SIGMA * noise


def sample_noise(key: jax.Array) -> jax.Array:
    """The generator's input, ``N(0, I₂)``."""
    return jax.random.normal(key, (BATCH_SIZE, 2))


@functools.cache
def rule() -> optax.GradientTransformationExtraArgs:
    """The library's ExtraAdam, as measured: one object, so that steps jitted on
    models and train states that hold it (a static field) compile once."""
    return mmx.extra_adam(LR, b1=B1, b2=B2)


def penalty() -> Callable[..., jax.Array]:
    """The WGAN-GP penalty with weight 10."""
    return functools.partial(gan.gradient_penalty, weight=GP_WEIGHT)


# --- models ---------------------------------------------------------------------


class Mlp(nnx.Module):
    """``din → 128 → 128 → dout`` with ReLU."""

    def __init__(self, din: int, dout: int, rngs: nnx.Rngs) -> None:
        self.l1 = nnx.Linear(din, HIDDEN, rngs=rngs)
        self.l2 = nnx.Linear(HIDDEN, HIDDEN, rngs=rngs)
        self.l3 = nnx.Linear(HIDDEN, dout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.l3(jax.nn.relu(self.l2(jax.nn.relu(self.l1(x)))))


class Gan(nnx.Module):
    """The generator (2 → 2) and the critic (2 → 1)."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.generator = Mlp(2, 2, rngs)
        self.critic = Mlp(2, 1, rngs)


class LinenMlp(nn.Module):
    """The Linen twin of :class:`Mlp` (same parameter names and shapes)."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = jax.nn.relu(nn.Dense(HIDDEN, name="l1")(x))
        h = jax.nn.relu(nn.Dense(HIDDEN, name="l2")(h))
        return nn.Dense(self.features, name="l3")(h)


LINEN_G, LINEN_D = LinenMlp(2), LinenMlp(1)


def new_model() -> Gan:
    """A fresh NNX model with the benchmark's initial weights."""
    return Gan(nnx.Rngs(SEED))


def initial_params() -> Params:
    """The initial weights as a nested dict ``{"generator": {"l1": {"kernel",
    "bias"}, ...}, "critic": ...}`` (NNX kernels are ``(in, out)`` like Linen's)."""
    return nnx.to_pure_dict(nnx.state(new_model(), nnx.Param))


def leaves(params: Any) -> list[np.ndarray]:
    """The parameters in one canonical order (sorted keys)."""
    return [np.asarray(a) for a in jax.tree.leaves(params)]


# --- the hand-fused loop (plain JAX + optax) ------------------------------------


def _mlp(p: Params, x: jax.Array) -> jax.Array:
    h = jax.nn.relu(x @ p["l1"]["kernel"] + p["l1"]["bias"][None])
    h = jax.nn.relu(h @ p["l2"]["kernel"] + p["l2"]["bias"][None])
    return h @ p["l3"]["kernel"] + p["l3"]["bias"][None]


def hand_field_on_batch(
    z: Params, real: jax.Array, noise: jax.Array, t: jax.Array
) -> Params:
    """The WGAN-GP field ``[∇θ ℓ_G, ∇φ ℓ_D]`` on one batch, ``t`` the ``(batch,
    1)`` interpolation weights of the penalty."""

    def critic(phi: Params, x: jax.Array) -> jax.Array:
        return _mlp(phi, x)[:, 0]

    def generator_loss(theta: Params) -> jax.Array:
        return -jnp.mean(critic(z["critic"], _mlp(theta, noise)))

    fake = jax.lax.stop_gradient(_mlp(z["generator"], noise))
    x_hat = t * real + (1 - t) * fake

    def critic_loss(phi: Params) -> jax.Array:
        grads = jax.grad(lambda x: jnp.sum(critic(phi, x)))(x_hat)
        norms = jnp.sqrt(jnp.sum(jnp.square(grads), axis=-1))
        gp = GP_WEIGHT * jnp.mean(jnp.square(norms - 1.0))
        return jnp.mean(critic(phi, fake)) - jnp.mean(critic(phi, real)) + gp

    return {
        "generator": jax.grad(generator_loss)(z["generator"]),
        "critic": jax.grad(critic_loss)(z["critic"]),
    }


def hand_field(z: Params, key: jax.Array) -> Params:
    """The field at one evaluation: real data, noise and penalty weights drawn
    from ``split(key, 3)``, as the library's steps draw them."""
    real_key, noise_key, penalty_key = jax.random.split(key, 3)
    t = jax.random.uniform(penalty_key, (BATCH_SIZE, 1))
    return hand_field_on_batch(z, sample_real(real_key), sample_noise(noise_key), t)


@functools.cache
def hand_block_fn(steps: int, schedule: str = "nnx") -> Callable[..., Any]:
    """The jitted block ``(params, adam_state, key) -> (params, adam_state)``:
    ``steps`` ExtraAdam iterations in one ``lax.scan``. ``schedule`` is the key
    schedule to follow: ``"nnx"`` (iteration ``i`` from ``fold_in(key, i)``) or
    ``"linen"`` (from ``split(key, steps)[i]``)."""
    tx = optax.adam(LR, B1, B2)

    def iteration(carry: Any, key: jax.Array) -> tuple[Any, None]:
        z, s = carry
        u, s = tx.update(hand_field(z, jax.random.fold_in(key, 0)), s, z)
        z_bar = optax.apply_updates(z, u)  # extrapolate from the anchor z
        u, s = tx.update(hand_field(z_bar, jax.random.fold_in(key, 1)), s, z)
        return (optax.apply_updates(z, u), s), None  # step from the anchor z

    def block(z: Params, s: Any, key: jax.Array) -> tuple[Params, Any]:
        if schedule == "nnx":
            keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(steps))
        else:
            keys = jax.random.split(key, steps)
        (z, s), _ = jax.lax.scan(iteration, (z, s), keys)
        return z, s

    return jax.jit(block)


def hand_init(params: Params) -> Any:
    """Adam's state for the hand loop."""
    return optax.adam(LR, B1, B2).init(params)


# --- contenders -----------------------------------------------------------------


class Contender:
    """A training run whose :meth:`block` runs one block and blocks on it."""

    def block(self) -> None:
        raise NotImplementedError

    def params(self) -> Params:
        raise NotImplementedError


@functools.cache
def nnx_step(steps: int) -> Callable[..., Any]:
    """The library's NNX step running ``steps`` iterations a call (one per
    ``steps``: the agreement check reuses the contender's compiled step; the A/A
    twin builds its own through ``nnx_step.__wrapped__``)."""
    return gan.nnx_train_step(
        "wasserstein",
        sample_real=sample_real,
        sample_noise=sample_noise,
        penalty=penalty(),
        steps_per_call=steps,
    )


@functools.cache
def linen_step(steps: int) -> Callable[..., Any]:
    """The library's Linen step running ``steps`` iterations a call."""
    return gan.linen_train_step(
        "wasserstein",
        generate=lambda p, n: LINEN_G.apply({"params": p}, n),
        criticise=lambda p, x: LINEN_D.apply({"params": p}, x),
        sample_real=sample_real,
        sample_noise=sample_noise,
        penalty=penalty(),
        steps_per_call=steps,
    )


class Nnx(Contender):
    """``gan.nnx_train_step`` with ``steps_per_call=n`` (``natural``: one call per
    iteration, ``steps_per_call=1``; ``twin``: a step built and compiled anew)."""

    def __init__(
        self, n: int, key: jax.Array, *, natural: bool = False, twin: bool = False
    ) -> None:
        self.model = new_model()
        self.optimizer = nnx.Optimizer(self.model, rule(), wrt=nnx.Param)
        self.natural = natural
        steps = 1 if natural else n
        self.step = nnx_step.__wrapped__(steps) if twin else nnx_step(steps)
        self.key = key
        # The natural loop's key for each call, made once.
        self.keys = list(jax.random.split(key, n)) if natural else []

    def block(self) -> None:
        if self.natural:
            for key in self.keys:
                metrics = self.step(self.model, self.optimizer, key)
        else:
            metrics = self.step(self.model, self.optimizer, self.key)
        jax.block_until_ready((metrics, nnx.state(self.model, nnx.Param)))

    def params(self) -> Params:
        return nnx.to_pure_dict(nnx.state(self.model, nnx.Param))


class Linen(Contender):
    """``gan.linen_train_step`` with ``steps_per_call=n`` on a ``TrainState``."""

    def __init__(self, n: int, key: jax.Array) -> None:
        self.state = TrainState.create(
            apply_fn=None, params=initial_params(), tx=rule()
        )
        self.step = linen_step(n)
        self.key = key

    def block(self) -> None:
        self.state, metrics = self.step(self.state, self.key)
        jax.block_until_ready((self.state, metrics))

    def params(self) -> Params:
        return dict(self.state.params)


class Hand(Contender):
    """The hand-fused block (NNX key schedule)."""

    def __init__(self, n: int, key: jax.Array) -> None:
        self.z = initial_params()
        self.s = hand_init(self.z)
        self.step = hand_block_fn(n, "nnx")
        self.key = key

    def block(self) -> None:
        self.z, self.s = self.step(self.z, self.s, self.key)
        jax.block_until_ready((self.z, self.s))

    def params(self) -> Params:
        return self.z


class Torch(Contender):
    """The same block in eager PyTorch (CPU): Gidel et al.'s ExtraAdam written out
    (Adam's moments and count advance at both evaluations, both steps from the
    anchor), ε added to ``√v̂`` as in the JAX contenders."""

    def __init__(self, n: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.n = n
        self.z = {
            player: [
                torch.tensor(np.asarray(a)).requires_grad_(True)
                for a in jax.tree.leaves(layers)
            ]
            for player, layers in initial_params().items()
        }  # per player: [l1.bias, l1.kernel, l2.bias, l2.kernel, l3.bias, ...]
        flat = [*self.z["critic"], *self.z["generator"]]
        self.m = [torch.zeros_like(p) for p in flat]
        self.v = [torch.zeros_like(p) for p in flat]
        self.count = 0
        self.centres = torch.tensor(CENTRES)
        self.generator = torch.Generator().manual_seed(SEED)

    @staticmethod
    def mlp(p: Sequence[Any], x: Any) -> Any:
        """The MLP on ``[b1, w1, b2, w2, b3, w3]`` (kernels ``(in, out)``)."""
        h = (x @ p[1] + p[0]).relu()
        h = (h @ p[3] + p[2]).relu()
        return h @ p[5] + p[4]

    def field_on_batch(
        self, z: dict[str, list[Any]], real: Any, noise: Any, t: Any
    ) -> list[Any]:
        """``[∇φ ℓ_D, ∇θ ℓ_G]`` (critic's leaves first) on one batch."""
        torch = self.torch
        theta, phi = z["generator"], z["critic"]
        fake = self.mlp(theta, noise)
        g_theta = torch.autograd.grad(-self.mlp(phi, fake).mean(), theta)
        fake = fake.detach()
        x_hat = (t * real + (1 - t) * fake).requires_grad_(True)
        (gx,) = torch.autograd.grad(
            self.mlp(phi, x_hat).sum(), x_hat, create_graph=True
        )
        gp = GP_WEIGHT * ((gx.square().sum(-1).sqrt() - 1) ** 2).mean()
        critic_loss = self.mlp(phi, fake).mean() - self.mlp(phi, real).mean() + gp
        g_phi = torch.autograd.grad(critic_loss, phi)
        return [*g_phi, *g_theta]

    def field(self, z: dict[str, list[Any]]) -> list[Any]:
        torch, g = self.torch, self.generator
        idx = torch.randint(0, len(CENTRES), (BATCH_SIZE,), generator=g)
        real = self.centres[idx] + SIGMA * torch.randn(BATCH_SIZE, 2, generator=g)
        noise = torch.randn(BATCH_SIZE, 2, generator=g)
        t = torch.rand(BATCH_SIZE, 1, generator=g)
        return self.field_on_batch(z, real, noise, t)

    def adam(self, grads: list[Any]) -> list[Any]:
        """One Adam step's direction ``m̂ / (√v̂ + ε)``, moments updated."""
        self.count += 1
        c1, c2 = 1 - B1**self.count, 1 - B2**self.count
        out = []
        for m, v, g in zip(self.m, self.v, grads, strict=True):
            m.mul_(B1).add_(g, alpha=1 - B1)
            v.mul_(B2).addcmul_(g, g, value=1 - B2)
            out.append((m / c1) / ((v / c2).sqrt() + 1e-8))
        return out

    def iteration(self) -> None:
        torch = self.torch
        anchor = [*self.z["critic"], *self.z["generator"]]
        g = self.field(self.z)
        with torch.no_grad():
            u = self.adam(g)
            bar = [
                (p - LR * d).requires_grad_(True)
                for p, d in zip(anchor, u, strict=True)
            ]
        k = len(self.z["critic"])
        g = self.field({"critic": bar[:k], "generator": bar[k:]})
        with torch.no_grad():
            for p, d in zip(anchor, self.adam(g), strict=True):
                p.sub_(LR * d)

    def block(self) -> None:
        for _ in range(self.n):
            self.iteration()

    def params(self) -> Params:
        raise NotImplementedError("PyTorch draws its own data")


# --- checks ---------------------------------------------------------------------


def _agree(got: Any, want: Any) -> float:
    a, b = leaves(got), leaves(want)
    for g, w in zip(a, b, strict=True):
        np.testing.assert_allclose(g, w, rtol=CHECK_RTOL, atol=1e-6)
    return max_rel(a, b)


def check_agreement(key: jax.Array) -> dict[str, float]:
    """``CHECK_STEPS`` iterations of nnx, linen and hand (with each library
    step's key schedule) from the same weights and key: the parameters must agree
    to ``CHECK_RTOL``. Returns the largest relative difference of each pair."""
    z0 = initial_params()
    model = new_model()
    nnx_step(CHECK_STEPS)(model, nnx.Optimizer(model, rule(), wrt=nnx.Param), key)
    want_nnx = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    got_nnx, _ = hand_block_fn(CHECK_STEPS, "nnx")(z0, hand_init(z0), key)
    state = TrainState.create(apply_fn=None, params=z0, tx=rule())
    state, _ = linen_step(CHECK_STEPS)(state, key)
    got_linen, _ = hand_block_fn(CHECK_STEPS, "linen")(z0, hand_init(z0), key)
    return {
        "nnx/hand": _agree(got_nnx, want_nnx),
        "linen/hand": _agree(got_linen, dict(state.params)),
    }


def check_torch_field(contender: Torch) -> float:
    """PyTorch's field against the hand field at the initial weights on one
    shared batch; returns the largest relative difference."""
    torch = contender.torch
    keys = jax.random.split(jax.random.key(SEED + 7), 3)
    real, noise = sample_real(keys[0]), sample_noise(keys[1])
    t = jax.random.uniform(keys[2], (BATCH_SIZE, 1))
    want = hand_field_on_batch(initial_params(), real, noise, t)
    got = contender.field_on_batch(
        contender.z, *(torch.tensor(np.asarray(a)) for a in (real, noise, t))
    )
    got_np = [g.numpy() for g in got]
    want_np = leaves(want)  # critic's leaves first, as the torch field
    for g, w in zip(got_np, want_np, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-5)
    return max_rel(got_np, want_np)


# --- measurement ----------------------------------------------------------------


def measure(contenders: dict[str, Contender], repeats: int) -> Result:
    """``repeats`` rounds, each one block of every contender in a rotating order."""
    return _paired.measure(
        {k: c.block for k, c in contenders.items()}, repeats, label_width=16
    )


RATIOS = (
    (NNX, HAND, "nnx/hand"),
    (LINEN, HAND, "linen/hand"),
    (AA, NNX, "nnx(A/A)/nnx"),
    (NATURAL, HAND, "natural/hand"),
    (TORCH, HAND, "pytorch/hand"),
)


def report(result: Result, n: int) -> str:
    """The table of median times per iteration, the paired ratios, the verdict."""
    names = list(result.times)
    width = max(len(name) for name in names)
    lines = [
        f"{'contender':<{width}}  {'ms/iter':>8}  {'min':>8}  {'block s':>8}",
        "-" * (width + 32),
    ]
    for name in names:
        med, low = result.median(name), min(result.times[name])
        lines.append(
            f"{name:<{width}}  {1e3 * med / n:8.3f}  {1e3 * low / n:8.3f}  {med:8.4f}"
        )
    lines.append("")
    lines.append("paired ratios (median over rounds of the per-round ratio):")
    for name, over, label in RATIOS:
        if name in result.times and over in result.times:
            lines.append("  " + result.ratio_line(name, over, label))
    lines.append("")
    lines.extend(verdict(result))
    return "\n".join(lines)


def verdict(result: Result) -> list[str]:
    """Whether ``nnx/hand`` and ``linen/hand`` ≤ ``TARGET`` hold, read against the
    A/A spread."""
    control = result.ratios(AA, NNX)
    noise = max(abs(c - 1.0) for c in control)
    out = []
    for name in (NNX, LINEN):
        ratio = statistics.median(result.ratios(name, HAND))
        if ratio <= TARGET:
            state = "met"
            detail = (
                "within the A/A spread of 1"
                if abs(ratio - 1.0) <= noise
                else "outside the A/A spread of 1, but under the target"
            )
        elif ratio - 1.0 <= noise:
            state = "missed"
            detail = "but within the A/A spread (noise on this machine cannot tell)"
        else:
            state = "missed"
            detail = "beyond the A/A spread"
        out.append(
            f"target {name}/hand <= {TARGET}: {state} (median {ratio:.3f}; {detail})"
        )
    out.append(
        f"A/A control: per-round ratios {min(control):.3f}-{max(control):.3f}, "
        f"largest deviation from 1 {noise:.3f}"
    )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gan_speed",
        description=(__doc__ or "").split("\n")[0],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"2 rounds of blocks of {QUICK_BLOCK} iterations (smoke test)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads (default: as many as JAX uses)",
    )
    options = parser.parse_args(argv)
    repeats = options.repeats or (2 if options.quick else 11)
    if repeats < 1:
        parser.error("--repeats must be a positive int")
    if options.torch_threads is not None and options.torch_threads < 1:
        parser.error("--torch-threads must be a positive int")
    n = QUICK_BLOCK if options.quick else BLOCK
    threads = jax_threads()
    key = jax.random.key(SEED + 1)

    print(machine())
    print(
        "WGAN-GP on 25 Gaussians: generator 2-128-128-2, critic 2-128-128-1 (ReLU), "
        f"batch {BATCH_SIZE}, penalty weight {GP_WEIGHT:g}; ExtraAdam lr {LR:g} "
        f"betas ({B1}, {B2}); fresh data and noise per field evaluation"
    )
    print(
        f"wall clock, {repeats} rounds of one block of {n} iterations each (order "
        "rotating), compile excluded (one warm-up block each); JAX: XLA:CPU thread "
        f"pool on {threads} cores"
    )

    diffs = check_agreement(key)
    print(
        f"agreement check: {CHECK_STEPS} iterations from the same weights and key, "
        "each library step's key schedule: max relative difference "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        + f" (rtol {CHECK_RTOL:g}): ok"
    )

    contenders: dict[str, Contender] = {
        NNX: Nnx(n, key),
        LINEN: Linen(n, key),
        HAND: Hand(n, key),
        AA: Nnx(n, key, twin=not options.quick),  # quick: reuse the compiled step
        NATURAL: Nnx(n, key, natural=True),
    }
    if torch_available():
        import torch

        torch_threads = options.torch_threads or threads
        pytorch = Torch(n, torch_threads)
        contenders[TORCH] = pytorch
        print(
            f"pytorch {torch.__version__}: eager, CPU, torch.set_num_threads("
            f"{torch_threads}) (JAX uses {threads}); field at the initial weights on a "
            f"shared batch against JAX's: max relative difference "
            f"{check_torch_field(pytorch):.1e}: ok"
        )
    else:
        print(
            "pytorch: skipped (import torch failed); install it with "
            '`pip install -e ".[compare]"`'
        )

    for name, c in contenders.items():
        start = time.perf_counter()
        c.block()
        print(f"warm-up block (compile) {name}: {time.perf_counter() - start:.1f} s")
    # Same program, key and weights: the A/A twin must be bit-identical; the hand
    # loop follows nnx's key schedule, so after a whole block it is close.
    reference = leaves(contenders[NNX].params())
    same = all(
        np.array_equal(a, b)
        for a, b in zip(leaves(contenders[AA].params()), reference, strict=True)
    )
    assert same, "the A/A twin differs from nnx after the warm-up block"
    hand_diff = max_rel(leaves(contenders[HAND].params()), reference)
    print(
        "after the warm-up block: nnx (A/A) bit-identical to nnx; hand against nnx "
        f"max relative difference {hand_diff:.1e} (information; not asserted)\n"
    )

    result = measure(contenders, repeats)
    print(report(result, n))


if __name__ == "__main__":
    main()
