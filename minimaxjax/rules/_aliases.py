"""The update rules of minimaxjax, each a few lines over the shared machinery.

``learning_rate`` is a float, an optax schedule (evaluated at every field
evaluation, i.e. every ``update`` call of the inner optimizer), or a per-player
tuple/dict of those for two-timescale steps.
"""

from collections.abc import Mapping
from typing import Literal

import jax
import jax.numpy as jnp
import optax

from minimaxjax._types import LearningRate, Projection, PyTree
from minimaxjax.rules._alternating import alternating
from minimaxjax.rules._extra import _check_positive_int, extra
from minimaxjax.rules._players import by_player
from minimaxjax.rules._reflected import projected, reflected

__all__ = [
    "alternating_gda",
    "extra_adam",
    "extragradient",
    "extragradient_plus",
    "gda",
    "optimistic_gda",
    "proximal_point",
    "reflected_gda",
]


def _maybe_projected(
    optimizer: optax.GradientTransformationExtraArgs, projection: Projection | None
) -> optax.GradientTransformationExtraArgs:
    return optimizer if projection is None else projected(optimizer, projection)


def gda(
    learning_rate: LearningRate, *, projection: Projection | None = None
) -> optax.GradientTransformationExtraArgs:
    r"""Simultaneous gradient descent–ascent.

    .. math::

        z^{k+1} = P\big(z^k - α V(z^k)\big).

    On bilinear games it spirals outwards: on ``Φ = xy`` every iteration multiplies
    ``‖z‖`` by ``√(1 + α²)``.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      projection: optional projection applied after every step.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> sol = mmx.solve(V, (jnp.array(1.0), jnp.array(0.0)), mmx.gda(0.1), 10)
      >>> round(float(jnp.hypot(*sol.params)), 4)    # (1 + 0.01) ** 5
      1.051

    References:
      Arrow, Hurwicz & Uzawa, *Studies in Linear and Non-linear Programming*, 1958.
    """
    return _maybe_projected(by_player(learning_rate, optax.sgd), projection)


def alternating_gda(
    learning_rate: LearningRate,
) -> optax.GradientTransformationExtraArgs:
    r"""Alternating gradient descent–ascent: players move in order.

    .. math::

        x^{k+1} = x^k - α V_x(x^k, y^k), \qquad
        y^{k+1} = y^k - α V_y(x^{k+1}, y^k),

    and likewise for ``n`` players in the order of ``params``. One field evaluation
    per player. On ``Φ = xy`` it neither converges nor diverges: it cycles.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> sol = mmx.solve(V, z0, mmx.alternating_gda(0.1), 2000)
      >>> bool(0.5 < float(jnp.hypot(*sol.params)) < 2.0)
      True

    References:
      Gidel et al., *Negative Momentum for Improved Game Dynamics*, AISTATS 2019,
      https://arxiv.org/abs/1807.04740.
    """
    if isinstance(learning_rate, (tuple, list, Mapping)):
        # One optimizer per player, so each player's schedule counts its own moves.
        names = (
            learning_rate.keys()
            if isinstance(learning_rate, Mapping)
            else range(len(learning_rate))
        )
        sgds = {
            n: by_player(learning_rate[n], optax.sgd, f"learning_rate[{n!r}]")
            for n in names
        }
        per_player = (
            sgds
            if isinstance(learning_rate, Mapping)
            else type(learning_rate)(sgds[n] for n in names)
        )
        return alternating(per_player, argument="learning_rate")
    return alternating(by_player(learning_rate, optax.sgd))


def proximal_point(
    learning_rate: LearningRate,
    inner_steps: int = 10,
    *,
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""The proximal point method, its implicit step solved by fixed-point iteration.

    The exact step solves ``z^{k+1} = z^k − αV(z^{k+1})``; ``K = inner_steps``
    fixed-point iterations approximate it:

    .. math::

        w_0 = z^k, \qquad w_{j+1} = z^k - α V(w_j), \qquad z^{k+1} = w_K.

    The fixed-point map contracts when ``αL < 1``. ``K = 1`` is GDA and ``K = 2``
    is extragradient. On ``Φ = xy`` the exact step shrinks ``‖z‖`` by
    ``1/√(1 + α²)``.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      inner_steps: ``K >= 1`` field evaluations per iteration.
      projection: optional projection applied at every inner point.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> sol = mmx.solve(V, z0, mmx.proximal_point(0.5, inner_steps=30), 300)
      >>> round(float(jnp.hypot(*sol.params)), 4)    # (1 + 0.25) ** -5
      0.3277

    References:
      Rockafellar, *Monotone operators and the proximal point algorithm*, SIAM J.
      Control Optim. 1976. Güler, *On the convergence of the proximal point
      algorithm for convex minimization*, SIAM J. Control Optim. 1991.
    """
    inner_steps = _check_positive_int(inner_steps, "inner_steps")
    return extra(
        by_player(learning_rate, optax.sgd),
        num_phases=inner_steps,
        projection=projection,
    )


def extragradient(
    learning_rate: LearningRate, *, projection: Projection | None = None
) -> optax.GradientTransformationExtraArgs:
    r"""The extragradient method.

    .. math::

        \bar z^k = P\big(z^k - α V(z^k)\big), \qquad
        z^{k+1} = P\big(z^k - α V(\bar z^k)\big).

    Two field evaluations per iteration. On ``Φ = xy`` every iteration multiplies
    ``‖z‖`` by ``√(1 − α² + α⁴)``.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      projection: optional projection applied at both points.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> sol = mmx.solve(V, z0, mmx.extragradient(0.5), 20)   # 10 iterations
      >>> round(float(jnp.hypot(*sol.params)), 4)    # (1 - 0.25 + 0.0625) ** 5
      0.3541

    References:
      Korpelevich, *The extragradient method for finding saddle points and other
      problems*, Ekonomika i Matematicheskie Metody 12, 1976.
    """
    return extra(by_player(learning_rate, optax.sgd), projection=projection)


def extragradient_plus(
    learning_rate: LearningRate,
    update_ratio: jax.typing.ArrayLike = 0.5,
    *,
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""EG+: extragradient with a shorter second step.

    With ``γ = learning_rate`` and ``β = update_ratio ∈ (0, 1]``:

    .. math::

        \bar z^k = P\big(z^k - γ V(z^k)\big), \qquad
        z^{k+1} = P\big(z^k - βγ V(\bar z^k)\big).

    Converges for weak-Minty problems with ``ρ > −γ/2`` (``β = 1/2``) where EG may
    cycle.

    Args:
      learning_rate: extrapolation step γ (float, schedule, or per-player
        tuple/dict).
      update_ratio: β, the second step as a fraction of the first.
      projection: optional projection applied at both points.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> sol = mmx.solve(V, z0, mmx.extragradient_plus(0.5, 0.5), 200)
      >>> bool(float(jnp.hypot(*sol.params)) < 1e-3)
      True

    References:
      Diakonikolas, Daskalakis & Jordan, *Efficient Methods for Structured
      Nonconvex-Nonconcave Min-Max Optimization*, AISTATS 2021,
      https://arxiv.org/abs/2011.00364. Pethick et al., *Escaping limit cycles*,
      ICLR 2022, https://openreview.net/forum?id=2_vhkAMARk.
    """
    return extra(
        by_player(learning_rate, optax.sgd),
        phase_scales=(1.0, update_ratio),
        projection=projection,
    )


def optimistic_gda(
    learning_rate: LearningRate, *, projection: Projection | None = None
) -> optax.GradientTransformationExtraArgs:
    r"""Optimistic gradient descent–ascent (Popov's method, past extragradient).

    .. math::

        z^{k+1} = P\big(z^k - α\,[2V(z^k) - V(z^{k-1})]\big), \qquad
        V(z^{-1}) := V(z^0).

    One field evaluation per iteration; step for step identical to
    ``optax.optimistic_gradient_descent(α)``, which it reuses.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      projection: optional projection applied after every step.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> sol = mmx.solve(V, z0, mmx.optimistic_gda(0.2), 500)
      >>> bool(float(jnp.hypot(*sol.params)) < 1e-2)
      True

    References:
      Popov, *A modification of the Arrow–Hurwicz method for search of saddle
      points*, Math. Notes 28, 1980. Daskalakis et al., *Training GANs with
      Optimism*, ICLR 2018, https://arxiv.org/abs/1711.00141.
    """
    return _maybe_projected(
        by_player(learning_rate, optax.optimistic_gradient_descent), projection
    )


def reflected_gda(
    learning_rate: LearningRate, projection: Projection | None = None
) -> optax.GradientTransformationExtraArgs:
    r"""Reflected forward–backward splitting (projected reflected gradient).

    .. math::

        z^{k+1} = P\big(z^k - α V(2z^k - z^{k-1})\big), \qquad z^{-1} := z^0.

    One field evaluation per iteration, at the reflected point, which params hold
    between calls; :func:`minimaxjax.iterate` gives ``z^k``.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      projection: optional projection (or prox) ``P``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> sol = mmx.solve(V, z0, mmx.reflected_gda(0.3), 500)
      >>> bool(float(jnp.hypot(*sol.params)) < 1e-2)
      True

    References:
      Cevher & Vũ, *A Reflected Forward-Backward Splitting Method for Monotone
      Inclusions Involving Lipschitzian Operators*, Set-Valued Var. Anal. 2021,
      https://arxiv.org/abs/1908.05912. Malitsky, SIAM J. Optim. 2015.
    """
    return reflected(by_player(learning_rate, optax.sgd), projection=projection)


def _scale_by_adam_eps_on_v(
    b1: jax.typing.ArrayLike, b2: jax.typing.ArrayLike, eps: jax.typing.ArrayLike
) -> optax.GradientTransformation:
    """``optax.scale_by_adam`` with ε added to ``√v`` instead of ``√v̂``:
    ``√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε) = m̂/(√v̂ + ε/√(1 − β₂ᵗ))``, the
    "efficient version" of Kingma & Ba (2015, Sec. 2), with optax's state."""

    def init_fn(params: PyTree) -> optax.ScaleByAdamState:
        zeros = optax.tree.zeros_like(params)
        return optax.ScaleByAdamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update_fn(
        updates: PyTree, state: optax.ScaleByAdamState, params: PyTree = None
    ) -> tuple[PyTree, optax.ScaleByAdamState]:
        del params
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)

        def scale(m: jax.Array, v: jax.Array) -> jax.Array:
            # Bias corrections in at least float32, whatever the leaf's dtype.
            dtype = m.dtype if jnp.finfo(m.dtype).bits >= 32 else jnp.float32
            t = count.astype(dtype)
            c1 = 1 - jnp.asarray(b1, dtype) ** t
            c2 = 1 - jnp.asarray(b2, dtype) ** t
            denominator = jnp.sqrt(v.astype(dtype)) + jnp.asarray(eps, dtype)
            return (jnp.sqrt(c2) / c1 * m.astype(dtype) / denominator).astype(m.dtype)

        return jax.tree.map(scale, mu, nu), optax.ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def extra_adam(
    learning_rate: LearningRate,
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    *,
    eps_placement: Literal["v_hat", "v"] = "v_hat",
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""ExtraAdam: extragradient with Adam steps.

    Both phases step from ``z^k`` with Adam, whose moments and step count advance at
    *both* field evaluations:

    .. math::

        \bar z^k = z^k - α\,\mathrm{Adam}_{2k+1}(V(z^k)), \qquad
        z^{k+1} = z^k - α\,\mathrm{Adam}_{2k+2}(V(\bar z^k)),

    where ``Adam_t(g)`` updates ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²`` and
    returns, with ``m̂ = m/(1 − β₁ᵗ)`` and ``v̂ = v/(1 − β₂ᵗ)``,

    .. math::

        \frac{\hat m}{\sqrt{\hat v} + ε} \ \ (\texttt{eps\_placement="v\_hat"}),
        \qquad
        \frac{\sqrt{1 - β_2^t}}{1 - β_1^t}\,\frac{m}{\sqrt v + ε}
        = \frac{\hat m}{\sqrt{\hat v} + ε/\sqrt{1 - β_2^t}}
        \ \ (\texttt{eps\_placement="v"}).

    The default is optax's Adam (and today's ``torch.optim.Adam``). Gidel et al.'s
    code is written on the older PyTorch Adam, Kingma & Ba's "efficient version",
    and adds ε to ``√v``: ``eps_placement="v"`` reproduces it step for step. Only ε
    differs: in units of ``√v̂`` it is ``ε/√(1 − β₂ᵗ)`` there, ``√10 ε`` at the
    first step with ``b2 = 0.9`` and ``√1000 ε ≈ 31.6 ε`` with ``b2 = 0.999``,
    tending to ε once ``t`` is many times ``1/(1 − β₂)``. Where ``√v̂`` is large
    next to it, a step changes by about ``(ε/√(1 − β₂ᵗ) − ε)/√v̂`` of its length:
    at most ``3·10⁻⁷/√v̂`` with ``ε = 1e-8`` and ``b2 = 0.999``, but ``3·10⁻²/√v̂``
    with ``ε = 1e-3``.

    On bilinear games its iterates end on a bounded orbit around ``z*`` whose
    radius is proportional to the step size, whatever ``b1``: on a linear field
    Adam's normalisation makes the iteration invariant under ``z ↦ cz``, ``α ↦
    cα`` (while ε is negligible). On ``Φ = xy`` the radius is about ``1.2α`` at
    ``(b1, b2) = (0, 0.999)``, ``4α`` at ``(0.5, 0.9)`` and ``185α`` at the
    defaults; with ``b1 = 0`` the iterates may first dip far below it, then return
    to it as ``v`` forgets the start. Decay α (a schedule) to shrink the orbit
    with it.

    Args:
      learning_rate: step size α (float, schedule, or per-player tuple/dict).
      b1: decay of the first moment.
      b2: decay of the second moment.
      eps: added to the denominator, as ``eps_placement`` says.
      eps_placement: ``"v_hat"`` (ε added to ``√v̂``, optax's Adam) or ``"v"`` (ε
        added to ``√v``, Gidel et al.'s code); keyword-only.
      projection: optional projection applied at both points.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; the Adam state inside is
      optax's ``ScaleByAdamState`` for both placements.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.0))
      >>> def radius(lr):             # the largest ‖z‖ over the last 1000 iterations
      ...   opt = mmx.extra_adam(lr, b1=0.5, b2=0.9, eps_placement="v")
      ...   sol = mmx.solve(V, z0, opt, 20000)
      ...   return float(sol.trace["field_norm"][-2000:].max())
      >>> round(radius(0.02) / radius(0.01), 3)
      2.0

    References:
      Gidel et al., *A Variational Inequality Perspective on Generative Adversarial
      Networks*, ICLR 2019, https://arxiv.org/abs/1802.10551; code
      https://github.com/GauthierGidel/Variational-Inequality-GAN. Kingma & Ba,
      *Adam: A Method for Stochastic Optimization*, ICLR 2015,
      https://arxiv.org/abs/1412.6980.
    """
    if eps_placement == "v_hat":

        def make(lr: LearningRate) -> optax.GradientTransformation:
            return optax.adam(lr, b1, b2, eps)

    elif eps_placement == "v":

        def make(lr: LearningRate) -> optax.GradientTransformation:
            return optax.chain(
                _scale_by_adam_eps_on_v(b1, b2, eps), optax.scale_by_learning_rate(lr)
            )

    else:
        raise ValueError(
            "eps_placement must be 'v_hat' (ε added to √v̂, optax's Adam) or 'v' "
            f"(ε added to √v, Gidel et al.'s code), got {eps_placement!r}."
        )
    return extra(by_player(learning_rate, make), projection=projection)
