"""Cutting a fill that runs on past its hole.

Asked to fill `df.sort_values(<FILL>, ascending=False)`, a small model often writes the whole argument list it is
used to, `"revenue", ascending=False`, and the code after the hole then repeats what it wrote: the cell fails to
compile (a keyword argument repeated, a bracket closed twice). Where an inline fill breaks its line and a beginning
of it that ends at one of its own top-level commas does not, the fill is cut there: what is kept is the model's,
and what is cut is what the user had already written after the hole.
"""

from __future__ import annotations

from .postprocess import compiles

_OPENERS, _CLOSERS = "([{", ")]}"


def top_level_commas(fill: str) -> list[int]:
    """Offsets of the commas in `fill` outside any bracket or string it opens; [] once it closes a bracket it did not
    open (what follows is past the hole's own bracket)."""
    depth, quote, out = 0, None, []
    i = 0
    while i < len(fill):
        c = fill[i]
        if quote is not None:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth -= 1
            if depth < 0:
                break
        elif c == "," and depth == 0:
            out.append(i)
        i += 1
    return out


def trim_fill(left: str, fill: str, right: str) -> str:
    """`fill`, cut at its last top-level comma after which `left + fill + right` compiles, if it does not compile
    whole. Only for a one-line fill inside a line (`left` does not end the line)."""
    if not left or left.endswith("\n") or "\n" in fill.strip("\n") or compiles(left + fill + right):
        return fill
    for comma in reversed(top_level_commas(fill)):
        kept = fill[:comma].rstrip()
        if kept.strip() and compiles(left + kept + right):
            return kept
    return fill
