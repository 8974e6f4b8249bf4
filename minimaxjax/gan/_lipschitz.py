"""Lipschitz control of a GAN critic: gradient penalties and a spectral bound."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from minimaxjax._types import PyTree
from minimaxjax.gan._losses import check_scores

__all__ = ["gradient_penalty", "lipschitz_upper_bound", "r1_penalty"]


def _check_weight(weight: Any) -> None:
    if isinstance(weight, (int, float)) and not weight >= 0:
        raise ValueError(f"weight must be a non-negative number, got {weight!r}.")


def _check_inputs(real: jax.Array) -> jax.Array:
    real = jnp.asarray(real)
    if real.ndim < 1:
        raise ValueError(
            f"real must have a leading batch axis, got shape {real.shape}."
        )
    if not jnp.issubdtype(real.dtype, jnp.floating):
        raise ValueError(f"real must be floating-point, got dtype {real.dtype}.")
    return real


def _input_gradients(
    critic_fn: Callable[[jax.Array], jax.Array], x: jax.Array
) -> jax.Array:
    """``∇x f(x_i)`` for every example, as one ``(batch, -1)`` array.

    One backward pass through ``sum_i f(x_i)``: valid for a critic that scores
    each example on its own (no batch statistics across examples)."""

    def total(x: jax.Array) -> jax.Array:
        scores = check_scores("critic_fn(x)", critic_fn(x))
        if scores.shape[0] != x.shape[0]:
            raise ValueError(
                "critic_fn(x) must return one score per example of x, got "
                f"{scores.shape[0]} scores for a batch of {x.shape[0]}."
            )
        return jnp.sum(scores)

    return jnp.reshape(jax.grad(total)(x), (x.shape[0], -1))


def _safe_norm(g: jax.Array) -> jax.Array:
    """Row norms of ``g`` with a zero (not NaN) derivative at a zero row."""
    squares = jnp.sum(jnp.square(g), axis=-1)
    positive = squares > 0
    safe = jnp.where(positive, squares, jnp.ones_like(squares))
    return jnp.where(positive, jnp.sqrt(safe), jnp.zeros_like(squares))


def gradient_penalty(
    critic_fn: Callable[[jax.Array], jax.Array],
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
    *,
    weight: float = 10.0,
    target: float = 1.0,
) -> jax.Array:
    r"""The WGAN-GP gradient penalty at random interpolates of real and fake data.

    With ``t_i ~ U[0, 1]`` drawn per example and
    ``x̂_i = t_i x_i + (1 − t_i) x̃_i``:

    .. math::

        P = \text{weight}\cdot\mathbb{E}_i\big(\lVert\nabla_{\hat x}
        f(\hat x_i)\rVert_2 - \text{target}\big)^2,

    the norm over all non-batch axes of each example. Add ``P`` to the critic's
    loss (it pushes the critic towards unit gradient norm, a soft 1-Lipschitz
    constraint); the generator does not see it. The per-example gradients come
    from one backward pass through ``sum(critic_fn(x̂))``, so the critic must
    score each example on its own (no batch normalisation across examples, as
    in the paper).

    Args:
      critic_fn: ``critic_fn(x) -> (batch,)`` (or ``(batch, 1)``) scores, e.g.
        ``lambda x: model.apply(params, x)``; differentiate the penalty with
        respect to ``params`` through a closure.
      real: real data, ``(batch, ...)``, floating-point.
      fake: generated data, the shape of ``real`` (cast to its dtype).
      key: PRNG key for the interpolation weights.
      weight: the penalty weight λ ≥ 0 (10 in the paper).
      target: the gradient norm the penalty pulls towards (1 in the paper).

    Returns:
      The scalar penalty ``P``.

    Example:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> w = jnp.array([0.6, 0.8])                   # a linear critic, ‖w‖ = 1
      >>> real, fake = jnp.ones((4, 2)), jnp.zeros((4, 2))
      >>> P = gan.gradient_penalty(lambda x: x @ w, real, fake, jax.random.key(0))
      >>> round(float(P), 6)
      0.0

    References:
      Gulrajani et al., *Improved Training of Wasserstein GANs*, NeurIPS 2017,
      https://arxiv.org/abs/1704.00028.
    """
    _check_weight(weight)
    real = _check_inputs(real)
    fake = jnp.asarray(fake)
    if fake.shape != real.shape:
        raise ValueError(
            f"fake must have the shape of real, got {fake.shape} and {real.shape}."
        )
    fake = fake.astype(real.dtype)
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    t = jax.random.uniform(key, shape, real.dtype)
    x_hat = t * real + (1 - t) * fake
    norms = _safe_norm(_input_gradients(critic_fn, x_hat))
    return weight * jnp.mean(jnp.square(norms - target))


def r1_penalty(
    critic_fn: Callable[[jax.Array], jax.Array],
    real: jax.Array,
    *,
    weight: float = 10.0,
) -> jax.Array:
    r"""The R1 gradient penalty: the critic's squared gradient norm on real data.

    .. math::

        R_1 = \frac{\text{weight}}{2}\,\mathbb{E}_x\lVert\nabla_x f(x)\rVert_2^2,

    the norm over all non-batch axes of each example, ``f`` the critic's logit
    (before any sigmoid). Add it to the critic's loss; it stabilises training
    near the equilibrium where the generator matches the data. The critic must
    score each example on its own (one backward pass through
    ``sum(critic_fn(x))``).

    Args:
      critic_fn: ``critic_fn(x) -> (batch,)`` (or ``(batch, 1)``) scores.
      real: real data, ``(batch, ...)``, floating-point.
      weight: the penalty weight γ ≥ 0.

    Returns:
      The scalar penalty.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> w = jnp.array([3.0, 4.0])                   # ‖w‖² = 25
      >>> float(gan.r1_penalty(lambda x: x @ w, jnp.ones((2, 2)), weight=2.0))
      25.0

    References:
      Mescheder, Geiger & Nowozin, *Which Training Methods for GANs do actually
      Converge?*, ICML 2018, https://arxiv.org/abs/1801.04406.
    """
    _check_weight(weight)
    real = _check_inputs(real)
    g = _input_gradients(critic_fn, real)
    return 0.5 * weight * jnp.mean(jnp.sum(jnp.square(g), axis=-1))


def lipschitz_upper_bound(params_or_kernels: PyTree) -> jax.Array:
    r"""An upper bound on the Lipschitz constant of an MLP critic: the product of
    its dense kernels' spectral norms.

    .. math::

        \operatorname{Lip}(f) \le \prod_l \sigma_{\max}(W_l)

    for ``f = W_L ∘ φ ∘ ⋯ ∘ φ ∘ W_1`` (biases included) with 1-Lipschitz
    activations ``φ`` (ReLU, leaky ReLU, tanh, …). A spectrally normalised critic
    has a bound of about 1. The bound is often loose.

    Only 2-D leaves count as kernels; 0-D and 1-D leaves (biases, scales) are
    skipped. Pass the parameters only (``nnx.state(model, nnx.Param)``, or
    Linen's ``variables["params"]``), not batch statistics, whose 2-D power-
    iteration vectors would be counted. Convolution kernels are not handled: the
    spectral norm of a reshaped convolution kernel is not that of the convolution,
    so a leaf with more than two axes is an error rather than a wrong bound.

    Args:
      params_or_kernels: a list of 2-D kernels, or a parameter pytree.

    Returns:
      The scalar bound (a float32 or float64 array).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> params = {"dense1": {"kernel": 2.0 * jnp.eye(3), "bias": jnp.ones(3)},
      ...           "dense2": {"kernel": jnp.full((3, 1), 0.5), "bias": jnp.ones(1)}}
      >>> round(float(gan.lipschitz_upper_bound(params)), 4)     # 2 · √3/2
      1.7321

    References:
      Szegedy et al., *Intriguing properties of neural networks*, ICLR 2014,
      https://arxiv.org/abs/1312.6199; Miyato et al., *Spectral Normalization for
      Generative Adversarial Networks*, ICLR 2018, https://arxiv.org/abs/1802.05957.
    """
    kernels = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(params_or_kernels):
        w = jnp.asarray(leaf)
        if w.ndim > 2:
            raise ValueError(
                "params_or_kernels must hold dense (2-D) kernels; the leaf at "
                f"{jax.tree_util.keystr(path) or 'the root'} has shape {w.shape} "
                "(convolution kernels are not handled)."
            )
        if w.ndim == 2:
            kernels.append(w)
    if not kernels:
        raise ValueError("params_or_kernels holds no 2-D kernel.")
    # Low-precision kernels (bfloat16, float16) are measured in float32.
    wide = any(w.dtype == jnp.float64 for w in kernels)
    dtype = jnp.float64 if wide else jnp.float32
    bound = jnp.ones((), dtype)
    for w in kernels:
        bound = bound * jnp.linalg.norm(w.astype(dtype), 2)
    return bound
