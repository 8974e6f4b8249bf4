"""Trajectories and what they end on: convergence, divergence, limit cycles."""

import enum
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from minimaxjax._solution import Solution, Status
from minimaxjax._solve import solve
from minimaxjax._tree import tree_norm
from minimaxjax._types import Field, PyTree
from minimaxjax.diagnostics._flat import as_rows, check_callable, check_optimizer
from minimaxjax.rules import CountsEvaluations, evaluations_per_iteration
from minimaxjax.rules._protocol import find_states


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
    r"""Record the committed iterates of a rule: :func:`minimaxjax.solve` with
    ``save_every`` set to the rule's evaluations per iteration.

    .. math::

        z^{k+1} = z^k + \text{optimizer.update}(V(z^k), \ldots), \qquad k < N,

    recording the committed iterate (:func:`minimaxjax.iterate`: for reflected
    rules the iterate, not the reflected point), with the keys ``solve`` would
    pass, and ``‖V‖`` there. Iterations count updates, not field evaluations; for a
    rule whose evaluations per iteration vary (a linesearch) ``N`` counts field
    evaluations and the iterate is recorded after each. Entries after a
    divergence are NaN, which :func:`detect_cycle` reads as divergence.

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
    check_callable(field, "field")
    check_optimizer(optimizer, "optimizer")
    if (
        isinstance(num_iterations, bool)
        or not isinstance(num_iterations, (int, np.integer))
        or num_iterations < 1
    ):
        raise ValueError(
            f"num_iterations must be a positive int, got {num_iterations!r}."
        )
    n = int(num_iterations)
    z = jax.tree.map(jnp.asarray, z0)
    counted = find_states(optimizer.init(z), CountsEvaluations)
    every = 1 if counted else evaluations_per_iteration(optimizer, z)
    sol = solve(field, z, optimizer, n * every, args=args, key=key, save_every=every)
    iterates = sol.trace["iterates"]
    # ‖V‖ at the committed iterates, which need not be where the rule evaluated
    # the field (a reflected rule evaluates at 2z^k − z^{k−1}).
    if key is None:
        norms = jax.vmap(lambda w: tree_norm(field(w, *args)))(iterates)
    else:
        keys = jax.random.split(jax.random.fold_in(key, 1), n + 1)
        norms = jax.vmap(lambda w, k: tree_norm(field(w, *args, k)))(iterates, keys)
    return Trajectory(iterates, norms)


class Outcome(str, enum.Enum):
    """What a run ended on (see :func:`detect_cycle`)."""

    CONVERGED = "converged"
    """The motion (or ‖V‖) died out: the run settled on a point."""
    DIVERGED = "diverged"
    """Non-finite values, or a size growing over the tail like a divergence: at a
    steady rate per iteration (exponentially, as a run repelled by an unstable
    point: GDA on ``Φ = xy`` grows by ``√(1 + α²)`` per iteration), or at least as
    fast as ``k^power`` (√k by default; ExtraAdam escaping a repelling linear
    field at a near-constant speed). Growth alone is never called a divergence
    for a run known to be ``bounded``."""
    SATURATING = "saturating"
    """Not seen to diverge: the size grows over the tail, but slower than
    ``k^power`` (√k by default) and ever more slowly per iteration, not at an
    exponential's steady rate; or it grows at all in a run known to be
    ``bounded``. A run settling onto a bounded orbit looks like this until it gets
    there: ExtraAdam on ``Φ = xᵀAy`` grows like ``k^0.4`` for its first thousand
    iterations, then stays on an orbit. Slow unbounded growth would look the same;
    run longer to tell them apart: the orbit, once reached, reads as LIMIT_CYCLE
    (or UNKNOWN if it does not close)."""
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


_RUN_KINDS = (
    "run must be a Trajectory, a Solution, a (T,) trace of ‖V‖, a (T, d) array of "
    "iterates, or a pytree of iterates stacked on a leading axis of one common length"
)


def _solution_trace(solution: Solution) -> np.ndarray:
    trace = np.asarray(solution.trace["field_norm"], dtype=np.float64)
    finite = np.flatnonzero(~np.isnan(trace))
    trace = trace[: finite[-1] + 1] if finite.size else trace[:0]
    if find_states(solution.state, CountsEvaluations):
        # Each iteration's ‖V(z^k)‖ stands for all its evaluations: one each.
        return trace[np.r_[True, trace[1:] != trace[:-1]]]
    iterations = int(solution.stats["num_iterations"])
    evaluations = int(solution.stats["num_evaluations"])
    stride = 1 if iterations < 2 else max(1, evaluations // iterations)
    # The first evaluation of each iteration is at the committed iterate.
    return trace[::stride]


def _divergence_seen(
    size: np.ndarray, offset: int, power: float, block: int = 1
) -> bool:
    """Whether a growing size grows like a divergence: steadily, or fast enough.

    ``size[t]`` is the size at iteration ``k = offset + 1 + t``. Averaged over
    ``block`` samples (one period: the oscillation along an orbit cancels), the
    series is cut into thirds, and the rise of the mean log-size from the middle to
    the last third (``d₂``) is compared with its rise from the first to the middle
    third (``d₁``). An exponential rises equally (``d₂ = d₁``); a power law ``k^p``
    by the ratio ``r`` of the rises of mean ``log k`` over the same thirds (about
    0.8 for the last half of a run); a size levelling off, by less. Seen: closer
    to the exponential (``d₂ > 0`` and ``d₂ ≥ ½(1 + r) d₁``), or a log-log slope
    (least squares of ``log size`` on ``log k``) of at least ``power``.
    """
    k = offset + 1.0 + np.arange(size.shape[0])
    if block > 1:
        window = np.ones(block) / block
        size, k = np.convolve(size, window, "valid"), np.convolve(k, window, "valid")
    n = size.shape[0] // 3
    if n == 0:  # too short to see a shape: the growth is all there is
        return True
    log_size = np.log(np.maximum(size, np.finfo(np.float64).tiny))
    slope = float(np.polyfit(np.log(k), log_size, 1)[0])
    # The last 3n samples, as three rows: mean log-size and mean log k per third.
    level = log_size[size.shape[0] - 3 * n :].reshape(3, n).mean(axis=1)
    clock = np.log(k[k.shape[0] - 3 * n :]).reshape(3, n).mean(axis=1)
    power_ratio = (clock[2] - clock[1]) / (clock[1] - clock[0])
    early, late = level[1] - level[0], level[2] - level[1]
    steady = late > 0 and late >= 0.5 * (1 + power_ratio) * early
    return bool(steady or slope >= power)


def detect_cycle(
    run: Trajectory | Solution | PyTree,
    *,
    field: Field | None = None,
    args: tuple[Any, ...] = (),
    tail: float = 0.5,
    return_tol: float = 0.1,
    cycle_rtol: float = 0.05,
    growth: float = 1.5,
    power: float = 0.5,
    bounded: bool = False,
    rtol: float = 1e-6,
    critical_rtol: float = 1e-2,
) -> CycleReport:
    r"""Classify the end of a run: converged, diverged, saturating, cycle, unknown.

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

    * non-finite values → DIVERGED;
    * a size that dies out (``≤ rtol`` times its maximum over the run), or shrinks
      over the tail → CONVERGED;
    * a period over which the mean of ``s`` (whole periods, later half against
      earlier half of the tail) changes by at most ``cycle_rtol`` → LIMIT_CYCLE
      (growing or shrinking instead: an outward or inward spiral);
    * a size growing over the tail (by more than ``cycle_rtol`` over whole
      periods, or ``growth`` between its first and last thirds without a period)
      → DIVERGED if the growth looks like a divergence, SATURATING otherwise.
      With ``s`` averaged over one period, ``L_1, L_2, L_3`` the mean of
      ``log s`` over the thirds of the tail and ``ℓ_1, ℓ_2, ℓ_3`` the mean of
      ``log k`` over the same iterations ``k``, it does when the growth is steady,

      .. math::

          L_3 − L_2 > 0, \qquad
          \frac{L_3 − L_2}{L_2 − L_1} \;\ge\; \frac12\Bigl(1 +
          \frac{ℓ_3 − ℓ_2}{ℓ_2 − ℓ_1}\Bigr)

      (closer to an exponential, ratio 1, than to a power law, the ratio of the
      ``ℓ``: about 0.8 for ``tail = 0.5``), or when the least-squares slope of
      ``log s`` on ``log k`` over the tail is at least ``power``;
    * anything else → UNKNOWN.

    A divergence is thus only called when seen: a run drawn to a bounded orbit
    from inside grows slower and slower until it reaches it (SATURATING), then
    cycles (LIMIT_CYCLE). No finite run proves a bound; the shorter the tail, the
    closer the two ratios and the more a call depends on the run's noise.

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
        thirds of the tail to call a trend (growing: DIVERGED or SATURATING;
        shrinking: CONVERGED) without a period.
      power: the smallest log-log slope of a growth that is not steady (not
        exponential) still called DIVERGED; slower growth is SATURATING.
      bounded: the run cannot leave a bounded set (it is projected on a box or a
        simplex, as the constrained games of :mod:`minimaxjax.games` are): a
        growing size is then SATURATING, however it grows (the approach to a
        limit cycle around an unstable point starts exponentially).
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
    if not power > 0:
        raise ValueError(f"power must be positive, got {power!r}.")
    if field is not None:
        check_callable(field, "field")

    status = None
    iterates: np.ndarray | None = None
    norms: np.ndarray | None = None
    tree: PyTree = None
    if isinstance(run, Trajectory):
        tree = run.iterates
        iterates = as_rows(tree, _RUN_KINDS)
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
        iterates = as_rows(tree, _RUN_KINDS)

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
                seen = not bounded and _divergence_seen(size, start, power, block)
                outcome = Outcome.DIVERGED if seen else Outcome.SATURATING
                return report(outcome, period, error, amplitude)
            if change < 1 / (1 + cycle_rtol):
                return report(Outcome.CONVERGED, period, error, amplitude)
            return report(Outcome.LIMIT_CYCLE, period, error, amplitude)

    third = max(1, size.shape[0] // 3)
    first, last = float(np.max(size[:third])), float(np.max(size[-third:]))
    if last > growth * first:
        seen = not bounded and _divergence_seen(size, start, power)
        outcome = Outcome.DIVERGED if seen else Outcome.SATURATING
        return report(outcome, amplitude=amplitude)
    if last * growth < first:
        return report(Outcome.CONVERGED, amplitude=amplitude)
    return report(Outcome.UNKNOWN, amplitude=amplitude)
