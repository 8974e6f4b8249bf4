"""The one-parameter sine model on which FGSM adversarial training overfits
catastrophically above ε = π/8 (Levi, Abad Rocamora and Cevher)."""

from typing import Literal

import jax
import jax.numpy as jnp

from minimaxjax._tree import check_positive_int

__all__ = ["sine_toy_training"]

# The two training points a_1 = −π/2, a_2 = π/2 and their labels b_1 = −1, b_2 = 1.
_POINTS = (-jnp.pi / 2, jnp.pi / 2)
_LABELS = (-1.0, 1.0)


def _loss(x: jax.Array, point: float, label: float, delta: jax.Array) -> jax.Array:
    """Logistic loss of ``h_x(a) = sin(x a)`` at ``a + δ``."""
    return jax.nn.softplus(-label * jnp.sin(x * (point + delta)))


def _attack(
    x: jax.Array,
    point: float,
    label: float,
    epsilon: jax.Array,
    num_steps: int,
    step_size: jax.Array,
) -> jax.Array:
    """ℓ∞ sign-gradient ascent on the loss over ``|δ| ≤ ε`` from ``δ = 0``."""
    # Entries are independent runs: the gradient of the sum is each one's own.
    delta_grad = jax.grad(lambda delta: jnp.sum(_loss(x, point, label, delta)))

    def body(_: int, delta: jax.Array) -> jax.Array:
        ascent = delta + step_size * jnp.sign(delta_grad(delta))
        return jnp.clip(ascent, -epsilon, epsilon)

    return jax.lax.fori_loop(0, num_steps, body, jnp.zeros_like(x))


def sine_toy_training(
    x0: jax.typing.ArrayLike,
    epsilon: jax.typing.ArrayLike,
    *,
    attack: Literal["fgsm", "pgd"] = "fgsm",
    num_steps: int = 400,
    learning_rate: jax.typing.ArrayLike = 0.02,
    attack_steps: int = 10,
    x_max: jax.typing.ArrayLike = 8.0,
) -> tuple[jax.Array, jax.Array]:
    r"""Adversarial training of ``x`` in the sine toy model, with FGSM or PGD.

    Two points ``a_2 = π/2 = −a_1`` with labels ``b_1 = −1``, ``b_2 = 1``, the model
    ``h_x(a) = sin(x a)`` and the logistic loss ``L = log(1 + e^{−b h})``. Each
    step attacks every point and descends on the attacked loss, with ``x`` kept
    in the box ``|x| ≤ x_max`` (bounded parameter norm):

    .. math::

        δ_i = \text{attack}(x^k, a_i, b_i, ε), \qquad
        x^{k+1} = \text{clip}_{[−x_{max}, x_{max}]}\Big(x^k − α\, ∇_x
        \tfrac12 \sum_i L\big(h_{x^k}(a_i + δ_i), b_i\big)\Big),

    with FGSM ``δ = ε\,\text{sign}(∇_δ L)`` at ``δ = 0``, or PGD: ``attack_steps``
    sign steps of size ``ε/4`` from ``δ = 0``, each clipped to ``[−ε, ε]``.

    What breaking down means here. By symmetry both points have the margin
    ``sin(x(π/2 + δ))`` (δ's sign flipped for ``a_1``). FGSM's training margin
    has a kink maximum at ``x = 1``, value ``cos ε`` (the robust solution), and
    one at ``x = 7``, value ``−cos 7ε``: there the clean point sits in a trough
    (``sin(7π/2) = −1``) and FGSM's step jumps over it. ``−cos 7ε > cos ε``
    exactly when ``ε > π/8`` (for ``ε > π/7`` the spurious maximum moves to
    ``x = 9/(1 + 2ε/π)``, value 1). So in a box ``7 ≤ x_max ≤ 10`` (a larger box
    adds the maxima at ``x = 4k + 3``, with thresholds ``π/(4k + 4)``), above
    ``ε_c = π/8`` the lowest FGSM training loss is reached at a parameter whose
    robust accuracy is 0 while FGSM sees every point classified correctly.
    Measured: train from starts spread over the box, keep the run with the
    lowest training loss, and compute its exact robust accuracy; it jumps from 1
    to 0 at ``ε_c`` with FGSM, and stays 1 with PGD (whose loss near ``x = 7`` is
    that of the misclassified clean point).

    Args:
      x0: initial parameters, any shape (one independent run per entry).
      epsilon: the ℓ∞ radius ε of the perturbation.
      attack: ``"fgsm"`` or ``"pgd"``.
      num_steps: gradient-descent steps on ``x``.
      learning_rate: α.
      attack_steps: PGD's sign steps (ignored by FGSM).
      x_max: the bound on ``|x|``.

    Returns:
      ``(x, loss)``: the trained parameters, shaped like ``x0``, and each one's
      training loss (the attacked loss the run minimised) at the end.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax.adversarial as adv
      >>> starts = jnp.linspace(0.1, 8.0, 80)
      >>> x, loss = adv.sine_toy_training(starts, 0.5, attack="fgsm")
      >>> best = x[jnp.argmin(loss)]              # what FGSM training prefers
      >>> bool(jnp.sin(best * jnp.pi / 2) < 0)    # clean points misclassified
      True
      >>> x, loss = adv.sine_toy_training(starts, 0.5, attack="pgd")
      >>> bool(jnp.abs(x[jnp.argmin(loss)] - 1.0) < 0.2)
      True

    References:
      Levi, Abad Rocamora and Cevher, *A phase transition induces catastrophic
      overfitting in adversarial training*, 2024,
      https://openreview.net/forum?id=9dBBq2ehY5. Wong, Rice and Kolter, *Fast
      is better than free: revisiting adversarial training*, ICLR 2020,
      https://arxiv.org/abs/2001.03994.
    """
    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"attack must be 'fgsm' or 'pgd', got {attack!r}.")
    num_steps = check_positive_int(num_steps, "num_steps")
    attack_steps = check_positive_int(attack_steps, "attack_steps")
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.floating):
        x0 = x0.astype(jnp.float32)
    epsilon = jnp.asarray(epsilon, x0.dtype)
    if attack == "fgsm":
        num_attack, step_size = 1, epsilon
    else:
        num_attack, step_size = attack_steps, epsilon / 4

    def attacked_loss(x: jax.Array, x_attacked: jax.Array) -> jax.Array:
        losses = []
        for point, label in zip(_POINTS, _LABELS, strict=True):
            delta = _attack(x_attacked, point, label, epsilon, num_attack, step_size)
            losses.append(_loss(x, point, label, delta))
        return (losses[0] + losses[1]) / 2

    # The attack is a function of the current x, held fixed in the x-gradient.
    def objective(x: jax.Array) -> jax.Array:
        return jnp.sum(attacked_loss(x, jax.lax.stop_gradient(x)))

    bound = jnp.asarray(x_max, x0.dtype)
    rate = jnp.asarray(learning_rate, x0.dtype)

    def step(_: int, x: jax.Array) -> jax.Array:
        return jnp.clip(x - rate * jax.grad(objective)(x), -bound, bound)

    x = jax.lax.fori_loop(0, num_steps, step, x0)
    return x, attacked_loss(x, x)
