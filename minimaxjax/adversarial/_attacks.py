"""FGSM and PGD: first-order ascent on a per-example loss over a norm ball."""

from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp

from minimaxjax.adversarial import _ball
from minimaxjax.adversarial._ball import Bounds

__all__ = ["fgsm", "pgd"]

LossFn = Callable[[jax.Array], jax.Array]


def _gradient(loss_fn: LossFn, x: jax.Array) -> jax.Array:
    # Each example's loss depends on its own input only, so the gradient of the sum
    # is every example's gradient at once.
    return jax.grad(lambda z: jnp.sum(loss_fn(z)))(x)


def fgsm(
    loss_fn: LossFn,
    inputs: jax.Array,
    eps: jax.typing.ArrayLike,
    norm: Literal["linf", "l2"] = "linf",
    *,
    bounds: Bounds = None,
) -> jax.Array:
    r"""Fast gradient sign method: one steepest-ascent step to the ball's edge.

    .. math::
        x' = \Pi_{[lo, hi]}\big(x + \varepsilon\, d\big), \quad
        d = \operatorname{sign}(\nabla \ell(x)) \ (\ell_\infty), \quad
        d = \nabla \ell(x) / \|\nabla \ell(x)\|_2 \ (\ell_2)

    Exact for a loss linear in the inputs: it then moves ``loss_fn`` by
    ε‖∇ℓ‖₁ (ℓ∞) or ε‖∇ℓ‖₂ (ℓ2) per example.

    Args:
        loss_fn: ``inputs -> (batch,)`` losses, one per example, to maximise.
        inputs: clean inputs, batch axis first.
        eps: radius ε of the ball (a positive scalar).
        norm: ``"linf"`` or ``"l2"``; norms are taken per example.
        bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
        Adversarial inputs shaped like ``inputs``.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> w = jnp.array([1.0, -2.0])
        >>> adversarial.fgsm(lambda x: x @ w, jnp.zeros((1, 2)), 0.1)
        Array([[ 0.1, -0.1]], dtype=float32)

    References:
        Goodfellow, Shlens & Szegedy, *Explaining and Harnessing Adversarial
        Examples*, ICLR 2015. https://arxiv.org/abs/1412.6572
    """
    _ball.check_attack(loss_fn, inputs, eps, norm, bounds)
    eps = _ball.as_dtype(eps, inputs)
    bounds = _ball.cast_bounds(bounds, inputs)
    step = eps * _ball.steepest(_gradient(loss_fn, inputs), norm)
    return _ball.project(inputs + step, inputs, eps, norm, bounds)


def pgd(
    loss_fn: LossFn,
    inputs: jax.Array,
    *,
    eps: jax.typing.ArrayLike,
    step_size: jax.typing.ArrayLike,
    num_steps: int,
    norm: Literal["linf", "l2"] = "linf",
    key: jax.Array | None = None,
    bounds: Bounds = None,
    restarts: int = 1,
    ascent: Literal["steepest", "gradient"] = "steepest",
) -> jax.Array:
    r"""Projected ascent on a per-example loss over B_ε(x) ∩ [lo, hi].

    .. math::
        x^{t+1} = \Pi_{B_\varepsilon(x) \cap [lo, hi]}\big(x^t + \alpha\, d^t\big),
        \qquad x^0 \sim \mathcal U(B_\varepsilon(x)) \text{ or } x^0 = x

    With ``ascent="steepest"`` (what "PGD" means in practice, Madry et al.)
    ``d^t`` is the normalised steepest-ascent direction: ``sign(∇ℓ)`` in ℓ∞,
    ``∇ℓ/‖∇ℓ‖₂`` in ℓ2, so α is a distance. With ``ascent="gradient"`` it is the
    raw gradient ``∇ℓ(x^t)``: true projected gradient ascent, whose step moves
    further where the loss is steeper. Targeted attacks maximise the caller's
    loss, e.g. ``-cross_entropy(model(x), target)`` or :func:`margin`.

    Args:
        loss_fn: ``inputs -> (batch,)`` losses, one per example, to maximise.
            The model must treat examples independently (no batch statistics).
        inputs: clean inputs, batch axis first.
        eps: radius ε of the ball (a positive scalar).
        step_size: α (a positive scalar).
        num_steps: ascent steps (a Python int, at least 1).
        norm: ``"linf"`` or ``"l2"``; norms and projections are per example.
        key: a PRNG key for a uniform random start in the ball; ``None`` starts
            at ``inputs``.
        bounds: ``(lo, hi)``, the valid input range, or ``None``.
        restarts: independent random starts; each example keeps the end point of
            the run with its highest loss. More than one needs ``key``.
        ascent: ``"steepest"`` or ``"gradient"``, as above.

    Returns:
        Adversarial inputs shaped like ``inputs``.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> w = jnp.array([3.0, -4.0])
        >>> x = adversarial.pgd(lambda x: x @ w, jnp.zeros((1, 2)), eps=1.0,
        ...                     step_size=0.5, num_steps=4, norm="l2")
        >>> x @ w  # ε‖w‖₂
        Array([5.], dtype=float32)

    References:
        Madry et al., *Towards Deep Learning Models Resistant to Adversarial
        Attacks*, ICLR 2018. https://arxiv.org/abs/1706.06083
    """
    _ball.check_positive("step_size", step_size)
    _ball.check_num_steps(num_steps)
    _ball.check_num_steps(restarts, "restarts")
    if ascent not in ("steepest", "gradient"):
        raise ValueError(f"ascent must be 'steepest' or 'gradient', got {ascent!r}.")
    if restarts > 1 and key is None:
        raise ValueError("restarts > 1 needs a key: runs from x itself are identical.")
    _ball.check_attack(loss_fn, inputs, eps, norm, bounds)
    eps = _ball.as_dtype(eps, inputs)
    step_size = _ball.as_dtype(step_size, inputs)
    bounds = _ball.cast_bounds(bounds, inputs)

    def step(_: int, x: jax.Array) -> jax.Array:
        grad = _gradient(loss_fn, x)
        direction = _ball.steepest(grad, norm) if ascent == "steepest" else grad
        return _ball.project(x + step_size * direction, inputs, eps, norm, bounds)

    def run(start_key: jax.Array | None) -> jax.Array:
        start = inputs
        if start_key is not None:
            start = _ball.random_start(start_key, inputs, eps, norm, bounds)
        return jax.lax.fori_loop(0, num_steps, step, start)

    if key is None:
        return run(None)
    keys = jax.random.split(key, restarts)
    best = run(keys[0])
    best_loss = loss_fn(best)
    for start_key in keys[1:]:
        candidate = run(start_key)
        candidate_loss = loss_fn(candidate)
        better = _ball.per_example(candidate_loss > best_loss, inputs)
        best = jnp.where(better, candidate, best)
        best_loss = jnp.maximum(candidate_loss, best_loss)
    return best
