r"""MixedNE-LD: mixed Nash equilibria by Langevin dynamics with exponential
averaging (Kamalaruban et al., NeurIPS 2020; Hsieh, Liu & Cevher, ICML 2019)."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._tree import check_positive_int, strong, tree_select
from minimaxjax._types import Projection, PyTree
from minimaxjax.rules._langevin import (
    _check_key,
    _check_temperature,
    _check_unit_interval,
)
from minimaxjax.rules._players import _check_learning_rate

__all__ = ["MixedNELDState", "mixed_ne_ld"]


class MixedNELDState(NamedTuple):
    """State of :func:`mixed_ne_ld`.

    Attributes:
      key: the PRNG key of the next Langevin step (split at every inner step).
      steps: outer iterations completed (int32), the argument of the schedules.
      anchor: the committed iterate ``z_t`` the inner chain of the iteration in
        progress started from; only read when ``phase > 0`` (an opaque ``update``
        leaves it as it was).
      average: the running average ``z̄`` of the chain's samples; only read when
        ``phase > 0``.
      phase: the inner step the next transparent ``update`` call makes (int32,
        ``0`` starts a new outer iteration).
    """

    key: jax.Array
    steps: jax.Array
    anchor: optax.Params
    average: optax.Params
    phase: jax.Array

    def committed(self, params: PyTree) -> PyTree:
        """The committed iterate ``z_t`` given the current params."""
        return tree_select(self.phase == 0, params, self.anchor)


def _chain_step(
    point: PyTree,
    value: PyTree,
    key: jax.Array,
    lr: Any,
    tau: Any,
    projection: Projection | None,
) -> tuple[PyTree, jax.Array]:
    """One Langevin step ``P(c − ηV(c) + √(2η)τξ)`` and the key of the next one."""
    next_key, step_key = jax.random.split(key)
    leaves, treedef = jax.tree.flatten(point)
    values = jax.tree.leaves(value)
    keys = jax.random.split(step_key, max(len(leaves), 1))

    def step(c: jax.Array, g: jax.Array, k: jax.Array) -> jax.Array:
        dtype = c.dtype
        eta = jnp.asarray(lr, dtype)
        scale = jnp.sqrt(2 * eta) * jnp.asarray(tau, dtype)
        noise = jax.random.normal(k, c.shape, dtype)
        return (c - eta * g.astype(dtype) + scale * noise).astype(dtype)

    moved = [
        step(c, g, keys[i]) for i, (c, g) in enumerate(zip(leaves, values, strict=True))
    ]
    new = jax.tree.unflatten(treedef, moved)
    if projection is not None:
        new = projection(new)
    return new, next_key


def _mix(beta: float, old: PyTree, new: PyTree) -> PyTree:
    """``(1 − β)·old + β·new`` leafwise, in the dtype of ``old``."""

    def mix(a: jax.Array, b: jax.Array) -> jax.Array:
        dtype = a.dtype
        weight = jnp.asarray(beta, dtype)
        return ((1 - weight) * a + weight * b.astype(dtype)).astype(dtype)

    return jax.tree.map(mix, old, new)


def mixed_ne_ld(
    learning_rate: float | jax.Array | optax.Schedule,
    temperature: float | jax.Array | optax.Schedule,
    *,
    key: jax.Array | None = None,
    inner_steps: int = 100,
    beta: float = 0.5,
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""MixedNE-LD: Langevin chains averaged into a damped outer iteration.

    Each outer iteration ``t`` runs a Langevin chain of ``K = inner_steps`` steps
    from the committed iterate ``z_t``, keeps an exponential average ``z̄`` of its
    samples and moves ``z_t`` towards that average:

    .. math::

        c^0 = \bar z^0 = z_t, \qquad
        c^{k+1} = P\big(c^k - η_t V(c^k) + \sqrt{2η_t}\,τ_t\,ξ^k\big), \qquad
        \bar z^{k+1} = (1 - β)\,\bar z^k + β\,c^{k+1},

        z_{t+1} = (1 - β)\,z_t + β\,\bar z^K, \qquad ξ^k \sim N(0, I),

    for ``k = 0, …, K − 1``, with ``η_t = learning_rate`` and ``τ_t =
    temperature`` (either may be an optax schedule of the outer iteration ``t``)
    and ``P`` the optional ``projection`` (the box of a constrained game: the
    authors clip every sample). The chain is a sampler of the mixed strategies;
    ``z_t`` tracks their mean. Every player moves in the same chain, each seeing
    the others' current samples: this is the simultaneous Langevin
    descent–ascent of the authors' experiments on two-dimensional games.
    (Their Algorithm 1 writes one chain per player against the others' ``z_t``,
    which costs one evaluation per player and step with a joint field.)

    **K field evaluations per outer iteration**, declared through the opaque
    mode: ``update(g, state, params, field=fn)`` with ``g = V(z_t)`` runs the
    whole chain and calls ``fn(c^k, k)`` for ``k = 1, …, K − 1`` (the chain is
    unrolled, so compile time grows with ``K``). In transparent mode each
    ``update`` consumes the field at one chain sample and moves params to the
    next one; :func:`iterate` returns ``z_t`` (the state is a
    :class:`MixedNELDState`, which implements ``Committing``). Both modes draw
    the same noise from the key in the state, split at every inner step, so they
    agree bit for bit. With ``K = 1`` and ``β = 1`` it is :func:`langevin_gda`.

    Args:
      learning_rate: the Langevin step size η (float or schedule of ``t``).
      temperature: the noise level τ ≥ 0 (float or schedule of ``t``).
      key: a JAX PRNG key (keyword-only, required).
      inner_steps: the length ``K ≥ 1`` of each chain.
      beta: the averaging weight β in ``(0, 1]`` of both averages.
      projection: optional ``P`` applied to every sample of the chain.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`MixedNELDState`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> game = mmx.games.escaping_trap()
      >>> opt = mmx.mixed_ne_ld(0.1, 0.01, key=jax.random.key(0), inner_steps=10,
      ...                       beta=0.5, projection=game.projection)
      >>> mmx.rules.evaluations_per_iteration(opt, game.init)
      10
      >>> z0 = (jnp.asarray(-0.6), jnp.asarray(-0.2))   # the authors' start
      >>> sol = mmx.solve(game.field, z0, opt, 100 * 10)  # 100 iterations
      >>> bool(jnp.hypot(*sol.params) < 0.1)            # the equilibrium (0, 0)
      True

    References:
      Kamalaruban, Huang, Hsieh, Rolland, Shi & Cevher, *Robust Reinforcement
      Learning via Adversarial Training with Langevin Dynamics*, NeurIPS 2020,
      https://arxiv.org/abs/2002.06063. Hsieh, Liu & Cevher, *Finding Mixed Nash
      Equilibria of Generative Adversarial Networks*, ICML 2019,
      https://arxiv.org/abs/1811.02002.
    """
    key = _check_key(key, "mixed_ne_ld")
    _check_temperature(temperature)
    if not callable(learning_rate):
        _check_learning_rate(learning_rate, "learning_rate")
    num_steps = check_positive_int(inner_steps, "inner_steps", "steps of each chain")
    weight = _check_unit_interval(beta, "beta", closed=True)

    def rates(steps: jax.Array) -> tuple[Any, Any]:
        lr = learning_rate(steps) if callable(learning_rate) else learning_rate
        tau = temperature(steps) if callable(temperature) else temperature
        return lr, tau

    def init_fn(params: PyTree) -> MixedNELDState:
        params = strong(params)
        zero = jnp.zeros([], jnp.int32)
        return MixedNELDState(key, zero, params, params, zero)

    def update_fn(
        updates: PyTree,
        state: MixedNELDState,
        params: PyTree | None = None,
        *,
        field: Callable[[PyTree, int], PyTree] | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, MixedNELDState]:
        del extra_args
        if params is None:
            raise ValueError(
                "mixed_ne_ld averages the chain's samples with z_t, so update needs "
                "params: call update(field_value, state, params)."
            )
        lr, tau = rates(state.steps)
        if field is not None:  # opaque: the whole chain, unrolled
            chain, average, g, chain_key = params, params, updates, state.key
            for k in range(num_steps):
                if k:
                    g = field(chain, k)
                chain, chain_key = _chain_step(chain, g, chain_key, lr, tau, projection)
                average = _mix(weight, average, chain)
            target = _mix(weight, params, average)
            new_state = state._replace(
                key=chain_key, steps=optax.safe_increment(state.steps)
            )
            return jax.tree.map(jnp.subtract, target, params), new_state
        # transparent: one chain step per call; params visit the samples
        first = state.phase == 0
        last = state.phase == num_steps - 1
        anchor = tree_select(first, params, state.anchor)
        average = tree_select(first, params, state.average)
        chain, chain_key = _chain_step(params, updates, state.key, lr, tau, projection)
        average = _mix(weight, average, chain)
        target = tree_select(last, _mix(weight, anchor, average), chain)
        new_state = MixedNELDState(
            key=chain_key,
            steps=state.steps + last.astype(jnp.int32),
            anchor=anchor,
            average=average,
            phase=(state.phase + 1) % num_steps,
        )
        return jax.tree.map(jnp.subtract, target, params), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
