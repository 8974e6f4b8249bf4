"""``solve``: run an update rule on a field for a budget of field evaluations."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax import _propagation
from minimaxjax._tree import (
    PyTree,
    check_field_output,
    norm_of_squares,
    strong,
    tree_all_finite,
    tree_cond,
    tree_select,
    tree_square_sums,
)
from minimaxjax.rules import iterate

__all__ = ["Solution", "Status", "solve", "status_message"]


class Status(enum.IntEnum):
    """Why a run stopped; ``Solution.status`` holds these as int32 codes."""

    MAX_STEPS = 0
    """The budget of field evaluations ran out."""
    CONVERGED = 1
    """‖V‖ at a committed iterate fell to ``tol`` or below."""
    DIVERGED = 2
    """The field or the next iterate was not finite; params hold the last finite
    iterate."""


_MESSAGES = {
    Status.MAX_STEPS: "max steps: the budget of field evaluations ran out",
    Status.CONVERGED: "converged: ‖V(z)‖ <= tol",
    Status.DIVERGED: "diverged: a non-finite field or iterate; params hold the last "
    "finite iterate",
}


def status_message(code: Any) -> str:
    """A readable message for a status code (an int or a scalar array).

    Example:
      >>> import minimaxjax as mmx
      >>> mmx.status_message(mmx.Status.CONVERGED)
      'converged: ‖V(z)‖ <= tol'
    """
    return _MESSAGES[Status(int(code))]


class Solution(NamedTuple):
    """The result of :func:`solve` (a pytree: it jits and vmaps).

    Attributes:
      params: the last committed iterate (the last finite one if the run
        diverged).
      state: the optimizer state at the end.
      status: int32 :class:`Status` code.
      trace: ``{"field_norm": ‖V‖ at each field evaluation}``, length
        ``num_steps``; entries after the run stopped (converged, diverged, or a
        budget not divisible by the evaluations per iteration) are NaN.
      stats: ``{"num_evaluations": field evaluations used, "num_iterations":
        iterations made}`` (int32).
    """

    params: PyTree
    state: optax.OptState
    status: jax.Array
    trace: dict[str, jax.Array]
    stats: dict[str, jax.Array]


def _check_num_steps(num_steps: Any) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise TypeError(
            f"num_steps must be a positive int (a budget of field evaluations), got "
            f"{num_steps!r} of type {type(num_steps).__name__}."
        )
    if num_steps < 1:
        raise ValueError(
            f"num_steps must be a positive int (a budget of field evaluations), got "
            f"{num_steps}."
        )
    return int(num_steps)


def solve(
    field: Callable[..., PyTree],
    z0: PyTree,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    *,
    args: tuple[Any, ...] = (),
    key: jax.Array | None = None,
    projection: Callable[[PyTree], PyTree] | None = None,
    tol: float | None = None,
) -> Solution:
    r"""Run ``optimizer`` on ``field`` from ``z0`` for ``num_steps`` field evaluations.

    One ``lax.scan`` over iterations; each iteration is one opaque-mode ``update``
    call (``update(V(z^k), state, z^k, field=…)``), so a rule with ``K`` field
    evaluations per iteration runs ``num_steps // K`` iterations:

    .. math::

        z^{k+1} = P\big(z^k + \text{optimizer.update}(V(z^k), \ldots)\big).

    The run freezes, keeping the last finite iterate, when a field value, the
    iterate or the optimizer state stops being finite (status DIVERGED), and stops
    at the first committed iterate with ``‖V‖ ≤ tol`` (status CONVERGED). It is
    jit-compiled once per ``(field, optimizer, projection, num_steps)`` and
    ``jax.vmap`` works over ``z0``, ``args``, ``key`` and anything the optimizer
    closes over (step sizes).

    Without ``tol`` (and for rules with a fixed number of evaluations per
    iteration) the scan runs the rule alone, as fast as a hand-written loop, and
    the checks come after it: if a field value, the last iterate or the state held
    a NaN or an inf, the run is made again from ``z0`` with a check at every
    iteration, in a ``while_loop`` that ends where the run stops (under
    ``jax.vmap``, only while some start needs it). A diverging run so costs up
    to twice its time, and the program holds the rule twice (compiles about
    twice as long). A finite one costs nothing more when the iteration's jaxpr
    shows that a non-finite field value cannot leave the iterate and state
    finite (only IEEE arithmetic such as ``+``, ``·``, ``√``, matrix products
    between them: no clip, ``where`` or ``exp``); one scalar add per iteration
    when the values that could are read by nothing (the half of a field value
    that alternating GDA ignores); otherwise a pass over its trace.

    Args:
      field: ``V(z, *args)`` (``V(z, *args, key)`` when ``key`` is given), returning
        a pytree with the structure of ``z0``.
      z0: the starting point; its top-level children are the players.
      optimizer: an update rule (any optax transformation).
      num_steps: the budget of field evaluations, a positive int.
      args: extra arguments of the field (a pytree).
      key: a PRNG key; each evaluation then gets a fresh subkey as its last
        argument (stochastic fields ``V(z, ζ)``).
      projection: optional projection applied to every committed iterate and to
        every intermediate point before the field is evaluated there (projected
        extragradient). For ``reflected_gda`` pass the projection to the rule.
      tol: stop when ``‖V(z^k)‖ ≤ tol`` (None: run the whole budget).

    Returns:
      A :class:`Solution`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> sol = mmx.solve(V, (jnp.array(1.0), jnp.array(1.0)),
      ...                 mmx.extragradient(0.5), 400, tol=1e-6)
      >>> mmx.status_message(sol.status)
      'converged: ‖V(z)‖ <= tol'
      >>> starts = (jnp.linspace(-1, 1, 8), jnp.ones(8))
      >>> jax.vmap(lambda z: mmx.solve(V, z, mmx.extragradient(0.5), 400).params)(
      ...     starts)[0].shape
      (8,)

    References:
      Kidger, *optimistix* (the Solution/result-code design),
      https://github.com/patrick-kidger/optimistix.
    """
    if not callable(field):
        raise TypeError(f"field must be callable, got {type(field).__name__}.")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax GradientTransformation (e.g. "
            f"mmx.extragradient(0.1)), got {type(optimizer).__name__}."
        )
    num_steps = _check_num_steps(num_steps)
    if tol is not None and not tol >= 0:
        raise ValueError(f"tol must be None or a non-negative float, got {tol!r}.")
    tol_array = None if tol is None else jnp.asarray(tol, jnp.float32)
    try:
        hash((field, optimizer, projection))
    except TypeError:
        run = _solve
    else:
        run = _solve_jit
    return run(field, optimizer, projection, num_steps, z0, args, key, tol_array)


def _evaluation_counters(state: optax.OptState) -> list[jax.Array]:
    """The ``num_evaluations`` fields of the adaptive rule states inside ``state``."""

    def is_counter(s: Any) -> bool:
        return hasattr(s, "_fields") and "num_evaluations" in s._fields

    return [
        s.num_evaluations
        for s in jax.tree.leaves(state, is_leaf=is_counter)
        if is_counter(s)
    ]


def _solve(
    field: Callable[..., PyTree],
    optimizer: optax.GradientTransformation,
    projection: Callable[[PyTree], PyTree] | None,
    num_steps: int,
    z0: PyTree,
    args: tuple[Any, ...],
    key: jax.Array | None,
    tol: jax.Array | None,
) -> Solution:
    opt = optax.with_extra_args_support(optimizer)
    z0 = strong(z0)
    if projection is not None:
        z0 = projection(z0)
    project = projection if projection is not None else (lambda z: z)

    def call(z: PyTree, subkey: jax.Array | None) -> PyTree:
        return field(z, *args) if subkey is None else field(z, *args, subkey)

    sample_key = None if key is None else jax.random.split(key)[0]
    check_field_output(
        jax.eval_shape(call, z0, sample_key),
        z0,
        "z0",
        " A zero-sum field is mmx.field(phi); a field with auxiliary outputs must "
        "drop them before solve.",
    )
    state0 = opt.init(z0)
    adaptive = bool(_evaluation_counters(state0))

    if adaptive:
        # The rule calls the field a varying number of times inside its own control
        # flow and counts the calls in its state: budget and trace are per iteration.
        per_iteration = 1
    else:
        # Count the evaluations one opaque iteration makes (a trace, no compute).
        calls: list[int] = []

        def counting(w: PyTree, phase: int) -> PyTree:
            calls.append(phase)
            return call(w, sample_key)

        jax.eval_shape(
            lambda g, s, p: opt.update(g, s, p, field=counting), z0, state0, z0
        )
        per_iteration = 1 + len(calls)
    num_iterations = num_steps // per_iteration
    if num_iterations < 1:
        raise ValueError(
            f"num_steps={num_steps} is smaller than the {per_iteration} field "
            "evaluations one iteration of this rule makes."
        )

    def iteration(
        params: PyTree,
        state: optax.OptState,
        keys: Any,
        checked: bool,
        marked: bool = False,
    ) -> tuple[PyTree, optax.OptState, jax.Array, jax.Array, list[jax.Array]]:
        """One opaque iteration: the new params and state, ‖V‖ at each evaluation,
        (when ``checked``) whether every field value was finite, and each recorded
        field value's leaves' sums of squares, in order. ``marked`` marks the
        recorded field values' leaves for :func:`_propagation.analyse`."""
        norms: list[jax.Array] = []
        squares: list[jax.Array] = []
        finite_values: list[jax.Array] = []

        def subkey(phase: Any) -> jax.Array | None:
            if keys is None:
                return None
            return jax.random.fold_in(keys, phase) if adaptive else keys[phase]

        def evaluate(w: PyTree, phase: Any, record: bool) -> PyTree:
            value = call(w, subkey(phase))
            if record:
                if marked:
                    value = _propagation.mark(value)
                parts = tree_square_sums(value)
                squares.extend(parts)
                norms.append(norm_of_squares(parts))
                if checked:
                    finite_values.append(tree_all_finite(value))
            return value

        g = evaluate(params, 0, True)
        updates, new_state = opt.update(
            g,
            state,
            params,
            # An adaptive rule's inner evaluations are counted in its state.
            field=lambda w, phase: evaluate(project(w), phase, not adaptive),
        )
        new_params = project(optax.apply_updates(params, updates))
        if len(norms) != per_iteration:
            raise ValueError(
                f"the optimizer called its field argument {len(norms) - 1} times "
                f"while tracing, not the {per_iteration - 1} counted before: solve "
                "needs a fixed number of field calls per iteration, or a "
                "`num_evaluations` counter in the rule's state (adaptive rules)."
            )
        if not checked:
            return new_params, new_state, jnp.stack(norms), jnp.ones([], bool), squares
        # One reduction over every flag, so that XLA computes the predicate once
        # instead of fusing a copy of the whole iteration into each select of the
        # caller. State leaves that are the new params or a field value (an
        # optimistic rule's previous gradient) are checked already.
        seen = {id(x) for x in jax.tree.leaves((new_params, g))}
        finite = jnp.all(
            jnp.stack(
                [
                    *finite_values,
                    *(jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_params)),
                    *(
                        jnp.all(jnp.isfinite(x))
                        for x in jax.tree.leaves(new_state)
                        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
                        and id(x) not in seen
                    ),
                ]
            )
        )
        return new_params, new_state, jnp.stack(norms), finite, squares

    def checked_step(
        carry: tuple[Any, ...], keys: Any, branch: bool = False
    ) -> tuple[tuple[Any, ...], jax.Array]:
        """One iteration with every check: freeze on a non-finite value, stop at
        tol; once stopped, keep everything and record NaN.

        ``branch`` commits the iteration with a ``lax.cond`` instead of a select
        per leaf. XLA fuses the predicate, and with it the whole checked
        iteration, into each select: with ExtraAdam's nine leaves that made the
        replay four times slower than the run and took a clean program's cost
        estimate over the 1000 flops under which JAX's CPU client runs it inline.
        A conditional computes the predicate once, but it cost GDA's loop on a 2-D
        game about 18% more, so the every-iteration ``tol`` loop keeps the
        selects."""
        params, state, status, evaluations = carry
        new_params, new_state, norms, finite, _ = iteration(
            params, state, keys, checked=True
        )
        running = status == Status.MAX_STEPS
        converged = (
            jnp.zeros([], bool) if tol is None else norms[0] <= tol.astype(norms.dtype)
        )
        move = running & ~converged & finite
        if branch:
            params, state = tree_cond(move, (new_params, new_state), (params, state))
        else:
            params = tree_select(move, new_params, params)
            state = tree_select(move, new_state, state)
        status = jnp.where(
            running & converged,
            Status.CONVERGED,
            jnp.where(running & ~finite, Status.DIVERGED, status),
        ).astype(jnp.int32)
        if adaptive:
            extra = sum(_evaluation_counters(new_state)) - sum(
                _evaluation_counters(carry[1])
            )
            used = jnp.where(converged, 1, 1 + extra)
        else:
            used = jnp.where(converged, 1, per_iteration)
        evaluations = evaluations + jnp.where(running, used, 0).astype(jnp.int32)
        recorded = jnp.where(
            running & (jnp.arange(per_iteration, dtype=jnp.int32) < used),
            norms,
            jnp.nan,
        )
        return (params, state, status, evaluations), recorded

    keys = None
    if key is not None:
        keys = jax.random.split(key, num_iterations * per_iteration)
        if not adaptive:
            keys = keys.reshape((num_iterations, per_iteration, *keys.shape[1:]))
    running = jnp.asarray(Status.MAX_STEPS, jnp.int32)
    no_evaluations = jnp.zeros([], jnp.int32)

    if adaptive or tol is not None:
        # Every iteration checked: the run stops at tol or at a non-finite value.
        def scan_body(carry: Any, keys: Any) -> Any:
            new_carry, recorded = checked_step(carry, keys)
            # A (k, 1) trace costs XLA:CPU a slow transpose under vmap; (k,) not.
            entry = recorded[0] if per_iteration == 1 else recorded
            if adaptive:
                moved = (new_carry[2] == Status.MAX_STEPS) & (
                    carry[2] == Status.MAX_STEPS
                )
                return new_carry, (entry, moved)
            return new_carry, entry

        (params, state, status, evaluations), outputs = jax.lax.scan(
            scan_body,
            (z0, state0, running, no_evaluations),
            keys,
            length=num_iterations,
        )
        if adaptive:
            norms, moved = outputs
            done = jnp.sum(moved, dtype=jnp.int32)
        else:
            norms = outputs
            done = _iterations_done(status, evaluations, per_iteration)
    else:
        params, state, status, evaluations, norms = _fast_run(
            iteration,
            checked_step,
            z0,
            state0,
            keys,
            num_iterations,
            per_iteration,
        )
        done = _iterations_done(status, evaluations, per_iteration)
    field_norm = norms.reshape(-1)
    padding = num_steps - field_norm.shape[0]
    if padding:
        field_norm = jnp.concatenate(
            [field_norm, jnp.full((padding,), jnp.nan, field_norm.dtype)]
        )
    return Solution(
        params=iterate(params, state),
        state=state,
        status=status,
        trace={"field_norm": field_norm},
        stats={"num_evaluations": evaluations, "num_iterations": done},
    )


def _iterations_done(
    status: jax.Array, evaluations: jax.Array, per_iteration: int
) -> jax.Array:
    """Committed iterations of a rule with a fixed number of evaluations each.

    Every iteration used ``per_iteration`` evaluations but a converged last one
    (1) and a diverged last one (all of them), which was not committed.
    """
    unused = jnp.where(
        status == Status.CONVERGED,
        1,
        jnp.where(status == Status.DIVERGED, per_iteration, 0),
    )
    return (evaluations - unused) // per_iteration


def _fast_run(
    iteration: Callable[..., Any],
    checked_step: Callable[..., Any],
    z0: PyTree,
    state0: optax.OptState,
    keys: Any,
    num_iterations: int,
    per_iteration: int,
) -> tuple[PyTree, optax.OptState, jax.Array, jax.Array, jax.Array]:
    """Run unchecked, then replay with checks only if something was not finite.

    A check at every iteration costs a tiny game as much as the iteration itself
    (it takes XLA:CPU's loop off its single-kernel path). So the rule first runs
    alone, exactly as a hand-written ``lax.scan`` would. NaN and inf propagate:
    a non-finite field value leaves a non-finite ‖V‖ in the trace, and a
    non-finite iterate or state stays non-finite to the end (a box projection
    that clips an infinite iterate back is also finite to the checked run). If
    the trace or the final iterate and state are not all finite, the run is made
    again from ``z0`` with every check, in a ``while_loop`` that ends where the
    checked run stops: the returned params are then the last finite iterate, and
    the trace after the stop is NaN. Under ``jax.vmap`` the replay runs only when
    some start needs it, and only as long as the longest of them.

    How the run learns that a field value was not finite depends on the jaxpr of
    one iteration (:func:`_propagation.analyse`):

    * every field value must leave a non-finite iterate or state to the end
      (nothing but IEEE arithmetic between them and the carry): the last iterate
      and state tell it all;
    * the values that need not (the half of a field value that alternating GDA
      ignores) are read by nothing in the iteration: the loop adds ``0 ×`` their
      sums of squares (computed for the trace's norms anyway) to a carried
      scalar, which turns NaN if one of them was not finite and stays 0
      otherwise;
    * some value the iteration reads can lose a NaN or an inf on the way (a clip,
      a ``where``): the trace is read after the loop, a pass over memory.

    The choice between the last two is measured, not derived: on the 2-D game of
    ``benchmarks/overhead.py``, the carried scalar costs alternating GDA about 2%
    where the pass costs about 4%, but with a box projection on both players (whose
    clip reads every field value) it costs OGDA 18%, proximal point 11% and GDA
    6% more than the pass.
    """

    def marked_step(carry: Any, step_keys: Any) -> Any:
        return iteration(*carry, step_keys, checked=False, marked=True)[:2]

    first_keys = None if keys is None else keys[0]
    verdict = _propagation.analyse(marked_step, (z0, state0), first_keys)
    if verdict is None or set(verdict.lost) & set(verdict.read):
        unread: tuple[int, ...] = ()
        read_trace = True
    else:
        unread, read_trace = verdict.lost, False

    def fast_step(carry: Any, keys: Any) -> tuple[Any, jax.Array]:
        params, state, *poison = carry
        params, state, norms, _, squares = iteration(params, state, keys, checked=False)
        if unread:
            # 0·s is 0 for a finite s and NaN for a NaN or an inf.
            total = sum(squares[i] for i in unread)
            poison = [poison[0] + (0 * total).astype(poison[0].dtype)]
        # A (k, 1) trace costs XLA:CPU a slow transpose under vmap; (k,) does not.
        return (params, state, *poison), norms[0] if per_iteration == 1 else norms

    poison0 = [jnp.zeros([], jnp.float32)] if unread else []
    (params, state, *poison), norms = jax.lax.scan(
        fast_step, (z0, state0, *poison0), keys, length=num_iterations
    )
    inexact = [
        x
        for x in jax.tree.leaves((params, state))
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    clean = tree_all_finite(inexact)
    if unread:
        clean = clean & jnp.isfinite(poison[0])
    if read_trace:
        clean = clean & _finite_trace(jax.lax.stop_gradient(norms))

    def replay_running(carry: Any) -> jax.Array:
        *_, status, _, index = carry
        return (status == Status.MAX_STEPS) & (index < num_iterations)

    def replay_step(carry: Any) -> Any:
        params, state, status, evaluations, index = carry
        # A replay starts from z0 (index 0 comes only at its first trip). Selecting
        # here rather than before the loop keeps a clean run from paying one small
        # kernel per leaf of the iterate and state.
        params, state, evaluations = tree_select(
            index == 0,
            (z0, state0, jnp.zeros([], jnp.int32)),
            (params, state, evaluations),
        )
        step_keys = None
        if keys is not None:
            step_keys = jax.lax.dynamic_index_in_dim(keys, index, keepdims=False)
        (params, state, status, evaluations), _ = checked_step(
            (params, state, status, evaluations), step_keys, branch=True
        )
        return params, state, status, evaluations, index + 1

    running = jnp.asarray(Status.MAX_STEPS, jnp.int32)
    total = jnp.asarray(num_iterations * per_iteration, jnp.int32)
    # A clean run starts the replay at its end: no trip.
    start_index = jnp.where(clean, num_iterations, 0).astype(jnp.int32)
    params, state, status, evaluations, index = jax.lax.while_loop(
        replay_running, replay_step, (params, state, running, total, start_index)
    )

    norms = _nan_after(norms, index)
    return params, state, status, evaluations, norms


# On CPU a trace is read by a loop, 256 bytes a trip, whatever its length. JAX's
# CPU client runs a program on the calling thread when XLA's cost estimate, which
# counts a loop body once, is under 1000 flops, and hands it to a worker thread
# otherwise; a reduction or a `where` over the trace counts a flop or two per
# entry. On the 2-core VM of benchmarks/overhead.py a handed-over run of the 2-D
# game took 1-2% longer than the hand-written loop, which runs on the calling
# thread, and in 3 processes of 35 20-35% longer. XLA:CPU compiles a loop
# whose body touches under 1 kB into one kernel: it sums a 16 MB trace in about
# the time of a reduction (1.1-1.4 against 1.0-1.5 ms).
_CHUNK_BYTES = 256


def _chunk_rows(norms: jax.Array) -> int:
    """Rows of a ``(iterations, …)`` trace in one chunk (at least one, at most
    all of them)."""
    row_bytes = int(np.prod(norms.shape[1:], dtype=int)) * norms.dtype.itemsize
    return min(max(1, _CHUNK_BYTES // row_bytes), norms.shape[0])


def _sum_by_chunks(norms: jax.Array) -> jax.Array:
    # Flat: a chunk of whole rows of a (iterations, phases) trace is slower to slice.
    flat = norms.reshape(-1)
    size = _chunk_rows(flat)
    chunks = flat.shape[0] // size

    def add(j: jax.Array, total: jax.Array) -> jax.Array:
        return total + jax.lax.dynamic_slice_in_dim(flat, j * size, size)

    zeros = jnp.zeros((size,), flat.dtype)
    return jnp.sum(jax.lax.fori_loop(0, chunks, add, zeros)) + jnp.sum(
        flat[chunks * size :]
    )


def _sum_at_once(norms: jax.Array) -> jax.Array:
    return jnp.sum(jnp.sum(norms, axis=0))


def _by_platform(
    by_chunks: Callable[..., Any],
    at_once: Callable[..., Any],
    norms: jax.Array,
    *rest: Any,
) -> Any:
    """``by_chunks(norms, *rest)`` on CPU, ``at_once`` elsewhere (and for an empty
    trace)."""
    if norms.size:
        return jax.lax.platform_dependent(norms, *rest, cpu=by_chunks, default=at_once)
    return at_once(norms, *rest)


def _from_row(first: Any, rows: jax.Array, index: jax.Array) -> jax.Array:
    """Which of ``rows`` (row ``first`` of the trace onward) come at or after row
    ``index``, shaped to broadcast against them."""
    number = first + jnp.arange(rows.shape[0], dtype=jnp.int32)
    return (number >= index).reshape(-1, *[1] * (rows.ndim - 1))


@jax.custom_batching.custom_vmap
def _finite_trace(norms: jax.Array) -> jax.Array:
    """Whether every entry of a trace, ``(iterations,)`` or ``(iterations,
    phases)``, is finite.

    A non-finite norm makes the sum non-finite (an overflowing sum of finite norms
    only costs a replay that finds nothing).
    """
    return jnp.isfinite(_by_platform(_sum_by_chunks, _sum_at_once, norms))


@_finite_trace.def_vmap
def _finite_trace_vmap(
    axis_size: int, in_batched: list[bool], norms: jax.Array
) -> tuple[jax.Array, bool]:
    # Under vmap the scan leaves the trace as (iterations, starts[, phases]) in
    # memory; a reduction over its iterations and phases costs XLA:CPU ten times
    # more than a product with a vector of ones. custom_vmap hands the trace over
    # starts-first: moving the axis back cancels that transpose.
    del axis_size
    if not in_batched[0]:
        return _finite_trace(norms), False
    stored = jnp.moveaxis(norms, 0, 1)
    totals = jnp.tensordot(
        jnp.ones(stored.shape[0], stored.dtype), stored, axes=([0], [0])
    )
    if totals.ndim > 1:
        totals = totals @ jnp.ones(totals.shape[1], totals.dtype)
    return jnp.isfinite(totals), True


def _nan_after_at_once(norms: jax.Array, index: jax.Array) -> jax.Array:
    size = norms.shape[0]

    def mask(carry: Any) -> Any:
        norms, index = carry
        stopped = _from_row(0, norms, index)
        # index changes too, or XLA would hoist the invariant mask out of the loop
        # and build it whether the loop runs or not.
        return jnp.where(stopped, jnp.nan, norms), index + size

    # A loop of at most one trip rather than a where, which would cost every run a
    # pass over the trace (under vmap, a cond would too).
    norms, _ = jax.lax.while_loop(lambda c: c[1] < size, mask, (norms, index))
    return norms


def _nan_after_by_chunks(norms: jax.Array, index: jax.Array) -> jax.Array:
    # Chunk by chunk from the stop; the last chunk is shifted back to end with the
    # trace, and the rows it covers before the stop keep their values.
    size, rows = norms.shape[0], _chunk_rows(norms)

    def mask(carry: Any) -> Any:
        norms, start = carry
        at = jnp.minimum(start, size - rows)
        block = jax.lax.dynamic_slice_in_dim(norms, at, rows)
        block = jnp.where(_from_row(at, block, index), jnp.nan, block)
        return jax.lax.dynamic_update_slice_in_dim(norms, block, at, 0), start + rows

    norms, _ = jax.lax.while_loop(lambda c: c[1] < size, mask, (norms, index))
    return norms


@jax.custom_batching.custom_vmap
def _nan_after(norms: jax.Array, index: jax.Array) -> jax.Array:
    """The trace with NaN from iteration ``index`` on (none when ``index`` is the
    number of iterations, as after a clean run or a replay that found nothing).

    Runs only after a replay stopped (a non-finite value); it is written so that
    a clean run pays nothing for it, and on CPU so that it leaves XLA's flop
    estimate of the program under JAX's threshold for running it on the calling
    thread (see ``_CHUNK_BYTES``): a diverged run pays for that, 2-4 ms to mask
    a 16 MB trace by chunks against 1.5-2.5 ms at once.
    """
    return _by_platform(_nan_after_by_chunks, _nan_after_at_once, norms, index)


@_nan_after.def_vmap
def _nan_after_vmap(
    axis_size: int,
    in_batched: list[bool],
    norms: jax.Array,
    index: jax.Array,
) -> tuple[jax.Array, bool]:
    # Batched, a loop runs as long as its longest member and selects the whole
    # carry at every trip: one trip at most, as before batching.
    del axis_size
    axes = [0 if batched else None for batched in in_batched]
    return jax.vmap(_nan_after_at_once, in_axes=axes)(norms, index), True


_solve_jit = jax.jit(_solve, static_argnums=(0, 1, 2, 3))
