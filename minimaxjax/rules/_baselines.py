"""Hand-written fused ``lax.scan`` loops: each rule's baseline (private).

Each function runs one update rule directly with ``jnp`` on a pytree ``z = (x,
y)``, for the same budget of field evaluations as ``mmx.solve(field, z0, rule,
num_steps)``, and records ``‖V‖`` at every evaluation. It is what a careful user
would write by hand for one rule: a start carry and one iteration, ``body(carry)
-> (carry, field values)``, the phases unrolled, no optimizer state beyond what
the rule needs, run by :func:`_loop` in one scan step per iteration. The overhead
benchmark times ``solve`` against them and the tests check ``solve`` against them.

Signature: ``(field, z0, num_steps, *, lr, **options) -> (z, field_norm)``, ``z``
the last committed iterate, ``field_norm`` of length ``num_steps``. The loop has
no finiteness checks and no status: a run that overflows ends in NaN.
``guarded(baseline)`` is the same loop keeping the last finite iterate, as
``solve`` does: an iteration whose field values, new iterate or new carry are not
all finite is not committed, the loop stops there and records NaN after that
iteration; it returns ``(z, field_norm, stopped)``, ``stopped`` whether the run
stopped at a non-finite value.
"""

import contextvars
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minimaxjax._types import Field, PyTree

__all__ = [
    "alternating_gda",
    "extra_adam",
    "extra_sgd",
    "gda",
    "guarded",
    "norm",
    "optimistic_gda",
    "reflected_gda",
]

Body = Callable[[Any], tuple[Any, list[PyTree]]]


# Read by _loop while a baseline is traced, set by guarded: a context variable, not
# an argument, so that every baseline of the registry (the lambdas that fix a
# rule's options included) runs guarded as it is.
_GUARDED = contextvars.ContextVar("guarded", default=False)


def guarded(baseline: Callable[..., Any]) -> Callable[..., Any]:
    """``baseline`` keeping the last finite iterate: ``(field, z0, num_steps, *,
    lr, **options) -> (z, field_norm, stopped)``."""

    @functools.wraps(baseline)
    def run(*args: Any, **kwargs: Any) -> Any:
        token = _GUARDED.set(True)
        try:
            return baseline(*args, **kwargs)
        finally:
            _GUARDED.reset(token)

    return run


def norm(g: PyTree) -> jax.Array:
    """Euclidean norm of all leaves together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in jax.tree.leaves(g)))


def _step(z: PyTree, scale: float, g: PyTree) -> PyTree:
    """``z + scale * g`` leafwise."""
    return jax.tree.map(lambda a, b: a + scale * b, z, g)


def _loop(
    body: Body,
    carry: Any,
    num_steps: int,
    per_iteration: int,
    iterate: Callable[[Any], PyTree] = lambda carry: carry,
) -> Any:
    """Run ``body`` (``per_iteration`` field values per call) for ``num_steps``
    evaluations: ``(z, field_norm)``, guarded ``(z, field_norm, stopped)``, with
    ``z = iterate(carry)``."""
    if num_steps % per_iteration:
        raise ValueError(
            f"num_steps={num_steps} must be a multiple of {per_iteration}, the field "
            "evaluations per iteration of this rule."
        )

    def norms(fields: list[PyTree]) -> jax.Array:
        # A (k, 1) trace costs XLA:CPU a slow transpose under vmap; (k,) does not.
        values = [norm(g) for g in fields]
        return values[0] if len(values) == 1 else jnp.stack(values)

    def plain(carry: Any, _: None) -> tuple[Any, jax.Array]:
        carry, fields = body(carry)
        return carry, norms(fields)

    def guard(loop: tuple[Any, jax.Array], _: None) -> Any:
        carry, stopped = loop
        new, fields = body(carry)
        finite = [jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves((new, fields))]
        stop = stopped | ~jnp.all(jnp.stack(finite))
        kept = jax.tree.map(lambda old, v: jnp.where(stop, old, v), carry, new)
        return (kept, stop), jnp.where(stopped, jnp.nan, norms(fields))

    length = num_steps // per_iteration
    if not _GUARDED.get():
        carry, trace = jax.lax.scan(plain, carry, length=length)
        return iterate(carry), trace.reshape(-1)
    start = (carry, jnp.array(False))
    (carry, stopped), trace = jax.lax.scan(guard, start, length=length)
    return iterate(carry), trace.reshape(-1), stopped


def _first(carry: tuple[Any, ...]) -> Any:
    return carry[0]


def gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    def body(z: PyTree) -> tuple[PyTree, list[PyTree]]:
        g = field(z)
        return _step(z, -lr, g), [g]

    return _loop(body, z0, num_steps, 1)


def alternating_gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    def body(z: PyTree) -> tuple[PyTree, list[PyTree]]:
        x, y = z
        g0 = field((x, y))
        x = x - lr * g0[0]
        g1 = field((x, y))
        y = y - lr * g1[1]
        return (x, y), [g0, g1]

    return _loop(body, z0, num_steps, 2)


def extra_sgd(
    field: Field,
    z0: PyTree,
    num_steps: int,
    *,
    lr: float,
    scales: tuple[float, ...],
) -> Any:
    """Anchored phases ``w_{j+1} = z − lr·s_j·V(w_j)``: PPM, EG and EG+."""

    def body(z: PyTree) -> tuple[PyTree, list[PyTree]]:
        w, fields = z, []
        for s in scales:
            fields.append(field(w))
            w = _step(z, -lr * s, fields[-1])
        return w, fields

    return _loop(body, z0, num_steps, len(scales))


def optimistic_gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    """``z⁺ = z − lr(2V(z) − V(z_prev))`` with ``V(z⁻¹) := V(z⁰)``, evaluated once
    before the loop (outside the budget and the trace), so that the scan carries
    no first-step flag; the first step's ``2V(z⁰) − V(z⁰)`` is ``V(z⁰)`` exactly."""

    def body(carry: tuple[PyTree, PyTree]) -> tuple[Any, list[PyTree]]:
        z, g_prev = carry
        g = field(z)
        z = jax.tree.map(lambda a, b, c: a - lr * (2 * b - c), z, g, g_prev)
        return (z, g), [g]

    return _loop(body, (z0, field(z0)), num_steps, 1, _first)


def reflected_gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    """``z⁺ = z − lr·V(2z − z_prev)``, ``z⁻¹ := z⁰``."""

    def body(carry: tuple[PyTree, PyTree]) -> tuple[Any, list[PyTree]]:
        z, z_prev = carry
        g = field(jax.tree.map(lambda a, b: 2 * a - b, z, z_prev))
        return (_step(z, -lr, g), z), [g]

    return _loop(body, (z0, z0), num_steps, 1, _first)


def extra_adam(
    field: Field,
    z0: PyTree,
    num_steps: int,
    *,
    lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> Any:
    """Both phases step from ``z`` with Adam; moments and count advance at both."""

    def adam(
        g: PyTree, m: PyTree, v: PyTree, count: jax.Array
    ) -> tuple[PyTree, PyTree, PyTree, jax.Array]:
        count = count + 1
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        c1 = 1 - b1 ** count.astype(jnp.float32)
        c2 = 1 - b2 ** count.astype(jnp.float32)
        u = jax.tree.map(lambda m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), m, v)
        return u, m, v, count

    def body(carry: Any) -> tuple[Any, list[PyTree]]:
        z, m, v, count = carry
        g0 = field(z)
        u, m, v, count = adam(g0, m, v, count)
        g1 = field(_step(z, -lr, u))
        u, m, v, count = adam(g1, m, v, count)
        return (_step(z, -lr, u), m, v, count), [g0, g1]

    zeros = jax.tree.map(jnp.zeros_like, z0)
    carry = (z0, zeros, zeros, jnp.zeros([], jnp.int32))
    return _loop(body, carry, num_steps, 2, _first)
