"""Render the library's docstrings, written for Sphinx and doctest, as Markdown.

The docstrings use Google-style sections (parsed by mkdocstrings) plus three
reStructuredText habits that Markdown does not know; this griffe extension
rewrites them before the docstrings are parsed:

* ``.. math::`` blocks become ``$$ … $$`` blocks for ``pymdownx.arithmatex``
  (lines joined by ``\\`` or aligned with ``&`` are wrapped in ``aligned``, as
  Sphinx does with ``split``);
* roles such as ``:func:`solve``` and ``:class:`~minimaxjax.rules.Committing```
  become code spans that link to the object when the site documents it
  (an optional cross-reference: no warning when it does not, e.g. a private
  helper);
* an ``Example:`` section becomes ``Examples:``, the section mkdocstrings renders
  as highlighted doctest blocks.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|attr|data|mod|obj|exc|const):`([^`]+)`"
)
_MATH = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*$")
_EXAMPLE = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$")


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        i += 1
        body: list[str] = []
        # The directive's content: blank lines and lines indented past the directive.
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        margin = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        tex = [b[margin:].rstrip() for b in body]
        if any("\\\\" in t or "&" in t for t in tex):
            tex = ["\\begin{aligned}", *tex, "\\end{aligned}"]
        block = [f"{indent}{t}" for t in tex]
        out.extend(["", f"{indent}$$", *block, f"{indent}$$", ""])
    return out


def _target(obj: griffe.Object | griffe.Alias, name: str) -> str:
    """The full path ``name`` refers to from ``obj``'s scope, best effort."""
    if name.startswith("minimaxjax"):
        return name
    head, _, rest = name.partition(".")
    try:
        resolved = obj.resolve(head)
    except (griffe.NameResolutionError, KeyError, AttributeError):
        return f"{obj.module.path}.{name}"
    return f"{resolved}.{rest}" if rest else resolved


def _roles(obj: griffe.Object | griffe.Alias, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1].strip()
        short = name.startswith("~")
        name = name.lstrip("~.")
        title = name.rsplit(".", 1)[-1] if short else name
        identifier = html.escape(_target(obj, name), quote=True)
        return (
            f'<autoref identifier="{identifier}" optional>'
            f"<code>{html.escape(title)}</code></autoref>"
        )

    return _ROLE.sub(replace, text)


def _rewrite(obj: griffe.Object | griffe.Alias, text: str) -> str:
    lines = [_EXAMPLE.sub(r"\g<indent>Examples:", line) for line in text.splitlines()]
    return _roles(obj, "\n".join(_math_blocks(lines)))


class RstToMarkdown(griffe.Extension):
    """Rewrite the docstrings of a package once it is loaded (see the module)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()

        def visit(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = _rewrite(obj, obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    visit(member)

        visit(pkg)
