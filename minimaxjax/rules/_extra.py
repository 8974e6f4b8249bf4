"""The anchored multi-phase wrapper behind extragradient, EG+, proximal point and
ExtraAdam."""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._tree import (
    check_positive_int,
    strong,
    tree_axpy,
    tree_scale,
    tree_select,
    tree_sub,
)
from minimaxjax._types import Projection, PyTree

__all__ = ["ExtraState", "extra"]


class ExtraState(NamedTuple):
    """State of :func:`extra`.

    Attributes:
      inner_state: the wrapped optimizer's state; it advances at every phase.
      anchor: the committed iterate ``z^k`` all phases of the iteration in
        progress step from; only read when ``phase > 0`` (an opaque ``update``
        leaves it as it was).
      phase: which phase the next ``update`` call performs (int32, ``0`` starts a
        new iteration).
    """

    inner_state: optax.OptState
    anchor: optax.Params
    phase: jax.Array

    def committed(self, params: PyTree) -> PyTree:
        """The committed iterate ``z^k`` given the current params."""
        return tree_select(self.phase == 0, params, self.anchor)


# The rules' modules check their int arguments alike.
_check_positive_int = check_positive_int


def extra(
    optimizer: optax.GradientTransformation,
    num_phases: int = 2,
    phase_scales: Sequence[jax.typing.ArrayLike] | None = None,
    *,
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Turn any optax optimizer into its anchored, extrapolated version.

    Each iteration evaluates the field at ``num_phases`` points, every one reached
    from the same anchor ``z^k`` with the inner optimizer's update (its state
    advancing at every phase), optionally scaled and projected; the last phase
    commits:

    .. math::

        w_0 = z^k, \qquad
        w_{j+1} = P\big(z^k + s_j\, u_j\big),\quad
        (u_j, \text{state}) = \text{optimizer.update}(V(w_j), \text{state}),
        \qquad z^{k+1} = w_K.

    With ``optax.sgd(α)`` (``u = −αV``): ``K = 2`` is extragradient, ``K`` phases
    are ``K`` fixed-point steps of the proximal point method, ``phase_scales =
    (1, β)`` is EG+, and ``optax.adam`` gives ExtraAdam. Extra-Lion,
    Extra-momentum and the like come for free.

    Two modes, as ``optax.contrib.sam``:

    * **transparent** (default): each ``update`` consumes the field at the current
      params and moves params to the next point where the field is needed. The
      anchor is captured from ``params`` at phase 0, so a loop that projects params
      after ``optax.apply_updates`` stays consistent. :func:`iterate` returns the
      committed iterate.
    * **opaque**: ``update(g, state, params, field=fn)`` with ``params = z^k`` and
      ``g = V(z^k)`` runs the whole iteration, calling ``fn(w_j, j)`` for
      ``j = 1, …, K−1`` (the phase index lets a loop pick a fresh minibatch).

    Args:
      optimizer: any optax transformation, applied to the field as to a gradient.
      num_phases: field evaluations per iteration, ``K >= 1``.
      phase_scales: ``K`` multipliers ``s_j`` of the inner update (default all 1).
      projection: optional ``P`` applied to every point ``w_{j+1}`` (projected
        extragradient); ``None`` is the identity.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`ExtraState`.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> opt = mmx.extra(optax.adam(0.05))          # ExtraAdam
      >>> z = (jnp.array(1.0), jnp.array(1.0))
      >>> state = opt.init(z)
      >>> for _ in range(200):                       # 100 iterations
      ...   updates, state = opt.update(V(z), state, z)
      ...   z = optax.apply_updates(z, updates)
      >>> bool(mmx.iterate(z, state)[0] ** 2 < 0.5)
      True

    References:
      Korpelevich, *The extragradient method for finding saddle points and other
      problems*, 1976. Gidel et al., *A Variational Inequality Perspective on
      Generative Adversarial Networks*, ICLR 2019, https://arxiv.org/abs/1802.10551.
    """
    num_phases = _check_positive_int(num_phases, "num_phases")
    if phase_scales is None:
        phase_scales = (1.0,) * num_phases
    if len(phase_scales) != num_phases:
        raise ValueError(
            f"phase_scales must have one entry per phase (num_phases={num_phases}), "
            f"got {len(phase_scales)} entries."
        )
    inner = optax.with_extra_args_support(optimizer)

    def step(
        g: PyTree,
        inner_state: optax.OptState,
        anchor: PyTree,
        scale: jax.Array,
        extra_args: dict[str, Any],
    ) -> tuple[PyTree, optax.OptState]:
        u, inner_state = inner.update(g, inner_state, anchor, **extra_args)
        target = tree_axpy(scale, u, anchor)
        if projection is not None:
            target = projection(target)
        return target, inner_state

    def init_fn(params: PyTree) -> ExtraState:
        return ExtraState(
            inner_state=inner.init(params),
            anchor=strong(params),
            phase=jnp.zeros([], jnp.int32),
        )

    def update_fn(
        updates: PyTree,
        state: ExtraState,
        params: PyTree | None = None,
        *,
        field: Callable[[PyTree, int], PyTree] | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, ExtraState]:
        if params is None:
            raise ValueError(
                "extra-gradient rules step from the anchor z^k, so update needs "
                "params: call update(field_value, state, params)."
            )
        scales = jnp.stack([jnp.asarray(s) for s in phase_scales])
        if field is None:  # transparent: one phase per call
            anchor = state.committed(params)
            target, inner_state = step(
                updates, state.inner_state, anchor, scales[state.phase], extra_args
            )
            new_state = ExtraState(inner_state, anchor, (state.phase + 1) % num_phases)
            return tree_sub(target, params), new_state
        # opaque: the whole iteration, phases unrolled (K is small and static),
        # every phase stepping from params. The state's anchor is only read at
        # phases > 0, so it passes through unchanged: a loop of opaque calls then
        # carries no copy of params (on a tiny game, two more kernels per step).
        inner_state, g, target = state.inner_state, updates, params
        for phase in range(num_phases):
            if phase:
                g = field(target, phase)
            u, inner_state = inner.update(g, inner_state, params, **extra_args)
            target = tree_axpy(scales[phase], u, params)
            if projection is not None:
                target = projection(target)
        new_state = ExtraState(inner_state, state.anchor, jnp.zeros([], jnp.int32))
        if projection is None:
            # z^{k+1} − z^k = s_K u_K exactly: no round trip through the target.
            return tree_scale(scales[num_phases - 1], u, params), new_state
        return tree_sub(target, params), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
