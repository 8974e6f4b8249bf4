"""``python -m benchmarks.speed --quick``: the sections run and the JSON it
writes has the documented structure (no timing is asserted).

The GAN and adversarial sections time the contenders of ``benchmarks.gan_speed``
and ``benchmarks.adversarial.speed``, whose quick runs have their own tests; here
only the sections that measure something of their own run, to keep the suite
short."""

import json

import pytest

from benchmarks import speed


def _check_row(row, held):
    assert row["repeats"] == speed.QUICK_REPEATS
    for t in row["times"].values():
        assert t["median_s"] > 0 and t["min_s"] > 0
        assert any(k.startswith("median_s_per_") for k in t)
    assert "A/A" in row["ratios"]
    for r in row["ratios"].values():
        assert set(r) == {"median", "min", "max"}
        assert r["min"] <= r["median"] <= r["max"]
    assert set(row["verdicts"]) == set(held)
    for v in row["verdicts"].values():
        assert set(v) == {"target", "met", "within_aa_spread"}
        assert isinstance(v["met"], bool)


@pytest.mark.standard_promotion  # optax's Adam takes b1 ** count with an int count
def test_quick_run_writes_the_sections(tmp_path, capsys):
    out = tmp_path / "speed.json"
    own = ["optimistic", "solve", "bilinear"]
    speed.main(["--quick", "--sections", ",".join(own), "--out", str(out)])
    data = json.loads(out.read_text())
    assert set(data) == {"machine", "quick", "repeats", "seconds", "sections"}
    assert data["quick"] is True
    assert data["machine"]["device"]  # jax.devices()[0].device_kind
    sections = data["sections"]
    assert list(sections) == own
    assert set(speed.SECTIONS) == {*own, "gan", "adversarial"}
    _check_row(sections["optimistic"], ["mmx/optax"])
    _check_row(sections["bilinear"], ["field/matvecs"])
    assert set(sections["solve"]["rows"]) == set(speed.QUICK_SOLVE_RULES)
    for row in sections["solve"]["rows"].values():
        _check_row(row, ["solve/hand"])
        assert row["trace_max_rel"] < 1e-4  # solve and the loop run one rule
    # The contenders compute the same thing as their baselines.
    assert sections["optimistic"]["agreement_max_rel"] < 1e-5
    assert sections["bilinear"]["agreement_max_rel"] < 1e-4
    assert set(sections["bilinear"]["evaluations_per_s"]) == {
        "mmx.field",
        "two matvecs",
        "mmx.field (A/A)",
    }
    printed = capsys.readouterr().out
    assert "load average" in printed and "device:" in printed
    for label in ("mmx/optax", "solve/hand", "field/matvecs"):
        assert label in printed


def test_unknown_section_is_an_error():
    with pytest.raises(SystemExit):
        speed.main(["--quick", "--sections", "nope"])
