"""Turning a model's raw text into the code cells a user gets.

Models stop at a stop string, at the token limit (often mid-statement), or run on into the next notebook cell;
these functions cut, repair and split what they wrote so that what is inserted runs, without ever hiding text the
user would need to see.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Collection, Iterable, Sequence

_MAGIC = re.compile(r"^(\s*)(?:[%!]|[\w.]+\s*=\s*[%!])")
"""IPython line magics and shell escapes (`%timeit f()`, `!pip install x`, `files = !ls`): not Python to `ast`."""

_CELL_MARKER = re.compile(r"^[ \t]*#[ \t]*%%.*$", re.M)
"""VS Code / Jupytext cell markers: `# %%`, `#%%`, `# %% [markdown]`, `# %% Load the data`."""

_NOTEBOOK_TAGS = re.compile(r"</cell>.*?(?:<cell>|\Z)|<cell>", re.S)
"""InCoder-style notebook tags: whatever lies between a `</cell>` and the next `<cell>` (text, output) is not code."""


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` cut before the earliest of `stops`, and whether one was found (empty stop strings are ignored)."""
    cut = min((i for i in (text.find(stop) for stop in stops if stop) if i >= 0), default=-1)
    if cut < 0:
        return text, False
    return text[:cut], True


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters other than tab and newline: a weak model's stray bytes, invisible in a cell and never code."""


def tidy_code(code: str) -> str:
    """`code` without leading blank lines and trailing whitespace, cut back to the longest prefix that parses.

    A model at its token limit usually stops mid-statement; dropping trailing lines one by one until the code
    parses gives a cell that runs. The result always keeps at least one statement: when no prefix has one, the
    text is returned as it is (stripped), so the user still sees what the model wrote. A cell magic (`%%bash`)
    is not Python and is only stripped.
    """
    text = _strip_blank(_CONTROL.sub("", code))
    if not text or text.lstrip().startswith("%%") or parses(text):
        return text
    lines = text.splitlines()
    for end in range(len(lines) - 1, 0, -1):
        last = lines[end - 1].strip()
        if not last or last.startswith("#"):
            continue  # a cut never ends on a comment about code that was cut away
        prefix = "\n".join(lines[:end]).rstrip()
        if _has_statement(prefix):
            return prefix
    return text


CONVENTIONAL_IMPORTS = {
    "pd": "import pandas as pd",
    "np": "import numpy as np",
    "plt": "import matplotlib.pyplot as plt",
    "sns": "import seaborn as sns",
}
"""Aliases every analyst writes without thinking; a model that uses one often forgets to import it."""


def missing_imports(code: str, defined: Collection[str]) -> list[str]:
    """The conventional imports (CONVENTIONAL_IMPORTS) of the aliases `code` reads but neither binds itself nor
    finds among the names the notebook already `defined`; [] when the code does not parse or is indented."""
    statements = _statements(code)
    if not statements or code[:1].isspace():
        return []
    module = ast.Module(body=statements, type_ignores=[])
    used = {n.id for n in ast.walk(module) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = bound_names([module])
    return [line for alias, line in CONVENTIONAL_IMPORTS.items() if alias in used - bound - set(defined)]


def bound_names(trees: Iterable[ast.AST]) -> set[str]:
    """Names that code binds: assignments, imports (their alias or first name), functions, classes, arguments."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def names_bound_by(sources: Iterable[str]) -> set[str]:
    """Names that code cells bind (cells that do not parse are skipped)."""
    trees = []
    for source in sources:
        statements = _statements(source)
        if statements:
            trees.append(ast.Module(body=statements, type_ignores=[]))
    return bound_names(trees)


def split_cells(code: str) -> list[str]:
    """The cells in `code`: split on `# %%` markers and on leftover `</cell> ... <cell>` notebook tags.

    Empty pieces are dropped; the result has at least one element (`[""]` for empty code).
    """
    cells = []
    for chunk in _NOTEBOOK_TAGS.split(code):
        for piece in _CELL_MARKER.split(chunk):
            piece = _strip_blank(piece)
            if piece:
                cells.append(piece)
    return cells or [""]


def _strip_blank(text: str) -> str:
    """Leading blank lines and trailing whitespace removed; the first line's indentation is kept."""
    return re.sub(r"\A(?:[ \t]*\r?\n)+", "", text).rstrip()


def parses(text: str) -> bool:
    """Whether `text` reads as Python, allowing magics and a common indentation."""
    return _statements(text) is not None


def compiles(text: str) -> bool:
    """Whether `text` compiles as Python (magics and a common indentation allowed): stricter than `parses`, which
    lets a repeated keyword argument through."""
    statements = _statements(text)
    if statements is None:
        return False
    try:
        compile(ast.Module(statements, type_ignores=[]), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _has_statement(text: str) -> bool:
    """Whether `text` parses and holds at least one statement (a comment alone is not enough)."""
    return bool(_statements(text))


def _statements(text: str) -> list[ast.stmt] | None:
    """The statements of `text` read as Python (magics and a common indentation allowed); None if it does not parse."""
    source = textwrap.dedent(text)
    for candidate in (source, _blank_magics(source)):
        try:
            return ast.parse(candidate).body
        except (SyntaxError, ValueError):  # ValueError: null bytes
            continue
    return None


def _blank_magics(source: str) -> str:
    """Magic and shell lines replaced by `pass` at the same indentation, so they keep a block's shape."""
    return "\n".join(
        match.group(1) + "pass" if (match := _MAGIC.match(line)) else line for line in source.splitlines()
    )
