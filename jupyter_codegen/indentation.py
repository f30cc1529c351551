"""Indenting a fill so that the code around it still parses.

A small model often writes the right line at the wrong depth: `return False` at the function's level under an
`if n < 2:` that needs a body, which is an IndentationError the user then has to fix by hand. Python's layout
leaves few depths a new line can take (one deeper after a line that opens a block, or any block still open), so
when the model's own depth breaks the cell and one of those depths does not, the fill moves there. Code that does
not parse with any depth (another hole still open, a fragment, another language) is left as the model wrote it.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass

from .postprocess import parses

DEFAULT_UNIT = 4


def indent_width(line: str) -> int:
    """How many columns of spaces (or tabs) `line` starts with."""
    return len(line) - len(line.lstrip(" \t"))


@dataclass(frozen=True)
class Layout:
    """Where the code before a new line leaves Python's block structure."""

    open_blocks: tuple[int, ...]
    """The depth of each block still open, outermost (0) first."""
    opens_block: bool
    """Whether the last statement is a compound statement's header (it ends in a colon and needs a body)."""
    unit: int
    """The smallest step between a block and the one inside it (4 when none is nested)."""

    def depths(self) -> list[int]:
        """The depths a new line may start at: any open block, and one deeper after a header."""
        deeper = (self.open_blocks[-1] + self.unit,) if self.opens_block else ()
        return sorted(set(self.open_blocks + deeper))


def layout(left: str) -> Layout | None:
    """The layout at the end of `left`; None when it stops inside a bracket or a string (where a new line's depth
    means nothing) or does not tokenize."""
    blocks, steps = [0], []
    last, state = None, Layout((0,), False, DEFAULT_UNIT)
    try:
        for token in tokenize.generate_tokens(io.StringIO(left).readline):
            if token.type == tokenize.INDENT:
                steps.append(len(token.string) - blocks[-1])
                blocks.append(len(token.string))
            elif token.type == tokenize.DEDENT:
                blocks.pop()
            elif token.type == tokenize.NEWLINE:
                state = Layout(tuple(blocks), last == ":", min(steps, default=DEFAULT_UNIT))
            elif token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
                last = token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return state


def shift(fill: str, delta: int) -> str | None:
    """`fill` with every line moved `delta` columns; None when a line would have to lose more than it has."""
    out = []
    for line in fill.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
        elif delta >= 0:
            out.append(" " * delta + line)
        elif indent_width(line) >= -delta:
            out.append(line[-delta:])
        else:
            return None
    return "".join(out)


def fit_indentation(left: str, fill: str, right: str) -> str:
    """`fill`, moved to the nearest depth at which `left + fill + right` parses, if its own depth does not.

    Only for a fill that starts a line (`left` is empty or ends with a line break), indented with spaces.
    """
    first = next((line for line in fill.splitlines() if line.strip()), None)
    if first is None or (left and not left.endswith("\n")) or "\t" in fill or "\t" in left:
        return fill
    if parses(left + fill + right):
        return fill
    where = layout(left)
    if where is None:
        return fill
    own = indent_width(first)
    for depth in sorted(where.depths(), key=lambda d: (abs(d - own), -d)):
        moved = shift(fill, depth - own)
        if depth != own and moved is not None and parses(left + moved + right):
            return moved
    return fill
