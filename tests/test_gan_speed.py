"""``python -m benchmarks.gan_speed --quick``: the agreement checks run and pass,
and the table, the paired ratios and the verdict are printed (no timing is
asserted)."""

import pytest

from benchmarks import gan_speed as speed


@pytest.mark.standard_promotion  # optax's Adam takes b1 ** count with an int count
def test_quick_run_prints_the_table_and_ratios(capsys):
    # One PyTorch thread: two threads on a loaded two-core machine oversubscribe.
    speed.main(["--quick", "--torch-threads", "1"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "agreement check: 3 iterations from the same weights and key" in out
    assert "nnx/hand" in out and "linen/hand" in out
    assert "nnx (A/A) bit-identical to nnx" in out
    rows = {line.split("  ")[0].strip() for line in lines}
    for name in (speed.NNX, speed.LINEN, speed.HAND, speed.AA, speed.NATURAL):
        assert name in rows, name
    for label in ("nnx/hand", "linen/hand", "nnx(A/A)/nnx", "natural/hand"):
        assert any(line.strip().startswith(label + " ") for line in lines), label
    if speed.torch_available():
        assert speed.TORCH in rows
        assert "field at the initial weights on a shared batch" in out
        assert any(line.strip().startswith("pytorch/hand") for line in lines)
    else:
        assert "pytorch: skipped" in out
    assert "target nnx/hand <= 1.05:" in out
    assert "target linen/hand <= 1.05:" in out
    assert "A/A control: per-round ratios" in out
    assert "2 rounds of one block of 3 iterations" in out
