"""Pethick et al.'s EG+ family for weak-Minty problems: CurvatureEG+, SEG+, BC-SEG+.

All three step from ``z^k`` to an extrapolated point ``z̄^k`` with a step γ and
then relax towards it with a second step α_k. CurvatureEG+ picks γ_k from the
local curvature of the field (a Jacobian norm and a backtracking linesearch) and
α_k from the geometry of the iteration; SEG+ and BC-SEG+ keep γ fixed and let α_k
diminish, BC-SEG+ correcting the bias of the stochastic extrapolation.
"""

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from minimaxjax._tree import tree_axpy, tree_scale, tree_sub
from minimaxjax._types import OpaqueField, Projection, PyTree
from minimaxjax.operators import jacobian_operator_norm
from minimaxjax.rules._extra import _check_positive_int

__all__ = [
    "AdaptiveExtragradientPlusState",
    "BiasCorrectedExtragradientPlusState",
    "StochasticExtragradientPlusState",
    "adaptive_extragradient_plus",
    "bias_corrected_extragradient_plus",
    "stochastic_extragradient_plus",
]

# --------------------------------------------------------------------------- helpers


def _scalar_dtype(tree: PyTree) -> jnp.dtype:
    """float64 if any leaf is float64, else float32: the dtype of step sizes."""
    wide = any(jnp.result_type(x) == jnp.float64 for x in jax.tree.leaves(tree))
    return jnp.dtype(jnp.float64 if wide else jnp.float32)


def _vdot(a: PyTree, b: PyTree, dtype: Any) -> jax.Array:
    """``⟨a, b⟩`` over all leaves, accumulated in ``dtype``."""
    return otu.tree_vdot(otu.tree_cast(a, dtype), otu.tree_cast(b, dtype))


def _norm(a: PyTree, dtype: Any) -> jax.Array:
    return otu.tree_norm(otu.tree_cast(a, dtype))


def _check_field(
    field: OpaqueField | None, params: PyTree | None, rule: str
) -> OpaqueField:
    """``field``, once it and ``params`` are known to be given."""
    if field is None:
        raise ValueError(
            f"{rule} evaluates the field at several points inside one iteration, so "
            "it runs in opaque mode only: call update(V(z), state, z, field=lambda "
            "w, phase: V(w)), or drive it with mmx.solve, which passes field= itself."
        )
    if params is None:
        raise ValueError(
            f"{rule} steps from the current iterate z^k, so update needs params: "
            "call update(V(z), state, z, field=...)."
        )
    return field


def _check_in_range(
    value: Any, argument: str, low: float, high: float, *, closed_low: bool = False
) -> None:
    """Check a hyperparameter given as a Python/NumPy number (arrays and tracers,
    e.g. under ``optax.inject_hyperparams``, are taken as given)."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        return
    number = float(value)
    above = number >= low if closed_low else number > low
    if not (above and number < high):
        interval = f"{'[' if closed_low else '('}{low}, {high})"
        raise ValueError(f"{argument} must lie in {interval}, got {value}.")


def _check_rho(rho: Any, rule: str) -> None:
    """``rho`` is None or a real scalar, finite when its value is known (a traced
    value, e.g. under ``optax.inject_hyperparams``, is taken as given)."""
    if rho is None:
        return
    real = isinstance(rho, (Real, np.number, np.ndarray, jax.Array)) and not (
        isinstance(rho, (bool, np.bool_))
    )
    if real:
        dtype = jnp.result_type(rho)
        real = jnp.ndim(rho) == 0 and (
            jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
        )
    if not real:
        raise TypeError(
            f"{rule}: rho must be a real number, a lower bound on the weak-Minty "
            f"constant ρ (or None), got {rho!r} of type {type(rho).__name__}."
        )
    try:
        value = float(rho)
    except jax.errors.ConcretizationTypeError:
        return
    if not math.isfinite(value):
        raise ValueError(
            f"{rule}: rho must be a finite real number (or None to assume nothing "
            f"about ρ), got {rho}."
        )


# ---------------------------------------------------------------- CurvatureEG+


class AdaptiveExtragradientPlusState(NamedTuple):
    """State of :func:`adaptive_extragradient_plus`.

    Attributes:
      num_evaluations: field evaluations made inside ``update`` so far, beyond the
        one at ``z^k`` the caller passes in (int32).
      evaluation_limit: the most evaluations one iteration can make, the one at
        ``z^k`` included: ``max_backtracks + 3`` (int32).
      num_backtracks: step-size halvings of the linesearch so far (int32).
      learning_rate: the extrapolation step γ_k of the last iteration.
      update_ratio: the relaxation step α_k of the last iteration.
    """

    num_evaluations: jax.Array
    evaluation_limit: jax.Array
    num_backtracks: jax.Array
    learning_rate: jax.Array
    update_ratio: jax.Array

    def evaluations(self) -> jax.Array:
        """Field calls made inside ``update`` so far (the
        :class:`~minimaxjax.rules.CountsEvaluations` protocol)."""
        return self.num_evaluations

    def max_evaluations(self) -> jax.Array:
        """The most evaluations one iteration makes (the
        :class:`~minimaxjax.rules.CountsEvaluations` protocol)."""
        return self.evaluation_limit


def adaptive_extragradient_plus(
    *,
    max_learning_rate: jax.typing.ArrayLike = 100.0,
    lipschitz_fraction: jax.typing.ArrayLike = 0.99,
    backtracking_factor: jax.typing.ArrayLike = 0.5,
    sigma_fraction: jax.typing.ArrayLike = 0.99,
    rho: jax.typing.ArrayLike | None = None,
    relaxation: jax.typing.ArrayLike = 1.0,
    power_iterations: int = 20,
    max_backtracks: int = 30,
    projection: Projection | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""CurvatureEG+: EG+ with curvature-adaptive steps, for weak-Minty problems.

    Each iteration estimates the local Lipschitz constant ``‖DV(z^k)‖`` by power
    iteration (Jacobian–vector products only), takes the extrapolation step from
    it, shrinks that step until a local Lipschitz test holds, and relaxes with the
    adaptive step α_k of CEG+. With ``ν = lipschitz_fraction``, ``τ =
    backtracking_factor``, ``λ = relaxation``, ``s = sigma_fraction`` and ``H_k =
    id − γ_k V``:

    .. math::

        γ_k &= τ^{i_k} \min\big(ν / ‖DV(z^k)‖,\ γ_{\max}\big), \quad i_k \text{ the
        least } i \ge 0 \text{ with } γ_k‖V(\bar z^k) - V(z^k)‖ \le ν‖\bar z^k -
        z^k‖, \\
        \bar z^k &= P\big(z^k - γ_k V(z^k)\big), \\
        σ_k &= \max\big(ρ,\ -s γ_k / 2\big) \quad (σ_k = -sγ_k/2 \text{ when
        rho is None}), \\
        α_k &= \frac{σ_k}{γ_k} + \frac{⟨H_k z^k - H_k \bar z^k,\ z^k - \bar z^k⟩}
        {‖H_k z^k - H_k \bar z^k‖^2}, \\
        z^{k+1} &= z^k + λ α_k \big(H_k \bar z^k - H_k z^k\big).

    Without constraints ``H_k z^k − H_k z̄^k = γ_k V(z̄^k)``, so this is EG+ with
    second step ``λα_kγ_k``. The last line is a relaxed projection of ``z^k`` onto
    a half-space that contains every solution when the weak Minty inequality
    ``⟨V(z), z − z*⟩ ≥ ρ‖V(z)‖²`` holds with ``ρ ≥ σ_k``; Pethick et al. allow
    any ``σ_k ∈ (−γ_k/2, ρ]``, so the rule converges for ``ρ > −γ_k/2``. On
    Forsaken, where GDA, EG, EG+ and OGDA with step ``1/L`` end on a limit cycle,
    it reaches ``‖V‖ < 10⁻³`` in a few hundred iterations.

    Without ``rho`` the rule assumes nothing about ρ and takes the conservative
    ``σ_k = −sγ_k/2`` of Pethick et al.'s code, which is slow on
    monotone games: on a rotation (``V(z) = Jz``, ``J² = −I``, so ``γ_k = ν``) it
    gives ``α_k = 1/(1 + ν²) − s/2 ≈ 0.01`` and ``‖z^{k+1}‖/‖z^k‖ ≈ 0.990``.
    Passing a known lower bound ``rho`` on the weak-Minty constant (a game's
    ``weak_mvi_rho``; 0 for monotone games) uses it wherever the theory allows,
    ``σ_k = ρ`` once ``ρ > −sγ_k/2``: with ``ρ = 0`` the same rotation contracts
    by ``1/√(1 + ν²) ≈ 0.71`` per iteration. Below ``−sγ_k/2`` ρ is clipped to
    the conservative choice, which differs from ρ by less than ``(1 − s)γ_k/2``
    when ``ρ > −γ_k/2`` (and the theory gives nothing for ``ρ ≤ −γ_k/2``). On
    Forsaken ``ρ ≈ −1.52`` on the box, so ``σ_k = −sγ_k/2`` unless ``γ_k >
    −2ρ/s ≈ 3.07``, which the steps from the usual start never reach: there its
    ρ changes nothing.

    Opaque mode only: ``update(V(z^k), state, z^k, field=fn)`` runs a whole
    iteration, calling ``fn(w, 0)`` once to linearise the field at ``z^k`` and once
    per linesearch trial. Its state counts these calls (the
    :class:`~minimaxjax.rules.CountsEvaluations` protocol), so
    :func:`minimaxjax.solve` never exceeds its budget of evaluations: it stops
    before an iteration could (one makes at most ``max_backtracks + 3``) and
    reports the evaluations used. Every call passes phase 0, so all evaluations
    of an iteration see the same sample of a stochastic field.

    Args:
      max_learning_rate: γ_max, a cap on the initial guess (where ``DV ≈ 0``).
      lipschitz_fraction: ν ∈ (0, 1): the initial guess is ``ν/‖DV(z^k)‖`` and the
        linesearch accepts ``γ_k L_k ≤ ν`` for the local Lipschitz estimate ``L_k``.
      backtracking_factor: τ ∈ (0, 1), the linesearch shrink factor.
      sigma_fraction: ``s ∈ [0, 1)``: ``σ_k`` is at least ``−sγ_k/2``; values
        near 1 allow ``ρ`` down to ``−γ_k/2``, ``0`` assumes a monotone problem.
      rho: a lower bound ρ on the weak-Minty constant, a finite real number, or
        None (the default: ``σ_k = −sγ_k/2``). ``σ_k = max(ρ, −sγ_k/2)``; pass
        ``0`` for monotone games, ``game.weak_mvi_rho`` for a zoo game.
      relaxation: λ ∈ (0, 2), the relaxation of the projection step.
      power_iterations: power-iteration steps for ``‖DV(z^k)‖``.
      max_backtracks: linesearch trials beyond the first; the last trial is used
        if none passes.
      projection: optional projection ``P`` onto the constraint set, applied to
        ``z̄^k`` (the iterates ``z^k`` themselves need not be feasible).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`AdaptiveExtragradientPlusState`.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> phi = lambda u: u**2 / 4 - u**4 / 2 + u**6 / 6
      >>> V = mmx.field(lambda x, y: x * (y - 0.45) + phi(x) - phi(y))   # Forsaken
      >>> opt = mmx.adaptive_extragradient_plus(
      ...     projection=mmx.constraints.box(-1.5, 1.5))
      >>> z0 = (jnp.array(1.0), jnp.array(-0.8))
      >>> sol = mmx.solve(V, z0, opt, 2000, tol=1e-3)   # 2000 evaluations at most
      >>> mmx.status_message(sol.status)
      'converged: ‖V(z)‖ <= tol'
      >>> [round(float(v), 2) for v in sol.params]
      [0.08, 0.41]

      On a monotone game, ``rho=0`` takes the long steps the theory allows:

      >>> B = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(1.0))
      >>> for rho in (None, 0.0):
      ...   opt = mmx.adaptive_extragradient_plus(rho=rho)
      ...   sol = mmx.solve(B, z0, opt, 6000, tol=1e-6)
      ...   print(rho, int(sol.stats["num_iterations"]))
      None 1442
      0.0 42

    References:
      Pethick, Latafat, Patrinos, Fercoq & Cevher, *Escaping limit cycles: Global
      convergence for constrained nonconvex-nonconcave minimax problems*, ICLR
      2022 (Algorithm 1, CEG+ with the adaptive α_k, and its CurvatureEG+
      linesearch), https://openreview.net/forum?id=2_vhkAMARk; reference code
      https://github.com/LIONS-EPFL/weak-minty-code.
    """
    power_iterations = _check_positive_int(power_iterations, "power_iterations")
    if isinstance(max_backtracks, bool) or not isinstance(max_backtracks, int):
        raise TypeError(f"max_backtracks must be an int >= 0, got {max_backtracks!r}.")
    if max_backtracks < 0:
        raise ValueError(f"max_backtracks must be an int >= 0, got {max_backtracks}.")
    _check_in_range(max_learning_rate, "max_learning_rate", 0.0, float("inf"))
    _check_in_range(lipschitz_fraction, "lipschitz_fraction", 0.0, 1.0)
    _check_in_range(backtracking_factor, "backtracking_factor", 0.0, 1.0)
    _check_in_range(sigma_fraction, "sigma_fraction", 0.0, 1.0, closed_low=True)
    _check_rho(rho, "adaptive_extragradient_plus")
    _check_in_range(relaxation, "relaxation", 0.0, 2.0)
    if projection is not None and not callable(projection):
        raise TypeError(
            f"projection must be callable or None, got {type(projection).__name__}."
        )
    project = projection if projection is not None else (lambda z: z)

    def init_fn(params: PyTree) -> AdaptiveExtragradientPlusState:
        dtype = _scalar_dtype(params)
        return AdaptiveExtragradientPlusState(
            num_evaluations=jnp.zeros([], jnp.int32),
            # z^k, the linearisation, and up to max_backtracks + 1 trials.
            evaluation_limit=jnp.asarray(max_backtracks + 3, jnp.int32),
            num_backtracks=jnp.zeros([], jnp.int32),
            learning_rate=jnp.zeros([], dtype),
            update_ratio=jnp.zeros([], dtype),
        )

    def update_fn(
        updates: PyTree,
        state: AdaptiveExtragradientPlusState,
        params: PyTree | None = None,
        *,
        field: OpaqueField | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, AdaptiveExtragradientPlusState]:
        del extra_args
        field = _check_field(field, params, "adaptive_extragradient_plus")
        dtype = _scalar_dtype(params)
        z, g = params, updates
        nu = jnp.asarray(lipschitz_fraction, dtype)

        # Local curvature: linearise once (one field call), then power-iterate on
        # the linear map; no dense Jacobian and no further field calls.
        _, tangent = jax.linearize(lambda w: field(w, 0), z)
        z_wide = otu.tree_cast(z, dtype)
        leaf_dtypes = jax.tree.map(lambda a: jnp.result_type(a), z)

        def linear(w: PyTree) -> PyTree:
            offset = jax.tree.map(
                lambda a, b, d: (a - b).astype(d), w, z_wide, leaf_dtypes
            )
            return otu.tree_cast(tangent(offset), dtype)

        curvature = jacobian_operator_norm(
            linear, z_wide, num_iterations=power_iterations
        )
        initial = jnp.minimum(
            nu / jnp.maximum(curvature, jnp.finfo(dtype).tiny),
            jnp.asarray(max_learning_rate, dtype),
        )

        def trial(gamma: jax.Array) -> tuple[PyTree, PyTree, jax.Array]:
            target = project(tree_axpy(-gamma, g, z))
            value = field(target, 0)
            lhs = gamma * _norm(tree_sub(value, g), dtype)
            rhs = nu * _norm(tree_sub(target, z), dtype)
            # On fields whose Jacobian has one singular value the initial guess
            # meets the test with equality; rounding must not reject it.
            slack = 1 + 1024 * jnp.finfo(dtype).eps
            return target, value, lhs <= rhs * slack

        def backtrack(carry: tuple[Any, ...]) -> tuple[Any, ...]:
            gamma, _, _, _, trials = carry
            gamma = gamma * jnp.asarray(backtracking_factor, dtype)
            return (gamma, *trial(gamma), trials + 1)

        def keep_going(carry: tuple[Any, ...]) -> jax.Array:
            _, _, _, accepted, trials = carry
            return ~accepted & (trials <= max_backtracks)

        carry = (initial, *trial(initial), jnp.ones([], jnp.int32))
        gamma, z_bar, v_bar, _, trials = jax.lax.while_loop(
            keep_going, backtrack, carry
        )

        # CEG+ relaxation: d = H z − H z̄ = (z − z̄) − γ(V(z) − V(z̄)).
        gap = jax.tree.map(lambda a, b: a.astype(dtype) - b.astype(dtype), z, z_bar)
        d = jax.tree.map(
            lambda s, u, v: s - gamma * (u.astype(dtype) - v.astype(dtype)),
            gap,
            g,
            v_bar,
        )
        d_squared = _vdot(d, d, dtype)
        # σ_k/γ_k = max(ρ, −sγ_k/2)/γ_k, with γ_k > 0.
        sigma_over_gamma = -jnp.asarray(sigma_fraction, dtype) / 2
        if rho is not None:
            sigma_over_gamma = jnp.maximum(
                jnp.asarray(rho, dtype) / gamma, sigma_over_gamma
            )
        alpha = sigma_over_gamma + _vdot(d, gap, dtype) / jnp.where(
            d_squared > 0, d_squared, 1
        )
        # d = 0 only at a solution (z̄ = z): stay put.
        alpha = jnp.where(d_squared > 0, alpha, 0)
        step = -jnp.asarray(relaxation, dtype) * alpha
        new_updates = jax.tree.map(lambda a, u: (step * u).astype(a.dtype), z, d)
        new_state = AdaptiveExtragradientPlusState(
            num_evaluations=state.num_evaluations + 1 + trials,
            evaluation_limit=state.evaluation_limit,
            num_backtracks=state.num_backtracks + trials - 1,
            learning_rate=gamma.astype(state.learning_rate.dtype),
            update_ratio=alpha.astype(state.update_ratio.dtype),
        )
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# ------------------------------------------------------------- SEG+ and BC-SEG+


class StochasticExtragradientPlusState(NamedTuple):
    """State of :func:`stochastic_extragradient_plus`.

    Attributes:
      count: iterations made, ``k`` (int32); ``update_ratio`` schedules read it.
    """

    # Shadows tuple.count, as the count fields of optax's states do.
    count: jax.Array  # type: ignore[assignment]


class BiasCorrectedExtragradientPlusState(NamedTuple):
    """State of :func:`bias_corrected_extragradient_plus`.

    Attributes:
      count: iterations made, ``k`` (int32).
      previous_iterate: ``z^{k−1}`` (``z^0`` before the first iteration).
      previous_estimate: ``h^{k−1}``, the corrected estimate of ``z^{k−1} −
        γV(z^{k−1})`` (``z^0`` before the first iteration).
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count
    previous_iterate: optax.Params
    previous_estimate: optax.Params


def _check_fixed_learning_rate(learning_rate: Any, rule: str) -> None:
    if callable(learning_rate) or isinstance(learning_rate, (tuple, list, Mapping)):
        raise TypeError(
            f"{rule}: learning_rate γ must be a scalar (the extrapolation step stays "
            "fixed; only update_ratio diminishes), got "
            f"{type(learning_rate).__name__}."
        )
    if jnp.ndim(learning_rate) != 0:
        raise TypeError(
            f"{rule}: learning_rate γ must be a scalar, got shape "
            f"{jnp.shape(learning_rate)}."
        )
    _check_in_range(learning_rate, "learning_rate", 0.0, float("inf"))


def _check_step_exceeds_minus_two_rho(learning_rate: Any, rho: Any, rule: str) -> None:
    """γ > −2ρ, the step condition of Pethick et al. (2023), when both are known."""
    _check_rho(rho, rule)
    if rho is None:
        return
    try:
        gamma, bound = float(learning_rate), -2 * float(rho)
    except jax.errors.ConcretizationTypeError:
        return
    if not gamma > bound:
        raise ValueError(
            f"{rule}: learning_rate γ = {gamma} must exceed −2ρ = {bound} for "
            f"rho = {float(rho)}: the extrapolation step of the weak-Minty analysis "
            "lies in (max(−2ρ, 0), 1/L). Raise learning_rate (keeping γL < 1)."
        )


def _stochastic_extragradient_plus(
    learning_rate: jax.typing.ArrayLike,
    update_ratio: optax.ScalarOrSchedule,
    projection: Projection | None,
    rho: jax.typing.ArrayLike | None,
    *,
    bias_corrected: bool,
    rule: str,
) -> optax.GradientTransformationExtraArgs:
    """SEG+ and BC-SEG+: the same two steps, BC-SEG+ adding one correction."""
    _check_fixed_learning_rate(learning_rate, rule)
    _check_step_exceeds_minus_two_rho(learning_rate, rho, rule)
    if not callable(update_ratio):
        if jnp.ndim(update_ratio) != 0:
            raise TypeError(
                f"{rule}: update_ratio must be a scalar or a schedule of the "
                f"iteration count, got shape {jnp.shape(update_ratio)}."
            )
        _check_in_range(update_ratio, "update_ratio", 0.0, float("inf"))
    if projection is not None and not callable(projection):
        raise TypeError(
            f"projection must be callable or None, got {type(projection).__name__}."
        )
    project = projection if projection is not None else (lambda z: z)
    gamma: Any = learning_rate  # a float, or an array under inject_hyperparams

    def init_fn(params: PyTree) -> Any:
        count = jnp.zeros([], jnp.int32)
        if not bias_corrected:
            return StochasticExtragradientPlusState(count)
        start = jax.tree.map(jnp.asarray, params)
        return BiasCorrectedExtragradientPlusState(count, start, start)

    def update_fn(
        updates: PyTree,
        state: Any,
        params: PyTree | None = None,
        *,
        field: OpaqueField | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, Any]:
        del extra_args
        field = _check_field(field, params, rule)
        alpha = update_ratio(state.count) if callable(update_ratio) else update_ratio
        # h^k estimates H z^k = z^k − γV(z^k); SEG+ takes the sample as it is.
        estimate = tree_axpy(-gamma, updates, params)
        if bias_corrected:
            # Same sample ξ_k (phase 0) at z^{k−1}: the correction has mean
            # (1 − α_k)(h^{k−1} − H z^{k−1}), a recursive bias/variance reduction.
            previous_value = field(state.previous_iterate, 0)
            correction = jax.tree.map(
                lambda h, z, v: h - z + jnp.asarray(gamma, v.dtype) * v,
                state.previous_estimate,
                state.previous_iterate,
                previous_value,
            )
            estimate = tree_axpy(1 - jnp.asarray(alpha), correction, estimate)
        z_bar = project(estimate)
        value = field(z_bar, 1)  # a fresh sample ξ̄_k
        # z^{k+1} = z^k − α_k(h^k − z̄^k + γV(z̄^k, ξ̄_k)) = z^k + α_k(H z̄^k − h^k).
        residual = jax.tree.map(
            lambda h, b, v: h - b + jnp.asarray(gamma, v.dtype) * v,
            estimate,
            z_bar,
            value,
        )
        new_updates = tree_scale(-jnp.asarray(alpha), residual, residual)
        count = state.count + 1
        if not bias_corrected:
            return new_updates, StochasticExtragradientPlusState(count)
        return new_updates, BiasCorrectedExtragradientPlusState(count, params, estimate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def stochastic_extragradient_plus(
    learning_rate: jax.typing.ArrayLike,
    update_ratio: optax.ScalarOrSchedule,
    *,
    projection: Projection | None = None,
    rho: jax.typing.ArrayLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""SEG+: stochastic EG+ with a fixed extrapolation step and a diminishing update.

    With ``γ = learning_rate`` fixed, ``α_k = update_ratio(k)`` (or a constant),
    fresh samples ξ_k, ξ̄_k and ``h^k = z^k − γV(z^k, ξ_k)``:

    .. math::

        \bar z^k = P(h^k), \qquad
        z^{k+1} = z^k - α_k\big(h^k - \bar z^k + γ V(\bar z^k, \bar ξ_k)\big),

    which without constraints is ``z^{k+1} = z^k − α_kγV(z̄^k, ξ̄_k)``: EG+ with a
    second step ``α_kγ``. Only α_k diminishes, so the extrapolation keeps the
    step ``γ > −2ρ`` that weak-Minty problems need while the noise of the update
    is averaged out. ``update_ratio = 1`` is stochastic extragradient.

    The weak-Minty constant ρ enters Pethick et al.'s conditions through the
    fixed step, ``γ ∈ (max(−2ρ, 0), 1/L)``; the update itself has no place for
    it. Given ``rho``, the rule checks ``learning_rate > −2 rho`` when both are
    known numbers (traced values, e.g. under ``optax.inject_hyperparams``, are
    taken as given).

    Opaque mode only (two field evaluations per iteration): ``update(V(z^k, ξ_k),
    state, z^k, field=fn)`` calls ``fn(z̄^k, 1)``; under :func:`minimaxjax.solve`
    with ``key=`` each evaluation gets a fresh key.

    Args:
      learning_rate: the fixed extrapolation step γ (a scalar).
      update_ratio: α_k, a scalar or a schedule of the iteration count ``k``
        (e.g. ``lambda k: 0.5 / (1 + k / 100)``); diminishing with
        ``Σα_k = ∞``, ``Σα_k² < ∞`` for convergence with noise.
      projection: optional projection ``P`` applied to ``z̄^k`` (pass it here
        rather than to ``solve``: ``z^{k+1}`` is deliberately not projected).
      rho: optional lower bound ρ on the weak-Minty constant, a finite real
        number. It does not enter the update; given it, the rule checks
        ``γ > −2ρ`` (see above).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`StochasticExtragradientPlusState`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y + 0.1 * x**2 - 0.1 * y**2)
      >>> def noisy(z, key):                     # additive Gaussian noise
      ...   noise = 0.1 * jax.random.normal(key, (2,))
      ...   return tuple(v + n for v, n in zip(V(z), noise))
      >>> opt = mmx.stochastic_extragradient_plus(0.5, lambda k: 1 / (1 + k / 50))
      >>> z0 = (jnp.array(1.0), jnp.array(1.0))
      >>> sol = mmx.solve(noisy, z0, opt, 4000, key=jax.random.key(0))
      >>> bool(jnp.hypot(*sol.params) < 0.05)
      True

    References:
      Pethick, Fercoq, Latafat, Patrinos & Cevher, *Solving stochastic weak Minty
      variational inequalities without increasing batch size*, ICLR 2023 (the
      SEG+ scheme), https://openreview.net/forum?id=ejR4E1jaH9k; reference code
      https://github.com/LIONS-EPFL/stochastic-weak-minty-code.
    """
    return _stochastic_extragradient_plus(
        learning_rate,
        update_ratio,
        projection,
        rho,
        bias_corrected=False,
        rule="stochastic_extragradient_plus",
    )


def bias_corrected_extragradient_plus(
    learning_rate: jax.typing.ArrayLike,
    update_ratio: optax.ScalarOrSchedule,
    *,
    projection: Projection | None = None,
    rho: jax.typing.ArrayLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""BC-SEG+: SEG+ whose extrapolation is bias-corrected with one extra sample.

    With ``γ = learning_rate`` fixed, ``α_k = update_ratio(k)``, samples ξ_k and a
    fresh ξ̄_k, and ``z^{−1} = h^{−1} = z^0``:

    .. math::

        h^k &= z^k - γV(z^k, ξ_k)
               + (1 - α_k)\big(h^{k-1} - z^{k-1} + γ V(z^{k-1}, ξ_k)\big), \\
        \bar z^k &= P(h^k), \qquad
        z^{k+1} = z^k - α_k\big(h^k - \bar z^k + γ V(\bar z^k, \bar ξ_k)\big).

    ``h^k`` is a recursive estimate of ``z^k − γV(z^k)`` whose error shrinks by
    ``1 − α_k`` each iteration, evaluated with the *same* sample ξ_k at ``z^k`` and
    ``z^{k−1}``: the extrapolated point stops being a noisy, biased guess, which is
    what lets BC-SEG+ converge on weak-Minty problems (``ρ > −γ/2``) with a
    diminishing α_k and a constant batch size. Without constraints ``z^{k+1} = z^k
    − α_kγV(z̄^k, ξ̄_k)``; on a deterministic field with ``α_0 = 1`` it is
    SEG+ step for step.

    The weak-Minty constant ρ enters Pethick et al.'s conditions through the
    fixed step, ``γ ∈ (max(−2ρ, 0), 1/L)``; the update itself has no place for
    it. Given ``rho``, the rule checks ``learning_rate > −2 rho`` when both are
    known numbers (traced values, e.g. under ``optax.inject_hyperparams``, are
    taken as given).

    Opaque mode only, three field evaluations per iteration: ``update(V(z^k, ξ_k),
    state, z^k, field=fn)`` calls ``fn(z^{k−1}, 0)`` (phase 0: the caller's sample
    ξ_k; :func:`minimaxjax.solve` gives phase 0 the key of ``V(z^k)``) and
    ``fn(z̄^k, 1)`` (a fresh sample).

    Args:
      learning_rate: the fixed extrapolation step γ (a scalar).
      update_ratio: α_k ∈ (0, 1], a scalar or a schedule of the iteration count
        ``k``, diminishing with ``Σα_k = ∞``, ``Σα_k² < ∞``.
      projection: optional projection ``P`` applied to ``z̄^k``.
      rho: optional lower bound ρ on the weak-Minty constant, a finite real
        number. It does not enter the update; given it, the rule checks
        ``γ > −2ρ`` (see above).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`BiasCorrectedExtragradientPlusState`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y + 0.1 * x**2 - 0.1 * y**2)
      >>> def noisy(z, key):
      ...   noise = 0.1 * jax.random.normal(key, (2,))
      ...   return tuple(v + n for v, n in zip(V(z), noise))
      >>> opt = mmx.bias_corrected_extragradient_plus(
      ...     0.5, lambda k: 1 / (1 + k / 50))
      >>> z0 = (jnp.array(1.0), jnp.array(1.0))
      >>> sol = mmx.solve(noisy, z0, opt, 6000, key=jax.random.key(0))
      >>> bool(jnp.hypot(*sol.params) < 0.05)
      True

    References:
      Pethick, Fercoq, Latafat, Patrinos & Cevher, *Solving stochastic weak Minty
      variational inequalities without increasing batch size*, ICLR 2023
      (Algorithm 1, BC-SEG+, and its projected variant),
      https://openreview.net/forum?id=ejR4E1jaH9k; reference code
      https://github.com/LIONS-EPFL/stochastic-weak-minty-code.
    """
    return _stochastic_extragradient_plus(
        learning_rate,
        update_ratio,
        projection,
        rho,
        bias_corrected=True,
        rule="bias_corrected_extragradient_plus",
    )
