"""The README's code runs, its Quickstart test command is the one CI runs, and it
stays a user's page: short, every exported rule and every game in its tables."""

import inspect
import re
from pathlib import Path

import pytest

import minimaxjax as mmx

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _section(title):
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _first_column(section):
    """The identifier in backticks that opens each row of the section's table."""
    return set(re.findall(r"^\| `([A-Za-z_]\w*)", section, flags=re.MULTILINE))


def _exported_rules():
    """Every public function that returns an optax transformation: the rules and
    the combinators."""
    rules = set()
    for name in mmx.__all__:
        obj = getattr(mmx, name)
        if inspect.isfunction(obj):
            returns = inspect.signature(obj).return_annotation
            if "GradientTransformation" in str(returns):
                rules.add(name)
    return rules


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


def test_readme_is_a_short_page_that_points_only_inside_the_repository():
    lines = README.splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines; keep it under 200"
    # No path that climbs out of the repository, and every Markdown document the
    # README names is one a user of the repository has.
    assert "../" not in README
    for name in set(re.findall(r"[\w./-]+\.md\b", README)):
        assert (ROOT / name).exists(), name


def test_rules_table_names_every_exported_rule():
    rules = _exported_rules()
    # The detection itself must see the rules, or the check below proves nothing.
    assert {"gda", "extragradient", "extra", "per_player", "projected"} <= rules
    missing = rules - _first_column(_section("The rules"))
    assert not missing, f"rules missing from the README's rules table: {missing}"


def test_game_zoo_table_names_every_game():
    missing = set(mmx.games.ALL) - _first_column(_section("The game zoo"))
    assert not missing, f"games missing from the README's zoo table: {missing}"
