"""Projections onto simple sets, for the whole of ``z`` or for one player.

Each function returns a projection ``P: z ↦ P(z)`` to pass as ``projection=`` to
a rule, to :func:`minimaxjax.solve` or to :func:`minimaxjax.projected`. The sets
are optax's (``optax.projections``); ``player`` restricts a projection to one
top-level child of ``z`` (weight clipping of a WGAN critic is ``box(-c, c,
player=1)``).
"""

from typing import Any

import jax
import optax

from minimaxjax._tree import players, replace_player
from minimaxjax._types import Projection, PyTree

__all__ = [
    "box",
    "chain",
    "l2_ball",
    "linf_ball",
    "non_negative",
    "on_player",
    "simplex",
]


def on_player(player: Any, projection: Projection) -> Projection:
    r"""Apply ``projection`` to one player of ``z`` and leave the others alone.

    .. math::

        P(z)_i = P_i(z_i) \text{ for } i = \text{player}, \qquad P(z)_j = z_j
        \text{ otherwise}.

    Args:
      player: the index (tuple/list ``z``) or key (dict ``z``) of the player.
      projection: a projection of that player's pytree.

    Returns:
      A projection of ``z``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> P = mmx.constraints.on_player(1, lambda y: jnp.clip(y, -1.0, 1.0))
      >>> [float(v) for v in P((jnp.array(3.0), jnp.array(3.0)))]
      [3.0, 1.0]

    References:
      Bauschke & Combettes, *Convex Analysis and Monotone Operator Theory in Hilbert
      Spaces*, Springer 2017 (projections onto product sets act blockwise).
    """
    if not callable(projection):
        raise TypeError(
            f"projection must be callable, got {type(projection).__name__}."
        )

    def project(z: PyTree) -> PyTree:
        if player not in players(z):
            raise ValueError(
                f"player must be one of the players of z {list(players(z))}, got "
                f"{player!r}."
            )
        return replace_player(z, player, projection(z[player]))

    return project


def _maybe_on_player(player: Any, projection: Projection) -> Projection:
    return projection if player is None else on_player(player, projection)


def box(lower: Any, upper: Any, *, player: Any = None) -> Projection:
    r"""Projection onto the box ``lower ≤ z ≤ upper`` (clipping).

    .. math::

        P(z) = \min(\max(z, \text{lower}), \text{upper}).

    Args:
      lower: scalar or pytree like the projected tree.
      upper: scalar or pytree like the projected tree.
      player: restrict to one player (None: the whole of ``z``).

    Returns:
      A projection.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> P = mmx.constraints.box(-1.5, 1.5)
      >>> [float(v) for v in P((jnp.array(2.0), jnp.array(-0.5)))]
      [1.5, -0.5]

    References:
      Arjovsky, Chintala & Bottou, *Wasserstein GAN*, ICML 2017 (weight clipping),
      https://arxiv.org/abs/1701.07875.
    """

    def project(tree: PyTree) -> PyTree:
        def like_tree(bound: Any) -> PyTree:
            # A scalar bound applies to every leaf; optax wants a matching tree.
            if jax.tree_util.treedef_is_leaf(jax.tree.structure(bound)):
                return jax.tree.map(lambda _: bound, tree)
            return bound

        return optax.projections.projection_box(
            tree, like_tree(lower), like_tree(upper)
        )

    return _maybe_on_player(player, project)


def l2_ball(radius: float = 1.0, *, player: Any = None) -> Projection:
    r"""Projection onto the Euclidean ball ``‖z‖₂ ≤ radius`` (all leaves together).

    .. math::

        P(z) = z \min\big(1, \text{radius} / ‖z‖_2\big).

    Args:
      radius: the ball's radius.
      player: restrict to one player (None: the whole of ``z``).

    Returns:
      A projection.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> P = mmx.constraints.l2_ball(1.0)
      >>> [float(v) for v in P((jnp.array(3.0), jnp.array(4.0)))]
      [0.6, 0.8]

    References:
      Madry et al., *Towards Deep Learning Models Resistant to Adversarial Attacks*,
      ICLR 2018 (ℓ₂ threat models), https://arxiv.org/abs/1706.06083.
    """
    return _maybe_on_player(
        player, lambda t: optax.projections.projection_l2_ball(t, radius)
    )


def linf_ball(radius: float = 1.0, *, player: Any = None) -> Projection:
    r"""Projection onto the ball ``‖z‖_∞ ≤ radius``.

    .. math::

        P(z) = \mathrm{clip}(z, −\text{radius}, \text{radius}).

    Args:
      radius: the ball's radius.
      player: restrict to one player (None: the whole of ``z``).

    Returns:
      A projection.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> P = mmx.constraints.linf_ball(0.1, player=0)
      >>> [float(v) for v in P((jnp.array(0.3), jnp.array(0.3)))]
      [0.1, 0.3]

    References:
      Madry et al., *Towards Deep Learning Models Resistant to Adversarial Attacks*,
      ICLR 2018, https://arxiv.org/abs/1706.06083.
    """
    return _maybe_on_player(
        player, lambda t: optax.projections.projection_linf_ball(t, radius)
    )


def simplex(scale: float = 1.0, *, player: Any = None) -> Projection:
    r"""Projection onto the simplex ``{p ≥ 0, Σ p = scale}`` (all leaves together).

    .. math::

        P(z) = \arg\min_{p ≥ 0,\ \mathbf 1^\top p = \text{scale}} ‖p − z‖_2.

    Mixed strategies of a matrix game live here: project each player separately,
    ``chain(simplex(player=0), simplex(player=1))``.

    Args:
      scale: the simplex's total mass.
      player: restrict to one player (None: the whole of ``z``).

    Returns:
      A projection.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> P = mmx.constraints.simplex(player=0)
      >>> [round(float(v), 3) for v in P((jnp.array([0.7, 0.7]), jnp.zeros(2)))[0]]
      [0.5, 0.5]

    References:
      Duchi et al., *Efficient projections onto the ℓ1-ball for learning in high
      dimensions*, ICML 2008.
    """

    def project(tree: PyTree) -> PyTree:
        # optax divides an int by a float inside; keep it working for callers who
        # enable strict dtype promotion.
        with jax.numpy_dtype_promotion("standard"):
            return optax.projections.projection_simplex(tree, scale)

    return _maybe_on_player(player, project)


def non_negative(*, player: Any = None) -> Projection:
    r"""Projection onto the non-negative orthant, ``P(z) = max(z, 0)``.

    Args:
      player: restrict to one player (None: the whole of ``z``).

    Returns:
      A projection.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> P = mmx.constraints.non_negative(player=1)
      >>> [float(v) for v in P((jnp.array(-1.0), jnp.array(-1.0)))]
      [-1.0, 0.0]

    References:
      Bauschke & Combettes, *Convex Analysis and Monotone Operator Theory in Hilbert
      Spaces*, Springer 2017.
    """
    return _maybe_on_player(player, optax.projections.projection_non_negative)


def chain(*projections: Projection) -> Projection:
    r"""Apply projections in turn: ``P = P_n ∘ … ∘ P_1``.

    For projections acting on different players this is the projection onto the
    product set.

    Args:
      *projections: projections of ``z``.

    Returns:
      A projection.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> C = mmx.constraints
      >>> P = C.chain(C.box(0.0, 1.0, player=0), C.box(-1.0, 0.0, player=1))
      >>> [float(v) for v in P((jnp.array(2.0), jnp.array(2.0)))]
      [1.0, 0.0]

    References:
      Bauschke & Combettes, *Convex Analysis and Monotone Operator Theory in Hilbert
      Spaces*, Springer 2017.
    """
    for i, p in enumerate(projections):
        if not callable(p):
            raise TypeError(
                f"projections[{i}] must be callable, got {type(p).__name__}."
            )

    def project(z: PyTree) -> PyTree:
        for p in projections:
            z = p(z)
        return z

    return project
