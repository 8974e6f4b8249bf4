"""``python -m benchmarks.overhead``: its hand-written baselines run the same rules as
``mmx.solve``, its ratios are the documented statistic, and the quick run prints
the table."""

import math
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import minimaxjax as mmx
from benchmarks import overhead

RULES = list(overhead.rules())


def _marks(rule):
    # The hand-written ExtraAdam takes b1 ** count in float32, as optax does.
    return [pytest.mark.standard_promotion] if rule == "extra_adam" else []


@pytest.mark.parametrize("rule", [pytest.param(r, marks=_marks(r)) for r in RULES])
@pytest.mark.parametrize("game", ["2d", "nd", "small"])
def test_hand_written_loops_follow_the_rules(rule, game):
    """The baseline is only a baseline if it is the same algorithm: same trace of
    ‖V‖ and same last iterate as ``mmx.solve`` (float32, rounding apart)."""
    g = overhead.games(quick=True)[game]
    hand = overhead.baseline(rule)
    z, norms = jax.jit(lambda z0: hand(g.field, z0, g.num_steps))(g.z0)
    sol = mmx.solve(g.field, g.z0, overhead.rules()[rule], g.num_steps)
    assert norms.shape == (g.num_steps,)
    np.testing.assert_allclose(sol.trace["field_norm"], norms, rtol=2e-5, atol=1e-6)
    for got, want in zip(jax.tree.leaves(sol.params), jax.tree.leaves(z), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def _forsaken_starts():
    """N(0, I) starts, as in the benchmark, and three chosen ones: ``(1e8, 0)``,
    where ``V`` itself overflows (``x⁵ = 1e40`` > float32's 3.4e38), ``(1e5, 0)``,
    where ``V`` is finite (1e25) but its square is not (Adam's second moment),
    and ``(3, 0)``, two orders of magnitude past where a step of 0.1 stops
    contracting (``0.1·x⁴ > 2``)."""
    x, y = overhead.normal_starts(61)
    chosen = jnp.asarray([1e8, 1e5, 3.0], jnp.float32)
    return jnp.concatenate([chosen, x]), jnp.concatenate([jnp.zeros(3), y])


@pytest.mark.parametrize("rule", [pytest.param(r, marks=_marks(r)) for r in RULES])
def test_guarded_loops_keep_the_last_finite_iterate_as_solve_does(rule):
    """On the unconstrained Forsaken game, where some starts overflow, the guarded
    loop stops where ``solve`` does: the same starts stop, at the same last finite
    iterate, with the same trace up to the stop and NaN after it."""
    field, num_steps = mmx.games.forsaken().field, 100
    z0 = _forsaken_starts()
    hand = overhead.baseline(rule, guarded=True)
    z, norms, stopped = jax.jit(jax.vmap(lambda z0: hand(field, z0, num_steps)))(z0)
    sol = jax.vmap(lambda z0: mmx.solve(field, z0, overhead.rules()[rule], num_steps))(
        z0
    )
    # Closed form: at (1e8, 0) the first field value overflows, so every rule
    # stops at once, at z0, with a non-finite first norm and NaN after the first
    # iteration (whose other evaluations are recorded, as solve counts them).
    assert stopped[0] and float(z[0][0]) == 1e8 and float(z[1][0]) == 0.0
    assert not np.isfinite(norms[0, 0]) and np.all(np.isnan(norms[0, 5:]))
    # Some starts run the whole budget, finite.
    finite_runs = np.all(np.isfinite(norms), axis=1)
    assert finite_runs.any() and np.array_equal(finite_runs, ~stopped)
    np.testing.assert_array_equal(stopped, sol.status == mmx.Status.DIVERGED)
    for got, want in zip(jax.tree.leaves(sol.params), jax.tree.leaves(z), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    # NaN and inf at the same entries (assert_allclose compares them as equal).
    np.testing.assert_allclose(sol.trace["field_norm"], norms, rtol=2e-5, atol=1e-6)


def test_plain_loops_end_in_nan_where_guarded_ones_stop():
    """Why the Forsaken workload needs the guarded baseline: a plain loop carries
    the overflow to the end."""
    field = mmx.games.forsaken().field
    z0 = (jnp.float32(3.0), jnp.float32(0.0))
    z, norms = overhead.baseline("gda")(field, z0, 100)
    assert not np.isfinite(norms[-1]) and not np.isfinite(z[0])
    z, norms, stopped = overhead.baseline("gda", guarded=True)(field, z0, 100)
    assert stopped and np.isfinite(z[0]) and np.isnan(norms[-1])


def test_hand_written_loops_need_whole_iterations():
    hand = overhead.baseline("extragradient")
    field = overhead.quadratic_2d()
    with pytest.raises(ValueError, match="multiple of 2"):
        hand(field, (jnp.float32(1.0), jnp.float32(0.0)), 7)


def test_ratios_are_paired_within_a_repeat():
    # Drift moves whole repeats, and one lucky run of the hand-written loop (0.5)
    # would make the ratio of the fastest runs 2.2; the paired ratios are 1.1 in
    # every other repeat.
    hand = [0.5, 1.0, 2.0, 3.0, 1.0]
    solve = [1.1, 1.1, 2.2, 3.3, 1.1]
    row = overhead.Row(
        "g", 10, "r", {"hand": hand, "solve": solve, "transparent": hand}, 0.0, False
    )
    assert row.ratio("solve") == pytest.approx(1.1)
    # Five repeats are too few for a 95% interval: it spans all the ratios.
    assert row.interval("solve") == pytest.approx((1.1, 2.2))
    assert row.ratio("transparent") == 1.0
    uneven = overhead.Row(
        "g", 10, "r", {"hand": [1.0] * 4, "solve": [1.0, 2.0, 3.0, 4.0]}, 0.0, False
    )
    assert uneven.ratio("solve") == statistics.median([1.0, 2.0, 3.0, 4.0])
    # Too few repeats for a 95% interval: the whole range.
    assert uneven.interval("solve") == (1.0, 4.0)


@pytest.mark.parametrize(
    ("n", "ranks"),
    # Published ranks of the 95% interval for the median (Conover, ch. 3;
    # n = 100: x_(40) to x_(61)), and the sizes around the first one that exists.
    [(5, (1, 5)), (6, (1, 6)), (10, (2, 9)), (20, (6, 15)), (100, (40, 61))],
)
def test_median_interval_takes_the_binomial_order_statistics(n, ranks):
    values = [float(i) for i in range(n, 0, -1)]  # rank i has value i
    assert overhead.median_interval(values) == tuple(float(r) for r in ranks)


@pytest.mark.parametrize("n", [6, 7, 30, 201, 2010])
def test_median_interval_covers_at_least_the_level(n):
    # Exact coverage from the binomial law, summed in the test: 1 - 2 P(B < k)
    # for B ~ Binomial(n, 1/2), at least 0.95 and no longer true one rank in.
    low, _ = overhead.median_interval([float(i) for i in range(1, n + 1)])
    k = int(low)

    def coverage(k: int) -> float:
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n

    assert coverage(k) >= 0.95
    assert coverage(k + 1) < 0.95


def test_median_interval_rejects_bad_input():
    with pytest.raises(ValueError, match="values must not be empty"):
        overhead.median_interval([])
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\), got 1.5"):
        overhead.median_interval([1.0], level=1.5)


@pytest.mark.standard_promotion
def test_quick_run_prints_every_rule_and_the_summary(capsys):
    # The bilinear game passes its matrix to every program as an argument.
    overhead.main(["--quick", "--repeats", "2", "--games", "2d,nd,vmap"])
    out = capsys.readouterr().out
    assert "solve/hand" in out and "solve 95% CI" in out and "A/A" in out
    for rule in RULES:
        assert sum(line.split()[2:3] == [rule] for line in out.splitlines()) >= 1
    rows = [line for line in out.splitlines() if line.startswith(("2-D", "bilinear"))]
    assert len(rows) == 3 * len(RULES)
    # The check column: solve's trace matches the hand-written one.
    assert all(float(line.split()[-1]) < 1e-4 for line in rows)
    assert "geometric mean" in out and "A/A control" in out


@pytest.mark.standard_promotion
def test_quick_forsaken_run_counts_the_diverged_starts(capsys):
    overhead.main(
        [
            "--quick",
            "--repeats",
            "1",
            "--games",
            "forsaken",
            "--rules",
            "gda,extra_adam",
        ]
    )
    out = capsys.readouterr().out
    rows = {
        line.split()[4]: line.split()
        for line in out.splitlines()
        if line.startswith("Forsaken x256 vmap")
    }
    assert list(rows) == ["gda", "extra_adam"]
    # GDA with step 0.1 overflows from |x| above about (2/0.1)^(1/4) = 2.1, which
    # some of 256 N(0, I) starts exceed; Adam's steps are bounded by its step size.
    assert float(rows["gda"][-2].rstrip("%")) > 0
    assert rows["extra_adam"][-2] == "0.0%"
    # The check column: solve's trace matches the guarded loop's, NaN included.
    assert all(float(row[-1]) < 1e-4 for row in rows.values())


@pytest.mark.standard_promotion
def test_quick_small_budget_run_prints_the_fixed_cost_table(capsys):
    overhead.main(["--quick", "--repeats", "2", "--games", "small"])
    out = capsys.readouterr().out
    assert "solve-hand us" in out and "(z, trace)/hand" in out
    rows = [line for line in out.splitlines() if line.startswith("2-D small")]
    assert [line.split()[3] for line in rows] == RULES
    for line in rows:
        # The arrays column: the hand-written loop returns z = (x, y) and the trace;
        # a Solution adds at least the status and two counters.
        hand_arrays, solve_arrays = map(int, line.split()[10].split("->"))
        assert hand_arrays == 3 and solve_arrays >= 6
    assert "fixed cost of a call on 2-D small" in out
    # No row is held to the target, so there is no target verdict.
    assert "target <=" not in out


def test_unknown_rules_are_rejected_with_the_choices():
    with pytest.raises(SystemExit, match="unknown rules"):
        overhead.main(["--quick", "--rules", "gda,nesterov"])
