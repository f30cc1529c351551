"""Prompt layouts of the model families, as exact strings with their stop rules.

A prompt is written out in full, special tokens included, because the tokenizer encodes it without adding
tokens of its own: one wrong character here silently ruins the model's answers. The family is detected from the
tokenizer's special tokens, never from the model's name, so a renamed or fine-tuned model keeps its layout.
The layouts follow the families' own repositories and papers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from .errors import CodeGenError

Infill = Literal["causal-masking", "fim", "left-to-right"]
Document = Literal["notebook", "script"]

NOTEBOOK_STOP: tuple[str, ...] = ("</cell>", "<|", "<text>", "<cell>", "</text>")
"""A notebook answer is one cell: any tag that closes it or opens the next one ends it."""
SCRIPT_STOP: tuple[str, ...] = ("\n\n\n", "\n#", '\n"""', "\n'''")
"""Where the CodeGen multi-turn harness cuts a turn: two blank lines, or a new top-level comment or docstring."""

FORMAT_NAMES: tuple[str, ...] = (
    "causal-masking",
    "santacoder-fim",
    "starcoder-fim",
    "qwen-fim",
    "deepseek-fim",
    "codellama-fim",
    "codegen2-fim",
    "left-to-right",
)

_ENDOFTEXT = "<|endoftext|>"
_ENDOFMASK = "<|endofmask|>"


def _unique(*groups: Sequence[str | None]) -> tuple[str, ...]:
    """The non-empty strings of `groups` in order, each once (stop lists read best without repeats)."""
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            if item:
                seen.setdefault(item, None)
    return tuple(seen)


@dataclass(frozen=True)
class Prompt:
    text: str
    """The exact string given to the tokenizer (encoded without added special tokens, so BOS is written here)."""
    stop: tuple[str, ...]
    """Generation ends when the generated text contains any of these; the answer is cut before it."""


@dataclass(frozen=True)
class PromptFormat:
    """How one model family wants its prompts; this base class continues text left to right and cannot infill.

    `end` holds the family's end-of-text strings: every prompt of the family also stops at them.
    """

    name: str = "left-to-right"
    bos: str = ""
    end: tuple[str, ...] = ()

    infill: ClassVar[Infill] = "left-to-right"
    document: ClassVar[Document] = "script"

    @property
    def can_infill(self) -> bool:
        return self.infill != "left-to-right"

    @property
    def fill_end(self) -> str | None:
        """What the model writes after a filled hole (None: it cannot fill one), for scoring a given fill."""
        return None

    def continuation(self, document: str) -> Prompt:
        """Continue `document` (rendered by the context builder, ending where the new code begins)."""
        style = NOTEBOOK_STOP if self.document == "notebook" else SCRIPT_STOP
        return Prompt(self.bos + document, _unique(style, self.end))

    def infill_prompt(self, parts: Sequence[str], filled: Sequence[str]) -> Prompt:
        """The prompt for hole number `len(filled)` between `parts` (one more part than holes)."""
        _check_holes(parts, filled)
        raise CodeGenError(
            f"The {self.name} prompt format cannot fill a hole in place, so infill by continuing the code "
            "before the hole, or use a model whose tokenizer has fill-in-the-middle tokens."
        )


@dataclass(frozen=True)
class LeftToRightFormat(PromptFormat):
    """Models with no infilling tokens (CodeGen-1, GPT-2): holes use the InCoder paper's left-to-right baselines."""


@dataclass(frozen=True)
class CausalMaskingFormat(PromptFormat):
    """InCoder's causal masking: every hole is masked at once, then filled in order, one sentinel at a time.

    Each filled span stays in the prompt followed by `<|endofmask|>`, exactly as InCoder's reference `infill`
    (dpfried/incoder, example_usage.py) appends the generated completion up to and including `<|endofmask|>`,
    and as in training, where every masked span in the tail ends with that token. FORMATS.md only says the span is
    kept; dropping the token would show the model a layout it never saw.
    """

    name: str = "causal-masking"
    bos: str = _ENDOFTEXT
    end: tuple[str, ...] = (_ENDOFTEXT,)
    sentinels: int | None = None
    """How many `<|mask:i|>` tokens the tokenizer has (None: not known); n holes need n + 1 of them."""

    infill: ClassVar[Infill] = "causal-masking"
    document: ClassVar[Document] = "notebook"

    @property
    def fill_end(self) -> str | None:
        return _ENDOFMASK

    def infill_prompt(self, parts: Sequence[str], filled: Sequence[str]) -> Prompt:
        """All holes masked; the extra last sentinel says the document goes on, so the model ends its infill."""
        _check_holes(parts, filled)
        holes = len(parts) - 1
        if self.sentinels is not None and holes + 1 > self.sentinels:
            raise CodeGenError(
                f"This model can fill at most {self.sentinels - 1} holes at once (it has {self.sentinels} "
                f"<|mask:i|> tokens) and the cell has {holes}; fill them in smaller groups."
            )
        masked = "".join(part + _sentinel(i) for i, part in enumerate(parts))
        done = "".join(_sentinel(i) + span + _ENDOFMASK for i, span in enumerate(filled))
        # "<|" ends the span at any other InCoder control token (a new sentinel, file metadata); a hole sits inside
        # one cell of a notebook document, so a tag that closes the cell or opens another ends the fill too.
        stop = _unique((_ENDOFMASK, "<|"), NOTEBOOK_STOP if self.document == "notebook" else (), self.end)
        return Prompt(self.bos + masked + done + _sentinel(len(filled)), stop)


def _sentinel(i: int) -> str:
    return f"<|mask:{i}|>"


@dataclass(frozen=True)
class FimFormat(PromptFormat):
    """Fill-in-the-middle, one hole per prompt: `bos + head + prefix + between + suffix + tail`.

    Several holes are filled one after the other; hole k sees the holes before it filled and the later ones empty.
    """

    name: str = "fim"
    head: str = ""
    between: str = ""
    tail: str = ""

    infill: ClassVar[Infill] = "fim"

    @property
    def fill_end(self) -> str | None:
        return self.end[0] if self.end else None

    def infill_prompt(self, parts: Sequence[str], filled: Sequence[str]) -> Prompt:
        _check_holes(parts, filled)
        k = len(filled)
        prefix = "".join(part + span for part, span in zip(parts[:k], filled)) + parts[k]
        suffix = "".join(parts[k + 1 :])
        return Prompt(self.bos + self.head + prefix + self.between + suffix + self.tail, self.end)


def _check_holes(parts: Sequence[str], filled: Sequence[str]) -> None:
    """Catch a caller's miscount early: a wrong hole index would silently fill the wrong place."""
    if isinstance(parts, str) or isinstance(filled, str):
        raise TypeError("parts and filled are sequences of strings, not strings")
    holes = len(parts) - 1
    if holes < 1:
        raise ValueError("infill_prompt needs at least two parts (one hole)")
    if len(filled) >= holes:
        raise ValueError(f"all {holes} hole(s) are already filled")


@dataclass(frozen=True)
class _Tokenizer:
    """What detection reads from a tokenizer."""

    special_tokens: Collection[str]
    vocab: Collection[str]
    bos_token: str | None
    eos_token: str | None
    add_bos_token: bool

    def has(self, token: str) -> bool:
        return token in self.special_tokens or token in self.vocab

    @property
    def bos(self) -> str:
        """The BOS text, written only where the tokenizer would have added it itself (Llama family)."""
        return (self.bos_token or "") if self.add_bos_token else ""

    def spelling(self, token: str) -> str:
        """`token` as this vocabulary spells it ("▁<PRE>" in SentencePiece vocabularies), so it encodes to one token."""
        marked = "\u2581" + token
        return token if self.has(token) and not self.has(marked) else marked


def _causal_masking(t: _Tokenizer) -> PromptFormat:
    sentinels = 0
    while sentinels < 4096 and t.has(_sentinel(sentinels)):
        sentinels += 1
    return CausalMaskingFormat(
        bos=t.bos_token or _ENDOFTEXT, end=_unique((_ENDOFTEXT, t.eos_token)), sentinels=sentinels or None
    )


def _fim(name: str, head: str, between: str, tail: str, *ends: str) -> Callable[[_Tokenizer], PromptFormat]:
    def build(t: _Tokenizer) -> PromptFormat:
        return FimFormat(
            name=name, bos=t.bos, end=_unique(ends, (t.eos_token,)), head=head, between=between, tail=tail
        )

    return build


def _codellama(t: _Tokenizer) -> PromptFormat:
    """`<PRE> {p} <SUF>{s} <MID>`, where a "▁<SUF>" piece already is the space written before <SUF>.

    Code Llama's own tokenizer encodes [BOS, ▁<PRE>, "▁"+prefix..., ▁<SUF>, suffix..., ▁<MID>]: the ▁ of each
    sentinel piece is the space in the layout, and the space after <PRE> is the prefix's SentencePiece dummy prefix.
    Writing " ▁<SUF>" would add a space token the model never saw. The middle ends with "▁<EOT>", which decodes
    to " <EOT>".
    """
    pre, suf, mid, eot = (t.spelling(x) for x in ("<PRE>", "<SUF>", "<MID>", "<EOT>"))
    spaced = {x: x if x.startswith("\u2581") else " " + x for x in (suf, mid)}
    if eot.startswith("\u2581"):
        ends: tuple[str, ...] = (eot, " <EOT>", "<EOT>")
    else:
        ends = (eot,)
    return FimFormat(
        name="codellama-fim",
        bos=t.bos,
        end=_unique(ends, (t.eos_token,)),
        head=pre + " ",
        between=spaced[suf],
        tail=spaced[mid],
    )


def _left_to_right(t: _Tokenizer) -> PromptFormat:
    return LeftToRightFormat(bos=t.bos, end=_unique((t.eos_token,)))


_BUILDERS: dict[str, Callable[[_Tokenizer], PromptFormat]] = {
    "causal-masking": _causal_masking,
    "santacoder-fim": _fim("santacoder-fim", "<fim-prefix>", "<fim-suffix>", "<fim-middle>", _ENDOFTEXT),
    "starcoder-fim": _fim("starcoder-fim", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", _ENDOFTEXT),
    "qwen-fim": _fim(
        "qwen-fim", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", _ENDOFTEXT, "<|fim_pad|>", "<|file_sep|>"
    ),
    "deepseek-fim": _fim(
        "deepseek-fim", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<｜end▁of▁sentence｜>"
    ),
    "codellama-fim": _codellama,
    "codegen2-fim": _fim("codegen2-fim", "", "<mask_1>", "<|endoftext|><sep><mask_1>", "<eom>", _ENDOFTEXT),
    "left-to-right": _left_to_right,
}

_MARKERS: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    # (family, alternatives: the family matches when every token of one alternative is known)
    ("causal-masking", (("<|mask:0|>", _ENDOFMASK),)),
    ("qwen-fim", (("<|fim_prefix|>",),)),
    ("starcoder-fim", (("<fim_prefix>",),)),
    ("santacoder-fim", (("<fim-prefix>",),)),
    ("deepseek-fim", (("<｜fim▁begin｜>",),)),
    ("codellama-fim", (("\u2581<PRE>", "\u2581<SUF>", "\u2581<MID>"), ("<PRE>", "<SUF>", "<MID>"))),
    ("codegen2-fim", (("<mask_1>", "<sep>"),)),
)


def detect_format(
    special_tokens: Collection[str],
    vocab: Collection[str] = (),
    bos_token: str | None = None,
    eos_token: str | None = None,
    add_bos_token: bool = False,
) -> PromptFormat:
    """The family whose infilling tokens the tokenizer has; left-to-right when it has none."""
    t = _Tokenizer(special_tokens, vocab, bos_token, eos_token, add_bos_token)
    for name, alternatives in _MARKERS:
        if any(all(t.has(token) for token in tokens) for tokens in alternatives):
            return _BUILDERS[name](t)
    return _BUILDERS["left-to-right"](t)


def format_by_name(
    name: str,
    special_tokens: Collection[str] = (),
    vocab: Collection[str] = (),
    bos_token: str | None = None,
    eos_token: str | None = None,
    add_bos_token: bool = False,
) -> PromptFormat:
    """The format the user chose by name ("auto" detects it), still fitted to the tokenizer's BOS, EOS and spellings."""
    key = name.strip().lower()
    if key == "auto":
        return detect_format(special_tokens, vocab, bos_token, eos_token, add_bos_token)
    builder = _BUILDERS.get(key)
    if builder is None:
        raise CodeGenError(f"Unknown prompt format {name!r}: choose one of {', '.join(FORMAT_NAMES)}, or auto.")
    return builder(_Tokenizer(special_tokens, vocab, bos_token, eos_token, add_bos_token))
