"""Auto-PGD: step-size-free projected ascent with momentum (Croce & Hein 2020)."""

from collections.abc import Callable
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax.adversarial import _ball
from minimaxjax.adversarial._ball import Bounds

__all__ = ["apgd"]

# The published schedule (Croce & Hein 2020, Section 3.2).
_MOMENTUM = 0.75
# At most 75% of the window's steps increased the loss, compared in integers.
_SUCCESS_NUMERATOR, _SUCCESS_DENOMINATOR = 3, 4
_FIRST_WINDOW = 0.22
_WINDOW_DECREASE = 0.03
_MIN_WINDOW = 0.06


def _checkpoints(num_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """For each iteration t = 0..N, whether it is a checkpoint and the length of
    the window of steps that checkpoint looks back on."""
    window = max(int(_FIRST_WINDOW * num_steps), 1)
    decrease = max(int(_WINDOW_DECREASE * num_steps), 1)
    smallest = max(int(_MIN_WINDOW * num_steps), 1)
    is_checkpoint = np.zeros(num_steps + 1, bool)
    windows = np.ones(num_steps + 1, np.int32)
    t = window
    while t <= num_steps:
        is_checkpoint[t], windows[t] = True, window
        window = max(window - decrease, smallest)
        t += window
    return is_checkpoint, windows


class _State(NamedTuple):
    x: jax.Array
    previous: jax.Array
    grad: jax.Array
    step_size: jax.Array  # (batch,)
    best: jax.Array
    best_grad: jax.Array
    best_loss: jax.Array  # (batch,)
    losses: jax.Array  # (N + 1, batch): the loss at each iterate x^t
    reduced_at_last_checkpoint: jax.Array  # (batch,) bool
    best_loss_at_last_checkpoint: jax.Array  # (batch,)


def apgd(
    loss_fn: Callable[[jax.Array], jax.Array],
    inputs: jax.Array,
    *,
    eps: jax.typing.ArrayLike,
    num_steps: int = 100,
    norm: Literal["linf", "l2"] = "linf",
    key: jax.Array | None = None,
    bounds: Bounds = None,
) -> jax.Array:
    r"""Auto-PGD: PGD with momentum and a step size that halves on stagnation.

    With :math:`d(\cdot)` the steepest-ascent direction (``sign`` in ℓ∞, the
    normalised gradient in ℓ2), Π the projection onto B_ε(x) ∩ [lo, hi], and a
    per-example step η starting at 2ε:

    .. math::
        z^{t+1} &= \Pi\big(x^t + \eta\, d(\nabla \ell(x^t))\big) \\
        x^{t+1} &= \Pi\big(x^t + 0.75\,(z^{t+1} - x^t) + 0.25\,(x^t - x^{t-1})\big)

    (the first step is :math:`x^1 = z^1`). At checkpoints spaced 0.22·N, then
    0.03·N closer each time down to 0.06·N, an example halves η and restarts
    from its best point when at most 75% of the steps since the last checkpoint
    increased its loss, or when its step was not halved at the last checkpoint
    and its best loss has not improved since (from the second checkpoint on, as
    in the reference code). Checkpoints and steps are per
    example, so the whole run is one ``jax.lax.fori_loop``.

    Pair it with :func:`cross_entropy`, :func:`dlr_loss` or
    :func:`targeted_dlr_loss`. With DLR, which is positive exactly on
    misclassified points, the returned best point is misclassified whenever any
    iterate was.

    Args:
        loss_fn: ``inputs -> (batch,)`` losses, one per example, to maximise.
        inputs: clean inputs, batch axis first.
        eps: radius ε of the ball (a positive scalar).
        num_steps: iterations N (a Python int, at least 1).
        norm: ``"linf"`` or ``"l2"``; norms and projections are per example.
        key: a PRNG key for a uniform random start in the ball; ``None`` starts
            at ``inputs``.
        bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
        Each example's highest-loss iterate, shaped like ``inputs``.

    Example:
        >>> import jax.numpy as jnp
        >>> from minimaxjax import adversarial
        >>> w = jnp.array([1.0, -2.0])
        >>> x = adversarial.apgd(lambda x: x @ w, jnp.zeros((1, 2)), eps=0.1,
        ...                      num_steps=10)
        >>> x @ w
        Array([0.3], dtype=float32)

    References:
        Croce & Hein, *Reliable Evaluation of Adversarial Robustness with an
        Ensemble of Diverse Parameter-free Attacks*, ICML 2020.
        https://arxiv.org/abs/2003.01690 (reference code:
        https://github.com/fra31/auto-attack, ``autopgd_base.py``)
    """
    _ball.check_num_steps(num_steps)
    _ball.check_attack(loss_fn, inputs, eps, norm, bounds)
    eps = _ball.as_dtype(eps, inputs)
    bounds = _ball.cast_bounds(bounds, inputs)
    is_checkpoint, windows = (jnp.asarray(a) for a in _checkpoints(num_steps))

    def project(candidate: jax.Array) -> jax.Array:
        return _ball.project(candidate, inputs, eps, norm, bounds)

    def loss_and_grad(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        losses, pullback = jax.vjp(loss_fn, x)
        return losses, pullback(jnp.ones_like(losses))[0]

    def expand(values: jax.Array) -> jax.Array:
        return _ball.per_example(values, inputs)

    start = (
        inputs if key is None else _ball.random_start(key, inputs, eps, norm, bounds)
    )
    loss, grad = loss_and_grad(start)
    batch = inputs.shape[0]
    state = _State(
        x=start,
        previous=start,
        grad=grad,
        step_size=jnp.full((batch,), 2 * eps, inputs.dtype),
        best=start,
        best_grad=grad,
        best_loss=loss,
        losses=jnp.zeros((num_steps + 1, batch), loss.dtype).at[0].set(loss),
        # As in the reference code: the first checkpoint halves only on oscillation.
        reduced_at_last_checkpoint=jnp.ones((batch,), bool),
        best_loss_at_last_checkpoint=loss,
    )

    def iteration(t: jax.Array, s: _State) -> _State:
        z = project(s.x + expand(s.step_size) * _ball.steepest(s.grad, norm))
        momentum = jnp.where(t == 1, 0.0, 1 - _MOMENTUM).astype(inputs.dtype)
        weight = jnp.where(t == 1, 1.0, _MOMENTUM).astype(inputs.dtype)
        x = project(s.x + weight * (z - s.x) + momentum * (s.x - s.previous))
        loss, grad = loss_and_grad(x)
        losses = s.losses.at[t].set(loss)
        improved = loss > s.best_loss
        best = jnp.where(expand(improved), x, s.best)
        best_grad = jnp.where(expand(improved), grad, s.best_grad)
        best_loss = jnp.where(improved, loss, s.best_loss)

        window = windows[t]
        steps = jnp.arange(1, num_steps + 1)
        in_window = ((steps > t - window) & (steps <= t))[:, None]
        increases = jnp.sum(in_window & (losses[1:] > losses[:-1]), axis=0)
        oscillating = increases * _SUCCESS_DENOMINATOR <= _SUCCESS_NUMERATOR * window
        stalled = ~s.reduced_at_last_checkpoint & (
            s.best_loss_at_last_checkpoint >= best_loss
        )
        reduce = is_checkpoint[t] & (oscillating | stalled)
        return _State(
            x=jnp.where(expand(reduce), best, x),
            previous=s.x,
            grad=jnp.where(expand(reduce), best_grad, grad),
            step_size=jnp.where(reduce, s.step_size / 2, s.step_size),
            best=best,
            best_grad=best_grad,
            best_loss=best_loss,
            losses=losses,
            reduced_at_last_checkpoint=jnp.where(
                is_checkpoint[t], reduce, s.reduced_at_last_checkpoint
            ),
            best_loss_at_last_checkpoint=jnp.where(
                is_checkpoint[t], best_loss, s.best_loss_at_last_checkpoint
            ),
        )

    return jax.lax.fori_loop(1, num_steps + 1, iteration, state).best
