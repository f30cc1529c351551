"""The model's tokenizer, read from `tokenizer.json` with `tokenizers` alone (no transformers at run time).

Prompts are written as exact strings by `formats`, special tokens included, so encoding never adds tokens
of its own: what the format wrote is what the model sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import Tokenizer

from .errors import CorruptModelError
from .formats import PromptFormat, format_by_name


def _token_text(value: object) -> str | None:
    """tokenizer_config.json stores a token either as a string or as an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


@dataclass
class TextTokenizer:
    tokenizer: Tokenizer
    bos_token: str | None = None
    eos_token: str | None = None
    pad_token: str | None = None
    add_bos_token: bool = False
    special_tokens: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_folder(cls, folder: str | Path) -> "TextTokenizer":
        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise CorruptModelError(
                f"The model folder {folder} has no tokenizer.json; re-export it with `jupyter-codegen export` "
                "or copy the tokenizer files next to the ONNX model."
            )
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise CorruptModelError(
                f"The tokenizer in {folder} cannot be read ({exc}); re-export the model or restore tokenizer.json."
            ) from exc
        config: dict = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            file = folder / name
            if file.is_file():
                config.update(json.loads(file.read_text(encoding="utf-8")))
        added = {t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special}
        named = {_token_text(config.get(k)) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
        extra = {_token_text(t) for t in config.get("additional_special_tokens") or []}
        return cls(
            tokenizer=tokenizer,
            bos_token=_token_text(config.get("bos_token")),
            eos_token=_token_text(config.get("eos_token")),
            pad_token=_token_text(config.get("pad_token")),
            add_bos_token=bool(config.get("add_bos_token", False)),
            special_tokens=frozenset(t for t in added | named | extra if t),
        )

    @property
    def vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab(with_added_tokens=True)

    def token_id(self, token: str | None) -> int | None:
        return None if token is None else self.tokenizer.token_to_id(token)

    @property
    def eos_token_id(self) -> int | None:
        return self.token_id(self.eos_token)

    def prompt_format(self, name: str = "auto") -> PromptFormat:
        """The prompt layout for this tokenizer: detected from its special tokens ("auto") or chosen by name.

        Lives here so the in-process engine and a kernel using the server's engine detect it the same way."""
        return format_by_name(
            name,
            special_tokens=self.special_tokens,
            vocab=self.vocab.keys(),
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            add_bos_token=self.add_bos_token,
        )

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def count(self, text: str) -> int:
        return len(self.encode(text)) if text else 0

    def decode(self, ids: list[int]) -> str:
        """Decode keeping special tokens, since stop rules look for them (`<|endofmask|>`, `</cell>`)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)
