"""What `%codegen --fix` knows about the last cell that failed, and how it asks the model for a corrected cell.

The failing line is found in the traceback (the innermost frame that ran the cell's own code), so the model can
rewrite just that line with the code on both sides in view (infill), told what went wrong in a comment above it;
a model that cannot infill rewrites the whole cell from a plain-English request. Plain Python, no IPython imports.
"""

from __future__ import annotations

import builtins
import difflib
import linecache
import re
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
    replace: tuple[str, str] | None = None
    """(the wrong name, the near one) behind `hint`."""

    def suggested_line(self, line: str) -> str | None:
        """`line` with the wrong name replaced by the near one (Python's own suggestion), when there is one."""
        if self.replace is None:
            return None
        wrong, near = self.replace
        if self.ename == "KeyError":  # the key as a string literal
            fixed = re.sub(rf"(['\"]){re.escape(wrong)}\1", lambda m: m.group(1) + near + m.group(1), line)
        elif self.ename == "AttributeError":
            fixed = re.sub(rf"(?<=\.){re.escape(wrong)}(?!\w)", near, line)
        else:
            fixed = re.sub(rf"(?<![\w.]){re.escape(wrong)}(?!\w)", near, line)
        return fixed if fixed != line else None

    @property
    def message(self) -> str:
        text = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        return f"{text} {self.hint}".strip()


def _near(name: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(name, [c for c in candidates if not c.startswith("_")], n=1, cutoff=0.7)
    return close[0] if close else None


def _keys_of(value: Any) -> list[str]:
    try:
        if hasattr(value, "columns"):  # a DataFrame
            return [str(c) for c in value.columns]
        if isinstance(value, Mapping):
            return [k for k in value if isinstance(k, str)]
    except Exception:  # noqa: BLE001 - an object that cannot list its keys gives no hint
        pass
    return []


def near_name(exc: BaseException, namespace: Mapping[str, Any], line: str = "") -> tuple[str, str] | None:
    """(wrong, near): the interpreter's "did you mean" for a misspelt name or attribute, which Python 3.11's
    traceback module leaves out of the exception's text, and the same for a missing key or column of a frame or
    dict that the failing `line` uses."""
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        used = [namespace[n] for n in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", line)) if n in namespace]
        keys = [k for value in used for k in _keys_of(value)]
        near = _near(exc.args[0], keys)
        return (exc.args[0], near) if near else None
    name = getattr(exc, "name", None)
    if not isinstance(name, str) or not name:
        return None
    near = None
    if isinstance(exc, NameError):
        near = _near(name, [*namespace.keys(), *dir(builtins)])
    elif isinstance(exc, AttributeError):
        obj = getattr(exc, "obj", None)
        try:
            near = _near(name, dir(obj)) if obj is not None else None
        except Exception:  # noqa: BLE001 - an object whose dir() fails gets no hint
            near = None
    return (name, near) if near else None


def suggestion(exc: BaseException, namespace: Mapping[str, Any], line: str = "") -> str:
    pair = near_name(exc, namespace, line)
    return f"Did you mean: {pair[1]!r}?" if pair else ""


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
    line = failing_line(exc, source)
    pair = near_name(exc, namespace, source.splitlines()[line] if line is not None else source)
    return Failure(
        source=source, ename=type(exc).__name__, evalue=str(exc).strip(), line=line,
        hint=f"Did you mean: {pair[1]!r}?" if pair else "", cell_id=cell_id, replace=pair,
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


def last_error_in(source: str, namespace: Mapping[str, Any], cell_id: str | None = None) -> Failure | None:
    """The interpreter's last error (IPython keeps it in `sys.last_value`) as a failure of `source`, when its
    traceback runs through that code; None otherwise."""
    import sys

    exc = getattr(sys, "last_value", None)
    if not isinstance(exc, BaseException):
        return None
    failure = failure_of(exc, source, namespace, cell_id)
    return failure if failure.line is not None else None

