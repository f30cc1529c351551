"""Filling holes in code, whatever the model can do.

Three methods, as in the InCoder paper: causal masking / fill-in-the-middle where the model has infill tokens
(using the code on both sides), and for plain left-to-right models either left-to-right single (continue the
code before the hole) or left-to-right reranking (sample K continuations, keep the one that makes the whole
text, right side included, most likely).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from .engine import Completion, Engine, GenerationOptions, TextCallback
from .errors import RequestError
from .fill_trim import trim_fill
from .indentation import fit_indentation, indent_width

Method = Literal["auto", "infill", "left-to-right", "rerank"]
METHODS: tuple[str, ...] = ("auto", "infill", "left-to-right", "rerank")
RERANK_TEMPERATURE = 0.8  # the InCoder/CodeGen papers' setting for many candidates
RERANK_TOP_P = 0.95


@dataclass
class InfillResult:
    fills: list[str]
    method: str
    """What was used, in words: "causal masking", "fill-in-the-middle", "left-to-right single", "left-to-right reranking"."""
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False
    last_candidates: list[Completion] = field(default_factory=list)
    """Every candidate sampled for the last hole (causal masking or fill-in-the-middle), best first."""


def split_holes(code: str, marker: str) -> list[str]:
    if not marker:
        raise RequestError("CodeGen.infill_marker is empty; set it to the text that marks a hole, such as <FILL>.")
    return code.split(marker)


def merge(parts: list[str], fills: list[str]) -> str:
    out = [parts[0]]
    for fill, part in zip(fills, parts[1:]):
        out += [fill, part]
    return "".join(out)


def is_inline(left: str) -> bool:
    """A hole that continues a line of code (rather than starting one) ends with that line."""
    return bool(left) and not left.endswith("\n")


def cut_left_to_right(text: str, left: str, right: str, max_lines: int | None = None) -> str:
    """Where a left-to-right continuation ends, judged from the code around the hole.

    An inline hole takes the rest of its line. A hole that starts a line keeps whole lines until one repeats the
    first line of the right side, dedents past both it and the fill's own first line (a hole may open the block
    the right side continues: `for x in xs:` above an indented body), or `max_lines` is reached.
    """
    if is_inline(left):
        return text.split("\n", 1)[0]
    anchor = next((line for line in right.split("\n") if line.strip()), None)
    first = next((line for line in text.split("\n") if line.strip()), None)
    floor = None if anchor is None else min(indent_width(anchor),
                                            indent_width(first) if first is not None else indent_width(anchor))
    kept: list[str] = []
    for line in text.split("\n"):
        if line.strip() and anchor is not None:
            if line.strip() == anchor.strip() or indent_width(line) < floor:
                break
        kept.append(line)
        if max_lines is not None and sum(1 for k in kept if k.strip()) >= max_lines:
            break
    body = "\n".join(kept).rstrip()
    if not body.strip():
        return ""
    # The right side either starts with the line break that ends the hole, or on the next line.
    return body if right.startswith("\n") or not right else body + "\n"


def first_lines(text: str, count: int) -> str:
    """`text` up to and including the end of its `count`-th non-blank line."""
    offset, seen = 0, 0
    for line in text.splitlines(keepends=True):
        offset += len(line)
        seen += bool(line.strip())
        if seen >= count:
            return text[:offset]
    return text


def resolve_method(engine: Engine, method: Method) -> tuple[str, list[str]]:
    if method == "auto":
        method = "infill" if engine.format.can_infill else "rerank"
    notes = []
    if method == "infill" and not engine.format.can_infill:
        raise RequestError(
            f"The model {engine.name} has no infill tokens; set CodeGen.infill_method to 'rerank' or 'left-to-right'."
        )
    if not engine.format.can_infill:
        notes.append(
            f"The model {engine.name} cannot fill holes using the code after them, so each hole was filled "
            f"{'left to right with reranking' if method == 'rerank' else 'left to right'}."
        )
    return method, notes


def fill_holes(
    engine: Engine,
    parts: list[str],
    options: GenerationOptions,
    *,
    method: Method = "auto",
    candidates: int = 10,
    on_text: TextCallback | None = None,
    cancel: threading.Event | None = None,
    max_lines: int | None = None,
    code_parts: list[str] | None = None,
    fit: bool = True,
    trim: bool = True,
) -> InfillResult:
    """Fills the len(parts) - 1 holes between `parts`, in order, each fill seen by the next.

    `on_text` is called with (hole index, new text) as the fill of a hole streams. `max_lines` caps each fill's
    lines. `code_parts` are the holes' own code where `parts` carry more around it (a notebook's other cells);
    with `fit`, a fill that starts a line and breaks that code's indentation moves to a depth that parses
    (indentation.fit_indentation); with `trim`, a fill inside a line that repeats what follows the hole is cut
    where the code compiles again (fill_trim.trim_fill).
    """
    if len(parts) < 2:
        raise RequestError("There is no hole to fill; mark each hole with CodeGen.infill_marker (by default <FILL>).")
    method, notes = resolve_method(engine, method)
    fills: list[str] = []
    completions: list[Completion] = []
    cancelled = False
    for hole in range(len(parts) - 1):
        stream = None
        if on_text is not None:
            def stream(index: int, delta: str, hole: int = hole) -> None:
                if index == 0:
                    on_text(hole, delta)
        hole_options = options
        if options.columns:
            # The guard reads the code on the hole's line before it: `sales.groupby(<FILL>` names a column.
            left = "".join(p + f for p, f in zip(parts[: hole + 1], fills + [""]))
            # A fill in place sees the right side, which closes what the line left open (the fill may not); a
            # left-to-right continuation writes the rest of the line and is cut there.
            right = "".join(parts[hole + 1:]) if method == "infill" else ""
            hole_options = options.with_(columns=options.columns.after(left, right))
        if method == "infill":
            completions = _fill_in_place(engine, parts, fills, hole_options, stream, cancel)
            completion = completions[0]
        else:
            completion = _fill_left_to_right(engine, parts, fills, hole_options, method, candidates, stream, cancel,
                                             max_lines)
        text = completion.text
        if method == "infill" and max_lines is not None:
            text = first_lines(text, max_lines)
        if (fit or trim) and completion.finish_reason != "cancelled":
            code = code_parts if code_parts is not None else parts
            before, after = merge(code[: hole + 1], fills), "".join(code[hole + 1:])
            if fit:
                text = fit_indentation(before, text, after)
            if trim:
                text = trim_fill(before, text, after)
        fills.append(text)
        if completion.finish_reason == "cancelled":
            cancelled = True
            break
    words = {
        "infill": "causal masking" if engine.format.infill == "causal-masking" else "fill-in-the-middle",
        "left-to-right": "left-to-right single",
        "rerank": f"left-to-right reranking ({candidates} candidates)",
    }[method]
    return InfillResult(fills=fills, method=words, notes=notes, cancelled=cancelled,
                        last_candidates=completions if method == "infill" else [])


def _fill_in_place(engine, parts, fills, options, on_text, cancel) -> list[Completion]:
    """Every candidate for the next hole, the likeliest first.

    A hole inside a line ends with that line, as a left-to-right fill does (cut_left_to_right): a small model
    otherwise runs on past it and writes what it saw last, such as the variables summary, into `sort_values(`.
    """
    prompt = engine.format.infill_prompt(parts, fills)
    left = "".join(p + f for p, f in zip(parts[: len(fills) + 1], fills + [""]))
    line_end = ("\n",) if is_inline(left) else ()
    completions = engine.generate(prompt.text, options.with_(stop=line_end + prompt.stop + options.stop), on_text, cancel)
    return sorted(completions, key=lambda c: -c.mean_logprob)


def _fill_left_to_right(engine, parts, fills, options, method, candidates, on_text, cancel, max_lines) -> Completion:
    hole = len(fills)
    left = "".join(p + f for p, f in zip(parts[: hole + 1], fills + [""]))
    right = "".join(parts[hole + 1 :])
    prompt = engine.format.continuation(left)
    # End of text, and in a notebook document any cell tag, ends the fill; a script's turn stops ("\n#", ...) do
    # not, since a block hole may hold comments.
    ends = prompt.stop if engine.format.document == "notebook" else tuple(engine.format.end)
    stops = (("\n",) if is_inline(left) else ()) + ends
    if method == "left-to-right":
        [completion] = engine.generate(prompt.text, options.with_(n=1, stop=stops + options.stop), on_text, cancel)
        completion.text = cut_left_to_right(completion.text, left, right, max_lines)
        return completion
    sampled = engine.generate(
        prompt.text,
        options.with_(n=candidates, temperature=RERANK_TEMPERATURE, top_p=RERANK_TOP_P, stop=stops + options.stop),
        None,
        cancel,
    )
    if any(c.finish_reason == "cancelled" for c in sampled):
        return Completion(text="", finish_reason="cancelled")
    for c in sampled:
        c.text = cut_left_to_right(c.text, left, right, max_lines)
    unique = list({c.text: c for c in sampled}.values())
    scores = engine.score(prompt.text, [c.text + right for c in unique])
    best = unique[max(range(len(unique)), key=scores.__getitem__)]
    if on_text is not None and best.text:
        on_text(0, best.text)
    return best
