"""Reading the training documents: JSONL files, one document per line ({"text": ...} plus metadata).

The held-out split is decided by a hash of each document's text, not by its position, so it is the same on every
machine and every run (tokenizer training, model training and evaluation agree on it without a split file), and a
document that appears in two sources is held out in both or in neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

HELDOUT_PERMILLE = 10
"""Share of documents (per thousand) kept out of training for held-out measurements: 1%."""


def is_heldout(text: str, permille: int = HELDOUT_PERMILLE) -> bool:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % 1000 < permille


def iter_texts(paths: Iterable[str | Path]) -> Iterator[str]:
    """The "text" of every document in the JSONL files, in file order (blank lines and empty texts skipped)."""
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                text = json.loads(line).get("text")
                if text:
                    yield text


def split_texts(paths: Iterable[str | Path], permille: int = HELDOUT_PERMILLE) -> tuple[list[str], list[str]]:
    """(training texts, held-out texts) of the files."""
    train, heldout = [], []
    for text in iter_texts(paths):
        (heldout if is_heldout(text, permille) else train).append(text)
    return train, heldout


def parse_source(spec: str) -> tuple[Path, float]:
    """A data source given on the command line: `path.jsonl` or `path.jsonl:weight` (weight defaults to 1); a folder
    stands for the one JSONL file in it, as `model.corpus` and `model.synth` write them (`--out FOLDER`)."""
    path, sep, weight = spec.rpartition(":")
    if sep and path and _is_number(weight):
        return _jsonl_in(Path(path)), float(weight)
    return _jsonl_in(Path(spec)), 1.0


def _jsonl_in(path: Path) -> Path:
    if not path.is_dir():
        return path
    found = sorted(path.glob("*.jsonl"))
    if len(found) != 1:
        raise ValueError(f"{path} holds {len(found)} .jsonl files, not one: give the file itself as the data source.")
    return found[0]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
