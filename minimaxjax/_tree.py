"""Small pytree helpers shared across the library (private)."""

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax._types import PyTree


def tree_square_sums(tree: PyTree) -> list[jax.Array]:
    """Each leaf's sum of squares, accumulated in at least float32 (float64 for
    all of them when one leaf is float64)."""
    leaves = jax.tree.leaves(tree)
    # Accumulate low-precision leaves (bfloat16, float16) in float32.
    wide = any(jnp.result_type(x) == jnp.float64 for x in leaves)
    dtype = jnp.float64 if wide else jnp.float32
    return [jnp.sum(jnp.square(jnp.asarray(x).astype(dtype))) for x in leaves]


def norm_of_squares(squares: list[jax.Array]) -> jax.Array:
    """The Euclidean norm from the leaves' :func:`tree_square_sums`."""
    if not squares:
        return jnp.zeros((), jnp.float32)
    return jnp.sqrt(sum(squares))


def tree_norm(tree: PyTree) -> jax.Array:
    """Euclidean norm of all leaves together, accumulated in at least float32."""
    return norm_of_squares(tree_square_sums(tree))


def tree_all_finite(tree: PyTree) -> jax.Array:
    """Whether every entry of every floating-point leaf is finite (a scalar bool;
    integer leaves such as step counts are finite by construction)."""
    result = jnp.array(True)
    for x in jax.tree.leaves(tree):
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact):
            result = result & jnp.all(jnp.isfinite(x))
    return result


def check_positive_int(value: Any, argument: str, meaning: str = "") -> int:
    """``value`` as an int, or a TypeError/ValueError naming ``argument``."""
    need = f"a positive int{f' ({meaning})' if meaning else ''}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be {need}, got {value!r}.")
    if value < 1:
        raise ValueError(f"{argument} must be {need} (>= 1), got {value}.")
    return int(value)


def tree_select(pred: jax.Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    """Leafwise ``where(pred, a, b)`` for a scalar ``pred``, in the dtype of ``a``.

    A leaf that is the same array (or tracer) on both sides is passed through (the
    anchor an opaque update leaves as it was): no select, and a loop carry that
    stays visibly invariant to XLA."""
    return jax.tree.map(
        lambda a, b: (
            b if a is b else jnp.where(pred, a, b).astype(jnp.asarray(a).dtype)
        ),
        on_true,
        on_false,
    )


def tree_cond(pred: jax.Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    """:func:`tree_select` with one ``lax.cond`` for all leaves (a leaf that is the
    same on both sides passes through). XLA computes ``pred`` once; with a select
    per leaf it fuses a copy of ``pred``'s computation into every select."""
    true_leaves, treedef = jax.tree.flatten(on_true)
    false_leaves = jax.tree.leaves(on_false)
    differ = [
        i
        for i, (a, b) in enumerate(zip(true_leaves, false_leaves, strict=True))
        if a is not b
    ]
    chosen = jax.lax.cond(
        pred,
        lambda: [true_leaves[i] for i in differ],
        lambda: [false_leaves[i] for i in differ],
    )
    leaves = list(false_leaves)
    for i, leaf in zip(differ, chosen, strict=True):
        leaves[i] = leaf
    return jax.tree.unflatten(treedef, leaves)


def strong(tree: PyTree) -> PyTree:
    """Arrays with fixed (not weak) dtypes, so later arithmetic cannot widen them.

    ``jnp.array(1.0)`` is weakly typed and would silently become float64 when mixed
    with float64 values under x64; a state or scan carry must not change dtype.
    """
    return jax.tree.map(lambda a: jnp.asarray(a).astype(jnp.asarray(a).dtype), tree)


def tree_axpy(scale: jax.Array, x: PyTree, y: PyTree) -> PyTree:
    """``y + scale * x`` leafwise, keeping the dtype of ``y``."""
    return jax.tree.map(
        lambda a, b: (b + jnp.asarray(scale, b.dtype) * a.astype(b.dtype)).astype(
            b.dtype
        ),
        x,
        y,
    )


def tree_scale(scale: jax.Array, x: PyTree, like: PyTree) -> PyTree:
    """``scale * x`` leafwise, in the dtypes of ``like``."""
    return jax.tree.map(
        lambda a, b: (jnp.asarray(scale, b.dtype) * a.astype(b.dtype)).astype(b.dtype),
        x,
        like,
    )


def tree_sub(x: PyTree, y: PyTree) -> PyTree:
    """``x - y`` leafwise, keeping the dtype of ``y``."""
    return jax.tree.map(lambda a, b: (a - b).astype(b.dtype), x, y)


def players(z: PyTree) -> tuple[Any, ...]:
    """The keys (any Mapping: dict, ``nnx.State``, ``FrozenDict``) or indices
    (tuple/list) of the top-level players of ``z``."""
    if isinstance(z, Mapping):
        return tuple(z.keys())
    if isinstance(z, (tuple, list)):
        return tuple(range(len(z)))
    raise TypeError(
        "params must be a tuple, list or Mapping (dict, nnx.State, FrozenDict) whose "
        f"top-level children are the players, got {type(z).__name__}."
    )


def _key_name(key: Any) -> Any:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return getattr(key, attribute)
    raise TypeError(f"cannot read a player's name from the pytree key {key!r}.")


def rebuild(like: Any, values: Mapping[Any, Any]) -> Any:
    """``values`` (player -> value) in the container type of ``like``.

    A tuple/list (NamedTuples included) is rebuilt from the values in index order,
    a dict in its key order. Any other Mapping (Flax's ``nnx.State``,
    ``FrozenDict``) is rebuilt through its own pytree structure: each player's
    leaves go where ``like``'s were, so the result has exactly ``like``'s structure
    even where the container stores its children in another form than it hands
    them out (``nnx.State`` keeps nested dicts and returns nested States).
    """
    if type(like) is dict:
        return {name: values[name] for name in like}
    if isinstance(like, Mapping):
        keyed, treedef = jax.tree_util.tree_flatten_with_path(
            like, is_leaf=lambda node: node is not like
        )
        children = []
        for path, child in keyed:
            name = _key_name(path[0])
            leaves = jax.tree.leaves(values[name])
            structure: Any = jax.tree.structure(child)  # jaxlib ships no stubs
            if structure.num_leaves != len(leaves):
                raise ValueError(
                    f"player {name!r} has {structure.num_leaves} leaves in the "
                    f"container but {len(leaves)} in the value put in its place."
                )
            children.append(jax.tree.unflatten(structure, leaves))
        return jax.tree.unflatten(treedef, children)
    items = [values[i] for i in range(len(like))]
    if isinstance(like, tuple) and hasattr(like, "_fields"):
        return type(like)(*items)
    return type(like)(items)


def replace_player(z: PyTree, player: Any, value: PyTree) -> PyTree:
    """A copy of ``z`` with one top-level child replaced (same container type)."""
    return rebuild(z, {**{name: z[name] for name in players(z)}, player: value})


def check_field_output(
    value: PyTree, like: PyTree, argument: str, hint: str = ""
) -> None:
    """Raise if a field's output ``value`` is not shaped like ``like``, the point
    (named ``argument`` in the message) where it was evaluated."""
    # Any: jaxlib ships no stubs for PyTreeDef.
    got: Any = jax.tree.structure(value)
    want: Any = jax.tree.structure(like)
    if got != want:
        raise ValueError(
            f"field must return a pytree with the structure of {argument}; got "
            f"{got}, expected {want}.{hint}"
        )
    for path, (v, z) in zip(
        jax.tree_util.tree_leaves_with_path(like),
        zip(jax.tree.leaves(value), jax.tree.leaves(like), strict=True),
        strict=True,
    ):
        if jnp.shape(v) != jnp.shape(z):
            raise ValueError(
                f"field must return arrays shaped like {argument}; at "
                f"{jax.tree_util.keystr(path[0])} it returned shape {jnp.shape(v)}, "
                f"expected {jnp.shape(z)}."
            )
