"""Docstring examples (``>>>`` doctest blocks) turned into small notebooks.

A docstring with examples is already a little notebook: a sentence says what the object does, then code, then the
value it printed. Each one becomes a document in the exact notebook layout the model sees at inference
(`jupyter_codegen.context.render_cell`, ``NOTEBOOK_HEADER``): the docstring's summary as a ``<text>`` cell, the
prose between examples as more ``<text>`` cells, consecutive examples gathered into one ``<cell>`` up to the first
that printed something, whose expected output (trimmed like a real output) follows as ``<output>``.
"""

from __future__ import annotations

import ast
import doctest
import re
from collections.abc import Iterator
from dataclasses import dataclass

from jupyter_codegen.context import Cell, trim_output
from jupyter_codegen.notebook_document import render_notebook

MAX_SUMMARY_CHARS = 400
MAX_PROSE_CHARS = 600

_DIRECTIVE = re.compile(r"[ \t]*#\s*doctest:.*$", re.MULTILINE)
_UNDERLINE = re.compile(r"^\s*[-=~^*]{3,}\s*$")
_TEMPLATE = re.compile(r"%\(\w+\)[sdr]")
_SECTION = re.compile(r"^\s*(?:Examples?|Usage|Example usage)\s*:{0,2}\s*$", re.IGNORECASE)


@dataclass
class DoctestNotebook:
    qualname: str
    text: str
    examples: int


def _summary(doc: str) -> str:
    """The docstring's first paragraph, unless the docstring starts with code or is only a section."""
    lines = []
    for line in doc.strip().splitlines():
        if not line.strip() or line.lstrip().startswith(">>>"):
            break
        lines.append(line)
    para = "\n".join(lines).strip()
    if not para or para.startswith(">>>") or _SECTION.match(para.splitlines()[0]):
        return ""
    return para[:MAX_SUMMARY_CHARS].rstrip() if len(para) > MAX_SUMMARY_CHARS else para


def _prose(piece: str) -> str:
    """Prose between examples, without section headers and their underlines (``Examples\\n--------``), without
    the numpydoc sections that come before an Examples section, and at most a few sentences long."""
    lines = piece.splitlines()
    last_rule = max((i for i, ln in enumerate(lines) if _UNDERLINE.match(ln)), default=-1)
    lines = lines[last_rule + 1:]
    lines = [ln for ln in lines if not _SECTION.match(ln)]
    text = "\n".join(lines).strip()
    if text.endswith("::"):
        text = text[:-1]
    if len(text) > MAX_PROSE_CHARS:  # a long stretch: the paragraph nearest the code says what it shows
        text = text.rsplit("\n\n", 1)[-1].strip()
        if len(text) > MAX_PROSE_CHARS:
            return ""
    return text


def _cells(doc: str, summary_first: bool = True) -> tuple[list[Cell], int]:
    parts = doctest.DocTestParser().parse(doc)
    cells: list[Cell] = []
    summary = _summary(doc) if summary_first else ""
    if summary:
        cells.append(Cell("markdown", summary))
    code: list[str] = []
    examples = 0
    seen_example = False

    def flush(output: str | None) -> None:
        if code:
            source = "".join(code).rstrip()
            cells.append(Cell("code", source, trim_output(output) if output else None))
            code.clear()

    for part in parts:
        if isinstance(part, doctest.Example):
            examples += 1
            seen_example = True
            source = _DIRECTIVE.sub("", part.source).rstrip()
            if not source.strip():
                continue
            code.append(source + "\n")
            want = part.want.replace("<BLANKLINE>", "").rstrip()
            if want.strip():
                flush(want)
        else:
            if not part.strip():
                continue
            if not seen_example:
                # Before the first example only its own lead-in counts (the rest is Parameters, Returns, ...).
                text = _prose(part.strip().rsplit("\n\n", 1)[-1])
                if summary and text and text in summary:
                    text = ""
            else:
                text = _prose(part)
            if text:
                flush(None)
                cells.append(Cell("markdown", text))
    flush(None)
    return cells, examples


def _docstrings(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """(qualified name, cleaned docstring) of the module, its classes and functions, nested ones included."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                doc = ast.get_docstring(child, clean=True)
                if doc and ">>>" in doc:
                    yield name, doc
                yield from walk(child, name + ".")

    doc = ast.get_docstring(tree, clean=True) if isinstance(tree, ast.Module) else None
    if doc and ">>>" in doc:
        yield "<module>", doc
    yield from walk(tree, "")


def mine(tree: ast.AST) -> Iterator[DoctestNotebook]:
    """One notebook per docstring that has at least one example with code."""
    for qualname, doc in _docstrings(tree):
        if _TEMPLATE.search(doc):  # a docstring template (pandas' %(klass)s): filled in at import time, not here
            continue
        try:
            cells, examples = _cells(doc)
        except ValueError:  # doctest's parser rejects inconsistent indentation and the like
            continue
        if not any(c.kind == "code" for c in cells):
            continue
        yield DoctestNotebook(qualname, render_notebook(cells), examples)
