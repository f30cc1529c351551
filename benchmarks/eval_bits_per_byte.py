#!/usr/bin/env python
"""Held-out bits per byte of any model the engine loads, on real code documents it was not trained on.

What is measured: how well the model predicts real Python source, as bits per UTF-8 byte,

    bits per byte = -sum(log2 p(token | everything before it)) / UTF-8 bytes of the text scored.

Because the denominator is bytes of text, not tokens, the figure compares across tokenizers: a model whose
tokenizer spends more tokens on the same text pays for every one of them, and the text is the same.

Data: the held-out split of the project's corpus (`model/data/corpus/corpus.jsonl`, built by
`python -m model.corpus --out model/data/corpus`). A document is held out when `model.docs.is_heldout` says so:
the hash-based 1% split that the tokenizer trainer, the model trainer and every evaluation share, so the embedded
model never trained on these documents. Any other JSONL of `{"text": ...}` documents can be given with `--corpus`;
its held-out split is chosen by the same rule.

Sample (deterministic): held-out documents are ordered by a salted hash of their text (not by file position, so the
sample spreads over every source in the corpus and does not change when the file is reordered), and their heads
are taken in that order until `--max-bytes` bytes are collected. Each document contributes at most
`--max-doc-bytes` bytes, cut at a line end, so a few very long files cannot make up the whole sample; the last one
is cut (at a line end) to the bytes that remain. Heads, because a document is read from its start: what is scored
is a document's beginning and everything it depends on. The bytes scored are printed and saved.

Scoring goes through the product's own engine: `load_engine(spec)` and `engine.score(prompt, [continuation])`,
which returns log p(continuation | prompt) summed over the continuation's tokens, computed by the shipped model
(for the embedded model: the int8 ONNX export). A document is cut at line ends into chunks of at most
`--chunk-tokens` tokens (default: half the model's context window; a single longer line is cut inside the line).
Each chunk is one `score()` call whose prompt is the engine's BOS text (`engine.format.bos`, the text every product
prompt starts with) followed by as many whole lines before the chunk as still fit in the context window, so every
token is scored once, with at least (window - chunk) tokens of its own document as context, and no call is longer
than the window. Where the format writes no BOS text (left-to-right models such as CodeGen), `score()` itself puts
the tokenizer's BOS token (else its pad/EOS token) before an empty prompt, so a document's first token is always
predicted from a document-start token, and never scored itself. No end-of-document token is scored: the text's
bytes are all that is predicted.

`score()` encodes prompt and continuation separately (as it does when it reranks infill candidates), so a chunk
boundary is also a token boundary; cutting at line ends keeps that almost always where the tokenizer would cut
anyway. Special tokens written in the text (the corpus's `<| file ext=.py |>` header) count as their text's bytes,
as in training.

How this differs from the trainer's held-out bits per byte (model/train.py, `eval_log.csv`):

- the trainer packs the first held-out documents (file order) back to back into windows of `seq_len` tokens
  (32,768 tokens in all) and scores every position with no context from before its window: the first token of a
  window is not scored at all, and tokens near a window's start see little context. Here every document is scored
  from its first token, and each chunk sees up to a window of its own document;
- the trainer also scores each `<|endoftext|>` between documents (its loss counts, its bytes are 0), which adds
  the cost of predicting where documents end; here nothing but the document's text is scored;
- the trainer runs the PyTorch weights under bf16 autocast; here the exported, shipped model runs through ONNX
  Runtime (int8 weights on a CPU by default), so quantization error is included;
- the trainer counts bytes per token from the vocabulary (the characters of each byte-level token); here bytes are
  counted on the text itself (UTF-8), which is the same for a byte-level BPE;
- samples differ: the trainer's is the head of the held-out split in file order (mostly the first sources of the
  corpus), this one a hash-ordered spread over all of them.

Expect the two to be close but not equal; this one is the number to compare across models and tokenizers.

Run:

    python benchmarks/eval_bits_per_byte.py --model /tmp/model-step210
    python benchmarks/eval_bits_per_byte.py --model default --max-bytes 500000 --name embedded

Writes `benchmarks/results/bits_per_byte-<name>.json` (every figure, per source and per document) and prints one
line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from model.docs import HELDOUT_PERMILLE, is_heldout  # noqa: E402  (the split every tool shares)

DEFAULT_CORPUS = REPO / "model" / "data" / "corpus" / "corpus.jsonl"
DEFAULT_OUT = REPO / "benchmarks" / "results"
DEFAULT_MAX_BYTES = 200_000
DEFAULT_MAX_DOC_BYTES = 16_000
SAMPLE_SALT = b"jupyter-codegen bits-per-byte sample\0"
"""Salts the sample order, so it is not the order `is_heldout` itself is decided by."""
LN2 = math.log(2)


@dataclass(frozen=True)
class Document:
    key: str
    """Hash of the document's full text: names it in the results without repeating it."""
    text: str
    """The part that is scored (the document's head, see `head`)."""
    source: str = ""
    path: str = ""
    full_bytes: int = 0


@dataclass
class DocumentScore:
    key: str
    source: str
    path: str
    bytes: int
    tokens: int
    logprob: float
    """Natural-log probability of the whole text, summed over its tokens."""
    calls: int

    @property
    def bits_per_byte(self) -> float:
        return -self.logprob / LN2 / max(1, self.bytes)


# -- the sample ---------------------------------------------------------------------------------------------------


def heldout_documents(path: str | Path, permille: int = HELDOUT_PERMILLE) -> Iterator[dict]:
    """The JSONL records of `path` whose text the shared hash rule holds out (model/docs.py)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            text = record.get("text")
            if text and is_heldout(text, permille):
                yield record


def sample_key(text: str) -> str:
    return hashlib.blake2b(SAMPLE_SALT + text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def head(text: str, max_bytes: int) -> str:
    """The longest start of `text` within `max_bytes` UTF-8 bytes that ends at a line end (or, when the first line
    alone is longer, at a character boundary)."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data[:max_bytes].decode("utf-8", "ignore")
    newline = cut.rfind("\n")
    return cut[: newline + 1] if newline >= 0 else cut


def sample_documents(
    records: Iterable[dict], max_bytes: int = DEFAULT_MAX_BYTES, max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES
) -> list[Document]:
    """Document heads in salted-hash order until `max_bytes` bytes; independent of the records' order."""
    ordered = sorted(records, key=lambda r: (sample_key(r["text"]), r["text"]))
    chosen: list[Document] = []
    total = 0
    for record in ordered:
        room = max_bytes - total
        if room <= 0:
            break
        text = head(record["text"], min(max_doc_bytes, room))
        if room < max_doc_bytes and text != record["text"] and "\n" not in text:
            break  # the bytes left do not hold even one whole line of the next document
        if not text:
            continue
        chosen.append(
            Document(
                key=sample_key(record["text"]),
                text=text,
                source=str(record.get("source", "")),
                path=str(record.get("path", "")),
                full_bytes=len(record["text"].encode("utf-8")),
            )
        )
        total += len(text.encode("utf-8"))
    return chosen


# -- scoring ------------------------------------------------------------------------------------------------------


def _lines(text: str, count: Callable[[str], int], limit: int) -> list[str]:
    """`text` as lines (ends kept); a line of more than `limit` tokens is cut into pieces that fit."""
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while count(line) > limit:
            lo, hi = 1, len(line) - 1  # longest prefix within the limit (binary search on characters)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if count(line[:mid]) <= limit:
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append(line[:lo])
            line = line[lo:]
        if line:
            pieces.append(line)
    return pieces


def _last_fitting(lo: int, hi: int, fits: Callable[[int], bool]) -> int:
    """The largest n in [lo, hi] with fits(n), assuming fits(lo) and that fitting is (nearly) monotone in n.

    Token counts of joined lines are not strictly monotone (merges across a line end), so the answer is checked
    and stepped back until it really fits.
    """
    a, b = lo, hi
    while a < b:
        mid = (a + b + 1) // 2
        if fits(mid):
            a = mid
        else:
            b = mid - 1
    while a > lo and not fits(a):
        a -= 1
    return a


def plan_chunks(
    text: str, count: Callable[[str], int], bos: str, window: int, chunk_tokens: int
) -> list[tuple[str, str]]:
    """(prompt, continuation) pairs that score `text` once over, each within `window` tokens.

    Continuations are runs of whole lines of at most `chunk_tokens` tokens and concatenate to `text`; each prompt
    is `bos` plus the whole lines just before its continuation that still fit in the window.
    """
    if chunk_tokens >= window:
        raise ValueError(f"chunk_tokens ({chunk_tokens}) must leave room for the BOS in a {window}-token window")
    lines = _lines(text, count, chunk_tokens)
    plan = []
    start = 0
    while start < len(lines):
        # The most lines from `start` within chunk_tokens, then the most lines before `start` that still fit.
        end = _last_fitting(start + 1, len(lines), lambda e: count("".join(lines[start:e])) <= chunk_tokens)
        continuation = "".join(lines[start:end])
        room = window - count(continuation)
        # score() puts a BOS before an empty prompt, so a prompt is never less than one token.
        fits = lambda f: max(1, count(bos + "".join(lines[start - f : start]))) <= room  # noqa: E731
        back = _last_fitting(0, start, fits)
        plan.append((bos + "".join(lines[start - back : start]), continuation))
        start = end
    return plan


def score_document(engine, document: Document, chunk_tokens: int) -> DocumentScore:
    """log p(document) through `engine.score`, chunk by chunk (see the module docstring)."""
    plan = plan_chunks(document.text, engine.count_tokens, engine.format.bos, engine.context_window, chunk_tokens)
    logprob, tokens = 0.0, 0
    for prompt, continuation in plan:
        logprob += engine.score(prompt, [continuation])[0]
        tokens += engine.count_tokens(continuation)
    return DocumentScore(
        key=document.key,
        source=document.source,
        path=document.path,
        bytes=len(document.text.encode("utf-8")),
        tokens=tokens,
        logprob=logprob,
        calls=len(plan),
    )


@dataclass
class Result:
    model: str
    name: str
    bits_per_byte: float
    bytes: int
    tokens: int
    documents: int
    score_calls: int
    seconds: float
    nats_per_token: float
    bytes_per_token: float
    chunk_tokens: int
    context_window: int
    engine: dict = field(default_factory=dict)
    corpus: dict = field(default_factory=dict)
    sample: dict = field(default_factory=dict)
    by_source: dict = field(default_factory=dict)
    per_document: list = field(default_factory=list)


def _totals(scores: list[DocumentScore]) -> dict:
    nbytes = sum(s.bytes for s in scores)
    tokens = sum(s.tokens for s in scores)
    logprob = sum(s.logprob for s in scores)
    return {
        "bits_per_byte": -logprob / LN2 / max(1, nbytes),
        "bytes": nbytes,
        "tokens": tokens,
        "documents": len(scores),
        "nats_per_token": -logprob / max(1, tokens),
    }


def evaluate(
    engine,
    documents: list[Document],
    *,
    model: str,
    name: str,
    chunk_tokens: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Scores `documents` with `engine`; the bits per byte of all of them together (bytes-weighted)."""
    window = engine.context_window
    chunk = chunk_tokens or window // 2
    started = time.perf_counter()
    scores = []
    for i, doc in enumerate(documents):
        scores.append(score_document(engine, doc, chunk))
        if progress is not None:
            progress(f"{i + 1}/{len(documents)} {doc.source}/{doc.path}: {scores[-1].bits_per_byte:.3f} bits/byte")
    seconds = time.perf_counter() - started
    totals = _totals(scores)
    by_source = {}
    for source in sorted({s.source for s in scores}):
        by_source[source] = _totals([s for s in scores if s.source == source])
    return Result(
        model=model,
        name=name,
        bits_per_byte=totals["bits_per_byte"],
        bytes=totals["bytes"],
        tokens=totals["tokens"],
        documents=len(scores),
        score_calls=sum(s.calls for s in scores),
        seconds=round(seconds, 2),
        nats_per_token=totals["nats_per_token"],
        bytes_per_token=totals["bytes"] / max(1, totals["tokens"]),
        chunk_tokens=chunk,
        context_window=window,
        engine={"name": engine.name, "device": engine.device, "format": engine.format.name, "bos": engine.format.bos},
        by_source=by_source,
        per_document=[dict(asdict(s), bits_per_byte=s.bits_per_byte) for s in scores],
    )


def default_name(spec: str) -> str:
    path = Path(spec).expanduser()
    base = path.name if path.exists() else spec
    return re.sub(r"[^\w.-]+", "-", base).strip("-") or "model"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="any CodeGen.model string load_engine accepts ('default', a folder, a hub id, openai:...)")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="JSONL of {'text': ...} documents; its held-out split is scored")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="bytes of held-out text to score (default %(default)s)")
    parser.add_argument("--max-doc-bytes", type=int, default=DEFAULT_MAX_DOC_BYTES, help="at most this much of each document (default %(default)s)")
    parser.add_argument("--chunk-tokens", type=int, default=None, help="tokens scored per score() call (default: half the context window)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: as the product picks)")
    parser.add_argument("--name", default=None, help="results name (default: from --model)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="results folder (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no per-document progress on stderr")
    args = parser.parse_args(argv)

    from jupyter_codegen.model_store import EngineSettings, load_engine

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[bits-per-byte] {message}", file=sys.stderr, flush=True)

    corpus = Path(args.corpus)
    if not corpus.is_file():
        parser.error(f"{corpus} does not exist; build it with `python -m model.corpus --out model/data/corpus`")
    records = list(heldout_documents(corpus))
    documents = sample_documents(records, args.max_bytes, args.max_doc_bytes)
    log(f"{len(records)} held-out documents in {corpus}; sample: {len(documents)} documents, "
        f"{sum(len(d.text.encode()) for d in documents):,} bytes")
    load_started = time.perf_counter()
    engine = load_engine(args.model, EngineSettings(threads=args.threads, progress=not args.quiet))
    load_seconds = time.perf_counter() - load_started
    name = args.name or default_name(args.model)
    result = evaluate(engine, documents, model=args.model, name=name, chunk_tokens=args.chunk_tokens, progress=log)
    result.corpus = {
        "path": str(corpus),
        "size_bytes": corpus.stat().st_size,
        "heldout_permille": HELDOUT_PERMILLE,
        "heldout_documents": len(records),
        "heldout_bytes": sum(len(r["text"].encode("utf-8")) for r in records),
    }
    result.sample = {"max_bytes": args.max_bytes, "max_doc_bytes": args.max_doc_bytes, "order": "blake2b(salt + text)"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"bits_per_byte-{name}.json"
    payload = asdict(result)
    payload["load_seconds"] = round(load_seconds, 2)
    payload["load_average"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    target.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(
        f"{name}: {result.bits_per_byte:.4f} bits/byte on {result.bytes:,} bytes of {result.documents} held-out "
        f"documents ({result.tokens:,} tokens, {result.bytes_per_token:.2f} bytes/token, "
        f"{result.score_calls} score calls of <= {result.context_window} tokens, {result.seconds:.1f} s) -> {target}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
