"""``python -m benchmarks.adversarial.speed --quick``: the agreement checks run and
pass, and the table and the paired ratios are printed (no timing is asserted)."""

import pytest

from benchmarks.adversarial import speed


@pytest.mark.standard_promotion  # optax's SGD momentum mixes int and float
def test_quick_run_prints_the_table_and_ratios(capsys):
    speed.main(["--quick"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "agreement check: one step of library and hand" in out
    assert "agreement check: weights after the warm-up epoch" in out
    assert out.count(": ok") == 2
    rows = {line.split("  ")[0].strip() for line in lines}
    for name in (speed.LIBRARY, speed.HAND, speed.SCAN, speed.AA):
        assert name in rows
    for label in ("library/hand", "library(A/A)/library", "hand(scan)/hand"):
        assert any(line.strip().startswith(label) for line in lines), label
    if speed.torch_available():
        assert speed.TORCH in rows
        assert any(line.strip().startswith("pytorch/library") for line in lines)
    else:
        assert "pytorch: skipped" in out
        assert 'pip install -e ".[compare]"' in out
    assert "target library/hand <= 1.05:" in out
    assert "2 rounds" in out


def test_same_padding_matches_flax():
    """The PyTorch model pads its stride-2 convolution as Flax's SAME does."""
    assert speed._same_padding(8, 3, 2) == (0, 1)
    assert speed._same_padding(7, 3, 2) == (1, 1)
    assert speed._same_padding(8, 3, 1) == (1, 1)
