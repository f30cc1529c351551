"""The core of a turn, free of IPython: context -> format -> engine -> postprocess.

The magics, the server extension and the chat all call these functions, so every surface builds the same prompt
and cleans the answer the same way: `codegen` (a request), `infill` (holes), `fix` (a failed cell) and `explain`.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Callable

from .column_guard import known_columns, request_count
from .column_linking import grouping_columns, linked_columns
from .context import Cell, answer_end, build_infill_context, build_request_context
from .engine import Completion, Engine, GenerationOptions
from .errors import RequestError
from .fix import Failure, error_comment, fix_request, split_at_failure
from .infill import Method, cut_left_to_right, fill_holes, merge, split_holes
from .operation_linking import linked_operations
from .value_linking import request_values
from .postprocess import missing_imports, names_bound_by, split_cells, tidy_code
from .reviewer import reviewer_scores

UpdateCallback = Callable[[str], None]
"""Called with the whole answer so far, each time it grows (for live display)."""

_NAME = re.compile(r"[A-Za-z_]\w*")
SAMPLING_TEMPERATURE = 0.8  # used when several candidates are asked for at temperature 0
MIN_PROMPT_TOKENS = 32
HOLE = "\x00hole\x00"
"""Marks the one hole of a fix or an explanation: a string no cell contains."""


@dataclass(frozen=True)
class Alternative:
    """One candidate answer, whole: what `--check` runs and ranks."""

    code: str
    logprob: float | None
    """Mean log-probability per token under the model; None for a candidate the model did not write."""
    origin: str = "model"
    reviewer: float | None = None
    """Mean log p(request | code) per request token, where the candidates were ranked by it (--rank reviewer)."""


@dataclass
class Answer:
    code: str
    """The new cell (codegen) or the cell with its holes filled (infill)."""
    cells: list[str]
    prompt: str
    """Exactly what the model read (for the last hole, in infill)."""
    method: str
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False
    candidates: list[Completion] = field(default_factory=list)
    fills: list[str] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    """Every distinct whole answer, the chosen one first."""


def prompt_budget(
    engine: Engine, options: GenerationOptions, max_context_tokens: int, answers: int = 1
) -> tuple[int, GenerationOptions]:
    """Splits the model's window between the prompt and the answers; the answers get at most half.

    Infill keeps each filled hole in the prompt for the next one, so `answers` holes need room in the window.
    """
    window = min(engine.context_window, max_context_tokens + options.max_new_tokens * answers)
    max_new = min(options.max_new_tokens, max(1, window // (2 * answers)))
    return max(MIN_PROMPT_TOKENS, window - max_new * answers), options.with_(max_new_tokens=max_new)


def _with_columns(
    options: GenerationOptions, variables: str | None, before: list[Cell], also: str = "", whole: bool = False,
    nonempty: bool = False, count: int | None = None, request: str = "",
) -> GenerationOptions:
    """Options that keep column literals to the frames' real columns, as the variables summary lists them, and
    frame names to names the notebook has: the summary's, the context cells' bindings, and every name in `also`
    (an infill cell's own code, which may bind names above the hole). `whole`: the answer is a whole cell, which
    may not end inside a bracket or a string. `nonempty`: the answer fills a hole the user marked (at a column
    argument it names a column). `count`: the number of rows the request asks for. `request`: its words link the
    columns they name (column_linking), which the guard then prefers by `options.link_columns` nats, the
    aggregations they ask for (operation_linking), by `options.link_operations` nats, and the values they compare
    with (value_linking), by `options.link_values` nats."""
    if not options.guard_columns or options.columns is not None:
        return options
    known = known_columns(variables)
    known = replace(known.with_names(_defined_names(before, variables) | set(_NAME.findall(also))), whole=whole,
                    nonempty=nonempty, count=count)
    names = [c for _, columns in known.frames for c in columns]
    if request and options.link_columns > 0:
        linked = linked_columns(request, names)
        known = replace(known, linked=tuple((c, w * options.link_columns) for c, w in linked.items()),
                        linked_keys=tuple(sorted(grouping_columns(request, linked))))
    if request and options.link_operations > 0:
        known = replace(known, linked_methods=tuple(
            (method, options.link_operations) for method in linked_operations(request, names)))
    if request and options.link_values > 0:
        numbers, texts = request_values(request, names)
        known = replace(known, linked_values=tuple(
            [(n, options.link_values) for n in numbers] + [(f'"{t}"', options.link_values) for t in texts]))
    return options.with_(columns=known) if known else options


def _defined_names(before: list[Cell], variables: str | None) -> set[str]:
    """Names the notebook already has: bound by the code cells in the context, or listed in the variables summary
    (which leaves modules out, hence the cells)."""
    listed = {line.split(":", 1)[0] for line in (variables or "").splitlines() if ":" in line}
    return names_bound_by(c.source for c in before if c.kind == "code") | listed


def _sampling(options: GenerationOptions) -> GenerationOptions:
    if options.n > 1 and options.greedy:
        return options.with_(temperature=SAMPLING_TEMPERATURE)
    return options


def _candidates(engine: Engine, prompt: str, asked: GenerationOptions, options: GenerationOptions,
                on_text: Callable[[int, str], None], cancel: threading.Event | None) -> list[Completion]:
    """The completions to choose from. Several candidates asked for at temperature 0 are the greedy answer and
    n - 1 samples: the answer one would get without -n stays among them, so reranking or --check can only
    replace it with a candidate they prefer, never lose it."""
    if options.n == 1 or not asked.greedy:
        return engine.generate(prompt, options, on_text, cancel)
    first = engine.generate(prompt, asked.with_(n=1), on_text, cancel)
    if first[0].finish_reason == "cancelled":
        return first
    return first + engine.generate(prompt, options.with_(n=options.n - 1), on_text, cancel)


def codegen(
    engine: Engine,
    request: str,
    before: list[Cell],
    options: GenerationOptions,
    *,
    variables: str | None = None,
    max_context_tokens: int = 2048,
    on_update: UpdateCallback | None = None,
    cancel: threading.Event | None = None,
    rank: str = "likelihood",
) -> Answer:
    """Code for a plain-English request, seeing the conversation and the cells before it.

    Of several candidates the best by `rank` is kept (see `reviewer.RANKINGS`)."""
    if not request.strip():
        raise RequestError("The request is empty; write in the cell what the code should do.")
    budget, options = prompt_budget(engine, options, max_context_tokens)
    fmt = engine.format
    context = build_request_context(before, request.strip(), fmt.document, engine.count_tokens, budget, variables)
    prompt = fmt.continuation(context.text)
    asked = _with_columns(options, variables, before, whole=True, count=request_count(request),
                          request=request).with_(
        stop=prompt.stop + options.stop)
    options = _sampling(asked)
    text_so_far: list[str] = []

    def on_text(index: int, delta: str) -> None:
        if index == 0 and options.n == 1 and on_update is not None:
            text_so_far.append(delta)
            on_update("".join(text_so_far))

    completions = _candidates(engine, prompt.text, asked, options, on_text, cancel)
    notes = [context.note] if context.note else []
    cancelled = any(c.finish_reason == "cancelled" for c in completions)
    reviews: list[float] | None = None
    if rank == "reviewer" and len(completions) > 1 and not cancelled:
        reviews, why = reviewer_scores(engine, context.text, request.strip(), [c.text for c in completions],
                                       answer_end(fmt.document))
        notes += [why] if why else []
    scores = [c.mean_logprob + (reviews[i] if reviews else 0.0) for i, c in enumerate(completions)]
    order = sorted(range(len(completions)), key=lambda i: -scores[i])
    best = completions[order[0]]
    known = _defined_names(before, variables)
    code, imports = _with_imports(tidy_code(best.text), known)
    if imports:
        notes.append(f"Added {'; '.join(imports)}: the code uses it and no cell before imports it.")
    cells = [tidy_code(c) for c in split_cells(code)]
    method = "left-to-right"
    if options.n > 1:
        drawn = f"the greedy answer and {options.n - 1} samples" if asked.greedy else f"{options.n} samples"
        by = "mean log-probability of the code plus that of the request read after it (coder-reviewer)" if reviews \
            else "mean log-probability"
        method = f"best of {options.n} candidates ({drawn}) by {by}"
    elif options.num_beams > 1 and options.greedy:
        method = f"left-to-right, beam search with {options.num_beams} beams"
    if cancelled:
        notes.append(f"Stopped: kept the {len(best.token_ids)} tokens generated so far.")
    elif best.finish_reason == "length":
        notes.append(f"The answer reached the {options.max_new_tokens}-token limit and may be cut short; raise --max-new-tokens.")
    # Each alternative as it would be inserted (with its imports), so that --check runs what the user would get.
    alternatives = _distinct([Alternative(_with_imports(tidy_code(completions[i].text), known)[0],
                                          completions[i].mean_logprob, reviewer=reviews[i] if reviews else None)
                              for i in order])
    return Answer(code, cells, prompt.text, method, notes, cancelled, completions, alternatives=alternatives)


def _with_imports(code: str, known: set[str]) -> tuple[str, list[str]]:
    """The code with the conventional imports it uses and no earlier cell made, and those imports."""
    imports = missing_imports(code, known)
    return ("\n".join(imports) + "\n" + code if imports else code), imports


def _distinct(alternatives: list[Alternative]) -> list[Alternative]:
    seen: dict[str, Alternative] = {}
    for a in alternatives:
        if a.code.strip() and a.code.strip() not in seen:
            seen[a.code.strip()] = a
    return list(seen.values())


def infill(
    engine: Engine,
    code: str,
    marker: str,
    before: list[Cell],
    after: list[Cell],
    options: GenerationOptions,
    *,
    variables: str | None = None,
    method: Method = "auto",
    candidates: int = 10,
    max_context_tokens: int = 2048,
    on_update: UpdateCallback | None = None,
    cancel: threading.Event | None = None,
    nonempty: bool = True,
    fit_indentation: bool = True,
    trim_fills: bool = True,
) -> Answer:
    """The cell with every hole filled, using the code on both sides and the cells around it. `nonempty`: no hole
    is left empty (a hole the user marked asks for code; a fix may delete its line). `fit_indentation`: a fill that
    starts a line is moved to a depth at which the cell parses, where its own does not. `trim_fills`: a fill inside
    a line that repeats the code after its hole is cut where the cell compiles again."""
    cell_parts = split_holes(code, marker)
    if len(cell_parts) < 2:
        raise RequestError(f"The cell has no {marker} hole to fill; put {marker} where code is missing.")
    budget, options = prompt_budget(engine, _sampling(options), max_context_tokens, answers=len(cell_parts) - 1)
    fmt = engine.format
    context = build_infill_context(before, cell_parts, after, fmt.document, engine.count_tokens, budget, variables)
    streamed: dict[int, str] = {}

    def on_text(hole: int, delta: str) -> None:
        if on_update is not None:
            streamed[hole] = streamed.get(hole, "") + delta
            holes = len(cell_parts) - 1
            on_update(merge(cell_parts, [streamed.get(h, marker) for h in range(holes)]))

    guarded = _with_columns(options, variables, before, "\n".join(cell_parts), nonempty=nonempty)
    result = fill_holes(engine, context.parts, guarded, method=method, candidates=candidates, on_text=on_text,
                        cancel=cancel, code_parts=cell_parts, fit=fit_indentation,
                        trim=trim_fills)
    fills = result.fills + [marker] * (len(cell_parts) - 1 - len(result.fills))
    filled = merge(cell_parts, fills)
    notes = ([context.note] if context.note else []) + result.notes
    if result.cancelled:
        notes.append("Stopped: holes not filled yet keep their marker.")
    last_hole = result.fills[:-1] if result.fills else []
    last_prompt = (
        fmt.infill_prompt(context.parts, last_hole).text if fmt.can_infill else fmt.continuation(context.parts[0]).text
    )
    return Answer(filled, [filled], last_prompt, result.method, notes, result.cancelled, result.last_candidates,
                  fills=result.fills)


def fix(
    engine: Engine,
    failure: Failure,
    before: list[Cell],
    options: GenerationOptions,
    *,
    variables: str | None = None,
    max_context_tokens: int = 2048,
    on_update: UpdateCallback | None = None,
    cancel: threading.Event | None = None,
) -> Answer:
    """A corrected version of the failing cell.

    A model that can infill rewrites only the failing line, seeing the cell around it and a comment that says what
    went wrong (so it is not asked to write the same line again); otherwise the model writes the whole cell anew
    from a request that quotes it and its error.
    """
    head, line, tail = split_at_failure(failure)
    if not (engine.format.can_infill and failure.line is not None):
        answer = codegen(
            engine, fix_request(failure), before, options, variables=variables,
            max_context_tokens=max_context_tokens, on_update=on_update, cancel=cancel,
        )
        answer.method = f"whole cell rewritten ({answer.method})"
        return answer
    indent = line[: len(line) - len(line.lstrip())]
    left = head + error_comment(failure, indent) + indent
    answer = infill(
        engine, left + HOLE + tail, HOLE, before, [], options, variables=variables, method="infill",
        max_context_tokens=max_context_tokens, cancel=cancel, nonempty=False,
    )
    # The hole stands for one line (or the statement the line opens): a fill that runs on to write more is cut there.
    written = [
        Alternative(head + indent + cut_left_to_right(c.text, left, tail, max_lines=line.count("\n") + 1).strip("\n") + tail,
                    c.mean_logprob)
        for c in (answer.candidates or [])
    ]
    suggested = failure.suggested_line(line)
    offered = written + ([Alternative(head + suggested + tail, None, "the nearest existing name")] if suggested else [])
    # A cell ends without trailing blank lines, however the failing source arrived (a cell magic's body ends in one).
    alternatives = rank_fixes(_distinct([replace(a, code=a.code.rstrip()) for a in offered]), failure.source)
    notes = list(answer.notes)
    if not alternatives:
        notes.append("The model wrote the failing line again or nothing at all; ask for more candidates with -n 5.")
    fixed = alternatives[0].code if alternatives else failure.source
    if on_update is not None:
        on_update(fixed)
    method = f"line {failure.line + 1} rewritten ({answer.method})"
    if alternatives and alternatives[0].origin != "model":
        method = f"line {failure.line + 1} rewritten ({alternatives[0].origin})"
    return Answer(fixed, [fixed], answer.prompt, method, notes, answer.cancelled, answer.candidates, answer.fills,
                  alternatives)


def rank_fixes(alternatives: list[Alternative], original: str) -> list[Alternative]:
    """Fixes that change the cell at all, those closest to what the user wrote first (the cell says what they
    meant), then the likelier under the model."""
    changed = [a for a in alternatives if a.code.strip() != original.strip()]
    return sorted(changed, key=lambda a: (-closeness(a.code, original), -(a.logprob if a.logprob is not None else -1e9)))


def closeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def explain(
    engine: Engine,
    code: str,
    before: list[Cell],
    options: GenerationOptions,
    *,
    method: Method = "auto",
    candidates: int = 10,
    max_context_tokens: int = 2048,
    cancel: threading.Event | None = None,
) -> Answer:
    """One plain-English sentence about `code`, so it works with code models that were never taught to chat.

    The InCoder paper writes docstrings by filling the slot where one goes; in a notebook the plain-English slot
    before a cell is the request it answers (a text cell; a comment in script-style prompts), so the model fills
    that, seeing the cells before and the code after.
    """
    if not code.strip():
        raise RequestError("There is no code to explain; run a cell first, or put the code in the %%codegen --explain cell.")
    budget, short = prompt_budget(engine, options.with_(max_new_tokens=min(options.max_new_tokens, 32)), max_context_tokens)
    context = build_infill_context(
        [*before, Cell("request", HOLE)], [code.strip("\n")], [], engine.format.document, engine.count_tokens, budget
    )
    parts = context.parts[0].split(HOLE)
    if len(parts) != 2:
        raise RequestError("The cell is too long to explain within CodeGen.max_context_tokens; raise it, or explain a shorter cell.")
    # The slot is a sentence, not code: there is no indentation to fit.
    result = fill_holes(engine, parts, short, method=method, candidates=candidates, cancel=cancel, fit=False,
                        trim=False)
    fill = result.fills[0] if result.fills else ""
    sentence = " ".join(fill.strip().split("\n", 1)[0].lstrip("#").split())
    if sentence:
        sentence = sentence[0].upper() + sentence[1:]
        sentence += "" if sentence[-1] in ".!?" else "."
    fmt = engine.format
    prompt = fmt.infill_prompt(parts, []).text if fmt.can_infill else fmt.continuation(parts[0]).text
    notes = list(result.notes)
    if not sentence:
        notes.append("The model wrote no explanation for this code; try another model with --model.")
    return Answer(sentence, [], prompt, result.method, notes, result.cancelled, fills=result.fills)
