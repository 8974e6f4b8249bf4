"""The :class:`Game` type, and the checks and conversions every factory shares."""

import dataclasses
import math
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax import constraints
from minimaxjax._types import Field, Projection

Box: TypeAlias = tuple[tuple[float, float], tuple[float, float]]
"""A box ``((lo_x, hi_x), (lo_y, hi_y))``, one interval per player."""

Pair: TypeAlias = tuple[jax.Array, jax.Array]
"""A point ``z = (x, y)`` of a two-player game."""


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True, eq=False)
class Game:
    r"""A minimax test problem ``min_x max_y Φ(x, y)`` with its known constants.

    A static pytree (no leaves, hashed by identity): it passes through ``jax.jit``
    and ``jax.tree`` functions unchanged, so a benchmark can close over it or pass
    it as an argument.

    Attributes:
      name: the factory's name (the key of ``games.ALL``).
      field: ``V(z, *args)`` with ``z = (x, y)``; extra ``args`` (keys, batches)
        are accepted and ignored by these deterministic games.
      phi: ``Φ(x, y, *args)`` with ``field == mmx.field(phi)``, or None when the
        game is given by its field only (the polar game).
      solution: a critical point ``z*`` (``V(z*) = 0``), which for constrained
        games is also a fixed point of ``z ↦ P(z − V(z))``; None if unknown.
      bounds: the box ``((lo_x, hi_x), (lo_y, hi_y))`` on which ``lipschitz`` and
        ``weak_mvi_rho`` hold (and which plots should show); None when they hold
        on the whole space (linear fields, matrix games).
      lipschitz: ``sup ‖DV(z)‖₂`` over ``bounds`` (or globally), the L of the
        step-size rules ``α = 1/L``.
      init: the start ``z⁰`` used in the literature (or documented by the
        factory where the literature gives none).
      projection: the projection onto the constraint set (``bounds`` for box
        constrained games, a product of simplices for matrix games), from
        :mod:`minimaxjax.constraints`; None for unconstrained games.
      weak_mvi_rho: a ρ with ``⟨V(z), z − z*⟩ ≥ ρ‖V(z)‖²`` for all ``z`` in
        ``bounds`` (on the simplices for matrix games; everywhere for the other
        games without bounds), ``z* = solution``: the largest one (the infimum
        of the quotient ``⟨V(z), z − z*⟩/‖V(z)‖²``) except for matrix games,
        which carry the monotone bound 0. Negative means the field may point
        away from ``z*``. This is the ρ of Diakonikolas et al. (2021) and of
        Pethick et al. (2022), the same quotient with no factor ½; for Forsaken
        the infimum is −1.5206, and Pethick et al.'s −0.477761 is the quotient
        at a local minimiser (see ``forsaken``). None when no finite ρ exists
        (or no ``z*`` is known).
      params: the numbers that define this instance (offsets, matrices, …).
      description: one line on what the game is for.
    """

    name: str
    field: Field
    phi: Callable[..., jax.Array] | None
    solution: Pair | None
    bounds: Box | None
    lipschitz: float | None
    init: Pair
    projection: Projection | None = None
    weak_mvi_rho: float | None = None
    params: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    description: str = ""


def real(name: str, value: Any) -> float:
    """``value`` as a finite float, or an error naming the argument ``name``."""
    arr = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if (
        arr is None
        or isinstance(value, bool)
        or arr.ndim != 0
        or not (
            np.issubdtype(arr.dtype, np.floating)
            or np.issubdtype(arr.dtype, np.integer)
        )
    ):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    out = float(arr)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}.")
    return out


def real_array(name: str, value: Any, ndims: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float64 array with one of ``ndims`` dimensions."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a real array, got {type(value).__name__}."
        ) from None
    if arr.ndim not in ndims:
        raise ValueError(
            f"{name} must have {' or '.join(str(d) for d in ndims)} dimensions, got "
            f"shape {arr.shape}."
        )
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be non-empty and finite, got {arr!r}.")
    return arr


def pair(x: Any, y: Any) -> Pair:
    """``(x, y)`` as JAX arrays in JAX's default float dtype."""
    # Through float64 NumPy: strongly typed, in JAX's default float dtype.
    return (
        jnp.asarray(np.asarray(x, dtype=np.float64)),
        jnp.asarray(np.asarray(y, dtype=np.float64)),
    )


def square(radius: float) -> Box:
    """The box ``[−radius, radius]²``."""
    return ((-radius, radius), (-radius, radius))


def box_projection(bounds: Box) -> Projection:
    """The projection of ``z = (x, y)`` onto ``bounds``."""
    (lo_x, hi_x), (lo_y, hi_y) = bounds
    return constraints.chain(
        constraints.box(lo_x, hi_x, player=0), constraints.box(lo_y, hi_y, player=1)
    )


def frozen(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``params``, for :attr:`Game.params`."""
    return types.MappingProxyType(dict(params))
