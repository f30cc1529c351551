"""Beam search that keeps to the column guard: the likeliest whole answer rather than the likeliest next token.

Greedy decoding commits to each token at once, and a small model that takes one wrong turn early (`plt.hist(` where
`df["x"].plot.hist(` was likelier as a whole) is stuck with it. On the held-out tables the reference answer was
likelier than the greedy one under the model's own scores for 13 of 52 failures (benchmarks/search_errors.py), so
a wider search can find better answers without a better model. Each beam has its own copy of the guard's scanner
(`ColumnGuard.branch`), so every beam is restricted as a lone greedy answer would be. A beam that reads a column
the frame lacks at the start of a statement, which greedy decoding would rewind and write again, is dropped
instead: the other beams go on.

Written against three callables, not an engine, so that it can be tested with a fake model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .column_guard import ColumnGuard
from .sampling import log_softmax

Step = Callable[[np.ndarray, Sequence[int]], np.ndarray]
"""(next token of each beam, the beam each new row continues) -> next-token logits, one row per beam."""


@dataclass
class Beam:
    tokens: list[int] = field(default_factory=list)
    logprob: float = 0.0
    text: str = ""
    finish_reason: str = "length"
    end_logprob: float = 0.0
    """The log-probability of ending where it ended: not part of the text, but what ending there cost."""

    def score(self, length_penalty: float) -> float:
        return (self.logprob + self.end_logprob) / max(1, len(self.tokens)) ** length_penalty


def _cut_at_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def beam_search(
    first_logits: np.ndarray,
    step: Step,
    decode: Callable[[list[int]], str],
    *,
    width: int,
    max_new_tokens: int,
    end_ids: set[int] | frozenset[int],
    stops: Sequence[str] = (),
    guard: ColumnGuard | None = None,
    length_penalty: float = 1.0,
    cancel: threading.Event | None = None,
) -> tuple[Beam, bool]:
    """The best whole answer by `Beam.score`, and whether the search was cancelled (then the best so far).

    `first_logits`: the next-token logits after the prompt (one row). `guard` must have `width` rows.
    """
    beams = [Beam()]
    finished: list[Beam] = []
    last = first_logits.reshape(1, -1)
    cancelled = False
    for _ in range(max_new_tokens):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        proposals: list[tuple[float, int, int]] = []
        for b, beam in enumerate(beams):
            row = last[b]
            logprobs = log_softmax(row)
            if guard is not None:
                # The guard's mask, and its bonus for the columns the request names, as greedy decoding has them:
                # the bonus is a prior added to the model's log-probability.
                allowed = guard.restrict(b, beam.text, row, greedy=False)
                logprobs = np.where(np.isneginf(allowed), -np.inf, logprobs + (allowed - row))
            k = min(width + 1, len(logprobs))
            top = np.argpartition(-logprobs, k - 1)[:k]
            proposals += [(beam.logprob + float(logprobs[t]), b, int(t)) for t in top if np.isfinite(logprobs[t])]
        proposals.sort(key=lambda p: -p[0])
        kept: list[Beam] = []
        parents: list[int] = []
        for total, b, token in proposals:
            if len(kept) == width:
                break
            beam = beams[b]
            if token in end_ids:
                if guard is not None and guard.end(b, beam.text) is not None:
                    continue  # its last statement read a made-up column
                finished.append(Beam(beam.tokens, beam.logprob, beam.text, "stop", total - beam.logprob))
                continue
            tokens = beam.tokens + [token]
            text = decode(tokens)
            cut = _cut_at_stop(text, stops)
            if cut is not None:
                finished.append(Beam(tokens, total, text[:cut], "stop"))
                continue
            kept.append(Beam(tokens, total, text))
            parents.append(b)
        if guard is not None and kept:
            guard.branch(parents)
            alive = [guard.observe(i, beam.text) is None for i, beam in enumerate(kept)]
            if not all(alive):
                kept = [beam for beam, ok in zip(kept, alive) if ok]
                parents = [p for p, ok in zip(parents, alive) if ok]
                guard.branch([i for i, ok in enumerate(alive) if ok])
        best_done = max((f.score(length_penalty) for f in finished), default=-np.inf)
        # A finished answer whose score no live beam can reach any more ends the search (scores only fall as
        # tokens are added when they are summed; for means this is the usual heuristic).
        if not kept or (len(finished) >= width and best_done >= max(k.score(length_penalty) for k in kept)):
            beams = kept
            break
        beams = kept
        last = step(np.array([beam.tokens[-1] for beam in beams], dtype=np.int64), parents)
    candidates = finished + beams
    if not candidates:
        return Beam(finish_reason="stop"), cancelled
    best = max(candidates, key=lambda beam: beam.score(length_penalty))
    if cancelled and any(best is beam for beam in beams):
        best.finish_reason = "cancelled"
    return best, cancelled
