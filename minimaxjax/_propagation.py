"""Whether a non-finite value must reach a loop's carry: a static look at a jaxpr.

``solve`` runs a rule unchecked and learns afterwards whether a field value was
ever NaN or infinite. NaN and inf survive ordinary arithmetic: ``inf + x``,
``inf · 0``, ``√inf`` and ``NaN`` with anything are non-finite again. When every
path from a field value to the loop's carry is made of such operations, a
non-finite value anywhere leaves a non-finite carry at the end, and a finite
end proves a finite run. :func:`analyse` finds, from the jaxpr of one iteration,
the field values for which this fails (*lost*: behind a clip, a ``where``, an
``exp``, a slice) and those that the carry reads at all; :func:`persists` says
whether none is lost. The caller checks the lost values some other way: it
reads its trace, or, for values that nothing reads (the half of a field value a
rule ignores), adds them up as it goes.

The analysis tracks, for each variable, the set of *sources* (marked values and
carry leaves) whose being non-finite forces that variable to hold a non-finite
element, or, for the reads, on which it depends. Sets are Python ints used as
bit sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core

from minimaxjax._tree import PyTree

__all__ = ["Verdict", "analyse", "mark", "persists"]

_source_p = core.Primitive("minimaxjax_source")
_source_p.def_abstract_eval(lambda x: x)
_source_p.def_impl(lambda x: x)


def mark(tree: PyTree) -> PyTree:
    """``tree`` unchanged, each leaf marked as a source for :func:`persists`.

    Only for functions that :func:`persists` traces: a marked value has no
    lowering, so it cannot be compiled.
    """
    return jax.tree.map(_source_p.bind, tree)


# A NaN or an inf in any operand leaves one in the (non-empty) result. Each entry
# is IEEE arithmetic or moves elements without dropping any; anything that can
# map a non-finite value to a finite one (max/min, select, exp, tanh, comparisons,
# a division's denominator, partial slices) is left out.
_EVERY_OPERAND = frozenset(
    {
        "abs",
        "add",
        "add_any",
        "broadcast_in_dim",
        "concatenate",
        "convert_element_type",
        "copy",
        "copy_p",
        "dot_general",
        "mul",
        "neg",
        "reduce_precision",
        "reduce_prod",
        "reduce_sum",
        "reshape",
        "rev",
        "sharding_constraint",
        "sqrt",
        "square",
        "squeeze",
        "stack",
        "sub",
        "transpose",
    }
)

# Primitives whose single sub-jaxpr takes the equation's operands in order.
_CALLS = {
    "closed_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "jit": "jaxpr",
    "pjit": "jaxpr",
    "remat2": "jaxpr",
}


def _real_nonempty(var: Any) -> bool:
    aval = var.aval
    return (
        hasattr(aval, "dtype")
        and jnp.issubdtype(aval.dtype, jnp.floating)
        and int(np.prod(aval.shape, dtype=int)) > 0
    )


def _operands_reaching(eqn: Any) -> Sequence[int]:
    """The operands of ``eqn`` whose non-finite values must reach its result."""
    name, params, operands = eqn.primitive.name, eqn.params, eqn.invars
    if len(eqn.outvars) != 1:
        return ()
    if name in _EVERY_OPERAND or name == _source_p.name:
        return range(len(operands))
    if name == "div":  # x/inf = 0: only the numerator
        return (0,)
    if name == "integer_pow":  # x**0 = 1 and 1/inf = 0
        return (0,) if params["y"] >= 1 else ()
    if name in ("slice", "dynamic_slice"):  # a whole-array slice drops nothing
        return (0,) if eqn.outvars[0].aval.shape == operands[0].aval.shape else ()
    if name == "dynamic_update_slice":  # the whole update lands in the result
        return (1,)
    if name == "pad":  # negative padding crops
        config = params["padding_config"]
        return (0,) if all(lo >= 0 and hi >= 0 for lo, hi, _ in config) else ()
    return ()


def _called(eqn: Any) -> Any:
    """The jaxpr a call-like ``eqn`` runs on its operands in order, or None."""
    param = _CALLS.get(eqn.primitive.name)
    sub = None if param is None else eqn.params.get(param)
    sub = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr's Jaxpr
    return sub if sub is not None and len(sub.invars) == len(eqn.invars) else None


def _marks_inside(eqn: Any) -> bool:
    """Whether a sub-jaxpr of ``eqn``, at any depth, holds a marked value."""
    return any(
        inner.primitive is _source_p or _marks_inside(inner)
        for sub in core.jaxprs_in_params(eqn.params)
        for inner in getattr(sub, "jaxpr", sub).eqns
    )


class _Unseen(Exception):
    """A marked value inside a primitive the analysis does not enter (a loop)."""


def _propagate(
    jaxpr: Any, inputs: Sequence[int], next_bit: list[int], every: bool = False
) -> list[int]:
    """The source sets of ``jaxpr``'s outputs, given those of its inputs.

    With ``every``, a result's set holds every source it depends on at all (through
    any operation, its predicate or an integer included): what it *reads*, rather
    than what must leave it non-finite.
    """
    sets: dict[Any, int] = dict(zip(jaxpr.invars, inputs, strict=True))

    def of(var: Any) -> int:
        return 0 if isinstance(var, core.Literal) else sets.get(var, 0)

    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        sub = _called(eqn)
        union = 0
        for var in eqn.invars:
            union |= of(var)
        if sub is not None:
            results = _propagate(sub, [of(v) for v in eqn.invars], next_bit, every)
        elif any(True for _ in core.jaxprs_in_params(eqn.params)):
            if _marks_inside(eqn):
                raise _Unseen(name)
            results = [union if every else 0] * len(eqn.outvars)
        elif every:
            results = [union] * len(eqn.outvars)
        elif name == "select_n" and eqn.invars[0].aval.shape == ():
            # A scalar predicate picks one whole case: what all cases share.
            shared = -1
            for case in eqn.invars[1:]:
                shared &= of(case)
            results = [shared]
        else:
            total = 0
            for position in _operands_reaching(eqn):
                total |= of(eqn.invars[position])
            results = [total] * len(eqn.outvars)
        if name == _source_p.name:
            results = [results[0] | next_bit[0]]
            next_bit[0] <<= 1
        for var, result in zip(eqn.outvars, results, strict=True):
            sets[var] = result if every or _real_nonempty(var) else 0
    return [of(v) for v in jaxpr.outvars]


class Verdict(NamedTuple):
    """What :func:`analyse` found about the marked values of one step, each
    numbered by the order in which the step makes it (leaf by leaf)."""

    marks: int
    """How many marked values one step makes."""
    lost: tuple[int, ...]
    """Those that a loop of the step need not carry to its end: a NaN or an inf in
    one of them may leave every later carry finite."""
    read: tuple[int, ...]
    """Those that some carry leaf depends on at all, through any operation."""


def analyse(step: Callable[..., PyTree], carry: PyTree, *rest: Any) -> Verdict | None:
    """Which marked values (see :func:`mark`) a loop ``carry = step(carry, *rest)``
    carries to its end when they are not finite, and which it reads at all.

    Found from the jaxpr of ``step`` (``carry`` and ``rest`` may be arrays or
    shape/dtype structs; ``step`` may close over tracers). First the carry leaves
    that stay non-finite are found (a greatest fixed point: each one forces one of
    them at the next iteration); a mark that forces none of them is *lost*. A mark
    is *read* when a carry leaf depends on it through any operation. None when a
    marked value sits where the analysis does not look (inside a loop); never a
    mark left out of ``lost`` wrongly, nor out of ``read``.

    Example:
      >>> import jax.numpy as jnp
      >>> analyse(lambda z: z - 0.1 * mark(z**3), jnp.ones(2))
      Verdict(marks=1, lost=(), read=(0,))
      >>> analyse(lambda z: jnp.clip(z - mark(z), -1, 1) + 0 * mark(z).sum(),
      ...         jnp.ones(2))
      Verdict(marks=2, lost=(0,), read=(0, 1))
      >>> analyse(lambda z: z - mark((z, 2 * z))[0], jnp.ones(2))
      Verdict(marks=2, lost=(1,), read=(0,))
    """
    closed = jax.make_jaxpr(step)(carry, *rest)
    jaxpr = closed.jaxpr
    num_carry = len(jax.tree.leaves(carry))
    carry_bits = [1 << i for i in range(num_carry)]
    inputs = carry_bits + [0] * (len(jaxpr.invars) - num_carry)
    first_mark = [1 << num_carry]
    try:
        outputs = _propagate(jaxpr, inputs, first_mark)[:num_carry]
        reads = _propagate(jaxpr, inputs, [1 << num_carry], every=True)[:num_carry]
    except _Unseen:
        return None
    marks = [1 << b for b in range(num_carry, first_mark[0].bit_length() - 1)]
    # Drop carry leaves that need not stay non-finite until none is left to drop.
    kept = {i for i, var in enumerate(jaxpr.outvars[:num_carry]) if _real_nonempty(var)}
    while True:
        reached = 0
        for i in kept:
            reached |= outputs[i]
        stay = {i for i in kept if reached & carry_bits[i]}
        if stay == kept:
            break
        kept = stay
    read = 0
    for bits in reads:
        read |= bits
    return Verdict(
        marks=len(marks),
        lost=tuple(i for i, bit in enumerate(marks) if not reached & bit),
        read=tuple(i for i, bit in enumerate(marks) if read & bit),
    )


def persists(step: Callable[..., PyTree], carry: PyTree, *rest: Any) -> bool:
    """Whether, run in a loop as ``carry = step(carry, *rest)``, a non-finite
    marked value (see :func:`mark`) leaves a non-finite carry for good.

    True means: if any marked value in any iteration holds a NaN or an inf, the
    carry after the last iteration holds one too (:func:`analyse` finds no mark
    lost). False when no value is marked or the analysis cannot tell; never True
    wrongly.

    Example:
      >>> import jax.numpy as jnp
      >>> step = lambda z: z - 0.1 * mark(z ** 3)
      >>> persists(step, jnp.ones(2)), persists(lambda z: jnp.clip(step(z), -1, 1),
      ...                                      jnp.ones(2))
      (True, False)
    """
    verdict = analyse(step, carry, *rest)
    return verdict is not None and verdict.marks > 0 and not verdict.lost
