"""``solve``: run an update rule on a field for a budget of field evaluations."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from minimaxjax._loops import (
    Carry,
    Step,
    checked_step,
    run_checked,
    run_counted,
    run_then_replay,
)
from minimaxjax._solution import Solution, Status, raise_if_failed, recorded_trace
from minimaxjax._tree import (
    check_field_output,
    check_positive_int,
    strong,
    tree_all_finite,
    tree_cond,
    tree_norm,
    tree_select,
)
from minimaxjax._types import Field, Projection, PyTree
from minimaxjax.rules._iterate import iterate
from minimaxjax.rules._protocol import (
    CountsEvaluations,
    evaluations_per_iteration,
    find_states,
)

__all__ = ["solve"]


def solve(
    field: Field,
    z0: PyTree,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    *,
    args: tuple[Any, ...] = (),
    key: jax.Array | None = None,
    projection: Projection | None = None,
    tol: float | None = None,
    save_every: int | None = None,
    state: optax.OptState | None = None,
    throw: bool = False,
) -> Solution:
    r"""Run ``optimizer`` on ``field`` from ``z0`` for ``num_steps`` field evaluations.

    Each iteration is one opaque-mode ``update`` call, ``update(V(z^k), state,
    z^k, field=…)``:

    .. math::

        z^{k+1} = P\big(z^k + \text{optimizer.update}(V(z^k), \ldots)\big),

    so a rule with ``K`` field evaluations per iteration runs ``num_steps // K``
    iterations; a rule whose evaluations vary (a linesearch) stops before an
    iteration could exceed the budget. The run stops at the first committed
    iterate with ``‖V‖ ≤ tol`` (CONVERGED) and freezes at the last finite iterate
    when a field value, the iterate or the state stops being finite (DIVERGED).

    Without ``tol`` the rule runs unchecked in one ``lax.scan``, as a
    hand-written loop would; its last iterate, state and trace are then checked,
    and only if something is not finite is the run replayed with a check at every
    iteration. With ``tol``, or for a rule whose evaluations vary, every
    iteration is checked. Compiled once per ``(field, optimizer, projection,
    num_steps, save_every)``; ``jax.vmap`` works over ``z0``, ``args``, ``key``
    and anything the optimizer closes over (step sizes).

    Args:
      field: ``V(z, *args)`` (``V(z, *args, key)`` when ``key`` is given), returning
        a pytree with the structure of ``z0``.
      z0: the starting point; its top-level children are the players. Or a
        :class:`Solution`, to resume that run: from its ``raw_params`` and
        ``state``, the iterates continue as one longer run would (up to rounding
        where XLA compiles the two runs differently; with ``key``, from the new
        key's draws).
      optimizer: an update rule (any optax transformation).
      num_steps: the budget of field evaluations, a positive int.
      args: extra arguments of the field (a pytree).
      key: a PRNG key; each evaluation then gets a fresh subkey as its last
        argument (stochastic fields ``V(z, ζ)``).
      projection: optional projection applied to every committed iterate and to
        every intermediate point before the field is evaluated there (projected
        extragradient). For ``reflected_gda`` pass the projection to the rule.
      tol: stop when ``‖V(z^k)‖ ≤ tol`` (None: run the whole budget).
      save_every: record the committed iterate every ``save_every`` evaluations
        in ``trace["iterates"]`` (None: record nothing).
      state: the optimizer state to start from, with ``z0`` the params the rule
        holds with it (None: ``optimizer.init(z0)``).
      throw: raise a ``RuntimeError`` with the status message if the run
        DIVERGED (a non-finite field value, iterate or state, e.g. from a NaN
        learning rate). Inside ``jax.jit`` or ``jax.vmap`` the check runs on the
        host when the result is computed, and the error surfaces as a
        ``JaxRuntimeError`` holding that message. False (the default): return
        the status in ``Solution.status`` and never raise.

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
    if isinstance(z0, Solution):
        if state is not None:
            raise ValueError("pass a Solution to resume or a state, not both.")
        z0, state = (z0.params if z0.raw_params is None else z0.raw_params), z0.state
    num_steps = check_positive_int(num_steps, "num_steps", "a budget of evaluations")
    if save_every is not None:
        save_every = check_positive_int(save_every, "save_every", "evaluations")
    if tol is not None and not tol >= 0:
        raise ValueError(f"tol must be None or a non-negative float, got {tol!r}.")
    tol_array = None if tol is None else jnp.asarray(tol, jnp.float32)
    static = (field, optimizer, projection, num_steps, save_every)
    try:
        hash(static)
        run: Callable[..., Solution] = _solve_jit
    except TypeError:
        run = _solve
    solution = run(*static, z0, args, key, tol_array, state)
    if throw:
        raise_if_failed(solution.status)
    return solution


def _solve(
    field: Field,
    optimizer: optax.GradientTransformation,
    projection: Projection | None,
    num_steps: int,
    save_every: int | None,
    z0: PyTree,
    args: tuple[Any, ...],
    key: jax.Array | None,
    tol: jax.Array | None,
    state: optax.OptState | None,
) -> Solution:
    opt = optax.with_extra_args_support(optimizer)
    z0 = strong(z0) if projection is None else projection(strong(z0))
    call = _caller(field, args, z0, key)
    state0 = opt.init(z0)
    if state is not None:
        _check_like(state, state0)
        state0 = state
    counted = bool(find_states(state0, CountsEvaluations))
    per_iteration = 1 if counted else evaluations_per_iteration(opt, z0)
    num_iterations = num_steps // per_iteration
    if num_iterations < 1:
        raise ValueError(
            f"num_steps={num_steps} is smaller than the {per_iteration} field "
            "evaluations one iteration of this rule makes."
        )
    step = _iteration(opt, call, projection, counted, per_iteration)
    keys = None
    if key is not None:
        keys = jax.random.split(key, num_iterations * per_iteration)
        if not counted:
            keys = keys.reshape(num_iterations, per_iteration, *keys.shape[1:])
    zero = jnp.zeros([], jnp.int32)
    start = Carry(z0, state0, zero + Status.MAX_STEPS, zero, zero)
    saving = save_every is not None
    if counted:
        checked = checked_step(step, tol, per_iteration, tree_select)
        end, norms, ends, saved = run_counted(checked, start, keys, num_steps, saving)
    else:
        if tol is None:
            replay = checked_step(step, tol, per_iteration, tree_cond)
            end, norms, saved = run_then_replay(
                step, replay, start, keys, num_iterations, saving
            )
        else:
            checked = checked_step(step, tol, per_iteration, tree_select)
            end, norms, saved = run_checked(
                checked, start, keys, num_iterations, saving
            )
        ends = per_iteration * jnp.arange(1, num_iterations + 1, dtype=jnp.int32)
    first = iterate(z0, state0)  # z0 itself unless a resumed rule sits mid-way
    trace = recorded_trace(norms, ends, saved, first, end, num_steps, save_every)
    stats = {"num_evaluations": end.evaluations, "num_iterations": end.iterations}
    params = iterate(end.params, end.state)
    return Solution(params, end.state, end.status, trace, stats, end.params)


def _caller(
    field: Field, args: tuple[Any, ...], z0: PyTree, key: jax.Array | None
) -> Callable[[PyTree, Any], PyTree]:
    """``call(z, subkey)``: the field with its arguments, checked once on ``z0``."""

    def call(z: PyTree, subkey: Any) -> PyTree:
        return field(z, *args) if subkey is None else field(z, *args, subkey)

    sample = None if key is None else jax.random.split(key)[0]
    check_field_output(
        jax.eval_shape(call, z0, sample),
        z0,
        "z0",
        " A zero-sum field is mmx.field(phi); a field with auxiliary outputs must "
        "drop them before solve.",
    )
    return call


def _check_like(state: optax.OptState, fresh: optax.OptState) -> None:
    """A ValueError unless ``state`` has the structure and shapes of ``fresh``."""

    def shapes(tree: PyTree) -> Any:
        return jax.tree.structure(tree), [jnp.shape(x) for x in jax.tree.leaves(tree)]

    if shapes(state) != shapes(fresh):
        raise ValueError(
            "state must be a state of this optimizer for z0 (the structure and "
            f"shapes of optimizer.init(z0)): got {jax.tree.structure(state)}, "
            f"expected {jax.tree.structure(fresh)}."
        )


def _iteration(
    opt: optax.GradientTransformationExtraArgs,
    call: Callable[[PyTree, Any], PyTree],
    projection: Projection | None,
    counted: bool,
    per_iteration: int,
) -> Step:
    """One opaque iteration: ``(params, state, keys) -> (params, state, norms,
    finite)``, with ‖V‖ at each recorded evaluation and whether every field
    value, the new params and the new state are finite. A counted rule's
    evaluations inside its own control flow are not recorded."""
    project = projection if projection is not None else (lambda z: z)

    def step(params: PyTree, state: optax.OptState, keys: Any) -> Any:
        norms: list[jax.Array] = []
        finite: list[jax.Array] = []

        def evaluate(w: PyTree, phase: Any, record: bool = True) -> PyTree:
            subkey = None
            if keys is not None:
                subkey = jax.random.fold_in(keys, phase) if counted else keys[phase]
            value = call(w, subkey)
            if record:
                norms.append(tree_norm(value))
                finite.append(tree_all_finite(value))
            return value

        g = evaluate(params, 0)
        updates, new_state = opt.update(
            g, state, params, field=lambda w, j: evaluate(project(w), j, not counted)
        )
        new_params = project(optax.apply_updates(params, updates))
        if len(norms) != per_iteration:
            raise ValueError(
                f"the optimizer called its field argument {len(norms) - 1} times "
                f"while tracing, not the {per_iteration - 1} counted before: a rule "
                "must make the same field calls at every iteration, or count them "
                "in a state implementing minimaxjax.rules.CountsEvaluations."
            )
        finite.append(tree_all_finite((new_params, new_state)))
        return new_params, new_state, jnp.stack(norms), jnp.all(jnp.stack(finite))

    return step


_solve_jit = jax.jit(_solve, static_argnums=(0, 1, 2, 3, 4))
