"""The cells a user ran, read from a plain IPython kernel's own history.

A plain kernel (a terminal IPython, a notebook front end that sends no live context) knows only what was run:
the raw input of each execution and the results shown in ``Out``. That is turned into `Cell`s for `context`.
The model reads Python, so IPython-only lines (``%magic``, ``!shell``, ``obj?``) are left out, and the
assistant's own turns (``%%codegen``, ``%%infill``) are skipped: the conversation module records those.
"""

from __future__ import annotations

import re
from typing import Any

from .context import Cell, trim_output

SKIPPED_CELL_MAGICS = frozenset({"codegen", "infill"})
"""Cell magics whose cells are the assistant's turns, recorded elsewhere."""
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
"""Cell magics whose body is Python: the body is kept, the magic line is not."""
MARKDOWN_CELL_MAGICS = frozenset({"markdown", "md"})

# Used only when IPython's own transformer cannot be lined up with the raw lines (backslash continuations).
_IPYTHON_LINE = re.compile(
    r"^\s*(?:[%!]"  # %magic, %%magic, !shell
    r"|\?{1,2}[\w.]"  # ?obj
    r"|[\w.\[\]]+\?{1,2}\s*$"  # obj?
    r"|[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[%!])"  # x = !ls, t = %time f()
)


def history_cells(shell: Any, since: int = 0) -> list[Cell]:
    """Cells run after execution count `since`, oldest first, with their trimmed results as output."""
    manager = shell.history_manager
    inputs = manager.input_hist_raw
    outputs = getattr(manager, "output_hist", None)
    if not isinstance(outputs, dict) or not outputs:
        out = shell.user_ns.get("Out")
        outputs = out if isinstance(out, dict) else {}
    cells = []
    for count in range(max(since, 0) + 1, len(inputs)):
        cell = cell_from_source(inputs[count], shell)
        if cell is None:
            continue
        if cell.kind == "code" and count in outputs:
            cell.output = _result_text(outputs[count])
        cells.append(cell)
    return cells


def cell_from_source(source: str, shell: Any = None) -> Cell | None:
    """One cell's source as the model reads it: Python without IPython-only lines, a %%markdown body as text; None
    for what the model should not read (blank cells, the assistant's own turns, bodies in other languages)."""
    if not source or not source.strip():
        return None
    first, _, body = source.lstrip("\n").partition("\n")
    first = first.strip()
    if first.startswith("%%"):
        words = first[2:].split()
        name = words[0] if words else ""
        if name in MARKDOWN_CELL_MAGICS:
            return Cell("markdown", body) if body.strip() else None
        if name not in PYTHON_CELL_MAGICS:
            return None  # the assistant's own turn, or a body in another language (%%bash, %%html, ...)
        source = body
    code = python_lines(source, shell)
    return Cell("code", code) if code.strip() else None


def python_lines(source: str, shell: Any = None) -> str:
    """`source` without its IPython-only lines.

    IPython's own input transformer decides which lines are IPython syntax (it knows that a ``%`` inside a
    triple-quoted string is not a magic); a line it rewrote into a ``get_ipython()`` call is dropped.
    """
    raw = source.splitlines()
    transformed = None
    try:
        manager = getattr(shell, "input_transformer_manager", None)
        if manager is None:
            from IPython.core.inputtransformer2 import TransformerManager

            manager = TransformerManager()
        transformed = manager.transform_cell(source).splitlines()
    except Exception:
        pass
    if transformed is not None and len(transformed) == len(raw):
        kept = [r for r, t in zip(raw, transformed) if "get_ipython()" not in t or "get_ipython()" in r]
    else:
        kept, continued = [], False
        for line in raw:
            if continued or _IPYTHON_LINE.match(line):
                continued = line.endswith("\\")  # a magic's backslash continuation belongs to it
            else:
                kept.append(line)
    return "\n".join(kept).strip("\n")


def _result_text(result: object) -> str | None:
    """The result as IPython shows it (pretty-printed, long sequences cut), trimmed for the model."""
    try:
        from IPython.lib.pretty import pretty

        text = pretty(result, max_width=79, max_seq_length=100)
    except Exception:
        try:
            text = repr(result)
        except Exception:
            return None
    return trim_output(text) or None


_OWN_MAGIC = re.compile(r"^\s*%{1,2}(?:codegen|infill)\b")


def is_own_magic(source: str) -> bool:
    """Whether a cell is one of the assistant's own (`%codegen ...`, `%%infill`, ...): not the user's code."""
    return bool(_OWN_MAGIC.match(source))


def last_code_cell(shell: Any) -> str | None:
    """The Python of the last cell run before the current one, skipping the assistant's own cells."""
    inputs = shell.history_manager.input_hist_raw
    for source in reversed(inputs[1:-1]):
        cell = cell_from_source(source, shell)
        if cell is not None and cell.kind == "code":
            return cell.source
    return None


def without_last(cells: list[Cell], source: str) -> list[Cell]:
    """`cells` without the last code cell holding `source` (the cell a fix or an explanation is about: the model
    sees it in place, not twice)."""
    want = python_lines(source).strip()
    for i in range(len(cells) - 1, -1, -1):
        if cells[i].kind == "code" and cells[i].source.strip() in (want, source.strip()):
            return cells[:i] + cells[i + 1:]
    return list(cells)
