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
        ``0`` starts a new outer iteration). The other fields are only read when
        ``phase > 0`` (an opaque ``update`` leaves them as they were).
    """

    key: jax.Array
    steps: jax.Array
    anchor: optax.Params
    average: optax.Params
    chain: optax.Params
    opponents: optax.Params
    phase: jax.Array

    def committed(self, params: PyTree) -> PyTree:
        """The committed iterate ``z_t`` given the current params."""
        return tree_select(self.phase == 0, params, self.anchor)


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

    ``lr(player)`` is the player's step size; ``moves(player)`` is ``True``,
    ``False`` (a Python bool: the player's leaves are not touched) or a traced
    bool (its leaves are selected). Every leaf has its own key, split from one
    key per step whichever players move, so the two modes draw the same noise.
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
        flag = moves(player)
        if flag is False:
            moved.append(c)
        elif flag is True:
            moved.append(step(c, g, keys[i], player))
        else:
            moved.append(jnp.where(flag, step(c, g, keys[i], player), c))
    new = jax.tree.unflatten(treedef, moved)
    if projection is not None:
        new = projection(new)
    return new, next_key


def _mix(beta: float, old: PyTree, new: PyTree, moves: Callable[[Any], Any]) -> PyTree:
    """``(1 − β)·old + β·new`` on the leaves of the players that move (``moves``
    as in :func:`_chain_step`), in the dtype of ``old``."""

    def mix(a: jax.Array, b: jax.Array, player: Any) -> jax.Array:
        flag = moves(player)
        if flag is False:
            return a
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

    def group(self, slot: Any) -> Any:
        """The chain a slot ``> 0`` moves (Python int or traced)."""
        first = self.first_stage
        if isinstance(slot, int):
            return (
                (slot - 1) % self.groups
                if slot < first
                else (slot - first) % self.groups
            )
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
    ``nK`` with ``extrapolate``. They are declared through the opaque mode:
    ``update(g, state, params, field=fn)`` with ``g = V(z_t)`` runs every chain
    and calls ``fn(w, s)`` for the evaluations ``s = 1, 2, …`` (unrolled, so
    compile time grows with ``K``). In transparent mode each ``update`` consumes
    the field at one evaluation point and moves params to the next one;
    :func:`iterate` returns ``z_t`` (the state is a :class:`MixedNELDState`, which
    implements ``Committing``). Both modes draw the same noise from the key in the
    state, split at every evaluation, so they agree bit for bit. With ``K = 1``
    and ``β = 1`` the joint chain is :func:`langevin_gda`.

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
      >>> mmx.rules.evaluations_per_iteration(opt, game.init)
      10
      >>> z0 = (jnp.asarray(-0.6), jnp.asarray(-0.2))   # the authors' start
      >>> sol = mmx.solve(game.field, z0, opt, 100 * 10)  # 100 iterations
      >>> bool(jnp.hypot(*sol.params) < 0.1)            # the equilibrium (0, 0)
      True
      >>> prox = mmx.mixed_ne_ld(0.1, 0.01, key=jax.random.key(0), inner_steps=10,
      ...                        chains="per_player", extrapolate=True)
      >>> mmx.rules.evaluations_per_iteration(prox, game.init)  # 1 + 2·9 + 2·10
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
        schedule(params)  # checks the players of a per-player learning rate
        params = strong(params)
        zero = jnp.zeros([], jnp.int32)
        return MixedNELDState(key, zero, params, params, params, params, zero)

    def point(chain: PyTree, opponents: PyTree, moves: Callable[[Any], Any]) -> PyTree:
        """Where a slot evaluates: the moving players' samples, the others held."""
        if not per_player:
            return chain
        return _select_players(moves, chain, opponents)

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
        plan, everyone = schedule(params)
        lr, tau = step_sizes(state.steps), at(temperature, state.steps)

        def moving(slot: Any) -> Callable[[Any], Any]:
            if not per_player:
                return _everyone
            g = plan.group(slot)
            if isinstance(slot, int):
                return _everyone if slot == 0 else (lambda p: p == everyone[g])
            index = {p: i for i, p in enumerate(everyone)}
            return lambda p: (slot == 0) | (g == index[p])

        if field is not None:  # opaque: every chain, unrolled
            chain = average = opponents = params
            value, chain_key = updates, state.key
            for slot in range(plan.size):
                moves = moving(slot)
                if slot:
                    value = field(point(chain, opponents, moves), slot)
                chain, chain_key = _chain_step(
                    chain, value, chain_key, lr, tau, projection, moves
                )
                average = _mix(weight, average, chain, moves)
                if extrapolate and slot == plan.first_stage - 1:
                    opponents = _mix(weight, params, average, _everyone)
                    chain = average = params
            target = _mix(weight, params, average, _everyone)
            new_state = state._replace(
                key=chain_key, steps=optax.safe_increment(state.steps)
            )
            return jax.tree.map(jnp.subtract, target, params), new_state
        # transparent: one evaluation per call; params visit the evaluation points
        phase = state.phase
        first = jnp.equal(phase, 0)
        anchor = tree_select(first, params, state.anchor)
        chain = tree_select(first, params, state.chain)
        average = tree_select(first, params, state.average)
        opponents = tree_select(first, params, state.opponents)
        moves = moving(phase)
        chain, chain_key = _chain_step(
            chain, updates, state.key, lr, tau, projection, moves
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
        new_state = MixedNELDState(
            key=chain_key,
            steps=state.steps + last.astype(jnp.int32),
            anchor=anchor,
            average=average,
            chain=chain,
            opponents=opponents,
            phase=following,
        )
        return jax.tree.map(jnp.subtract, target, params), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _select_players(
    moves: Callable[[Any], Any], chain: PyTree, opponents: PyTree
) -> PyTree:
    """Each player's value from ``chain`` where it moves, else from ``opponents``."""
    values = {}
    for p in players(chain):
        flag = moves(p)
        if flag is True or flag is False:
            values[p] = chain[p] if flag else opponents[p]
        else:
            values[p] = tree_select(flag, chain[p], opponents[p])
    return rebuild(chain, values)
