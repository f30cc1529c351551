"""A short summary of the user's variables, so the model writes code with the real names and columns.

Only shapes, types, names and a first row are shown, never the data beyond that: the summary must stay small,
must be quick on a frame of ten million rows, and must not fail because of one odd object in the namespace.
pandas and numpy are recognised only when the user already imported them (looked up in ``sys.modules``).
"""

from __future__ import annotations

import inspect
import itertools
import reprlib
import sys
import types
from typing import Any, Collection, Mapping

IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
"""Names IPython itself puts into the user namespace."""

MAX_COLUMNS = 12
"""Columns of a DataFrame listed by name; the rest are only counted."""
MAX_LINE = 400

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlong = 40


def summarize_namespace(
    namespace: Mapping[str, Any],
    max_variables: int = 20,
    max_chars: int = 1500,
    exclude: Collection[str] = (),
) -> str | None:
    """One line per user variable, most recently defined first; None when there is nothing to show
    (or not even one line fits in `max_chars`).

    ``exclude`` takes names to hide as well, e.g. IPython's ``shell.user_ns_hidden`` (what startup put there).
    Never raises: an object that cannot be described is shown by its type name, or skipped.
    """
    try:
        return _summarize(namespace, max_variables, max_chars, exclude)
    except Exception:  # a namespace that cannot even be listed: say nothing rather than break the request
        return None


def _summarize(namespace: Mapping[str, Any], max_variables: int, max_chars: int, exclude: Collection[str]) -> str | None:
    items = list(namespace.items())
    main = "__main__"
    for key, value in items:
        if key == "__name__" and isinstance(value, str):
            main = value
    candidates = [(name, obj) for name, obj in reversed(items) if _is_user_variable(name, obj, main, exclude)]

    lines: list[str] = []
    used = 0
    for i, (name, obj) in enumerate(candidates):
        if len(lines) >= max_variables:
            break
        line = _describe_safely(name, obj)
        if line is None:
            continue
        more = len(candidates) - i - 1
        room = max_chars - used - (len(_left_out(len(candidates))) + 1 if more else 0)
        if len(line) + (1 if lines else 0) > room:
            break
        lines.append(line)
        used += len(line) + (1 if len(lines) > 1 else 0)
    left = len(candidates) - len(lines)
    if left and lines:
        lines.append(_left_out(left))
    return "\n".join(lines) if lines else None


def _left_out(n: int) -> str:
    return f"(and {n} more variable{'s' if n != 1 else ''})"


def _is_user_variable(name: object, obj: object, main: str, exclude: Collection[str]) -> bool:
    """Whether a name is the user's own data or code, not IPython's, a module, or something imported."""
    try:
        if not isinstance(name, str) or name.startswith("_") or name in IPYTHON_NAMES or name in exclude:
            return False
        if isinstance(obj, types.ModuleType):
            return False
        if inspect.isroutine(obj) or isinstance(obj, type):
            # `from math import sqrt` or `from pandas import DataFrame` is not the user's code.
            return getattr(obj, "__module__", None) == main
        return type(obj).__module__ not in ("typing", "typing_extensions")
    except Exception:
        return True  # odd, but the user's: _describe_safely copes


def _describe_safely(name: str, obj: object) -> str | None:
    try:
        line = _describe(name, obj)
    except Exception:
        try:
            line = f"{name}: {type(obj).__name__}"
        except Exception:
            return None
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def _short(value: object, limit: int = 40) -> str:
    """A repr cut to `limit` characters; reprlib keeps big containers and strings from being rendered whole."""
    try:
        text = _repr.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(name: str, obj: object) -> str:
    pd = sys.modules.get("pandas")
    if pd is not None:
        if isinstance(obj, pd.DataFrame):
            return _frame(name, obj)
        if isinstance(obj, pd.Series):
            label = f" {_short(obj.name, 30)}" if obj.name is not None else ""
            return f"{name}: Series{label}, len {len(obj)}, {obj.dtype}"
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.ndarray):
            return f"{name}: ndarray, shape {tuple(obj.shape)}, {obj.dtype}"
        if isinstance(obj, np.generic):
            return f"{name}: {type(obj).__name__} = {_short(obj.item())}"
    if obj is None:
        return f"{name}: None"
    if isinstance(obj, int) and not isinstance(obj, bool) and obj.bit_length() > 128:
        return f"{name}: {type(obj).__name__} with {obj.bit_length()} bits"  # repr could take long, or fail
    if isinstance(obj, (bool, int, float, complex)):
        return f"{name}: {type(obj).__name__} = {_short(obj)}"
    if isinstance(obj, str):
        size = f" ({len(obj)} chars)" if len(obj) > 40 else ""
        return f"{name}: {type(obj).__name__} = {_short(obj)}{size}"
    if isinstance(obj, (bytes, bytearray, list, tuple, set, frozenset)):
        return f"{name}: {type(obj).__name__}, len {len(obj)}"
    if isinstance(obj, dict):
        keys = [_short(k, 30) for k in itertools.islice(iter(obj), 5)]
        more = ", ..." if len(obj) > len(keys) else ""
        shown = f", keys {', '.join(keys)}{more}" if keys else ""
        return f"{name}: {type(obj).__name__}, len {len(obj)}{shown}"
    if isinstance(obj, type):
        return f"{name}: class, {name}{_signature(obj)}"
    if inspect.isroutine(obj):
        kind = "async function" if inspect.iscoroutinefunction(obj) else "function"
        return f"{name}: {kind}, {name}{_signature(obj)}"
    return _other(name, obj)


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _frame(name: str, df: Any) -> str:
    rows, ncols = df.shape
    head = df.iloc[:1, :MAX_COLUMNS]  # never touches more than one row
    cols = [f"{_label(c)} ({dtype})" for c, dtype in zip(head.columns, head.dtypes)]
    more = f", ... ({ncols - len(cols)} more)" if ncols > len(cols) else ""
    listed = f": {', '.join(cols)}{more}" if cols else ""
    text = f"{name}: DataFrame, {_count(rows, 'row')} x {_count(ncols, 'column')}{listed}"
    index = df.index
    if type(index).__name__ != "RangeIndex":
        names = [n for n in getattr(index, "names", [index.name]) if n is not None]
        label = ", ".join(_label(n) for n in names) or "unnamed"
        text += f"; index: {label} ({index.dtype})"
    if rows and len(cols):
        values = [f"{_label(c)}={_value(head.iat[0, j])}" for j, c in enumerate(head.columns)]
        text += f"; first row: {', '.join(values)}"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _value(value: object) -> str:
    """A cell value as the model would write it: repr for plain Python values, str for numpy and pandas ones."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):  # before float: np.float64 is a float
        return _short(value.item(), 24)
    if isinstance(value, (str, bytes, bool, int, float, complex, list, tuple, dict, set)) or value is None:
        return _short(value, 24)
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _label(value: object) -> str:
    text = value if isinstance(value, str) else _short(value, 30)
    return text if len(text) <= 30 else text[:27] + "..."


def _other(name: str, obj: object) -> str:
    """Any other object: its type, and shape and dtype when it has them (tensors, polars frames...)."""
    text = f"{name}: {type(obj).__name__}"
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple) or type(shape).__name__ == "Size":
        if all(isinstance(n, int) for n in shape):
            text += f", shape {tuple(shape)}"
            dtype = getattr(obj, "dtype", None)
            if dtype is not None and not callable(dtype):
                text += f", {str(dtype)[:30]}"
    return text
