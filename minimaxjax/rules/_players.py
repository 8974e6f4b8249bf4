"""Per-player optimizers and per-player (two-timescale) learning rates."""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import optax

from minimaxjax._tree import PyTree, players, rebuild

__all__ = ["PerPlayerState", "per_player"]


class PerPlayerState(NamedTuple):
    """State of :func:`per_player`: one inner state per player."""

    inner_states: Any


def _names(container: Any) -> tuple[Any, ...]:
    return (
        tuple(container.keys())
        if isinstance(container, Mapping)
        else tuple(range(len(container)))
    )


def check_players(params: PyTree, names: tuple[Any, ...], argument: str) -> None:
    """Raise a ValueError if ``params`` does not have exactly the players ``names``."""
    found = players(params)
    if len(found) != len(names) or set(found) != set(names):
        raise ValueError(
            f"{argument} has {len(names)} per-player entries {list(names)}, but params "
            f"has {len(found)} players {list(found)}; give one entry per top-level "
            "child of params."
        )


def per_player(
    optimizers: tuple[optax.GradientTransformation, ...]
    | list[optax.GradientTransformation]
    | Mapping[Any, optax.GradientTransformation],
    *,
    argument: str = "optimizers",
) -> optax.GradientTransformationExtraArgs:
    r"""Apply a different optax optimizer to each player.

    Players are the top-level children of ``params``: ``optimizers[i]`` transforms
    ``updates[i]`` with its own state. This is how two-timescale methods (TTUR) and
    per-player learning rates are written.

    Args:
      optimizers: a tuple/list or dict of optax transformations, one per player, in
        the container type of ``params``.
      argument: the argument name used in error messages.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> import minimaxjax as mmx
      >>> opt = mmx.per_player((optax.sgd(0.1), optax.sgd(0.4)))
      >>> z = (jnp.array(1.0), jnp.array(1.0))
      >>> updates, _ = opt.update(z, opt.init(z), z)
      >>> [float(u) for u in updates]
      [-0.1, -0.4]

    References:
      Heusel et al., *GANs Trained by a Two Time-Scale Update Rule Converge to a
      Local Nash Equilibrium*, NeurIPS 2017, https://arxiv.org/abs/1706.08500.
    """
    if isinstance(optimizers, optax.GradientTransformation) or not isinstance(
        optimizers, (tuple, list, Mapping)
    ):
        raise TypeError(
            f"{argument} must be a tuple/list or dict of optax transformations, one "
            f"per player, got {type(optimizers).__name__}."
        )
    names = _names(optimizers)
    inner = {n: optax.with_extra_args_support(optimizers[n]) for n in names}

    def init_fn(params: PyTree) -> PerPlayerState:
        check_players(params, names, argument)
        return PerPlayerState(
            rebuild(optimizers, {n: inner[n].init(params[n]) for n in names})
        )

    def update_fn(
        updates: PyTree,
        state: PerPlayerState,
        params: PyTree | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, PerPlayerState]:
        check_players(updates, names, argument)
        new_updates, new_states = {}, {}
        for n in names:
            new_updates[n], new_states[n] = inner[n].update(
                updates[n],
                state.inner_states[n],
                None if params is None else params[n],
                **extra_args,
            )
        return rebuild(updates, new_updates), PerPlayerState(
            rebuild(optimizers, new_states)
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _check_learning_rate(value: Any, argument: str) -> None:
    if callable(value):
        return
    try:
        array = jax.numpy.asarray(value)
    except (TypeError, ValueError):
        array = None
    if (
        array is None
        or array.ndim != 0
        or not jax.numpy.issubdtype(array.dtype, jax.numpy.number)
    ):
        raise TypeError(
            f"{argument} must be a scalar, an optax schedule, or a per-player "
            f"tuple/dict of those, got {value!r}."
        )
    if isinstance(array, jax.core.Tracer):
        return  # known at run time only: a NaN shows as solve's DIVERGED status
    if not bool(jax.numpy.isfinite(array)) or bool(array < 0):
        raise ValueError(f"{argument} must be finite and >= 0, got {value!r}.")


def by_player(
    learning_rate: Any,
    make: Callable[[Any], optax.GradientTransformation],
    argument: str = "learning_rate",
) -> optax.GradientTransformationExtraArgs:
    """``make(learning_rate)``, or one ``make(lr_i)`` per player for a tuple/dict."""
    if isinstance(learning_rate, (tuple, list, Mapping)):
        names = _names(learning_rate)
        for n in names:
            _check_learning_rate(learning_rate[n], f"{argument}[{n!r}]")
        return per_player(
            rebuild(learning_rate, {n: make(learning_rate[n]) for n in names}),
            argument=argument,
        )
    _check_learning_rate(learning_rate, argument)
    return optax.with_extra_args_support(make(learning_rate))
