"""The code base stays ruff-clean (lint and format), as configured in pyproject."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["minimaxjax", "benchmarks", "tests"]


def _ruff() -> list[str]:
    # The ruff installed with the test extra, next to this interpreter.
    pytest.importorskip("ruff")
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command):
    result = subprocess.run(
        [*_ruff(), *command, *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
