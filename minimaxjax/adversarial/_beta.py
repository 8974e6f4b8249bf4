"""BETA: the best targeted attack, one margin-maximising PGD per wrong class."""

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

from minimaxjax.adversarial import _ball
from minimaxjax.adversarial._attacks import pgd
from minimaxjax.adversarial._ball import Bounds
from minimaxjax.adversarial._losses import check_labels, margin

__all__ = ["beta_attack"]


def beta_attack(
    logits_fn: Callable[[jax.Array], jax.Array],
    inputs: jax.Array,
    labels: jax.Array,
    *,
    eps: jax.typing.ArrayLike,
    step_size: jax.typing.ArrayLike,
    num_steps: int,
    norm: Literal["linf", "l2"] = "linf",
    key: jax.Array | None = None,
    bounds: Bounds = None,
) -> jax.Array:
    r"""Best targeted attack: maximise each wrong class's margin, keep the best.

    For every class j ≠ y, PGD (steepest ascent) on the margin
    :math:`M_j(x') = h_j(x') - h_y(x')`:

    .. math::
        x_j^{t+1} = \Pi_{B_\varepsilon(x) \cap [lo, hi]}
        \big(x_j^t + \alpha\, d(\nabla M_j(x_j^t))\big), \qquad
        j^\star = \arg\max_{j \ne y} M_j(x_j^N),

    returning :math:`x_{j^\star}^N`. The margin, unlike the cross-entropy,
    upper-bounds nothing: it is exactly the quantity whose sign decides the
    0-1 loss, which is why the attack is the best response of the non-zero-sum
    formulation. The classes run in one ``jax.vmap``, so memory grows with
    ``num_classes × inputs``.

    Args:
        logits_fn: ``inputs -> (batch, num_classes)`` logits.
        inputs: clean inputs, batch axis first.
        labels: ``(batch,)`` true classes.
        eps: radius ε of the ball (a positive scalar).
        step_size: α (a positive scalar).
        num_steps: ascent steps per class (a Python int, at least 1).
        norm: ``"linf"`` or ``"l2"``; norms and projections are per example.
        key: a PRNG key for random starts (one per class); ``None`` starts at
            ``inputs``.
        bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
        Adversarial inputs shaped like ``inputs``: for each example, the end
        point of the class with the largest margin.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> w = jnp.array([[0.0, 1.0, -3.0], [0.0, -1.0, 0.5]])  # 2 inputs, 3 classes
        >>> x = adversarial.beta_attack(lambda x: x @ w, jnp.zeros((1, 2)),
        ...                             jnp.array([0]), eps=0.5, step_size=0.5,
        ...                             num_steps=1)
        >>> adversarial.margin(x @ w, jnp.array([0]))
        Array([1.75], dtype=float32)

    References:
        Robey, Latorre, Pappas, Hassani & Cevher, *Adversarial Training Should Be
        Cast as a Non-Zero-Sum Game*, 2023. https://arxiv.org/abs/2306.11035
    """
    _ball.check_positive("eps", eps)
    _ball.check_positive("step_size", step_size)
    _ball.check_num_steps(num_steps)
    logits_shape = jax.eval_shape(logits_fn, inputs).shape
    check_labels(logits_shape, labels)
    num_classes = logits_shape[1]

    def attack_class(
        target: jax.Array, class_key: jax.Array | None
    ) -> tuple[jax.Array, jax.Array]:
        targets = jnp.full_like(labels, target)

        def class_margin(x: jax.Array) -> jax.Array:
            return margin(logits_fn(x), labels, targets)

        attacked = pgd(
            class_margin,
            inputs,
            eps=eps,
            step_size=step_size,
            num_steps=num_steps,
            norm=norm,
            key=class_key,
            bounds=bounds,
        )
        return attacked, class_margin(attacked)

    classes = jnp.arange(num_classes, dtype=jnp.result_type(labels))
    keys = None if key is None else jax.random.split(key, num_classes)
    # (classes, batch, ...) and (classes, batch)
    candidates, margins = jax.vmap(attack_class)(classes, keys)
    margins = jnp.where(classes[:, None] == labels[None, :], -jnp.inf, margins)
    best_class = jnp.argmax(margins, axis=0)
    return jnp.take_along_axis(
        candidates, _ball.per_example(best_class, inputs)[None], axis=0
    )[0]
