"""How ``solve`` runs its iterations: unchecked then replayed, checked at every
iteration, or checked while the next iteration fits in the budget.

Each runner takes one iteration (:data:`Step`, built in ``_solve.py``) or its
checked form (:func:`checked_step`) and returns the end :class:`Carry`, the
trace of field norms and the saved iterates.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._solution import Status
from minimaxjax._tree import tree_all_finite, tree_norm, tree_select
from minimaxjax._types import PyTree
from minimaxjax.rules._iterate import iterate
from minimaxjax.rules._protocol import CountsEvaluations, find_states


class Carry(NamedTuple):
    """What a checked run carries from one iteration to the next."""

    params: PyTree
    state: optax.OptState
    status: jax.Array
    evaluations: jax.Array
    iterations: jax.Array


Step = Callable[[PyTree, optax.OptState, Any], tuple[PyTree, Any, jax.Array, Any]]
CheckedStep = Callable[[Carry, Any], tuple[Carry, jax.Array]]


def total(state: optax.OptState, method: str) -> jax.Array:
    """The sum of ``method()`` over the sub-states counting their evaluations."""
    found = find_states(state, CountsEvaluations)
    return sum((getattr(s, method)() for s in found), jnp.zeros([], jnp.int32))


def checked_step(
    step: Step,
    tol: jax.Array | None,
    per_iteration: int,
    commit: Callable[[jax.Array, Any, Any], Any],
) -> CheckedStep:
    """One iteration with every check: stop at tol, freeze on a non-finite value;
    once stopped, carry everything unchanged. ``commit`` is ``tree_cond`` (one
    conditional, for the replay) or ``tree_select`` (a select per leaf, cheaper
    for the every-iteration loop of a tiny game)."""

    def checked(carry: Carry, keys: Any) -> tuple[Carry, jax.Array]:
        new_params, new_state, norms, finite = step(carry.params, carry.state, keys)
        running = carry.status == Status.MAX_STEPS
        converged = jnp.zeros([], bool)
        if tol is not None:
            converged = norms[0] <= tol.astype(norms.dtype)
        move = running & ~converged & finite
        params, state = commit(
            move, (new_params, new_state), (carry.params, carry.state)
        )
        status = jnp.where(
            running & converged,
            Status.CONVERGED,
            jnp.where(running & ~finite, Status.DIVERGED, carry.status),
        ).astype(jnp.int32)
        counts = total(new_state, "evaluations") - total(carry.state, "evaluations")
        used = jnp.where(converged, 1, per_iteration + counts)
        evaluations = carry.evaluations + jnp.where(running, used, 0).astype(jnp.int32)
        iterations = carry.iterations + move.astype(jnp.int32)
        return Carry(params, state, status, evaluations, iterations), norms

    return checked


def _row(norms: jax.Array) -> jax.Array:
    # A (k, 1) trace costs XLA:CPU a slow transpose under vmap; (k,) does not.
    return norms[0] if norms.shape[0] == 1 else norms


def run_checked(
    checked: CheckedStep, start: Carry, keys: Any, length: int, saving: bool
) -> tuple[Carry, jax.Array, Any]:
    """Every iteration checked, in one scan (runs with ``tol``)."""

    def body(carry: Carry, step_keys: Any) -> Any:
        carry, norms = checked(carry, step_keys)
        saved = iterate(carry.params, carry.state) if saving else None
        return carry, (_row(norms), saved)

    end, (norms, saved) = jax.lax.scan(body, start, keys, length=length)
    return end, norms, saved


def run_then_replay(
    step: Step,
    replay: CheckedStep,
    start: Carry,
    keys: Any,
    length: int,
    saving: bool,
) -> tuple[Carry, jax.Array, Any]:
    """Run unchecked in one scan; if the last iterate, the state or the trace
    is not all finite, replay from the start with every check, up to the stop.

    NaN and inf propagate: a non-finite field value leaves a non-finite norm in
    the trace, and a non-finite iterate or state stays non-finite to the end.
    Under ``jax.vmap`` the replay's loop runs only while some start needs it.
    """

    def body(carry: tuple[PyTree, Any, jax.Array], step_keys: Any) -> Any:
        params, state, total = carry
        params, state, norms, _ = step(params, state, step_keys)
        saved = iterate(params, state) if saving else None
        # A running sum of the norms is not finite if one of them was not (or,
        # rarely, if it overflows: a replay that finds nothing). It costs less
        # than a pass over the trace, which vmap stores starts-last.
        return (params, state, total + jnp.sum(norms)), (_row(norms), saved)

    total = jnp.zeros([], jax.eval_shape(tree_norm, start.params).dtype)
    (params, state, total), (norms, saved) = jax.lax.scan(
        body, (start.params, start.state, total), keys, length=length
    )
    clean = tree_all_finite((params, state, total))
    evaluations = jnp.asarray(norms.size, jnp.int32)
    ran = Carry(params, state, start.status, evaluations, start.iterations + length)

    def running(loop: tuple[Carry, jax.Array]) -> jax.Array:
        carry, index = loop
        return (carry.status == Status.MAX_STEPS) & (index < length)

    def replay_step(loop: tuple[Carry, jax.Array]) -> tuple[Carry, jax.Array]:
        carry, index = loop
        # Restart at the first trip; selecting here, not before the loop, costs a
        # clean run nothing.
        carry = tree_select(index == 0, start, carry)
        step_keys = None
        if keys is not None:
            step_keys = jax.lax.dynamic_index_in_dim(keys, index, keepdims=False)
        return replay(carry, step_keys)[0], index + 1

    # A clean run starts the replay at its end: no trip.
    first = jnp.where(clean, length, 0).astype(jnp.int32)
    end, _ = jax.lax.while_loop(running, replay_step, (ran, first))
    return end, norms, saved


def run_counted(
    checked: CheckedStep, start: Carry, keys: Any, num_steps: int, saving: bool
) -> tuple[Carry, jax.Array, jax.Array, Any]:
    """Every iteration checked, while the next one fits in the budget (rules whose
    evaluations vary). Each iteration's ‖V(z^k)‖ stands for all its evaluations."""

    def running(loop: Any) -> jax.Array:
        carry = loop[0]
        limit = total(carry.state, "max_evaluations")
        fits = carry.evaluations + limit <= num_steps
        return (carry.status == Status.MAX_STEPS) & fits

    def body(loop: Any) -> Any:
        carry, index, norms, ends, saved = loop
        step_keys = None if keys is None else keys[index]
        carry, values = checked(carry, step_keys)
        norms = norms.at[index].set(values[0])
        ends = ends.at[index].set(carry.evaluations)
        if saving:
            point = iterate(carry.params, carry.state)
            saved = jax.tree.map(lambda b, v: b.at[index].set(v), saved, point)
        return carry, index + 1, norms, ends, saved

    dtype = jax.eval_shape(tree_norm, start.params).dtype
    norms = jnp.full((num_steps,), jnp.nan, dtype)
    # Iterations that never ran end after the budget: search_sorted skips them.
    ends = jnp.full((num_steps,), num_steps + 1, jnp.int32)
    saved = None
    if saving:
        saved = jax.tree.map(
            lambda z: jnp.zeros((num_steps, *z.shape), z.dtype), start.params
        )
    end, _, norms, ends, saved = jax.lax.while_loop(
        running, body, (start, jnp.zeros([], jnp.int32), norms, ends, saved)
    )
    owner = jnp.searchsorted(ends, jnp.arange(num_steps, dtype=jnp.int32), "right")
    return end, norms[jnp.minimum(owner, num_steps - 1)], ends, saved
