"""Helpers the held-out checkers use (each item's `check` is a Python expression over these names).

Names available to a check expression:

- ``result``: the value of the last expression of the cell under test (what the notebook shows as ``Out``),
  None when the cell ends with a statement;
- ``expected``: the same for the item's reference code, run on a fresh copy of the same setup;
- ``ns``: the user namespace after the cell under test ran;
- ``same``, ``close``, ``bars``, ``lines``, ``points``, ``boxes``, ``titles``, ``as_list``, ``pd``, ``np``.

The comparisons accept the equally good shapes an analyst might return: a Series or a one-column DataFrame (or a
DataFrame with the group keys as columns, from ``as_index=False``), a list or an Index or an array.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def close(a, b, tol: float = 1e-6) -> bool:
    def null(x):
        try:
            return x is None or x is pd.NaT or (isinstance(x, float) and math.isnan(x)) or x is pd.NA
        except TypeError:
            return False

    if null(a) and null(b):
        return True
    if null(a) or null(b):
        return False
    if isinstance(a, (np.generic,)):
        a = a.item()
    if isinstance(b, (np.generic,)):
        b = b.item()
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)
    return a == b


def _key(k):
    if isinstance(k, tuple):
        return tuple(_key(x) for x in k)
    if isinstance(k, np.generic):
        k = k.item()
    if isinstance(k, pd.Period):
        return str(k)
    if isinstance(k, float) and k.is_integer():
        return int(k)
    return k


def _series(x, like: pd.Series | None = None):
    """A Series from a Series, a one-column frame, or a frame whose other columns are the group keys."""
    if isinstance(x, pd.Series):
        return x
    if isinstance(x, pd.DataFrame):
        if x.shape[1] == 1:
            return x.iloc[:, 0]
        if like is not None:
            names = [n for n in (like.index.names or []) if n is not None]
            if names and all(n in x.columns for n in names):
                rest = x.set_index(names)
                if rest.shape[1] == 1:
                    return rest.iloc[:, 0]
                if like.name in rest.columns:
                    return rest[like.name]
    return None


def as_list(x) -> list:
    if isinstance(x, (pd.Series, pd.Index, np.ndarray)):
        return list(x.tolist())
    if isinstance(x, pd.DataFrame):
        return x.values.tolist()
    return list(x)


def same(a, b, ordered: bool = True, tol: float = 1e-6, check_names: bool = False) -> bool:
    """Whether `a` (the answer) shows the same thing as `b` (the reference), within `tol`."""
    try:
        if isinstance(b, pd.Series):
            s = _series(a, b)
            if s is None or len(s) != len(b):
                return False
            ka = [_key(k) for k in s.index.tolist()]
            kb = [_key(k) for k in b.index.tolist()]
            if ordered:
                return ka == kb and all(close(x, y, tol) for x, y in zip(s.tolist(), b.tolist()))
            da, db = dict(zip(ka, s.tolist())), dict(zip(kb, b.tolist()))
            return da.keys() == db.keys() and all(close(da[k], db[k], tol) for k in db)
        if isinstance(b, pd.DataFrame):
            if isinstance(a, pd.Series) and b.shape[1] == 1:
                return same(a, b.iloc[:, 0], ordered, tol)
            if not isinstance(a, pd.DataFrame) or a.shape != b.shape:
                return False
            if set(map(str, a.columns)) != set(map(str, b.columns)):
                return False
            a = a.rename(columns=str)[list(map(str, b.columns))]
            b = b.rename(columns=str)
            if not ordered:
                if not a.index.is_unique:
                    a, b = a.sort_values(list(a.columns)), b.sort_values(list(b.columns))
                else:
                    a = a.reindex(b.index) if set(a.index) == set(b.index) else a
            if [_key(k) for k in a.index.tolist()] != [_key(k) for k in b.index.tolist()] and ordered:
                return False
            return all(close(x, y, tol) for ra, rb in zip(a.values.tolist(), b.values.tolist()) for x, y in zip(ra, rb))
        if isinstance(b, (list, tuple, np.ndarray, pd.Index)) and not isinstance(b, str):
            la, lb = as_list(a), as_list(b)
            if not ordered:
                la, lb = sorted(map(str, la)), sorted(map(str, lb))
                return la == lb
            return len(la) == len(lb) and all(close(x, y, tol) for x, y in zip(la, lb))
        if isinstance(a, (pd.Series, pd.DataFrame)):
            if a.size == 1:
                return close(a.to_numpy().ravel()[0], b, tol)
            return False
        return close(a, b, tol)
    except Exception:
        return False


def _axes():
    import matplotlib.pyplot as plt

    return [ax for n in plt.get_fignums() for ax in plt.figure(n).axes]


def bars(horizontal: bool = False) -> list[float]:
    """Heights (widths when horizontal) of the bar rectangles on the open figures, in drawing order."""
    from matplotlib.patches import Rectangle

    out = []
    for ax in _axes():
        for p in ax.patches:
            if isinstance(p, Rectangle):
                out.append(float(p.get_width() if horizontal else p.get_height()))
    return out


def lines() -> list[list[float]]:
    return [[float(v) for v in ln.get_ydata()] for ax in _axes() for ln in ax.get_lines()]


def points() -> int:
    from matplotlib.collections import PathCollection

    return sum(len(c.get_offsets()) for ax in _axes() for c in ax.collections if isinstance(c, PathCollection))


def boxes() -> int:
    """Number of boxes drawn (by their median lines: every box plot draws 5+ lines per box)."""
    return sum(len(ax.get_lines()) for ax in _axes()) // 6 if _axes() else 0


def titles() -> list[str]:
    import matplotlib.pyplot as plt

    out = [ax.get_title() for ax in _axes()]
    for n in plt.get_fignums():
        sup = plt.figure(n)._suptitle
        if sup is not None:
            out.append(sup.get_text())
    return out


def names() -> dict:
    return {"same": same, "close": close, "bars": bars, "lines": lines, "points": points, "boxes": boxes,
            "titles": titles, "as_list": as_list, "pd": pd, "np": np}


def values(x) -> list:
    """The numbers an answer shows: a Series' values, or a frame's last column; a scalar as a one-item list."""
    if isinstance(x, pd.DataFrame):
        x = x.iloc[:, -1]
    if isinstance(x, (pd.Series, pd.Index, np.ndarray, list, tuple)):
        return [v.item() if isinstance(v, np.generic) else v for v in list(x)]
    return [x]


def close_list(a, b, tol: float = 1e-6) -> bool:
    a, b = list(a), list(b)
    return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))


def top_label(x):
    """The answer to a "which one" question: the value itself, or the first label of a ranked Series/frame."""
    if isinstance(x, (pd.Series, pd.DataFrame)):
        return x.index[0] if len(x) else None
    if isinstance(x, (list, tuple, np.ndarray, pd.Index)):
        return x[0] if len(x) else None
    return x.item() if isinstance(x, np.generic) else x


def frames(ns) -> list:
    """Every DataFrame in the user namespace (for answers that store their result under a name of their own)."""
    return [v for k, v in ns.items() if not k.startswith("_") and isinstance(v, pd.DataFrame)]


def contains_series(frame, expected: pd.Series, tol: float = 1e-6) -> bool:
    """Whether one column of `frame` (indexed by the group keys, or with them as columns) matches `expected`."""
    if not isinstance(frame, pd.DataFrame):
        return False
    names = [n for n in expected.index.names if n is not None]
    if names and all(n in frame.columns for n in names):
        frame = frame.set_index(names)
    for col in frame.columns:
        if same(frame[col], expected, ordered=False, tol=tol):
            return True
    return False


def which(x, quantity: pd.Series) -> bool:
    """The answer to "which one has the most ...": the label itself, or a Series of that quantity per label (any
    scale: a mean ranks like a sum where the groups are the same size) that ranks the labels as `quantity` does.
    The first label alone is not enough: an unsorted Series starts with the alphabetically first label, and another
    column's values per label may peak at the same one."""
    label = quantity.idxmax()
    if isinstance(x, pd.DataFrame) and x.shape[1] == 1:
        x = x.iloc[:, 0]
    if isinstance(x, pd.Series):
        if not pd.api.types.is_numeric_dtype(x) or set(x.index) != set(quantity.index):
            return False
        return bool(x.idxmax() == label and x.rank().corr(quantity.reindex(x.index).rank()) > 0.999)  # Spearman's
    return top_label(x) == label


def scattered(x: pd.Series, y: pd.Series) -> bool:
    """A scatter plot of these two columns against each other (either way round), each row one point."""
    from matplotlib.collections import PathCollection

    offsets = [np.ma.filled(np.ma.asarray(c.get_offsets(), dtype=float), np.nan)
               for ax in _axes() for c in ax.collections if isinstance(c, PathCollection)]
    drawn = sorted(tuple(p) for o in offsets for p in o.tolist() if not any(np.isnan(p)))  # NaN rows are not drawn
    pairs = pd.concat([x, y], axis=1).dropna().astype(float).itertuples(index=False)
    wanted = sorted(tuple(p) for p in pairs)
    return any(len(drawn) == len(w) and all(close_list(a, b) for a, b in zip(drawn, w))
               for w in (wanted, sorted((b, a) for a, b in wanted)))


def medians_drawn(expected: pd.Series) -> bool:
    """A box per group: each group's median is drawn as a flat line, and there are as many medians as groups."""
    flat = [ln[0] for ln in lines() if len(ln) == 2 and close(ln[0], ln[1])]
    return boxes() >= len(expected) and all(any(close(m, v) for v in flat) for m in expected)


_names = names


def names() -> dict:  # noqa: F811 (extends the first definition)
    out = _names()
    out.update({"values": values, "close_list": close_list, "top_label": top_label, "frames": frames,
                "contains_series": contains_series, "which": which, "scattered": scattered,
                "medians_drawn": medians_drawn})
    return out
