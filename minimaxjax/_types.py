"""The type aliases shared across the library (one definition each)."""

from collections.abc import Callable
from typing import Any, TypeAlias

import jax
import optax

__all__ = [
    "Field",
    "LearningRate",
    "OpaqueField",
    "Projection",
    "PyTree",
]

PyTree: TypeAlias = Any
"""Any JAX pytree: arrays, tuples, lists, dicts, ``nnx.State``, Flax params."""

Field: TypeAlias = Callable[..., PyTree]
"""``V(z, *args)``: a pytree shaped like ``z`` (``mmx.field`` builds one from Φ)."""

OpaqueField: TypeAlias = Callable[[PyTree, int], PyTree]
"""What an opaque-mode ``update`` receives as ``field=``: ``fn(w, phase)``, the
field at ``w`` (``phase`` numbers the evaluations of one iteration, from 1)."""

Projection: TypeAlias = Callable[[PyTree], PyTree]
"""A map from a point to the nearest feasible point (``mmx.constraints``)."""

LearningRate: TypeAlias = (
    float | jax.Array | optax.Schedule | tuple[Any, ...] | dict[Any, Any]
)
"""A step size: a float, an array, an optax schedule, or one of those per player
(a tuple or dict keyed like the players)."""
