"""The GAN game as a field, and jitted train steps for Flax NNX and Linen.

A step is one whole iteration of the rule (opaque mode): the model is never left
at an extrapolated point between steps, and each field evaluation draws its own
real minibatch and noise (stochastic extragradient, as Gidel et al. train GANs).
"""

from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from minimaxjax._tree import check_positive_int
from minimaxjax._types import Field, PyTree
from minimaxjax.gan._losses import LOSSES, GanLoss
from minimaxjax.operators import game_field

__all__ = ["average", "gan_field", "linen_train_step", "nnx_train_step"]

Sampler = Callable[[jax.Array], jax.Array]
Penalty = Callable[
    [Callable[[jax.Array], jax.Array], jax.Array, jax.Array, jax.Array], jax.Array
]
Metrics = dict[str, jax.Array]


def _loss(loss: GanLoss | str) -> GanLoss:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}.")
        return LOSSES[loss]
    if not isinstance(loss, GanLoss):
        raise TypeError(
            f"loss must be a GanLoss or one of {sorted(LOSSES)}, got "
            f"{type(loss).__name__}."
        )
    return loss


def gan_field(
    loss: GanLoss | str,
    generate: Callable[[PyTree, jax.Array], jax.Array],
    criticise: Callable[[PyTree, jax.Array], jax.Array],
    *,
    penalty: Penalty | None = None,
) -> Field:
    r"""The GAN game's field over ``z = {"generator": θ, "critic": φ}``.

    With ``x̃ = G_θ(noise)``, scores ``f_φ``, and the formulation's losses:

    .. math::
        ℓ_G(θ, φ) = \mathrm{loss.generator}\big(f_φ(x̃)\big), \qquad
        ℓ_D(θ, φ) = \mathrm{loss.critic}\big(f_φ(x), f_φ(x̃)\big)
                    + \mathrm{penalty}(f_φ, x, \mathrm{sg}(x̃), \mathrm{key}),

    .. math::
        V(z) = \big[\nabla_θ ℓ_G,\ \nabla_φ ℓ_D\big]

    (:func:`minimaxjax.game_field`; for a zero-sum formulation this is
    ``[∇_θ Φ, −∇_φ Φ]``). ``z`` may be a dict, a ``FrozenDict`` or an
    ``nnx.State``; the field comes back in the same container.

    Args:
      loss: a :class:`GanLoss` or a name in :data:`LOSSES`.
      generate: ``generate(θ, noise) -> fake`` samples, batch axis first.
      criticise: ``criticise(φ, x) -> (batch,)`` scores.
      penalty: ``penalty(critic_fn, real, fake, key) -> scalar`` added to the
        critic's loss, e.g. ``functools.partial(gan.gradient_penalty,
        weight=10.0)``.

    Returns:
      ``V(z, real, noise, key)`` returning ``(V(z), {"generator": ℓ_G, "critic":
      ℓ_D})``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> V = gan.gan_field("wasserstein", lambda a, n: n[:, None] * a,
      ...                   lambda w, x: x @ w)
      >>> z = {"generator": jnp.array([1.0, 0.0]), "critic": jnp.array([1.0, 1.0])}
      >>> v, losses = V(z, jnp.array([[0.0, 2.0]]), jnp.array([1.0]),
      ...               jax.random.key(0))
      >>> v["generator"].tolist(), v["critic"].tolist()
      ([-1.0, -1.0], [1.0, -2.0])

    References:
      Goodfellow et al., *Generative Adversarial Nets*, NeurIPS 2014,
      https://arxiv.org/abs/1406.2661. Gidel, Berard, Vignoud, Vincent and
      Lacoste-Julien, *A Variational Inequality Perspective on Generative
      Adversarial Networks*, ICLR 2019, https://arxiv.org/abs/1802.10551.
    """
    formulation = _loss(loss)

    def generator_loss(
        z: Any, real: jax.Array, noise: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        del real, key
        fake = generate(z["generator"], noise)
        value = formulation.generator(criticise(z["critic"], fake))
        return value, value

    def critic_loss(
        z: Any, real: jax.Array, noise: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        fake = generate(z["generator"], noise)
        if jnp.shape(fake) != jnp.shape(real):
            raise ValueError(
                "the generator's samples and the real batch must have the same "
                f"shape, got {jnp.shape(fake)} and {jnp.shape(real)}."
            )

        def critic_fn(x: jax.Array) -> jax.Array:
            return criticise(z["critic"], x)

        value = formulation.critic(critic_fn(real), critic_fn(fake))
        if penalty is not None:
            value = value + penalty(critic_fn, real, jax.lax.stop_gradient(fake), key)
        return value, value

    V = game_field({"generator": generator_loss, "critic": critic_loss}, has_aux=True)

    def field(
        z: Any, real: jax.Array, noise: jax.Array, key: jax.Array
    ) -> tuple[Any, dict[str, jax.Array]]:
        return V(z, real, noise, key)

    return field


def _draws(
    sample_real: Sampler, sample_noise: Sampler, key: jax.Array, phase: int | jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Fresh real data, noise and a penalty key for one field evaluation."""
    real_key, noise_key, penalty_key = jax.random.split(
        jax.random.fold_in(key, phase), 3
    )
    return sample_real(real_key), sample_noise(noise_key), penalty_key


def _check_shapes(
    generate: Callable[[jax.Array], jax.Array],
    criticise: Callable[[jax.Array], jax.Array],
    sample_real: Sampler,
    sample_noise: Sampler,
    key: jax.Array,
) -> None:
    """Abstract evaluation of one draw: a noise or real batch the players cannot
    take is named before anything is compiled."""
    real, noise, _ = jax.eval_shape(
        lambda k: _draws(sample_real, sample_noise, k, 0), key
    )
    for name, player, batch in (
        ("sample_noise", generate, noise),
        ("sample_real", criticise, real),
    ):
        try:
            jax.eval_shape(player, batch)
        except Exception as error:  # a shape error of JAX, Flax or the user
            who = "generator" if name == "sample_noise" else "critic"
            raise ValueError(
                f"{name} gives batches of shape {batch.shape} and dtype "
                f"{batch.dtype} that the {who} cannot take: {error}"
            ) from error


def _check_samplers(sample_real: Any, sample_noise: Any) -> None:
    for name, value in (("sample_real", sample_real), ("sample_noise", sample_noise)):
        if not callable(value):
            raise TypeError(
                f"{name} must be a function key -> batch, got {type(value).__name__}."
            )


def nnx_train_step(
    loss: GanLoss | str,
    *,
    sample_real: Sampler,
    sample_noise: Sampler,
    penalty: Penalty | None = None,
    steps_per_call: int = 1,
) -> Callable[[nnx.Module, nnx.Optimizer, jax.Array], Metrics]:
    r"""A jitted GAN train step for a Flax NNX model with ``.generator`` and
    ``.critic`` submodules, driven by ``nnx.Optimizer(model, rule, wrt=nnx.Param)``.

    ``step(model, optimizer, key)`` runs ``steps_per_call`` whole iterations of
    ``rule`` (in a ``jax.lax.fori_loop`` inside one ``nnx.jit``) on the field
    of :func:`gan_field`; each field evaluation ``k`` of iteration ``i`` draws
    afresh, from ``key_real, key_noise, key_penalty = jax.random.split(
    fold_in(fold_in(key, i), k), 3)``, ``sample_real(key_real)`` and
    ``sample_noise(key_noise)``:

    .. math::
        z^{t+1} = \mathrm{rule}\big(z^t;\ k \mapsto V(\,\cdot\,, x_k, ε_k)\big),
        \qquad z = \{\text{generator}, \text{critic}\}.

    The rule gets the whole iteration at once (``field=`` in opaque mode), so
    the model always holds the committed iterate; per-player learning rates
    (``{"generator": α_G, "critic": α_D}``), alternating rules and projections
    on one player (weight clipping) work as on any pytree.

    Args:
      loss: a :class:`GanLoss` or a name in :data:`LOSSES`.
      sample_real: ``key -> real batch``.
      sample_noise: ``key -> noise batch`` (the generator's input).
      penalty: added to the critic's loss, as in :func:`gan_field`.
      steps_per_call: iterations per call.

    Returns:
      ``step(model, optimizer, key) -> {"generator_loss", "critic_loss"}`` (the
      losses at the first evaluation of the last iteration).

    Example:
      >>> import functools, jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import minimaxjax as mmx
      >>> from minimaxjax import gan
      >>> class Gan(nnx.Module):
      ...   def __init__(self, rngs):
      ...     self.generator = nnx.Linear(1, 2, rngs=rngs)
      ...     self.critic = nnx.Sequential(nnx.Linear(2, 1, rngs=rngs),
      ...                                  lambda s: s[:, 0])
      >>> model = Gan(nnx.Rngs(0))
      >>> optimizer = nnx.Optimizer(model, mmx.extra_adam(1e-3), wrt=nnx.Param)
      >>> step = gan.nnx_train_step(
      ...     "wasserstein",
      ...     sample_real=lambda k: 1.0 + jax.random.normal(k, (64, 2)),
      ...     sample_noise=lambda k: jax.random.normal(k, (64, 1)),
      ...     penalty=functools.partial(gan.gradient_penalty, weight=10.0),
      ...     steps_per_call=10)
      >>> metrics = step(model, optimizer, jax.random.key(0))
      >>> int(optimizer.step[...])       # one optimizer step per iteration
      10

    References:
      Gidel, Berard, Vignoud, Vincent and Lacoste-Julien, *A Variational
      Inequality Perspective on Generative Adversarial Networks*, ICLR 2019,
      https://arxiv.org/abs/1802.10551.
    """
    _check_samplers(sample_real, sample_noise)
    steps_per_call = check_positive_int(steps_per_call, "steps_per_call")
    formulation = _loss(loss)

    def one(model: Any, optimizer: nnx.Optimizer, key: jax.Array) -> Metrics:
        g_def, _, g_rest = cast(Any, nnx.split(model.generator, nnx.Param, ...))
        c_def, _, c_rest = cast(Any, nnx.split(model.critic, nnx.Param, ...))

        def generate(theta: PyTree, noise: jax.Array) -> jax.Array:
            return nnx.merge(g_def, theta, jax.tree.map(lambda v: v, g_rest))(noise)

        def criticise(phi: PyTree, x: jax.Array) -> jax.Array:
            return nnx.merge(c_def, phi, jax.tree.map(lambda v: v, c_rest))(x)

        V = gan_field(formulation, generate, criticise, penalty=penalty)

        def field(z: PyTree, phase: int) -> PyTree:
            return V(z, *_draws(sample_real, sample_noise, key, phase))[0]

        params = nnx.state(model, nnx.Param)
        first, losses = V(params, *_draws(sample_real, sample_noise, key, 0))
        optimizer.update(model, first, field=field)
        return {
            "generator_loss": losses["generator"],
            "critic_loss": losses["critic"],
        }

    @nnx.jit
    def step(model: nnx.Module, optimizer: nnx.Optimizer, key: jax.Array) -> Metrics:
        def body(i: jax.Array, carry: Any) -> Any:
            model, optimizer, _ = carry
            metrics = one(model, optimizer, jax.random.fold_in(key, i))
            return model, optimizer, metrics

        metrics = one(model, optimizer, jax.random.fold_in(key, 0))
        if steps_per_call > 1:
            _, _, metrics = nnx.fori_loop(
                1, steps_per_call, body, (model, optimizer, metrics)
            )
        return metrics

    def checked(model: nnx.Module, optimizer: nnx.Optimizer, key: jax.Array) -> Metrics:
        for name in ("generator", "critic"):
            if not isinstance(getattr(model, name, None), nnx.Module):
                raise ValueError(
                    f"model must have an nnx.Module attribute {name!r} (the "
                    f"players), got {type(model).__name__} without it."
                )
        if not checked_shapes:
            g_def, g_state = nnx.split(getattr(model, "generator"))  # noqa: B009
            c_def, c_state = nnx.split(getattr(model, "critic"))  # noqa: B009
            _check_shapes(
                lambda n: cast(Any, nnx.merge(g_def, g_state))(n),
                lambda x: cast(Any, nnx.merge(c_def, c_state))(x),
                sample_real,
                sample_noise,
                key,
            )
            checked_shapes.append(True)
        return step(model, optimizer, key)

    checked_shapes: list[bool] = []

    return checked


def linen_train_step(
    loss: GanLoss | str,
    *,
    generate: Callable[[PyTree, jax.Array], jax.Array],
    criticise: Callable[[PyTree, jax.Array], jax.Array],
    sample_real: Sampler,
    sample_noise: Sampler,
    penalty: Penalty | None = None,
    steps_per_call: int = 1,
) -> Callable[[Any, jax.Array], tuple[Any, Metrics]]:
    r"""A jitted GAN train step for a Flax Linen ``TrainState`` whose params are
    ``{"generator": θ, "critic": φ}`` and whose ``tx`` is any minimaxjax rule.

    As :func:`nnx_train_step`: ``steps_per_call`` whole iterations per call (a
    ``jax.lax.scan``), fresh data and noise per field evaluation, evaluation
    ``k`` of iteration ``i`` drawing from ``fold_in(keys[i], k)`` with
    ``keys = jax.random.split(key, steps_per_call)``.

    Args:
      loss: a :class:`GanLoss` or a name in :data:`LOSSES`.
      generate: ``generate(θ, noise) -> fake``, e.g. ``lambda p, n:
        generator.apply({"params": p}, n)``.
      criticise: ``criticise(φ, x) -> (batch,)`` scores.
      sample_real: ``key -> real batch``.
      sample_noise: ``key -> noise batch``.
      penalty: added to the critic's loss, as in :func:`gan_field`.
      steps_per_call: iterations per call.

    Returns:
      ``step(state, key) -> (state, {"generator_loss", "critic_loss"})``.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> import flax.linen as nn
      >>> from flax.training.train_state import TrainState
      >>> import minimaxjax as mmx
      >>> from minimaxjax import gan
      >>> G, D = nn.Dense(2), nn.Dense(1)
      >>> params = {"generator": G.init(jax.random.key(0), jnp.ones((1, 1)))["params"],
      ...           "critic": D.init(jax.random.key(1), jnp.ones((1, 2)))["params"]}
      >>> state = TrainState.create(apply_fn=None, params=params,
      ...                           tx=mmx.extragradient(1e-2))
      >>> step = gan.linen_train_step(
      ...     "hinge",
      ...     generate=lambda p, n: G.apply({"params": p}, n),
      ...     criticise=lambda p, x: D.apply({"params": p}, x)[:, 0],
      ...     sample_real=lambda k: jax.random.normal(k, (32, 2)),
      ...     sample_noise=lambda k: jax.random.normal(k, (32, 1)),
      ...     steps_per_call=5)
      >>> state, metrics = step(state, jax.random.key(0))
      >>> int(state.step)
      5

    References:
      Gidel, Berard, Vignoud, Vincent and Lacoste-Julien, *A Variational
      Inequality Perspective on Generative Adversarial Networks*, ICLR 2019,
      https://arxiv.org/abs/1802.10551.
    """
    _check_samplers(sample_real, sample_noise)
    steps_per_call = check_positive_int(steps_per_call, "steps_per_call")
    V = gan_field(loss, generate, criticise, penalty=penalty)

    def one(state: Any, key: jax.Array) -> tuple[Any, Metrics]:
        def field(z: PyTree, phase: int) -> PyTree:
            return V(z, *_draws(sample_real, sample_noise, key, phase))[0]

        first, losses = V(state.params, *_draws(sample_real, sample_noise, key, 0))
        updates, opt_state = state.tx.update(
            first, state.opt_state, state.params, field=field
        )
        state = state.replace(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
        )
        return state, {
            "generator_loss": losses["generator"],
            "critic_loss": losses["critic"],
        }

    @jax.jit
    def step(state: Any, key: jax.Array) -> tuple[Any, Metrics]:
        keys = jax.random.split(key, steps_per_call)
        state, metrics = jax.lax.scan(one, state, keys)
        return state, jax.tree.map(lambda m: m[-1], metrics)

    def checked(state: Any, key: jax.Array) -> tuple[Any, Metrics]:
        if not checked_shapes:
            _check_shapes(
                lambda n: generate(state.params["generator"], n),
                lambda x: criticise(state.params["critic"], x),
                sample_real,
                sample_noise,
                key,
            )
            checked_shapes.append(True)
        return step(state, key)

    checked_shapes: list[bool] = []
    checked.lower = step.lower  # type: ignore[attr-defined]  # memory_analysis etc.
    return checked


def average(
    average_params: PyTree,
    params: PyTree,
    count: jax.typing.ArrayLike,
    *,
    decay: float | None = None,
) -> PyTree:
    r"""One step of parameter averaging (uniform or exponential), leafwise.

    .. math::
        \bar θ_{t+1} = \bar θ_t + \frac{θ_{t+1} - \bar θ_t}{t + 1}
        \ \text{(uniform, ``decay=None``)}, \qquad
        \bar θ_{t+1} = β\,\bar θ_t + (1 - β)\,θ_{t+1} \ \text{(EMA, } β =
        \text{decay)}

    with ``t = count`` the number of iterates averaged so far (start from
    ``average_params = θ_0``, ``count = 1``). Gidel et al. report both for the
    generator of a GAN trained with extragradient methods.

    Args:
      average_params: the running average.
      params: the new iterate.
      count: iterates in the average so far (uniform averaging only).
      decay: the EMA's β in [0, 1), or None for the uniform average.

    Returns:
      The new average, shaped like ``params``.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> avg = jnp.array(0.0)
      >>> for t, theta in enumerate([2.0, 4.0, 6.0], start=1):
      ...   avg = gan.average(avg, jnp.array(theta), t)
      >>> float(avg)      # (0 + 2 + 4 + 6) / 4
      3.0

    References:
      Gidel, Berard, Vignoud, Vincent and Lacoste-Julien, *A Variational
      Inequality Perspective on Generative Adversarial Networks*, ICLR 2019,
      https://arxiv.org/abs/1802.10551. Yazıcı et al., *The Unusual
      Effectiveness of Averaging in GAN Training*, ICLR 2019,
      https://arxiv.org/abs/1806.04498.
    """
    if decay is not None and not 0 <= decay < 1:
        raise ValueError(f"decay must be in [0, 1) or None, got {decay!r}.")

    def one(a: jax.Array, p: jax.Array) -> jax.Array:
        if decay is None:
            weight = 1 / (jnp.asarray(count, a.dtype) + 1)
        else:
            weight = jnp.asarray(1 - decay, a.dtype)
        return (a + weight * (p - a)).astype(a.dtype)

    return jax.tree.map(one, average_params, params)
