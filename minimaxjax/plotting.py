"""Pictures of game dynamics: phase portraits, convergence curves, stability regions.

matplotlib is an optional dependency (``pip install "minimaxjax[examples]"``). It is
imported inside the plotting functions, so ``import minimaxjax`` never imports it.
Every function draws on ``ax`` when given one (a new figure otherwise) and returns
the :class:`matplotlib.figure.Figure`; nothing is shown, so they work with any
backend, Agg included. The numbers come from :mod:`minimaxjax.diagnostics`
(trajectories, linearised iteration maps) and :func:`minimaxjax.solve` (‖V‖
traces).

Curves that may lie on top of each other (optimistic and reflected GDA on a linear
field, several rules leaving the same start along the same direction) each get
their own colour, line style and marker, the markers of different curves placed
at different points; a curve equal to an earlier one to plotting precision says
so in the legend (``"reflected_gda (= optimistic_gda)"``).
"""

import math
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from minimaxjax import diagnostics
from minimaxjax._tree import players
from minimaxjax._types import Field, PyTree
from minimaxjax.rules import RULES

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
CriticalSet = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``f(x, y)`` on NumPy grids whose zero set is a curve of critical points."""

_DEFAULT_RULES = ("gda", "extragradient", "optimistic_gda", "proximal_point")

# Two curves whose drawn points differ by at most this fraction of the axis span
# (a tenth of a pixel on a 1000-pixel axis) are one curve to the eye. Float32 runs
# of algebraically equal rules differ by rounding (OGDA and reflected GDA on the
# benchmark's quadratic game: 6e-8), which a 1e-9 relative test would call two
# curves.
_PLOTTING_PRECISION = 1e-4
_LINE_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
_MARKER_SPACING = 0.09  # between markers along a curve, as a fraction of the view

# One colour per outcome (Okabe & Ito's colour-blind safe palette): a spurious
# limit, which a fraction alone would count as success, is never green.
_OUTCOME_COLORS = types.MappingProxyType(
    {
        "converged": "#009E73",
        "spurious": "#CC79A7",
        "limit cycle": "#56B4E9",
        "cycle": "#56B4E9",
        "bounded": "#0072B2",
        "saturating": "#E69F00",
        "slow": "#F0E442",
        "diverged": "#D55E00",
    }
)
_OTHER_OUTCOME = "#BBBBBB"  # unknown, unclear, and outcomes added later
_SPURIOUS_SET_COLOR = _OUTCOME_COLORS["spurious"]


def _new_axes(ax: "Axes | None", figsize: tuple[float, float]) -> "tuple[Figure, Axes]":
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _styles(n: int) -> list[dict[str, Any]]:
    """``n`` looks for ``ax.plot``: a colour, a line style and a marker each.

    Colours repeat after 10 curves and line styles after 4, so no two of the first
    10 curves look alike. Markers are placed by :func:`_markers`.
    """
    import matplotlib as mpl

    cycle = mpl.color_sequences["tab10"]
    return [
        {
            "color": cycle[i % len(cycle)],
            "linestyle": _LINE_STYLES[i % len(_LINE_STYLES)],
            "marker": _MARKERS[i % len(_MARKERS)],
            "markersize": 4.5,
        }
        for i in range(n)
    ]


def _markers(
    points: np.ndarray, view: np.ndarray, i: int, n: int, most: int = 12
) -> list[int]:
    """Indices of ``points`` (``(T, 2)``, as drawn) for the markers of curve ``i``
    of ``n``: evenly spaced along the curve, ``_MARKER_SPACING`` of the view apart
    (further on long curves, so at most ``most`` markers), curve ``i`` starting
    ``i/n`` of a spacing in, so curves drawn on top of each other show their
    markers in turn.

    ``view`` is ``((x_lo, y_lo), (x_hi, y_hi))`` in the drawn coordinates.
    """
    finite = np.flatnonzero(np.isfinite(points).all(axis=1))
    if finite.size == 0:
        return []
    lo, hi = view
    # Beyond the view only the way out counts: a run escaping to 1e30 would
    # otherwise spread its markers a view apart off-screen.
    scaled = np.clip((points[finite] - lo) / np.where(hi > lo, hi - lo, 1.0), -0.1, 1.1)
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(scaled, axis=0).T))])
    spacing = max(_MARKER_SPACING, along[-1] / most)
    targets = np.arange(spacing * i / n, along[-1] + 1e-12, spacing)
    chosen = np.minimum(np.searchsorted(along, targets), finite.size - 1)
    return sorted({int(k) for k in finite[chosen]})


def _same_to_plotting_precision(a: np.ndarray, b: np.ndarray, span: np.ndarray) -> bool:
    """Whether two curves of ``(T, 2)`` drawn coordinates are one to the eye."""
    if a.shape != b.shape:
        return False
    finite = np.isfinite(a).all(axis=1)
    if not np.array_equal(finite, np.isfinite(b).all(axis=1)) or finite.sum() < 2:
        return False
    gap = np.abs(a[finite] - b[finite]) / np.where(span > 0, span, 1.0)
    return bool(np.max(gap) <= _PLOTTING_PRECISION)


def _extent(curves: Sequence[np.ndarray]) -> np.ndarray:
    """``[[x_lo, y_lo], [x_hi, y_hi]]`` of the finite points of ``(T, 2)`` curves
    (the unit square when there are none)."""
    finite = [c[np.isfinite(c).all(axis=1)] for c in curves]
    finite = [c for c in finite if c.size]
    if not finite:
        return np.array([[0.0, 0.0], [1.0, 1.0]])
    stacked = np.concatenate(finite)
    return np.stack([stacked.min(axis=0), stacked.max(axis=0)])


def _coincident(
    curves: Sequence[tuple[str, np.ndarray]], span: Sequence[float] | None = None
) -> dict[str, str]:
    """``{name: earlier}`` for each curve equal to an earlier one to plotting
    precision, naming the first curve of its group.

    Curves are ``(T, 2)`` coordinates as drawn (log₁₀ on a log axis); ``span`` is
    the width and height of the view, by default those of the finite points.
    """
    if span is None:
        lo, hi = _extent([c for _, c in curves])
        span = hi - lo
    widths = np.asarray(span, dtype=float)
    same: dict[str, str] = {}
    for i, (name, data) in enumerate(curves):
        for other, earlier in curves[:i]:
            if other not in same and _same_to_plotting_precision(data, earlier, widths):
                same[name] = other
                break
    return same


def _with_coincidences(names: Sequence[str], same: Mapping[str, str]) -> list[str]:
    return [f"{name} (= {same[name]})" if name in same else name for name in names]


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


def _view(
    box: tuple[tuple[float, float], tuple[float, float]],
    paths: Sequence[np.ndarray],
    max_expansion: float,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The box grown to the finite extent of ``paths`` (plus a 4 % margin), each
    side at most ``max_expansion`` half-widths from the box's centre."""
    lo = np.array([box[0][0], box[1][0]])
    hi = np.array([box[0][1], box[1][1]])
    points = [p[np.isfinite(p).all(axis=1)] for p in paths]
    points = [p for p in points if p.size]
    if not points:
        return box
    stacked = np.concatenate(points)
    need_lo = np.minimum(lo, stacked.min(axis=0))
    need_hi = np.maximum(hi, stacked.max(axis=0))
    margin = 0.04 * (need_hi - need_lo)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    reach = max(max_expansion, 1.0) * half
    new_lo = np.where(need_lo < lo, np.maximum(need_lo - margin, centre - reach), lo)
    new_hi = np.where(need_hi > hi, np.minimum(need_hi + margin, centre + reach), hi)
    return (
        (float(new_lo[0]), float(new_hi[0])),
        (float(new_lo[1]), float(new_hi[1])),
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
    field: Field,
    trajectories: Mapping[str, Any] | None = None,
    *,
    bounds: Bounds = (-2.0, 2.0),
    solution: PyTree | None = None,
    critical_sets: Mapping[str, CriticalSet] | None = None,
    max_expansion: float = 3.0,
    z_like: PyTree | None = None,
    args: tuple[Any, ...] = (),
    resolution: int = 41,
    density: float = 1.2,
    ax: "Axes | None" = None,
    title: str | None = None,
) -> "Figure":
    r"""The flow of a 2-D game as a stream plot, with each rule's trajectory on top.

    The streamlines follow ``ż = −V(z)``, the continuous-time limit of every rule
    (``z⁺ = z − αV(z)`` as ``α → 0``); their colour is ``log₁₀‖V‖``. On ``Φ = xy``
    they are circles around the saddle: the discrete rules then spiral out (GDA), in
    (extragradient, optimistic GDA, proximal point) or stay on a closed orbit
    (alternating GDA).

    The view is ``bounds``, grown to keep the trajectories in sight: a trajectory
    that leaves the box widens the view up to ``max_expansion`` times the box
    (about its centre). One that still leaves the view, or stops being finite, says
    ``(leaves the view)`` in the legend. A trajectory equal to an earlier one to
    plotting precision says ``(= earlier)``.

    Args:
      field: ``V(z, *args)`` of a game with two scalar players.
      trajectories: ``{label: iterates}``, each a
        :class:`minimaxjax.diagnostics.Trajectory`, a pytree like ``z`` with a
        leading time axis, or a ``(T, 2)`` array. A start marker is drawn at the
        first point; non-finite iterates are left out.
      bounds: the box of interest, ``(lo, hi)`` or ``((x_lo, x_hi), (y_lo, y_hi))``.
      solution: a critical point to mark with a star.
      critical_sets: ``{label: f}`` for curves of other critical points, each the
        zero set ``f(x, y) = 0`` of a function of NumPy grids, drawn dashed: e.g.
        ``{"xy = 1/2": lambda x, y: x * y - 0.5}`` for the spurious critical
        points of the weird saddle (Hsieh et al. 2021).
      max_expansion: how far the view may grow beyond ``bounds``, as a multiple of
        the box's size (1: never).
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
    from matplotlib.lines import Line2D

    names = list(trajectories or {})
    paths = [_xy(name, trajectories[name]) for name in names]  # type: ignore[index]
    (x_lo, x_hi), (y_lo, y_hi) = _view(_box(bounds), paths, max_expansion)
    xs = np.linspace(x_lo, x_hi, resolution)
    ys = np.linspace(y_lo, y_hi, resolution)

    def at(x: jax.Array, y: jax.Array) -> jax.Array:
        value = jax.tree.leaves(field(_point(x, y, z_like), *args))
        return jnp.stack([jnp.ravel(v)[0] for v in value])

    grid = jax.jit(jax.vmap(jax.vmap(at, in_axes=(0, None)), in_axes=(None, 0)))
    values = np.asarray(grid(jnp.asarray(xs), jnp.asarray(ys)), dtype=float)
    u, w = -values[..., 0], -values[..., 1]
    speed = np.hypot(u, w)
    sets = dict(critical_sets or {})
    outside = len(names) + len(sets) > 4  # a long legend would hide the picture
    fig, ax = _new_axes(ax, (7.5, 5.0) if outside else (5.0, 5.0))
    with np.errstate(divide="ignore", invalid="ignore"):
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
    handles: list[Any] = []
    same = _coincident(list(zip(names, paths, strict=True)), (x_hi - x_lo, y_hi - y_lo))
    labels = _with_coincidences(names, same)
    view = np.array([[x_lo, y_lo], [x_hi, y_hi]])
    styles = _styles(len(names))
    for i, (label, path, style) in enumerate(zip(labels, paths, styles, strict=True)):
        drawn = path[np.isfinite(path).all(axis=1)]
        escapes = drawn.shape[0] < path.shape[0] or bool(
            np.any(drawn[:, 0] < x_lo)
            or np.any(drawn[:, 0] > x_hi)
            or np.any(drawn[:, 1] < y_lo)
            or np.any(drawn[:, 1] > y_hi)
        )
        if escapes:
            label = f"{label} (leaves the view)"
        (line,) = ax.plot(
            path[:, 0],
            path[:, 1],
            lw=1.4,
            label=label,
            zorder=3,
            markevery=_markers(path, view, i, len(names)),
            **style,
        )
        ax.plot(path[:1, 0], path[:1, 1], "o", color=style["color"], ms=6, zorder=4)
        handles.append(line)
    dense_xs = np.linspace(x_lo, x_hi, 401)
    dense_ys = np.linspace(y_lo, y_hi, 401)
    grid_x, grid_y = np.meshgrid(dense_xs, dense_ys)
    for i, (label, zero_set) in enumerate(sets.items()):
        linestyle = _LINE_STYLES[(i + 1) % len(_LINE_STYLES)]
        values_on_grid = np.asarray(zero_set(grid_x, grid_y), dtype=float)
        ax.contour(
            dense_xs,
            dense_ys,
            values_on_grid,
            levels=[0.0],
            colors=[_SPURIOUS_SET_COLOR],
            linestyles=[linestyle],
            linewidths=2.2,
            zorder=2,
        )
        handles.append(
            Line2D([], [], color=_SPURIOUS_SET_COLOR, ls=linestyle, lw=2.2, label=label)
        )
    if solution is not None:
        sx, sy = (float(np.ravel(v)[0]) for v in jax.tree.leaves(solution))
        (star,) = ax.plot(
            [sx], [sy], "*", color="crimson", ms=13, mec="k", zorder=5, label="z*"
        )
        handles.append(star)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal")
    ax.set_xlabel("x (min player)")
    ax.set_ylabel("y (max player)")
    if outside:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="small",
        )
    elif handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.85)
    if title is not None:
        ax.set_title(title)
    return fig


def convergence(
    traces: Mapping[str, Any],
    *,
    steps: Mapping[str, Any] | None = None,
    tol: float | None = None,
    xscale: str = "linear",
    ax: "Axes | None" = None,
    title: str | None = None,
    xlabel: str = "field evaluations",
) -> "Figure":
    r"""``‖V‖`` against field evaluations, one curve per rule, on a log scale.

    Field evaluations are the fair clock for comparing rules: an extragradient
    iteration costs two, a proximal-point iteration with ``K`` inner steps costs
    ``K``. ``Solution.trace["field_norm"]`` from :func:`minimaxjax.solve` is
    exactly this curve. A curve equal to an earlier one to plotting precision
    says ``(= earlier)`` in the legend. (Optimistic and reflected GDA make the
    same iterates on a linear field, but reflected GDA evaluates ``V`` at the
    reflected point ``2z^k − z^{k−1}``, so their ‖V‖ traces differ.)

    Args:
      traces: ``{label: ‖V‖ per evaluation}``, each of shape ``(T,)`` or
        ``(runs, T)``; NaN entries (after a run stopped) are left out. For
        several runs the median of the runs still going is drawn, with the band
        between their 10 % and 90 % quantiles.
      steps: optional ``{label: x positions}`` (length ``T``) for traces not taken
        once per field evaluation, e.g. an adaptive rule's per-iteration trace
        placed at the evaluations it used. Default: ``1, 2, …, T``.
      tol: draw a dashed line at this tolerance.
      xscale: ``"linear"``, or ``"log"`` to spread out rules that stop after a
        few evaluations next to rules that run for thousands.
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
      >>> fig = plotting.convergence(traces, tol=1e-6, xscale="log")
      >>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
      ('log', 'log')

    References:
      Korpelevich, *The extragradient method for finding saddle points and other
      problems*, Ekonomika i Matematicheskie Metody 12, 1976.
    """
    if xscale not in ("linear", "log"):
        raise ValueError(f'xscale must be "linear" or "log", got {xscale!r}.')
    names = list(traces)
    curves = []  # (x, low, median, high) per name; low/high None for one run
    for name in names:
        trace = np.asarray(traces[name], dtype=float)
        if trace.ndim not in (1, 2):
            raise ValueError(
                f"traces[{name!r}] must have shape (T,) or (runs, T), got "
                f"{trace.shape}."
            )
        x = np.arange(1, trace.shape[-1] + 1, dtype=float)
        if steps is not None and name in steps:
            x = np.asarray(steps[name], dtype=float)
            if x.shape != (trace.shape[-1],):
                raise ValueError(
                    f"steps[{name!r}] must have shape ({trace.shape[-1]},) to match "
                    f"traces[{name!r}], got {x.shape}."
                )
        trace = np.where(trace > 0, trace, np.nan)
        if trace.ndim == 1:
            curves.append((x, None, trace, None))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            low, median, high = np.nanquantile(trace, [0.1, 0.5, 0.9], axis=0)
        curves.append((x, low, median, high))
    with np.errstate(divide="ignore", invalid="ignore"):
        drawn = [
            np.stack([np.log10(x) if xscale == "log" else x, np.log10(median)], 1)
            for x, _, median, _ in curves
        ]
    labels = _with_coincidences(
        names, _coincident(list(zip(names, drawn, strict=True)))
    )
    outside = len(names) > 6  # a long legend would hide the curves
    fig, ax = _new_axes(ax, (8.5, 4.0) if outside else (6.0, 4.0))
    view = _extent(drawn)
    ax.set_xscale(xscale)
    ax.set_yscale("log")
    styles = _styles(len(names))
    for i, (label, (x, low, median, high), style) in enumerate(
        zip(labels, curves, styles, strict=True)
    ):
        markers = _markers(drawn[i], view, i, len(names))
        ax.plot(x, median, lw=1.3, label=label, markevery=markers, **style)
        if low is not None:
            ax.fill_between(x, low, high, color=style["color"], alpha=0.15, lw=0)
    if tol is not None:
        ax.axhline(tol, color="k", ls="--", lw=0.8, label=f"tol = {tol:g}")
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
    known = [name for name, spec in RULES.items() if spec.linear_map is not None]
    for name in names:
        if name not in known:
            raise ValueError(
                f"rules must name rules with a closed-form linearisation, one of "
                f"{sorted(known)}; got {name!r}."
            )
    return names


def _rule_label(
    name: str,
    inner_steps: int | None,
    update_ratio: float,
    matrix: str | None = None,
) -> str:
    """The rule's name with the parameters its picture depends on; ``matrix`` names
    the one matrix a picture drawn per eigenvalue holds for when the rule treats
    the players differently."""
    if name == "proximal_point":
        return (
            f"{name} (exact)" if inner_steps is None else f"{name} (K = {inner_steps})"
        )
    if name == "extragradient_plus":
        return f"{name} (β = {update_ratio:g})"
    if name == "alternating_gda" and matrix is not None:
        return f"{name} (for {matrix} only)"
    return name


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
    ax: "Axes | None" = None,
    title: str | None = None,
) -> "Figure":
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
    (``2Az^k − Az^{k−1} = A(2z^k − z^{k−1})``), so their regions coincide and the
    legend says ``reflected_gda (= optimistic_gda)``; alternating GDA treats the
    players differently and its region is the one for this particular
    ``J = A = [[a, −b], [b, a]]`` with ``x`` moving first, as its legend entry
    says. The entries of the proximal point method and extragradient+ carry ``K``
    and ``β``.

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
      >>> fig = plotting.stability_region(
      ...     ["optimistic_gda", "reflected_gda", "proximal_point"], inner_steps=5,
      ...     resolution=41)
      >>> for text in fig.axes[0].get_legend().get_texts():
      ...     print(text.get_text())
      optimistic_gda
      reflected_gda (= optimistic_gda)
      proximal_point (K = 5)

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
    grid_re, grid_im = np.meshgrid(re, im)
    rates = {}
    for name in names:
        rho = _plane_rates(
            name, grid_re.ravel(), grid_im.ravel(), inner_steps, update_ratio
        ).reshape(grid_re.shape)
        rates[name] = np.where(np.isfinite(rho), rho, 1e3)
    labels = {
        name: _rule_label(name, inner_steps, update_ratio, "J = [[a, −b], [b, a]]")
        for name in names
    }
    same: dict[str, str] = {}
    for i, name in enumerate(names):
        stable = rates[name] < 1.0
        for other in names[:i]:
            if (
                other not in same
                and stable.any()
                and np.array_equal(stable, rates[other] < 1.0)
            ):
                same[name] = labels[other]
                break
    outside = len(names) > 3  # a long legend would hide the regions
    fig, ax = _new_axes(ax, (8.5, 5.0) if outside else (5.5, 5.0))
    handles = []
    for name, style in zip(names, _styles(len(names)), strict=True):
        color, linestyle = style["color"], style["linestyle"]
        rho = rates[name]
        ax.contourf(re, im, rho, levels=[0.0, 1.0], colors=[color], alpha=0.12)
        ax.contour(
            re,
            im,
            rho,
            levels=[1.0],
            colors=[color],
            linestyles=[linestyle],
            linewidths=1.5,
        )
        label = labels[name] + (f" (= {same[name]})" if name in same else "")
        handles.append(Line2D([], [], color=color, ls=linestyle, lw=1.5, label=label))
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.axvline(0.0, color="k", lw=0.9, ls=":")
    ax.set_xlim(re_min, re_max)
    ax.set_ylim(im_min, im_max)
    ax.set_aspect("equal")
    ax.set_xlabel("Re(αλ)")
    ax.set_ylabel("Im(αλ)")
    if outside:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="small",
        )
    else:
        ax.legend(handles=handles, loc="upper right", fontsize="small")
    ax.set_title(title if title is not None else "stable inside the filled regions")
    return fig


def step_size_stability(
    field: Field,
    z_star: PyTree,
    step_sizes: Sequence[float] | np.ndarray,
    rules: Sequence[str] = _DEFAULT_RULES,
    *,
    args: tuple[Any, ...] = (),
    inner_steps: int | None = 10,
    update_ratio: float = 0.5,
    per_evaluation: bool = False,
    closed_forms: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    ax: "Axes | None" = None,
    title: str | None = None,
) -> "Figure":
    r"""The local rate of each rule at a critical point, against the step size.

    For each α, the spectral radius ``ρ(α)`` of the rule's iteration linearised at
    ``z*`` (:func:`minimaxjax.diagnostics.linear_update_map` with ``J = DV(z*)``):
    below the line ``ρ = 1`` the rule converges locally, at rate ``ρ`` per
    iteration; above it, it is pushed away from ``z*`` (towards a cycle, another
    attractor, or infinity). On ``Φ = xy``: GDA ``√(1 + α²)``, extragradient
    ``√(1 − α² + α⁴)``, exact proximal point ``1/√(1 + α²)``.
    ``per_evaluation`` takes the ``n``-th root for a rule making ``n`` field
    evaluations per iteration, the fair comparison at equal cost. Legend entries
    carry ``K`` and ``β`` where a curve depends on them, and a curve equal to an
    earlier one says ``(= earlier)``.

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
      closed_forms: optional ``{rule: α ↦ ρ}`` drawn wide and pale under the curve
        of the rule of that name, in its colour.
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
    rates = []
    for name in names:
        rho = np.array(
            [_rate(name, jac, a, sizes, inner_steps, update_ratio) for a in alphas]
        )
        if per_evaluation:
            options = {"inner_steps": inner_steps or 1, "update_ratio": update_ratio}
            spec = RULES[name]
            given = {k: v for k, v in options.items() if k in spec.options}
            rho = rho ** (1.0 / spec.evaluations(z_star, **given))
        rates.append(rho)
    forms = {
        name: np.asarray(form(alphas), dtype=float)
        for name, form in (closed_forms or {}).items()
    }
    # A rule far outside its stable range (ρ in the thousands) would flatten the
    # interesting band around ρ = 1.
    finite = [r[np.isfinite(r)] for r in [*rates, *forms.values()]]
    top = max((float(np.max(r)) for r in finite if r.size), default=1.0)
    top = min(max(top * 1.05, 1.1), 2.0)
    labels = [_rule_label(name, inner_steps, update_ratio) for name in names]
    same = _coincident(
        [
            (label, np.stack([alphas, rho], axis=1))
            for label, rho in zip(labels, rates, strict=True)
        ],
        (np.ptp(alphas), top),
    )
    fig, ax = _new_axes(ax, (6.0, 4.0))
    styles = dict(zip(names, _styles(len(names)), strict=True))
    view = np.array([[alphas.min(), 0.0], [alphas.max(), top]])
    for i, (name, label, rho) in enumerate(
        zip(names, _with_coincidences(labels, same), rates, strict=True)
    ):
        markers = _markers(np.stack([alphas, rho], axis=1), view, i, len(names))
        ax.plot(alphas, rho, lw=1.5, label=label, markevery=markers, **styles[name])
    for name, rho in forms.items():
        # Wide and pale under the rule's curve: the two agree where it hides.
        color = styles[name]["color"] if name in styles else "k"
        ax.plot(
            alphas,
            rho,
            color=color,
            lw=5.0,
            alpha=0.3,
            solid_capstyle="butt",
            label=f"{name} (closed form)",
            zorder=1,
        )
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_ylim(0.0, top)
    ax.set_xlabel("step size α")
    ax.set_ylabel("ρ per evaluation" if per_evaluation else "ρ per iteration")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return fig


def _outcome_color(outcome: Any) -> str:
    """The colour of an outcome: a :class:`minimaxjax.diagnostics.Outcome` or its
    value, or a benchmark verdict; grey for any other name."""
    name = str(getattr(outcome, "value", outcome)).lower()
    return _OUTCOME_COLORS.get(name, _OTHER_OUTCOME)


def _text_color(rgb: Sequence[float]) -> str:
    """Black on light cells, white on dark ones (WCAG relative luminance)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "k" if luminance > 0.18 else "w"


def heatmap(
    values: Any,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    *,
    annotations: Sequence[Sequence[str]] | None = None,
    outcomes: Sequence[Sequence[Any]] | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    colorbar_label: str | None = None,
    ax: "Axes | None" = None,
    title: str | None = None,
) -> "Figure":
    """A labelled matrix of numbers, e.g. the fraction of converged runs per rule
    and game.

    With ``outcomes`` the cells are coloured by what the runs ended on instead of
    by value, one colour per outcome: converged green, spurious (converged, but not
    to the solution) purple, limit cycle light blue, bounded blue, saturating
    orange, slow yellow, diverged vermilion, and grey for unknown outcomes and any
    name not listed (so an outcome added later never breaks the picture). A legend
    of the outcomes shown replaces the colour bar.

    Args:
      values: a ``(rows, columns)`` array (NaN cells are left blank).
      row_labels: one label per row.
      column_labels: one label per column.
      annotations: text per cell (default: the value as a percentage).
      outcomes: optional ``(rows, columns)`` grid of outcomes
        (:class:`minimaxjax.diagnostics.Outcome` members or names such as
        ``"spurious"``); None or ``""`` leaves a cell blank.
      vmin: lower end of the colour scale.
      vmax: upper end of the colour scale.
      cmap: matplotlib colour map.
      colorbar_label: label of the colour bar (with ``outcomes``: the legend's
        title).
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
      >>> fig = plotting.heatmap([[1.0, 1.0]], ["GDA"], ["bilinear", "weird"],
      ...                        outcomes=[["converged", "spurious"]])
      >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
      ['converged', 'spurious']

    References:
      Hunter, *Matplotlib: A 2D graphics environment*, Computing in Science &
      Engineering 9, 2007. Okabe & Ito, *Color Universal Design*, 2008,
      https://jfly.uni-koeln.de/color/.
    """
    import matplotlib.colors as mcolors
    from matplotlib.patches import Patch

    data = np.asarray(values, dtype=float)
    shape = (len(row_labels), len(column_labels))
    if data.shape != shape:
        raise ValueError(
            f"values must have shape (len(row_labels), len(column_labels)) = "
            f"{shape}, got {data.shape}."
        )
    if outcomes is not None and np.shape(np.asarray(outcomes, dtype=object)) != shape:
        raise ValueError(
            f"outcomes must have shape (len(row_labels), len(column_labels)) = "
            f"{shape}, got {np.shape(np.asarray(outcomes, dtype=object))}."
        )
    width = 1.6 + 0.9 * len(column_labels) + (1.6 if outcomes is not None else 0.0)
    height = 1.2 + 0.45 * len(row_labels)
    fig, ax = _new_axes(ax, (max(width, 4.0), max(height, 3.0)))
    shown: dict[str, str] = {}  # outcome name -> colour, for the legend
    if outcomes is None:
        image = ax.imshow(
            np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto"
        )
        rgb: np.ndarray = np.asarray(image.cmap(image.norm(data)))[..., :3]
        blank = np.isnan(data)
    else:
        rgb = np.ones((*shape, 3))
        blank = np.ones(shape, dtype=bool)
        for i in range(shape[0]):
            for j in range(shape[1]):
                outcome = outcomes[i][j]
                if outcome is None or outcome == "":
                    continue
                color = _outcome_color(outcome)
                rgb[i, j] = mcolors.to_rgb(color)
                blank[i, j] = False
                shown[str(getattr(outcome, "value", outcome))] = color
        ax.imshow(rgb, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(column_labels)), list(column_labels))
    ax.set_yticks(range(len(row_labels)), list(row_labels))
    ax.tick_params(axis="x", labelrotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if annotations is not None:
                text = annotations[i][j]
            elif math.isnan(data[i, j]):
                continue
            else:
                text = f"{data[i, j]:.0%}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize="small",
                color="k" if blank[i, j] else _text_color(rgb[i, j]),
            )
    if outcomes is None:
        colorbar = fig.colorbar(image, ax=ax)
        if colorbar_label is not None:
            colorbar.set_label(colorbar_label)
    else:
        order = list(_OUTCOME_COLORS)
        names = sorted(
            shown, key=lambda n: order.index(n) if n in order else len(order)
        )
        ax.legend(
            handles=[
                Patch(facecolor=shown[name], edgecolor="0.3", label=name)
                for name in names
            ],
            title=colorbar_label,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="small",
        )
    if title is not None:
        ax.set_title(title)
    return fig
