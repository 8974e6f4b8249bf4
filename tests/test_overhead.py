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
