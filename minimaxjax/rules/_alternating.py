"""Alternating (Gauss–Seidel) updates: players move one after another."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._tree import PyTree, players, replace_player, tree_sub
from minimaxjax.rules._players import check_players

__all__ = ["AlternatingState", "alternating"]


class AlternatingState(NamedTuple):
    """State of :func:`alternating`.

    Attributes:
      inner_states: one optimizer state per player (same container as params).
      phase: the position (int32) of the player the next transparent call moves.
    """

    inner_states: Any
    phase: jax.Array


def alternating(
    optimizer: optax.GradientTransformation
    | tuple[optax.GradientTransformation, ...]
    | list[optax.GradientTransformation]
    | Mapping[Any, optax.GradientTransformation],
    *,
    turns: Sequence[Any] | None = None,
    argument: str = "optimizer",
) -> optax.GradientTransformationExtraArgs:
    r"""Players update in order, each seeing the others' latest move.

    For ``z = (z_1, …, z_n)`` and per-player updates ``u_i`` of the inner
    optimizer(s):

    .. math::

        z_i^{k+1} = z_i^k + u_i\big(V_i(z_1^{k+1}, …, z_{i-1}^{k+1}, z_i^k, …,
        z_n^k)\big), \qquad i = 1, …, n.

    With ``optax.sgd(α)`` and ``z = (x, y)``: ``x⁺ = x − αVx(x, y)``,
    ``y⁺ = y − αVy(x⁺, y)``. One field evaluation per player. In transparent mode
    the ``i``-th call of an iteration moves player ``i`` only; in opaque mode
    (``field=fn``) one call moves every player, calling ``fn(z, i)`` for
    ``i = 1, …, n−1``.

    Args:
      optimizer: one optax transformation used for every player (with a state per
        player), or a tuple/list/dict of them, one per player. Players move in
        the order of a dict's keys (``{"critic": ..., "generator": ...}`` moves
        the critic first, whatever the order of params, an ``nnx.State``'s
        sorted keys included), else in params' order.
      turns: the players' moves in one iteration, as a sequence of their keys or
        indices with repeats allowed: ``["critic"] * 5 + ["generator"]`` is the
        WGAN schedule of five critic steps per generator step (each a field
        evaluation). Default: every player once, in the order above.
      argument: the argument name used in error messages.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`AlternatingState`.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> opt = mmx.alternating(optax.sgd(0.5))
      >>> z = (jnp.array(1.0), jnp.array(1.0))
      >>> state = opt.init(z)
      >>> updates, state = opt.update(V(z), state, z)   # moves x only
      >>> [float(v) for v in optax.apply_updates(z, updates)]
      [0.5, 1.0]

    References:
      Gidel et al., *Negative Momentum for Improved Game Dynamics*, AISTATS 2019,
      https://arxiv.org/abs/1807.04740. Bailey, Gidel & Piliouras, *Finite Regret
      and Cycles with Fixed Step-Size via Alternating Gradient Descent-Ascent*,
      COLT 2020, https://arxiv.org/abs/1907.04392.
    """
    shared = isinstance(optimizer, optax.GradientTransformation)
    if not shared and not isinstance(optimizer, (tuple, list, Mapping)):
        raise TypeError(
            f"{argument} must be an optax transformation or a tuple/list/dict of "
            f"them, one per player, got {type(optimizer).__name__}."
        )

    def inner_for(name: Any) -> optax.GradientTransformationExtraArgs:
        return optax.with_extra_args_support(optimizer if shared else optimizer[name])

    def init_fn(params: PyTree) -> AlternatingState:
        names = order(params)
        if not shared:
            check_players(params, players(optimizer), argument)
        turns_for(params)  # checked before any update
        states = {n: inner_for(n).init(params[n]) for n in names}
        container = (
            states if isinstance(params, Mapping) else tuple(states[n] for n in names)
        )
        return AlternatingState(container, jnp.zeros([], jnp.int32))

    def step(
        name: Any, g: PyTree, states: Any, z: PyTree, extra_args: dict[str, Any]
    ) -> tuple[PyTree, Any]:
        """Player ``name``'s update and the states with its own advanced."""
        u, s = inner_for(name).update(g[name], states[name], z[name], **extra_args)
        if isinstance(states, Mapping):
            states = {**states, name: s}
        else:
            states = tuple(s if i == name else t for i, t in enumerate(states))
        return u, states

    def move(
        name: Any, g: PyTree, states: Any, z: PyTree, extra_args: dict[str, Any]
    ) -> tuple[PyTree, Any]:
        u, states = step(name, g, states, z, extra_args)
        return replace_player(z, name, optax.apply_updates(z[name], u)), states

    def order(params: PyTree) -> tuple[Any, ...]:
        # A dict of per-player optimizers sets the order (an nnx.State sorts its
        # keys, so its own order may not be the one meant); else params' order.
        if isinstance(optimizer, Mapping) and set(optimizer) == set(players(params)):
            return tuple(optimizer.keys())
        return players(params)

    if turns is not None and (
        isinstance(turns, (str, bytes)) or not isinstance(turns, Sequence) or not turns
    ):
        raise ValueError(
            f"turns must be a non-empty sequence of players, got {turns!r}."
        )

    def turns_for(params: PyTree) -> tuple[Any, ...]:
        names = order(params)
        if turns is None:
            return names
        unknown = [t for t in turns if t not in names]
        missing = [n for n in names if n not in turns]
        if unknown or missing:
            raise ValueError(
                f"turns must name only the players {list(names)}, each at least "
                f"once; got {list(turns)}."
            )
        return tuple(turns)

    branches: dict[tuple[Any, ...], list[Callable[[Any], Any]]] = {}

    def branches_for(names: tuple[Any, ...]) -> list[Callable[[Any], Any]]:
        # Built once per player set: lax.switch caches its traces by function
        # identity, so fresh lambdas would re-trace every un-jitted call.
        def branch(name: Any) -> Callable[[Any], Any]:
            return lambda ops: move(name, *ops)

        if names not in branches:
            branches[names] = [branch(n) for n in names]
        return branches[names]

    def update_fn(
        updates: PyTree,
        state: AlternatingState,
        params: PyTree | None = None,
        *,
        field: Callable[[PyTree, int], PyTree] | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, AlternatingState]:
        if params is None:
            raise ValueError(
                "alternating rules need params: call update(field_value, state, "
                "params)."
            )
        names = turns_for(params)
        if field is None:  # transparent: move the player whose turn it is.
            new_z, states = jax.lax.switch(
                state.phase,
                branches_for(names),
                (updates, state.inner_states, params, extra_args),
            )
            new_phase = (state.phase + 1) % len(names)
            return tree_sub(new_z, params), AlternatingState(states, new_phase)
        # Each turn moves one player from the latest point; a player's update is
        # the sum of its own moves (exactly its u_i when it moves once).
        z, states, moves = params, state.inner_states, params
        moved: set[Any] = set()
        for i, n in enumerate(names):
            g = updates if i == 0 else field(z, i)
            u, states = step(n, g, states, z, extra_args)
            total = jax.tree.map(jnp.add, moves[n], u) if n in moved else u
            moves = replace_player(moves, n, total)
            moved.add(n)
            if i + 1 < len(names):
                z = replace_player(z, n, optax.apply_updates(z[n], u))
        return moves, AlternatingState(states, jnp.zeros([], jnp.int32))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
