"""GAN losses on critic outputs: minimax, non-saturating, Wasserstein, hinge and
least-squares.

Every function takes the critic's scores on a batch, ``(batch,)`` or
``(batch, 1)`` real numbers (logits for the minimax and non-saturating losses, raw
outputs otherwise), and returns a scalar mean over the batch. Critic losses take
``(real, fake)``, generator losses only ``fake``.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "LOSSES",
    "GanLoss",
    "hinge_critic_loss",
    "hinge_generator_loss",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "minimax_critic_loss",
    "minimax_generator_loss",
    "minimax_value",
    "non_saturating_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "wasserstein_value",
]


def check_scores(name: str, scores: jax.Array) -> jax.Array:
    """``scores`` as a ``(batch,)`` array, or a ValueError naming ``name``."""
    scores = jnp.asarray(scores)
    shape = scores.shape
    if scores.ndim == 1:
        return scores
    if scores.ndim == 2 and shape[1] == 1:
        return scores[:, 0]
    raise ValueError(
        f"{name} must hold one critic score per example, with shape (batch,) or "
        f"(batch, 1), got shape {shape}."
    )


def minimax_value(real: jax.Array, fake: jax.Array) -> jax.Array:
    r"""The value of the original GAN game, from the critic's logits.

    With ``D = sigmoid(logit)``, the generator minimises and the critic maximises

    .. math::

        V = \mathbb{E}_x \log D(x) + \mathbb{E}_z \log\big(1 - D(G(z))\big),

    computed stably as ``mean(log_sigmoid(real)) + mean(log_sigmoid(-fake))``.
    ``mmx.field(lambda g, d, *batch: minimax_value(...))`` is the zero-sum game.

    Args:
      real: critic logits on real data, ``(batch,)`` or ``(batch, 1)``.
      fake: critic logits on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar value ``V`` (at most 0).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> round(float(gan.minimax_value(jnp.zeros(4), jnp.zeros(4))), 4)  # 2 log ½
      -1.3863

    References:
      Goodfellow et al., *Generative Adversarial Nets*, NeurIPS 2014,
      https://arxiv.org/abs/1406.2661.
    """
    real = check_scores("real", real)
    fake = check_scores("fake", fake)
    return jnp.mean(jax.nn.log_sigmoid(real)) + jnp.mean(jax.nn.log_sigmoid(-fake))


def minimax_critic_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    r"""The critic's loss of the original GAN: the binary cross-entropy ``-V``.

    .. math::

        \ell_D = -\mathbb{E}_x \log D(x) - \mathbb{E}_z \log\big(1 - D(G(z))\big),
        \qquad D = \mathrm{sigmoid}(\text{logit}).

    Args:
      real: critic logits on real data, ``(batch,)`` or ``(batch, 1)``.
      fake: critic logits on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss (non-negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> round(float(gan.minimax_critic_loss(jnp.zeros(4), jnp.zeros(4))), 4)
      1.3863

    References:
      Goodfellow et al., *Generative Adversarial Nets*, NeurIPS 2014,
      https://arxiv.org/abs/1406.2661.
    """
    return -minimax_value(real, fake)


def minimax_generator_loss(fake: jax.Array) -> jax.Array:
    r"""The generator's loss of the original (saturating) minimax GAN.

    .. math::

        \ell_G = \mathbb{E}_z \log\big(1 - D(G(z))\big)
        = \mathbb{E}_z \log \mathrm{sigmoid}(-\text{logit}).

    Its gradient vanishes when the critic confidently rejects the samples (large
    negative logits); :func:`non_saturating_generator_loss` is the usual fix.

    Args:
      fake: critic logits on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss (at most 0).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> round(float(gan.minimax_generator_loss(jnp.zeros(4))), 4)  # log ½
      -0.6931

    References:
      Goodfellow et al., *Generative Adversarial Nets*, NeurIPS 2014,
      https://arxiv.org/abs/1406.2661.
    """
    fake = check_scores("fake", fake)
    return jnp.mean(jax.nn.log_sigmoid(-fake))


def non_saturating_generator_loss(fake: jax.Array) -> jax.Array:
    r"""The non-saturating generator loss: maximise ``log D(G(z))``.

    .. math::

        \ell_G = -\mathbb{E}_z \log D(G(z)) = -\mathbb{E}_z \log
        \mathrm{sigmoid}(\text{logit}).

    With :func:`minimax_critic_loss` for the critic this is a non-zero-sum game
    (``mmx.game_field``), the one most GANs are trained with.

    Args:
      fake: critic logits on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss (non-negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> round(float(gan.non_saturating_generator_loss(jnp.zeros(4))), 4)
      0.6931

    References:
      Goodfellow et al., *Generative Adversarial Nets*, NeurIPS 2014,
      https://arxiv.org/abs/1406.2661.
    """
    fake = check_scores("fake", fake)
    return -jnp.mean(jax.nn.log_sigmoid(fake))


def wasserstein_value(real: jax.Array, fake: jax.Array) -> jax.Array:
    r"""The Wasserstein GAN value: the critic's estimate of the W1 distance.

    .. math::

        V = \mathbb{E}_x f(x) - \mathbb{E}_z f(G(z)),

    maximised by a (near) 1-Lipschitz critic ``f`` and minimised by the generator
    (Lipschitz control: weight clipping, :func:`gradient_penalty` or spectral
    normalisation).

    Args:
      real: critic scores on real data, ``(batch,)`` or ``(batch, 1)``.
      fake: critic scores on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar value ``V``.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> float(gan.wasserstein_value(jnp.array([1.0, 3.0]), jnp.array([0.5, 0.5])))
      1.5

    References:
      Arjovsky, Chintala & Bottou, *Wasserstein GAN*, ICML 2017,
      https://arxiv.org/abs/1701.07875.
    """
    real = check_scores("real", real)
    fake = check_scores("fake", fake)
    return jnp.mean(real) - jnp.mean(fake)


def wasserstein_critic_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    r"""The Wasserstein critic's loss, ``-V``.

    .. math::

        \ell_D = \mathbb{E}_z f(G(z)) - \mathbb{E}_x f(x).

    Args:
      real: critic scores on real data, ``(batch,)`` or ``(batch, 1)``.
      fake: critic scores on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> real, fake = jnp.array([1.0, 3.0]), jnp.array([0.5, 0.5])
      >>> float(gan.wasserstein_critic_loss(real, fake))
      -1.5

    References:
      Arjovsky, Chintala & Bottou, *Wasserstein GAN*, ICML 2017,
      https://arxiv.org/abs/1701.07875.
    """
    return -wasserstein_value(real, fake)


def wasserstein_generator_loss(fake: jax.Array) -> jax.Array:
    r"""The Wasserstein generator's loss (the part of ``V`` it controls).

    .. math::

        \ell_G = -\mathbb{E}_z f(G(z)).

    Args:
      fake: critic scores on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> float(gan.wasserstein_generator_loss(jnp.array([[0.5], [1.5]])))
      -1.0

    References:
      Arjovsky, Chintala & Bottou, *Wasserstein GAN*, ICML 2017,
      https://arxiv.org/abs/1701.07875.
    """
    fake = check_scores("fake", fake)
    return -jnp.mean(fake)


def hinge_critic_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    r"""The hinge critic loss of geometric GANs and SN-GAN.

    .. math::

        \ell_D = \mathbb{E}_x \max\big(0, 1 - f(x)\big)
        + \mathbb{E}_z \max\big(0, 1 + f(G(z))\big).

    Args:
      real: critic scores on real data, ``(batch,)`` or ``(batch, 1)``.
      fake: critic scores on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss (non-negative; 0 once real scores ≥ 1 and fake ≤ −1).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> float(gan.hinge_critic_loss(jnp.array([2.0, 0.5]), jnp.array([-3.0, 0.0])))
      0.75

    References:
      Lim & Ye, *Geometric GAN*, 2017, https://arxiv.org/abs/1705.02894;
      Miyato et al., *Spectral Normalization for Generative Adversarial Networks*,
      ICLR 2018, https://arxiv.org/abs/1802.05957.
    """
    real = check_scores("real", real)
    fake = check_scores("fake", fake)
    return jnp.mean(jax.nn.relu(1 - real)) + jnp.mean(jax.nn.relu(1 + fake))


def hinge_generator_loss(fake: jax.Array) -> jax.Array:
    r"""The generator loss paired with the hinge critic loss.

    .. math::

        \ell_G = -\mathbb{E}_z f(G(z)).

    Args:
      fake: critic scores on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> float(gan.hinge_generator_loss(jnp.array([-3.0, 0.0])))
      1.5

    References:
      Lim & Ye, *Geometric GAN*, 2017, https://arxiv.org/abs/1705.02894;
      Miyato et al., *Spectral Normalization for Generative Adversarial Networks*,
      ICLR 2018, https://arxiv.org/abs/1802.05957.
    """
    fake = check_scores("fake", fake)
    return -jnp.mean(fake)


def least_squares_critic_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    r"""The least-squares (LSGAN) critic loss with targets ``a = 0``, ``b = 1``.

    .. math::

        \ell_D = \tfrac12\mathbb{E}_x \big(D(x) - 1\big)^2
        + \tfrac12\mathbb{E}_z D(G(z))^2,

    on the critic's raw (linear, no sigmoid) outputs ``D``.

    Args:
      real: critic outputs on real data, ``(batch,)`` or ``(batch, 1)``.
      fake: critic outputs on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss (non-negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> float(gan.least_squares_critic_loss(jnp.array([1.0, 3.0]), jnp.zeros(2)))
      1.0

    References:
      Mao et al., *Least Squares Generative Adversarial Networks*, ICCV 2017,
      https://arxiv.org/abs/1611.04076.
    """
    real = check_scores("real", real)
    fake = check_scores("fake", fake)
    return 0.5 * jnp.mean(jnp.square(real - 1)) + 0.5 * jnp.mean(jnp.square(fake))


def least_squares_generator_loss(fake: jax.Array) -> jax.Array:
    r"""The least-squares (LSGAN) generator loss with target ``c = 1``.

    .. math::

        \ell_G = \tfrac12\mathbb{E}_z \big(D(G(z)) - 1\big)^2.

    Args:
      fake: critic outputs on generated data, ``(batch,)`` or ``(batch, 1)``.

    Returns:
      The scalar loss (non-negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> float(gan.least_squares_generator_loss(jnp.array([0.0, 2.0])))
      0.5

    References:
      Mao et al., *Least Squares Generative Adversarial Networks*, ICCV 2017,
      https://arxiv.org/abs/1611.04076.
    """
    fake = check_scores("fake", fake)
    return 0.5 * jnp.mean(jnp.square(fake - 1))


class GanLoss(NamedTuple):
    """The two players' losses of one GAN formulation (and its zero-sum value).

    Attributes:
      critic: ``critic(real, fake) -> scalar``, minimised by the critic.
      generator: ``generator(fake) -> scalar``, minimised by the generator.
      value: ``value(real, fake) -> scalar`` for a zero-sum formulation (the
        critic maximises it, the generator minimises it: pass it to
        ``mmx.field``), or None when the game is not zero-sum (use
        ``mmx.game_field`` with ``critic`` and ``generator``).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import gan
      >>> loss = gan.LOSSES["hinge"]
      >>> float(loss.generator(jnp.array([-1.0, 0.0]))), loss.value is None
      (0.5, True)
    """

    critic: Callable[[jax.Array, jax.Array], jax.Array]
    generator: Callable[[jax.Array], jax.Array]
    value: Callable[[jax.Array, jax.Array], jax.Array] | None


LOSSES: dict[str, GanLoss] = {
    "minimax": GanLoss(minimax_critic_loss, minimax_generator_loss, minimax_value),
    "non_saturating": GanLoss(minimax_critic_loss, non_saturating_generator_loss, None),
    "wasserstein": GanLoss(
        wasserstein_critic_loss, wasserstein_generator_loss, wasserstein_value
    ),
    "hinge": GanLoss(hinge_critic_loss, hinge_generator_loss, None),
    "least_squares": GanLoss(
        least_squares_critic_loss, least_squares_generator_loss, None
    ),
}
"""The GAN formulations by name: ``"minimax"``, ``"non_saturating"``,
``"wasserstein"``, ``"hinge"`` and ``"least_squares"``, each a :class:`GanLoss`.
In the zero-sum ones (``"minimax"``, ``"wasserstein"``) ``critic`` is ``-value``
and ``generator`` is the part of ``value`` that depends on the fake scores."""
