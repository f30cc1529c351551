"""Sphinx tutorials (reStructuredText with IPython directives) turned into small notebooks.

A library's user guide is the one real text in which people ask, in their own words, for what an analyst asks
for in the first hour with a table ("I'm interested in the passengers older than 35 years.") and the next line
is the code that does it. The template generator can only approximate those phrasings, so the tutorials are the
corpus's human-written request -> code pairs. Each section of a page becomes a document in the notebook layout
the model reads at inference: a heading or the prose right before a code block becomes a ``<text>`` cell, each
``.. ipython:: python`` or ``.. code-block:: python`` block a ``<cell>``. Sphinx-only markup (roles, raw HTML,
images, admonitions, tables of contents) is dropped. The sources carry no outputs (Sphinx computes them at build
time), so the cells have none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jupyter_codegen.context import Cell
from jupyter_codegen.notebook_document import render_notebook

MAX_PROSE_CHARS = 600
"""Prose before a code block longer than this keeps only its last paragraph (as the doctest notebooks do)."""
MAX_SETUP_CHARS = 1_000
"""At most this much of a page's opening code starts its other sections (imports and data, not a whole intro)."""
MAX_DOCUMENT_CHARS = 12_000
"""A section longer than this is split at its subsections' headings."""

_UNDERLINE = re.compile(r"""^([=\-~^"'`#*+_.:])\1{2,}\s*$""")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$")
_COMMENT_OR_TARGET = re.compile(r"^\s*\.\.(\s|$)")
_CODE_DIRECTIVES = {"ipython", "code-block", "code", "sourcecode"}
_PROSE_DIRECTIVES = {"note", "tip", "hint", "important", "warning", "caution", "attention", "seealso"}
_PYTHON_LANGUAGES = {"python", "python3", "ipython", "py", "pycon", ""}
_ROLE = re.compile(r":[\w:.-]+:`([^`]*)`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`__?")
_LITERAL = re.compile(r"``([^`]+)``")
_SUBSTITUTION = re.compile(r"\|[\w -]+\|_?")
_IPYTHON_PROMPT = re.compile(r"^\s*(In|Out)\s*\[\d*\]:\s?")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass
class TutorialNotebook:
    section: str
    text: str
    code_cells: int


def _role_text(match: re.Match) -> str:
    inner = match.group(1)
    if "<" in inner and inner.rstrip().endswith(">"):  # :ref:`label text <target>` -> label text
        inner = inner[: inner.index("<")].strip()
    if inner.startswith("~"):  # :meth:`~pandas.DataFrame.head` -> head
        inner = inner[1:].rsplit(".", 1)[-1]
    inner = inner.lstrip("!")
    return f"`{inner}`" if re.fullmatch(r"[\w.()\[\]]+", inner) else inner


def inline_text(text: str) -> str:
    """reStructuredText inline markup as Markdown (the notebook renderer then strips it as for real cells)."""
    text = _TEMPLATE.sub("", text)
    text = _ROLE.sub(_role_text, text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)
    text = _SUBSTITUTION.sub("", text)
    text = text.replace("\\*", "*")
    return re.sub(r"[ \t]+", " ", text).strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], start: int, base: int) -> tuple[list[str], int]:
    """The lines indented deeper than `base` from `start` (blank lines inside included), and the index after."""
    body: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if line.strip() and _indent(line) <= base:
            break
        body.append(line)
        i += 1
    while body and not body[-1].strip():
        body.pop()
    return body, i


def _dedent(body: list[str]) -> list[str]:
    width = min((_indent(ln) for ln in body if ln.strip()), default=0)
    return [ln[width:] for ln in body]


def _code(body: list[str]) -> str | None:
    """The Python of an ipython/code block: options, decorators and prompts removed; None when suppressed."""
    lines = _dedent(body)
    options = []
    while lines and re.match(r"^:[\w-]+:", lines[0].strip()):
        options.append(lines.pop(0).strip())
    if any(opt.startswith((":suppress:", ":verbatim:")) for opt in options):
        return None
    kept: list[str] = []
    in_output = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("@"):  # @savefig, @suppress, @okexcept: the directive's own decorators
            if stripped.startswith("@suppress"):
                return None
            continue
        prompt = _IPYTHON_PROMPT.match(line)
        if prompt:
            in_output = prompt.group(1) == "Out"
            if in_output:
                continue
            line = line[prompt.end():]
        elif in_output:
            continue
        elif line.lstrip().startswith("...:"):
            line = line.lstrip()[4:].removeprefix(" ")
        kept.append(line.rstrip())
    source = "\n".join(kept).strip("\n")
    return source if source.strip() else None


@dataclass
class _Piece:
    kind: str  # "heading", "prose" or "code"
    text: str
    level: int = 0


def pieces(rst: str) -> Iterator[_Piece]:
    """Headings (with their level by first appearance of the underline), prose paragraphs and code blocks."""
    lines = rst.replace("\t", "    ").splitlines()
    levels: dict[str, int] = {}
    para: list[str] = []

    def flush() -> Iterator[_Piece]:
        if para:
            text = inline_text(" ".join(ln.strip() for ln in para))
            para.clear()
            if text.endswith("::"):  # "...as follows::" introduces a literal block: one colon in prose
                text = text[:-1].rstrip(" :") + ":" if text[:-2].strip() else ""
            if text:
                yield _Piece("prose", text)

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if not stripped:
            yield from flush()
            i += 1
            continue
        if _UNDERLINE.match(stripped) and i + 2 < len(lines) and lines[i + 2].strip() == stripped:
            i += 1  # an overline: the title is the next line, handled below
            continue
        if _indent(line) == 0 and _UNDERLINE.match(nxt.strip()) and len(nxt.strip()) >= len(stripped) - 2:
            yield from flush()
            mark = nxt.strip()[0]
            level = levels.setdefault(mark, len(levels) + 1)
            yield _Piece("heading", inline_text(stripped), level)
            i += 2
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            yield from flush()
            base, name, arg = len(directive.group(1)), directive.group(2), directive.group(3).strip()
            body, i = _block(lines, i + 1, base)
            if name in _CODE_DIRECTIVES and arg.lower() in _PYTHON_LANGUAGES:
                code = _code(body)
                if code:
                    yield _Piece("code", code)
            elif name in _PROSE_DIRECTIVES:
                yield from pieces("\n".join(_dedent(body)))  # an admonition's own paragraphs and code
            continue
        if _COMMENT_OR_TARGET.match(line):  # comments, link targets, substitution definitions
            yield from flush()
            _, i = _block(lines, i + 1, _indent(line))
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):  # a paragraph introducing a literal block
            para.append(line)
            yield from flush()
            _, i = _block(lines, i + 1, _indent(line))  # literal blocks are mostly output or other languages
            continue
        if stripped.startswith(("+--", "+==", "|")) or _UNDERLINE.match(stripped):  # tables and rules
            i += 1
            continue
        para.append(line)
        i += 1
    yield from flush()


def _prose_cell(paragraphs: list[str]) -> str:
    text = "\n\n".join(paragraphs)
    if len(text) > MAX_PROSE_CHARS:  # a long stretch: the paragraph nearest the code says what it shows
        text = paragraphs[-1] if len(paragraphs[-1]) <= MAX_PROSE_CHARS else ""
    return text


def _cells(section: list[_Piece]) -> list[Cell]:
    """Headings as text, the prose right before each code block as text, the code blocks as cells; prose that no
    code follows (discussion, caveats) is left out."""
    cells: list[Cell] = []
    prose: list[str] = []
    for piece in section:
        if piece.kind == "heading":
            prose.clear()
            cells.append(Cell("markdown", piece.text))
        elif piece.kind == "prose":
            prose.append(piece.text)
        else:
            text = _prose_cell(prose)
            if text:
                cells.append(Cell("markdown", text))
            prose.clear()
            if cells and cells[-1].kind == "code":  # consecutive blocks with nothing between: one cell
                cells[-1] = Cell("code", cells[-1].source + "\n" + piece.text)
            else:
                cells.append(Cell("code", piece.text))
    while cells and cells[-1].kind != "code":
        cells.pop()
    return cells


def _split(section: list[_Piece]) -> Iterator[list[_Piece]]:
    """A section as pieces of at most MAX_DOCUMENT_CHARS, cut at its deepest-first headings."""
    size = sum(len(p.text) for p in section)
    heads = sorted({p.level for p in section[1:] if p.kind == "heading"})
    if size <= MAX_DOCUMENT_CHARS or not heads:
        yield section
        return
    level = heads[0]
    part: list[_Piece] = []
    for piece in section:
        if piece.kind == "heading" and piece.level == level and part:
            yield from _split(part)
            part = []
        part.append(piece)
    if part:
        yield from _split(part)


def convert(rst: str) -> Iterator[TutorialNotebook]:
    """One notebook per top-level section of the page that has code; the page's code before its first section
    (imports and the data the page uses) starts every one of them, as a reader would have run it."""
    all_pieces = list(pieces(rst))
    top = min((p.level for p in all_pieces if p.kind == "heading"), default=1)
    levels = [p.level for p in all_pieces if p.kind == "heading"]
    # A page title over sections: the sections are the documents; a title alone: the page is.
    section_level = top + 1 if levels.count(top) <= 1 and top + 1 in levels else top
    setup: list[_Piece] = []
    sections: list[list[_Piece]] = [[]]
    started = False
    for piece in all_pieces:
        if piece.kind == "heading" and piece.level <= section_level:
            started = started or piece.level == section_level
            sections.append([])
        sections[-1].append(piece)
        if not started and piece.kind == "code" and sum(len(p.text) for p in setup) + len(piece.text) <= MAX_SETUP_CHARS:
            setup.append(piece)
    for section in sections:
        for part in _split(section):
            code = [p for p in part if p.kind == "code"]
            if not code or (len(sections) > 1 and all(any(p is s for s in setup) for p in code)):
                continue  # nothing, or only the setup that starts every other section
            lead = [] if any(p is s for s in setup for p in part) else setup
            cells = _cells(lead + part)
            title = next((p.text for p in part if p.kind == "heading"), "")
            yield TutorialNotebook(title, render_notebook(cells), sum(c.kind == "code" for c in cells))
