"""InCoder's causal-masking objective, shared by pre-training (model/train.py) and fine-tuning (finetune.py), and
the special tokens it writes (model/tokenizer.py gives them the first ids of the embedded model's vocabulary).

Layout. A document with k spans S_0 .. S_{k-1} chosen becomes

    A <|mask:0|> B <|mask:1|> C ... <|mask:k|>  <|mask:0|> S_0 <|endofmask|>  <|mask:1|> S_1 <|endofmask|> ...

each span replaced in place by its sentinel, then the extra sentinel `<|mask:k|>` (the document goes on after its
last part), then every span after its sentinel, closed by `<|endofmask|>`. This is the layout of the product's
inference prompt (`jupyter_codegen.formats.CausalMaskingFormat.infill_prompt`): for one hole the model reads
`<|endoftext|>{left}<|mask:0|>{right}<|mask:1|><|mask:0|>` and writes the span up to `<|endofmask|>`; for
several holes, the spans already filled stay in the prompt, each closed by `<|endofmask|>`.

Targets (the tokens the loss is taken on): every token except the sentinels `<|mask:i|>`. The sentinels are written
by the inference prompt, never generated: the in-place ones sit wherever the user's holes are, the extra one and
the one that opens each span in the tail are fixed by the layout. The tokens after a sentinel, the spans and their
`<|endofmask|>` included, are targets; the rest of the document is plain left-to-right.

Where spans are cut. The product cuts a user's cell at character positions (wherever `<FILL>` stands) and encodes
each part on its own: the tokenizer splits text at special tokens, so `left`, `right` and every span are tokenized
separately. Training does the same (`mask_text`): span endpoints are character positions (never inside a special
token), and each piece is encoded alone, so the training ids equal the ids of the inference prompt for the same
parts, token for token, wherever the cut falls. Spans cut on the document's own token ids (`mask_spans`) would
only ever end at token boundaries of the whole text: a hole at the start of an indented line (HumanEval's
single-line infilling: left ends with "\\n", right starts with the next line's indentation) would give the model a
tokenization it never saw. `mask_spans` remains for callers that already hold the pieces' ids.

Span sampling (InCoder paper): k ~ Poisson(1) truncated to [1, max_spans] (zero draws are redrawn, so P(k=1) =
0.58, P(2) = 0.29, P(3) = 0.10, ...), and the 2k endpoints are distinct positions drawn uniformly, so spans are
non-empty, do not overlap and do not touch; short spans are more likely than long ones (for one span the length
density falls linearly from 0 to the document's length, mean a third of it). Project extension: with
probability `p_line` the endpoints are drawn among line starts instead, so the spans are whole lines, the shape of
most holes users (and the HumanEval line-infilling benchmarks) make; `p_line=0` is the paper's sampling.

    from jupyter_codegen.objective import CausalMasking, Specials
    masking = CausalMasking(Specials.from_tokenizer(tokenizer), p=0.5)
    tokens, targets = masking(text, rng, encode)   # encode: str -> list[int] (no added special tokens)
    labels = labels_for(tokens, targets)            # -100 where no loss
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

ENDOFTEXT = "<|endoftext|>"
PAD = "<pad>"
ENDOFMASK = "<|endofmask|>"
MASK_TOKENS = 32
"""Number of sentinel tokens `<|mask:i|>`; at most MASK_TOKENS - 1 holes per prompt."""
FILE_TOKENS = ("<| file ext=.py |>", "<| file ext=.ipynb:python |>", "<|/ file |>")
NOTEBOOK_TAGS = ("<text>", "</text>", "<cell>", "</cell>", "<output>", "</output>")


def mask_token(i: int) -> str:
    return f"<|mask:{i}|>"


SPECIAL_TOKENS: tuple[str, ...] = (
    (ENDOFTEXT, PAD, ENDOFMASK) + tuple(mask_token(i) for i in range(MASK_TOKENS)) + FILE_TOKENS + NOTEBOOK_TAGS
)
"""In id order: `<|endoftext|>` is 0, `<pad>` is 1, `<|endofmask|>` is 2, `<|mask:i|>` is 3 + i."""

MAX_SPANS = 256
"""The InCoder paper's upper truncation of the span count; the sentinel vocabulary lowers it (Specials.max_spans)."""

Encode = Callable[[str], Sequence[int]]


@dataclass(frozen=True)
class Specials:
    """The ids of the control tokens the objective writes."""

    endoftext: int
    endofmask: int
    masks: tuple[int, ...]
    pad: int | None = None

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "Specials":
        """From a `tokenizers.Tokenizer` (or anything with `token_to_id`) holding the model/tokenizer.py tokens."""
        masks = []
        while (i := tokenizer.token_to_id(mask_token(len(masks)))) is not None:
            masks.append(i)
        endoftext, endofmask = tokenizer.token_to_id(ENDOFTEXT), tokenizer.token_to_id(ENDOFMASK)
        if endoftext is None or endofmask is None or len(masks) < 2:
            raise ValueError("the tokenizer lacks <|endoftext|>, <|endofmask|> or at least two <|mask:i|> tokens")
        return cls(endoftext, endofmask, tuple(masks), tokenizer.token_to_id(PAD))

    @property
    def max_spans(self) -> int:
        """k spans need k + 1 sentinels (the extra one closes the document)."""
        return min(MAX_SPANS, len(self.masks) - 1)

    def is_sentinel(self, ids: np.ndarray) -> np.ndarray:
        return np.isin(ids, np.asarray(self.masks))


def overhead(k: int) -> int:
    """Sentinel and `<|endofmask|>` tokens a document with k spans gains: k in place, one extra, k + k in the tail."""
    return 3 * k + 1 if k else 0


# -- layout -----------------------------------------------------------------------------------------------------


def assemble(parts: Sequence[Sequence[int]], spans: Sequence[Sequence[int]], specials: Specials) -> tuple[np.ndarray, np.ndarray]:
    """The causal-masking layout from the pieces' ids: k + 1 `parts` around k `spans`.

    Returns (tokens, targets): int64 ids and a bool array, True where the token is a loss target.
    With no spans (one part) it is the part itself, every token a target (plain left-to-right).
    """
    k = len(spans)
    if len(parts) != k + 1:
        raise ValueError(f"{len(parts)} parts around {k} spans; need exactly one more part than spans")
    if k > specials.max_spans:
        raise ValueError(f"{k} spans but the tokenizer has sentinels for at most {specials.max_spans}")
    pieces: list[Sequence[int]] = []
    for i, part in enumerate(parts):
        pieces += [part, [specials.masks[i]]] if k else [part]
    for i, span in enumerate(spans):
        pieces += [[specials.masks[i]], span, [specials.endofmask]]
    tokens = np.concatenate([np.asarray(p, dtype=np.int64) for p in pieces]) if pieces else np.zeros(0, np.int64)
    return tokens, ~specials.is_sentinel(tokens)


def mask_spans(ids: Sequence[int], spans: Sequence[tuple[int, int]], specials: Specials) -> tuple[np.ndarray, np.ndarray]:
    """The layout of token ids `ids` with the token spans [start, end) (sorted, non-overlapping) moved to the end."""
    ids = np.asarray(ids, dtype=np.int64)
    bounds = _check_spans(spans, len(ids))
    parts = [ids[bounds[2 * i] : bounds[2 * i + 1]] for i in range(len(spans) + 1)]
    return assemble(parts, [ids[a:b] for a, b in spans], specials)


def mask_text(text: str, spans: Sequence[tuple[int, int]], encode: Encode, specials: Specials) -> tuple[np.ndarray, np.ndarray]:
    """The layout of `text` with the character spans [start, end) moved to the end, each piece encoded on its own
    (exactly as the product encodes its prompt, where special tokens separate the pieces)."""
    bounds = _check_spans(spans, len(text))
    parts = [encode(text[bounds[2 * i] : bounds[2 * i + 1]]) for i in range(len(spans) + 1)]
    return assemble(parts, [encode(text[a:b]) for a, b in spans], specials)


def _check_spans(spans: Sequence[tuple[int, int]], n: int) -> list[int]:
    """[0, start_0, end_0, start_1, ..., n] after checking the spans are non-empty, sorted and inside [0, n]."""
    bounds, previous = [0], 0
    for i, (start, end) in enumerate(spans):
        if not previous <= start < end <= n:
            raise ValueError(f"span {i} {(start, end)} is empty, out of order, overlapping or outside [0, {n}]")
        bounds += [start, end]
        previous = end
    return bounds + [n]


# -- sampling ---------------------------------------------------------------------------------------------------


def sample_span_count(rng: np.random.Generator, max_spans: int) -> int:
    """k ~ Poisson(1) conditioned on 1 <= k <= max_spans."""
    while True:
        k = int(rng.poisson(1.0))
        if 1 <= k <= max_spans:
            return k


def sample_spans(n: int, k: int, rng: np.random.Generator, allowed: np.ndarray | None = None) -> list[tuple[int, int]]:
    """k non-empty, non-overlapping, non-adjacent spans [start, end) over positions 0..n, uniformly placed.

    Endpoints are 2k distinct positions drawn among `allowed` (default: all of 0..n, which needs 2k <= n + 1).
    """
    pool = np.arange(n + 1) if allowed is None else np.asarray(allowed)
    if k < 1 or 2 * k > len(pool):
        raise ValueError(f"cannot place {k} span(s) with {len(pool)} possible endpoints")
    points = np.sort(rng.choice(pool, size=2 * k, replace=False))
    return [(int(points[2 * i]), int(points[2 * i + 1])) for i in range(k)]


_SPECIAL_PATTERN = re.compile("|".join(re.escape(t) for t in sorted(SPECIAL_TOKENS, key=len, reverse=True)))


def cut_points(text: str, lines: bool = False) -> np.ndarray:
    """Character positions where a span may start or end: anywhere but inside a special token's text;
    with `lines`, only at line starts (and the end of the text)."""
    if lines:
        points = np.array([0] + [m.end() for m in re.finditer("\n", text)] + [len(text)])
        points = np.unique(points)
    else:
        points = np.arange(len(text) + 1)
    inside = [np.arange(m.start() + 1, m.end()) for m in _SPECIAL_PATTERN.finditer(text)]
    if inside:
        points = np.setdiff1d(points, np.concatenate(inside), assume_unique=True)
    return points


@dataclass(frozen=True)
class CausalMasking:
    """With probability `p` a document gets k >= 1 masked spans; otherwise it stays left-to-right."""

    specials: Specials
    p: float = 0.5
    max_spans: int | None = None
    """Upper truncation of k (default: what the sentinel vocabulary allows, Specials.max_spans)."""
    p_line: float = 0.25
    """Share of masked documents whose spans are whole lines (0: the paper's uniform character positions)."""

    @property
    def span_limit(self) -> int:
        limit = self.specials.max_spans
        return limit if self.max_spans is None else max(1, min(limit, self.max_spans))

    def draw(self, rng: np.random.Generator) -> int:
        """The number of spans for the next document: 0 (left-to-right) or k ~ truncated Poisson(1)."""
        return sample_span_count(rng, self.span_limit) if rng.random() < self.p else 0

    def apply(self, text: str, k: int, rng: np.random.Generator, encode: Encode) -> tuple[np.ndarray, np.ndarray]:
        """Masks k spans of `text` (fewer where it has too few cut points; none for k = 0)."""
        if k:
            lines = rng.random() < self.p_line
            points = cut_points(text, lines=lines)
            k = min(k, len(points) // 2)
        if not k:
            return assemble([encode(text)], [], self.specials)
        return mask_text(text, sample_spans(len(text), k, rng, points), encode, self.specials)

    def __call__(self, text: str, rng: np.random.Generator, encode: Encode) -> tuple[np.ndarray, np.ndarray]:
        return self.apply(text, self.draw(rng), rng, encode)


def training_example(text: str, masking: CausalMasking, rng: np.random.Generator, encode: Encode) -> tuple[np.ndarray, np.ndarray]:
    """One whole document as training sees it: `<|endoftext|>` (the inference prompt's BOS) then the document,
    masked with probability masking.p. The `<|endoftext|>` is a target (it ends the document before it)."""
    tokens, targets = masking(text, rng, encode)
    return (
        np.concatenate([[masking.specials.endoftext], tokens]).astype(np.int64),
        np.concatenate([[True], targets]),
    )


def labels_for(tokens: np.ndarray, targets: np.ndarray, ignore_index: int = -100) -> np.ndarray:
    """Hugging Face style labels (the model shifts them): the token where it is a target, else ignore_index."""
    return np.where(targets, tokens, ignore_index).astype(np.int64)


__all__ = [
    "CausalMasking",
    "MAX_SPANS",
    "Specials",
    "assemble",
    "cut_points",
    "labels_for",
    "mask_spans",
    "mask_text",
    "overhead",
    "sample_span_count",
    "sample_spans",
    "training_example",
]
