r"""Langevin gradient descent–ascent: GDA with Gaussian noise, for mixed strategies.

The iterates of a Langevin rule are samples: run long enough at a fixed
temperature they are distributed as the (entropy-regularised) mixed strategies
of the game rather than converging to one point.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._tree import rebuild
from minimaxjax._types import LearningRate, PyTree
from minimaxjax.rules._players import _check_learning_rate, _names, per_player

__all__ = [
    "LangevinRMSpropState",
    "LangevinState",
    "langevin_gda",
    "langevin_rmsprop",
]


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


def _check_key(key: Any, rule: str = "langevin_gda") -> jax.Array:
    if key is None:
        raise TypeError(
            f"{rule} draws Gaussian noise and needs a PRNG key: pass "
            f"key=jax.random.key(seed), e.g. mmx.{rule}(..., key=jax.random.key(0)). "
            "The key lives in the optimizer state and is split at every step."
        )
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
    key: jax.Array | None = None,
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
      key: a JAX PRNG key (keyword-only, required; a TypeError says how to pass
        one).

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
    key = _check_key(key, "langevin_gda")
    _check_temperature(temperature)
    return _by_player_with_keys(
        learning_rate, key, lambda lr, k: _langevin(lr, temperature, k)
    )


def _by_player_with_keys(
    learning_rate: Any,
    key: jax.Array,
    make: Callable[[Any, jax.Array], optax.GradientTransformation],
) -> optax.GradientTransformationExtraArgs:
    """``make(learning_rate, key)``, or one ``make(lr_i, fold_in(key, i))`` per
    player for a tuple/dict of step sizes."""
    if isinstance(learning_rate, (tuple, list, Mapping)):
        names = _names(learning_rate)
        rules = {}
        for i, n in enumerate(names):
            _check_learning_rate(learning_rate[n], f"learning_rate[{n!r}]")
            rules[n] = make(learning_rate[n], jax.random.fold_in(key, i))
        return per_player(rebuild(learning_rate, rules), argument="learning_rate")
    _check_learning_rate(learning_rate, "learning_rate")
    return optax.with_extra_args_support(make(learning_rate, key))


class LangevinRMSpropState(NamedTuple):
    """State of :func:`langevin_rmsprop`.

    Attributes:
      key: the PRNG key of the next step (split at every step).
      steps: steps taken so far (int32), the argument of the schedules.
      nu: the RMSprop second moment ``v`` of the field, one array per leaf.
    """

    key: jax.Array
    steps: jax.Array
    nu: PyTree


def _check_unit_interval(value: Any, argument: str, *, closed: bool) -> float:
    """A float in [0, 1) (``closed=False``) or (0, 1] (``closed=True``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{argument} must be a float, got {value!r}.")
    number = float(value)
    inside = 0.0 < number <= 1.0 if closed else 0.0 <= number < 1.0
    if not inside:
        interval = "(0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{argument} must be in {interval}, got {value!r}.")
    return number


def _langevin_rmsprop(
    learning_rate: Any, temperature: Any, key: jax.Array, decay: float, eps: float
) -> optax.GradientTransformation:
    def init_fn(params: PyTree) -> LangevinRMSpropState:
        nu = jax.tree.map(jnp.zeros_like, params)
        return LangevinRMSpropState(key, jnp.zeros([], jnp.int32), nu)

    def update_fn(
        updates: PyTree, state: LangevinRMSpropState, params: PyTree | None = None
    ) -> tuple[PyTree, LangevinRMSpropState]:
        del params
        lr = learning_rate(state.steps) if callable(learning_rate) else learning_rate
        tau = temperature(state.steps) if callable(temperature) else temperature
        next_key, step_key = jax.random.split(state.key)
        leaves, treedef = jax.tree.flatten(updates)
        nus = jax.tree.leaves(state.nu)
        keys = jax.random.split(step_key, max(len(leaves), 1))

        def step(
            g: jax.Array, nu: jax.Array, k: jax.Array
        ) -> tuple[jax.Array, jax.Array]:
            dtype = g.dtype
            eta = jnp.asarray(lr, dtype)
            alpha = jnp.asarray(decay, dtype)
            nu = (alpha * nu.astype(dtype) + (1 - alpha) * g * g).astype(dtype)
            precondition = 1 / (jnp.asarray(eps, dtype) + jnp.sqrt(nu))
            scale = jnp.sqrt(2 * eta * precondition) * jnp.asarray(tau, dtype)
            noise = jax.random.normal(k, g.shape, dtype)
            return (-eta * precondition * g + scale * noise).astype(dtype), nu

        pairs = [
            step(g, nu, keys[i])
            for i, (g, nu) in enumerate(zip(leaves, nus, strict=True))
        ]
        new_updates = jax.tree.unflatten(treedef, [u for u, _ in pairs])
        new_nu = jax.tree.unflatten(treedef, [nu for _, nu in pairs])
        return new_updates, LangevinRMSpropState(
            next_key, optax.safe_increment(state.steps), new_nu
        )

    return optax.GradientTransformation(init_fn, update_fn)


def langevin_rmsprop(
    learning_rate: LearningRate,
    temperature: float | jax.Array | optax.Schedule,
    *,
    key: jax.Array | None = None,
    decay: float = 0.99,
    eps: float = 1e-5,
) -> optax.GradientTransformationExtraArgs:
    r"""RMSprop-preconditioned Langevin gradient descent–ascent (pSGLD on a field).

    .. math::

        v^{k+1} = α v^k + (1 - α)\, V(z^k)^{\odot 2}, \qquad
        G^{k+1} = \frac{1}{λ + \sqrt{v^{k+1}}},

        z^{k+1} = z^k - η\, G^{k+1} \odot V(z^k)
        + \sqrt{2η\, G^{k+1}} \odot τ\, ξ^k, \qquad ξ^k \sim N(0, I),

    elementwise, with ``η = learning_rate``, ``τ = temperature`` (either may be an
    optax schedule of the step count), ``α = decay``, ``λ = eps`` and ``v^0 = 0``.
    The drift is RMSprop's step and the noise is scaled by the same diagonal
    preconditioner ``G``, as in preconditioned SGLD; like Li et al. and
    Kamalaruban et al. it leaves out the small correction term ``Γ`` of the
    exact preconditioned diffusion. ``τ = 0`` is RMSprop without momentum
    (``optax.rmsprop(η, decay=α, eps=λ)`` with ``eps`` added outside the square
    root). Key, temperature and per-player conventions are those of
    :func:`langevin_gda`; one field evaluation per iteration.

    Args:
      learning_rate: step size η (float, schedule, or per-player tuple/dict; each
        player then draws its noise from its own key, folded from ``key``).
      temperature: noise level τ ≥ 0 (float or schedule).
      key: a JAX PRNG key (keyword-only, required).
      decay: the RMSprop decay α of the second moment, in ``[0, 1)``.
      eps: the damping λ > 0 added to ``√v``; it bounds ``G`` by ``1/λ``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`LangevinRMSpropState` (one per player for per-player step sizes).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> game = mmx.games.escaping_trap()
      >>> opt = mmx.langevin_rmsprop(0.01, 0.01, key=jax.random.key(0))
      >>> sol = mmx.solve(game.field, game.init, opt, 500,
      ...                 projection=game.projection)
      >>> bool(jnp.all(jnp.abs(jnp.stack(sol.params)) <= 2.0))
      True

    References:
      Li, Chen, Carlson & Carin, *Preconditioned Stochastic Gradient Langevin
      Dynamics for Deep Neural Networks*, AAAI 2016,
      https://arxiv.org/abs/1512.07666. Kamalaruban et al., *Robust Reinforcement
      Learning via Adversarial Training with Langevin Dynamics*, NeurIPS 2020,
      https://arxiv.org/abs/2002.06063.
    """
    key = _check_key(key, "langevin_rmsprop")
    _check_temperature(temperature)
    decay = _check_unit_interval(decay, "decay", closed=False)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.number)):
        raise TypeError(f"eps must be a float, got {eps!r}.")
    if not float(eps) > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}.")
    eps = float(eps)
    return _by_player_with_keys(
        learning_rate,
        key,
        lambda lr, k: _langevin_rmsprop(lr, temperature, k, decay, eps),
    )
