"""A small query algebra for the filter / group / aggregate / sort family of requests.

A `Query` is what a request means ("average price by region for 2023, highest first, top 5"); it is rendered
into code in an analyst's style, and evaluated independently (plain Python over the rows, no pandas groupby)
to check what the code returned. Follow-up requests ("now only for 2023", "same but by month", "sort that")
are edits of the previous turn's Query.
"""

from __future__ import annotations

import keyword
import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .code import CodeStyle, chain, ident
from .tables import Column

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


class CheckFailed(AssertionError):
    pass


def ensure(cond: bool, why: str) -> None:
    if not cond:
        raise CheckFailed(why)


def isnull(v) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and v != v) or v is pd.NA


def close(a, b, tol: float = 1e-6) -> bool:
    if isnull(a) and isnull(b):
        return True
    if isnull(a) or isnull(b):
        return False
    if isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return a == b
    try:
        return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)
    except (TypeError, ValueError):
        return a == b


def norm_key(k):
    if isinstance(k, tuple):
        return tuple(norm_key(x) for x in k)
    if isinstance(k, pd.Period):
        return str(k)
    if isinstance(k, pd.Timestamp):
        return k.isoformat()
    if isinstance(k, np.generic):
        k = k.item()
    if isinstance(k, float) and k.is_integer():
        return int(k)
    return k


# --- conditions ---------------------------------------------------------------------------------------------


@dataclass
class Cond:
    col: Column
    op: str
    """>, <, >=, <=, ==, !=, between, isin, true, false, year, month, hour, since, notna, isna, contains."""
    value: Any = None
    """For `hour`: (">=" or "<", the hour), "before noon" being ("<", 12)."""
    negated: bool = False
    """The rows the condition does not hold for ("drop the rows where ..."): `~(mask)`, so a missing value that
    fails the comparison is kept, as pandas keeps it."""

    def test(self, v) -> bool:
        return self._holds(v) != self.negated

    def _holds(self, v) -> bool:
        op = self.op
        if op == "isna":
            return isnull(v)
        if op == "notna":
            return not isnull(v)
        if op == "!=":
            return isnull(v) or v != self.value
        if isnull(v):
            return False
        if op == ">":
            return v > self.value
        if op == "<":
            return v < self.value
        if op == ">=":
            return v >= self.value
        if op == "<=":
            return v <= self.value
        if op == "==":
            return v == self.value
        if op == "between":
            return self.value[0] <= v <= self.value[1]
        if op == "isin":
            return v in self.value
        if op == "true":
            return bool(v)
        if op == "false":
            return not bool(v)
        if op == "year":
            return v.year == self.value
        if op == "month":
            return v.month == self.value
        if op == "hour":
            return v.hour < self.value[1] if self.value[0] == "<" else v.hour >= self.value[1]
        if op == "since":
            return v >= pd.Timestamp(self.value)
        if op == "contains":
            return self.value in v
        raise ValueError(op)

    def code(self, s: CodeStyle, frame: str) -> str:
        if self.negated:
            return f"~({replace(self, negated=False).code(s, frame)})"
        ref = s.col(frame, self.col.name)
        op, v = self.op, self.value
        if op in (">", "<", ">=", "<=", "==", "!="):
            return f"{ref} {op} {s.lit(v)}"
        if op == "between":
            return f"{ref}.between({s.lit(v[0])}, {s.lit(v[1])})"
        if op == "isin":
            return f"{ref}.isin({s.lit(list(v))})"
        if op == "true":
            return ref
        if op == "false":
            return f"~{ref}"
        if op == "year":
            return f"{ref}.dt.year == {v}"
        if op == "month":
            return f"{ref}.dt.month == {v}"
        if op == "hour":
            return f"{ref}.dt.hour {v[0]} {v[1]}"
        if op == "since":
            return f"{ref} >= {s.lit(v)}"
        if op in ("notna", "isna"):
            return f"{ref}.{op}()"
        if op == "contains":
            na = ", na=False" if self.col.missing else ""
            return f"{ref}.str.contains({s.lit(v)}{na})"
        raise ValueError(op)

    def query_code(self, s: CodeStyle) -> str | None:
        """The condition inside `df.query("...")`, for the simple comparisons only."""
        name = self.col.name
        ref = name if name.isidentifier() and not keyword.iskeyword(name) else f"`{name}`"
        inner = "'" if s.q == '"' else '"'
        v = self.value
        if self.negated:
            return None
        if self.op in (">", "<", ">=", "<=", "==", "!=") and not isinstance(v, bool):
            if isinstance(v, str):
                if inner in v:
                    return None
                return f"{ref} {self.op} {inner}{v}{inner}"
            return f"{ref} {self.op} {s.lit(v)}"
        if self.op == "between" and not isinstance(v[0], str):
            return f"{s.lit(v[0])} <= {ref} <= {s.lit(v[1])}"
        return None

    def words(self, w) -> str:
        c = w.col(self.col)
        op, v = self.op, self.value
        if op in (">=", "<=") and w.maybe(0.4):
            more = ["or more", "or higher", "or above", "and up", "and above"] if op == ">=" else \
                ["or less", "or lower", "or below", "or under", "and below"]
            return w.pick([f"{c} of {w.value(v)} {w.pick(more)}", f"{c} {w.value(v)} {w.pick(more)}"])
        if op in (">", "<", ">=", "<="):
            return f"{c} {w.cmp(op)} {w.value(v)}"
        if op == "==":
            if self.col.kind == "cat" and w.maybe(0.4):
                return w.pick([f"{c} {w.value(v)}", f"{w.value(v)} {c}", f"{c} is {w.value(v)}", f"{c} = {w.value(v)}"])
            verb = w.cmp("==")
            return f"{c} {verb} {w.value(v)}" if verb else f"{c} {w.value(v)}"
        if op == "!=":
            return w.pick([f"{c} {w.cmp('!=')} {w.value(v)}", f"{c} not {w.value(v)}", f"excluding {c} {w.value(v)}"])
        if op == "between":
            return w.pick([f"{c} between {w.value(v[0])} and {w.value(v[1])}", f"{c} from {w.value(v[0])} to {w.value(v[1])}"])
        if op == "isin":
            vals = [w.value(x) for x in v]
            joined = ", ".join(vals[:-1]) + f" {w.pick(['or', 'and', 'or'])} " + vals[-1]
            return w.pick([f"{c} in {joined}", f"{c} {joined}", f"{c} is {joined}", f"{c} in ({', '.join(vals)})"])
        if op == "true":
            return w.pick([f"{c} is true", f"{c} == True", f"{c}", f"{c} = yes", f"{c} is True"])
        if op == "false":
            return w.pick([f"{c} is false", f"not {c}", f"{c} == False", f"{c} = no", f"{c} is False"])
        if op == "year":
            return w.pick([f"{w.value(v)}", f"{c} in {w.value(v)}", f"year {w.value(v)}"])
        if op == "month":
            return w.pick([f"{MONTHS[v - 1]}", f"month {v}", f"{c} in {MONTHS[v - 1]}"])
        if op == "hour":
            return f"{c} {hour_words(v, w)}" if w.maybe(0.7) else hour_words(v, w)
        if op == "since":
            return w.pick([f"{c} on or after {w.value(v)}", f"{c} since {w.value(v)}", f"{c} >= {w.value(v)}"])
        if op == "notna":
            return w.pick([f"{c} not missing", f"{c} not null", f"non-missing {c}", f"a {c} value", f"{c} present",
                           f"a {c} recorded", f"{c} filled in", f"a known {c}"])
        if op == "isna":
            return w.pick([f"{c} missing", f"{c} is null", f"no {c}", f"{c} is NaN", f"missing {c}", f"no {c} recorded",
                           f"{c} blank", f"{c} empty", f"no {c} given", f"an unknown {c}"])
        if op == "contains":
            return w.pick([f"{c} containing {w.value(repr(v))}", f"{c} contains {w.value(v)}", f'"{w.value(v)}" in the {c}'])
        raise ValueError(op)


def hour_words(value: tuple[str, int], w) -> str:
    """A time of day in words: ("<", 12) is "before noon", (">=", 18) "after 6 pm"."""
    op, h = value
    clock = "noon" if h == 12 else (f"{h} am" if h < 12 else f"{h - 12} pm")
    if op == "<":
        extra = ["in the morning", "in the morning (before noon)"] if h == 12 else []
        return w.pick([f"before {clock}", f"before {h}:00", f"earlier than {clock}"] + extra)
    extra = ["in the evening"] if h >= 18 else (["in the afternoon or later"] if h == 12 else [])
    return w.pick([f"after {clock}", f"from {h}:00 on", f"at {clock} or later"] + extra)


def mask_code(conds: list[Cond], s: CodeStyle, frame: str) -> str:
    parts = [c.code(s, frame) for c in conds]
    if len(parts) == 1:
        return parts[0]
    return " & ".join(f"({p})" for p in parts)


def filtered(conds: list[Cond], s: CodeStyle, frame: str, cols: list[str] | None = None) -> str:
    """`df[mask]`, `df.loc[mask]`, or `df.query("...")`; with `cols`, only those columns."""
    if not conds:
        return frame if cols is None else f"{frame}[{s.lit(cols)}]"
    style = s.mask
    if style == "query":
        qs = [c.query_code(s) for c in conds]
        if all(qs):
            text = " and ".join(qs)
            q = s.q
            expr = f"{frame}.query({q}{text}{q})"
            return expr if cols is None else f"{expr}[{s.lit(cols)}]"
        style = "bracket"
    mask = mask_code(conds, s, frame)
    if style == "loc" or cols is not None and s.rng.random() < 0.5:
        if cols is None:
            return f"{frame}.loc[{mask}]"
        return f"{frame}.loc[{mask}, {s.lit(cols)}]"
    expr = f"{frame}[{mask}]"
    return expr if cols is None else f"{expr}[{s.lit(cols)}]"


# --- keys -------------------------------------------------------------------------------------------------


@dataclass
class Key:
    col: Column
    part: str | None = None
    """None, or a part of a datetime column: year, month, ym (year-month period), quarter, dayname, hour."""

    def code(self, s: CodeStyle, frame: str) -> str:
        if self.part is None:
            return s.lit(self.col.name)
        ref = s.col(frame, self.col.name)
        return {
            "year": f"{ref}.dt.year",
            "month": f"{ref}.dt.month",
            "ym": f"{ref}.dt.to_period({s.lit('M')})",
            "quarter": f"{ref}.dt.quarter",
            "dayname": f"{ref}.dt.day_name()",
            "hour": f"{ref}.dt.hour",
        }[self.part]

    def of(self, v):
        if self.part is None:
            return v
        if isnull(v):
            return None
        return {
            "year": lambda t: t.year,
            "month": lambda t: t.month,
            "ym": lambda t: f"{t.year}-{t.month:02d}",
            "quarter": lambda t: (t.month - 1) // 3 + 1,
            "dayname": lambda t: t.day_name(),
            "hour": lambda t: t.hour,
        }[self.part](v)

    def words(self, w) -> str:
        if self.part is None:
            return w.col(self.col)
        c = w.col(self.col, exact=False) if w.maybe(0.7) else w.col(self.col)
        return {
            "year": w.pick(["year", f"year of {c}", f"{c} year", "year"]),
            "month": w.pick(["calendar month", "month of the year", f"month of {c}", "month number", "month (1-12)"]),
            "ym": w.pick(["month", "year-month", "month", f"month ({c})", "year and month"]),
            "quarter": w.pick(["quarter", f"quarter of {c}", "quarter"]),
            "dayname": w.pick(["day of week", "weekday", "day of the week"]),
            "hour": w.pick(["hour", "hour of day", f"hour of {c}"]),
        }[self.part]

    @property
    def label(self) -> str:
        return self.col.name if self.part is None else self.part

    def varword(self) -> str:
        return ident(self.col.name) if self.part is None else {"ym": "month", "dayname": "weekday"}.get(self.part, self.part)


# --- the query ----------------------------------------------------------------------------------------------


@dataclass
class Query:
    filters: list[Cond] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    value: Column | None = None
    agg: str | None = None
    """mean, sum, median, min, max, count, nunique, std, size; None for a rows query."""
    aggs: list[str] | None = None
    """Several aggregates at once (a DataFrame with one column per aggregate)."""
    sort: str | None = None
    """asc / desc: by the aggregate, or by `sort_col` for a rows query."""
    sort_col: Column | None = None
    top: int | None = None
    digits: int | None = None
    select: list[Column] | None = None
    unstack: bool = False
    count_only: bool = False
    """A rows query answered by its number of rows."""

    def copy(self, **changes) -> "Query":
        q = replace(self, filters=list(self.filters), keys=list(self.keys), **changes)
        return q

    @property
    def is_agg(self) -> bool:
        return self.agg is not None or bool(self.aggs)

    # --- rendering ------------------------------------------------------------------------------------

    def render(self, s: CodeStyle, frame: str, name: str | None = None) -> tuple[list[str], str]:
        """(statements, expression): the code that computes the result and the expression that shows it."""
        if not self.is_agg:
            return self._render_rows(s, frame)
        pre: list[str] = []
        src = frame
        needs_frame = any(k.part for k in self.keys)
        if self.filters and (needs_frame or s.rng.random() < 0.25):
            sub = _subname(self, frame)
            pre.append(f"{sub} = {filtered(self.filters, s, frame)}")
            src, base = sub, sub
        else:
            base = filtered(self.filters, s, frame)
            if base != frame and not base.endswith(")") and not base.endswith("]"):
                base = f"({base})"
        if not self.keys:
            return pre, self._render_scalar(s, base, src)
        keys = [k.code(s, src) for k in self.keys]
        key_arg = keys[0] if len(keys) == 1 else "[" + ", ".join(keys) + "]"
        grouped = f"{base}.groupby({key_arg})"
        parts: list[str] = []
        sort_name = None
        if self.aggs:
            pieces = ", ".join(f"{a}_{ident(self.value.name)}=({s.lit(self.value.name)}, {s.lit(a)})" for a in self.aggs)
            if s.named_agg and len(pieces) < 70:
                parts = [f".agg({pieces})"]
                sort_name = f"{self.aggs[0]}_{ident(self.value.name)}"
            else:
                grouped += s.sub(self.value.name)
                parts = [f".agg({s.lit(self.aggs)})"]
                sort_name = self.aggs[0]
        elif self.agg == "size":
            parts = [".size()"]
        else:
            grouped += s.sub(self.value.name)
            if s.rng.random() < 0.1:
                parts = [f".agg({s.lit(self.agg)})"]
            else:
                parts = [f".{self.agg}()"]
        if self.sort and not self.aggs:
            if self.top and s.rng.random() < 0.5:
                parts.append(f".{'nlargest' if self.sort == 'desc' else 'nsmallest'}({self.top})")
            else:
                parts.append(".sort_values(ascending=False)" if self.sort == "desc" else ".sort_values()")
                if self.top:
                    parts.append(f".head({self.top})")
        elif self.sort and self.aggs:
            parts.append(f".sort_values({s.lit(sort_name)}, ascending={self.sort == 'asc'})")
            if self.top:
                parts.append(f".head({self.top})")
        if self.digits is not None:
            parts.append(f".round({self.digits})")
        if self.unstack:
            parts.append(".unstack()")
        return pre, chain(grouped, parts, s.chain_paren)

    def _render_scalar(self, s: CodeStyle, base: str, src: str) -> str:
        if self.agg == "size":
            return f"len({base})"
        expr = f"{base}{s.sub(self.value.name)}"
        if self.filters and base.startswith(f"{src}.loc[") and base.endswith("]"):
            expr = base[:-1] + f", {s.lit(self.value.name)}]"
        out = f"{expr}.{self.agg}()"
        if self.digits is not None:
            out = f"round({out}, {self.digits})" if s.rng.random() < 0.5 else f"{out}.round({self.digits})"
        return out

    def _render_rows(self, s: CodeStyle, frame: str) -> tuple[list[str], str]:
        cols = [c.name for c in self.select] if self.select else None
        if cols and self.sort_col is not None and self.sort_col.name not in cols:
            cols = None if s.rng.random() < 0.5 else cols + [self.sort_col.name]
            if cols is None:
                self.select = None
        expr = filtered(self.filters, s, frame, cols)
        if self.count_only:
            return [], s.rng.choice([f"len({expr})", f"{expr}.shape[0]"]) if self.filters else f"len({frame})"
        parts = []
        if self.sort_col is not None:
            name = s.lit(self.sort_col.name)
            if self.top and s.rng.random() < 0.4:
                fn = "nlargest" if self.sort == "desc" else "nsmallest"
                return [], f"{expr}.{fn}({self.top}, {name})"
            asc = "" if self.sort == "asc" else ", ascending=False"
            parts.append(f".sort_values({name}{asc})")
        if self.top:
            parts.append(f".head({self.top})")
        return [], chain(expr, parts, s.chain_paren)

    # --- reference evaluation -----------------------------------------------------------------------------

    def rows(self, frame: pd.DataFrame) -> list:
        """Index labels of the rows that pass the filters, in order."""
        if not self.filters:
            return list(frame.index)
        columns = {c.col.name: frame[c.col.name].tolist() for c in self.filters}
        keep = []
        for i, label in enumerate(frame.index):
            if all(c.test(columns[c.col.name][i]) for c in self.filters):
                keep.append(label)
        return keep

    def reference(self, frame: pd.DataFrame):
        """The answer computed in plain Python: {key: value} (or {key: {agg: value}}), or a scalar."""
        labels = self.rows(frame)
        sub = frame.loc[labels]
        if not self.keys:
            values = sub[self.value.name].tolist() if self.value is not None else [None] * len(sub)
            return _aggregate(self.agg, values)
        key_values = [sub[k.col.name].tolist() for k in self.keys]
        vals = sub[self.value.name].tolist() if self.value is not None else [0] * len(sub)
        groups: dict = {}
        for i in range(len(sub)):
            key = tuple(k.of(key_values[j][i]) for j, k in enumerate(self.keys))
            if any(isnull(x) for x in key):
                continue  # groupby drops missing keys
            groups.setdefault(key if len(key) > 1 else key[0], []).append(vals[i])
        if self.aggs:
            return {k: {a: _aggregate(a, v) for a in self.aggs} for k, v in groups.items()}
        return {k: _aggregate(self.agg, v) for k, v in groups.items()}

    def shown_values(self, frame: pd.DataFrame) -> list:
        """The values the answer shows, in order (sorted, cut to the top n, rounded), for checking a plot of it."""
        ref = self.reference(frame)
        if self.sort:
            keys = [k for k in ref if not isnull(ref[k])]
            keys.sort(key=lambda k: ref[k], reverse=self.sort == "desc")
            keys += [k for k in ref if isnull(ref[k])]
        else:
            keys = sorted(ref, key=lambda k: (str(type(k)), k))
        if self.top:
            keys = keys[: self.top]
        vals = [ref[k] for k in keys]
        if self.digits is not None:
            vals = [v if isnull(v) else round(float(v), self.digits) for v in vals]
        return vals

    @property
    def tol(self) -> float:
        return 1e-6 if self.digits is None else 0.51 * 10 ** -self.digits + 1e-9

    # --- checking ---------------------------------------------------------------------------------------

    def check(self, result, frame: pd.DataFrame) -> None:
        if not self.is_agg:
            return self._check_rows(result, frame)
        ref = self.reference(frame)
        if not self.keys:
            ensure(np.isscalar(result) or isinstance(result, (int, float, np.generic)), f"expected a number, got {type(result).__name__}")
            if self.digits is not None:
                ref = round(ref, self.digits) if not isnull(ref) else ref
                ensure(close(result, ref, 10 ** -self.digits), f"{result} != {ref}")
            else:
                ensure(close(result, ref), f"{result} != {ref}")
            return
        if self.aggs:
            return self._check_multi(result, ref)
        if self.unstack:
            ensure(isinstance(result, pd.DataFrame), "expected a table")
            result = result.stack(future_stack=True) if _has_future_stack() else result.stack()
            result = result[result.notna()]
            ref = {k: v for k, v in ref.items() if not isnull(v)}
        series = _as_series(result, self)
        pairs = [(norm_key(k), v) for k, v in zip(series.index.tolist(), series.tolist())]
        keys = [k for k, _ in pairs]
        ensure(len(set(keys)) == len(keys), "duplicate keys")
        tol = 1e-6 if self.digits is None else 0.51 * 10 ** -self.digits + 1e-9
        ref = {norm_key(k): v for k, v in ref.items()}
        if self.top:
            ensure(len(pairs) == min(self.top, len(ref)), f"{len(pairs)} rows, expected top {self.top}")
        else:
            ensure(len(pairs) == len(ref), f"{len(pairs)} groups, expected {len(ref)}")
        for k, v in pairs:
            ensure(k in ref, f"unexpected group {k!r}")
            ensure(close(v, ref[k], tol), f"group {k!r}: {v} != {ref[k]}")
        if self.sort:
            vals = [v for _, v in pairs if not isnull(v)]
            ordered = sorted(vals, reverse=self.sort == "desc")
            ensure(all(close(a, b, tol) for a, b in zip(vals, ordered)), "not sorted")
            if self.top:
                best = sorted((v for v in ref.values() if not isnull(v)), reverse=self.sort == "desc")[: self.top]
                ensure(all(close(a, b, tol) for a, b in zip(vals, best)), "not the top values")

    def _check_multi(self, result, ref) -> None:
        ensure(isinstance(result, pd.DataFrame), "expected a table")
        ensure(len(result) == (min(self.top, len(ref)) if self.top else len(ref)), "wrong number of groups")
        ensure(len(result.columns) == len(self.aggs), "wrong number of columns")
        if self.sort:
            first = [v for v in result.iloc[:, 0].tolist() if not isnull(v)]
            ensure(first == sorted(first, reverse=self.sort == "desc"), "not sorted")
        for label, row in zip(result.index.tolist(), result.itertuples(index=False)):
            k = norm_key(label)
            ensure(k in {norm_key(x) for x in ref}, f"unexpected group {k!r}")
            want = {norm_key(x): v for x, v in ref.items()}[k]
            for a, got in zip(self.aggs, row):
                ensure(close(got, want[a], 1e-6 if self.digits is None else 10 ** -self.digits), f"{k} {a}: {got} != {want[a]}")

    def _check_rows(self, result, frame: pd.DataFrame) -> None:
        labels = self.rows(frame)
        if self.count_only:
            ensure(isinstance(result, (int, np.integer)) and not isinstance(result, bool), "expected a count")
            ensure(int(result) == len(labels), f"{result} != {len(labels)}")
            return
        ensure(isinstance(result, pd.DataFrame), f"expected rows, got {type(result).__name__}")
        if self.select:
            want = [c.name for c in self.select]
            ensure(all(c in result.columns for c in want), "missing selected columns")
            ensure(len(result.columns) <= len(want) + 1, "too many columns")
        else:
            ensure(list(result.columns) == list(frame.columns), "columns changed")
        got = list(result.index)
        ensure(len(set(got)) == len(got), "duplicate rows")
        ensure(set(got) <= set(labels), "rows that do not match the condition")
        if self.top:
            ensure(len(got) == min(self.top, len(labels)), "wrong number of rows")
        else:
            ensure(len(got) == len(labels), f"{len(got)} rows, expected {len(labels)}")
        if self.sort_col is not None:
            vals = [v for v in result[self.sort_col.name].tolist() if not isnull(v)]
            ensure(vals == sorted(vals, reverse=self.sort == "desc"), "not sorted")
            if self.top:
                allv = [v for v in frame.loc[labels, self.sort_col.name].tolist() if not isnull(v)]
                best = sorted(allv, reverse=self.sort == "desc")[: len(vals)]
                ensure(all(close(a, b) for a, b in zip(vals, best)), "not the top rows")
        elif not self.top:
            ensure(got == labels, "rows out of order")
        sub = frame.loc[got, list(result.columns)]
        ensure(sub.equals(result), "row values differ from the table")


def _subname(q: Query, frame: str) -> str:
    for c in q.filters:
        if c.op == "year":
            return f"{frame}_{c.value}" if frame.isidentifier() and len(frame) < 8 else f"y{c.value}"
        if c.op == "==" and isinstance(c.value, str) and ident(c.value).isidentifier() and len(ident(c.value)) < 14:
            return ident(c.value)
    return "subset" if frame != "subset" else "sub"


def _has_future_stack() -> bool:
    return int(pd.__version__.split(".")[0]) == 2


def _as_series(result, q: Query) -> pd.Series:
    if isinstance(result, pd.DataFrame):
        names = [k.col.name for k in q.keys if k.part is None]
        if names and len(names) == len(q.keys) and all(n in result.columns for n in names):
            result = result.set_index(names)
        ensure(result.shape[1] == 1, "expected one column of values")
        result = result.iloc[:, 0]
    ensure(isinstance(result, pd.Series), f"expected a Series, got {type(result).__name__}")
    return result


def _aggregate(agg: str, values: list):
    if agg == "size":
        return len(values)
    vals = [float(v) if isinstance(v, (bool, np.bool_)) else v for v in values if not isnull(v)]
    if agg == "count":
        return len(vals)
    if agg == "nunique":
        return len(set(vals))
    if agg == "sum":
        return float(sum(vals)) if vals else 0.0
    if not vals:
        return float("nan")
    if agg == "mean":
        return float(sum(vals)) / len(vals)
    if agg == "median":
        return float(statistics.median(vals))
    if agg == "min":
        return min(vals)
    if agg == "max":
        return max(vals)
    if agg == "std":
        return statistics.stdev(vals) if len(vals) > 1 else float("nan")
    raise ValueError(agg)
