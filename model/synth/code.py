"""How an analyst writes the code: literals, column references, masks, chains, and a style kept per conversation."""

from __future__ import annotations

import keyword
import math
import random
import re

import pandas as pd

_FRAME_ATTRS = set(dir(pd.DataFrame)) | set(dir(pd.Series))


class CodeStyle:
    """One analyst's habits: quotes, attribute access, how rows are filtered, whether results get names."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.q = '"' if rng.random() < 0.8 else "'"
        self.attr = rng.random() < 0.15
        self.mask = rng.choice(["bracket"] * 6 + ["loc"] * 2 + ["query"])
        self.assign = rng.choice([0.0, 0.0, 0.15, 0.35])
        self.plt = rng.random() < 0.25
        self.semicolon = rng.random() < 0.25
        self.head_n = rng.choice([None, None, None, 10])
        self.chain_paren = rng.random() < 0.5
        self.named_agg = rng.random() < 0.3

    def lit(self, value) -> str:
        if isinstance(value, str):
            q = self.q
            if q in value:
                q = "'" if q == '"' else '"'
            if q in value or "\\" in value:
                return repr(value)
            return f"{q}{value}{q}"
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, float):
            if value.is_integer() and abs(value) < 1e15:
                return str(int(value))
            return repr(round(value, 6))
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self.lit(v) for v in value) + "]"
        return repr(value)

    def col(self, frame: str, name: str) -> str:
        """`df["price"]`, or `df.price` for an analyst who likes attribute access and a name that allows it."""
        if self.attr and is_attr_ok(name):
            return f"{frame}.{name}"
        return f"{frame}[{self.lit(name)}]"

    def sub(self, name: str) -> str:
        """`["price"]` after a groupby, or `.price`."""
        if self.attr and is_attr_ok(name):
            return f".{name}"
        return f"[{self.lit(name)}]"


def is_attr_ok(name: str) -> bool:
    """Attribute access only for plain lower-case names: "Unit Price", "UnitPrice" and "UNIT_PRICE" take brackets."""
    return name.isidentifier() and name.islower() and not keyword.iskeyword(name) and name not in _FRAME_ATTRS


def ident(name: str) -> str:
    """A Python name made from a column name: "Unit Price" and "UnitPrice" -> "unit_price"."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not text or text[0].isdigit():
        text = "col_" + text
    if keyword.iskeyword(text):
        text += "_"
    return text


def nice(x: float, integer: bool = False) -> float | int:
    """A round number near `x`, as a person would type it as a threshold (137.2 -> 140, 0.236 -> 0.25)."""
    if x == 0 or not math.isfinite(x):
        return 0
    mag = 10 ** math.floor(math.log10(abs(x)))
    step = mag / 2 if abs(x) / mag < 5 else mag
    v = round(x / step) * step
    if integer or float(v).is_integer():
        return int(round(v))
    return float(f"{v:.6g}")


def chain(base: str, parts: list[str], paren: bool, limit: int = 88) -> str:
    """`base.a().b()` on one line, or split over lines in parentheses when long."""
    one = base + "".join(parts)
    if len(one) <= limit or not paren or len(parts) < 2:
        return one
    lines = ["(", f"    {base}"]
    for p in parts:
        lines.append(f"    {p}")
    lines.append(")")
    return "\n".join(lines)
