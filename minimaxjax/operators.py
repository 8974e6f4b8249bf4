"""The operator of a game: ``V(z) = [∇xΦ(x, y), −∇yΦ(x, y)]`` and its n-player form.

The field plays the role of the gradient everywhere in minimaxjax: an optax
optimizer applied to ``V`` moves every player along its own descent direction, so
``optax.sgd(α)`` on ``V`` *is* simultaneous gradient descent–ascent.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from minimaxjax._tree import players as player_names
from minimaxjax._tree import rebuild, replace_player
from minimaxjax._types import Field, PyTree

__all__ = ["Field", "field", "game_field", "jacobian_operator_norm"]


def _check_scalar(name: str, value: Any) -> None:
    shape = jnp.shape(value)
    dtype = jnp.result_type(value)
    if shape != () or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"{name} must return a single floating-point scalar, got shape {shape} "
            f"and dtype {dtype}. Reduce it to a scalar (e.g. a mean over the batch) "
            "and make sure the players are floating-point arrays."
        )


def _check_pair(z: Any, keys: tuple[Any, Any] | None) -> tuple[Any, Any]:
    """The keys of ``x`` and ``y`` in ``z``, or a ValueError saying what is wrong."""
    if isinstance(z, Mapping):
        if keys is None:
            raise ValueError(
                f"z is a {type(z).__name__} with players {list(z.keys())}: say which "
                "one minimises with mmx.field(phi, players=(x_key, y_key))."
            )
        if set(z.keys()) != set(keys):
            raise ValueError(
                f"z must have exactly the players {list(keys)} given to mmx.field, "
                f"got {list(z.keys())}."
            )
        return keys[0], keys[1]
    if keys is not None and isinstance(z, (tuple, list)):
        raise ValueError(
            f"players={keys!r} names the keys of a Mapping z, but z is a "
            f"{type(z).__name__}; leave players out for a pair (x, y)."
        )
    if not isinstance(z, (tuple, list)) or len(z) != 2:
        got = (
            f"a {type(z).__name__} of length {len(z)}"
            if isinstance(z, (tuple, list))
            else f"a {type(z).__name__}"
        )
        raise ValueError(
            "z must be a pair (x, y) for a zero-sum field, got "
            f"{got}. For n-player games use mmx.game_field."
        )
    return 0, 1


def field(
    phi: Callable[..., Any],
    *,
    has_aux: bool = False,
    players: tuple[Any, Any] | None = None,
) -> Field:
    r"""The operator of the zero-sum game ``min_x max_y Φ(x, y)``.

    .. math::

        V(z) = \big[\nabla_x Φ(x, y),\; -\nabla_y Φ(x, y)\big], \qquad z = (x, y).

    Every update rule of minimaxjax treats ``V`` as the gradient: a zero of ``V``
    is a critical point of Φ, and ``z - αV(z)`` is one step of simultaneous
    gradient descent (for ``x``) and ascent (for ``y``). The user never negates
    anything.

    Args:
      phi: ``phi(x, y, *args)`` returning a floating-point scalar (and an auxiliary
        output if ``has_aux``). ``x`` and ``y`` are arbitrary pytrees (Flax params
        included); ``args`` carry minibatches and PRNG keys.
      has_aux: whether ``phi`` returns ``(value, aux)``.
      players: for a Mapping ``z`` (a dict, Flax's ``nnx.State`` or
        ``FrozenDict``), the keys ``(x_key, y_key)`` of the minimising and the
        maximising player: ``phi(z[x_key], z[y_key], *args)``. Leave it out for a
        pair ``z = (x, y)``.

    Returns:
      ``V(z, *args)`` returning a pytree with exactly the structure of ``z`` (a
      pair, or a Mapping of the same type with the same keys), or
      ``(V(z), aux)`` with ``has_aux``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> [float(v) for v in V((jnp.array(1.0), jnp.array(2.0)))]
      [2.0, -1.0]

      Flax containers are players too: with ``nnx.split(model, nnx.Param)`` giving
      an ``nnx.State`` with children ``"generator"`` and ``"critic"``,
      ``mmx.field(phi, players=("generator", "critic"))`` returns an ``nnx.State``.

      >>> W = mmx.field(lambda g, c: g * c, players=("g", "c"))
      >>> out = W({"c": jnp.array(2.0), "g": jnp.array(1.0)})
      >>> {k: float(v) for k, v in out.items()}
      {'c': -1.0, 'g': 2.0}

    References:
      Korpelevich, *The extragradient method for finding saddle points and other
      problems*, Ekonomika i Matematicheskie Metody 12, 1976.
    """
    if not callable(phi):
        raise TypeError(f"phi must be callable, got {type(phi).__name__}.")
    if players is not None and (
        not isinstance(players, (tuple, list))
        or len(players) != 2
        or players[0] == players[1]
    ):
        raise ValueError(
            "players must be a pair (x_key, y_key) of distinct keys of z, got "
            f"{players!r}."
        )

    def value(x: PyTree, y: PyTree, *args: Any) -> Any:
        out = phi(x, y, *args)
        if has_aux:
            if not isinstance(out, tuple) or len(out) != 2:
                raise ValueError(
                    "phi was declared with has_aux=True, so it must return "
                    f"(value, aux); got {type(out).__name__}."
                )
            _check_scalar("phi", out[0])
        else:
            _check_scalar("phi", out)
        return out

    grad = jax.grad(value, argnums=(0, 1), has_aux=has_aux)

    def V(z: PyTree, *args: Any) -> Any:
        x_key, y_key = _check_pair(z, players)
        if has_aux:
            (gx, gy), aux = grad(z[x_key], z[y_key], *args)
        else:
            gx, gy = grad(z[x_key], z[y_key], *args)
        out = rebuild(z, {x_key: gx, y_key: jax.tree.map(jnp.negative, gy)})
        return (out, aux) if has_aux else out

    return V


def game_field(
    losses: Sequence[Callable[..., Any]] | Mapping[Any, Callable[..., Any]],
    *,
    has_aux: bool = False,
) -> Field:
    r"""The operator of a general (n-player, not necessarily zero-sum) game.

    Player ``i`` controls ``z_i`` and minimises its own loss ``ℓ_i(z)``:

    .. math::

        V(z)_i = \nabla_{z_i} \ell_i(z).

    ``mmx.field(phi)`` is the case ``losses = (Φ, −Φ)``. Adversarial training, where
    the attacker maximises a surrogate rather than the defender's loss, is a
    non-zero-sum game written this way.

    Args:
      losses: a tuple/list or dict of ``loss_i(z, *args)``, one per player, each
        returning a floating-point scalar (``(value, aux)`` with ``has_aux``).
      has_aux: whether the losses return auxiliary outputs.

    Returns:
      ``V(z, *args)`` with the structure of ``z`` (whose top-level children are the
      players, in the same container type and order or keys as ``losses``), or
      ``(V(z), auxes)`` with ``has_aux``, ``auxes`` in the container of ``losses``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.game_field((lambda z: z[0] * z[1], lambda z: -z[0] * z[1]))
      >>> [float(v) for v in V((jnp.array(1.0), jnp.array(2.0)))]
      [2.0, -1.0]

    References:
      Balduzzi et al., *The Mechanics of n-Player Differentiable Games*, ICML 2018,
      https://arxiv.org/abs/1802.05642.
    """
    if isinstance(losses, Mapping):
        names: tuple[Any, ...] = tuple(losses.keys())
    elif isinstance(losses, Sequence) and not isinstance(losses, str):
        names = tuple(range(len(losses)))
    else:
        raise TypeError(
            "losses must be a tuple/list or dict of per-player loss functions, got "
            f"{type(losses).__name__}."
        )
    for name in names:
        if not callable(losses[name]):
            raise TypeError(
                f"losses[{name!r}] must be callable, got {type(losses[name]).__name__}."
            )

    def V(z: PyTree, *args: Any) -> Any:
        z_names = player_names(z)
        if set(z_names) != set(names) or len(z_names) != len(names):
            raise ValueError(
                f"z must have one top-level child per loss: losses has players "
                f"{list(names)}, z has {list(z_names)}."
            )
        grads, auxes = {}, {}
        for name in names:

            def own_loss(zi: PyTree, name: Any = name) -> Any:
                out = losses[name](replace_player(z, name, zi), *args)
                _check_scalar(f"losses[{name!r}]", out[0] if has_aux else out)
                return out

            result = jax.grad(own_loss, has_aux=has_aux)(z[name])
            if has_aux:
                grads[name], auxes[name] = result
            else:
                grads[name] = result
        out = rebuild(z, grads)
        if not has_aux:
            return out
        if isinstance(losses, Mapping):
            return out, auxes
        return out, tuple(auxes[i] for i in names)

    return V


def jacobian_operator_norm(
    V: Field,
    z: PyTree,
    *args: Any,
    num_iterations: int = 50,
    key: jax.Array | None = None,
) -> jax.Array:
    r"""Estimate ‖DV(z)‖₂, the local Lipschitz constant of the field, matrix-free.

    Power iteration on ``DV(z)ᵀ DV(z)`` with one ``jvp`` and one ``vjp`` per
    iteration; no dense Jacobian is formed.

    .. math::

        u_{j+1} = \frac{DV(z)^\top DV(z)\, u_j}{\lVert DV(z)^\top DV(z)\, u_j\rVert},
        \qquad ‖DV(z)‖ ≈ \lVert DV(z)\, u_J\rVert.

    Args:
      V: a field ``V(z, *args)`` (from :func:`field` or :func:`game_field`).
      z: the point.
      *args: extra arguments of ``V``.
      num_iterations: power-iteration steps.
      key: PRNG key for the starting direction (a fixed key if None).

    Returns:
      A scalar estimate of the spectral norm of the Jacobian of ``V`` at ``z``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: 3.0 * x * y)
      >>> z = (jnp.array(0.5), jnp.array(0.2))
      >>> round(float(mmx.jacobian_operator_norm(V, z)), 4)
      3.0

    References:
      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    from minimaxjax._tree import tree_norm

    if key is None:
        key = jax.random.PRNGKey(0)
    leaves, treedef = jax.tree.flatten(z)
    keys = jax.random.split(key, len(leaves))
    u = jax.tree.unflatten(
        treedef,
        [
            jax.random.normal(k, jnp.shape(x), jnp.result_type(x))
            for k, x in zip(keys, leaves, strict=False)
        ],
    )

    def fn(w: PyTree) -> PyTree:
        return V(w, *args)

    _, vjp = jax.vjp(fn, z)

    def normalise(t: PyTree) -> PyTree:
        n = tree_norm(t)
        return jax.tree.map(lambda a: a / jnp.maximum(n, 1e-30).astype(a.dtype), t)

    def body(_: int, u: PyTree) -> PyTree:
        Ju = jax.jvp(fn, (z,), (u,))[1]
        return normalise(vjp(Ju)[0])

    u = jax.lax.fori_loop(0, num_iterations, body, normalise(u))
    return tree_norm(jax.jvp(fn, (z,), (u,))[1])
