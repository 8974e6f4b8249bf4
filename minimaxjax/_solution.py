"""The result of a run: ``Solution`` and its ``Status`` codes."""

import enum
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._types import PyTree

__all__ = ["Solution", "Status", "raise_if_failed", "recorded_trace", "status_message"]


class Status(enum.IntEnum):
    """Why a run stopped; ``Solution.status`` holds these as int32 codes."""

    MAX_STEPS = 0
    """The budget of field evaluations ran out."""
    CONVERGED = 1
    """‖V‖ at a committed iterate fell to ``tol`` or below."""
    DIVERGED = 2
    """The field, the next iterate or the state was not finite; params hold the
    last finite iterate."""


_MESSAGES = {
    Status.MAX_STEPS: "max steps: the budget of field evaluations ran out",
    Status.CONVERGED: "converged: ‖V(z)‖ <= tol",
    Status.DIVERGED: "diverged: a non-finite field or iterate; params hold the last "
    "finite iterate",
}


def status_message(code: Any) -> Any:
    """The readable message of a status code, or of each code in an array of them
    (the status of a vmapped :func:`solve`).

    Returns:
      A ``str`` for a scalar code; for an array, a NumPy array of ``str`` of the
      same shape.

    Example:
      >>> import numpy as np
      >>> import minimaxjax as mmx
      >>> mmx.status_message(mmx.Status.CONVERGED)
      'converged: ‖V(z)‖ <= tol'
      >>> mmx.status_message(np.array([0, 2]))[1][:8]
      'diverged'
    """
    codes = np.asarray(code)
    if codes.ndim == 0:
        return _MESSAGES[Status(int(codes))]
    return np.vectorize(lambda c: _MESSAGES[Status(int(c))], otypes=[str])(codes)


def raise_if_failed(status: Any) -> None:
    """A RuntimeError with the DIVERGED message if any code in ``status`` is
    DIVERGED; a traced ``status`` is checked on the host when it is computed (the
    error then reaches the caller as a ``JaxRuntimeError`` holding the message)."""
    if isinstance(status, jax.core.Tracer):
        jax.debug.callback(raise_if_failed, status)
    elif np.any(np.asarray(status) == Status.DIVERGED):
        raise RuntimeError(
            f"mmx.solve failed: {_MESSAGES[Status.DIVERGED]} (a NaN or infinite "
            "hyperparameter such as the learning rate, or a step too large for the "
            "field)."
        )


class Solution(NamedTuple):
    """The result of :func:`solve` (a pytree: it jits and vmaps).

    Attributes:
      params: the last committed iterate (the last finite one if the run
        diverged).
      state: the optimizer state at the end (resume a run from it, see
        ``raw_params``).
      status: int32 :class:`Status` code.
      trace: ``"field_norm"``: ‖V‖ at each field evaluation, length
        ``num_steps`` (a rule whose evaluations per iteration vary records
        ‖V(z^k)‖ for every evaluation of iteration ``k``); with ``save_every=s``,
        ``"iterates"``: the committed iterate after ``0, s, 2s, …`` evaluations,
        stacked on a leading axis of length ``num_steps // s + 1``. Entries
        after the run stopped (converged, diverged, or a budget the next
        iteration would exceed) are NaN.
      stats: ``{"num_evaluations": field evaluations used, "num_iterations":
        iterations committed}`` (int32).
      raw_params: the params the rule holds with ``state``: ``params`` itself,
        except for a rule whose params sit at an intermediate point (the
        reflected point of ``reflected_gda``). ``solve(field, sol, optimizer,
        n)`` resumes from them and ``state``.
    """

    params: PyTree
    state: optax.OptState
    status: jax.Array
    trace: dict[str, Any]
    stats: dict[str, jax.Array]
    raw_params: PyTree = None


def recorded_trace(
    norms: jax.Array,
    ends: jax.Array,
    saved: Any,
    z0: PyTree,
    end: Any,
    num_steps: int,
    save_every: int | None,
) -> dict[str, Any]:
    """A run's :attr:`Solution.trace` from what its loop recorded.

    ``norms`` holds ‖V‖ per evaluation (per iteration and phase, flattened),
    ``ends[i]`` the evaluations used when iteration ``i`` ended, ``saved`` the
    committed iterate after each iteration, ``end`` the run's last carry (its
    ``evaluations`` and ``iterations``). The trace is padded to ``num_steps``
    and NaN after the stop; ``iterates`` holds the iterate reached after every
    ``save_every`` evaluations.
    """
    flat = norms.reshape(-1)
    recorded = flat.shape[0]  # the rest of the budget is padding, NaN already
    if recorded < num_steps:
        padding = jnp.full((num_steps - recorded,), jnp.nan, flat.dtype)
        flat = jnp.concatenate([flat, padding])

    def nan_after_stop(loop: tuple[jax.Array, jax.Array]) -> Any:
        trace, used = loop
        stopped = jnp.arange(num_steps, dtype=jnp.int32) >= used
        return jnp.where(stopped, jnp.nan, trace), jnp.full_like(used, recorded)

    # A loop of at most one trip rather than a `where`: a run that used all it
    # recorded pays no pass over its trace (under vmap, while none stopped early).
    trace = {
        "field_norm": jax.lax.while_loop(
            lambda loop: loop[1] < recorded, nan_after_stop, (flat, end.evaluations)
        )[0]
    }
    if save_every is None:
        return trace
    marks = save_every * jnp.arange(num_steps // save_every + 1, dtype=jnp.int32)
    done = jnp.searchsorted(ends, marks, "right")  # iterations ended by each mark

    def pick(first: jax.Array, rows: jax.Array) -> jax.Array:
        rows = jnp.concatenate([first[None].astype(rows.dtype), rows])
        picked = rows[jnp.minimum(done, rows.shape[0] - 1)]
        after = (done > end.iterations).reshape(-1, *[1] * first.ndim)
        return jnp.where(after, jnp.nan, picked)

    trace["iterates"] = jax.tree.map(pick, z0, saved)
    return trace
