"""Hand-written fused ``lax.scan`` loops: each rule's baseline (private).

Each function runs one update rule directly with ``jnp`` on a pytree ``z = (x,
y)``, for the same budget of field evaluations as ``mmx.solve(field, z0, rule,
num_steps)``, and records ``‖V‖`` at every evaluation. It is what a careful user
would write by hand for one rule: one scan step per iteration, the phases of the
iteration unrolled, no optimizer state beyond what the rule needs, no finiteness
checks, no status. The overhead benchmark times ``solve`` against them and the
tests check ``solve`` against them.

Signature: ``(field, z0, num_steps, *, lr, **options) -> (z, field_norm)``, ``z``
the last committed iterate, ``field_norm`` of length ``num_steps``.
"""

from typing import Any

import jax
import jax.numpy as jnp

from minimaxjax._types import Field, PyTree

__all__ = [
    "alternating_gda",
    "extra_adam",
    "extra_sgd",
    "gda",
    "norm",
    "optimistic_gda",
    "reflected_gda",
]


def norm(g: PyTree) -> jax.Array:
    """Euclidean norm of all leaves together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in jax.tree.leaves(g)))


def _step(z: PyTree, scale: float, g: PyTree) -> PyTree:
    """``z + scale * g`` leafwise."""
    return jax.tree.map(lambda a, b: a + scale * b, z, g)


def _iterations(num_steps: int, per_iteration: int) -> int:
    if num_steps % per_iteration:
        raise ValueError(
            f"num_steps={num_steps} must be a multiple of {per_iteration}, the field "
            "evaluations per iteration of this rule."
        )
    return num_steps // per_iteration


def gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    def body(z: PyTree, _: None) -> tuple[PyTree, jax.Array]:
        g = field(z)
        return _step(z, -lr, g), norm(g)

    return jax.lax.scan(body, z0, length=num_steps)


def alternating_gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    def body(z: PyTree, _: None) -> tuple[PyTree, jax.Array]:
        x, y = z
        g0 = field((x, y))
        x = x - lr * g0[0]
        g1 = field((x, y))
        y = y - lr * g1[1]
        return (x, y), jnp.stack([norm(g0), norm(g1)])

    z, norms = jax.lax.scan(body, z0, length=_iterations(num_steps, 2))
    return z, norms.reshape(-1)


def extra_sgd(
    field: Field, z0: PyTree, num_steps: int, *, lr: float, scales: tuple[float, ...]
) -> Any:
    """Anchored phases ``w_{j+1} = z − lr·s_j·V(w_j)``: PPM, EG and EG+."""

    def body(z: PyTree, _: None) -> tuple[PyTree, jax.Array]:
        w, norms = z, []
        for s in scales:
            g = field(w)
            norms.append(norm(g))
            w = _step(z, -lr * s, g)
        return w, jnp.stack(norms)

    z, norms = jax.lax.scan(body, z0, length=_iterations(num_steps, len(scales)))
    return z, norms.reshape(-1)


def optimistic_gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    """``z⁺ = z − lr(2V(z) − V(z_prev))``; the first step (``V(z⁻¹) := V(z⁰)``) is
    peeled off the loop, so the scan carries no first-step flag."""
    g0 = field(z0)
    z1 = _step(z0, -lr, g0)

    def body(carry: tuple[PyTree, PyTree], _: None) -> Any:
        z, g_prev = carry
        g = field(z)
        z = jax.tree.map(lambda a, b, c: a - lr * (2 * b - c), z, g, g_prev)
        return (z, g), norm(g)

    (z, _), norms = jax.lax.scan(body, (z1, g0), length=num_steps - 1)
    return z, jnp.concatenate([norm(g0)[None], norms])


def reflected_gda(field: Field, z0: PyTree, num_steps: int, *, lr: float) -> Any:
    """``z⁺ = z − lr·V(2z − z_prev)``, ``z⁻¹ := z⁰``."""

    def body(carry: tuple[PyTree, PyTree], _: None) -> Any:
        z, z_prev = carry
        g = field(jax.tree.map(lambda a, b: 2 * a - b, z, z_prev))
        return (_step(z, -lr, g), z), norm(g)

    (z, _), norms = jax.lax.scan(body, (z0, z0), length=num_steps)
    return z, norms


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

    def body(carry: Any, _: None) -> Any:
        z, m, v, count = carry
        g0 = field(z)
        u, m, v, count = adam(g0, m, v, count)
        g1 = field(_step(z, -lr, u))
        u, m, v, count = adam(g1, m, v, count)
        return (_step(z, -lr, u), m, v, count), jnp.stack([norm(g0), norm(g1)])

    zeros = jax.tree.map(jnp.zeros_like, z0)
    carry = (z0, zeros, zeros, jnp.zeros([], jnp.int32))
    (z, *_), norms = jax.lax.scan(body, carry, length=_iterations(num_steps, 2))
    return z, norms.reshape(-1)
