"""Worst-case evaluation: an example is robust only if no attack succeeds."""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from minimaxjax.adversarial._losses import check_labels

__all__ = ["is_robust", "robust_accuracy"]

Attack = Callable[[jax.Array, jax.Array], jax.Array]
"""``attack(inputs, labels) -> adversarial inputs``."""


def is_robust(
    logits_fn: Callable[[jax.Array], jax.Array],
    inputs: jax.Array,
    labels: jax.Array,
    attacks: Sequence[Attack],
) -> jax.Array:
    r"""Per example, whether the clean input and every attack's output are
    classified correctly.

    .. math::
        r_i = \mathbb 1[\arg\max h(x_i) = y_i]
        \cdot \min_{a \in \text{attacks}} \mathbb 1[\arg\max h(a(x)_i) = y_i]

    This is the per-example worst case AutoAttack reports. Unlike AutoAttack,
    which runs each attack only on the examples still robust, every attack runs
    on the whole batch so the function stays jittable; the answer is the same.

    Args:
        logits_fn: ``inputs -> (batch, num_classes)`` logits.
        inputs: clean inputs, batch axis first.
        labels: ``(batch,)`` true classes.
        attacks: callables ``attack(inputs, labels) -> adversarial inputs``, e.g.
            ``functools.partial`` of :func:`pgd`, :func:`apgd` or
            :func:`beta_attack` around a loss of the logits.

    Returns:
        ``(batch,)`` booleans.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> w = jnp.array([[1.0, -1.0]])  # 1 input, 2 classes
        >>> def shift(by):
        ...     return lambda x, y: x + by
        >>> adversarial.is_robust(lambda x: x @ w, jnp.array([[1.0], [2.0]]),
        ...                       jnp.array([0, 0]), [shift(-0.5), shift(-1.5)])
        Array([False,  True], dtype=bool)

    References:
        Croce & Hein, *Reliable Evaluation of Adversarial Robustness with an
        Ensemble of Diverse Parameter-free Attacks*, ICML 2020.
        https://arxiv.org/abs/2003.01690
    """
    check_labels(jax.eval_shape(logits_fn, inputs).shape, labels)
    if not attacks:
        raise ValueError("attacks must list at least one attack.")
    robust = jnp.argmax(logits_fn(inputs), axis=1) == labels
    for attack in attacks:
        adversarial = attack(inputs, labels)
        if jnp.shape(adversarial) != jnp.shape(inputs):
            raise ValueError(
                f"each attack must return inputs of shape {jnp.shape(inputs)}, got "
                f"{jnp.shape(adversarial)} from {attack!r}."
            )
        robust = robust & (jnp.argmax(logits_fn(adversarial), axis=1) == labels)
    return robust


def robust_accuracy(
    logits_fn: Callable[[jax.Array], jax.Array],
    inputs: jax.Array,
    labels: jax.Array,
    attacks: Sequence[Attack],
) -> jax.Array:
    r"""Fraction of examples that no attack in ``attacks`` fools (worst case).

    .. math::
        \text{acc}_{\text{rob}} = \frac1n \sum_i r_i \quad (r \text{ from }
        :func:`is_robust`)

    Args:
        logits_fn: ``inputs -> (batch, num_classes)`` logits.
        inputs: clean inputs, batch axis first.
        labels: ``(batch,)`` true classes.
        attacks: callables ``attack(inputs, labels) -> adversarial inputs``.

    Returns:
        A float32 scalar in [0, 1].

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> w = jnp.array([[1.0, -1.0]])
        >>> adversarial.robust_accuracy(lambda x: x @ w, jnp.array([[1.0], [2.0]]),
        ...                             jnp.array([0, 0]), [lambda x, y: x - 1.5])
        Array(0.5, dtype=float32)

    References:
        Croce & Hein, *Reliable Evaluation of Adversarial Robustness with an
        Ensemble of Diverse Parameter-free Attacks*, ICML 2020.
        https://arxiv.org/abs/2003.01690
    """
    return jnp.mean(is_robust(logits_fn, inputs, labels, attacks), dtype=jnp.float32)
