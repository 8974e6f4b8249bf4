"""Local stability: linearise one iteration of a rule at a critical point."""

import enum
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._tree import check_field_output
from minimaxjax._types import Field, PyTree
from minimaxjax.diagnostics._flat import (
    check_callable,
    check_optimizer,
    common_dtype,
    flatten,
    is_float,
    unflatten,
)
from minimaxjax.rules import RULES, RuleSpec, evaluations_per_iteration


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
    check_callable(field, "field")
    z = jax.tree.map(jnp.asarray, z)
    leaves, treedef = jax.tree.flatten(z)
    dtype = common_dtype(leaves)
    check_field_output(jax.eval_shape(lambda w: field(w, *args), z), z, "z")

    def flat_field(vector: jax.Array) -> jax.Array:
        value = field(jax.tree.unflatten(treedef, unflatten(vector, leaves)), *args)
        return flatten(jax.tree.leaves(value), dtype)

    return jax.jit(jax.jacfwd(flat_field))(flatten(leaves, dtype))


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
    check_optimizer(optimizer, "optimizer")
    check_callable(field, "field")
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
    dynamic = [i for i, x in enumerate(jax.tree.leaves(state)) if is_float(x)]
    num_params = sum(int(np.size(x)) for x in z_leaves)

    # One compiled program for warm-up and Jacobian: cheaper than op-by-op dispatch.
    @jax.jit
    def linearise(z: PyTree, state: optax.OptState) -> jax.Array:
        for _ in range(warmup):
            _, state = step(z, state)
        s_leaves = jax.tree.leaves(state)
        memory = [s_leaves[i] for i in dynamic]
        dtype = common_dtype(z_leaves + memory)

        def flat_step(vector: jax.Array) -> jax.Array:
            params = jax.tree.unflatten(z_def, unflatten(vector[:num_params], z_leaves))
            leaves = list(s_leaves)
            for i, value in zip(
                dynamic, unflatten(vector[num_params:], memory), strict=True
            ):
                leaves[i] = value
            new_params, new_state = step(params, jax.tree.unflatten(s_def, leaves))
            new_leaves = jax.tree.leaves(new_state)
            return jnp.concatenate(
                [
                    flatten(jax.tree.leaves(new_params), dtype),
                    flatten([new_leaves[i] for i in dynamic], dtype),
                ]
            )

        start = jnp.concatenate([flatten(z_leaves, dtype), flatten(memory, dtype)])
        return jax.jacfwd(flat_step)(start)

    matrix = np.asarray(linearise(z, state), dtype=np.float64)
    return _reduce(matrix, num_params) if reduce else matrix


def linear_update_map(
    rule: str | RuleSpec,
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

    The maps come from the rule registry (:data:`minimaxjax.rules.RULES`), so a
    user's rule registered with a ``linear_map`` is found by name too.

    Args:
      rule: the name of a registered rule with a closed-form map (``"gda"``,
        ``"alternating_gda"``, ``"proximal_point"``, ``"extragradient"``,
        ``"extragradient_plus"``, ``"optimistic_gda"``, ``"reflected_gda"``, or
        a user's), or its :class:`~minimaxjax.rules.RuleSpec`.
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
    spec = rule if isinstance(rule, RuleSpec) else RULES.get(rule)
    if spec is None or spec.linear_map is None:
        known = [name for name, r in RULES.items() if r.linear_map is not None]
        raise ValueError(
            f"rule must be one of the registered rules with a closed-form linear "
            f"map, {known}, or its RuleSpec; got {rule!r}."
        )
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
    if inner_steps is not None and (isinstance(inner_steps, bool) or inner_steps < 1):
        raise ValueError(
            f"inner_steps must be a positive int or None, got {inner_steps!r}."
        )
    given = {"inner_steps": inner_steps, "update_ratio": update_ratio}
    options = {k: v for k, v in given.items() if k in spec.options}
    return np.asarray(spec.linear_map(A, sizes, **options), dtype=np.float64)


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
            check_optimizer(optimizer, "rule(learning_rate)")
    z = jax.tree.map(jnp.asarray, z_star)
    if tol is None:
        eps = float(jnp.finfo(common_dtype(jax.tree.leaves(z))).eps)
        tol = 4.0 * math.sqrt(eps)
    radii = np.array(
        [
            spectral_radius(update_map(o, field, z, args=args, warmup=warmup))
            for o in optimizers
        ]
    )
    evaluations = evaluations_per_iteration(optimizers[0], z)
    return Stability(
        learning_rates=rates,
        spectral_radius=radii,
        rate_per_evaluation=radii ** (1.0 / evaluations),
        verdicts=tuple(_verdict(float(r), tol) for r in radii),
        evaluations_per_iteration=evaluations,
    )
