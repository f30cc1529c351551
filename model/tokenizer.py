"""The embedded model's tokenizer: byte-level BPE trained with `tokenizers` on the training documents.

InCoder's control tokens and this project's notebook tags are single special tokens, so a prompt written by
`jupyter_codegen.formats` encodes them exactly as training saw them:

- `<|endoftext|>` (BOS and EOS: every document starts with it, and generation stops at it), `<pad>`;
- `<|endofmask|>` and the sentinels `<|mask:0|>` .. `<|mask:{MASK_TOKENS - 1}|>` (causal masking);
- file metadata `<| file ext=.py |>`, `<| file ext=.ipynb:python |>`, `<|/ file |>`;
- notebook tags `<text>`, `</text>`, `<cell>`, `</cell>`, `<output>`, `</output>`.

With MASK_TOKENS sentinels a prompt can mask at most MASK_TOKENS - 1 holes: the extra sentinel after the last
part (the one that says "the document goes on") uses one more. Training draws at most that many spans too.

    python -m model.tokenizer --data corpus.jsonl synth.jsonl --vocab 8192 --out model/tokenizer
    python -m model.tokenizer --data corpus.jsonl synth.jsonl --measure 4096,8192,16384

The saved folder holds tokenizer.json and tokenizer_config.json (and special_tokens_map.json), which both
`transformers.AutoTokenizer` and the product's `jupyter_codegen.tokenizer.TextTokenizer.from_folder` read.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from jupyter_codegen.objective import ENDOFTEXT, PAD, SPECIAL_TOKENS  # defined once, with the objective

from .docs import HELDOUT_PERMILLE, is_heldout, iter_texts, parse_source

DEFAULT_VOCAB = 8192
MAX_TRAIN_CHARS = 60_000_000
"""BPE statistics settle long before this: the tokenizer is trained on a random sample of at most this much text."""


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB, min_frequency: int = 2):
    """A byte-level BPE `tokenizers.Tokenizer` whose vocabulary (special tokens included) has `vocab_size` entries."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    # GPT-2's split (letters, digits, punctuation, whitespace runs kept before the next word) then bytes: any text,
    # any language, round-trips exactly; indentation runs become single tokens through merges.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def save_tokenizer(tokenizer, folder: str | Path, model_max_length: int = 1024) -> Path:
    """Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    additional = [t for t in SPECIAL_TOKENS if t not in (ENDOFTEXT, PAD)]
    special_map = {
        "bos_token": ENDOFTEXT,
        "eos_token": ENDOFTEXT,
        "unk_token": ENDOFTEXT,
        "pad_token": PAD,
        "additional_special_tokens": additional,
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special_map,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n", encoding="utf-8")
    return folder


def load_tokenizer(folder: str | Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))


def check_tokenizer(tokenizer) -> None:
    """Every special token is one token with the id SPECIAL_TOKENS gives it."""
    for i, token in enumerate(SPECIAL_TOKENS):
        ids = tokenizer.encode(token, add_special_tokens=False).ids
        if ids != [i]:
            raise AssertionError(f"{token!r} encodes to {ids}, expected [{i}]")


def sample_texts(paths: Sequence[str | Path], max_chars: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training sample of at most `max_chars` characters, held-out texts), split as model/docs.py splits them."""
    train, heldout = [], []
    for text in iter_texts(paths):
        (heldout if is_heldout(text, HELDOUT_PERMILLE) else train).append(text)
    random.Random(seed).shuffle(train)
    sample, total = [], 0
    for text in train:
        if total >= max_chars:
            break
        sample.append(text)
        total += len(text)
    return sample, heldout


def bytes_per_token(tokenizer, texts: Sequence[str]) -> float:
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    tokens = sum(len(e.ids) for e in encodings)
    return sum(len(t.encode("utf-8")) for t in texts) / max(1, tokens)


def measure(paths: Sequence[str | Path], sizes: Sequence[int], max_chars: int) -> list[dict]:
    """Bytes per token on held-out documents, per source file and overall, for each vocabulary size."""
    sample, _ = sample_texts(paths, max_chars)
    heldout_by_source = {Path(p).name: [t for t in iter_texts([p]) if is_heldout(t, HELDOUT_PERMILLE)] for p in paths}
    everything = [t for texts in heldout_by_source.values() for t in texts]
    rows = []
    for size in sizes:
        start = time.perf_counter()
        tok = train_tokenizer(sample, size)
        row = {"vocab": size, "train_s": round(time.perf_counter() - start, 1), "all": round(bytes_per_token(tok, everything), 3)}
        for name, texts in heldout_by_source.items():
            if texts:
                row[name] = round(bytes_per_token(tok, texts), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.tokenizer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="JSONL files of documents ({'text': ...})")
    parser.add_argument("--vocab", type=int, default=DEFAULT_VOCAB, help="vocabulary size, special tokens included")
    parser.add_argument("--out", default="model/tokenizer", help="folder to write the tokenizer into")
    parser.add_argument("--max-chars", type=int, default=MAX_TRAIN_CHARS, help="training sample size in characters")
    parser.add_argument("--context", type=int, default=1024, help="model_max_length written to tokenizer_config.json")
    parser.add_argument("--measure", help="comma-separated vocabulary sizes: print held-out bytes/token, save nothing")
    args = parser.parse_args(argv)
    paths = [str(parse_source(p)[0]) for p in args.data]  # weights (path:weight) matter to training only
    if args.measure:
        measure(paths, [int(s) for s in args.measure.split(",")], args.max_chars)
        return 0
    sample, heldout = sample_texts(paths, args.max_chars)
    if not sample:
        print("no training documents found in " + ", ".join(paths), file=sys.stderr)
        return 1
    tokenizer = train_tokenizer(sample, args.vocab)
    check_tokenizer(tokenizer)
    save_tokenizer(tokenizer, args.out, args.context)
    report = {"vocab": tokenizer.get_vocab_size(), "train_docs": len(sample), "heldout_docs": len(heldout)}
    if heldout:
        report["heldout_bytes_per_token"] = round(bytes_per_token(tokenizer, heldout), 3)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
