r"""Entropic mirror rules for players on simplices (mixed strategies).

Every player is a probability vector (or an array of them, normalised along
``axis``) and moves by multiplicative weights: the entropic mirror step

.. math::

    \operatorname{step}_α(p, g) = \frac{p \odot e^{-α g}}{\sum p \odot e^{-α g}},

computed in log space (``log p − αg`` minus its ``logsumexp`` along ``axis``), so
it stays on the simplex without a projection. Like the other rules they are optax
transformations applied to the field ``V`` as to a gradient, and return
``updates = p⁺ − p``.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._types import LearningRate, PyTree
from minimaxjax.rules._extra import extra
from minimaxjax.rules._players import by_player

__all__ = ["mirror_descent", "mirror_prox", "optimistic_mirror_descent"]


class _EntropicState(NamedTuple):
    """Counts the steps, for a scheduled step size."""

    steps: jax.Array


def _check_axis(axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {axis!r}.")
    return int(axis)


def _entropic_step(learning_rate: Any, axis: int) -> optax.GradientTransformation:
    """``updates = step_α(p, g) − p`` leafwise, α read from a schedule if callable."""

    def init_fn(params: PyTree) -> _EntropicState:
        del params
        return _EntropicState(jnp.zeros([], jnp.int32))

    def update_fn(
        updates: PyTree, state: _EntropicState, params: PyTree | None = None
    ) -> tuple[PyTree, _EntropicState]:
        if params is None:
            raise ValueError(
                "mirror rules multiply the current strategy, so update needs params: "
                "call update(field_value, state, params)."
            )
        lr = learning_rate(state.steps) if callable(learning_rate) else learning_rate

        def step(g: jax.Array, p: jax.Array) -> jax.Array:
            logits = jnp.log(p) - jnp.asarray(lr, p.dtype) * g.astype(p.dtype)
            log_new = logits - jax.nn.logsumexp(logits, axis=axis, keepdims=True)
            return (jnp.exp(log_new) - p).astype(p.dtype)

        return jax.tree.map(step, updates, params), _EntropicState(
            optax.safe_increment(state.steps)
        )

    return optax.GradientTransformation(init_fn, update_fn)


def _check_simplices(params: PyTree, axis: int, argument: str = "params") -> None:
    """A ValueError naming ``argument`` (and the leaf) if a concrete leaf of
    ``params`` is not a probability vector along ``axis``. Traced leaves pass."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        name = f"{argument}{jax.tree_util.keystr(path)}"
        try:
            value = np.asarray(leaf)
        except jax.errors.TracerArrayConversionError:
            continue
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(
                f"{name} must be a floating-point probability vector, got dtype "
                f"{value.dtype}."
            )
        if not -value.ndim <= axis < max(value.ndim, 1) or value.ndim == 0:
            raise ValueError(
                f"{name} has shape {value.shape}, which has no axis {axis} to "
                "normalise along; mirror rules need each player on a simplex."
            )
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            raise ValueError(
                f"{name} must have non-negative finite entries (a point of the "
                f"simplex), got minimum {value.min()}."
            )
        sums = value.astype(np.float64).sum(axis=axis)
        tolerance = 1e-5 * value.shape[axis]
        error = float(np.abs(sums - 1.0).max()) if sums.size else 0.0
        if error > tolerance:
            raise ValueError(
                f"{name} must sum to 1 along axis {axis} (a point of the simplex), "
                f"but is off by {error:.3g} (tolerance {tolerance:.3g})."
            )


def _on_simplices(
    optimizer: optax.GradientTransformation, axis: int
) -> optax.GradientTransformationExtraArgs:
    """``optimizer`` whose ``init`` checks that params lie on simplices."""
    inner = optax.with_extra_args_support(optimizer)

    def init_fn(params: PyTree) -> optax.OptState:
        _check_simplices(params, axis)
        return inner.init(params)

    return optax.GradientTransformationExtraArgs(init_fn, inner.update)


def _entropic(axis: int) -> Callable[[Any], optax.GradientTransformation]:
    return lambda lr: _entropic_step(lr, axis)


def mirror_descent(
    learning_rate: LearningRate, *, axis: int = -1
) -> optax.GradientTransformationExtraArgs:
    r"""Entropic mirror descent (multiplicative weights, Hedge) on simplices.

    Each player ``p`` is normalised along ``axis`` and moves by

    .. math::

        p^{k+1} = \frac{p^k \odot e^{-α V(p^k)}}{\sum p^k \odot e^{-α V(p^k)}},
        \qquad \log p^{k+1} = \log p^k - αV(p^k)
        - \operatorname{logsumexp}(\log p^k - αV(p^k)),

    computed in log space. One field evaluation per iteration. On a matrix game
    the *average* iterate converges at rate ``O(1/√T)`` (with ``α ∝ 1/√T``), but
    the last iterate does not: on rock–paper–scissors it spirals out towards the
    boundary of the simplex.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      axis: the axis along which each player's array sums to 1 (keyword-only).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` returning ``updates = p⁺ − p``;
      its ``init`` raises a ValueError if a concrete player is not on the simplex.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> import minimaxjax as mmx
      >>> opt = mmx.mirror_descent(jnp.log(2.0))
      >>> p = (jnp.array([0.5, 0.5]),)
      >>> updates, _ = opt.update((jnp.array([0.0, 1.0]),), opt.init(p), p)
      >>> [round(float(v), 4) for v in optax.apply_updates(p, updates)[0]]
      [0.6667, 0.3333]

    References:
      Nemirovski & Yudin, *Problem Complexity and Method Efficiency in
      Optimization*, Wiley 1983. Freund & Schapire, *Adaptive game playing using
      multiplicative weights*, Games Econ. Behav. 29, 1999,
      https://doi.org/10.1006/game.1999.0738.
    """
    axis = _check_axis(axis)
    return _on_simplices(by_player(learning_rate, _entropic(axis)), axis)


def mirror_prox(
    learning_rate: LearningRate, *, axis: int = -1
) -> optax.GradientTransformationExtraArgs:
    r"""Mirror-prox (entropic extragradient) on simplices.

    .. math::

        \bar p^k ∝ p^k \odot e^{-α V(p^k)}, \qquad
        p^{k+1} ∝ p^k \odot e^{-α V(\bar p^k)},

    each normalised along ``axis`` (in log space). Two field evaluations per
    iteration; it is :func:`extra` around the entropic step, with its two modes:
    in transparent mode params visit ``p̄^k`` between the two calls and
    :func:`iterate` gives ``p^k`` (the state is an :class:`ExtraState`). The
    average iterate converges at rate ``O(1/T)`` on matrix games with
    ``α ≤ 1/max|A_ij|``, and the last iterate converges too when the equilibrium
    is unique.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict); a
        schedule advances at both evaluations.
      axis: the axis along which each player's array sums to 1 (keyword-only).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`ExtraState`;
      its ``init`` raises a ValueError if a concrete player is not on the simplex.

    Example:
      >>> import minimaxjax as mmx
      >>> game = mmx.games.rock_paper_scissors()
      >>> sol = mmx.solve(game.field, game.init, mmx.mirror_prox(0.5), 400)
      >>> [round(float(p), 3) for p in sol.params[0]]
      [0.333, 0.333, 0.333]

    References:
      Nemirovski, *Prox-Method with Rate of Convergence O(1/t) for Variational
      Inequalities with Lipschitz Continuous Monotone Operators and Smooth
      Convex-Concave Saddle Point Problems*, SIAM J. Optim. 15, 2004,
      https://doi.org/10.1137/S1052623403425629.
    """
    axis = _check_axis(axis)
    return _on_simplices(extra(by_player(learning_rate, _entropic(axis))), axis)


def optimistic_mirror_descent(
    learning_rate: LearningRate, *, axis: int = -1
) -> optax.GradientTransformationExtraArgs:
    r"""Optimistic multiplicative weights (optimistic entropic mirror descent).

    .. math::

        p^{k+1} ∝ p^k \odot e^{-α\,[2V(p^k) - V(p^{k-1})]}, \qquad
        V(p^{-1}) := V(p^0),

    normalised along ``axis`` (in log space). One field evaluation per iteration;
    the field values are combined as in ``optax.scale_by_optimistic_gradient``.
    Unlike :func:`mirror_descent`, its last iterate converges on matrix games with
    a unique equilibrium, for small enough α.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      axis: the axis along which each player's array sums to 1 (keyword-only).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` returning ``updates = p⁺ − p``;
      its ``init`` raises a ValueError if a concrete player is not on the simplex.

    Example:
      >>> import minimaxjax as mmx
      >>> game = mmx.games.rock_paper_scissors()
      >>> opt = mmx.optimistic_mirror_descent(0.3)
      >>> sol = mmx.solve(game.field, game.init, opt, 1000)
      >>> [round(float(p), 3) for p in sol.params[1]]
      [0.333, 0.333, 0.333]

    References:
      Rakhlin & Sridharan, *Optimization, Learning, and Games with Predictable
      Sequences*, NeurIPS 2013, https://arxiv.org/abs/1311.1869. Daskalakis &
      Panageas, *Last-Iterate Convergence: Zero-Sum Games and Constrained Min-Max
      Optimization*, ITCS 2019, https://arxiv.org/abs/1807.04252.
    """
    axis = _check_axis(axis)

    def make(lr: Any) -> optax.GradientTransformation:
        return optax.chain(
            optax.scale_by_optimistic_gradient(1.0, 1.0), _entropic_step(lr, axis)
        )

    return _on_simplices(by_player(learning_rate, make), axis)
