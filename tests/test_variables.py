import math
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict
from math import sqrt
from typing import Optional

import numpy as np
import pandas as pd
import pytest

from jupyter_codegen.variables import summarize_namespace


def user_code(obj):
    """Make a function or class look as if the user defined it in the notebook."""
    obj.__module__ = "__main__"
    return obj


@user_code
def total(df, column="amount") -> float:
    return 0.0


@user_code
class Point:
    def __init__(self, x, y=0):
        pass


class Hostile:
    """Everything a careless or malicious object can do wrong."""

    def __repr__(self):
        raise RuntimeError("repr")

    def __len__(self):
        raise RuntimeError("len")

    def __getattr__(self, name):
        raise RuntimeError(name)

    @property
    def __class__(self):
        raise RuntimeError("class")


class HostileList(list):
    def __len__(self):
        raise RuntimeError("len")


class HostileDict(dict):
    def __iter__(self):
        raise RuntimeError("iter")


def test_dataframe_shape_columns_dtypes_and_first_row_only():
    df = pd.DataFrame(
        {"city": ["Paris", "Lyon"], "pop": [2.1e6, 5e5], "when": pd.to_datetime(["2020-01-01", "2021-06-01"])}
    )
    when = df["when"].dtype
    assert summarize_namespace({"df": df}) == (
        f"df: DataFrame, 2 rows x 3 columns: city ({df['city'].dtype}), pop (float64), when ({when}); "
        "first row: city='Paris', pop=2100000.0, when=2020-01-01 00:00:00"
    )


def test_dataframe_index_and_wide_frames():
    ts = pd.DataFrame({"v": [1.5]}, index=pd.DatetimeIndex(["2020-01-01"], name="date"))
    dtype = ts.index.dtype
    assert summarize_namespace({"ts": ts}) == (
        f"ts: DataFrame, 1 row x 1 column: v (float64); index: date ({dtype}); first row: v=1.5"
    )
    wide = pd.DataFrame(np.zeros((2, 30), dtype=int), columns=[f"c{i}" for i in range(30)])
    line = summarize_namespace({"wide": wide})
    assert "c11 (int64), ... (18 more)" in line and "c12" not in line
    assert summarize_namespace({"empty": pd.DataFrame()}) == "empty: DataFrame, 0 rows x 0 columns"


def test_series_arrays_and_numpy_scalars():
    ns = {
        "s": pd.Series([1, 2, 3], name="price"),
        "anon": pd.Series([1.0]),
        "arr": np.zeros((3, 4), dtype=np.float32),
        "x": np.float64(1.5),
    }
    assert summarize_namespace(ns) == (
        "x: float64 = 1.5\n"
        "arr: ndarray, shape (3, 4), float32\n"
        "anon: Series, len 1, float64\n"
        "s: Series 'price', len 3, int64"
    )


def test_plain_values_containers_functions_and_classes():
    ns = {
        "names": ["a", "b", "c"],
        "pair": (1, 2),
        "tags": {"x"},
        "cfg": {"lr": 0.1, "epochs": 3, "a": 1, "b": 2, "c": 3, "d": 4},
        "n": 5,
        "ratio": 0.25,
        "flag": True,
        "nothing": None,
        "title": "sales report",
        "long": "x" * 100,
        "total": total,
        "Point": Point,
        "square": user_code(lambda v: v * v),
    }
    lines = summarize_namespace(ns, max_variables=50).split("\n")
    assert lines == [
        "square: function, square(v)",
        "Point: class, Point(x, y=0)",
        "total: function, total(df, column='amount') -> float",
        "long: str = " + "'" + "x" * 17 + "..." + "x" * 18 + "'" + " (100 chars)",
        "title: str = 'sales report'",
        "nothing: None",
        "flag: bool = True",
        "ratio: float = 0.25",
        "n: int = 5",
        "cfg: dict, len 6, keys 'lr', 'epochs', 'a', 'b', 'c', ...",
        "tags: set, len 1",
        "pair: tuple, len 2",
        "names: list, len 3",
    ]


def test_skips_modules_private_ipython_and_imported_names():
    ns = {
        "__name__": "__main__",
        "__builtins__": {},
        "_": 1,
        "_i3": "x = 1",
        "In": ["", "x = 1"],
        "Out": {},
        "exit": object(),
        "quit": object(),
        "get_ipython": lambda: None,
        "np": np,
        "math": math,
        "sqrt": sqrt,
        "OrderedDict": OrderedDict,
        "DataFrame": pd.DataFrame,
        "Optional": Optional,
        "hidden": 1,
        "x": 1,
    }
    assert summarize_namespace(ns, exclude={"hidden"}) == "x: int = 1"
    assert summarize_namespace({"np": np, "_x": 1}) is None


def test_hostile_objects_never_break_it():
    ns = {"h": Hostile(), "hl": HostileList([1]), "hd": HostileDict(a=1), "ok": 1}
    assert summarize_namespace(ns) == "ok: int = 1\nhd: HostileDict\nhl: HostileList\nh: Hostile"

    class HostileMapping(dict):
        def items(self):
            raise RuntimeError("items")

    assert summarize_namespace(HostileMapping(x=1)) is None


def test_huge_values_are_summarized_quickly():
    ns = {
        "big": pd.DataFrame({"a": np.zeros(10**7), "b": np.arange(10**7)}),
        "arr": np.zeros(10**7),
        "many": list(range(10**6)),
        "text": "x" * 10**7,
        "huge_int": 10**5000,
    }
    start = time.perf_counter()
    summary = summarize_namespace(ns)
    assert time.perf_counter() - start < 0.5
    assert summary.split("\n") == [
        "huge_int: int with 16610 bits",
        "text: str = '" + "x" * 17 + "..." + "x" * 18 + "' (10000000 chars)",
        "many: list, len 1000000",
        "arr: ndarray, shape (10000000,), float64",
        "big: DataFrame, 10000000 rows x 2 columns: a (float64), b (int64); first row: a=0.0, b=0",
    ]


def test_caps_by_count_and_characters_saying_how_many_were_left_out():
    ns = {f"v{i}": i for i in range(30)}
    assert summarize_namespace(ns, max_variables=3) == "v29: int = 29\nv28: int = 28\nv27: int = 27\n(and 27 more variables)"
    assert summarize_namespace(ns, max_chars=60) == "v29: int = 29\nv28: int = 28\n(and 28 more variables)"
    for max_chars in range(40, 200, 7):
        assert len(summarize_namespace(ns, max_chars=max_chars)) <= max_chars
    assert summarize_namespace(ns, max_chars=10) is None  # not even one line fits
    assert summarize_namespace({"a": 1, "b": 2}, max_variables=1) == "b: int = 2\n(and 1 more variable)"
    assert summarize_namespace({}) is None


def test_long_lines_are_cut():
    ns = {"df": pd.DataFrame({"c" * 200 + str(i): [i] for i in range(12)})}
    line = summarize_namespace(ns)
    assert len(line) == 400 and line.endswith("...")


def test_does_not_import_pandas_or_numpy():
    code = textwrap.dedent(
        """
        import sys
        from jupyter_codegen.variables import summarize_namespace
        print(summarize_namespace({"x": [1, 2], "s": "hi"}))
        print("pandas" in sys.modules, "numpy" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[-2] == "False False"


def test_real_ipython_namespace_shows_only_the_users_names():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell(config=config)
    for source in [
        "import numpy as np\nfrom math import sqrt\nfrom collections import Counter",
        "def area(r, pi=3.14):\n    return pi * r * r",
        "class Box:\n    def __init__(self, w):\n        self.w = w",
        "arr = np.ones(3)",
        "arr.sum()",
    ]:
        shell.run_cell(source, store_history=True)
    expected = "arr: ndarray, shape (3,), float64\nBox: class, Box(w)\narea: function, area(r, pi=3.14)"
    assert summarize_namespace(shell.user_ns) == expected
    assert summarize_namespace(shell.user_ns, exclude=shell.user_ns_hidden) == expected
