"""Per-example losses of logits and labels, the objectives attacks maximise."""

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["cross_entropy", "dlr_loss", "margin", "targeted_dlr_loss"]

# Keeps the DLR ratio finite when the top logits tie (AutoAttack's constant).
_DLR_EPSILON = 1e-12


def check_labels(
    logits_shape: tuple[int, ...], labels: jax.Array, name: str = "labels"
) -> None:
    """Shape, dtype and (when known) range checks, before any computation."""
    if len(logits_shape) != 2:
        raise ValueError(
            f"logits must have shape (batch, num_classes), got {logits_shape}."
        )
    batch, num_classes = logits_shape
    if jnp.shape(labels) != (batch,):
        raise ValueError(
            f"{name} must have shape ({batch},), one class per example of logits, "
            f"got {jnp.shape(labels)}."
        )
    if not jnp.issubdtype(jnp.result_type(labels), jnp.integer):
        raise ValueError(
            f"{name} must be integer class indices, got dtype "
            f"{jnp.result_type(labels)}."
        )
    if not isinstance(labels, jax.core.Tracer):
        values = np.asarray(labels)
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} must lie in [0, {num_classes}) for logits with "
                f"{num_classes} classes, got values from {values.min()} to "
                f"{values.max()}."
            )


def _pick(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    r"""Softmax cross-entropy per example, the loss of FGSM and PGD.

    .. math::
        \ell(z, y) = -z_y + \log \textstyle\sum_i e^{z_i}

    Args:
        logits: ``(batch, num_classes)``.
        labels: ``(batch,)`` integer classes.

    Returns:
        ``(batch,)`` losses.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> adversarial.cross_entropy(jnp.zeros((1, 4)), jnp.array([2]))
        Array([1.3862944], dtype=float32)

    References:
        Madry et al., *Towards Deep Learning Models Resistant to Adversarial
        Attacks*, ICLR 2018. https://arxiv.org/abs/1706.06083
    """
    check_labels(jnp.shape(logits), labels)
    return jax.nn.logsumexp(logits, axis=1) - _pick(logits, labels)


def margin(
    logits: jax.Array, labels: jax.Array, target: jax.Array | None = None
) -> jax.Array:
    r"""The margin by which a wrong class beats the true one, per example.

    .. math::
        M_j(z, y) = z_j - z_y, \qquad
        M(z, y) = \max_{j \ne y} z_j - z_y \ \text{(no target)}

    An example is misclassified exactly when its untargeted margin is positive.

    Args:
        logits: ``(batch, num_classes)``.
        labels: ``(batch,)`` true classes.
        target: ``(batch,)`` wrong classes ``j``, or ``None`` for the largest
            wrong logit.

    Returns:
        ``(batch,)`` margins.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> logits = jnp.array([[3.0, 1.0, 2.0]])
        >>> adversarial.margin(logits, jnp.array([0])), adversarial.margin(
        ...     logits, jnp.array([0]), jnp.array([1]))
        (Array([-1.], dtype=float32), Array([-2.], dtype=float32))

    References:
        Robey et al., *Adversarial Training Should Be Cast as a Non-Zero-Sum
        Game*, 2023. https://arxiv.org/abs/2306.11035
    """
    check_labels(jnp.shape(logits), labels)
    if target is None:
        is_label = jax.nn.one_hot(labels, logits.shape[1], dtype=bool)
        best_wrong = jnp.max(jnp.where(is_label, -jnp.inf, logits), axis=1)
        return best_wrong - _pick(logits, labels)
    check_labels(jnp.shape(logits), target, "target")
    return _pick(logits, target) - _pick(logits, labels)


def dlr_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    r"""Difference of logits ratio per example (Croce & Hein 2020).

    With the logits sorted as :math:`z_{\pi_1} \ge z_{\pi_2} \ge \dots`,

    .. math::
        \mathrm{DLR}(z, y) = -\frac{z_y - \max_{i \ne y} z_i}
        {z_{\pi_1} - z_{\pi_3} + 10^{-12}},

    invariant to shifting and rescaling the logits, so a model cannot mask its
    gradients by inflating them. Needs at least three classes.

    Args:
        logits: ``(batch, num_classes)``, ``num_classes >= 3``.
        labels: ``(batch,)`` true classes.

    Returns:
        ``(batch,)`` losses, positive exactly where the example is misclassified.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> adversarial.dlr_loss(jnp.array([[4.0, 3.0, 0.0]]), jnp.array([0]))
        Array([-0.25], dtype=float32)

    References:
        Croce & Hein, *Reliable Evaluation of Adversarial Robustness with an
        Ensemble of Diverse Parameter-free Attacks*, ICML 2020.
        https://arxiv.org/abs/2003.01690
    """
    check_labels(jnp.shape(logits), labels)
    if logits.shape[1] < 3:
        raise ValueError(
            f"dlr_loss needs logits with at least 3 classes, got {logits.shape[1]}."
        )
    ranked = -jnp.sort(-logits, axis=1)
    return margin(logits, labels) / (ranked[:, 0] - ranked[:, 2] + _DLR_EPSILON)


def targeted_dlr_loss(
    logits: jax.Array, labels: jax.Array, target: jax.Array
) -> jax.Array:
    r"""Targeted difference of logits ratio per example (Croce & Hein 2020).

    .. math::
        \mathrm{DLR}_t(z, y) = -\frac{z_y - z_t}
        {z_{\pi_1} - \tfrac12 (z_{\pi_3} + z_{\pi_4}) + 10^{-12}}

    Maximising it pushes the target class ``t`` above the true class ``y``.
    Needs at least four classes.

    Args:
        logits: ``(batch, num_classes)``, ``num_classes >= 4``.
        labels: ``(batch,)`` true classes.
        target: ``(batch,)`` target classes.

    Returns:
        ``(batch,)`` losses.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> logits = jnp.array([[4.0, 3.0, 1.0, 0.0]])
        >>> adversarial.targeted_dlr_loss(logits, jnp.array([0]), jnp.array([2]))
        Array([-0.8571428], dtype=float32)

    References:
        Croce & Hein, *Reliable Evaluation of Adversarial Robustness with an
        Ensemble of Diverse Parameter-free Attacks*, ICML 2020.
        https://arxiv.org/abs/2003.01690
    """
    check_labels(jnp.shape(logits), labels)
    check_labels(jnp.shape(logits), target, "target")
    if logits.shape[1] < 4:
        raise ValueError(
            "targeted_dlr_loss needs logits with at least 4 classes, got "
            f"{logits.shape[1]}."
        )
    ranked = -jnp.sort(-logits, axis=1)
    scale = ranked[:, 0] - 0.5 * (ranked[:, 2] + ranked[:, 3]) + _DLR_EPSILON
    return margin(logits, labels, target) / scale
