"""``python -m benchmarks``: the quick run prints a table per game and writes PNGs;
the summary logic (best step, verdict) follows its documented rules."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minimaxjax as mmx

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from benchmarks import games as bench

ROOT = Path(__file__).resolve().parents[1]
# The quick run takes well under 30 s on two idle cores; the limit leaves room for
# a machine busy with other tests.
TIMEOUT = 300


def run_benchmarks(*args):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmark_results")
    done = run_benchmarks("--quick", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, out


def test_quick_run_prints_a_table_per_game_with_every_rule(quick_run):
    stdout, out = quick_run
    for game in bench.QUICK_GAMES:
        block = stdout.split(f"== {game}:")[1].split("\n\n")[0]
        for rule in bench.all_rules():
            assert re.search(rf"^\s+{rule}\s", block, re.MULTILINE), (game, rule)
        assert "converged" in block and "verdict" in block
    assert f"output folder: {out.resolve()}" in stdout
    assert re.search(r"machine: .*jax \S+ on cpu", stdout)
    assert re.search(r"total time: [0-9.]+ s", stdout)


def test_quick_run_writes_non_empty_pngs(quick_run):
    stdout, out = quick_run
    expected = [f"{game}_convergence.png" for game in bench.QUICK_GAMES]
    expected.append("summary.png")
    for name in expected:
        path = out / name
        assert path.exists(), name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000
        assert f"  {name}" in stdout


def test_bilinear_facts_show_in_the_quick_table(quick_run):
    # On Φ = xy GDA spirals out at every step size and optimistic GDA converges
    # (Pethick et al. 2022): the table must say so.
    stdout, _ = quick_run
    block = stdout.split("== bilinear:")[1].split("\n\n")[0]
    rows = {line.split()[0]: line.split() for line in block.splitlines()[4:]}
    assert rows["gda"][1] == "0%"
    assert rows["gda"][-1] == "diverged"
    assert rows["optimistic_gda"][1] == "100%"
    assert rows["optimistic_gda"][-1] == "converged"


def test_unknown_names_are_rejected_with_the_choices():
    done = run_benchmarks("--quick", "--games", "bilinear,nope")
    assert done.returncode == 2
    assert "unknown game(s) nope" in done.stderr
    assert "forsaken" in done.stderr


def test_selected_games_and_rules_in_process(tmp_path, capsys):
    assert (
        bench.main(
            [
                "--quick",
                "--games",
                "quadratic",
                "--rules",
                "gda,extragradient",
                "--jobs",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    assert "== quadratic:" in stdout
    assert "== bilinear:" not in stdout
    assert re.search(r"^\s+extragradient\s", stdout, re.MULTILINE)
    assert not re.search(r"^\s+optimistic_gda\s", stdout, re.MULTILINE)
    assert (tmp_path / "quadratic_convergence.png").stat().st_size > 0


def make_result(status, evaluations, field_norm, distance=None, adaptive=False):
    status = np.asarray(status)
    shape = status.shape
    return bench.Result(
        game="g",
        rule="r",
        adaptive=adaptive,
        step_sizes=np.linspace(0.1, 1.0, shape[0]),
        step_fractions=np.linspace(0.1, 1.0, shape[0]),
        status=status,
        evaluations=np.asarray(evaluations),
        iterations=np.asarray(evaluations),
        field_norm=np.asarray(field_norm, dtype=float),
        distance=np.zeros(shape) if distance is None else np.asarray(distance),
        trajectories=None,
        per_iteration=1,
        budget=100,
    )


CONVERGED, MAX_STEPS, DIVERGED = (
    int(mmx.Status.CONVERGED),
    int(mmx.Status.MAX_STEPS),
    int(mmx.Status.DIVERGED),
)


def test_best_step_is_most_converged_then_fewest_evaluations():
    norms = np.full((3, 2, 100), np.nan)
    result = bench.summarise(
        make_result(
            [[MAX_STEPS, CONVERGED], [CONVERGED, CONVERGED], [CONVERGED, CONVERGED]],
            [[100, 10], [50, 70], [20, 30]],
            norms,
        )
    )
    assert result.best == 2
    assert result.fraction == 1.0
    assert result.median_evaluations == 25
    assert result.verdict == "converged"
    assert result.at_solution == 1.0


def test_converged_elsewhere_is_spurious():
    result = bench.summarise(
        make_result(
            [[CONVERGED, CONVERGED]], [[5, 5]], np.ones((1, 2, 100)), [[0.0, 1.0]]
        )
    )
    assert result.at_solution == 0.5
    assert result.verdict == "converged"
    result = bench.summarise(
        make_result(
            [[CONVERGED, CONVERGED]], [[5, 5]], np.ones((1, 2, 100)), [[1.0, 1.0]]
        )
    )
    assert result.verdict == "spurious"


def test_the_adaptive_rule_keeps_to_the_budget_and_uses_the_games_rho():
    config = bench.make_config(quick=True)
    game = mmx.games.bilinear()
    result = bench.run(game, bench.all_rules()["adaptive_extragradient_plus"], config)
    assert np.all(result.evaluations <= config.budget)
    # With the game's ρ = 0 the rule converges from every start within the quick
    # budget (400 evaluations); its conservative default (σ = −0.99γ/2) would
    # need over a thousand iterations of about three evaluations each.
    assert game.weak_mvi_rho == 0
    assert np.all(result.status == CONVERGED)


def test_verdicts_of_runs_that_do_not_converge():
    t = np.arange(400)
    cycle = 1.5 + np.sin(2 * np.pi * t / 25)  # bounded away from 0, period 25
    growing = np.exp(t / 100)
    shrinking = np.exp(-t / 100)
    for traces, verdict in [
        ([cycle, growing], "cycle"),
        ([growing, growing], "diverged"),
        ([shrinking, growing], "diverged"),
        ([shrinking, shrinking], "slow"),
    ]:
        norms = np.stack(traces)[:, None, :]
        result = bench.summarise(make_result([[MAX_STEPS]] * 2, [[400]] * 2, norms))
        assert result.verdict == verdict, traces
        assert math.isnan(result.median_evaluations)
    # A run stopped by solve as diverged (NaN afterwards) is diverged.
    stopped = np.concatenate([growing[:50], np.full(350, np.nan)])[None, None]
    result = bench.summarise(make_result([[DIVERGED]], [[50]], stopped))
    assert result.verdict == "diverged"
