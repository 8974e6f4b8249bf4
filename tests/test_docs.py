"""The documentation site builds with warnings as errors, its API reference has an
entry for every public name, its examples run, and every notebook is one of its
tutorials."""

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import minimaxjax as mmx
from minimaxjax import adversarial, gan

pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parents[1]
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))


def public_names():
    """Every public name, as the path under which the reference documents it: the
    top-level names, each public submodule, and each submodule's names (a name the
    top level re-exports counts once, as ``minimaxjax.NAME``)."""
    names = set()
    submodules = [mmx.rules, adversarial, gan]
    for name in mmx.__all__:
        value = getattr(mmx, name)
        if isinstance(value, types.ModuleType):
            names.add(value.__name__)
            submodules.append(value)
        else:
            names.add(f"minimaxjax.{name}")
    for module in submodules:
        for name in module.__all__:
            value = getattr(module, name)
            if name in mmx.__all__ and getattr(mmx, name) is value:
                continue
            names.add(f"{module.__name__}.{name}")
    return names


def api_entries(pages):
    """The identifiers of the ``::: identifier`` entries of ``pages``."""
    return {
        match
        for page in pages
        for match in re.findall(r"^:::[ \t]+(\S+)", page.read_text(), re.MULTILINE)
    }


def missing_names(entries):
    return sorted(public_names() - set(entries))


def test_every_public_name_has_an_api_entry():
    assert API_PAGES, "docs/api/ has no pages"
    missing = missing_names(api_entries(API_PAGES))
    assert not missing, (
        f"public names without a '::: NAME' entry in docs/api/*.md: {missing}; add "
        "each to the page of its area."
    )


def test_a_missing_entry_is_reported():
    entries = api_entries(API_PAGES)
    assert "minimaxjax.extragradient" in entries
    assert "minimaxjax.games.forsaken" in entries
    entries -= {"minimaxjax.extragradient", "minimaxjax.games.forsaken"}
    assert missing_names(entries) == [
        "minimaxjax.extragradient",
        "minimaxjax.games.forsaken",
    ]


def _standalone_examples():
    """The ``python`` blocks of the docs' pages that start with an import, each
    with the blocks after it that start with ``# continued`` (the others are
    fragments of the text around them)."""
    params = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        programs: list[str] = []
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL):
            if block.startswith(("import ", "from ")):
                programs.append(block)
            elif block.startswith("# continued") and programs:
                programs[-1] += block
        params += [
            pytest.param(program, id=f"{page.stem}-{i}")
            for i, program in enumerate(programs)
        ]
    return params


@pytest.mark.standard_promotion  # as a user runs them, with JAX's defaults
@pytest.mark.parametrize("source", _standalone_examples())
def test_examples_run(source):
    exec(compile(source, "docs", "exec"), {})


def test_every_notebook_is_a_tutorial():
    config = (ROOT / "mkdocs.yml").read_text()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        assert f"- notebooks/{path.name}" in config, (
            f"notebooks/{path.name} is not in the nav of mkdocs.yml (Tutorials)"
        )


def test_site_builds_with_warnings_as_errors(tmp_path):
    # The mkdocs installed with the docs (and test) extra, next to this interpreter.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "api" / "rules" / "index.html").exists()
