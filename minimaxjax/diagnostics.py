"""Diagnostics for game dynamics: local stability, limit cycles, weak-Minty constants.

Three questions a user asks when a minimax run misbehaves, each answered here:

* **Is the critical point stable for this rule and step size?** Linearise one
  iteration of the rule at ``z*`` (:func:`update_map`, generically, from the rule's
  own code; :func:`linear_update_map`, from the closed forms) and read the spectral
  radius (:func:`stability`).
* **What did the run end on?** :func:`detect_cycle` tells a converged run from a
  diverged one and from a limit cycle, with its period and amplitude, and says
  whether the attractor holds a critical point at all (the spurious attractors of
  Hsieh, Mertikopoulos & Cevher, ICML 2021).
* **What problem class is this?** :func:`lipschitz_estimate` and
  :func:`weak_minty_rho` sample ``L`` and the weak-MVI constant ``ρ`` on a box.

Everything here is eager analysis of small games (dense Jacobians, NumPy
eigenvalues); only :func:`jacobian` and :func:`trajectory` are traceable.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._tree import PyTree, check_field_output, players, tree_norm
from minimaxjax.rules import iterate
from minimaxjax.solve import Solution, Status

__all__ = [
    "CycleReport",
    "Outcome",
    "SampleEstimate",
    "Stability",
    "Trajectory",
    "Verdict",
    "detect_cycle",
    "jacobian",
    "linear_update_map",
    "lipschitz_estimate",
    "spectral_radius",
    "stability",
    "trajectory",
    "update_map",
    "weak_minty_rho",
]

Field = Callable[..., PyTree]
Domain = Any  # ((lo_x, hi_x), (lo_y, hi_y)) like Game.bounds, or sampler(key, n)


# --------------------------------------------------------------------------------
# Flattening (leaves in jax.tree order, each raveled; like ravel_pytree, but casting
# to one dtype explicitly so strict dtype promotion never trips).


def _common_dtype(leaves: Sequence[Any]) -> Any:
    wide = any(jnp.result_type(x) == jnp.float64 for x in leaves)
    return jnp.float64 if wide else jnp.float32


def _flatten(leaves: Sequence[Any], dtype: Any) -> jax.Array:
    if not leaves:
        return jnp.zeros((0,), dtype)
    return jnp.concatenate([jnp.ravel(jnp.asarray(x)).astype(dtype) for x in leaves])


def _unflatten(vector: jax.Array, templates: Sequence[Any]) -> list[jax.Array]:
    out, start = [], 0
    for t in templates:
        size = int(np.prod(jnp.shape(t), dtype=np.int64))
        piece = vector[start : start + size].reshape(jnp.shape(t))
        out.append(piece.astype(jnp.result_type(t)))
        start += size
    return out


def _is_float(x: Any) -> bool:
    return bool(jnp.issubdtype(jnp.result_type(x), jnp.inexact))


def _check_callable(value: Any, argument: str) -> None:
    if not callable(value):
        raise TypeError(f"{argument} must be callable, got {type(value).__name__}.")


def _check_optimizer(value: Any, argument: str) -> None:
    if not isinstance(value, optax.GradientTransformation):
        raise TypeError(
            f"{argument} must be an optax GradientTransformation (e.g. "
            f"mmx.extragradient(0.1)), got {type(value).__name__}."
        )


# --------------------------------------------------------------------------------
# (a) Local stability.


def jacobian(field: Field, z: PyTree, *args: Any) -> jax.Array:
    r"""The dense Jacobian ``DV(z)`` of a field, over the flattened ``z``.

    .. math::

        DV(z)_{ij} = \frac{\partial V_i}{\partial z_j}(z),

    with ``z`` flattened leaf by leaf in ``jax.tree`` order (for ``z = (x, y)``:
    the entries of ``x``, then those of ``y``). At a critical point ``z*`` its
    eigenvalues decide the local behaviour of every rule (:func:`stability`). Forward
    mode, one pass per coordinate: meant for small games.

    Args:
      field: ``V(z, *args)``, e.g. from :func:`minimaxjax.field`.
      z: the point.
      *args: extra arguments of the field.

    Returns:
      A ``(d, d)`` array, ``d`` the number of entries of ``z``.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> mmx.diagnostics.jacobian(V, (jnp.array(0.0), jnp.array(0.0))).tolist()
      [[0.0, 1.0], [-1.0, 0.0]]

    References:
      Gidel et al., *Negative Momentum for Improved Game Dynamics*, AISTATS 2019,
      https://arxiv.org/abs/1807.04740 (spectral analysis of game dynamics).
    """
    _check_callable(field, "field")
    z = jax.tree.map(jnp.asarray, z)
    leaves, treedef = jax.tree.flatten(z)
    dtype = _common_dtype(leaves)
    check_field_output(jax.eval_shape(lambda w: field(w, *args), z), z, "z")

    def flat_field(vector: jax.Array) -> jax.Array:
        value = field(jax.tree.unflatten(treedef, _unflatten(vector, leaves)), *args)
        return _flatten(jax.tree.leaves(value), dtype)

    return jax.jit(jax.jacfwd(flat_field))(_flatten(leaves, dtype))


def _count_evaluations(opt: optax.GradientTransformationExtraArgs, z: PyTree) -> int:
    """Field evaluations one opaque-mode iteration makes (traced, not computed)."""
    calls: list[int] = []

    def counting(w: PyTree, phase: int) -> PyTree:
        calls.append(phase)
        return w

    state = opt.init(z)
    jax.eval_shape(lambda g, s, p: opt.update(g, s, p, field=counting), z, state, z)
    return 1 + len(calls)


def _one_iteration(
    opt: optax.GradientTransformationExtraArgs,
    field: Field,
    args: tuple[Any, ...],
) -> Callable[[PyTree, optax.OptState], tuple[PyTree, optax.OptState]]:
    def step(z: PyTree, state: optax.OptState) -> tuple[PyTree, optax.OptState]:
        updates, state = opt.update(
            field(z, *args), state, z, field=lambda w, phase: field(w, *args)
        )
        return optax.apply_updates(z, updates), state

    return step


def _reduce(matrix: np.ndarray, num_params: int) -> np.ndarray:
    """Drop state coordinates that carry no dynamics (see :func:`update_map`)."""
    keep = np.ones(matrix.shape[0], dtype=bool)
    changed = True
    while changed:
        changed = False
        idx = np.flatnonzero(keep)
        sub = matrix[np.ix_(idx, idx)]
        for position, i in enumerate(idx):
            if i < num_params:
                continue
            unit = np.zeros(len(idx))
            unit[position] = 1.0
            if not np.any(sub[:, position]) or np.array_equal(sub[position], unit):
                keep[i] = False
                changed = True
                break
    idx = np.flatnonzero(keep)
    return matrix[np.ix_(idx, idx)]


def update_map(
    optimizer: optax.GradientTransformation,
    field: Field,
    z_star: PyTree,
    *,
    args: tuple[Any, ...] = (),
    state: optax.OptState | None = None,
    warmup: int = 1,
    reduce: bool = True,
) -> np.ndarray:
    r"""The Jacobian of one iteration of a rule at a fixed point, from the rule's code.

    One opaque-mode iteration ``update(V(z), state, z, field=…)`` maps the
    dynamical state ``s = (z, m)`` (params ``z`` and the floating-point leaves ``m``
    of the optimizer state: OGDA's previous field value, the reflected rule's last
    iterate, Adam's moments) to its successor ``T(s)``. This returns

    .. math::

        DT(s^\star), \qquad s^\star = (z^\star, m^\star),

    computed with ``jax.jacfwd`` through the real update, so it checks the code,
    not a formula. Near ``s*`` the run follows ``s^{k+1} − s* ≈ DT(s*)(s^k − s*)``;
    its spectral radius (:func:`spectral_radius`) is the local linear rate per
    iteration. For rules linear in the field (GDA, EG, EG+, PPM, OGDA, RFBS,
    alternating GDA) ``DT`` depends on ``V`` only through ``J = DV(z*)`` and equals
    :func:`linear_update_map` (OGDA and RFBS up to a change of coordinates: same
    eigenvalues). For nonlinear rules it is the exact first-order expansion of the
    map; Adam-type rules are not differentiable where the field vanishes (their
    second moment is zero there), so their linearisation at a critical point is
    NaN.

    ``m*`` is the state the rule has at the fixed point: ``opt.init(z*)`` (or
    ``state``) advanced by ``warmup`` iterations with params held at ``z*``, which
    clears first-step conventions such as optax's OGDA using ``V(z^{−1}) := V(z^0)``.
    Integer leaves (step counts) are held fixed; a schedule is linearised at the
    step it has reached.

    Args:
      optimizer: the rule, an optax transformation (e.g. ``mmx.extragradient(0.1)``).
      field: ``V(z, *args)``.
      z_star: the fixed point (a critical point of the field).
      args: extra arguments of the field.
      state: optimizer state to linearise at (default ``optimizer.init(z_star)``).
      warmup: iterations run at ``z_star`` before linearising.
      reduce: drop state coordinates without dynamics: those nothing depends on
        (adding only zero eigenvalues) and those the iteration carries unchanged
        (the anchor of an extragradient rule, which an opaque iteration does not
        read, and hyperparameters of ``optax.inject_hyperparams``, adding only
        eigenvalues 1). Params are always kept.

    Returns:
      A square float64 NumPy array over the flattened params (first, in the order
      of :func:`jacobian`) and the kept state coordinates.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z_star = (jnp.array(0.0), jnp.array(0.0))
      >>> mmx.diagnostics.update_map(mmx.gda(0.5), V, z_star).tolist()
      [[1.0, -0.5], [0.5, 1.0]]

    References:
      Gidel et al., *A Variational Inequality Perspective on Generative Adversarial
      Networks*, ICLR 2019, https://arxiv.org/abs/1802.10551. Daskalakis &
      Panageas, *The Limit Points of (Optimistic) Gradient Descent in Min-Max
      Optimization*, NeurIPS 2018, https://arxiv.org/abs/1807.03907.
    """
    _check_optimizer(optimizer, "optimizer")
    _check_callable(field, "field")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}.")
    opt = optax.with_extra_args_support(optimizer)
    z = jax.tree.map(jnp.asarray, z_star)
    check_field_output(jax.eval_shape(lambda w: field(w, *args), z), z, "z")
    step = _one_iteration(opt, field, args)
    if state is None:
        state = opt.init(z)
    z_leaves, z_def = jax.tree.flatten(z)
    s_def = jax.tree.structure(state)
    dynamic = [i for i, x in enumerate(jax.tree.leaves(state)) if _is_float(x)]
    num_params = sum(int(np.size(x)) for x in z_leaves)

    # One compiled program for warm-up and Jacobian: cheaper than op-by-op dispatch.
    @jax.jit
    def linearise(z: PyTree, state: optax.OptState) -> jax.Array:
        for _ in range(warmup):
            _, state = step(z, state)
        s_leaves = jax.tree.leaves(state)
        memory = [s_leaves[i] for i in dynamic]
        dtype = _common_dtype(z_leaves + memory)

        def flat_step(vector: jax.Array) -> jax.Array:
            params = jax.tree.unflatten(
                z_def, _unflatten(vector[:num_params], z_leaves)
            )
            leaves = list(s_leaves)
            for i, value in zip(
                dynamic, _unflatten(vector[num_params:], memory), strict=True
            ):
                leaves[i] = value
            new_params, new_state = step(params, jax.tree.unflatten(s_def, leaves))
            new_leaves = jax.tree.leaves(new_state)
            return jnp.concatenate(
                [
                    _flatten(jax.tree.leaves(new_params), dtype),
                    _flatten([new_leaves[i] for i in dynamic], dtype),
                ]
            )

        start = jnp.concatenate([_flatten(z_leaves, dtype), _flatten(memory, dtype)])
        return jax.jacfwd(flat_step)(start)

    matrix = np.asarray(linearise(z, state), dtype=np.float64)
    return _reduce(matrix, num_params) if reduce else matrix


_LINEAR_RULES = (
    "gda",
    "alternating_gda",
    "proximal_point",
    "extragradient",
    "extragradient_plus",
    "optimistic_gda",
    "reflected_gda",
)


def linear_update_map(
    rule: str,
    jac: Any,
    learning_rate: float | Sequence[float],
    *,
    player_sizes: Sequence[int] | None = None,
    inner_steps: int | None = 10,
    update_ratio: float = 0.5,
) -> np.ndarray:
    r"""The closed-form linearised iteration of a rule, from ``J = DV(z*)`` and α.

    With ``A = ΛJ`` (``Λ = αI``, or the per-player step sizes on the diagonal) and
    ``E_i`` the projection on player ``i``'s coordinates:

    ================================  ============================================
    ``"gda"``                         ``I − A``
    ``"extragradient"``               ``I − A + A²``
    ``"extragradient_plus"``          ``I − βA + βA²`` (β = ``update_ratio``)
    ``"proximal_point"``              ``Σ_{j=0}^{K} (−A)^j``; ``(I + A)^{−1}`` for
                                      ``inner_steps=None`` (the exact step)
    ``"optimistic_gda"``,             ``[[I − 2A, A], [I, 0]]`` on ``(z^k, z^{k−1})``
    ``"reflected_gda"``               (the two coincide on linear fields)
    ``"alternating_gda"``             ``(I − α_n E_n J) ⋯ (I − α_1 E_1 J)``
                                      (Gauss–Seidel: player 1 moves first)
    ================================  ============================================

    On ``Φ = xy`` (``J² = −I``) the spectral radii are ``√(1 + α²)`` (GDA),
    ``√(1 − α² + α⁴)`` (EG), ``1/√(1 + α²)`` (exact PPM) and 1 (alternating GDA,
    ``α < 2``).

    Args:
      rule: one of ``"gda"``, ``"alternating_gda"``, ``"proximal_point"``,
        ``"extragradient"``, ``"extragradient_plus"``, ``"optimistic_gda"``,
        ``"reflected_gda"`` (the names of the minimaxjax rules).
      jac: the ``(d, d)`` Jacobian ``DV(z*)`` (:func:`jacobian`).
      learning_rate: α, or one step size per player (needs ``player_sizes``).
      player_sizes: the number of coordinates of each player, in order (needed
        for per-player step sizes and ``"alternating_gda"``).
      inner_steps: ``K`` for ``"proximal_point"`` (None: the exact resolvent).
      update_ratio: β for ``"extragradient_plus"``.

    Returns:
      A float64 NumPy array, ``(d, d)``, or ``(2d, 2d)`` for the two-step rules.

    Example:
      >>> import numpy as np
      >>> import minimaxjax as mmx
      >>> J = np.array([[0.0, 1.0], [-1.0, 0.0]])            # Φ = xy
      >>> M = mmx.diagnostics.linear_update_map("extragradient", J, 0.5)
      >>> round(mmx.diagnostics.spectral_radius(M), 6)       # √(1 − α² + α⁴)
      0.901388

    References:
      Gidel et al., *A Variational Inequality Perspective on Generative Adversarial
      Networks*, ICLR 2019, https://arxiv.org/abs/1802.10551. Daskalakis &
      Panageas, NeurIPS 2018, https://arxiv.org/abs/1807.03907.
    """
    if rule not in _LINEAR_RULES:
        raise ValueError(f"rule must be one of {list(_LINEAR_RULES)}, got {rule!r}.")
    J = np.asarray(jac, dtype=np.float64)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"jac must be a square 2-D matrix, got shape {J.shape}.")
    d = J.shape[0]
    if player_sizes is not None:
        sizes = [int(s) for s in player_sizes]
        if sum(sizes) != d or any(s < 1 for s in sizes):
            raise ValueError(
                f"player_sizes must be positive and sum to the size of jac ({d}), "
                f"got {list(player_sizes)}."
            )
    else:
        sizes = None
    if isinstance(learning_rate, (tuple, list)):
        if sizes is None or len(sizes) != len(learning_rate):
            raise ValueError(
                "a per-player learning_rate needs player_sizes with one entry per "
                f"player; got {len(learning_rate)} step sizes and player_sizes="
                f"{player_sizes!r}."
            )
        rates = [float(a) for a in learning_rate]
    else:
        rates = [float(cast(float, learning_rate))] * (len(sizes) if sizes else 1)
    diagonal = np.repeat(rates, sizes) if sizes else np.full(d, rates[0])
    A = diagonal[:, None] * J
    eye = np.eye(d)
    if rule == "gda":
        return eye - A
    if rule == "extragradient":
        return eye - A + A @ A
    if rule == "extragradient_plus":
        return eye - update_ratio * A + update_ratio * (A @ A)
    if rule == "proximal_point":
        if inner_steps is None:
            return np.linalg.solve(eye + A, eye)
        if isinstance(inner_steps, bool) or inner_steps < 1:
            raise ValueError(
                f"inner_steps must be a positive int or None, got {inner_steps!r}."
            )
        total, power = eye.copy(), eye.copy()
        for _ in range(inner_steps):
            power = -A @ power
            total = total + power
        return total
    if rule in ("optimistic_gda", "reflected_gda"):
        return np.block([[eye - 2 * A, A], [eye, np.zeros((d, d))]])
    # alternating_gda
    if sizes is None:
        raise ValueError(
            "alternating_gda needs player_sizes (the order in which players move)."
        )
    M, start = eye, 0
    for size, rate in zip(sizes, rates, strict=True):
        E = np.zeros((d, d))
        E[start : start + size, start : start + size] = np.eye(size)
        M = (eye - rate * E @ J) @ M
        start += size
    return M


def spectral_radius(matrix: Any) -> float:
    r"""The largest eigenvalue modulus of a square matrix.

    .. math::

        ρ(M) = \max_i |λ_i(M)|.

    A linearised iteration with ``ρ < 1`` contracts near the fixed point (at rate
    ``ρ`` per iteration), with ``ρ > 1`` it repels almost every start.

    Args:
      matrix: a square 2-D array (NumPy or JAX).

    Returns:
      ``ρ`` as a Python float (computed in float64 with NumPy; NaN if the matrix
      is not finite).

    Example:
      >>> import minimaxjax as mmx
      >>> mmx.diagnostics.spectral_radius([[0.0, 2.0], [-2.0, 0.0]])
      2.0

    References:
      Gidel et al., ICLR 2019, https://arxiv.org/abs/1802.10551.
    """
    M = np.asarray(matrix, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"matrix must be square and 2-D, got shape {M.shape}.")
    if M.size == 0:
        return 0.0
    if not np.all(np.isfinite(M)):
        return math.nan
    return float(np.max(np.abs(np.linalg.eigvals(M))))


class Verdict(str, enum.Enum):
    """The local behaviour of a rule at a critical point (see :func:`stability`)."""

    CONVERGES = "converges"
    """``ρ < 1 − tol``: nearby runs converge linearly at rate ``ρ``."""
    NEUTRAL = "neutral"
    """``|ρ − 1| ≤ tol``: to first order, nearby runs neither approach nor leave
    (they cycle); the nonlinear terms decide."""
    DIVERGES = "diverges"
    """``ρ > 1 + tol``: almost every nearby run is repelled."""
    UNDEFINED = "undefined"
    """The linearisation is not finite (Adam-type rules at a zero of the field)."""


class Stability(NamedTuple):
    """The result of :func:`stability`, one entry per step size.

    Attributes:
      learning_rates: the step sizes analysed (``(None,)`` for a single optimizer).
      spectral_radius: ``ρ`` of the linearised iteration, per step size.
      rate_per_evaluation: ``ρ^{1/n}``, ``n`` the field evaluations per iteration:
        the fair unit to compare rules (EG's ``ρ`` buys two evaluations).
      verdicts: a :class:`Verdict` per step size.
      evaluations_per_iteration: ``n``.
    """

    learning_rates: tuple[Any, ...]
    spectral_radius: np.ndarray
    rate_per_evaluation: np.ndarray
    verdicts: tuple[Verdict, ...]
    evaluations_per_iteration: int


def _verdict(rho: float, tol: float) -> Verdict:
    if not math.isfinite(rho):
        return Verdict.UNDEFINED
    if rho < 1 - tol:
        return Verdict.CONVERGES
    if rho > 1 + tol:
        return Verdict.DIVERGES
    return Verdict.NEUTRAL


def stability(
    rule: optax.GradientTransformation | Callable[[Any], optax.GradientTransformation],
    field: Field,
    z_star: PyTree,
    learning_rates: Any = None,
    *,
    args: tuple[Any, ...] = (),
    tol: float | None = None,
    warmup: int = 1,
) -> Stability:
    r"""Local stability of a rule at a critical point, per step size.

    For each step size α, linearise one iteration of ``rule(α)`` at ``z*``
    (:func:`update_map`) and classify its spectral radius ``ρ``:

    .. math::

        ρ < 1 - \text{tol} \Rightarrow \text{converges}, \quad
        ρ > 1 + \text{tol} \Rightarrow \text{diverges}, \quad
        \text{otherwise neutral}.

    On ``Φ = xy`` GDA diverges for every α (``ρ = √(1 + α²)``), EG converges for
    ``α < 1`` (``ρ = √(1 − α² + α⁴)``), OGDA and PPM converge, and alternating GDA
    is neutral. A linear verdict is local: a rule that diverges from ``z*`` may
    still end on a limit cycle (:func:`detect_cycle`), one that converges near
    ``z*`` may cycle from farther away (extragradient with step ``1/L`` on
    Forsaken), and a neutral one is decided by higher-order terms.

    Args:
      rule: a factory ``learning_rate -> optimizer`` (e.g. ``mmx.extragradient``,
        or ``lambda a: mmx.proximal_point(a, inner_steps=20)``) when
        ``learning_rates`` is given; otherwise one optax optimizer.
      field: ``V(z, *args)``.
      z_star: a critical point of the field.
      learning_rates: a step size or a sequence of them; None to analyse
        ``rule`` itself. A per-player step size is one entry: ``[(0.1, 0.4)]``
        (a bare tuple is read as two step sizes).
      args: extra arguments of the field.
      tol: half-width of the neutral band around 1 (default ``4√ε`` of the
        params' dtype: ``6e-8`` in float64, ``1.4e-3`` in float32).
      warmup: iterations run at ``z*`` before linearising (see :func:`update_map`).

    Returns:
      A :class:`Stability`.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z_star = (jnp.array(0.0), jnp.array(0.0))
      >>> result = mmx.diagnostics.stability(mmx.extragradient, V, z_star, [0.5, 1.5])
      >>> [v.value for v in result.verdicts]
      ['converges', 'diverges']
      >>> mmx.diagnostics.stability(mmx.gda(0.5), V, z_star).verdicts[0].value
      'diverges'

    References:
      Daskalakis & Panageas, *The Limit Points of (Optimistic) Gradient Descent in
      Min-Max Optimization*, NeurIPS 2018, https://arxiv.org/abs/1807.03907.
      Gidel et al., ICLR 2019, https://arxiv.org/abs/1802.10551.
    """
    if learning_rates is None:
        if not isinstance(rule, optax.GradientTransformation):
            raise TypeError(
                "without learning_rates, rule must be an optax GradientTransformation "
                f"(e.g. mmx.extragradient(0.1)), got {type(rule).__name__}; pass "
                "learning_rates to use it as a factory."
            )
        rates: tuple[Any, ...] = (None,)
        optimizers = [rule]
    else:
        if isinstance(rule, optax.GradientTransformation) or not callable(rule):
            raise TypeError(
                "with learning_rates, rule must be a factory taking a step size "
                f"(e.g. mmx.extragradient), got {type(rule).__name__}."
            )
        if isinstance(learning_rates, (int, float)) or np.ndim(learning_rates) == 0:
            rates = (learning_rates,)
        else:
            rates = tuple(learning_rates)
        if not rates:
            raise ValueError("learning_rates must hold at least one step size.")
        optimizers = [rule(rate) for rate in rates]
        for optimizer in optimizers:
            _check_optimizer(optimizer, "rule(learning_rate)")
    z = jax.tree.map(jnp.asarray, z_star)
    if tol is None:
        eps = float(jnp.finfo(_common_dtype(jax.tree.leaves(z))).eps)
        tol = 4.0 * math.sqrt(eps)
    radii = np.array(
        [
            spectral_radius(update_map(o, field, z, args=args, warmup=warmup))
            for o in optimizers
        ]
    )
    evaluations = _count_evaluations(optax.with_extra_args_support(optimizers[0]), z)
    return Stability(
        learning_rates=rates,
        spectral_radius=radii,
        rate_per_evaluation=radii ** (1.0 / evaluations),
        verdicts=tuple(_verdict(float(r), tol) for r in radii),
        evaluations_per_iteration=evaluations,
    )


# --------------------------------------------------------------------------------
# (b) Trajectories and limit cycles.


class Trajectory(NamedTuple):
    """The committed iterates of a run (from :func:`trajectory`).

    Attributes:
      iterates: ``z^0, …, z^N`` stacked on a leading axis (the structure of ``z0``).
      field_norm: ``‖V(z^k)‖`` at each committed iterate, shape ``(N + 1,)``.
    """

    iterates: PyTree
    field_norm: jax.Array


def trajectory(
    field: Field,
    z0: PyTree,
    optimizer: optax.GradientTransformation,
    num_iterations: int,
    *,
    args: tuple[Any, ...] = (),
    key: jax.Array | None = None,
) -> Trajectory:
    r"""Record the committed iterates of a rule (what :func:`minimaxjax.solve` hides).

    One ``lax.scan``; each iteration is one opaque-mode call, as in ``solve``:

    .. math::

        z^{k+1} = z^k + \text{optimizer.update}(V(z^k), \ldots), \qquad k < N,

    recording the committed iterate (:func:`minimaxjax.iterate`: for reflected
    rules the iterate, not the reflected point) and ``‖V‖`` there. Iterations count
    updates, not field evaluations. A run that overflows is recorded as is
    (non-finite entries), which :func:`detect_cycle` reads as divergence.

    Args:
      field: ``V(z, *args)`` (``V(z, *args, key)`` with ``key``).
      z0: the starting point.
      optimizer: the rule.
      num_iterations: ``N``, a positive int.
      args: extra arguments of the field.
      key: a PRNG key; each evaluation then gets a fresh subkey as its last
        argument (stochastic fields).

    Returns:
      A :class:`Trajectory` with ``N + 1`` entries.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> run = mmx.diagnostics.trajectory(
      ...     V, (jnp.array(1.0), jnp.array(0.0)), mmx.gda(0.5), 4)
      >>> run.iterates[0].shape, round(float(run.field_norm[-1]), 4)  # (1 + 0.25)**2
      ((5,), 1.5625)

    References:
      Hsieh, Mertikopoulos & Cevher, *The limits of min-max optimization
      algorithms: convergence to spurious non-critical sets*, ICML 2021,
      https://arxiv.org/abs/2006.09065.
    """
    _check_callable(field, "field")
    _check_optimizer(optimizer, "optimizer")
    if (
        isinstance(num_iterations, bool)
        or not isinstance(num_iterations, (int, np.integer))
        or num_iterations < 1
    ):
        raise ValueError(
            f"num_iterations must be a positive int, got {num_iterations!r}."
        )
    try:
        hash((field, optimizer))
    except TypeError:
        run = _trajectory
    else:
        run = _trajectory_jit
    return run(field, optimizer, int(num_iterations), z0, args, key)


def _trajectory(
    field: Field,
    optimizer: optax.GradientTransformation,
    num_iterations: int,
    z0: PyTree,
    args: tuple[Any, ...],
    key: jax.Array | None,
) -> Trajectory:
    opt = optax.with_extra_args_support(optimizer)
    z0 = jax.tree.map(jnp.asarray, z0)

    def call(z: PyTree, subkey: jax.Array | None) -> PyTree:
        return field(z, *args) if subkey is None else field(z, *args, subkey)

    probe = None if key is None else jax.random.PRNGKey(0)
    check_field_output(jax.eval_shape(call, z0, probe), z0, "z0")

    def body(carry: tuple[Any, Any], k: Any) -> tuple[tuple[Any, Any], Any]:
        params, state = carry

        rule_key, norm_key = (None, None) if k is None else jax.random.split(k)

        def subkey(phase: int) -> jax.Array | None:
            return None if rule_key is None else jax.random.fold_in(rule_key, phase)

        updates, state = opt.update(
            call(params, subkey(0)),
            state,
            params,
            field=lambda w, phase: call(w, subkey(phase)),
        )
        params = optax.apply_updates(params, updates)
        committed = iterate(params, state)
        return (params, state), (committed, tree_norm(call(committed, norm_key)))

    keys = None if key is None else jax.random.split(key, num_iterations)
    _, (iterates, norms) = jax.lax.scan(
        body, (z0, opt.init(z0)), keys, length=num_iterations
    )
    first_key = None if key is None else jax.random.fold_in(key, num_iterations)
    iterates = jax.tree.map(
        lambda a, b: jnp.concatenate([a[None].astype(b.dtype), b]), z0, iterates
    )
    first = tree_norm(call(z0, first_key)).astype(norms.dtype)
    return Trajectory(iterates, jnp.concatenate([first[None], norms]))


_trajectory_jit = jax.jit(_trajectory, static_argnums=(0, 1, 2))


class Outcome(str, enum.Enum):
    """What a run ended on (see :func:`detect_cycle`)."""

    CONVERGED = "converged"
    """The motion (or ‖V‖) died out: the run settled on a point."""
    DIVERGED = "diverged"
    """Non-finite values, or a size that keeps growing over the tail."""
    LIMIT_CYCLE = "limit cycle"
    """Bounded, periodic (returns close to itself after ``period`` steps), neither
    growing nor shrinking over the tail."""
    UNKNOWN = "unknown"
    """None of the above over the tail: chaotic, quasi-periodic without close
    returns, or too slow to call (run longer)."""


class CycleReport(NamedTuple):
    """The result of :func:`detect_cycle`.

    Attributes:
      outcome: an :class:`Outcome`.
      period: the return time in iterations (in samples for a raw 1-D trace), NaN
        when no return was found; a float (refined between integer lags), since
        orbits on an invariant circle need not close exactly. From a ‖V‖ trace
        alone it may be a divisor of the orbit's period.
      return_error: how closely the run returns after ``period`` steps: mean
        squared return distance over twice the variance of the tail (0 for an
        exact cycle, about 1 for no memory); NaN without a period.
      amplitude: the radius of the tail: ``max_t ‖z^t − z̄‖`` around its mean for
        iterates, ``(max − min)/2`` of ‖V‖ for a trace.
      field_norm_min: ``min ‖V‖`` over the tail (NaN if unknown).
      field_norm_max: ``max ‖V‖`` over the tail (NaN if unknown).
      contains_critical_point: whether the tail reaches a zero of the field
        (``min ‖V‖ ≤ critical_rtol · max ‖V‖``; True when converged, False when
        diverged); None without field values.
    """

    outcome: Outcome
    period: float
    return_error: float
    amplitude: float
    field_norm_min: float
    field_norm_max: float
    contains_critical_point: bool | None

    @property
    def is_cycle(self) -> bool:
        """Whether the run ended on a limit cycle."""
        return self.outcome is Outcome.LIMIT_CYCLE

    @property
    def is_spurious(self) -> bool:
        """A limit cycle that holds no critical point: a spurious attractor."""
        return self.is_cycle and self.contains_critical_point is False


def _structure_function(signal: np.ndarray) -> np.ndarray:
    """``S(τ) = mean_t ‖Y_{t+τ} − Y_t‖² / (2 var)`` for ``τ = 0 … n//2`` (via FFT)."""
    n = signal.shape[0]
    centred = signal - signal.mean(axis=0)
    variance = float(np.mean(np.sum(centred**2, axis=1)))
    squares = np.sum(centred**2, axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(squares)])
    spectrum = np.fft.rfft(centred, n=2 * n, axis=0)
    cross = np.fft.irfft(np.abs(spectrum) ** 2, n=2 * n, axis=0)[:n].sum(axis=1)
    lags = np.arange(n // 2 + 1)
    later = cumulative[n] - cumulative[lags]
    earlier = cumulative[n - lags]
    mean_square = (later + earlier - 2 * cross[lags]) / (n - lags)
    return np.maximum(mean_square, 0.0) / (2 * variance)


def _find_period(signal: np.ndarray, return_tol: float) -> tuple[float, float] | None:
    """The first close return after the signal decorrelates, refined, and its error."""
    if signal.shape[0] < 8 or float(np.ptp(signal, axis=0).max()) == 0.0:
        return None
    structure = _structure_function(signal)
    apart = np.flatnonzero(structure >= 0.5)
    if apart.size == 0:
        return None
    lags = np.arange(structure.size)
    back = np.flatnonzero((structure <= return_tol) & (lags > apart[0]))
    if back.size == 0:
        return None
    lag = int(back[0])
    while lag + 1 < structure.size and structure[lag + 1] < structure[lag]:
        lag += 1
    period = float(lag)
    if lag + 1 < structure.size:
        left, mid, right = structure[lag - 1 : lag + 2]
        curvature = left - 2 * mid + right
        if curvature > 0:
            period += 0.5 * (left - right) / curvature
    return period, float(structure[lag])


def _as_rows(tree: PyTree) -> np.ndarray:
    leaves = jax.tree.leaves(tree)
    lengths = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if not leaves or len(lengths) != 1 or None in lengths:
        raise ValueError(
            "run must be a Trajectory, a Solution, a (T,) trace of ‖V‖, a (T, d) "
            "array of iterates, or a pytree of iterates stacked on a leading axis "
            f"of one common length; got leaves of shapes "
            f"{[np.shape(x) for x in leaves]}."
        )
    return np.concatenate(
        [np.asarray(x, dtype=np.float64).reshape(np.shape(x)[0], -1) for x in leaves],
        axis=1,
    )


def _solution_trace(solution: Solution) -> np.ndarray:
    trace = np.asarray(solution.trace["field_norm"], dtype=np.float64)
    finite = np.flatnonzero(~np.isnan(trace))
    trace = trace[: finite[-1] + 1] if finite.size else trace[:0]
    adaptive = any(
        hasattr(s, "_fields") and "num_evaluations" in s._fields
        for s in jax.tree.leaves(
            solution.state,
            is_leaf=lambda s: hasattr(s, "_fields") and "num_evaluations" in s._fields,
        )
    )
    iterations = int(solution.stats["num_iterations"])
    evaluations = int(solution.stats["num_evaluations"])
    stride = 1 if adaptive or iterations < 2 else max(1, evaluations // iterations)
    # The first evaluation of each iteration is at the committed iterate.
    return trace[::stride]


def detect_cycle(
    run: Trajectory | Solution | PyTree,
    *,
    field: Field | None = None,
    args: tuple[Any, ...] = (),
    tail: float = 0.5,
    return_tol: float = 0.1,
    cycle_rtol: float = 0.05,
    growth: float = 1.5,
    rtol: float = 1e-6,
    critical_rtol: float = 1e-2,
) -> CycleReport:
    r"""Classify the end of a run: converged, diverged, limit cycle, or unknown.

    Works on the last ``tail`` fraction of the run (the attractor, past the
    transient). With ``Y_t`` the iterates (or ‖V‖ for a trace), the structure
    function

    .. math::

        S(τ) = \frac{\operatorname{mean}_t ‖Y_{t+τ} − Y_t‖²}
                    {2 \operatorname{mean}_t ‖Y_t − \bar Y‖²}

    is 0 at a period and about 1 for unrelated points (one FFT; robust to noise,
    which only lifts its floor). The period is the first lag where ``S`` falls back
    to ``return_tol`` after rising past 1/2, refined between integer lags. Then,
    with the size ``s_t = ‖V(z^t)‖`` (or the step length ``‖z^{t+1} − z^t‖``
    without field values):

    * non-finite values, or a size growing over the tail → DIVERGED;
    * a size that dies out (``≤ rtol`` times its maximum over the run), or shrinks
      over the tail → CONVERGED;
    * a period over which the mean of ``s`` (whole periods, later half against
      earlier half of the tail) changes by at most ``cycle_rtol`` → LIMIT_CYCLE
      (growing or shrinking instead: an outward or inward spiral);
    * anything else → UNKNOWN.

    A limit cycle with ``min ‖V‖`` bounded away from 0 contains no critical point:
    it is a spurious attractor (Hsieh, Mertikopoulos & Cevher), as extragradient
    with step ``1/L`` on Forsaken shows. The tail must hold at least two periods.

    Args:
      run: a :class:`Trajectory` (iterates and ‖V‖); a
        :class:`minimaxjax.Solution` (its ``trace["field_norm"]`` at the committed
        iterates; a status of converged or diverged is taken as is); a ``(T,)``
        trace of ‖V‖; a ``(T, d)`` array of iterates; or a pytree of iterates
        stacked on a leading axis.
      field: ``V(z, *args)`` to evaluate ‖V‖ on the tail when ``run`` holds
        iterates without field values.
      args: extra arguments of ``field``.
      tail: the fraction of the run analysed, in ``(0, 1]``.
      return_tol: largest ``S(period)`` accepted as a return.
      cycle_rtol: largest relative change of the mean size over whole periods
        between the two halves of the tail of a limit cycle.
      growth: factor by which the size must change between the first and last
        thirds of the tail to call divergence or convergence without a period.
      rtol: a tail size at most ``rtol`` times the run's largest is converged.
      critical_rtol: ``min ‖V‖ ≤ critical_rtol · max ‖V‖`` on the tail counts as
        reaching a critical point.

    Returns:
      A :class:`CycleReport`.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y)
      >>> run = mmx.diagnostics.trajectory(
      ...     V, (jnp.array(1.0), jnp.array(0.0)), mmx.alternating_gda(0.3), 400)
      >>> report = mmx.diagnostics.detect_cycle(run)
      >>> report.outcome.value, round(report.period), report.contains_critical_point
      ('limit cycle', 21, False)

    References:
      Hsieh, Mertikopoulos & Cevher, *The limits of min-max optimization
      algorithms: convergence to spurious non-critical sets*, ICML 2021,
      https://arxiv.org/abs/2006.09065. Pethick et al., *Escaping limit cycles:
      Global convergence for constrained nonconvex-nonconcave minimax problems*,
      ICLR 2022, https://openreview.net/forum?id=2_vhkAMARk.
    """
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be a fraction in (0, 1], got {tail!r}.")
    if growth <= 1:
        raise ValueError(f"growth must be greater than 1, got {growth!r}.")
    if field is not None:
        _check_callable(field, "field")

    status = None
    iterates: np.ndarray | None = None
    norms: np.ndarray | None = None
    tree: PyTree = None
    if isinstance(run, Trajectory):
        tree = run.iterates
        iterates = _as_rows(tree)
        norms = np.asarray(run.field_norm, dtype=np.float64)
    elif isinstance(run, Solution):
        norms = _solution_trace(run)
        status = Status(int(run.status))
    elif isinstance(run, (np.ndarray, jax.Array)) and np.ndim(run) == 1:
        norms = np.asarray(run, dtype=np.float64)
        recorded = np.flatnonzero(~np.isnan(norms))  # drop solve's NaN padding
        norms = norms[: recorded[-1] + 1] if recorded.size else norms[:0]
    else:
        tree = run
        iterates = _as_rows(tree)

    source = iterates if iterates is not None else norms
    assert source is not None  # every kind of run above sets one of them
    length = source.shape[0]
    start = min(int(length * (1 - tail)), max(length - 8, 0))
    if length - start < 8:
        raise ValueError(
            f"run has {length} steps; detect_cycle needs at least 8 in the tail."
        )
    if norms is None and field is not None and iterates is not None:
        tail_tree = jax.tree.map(lambda a: jnp.asarray(a)[start:], tree)
        tail_norms = jax.jit(jax.vmap(lambda z: tree_norm(field(z, *args))))(tail_tree)
        norms = np.full(length, np.nan)
        norms[start:] = np.asarray(tail_norms, dtype=np.float64)

    norms_tail = norms[start:] if norms is not None else None
    if norms_tail is not None and np.all(np.isfinite(norms_tail)):
        norm_min, norm_max = float(norms_tail.min()), float(norms_tail.max())
    else:
        norm_min = norm_max = math.nan

    def report(
        outcome: Outcome,
        period: float = math.nan,
        error: float = math.nan,
        amplitude: float = math.inf,
    ) -> CycleReport:
        if norms_tail is None:
            critical = None
        elif outcome is Outcome.CONVERGED:
            critical = True
        elif outcome is Outcome.DIVERGED:
            critical = False
        else:
            critical = bool(norm_min <= critical_rtol * norm_max)
        return CycleReport(
            outcome,
            float(period),
            float(error),
            float(amplitude),
            norm_min,
            norm_max,
            critical,
        )

    if status is Status.DIVERGED:
        return report(Outcome.DIVERGED)
    # Field values are only computed on the tail of iterates given with a field.
    checked_norms = (
        None if norms is None else norms[start:] if iterates is not None else norms
    )
    finite = (iterates is None or np.all(np.isfinite(iterates))) and (
        checked_norms is None or np.all(np.isfinite(checked_norms))
    )
    if not finite:
        return report(Outcome.DIVERGED)

    if iterates is not None:
        signal = iterates[start:]
        amplitude = float(np.max(np.linalg.norm(signal - signal.mean(axis=0), axis=1)))
        steps = np.linalg.norm(np.diff(iterates, axis=0), axis=1)
        # ‖V‖ if known (on the whole run, or only on the tail when computed here).
        size_all = steps if norms is None else norms[~np.isnan(norms)]
        size = steps[start:] if norms_tail is None else norms_tail
    else:
        assert norms is not None  # a run without iterates is a trace of norms
        signal = norms[start:, None]
        amplitude = 0.5 * float(np.ptp(norms[start:]))
        size_all, size = norms, norms[start:]
    if status is Status.CONVERGED:
        return report(Outcome.CONVERGED, amplitude=amplitude)

    largest = float(np.max(size_all)) if size_all.size else 0.0
    if float(np.max(size)) <= rtol * largest or largest == 0.0:
        return report(Outcome.CONVERGED, amplitude=amplitude)

    found = _find_period(signal, return_tol)
    if found is not None:
        period, error = found
        block = max(1, round(period))
        count = size.shape[0] // block
        if count >= 2:
            # Mean size over the earlier and the later half of the whole periods:
            # averaging over periods makes the comparison robust to noise.
            blocks = size[size.shape[0] - count * block :].reshape(count, block)
            half = count // 2
            change = float(blocks[-half:].mean() / blocks[:half].mean())
            if change > 1 + cycle_rtol:
                return report(Outcome.DIVERGED, period, error, amplitude)
            if change < 1 / (1 + cycle_rtol):
                return report(Outcome.CONVERGED, period, error, amplitude)
            return report(Outcome.LIMIT_CYCLE, period, error, amplitude)

    third = max(1, size.shape[0] // 3)
    first, last = float(np.max(size[:third])), float(np.max(size[-third:]))
    if last > growth * first:
        return report(Outcome.DIVERGED, amplitude=amplitude)
    if last * growth < first:
        return report(Outcome.CONVERGED, amplitude=amplitude)
    return report(Outcome.UNKNOWN, amplitude=amplitude)


# --------------------------------------------------------------------------------
# (c) Problem constants sampled on a domain.


class SampleEstimate(NamedTuple):
    """An extremum over sampled points.

    Attributes:
      value: the extreme value found (a Python float).
      point: where it was attained (a pytree with the structure of ``z``).
    """

    value: float
    point: PyTree


def _box_bounds(domain: Any) -> tuple[PyTree, PyTree]:
    """Split a box ``((lo_1, hi_1), (lo_2, hi_2), …)`` into lower and upper corners."""
    message = (
        "domain must be a box with one interval (lo, hi) per player, like "
        "Game.bounds: ((lo_x, hi_x), (lo_y, hi_y)), each lo/hi a scalar or a pytree "
        "shaped like that player; or a sampler(key, num_samples)"
    )
    if not isinstance(domain, (tuple, list, dict)):
        raise TypeError(f"{message}; got {type(domain).__name__}.")
    lower, upper = {}, {}
    for name in players(domain):
        interval = domain[name]
        if not isinstance(interval, (tuple, list)) or len(interval) != 2:
            raise ValueError(f"{message}; domain[{name!r}] is {interval!r}.")
        lo, hi = (jax.tree.map(jnp.asarray, b) for b in interval)
        lo_def: Any = jax.tree.structure(lo)  # jaxlib ships no PyTreeDef stubs
        if lo_def != jax.tree.structure(hi) or any(
            jnp.shape(a) != jnp.shape(b)
            for a, b in zip(jax.tree.leaves(lo), jax.tree.leaves(hi), strict=True)
        ):
            raise ValueError(
                f"domain[{name!r}]: lo and hi must have the same structure and shapes."
            )
        lower[name], upper[name] = lo, hi
    if isinstance(domain, dict):
        return lower, upper
    rebuild = type(domain)
    return rebuild(lower[i] for i in lower), rebuild(upper[i] for i in upper)


def _sample_points(
    domain: Domain, num_samples: int, key: jax.Array | None, grid_size: int
) -> tuple[Callable[[], jax.Array], Callable[[jax.Array], PyTree]]:
    """A traceable maker of the flat points ``(N, d)`` and the map row -> ``z``."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"num_samples must be an int, got {num_samples!r}.")
    if num_samples < 0:
        raise ValueError(f"num_samples must be non-negative, got {num_samples}.")
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 0:
        raise ValueError(f"grid_size must be a non-negative int, got {grid_size!r}.")
    if key is None:
        key = jax.random.PRNGKey(0)
    if callable(domain):
        if grid_size:
            raise ValueError("grid_size needs a box domain, not a sampler.")
        batch = domain(key, num_samples)
        rows = jnp.asarray(_as_rows(batch))
        templates = [
            jnp.zeros(np.shape(x)[1:], x.dtype) for x in jax.tree.leaves(batch)
        ]
        treedef = jax.tree.structure(batch)
        count = rows.shape[0]

        def make_rows() -> jax.Array:
            return rows

    else:
        lower, upper = _box_bounds(domain)
        templates = jax.tree.leaves(lower)
        treedef = jax.tree.structure(lower)
        dtype = _common_dtype(templates)
        lo = _flatten(templates, dtype)
        hi = _flatten(jax.tree.leaves(upper), dtype)
        if not bool(jnp.all(hi >= lo)):
            raise ValueError("domain must have lo <= hi for every player's interval.")
        d = lo.shape[0]
        if grid_size and grid_size**d > 10**7:
            raise ValueError(
                f"grid_size={grid_size} in {d} dimensions is {grid_size**d} points; "
                "use random samples (grid_size=0) in high dimension."
            )
        count = num_samples + (grid_size**d if grid_size else 0)
        # Drawn with NumPy, seeded by the key: the same points for the same key,
        # without compiling a JAX sampler for every sample shape.
        seed = np.asarray(jax.random.key_data(key)).ravel().tolist()
        unit = np.random.default_rng(seed).random((num_samples, d))

        def make_rows() -> jax.Array:
            parts = [lo[None, :] + (hi - lo)[None, :] * jnp.asarray(unit, dtype)]
            if grid_size:
                axes = [jnp.linspace(lo[i], hi[i], grid_size) for i in range(d)]
                mesh = jnp.meshgrid(*axes, indexing="ij")
                parts.append(jnp.stack([m.ravel() for m in mesh], axis=1))
            return jnp.concatenate(parts)

    if count == 0:
        raise ValueError("no sample points: give num_samples > 0 or grid_size > 0.")

    def to_tree(row: jax.Array) -> PyTree:
        return jax.tree.unflatten(treedef, _unflatten(row, templates))

    return make_rows, to_tree


def _sampled_extremum(
    quantity: Callable[[jax.Array], jax.Array],
    make_rows: Callable[[], jax.Array],
    to_tree: Callable[[jax.Array], PyTree],
    *,
    largest: bool,
) -> SampleEstimate:
    # Sampling, evaluation and the extremum in one compiled program.
    @jax.jit
    def evaluate() -> tuple[jax.Array, jax.Array]:
        rows = make_rows()
        values = jax.lax.map(quantity, rows, batch_size=1024)
        index = jnp.nanargmax(values) if largest else jnp.nanargmin(values)
        return values[index], rows[index]

    value, row = evaluate()
    return SampleEstimate(float(value), to_tree(row))


def lipschitz_estimate(
    field: Field,
    domain: Domain,
    *args: Any,
    num_samples: int = 10_000,
    grid_size: int = 0,
    key: jax.Array | None = None,
    dense: bool | None = None,
) -> SampleEstimate:
    r"""Estimate the Lipschitz constant of the field on a domain, by sampling.

    On a convex domain the Lipschitz constant of ``V`` is the largest Jacobian
    norm, so the estimate is

    .. math::

        \hat L = \max_{z \in \text{samples}} ‖DV(z)‖_2 \;\le\; L,

    a lower bound that tightens with more samples. Each norm is exact (SVD of the
    dense Jacobian) for small games and a power iteration
    (:func:`minimaxjax.jacobian_operator_norm`) otherwise. ``1/L̂`` is the usual
    step size for extragradient-type rules.

    Args:
      field: ``V(z, *args)``.
      domain: a box with one interval per player, ``((lo_x, hi_x), (lo_y,
        hi_y))`` as :attr:`minimaxjax.games.Game.bounds` (each bound a scalar, or a
        pytree shaped like that player), sampled uniformly; or
        ``sampler(key, num_samples)`` returning points stacked on a leading axis.
      *args: extra arguments of the field.
      num_samples: random points.
      grid_size: also evaluate a regular grid with this many points per
        coordinate (boxes only; 0 for none).
      key: PRNG key seeding the samples (a fixed key if None): a box is sampled
        by NumPy's generator seeded with the key's data, a sampler gets the key.
      dense: use dense Jacobians (default: when ``z`` has at most 64 entries).

    Returns:
      A :class:`SampleEstimate`: ``L̂`` and the point attaining it.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> V = mmx.field(lambda x, y: x * y + x**2)        # DV = [[2, 1], [-1, 0]]
      >>> box = ((-1.0, 1.0), (-1.0, 1.0))        # x in [-1, 1], y in [-1, 1]
      >>> round(mmx.diagnostics.lipschitz_estimate(V, box, num_samples=100).value, 4)
      2.4142

    References:
      Pethick et al., *Escaping limit cycles: Global convergence for constrained
      nonconvex-nonconcave minimax problems*, ICLR 2022,
      https://openreview.net/forum?id=2_vhkAMARk.
    """
    from minimaxjax.operators import jacobian_operator_norm

    _check_callable(field, "field")
    make_rows, to_tree = _sample_points(domain, num_samples, key, grid_size)
    if dense is None:
        dense = jax.eval_shape(make_rows).shape[1] <= 64

    def norm_at(row: jax.Array) -> jax.Array:
        z = to_tree(row)
        if dense:
            return jnp.linalg.norm(jacobian(field, z, *args), ord=2)
        return jacobian_operator_norm(field, z, *args)

    return _sampled_extremum(norm_at, make_rows, to_tree, largest=True)


def weak_minty_rho(
    field: Field,
    solution: PyTree,
    domain: Domain,
    *args: Any,
    num_samples: int = 10_000,
    grid_size: int = 0,
    key: jax.Array | None = None,
) -> SampleEstimate:
    r"""Estimate the weak Minty (weak MVI) constant ρ of a field on a domain.

    The weak MVI holds with parameter ρ around a solution ``z*`` when

    .. math::

        ⟨V(z), z − z^\star⟩ \;\ge\; ρ\, ‖V(z)‖² \quad \text{for all } z,

    so the best (largest) ρ is the infimum of the ratio; the estimate is its
    minimum over the samples (an upper bound on the true ρ):

    .. math::

        \hat ρ = \min_{z \in \text{samples},\, V(z) ≠ 0}
                 \frac{⟨V(z), z − z^\star⟩}{‖V(z)‖²}.

    ``ρ ≥ 0`` is the Minty condition (monotone games satisfy it); negative ρ lets
    ``V`` point away from ``z*``. EG+ converges for ``ρ > −1/(8L)`` (Diakonikolas et
    al. 2021), CEG+ for ``ρ > −1/(2L)`` (Pethick et al. 2022). On a box with
    another critical point the infimum is ``−∞`` (the ratio blows up there),
    which the estimate approaches as samples get close.

    Args:
      field: ``V(z, *args)``.
      solution: ``z*``, a pytree shaped like ``z``.
      domain: a box ``((lo_x, hi_x), (lo_y, hi_y))`` or a sampler, as in
        :func:`lipschitz_estimate`.
      *args: extra arguments of the field.
      num_samples: random points.
      grid_size: also evaluate a regular grid with this many points per
        coordinate (boxes only; 0 for none).
      key: PRNG key seeding the samples (a fixed key if None): a box is sampled
        by NumPy's generator seeded with the key's data, a sampler gets the key.

    Returns:
      A :class:`SampleEstimate`: ``ρ̂`` and the point attaining it.

    Example:
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> # Pethick et al.'s lower-bound game: V(z) = [[b, a], [-a, b]] z
      >>> a, b = 2 * 2 ** 0.5, -1.0
      >>> V = mmx.field(lambda x, y: a * x * y + b / 2 * x**2 - b / 2 * y**2)
      >>> z_star = (jnp.array(0.0), jnp.array(0.0))
      >>> box = ((-1.0, 1.0), (-1.0, 1.0))        # x in [-1, 1], y in [-1, 1]
      >>> rho = mmx.diagnostics.weak_minty_rho(V, z_star, box, num_samples=100)
      >>> round(rho.value, 4), round(b / (a**2 + b**2), 4)
      (-0.1111, -0.1111)

    References:
      Diakonikolas, Daskalakis & Jordan, *Efficient Methods for Structured
      Nonconvex-Nonconcave Min-Max Optimization*, AISTATS 2021,
      https://arxiv.org/abs/2011.00364. Pethick et al., *Escaping limit cycles:
      Global convergence for constrained nonconvex-nonconcave minimax problems*,
      ICLR 2022, https://openreview.net/forum?id=2_vhkAMARk.
    """
    _check_callable(field, "field")
    make_rows, to_tree = _sample_points(domain, num_samples, key, grid_size)
    points = jax.eval_shape(make_rows)
    solution = jax.tree.map(jnp.asarray, solution)
    star = _flatten(jax.tree.leaves(solution), points.dtype)
    if star.shape[0] != points.shape[1]:
        raise ValueError(
            f"solution has {star.shape[0]} entries but the domain's points have "
            f"{points.shape[1]}; give z* with the structure of z."
        )

    def ratio_at(row: jax.Array) -> jax.Array:
        value = _flatten(jax.tree.leaves(field(to_tree(row), *args)), row.dtype)
        square = jnp.sum(value**2)
        inner = jnp.sum(value * (row - star))
        safe = jnp.where(square > 0, square, 1.0)
        return jnp.where(square > 0, inner / safe, jnp.inf)

    return _sampled_extremum(ratio_at, make_rows, to_tree, largest=False)
