"""The GAN benchmark: mixture data, mode-collapse metrics, and the quick run."""

import jax
import numpy as np
import pytest
from flax import nnx

import minimaxjax as mmx
from benchmarks.gan import __main__ as bench
from benchmarks.gan import mixtures

pytest.importorskip("ot")


@pytest.fixture(scope="module")
def grid() -> mixtures.Mixture:
    return mixtures.grid25()


def test_grid_and_ring_means():
    grid = mixtures.grid25()
    assert grid.means.shape == (25, 2) and grid.sigma == 0.05
    assert sorted(set(grid.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    ring = mixtures.ring8()
    assert ring.means.shape == (8, 2) and ring.sigma == 0.02
    np.testing.assert_allclose(np.linalg.norm(ring.means, axis=1), 2.0, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(mixtures.DATASETS))
def test_sampler_modes_and_spread(name):
    mixture = mixtures.DATASETS[name]()
    x = np.asarray(mixture.sample(jax.random.key(0), 40_000))
    assert x.shape == (40_000, 2) and x.dtype == np.float32
    nearest = np.linalg.norm(x[:, None] - mixture.means[None], axis=-1).argmin(1)
    counts = np.bincount(nearest, minlength=mixture.num_modes)
    # Uniform over modes: each count within 5 binomial standard deviations.
    expected = len(x) / mixture.num_modes
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    for k in range(mixture.num_modes):
        points = x[nearest == k]
        np.testing.assert_allclose(
            points.mean(0), mixture.means[k], atol=5 * mixture.sigma / 30
        )
        np.testing.assert_allclose(points.std(0), mixture.sigma, rtol=0.15)


def test_metrics_all_means(grid):
    samples = np.repeat(grid.means, 100, axis=0)
    assert mixtures.modes_covered(grid, samples) == 25
    assert mixtures.high_quality(grid, samples) == 1.0


def test_metrics_three_modes(grid):
    samples = np.repeat(grid.means[[0, 7, 24]], 100, axis=0)
    assert mixtures.modes_covered(grid, samples) == 3
    assert mixtures.high_quality(grid, samples) == 1.0


def test_metrics_threshold_and_radius(grid):
    # One mode with fewer than 1% of the samples does not count; a sample just
    # outside 3σ is not high-quality.
    samples = np.concatenate(
        [np.repeat(grid.means[:1], 995, axis=0), np.repeat(grid.means[1:2], 5, axis=0)]
    )
    assert mixtures.modes_covered(grid, samples) == 1
    outside = grid.means[:1] + np.array([[3.2 * grid.sigma, 0.0]])
    assert mixtures.high_quality(grid, outside) == 0.0


def test_metrics_far_away(grid):
    samples = np.full((500, 2), 100.0)
    assert mixtures.modes_covered(grid, samples) == 0
    assert mixtures.high_quality(grid, samples) == 0.0
    between = np.full((500, 2), 1.0)  # halfway between modes
    assert mixtures.high_quality(grid, between) == 0.0


def test_a_diverged_sample_set_is_infinitely_far(grid):
    x = np.zeros((10, 2))
    y = x.copy()
    y[3, 0] = np.nan
    assert mixtures.wasserstein(x, y) == float("inf")


def test_wasserstein_self_and_shift(grid):
    x = np.asarray(grid.sample(jax.random.key(1), 300))
    assert mixtures.wasserstein(x, x) == pytest.approx(0.0, abs=1e-9)
    assert mixtures.wasserstein(x, x, "sqeuclidean") == pytest.approx(0.0, abs=1e-9)
    d = 0.01  # below half the smallest gap, so the shift is the optimal plan
    shifted = x + np.array([d, 0.0])
    assert mixtures.wasserstein(x, shifted) == pytest.approx(d, rel=1e-6)
    assert mixtures.wasserstein(x, shifted, "sqeuclidean") == pytest.approx(
        d**2, rel=1e-6
    )
    # A shift larger than the data's spread: still the translation's length.
    far = x + np.array([50.0, 0.0])
    assert mixtures.wasserstein(x, far) == pytest.approx(50.0, rel=1e-6)
    assert mixtures.wasserstein(x, far, "sqeuclidean") == pytest.approx(
        2500.0, rel=1e-6
    )
    with pytest.raises(ValueError, match="euclidean"):
        mixtures.wasserstein(x, x, "cityblock")  # type: ignore[arg-type]


def test_metrics_dict(grid):
    samples = np.repeat(grid.means, 4, axis=0)
    result = mixtures.metrics(grid, samples, samples)
    assert result == {"modes": 25.0, "hq": 1.0, "w": pytest.approx(0.0, abs=1e-9)}


@pytest.mark.parametrize(
    ("option", "value"),
    [("--rules", "adam_on_steroids"), ("--losses", "hinge2"), ("--datasets", "moons")],
)
def test_unknown_names_rejected(option, value, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args([option, value])
    err = capsys.readouterr().err
    assert value in err and "choose from" in err
    known = {
        "--rules": "sim_adam",
        "--losses": "wgan_gp",
        "--datasets": "grid25",
    }[option]
    assert known in err


def test_defaults():
    args = bench.parse_args([])
    rules = list(bench.train.RULES)
    assert len(rules) == 8 and rules[-2:] == ["mirror_gan", "mirror_prox_gan"]
    assert args.rules == rules[:-2]  # 5 and 11 evaluations: not in the default
    assert args.seeds >= 3
    full = bench.parse_args(["--full"])
    assert full.rules == rules[:-2]  # the Mirror rules: on request only
    assert bench.parse_args(["--full", "--rules", "mirror_gan"]).rules == ["mirror_gan"]
    assert full.losses == ["wgan_gp", "non_saturating"]
    assert full.datasets == ["grid25", "ring8"]


@pytest.mark.parametrize(
    ("name", "evaluations"), [("mirror_gan", 5), ("mirror_prox_gan", 11)]
)
def test_mirror_gan_rules(name, evaluations):
    # MixedNE-LD with a chain of K = 3 Langevin steps per player: 1 + 2·2
    # evaluations per iteration (the state counts them), 2·3 more with the
    # extrapolation, and the key in the state.
    rule = bench.train.make_rule(name, bench.train.RULES[name].lr)
    params = nnx.state(bench.train.Gan(0), nnx.Param)
    state = rule.init(params)
    assert isinstance(state, mmx.MixedNELDState)
    assert int(state.max_evaluations()) == evaluations


@pytest.mark.standard_promotion
def test_quick_run(tmp_path, capsys):
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "simultaneous Adam" in out and "extragradient (SGD)" in out
    assert "modes" in out and "W1" in out and "total time" in out
    for kind in ("samples", "curves"):
        path = tmp_path / f"gan_ring8_non_saturating_{kind}.png"
        assert path.exists() and path.stat().st_size > 0


def test_run_record_round_trip(tmp_path):
    # Infinite W₁ (a diverged run) and the curve survive the file.
    result = bench.train.RunResult(
        final={"modes": 3.0, "hq": 0.25, "w": float("inf")},
        ema={"modes": 8.0, "hq": 1.0, "w": 0.5},
        curve={"iteration": [0.0, 50.0], "modes": [0.0, 3.0], "hq": [0, 0.25]},
        samples=np.arange(10, dtype=np.float32).reshape(5, 2),
        seconds=1.5,
        diverged=50,
    )
    path = tmp_path / "runs" / "one.npz"
    result.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["one.npz"]
    loaded = bench.train.RunResult.load(path)
    assert loaded.final == result.final and loaded.ema == result.ema
    assert loaded.curve == result.curve and loaded.seconds == 1.5
    assert loaded.diverged == 50
    np.testing.assert_array_equal(loaded.samples, result.samples)
    assert loaded.samples.dtype == np.float32


def _run(result_modes, w):
    return bench.train.RunResult(
        final={"modes": result_modes, "hq": 0.0, "w": w},
        ema={},
        curve={},
        samples=np.zeros((1, 2)),
        seconds=0.0,
    )


def test_best_lr_least_w():
    grid = [(1e-4, _run(2, 0.1)), (3e-4, _run(5, 0.9)), (1e-3, _run(5, 0.4))]
    assert bench.best_lr(grid) == 1e-4
    diverged = [(1e-4, _run(0, float("inf"))), (3e-4, _run(0, 2.0))]
    assert bench.best_lr(diverged) == 3e-4
    assert bench.best_lr([(1e-4, _run(0, float("nan"))), (3e-4, _run(0, 9.0))]) == 3e-4
    assert bench.best_lr([(1e-4, _run(1, 1.0)), (3e-4, _run(1, 1.0))]) == 1e-4


def test_table_columns_per_seed_statistics():
    # Two hand-made seeds: each column is mean [min–max] of its own field, the
    # EMA's high-quality share included.
    def seed(modes, hq, w, ema_modes, ema_hq, ema_w):
        return bench.train.RunResult(
            final={"modes": modes, "hq": hq, "w": w},
            ema={"modes": ema_modes, "hq": ema_hq, "w": ema_w},
            curve={},
            samples=np.zeros((1, 2)),
            seconds=3.0,
        )

    rows = [
        (
            "extra_adam",
            2e-3,
            [seed(23, 0.5, 0.2, 25, 0.9, 0.1), seed(25, 0.7, 0.4, 24, 0.8, 0.3)],
        )
    ]
    text = bench.table(mixtures.grid25(), "wgan_gp", 100, rows)
    head, row = text.splitlines()[1], text.splitlines()[3]
    assert head.index("modes EMA") < head.index("HQ EMA (%)") < head.index("W1 EMA")
    cells = row[len("ExtraAdam") :].split()
    assert cells[0] == "2e-03"
    assert " ".join(cells[1:3]) == "24.0 [23.0–25.0]"
    assert " ".join(cells[3:5]) == "60.0 [50.0–70.0]"
    assert " ".join(cells[5:7]) == "0.300 [0.200–0.400]"
    assert " ".join(cells[7:9]) == "24.5 [24.0–25.0]"
    assert " ".join(cells[9:11]) == "85.0 [80.0–90.0]"
    assert " ".join(cells[11:13]) == "0.200 [0.100–0.300]"
    assert cells[13] == "3.0"


@pytest.mark.standard_promotion
def test_full_tunes_then_resumes(tmp_path, capsys):
    # --full on one rule, tiny: 3 tuning runs (seed 0, a fifth of the
    # iterations) and 2 seeds at the rate the tuning runs' records rank first.
    argv = ["--full", "--rules", "sim_adam", "--losses", "non_saturating"]
    argv += ["--datasets", "ring8", "--iterations", "100", "--eval-every", "20"]
    argv += ["--out", str(tmp_path)]
    assert bench.main([*argv, "--seeds", "2"]) == 0
    first = capsys.readouterr().out
    runs = tmp_path / "runs"
    grid = bench.train.RULES["sim_adam"].grid
    tuning = {}
    for lr in grid:
        name = f"ring8_non_saturating_sim_adam_lr{lr:g}_seed0_20it_every20"
        path = runs / f"{name}_{bench.NUM_EVAL}samples.npz"
        tuning[lr] = bench.train.RunResult.load(path)
    assert all(r.diverged is None for r in tuning.values())
    chosen = min(grid, key=lambda lr: tuning[lr].final["w"])
    assert len(list(runs.glob(f"*lr{chosen:g}_seed*_100it_*.npz"))) == 2
    assert len(list(runs.iterdir())) == len(grid) + 2
    assert "learning-rate grid, seed 0" in first and f"{chosen:.0e}" in first
    # Resumed with one more seed: the five runs are read back, one is trained.
    assert bench.main([*argv, "--seeds", "3", "--resume"]) == 0
    second = capsys.readouterr().out
    assert "5 run(s) read from" in second
    assert len(list(runs.iterdir())) == len(grid) + 3
    # The tuning table is the same, read from the records.
    table = first.split("chosen learning rates")[0].split("output folder")[1]
    assert table in second
    # --report trains nothing: with a fourth seed missing, the rule is left out.
    files = sorted(runs.iterdir())
    assert bench.main([*argv, "--seeds", "4", "--report"]) == 0
    third = capsys.readouterr().out
    assert sorted(runs.iterdir()) == files
    assert table in third and "chosen learning rates" not in third
    assert (
        "1 run(s) not saved yet" in third and "ring8/non_saturating/sim_adam" in third
    )
    assert bench.main([*argv, "--seeds", "3", "--report"]) == 0
    assert "chosen learning rates" in capsys.readouterr().out


@pytest.mark.standard_promotion
def test_diverged_run_stops_and_says_where():
    # SGD extragradient at lr 1 leaves the reals within a few steps: training
    # stops at the first curve point with a non-finite generator, and the rest of
    # the curve (and the EMA) is that of a NaN generator.
    rule = bench.train.make_rule("extragradient", 1.0)
    result = bench.train.train(
        rule,
        loss="wgan_gp",
        dataset="ring8",
        seed=0,
        iterations=500,
        eval_every=50,
        steps_per_call=10,
        num_eval=200,
        curve_eval=100,
    )
    assert result.diverged is not None and result.diverged % 50 == 0
    curve = result.curve
    assert curve["iteration"] == [50.0 * k for k in range(11)]
    after = [i for i, it in enumerate(curve["iteration"]) if it >= result.diverged]
    assert after and all(curve["w"][i] == np.inf for i in after)
    assert all(curve["modes"][i] == 0 for i in after)
    assert result.final["w"] == np.inf and result.ema["w"] == np.inf
    assert not np.isfinite(result.samples).all()
    rows = [("extragradient", 1.0, [result])]
    text = bench.table(mixtures.ring8(), "wgan_gp", 500, rows)
    assert f"diverged, generator not finite, by iteration: {result.diverged:,}" in text
