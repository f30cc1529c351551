"""The analyst's operations: for each, a request in words, the code that answers it, and a check of the result.

An op function looks at the conversation so far (the live DataFrame in the shell, the previous answer) and
returns a `Step`, or None when it does not apply (no date column for a resample, nothing to plot for "plot it").
Each `Step.check` receives the executed cell's result and raises `CheckFailed` when the code did not do what the
request says; checks compute their reference independently (plain Python over a snapshot taken before the cell).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from .code import CodeStyle, ident, nice
from .lang import ASC, DESC, Words
from .query import MONTHS, Cond, Key, Query, close, ensure, filtered, hour_words, isnull
from .tables import Column, Table


@dataclass
class Run:
    """What executing one cell gave."""

    result: Any
    stdout: str
    ns: dict
    snap: pd.DataFrame | None
    """The main frame as it was before the cell ran."""
    snap_lookup: pd.DataFrame | None = None


@dataclass
class Last:
    """What the previous answer produced, for follow-ups that refer back to it."""

    kind: str
    """agg, rows, plot, counts, scalar, other."""
    q: Query | None = None
    name: str | None = None
    plot: str | None = None
    col: Column | None = None
    normalize: bool = False
    code: str = ""


@dataclass
class Step:
    op: str
    request: str | None
    """None for a cell the user typed by hand."""
    code: str
    check: Callable[[Run], None] | None = None
    after: Callable[[], None] | None = None
    last: Last | None = None
    figure: bool = False


class Env:
    """One conversation's state: the table, the names in the shell, the speaker's and the coder's habits."""

    def __init__(self, rng: random.Random, table: Table, var: str, ns: dict, plots: bool):
        self.rng = rng
        self.table = table
        self.var = var
        self.ns = ns
        self.w = Words(rng)
        self.s = CodeStyle(rng)
        self.cols: list[Column] = list(table.columns)
        self.last: Last | None = None
        self.imported: set[str] = set()
        self.names: set[str] = {var}
        self.lookup_var: str | None = None
        self.plots = plots
        self.path = ""

    # --- the live table -----------------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        return self.ns[self.var]

    def is_dt(self, c: Column) -> bool:
        return c.name in self.frame.columns and pd.api.types.is_datetime64_any_dtype(self.frame[c.name])

    def has_na(self, c: Column) -> bool:
        return bool(self.frame[c.name].isna().any())

    def nums(self) -> list[Column]:
        return [c for c in self.cols if c.kind in ("num", "int") and c.name in self.frame.columns]

    def measures(self) -> list[Column]:
        """Numeric columns that measure something (not ids, not codes like a user id or a year)."""
        return [c for c in self.nums() if c.spec.kind != "id" and not c.is_code]

    def cats(self, max_n: int = 25) -> list[Column]:
        out = []
        for c in self.cols:
            if c.kind == "cat" and c.name in self.frame.columns and 1 < self.frame[c.name].nunique() <= max_n:
                out.append(c)
        return out

    def dates(self) -> list[Column]:
        return [c for c in self.cols if c.kind == "date" and c.name in self.frame.columns and self.is_dt(c)]

    def raw_dates(self) -> list[Column]:
        return [c for c in self.cols if c.kind == "date" and c.name in self.frame.columns and not self.is_dt(c)]

    def bools(self) -> list[Column]:
        return [c for c in self.cols if c.kind == "bool" and c.name in self.frame.columns
                and pd.api.types.is_bool_dtype(self.frame[c.name])]

    def texts(self) -> list[Column]:
        return [c for c in self.cols if c.kind == "text" and c.name in self.frame.columns]

    def pick(self, options):
        return self.rng.choice(options)

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    def fresh(self, base: str) -> str:
        name = ident(base)
        if name in self.names or name in ("pd", "np", "plt", "df"):
            for i in range(2, 50):
                if f"{name}{i}" not in self.names:
                    name = f"{name}{i}"
                    break
        return name

    # --- values for conditions ----------------------------------------------------------------------------

    def threshold(self, c: Column) -> float | int:
        vals = self.frame[c.name].dropna()
        x = float(vals.quantile(self.rng.uniform(0.15, 0.85)))
        return nice(x, integer=c.kind == "int" or float(vals.round().eq(vals).all()))

    def category(self, c: Column, k: int = 1):
        counts = self.frame[c.name].value_counts()
        top = counts.index.tolist()[: max(k + 2, 4)]
        self.rng.shuffle(top)
        return top[:k] if k > 1 else top[0]

    def year(self, c: Column) -> int:
        years = sorted(set(self.frame[c.name].dt.year.dropna().astype(int).tolist()))
        return self.pick(years)

    def hour(self, c: Column) -> Cond | None:
        """A time-of-day condition ("before noon", "after 6 pm") that keeps some rows and drops some."""
        hours = self.frame[c.name].dt.hour.dropna()
        for op, h in self.rng.sample([("<", 12), ("<", 12), ("<", 10), ("<", 9), (">=", 12), (">=", 17), (">=", 18),
                                      (">=", 20)], 4):
            share = float((hours < h).mean()) if op == "<" else float((hours >= h).mean())
            if 0.05 < share < 0.95:
                return Cond(c, "hour", (op, h))
        return None

    def cond(self, exclude: set[str] = frozenset()) -> Cond | None:
        """A random condition on a random column."""
        options = []
        for c in self.nums():
            if c.name not in exclude and c.spec.kind != "id":
                options += [("num", c)] * 3
        for c in self.cats():
            if c.name not in exclude:
                options += [("cat", c)] * 3
        for c in self.bools():
            if c.name not in exclude:
                options.append(("bool", c))
        for c in self.dates():
            if c.name not in exclude:
                options += [("date", c)] * 2
        for c in self.cols:
            if c.missing and c.name in self.frame.columns and c.name not in exclude and self.has_na(c):
                options.append(("na", c))
        if not options:
            return None
        kind, c = self.pick(options)
        if kind == "num":
            op = self.pick([">", ">", "<", ">=", "<=", "between"])
            if op == "between":
                a, b = sorted([self.threshold(c), self.threshold(c)])
                if a == b:
                    op, v = ">", a
                else:
                    v = (a, b)
            else:
                v = self.threshold(c)
            return Cond(c, op, v)
        if kind == "cat":
            r = self.rng.random()
            if r < 0.6:
                return Cond(c, "==", self.category(c))
            if r < 0.85 and self.frame[c.name].nunique() > 2:
                return Cond(c, "isin", self.category(c, 2))
            return Cond(c, "!=", self.category(c))
        if kind == "bool":
            return Cond(c, self.pick(["true", "true", "false"]))
        if kind == "date":
            if c.has_time and self.maybe(0.2):
                hour = self.hour(c)
                if hour is not None:
                    return hour
            r = self.rng.random()
            if r < 0.6:
                return Cond(c, "year", self.year(c))
            if r < 0.8:
                return Cond(c, "month", int(self.pick(self.frame[c.name].dt.month.dropna().unique().tolist())))
            stamp = self.frame[c.name].quantile(self.rng.uniform(0.3, 0.8))
            return Cond(c, "since", f"{stamp.year}-{stamp.month:02d}-01")
        return Cond(c, self.pick(["notna", "isna", "notna"]))

    # --- code helpers -------------------------------------------------------------------------------------

    def show(self, stmts: list[str], expr: str, name_hint: str | None, p_assign: float | None = None) -> tuple[str, str | None]:
        """Code that ends by showing `expr`; sometimes the analyst names the result first."""
        p = self.s.assign if p_assign is None else p_assign
        if name_hint and "\n" not in expr and self.maybe(p):
            name = self.fresh(name_hint)
            self.names.add(name)
            return "\n".join(stmts + [f"{name} = {expr}", name]), name
        return "\n".join(stmts + [expr]), None

    def plot_end(self, line: str) -> str:
        """A plotting line as this analyst ends it: bare (the Axes repr shows), with `;`, or with plt.show()."""
        if self.s.semicolon:
            return line + ";"
        if "plt" in self.imported and (self.maybe(0.3) or line.startswith(("plt.scatter", "plt.plot"))):
            return line + "\nplt.show()"  # (a bare plt.plot / plt.scatter would show an object's address)
        return line


def _axes():
    import matplotlib.pyplot as plt

    return [ax for num in plt.get_fignums() for ax in plt.figure(num).axes]


def _bars(horizontal: bool = False) -> list[float]:
    from matplotlib.patches import Rectangle

    out = []
    for ax in _axes():
        for p in ax.patches:
            if isinstance(p, Rectangle):
                out.append(p.get_width() if horizontal else p.get_height())
    return out


def check_bars(values: list[float], sort: str | None = None, horizontal: bool = False, tol: float = 1e-6) -> None:
    got = _bars(horizontal)
    ensure(len(got) == len(values), f"{len(got)} bars, expected {len(values)}")
    want = sorted(0.0 if isnull(v) else float(v) for v in values)
    have = sorted(0.0 if isnull(v) else float(v) for v in got)
    ensure(all(close(a, b, tol) for a, b in zip(have, want)), "bar heights differ")
    if sort:
        clean = [v for v in got if not isnull(v)]
        ensure(clean == sorted(clean, reverse=sort == "desc"), "bars not sorted")


def check_line(values: list[float], tol: float = 1e-6) -> None:
    lines = [ln for ax in _axes() for ln in ax.get_lines() if len(ln.get_ydata()) > 1 or len(values) <= 1]
    ensure(lines, "no line")
    y = [float(v) for v in lines[0].get_ydata()]
    ensure(len(y) == len(values), f"{len(y)} points, expected {len(values)}")
    ensure(all(close(a, b, tol) for a, b in zip(y, values)), "line values differ")


# --- load -------------------------------------------------------------------------------------------------------


def load_code(env: Env, path: str, parse: list[str], imports: list[str], show: str | None) -> str:
    s = env.s
    lines = [*imports, ""] if imports else []
    args = [s.lit(path)]
    if parse:
        args.append(f"parse_dates={s.lit(parse)}")
    lines.append(f"{env.var} = pd.read_csv({', '.join(args)})")
    if show:
        lines.append(show)
    return "\n".join(lines)


def imports_for(env: Env) -> list[str]:
    out = ["import pandas as pd"]
    if env.maybe(0.35):
        out.insert(0, "import numpy as np")
    if env.plots and env.maybe(0.5):
        out.append("import matplotlib.pyplot as plt")
    return out


def load_step(env: Env, as_turn: bool) -> Step:
    t = env.table
    w = env.w
    raw = [c for c in env.cols if c.kind == "date"]
    imports = imports_for(env)
    if as_turn:
        parse = raw if raw and env.maybe(0.5) else []
        file_word = w.value(env.path)
        req = w.pick([
            f"load {file_word}", f"read {file_word}", f"load {file_word} into a dataframe", f"open {file_word}",
            f"read the csv {file_word}", f"load the data from {file_word}", f"read {file_word} with pandas",
            f"import {file_word} as a dataframe",
        ])
        if env.var != "df":
            if "dataframe" in req:
                req += w.pick([f" called {env.var}", f", call it {env.var}", f" named {env.var}"])
            else:
                req += w.pick([f" as {env.var}", f" into a dataframe called {env.var}", f", call it {env.var}", f" into `{env.var}`"])
        if parse:
            names = " and ".join(w.col(c, exact=True) for c in parse)
            req += w.pick([f" and parse {names} as dates", f", parsing {names} as datetime", f" with {names} as dates"])
        show = env.pick([None, f"{env.var}.head()", f"{env.var}.shape", None])
        request = w.imp(req)
    else:
        parse = raw if raw and env.maybe(0.75) else []
        show = env.pick([None, None, f"{env.var}.head()", f"{env.var}.shape", f"{env.var}.head(3)"])
        request = None
    env.imported |= {i.split()[-1] for i in imports}
    code = load_code(env, env.path, [c.name for c in parse], imports, show)
    n, k = t.frame.shape

    def check(run: Run) -> None:
        df = run.ns.get(env.var)
        ensure(isinstance(df, pd.DataFrame), "no DataFrame")
        ensure(df.shape == (n, k), f"shape {df.shape} != {(n, k)}")
        for c in parse:
            ensure(pd.api.types.is_datetime64_any_dtype(df[c.name]), "date not parsed")

    return Step("load", request, code, check)


# --- inspect -------------------------------------------------------------------------------------------------


def op_head(env: Env) -> Step:
    w, v = env.w, env.var
    tail = env.maybe(0.25)
    n = env.pick([None, None, 5, 10, 3, 20]) if not tail else env.pick([None, 5, 10])
    word = "last" if tail else "first"
    if n is None:
        req = w.pick([f"{word} rows", f"{word} few rows", f"show the {word} rows", f"peek at the {word} rows",
                      f"what does the data look like" if not tail else "end of the table",
                      f"{w.rows()} at the {'end' if tail else 'top'}"])
        call = f"{v}.{'tail' if tail else 'head'}({env.s.head_n or ''})"
        n = env.s.head_n or 5
    else:
        req = w.pick([f"{word} {n} rows", f"{word} {n} {w.rows()}", f"show the {word} {n}", f"{'tail' if tail else 'head'} {n}",
                      f"{word} {n} {env.table.rows_word}"])
        call = f"{v}.{'tail' if tail else 'head'}({n})"
    op = "tail" if tail else "head"

    def check(run: Run) -> None:
        want = run.snap.tail(n) if tail else run.snap.head(n)
        ensure(isinstance(run.result, pd.DataFrame) and run.result.equals(want), f"not the {word} rows")

    return Step(op, req if req.startswith(("what", "end")) else w.np(req), call, check, last=Last("rows", code=call))


def op_shape(env: Env) -> Step:
    w, v = env.w, env.var
    r = env.rng.random()
    if r < 0.45:
        req = w.np(w.pick(["shape", f"shape of {v}", "rows and columns count", "dimensions", "size of the table"]),
                   question=w.pick(["how many rows and columns are there", "how big is the table", "how many rows and columns"]))
        code = f"{v}.shape"

        def check(run):
            ensure(run.result == run.snap.shape, "wrong shape")
    elif r < 0.8:
        req = w.np(w.pick([f"number of {w.rows()}", "row count", f"number of {env.table.rows_word}"]),
                   question=w.pick([f"how many {w.rows()} are there", f"how many {env.table.rows_word} do we have", "how many rows"]))
        code = env.pick([f"len({v})", f"{v}.shape[0]", f"len({v})"])

        def check(run):
            ensure(run.result == len(run.snap), "wrong count")
    else:
        req = w.np(w.pick(["number of columns", "column count"]), question="how many columns are there")
        code = env.pick([f"{v}.shape[1]", f"len({v}.columns)"])

        def check(run):
            ensure(run.result == run.snap.shape[1], "wrong count")
    return Step("shape", req, code, check, last=Last("scalar", code=code))


def op_columns(env: Env) -> Step:
    w, v = env.w, env.var
    r = env.rng.random()
    if r < 0.5:
        req = w.np(w.pick(["column names", "columns", "list of columns", "all column names"]),
                   question=w.pick(["what columns are there", "which columns does it have", "what are the columns"]))
        code = env.pick([f"{v}.columns", f"{v}.columns.tolist()", f"list({v}.columns)"])

        def check(run):
            ensure(list(run.result) == list(run.snap.columns), "wrong columns")
        return Step("columns", req, code, check, last=Last("other", code=code))
    if r < 0.8:
        req = w.np(w.pick(["dtypes", "data types", "column types", "types of each column", "the dtype of every column"]),
                   question=w.pick(["what are the column types", "what type is each column"]))
        code = f"{v}.dtypes"

        def check(run):
            ensure(isinstance(run.result, pd.Series) and run.result.equals(run.snap.dtypes), "wrong dtypes")
        return Step("dtypes", req, code, check, last=Last("other", code=code))
    req = w.imp(w.pick(["info", f"run info on {v}", "show df.info()" if v == "df" else f"{v}.info()",
                        "summary of columns, non-null counts and dtypes", "show the info of the dataframe",
                        "overview of the columns and missing values"]))
    code = f"{v}.info()"

    def check(run):
        ensure(run.result is None and "non-null" in run.stdout.lower() or "Non-Null" in run.stdout, "no info printed")
    return Step("info", req, code, check, last=Last("other", code=code))


def op_describe(env: Env) -> Step | None:
    w, v, s = env.w, env.var, env.s
    nums = env.nums()
    if not nums:
        return None
    r = env.rng.random()
    if r < 0.45:
        if env.maybe(0.3):
            req = w.imp(w.pick(["describe the numeric columns", "describe the data", f"describe {v}", "summarize the numeric columns"]))
        else:
            req = w.np(w.pick(["summary statistics", "summary stats", "descriptive statistics", "a statistical summary",
                               "basic stats for every numeric column", "describe()"]))
        code = env.pick([f"{v}.describe()", f"{v}.describe()", f"{v}.describe().T", f"{v}.describe().round(2)"])
        cols = None
    elif r < 0.8:
        c = env.pick(nums)
        if env.maybe(0.4):
            req = w.imp(w.pick([f"describe {w.col(c)}", f"summarize {w.col(c)}", f"run describe on {w.col(c)}"]))
        else:
            req = w.np(w.pick([f"summary of {w.col(c)}", f"stats for {w.col(c)}", f"distribution stats of {w.col(c)}",
                               f"summary statistics of {w.col(c)}"]))
        code = f"{s.col(v, c.name)}.describe()"
        cols = [c]
    else:
        some = env.rng.sample(nums, min(len(nums), env.rng.randint(2, 3)))
        names = " and ".join(w.col(c) for c in some) if len(some) == 2 else ", ".join(w.col(c) for c in some)
        req = w.imp(f"describe {names}") if env.maybe(0.4) else w.np(w.pick([f"summary statistics for {names}", f"stats of {names}"]))
        code = f"{v}[{s.lit([c.name for c in some])}].describe()"
        cols = some

    def check(run):
        res = run.result
        ensure(isinstance(res, (pd.DataFrame, pd.Series)), "no summary")
        if isinstance(res, pd.DataFrame) and "mean" not in res.index:
            res = res.T
        targets = cols or [c for c in nums if pd.api.types.is_numeric_dtype(run.snap[c.name])]
        for c in targets:
            vals = [x for x in run.snap[c.name].tolist() if not isnull(x)]
            mean = sum(vals) / len(vals) if vals else float("nan")
            got = res["mean"] if isinstance(res, pd.Series) else res.loc["mean", c.name]
            tol = 0.006 if ".round(2)" in code else 1e-6
            ensure(close(got, mean, tol) or abs(float(got) - mean) <= tol, "wrong mean")
    return Step("describe", req, code, check, last=Last("other", code=code))


def op_unique(env: Env) -> Step | None:
    cats = env.cats(40)
    if not cats:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(cats)
    if env.maybe(0.5):
        req = w.np(w.pick([f"unique values of {w.col(c)}", f"distinct {w.col(c)} values", f"the different {w.col(c)}s",
                           f"unique {w.col(c)}"]), question=f"which {w.col(c)} values are there")
        code = env.pick([f"{s.col(v, c.name)}.unique()", f"{s.col(v, c.name)}.dropna().unique()",
                         f"sorted({s.col(v, c.name)}.dropna().unique())"])

        def check(run):
            want = {x for x in run.snap[c.name].tolist() if not isnull(x)}
            got = {x for x in list(run.result) if not isnull(x)}
            ensure(got == want, "wrong values")
    else:
        req = w.np(w.pick([f"number of unique {w.col(c)}", f"how many distinct {w.col(c)}", f"count of distinct {w.col(c)} values"]),
                   question=f"how many different {w.col(c)} values are there")
        code = f"{s.col(v, c.name)}.nunique()"

        def check(run):
            want = len({x for x in run.snap[c.name].tolist() if not isnull(x)})
            ensure(run.result == want, "wrong count")
    return Step("unique", req, code, check, last=Last("other", code=code))


def op_value_counts(env: Env) -> Step | None:
    cats = env.cats(30) + env.bools()
    if not cats:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(cats)
    normalize = env.maybe(0.25)
    dropna = env.maybe(0.15) and env.has_na(c)
    if c.kind == "bool":
        col = w.col(c)
        if normalize:
            req = w.np(w.pick([f"share of {col} true vs false", f"proportion of {env.table.rows_word} that are {col}", f"{col} rate as fractions"]))
        else:
            req = w.np(w.pick([f"how many {env.table.rows_word} are {col} vs not", f"counts of {col} (True/False)", f"{col} value counts",
                               f"value counts of {col}"]))
    elif normalize:
        req = w.np(w.pick([f"share of each {w.col(c)}", f"{w.col(c)} proportions", f"percentage of {env.table.rows_word} per {w.col(c)}",
                           f"relative frequency of {w.col(c)}", f"fraction of rows by {w.col(c)}"]))
    else:
        req = w.np(w.pick([f"value counts of {w.col(c)}", f"count per {w.col(c)}", f"how many {env.table.rows_word} per {w.col(c)}",
                           f"frequency of each {w.col(c)}", f"counts of {w.col(c)}", f"number of {w.rows()} for each {w.col(c)}",
                           f"{w.col(c)} counts"]), question=f"how many {env.table.rows_word} are there for each {w.col(c)}")
    if dropna:
        req += w.pick([" including missing", ", include NaN", " (count missing too)"])
    args = []
    if normalize:
        args.append("normalize=True")
    if dropna:
        args.append("dropna=False")
    pct = normalize and "percent" in req
    code = f"{s.col(v, c.name)}.value_counts({', '.join(args)})"
    if pct:
        code += env.pick([" * 100", ".mul(100).round(1)"])
    code, name = env.show([], code, f"{c.name}_counts" if not normalize else f"{c.name}_share")

    def check(run):
        res = run.result
        ensure(isinstance(res, pd.Series), "not a Series")
        vals = run.snap[c.name].tolist()
        cnt = Counter(None if isnull(x) else x for x in vals)
        if not dropna:
            cnt.pop(None, None)
        total = sum(cnt.values())
        ensure(len(res) == len(cnt), "wrong number of values")
        for k, got in zip(res.index.tolist(), res.tolist()):
            key = None if isnull(k) else k
            want = cnt[key] / total * (100 if pct else 1) if normalize else cnt[key]
            ensure(close(got, want, 0.051 if "round(1)" in code else 1e-6), f"{k}: {got} != {want}")
        got = res.tolist()
        ensure(got == sorted(got, reverse=True), "not sorted by count")
    return Step("value_counts", req, code, check, last=Last("counts", col=c, normalize=normalize, name=name, code=code))


# --- missing values ---------------------------------------------------------------------------------------------


def op_missing(env: Env) -> Step:
    w, v = env.w, env.var
    r = env.rng.random()
    if r < 0.55:
        req = w.np(w.pick(["missing values per column", "count of missing values in each column", "number of nulls per column",
                           "nan counts", "missing value counts", "null count by column", "how many NaNs per column"]),
                   question=w.pick(["how many missing values are in each column", "are there missing values", "which columns have nulls"]))
        code = env.pick([f"{v}.isna().sum()", f"{v}.isnull().sum()", f"{v}.isna().sum()"])
        if env.maybe(0.2):
            code += ".sort_values(ascending=False)"

        def check(run):
            res = run.result
            ensure(isinstance(res, pd.Series), "not a Series")
            ensure(pd.api.types.is_integer_dtype(res), "not counts")
            for col, got in res.items():
                want = sum(1 for x in run.snap[col].tolist() if isnull(x))
                ensure(got == want, f"{col}: {got} != {want}")
            ensure(len(res) == run.snap.shape[1], "not every column")
        op = "missing_count"
    elif r < 0.75:
        req = w.np(w.pick(["percentage of missing values per column", "share of nulls in each column", "missing rate by column",
                           "fraction missing per column"]))
        pct = "percent" in req
        code = f"{v}.isna().mean()" + (env.pick([" * 100", ".mul(100).round(1)"]) if pct else "")

        def check(run):
            res = run.result
            ensure(isinstance(res, pd.Series), "not a Series")
            for col, got in res.items():
                vals = run.snap[col].tolist()
                want = sum(1 for x in vals if isnull(x)) / len(vals) * (100 if pct else 1)
                ensure(close(got, want, 0.051 if "round" in code else 1e-6), f"{col}: {got} != {want}")
        op = "missing_share"
    else:
        req = w.np(w.pick([f"{w.rows()} with any missing value", f"rows that have nulls", f"{w.rows()} containing NaN",
                           "incomplete rows"]))
        code = f"{v}[{v}.isna().any(axis=1)]"

        def check(run):
            res = run.result
            ensure(isinstance(res, pd.DataFrame), "not rows")
            want = [i for i, row in zip(run.snap.index, run.snap.itertuples(index=False)) if any(isnull(x) for x in row)]
            ensure(list(res.index) == want, "wrong rows")
        op = "missing_rows"
    return Step(op, req, code, check, last=Last("other", code=code))


def op_dropna(env: Env) -> Step | None:
    miss = [c for c in env.cols if c.name in env.frame.columns and env.has_na(c)]
    if not miss:
        return None
    w, v, s = env.w, env.var, env.s
    subset = env.pick(miss) if env.maybe(0.6) else None
    if subset is not None:
        req = w.imp(w.pick([f"drop rows where {w.col(subset)} is missing", f"remove {w.rows()} with no {w.col(subset)}",
                            f"drop the NaNs in {w.col(subset)}", f"get rid of rows with missing {w.col(subset)}",
                            f"dropna on {w.col(subset)}"]))
        call = f"{v}.dropna(subset={s.lit([subset.name])})"
    else:
        req = w.imp(w.pick(["drop rows with missing values", f"remove all {w.rows()} that have a NaN", "dropna",
                            "drop incomplete rows", "remove rows with nulls"]))
        call = f"{v}.dropna()"
    show = env.pick([f"{v}.shape", f"len({v})", None, f"{v}.isna().sum()"])
    code = f"{v} = {call}" + (f"\n{show}" if show else "")
    cols = [subset.name] if subset else list(env.frame.columns)

    def check(run):
        df = run.ns[v]
        want = [i for i, row in zip(run.snap.index, run.snap[cols].itertuples(index=False)) if not any(isnull(x) for x in row)]
        ensure(list(df.index) == want, "wrong rows kept")

    def after():
        for c in env.cols:
            if subset is None or c is subset:
                c.missing = 0.0
    return Step("dropna", req, code, check, after=after, last=Last("other", code=code))


def op_fillna(env: Env) -> Step | None:
    miss = [c for c in env.cols if c.name in env.frame.columns and env.has_na(c) and c.kind in ("num", "int", "cat", "text")]
    if not miss:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(miss)
    ref = s.col(v, c.name)
    target = f"{v}[{s.lit(c.name)}]"
    if c.kind in ("num", "int"):
        how = env.pick(["median", "mean", "zero"])
        if how == "zero":
            req = w.imp(w.pick([f"fill missing {w.col(c)} with 0", f"replace NaN in {w.col(c)} with zero",
                                f"set missing {w.col(c)} to 0", f"fillna {w.col(c)} with 0"]))
            fill_code, fill = "0", lambda vals: 0.0
        else:
            req = w.imp(w.pick([f"fill missing {w.col(c)} with the {how}", f"impute {w.col(c)} with its {how}",
                                f"replace nulls in {w.col(c)} by the {how}", f"fill the NaNs in {w.col(c)} using the column {how}"]))
            fill_code = f"{ref}.{how}()"
            fill = (lambda vals: sum(vals) / len(vals)) if how == "mean" else (lambda vals: float(np.median(vals)))
    else:
        word = env.pick(["Unknown", "unknown", "missing", "Other", "n/a"])
        req = w.imp(w.pick([f"fill missing {w.col(c)} with '{w.value(word)}'", f"replace empty {w.col(c)} with {w.value(word)}",
                            f"fill NaN {w.col(c)} values with \"{w.value(word)}\""]))
        fill_code, fill = s.lit(word), lambda vals: word
    show = env.pick([f"{ref}.isna().sum()", None, f"{v}.isna().sum()"])
    code = f"{target} = {ref}.fillna({fill_code})" + (f"\n{show}" if show else "")

    def check(run):
        before = run.snap[c.name].tolist()
        after_vals = run.ns[v][c.name].tolist()
        present = [x for x in before if not isnull(x)]
        value = fill(present)
        ensure(len(before) == len(after_vals), "rows changed")
        for b, a in zip(before, after_vals):
            ensure(close(a, value) if isnull(b) else close(a, b), "wrong fill")

    def after():
        c.missing = 0.0
    return Step("fillna", req, code, check, after=after, last=Last("other", code=code))


# --- columns ------------------------------------------------------------------------------------------------


def op_to_datetime(env: Env) -> Step | None:
    raw = env.raw_dates()
    if not raw:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(raw)
    req = w.imp(w.pick([f"convert {w.col(c)} to datetime", f"parse {w.col(c)} as dates", f"make {w.col(c)} a datetime column",
                        f"turn {w.col(c)} into datetime", f"{w.col(c)} to datetime", f"change the type of {w.col(c)} to datetime"]))
    code = f"{v}[{s.lit(c.name)}] = pd.to_datetime({s.col(v, c.name)})"
    if env.maybe(0.5):
        code += env.pick([f"\n{v}.dtypes", f"\n{s.col(v, c.name)}.dtype", f"\n{v}.info()"])

    def check(run):
        ensure(pd.api.types.is_datetime64_any_dtype(run.ns[v][c.name]), "not datetime")
    return Step("to_datetime", req, code, check, last=Last("other", code=code))


def op_new_column(env: Env) -> Step | None:
    w, v, s = env.w, env.var, env.s
    nums = env.measures()
    options = []
    if len(nums) >= 2:
        options += ["ratio", "diff", "product"]
    if nums:
        options += ["scale", "flag"]
    if env.dates():
        options += ["year", "month", "weekday"]
    if not options:
        return None
    kind = env.pick(options)
    snake = "_" in env.cols[0].name or env.cols[0].name.islower()
    if kind in ("ratio", "diff", "product"):
        a, b = env.rng.sample(nums, 2)
        sym = {"ratio": "/", "diff": "-", "product": "*"}[kind]
        word = {"ratio": "per" if env.maybe(0.5) else "to", "diff": "minus", "product": "times"}[kind]
        new = f"{ident(a.name)}_{'per' if kind == 'ratio' else 'minus' if kind == 'diff' else 'x'}_{ident(b.name)}"
        if len(new) > 24:
            new = {"ratio": "ratio", "diff": "difference", "product": "product"}[kind]
        req = w.imp(w.pick([f"add a column {w.value(new)} = {w.col(a)} {sym} {w.col(b)}",
                            f"create {w.value(new)} as {w.col(a)} {word} {w.col(b)}",
                            f"new column {w.value(new)}: {w.col(a)} {sym} {w.col(b)}",
                            f"compute {w.col(a)} {sym} {w.col(b)} into a new column called {w.value(new)}"]))
        expr = f"{s.col(v, a.name)} {sym} {s.col(v, b.name)}"
        fn = {"ratio": lambda x, y: x / y if y else (float("inf") if x > 0 else float("-inf") if x < 0 else float("nan")),
              "diff": lambda x, y: x - y, "product": lambda x, y: x * y}[kind]
        inputs = [a, b]
    elif kind == "scale":
        a = env.pick(nums)
        factor, unit = env.pick([(1000, "thousands"), (100, "hundreds"), (60, "60")])
        new = f"{ident(a.name)}_k" if factor == 1000 else f"{ident(a.name)}_scaled"
        if factor == 60:
            req = w.imp(f"add {w.value(new)} = {w.col(a)} / 60")
        else:
            req = w.imp(w.pick([f"add a column {w.value(new)} with {w.col(a)} in {unit}", f"{w.value(new)} = {w.col(a)} / {factor}"]))
        expr = f"{s.col(v, a.name)} / {factor}"
        fn, inputs = (lambda x: x / factor), [a]
    elif kind == "flag":
        a = env.pick(nums)
        t = env.threshold(a)
        new = env.pick([f"high_{ident(a.name)}", f"is_high", f"{ident(a.name)}_over_{str(t).replace('.', '_')}", "flag"])
        req = w.imp(w.pick([f"add a boolean column {w.value(new)} that is True when {w.col(a)} > {w.value(t)}",
                            f"flag rows with {w.col(a)} above {w.value(t)} in a new column {w.value(new)}",
                            f"create {w.value(new)}: {w.col(a)} > {w.value(t)}"]))
        expr = f"{s.col(v, a.name)} > {s.lit(t)}"
        fn, inputs = (lambda x: (not isnull(x)) and x > t), [a]
    else:
        a = env.pick(env.dates())
        new = {"year": "year", "month": "month", "weekday": env.pick(["weekday", "day_of_week", "dow"])}[kind]
        if not snake:
            new = new.capitalize()
        what = {"year": "year", "month": "month", "weekday": "day of the week"}[kind]
        req = w.imp(w.pick([f"add a {what} column from {w.col(a)}", f"extract the {what} of {w.col(a)} into {w.value(new)}",
                            f"new column {w.value(new)} with the {what} of {w.col(a)}", f"create a {what} column"]))
        acc = {"year": ".dt.year", "month": ".dt.month", "weekday": env.pick([".dt.day_name()", ".dt.day_of_week"])}[kind]
        expr = f"{s.col(v, a.name)}{acc}"
        fn = {"year": lambda t: t.year, "month": lambda t: t.month,
              "weekday": (lambda t: t.day_name()) if "name" in acc else (lambda t: t.dayofweek)}[kind]
        inputs = [a]
    if new in env.frame.columns:
        return None
    code = f"{v}[{s.lit(new)}] = {expr}"
    show = env.pick([f"{v}.head()", None, f"{v}[{s.lit([c.name for c in inputs] + [new])}].head()"])
    if show:
        code += "\n" + show

    def check(run):
        df = run.ns[v]
        ensure(new in df.columns, "no new column")
        cols = [run.snap[c.name].tolist() for c in inputs]
        got = df[new].tolist()
        for i, g in enumerate(got):
            args = [col[i] for col in cols]
            if kind != "flag" and any(isnull(x) for x in args):
                ensure(isnull(g), "expected NaN")
                continue
            want = fn(*args)
            ensure(close(g, want) or (isinstance(want, float) and math.isinf(want) and g == want), f"row {i}: {g} != {want}")

    def after():
        k = {"flag": "bool", "year": "int", "month": "int"}.get(kind, "cat" if kind == "weekday" and "name" in expr else "num")
        if kind == "weekday" and "name" not in expr:
            k = "int"
        col = Column(new, new.replace("_", " ").lower(), k, inputs[0].spec)
        env.cols.append(col)
    return Step("new_column", req, code, check, after=after, last=Last("other", code=code))


def op_rename(env: Env) -> Step | None:
    w, v, s = env.w, env.var, env.s
    candidates = [c for c in env.cols if c.name in env.frame.columns and (" " in c.name or not c.name.islower())]
    if not candidates:
        candidates = [c for c in env.cols if c.name in env.frame.columns]
    c = env.pick(candidates)
    new = ident(c.name) if ident(c.name) != c.name else ident(c.phrase.split()[-1] + "_" + c.phrase.split()[0])
    if new == c.name or new in env.frame.columns:
        return None
    req = w.imp(w.pick([f"rename {w.col(c, exact=True)} to {w.value(new)}", f"rename the column {w.col(c, exact=True)} as {w.value(new)}",
                        f"call the {w.col(c, exact=True)} column {w.value(new)} instead", f"change column name {w.col(c, exact=True)} -> {w.value(new)}"]))
    code = f"{v} = {v}.rename(columns={{{s.lit(c.name)}: {s.lit(new)}}})"
    if env.maybe(0.6):
        code += env.pick([f"\n{v}.columns", f"\n{v}.head()", f"\n{v}.columns.tolist()"])
    old = c.name

    def check(run):
        df = run.ns[v]
        ensure(new in df.columns and old not in df.columns, "not renamed")
        ensure(df[new].equals(run.snap[old].rename(new)), "values changed")

    def after():
        c.name = new
        env.last = None
    return Step("rename", req, code, check, after=after, last=Last("other", code=code))


def op_select(env: Env) -> Step | None:
    w, v, s = env.w, env.var, env.s
    cols = [c for c in env.cols if c.name in env.frame.columns]
    if len(cols) < 3:
        return None
    some = env.rng.sample(cols, env.rng.randint(2, min(4, len(cols) - 1)))
    names = ", ".join(w.col(c) for c in some[:-1]) + f" {env.pick(['and', ',', 'and'])} " + w.col(some[-1])
    names = names.replace(" ,", ",")
    n = env.pick([None, None, 5, 10])
    if env.maybe(0.4):
        req = w.imp(w.pick([f"select {names}", f"keep only the {names} columns", f"pick {names}"]))
    else:
        req = w.np(w.pick([f"only the {names} columns", f"{names} columns", f"just {names}", f"columns {names}"]))
    if n:
        req = w.np(w.pick([f"first {n} rows of {names}", f"{names} for the first {n} {w.rows()}"]))
    expr = f"{v}[{s.lit([c.name for c in some])}]" + (f".head({n})" if n else "")
    code, name = env.show([], expr, "subset", 0.1)

    def check(run):
        res = run.result
        ensure(isinstance(res, pd.DataFrame) and list(res.columns) == [c.name for c in some], "wrong columns")
        want = run.snap[[c.name for c in some]]
        ensure(res.equals(want.head(n) if n else want), "wrong values")
    return Step("select", req, code, check, last=Last("other", name=name, code=code))


# --- filter / sort / aggregate (the Query family) ----------------------------------------------------------------


def _sort_words(w: Words, desc: bool) -> str:
    return w.pick(DESC if desc else ASC)


def _filter_words(q: Query, w: Words, rows: bool = False) -> str:
    """The filters in words; `rows`: they follow a word for rows ("flights ..."), so no "for rows where"."""
    out = []
    for c in q.filters:
        if c.op == "year":
            out.append(w.pick([f"for {w.value(c.value)}", f"in {w.value(c.value)}", f"during {w.value(c.value)}",
                               f"for {w.value(c.value)} only", f"(only {w.value(c.value)})"]))
        elif c.op == "month":
            out.append(w.pick([f"in {MONTHS[c.value - 1]}", f"for {MONTHS[c.value - 1]}", f"for month {c.value}"]))
        elif c.op == "hour":
            hw = hour_words(c.value, w)
            out.append(w.pick([hw, hw, f"with {w.col(c.col)} {hw}", f"where {w.col(c.col)} is {hw}"]))
        else:
            lead = ["where ", "with ", "when ", "where "] if rows else ["where ", "for ", "with ", "when ", "only where ", "for rows where "]
            out.append(w.pick(lead) + c.words(w))
    return w.pick([" and ", ", ", " and "]).join(out)


def query_step(env: Env, q: Query, op: str, request: str, name_hint: str | None = None, plot: str | None = None,
               title: str | None = None) -> Step:
    """Code, check and follow-up state for a Query (optionally plotted)."""
    stmts, expr = q.render(env.s, env.var)
    name = None
    if plot:
        code, pl = plot_query(env, q, stmts, expr, plot, title)
        figure = True
    else:
        code, name = env.show(stmts, expr, name_hint)
        figure = False

    def check(run: Run) -> None:
        if plot:
            pl(run)
        else:
            q.check(run.result, run.snap)
    last = Last("plot" if plot else ("agg" if q.is_agg else "rows"), q=q, name=name, plot=plot, code=code)
    for st in stmts:
        env.names.add(st.split(" = ")[0])
    return Step(op, request, code, check, last=last, figure=figure)


def plot_query(env: Env, q: Query, stmts: list[str], expr: str, kind: str, title: str | None):
    """Plot a grouped aggregate; returns the code and its check."""
    s = env.s
    kw = []
    if title:
        kw.append(f"title={s.lit(title)}")
    if kind == "line" and env.maybe(0.3):
        kw.append("marker=" + s.lit("o"))
    if "\n" in expr:
        name = env.fresh("result")
        stmts = stmts + [f"{name} = {expr}"]
        expr = name
    if env.s.plt and "plt" in env.imported and kind in ("bar", "barh", "line"):
        name = expr if expr.isidentifier() else env.fresh(q.keys[0].varword() if q.keys else "result")
        if not expr.isidentifier():
            stmts = stmts + [f"{name} = {expr}"]
        fn = {"bar": "plt.bar", "barh": "plt.barh", "line": "plt.plot"}[kind]
        if kind != "line":
            idx = f"{name}.index.astype(str)"
        else:
            idx = f"{name}.index.to_timestamp()" if q.keys and q.keys[0].part == "ym" else f"{name}.index"
        lines = stmts + [f"{fn}({idx}, {name}.values)"]
        if title:
            lines.append(f"plt.title({s.lit(title)})")
        if kind != "barh" and env.maybe(0.5) and q.keys and q.keys[0].part is None:
            lines.append("plt.xticks(rotation=45)")
        code = "\n".join(lines[:-1] + [env.plot_end(lines[-1]) if not lines[-1].startswith("plt.title") else lines[-1] + ("" if not env.s.semicolon else ";")])
    else:
        call = env.pick([f".plot.{kind}({', '.join(kw)})", f".plot(kind={s.lit(kind)}{''.join(', ' + k for k in kw)})"])
        code = "\n".join(stmts + [env.plot_end(f"{expr}{call}")])

    def check(run: Run) -> None:
        vals = q.shown_values(run.snap)
        if kind in ("bar", "barh"):
            check_bars(vals, q.sort, horizontal=kind == "barh", tol=q.tol)
        else:
            check_line([float(x) for x in vals], tol=q.tol)
        if title:
            ensure(any(title in (ax.get_title() or "") for ax in _axes()) or _suptitle(title), "no title")
    return code, check


def _suptitle(title: str) -> bool:
    import matplotlib.pyplot as plt

    return any(plt.figure(n)._suptitle is not None and title in plt.figure(n)._suptitle.get_text() for n in plt.get_fignums())


def _filter_question(q: Query, w: Words, rw: str, cw: str) -> str:
    """The rows a filter keeps, asked for: "which orders have price over 100", "are there any orders with ..."."""
    frames = [f"which {rw} are there {cw}", f"are there any {rw} {cw}", f"can you find the {rw} {cw}",
              f"what do the {rw} {cw} look like", f"do we have {rw} {cw}"]
    if len(q.filters) == 1 and q.filters[0].op in (">", "<", ">=", "<=", "between", "isna", "notna"):
        verb = w.pick(["have", "have", "had", "show", "recorded", "got", "came in with"])
        frames += [f"which {rw} {verb} {q.filters[0].words(w)}"] * 2
    return w.pick(frames)


def _top_question(w: Words, rw: str, top: int, big: str, col: str, fw: str) -> str:
    """A top-n asked for: "which 5 orders have the highest price", "what are the 3 biggest amounts"."""
    end = "top" if big in ("largest", "highest", "biggest") else "bottom"
    return w.pick([f"which {top} {rw} have the {big} {col}{fw}", f"what are the {top} {big} {col} values{fw}",
                   f"which {rw}{fw} have the {top} {big} {col} values", f"what are the {end} {top} {rw} by {col}{fw}"])


def op_filter(env: Env) -> Step | None:
    w = env.w
    c1 = env.cond()
    if c1 is None:
        return None
    conds = [c1]
    if env.maybe(0.3):
        c2 = env.cond(exclude={c1.col.name})
        if c2 is not None:
            conds.append(c2)
    q = Query(filters=conds)
    count = env.maybe(0.2)
    cw = _filter_words(q, w, rows=True)
    rw = env.pick([w.rows(), env.table.rows_word, env.table.rows_word])
    if count:
        q.count_only = True
        req = w.np(w.pick([f"number of {rw} {cw}", f"count {rw} {cw}", f"count of {rw} {cw}"]),
                   question=f"how many {rw} are there {cw}")
        return query_step(env, q, "filter_count", req)
    if env.maybe(0.25):
        cols = [c for c in env.cols if c.name in env.frame.columns]
        q.select = env.rng.sample(cols, min(len(cols), env.rng.randint(1, 3)))
        names = " and ".join(w.col(c) for c in q.select)
        req = w.np(w.pick([f"{names} for {rw} {cw}", f"{names} {cw}", f"{names} columns of the {rw} {cw}"]))
    elif env.maybe(0.3):
        req = w.imp(w.pick([f"filter {rw} {cw}", f"filter to {c1.words(w)}", f"filter the data to {c1.words(w)}",
                            f"keep only {rw} {cw}", f"select {rw} {cw}"]))
    else:
        req = w.np(w.pick([f"{rw} {cw}", f"all {rw} {cw}", f"only {rw} {cw}", f"the subset {cw}", f"{rw} {cw}"]),
                   question=_filter_question(q, w, rw, cw))
    hint = f"{ident(str(c1.value))}_{env.table.rows_word.split()[-1]}" if c1.op == "==" else env.table.rows_word.split()[-1]
    return query_step(env, q, "filter" if len(conds) == 1 else "filter_multi", req, name_hint=hint)


def excluded(env: Env, c: Cond) -> Cond:
    """The rows to keep when the rows where `c` holds go: `c` negated, or its complement where that reads better
    and keeps the same rows (`price <= 100` for "drop the rows with price over 100", when no price is missing)."""
    if c.op == "false":
        return Cond(c.col, "true")
    if c.op == "true":
        return Cond(c.col, "false")
    if c.op in ("isna", "notna"):
        return Cond(c.col, "notna" if c.op == "isna" else "isna")
    if c.op == "==" and env.maybe(0.6):
        return Cond(c.col, "!=", c.value)
    flip = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}
    if c.op in flip and not env.has_na(c.col) and env.maybe(0.6):
        return Cond(c.col, flip[c.op], c.value)
    return Cond(c.col, c.op, c.value, negated=True)


def op_exclude(env: Env) -> Step | None:
    """"drop the rows where price is over 100", "everything except the North orders": the rows a condition
    does not hold for, either shown or kept in the frame for the rest of the conversation."""
    w, v = env.w, env.var
    c = env.cond()
    if c is None or (c.op in ("year", "month", "since", "hour") and env.maybe(0.5)):  # dates: half as often
        return None
    keep = excluded(env, c)
    q = Query(filters=[keep])
    labels = q.rows(env.frame)
    if not labels or len(labels) == len(env.frame):
        return None
    cw = _filter_words(Query(filters=[c]), w, rows=True)
    rw = env.pick([w.rows(), env.table.rows_word, env.table.rows_word])
    if env.maybe(0.5):
        verb = w.pick(["drop", "remove", "throw away", "get rid of", "delete", "throw out", "filter out", "discard"])
        req = w.imp(w.pick([f"{verb} {rw} {cw}", f"{verb} the {rw} {cw}", f"{verb} all {rw} {cw}"]))
        if c.op in ("true", "false", "isna", "notna") or env.maybe(0.7):
            new = f"{v} = {filtered([keep], env.s, v)}"
        else:
            new = f"{v} = {v}.drop({filtered([c], env.s, v)}.index)"
        show = env.pick([f"{v}.shape", f"len({v})", None, f"{v}.head()"])
        code = new + (f"\n{show}" if show else "")
        columns = list(env.frame.columns)

        def check(run):
            df = run.ns[v]
            ensure(list(df.columns) == columns, "columns changed")
            ensure(list(df.index) == labels, "wrong rows kept")
            ensure(df.equals(run.snap.loc[labels]), "row values differ from the table")
        return Step("exclude", req, code, check, last=Last("other", code=code))
    req = w.np(w.pick([f"{rw} except those {cw}", f"all {rw} except the ones {cw}", f"everything except {rw} {cw}",
                       f"{rw}, leaving out those {cw}", f"{rw} excluding those {cw}", f"all but the {rw} {cw}"]),
               question=f"which {rw} are left if we exclude those {cw}")
    return query_step(env, q, "exclude_show", req, name_hint=env.table.rows_word.split()[-1])


def op_sort(env: Env) -> Step | None:
    w = env.w
    nums = env.measures() + env.dates()
    if not nums:
        return None
    c = env.pick(nums)
    desc = env.maybe(0.65)
    top = env.pick([None, None, 5, 10, 3, 20])
    q = Query(sort="desc" if desc else "asc", sort_col=c, top=top)
    rw = env.pick([w.rows(), env.table.rows_word])
    if env.maybe(0.25):
        cond = env.cond(exclude={c.name})
        if cond is not None:
            q.filters.append(cond)
    fw = (" " + _filter_words(q, w, rows=True)) if q.filters else ""
    if top and c.kind == "date":
        big = w.pick(["latest", "most recent"] if desc else ["earliest", "oldest"])
        req = w.np(w.pick([f"{top} {big} {rw}{fw}", f"the {top} {big} {rw} by {w.col(c)}{fw}", f"{big} {top} {rw} by {w.col(c)}{fw}"]))
        op = "top_n"
    elif top:
        big = w.pick(["largest", "highest", "biggest", "top"] if desc else ["smallest", "lowest", "bottom"])
        req = w.np(w.pick([f"{top} {rw} with the {big} {w.col(c)}{fw}", f"top {top} by {w.col(c)}{fw}" if desc else f"bottom {top} by {w.col(c)}{fw}",
                           f"{big} {top} {w.col(c)}{fw}", f"the {top} {rw}{fw} with {big} {w.col(c)}"]),
                   question=_top_question(w, rw, top, big, w.col(c), fw) if big != "top" else None)
        op = "top_n"
    else:
        req = w.imp(w.pick([f"sort by {w.col(c)} {_sort_words(w, desc)}", f"sort {rw}{fw} by {w.col(c)}, {_sort_words(w, desc)}",
                            f"order by {w.col(c)} {_sort_words(w, desc)}", f"sort the table by {w.col(c)}" + ("" if not desc else " descending")]))
        if fw and fw not in req:
            req = req.rstrip(".?") + fw
        op = "sort"
    if env.maybe(0.2):
        cols = [x for x in env.cols if x.name in env.frame.columns and x is not c]
        q.select = env.rng.sample(cols, min(len(cols), env.rng.randint(1, 2))) + [c]
        req = req.rstrip(".?") + w.pick([", only ", ", show ", " - just "]) + " and ".join(w.col(x) for x in q.select)
    return query_step(env, q, op, req, name_hint=("top" if desc else "bottom") if top else None)


def pick_agg(env: Env, value: Column | None) -> str:
    if value is None:
        return "size"
    if value.kind == "bool":
        return "mean"
    if not value.additive:
        return env.pick(["mean"] * 6 + ["median", "median", "max", "min", "std"])
    return env.pick(["mean"] * 4 + ["sum"] * 4 + ["median", "max", "min", "count", "std"])


def agg_np(env: Env, q: Query) -> str:
    """The aggregate in words: "average price by region", "number of flights per carrier"."""
    w = env.w
    keys = " and ".join(k.words(w) for k in q.keys)
    if q.agg == "size":
        val = w.pick([f"number of {env.table.rows_word}", f"count of {w.rows()}", f"{env.table.rows_word} count", "count"])
    elif q.aggs:
        aw = " and ".join(w.agg_adjective(a) for a in q.aggs)
        val = w.pick([f"{aw} of {w.col(q.value)}", f"{w.col(q.value)} {aw}"])
    elif q.value.kind == "bool":
        val = w.pick([f"share of {w.col(q.value)}", f"{w.col(q.value)} rate", f"fraction {w.col(q.value)}", f"proportion of {w.col(q.value)}"])
    else:
        aw = w.agg(q.agg)
        val = f"{aw} {w.col(q.value)}" if aw.endswith((" of", " of the")) or w.maybe(0.8) else f"{w.col(q.value)} {aw}"
    if not keys:
        text = val
    else:
        order = env.rng.random()
        by = w.by()
        if order < 0.75:
            text = f"{val} {by} {keys}"
        elif order < 0.9:
            text = f"{by} {keys}, {val}" if by not in ("by", "split by") else f"{keys}-wise {val}"
        else:
            text = f"{val} grouped by {keys}"
    fw = _filter_words(q, w)
    if fw:
        text = f"{text} {fw}"
    if q.sort and q.top:
        if q.sort == "desc":
            text += w.pick([f", top {q.top}", f", {q.top} highest", f" (top {q.top})", f", only the {q.top} largest"])
        else:
            text += w.pick([f", bottom {q.top}", f", {q.top} lowest", f" (lowest {q.top})", f", only the {q.top} smallest"])
    elif q.sort:
        text += w.pick([", ", " ", " - "]) + _sort_words(w, q.sort == "desc")
    if q.digits is not None:
        text += w.pick([f", rounded to {q.digits} decimals", f" rounded to {q.digits} places", f", round {q.digits}"])
    return text


def op_agg(env: Env) -> Step | None:
    nums = env.measures() + env.bools()
    cats = env.cats()
    if not nums:
        return None
    q = Query()
    r = env.rng.random()
    key_opts = [Key(c) for c in cats]
    for d in env.dates():
        parts = ["year", "month", "ym", "quarter", "dayname"] + (["hour"] if d.has_time else [])
        key_opts += [Key(d, env.pick(parts))]
    ints = [c for c in env.nums() if c.kind == "int" and c.spec.kind != "id" and 1 < env.frame[c.name].nunique() <= 15]
    key_opts += [Key(c) for c in ints]
    if r < 0.12 or not key_opts:
        op = "scalar_agg"
    else:
        q.keys = [env.pick(key_opts)]
        op = "groupby_agg"
        if env.maybe(0.12):
            more = [k for k in key_opts if k.col is not q.keys[0].col and (k.part is None)]
            if more:
                q.keys.append(env.pick(more))
                q.unstack = env.maybe(0.4)
                op = "groupby_two_keys"
    value = env.pick(nums) if env.maybe(0.85) or not q.keys else None
    if value is not None and any(k.col is value for k in q.keys):
        value = None
    q.value = value
    q.agg = pick_agg(env, value)
    if not q.keys and q.agg == "size":
        q.agg = "mean" if value is not None else None
        if q.agg is None:
            return None
    if q.keys and value is not None and value.kind != "bool" and env.maybe(0.12) and not q.unstack:
        q.aggs = env.rng.sample(["mean", "sum", "min", "max", "median", "count"], env.rng.randint(2, 3))
        q.agg = None
        op = "groupby_multi_agg"
    if env.maybe(0.2):
        c = env.cond(exclude={k.col.name for k in q.keys} | ({value.name} if value is not None else set()))
        if c is not None:
            q.filters.append(c)
    if q.keys and not q.unstack and env.maybe(0.3):
        q.sort = "desc" if env.maybe(0.7) else "asc"
        if env.maybe(0.3):
            q.top = env.pick([3, 5, 10])
            if len(q.reference(env.frame)) <= q.top:
                q.top = None
    if (q.agg in ("mean", "std", "median") or q.aggs) and env.maybe(0.15):
        q.digits = env.pick([1, 2, 2, 0])
    hint = None
    if q.keys:
        vw = ident(q.value.name) if q.value is not None else "n"
        hint = env.pick([f"{vw}_by_{q.keys[0].varword()}", f"by_{q.keys[0].varword()}", f"{q.agg or 'stats'}_{vw}", "summary"])
    req = env.w.np(agg_np(env, q), question=_agg_question(env, q))
    if q.digits is not None and q.aggs:
        q.digits = None
        req = env.w.np(agg_np(env, q))
    return query_step(env, q, op, req, name_hint=hint)


def _agg_question(env: Env, q: Query) -> str | None:
    """The same aggregate asked as a question: analysts ask as often as they command."""
    w = env.w
    if q.aggs or q.unstack or q.top or q.sort or q.digits is not None:
        return None
    fw = _filter_words(q, w) if q.filters else ""
    if not q.keys and q.value is not None and q.agg in ("mean", "max", "min", "median", "sum"):
        aw = w.agg_adjective(q.agg)
        x = w.col(q.value)
        text = w.pick([f"what is the {aw} {x}", f"what's the {aw} {x}", f"what was the {aw} {x}",
                       f"can you tell me the {aw} {x}", f"{aw} {x}?"])
        if q.agg == "sum":
            text = w.pick([text, f"how much {x} is there in total", f"what does {x} add up to"])
        return text + (f" {fw}" if fw else "")
    if len(q.keys) == 1 and q.value is not None and q.value.kind != "bool" and q.agg in ("mean", "sum", "median", "max", "min"):
        aw = w.agg_adjective(q.agg)
        x, k = w.col(q.value), q.keys[0].words(w)
        each = w.pick(["each", "every", "each", "a"]) if not k.startswith(("year", "month", "quarter", "hour", "weekday")) else "each"
        frames = [f"what's the {aw} {x} for {each} {k}", f"what is the {aw} {x} {w.by()} {k}",
                  f"for {each} {k}, what's the {aw} {x}", f"how does the {aw} {x} compare across {k}",
                  f"can you work out the {aw} {x} {w.by()} {k}", f"{aw} {x} {w.by()} {k}?"]
        if q.agg == "sum":
            frames += [f"how much {x} in total {w.by()} {k}", f"what does {x} add up to for {each} {k}"]
        if q.agg == "mean":
            frames += [f"on average, how much {x} {w.by()} {k}", f"how high is {x} on average {w.by()} {k}"]
        if q.agg in ("max", "min"):
            frames += [f"what's the {aw} {x} seen for {each} {k}"]
        return w.pick(frames) + (f" {fw}" if fw else "")
    return None


def op_pivot(env: Env) -> Step | None:
    cats = env.cats(12)
    nums = env.measures()
    if len(cats) < 2 or not nums:
        return None
    w, v, s = env.w, env.var, env.s
    r, c = env.rng.sample(cats, 2)
    val = env.pick(nums)
    agg = env.pick(["mean", "mean", "sum", "median", "max", "count"])
    if agg == "sum" and not val.additive:
        agg = "mean"
    aw = w.agg(agg)
    req = w.np(w.pick([f"pivot table of {aw} {w.col(val)} with {w.col(r)} as rows and {w.col(c)} as columns",
                       f"{aw} {w.col(val)} by {w.col(r)} and {w.col(c)} as a pivot table",
                       f"pivot: rows {w.col(r)}, columns {w.col(c)}, values {w.col(val)} ({agg})",
                       f"cross-tab of {aw} {w.col(val)}, {w.col(r)} down and {w.col(c)} across"]))
    style = env.rng.random()
    if style < 0.55:
        args = f"index={s.lit(r.name)}, columns={s.lit(c.name)}, values={s.lit(val.name)}, aggfunc={s.lit(agg)}"
        expr = f"{v}.pivot_table({args})"
        if len(expr) > 88:
            expr = f"{v}.pivot_table(\n    {args}\n)"
    elif style < 0.75:
        expr = f"pd.pivot_table({v}, index={s.lit(r.name)}, columns={s.lit(c.name)}, values={s.lit(val.name)}, aggfunc={s.lit(agg)})"
    else:
        expr = f"{v}.groupby([{s.lit(r.name)}, {s.lit(c.name)}]){s.sub(val.name)}.{agg}().unstack()"
    if env.maybe(0.15):
        expr += ".round(1)"
    code, name = env.show([], expr, "pivot")
    q = Query(keys=[Key(r), Key(c)], value=val, agg=agg)
    rounded = expr.endswith(".round(1)")

    def check(run):
        res = run.result
        ensure(isinstance(res, pd.DataFrame), "not a table")
        ref = q.reference(run.snap)
        for (a, b), want in ref.items():
            if isnull(want):
                continue  # pivot_table leaves out what is all missing
            ensure(a in res.index and b in res.columns, f"missing cell {a}, {b}")
            got = res.loc[a, b]
            if agg == "count" and want == 0 and isnull(got):
                continue
            ensure(close(got, want, 0.051 if rounded else 1e-6), f"{a},{b}: {got} != {want}")
        ensure(len(res.index) <= len({a for a, _ in ref}) and len(res.columns) <= len({b for _, b in ref}), "wrong shape")
    return Step("pivot", req, code, check, last=Last("other", name=name, code=code))


def op_crosstab(env: Env) -> Step | None:
    cats = env.cats(12) + env.bools()
    if len(cats) < 2:
        return None
    w, v, s = env.w, env.var, env.s
    a, b = env.rng.sample(cats, 2)
    req = w.np(w.pick([f"crosstab of {w.col(a)} and {w.col(b)}", f"counts by {w.col(a)} and {w.col(b)}",
                       f"contingency table {w.col(a)} vs {w.col(b)}", f"how many {env.table.rows_word} per {w.col(a)} and {w.col(b)}"]))
    expr = env.pick([f"pd.crosstab({s.col(v, a.name)}, {s.col(v, b.name)})",
                     f"{v}.groupby([{s.lit(a.name)}, {s.lit(b.name)}]).size().unstack(fill_value=0)"])
    code, name = env.show([], expr, "counts")

    def check(run):
        res = run.result
        ensure(isinstance(res, pd.DataFrame), "not a table")
        cnt = Counter((x, y) for x, y in zip(run.snap[a.name].tolist(), run.snap[b.name].tolist()) if not isnull(x) and not isnull(y))
        for (x, y), n in cnt.items():
            ensure(res.loc[x, y] == n, "wrong count")
        ensure(int(res.to_numpy().sum()) == sum(cnt.values()), "wrong total")
    return Step("crosstab", req, code, check, last=Last("other", name=name, code=code))


def op_corr(env: Env) -> Step | None:
    nums = env.measures()
    if len(nums) < 2:
        return None
    w, v, s = env.w, env.var, env.s
    if env.maybe(0.5):
        a, b = env.rng.sample(nums, 2)
        req = w.np(w.pick([f"correlation between {w.col(a)} and {w.col(b)}", f"corr of {w.col(a)} with {w.col(b)}",
                           f"how correlated are {w.col(a)} and {w.col(b)}", f"pearson correlation {w.col(a)} vs {w.col(b)}"]),
                   question=f"is {w.col(a)} correlated with {w.col(b)}")
        code = f"{s.col(v, a.name)}.corr({s.col(v, b.name)})"
        if env.maybe(0.2):
            code = f"round({code}, 3)"

        def check(run):
            x = run.snap[a.name].to_numpy(dtype=float)
            y = run.snap[b.name].to_numpy(dtype=float)
            ok = ~(np.isnan(x) | np.isnan(y))
            want = float(np.corrcoef(x[ok], y[ok])[0, 1])
            ensure(close(run.result, want, 0.0006 if "round" in code else 1e-6), "wrong correlation")
        return Step("corr_pair", req, code, check, last=Last("scalar", code=code))
    req = w.np(w.pick(["correlation matrix", "correlations between the numeric columns", "corr matrix of numeric columns",
                       "pairwise correlations", "correlation table"]))
    code = env.pick([f"{v}.corr(numeric_only=True)", f"{v}.select_dtypes({s.lit('number')}).corr()"])
    if env.maybe(0.25):
        code += ".round(2)"
    code, name = env.show([], code, "corr")

    def check(run):
        res = run.result
        ensure(isinstance(res, pd.DataFrame) and res.shape[0] == res.shape[1], "not a matrix")
        pair = [c for c in nums if c.name in res.columns][:2]
        ensure(len(pair) == 2, "columns missing")
        x = run.snap[pair[0].name].to_numpy(dtype=float)
        y = run.snap[pair[1].name].to_numpy(dtype=float)
        ok = ~(np.isnan(x) | np.isnan(y))
        want = float(np.corrcoef(x[ok], y[ok])[0, 1])
        ensure(close(res.loc[pair[0].name, pair[1].name], want, 0.006 if "round" in code else 1e-6), "wrong correlation")
    return Step("corr", req, code, check, last=Last("other", name=name, code=code))


def op_resample(env: Env) -> Step | None:
    dates = env.dates()
    nums = env.measures()
    if not dates:
        return None
    w, v, s = env.w, env.var, env.s
    d = env.pick(dates)
    val = env.pick(nums) if nums and env.maybe(0.85) else None
    agg = "size" if val is None else env.pick(["sum", "sum", "mean", "mean", "max", "median"])
    if agg == "sum" and not val.additive:
        agg = "mean"
    freq, word, part = env.pick([("ME", "monthly", "ym"), ("ME", "per month", "ym"), ("MS", "monthly", "ym"),
                                 ("W", "weekly", "week"), ("QE", "quarterly", "q"), ("YE", "yearly", "year"),
                                 ("D", "daily", "day")])
    span = (env.frame[d.name].max() - env.frame[d.name].min()).days
    if part == "day" and span > 120 or part == "week" and span > 1000 or part == "year" and span < 700:
        return None
    aw = "number of " + env.table.rows_word if val is None else f"{w.agg(agg)} {w.col(val)}"
    req = w.np(w.pick([f"{word} {aw}", f"{aw} {word}", f"{aw} per {word.replace('ly', '').replace('dai', 'day').replace('per ', '')}",
                       f"resample {aw} to {word}", f"{aw} over time, {word}"]))
    plot = env.plots and env.maybe(0.35)
    if plot:
        req = w.plot(w.pick([f"plot {word} {aw}", f"line chart of {aw} {word}", f"{aw} over time ({word}) as a line plot",
                           f"plot {aw} by {word.replace('ly', '')} over time"]))
    style = env.rng.random()
    tail = ".size()" if val is None else f"{s.sub(val.name)}.{agg}()"
    if style < 0.5:
        expr = f"{v}.resample({s.lit(freq)}, on={s.lit(d.name)}){tail}"
    else:
        tail2 = ".size()" if val is None else f".{agg}()"
        src = f"{v}.set_index({s.lit(d.name)})" + ("" if val is None else s.sub(val.name))
        expr = f"{src}.resample({s.lit(freq)}){tail2}"
    if plot:
        name = env.fresh(env.pick(["monthly", "series", "ts", "by_period"]) if part == "ym" else word.replace(" ", "_"))
        env.names.add(name)
        kw = f"title={s.lit(word.capitalize() + ' ' + aw)}" if env.maybe(0.3) else ""
        code = "\n".join([f"{name} = {expr}", env.plot_end(f"{name}.plot({kw})")])
    else:
        code, name = env.show([], expr, env.pick(["monthly", "ts", "per_period"]))
    period = {"ym": "M", "week": "W", "q": "Q", "year": "Y", "day": "D"}[part]
    empty = 0 if agg in ("sum", "size") else None

    def check(run):
        stamps = run.snap[d.name].tolist()
        vals = run.snap[val.name].tolist() if val is not None else [1] * len(stamps)
        groups: dict = {}
        for t, x in zip(stamps, vals):
            if isnull(t):
                continue
            groups.setdefault(pd.Timestamp(t).to_period(period), []).append(x)
        from .query import _aggregate
        ref = {p: _aggregate(agg, xs) for p, xs in groups.items()}
        if plot:
            ys = [ln for ax in _axes() for ln in ax.get_lines()]
            ensure(ys, "no line")
            y = [float(x) for x in ys[0].get_ydata()]
            series = run.ns[name]
        else:
            series = run.result
            ensure(isinstance(series, pd.Series), "not a Series")
            y = series.tolist()
        ensure(len(y) == len(series), "points differ")
        for t, got in zip(series.index, y):
            p = pd.Timestamp(t).to_period(period)
            want = ref.get(p, empty if empty is not None else float("nan"))
            ensure(close(got, want), f"{p}: {got} != {want}")
        ensure(set(ref) <= {pd.Timestamp(t).to_period(period) for t in series.index}, "periods missing")
    return Step("resample" if not plot else "plot_line", req, code, check,
                last=Last("plot" if plot else "other", name=name, plot="line" if plot else None, code=code), figure=plot)


# --- join --------------------------------------------------------------------------------------------------------


def op_merge(env: Env) -> Step | None:
    lk = env.table.lookup
    if lk is None or lk.lookup_key is None or lk.lookup_key.name not in env.frame.columns:
        return None
    w, v, s = env.w, env.var, env.s
    key = lk.lookup_key
    lvar = env.lookup_var or env.fresh(lk.stem)
    how = env.pick(["left", "left", "inner"])
    out = env.fresh(env.pick(["merged", "joined", f"{v}_full", "combined"]))
    path = f"{lk.stem}.csv"
    load = env.lookup_var is None
    extra = " ".join(c.phrase for c in lk.columns[1:])
    how_words = {"left": w.pick(["", " keeping all rows", " (left join)", ", left join"]),
                 "inner": w.pick([" (inner join)", ", inner join", " keeping only matching rows"])}[how]
    if load:
        req = w.imp(w.pick([f"load {w.value(path)} and merge it into {v} on {w.col(key)}{how_words}",
                            f"read {w.value(path)} and join on {w.col(key)}{how_words}",
                            f"bring in the {extra} from {w.value(path)} by {w.col(key)}{how_words}",
                            f"join {v} with {w.value(path)} using {w.col(key)}{how_words}"]))
    else:
        req = w.imp(w.pick([f"merge {lvar} into {v} on {w.col(key)}{how_words}", f"join {v} and {lvar} on {w.col(key)}{how_words}",
                            f"add the {extra} from {lvar} to each row{how_words}", f"merge the two tables{how_words}"]))
    lines = []
    if load:
        lines.append(f"{lvar} = pd.read_csv({s.lit(path)})")
    on = s.lit(key.name)
    how_arg = "" if how == "inner" and env.maybe(0.5) else f", how={s.lit(how)}"
    if env.maybe(0.8):
        lines.append(f"{out} = {v}.merge({lvar}, on={on}{how_arg})")
    else:
        lines.append(f"{out} = pd.merge({v}, {lvar}, on={on}{how_arg})")
    lines.append(env.pick([f"{out}.head()", f"{out}.shape", f"{out}.head()"]))
    code = "\n".join(lines)
    lk_frame = lk.frame

    def check(run):
        m = run.ns[out]
        ensure(isinstance(m, pd.DataFrame), "no merged frame")
        keys = set(lk_frame[key.name].tolist())
        base = run.snap
        want_rows = len(base) if how == "left" else sum(1 for x in base[key.name].tolist() if x in keys)
        ensure(len(m) == want_rows, f"{len(m)} rows, expected {want_rows}")
        extra_cols = [c for c in lk_frame.columns if c != key.name]
        for c in extra_cols:
            ensure(c in m.columns or f"{c}_y" in m.columns, f"no column {c}")
        c0 = extra_cols[0]
        col = c0 if c0 in m.columns else f"{c0}_y"
        lookup = dict(zip(lk_frame[key.name].tolist(), lk_frame[c0].tolist()))
        for k, got in zip(m[key.name].tolist(), m[col].tolist()):
            ensure(close(got, lookup.get(k, float("nan"))) or (isnull(got) and k not in lookup), "wrong joined value")

    def after():
        env.names.update({lvar, out})
        env.lookup_var = lvar
    return Step("merge", req, code, check, after=after, last=Last("other", name=out, code=code))


def lookup_hand_cell(env: Env) -> Step | None:
    lk = env.table.lookup
    if lk is None or env.lookup_var is not None:
        return None
    lvar = env.fresh(lk.stem)
    code = f"{lvar} = pd.read_csv({env.s.lit(lk.stem + '.csv')})" + env.pick(["", f"\n{lvar}.head()", f"\n{lvar}"])

    def after():
        env.lookup_var = lvar
        env.names.add(lvar)
    return Step("hand_lookup", None, code, None, after=after)


# --- plots -------------------------------------------------------------------------------------------------------


def op_hist(env: Env) -> Step | None:
    nums = env.measures()
    if not nums:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(nums)
    bins = env.pick([None, 10, 20, 30, 50, 15])
    bw = f" with {bins} bins" if bins else ""
    req = w.plot(w.pick([f"histogram of {w.col(c)}{bw}", f"plot the distribution of {w.col(c)}{bw}", f"hist {w.col(c)}{bw}",
                       f"{w.col(c)} histogram{bw}", f"show how {w.col(c)} is distributed{bw}"]))
    barg = f"bins={bins}" if bins else ""
    ref = s.col(v, c.name)
    if s.plt and "plt" in env.imported:
        line = f"plt.hist({ref}.dropna(){', ' + barg if barg else ''})"
        code = line + (";" if s.semicolon or env.maybe(0.5) else "\nplt.show()")
        if env.maybe(0.4):
            code = code.replace(line, line + f"\nplt.xlabel({s.lit(c.name)})")
    else:
        line = env.pick([f"{ref}.plot.hist({barg})", f"{ref}.hist({barg})", f"{ref}.plot(kind={s.lit('hist')}{', ' + barg if barg else ''})"])
        code = env.plot_end(line)
    n_bins = bins or 10

    def check(run):
        heights = _bars()
        ensure(len(heights) == n_bins, f"{len(heights)} bins, expected {n_bins}")
        n = sum(1 for x in run.snap[c.name].tolist() if not isnull(x))
        ensure(int(round(sum(heights))) == n, "counts do not add up")
    return Step("plot_hist", req, code, check, last=Last("plot", plot="hist", col=c, code=code), figure=True)


def op_scatter(env: Env) -> Step | None:
    nums = env.measures()
    if len(nums) < 2:
        return None
    w, v, s = env.w, env.var, env.s
    x, y = env.rng.sample(nums, 2)
    req = w.plot(w.pick([f"scatter plot of {w.col(y)} vs {w.col(x)}", f"scatter {w.col(x)} against {w.col(y)}",
                       f"plot {w.col(y)} against {w.col(x)}", f"scatter of {w.col(x)} and {w.col(y)}",
                       f"relationship between {w.col(x)} and {w.col(y)} as a scatter plot"]))
    if "scatter " + w.col(x) in req or f"of {w.col(x)} and" in req or f"between {w.col(x)}" in req:
        pass  # x first in words: x on the x axis
    alpha = ", alpha=0.5" if env.maybe(0.3) else ""
    if s.plt and "plt" in env.imported:
        lines = [f"plt.scatter({s.col(v, x.name)}, {s.col(v, y.name)}{alpha})"]
        if env.maybe(0.6):
            lines += [f"plt.xlabel({s.lit(x.name)})", f"plt.ylabel({s.lit(y.name)})"]
        code = "\n".join(lines[:-1] + [env.plot_end(lines[-1])])
    else:
        code = env.plot_end(env.pick([f"{v}.plot.scatter(x={s.lit(x.name)}, y={s.lit(y.name)}{alpha})",
                                      f"{v}.plot(kind={s.lit('scatter')}, x={s.lit(x.name)}, y={s.lit(y.name)}{alpha})"]))

    def check(run):
        from matplotlib.collections import PathCollection

        cols = [cl for ax in _axes() for cl in ax.collections if isinstance(cl, PathCollection)]
        ensure(cols, "no scatter")
        pts = np.asarray(cols[0].get_offsets())
        xs = run.snap[x.name].to_numpy(dtype=float)
        ys = run.snap[y.name].to_numpy(dtype=float)
        ok = ~(np.isnan(xs) | np.isnan(ys))
        ensure(len(pts) in (len(xs), int(ok.sum())), "wrong number of points")
        fin = ~np.isnan(pts).any(axis=1) if len(pts) else np.array([], bool)
        ensure(np.allclose(np.sort(pts[fin, 0]), np.sort(xs[ok])), "x values differ")
    return Step("plot_scatter", req, code, check, last=Last("plot", plot="scatter", code=code), figure=True)


def op_box(env: Env) -> Step | None:
    nums = env.measures()
    cats = env.cats(10)
    if not nums:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(nums)
    by = env.pick(cats) if cats and env.maybe(0.7) else None
    if by is not None:
        req = w.plot(w.pick([f"box plot of {w.col(c)} by {w.col(by)}", f"boxplot {w.col(c)} per {w.col(by)}",
                           f"compare {w.col(c)} across {w.col(by)} with a box plot", f"{w.col(c)} distribution by {w.col(by)} as boxes"]))
        code = env.plot_end(f"{v}.boxplot(column={s.lit(c.name)}, by={s.lit(by.name)})")
        n_boxes = env.frame[by.name].nunique()
    else:
        req = w.plot(w.pick([f"box plot of {w.col(c)}", f"boxplot for {w.col(c)}", f"{w.col(c)} boxplot"]))
        code = env.plot_end(env.pick([f"{s.col(v, c.name)}.plot.box()", f"{v}.boxplot(column={s.lit(c.name)})",
                                      f"{v}[[{s.lit(c.name)}]].boxplot()"]))
        n_boxes = 1

    def check(run):
        lines = [ln for ax in _axes() for ln in ax.get_lines()]
        ensure(len(lines) >= 5 * n_boxes, f"{len(lines)} lines for {n_boxes} boxes")
    return Step("plot_box", req, code, check, last=Last("plot", plot="box", code=code), figure=True)


def op_bar_counts(env: Env) -> Step | None:
    cats = env.cats(20)
    if not cats:
        return None
    w, v, s = env.w, env.var, env.s
    c = env.pick(cats)
    horizontal = env.maybe(0.2)
    req = w.plot(w.pick([f"bar chart of {w.col(c)} counts", f"plot the number of {env.table.rows_word} per {w.col(c)}",
                       f"bar plot of how many {w.rows()} each {w.col(c)} has", f"{w.col(c)} frequencies as bars",
                       f"plot value counts of {w.col(c)}"]) + (w.pick([", horizontal", " as horizontal bars"]) if horizontal else ""))
    kind = "barh" if horizontal else "bar"
    code = env.plot_end(f"{s.col(v, c.name)}.value_counts().plot.{kind}()" if env.maybe(0.7)
                        else f"{s.col(v, c.name)}.value_counts().plot(kind={s.lit(kind)})")

    def check(run):
        cnt = Counter(x for x in run.snap[c.name].tolist() if not isnull(x))
        check_bars(list(cnt.values()), None, horizontal=horizontal)
    return Step("plot_bar", req, code, check, last=Last("plot", plot=kind, col=c, code=code), figure=True)


def op_plot_agg(env: Env) -> Step | None:
    """A grouped aggregate drawn directly: "bar chart of average price by region"."""
    nums = env.measures()
    cats = env.cats(20)
    if not nums or not (cats or env.dates()):
        return None
    w = env.w
    q = Query(value=env.pick(nums))
    q.agg = env.pick(["mean", "mean", "sum", "sum", "median", "max"])
    if q.agg == "sum" and not q.value.additive:
        q.agg = "mean"
    line = False
    if env.dates() and (not cats or env.maybe(0.35)):
        d = env.pick(env.dates())
        q.keys = [Key(d, env.pick(["year", "month", "ym"]))]
        line = env.maybe(0.6)
    else:
        q.keys = [Key(env.pick(cats))]
        if env.maybe(0.35):
            q.sort = "desc" if env.maybe(0.75) else "asc"
    kind = "line" if line else ("barh" if env.maybe(0.15) else "bar")
    title = None
    what = agg_np(env, q)
    kw = {"bar": ["bar chart of", "bar plot of", "plot", "bar graph of", "plot as bars:"], "barh": ["horizontal bar chart of", "barh of"],
          "line": ["line plot of", "plot", "line chart of", "plot the trend of"]}[kind]
    req = w.plot(f"{w.pick(kw)} {what}")
    if env.maybe(0.2):
        title = what[0].upper() + what[1:]
        title = title.replace('"', "").replace("`", "")
        req = req.rstrip(".?") + w.pick([f", titled '{title}'", f" with the title \"{title}\""])
        w.protected.add(title)
    return query_step(env, q, "plot_agg", req, plot=kind, title=title)


# --- follow-ups ------------------------------------------------------------------------------------------------


def _refer(w: Words) -> str:
    return w.pick(["it", "that", "this", "the result", "them", "it", "that"])


def fu_plot(env: Env) -> Step | None:
    last = env.last
    if not env.plots or last is None or last.kind != "agg" or not last.q.keys or last.q.aggs or last.q.unstack:
        return None
    q = last.q
    if len(q.keys) != 1:
        return None
    n = len(q.reference(env.frame)) if not q.top else q.top
    if n > 30 or n < 1:
        return None
    w, s = env.w, env.s
    timeish = q.keys[0].part in ("year", "ym", "month", "quarter", "hour")
    kind = "line" if timeish and not q.sort and env.maybe(0.6) else ("barh" if env.maybe(0.15) else "bar")
    word = {"bar": ["as bars", "as a bar chart", "with bars", "in a bar plot"], "barh": ["as horizontal bars", "as a horizontal bar chart"],
            "line": ["as a line", "as a line chart", "over time"]}[kind]
    req = w.fu(w.pick([f"plot {_refer(w)}", f"plot {_refer(w)} {w.pick(word)}", f"now plot {_refer(w)} {w.pick(word)}",
                        f"visualize {_refer(w)}", f"make a chart of {_refer(w)}", f"can you plot {_refer(w)}", f"chart {_refer(w)}"]))
    if not any(x in req for x in ("bar", "line", "time")):
        kind = "line" if q.keys[0].part in ("ym", "hour") and not q.sort else "bar"
    if last.name:
        call = env.pick([f".plot.{kind}()", f".plot(kind={s.lit(kind)})"])
        code = env.plot_end(f"{last.name}{call}")
        q2 = q

        def check(run):
            vals = q2.shown_values(run.snap)
            if kind == "line":
                check_line([float(x) for x in vals], tol=q2.tol)
            else:
                check_bars(vals, q2.sort, horizontal=kind == "barh", tol=q2.tol)
        return Step("fu_plot", req, code, check, last=Last("plot", q=q, name=last.name, plot=kind, code=code), figure=True)
    return query_step(env, q.copy(), "fu_plot", req, plot=kind)


def fu_plot_kind(env: Env) -> Step | None:
    """"plot it as bars instead", "make it horizontal", "line instead": redraw the previous plot."""
    last = env.last
    if last is None or last.kind != "plot" or last.q is None or last.plot not in ("bar", "barh", "line"):
        return None
    w = env.w
    options = {"bar": ["barh", "line"], "barh": ["bar"], "line": ["bar"]}[last.plot]
    kind = env.pick(options)
    if kind == "line" and last.q.keys[0].part is None:
        kind = "barh"
    req = w.fu({
        "bar": w.pick(["plot it as bars instead", "bars instead", "use a bar chart instead", "make it a bar chart",
                       "vertical bars please", "as a bar chart"]),
        "barh": w.pick(["make it horizontal", "horizontal bars instead", "flip it to a horizontal bar chart", "use barh",
                        "horizontal please"]),
        "line": w.pick(["as a line instead", "line plot instead", "show it as a line", "make it a line chart"]),
    }[kind])
    q = last.q
    if last.name and "\n" not in last.name:
        code = env.plot_end(f"{last.name}.plot.{kind}()")

        def check(run):
            series = run.ns[last.name]
            if kind == "line":
                check_line([float(x) for x in series.tolist()])
            else:
                check_bars(series.tolist(), None, horizontal=kind == "barh")
        return Step("fu_plot_kind", req, code, check, last=Last("plot", q=q, name=last.name, plot=kind, code=code), figure=True)
    return query_step(env, q.copy(), "fu_plot_kind", req, plot=kind)


def fu_filter(env: Env) -> Step | None:
    """"now only for 2023", "only North", "exclude cancelled ones": add a filter to the previous query."""
    last = env.last
    if last is None or last.q is None or last.kind not in ("agg", "rows", "plot") or last.q.count_only and last.kind != "rows":
        return None
    w = env.w
    q = last.q.copy()
    used = {c.col.name for c in q.filters} | {k.col.name for k in q.keys} | ({q.value.name} if q.value is not None else set())
    cond = None
    dates = [d for d in env.dates() if d.name not in {c.col.name for c in q.filters}]
    if dates and env.maybe(0.6):
        d = env.pick(dates)
        y = env.year(d)
        if any(k.col is d and k.part == "year" for k in q.keys):
            return None
        if env.maybe(0.25) and not any(k.col is d and k.part in ("month", "ym") for k in q.keys):
            m = int(env.pick(env.frame[d.name].dt.month.dropna().unique().tolist()))
            cond = Cond(d, "month", m)
            y = MONTHS[m - 1]
        else:
            cond = Cond(d, "year", y)
        w.protected.add(str(y))
        phrase = w.pick([f"now only for {y}", f"same for {y} only", f"just {y}", f"only {y}", f"restrict to {y}",
                         f"now just the {y} data", f"filter that to {y}", f"what about only {y}?", f"for {y} only",
                         f"just for {y}"])
    else:
        cond = env.cond(exclude=used)
        if cond is None or cond.op in ("year",):
            return None
        cw = cond.words(w)
        if env.maybe(0.3) and cond.op not in ("month", "since", "hour"):
            bare = w.value(cond.value) if cond.op == "==" and cond.col.kind == "cat" and w.maybe(0.5) else None
            cond = excluded(env, cond)
            phrase = w.pick([f"exclude the {bare} ones", f"now without {bare}", f"leave out {bare} and do it again",
                             f"same but excluding {bare}"] if bare else
                            [f"exclude rows where {cw}", f"now without the rows where {cw}", f"same but drop {cw}",
                             f"leave out {cw} and do it again", f"and exclude {cw}"])
        else:
            phrase = w.pick([f"now only where {cw}", f"same but only {cw}", f"only for {cw}", f"restrict it to {cw}",
                             f"filter that to {cw}", f"now just {cw}", f"and only where {cw}"])
    w.protected.add(str(cond.value))
    # a new condition replaces the old one on its column, but a month narrows a year ("2023", then "just March")
    q.filters = [c for c in q.filters if c.col is not cond.col or (cond.op == "month" and c.op != "month")] + [cond]
    if not q.rows(env.frame):
        return None  # nothing left: the analyst would pick another filter
    req = w.finish(phrase, question=phrase.endswith("?"))
    plot = last.plot if last.kind == "plot" and last.q is not None and last.plot in ("bar", "barh", "line") else None
    hint = None if plot else (f"{last.name}_{cond.value}" if last.name and cond.op == "year" else None)
    return query_step(env, q, "fu_filter", req, name_hint=hint, plot=plot)


def fu_sort(env: Env) -> Step | None:
    last = env.last
    if last is None or last.kind != "agg" or not last.q.keys or last.q.unstack or last.q.aggs or last.q.top:
        return None
    w = env.w
    q = last.q.copy()
    desc = q.sort != "desc" if q.sort else env.maybe(0.7)
    top = env.pick([None, None, 3, 5, 10]) if not q.top else None
    q.sort = "desc" if desc else "asc"
    q.top = top or q.top
    if top:
        req = w.fu(w.pick([f"just the top {top}" if desc else f"just the bottom {top}", f"only the {top} {'highest' if desc else 'lowest'}",
                            f"top {top} only" if desc else f"bottom {top}", f"keep the {top} {'largest' if desc else 'smallest'}"]))
    else:
        req = w.fu(w.pick([f"sort {_refer(w)} {_sort_words(w, desc)}", f"sort {_refer(w)}", f"order {_refer(w)} {_sort_words(w, desc)}",
                            f"{_sort_words(w, desc)} please", f"now sort {_sort_words(w, desc)}"]))
        if not desc and "sort" in req and not any(a in req for a in ASC):
            q.sort = "asc"
        elif "sort" in req and not any(x in req for x in DESC + ASC):
            q.sort = "asc"
    if last.name and not top and env.maybe(0.7):
        asc = "" if q.sort == "asc" else "ascending=False"
        code = f"{last.name}.sort_values({asc})"

        def check(run):
            q.check(run.result, run.snap)
        return Step("fu_sort", req, code, check, last=Last("agg", q=q, name=None, code=code))
    return query_step(env, q, "fu_sort", req, name_hint="top" if top else None)


def fu_change(env: Env) -> Step | None:
    """"use the median instead", "same but by month", "what about price?", "round to 2 decimals"."""
    last = env.last
    if last is None or last.kind not in ("agg", "plot") or last.q is None or not last.q.is_agg or last.q.aggs:
        return None
    w = env.w
    q = last.q.copy()
    r = env.rng.random()
    if r < 0.3 and q.value is not None and q.value.kind != "bool":
        agg = env.pick([a for a in ("mean", "median", "sum", "max", "min") if a != q.agg and (a != "sum" or q.value.additive)])
        q.agg = agg
        aw = w.agg(agg).replace(" of the", "").replace(" of", "")
        req = w.fu(w.pick([f"use the {aw} instead", f"{aw} instead", f"now the {aw}", f"same with {aw}", f"what about the {aw}?",
                            f"switch to {aw}", f"show {aw} instead of {w.agg(last.q.agg).replace(' of the', '').replace(' of', '')}"]))
        op = "fu_agg"
    elif r < 0.6 and q.keys:
        options = [Key(c) for c in env.cats() if all(c is not k.col for k in q.keys)]
        for d in env.dates():
            current = {k.part for k in q.keys if k.col is d}
            if current & {"month", "ym"}:
                current |= {"month", "ym"}
            options += [Key(d, p) for p in ("year", "month", "ym", "dayname") if p not in current]
        if not options:
            return None
        key = env.pick(options)
        q.keys = [key]
        q.unstack = False
        q.top = None if q.top and env.maybe(0.5) else q.top
        req = w.fu(w.pick([f"same but by {key.words(w)}", f"now by {key.words(w)}", f"do it by {key.words(w)} instead",
                            f"what about by {key.words(w)}?", f"group by {key.words(w)} instead", f"and per {key.words(w)}?",
                            f"same thing per {key.words(w)}"]))
        op = "fu_key"
    elif r < 0.85 and q.value is not None:
        others = [c for c in env.measures() if c is not q.value and all(c is not k.col for k in q.keys)]
        if not others:
            return None
        q.value = env.pick(others)
        if q.agg in ("count", "nunique") or q.agg == "sum" and not q.value.additive:
            q.agg = "mean"
        req = w.fu(w.pick([f"same for {w.col(q.value)}", f"now {w.col(q.value)}", f"what about {w.col(q.value)}?",
                            f"do the same with {w.col(q.value)}", f"and for {w.col(q.value)}?", f"repeat for {w.col(q.value)}"]))
        op = "fu_value"
    else:
        if q.agg not in ("mean", "median", "std") or q.digits is not None:
            return None
        q.digits = env.pick([0, 1, 2, 2])
        req = w.fu(w.pick([f"round {_refer(w)} to {q.digits} decimals", f"round to {q.digits} decimal places", f"{q.digits} decimals please",
                            f"round the values to {q.digits} digits"] + (["round it to whole numbers"] if q.digits == 0 else [])))
        op = "fu_round"
        if last.name and last.kind == "agg" and env.maybe(0.6):
            code = f"{last.name}.round({q.digits})"

            def check(run):
                q.check(run.result, run.snap)
            return Step(op, req, code, check, last=Last("agg", q=q, code=code))
    plot = last.plot if last.kind == "plot" and last.plot in ("bar", "barh", "line") else None
    if plot == "line" and q.keys and q.keys[0].part is None:
        plot = "bar"
    return query_step(env, q, op, req, plot=plot)


def fu_rows(env: Env) -> Step | None:
    """After a filter: "how many are there?", "sort them by price", "only name and price"."""
    last = env.last
    if last is None or last.kind != "rows" or last.q is None or last.q.count_only:
        return None
    w = env.w
    q = last.q.copy()
    r = env.rng.random()
    if r < 0.35:
        if not q.filters:
            return None
        q.count_only = True
        q.sort_col = None
        q.top = None
        req = w.finish(w.pick(["how many are there", "how many rows is that", "count them", "how many?", "and how many is that",
                               f"how many {env.table.rows_word}"]), question=True)
        if last.name:
            code = env.pick([f"len({last.name})", f"{last.name}.shape[0]"])
            labels_q = q

            def check(run):
                labels_q.check(run.result, run.snap)
            return Step("fu_count", req, code, check, last=Last("scalar", code=code))
        return query_step(env, q, "fu_count", req)
    if r < 0.75:
        nums = env.measures() + env.dates()
        if not nums:
            return None
        c = env.pick(nums)
        desc = env.maybe(0.6)
        q.sort, q.sort_col = ("desc" if desc else "asc"), c
        req = w.fu(w.pick([f"sort them by {w.col(c)} {_sort_words(w, desc)}", f"order those by {w.col(c)} {_sort_words(w, desc)}",
                            f"sort by {w.col(c)}" + (" descending" if desc else ""), f"now sorted by {w.col(c)}" + (", desc" if desc else "")]))
        return query_step(env, q, "fu_rows_sort", req)
    cols = [c for c in env.cols if c.name in env.frame.columns]
    q.select = env.rng.sample(cols, min(len(cols), env.rng.randint(1, 3)))
    if q.sort_col is not None and q.sort_col not in q.select:
        q.select.append(q.sort_col)
    names = " and ".join(w.col(c) for c in q.select)
    req = w.fu(w.pick([f"only show {names}", f"just the {names} columns", f"keep only {names}", f"show {names} for those"]))
    return query_step(env, q, "fu_rows_select", req)


def fu_counts_pct(env: Env) -> Step | None:
    last = env.last
    if last is None or last.kind != "counts" or last.normalize:
        return None
    w, v, s = env.w, env.var, env.s
    c = last.col
    req = w.fu(w.pick(["as percentages", "show that as percentages", "in percent please", "normalize it", "as shares instead",
                        "percentages instead of counts"]))
    pct = "percent" in req
    code = f"{s.col(v, c.name)}.value_counts(normalize=True)" + (env.pick([" * 100", ".mul(100)"]) if pct else "")
    if pct and env.maybe(0.4):
        code = f"({code}).round(1)" if code.endswith(" * 100") else code + ".round(1)"

    def check(run):
        res = run.result
        ensure(isinstance(res, pd.Series), "not a Series")
        cnt = Counter(x for x in run.snap[c.name].tolist() if not isnull(x))
        total = sum(cnt.values())
        for k, got in res.items():
            ensure(close(got, cnt[k] / total * (100 if pct else 1), 0.051 if "round" in code else 1e-6), "wrong share")
    return Step("fu_pct", req, code, check, last=Last("counts", col=c, normalize=True, code=code))


def fu_title(env: Env) -> Step | None:
    last = env.last
    if last is None or last.kind != "plot" or not last.code or "\n" in last.code.strip().rstrip(";") and "plt.show()" not in last.code:
        return None
    if "plt." in last.code or "boxplot" in last.code or "title=" in last.code:
        return None
    w, s = env.w, env.s
    title = env.pick(["Overview", "Distribution", "Summary", "Breakdown", "Trend"]) + env.pick(["", " by group", " over time", f" of {env.table.rows_word}"])
    w.protected.add(title)
    req = w.fu(w.pick([f"add the title '{title}'", f"give it the title \"{title}\"", f"title it {title}", f"same plot with title '{title}'"]))
    body = last.code.replace("\nplt.show()", "").rstrip(";")
    lines = body.split("\n")
    lines[-1] = f"ax = {lines[-1]}"
    lines.append(f"ax.set_title({s.lit(title)})")
    code = "\n".join(lines)
    if env.maybe(0.5) and "plt" in env.imported:
        code += ";" if s.semicolon else ""
    prev_check = getattr(env, "_last_check", None)

    def check(run):
        ensure(any(ax.get_title() == title for ax in _axes()), "no title")
        if prev_check is not None:
            prev_check(run)
    if last.plot == "hist" and "hist(" in last.code and ".plot" not in last.code and "plt.hist" not in last.code:
        pass
    return Step("fu_title", req, code, check, last=Last("plot", q=last.q, plot=last.plot, code=code), figure=True)


OPS: list[tuple[str, float, Callable[[Env], Step | None]]] = [
    ("head", 1.0, op_head),
    ("shape", 0.8, op_shape),
    ("columns", 0.9, op_columns),
    ("describe", 1.0, op_describe),
    ("unique", 0.6, op_unique),
    ("value_counts", 1.3, op_value_counts),
    ("missing", 1.0, op_missing),
    ("dropna", 0.5, op_dropna),
    ("fillna", 0.6, op_fillna),
    ("to_datetime", 1.5, op_to_datetime),
    ("new_column", 0.8, op_new_column),
    ("rename", 0.3, op_rename),
    ("select", 0.6, op_select),
    ("filter", 2.2, op_filter),
    ("exclude", 0.7, op_exclude),
    ("sort", 1.4, op_sort),
    ("agg", 4.0, op_agg),
    ("pivot", 0.6, op_pivot),
    ("crosstab", 0.4, op_crosstab),
    ("corr", 0.7, op_corr),
    ("resample", 1.0, op_resample),
    ("merge", 0.8, op_merge),
    ("hist", 1.0, op_hist),
    ("scatter", 0.7, op_scatter),
    ("box", 0.5, op_box),
    ("bar_counts", 0.6, op_bar_counts),
    ("plot_agg", 1.2, op_plot_agg),
]
PLOT_OPS = {"hist", "scatter", "box", "bar_counts", "plot_agg"}

FOLLOWUPS: list[tuple[str, float, Callable[[Env], Step | None]]] = [
    ("fu_plot", 1.5, fu_plot),
    ("fu_plot_kind", 1.0, fu_plot_kind),
    ("fu_filter", 2.0, fu_filter),
    ("fu_sort", 1.2, fu_sort),
    ("fu_change", 2.0, fu_change),
    ("fu_rows", 1.2, fu_rows),
    ("fu_pct", 1.0, fu_counts_pct),
    ("fu_title", 0.6, fu_title),
]

HAND_CELLS = ["head", "shape", "columns", "describe", "value_counts", "missing"]


def choose(env: Env, table: list, followup: bool = False) -> Step | None:
    """A weighted random applicable op from `table` (tries a few times)."""
    items = [(n, wt, fn) for n, wt, fn in table if env.plots or n not in PLOT_OPS]
    for _ in range(6):
        total = sum(wt for _, wt, _ in items)
        r = env.rng.random() * total
        for name, wt, fn in items:
            r -= wt
            if r <= 0:
                break
        step = fn(env)
        if step is not None:
            return step
        items = [it for it in items if it[0] != name] or items
    return None
