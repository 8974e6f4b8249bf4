r"""Langevin gradient descent–ascent: GDA with Gaussian noise, for mixed strategies.

The iterates of a Langevin rule are samples: run long enough at a fixed
temperature they are distributed as the (entropy-regularised) mixed strategies
of the game rather than converging to one point.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from minimaxjax._tree import rebuild
from minimaxjax._types import LearningRate, PyTree
from minimaxjax.rules._players import _check_learning_rate, _names, per_player

__all__ = ["LangevinState", "langevin_gda"]


class LangevinState(NamedTuple):
    """State of :func:`langevin_gda`.

    Attributes:
      key: the PRNG key of the next step (split at every step).
      steps: steps taken so far (int32), the argument of the schedules.
    """

    key: jax.Array
    steps: jax.Array


def _check_temperature(value: Any, argument: str = "temperature") -> None:
    if callable(value):
        return
    _check_learning_rate(value, argument)
    try:
        negative = bool(jnp.asarray(value) < 0)
    except jax.errors.ConcretizationTypeError:
        return
    if negative:
        raise ValueError(f"{argument} must be >= 0, got {value!r}.")


def _check_key(key: Any) -> jax.Array:
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(
        key.dtype, jax.dtypes.prng_key
    ):
        return key
    if isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (2,):
        return key
    raise TypeError(
        "key must be a JAX PRNG key (jax.random.key(seed) or jax.random.PRNGKey), "
        f"got {key!r}."
    )


def _langevin(
    learning_rate: Any, temperature: Any, key: jax.Array
) -> optax.GradientTransformation:
    def init_fn(params: PyTree) -> LangevinState:
        del params
        return LangevinState(key, jnp.zeros([], jnp.int32))

    def update_fn(
        updates: PyTree, state: LangevinState, params: PyTree | None = None
    ) -> tuple[PyTree, LangevinState]:
        del params
        lr = learning_rate(state.steps) if callable(learning_rate) else learning_rate
        tau = temperature(state.steps) if callable(temperature) else temperature
        next_key, step_key = jax.random.split(state.key)
        leaves, treedef = jax.tree.flatten(updates)
        keys = jax.random.split(step_key, max(len(leaves), 1))

        def step(g: jax.Array, k: jax.Array) -> jax.Array:
            dtype = g.dtype
            eta = jnp.asarray(lr, dtype)
            scale = jnp.sqrt(2 * eta) * jnp.asarray(tau, dtype)
            noise = jax.random.normal(k, g.shape, dtype)
            return (-eta * g + scale * noise).astype(dtype)

        new = [step(g, keys[i]) for i, g in enumerate(leaves)]
        return jax.tree.unflatten(treedef, new), LangevinState(
            next_key, optax.safe_increment(state.steps)
        )

    return optax.GradientTransformation(init_fn, update_fn)


def langevin_gda(
    learning_rate: LearningRate,
    temperature: float | jax.Array | optax.Schedule,
    *,
    key: jax.Array,
) -> optax.GradientTransformationExtraArgs:
    r"""Langevin gradient descent–ascent: GDA plus Gaussian noise.

    .. math::

        z^{k+1} = z^k - η V(z^k) + \sqrt{2η}\,τ\,ξ^k, \qquad ξ^k \sim N(0, I),

    with ``η = learning_rate`` and ``τ = temperature`` (either may be an optax
    schedule of the step count). The key lives in the state and is split at every
    step, so the noise is fresh at each step and a rerun is bit-identical; each
    leaf of ``z`` draws its own noise. One field evaluation per iteration;
    ``τ = 0`` is :func:`gda`. On a linear field ``V(z) = z`` the iterates tend to
    ``N(0, 2τ²/(2 − η))`` per coordinate.

    Args:
      learning_rate: step size η (float, schedule, or per-player tuple/dict; each
        player then draws its noise from its own key, folded from ``key``).
      temperature: noise level τ ≥ 0 (float or schedule).
      key: a JAX PRNG key (keyword-only).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`LangevinState` (one per player for per-player step sizes).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = lambda z: z                    # Φ = x²/2 − y²/2: V(z) = z
      >>> z0 = (jnp.zeros(20_000), jnp.zeros(20_000))
      >>> opt = mmx.langevin_gda(0.1, 0.5, key=jax.random.key(0))
      >>> sol = mmx.solve(V, z0, opt, 200)
      >>> round(float(jnp.var(sol.params[0])), 2)   # 2τ²/(2 − η) = 0.263
      0.26

    References:
      Welling & Teh, *Bayesian Learning via Stochastic Gradient Langevin
      Dynamics*, ICML 2011. Kamalaruban et al., *Robust Reinforcement Learning via
      Adversarial Training with Langevin Dynamics*, NeurIPS 2020,
      https://arxiv.org/abs/2002.06063.
    """
    key = _check_key(key)
    _check_temperature(temperature)
    if isinstance(learning_rate, (tuple, list, Mapping)):
        names = _names(learning_rate)
        rules = {}
        for i, n in enumerate(names):
            _check_learning_rate(learning_rate[n], f"learning_rate[{n!r}]")
            rules[n] = _langevin(
                learning_rate[n], temperature, jax.random.fold_in(key, i)
            )
        return per_player(rebuild(learning_rate, rules), argument="learning_rate")
    _check_learning_rate(learning_rate, "learning_rate")
    return optax.with_extra_args_support(_langevin(learning_rate, temperature, key))
