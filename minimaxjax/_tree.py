"""Small pytree helpers shared across the library (private)."""

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
    """The keys (dict) or indices (tuple/list) of the top-level players of ``z``."""
    if isinstance(z, dict):
        return tuple(z.keys())
    if isinstance(z, (tuple, list)):
        return tuple(range(len(z)))
    raise TypeError(
        "params must be a tuple, list or dict whose top-level children are the "
        f"players, got {type(z).__name__}."
    )


def replace_player(z: PyTree, player: Any, value: PyTree) -> PyTree:
    """A copy of ``z`` with one top-level child replaced."""
    if isinstance(z, dict):
        new = dict(z)
        new[player] = value
        return type(z)(new) if type(z) is not dict else new
    items = list(z)
    items[player] = value
    return type(z)(items)


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
