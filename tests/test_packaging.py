"""The runtime dependencies are exactly the packages the library imports."""

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # the standard library's from 3.11

ROOT = Path(__file__).resolve().parents[1]
# Imported only inside functions, from the `examples` extra.
OPTIONAL = {"matplotlib"}
# Distribution names of the import names that differ, and distributions that
# ship no module of their own name (jaxlib backs `jax`).
DISTRIBUTION = {"jax": {"jax", "jaxlib"}}


def _imported_packages():
    found = set()
    for path in (ROOT / "minimaxjax").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_runtime_dependencies_are_what_the_library_imports():
    stdlib = set(sys.stdlib_module_names)
    third_party = _imported_packages() - stdlib - {"minimaxjax"} - OPTIONAL
    wanted = set().union(*(DISTRIBUTION.get(name, {name}) for name in third_party))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[<>=!~\[ ]", requirement)[0].lower()
        for requirement in project["dependencies"]
    }
    assert declared == wanted


def test_optional_imports_are_in_an_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {
        re.split(r"[<>=!~\[ ]", requirement)[0].lower()
        for requirements in project["optional-dependencies"].values()
        for requirement in requirements
    }
    assert extras >= OPTIONAL
