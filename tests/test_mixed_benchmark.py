"""``python -m benchmarks.mixed``: a tiny run writes both PNGs of the mixed-strategies
page and prints its summary."""

import pytest

pytest.importorskip("matplotlib")

from benchmarks import mixed

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_writes_the_figures(tmp_path, capsys):
    assert mixed.main(["--quick", "--out", str(tmp_path)]) == 0
    for name in ("mixed_escaping_trap.png", "mixed_rps_mirror.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    out = capsys.readouterr().out
    assert "escaping trap" in out
    assert "mirror-prox" in out


def test_trap_runs_start_at_the_trap_start_and_stay_in_the_box():
    runs = mixed.trap_runs(steps=5, iterations=2, inner_steps=3, seeds=2)
    assert runs["GDA"].shape == (6, 2)
    assert runs["extragradient"].shape == (6, 2)
    assert runs["MixedNE-LD"].shape == (2, 3, 2)
    for path in (runs["GDA"], runs["extragradient"], *runs["MixedNE-LD"]):
        assert tuple(path[0]) == pytest.approx(mixed.TRAP_START)
        assert abs(path).max() <= 2.0
