"""SAM as a two-phase :func:`minimaxjax.extra` on the weights."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._tree import tree_norm
from minimaxjax._types import PyTree
from minimaxjax.rules import extra

__all__ = ["SamPhaseState", "sam"]


class SamPhaseState(NamedTuple):
    """State of the inner transformation :func:`sam` hands to ``extra``.

    Attributes:
      phase: ``0`` for the ascent step, ``1`` for the descent step (int32).
      descent_state: the descent optimizer's state; it advances at phase 1 only.
    """

    phase: jax.Array
    descent_state: optax.OptState


def _ascend_then_descend(
    rho: jax.typing.ArrayLike, descent: optax.GradientTransformation
) -> optax.GradientTransformationExtraArgs:
    """``ρ g/‖g‖`` at phase 0, ``descent``'s update at phase 1."""
    descent = optax.with_extra_args_support(descent)

    def init_fn(params: PyTree) -> SamPhaseState:
        return SamPhaseState(jnp.zeros([], jnp.int32), descent.init(params))

    def update_fn(
        updates: PyTree,
        state: SamPhaseState,
        params: PyTree | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, SamPhaseState]:
        def ascent() -> tuple[PyTree, optax.OptState]:
            # A zero gradient has no direction: no ascent (optax's gives NaN).
            norm = tree_norm(updates)
            safe = jnp.where(norm > 0, norm, jnp.ones_like(norm))
            scale = jnp.where(norm > 0, jnp.asarray(rho, norm.dtype) / safe, 0)
            ascent = jax.tree.map(
                lambda g: (scale.astype(g.dtype) * g).astype(g.dtype), updates
            )
            return ascent, state.descent_state

        def descend() -> tuple[PyTree, optax.OptState]:
            return descent.update(updates, state.descent_state, params, **extra_args)

        step, descent_state = jax.lax.cond(state.phase == 0, ascent, descend)
        return step, SamPhaseState(1 - state.phase, descent_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sam(
    learning_rate: optax.ScalarOrSchedule | None = None,
    rho: jax.typing.ArrayLike = 0.05,
    *,
    descent: optax.GradientTransformation | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Sharpness-aware minimisation, an extragradient step with a normalised ascent.

    For a loss ``L(w)`` with gradient ``g = ∇L(w^k)``:

    .. math::

        \bar w = w^k + ρ\, \frac{g}{\|g\|}, \qquad
        w^{k+1} = w^k − α\, ∇L(\bar w).

    This is ``mmx.extra(inner, num_phases=2)``: both phases step from the anchor
    ``w^k`` with the update of one inner transformation that switches on a phase
    counter in its state, ``u_0 = ρ g/‖g‖`` (an ascent step, as the loss is
    maximised over the perturbation) and ``u_1 = −α ∇L(\bar w)`` (or ``descent``'s
    update, whose state advances only at phase 1; a zero ``g`` gives ``\bar w =
    w^k``). The gradient passed to
    ``update`` is the loss gradient (minimisation), not a game field.

    The same two modes as ``mmx.extra`` and ``optax.contrib.sam``: transparent
    (one gradient per ``update`` call, params visit ``\bar w``; the committed
    weights are ``mmx.iterate(params, state)``) and opaque
    (``update(g, state, params, field=fn)`` with ``fn(w, phase)`` the loss gradient
    at ``w``). It is ``optax.contrib.sam(descent, chain(contrib.normalize(),
    sgd(ρ)), sync_period=2)``.

    Args:
      learning_rate: α of the descent step ``optax.sgd(α)``; leave it out when
        ``descent`` is given.
      rho: the radius ρ of the ascent step.
      descent: the descent step's optimizer instead of ``optax.sgd(α)`` (for
        example ``optax.adam(α)``).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state ``mmx.ExtraState``.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> import minimaxjax.adversarial as adv
      >>> grad = jax.grad(lambda w: jnp.sum((w - 1.0) ** 2))
      >>> opt = adv.sam(0.1, rho=0.05)
      >>> @jax.jit
      ... def step(w, state):                 # opaque mode: one call per iteration
      ...   updates, state = opt.update(
      ...       grad(w), state, w, field=lambda v, _: grad(v))
      ...   return optax.apply_updates(w, updates), state
      >>> w = jnp.zeros(3)
      >>> state = opt.init(w)
      >>> for _ in range(50):
      ...   w, state = step(w, state)
      >>> bool(jnp.allclose(w, 1.0, atol=0.05))
      True

    References:
      Foret, Kleiner, Mobahi and Neyshabur, *Sharpness-Aware Minimization for
      Efficiently Improving Generalization*, ICLR 2021,
      https://arxiv.org/abs/2010.01412.
    """
    if (learning_rate is None) == (descent is None):
        raise ValueError(
            "sam needs exactly one of learning_rate (for optax.sgd) and descent "
            f"(an optax optimizer), got learning_rate={learning_rate!r} and "
            f"descent={descent!r}."
        )
    if descent is None:
        descent = optax.sgd(learning_rate)
    return extra(_ascend_then_descend(rho, descent), num_phases=2)
