"""The committed iterate of a rule whose params visit intermediate points."""

import sys

import jax
import optax

from minimaxjax._types import PyTree
from minimaxjax.rules._protocol import Committing, find_states

__all__ = ["iterate"]


def _unwrapped(tree: PyTree) -> PyTree:
    """``tree`` with Flax ``Variable`` wrappers replaced by their values.

    ``nnx.Optimizer`` stores its state with every array wrapped (``OptVariable``)
    and ``nnx.state(model)`` wraps params in ``Param``; the rules' states hold
    plain arrays, so both sides are compared unwrapped (``nnx.as_pure``).
    """
    flax = sys.modules.get("flax.nnx")  # nothing to unwrap if flax is not in use
    if flax is None:
        return tree
    variables = jax.tree.leaves(tree, is_leaf=lambda x: isinstance(x, flax.Variable))
    if not any(isinstance(x, flax.Variable) for x in variables):
        return tree
    return flax.as_pure(tree)


def iterate(params: PyTree, state: optax.OptState) -> PyTree:
    r"""The committed iterate ``z^k`` of a transparent-mode rule.

    In transparent mode params visit the points where the field is needed (an
    extrapolated point ``z̄``, a reflected point ``2z^k − z^{k−1}``); this returns
    the iterate to evaluate or report. It finds the state that implements
    :class:`~minimaxjax.rules.Committing` anywhere inside ``state`` (under
    ``optax.chain`` or ``optax.inject_hyperparams``), a user's own rule's state
    included; for rules without intermediate points it returns ``params``.

    Args:
      params: the current params.
      state: the optimizer state.

    Returns:
      The committed iterate, with the structure of ``params``.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> opt = mmx.extragradient(0.1)
      >>> z = (jnp.array(1.0), jnp.array(1.0))
      >>> state = opt.init(z)
      >>> updates, state = opt.update(V(z), state, z)     # to the extrapolated point
      >>> z_bar = optax.apply_updates(z, updates)
      >>> [float(v) for v in mmx.iterate(z_bar, state)]
      [1.0, 1.0]

    References:
      Foret et al., *Sharpness-Aware Minimization*, ICLR 2021 (the transparent
      two-call protocol of ``optax.contrib.sam``), https://arxiv.org/abs/2010.01412.
    """
    params, state = _unwrapped(params), _unwrapped(state)
    found = find_states(state, Committing)
    if not found:
        return params
    if len(found) > 1:
        raise ValueError(
            f"state holds {len(found)} extrapolating rule states; iterate cannot tell "
            "which one owns params. Call .committed(params) on the one you mean."
        )
    return found[0].committed(params)
