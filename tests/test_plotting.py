"""mmx.plotting: each picture is a Figure with the expected artists and saves a PNG;
the helpers behind them agree with closed forms on Φ = xy."""

import functools
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minimaxjax as mmx

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

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
        lines["proximal_point"],
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


def test_phase_portrait(tmp_path):
    paths = {
        name: mmx.diagnostics.trajectory(V, Z0, rule(0.2), 30)
        for name, rule in RULES.items()
    }
    fig = plotting.phase_portrait(
        V, paths, bounds=((-2, 2), (-1.5, 1.5)), solution=ORIGIN, title="xy"
    )
    (ax,) = fig.axes
    assert any(isinstance(c, LineCollection) for c in ax.collections)  # streamlines
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*RULES, "z*"]
    labelled = [line for line in ax.get_lines() if line.get_label() in RULES]
    assert [len(line.get_xdata()) for line in labelled] == [31] * len(RULES)
    assert ax.get_xlim() == (-2.0, 2.0)
    assert ax.get_ylim() == (-1.5, 1.5)
    assert ax.get_title() == "xy"
    assert_saves_png(fig, tmp_path / "phase.png")


def test_phase_portrait_accepts_array_trajectories_vector_players_and_ax(tmp_path):
    W = mmx.field(lambda x, y: jnp.sum(x * y))
    like = (jnp.zeros(1), jnp.zeros(1))
    fig, axes = plt.subplots(1, 2)
    path = np.stack([np.linspace(-1, 1, 5)] * 2, axis=1)
    path[-1] = np.inf  # a run that blew up: the point is dropped, not drawn
    out = plotting.phase_portrait(W, {"line": path}, z_like=like, ax=axes[1])
    assert out is fig
    assert len(axes[1].get_lines()) == 2  # the path and its start marker
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


def test_stability_region(tmp_path):
    fig = plotting.stability_region(LINEAR_RULES, resolution=41)
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == LINEAR_RULES
    # One filled region and one boundary per rule.
    assert len(ax.collections) == 2 * len(LINEAR_RULES)
    assert ax.get_xlabel() == "Re(αλ)"
    assert_saves_png(fig, tmp_path / "stability_region.png")


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
    assert set(LINEAR_RULES) | {"gda (closed form)"} <= set(lines)
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
