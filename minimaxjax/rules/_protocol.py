r"""The contract between update rules and the driver.

A rule is an ``optax.GradientTransformationExtraArgs``. Three things about it are
read by :func:`minimaxjax.solve`, :func:`minimaxjax.iterate`, the diagnostics and
the benchmarks, and all three are written here:

1. **Field evaluations per iteration.** A rule declares them with its opaque
   mode: ``update(g, state, params, field=fn)`` receives ``g = V(z^k)`` and calls
   ``fn(w, phase)`` once for each further evaluation of the iteration (``phase =
   1, 2, …``; the phase lets a loop draw a fresh minibatch). A rule that makes
   ``K`` evaluations calls ``fn`` ``K − 1`` times.
   :func:`evaluations_per_iteration` counts them, once, by tracing (no compute).
2. **Evaluations that tracing cannot see**: a varying number (a linesearch),
   or calls to ``fn`` inside a ``jax.lax`` loop (the chains of
   ``mixed_ne_ld``). The rule's state implements :class:`CountsEvaluations`: how
   many calls to ``fn`` it has made so far and an upper bound on the evaluations
   of one iteration. ``solve`` then
   stops before an iteration could exceed the budget.
3. **The committed iterate.** A rule whose transparent mode moves params to
   intermediate points (an extrapolated or reflected point) has a state that
   implements :class:`Committing`; :func:`minimaxjax.iterate` finds it anywhere
   in an optax state tree (under ``optax.chain``, ``inject_hyperparams``).

Any state can implement these protocols (they are structural: methods with the
right names suffice), so a rule written outside the library works with ``solve``,
``iterate`` and the diagnostics like the library's own.
"""

from typing import Any, Protocol, runtime_checkable

import jax
import optax

from minimaxjax._types import PyTree

__all__ = [
    "Committing",
    "CountsEvaluations",
    "evaluations_per_iteration",
    "find_states",
]


@runtime_checkable
class Committing(Protocol):
    """A state whose params may sit at an intermediate point in transparent mode."""

    def committed(self, params: PyTree) -> PyTree:
        """The committed iterate ``z^k`` given the current params."""
        ...


@runtime_checkable
class CountsEvaluations(Protocol):
    """A state of a rule whose number of field evaluations varies per iteration."""

    def evaluations(self) -> jax.Array:
        """Calls to the opaque ``field`` made so far, over all iterations (int32).
        The evaluation at ``z^k`` the caller passes in is not counted."""
        ...

    def max_evaluations(self) -> jax.Array:
        """An upper bound on the evaluations of one iteration, the one at ``z^k``
        included (int32)."""
        ...


def find_states(state: optax.OptState, protocol: type) -> list[Any]:
    """The sub-states of ``state`` (itself included) that implement ``protocol``,
    in ``jax.tree`` order."""

    def matches(node: Any) -> bool:
        # Arrays are leaves, never rule states (and jax.Array has a `committed`).
        return not isinstance(node, jax.Array) and isinstance(node, protocol)

    return [s for s in jax.tree.leaves(state, is_leaf=matches) if matches(s)]


def evaluations_per_iteration(
    optimizer: optax.GradientTransformation, params: PyTree
) -> int:
    """Field evaluations one opaque-mode iteration of ``optimizer`` makes at
    ``params``: one plus its calls to ``field`` (traced, not computed).

    For a rule whose state implements :class:`CountsEvaluations` this is the
    count of one trace, not a number of evaluations: ask the state instead.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> z = (jnp.zeros(2), jnp.zeros(3))
      >>> [mmx.rules.evaluations_per_iteration(rule, z) for rule in
      ...  (mmx.gda(0.1), mmx.extragradient(0.1), mmx.alternating_gda(0.1))]
      [1, 2, 2]
    """
    opt = optax.with_extra_args_support(optimizer)
    calls: list[int] = []

    def counting(w: PyTree, phase: int) -> PyTree:
        calls.append(phase)
        return w

    jax.eval_shape(
        lambda g, s, p: opt.update(g, s, p, field=counting),
        params,
        opt.init(params),
        params,
    )
    return 1 + len(calls)
