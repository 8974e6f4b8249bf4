"""``solve``: run an update rule on a field for a budget of field evaluations."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._tree import PyTree, strong, tree_all_finite, tree_norm, tree_select
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


def _check_field_output(value: Any, z0: PyTree) -> None:
    got, want = jax.tree.structure(value), jax.tree.structure(z0)
    if got != want:
        raise ValueError(
            "field must return a pytree with the structure of z0; got "
            f"{got}, expected {want}. A zero-sum field is mmx.field(phi); a field with "
            "auxiliary outputs must drop them before solve."
        )
    for path, (v, z) in zip(
        jax.tree_util.tree_leaves_with_path(z0),
        zip(jax.tree.leaves(value), jax.tree.leaves(z0), strict=False),
        strict=False,
    ):
        if jnp.shape(v) != jnp.shape(z):
            raise ValueError(
                f"field must return arrays shaped like z0; at "
                f"{jax.tree_util.keystr(path[0])} it returned shape {jnp.shape(v)}, "
                f"expected {jnp.shape(z)}."
            )


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

    The run freezes, keeping the last finite iterate, when a field value or an
    iterate stops being finite (status DIVERGED), and stops at the first committed
    iterate with ``‖V‖ ≤ tol`` (status CONVERGED). It is jit-compiled once per
    ``(field, optimizer, projection, num_steps)`` and ``jax.vmap`` works over
    ``z0``, ``args``, ``key`` and anything the optimizer closes over (step sizes).

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
    tol_array = jnp.asarray(-jnp.inf if tol is None else tol, jnp.float32)
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
    tol: jax.Array,
) -> Solution:
    opt = optax.with_extra_args_support(optimizer)
    z0 = strong(z0)
    if projection is not None:
        z0 = projection(z0)
    project = projection if projection is not None else (lambda z: z)

    def call(z: PyTree, subkey: jax.Array | None) -> PyTree:
        return field(z, *args) if subkey is None else field(z, *args, subkey)

    sample_key = None if key is None else jax.random.split(key)[0]
    _check_field_output(jax.eval_shape(call, z0, sample_key), z0)
    state = opt.init(z0)
    adaptive = bool(_evaluation_counters(state))

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
            lambda g, s, p: opt.update(g, s, p, field=counting), z0, state, z0
        )
        per_iteration = 1 + len(calls)
    num_iterations = num_steps // per_iteration
    if num_iterations < 1:
        raise ValueError(
            f"num_steps={num_steps} is smaller than the {per_iteration} field "
            "evaluations one iteration of this rule makes."
        )

    def body(carry: tuple[Any, ...], keys: Any) -> tuple[tuple[Any, ...], jax.Array]:
        params, state, status, evaluations = carry
        norms: list[jax.Array] = []
        finite_values: list[jax.Array] = []

        def subkey(phase: Any) -> jax.Array | None:
            if keys is None:
                return None
            return jax.random.fold_in(keys, phase) if adaptive else keys[phase]

        def recording(w: PyTree, phase: int) -> PyTree:
            value = call(project(w), subkey(phase))
            if not adaptive:
                norms.append(tree_norm(value))
                finite_values.append(tree_all_finite(value))
            return value

        g = call(params, subkey(0))
        norms.append(tree_norm(g))
        finite_values.append(tree_all_finite(g))
        updates, new_state = opt.update(g, state, params, field=recording)
        new_params = project(optax.apply_updates(params, updates))
        if len(norms) != per_iteration:
            raise ValueError(
                f"the optimizer called its field argument {len(norms) - 1} times "
                f"while tracing, not the {per_iteration - 1} counted before: solve "
                "needs a fixed number of field calls per iteration, or a "
                "`num_evaluations` counter in the rule's state (adaptive rules)."
            )
        norms_array = jnp.stack(norms)
        running = status == Status.MAX_STEPS
        converged = norms_array[0] <= tol.astype(norms_array.dtype)
        # One reduction over every flag, so that XLA computes the predicate once
        # instead of fusing a copy of the whole iteration into each select below.
        # State leaves that are the new params or a field value (an optimistic
        # rule's previous gradient) are checked already.
        checked = {id(x) for x in jax.tree.leaves((new_params, g))}
        finite = jnp.all(
            jnp.stack(
                [
                    *finite_values,
                    *(jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(new_params)),
                    *(
                        jnp.all(jnp.isfinite(x))
                        for x in jax.tree.leaves(new_state)
                        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
                        and id(x) not in checked
                    ),
                ]
            )
        )
        move = running & ~converged & finite
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
            norms_array,
            jnp.nan,
        )
        if per_iteration == 1:
            # A (k, 1) trace costs XLA:CPU a slow transpose under vmap; (k,) does not.
            recorded = recorded[0]
        if adaptive:
            return (params, state, status, evaluations), (recorded, move)
        return (params, state, status, evaluations), recorded

    keys = None
    if key is not None:
        keys = jax.random.split(key, num_iterations * per_iteration)
        if not adaptive:
            keys = keys.reshape((num_iterations, per_iteration, *keys.shape[1:]))
    carry = (
        z0,
        state,
        jnp.asarray(Status.MAX_STEPS, jnp.int32),
        jnp.zeros([], jnp.int32),
    )
    (params, state, status, evaluations), outputs = jax.lax.scan(
        body, carry, keys, length=num_iterations
    )
    if adaptive:
        norms, moved = outputs
        done = jnp.sum(moved, dtype=jnp.int32)
    else:
        # No per-iteration output for the count: every iteration used per_iteration
        # evaluations but a converged last one (1), and a diverged last one (all of
        # them) was not committed.
        norms = outputs
        unused = jnp.where(
            status == Status.CONVERGED,
            1,
            jnp.where(status == Status.DIVERGED, per_iteration, 0),
        )
        done = (evaluations - unused) // per_iteration
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


_solve_jit = jax.jit(_solve, static_argnums=(0, 1, 2, 3))
