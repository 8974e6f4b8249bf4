"""Per-example norm balls: argument checks, steepest directions, projections and
random starts shared by the attacks."""

from collections.abc import Callable
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

Bounds: TypeAlias = tuple[Any, Any] | None
"""``(lo, hi)``: the valid input range, scalars or arrays shaped like the inputs."""

NORMS = ("linf", "l2")

# Keeps g / ‖g‖ finite where the gradient vanishes.
_TINY = 1e-12


def _known(value: Any) -> bool:
    return not isinstance(value, jax.core.Tracer)


def check_positive(name: str, value: Any) -> None:
    """A step or radius: a real scalar, positive and finite when its value is known."""
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar, got shape {np.shape(value)}.")
    if _known(value):
        number = float(np.asarray(value))
        if not np.isfinite(number) or number <= 0:
            raise ValueError(f"{name} must be positive and finite, got {number}.")


def check_num_steps(num_steps: Any, name: str = "num_steps") -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise ValueError(f"{name} must be a Python int, got {num_steps!r}.")
    if num_steps < 1:
        raise ValueError(f"{name} must be at least 1, got {num_steps}.")


def check_attack(
    loss_fn: Callable[[jax.Array], jax.Array],
    inputs: jax.Array,
    eps: Any,
    norm: str,
    bounds: Bounds,
) -> None:
    """Every check an attack makes before computing anything."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}.")
    check_positive("eps", eps)
    if jnp.ndim(inputs) < 1 or not jnp.issubdtype(
        jnp.result_type(inputs), jnp.floating
    ):
        raise ValueError(
            "inputs must be a floating-point array with the batch axis first, got "
            f"shape {jnp.shape(inputs)} and dtype {jnp.result_type(inputs)}."
        )
    if bounds is not None:
        _check_bounds(inputs, bounds)
    # Last: tracing loss_fn is the only check that runs user code.
    batch = jnp.shape(inputs)[0]
    out = jax.eval_shape(loss_fn, inputs)
    if getattr(out, "shape", None) != (batch,):
        raise ValueError(
            f"loss_fn must return one loss per example, shape ({batch},), got "
            f"{getattr(out, 'shape', type(out).__name__)}; a mean over the batch "
            "couples the examples' perturbations."
        )


def _check_bounds(inputs: jax.Array, bounds: tuple[Any, Any]) -> None:
    if not isinstance(bounds, tuple) or len(bounds) != 2:
        raise ValueError(f"bounds must be a pair (lo, hi) or None, got {bounds!r}.")
    for name, bound in zip(("lo", "hi"), bounds, strict=True):
        if np.ndim(bound) != 0 and np.shape(bound) != jnp.shape(inputs):
            raise ValueError(
                f"bounds {name} must be a scalar or shaped like inputs "
                f"{jnp.shape(inputs)}, got shape {np.shape(bound)}."
            )
    lo, hi = bounds
    if _known(lo) and _known(hi) and _known(inputs):
        lo, hi, x = np.asarray(lo), np.asarray(hi), np.asarray(inputs)
        if np.any(lo > hi):
            raise ValueError("bounds must have lo <= hi everywhere.")
        if np.any(x < lo) or np.any(x > hi):
            raise ValueError(
                f"inputs must lie within bounds, got values in [{x.min()}, {x.max()}] "
                f"for bounds [{lo.min()}, {hi.max()}]."
            )


def per_example(values: jax.Array, like: jax.Array) -> jax.Array:
    """``(batch,)`` values shaped to broadcast against ``like``."""
    return jnp.reshape(values, (-1,) + (1,) * (like.ndim - 1))


def l2_norms(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=tuple(range(1, x.ndim))))


def steepest(grad: jax.Array, norm: str) -> jax.Array:
    """The unit-norm direction of steepest ascent: sign(g) in ℓ∞, g/‖g‖₂ in ℓ2."""
    if norm == "linf":
        return jnp.sign(grad)
    scale = jnp.maximum(l2_norms(grad), _TINY)
    return grad / per_example(scale, grad).astype(grad.dtype)


def project(
    candidate: jax.Array, inputs: jax.Array, eps: jax.Array, norm: str, bounds: Bounds
) -> jax.Array:
    """Back onto B_ε(x) ∩ [lo, hi], per example.

    Exact for ℓ∞ (the box is the intersection of two boxes). For ℓ2 the ball
    projection is followed by clipping, which moves every coordinate towards
    ``inputs`` and so stays in the ball; every attack library does the same.
    """
    delta = candidate - inputs
    if norm == "linf":
        delta = jnp.clip(delta, -eps, eps)
    else:
        shrink = jnp.minimum(1.0, eps / jnp.maximum(l2_norms(delta), _TINY))
        delta = delta * per_example(shrink, delta).astype(delta.dtype)
    adversarial = inputs + delta
    if bounds is not None:
        lo, hi = bounds
        adversarial = jnp.clip(adversarial, lo, hi)
    return adversarial


def random_start(
    key: jax.Array, inputs: jax.Array, eps: jax.Array, norm: str, bounds: Bounds
) -> jax.Array:
    """A point drawn uniformly from B_ε(x), clipped to the bounds."""
    if norm == "linf":
        delta = jax.random.uniform(
            key, inputs.shape, inputs.dtype, minval=-1.0, maxval=1.0
        )
    else:
        direction_key, radius_key = jax.random.split(key)
        direction = jax.random.normal(direction_key, inputs.shape, inputs.dtype)
        dimension = np.prod(inputs.shape[1:], dtype=int)
        radius = jax.random.uniform(radius_key, inputs.shape[:1], inputs.dtype) ** (
            1.0 / dimension
        )
        delta = direction * per_example(radius / l2_norms(direction), direction)
    return project(inputs + eps * delta, inputs, eps, norm, bounds)


def as_dtype(value: Any, like: jax.Array) -> jax.Array:
    return jnp.asarray(value, like.dtype)


def cast_bounds(bounds: Bounds, like: jax.Array) -> Bounds:
    if bounds is None:
        return None
    return as_dtype(bounds[0], like), as_dtype(bounds[1], like)
