r"""MixedNE-LD: mixed Nash equilibria by Langevin dynamics with exponential
averaging (Kamalaruban et al., NeurIPS 2020; Hsieh, Liu & Cevher, ICML 2019)."""

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._tree import (
    _key_name,
    check_positive_int,
    players,
    rebuild,
    strong,
    tree_select,
)
from minimaxjax._types import LearningRate, Projection, PyTree
from minimaxjax.rules._langevin import (
    _check_key,
    _check_temperature,
    _check_unit_interval,
)
from minimaxjax.rules._players import _check_learning_rate, _names, check_players

__all__ = ["MixedNELDState", "mixed_ne_ld"]

CHAINS = ("joint", "per_player")


class MixedNELDState(NamedTuple):
    """State of :func:`mixed_ne_ld`.

    Attributes:
      key: the PRNG key of the next Langevin step (split at every inner step).
      steps: outer iterations completed (int32), the argument of the schedules.
      anchor: the committed iterate ``z_t`` the chains of the iteration in
        progress started from.
      average: the running averages ``z̄`` of the chains' samples.
      chain: every player's current chain sample.
      opponents: where a per-player chain holds the other players: ``z_t``, or
        the extrapolated ``z̃`` in the second stage of ``extrapolate=True``.
      phase: the evaluation the next transparent ``update`` call consumes (int32,
        ``0`` starts a new outer iteration). ``anchor``, ``average``, ``chain``
        and ``opponents`` are only read when ``phase > 0``.
      num_evaluations: field calls made by opaque ``update`` calls so far
        (int32), beyond the evaluation at ``z_t`` each caller passes in.
      evaluation_limit: the field evaluations of one outer iteration (int32).
    """

    key: jax.Array
    steps: jax.Array
    anchor: optax.Params
    average: optax.Params
    chain: optax.Params
    opponents: optax.Params
    phase: jax.Array
    num_evaluations: jax.Array
    evaluation_limit: jax.Array

    def committed(self, params: PyTree) -> PyTree:
        """The committed iterate ``z_t`` given the current params."""
        return tree_select(self.phase == 0, params, self.anchor)

    def evaluations(self) -> jax.Array:
        """Field calls made by opaque ``update`` calls so far (the
        :class:`~minimaxjax.rules.CountsEvaluations` protocol)."""
        return self.num_evaluations

    def max_evaluations(self) -> jax.Array:
        """The evaluations of one outer iteration (the
        :class:`~minimaxjax.rules.CountsEvaluations` protocol)."""
        return self.evaluation_limit


def _leaf_players(tree: PyTree) -> list[Any]:
    """The player of each leaf of ``tree``, in ``jax.tree.leaves`` order."""
    paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [_key_name(path[0]) for path, _ in paths]


def _chain_step(
    chain: PyTree,
    value: PyTree,
    key: jax.Array,
    lr: Callable[[Any], Any],
    tau: Any,
    projection: Projection | None,
    moves: Callable[[Any], Any],
) -> tuple[PyTree, jax.Array]:
    """One Langevin step ``P(c − η_i V_i + √(2η_i)τξ)`` of the players that move,
    and the key of the next step.

    ``lr(player)`` is the player's step size; ``moves(player)`` is ``True`` or a
    traced bool (the player's leaves are selected). Every leaf has its own key,
    split from one key per step whichever players move.
    """
    next_key, step_key = jax.random.split(key)
    leaves, treedef = jax.tree.flatten(chain)
    values = jax.tree.leaves(value)
    keys = jax.random.split(step_key, max(len(leaves), 1))

    def step(c: jax.Array, g: jax.Array, k: jax.Array, player: Any) -> jax.Array:
        dtype = c.dtype
        eta = jnp.asarray(lr(player), dtype)
        scale = jnp.sqrt(2 * eta) * jnp.asarray(tau, dtype)
        noise = jax.random.normal(k, c.shape, dtype)
        return (c - eta * g.astype(dtype) + scale * noise).astype(dtype)

    moved = []
    for i, (c, g, player) in enumerate(
        zip(leaves, values, _leaf_players(chain), strict=True)
    ):
        flag, stepped = moves(player), step(c, g, keys[i], player)
        moved.append(stepped if flag is True else jnp.where(flag, stepped, c))
    new = jax.tree.unflatten(treedef, moved)
    if projection is not None:
        new = projection(new)
    return new, next_key


def _mix(beta: float, old: PyTree, new: PyTree, moves: Callable[[Any], Any]) -> PyTree:
    """``(1 − β)·old + β·new`` on the leaves of the players that move (``moves``
    as in :func:`_chain_step`), in the dtype of ``old``."""

    def mix(a: jax.Array, b: jax.Array, player: Any) -> jax.Array:
        flag = moves(player)
        dtype = a.dtype
        weight = jnp.asarray(beta, dtype)
        mixed = ((1 - weight) * a + weight * b.astype(dtype)).astype(dtype)
        return mixed if flag is True else jnp.where(flag, mixed, a)

    leaves, treedef = jax.tree.flatten(old)
    return jax.tree.unflatten(
        treedef,
        [
            mix(a, b, p)
            for a, b, p in zip(
                leaves, jax.tree.leaves(new), _leaf_players(old), strict=True
            )
        ],
    )


def _everyone(player: Any) -> bool:
    del player
    return True


class _Schedule(NamedTuple):
    """The evaluations of one outer iteration, as slots ``s = 0, …, size − 1``.

    ``groups`` chains move together (1 joint chain, or one per player). The first
    stage has ``1 + groups·(K − 1)`` slots: slot 0 evaluates at ``z_t`` and moves
    every chain; slot ``1 + (k − 1)·groups + g`` moves chain ``g`` at its step
    ``k``. The second stage (``extrapolate``) has ``groups·K`` slots.
    """

    groups: int
    steps: int
    extrapolate: bool

    @property
    def first_stage(self) -> int:
        return 1 + self.groups * (self.steps - 1)

    @property
    def size(self) -> int:
        return self.first_stage + self.extrapolate * self.groups * self.steps

    def group(self, slot: jax.Array) -> jax.Array:
        """The chain a slot ``> 0`` moves."""
        first = self.first_stage
        return jnp.where(
            slot < first, (slot - 1) % self.groups, (slot - first) % self.groups
        )


def mixed_ne_ld(
    learning_rate: LearningRate,
    temperature: float | jax.Array | optax.Schedule,
    *,
    key: jax.Array | None = None,
    inner_steps: int = 100,
    beta: float = 0.5,
    chains: Literal["joint", "per_player"] = "joint",
    extrapolate: bool = False,
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""MixedNE-LD: Langevin chains averaged into a damped outer iteration.

    Each outer iteration ``t`` runs Langevin chains of ``K = inner_steps`` steps
    from the committed iterate ``z_t``, keeps an exponential average ``z̄`` of
    their samples and moves ``z_t`` towards that average. With ``chains="joint"``
    (the default) every player moves in one chain, each seeing the others'
    current samples (simultaneous Langevin descent–ascent, as in the authors'
    two-dimensional experiments):

    .. math::

        c^0 = \bar z^0 = z_t, \qquad
        c^{k+1} = P\big(c^k - η_t V(c^k) + \sqrt{2η_t}\,τ_t\,ξ^k\big), \qquad
        \bar z^{k+1} = (1 - β)\,\bar z^k + β\,c^{k+1},

        z_{t+1} = (1 - β)\,z_t + β\,\bar z^K, \qquad ξ^k \sim N(0, I),

    for ``k = 0, …, K − 1``, with ``η_t = learning_rate`` and ``τ_t =
    temperature`` (either may be an optax schedule of the outer iteration ``t``)
    and ``P`` the optional ``projection`` (the box of a constrained game: the
    authors clip every sample). The chains sample the mixed strategies; ``z_t``
    tracks their mean.

    With ``chains="per_player"`` each player ``i`` runs its own chain against the
    others held at ``z_t`` (Algorithm 1 of Kamalaruban et al.; Mirror-GAN,
    Algorithm 2 of Hsieh et al., for a generator and a critic):

    .. math::

        c_i^{k+1} = P\big(c_i^k - η_i V_i(c_i^k, z_{t,-i})
            + \sqrt{2η_i}\,τ\,ξ_i^k\big),

    and ``extrapolate=True`` adds the mirror-prox step (Mirror-Prox-GAN): the
    chains above give ``z̃ = (1 − β)z_t + β\bar z^K``, and a second set of
    chains, again from ``z_t`` but against ``z̃_{-i}``, gives the average that
    ``z_{t+1}`` moves to. ``learning_rate`` may then be a per-player tuple/dict
    (two time scales).

    **Field evaluations per outer iteration**: ``K`` (joint), ``1 + n(K − 1)``
    (per player, ``n`` players: the first step of every chain is at ``z_t``), plus
    ``nK`` with ``extrapolate``. In opaque mode, ``update(g, state, params,
    field=fn)`` with ``g = V(z_t)`` runs every chain in a ``jax.lax.fori_loop``
    (compile time does not grow with ``K``), calling ``fn(w, s)`` for the
    evaluations ``s = 1, 2, …``; the state counts them (it implements
    ``CountsEvaluations``, so :func:`solve` spends its budget by the state's
    count). In transparent mode each ``update`` consumes the field at one
    evaluation point and moves params to the next one; :func:`iterate` returns
    ``z_t`` (the state implements ``Committing``). Both modes run the same step
    and draw the same noise from the key in the state, split at every
    evaluation. With ``K = 1`` and ``β = 1`` the joint chain is
    :func:`langevin_gda`.

    Args:
      learning_rate: the Langevin step size η (float or schedule of ``t``; with
        ``chains="per_player"`` also a per-player tuple/dict of those).
      temperature: the noise level τ ≥ 0 (float or schedule of ``t``).
      key: a JAX PRNG key (keyword-only, required).
      inner_steps: the length ``K ≥ 1`` of each chain.
      beta: the averaging weight β in ``(0, 1]`` of both averages.
      chains: ``"joint"`` or ``"per_player"``.
      extrapolate: the mirror-prox variant (needs ``chains="per_player"``).
      projection: optional ``P`` applied to every sample of the chains.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`MixedNELDState`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> game = mmx.games.escaping_trap()
      >>> opt = mmx.mixed_ne_ld(0.1, 0.01, key=jax.random.key(0), inner_steps=10,
      ...                       beta=0.5, projection=game.projection)
      >>> int(opt.init(game.init).max_evaluations())  # field evaluations
      10
      >>> z0 = (jnp.asarray(-0.6), jnp.asarray(-0.2))   # the authors' start
      >>> sol = mmx.solve(game.field, z0, opt, 100 * 10)  # 100 iterations
      >>> bool(jnp.hypot(*sol.params) < 0.1)            # the equilibrium (0, 0)
      True
      >>> prox = mmx.mixed_ne_ld(0.1, 0.01, key=jax.random.key(0), inner_steps=10,
      ...                        chains="per_player", extrapolate=True)
      >>> int(prox.init(game.init).max_evaluations())  # 1 + 2·9 + 2·10
      39

    References:
      Kamalaruban, Huang, Hsieh, Rolland, Shi & Cevher, *Robust Reinforcement
      Learning via Adversarial Training with Langevin Dynamics*, NeurIPS 2020,
      https://arxiv.org/abs/2002.06063. Hsieh, Liu & Cevher, *Finding Mixed Nash
      Equilibria of Generative Adversarial Networks*, ICML 2019,
      https://arxiv.org/abs/1811.02002.
    """
    key = _check_key(key, "mixed_ne_ld")
    _check_temperature(temperature)
    num_steps = check_positive_int(inner_steps, "inner_steps", "steps of each chain")
    weight = _check_unit_interval(beta, "beta", closed=True)
    if chains not in CHAINS:
        raise ValueError(f"chains must be one of {CHAINS}, got {chains!r}.")
    per_player = chains == "per_player"
    if extrapolate and not per_player:
        raise ValueError(
            "extrapolate=True holds each player's chain against the others' "
            "extrapolated point, so it needs chains='per_player', got "
            f"chains={chains!r}."
        )
    rates = learning_rate
    if isinstance(learning_rate, (tuple, list, Mapping)):
        if not per_player:
            raise ValueError(
                "a per-player learning_rate needs chains='per_player' (one joint "
                f"chain has one step size), got {learning_rate!r}."
            )
        names = _names(learning_rate)
        for n in names:
            _check_learning_rate(learning_rate[n], f"learning_rate[{n!r}]")
    else:
        _check_learning_rate(learning_rate, "learning_rate")
        names = ()

    def at(value: Any, steps: jax.Array) -> Any:
        return value(steps) if callable(value) else value

    def step_sizes(steps: jax.Array) -> Callable[[Any], Any]:
        if names:
            table = {n: at(rates[n], steps) for n in names}  # type: ignore[index]
            return lambda player: table[player]
        lr = at(rates, steps)
        return lambda player: lr

    def schedule(params: PyTree) -> tuple[_Schedule, tuple[Any, ...]]:
        everyone = players(params)
        if names:
            check_players(params, names, "learning_rate")
        groups = len(everyone) if per_player else 1
        return _Schedule(groups, num_steps, extrapolate), everyone

    def init_fn(params: PyTree) -> MixedNELDState:
        size = schedule(params)[0].size  # checks a per-player learning rate
        params = strong(params)
        zero = jnp.zeros([], jnp.int32)
        limit = jnp.asarray(size, jnp.int32)
        return MixedNELDState(
            key, zero, params, params, params, params, zero, zero, limit
        )

    def point(chain: PyTree, opponents: PyTree, moves: Callable[[Any], Any]) -> PyTree:
        """Where a slot evaluates: the moving players' samples, the others held."""
        if not per_player:
            return chain
        return _select_players(moves, chain, opponents)

    def advance(
        value: PyTree, state: MixedNELDState, params: PyTree
    ) -> tuple[PyTree, MixedNELDState]:
        """Consume ``value``, the field at the point of slot ``state.phase``
        (``params``); return the next slot's point (``z_{t+1}`` after the last)."""
        plan, everyone = schedule(params)
        lr, tau = step_sizes(state.steps), at(temperature, state.steps)
        index = {p: i for i, p in enumerate(everyone)}

        def moving(slot: jax.Array) -> Callable[[Any], Any]:
            if not per_player:
                return _everyone
            group = plan.group(slot)
            return lambda p: (slot == 0) | (group == index[p])

        phase = state.phase
        first = jnp.equal(phase, 0)
        anchor = tree_select(first, params, state.anchor)
        chain = tree_select(first, params, state.chain)
        average = tree_select(first, params, state.average)
        opponents = tree_select(first, params, state.opponents)
        moves = moving(phase)
        chain, chain_key = _chain_step(
            chain, value, state.key, lr, tau, projection, moves
        )
        average = _mix(weight, average, chain, moves)
        if extrapolate:
            turn = jnp.equal(phase, plan.first_stage - 1)
            opponents = tree_select(
                turn, _mix(weight, anchor, average, _everyone), opponents
            )
            chain = tree_select(turn, anchor, chain)
            average = tree_select(turn, anchor, average)
        last = jnp.equal(phase, plan.size - 1)
        following = (phase + 1) % plan.size
        target = tree_select(
            last,
            _mix(weight, anchor, average, _everyone),
            point(chain, opponents, moving(following)),
        )
        return target, state._replace(
            key=chain_key,
            steps=state.steps + last.astype(jnp.int32),
            anchor=anchor,
            average=average,
            chain=chain,
            opponents=opponents,
            phase=following,
        )

    def update_fn(
        updates: PyTree,
        state: MixedNELDState,
        params: PyTree | None = None,
        *,
        field: Callable[[PyTree, Any], PyTree] | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, MixedNELDState]:
        del extra_args
        if params is None:
            raise ValueError(
                "mixed_ne_ld averages the chain's samples with z_t, so update needs "
                "params: call update(field_value, state, params)."
            )
        if field is None:  # transparent: params visit the evaluation points
            target, state = advance(updates, state, params)
            return jax.tree.map(jnp.subtract, target, params), state
        # opaque: a whole outer iteration, the evaluations in a fori_loop
        size = schedule(params)[0].size

        def body(slot: jax.Array, carry: Any) -> Any:
            point, inner = carry
            return advance(field(point, slot), inner, point)

        start = state._replace(phase=jnp.zeros_like(state.phase))
        point, new_state = jax.lax.fori_loop(
            1, size, body, advance(updates, start, params)
        )
        new_state = new_state._replace(
            num_evaluations=state.num_evaluations + (size - 1)
        )
        return jax.tree.map(jnp.subtract, point, params), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _select_players(
    moves: Callable[[Any], Any], chain: PyTree, opponents: PyTree
) -> PyTree:
    """Each player's value from ``chain`` where it moves, else from ``opponents``."""
    return rebuild(
        chain,
        {p: tree_select(moves(p), chain[p], opponents[p]) for p in players(chain)},
    )
