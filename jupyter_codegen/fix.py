"""What `%codegen --fix` knows about the last cell that failed, and how it asks the model for a corrected cell.

The failing line is found in the traceback (the innermost frame that ran the cell's own code), so the model can
rewrite just that line with the code on both sides in view (infill), told what went wrong in a comment above it;
a model that cannot infill rewrites the whole cell from a plain-English request. Plain Python, no IPython imports.
"""

from __future__ import annotations

import builtins
import difflib
import linecache
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Mapping


@dataclass(frozen=True)
class Failure:
    source: str
    """The failing cell, as the user wrote it."""
    ename: str
    evalue: str
    line: int | None = None
    """0-based line of `source` that raised, when the traceback shows it."""
    hint: str = ""
    """A near name the user may have meant ("Did you mean: 'sales'?"), or nothing."""
    cell_id: str | None = None

    @property
    def message(self) -> str:
        text = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        return f"{text} {self.hint}".strip()


def _near(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, [c for c in candidates if not c.startswith("_")], n=1, cutoff=0.7)
    return f"Did you mean: {close[0]!r}?" if close else ""


def suggestion(exc: BaseException, namespace: Mapping[str, Any]) -> str:
    """The interpreter's "did you mean" for a misspelt name or attribute, which Python 3.11's traceback module
    leaves out of the exception's text."""
    name = getattr(exc, "name", None)
    if not isinstance(name, str) or not name:
        return ""
    if isinstance(exc, NameError):
        return _near(name, [*namespace.keys(), *dir(builtins)])
    if isinstance(exc, AttributeError):
        obj = getattr(exc, "obj", None)
        try:
            return _near(name, dir(obj)) if obj is not None else ""
        except Exception:  # noqa: BLE001 - an object whose dir() fails gets no hint
            return ""
    return ""


def failing_line(exc: BaseException, source: str, tb: TracebackType | None = None) -> int | None:
    """The 0-based line of `source` where `exc` arose: a SyntaxError's own line, else the innermost traceback frame
    whose text is a line of the cell (IPython compiles each cell under a file name of its own)."""
    lines = source.splitlines()
    if isinstance(exc, SyntaxError):
        return exc.lineno - 1 if exc.lineno and 0 < exc.lineno <= len(lines) else None
    found = None
    for frame in traceback.extract_tb(tb or exc.__traceback__):
        if not frame.lineno or frame.lineno > len(lines):
            continue
        text = frame.line if frame.line is not None else linecache.getline(frame.filename, frame.lineno)
        if text and text.strip() and text.strip() == lines[frame.lineno - 1].strip():
            found = frame.lineno - 1
    return found


def failure_of(exc: BaseException, source: str, namespace: Mapping[str, Any], cell_id: str | None = None) -> Failure:
    return Failure(
        source=source, ename=type(exc).__name__, evalue=str(exc).strip(), line=failing_line(exc, source),
        hint=suggestion(exc, namespace), cell_id=cell_id,
    )


def split_at_failure(failure: Failure) -> tuple[str, str, str]:
    """(code before the failing line, the failing line, code after it), each keeping its newlines; with no known
    line the whole cell is the part to rewrite."""
    lines = failure.source.splitlines(keepends=True)
    if failure.line is None or not 0 <= failure.line < len(lines):
        return "", failure.source, ""
    before, line, after = "".join(lines[: failure.line]), lines[failure.line], "".join(lines[failure.line + 1:])
    if line.endswith("\n"):
        line, after = line[:-1], "\n" + after
    return before, line, after


def error_comment(failure: Failure, indent: str) -> str:
    return f"{indent}# Fixed: {failure.message}\n"


def fix_request(failure: Failure) -> str:
    """The plain-English request for a model that writes cells left to right."""
    return f"Fix this cell, which failed with {failure.message}\n{failure.source.rstrip()}"
