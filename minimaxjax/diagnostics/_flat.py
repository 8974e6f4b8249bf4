"""Helpers the diagnostics share: flattening pytrees to vectors, argument checks.

Flattening takes the leaves in ``jax.tree`` order, each raveled, like
``jax.flatten_util.ravel_pytree``, but casts to one dtype explicitly so strict
dtype promotion never trips.
"""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._types import PyTree


def common_dtype(leaves: Sequence[Any]) -> Any:
    wide = any(jnp.result_type(x) == jnp.float64 for x in leaves)
    return jnp.float64 if wide else jnp.float32


def flatten(leaves: Sequence[Any], dtype: Any) -> jax.Array:
    if not leaves:
        return jnp.zeros((0,), dtype)
    return jnp.concatenate([jnp.ravel(jnp.asarray(x)).astype(dtype) for x in leaves])


def unflatten(vector: jax.Array, templates: Sequence[Any]) -> list[jax.Array]:
    out, start = [], 0
    for t in templates:
        size = int(np.prod(jnp.shape(t), dtype=np.int64))
        piece = vector[start : start + size].reshape(jnp.shape(t))
        out.append(piece.astype(jnp.result_type(t)))
        start += size
    return out


def is_float(x: Any) -> bool:
    return bool(jnp.issubdtype(jnp.result_type(x), jnp.inexact))


def check_callable(value: Any, argument: str) -> None:
    if not callable(value):
        raise TypeError(f"{argument} must be callable, got {type(value).__name__}.")


def check_optimizer(value: Any, argument: str) -> None:
    if not isinstance(value, optax.GradientTransformation):
        raise TypeError(
            f"{argument} must be an optax GradientTransformation (e.g. "
            f"mmx.extragradient(0.1)), got {type(value).__name__}."
        )


def as_rows(tree: PyTree, expected: str) -> np.ndarray:
    """Points stacked on a leading axis, as a float64 ``(T, d)`` array.

    ``expected`` says what the caller accepts; it opens the error message.
    """
    leaves = jax.tree.leaves(tree)
    lengths = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if not leaves or len(lengths) != 1 or None in lengths:
        raise ValueError(
            f"{expected}; got leaves of shapes {[np.shape(x) for x in leaves]}."
        )
    return np.concatenate(
        [np.asarray(x, dtype=np.float64).reshape(np.shape(x)[0], -1) for x in leaves],
        axis=1,
    )
