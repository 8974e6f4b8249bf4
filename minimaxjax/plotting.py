"""Pictures of game dynamics: phase portraits, convergence curves, stability regions.

matplotlib is an optional dependency (``pip install "minimaxjax[examples]"``). It is
imported inside the plotting functions, so ``import minimaxjax`` never imports it.
Every function draws on ``ax`` when given one (a new figure otherwise) and returns
the :class:`matplotlib.figure.Figure`; nothing is shown, so they work with any
backend, Agg included. The numbers come from :mod:`minimaxjax.diagnostics`
(trajectories, linearised iteration maps) and :func:`minimaxjax.solve` (‖V‖
traces).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax import diagnostics
from minimaxjax._tree import PyTree, players

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "convergence",
    "heatmap",
    "phase_portrait",
    "stability_region",
    "step_size_stability",
]

Bounds = Any  # (lo, hi) for a square, or ((x_lo, x_hi), (y_lo, y_hi))

# Field evaluations per iteration of the rules with a closed-form linearisation
# (DESIGN.md §2); alternating GDA makes one per player, proximal point K.
_EVALUATIONS = {
    "gda": 1,
    "extragradient": 2,
    "extragradient_plus": 2,
    "optimistic_gda": 1,
    "reflected_gda": 1,
}
_DEFAULT_RULES = ("gda", "extragradient", "optimistic_gda", "proximal_point")


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _colors(n: int) -> list[Any]:
    import matplotlib as mpl

    cycle = mpl.color_sequences["tab10"]
    return [cycle[i % len(cycle)] for i in range(n)]


def _dashes(n: int) -> list[str]:
    # Rules that coincide (optimistic and reflected GDA on a linear field) would
    # hide each other: every other curve is dashed so both stay visible.
    return ["-" if i % 2 == 0 else "--" for i in range(n)]


def _box(bounds: Bounds) -> tuple[tuple[float, float], tuple[float, float]]:
    array = np.asarray(bounds, dtype=float)
    if array.shape == (2,):
        lo, hi = array
        return (lo, hi), (lo, hi)
    if array.shape == (2, 2):
        return (array[0, 0], array[0, 1]), (array[1, 0], array[1, 1])
    raise ValueError(
        "bounds must be (lo, hi) for a square or ((x_lo, x_hi), (y_lo, y_hi)), got "
        f"an array of shape {array.shape}."
    )


def _point(x: jax.Array, y: jax.Array, like: PyTree | None) -> PyTree:
    if like is None:
        return (x, y)
    leaves, treedef = jax.tree.flatten(like)
    if len(leaves) != 2 or any(np.size(leaf) != 1 for leaf in leaves):
        raise ValueError(
            "phase_portrait draws 2-D games: z_like must have two leaves of one "
            f"entry each, got leaves of shapes {[np.shape(leaf) for leaf in leaves]}."
        )
    return jax.tree.unflatten(
        treedef,
        [
            jnp.reshape(v, np.shape(leaf)).astype(jnp.result_type(leaf))
            for v, leaf in zip((x, y), leaves, strict=True)
        ],
    )


def _xy(name: str, path: Any) -> np.ndarray:
    """A trajectory (a pytree with a leading time axis, a (T, 2) array, or a
    :class:`minimaxjax.diagnostics.Trajectory`) as a (T, 2) array, NaN where not
    finite."""
    if isinstance(path, diagnostics.Trajectory):
        path = path.iterates
    leaves = [np.asarray(leaf, dtype=float) for leaf in jax.tree.leaves(path)]
    out = None
    if len(leaves) == 1 and leaves[0].ndim == 2 and leaves[0].shape[1] == 2:
        out = leaves[0]
    elif len(leaves) == 2 and leaves[0].shape[:1] == leaves[1].shape[:1]:
        columns = [leaf.reshape(leaf.shape[0], -1) for leaf in leaves]
        if all(c.shape[1] == 1 for c in columns):
            out = np.concatenate(columns, axis=1)
    if out is None:
        raise ValueError(
            f"trajectories[{name!r}] must be a (T, 2) array, a pair (x, y) of arrays "
            "with a leading time axis of equal length and one entry per step, or a "
            "diagnostics.Trajectory; got leaves of shapes "
            f"{[leaf.shape for leaf in leaves]}."
        )
    return np.where(np.isfinite(out), out, np.nan)


def phase_portrait(
    field: Callable[..., PyTree],
    trajectories: Mapping[str, Any] | None = None,
    *,
    bounds: Bounds = (-2.0, 2.0),
    solution: PyTree | None = None,
    z_like: PyTree | None = None,
    args: tuple[Any, ...] = (),
    resolution: int = 41,
    density: float = 1.2,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    r"""The flow of a 2-D game as a stream plot, with each rule's trajectory on top.

    The streamlines follow ``ż = −V(z)``, the continuous-time limit of every rule
    (``z⁺ = z − αV(z)`` as ``α → 0``); their colour is ``log₁₀‖V‖``. On ``Φ = xy``
    they are circles around the saddle: the discrete rules then spiral out (GDA), in
    (extragradient, optimistic GDA, proximal point) or stay on a closed orbit
    (alternating GDA).

    Args:
      field: ``V(z, *args)`` of a game with two scalar players.
      trajectories: ``{label: iterates}``, each a
        :class:`minimaxjax.diagnostics.Trajectory`, a pytree like ``z`` with a
        leading time axis, or a ``(T, 2)`` array. A start marker is drawn at the
        first point; iterates beyond ``bounds`` are clipped by the axes.
      bounds: the box drawn, ``(lo, hi)`` or ``((x_lo, x_hi), (y_lo, y_hi))``.
      solution: a critical point to mark with a star.
      z_like: the structure of ``z`` when the players are not scalars (e.g. arrays
        of shape ``(1,)``); default ``(x, y)`` scalars.
      args: extra arguments of the field.
      resolution: grid points per axis for the stream plot.
      density: streamline density (matplotlib's ``streamplot``).
      ax: axes to draw on (a new figure if None).
      title: axes title.

    Returns:
      The figure.

    Example:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> from minimaxjax import plotting
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(0.5))
      >>> run = lambda rule: mmx.diagnostics.trajectory(V, z0, rule, 30)
      >>> paths = {"GDA": run(mmx.gda(0.2)), "EG": run(mmx.extragradient(0.2))}
      >>> fig = plotting.phase_portrait(V, paths, bounds=(-2, 2), solution=(0, 0))
      >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
      ['GDA', 'EG', 'z*']

    References:
      Gidel et al., *A Variational Inequality Perspective on Generative Adversarial
      Networks*, ICLR 2019, https://arxiv.org/abs/1802.10551. Hsieh, Mertikopoulos
      & Cevher, *The limits of min-max optimization algorithms: convergence to
      spurious non-critical sets*, ICML 2021, https://arxiv.org/abs/2006.09065.
    """
    import matplotlib.colors as mcolors

    (x_lo, x_hi), (y_lo, y_hi) = _box(bounds)
    xs = np.linspace(x_lo, x_hi, resolution)
    ys = np.linspace(y_lo, y_hi, resolution)

    def at(x: jax.Array, y: jax.Array) -> jax.Array:
        value = jax.tree.leaves(field(_point(x, y, z_like), *args))
        return jnp.stack([jnp.ravel(v)[0] for v in value])

    grid = jax.jit(jax.vmap(jax.vmap(at, in_axes=(0, None)), in_axes=(None, 0)))
    values = np.asarray(grid(jnp.asarray(xs), jnp.asarray(ys)), dtype=float)
    u, w = -values[..., 0], -values[..., 1]
    speed = np.hypot(u, w)
    names = list(trajectories or {})
    outside = len(names) > 4  # a long legend would hide the picture
    fig, ax = _new_axes(ax, (7.5, 5.0) if outside else (5.0, 5.0))
    with np.errstate(divide="ignore"):
        log_speed = np.log10(np.where(speed > 0, speed, np.nan))
    finite = np.isfinite(log_speed)
    norm = (
        mcolors.Normalize(np.min(log_speed[finite]), np.max(log_speed[finite]))
        if finite.any()
        else None
    )
    ax.streamplot(
        xs,
        ys,
        np.where(np.isfinite(u), u, 0.0),
        np.where(np.isfinite(w), w, 0.0),
        color=np.where(finite, log_speed, 0.0),
        cmap="Greys",
        norm=norm,
        density=density,
        linewidth=0.7,
        arrowsize=0.8,
        zorder=1,
    )
    styles = zip(names, _colors(len(names)), _dashes(len(names)), strict=True)
    for name, color, dash in styles:
        path = _xy(name, trajectories[name])  # type: ignore[index]
        ax.plot(path[:, 0], path[:, 1], dash, color=color, lw=1.4, label=name, zorder=3)
        ax.plot(path[:1, 0], path[:1, 1], "o", color=color, ms=5, zorder=4)
    if solution is not None:
        sx, sy = (float(np.ravel(v)[0]) for v in jax.tree.leaves(solution))
        ax.plot([sx], [sy], "*", color="crimson", ms=13, mec="k", zorder=5, label="z*")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal")
    ax.set_xlabel("x (min player)")
    ax.set_ylabel("y (max player)")
    if outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    elif names or solution is not None:
        ax.legend(loc="upper right", fontsize="small", framealpha=0.85)
    if title is not None:
        ax.set_title(title)
    return fig


def convergence(
    traces: Mapping[str, Any],
    *,
    steps: Mapping[str, Any] | None = None,
    tol: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "field evaluations",
) -> Figure:
    r"""``‖V‖`` against field evaluations, one curve per rule, on a log scale.

    Field evaluations are the fair clock for comparing rules: an extragradient
    iteration costs two, a proximal-point iteration with ``K`` inner steps costs
    ``K``. ``Solution.trace["field_norm"]`` from :func:`minimaxjax.solve` is
    exactly this curve.

    Args:
      traces: ``{label: ‖V‖ per evaluation}``, each of shape ``(T,)`` or
        ``(runs, T)``; NaN entries (after a run stopped) are left out. For
        several runs the median of the runs still going is drawn, with the band
        between their 10 % and 90 % quantiles.
      steps: optional ``{label: x positions}`` (length ``T``) for traces not taken
        once per field evaluation, e.g. an adaptive rule's per-iteration trace
        placed at the evaluations it used. Default: ``1, 2, …, T``.
      tol: draw a dashed line at this tolerance.
      ax: axes to draw on (a new figure if None).
      title: axes title.
      xlabel: label of the x axis.

    Returns:
      The figure.

    Example:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> from minimaxjax import plotting
      >>> V = mmx.field(lambda x, y: x * y)
      >>> z0 = (jnp.array(1.0), jnp.array(1.0))
      >>> traces = {name: mmx.solve(V, z0, rule, 200).trace["field_norm"]
      ...           for name, rule in [("GDA", mmx.gda(0.3)),
      ...                              ("EG", mmx.extragradient(0.3))]}
      >>> fig = plotting.convergence(traces, tol=1e-6)
      >>> fig.axes[0].get_yscale()
      'log'

    References:
      Korpelevich, *The extragradient method for finding saddle points and other
      problems*, Ekonomika i Matematicheskie Metody 12, 1976.
    """
    names = list(traces)
    outside = len(names) > 6  # a long legend would hide the curves
    fig, ax = _new_axes(ax, (8.5, 4.0) if outside else (6.0, 4.0))
    styles = zip(names, _colors(len(names)), _dashes(len(names)), strict=True)
    for name, color, dash in styles:
        trace = np.asarray(traces[name], dtype=float)
        if trace.ndim not in (1, 2):
            raise ValueError(
                f"traces[{name!r}] must have shape (T,) or (runs, T), got "
                f"{trace.shape}."
            )
        x = np.arange(1, trace.shape[-1] + 1)
        if steps is not None and name in steps:
            x = np.asarray(steps[name], dtype=float)
            if x.shape != (trace.shape[-1],):
                raise ValueError(
                    f"steps[{name!r}] must have shape ({trace.shape[-1]},) to match "
                    f"traces[{name!r}], got {x.shape}."
                )
        trace = np.where(trace > 0, trace, np.nan)
        if trace.ndim == 1:
            ax.plot(x, trace, dash, color=color, lw=1.3, label=name)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            low, median, high = np.nanquantile(trace, [0.1, 0.5, 0.9], axis=0)
        ax.plot(x, median, dash, color=color, lw=1.3, label=name)
        ax.fill_between(x, low, high, color=color, alpha=0.15, lw=0)
    if tol is not None:
        ax.axhline(tol, color="k", ls="--", lw=0.8, label=f"tol = {tol:g}")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("‖V(z)‖")
    ax.grid(True, which="major", alpha=0.3)
    if outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    elif names or tol is not None:
        ax.legend(fontsize="small", ncol=2 if len(names) > 3 else 1)
    if title is not None:
        ax.set_title(title)
    return fig


def _rule_names(rules: Sequence[str]) -> list[str]:
    names = [rules] if isinstance(rules, str) else list(rules)
    known = ("alternating_gda", "proximal_point", *_EVALUATIONS)
    for name in names:
        if name not in known:
            raise ValueError(
                f"rules must name rules with a closed-form linearisation, one of "
                f"{sorted(known)}; got {name!r}."
            )
    return names


def _rate(
    rule: str,
    jac: np.ndarray,
    alpha: float,
    player_sizes: Sequence[int],
    inner_steps: int | None,
    update_ratio: float,
) -> float:
    matrix = diagnostics.linear_update_map(
        rule,
        jac,
        alpha,
        player_sizes=player_sizes,
        inner_steps=inner_steps,
        update_ratio=update_ratio,
    )
    return diagnostics.spectral_radius(matrix)


def _plane_rates(
    rule: str,
    re: np.ndarray,
    im: np.ndarray,
    inner_steps: int | None,
    update_ratio: float,
    chunk: int = 32,
) -> np.ndarray:
    """Spectral radii at ``h = re + i·im`` (1-D arrays of equal length).

    A chunk of ``n`` points is one call: ``z = (x_1..x_n, y_1..y_n)`` with ``J``
    coupling only ``(x_k, y_k)``, as ``[[a_k, −b_k], [b_k, a_k]]``. Every rule's
    linearised map then acts on each pair (and its memory) separately, so the radii
    are those of small diagonal blocks. Small chunks keep the dense matrices cheap.
    """
    out = []
    for lo in range(0, re.shape[0], chunk):
        a, b = re[lo : lo + chunk], im[lo : lo + chunk]
        n = a.shape[0]
        jac = np.block([[np.diag(a), -np.diag(b)], [np.diag(b), np.diag(a)]])
        matrix = diagnostics.linear_update_map(
            rule,
            jac,
            1.0,
            player_sizes=(n, n),
            inner_steps=inner_steps,
            update_ratio=update_ratio,
        )
        copies = matrix.shape[0] // (2 * n)  # 2 for rules that remember z^{k−1}
        index = np.array(
            [
                [c * 2 * n + p * n + k for c in range(copies) for p in range(2)]
                for k in range(n)
            ]
        )
        blocks = matrix[index[:, :, None], index[:, None, :]]
        with np.errstate(all="ignore"):
            finite = np.all(np.isfinite(blocks), axis=(1, 2))
            safe = np.where(finite[:, None, None], blocks, 0.0)
            rho = np.max(np.abs(np.linalg.eigvals(safe)), axis=1)
        out.append(np.where(finite, rho, np.inf))
    return np.concatenate(out)


def stability_region(
    rules: Sequence[str] = _DEFAULT_RULES,
    *,
    inner_steps: int | None = 10,
    update_ratio: float = 0.5,
    extent: tuple[float, float, float, float] = (-1.5, 3.0, -2.25, 2.25),
    resolution: int = 121,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    r"""Where each rule is stable, in the plane of ``h = αλ``.

    On a linear field ``V(z) = Az`` a rule that treats all players alike acts on
    each eigenvalue ``λ`` of ``A`` separately, through ``h = αλ`` only (step size
    times eigenvalue). The region of a rule is the set of ``h`` where its
    linearised iteration (:func:`minimaxjax.diagnostics.linear_update_map` on
    ``A = [[a, −b], [b, a]]``, eigenvalues ``a ± ib``, with ``α = 1``) has spectral
    radius below 1; its boundary is drawn and its inside lightly filled.

    Minimisation puts ``λ`` on the positive real axis; a bilinear game puts it on
    the imaginary axis (dotted). GDA's disk ``|1 − h| < 1`` only touches that axis
    at 0, so GDA spirals out on ``Φ = xy`` whatever the step; extragradient
    (``|1 − h + h²| < 1``), optimistic GDA and the proximal point method contain a
    piece of it. Shrinking α slides ``h`` towards the origin along a ray. On a
    linear field optimistic and reflected GDA are the same map
    (``2Az^k − Az^{k−1} = A(2z^k − z^{k−1})``), so their regions coincide;
    alternating GDA treats the players differently and its region is the one for
    this particular ``A`` with ``x`` moving first.

    Args:
      rules: names of rules with a closed-form linearisation: ``"gda"``,
        ``"alternating_gda"``, ``"proximal_point"``, ``"extragradient"``,
        ``"extragradient_plus"``, ``"optimistic_gda"``, ``"reflected_gda"``.
      inner_steps: ``K`` of the proximal point rule (None: the exact step).
      update_ratio: β of extragradient_plus.
      extent: ``(re_min, re_max, im_min, im_max)`` of the plane drawn.
      resolution: grid points per axis.
      ax: axes to draw on (a new figure if None).
      title: axes title.

    Returns:
      The figure.

    Example:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> from minimaxjax import plotting
      >>> fig = plotting.stability_region(["gda", "extragradient"], resolution=41)
      >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
      ['gda', 'extragradient']

    References:
      Gidel et al., *Negative Momentum for Improved Game Dynamics*, AISTATS 2019,
      https://arxiv.org/abs/1807.04740. Mescheder, Nowozin & Geiger, *The
      Numerics of GANs*, NeurIPS 2017, https://arxiv.org/abs/1705.10461.
    """
    from matplotlib.lines import Line2D

    names = _rule_names(rules)
    re_min, re_max, im_min, im_max = extent
    re = np.linspace(re_min, re_max, resolution)
    im = np.linspace(im_min, im_max, resolution)
    fig, ax = _new_axes(ax, (5.5, 5.0))
    handles = []
    for name, color in zip(names, _colors(len(names)), strict=True):
        grid_re, grid_im = np.meshgrid(re, im)
        rho = _plane_rates(
            name, grid_re.ravel(), grid_im.ravel(), inner_steps, update_ratio
        ).reshape(grid_re.shape)
        rho = np.where(np.isfinite(rho), rho, 1e3)
        ax.contourf(re, im, rho, levels=[0.0, 1.0], colors=[color], alpha=0.12)
        ax.contour(re, im, rho, levels=[1.0], colors=[color], linewidths=1.5)
        handles.append(Line2D([], [], color=color, lw=1.5, label=name))
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.axvline(0.0, color="k", lw=0.9, ls=":")
    ax.set_xlim(re_min, re_max)
    ax.set_ylim(im_min, im_max)
    ax.set_aspect("equal")
    ax.set_xlabel("Re(αλ)")
    ax.set_ylabel("Im(αλ)")
    ax.legend(handles=handles, loc="upper right", fontsize="small")
    ax.set_title(title if title is not None else "stable inside the filled regions")
    return fig


def step_size_stability(
    field: Callable[..., PyTree],
    z_star: PyTree,
    step_sizes: Sequence[float] | np.ndarray,
    rules: Sequence[str] = _DEFAULT_RULES,
    *,
    args: tuple[Any, ...] = (),
    inner_steps: int | None = 10,
    update_ratio: float = 0.5,
    per_evaluation: bool = False,
    closed_forms: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    r"""The local rate of each rule at a critical point, against the step size.

    For each α, the spectral radius ``ρ(α)`` of the rule's iteration linearised at
    ``z*`` (:func:`minimaxjax.diagnostics.linear_update_map` with ``J = DV(z*)``):
    below the line ``ρ = 1`` the rule converges locally, at rate ``ρ`` per
    iteration; above it, it is pushed away from ``z*`` (towards a cycle, another
    attractor, or infinity). On ``Φ = xy``: GDA ``√(1 + α²)``, extragradient
    ``√(1 − α² + α⁴)``, exact proximal point ``1/√(1 + α²)``.
    ``per_evaluation`` takes the ``n``-th root for a rule making ``n`` field
    evaluations per iteration, the fair comparison at equal cost.

    Args:
      field: ``V(z, *args)``.
      z_star: the critical point.
      step_sizes: the step sizes α. The y axis stops at ``ρ = 2``.
      rules: rule names, as in :func:`stability_region`.
      args: extra arguments of the field.
      inner_steps: ``K`` of the proximal point rule (None: the exact step, counted
        as one evaluation).
      update_ratio: β of extragradient_plus.
      per_evaluation: rate per field evaluation instead of per iteration.
      closed_forms: optional ``{label: α ↦ ρ}`` drawn dashed in the colour of the
        rule of the same name.
      ax: axes to draw on (a new figure if None).
      title: axes title.

    Returns:
      The figure.

    Example:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> import numpy as np
      >>> import jax.numpy as jnp
      >>> import minimaxjax as mmx
      >>> from minimaxjax import plotting
      >>> V = mmx.field(lambda x, y: x * y)
      >>> fig = plotting.step_size_stability(
      ...     V, (jnp.array(0.0), jnp.array(0.0)), np.linspace(0.05, 1.2, 24),
      ...     ["gda", "extragradient"],
      ...     closed_forms={"gda": lambda a: np.sqrt(1 + a**2)})
      >>> len(fig.axes[0].get_lines())    # two rules, one closed form, ρ = 1
      4

    References:
      Gidel et al., *Negative Momentum for Improved Game Dynamics*, AISTATS 2019,
      https://arxiv.org/abs/1807.04740.
    """
    names = _rule_names(rules)
    alphas = np.asarray(step_sizes, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError(
            f"step_sizes must be a non-empty 1-D sequence, got shape {alphas.shape}."
        )
    z_star = jax.tree.map(jnp.asarray, z_star)
    jac = np.asarray(diagnostics.jacobian(field, z_star, *args), dtype=float)
    sizes = [
        sum(int(np.size(leaf)) for leaf in jax.tree.leaves(z_star[p]))
        for p in players(z_star)
    ]
    fig, ax = _new_axes(ax, (6.0, 4.0))
    colors = dict(zip(names, _colors(len(names)), strict=True))
    for name in names:
        rho = np.array(
            [_rate(name, jac, a, sizes, inner_steps, update_ratio) for a in alphas]
        )
        if per_evaluation:
            count = {"alternating_gda": len(sizes), "proximal_point": inner_steps or 1}
            rho = rho ** (1.0 / count.get(name, _EVALUATIONS.get(name, 1)))
        ax.plot(alphas, rho, color=colors[name], lw=1.5, label=name)
    for name, form in (closed_forms or {}).items():
        ax.plot(
            alphas,
            np.asarray(form(alphas), dtype=float),
            color=colors.get(name, "k"),
            ls="--",
            lw=1.0,
            label=f"{name} (closed form)",
        )
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    # A rule far outside its stable range (ρ in the thousands) would flatten the
    # interesting band around ρ = 1.
    top = max((np.nanmax(line.get_ydata()) for line in ax.get_lines()), default=1.0)
    ax.set_ylim(0.0, min(max(top * 1.05, 1.1), 2.0))
    ax.set_xlabel("step size α")
    ax.set_ylabel("ρ per evaluation" if per_evaluation else "ρ per iteration")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return fig


def heatmap(
    values: Any,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    annotations: Sequence[Sequence[str]] | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    colorbar_label: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """A labelled matrix of numbers, e.g. the fraction of converged runs per rule
    and game.

    Args:
      values: a ``(rows, columns)`` array (NaN cells are left blank).
      row_labels: one label per row.
      column_labels: one label per column.
      annotations: text per cell (default: the value as a percentage).
      vmin: lower end of the colour scale.
      vmax: upper end of the colour scale.
      cmap: matplotlib colour map.
      colorbar_label: label of the colour bar.
      ax: axes to draw on (a new figure if None).
      title: axes title.

    Returns:
      The figure.

    Example:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> from minimaxjax import plotting
      >>> fig = plotting.heatmap([[1.0, 0.5], [0.0, 0.25]], ["GDA", "EG"],
      ...                        ["bilinear", "forsaken"])
      >>> [t.get_text() for t in fig.axes[0].texts]
      ['100%', '50%', '0%', '25%']

    References:
      Hunter, *Matplotlib: A 2D graphics environment*, Computing in Science &
      Engineering 9, 2007.
    """
    data = np.asarray(values, dtype=float)
    if data.shape != (len(row_labels), len(column_labels)):
        raise ValueError(
            f"values must have shape (len(row_labels), len(column_labels)) = "
            f"({len(row_labels)}, {len(column_labels)}), got {data.shape}."
        )
    width = 1.6 + 0.9 * len(column_labels)
    height = 1.2 + 0.45 * len(row_labels)
    fig, ax = _new_axes(ax, (max(width, 4.0), max(height, 3.0)))
    image = ax.imshow(
        np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto"
    )
    ax.set_xticks(range(len(column_labels)), list(column_labels))
    ax.set_yticks(range(len(row_labels)), list(row_labels))
    ax.tick_params(axis="x", labelrotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    middle = vmin + 0.5 * (vmax - vmin)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if annotations is not None:
                text = annotations[i][j]
            elif math.isnan(data[i, j]):
                continue
            else:
                text = f"{data[i, j]:.0%}"
            dark = not math.isnan(data[i, j]) and data[i, j] < middle
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize="small",
                color="w" if dark else "k",
            )
    colorbar = fig.colorbar(image, ax=ax)
    if colorbar_label is not None:
        colorbar.set_label(colorbar_label)
    if title is not None:
        ax.set_title(title)
    return fig
