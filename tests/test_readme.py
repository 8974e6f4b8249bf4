"""The README's code runs, and its Quickstart test command is the one CI runs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.parametrize("source", _blocks("python"))
def test_python_blocks_run(source):
    with __import__("jax").numpy_dtype_promotion("standard"):
        exec(compile(source, "README.md", "exec"), {})


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```bash\n(.*?)```", quickstart, re.S)]
    assert len(commands) == 2
    assert "python -m benchmarks" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
