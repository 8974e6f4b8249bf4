"""Jitted train steps for Flax NNX and Linen models driven by a training method."""

from collections.abc import Callable
from typing import Any, cast

import jax
import optax
from flax import nnx

from minimaxjax._types import PyTree
from minimaxjax.adversarial._methods import LogitsFn, Method

__all__ = ["linen_train_step", "nnx_train_step"]

Metrics = dict[str, jax.Array]


def _check_method(method: Any) -> None:
    if not callable(method):
        raise TypeError(
            "method must be a training method such as adversarial.pgd_at(...) "
            f"(a callable), got {type(method).__name__}."
        )


def _field(
    method: Method,
    logits_fn: LogitsFn,
    inputs: jax.Array,
    labels: jax.Array,
    key: jax.Array,
) -> Callable[[PyTree, int], PyTree]:
    """``fn(params, phase)``: the method's direction at other params, same batch."""

    def field(params: PyTree, phase: int) -> PyTree:
        phase_key = jax.random.fold_in(key, phase)
        return method(logits_fn, params, inputs, labels, phase_key).gradient

    return field


def nnx_train_step(
    method: Method, *, opaque: bool = False
) -> Callable[[nnx.Module, nnx.Optimizer, jax.Array, jax.Array, jax.Array], Metrics]:
    r"""A jitted train step for a Flax NNX model: attack, direction, optimizer step.

    ``step(model, optimizer, inputs, labels, key)`` updates ``model`` and
    ``optimizer`` (an ``nnx.Optimizer(model, tx, wrt=nnx.Param)``) in place and
    returns ``{"loss", "accuracy"}`` from the method's :class:`Signal`:

    .. math::
        θ^{k+1} = θ^k + \mathrm{tx.update}\big(g(θ^k; x, y)\big), \qquad
        g = \text{method's direction at the attack's point}.

    ``tx`` is any optax transformation or minimaxjax rule. A minimaxjax rule
    with several field evaluations per iteration (``mmx.extragradient``,
    ``adversarial.sam``, ...) takes one phase per step by default (transparent
    mode: the next step's batch gives the next evaluation, and
    ``mmx.iterate(params, optimizer.opt_state)`` is the committed point); with
    ``opaque=True`` one step is the whole iteration on one batch, every
    evaluation re-running the attack at the phase's parameters.

    The forward passes run in the model's current mode (``model.train()`` or
    ``model.eval()``); with batch-normalisation statistics in the model they are
    updated by one more forward pass on the points the loss saw.

    Args:
      method: a training method (:func:`standard`, :func:`pgd_at`, ...).
      opaque: pass the method as ``field=`` so that a multi-evaluation rule runs
        a whole iteration per step.

    Returns:
      ``step(model, optimizer, inputs, labels, key) -> metrics``, compiled with
      ``nnx.jit``.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> from flax import nnx
      >>> from minimaxjax import adversarial as adv
      >>> model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
      >>> optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
      >>> step = adv.nnx_train_step(
      ...     adv.pgd_at(eps=0.1, step_size=0.05, num_steps=3))
      >>> x, y = jnp.ones((4, 2)), jnp.array([0, 1, 2, 0])
      >>> first = step(model, optimizer, x, y, jax.random.key(0))
      >>> for i in range(20):
      ...   metrics = step(model, optimizer, x, y, jax.random.key(i))
      >>> bool(metrics["loss"] < first["loss"])
      True
    """
    _check_method(method)

    @nnx.jit
    def step(
        model: nnx.Module,
        optimizer: nnx.Optimizer,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Metrics:
        graphdef, params, rest = cast(Any, nnx.split(model, nnx.Param, ...))

        def logits_fn(p: PyTree, x: jax.Array) -> jax.Array:
            # Fresh variables at this trace: layers that write batch statistics
            # in the forward pass write to a copy, so the step stays pure.
            return nnx.merge(graphdef, p, jax.tree.map(lambda v: v, rest))(x)

        signal = method(logits_fn, params, inputs, labels, key)
        if opaque:
            field = _field(method, logits_fn, inputs, labels, key)
            optimizer.update(model, signal.gradient, field=field)
        else:
            optimizer.update(model, signal.gradient)
        if jax.tree.leaves(nnx.state(model, nnx.BatchStat)):
            model(signal.inputs)
        return {"loss": signal.loss, "accuracy": signal.accuracy}

    def checked(
        model: nnx.Module,
        optimizer: nnx.Optimizer,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Metrics:
        if jax.tree.leaves(nnx.state(model, nnx.RngState)):
            raise ValueError(
                "model holds random state (nnx.Rngs, e.g. Dropout): its masks would "
                "repeat inside the attack and across steps; build the model "
                "without stochastic layers for adversarial training."
            )
        return step(model, optimizer, inputs, labels, key)

    return checked


def linen_train_step(
    method: Method, *, opaque: bool = False
) -> Callable[[Any, jax.Array, jax.Array, jax.Array], tuple[Any, Metrics]]:
    r"""A jitted train step for a Flax Linen ``TrainState``.

    ``step(state, inputs, labels, key) -> (state, metrics)`` with
    ``state.apply_fn({"params": θ}, x)`` the logits, ``state.tx`` any optax
    transformation or minimaxjax rule and ``metrics = {"loss", "accuracy"}``:

    .. math::
        u, s^{k+1} = \mathrm{tx.update}(g(θ^k; x, y), s^k, θ^k), \qquad
        θ^{k+1} = θ^k + u.

    ``opaque`` as in :func:`nnx_train_step`. Models with mutable collections
    (``batch_stats``) need their own step: the state holds parameters only.

    Args:
      method: a training method (:func:`standard`, :func:`pgd_at`, ...).
      opaque: pass the method as ``field=`` so that a multi-evaluation rule runs
        a whole iteration per step.

    Returns:
      ``step(state, inputs, labels, key) -> (state, metrics)``, jit-compiled.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> import flax.linen as nn
      >>> from flax.training.train_state import TrainState
      >>> from minimaxjax import adversarial as adv
      >>> module = nn.Dense(3)
      >>> x, y = jnp.ones((4, 2)), jnp.array([0, 1, 2, 0])
      >>> params = module.init(jax.random.key(0), x)["params"]
      >>> state = TrainState.create(apply_fn=module.apply, params=params,
      ...                           tx=optax.sgd(0.1))
      >>> step = adv.linen_train_step(adv.trades(eps=0.1, step_size=0.05,
      ...                                        num_steps=3))
      >>> state, metrics = step(state, x, y, jax.random.key(0))
      >>> int(state.step)
      1
    """
    _check_method(method)

    @jax.jit
    def step(
        state: Any, inputs: jax.Array, labels: jax.Array, key: jax.Array
    ) -> tuple[Any, Metrics]:
        def logits_fn(p: PyTree, x: jax.Array) -> jax.Array:
            return state.apply_fn({"params": p}, x)

        signal = method(logits_fn, state.params, inputs, labels, key)
        extra = {"field": _field(method, logits_fn, inputs, labels, key)}
        updates, opt_state = state.tx.update(
            signal.gradient, state.opt_state, state.params, **(extra if opaque else {})
        )
        state = state.replace(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
        )
        return state, {"loss": signal.loss, "accuracy": signal.accuracy}

    return step
