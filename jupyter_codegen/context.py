"""The notebook turned into one document for the model, within a token budget.

Two layouts, because models were trained on two kinds of text:

- ``"notebook"``: InCoder's notebook layout (also what this project's own model is trained on), a file header
  then ``<text>`` / ``<cell>`` blocks, plus this project's ``<output>`` block after a code cell.
- ``"script"``: a plain Python script for left-to-right models such as CodeGen; prose becomes ``#`` comments,
  and a request is a comment line followed by its code, as in CodeGen's multi-turn format.

Fitting follows one rule: the request (or the cell being infilled) is never cut; then the variables summary;
then whole cells, nearest first, so the farthest are the ones left out, and the user is told how many.
Special tokens (``<|endoftext|>``, mask or FIM sentinels) are not added here; that is the job of ``formats``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal

from .errors import RequestError

Style = Literal["notebook", "script"]
CellKind = Literal["code", "markdown", "request"]
CountTokens = Callable[[str], int]

NOTEBOOK_HEADER = "<| file ext=.ipynb:python |>\n"
_CELL_OPEN = {"notebook": "<cell>\n", "script": ""}
_CELL_CLOSE = {"notebook": "\n</cell>\n", "script": "\n\n"}


@dataclass
class Cell:
    kind: CellKind
    """A "request" cell is the user's plain-English request to the assistant (a %%codegen cell, a chat message)."""
    source: str
    output: str | None = None
    """Text output of a code cell, already trimmed (see `trim_output`)."""


@dataclass
class FittedContext:
    text: str
    """The document, ending where the model should write."""
    dropped_cells: int
    note: str | None
    """One sentence for the user when something was left out; None when everything fitted."""


@dataclass
class InfillContext:
    parts: list[str]
    """The document split at the current cell's holes: len(parts) == number of holes + 1."""
    dropped_cells: int
    note: str | None


# --- outputs ---------------------------------------------------------------------------------------------

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)


def trim_output(text: str, max_lines: int = 10, max_chars: int = 600) -> str:
    """Keep the head of an output, saying how much was cut.

    The model needs the shape of an output (a table's header, the first values, an error line), not all of it;
    a progress bar's carriage-return redraws keep only their last state and terminal colours are removed.
    """
    text = _ANSI.sub("", text)
    lines = [line.rsplit("\r", 1)[-1] if "\r" in line else line for line in text.split("\n")]
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    full = "\n".join(lines)
    kept = "\n".join(lines[:max_lines])
    if len(kept) > max_chars:
        kept = kept[:max_chars].rstrip()
    if len(kept) == len(full):
        return full
    rest = full[len(kept):]
    if rest.startswith("\n"):  # cut at a line boundary
        n = rest.count("\n")
        return f"{kept}\n... ({n} more line{'s' if n != 1 else ''})"
    return f"{kept}... ({len(rest)} more characters)"


# --- markdown ----------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)(.*?)(?:\s+#+)?\s*$")
_RULE = re.compile(r"^\s{0,3}([-=*_])(?:\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link -> its text
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # HTML tags
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italic; a*b*c stays
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),  # italic; snake_case stays
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
]
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])")
_PRIVATE = 0xE000  # escaped characters hide in the private use area while the patterns run


def _strip_inline(line: str) -> str:
    """Inline formatting removed; code spans keep their text verbatim (``__init__`` stays as it is)."""
    out, pos = [], 0
    for span in _CODE_SPAN.finditer(line):
        out.append(_strip_plain(line[pos:span.start()]))
        out.append(span.group(2).strip() or span.group(2))
        pos = span.end()
    out.append(_strip_plain(line[pos:]))
    return "".join(out)


def _strip_plain(text: str) -> str:
    text = _ESCAPED.sub(lambda m: chr(_PRIVATE + ord(m.group(1))), text)
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return re.sub("[\ue000-\ue07f]", lambda m: chr(ord(m.group()) - _PRIVATE), text)


def markdown_to_text(markdown: str) -> str:
    """Markdown with its formatting removed, as in InCoder's notebook training data.

    InCoder saw markdown cells as plain text, so heading marks, emphasis, link targets and fences are noise
    to it (and to a model trained like it); in the script layout they would also read as odd comments
    (``# # Title``). Lists, numbers, code spans and the words themselves are kept.
    """
    out: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            out.append(line.rstrip())
            continue
        if _RULE.match(line):  # horizontal rule or a setext heading's underline
            continue
        heading = _HEADING.match(line)
        if heading:
            line = heading.group(1)
        out.append(_strip_inline(_QUOTE.sub("", line)).rstrip())
    return _clean(re.sub(r"\n{3,}", "\n\n", "\n".join(out)))


# --- rendering ---------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Text without leading blank lines or trailing whitespace, so cells join with exactly one separator."""
    return re.sub(r"\A(?:[ \t]*\n)+", "", text).rstrip()


def _comment(text: str) -> str:
    return "".join(f"# {line}\n" if line.strip() else "#\n" for line in text.split("\n"))


def _body(cell: Cell) -> str:
    return markdown_to_text(cell.source) if cell.kind == "markdown" else _clean(cell.source)


def _check_style(style: str) -> None:
    if style not in ("notebook", "script"):
        raise ValueError(f"unknown context style {style!r}; expected 'notebook' or 'script'")


def render_cell(cell: Cell, style: Style) -> str:
    """One cell in the given layout, ending with a newline."""
    _check_style(style)
    body = _body(cell)
    output = _clean(cell.output) if cell.kind == "code" and cell.output else ""
    if style == "notebook":
        if cell.kind != "code":
            return f"<text>\n{body}\n</text>\n"
        out = f"<output>\n{output}\n</output>\n" if output else ""
        return f"<cell>\n{body}\n</cell>\n{out}"
    if cell.kind == "request":
        return _comment(body)  # CodeGen multi-turn: the request's code follows directly
    if cell.kind == "markdown":
        return _comment(body) + "\n"
    if not output:
        out = ""
    elif "\n" in output:
        out = "# Out:\n" + _comment(output)
    else:
        out = f"# Out: {output}\n"
    return f"{body}\n{out}\n"


def render_variables(summary: str, style: Style) -> str:
    """The variables summary as a block placed just before the current request or cell."""
    _check_style(style)
    summary = _clean(summary)
    if style == "notebook":
        return f"<text>\nVariables:\n{summary}\n</text>\n"
    return "# Variables:\n" + _comment(summary) + "\n"


def _header(style: Style) -> str:
    return NOTEBOOK_HEADER if style == "notebook" else ""


# --- fitting -----------------------------------------------------------------------------------------------


def _rendered(cells: list[Cell], style: Style) -> list[str]:
    """Rendered cells, leaving out those with nothing to say (blank cells are not counted as dropped)."""
    return [render_cell(c, style) for c in cells if _body(c)]


def _fit(fixed: int, variables: str, nearest_first: list[str], count: CountTokens, budget: int) -> tuple[bool, int]:
    """How much fits beside the fixed part: (keep the variables summary, number of nearest cells kept).

    Each piece is counted once, and counting stops at the first cell that does not fit.
    """
    used = fixed
    keep_vars = False
    if variables:
        n = count(variables)
        if used + n <= budget:
            keep_vars, used = True, used + n
    kept = 0
    for text in nearest_first:
        n = count(text)
        if used + n > budget:
            break
        used += n
        kept += 1
    return keep_vars, kept


def _check_whole(
    assemble: Callable[[int, bool], str | list[str]], kept: int, keep_vars: bool, count: CountTokens, budget: int
) -> tuple[str | list[str], int, bool]:
    """Pieces were counted apart and a tokenizer may merge across a boundary: count the whole document once,
    and in the rare case it is over, leave out one more farthest cell (then the summary) until it fits."""
    while True:
        doc = assemble(kept, keep_vars)
        if (not kept and not keep_vars) or count("".join(doc)) <= budget:
            return doc, kept, keep_vars
        if kept:
            kept -= 1
        else:
            keep_vars = False


def answer_end(style: Style) -> str:
    """What closes an answer cell in the layout (the reviewer reads the code with it)."""
    _check_style(style)
    return _CELL_CLOSE[style]


def build_request_context(
    before: list[Cell],
    request: str,
    style: Style,
    count_tokens: CountTokens,
    budget: int,
    variables: str | None = None,
) -> FittedContext:
    """The cells before a request, the variables summary and the request, ending where the answer goes.

    Notebook layout ends with ``<text>\\n{request}\\n</text>\\n<cell>\\n``; script layout with ``# {request}\\n``.
    """
    _check_style(style)
    if not request.strip():
        raise RequestError("The request is empty; say in words what the code should do.")
    head = _header(style)
    tail = render_cell(Cell("request", request), style) + _CELL_OPEN[style]
    cells = _rendered(before, style)
    vars_text = render_variables(variables, style) if variables and variables.strip() else ""

    fixed = count_tokens(head + tail)
    if fixed > budget:
        raise RequestError(
            f"The request needs about {fixed} tokens but the model reads at most {budget} here; "
            "shorten the request or choose a model with a longer context."
        )
    nearest_first = cells[::-1]
    keep_vars, kept = _fit(fixed, vars_text, nearest_first, count_tokens, budget)

    def assemble(kept: int, keep_vars: bool) -> str:
        return head + "".join(cells[len(cells) - kept:]) + (vars_text if keep_vars else "") + tail

    text, kept, keep_vars = _check_whole(assemble, kept, keep_vars, count_tokens, budget)

    dropped = len(cells) - kept
    pieces = []
    if dropped:
        if dropped == len(cells):
            pieces.append("the one earlier cell" if dropped == 1 else f"all {dropped} earlier cells")
        else:
            pieces.append(("the oldest" if dropped == 1 else f"the {dropped} oldest") + f" of {len(cells)} cells")
    if vars_text and not keep_vars:
        pieces.append("the variables summary")
    note = f"Left out {' and '.join(pieces)} so the prompt fits in {budget} tokens." if pieces else None
    return FittedContext(text=text, dropped_cells=dropped, note=note)


def build_infill_context(
    before: list[Cell],
    cell_parts: list[str],
    after: list[Cell],
    style: Style,
    count_tokens: CountTokens,
    budget: int,
    variables: str | None = None,
) -> InfillContext:
    """The notebook around a cell with holes, split at the holes.

    ``cell_parts`` is the current cell's code split at its holes. ``parts[0]`` is everything before the cell,
    the cell's opening and ``cell_parts[0]``; ``parts[-1]`` is ``cell_parts[-1]``, the cell's closing and the
    cells after; the middle parts are unchanged. Cells farthest from the current one, above or below, are left
    out first (below first on a tie: the code above usually defines what the cell uses). The markers that
    `formats` puts at the holes are not counted here: leave room for them in `budget`.
    """
    _check_style(style)
    if not cell_parts:
        raise ValueError("cell_parts must hold at least one part")
    head = _header(style)
    opening, closing = _CELL_OPEN[style], _CELL_CLOSE[style]
    # Trim blank lines at the cell's edges, as render_cell does; the text around the holes stays as typed.
    first = re.sub(r"\A(?:[ \t]*\n)+", "", cell_parts[0])
    if len(cell_parts) == 1:
        first = first.rstrip()
    middle, last = cell_parts[1:-1], cell_parts[-1].rstrip()
    above = _rendered(before, style)
    below = _rendered(after, style)
    vars_text = render_variables(variables, style) if variables and variables.strip() else ""

    code = first if len(cell_parts) == 1 else first + "".join(middle) + last
    fixed = count_tokens(head + opening + code + closing)
    if fixed > budget:
        raise RequestError(
            f"This cell needs about {fixed} tokens but the model reads at most {budget} here; "
            "split or shorten the cell, or choose a model with a longer context."
        )

    # Nearest first, alternating sides; on equal distance the cell above comes first (is kept longer).
    order: list[tuple[str, str]] = []
    for d in range(max(len(above), len(below))):
        if d < len(above):
            order.append(("above", above[len(above) - 1 - d]))
        if d < len(below):
            order.append(("below", below[d]))
    keep_vars, kept = _fit(fixed, vars_text, [t for _, t in order], count_tokens, budget)

    def assemble(kept: int, keep_vars: bool) -> list[str]:
        n_above = sum(1 for side, _ in order[:kept] if side == "above")
        left = head + "".join(above[len(above) - n_above:]) + (vars_text if keep_vars else "") + opening
        right = closing + "".join(below[: kept - n_above])
        if len(cell_parts) == 1:
            return [left + first + right]
        return [left + first, *middle, last + right]

    parts, kept, keep_vars = _check_whole(assemble, kept, keep_vars, count_tokens, budget)

    n_above = sum(1 for side, _ in order[:kept] if side == "above")
    dropped_above, dropped_below = len(above) - n_above, len(below) - (kept - n_above)
    dropped = dropped_above + dropped_below
    pieces = []
    if dropped:
        total = len(above) + len(below)
        sides = ", ".join(f"{n} {side}" for n, side in ((dropped_above, "above"), (dropped_below, "below")) if n)
        if dropped == total:
            pieces.append(("the one other cell" if total == 1 else f"all {total} other cells") + f" ({sides})")
        else:
            farthest = "the farthest" if dropped == 1 else f"the {dropped} farthest"
            pieces.append(f"{farthest} of {total} cells ({sides})")
    if vars_text and not keep_vars:
        pieces.append("the variables summary")
    note = f"Left out {' and '.join(pieces)} so the prompt fits in {budget} tokens." if pieces else None
    return InfillContext(parts=parts, dropped_cells=dropped, note=note)
