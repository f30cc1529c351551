"""What every engine offers, local (ONNX Runtime) or remote (an OpenAI-compatible server).

The rest of the package talks to an `Engine` only through this protocol, so a notebook behaves the same
whichever model answers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Protocol, runtime_checkable

from .column_guard import KnownColumns
from .formats import PromptFormat

FinishReason = Literal["stop", "length", "cancelled"]
TextCallback = Callable[[int, str], None]
"""Called with (candidate index, newly decoded text) as generation goes."""


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 256
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 0.95
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()
    """Generation of a candidate ends when its text contains one of these; the text is cut before it."""
    guard_columns: bool = True
    """Fill `columns` from the request's variables summary (the assistant does; CodeGen.guard_columns)."""
    num_beams: int = 1
    """Greedy decoding (temperature 0, n 1) keeps this many partial answers and returns the likeliest whole one
    (beam search); 1 is plain greedy. Local engines only."""
    length_penalty: float = 1.0
    """Beam search ranks finished answers by log-probability / tokens ** length_penalty: 0 sums (short answers
    win), 1 averages."""
    link_columns: float = 5.0
    """Nats added, inside a guarded column literal, to the tokens that spell a column the request names in its words
    (column_linking; CodeGen.link_columns); 0 turns it off."""
    link_operations: float = 3.0
    """Nats added, where an aggregation's name goes, to the tokens that begin the aggregation the request asks for
    in its words (operation_linking; CodeGen.link_operations); 0 turns it off."""
    link_values: float = 3.0
    """Nats added, where a comparison's value goes, to the tokens that write a value the request spells
    (value_linking; CodeGen.link_values); 0 turns it off."""
    columns: KnownColumns | None = None
    """DataFrames and their columns: a string literal where the code reads a column of one of them may only spell
    one of its columns (column_guard). Local engines apply it; an OpenAI-compatible server cannot, and ignores it."""

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def with_(self, **changes) -> "GenerationOptions":
        return replace(self, **changes)


@dataclass
class Completion:
    text: str
    """Generated text, cut before the stop string that ended it."""
    token_ids: list[int] = field(default_factory=list)
    logprob: float = 0.0
    """Sum of the model's log-probabilities of the generated tokens (before temperature and top-p)."""
    finish_reason: FinishReason = "length"
    token_count: int = 0
    """Tokens generated, where a remote server reports the count but not the ids; 0 means len(token_ids)."""

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(1, self.token_count or len(self.token_ids))


@runtime_checkable
class Engine(Protocol):
    name: str
    format: PromptFormat
    context_window: int
    device: str
    """Where the model actually runs, as the runtime reports it (e.g. CPUExecutionProvider, a URL)."""

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self,
        prompt: str,
        options: GenerationOptions,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """`options.n` completions of `prompt` (an exact string, special tokens written out).

        A KeyboardInterrupt or a set `cancel` ends generation within one token step; what was generated so far is
        returned with finish_reason "cancelled".
        """
        ...

    def score(self, prompt: str, continuations: list[str]) -> list[float]:
        """log p(continuation | prompt) for each continuation, for reranking."""
        ...
