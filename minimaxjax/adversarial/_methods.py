"""Robust training methods: the outer minimisation's gradient at the attack's point.

A method is a function ``method(logits_fn, params, inputs, labels, key)`` returning
a :class:`Signal`: the parameter gradient the optimizer steps with, the loss, the
accuracy on the points the loss saw and those points. ``logits_fn(params, x)`` is
any model's pure forward pass (a Flax Linen ``apply`` or an NNX ``merge``), so the
same method drives NNX, Linen or a hand-written model; the attack runs inside it
and every method is jit-compiled with the train step around it.
"""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp

from minimaxjax._tree import check_positive_int
from minimaxjax._types import Field, PyTree
from minimaxjax.adversarial import _ball
from minimaxjax.adversarial._attacks import fgsm, pgd
from minimaxjax.adversarial._ball import Bounds
from minimaxjax.adversarial._beta import beta_attack
from minimaxjax.adversarial._ddi import min_norm_direction
from minimaxjax.adversarial._losses import cross_entropy, margin
from minimaxjax.adversarial._training import kl_divergence, mart_loss, trades_loss
from minimaxjax.operators import game_field

__all__ = [
    "Method",
    "Signal",
    "beta_at",
    "beta_game",
    "ddi",
    "fgsm_at",
    "mart",
    "pgd_at",
    "standard",
    "trades",
]

LogitsFn: TypeAlias = Callable[[PyTree, jax.Array], jax.Array]
Norm: TypeAlias = Literal["linf", "l2"]


class Signal(NamedTuple):
    """What a training method returns for one batch.

    Attributes:
      gradient: the direction the optimizer steps against, shaped like ``params``
        (a loss gradient for every method but DDi, whose direction is the
        minimum-norm element of several gradients' convex hull).
      loss: the mean training loss at the attack's point, a scalar.
      accuracy: the fraction of the batch classified correctly at the points the
        loss saw (the adversarial ones for adversarial methods).
      inputs: those points, shaped like the batch (the last attack's for DDi);
        a train step runs the model on them to update batch statistics.
    """

    gradient: PyTree
    loss: jax.Array
    accuracy: jax.Array
    inputs: jax.Array


Method: TypeAlias = Callable[
    [LogitsFn, PyTree, jax.Array, jax.Array, jax.Array], Signal
]
"""``method(logits_fn, params, inputs, labels, key) -> Signal``."""


def _accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)


def _check_ball(eps: Any, norm: str, step_size: Any = None, num_steps: Any = 1) -> None:
    if norm not in _ball.NORMS:
        raise ValueError(f"norm must be one of {_ball.NORMS}, got {norm!r}.")
    _ball.check_positive("eps", eps)
    if step_size is not None:
        _ball.check_positive("step_size", step_size)
    _ball.check_num_steps(num_steps)


def _check_weight(name: str, value: Any) -> None:
    if isinstance(value, (int, float)) and not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")


def _signal_at(
    logits_fn: LogitsFn,
    params: PyTree,
    points: jax.Array,
    labels: jax.Array,
    loss: Callable[[jax.Array], jax.Array] | None = None,
) -> Signal:
    """The gradient of the mean loss over the batch at fixed ``points``.

    ``points`` are a constant of the gradient (Danskin's theorem: at a maximiser
    the inner problem's value has the gradient of the loss at that maximiser), so
    no derivative flows through the attack.
    """
    points = jax.lax.stop_gradient(points)

    def mean_loss(p: PyTree) -> tuple[jax.Array, jax.Array]:
        logits = logits_fn(p, points)
        values = cross_entropy(logits, labels) if loss is None else loss(logits)
        return jnp.mean(values), logits

    (value, logits), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
    return Signal(grads, value, _accuracy(logits, labels), points)


def _pair_signal(
    logits_fn: LogitsFn,
    params: PyTree,
    inputs: jax.Array,
    points: jax.Array,
    labels: jax.Array,
    loss: Callable[[jax.Array, jax.Array], jax.Array],
) -> Signal:
    """The gradient of ``mean(loss(h(x), h(x')))`` through both logits, at fixed
    attack points ``x'`` (TRADES, MART)."""
    points = jax.lax.stop_gradient(points)

    def mean_loss(p: PyTree) -> tuple[jax.Array, jax.Array]:
        adv_logits = logits_fn(p, points)
        return jnp.mean(loss(logits_fn(p, inputs), adv_logits)), adv_logits

    (value, adv_logits), grads = jax.value_and_grad(mean_loss, has_aux=True)(params)
    return Signal(grads, value, _accuracy(adv_logits, labels), points)


def _ce_attack(
    logits_fn: LogitsFn,
    params: PyTree,
    inputs: jax.Array,
    labels: jax.Array,
    key: jax.Array | None,
    ball: dict[str, Any],
) -> jax.Array:
    """PGD on the cross-entropy (steepest ascent) with the ball's settings."""
    return pgd(
        lambda x: cross_entropy(logits_fn(params, x), labels), inputs, key=key, **ball
    )


def standard() -> Method:
    r"""Standard training: the cross-entropy's gradient at the clean inputs.

    .. math::
        g = \nabla_θ \tfrac1n \textstyle\sum_i \mathrm{CE}(h_θ(x_i), y_i)

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> logits_fn = lambda w, x: x @ w
      >>> signal = adv.standard()(logits_fn, jnp.zeros((2, 3)), jnp.ones((4, 2)),
      ...                         jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> round(float(signal.loss), 4)   # log 3
      1.0986
    """

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        del key
        return _signal_at(logits_fn, params, inputs, labels)

    return method


def pgd_at(
    *,
    eps: float,
    step_size: float,
    num_steps: int,
    norm: Norm = "linf",
    bounds: Bounds = None,
    random_start: bool = True,
) -> Method:
    r"""PGD adversarial training (Madry et al.): the gradient at the PGD point.

    .. math::
        x'_i ≈ \arg\max_{x' ∈ B_ε(x_i)} \mathrm{CE}(h_θ(x'), y_i), \qquad
        g = \nabla_θ \tfrac1n \textstyle\sum_i \mathrm{CE}(h_θ(x'_i), y_i)

    with ``x'`` from :func:`~minimaxjax.adversarial.pgd` (steepest ascent, from a
    uniform random start in the ball) and no gradient through the attack
    (Danskin's theorem).

    Args:
      eps: radius ε of the ball.
      step_size: the attack's step α (``2.5 ε / num_steps`` in Madry et al.).
      num_steps: attack steps.
      norm: ``"linf"`` or ``"l2"``.
      bounds: ``(lo, hi)``, the valid input range, or ``None``.
      random_start: start from a uniform point of the ball (else from ``x``).

    Returns:
      A :data:`Method`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> method = adv.pgd_at(eps=0.1, step_size=0.05, num_steps=3)
      >>> signal = method(lambda w, x: x @ w, jnp.ones((2, 3)), jnp.ones((4, 2)),
      ...                 jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> jax.tree.map(jnp.shape, signal.gradient), float(signal.loss) > 0
      ((2, 3), True)

    References:
      Madry, Makelov, Schmidt, Tsipras and Vladu, *Towards Deep Learning Models
      Resistant to Adversarial Attacks*, ICLR 2018,
      https://arxiv.org/abs/1706.06083.
    """
    _check_ball(eps, norm, step_size, num_steps)
    ball = dict(
        eps=eps, step_size=step_size, num_steps=num_steps, norm=norm, bounds=bounds
    )

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        start = key if random_start else None
        points = _ce_attack(logits_fn, params, inputs, labels, start, ball)
        return _signal_at(logits_fn, params, points, labels)

    return method


def fgsm_at(
    *,
    eps: float,
    random_start: bool = False,
    step_size: float | None = None,
    norm: Norm = "linf",
    bounds: Bounds = None,
) -> Method:
    r"""FGSM adversarial training, plain (Goodfellow et al.) or with a random
    start (Wong et al.'s "fast is better than free").

    Plain: ``x' = x + ε d(∇_x CE)`` (:func:`~minimaxjax.adversarial.fgsm`). With
    ``random_start``:

    .. math::
        x^0 ∼ \mathcal U(B_ε(x)), \qquad
        x' = Π_{B_ε(x)}\big(x^0 + α\, d(\nabla_x \mathrm{CE}(h_θ(x^0), y))\big),
        \quad α = 1.25 ε \text{ by default},

    then the cross-entropy's gradient at ``x'``. Both are one attack step per
    batch; at large ε the plain form overfits catastrophically (robust accuracy
    against PGD collapses during training while FGSM accuracy rises), which the
    random start delays.

    Args:
      eps: radius ε of the ball.
      random_start: Wong et al.'s uniform start in the ball.
      step_size: α with ``random_start`` (default ``1.25 * eps``); must be left
        out without it (the plain step is ε).
      norm: ``"linf"`` or ``"l2"``.
      bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
      A :data:`Method`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> method = adv.fgsm_at(eps=0.1, random_start=True)
      >>> signal = method(lambda w, x: x @ w, jnp.ones((2, 3)), jnp.ones((4, 2)),
      ...                 jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> bool(jnp.max(jnp.abs(signal.inputs - 1.0)) <= 0.1 + 1e-6)
      True

    References:
      Goodfellow, Shlens and Szegedy, *Explaining and Harnessing Adversarial
      Examples*, ICLR 2015, https://arxiv.org/abs/1412.6572. Wong, Rice and
      Kolter, *Fast is better than free: Revisiting adversarial training*, ICLR
      2020, https://arxiv.org/abs/2001.03994.
    """
    if step_size is not None and not random_start:
        raise ValueError(
            "step_size is only used with random_start=True (plain FGSM steps by "
            f"eps), got step_size={step_size!r}."
        )
    _check_ball(eps, norm, step_size)
    alpha = 1.25 * eps if step_size is None else step_size

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        def loss(x: jax.Array) -> jax.Array:
            return cross_entropy(logits_fn(params, x), labels)

        if random_start:
            points = pgd(
                loss,
                inputs,
                eps=eps,
                step_size=alpha,
                num_steps=1,
                norm=norm,
                key=key,
                bounds=bounds,
            )
        else:
            points = fgsm(loss, inputs, eps, norm, bounds=bounds)
        return _signal_at(logits_fn, params, points, labels)

    return method


def trades(
    *,
    eps: float,
    step_size: float,
    num_steps: int,
    beta: float = 6.0,
    norm: Norm = "linf",
    bounds: Bounds = None,
) -> Method:
    r"""TRADES (Zhang et al.): clean cross-entropy plus β times the KL the attack
    maximises.

    .. math::
        x'_i ≈ \arg\max_{x' ∈ B_ε(x_i)} \mathrm{KL}\big(h_θ(x_i) \,\|\, h_θ(x')\big),
        \qquad g = \nabla_θ \tfrac1n \textstyle\sum_i \big[\mathrm{CE}(h_θ(x_i), y_i)
        + β\, \mathrm{KL}(h_θ(x_i) \,\|\, h_θ(x'_i))\big]

    The attack starts from a uniform point of the ball (the KL's gradient
    vanishes at ``x' = x``; the paper's code starts at ``x + 0.001·N(0, I)``);
    the gradient flows through both logits, at the fixed ``x'``.

    Args:
      eps: radius ε of the ball.
      step_size: the attack's step α.
      num_steps: attack steps.
      beta: the trade-off β ≥ 0 (6 in the paper).
      norm: ``"linf"`` or ``"l2"``.
      bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
      A :data:`Method`; ``Signal.accuracy`` is measured at the adversarial points.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> method = adv.trades(eps=0.1, step_size=0.05, num_steps=2)
      >>> signal = method(lambda w, x: x @ w, jnp.zeros((2, 3)), jnp.ones((4, 2)),
      ...                 jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> round(float(signal.loss), 4)   # zero weights: the CE, log 3, and KL 0
      1.0986

    References:
      Zhang, Yu, Jiao, Xing, El Ghaoui and Jordan, *Theoretically Principled
      Trade-off between Robustness and Accuracy*, ICML 2019,
      https://arxiv.org/abs/1901.08573.
    """
    _check_ball(eps, norm, step_size, num_steps)
    _check_weight("beta", beta)

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        clean = jax.lax.stop_gradient(logits_fn(params, inputs))
        points = pgd(
            lambda x: kl_divergence(clean, logits_fn(params, x)),
            inputs,
            eps=eps,
            step_size=step_size,
            num_steps=num_steps,
            norm=norm,
            key=key,
            bounds=bounds,
        )
        return _pair_signal(
            logits_fn,
            params,
            inputs,
            points,
            labels,
            lambda clean, adv: trades_loss(clean, adv, labels, beta),
        )

    return method


def mart(
    *,
    eps: float,
    step_size: float,
    num_steps: int,
    lam: float = 6.0,
    norm: Norm = "linf",
    bounds: Bounds = None,
) -> Method:
    r"""MART (Wang et al.): PGD on the cross-entropy, then
    :func:`~minimaxjax.adversarial.mart_loss` at the attack's point.

    .. math::
        g = \nabla_θ \tfrac1n \textstyle\sum_i \Big[\mathrm{BCE}(h_θ(x'_i), y_i)
        + λ\, \mathrm{KL}\big(h_θ(x_i) \,\|\, h_θ(x'_i)\big)\,(1 - p_θ(y_i \mid x_i))
        \Big]

    Args:
      eps: radius ε of the ball.
      step_size: the attack's step α.
      num_steps: attack steps (from a uniform random start).
      lam: the weight λ ≥ 0 of the misclassification-aware KL term (6 in the paper).
      norm: ``"linf"`` or ``"l2"``.
      bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
      A :data:`Method`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> method = adv.mart(eps=0.1, step_size=0.05, num_steps=2)
      >>> signal = method(lambda w, x: x @ w, jnp.zeros((2, 3)), jnp.ones((4, 2)),
      ...                 jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> round(float(signal.loss), 4)   # log 3 + log(3/2), the KL is 0
      1.5041

    References:
      Wang, Zou, Yi, Bailey, Ma and Gu, *Improving Adversarial Robustness Requires
      Revisiting Misclassified Examples*, ICLR 2020,
      https://openreview.net/forum?id=rklOg6EFwS.
    """
    _check_ball(eps, norm, step_size, num_steps)
    _check_weight("lam", lam)
    ball = dict(
        eps=eps, step_size=step_size, num_steps=num_steps, norm=norm, bounds=bounds
    )

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        points = _ce_attack(logits_fn, params, inputs, labels, key, ball)
        return _pair_signal(
            logits_fn,
            params,
            inputs,
            points,
            labels,
            lambda clean, adv: mart_loss(clean, adv, labels, lam),
        )

    return method


def beta_game(
    logits_fn: LogitsFn, inputs: jax.Array, labels: jax.Array, targets: jax.Array
) -> Field:
    r"""BETA-AT's non-zero-sum game as a :func:`minimaxjax.game_field`.

    Two players over ``z = {"defender": θ, "attacker": δ}`` (δ shaped like the
    inputs): the defender minimises the cross-entropy at the attacked inputs, the
    attacker maximises the margin of its target classes ``j_i`` — the quantity
    whose sign decides the 0-1 loss — not the defender's loss:

    .. math::
        \ell_D(θ, δ) = \tfrac1n \textstyle\sum_i \mathrm{CE}(h_θ(x_i + δ_i), y_i),
        \qquad
        \ell_A(θ, δ) = -\tfrac1n \textstyle\sum_i
        \big(h_θ(x_i + δ_i)_{j_i} - h_θ(x_i + δ_i)_{y_i}\big).

    The ball constraint on δ is the attacker's (project with a norm-ball
    projection when stepping δ with a rule); :func:`beta_at` plays the
    attacker's best response (:func:`~minimaxjax.adversarial.beta_attack`, which
    also picks ``j_i``) and steps the defender along this field's ``"defender"``
    part.

    Args:
      logits_fn: ``(params, inputs) -> (batch, num_classes)`` logits.
      inputs: clean inputs ``x``, batch axis first.
      labels: ``(batch,)`` true classes.
      targets: ``(batch,)`` the attacker's classes ``j_i ≠ y_i``.

    Returns:
      ``V(z)`` with ``V(z)["defender"] = ∇_θ ℓ_D`` and ``V(z)["attacker"] =
      ∇_δ ℓ_A``.

    Example:
      >>> import jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> x, y, j = jnp.zeros((1, 2)), jnp.array([0]), jnp.array([1])
      >>> V = adv.beta_game(lambda w, x: x @ w, x, y, j)
      >>> w = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> V({"defender": w, "attacker": jnp.zeros((1, 2))})["attacker"]
      Array([[ 1., -1.]], dtype=float32)

    References:
      Robey, Latorre, Pappas, Hassani and Cevher, *Adversarial Training Should Be
      Cast as a Non-Zero-Sum Game*, ICLR 2024, https://arxiv.org/abs/2306.11035.
    """

    def defender(z: dict[str, Any]) -> jax.Array:
        logits = logits_fn(z["defender"], inputs + z["attacker"])
        return jnp.mean(cross_entropy(logits, labels))

    def attacker(z: dict[str, Any]) -> jax.Array:
        logits = logits_fn(z["defender"], inputs + z["attacker"])
        return -jnp.mean(margin(logits, labels, targets))

    return game_field({"defender": defender, "attacker": attacker})


def beta_at(
    *,
    eps: float,
    step_size: float,
    num_steps: int,
    norm: Norm = "linf",
    bounds: Bounds = None,
) -> Method:
    r"""BETA-AT: adversarial training as the non-zero-sum game :func:`beta_game`.

    The attacker best-responds with
    :func:`~minimaxjax.adversarial.beta_attack` (every wrong class's margin
    maximised from a random start, the largest kept, ``j_i`` its class); the
    defender's direction is the game field's defender part at that point:

    .. math::
        g = V(θ, δ^\star)_{\text{defender}}
          = \nabla_θ \tfrac1n \textstyle\sum_i \mathrm{CE}(h_θ(x_i + δ^\star_i), y_i).

    Args:
      eps: radius ε of the ball.
      step_size: the attack's step α.
      num_steps: attack steps per class.
      norm: ``"linf"`` or ``"l2"``.
      bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
      A :data:`Method`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> method = adv.beta_at(eps=0.1, step_size=0.05, num_steps=2)
      >>> signal = method(lambda w, x: x @ w, jnp.ones((2, 3)), jnp.ones((4, 2)),
      ...                 jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> jax.tree.map(jnp.shape, signal.gradient)
      (2, 3)

    References:
      Robey, Latorre, Pappas, Hassani and Cevher, *Adversarial Training Should Be
      Cast as a Non-Zero-Sum Game*, ICLR 2024, https://arxiv.org/abs/2306.11035.
    """
    _check_ball(eps, norm, step_size, num_steps)

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        def logits_at(x: jax.Array) -> jax.Array:
            return logits_fn(params, x)

        points = beta_attack(
            logits_at,
            inputs,
            labels,
            eps=eps,
            step_size=step_size,
            num_steps=num_steps,
            norm=norm,
            key=key,
            bounds=bounds,
        )
        points = jax.lax.stop_gradient(points)
        logits = logits_at(points)
        true = jax.nn.one_hot(labels, logits.shape[-1], dtype=bool)
        targets = jnp.argmax(jnp.where(true, -jnp.inf, logits), axis=-1)
        V = beta_game(logits_fn, inputs, labels, targets)
        gradient = V({"defender": params, "attacker": points - inputs})["defender"]
        loss = jnp.mean(cross_entropy(logits, labels))
        return Signal(gradient, loss, _accuracy(logits, labels), points)

    return method


def ddi(
    *,
    eps: float,
    step_size: float,
    num_steps: int,
    num_attacks: int = 4,
    qp_steps: int = 64,
    norm: Norm = "linf",
    bounds: Bounds = None,
) -> Method:
    r"""DDi (Latorre et al.): the minimum-norm element of the convex hull of K
    adversarial gradients.

    K independent random-start PGD attacks give points ``x'^{(k)}`` and the
    gradients ``g_k = ∇_θ \tfrac1n \sum_i \mathrm{CE}(h_θ(x'^{(k)}_i), y_i)``;
    the direction is

    .. math::
        d = \sum_k λ^\star_k g_k, \qquad
        λ^\star = \arg\min_{λ ∈ Δ_K} \Big\| \sum_k λ_k g_k \Big\|^2

    (:func:`~minimaxjax.adversarial.min_norm_direction`), a descent direction of
    the robust loss whenever the convex hull holds one, where one attack's
    gradient need not be (Danskin's counterexample).

    Args:
      eps: radius ε of the ball.
      step_size: the attacks' step α.
      num_steps: steps per attack.
      num_attacks: K ≥ 1 random starts (run in one ``jax.vmap``).
      qp_steps: accelerated projected-gradient steps of the K-variable QP.
      norm: ``"linf"`` or ``"l2"``.
      bounds: ``(lo, hi)``, the valid input range, or ``None``.

    Returns:
      A :data:`Method`; ``Signal.loss`` is the largest of the K attacks' mean
      losses, ``Signal.accuracy`` and ``Signal.inputs`` are the last attack's.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from minimaxjax import adversarial as adv
      >>> method = adv.ddi(eps=0.1, step_size=0.05, num_steps=2, num_attacks=3)
      >>> signal = method(lambda w, x: x @ w, jnp.ones((2, 3)), jnp.ones((4, 2)),
      ...                 jnp.array([0, 1, 2, 0]), jax.random.key(0))
      >>> jax.tree.map(jnp.shape, signal.gradient)
      (2, 3)

    References:
      Latorre, Krawczuk, Dadi, Pethick and Cevher, *Finding actual descent
      directions for adversarial training*, ICLR 2023,
      https://openreview.net/forum?id=I3HCE7Ro78H.
    """
    _check_ball(eps, norm, step_size, num_steps)
    num_attacks = check_positive_int(num_attacks, "num_attacks")
    qp_steps = check_positive_int(qp_steps, "qp_steps")
    one = pgd_at(
        eps=eps, step_size=step_size, num_steps=num_steps, norm=norm, bounds=bounds
    )

    def method(
        logits_fn: LogitsFn,
        params: PyTree,
        inputs: jax.Array,
        labels: jax.Array,
        key: jax.Array,
    ) -> Signal:
        keys = jax.random.split(key, num_attacks)
        signals = jax.vmap(lambda k: one(logits_fn, params, inputs, labels, k))(keys)
        direction, _ = min_norm_direction(signals.gradient, num_steps=qp_steps)
        return Signal(
            direction,
            jnp.max(signals.loss),
            signals.accuracy[-1],
            signals.inputs[-1],
        )

    return method
