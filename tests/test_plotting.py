"""mmx.plotting: each picture is a Figure with the expected artists and saves a PNG;
the helpers behind them agree with closed forms on Φ = xy; curves that coincide say
so, outcomes have their own colours; the benchmark saves PNG at 150 dpi, SVG or PDF.
"""

import functools
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minimaxjax as mmx

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from benchmarks import games as bench  # noqa: E402
from minimaxjax import plotting  # noqa: E402

V = mmx.field(lambda x, y: x * y)
ORIGIN = (jnp.array(0.0), jnp.array(0.0))
Z0 = (jnp.array(1.0), jnp.array(0.5))
RULES = {
    "GDA": mmx.gda,
    "EG": mmx.extragradient,
    "PPM": functools.partial(mmx.proximal_point, inner_steps=5),
    "OGDA": mmx.optimistic_gda,
}
LINEAR_RULES = ["gda", "extragradient", "optimistic_gda", "proximal_point"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_saves_png(fig, path):
    assert isinstance(fig, Figure)
    fig.savefig(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 1000


def test_importing_minimaxjax_does_not_import_matplotlib():
    code = (
        "import sys, minimaxjax, minimaxjax.plotting; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_stability_rates_match_bilinear_closed_forms():
    # Φ = xy (J² = −I): GDA √(1 + α²), EG √(1 − α² + α⁴), and K fixed-point steps
    # of PPM from w₀ = z give w_K = Σ_{j≤K} (−αJ)^j z, i.e. |1 − (−iα)^{K+1}|/√(1+α²).
    alphas = np.linspace(0.1, 0.9, 9)
    fig = plotting.step_size_stability(
        V, ORIGIN, alphas, ["gda", "extragradient", "proximal_point"], inner_steps=3
    )
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["gda"], np.sqrt(1 + alphas**2), rtol=1e-6)
    np.testing.assert_allclose(
        lines["extragradient"], np.sqrt(1 - alphas**2 + alphas**4), rtol=1e-6
    )
    np.testing.assert_allclose(
        lines["proximal_point (K = 3)"],
        np.abs(1 - alphas**4) / np.sqrt(1 + alphas**2),
        rtol=1e-6,
    )


def test_stability_region_boundaries_are_the_closed_forms():
    # GDA on h = αλ is stable iff |1 − h| < 1, EG iff |1 − h + h²| < 1: the grid
    # cells the picture fills are exactly those.
    re, im = np.meshgrid(np.linspace(-1, 2, 31), np.linspace(-1.5, 1.5, 31))
    h = re + 1j * im
    for rule, multiplier in [("gda", 1 - h), ("extragradient", 1 - h + h**2)]:
        rho = plotting._plane_rates(rule, re.ravel(), im.ravel(), 10, 0.5)
        expected = np.abs(multiplier).ravel()
        np.testing.assert_allclose(rho, expected, rtol=1e-9, atol=1e-12)
    # OGDA: μ² − (1 − 2h)μ − h = 0 per eigenvalue (double roots are only
    # accurate to √ε, hence the looser tolerance).
    rho = plotting._plane_rates("optimistic_gda", re.ravel(), im.ravel(), 10, 0.5)
    expected = [np.max(np.abs(np.roots([1.0, -(1 - 2 * v), -v]))) for v in h.ravel()]
    np.testing.assert_allclose(rho, expected, rtol=1e-6)


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_phase_portrait(tmp_path):
    paths = {
        name: mmx.diagnostics.trajectory(V, Z0, rule(0.2), 30)
        for name, rule in RULES.items()
    }
    box = ((-2.0, 2.0), (-1.5, 1.5))
    fig = plotting.phase_portrait(V, paths, bounds=box, solution=ORIGIN, title="xy")
    (ax,) = fig.axes
    assert any(isinstance(c, LineCollection) for c in ax.collections)  # streamlines
    assert legend_texts(ax) == [*RULES, "z*"]
    labelled = [line for line in ax.get_lines() if line.get_label() in RULES]
    assert [len(line.get_xdata()) for line in labelled] == [31] * len(RULES)
    # GDA spirals out by √(1 + α²) per step: 1.118 · 1.04^15 ≈ 2.0 > 1.5, so the
    # view grows past the box to keep it in sight.
    gda = np.stack([paths["GDA"].iterates[0], paths["GDA"].iterates[1]], axis=1)
    assert np.abs(gda[:, 1]).max() > 1.5
    (x_lo, x_hi), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    assert x_lo <= -2.0 and x_hi >= 2.0
    assert y_lo <= gda[:, 1].min() and y_hi >= gda[:, 1].max()
    assert ax.get_title() == "xy"
    assert_saves_png(fig, tmp_path / "phase.png")


def test_phase_portrait_keeps_escaping_trajectories_in_view():
    t = np.linspace(0.0, 1.0, 20)[:, None]
    inside = t * np.array([1.0, -1.0])
    out_to_five = t * np.array([5.0, 0.5])
    fig = plotting.phase_portrait(V, {"inside": inside}, bounds=(-2, 2))
    assert fig.axes[0].get_xlim() == (-2.0, 2.0)  # nothing to grow for
    assert fig.axes[0].get_ylim() == (-2.0, 2.0)
    fig = plotting.phase_portrait(V, {"out": out_to_five}, bounds=(-2, 2))
    ax = fig.axes[0]
    assert 5.0 <= ax.get_xlim()[1] <= 6.0
    assert ax.get_ylim() == (-2.0, 2.0)
    assert legend_texts(ax) == ["out"]
    # Escaping to 1e6: the view stops at max_expansion times the box and the
    # legend says the trajectory leaves it.
    far = t * np.array([1e6, 0.0])
    fig = plotting.phase_portrait(V, {"far": far}, bounds=(-2, 2), max_expansion=3)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-2.0, 6.0)
    assert legend_texts(ax) == ["far (leaves the view)"]


def test_phase_portrait_says_when_trajectories_coincide():
    # On a linear field optimistic and reflected GDA make the same iterates:
    # 2Vz^k − Vz^{k−1} = V(2z^k − z^{k−1}) (Malitsky 2015).
    paths = {
        name: mmx.diagnostics.trajectory(V, Z0, rule(0.3), 40)
        for name, rule in [
            ("OGDA", mmx.optimistic_gda),
            ("reflected GDA", mmx.reflected_gda),
        ]
    }
    fig = plotting.phase_portrait(V, paths, bounds=(-2, 2))
    ax = fig.axes[0]
    assert legend_texts(ax) == ["OGDA", "reflected GDA (= OGDA)"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    ogda, reflected = lines["OGDA"], lines["reflected GDA (= OGDA)"]
    np.testing.assert_allclose(ogda.get_xydata(), reflected.get_xydata(), atol=1e-6)
    # Still both visible: another line style and marker, markers elsewhere.
    assert ogda.get_linestyle() != reflected.get_linestyle()
    assert ogda.get_marker() != reflected.get_marker()
    marked = set(ogda.get_markevery()), set(reflected.get_markevery())
    assert marked[0] and marked[1]
    assert len(marked[0] & marked[1]) < len(marked[0]) / 2


def test_phase_portrait_draws_spurious_critical_sets():
    game = mmx.games.weird_saddle()
    fig = plotting.phase_portrait(
        game.field,
        {"GDA": np.array([[0.5, 0.5], [0.6, 0.55], [0.8, 0.625]])},
        bounds=game.bounds,
        solution=game.solution,
        critical_sets={"xy = 1/2": lambda x, y: x * y - 0.5},
    )
    ax = fig.axes[0]
    assert legend_texts(ax) == ["GDA", "xy = 1/2", "z*"]
    (curve,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    points = np.concatenate([path.vertices for path in curve.get_paths()])
    # Both branches of the hyperbola, where V vanishes too.
    assert (points[:, 0] > 0).any() and (points[:, 0] < 0).any()
    np.testing.assert_allclose(points[:, 0] * points[:, 1], 0.5, atol=1e-3)
    field = np.array([game.field((jnp.array(0.8), jnp.array(0.625)))])
    np.testing.assert_allclose(field, 0.0, atol=1e-6)


def test_phase_portrait_accepts_array_trajectories_vector_players_and_ax(tmp_path):
    W = mmx.field(lambda x, y: jnp.sum(x * y))
    like = (jnp.zeros(1), jnp.zeros(1))
    fig, axes = plt.subplots(1, 2)
    path = np.stack([np.linspace(-1, 1, 5)] * 2, axis=1)
    path[-1] = np.inf  # a run that blew up: the point is dropped, not drawn
    out = plotting.phase_portrait(W, {"line": path}, z_like=like, ax=axes[1])
    assert out is fig
    assert len(axes[1].get_lines()) == 2  # the path and its start marker
    assert legend_texts(axes[1]) == ["line (leaves the view)"]
    assert np.isnan(axes[1].get_lines()[0].get_ydata()[-1])
    assert not axes[0].get_lines()
    assert_saves_png(fig, tmp_path / "phase_ax.png")


def test_phase_portrait_rejects_non_2d_paths():
    with pytest.raises(ValueError, match=r"trajectories\['bad'\]"):
        plotting.phase_portrait(V, {"bad": np.zeros((5, 3))})


def test_convergence(tmp_path):
    names = ["GDA", "EG"]
    traces = {
        name: mmx.solve(V, Z0, RULES[name](0.3), 120, tol=1e-6).trace["field_norm"]
        for name in names
    }
    starts = (jnp.array([0.5, 1.0, 2.0]), jnp.ones(3))
    many = jax.vmap(
        lambda z: mmx.solve(V, z, mmx.extragradient(0.3), 120).trace["field_norm"]
    )(starts)
    fig = plotting.convergence({**traces, "EG, 3 starts": many}, tol=1e-6, title="xy")
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [*names, "EG, 3 starts", "tol = 1e-06"]
    assert len(ax.collections) == 1  # the quantile band of the 3 runs
    gda = ax.get_lines()[0].get_ydata()
    assert gda[-1] > gda[0]  # GDA grows on Φ = xy
    assert_saves_png(fig, tmp_path / "convergence.png")


def test_convergence_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        plotting.convergence({"x": np.zeros((2, 3, 4))})
    with pytest.raises(ValueError, match="xscale"):
        plotting.convergence({"x": np.ones(3)}, xscale="symlog")


def test_convergence_log_evaluations_and_coincidences():
    trace = 0.9 ** np.arange(100.0)
    traces = {
        "a": trace,
        "a, rounded": trace * (1 + 1e-7),  # float32 rounding: the same curve
        "b": trace * 1.5,  # a visibly different curve
        "a again": trace,
    }
    fig = plotting.convergence(traces, xscale="log")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"
    assert legend_texts(ax) == ["a", "a, rounded (= a)", "b", "a again (= a)"]
    styles = {(line.get_linestyle(), line.get_marker()) for line in ax.get_lines()}
    assert len(styles) == len(traces)
    assert plotting.convergence(traces).axes[0].get_xscale() == "linear"


def test_stability_region(tmp_path):
    fig = plotting.stability_region(LINEAR_RULES, resolution=41)
    (ax,) = fig.axes
    assert legend_texts(ax) == [
        "gda",
        "extragradient",
        "optimistic_gda",
        "proximal_point (K = 10)",
    ]
    # One filled region and one boundary per rule.
    assert len(ax.collections) == 2 * len(LINEAR_RULES)
    assert ax.get_xlabel() == "Re(αλ)"
    assert_saves_png(fig, tmp_path / "stability_region.png")


def test_stability_region_legend_carries_parameters_and_coincidences():
    rules = [
        "optimistic_gda",
        "reflected_gda",
        "alternating_gda",
        "extragradient_plus",
        "proximal_point",
    ]
    fig = plotting.stability_region(
        rules, inner_steps=None, update_ratio=0.25, resolution=31
    )
    assert legend_texts(fig.axes[0]) == [
        "optimistic_gda",
        "reflected_gda (= optimistic_gda)",
        "alternating_gda (for J = [[a, −b], [b, a]] only)",
        "extragradient_plus (β = 0.25)",
        "proximal_point (exact)",
    ]
    fig = plotting.stability_region(["gda", "extragradient"], resolution=31)
    assert legend_texts(fig.axes[0]) == ["gda", "extragradient"]


def test_stability_pictures_reject_unknown_rules():
    with pytest.raises(ValueError, match="extra_adam"):
        plotting.stability_region(["gda", "extra_adam"])


def test_step_size_stability(tmp_path):
    alphas = np.linspace(0.05, 1.2, 12)
    fig = plotting.step_size_stability(
        V,
        ORIGIN,
        alphas,
        LINEAR_RULES,
        per_evaluation=True,
        closed_forms={"gda": lambda a: np.sqrt(1 + a**2)},
    )
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {
        "gda",
        "extragradient",
        "optimistic_gda",
        "proximal_point (K = 10)",
        "gda (closed form)",
    } <= set(lines)
    np.testing.assert_allclose(
        lines["gda"].get_ydata(), lines["gda (closed form)"].get_ydata(), rtol=1e-6
    )
    # EG makes two evaluations per iteration: its curve is the square root.
    np.testing.assert_allclose(
        lines["extragradient"].get_ydata(),
        (1 - alphas**2 + alphas**4) ** 0.25,
        rtol=1e-6,
    )
    assert ax.get_ylabel() == "ρ per evaluation"
    assert ax.get_ylim()[1] <= 2.0
    assert_saves_png(fig, tmp_path / "step_size_stability.png")


def test_heatmap(tmp_path):
    values = np.array([[1.0, np.nan], [0.25, 0.0]])
    fig = plotting.heatmap(values, ["GDA", "EG"], ["bilinear", "forsaken"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["100%", "25%", "0%"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["GDA", "EG"]
    assert len(fig.axes) == 2  # the colour bar
    fig = plotting.heatmap(
        values, ["GDA", "EG"], ["a", "b"], annotations=[["x", "y"], ["z", "w"]]
    )
    assert [t.get_text() for t in fig.axes[0].texts] == ["x", "y", "z", "w"]
    assert_saves_png(fig, tmp_path / "heatmap.png")


def test_heatmap_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="shape"):
        plotting.heatmap(np.zeros((2, 2)), ["a"], ["b", "c"])


def cell_colors(fig):
    return np.asarray(fig.axes[0].get_images()[0].get_array())[..., :3]


def test_heatmap_colours_cells_by_outcome():
    Outcome = mmx.diagnostics.Outcome
    outcomes = [
        ["converged", "spurious", Outcome.LIMIT_CYCLE, "bounded", Outcome.SATURATING],
        ["slow", "diverged", Outcome.UNKNOWN, "unclear", "an outcome added later"],
    ]
    fig = plotting.heatmap(
        np.ones((2, 5)), ["a", "b"], list("vwxyz"), outcomes=outcomes
    )
    colors = cell_colors(fig)
    # Converged, spurious, cycle, bounded, saturating, slow and diverged all
    # differ, though converged and spurious have the same value.
    named = [*colors[0], *colors[1, :2]]
    assert len({tuple(c) for c in named}) == 7
    # Unknown outcomes, old or new, are one neutral grey.
    grey = colors[1, 2]
    assert np.allclose(colors[1, 3], grey) and np.allclose(colors[1, 4], grey)
    assert np.ptp(grey) == 0
    assert np.allclose(colors[0, 0], to_rgb(plotting._OUTCOME_COLORS["converged"]))
    assert len(fig.axes) == 1  # a legend instead of the colour bar
    assert legend_texts(fig.axes[0]) == [
        "converged",
        "spurious",
        "limit cycle",
        "bounded",
        "saturating",
        "slow",
        "diverged",
        "unknown",
        "unclear",
        "an outcome added later",
    ]


def test_heatmap_rejects_mismatched_outcomes():
    with pytest.raises(ValueError, match="outcomes must have shape"):
        plotting.heatmap(np.zeros((1, 2)), ["a"], ["b", "c"], outcomes=[["ok"]])


def test_benchmark_summary_colours_spurious_apart_from_converged(tmp_path):
    results = {
        "bilinear": [
            types.SimpleNamespace(rule="eg", fraction=1.0, verdict="converged")
        ],
        "weird_saddle": [
            types.SimpleNamespace(rule="eg", fraction=1.0, verdict="spurious")
        ],
    }
    path = bench.plot_summary(results, ["eg"], tmp_path)
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    for outcome in ("converged", "spurious"):
        rgb = np.round(np.array(to_rgb(plotting._OUTCOME_COLORS[outcome])) * 255)
        assert (np.abs(pixels - rgb).max(axis=1) <= 1).sum() > 500, outcome


@pytest.mark.parametrize("fmt", bench.FORMATS)
def test_benchmark_saves_each_format(tmp_path, fmt):
    fig = plotting.heatmap([[1.0]], ["a"], ["b"])
    path = bench._save(fig, tmp_path / f"picture.{fmt}")
    data = path.read_bytes()
    if fmt == "png":
        from PIL import Image

        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        # PNG stores whole pixels per metre: round(150 / 0.0254) = 5906.
        assert Image.open(path).info["dpi"] == pytest.approx((150, 150), abs=0.05)
    elif fmt == "svg":
        assert b"<svg" in data[:1000]
    else:
        assert data[:5] == b"%PDF-"


def test_benchmark_format_option():
    assert bench.parse_args([]).format == "png"
    assert bench.parse_args(["--format", "svg"]).format == "svg"
    with pytest.raises(SystemExit):
        bench.parse_args(["--format", "gif"])


def test_benchmark_uses_log_evaluations_when_fast_rules_are_squeezed():
    slow = np.ones(2000)
    fast = np.where(np.arange(2000) < 50, 1.0, np.nan)
    assert bench._squeezed({"fast": fast, "slow": slow}, {})
    assert not bench._squeezed({"slow": slow, "also slow": slow[:1500]}, {})
    # An adaptive rule's trace placed at the evaluations it used.
    assert not bench._squeezed(
        {"fast": fast, "slow": slow[:300]}, {"fast": 40.0 * np.arange(1, 2001)}
    )
