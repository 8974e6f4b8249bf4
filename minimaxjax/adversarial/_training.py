"""The outer losses of robust training: TRADES and MART, per example."""

import jax
import jax.numpy as jnp

from minimaxjax.adversarial._losses import check_labels, cross_entropy

__all__ = ["kl_divergence", "mart_loss", "trades_loss"]


def _check_pair(clean_logits: jax.Array, adv_logits: jax.Array) -> None:
    if jnp.shape(clean_logits) != jnp.shape(adv_logits):
        raise ValueError(
            "adv_logits must have the shape of clean_logits, got "
            f"{jnp.shape(adv_logits)} and {jnp.shape(clean_logits)}."
        )


def kl_divergence(p_logits: jax.Array, q_logits: jax.Array) -> jax.Array:
    r"""``KL(softmax(p) ‖ softmax(q))`` per example, from logits.

    .. math::
        \mathrm{KL}(p \,\|\, q) = \textstyle\sum_i p_i(\log p_i - \log q_i)

    Args:
      p_logits: ``(batch, num_classes)``, the reference distribution.
      q_logits: ``(batch, num_classes)``.

    Returns:
      ``(batch,)`` divergences (non-negative).

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import adversarial
      >>> z = jnp.array([[1.0, 2.0, 0.5]])
      >>> float(adversarial.kl_divergence(z, z)[0])
      0.0
    """
    _check_pair(p_logits, q_logits)
    log_p = jax.nn.log_softmax(p_logits, axis=-1)
    log_q = jax.nn.log_softmax(q_logits, axis=-1)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)


def trades_loss(
    clean_logits: jax.Array,
    adv_logits: jax.Array,
    labels: jax.Array,
    beta: float = 6.0,
) -> jax.Array:
    r"""TRADES: clean cross-entropy plus β times the divergence the attack found.

    .. math::
        \ell = \mathrm{CE}(f(x), y) + β\,\mathrm{KL}\big(f(x) \,\|\, f(x')\big),
        \qquad x' \approx \arg\max_{x' \in B_ε(x)} \mathrm{KL}(f(x) \| f(x'))

    The attack maximises the KL term (e.g. ``pgd`` on ``lambda x2:
    kl_divergence(stop_gradient(f(x)), f(x2))`` from a small random start, since
    the KL's gradient vanishes at ``x' = x``); the model minimises this loss at
    the attack's point.

    Args:
      clean_logits: ``f(x)``, ``(batch, num_classes)``.
      adv_logits: ``f(x')``, same shape.
      labels: ``(batch,)`` integer classes.
      beta: the trade-off β ≥ 0 (6 in the paper's CIFAR-10 runs).

    Returns:
      ``(batch,)`` losses.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import adversarial
      >>> z, y = jnp.array([[2.0, 0.0]]), jnp.array([0])
      >>> trades = adversarial.trades_loss(z, z, y)    # no divergence: the CE
      >>> bool(trades[0] == adversarial.cross_entropy(z, y)[0])
      True

    References:
      Zhang et al., *Theoretically Principled Trade-off between Robustness and
      Accuracy*, ICML 2019, https://arxiv.org/abs/1901.08573.
    """
    _check_pair(clean_logits, adv_logits)
    check_labels(jnp.shape(clean_logits), labels)
    if isinstance(beta, (int, float)) and not beta >= 0:
        raise ValueError(f"beta must be a non-negative number, got {beta!r}.")
    divergence = kl_divergence(clean_logits, adv_logits)
    return cross_entropy(clean_logits, labels) + beta * divergence


def mart_loss(
    clean_logits: jax.Array,
    adv_logits: jax.Array,
    labels: jax.Array,
    lam: float = 6.0,
) -> jax.Array:
    r"""MART: a boosted cross-entropy at the adversarial point plus a KL term
    weighted by how badly the clean example is classified.

    With ``p = softmax(f(x))``, ``p' = softmax(f(x'))``:

    .. math::
        \ell = -\log p'_y - \log\big(1 - \max_{k \ne y} p'_k\big)
        + λ\,\mathrm{KL}(p \,\|\, p')\,(1 - p_y)

    (``x'`` from an attack on the cross-entropy, as in PGD-AT).

    Args:
      clean_logits: ``f(x)``, ``(batch, num_classes)``.
      adv_logits: ``f(x')``, same shape.
      labels: ``(batch,)`` integer classes.
      lam: the weight λ ≥ 0 of the misclassification-aware KL term.

    Returns:
      ``(batch,)`` losses.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import adversarial
      >>> z, y = jnp.array([[0.0, 0.0]]), jnp.array([0])
      >>> round(float(adversarial.mart_loss(z, z, y)[0]), 4)   # 2 log 2
      1.3863

    References:
      Wang et al., *Improving Adversarial Robustness Requires Revisiting
      Misclassified Examples*, ICLR 2020, https://openreview.net/forum?id=rklOg6EFwS.
    """
    _check_pair(clean_logits, adv_logits)
    check_labels(jnp.shape(clean_logits), labels)
    if isinstance(lam, (int, float)) and not lam >= 0:
        raise ValueError(f"lam must be a non-negative number, got {lam!r}.")
    num_classes = clean_logits.shape[-1]
    true = jax.nn.one_hot(labels, num_classes, dtype=bool)
    log_adv = jax.nn.log_softmax(adv_logits, axis=-1)
    p_adv = jnp.exp(log_adv)
    best_wrong = jnp.max(jnp.where(true, -jnp.inf, p_adv), axis=-1)
    boosted = -jnp.sum(jnp.where(true, log_adv, 0), axis=-1) - jnp.log1p(-best_wrong)
    p_clean_true = jnp.sum(
        jnp.where(true, jax.nn.softmax(clean_logits, axis=-1), 0), -1
    )
    weight = 1 - p_clean_true
    return boosted + lam * kl_divergence(clean_logits, adv_logits) * weight
