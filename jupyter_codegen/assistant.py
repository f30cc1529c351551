"""The core of a turn, free of IPython: context -> format -> engine -> postprocess.

The magics, the server extension and the chat all call these two functions, so every surface builds the same
prompt and cleans the answer the same way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from .context import Cell, build_infill_context, build_request_context
from .engine import Completion, Engine, GenerationOptions
from .errors import RequestError
from .infill import Method, fill_holes, merge, split_holes
from .postprocess import split_cells, tidy_code

UpdateCallback = Callable[[str], None]
"""Called with the whole answer so far, each time it grows (for live display)."""

SAMPLING_TEMPERATURE = 0.8  # used when several candidates are asked for at temperature 0
MIN_PROMPT_TOKENS = 32


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


def prompt_budget(
    engine: Engine, options: GenerationOptions, max_context_tokens: int, answers: int = 1
) -> tuple[int, GenerationOptions]:
    """Splits the model's window between the prompt and the answers; the answers get at most half.

    Infill keeps each filled hole in the prompt for the next one, so `answers` holes need room in the window.
    """
    window = min(engine.context_window, max_context_tokens + options.max_new_tokens * answers)
    max_new = min(options.max_new_tokens, max(1, window // (2 * answers)))
    return max(MIN_PROMPT_TOKENS, window - max_new * answers), options.with_(max_new_tokens=max_new)


def _sampling(options: GenerationOptions) -> GenerationOptions:
    if options.n > 1 and options.greedy:
        return options.with_(temperature=SAMPLING_TEMPERATURE)
    return options


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
) -> Answer:
    """Code for a plain-English request, seeing the conversation and the cells before it."""
    if not request.strip():
        raise RequestError("The request is empty; write in the cell what the code should do.")
    budget, options = prompt_budget(engine, options, max_context_tokens)
    fmt = engine.format
    context = build_request_context(before, request.strip(), fmt.document, engine.count_tokens, budget, variables)
    prompt = fmt.continuation(context.text)
    options = _sampling(options).with_(stop=prompt.stop + options.stop)
    text_so_far: list[str] = []

    def on_text(index: int, delta: str) -> None:
        if index == 0 and options.n == 1 and on_update is not None:
            text_so_far.append(delta)
            on_update("".join(text_so_far))

    completions = engine.generate(prompt.text, options, on_text, cancel)
    best = max(completions, key=lambda c: c.mean_logprob)
    code = tidy_code(best.text)
    cells = [tidy_code(c) for c in split_cells(code)]
    notes = [context.note] if context.note else []
    method = "left-to-right"
    if options.n > 1:
        method = f"best of {options.n} candidates by mean log-probability"
    cancelled = any(c.finish_reason == "cancelled" for c in completions)
    if cancelled:
        notes.append(f"Stopped: kept the {len(best.token_ids)} tokens generated so far.")
    elif best.finish_reason == "length":
        notes.append(f"The answer reached the {options.max_new_tokens}-token limit and may be cut short; raise --max-new-tokens.")
    return Answer(code, cells, prompt.text, method, notes, cancelled, completions)


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
) -> Answer:
    """The cell with every hole filled, using the code on both sides and the cells around it."""
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

    result = fill_holes(engine, context.parts, options, method=method, candidates=candidates, on_text=on_text, cancel=cancel)
    fills = result.fills + [marker] * (len(cell_parts) - 1 - len(result.fills))
    filled = merge(cell_parts, fills)
    notes = ([context.note] if context.note else []) + result.notes
    if result.cancelled:
        notes.append("Stopped: holes not filled yet keep their marker.")
    last_hole = result.fills[:-1] if result.fills else []
    last_prompt = (
        fmt.infill_prompt(context.parts, last_hole).text if fmt.can_infill else fmt.continuation(context.parts[0]).text
    )
    return Answer(filled, [filled], last_prompt, result.method, notes, result.cancelled, fills=result.fills)
