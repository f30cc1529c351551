"""Coder-reviewer reranking: prefer the candidate that best explains the request it answers.

Ranking candidates by log p(code | request) alone favours short, generic code the model writes for any request
(`df.head()`, the first column it sees). Zhang et al. (2023, "Coder-Reviewer Reranking for Code Generation")
add the reverse direction, log p(request | code): code that uses the columns and operations the request names
makes the request likely, generic code does not. They normalise each direction by its length and add them.

A causal-masking or fill-in-the-middle model gives the reverse direction without a second model or a prompt it
was never taught: the request's text slot is masked and the model fills it, seeing the context before it and the
candidate's code after it, exactly the layout it was trained to infill.
"""

from __future__ import annotations

from collections.abc import Sequence

from .engine import Engine
from .errors import RequestError

RANKINGS: tuple[str, ...] = ("likelihood", "reviewer")
"""likelihood: mean log p(code | request); reviewer: that plus mean log p(request | code)."""


def can_review(engine: Engine) -> bool:
    """Only models that fill a hole in place (their format knows how a fill ends) can read the request after the
    code."""
    return engine.format.fill_end is not None


def request_logprobs(engine: Engine, context: str, request: str, codes: Sequence[str], cell_end: str) -> list[float]:
    """Mean log p(request | context, code) per request token, for each code.

    `context` is the prompt the codes continue (it ends with the request and the opening of the answer);
    `cell_end` closes the answer as the document layout does. The request's last occurrence is masked.
    """
    at = context.rfind(request)
    if not request or at < 0:
        raise ValueError("the request is not in the context")
    fmt = engine.format
    left, after = context[:at], context[at + len(request):]
    fill = request + (fmt.fill_end or "")
    per_token = max(1, engine.count_tokens(fill))
    scores: dict[str, float] = {}
    for code in dict.fromkeys(c.rstrip("\n") for c in codes):  # candidates often repeat: score each text once
        prompt = fmt.infill_prompt([left, after + code + cell_end], []).text
        [total] = engine.score(prompt, [fill])
        scores[code] = total / per_token
    return [scores[c.rstrip("\n")] for c in codes]


def reviewer_scores(engine: Engine, context: str, request: str, codes: Sequence[str], cell_end: str) -> tuple[list[float] | None, str | None]:
    """The reverse-direction scores, or None and a note saying why the candidates are ranked by likelihood alone."""
    if not can_review(engine):
        return None, (f"The {engine.format.name} prompt format cannot fill the request slot, so the candidates are "
                      "ranked by likelihood alone; use a model with infilling tokens for --rank reviewer.")
    if context.rfind(request) < 0:  # a script-style prompt writes a request of several lines as comments
        return None, ("This model's prompt layout does not keep a request of several lines as one span, so the "
                      "candidates are ranked by likelihood alone; put the request on one line for --rank reviewer.")
    try:
        return request_logprobs(engine, context, request, codes, cell_end), None
    except RequestError:
        return None, ("The context with a candidate after the request is longer than the model reads, so the "
                      "candidates are ranked by likelihood alone; lower CodeGen.max_context_tokens for --rank reviewer.")
