"""Trains the embedded model: a small Llama-style causal LM with InCoder's causal-masking objective, on CPU.

    python -m model.train --data model/data/corpus.jsonl:0.4 model/data/synth.jsonl:0.6 --size 9m --hours 6
    python -m model.train --resume --hours 4          # continue (same machine: exact; fresh machine: see below)
    python -m model.train --plot model/loss.png       # the loss curve from the logs, no training

Data: JSONL documents ({"text": ...}); `path:weight` sets a source's share of training *tokens*. 1% of documents
(chosen by a hash of their text, model/docs.py) is held out; held-out bits per byte are measured per source.

Packing and masking: documents are packed back to back into fixed windows of --seq-len tokens, each document
starting with `<|endoftext|>` (the inference prompt's BOS), with no padding. Causal masking is applied to each
*segment*, the part of one document that falls into one window, before it is placed: the masked spans move to the
end of their own document inside the same window, so a span is never separated from its context, never lands in
another document, and the layout is exactly the inference prompt's (`<|endoftext|>` + masked document). Masking
per window instead would move spans across document boundaries (the sentinel would say "this document goes on"
where another document starts); masking whole documents before packing would let a window cut between a document
and its moved spans. A masked segment is decoded to text, cut at character positions and its pieces encoded on
their own, as the product encodes its prompt (jupyter_codegen/objective.py says why). A document longer than the room left in a window continues, unmasked or masked anew, in the
next window of the same batch row (its continuation carries no `<|endoftext|>`).

Loss: on every token but the `<|mask:i|>` sentinels (jupyter_codegen/objective.py), summed over the step's targets and
divided by their count (gradient accumulation gives the same result as one big batch). `--notebook-loss code` scores a
left-to-right segment of a notebook document on its code cells only (CodeTargets says why); masked segments and
source files keep every token.

Files:
- --out (default model/checkpoint, meant to be committed, small): config.json, generation_config.json,
  model.safetensors (bf16 weights, tied embeddings), the tokenizer files, trainer_state.json (step, tokens,
  hours, schedule, data position), train_log.csv and eval_log.csv;
- --state (default model/runs/state, git-ignored): optimizer.pt with the fp32 weights, AdamW moments and RNG
  states of the same step. `--resume` with both is exact; with only --out (a fresh machine) it loads the bf16
  weights, keeps the step, the schedule and the data position, and restarts AdamW with a short re-warmup.

Device: the CPU by default here; `--device cuda` (or auto where torch sees a GPU) keeps the weights, AdamW state and
batches on the GPU with bf16 autocast where the GPU has it, and checkpoints on the CPU as before, so a run may move
between a GPU machine and a CPU one with `--resume`. The project's machines have no GPU, so that path is written
and reviewed but has not run here.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# OpenMP threads that spin while they wait for each other collapse when another process takes one of the two
# cores (measured here, 9m model, both cores busy elsewhere: 575 tokens/s spinning, 3,443 passive). libgomp reads
# this when torch loads it, so it is set before any torch import; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .docs import HELDOUT_PERMILLE, is_heldout, iter_texts, parse_source
from jupyter_codegen.objective import FILE_TOKENS, CausalMasking, Specials, overhead

DEFAULT_OUT = Path("model/checkpoint")
DEFAULT_STATE = Path("model/runs/state")
DEFAULT_TOKENIZER = Path("model/tokenizer")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
TRAIN_LOG = "train_log.csv"
EVAL_LOG = "eval_log.csv"
TRAIN_FIELDS = ("step", "tokens", "loss", "lr", "tokens_per_s", "hours", "masked_share", "cpu_share")
EVAL_FIELDS = ("step", "tokens", "source", "loss", "bits_per_byte", "eval_tokens")
MIN_MASKED_SEGMENT = 16
"""A segment shorter than this (tokens) stays left-to-right: too little text around a span to learn from."""

NOTEBOOK_LOSS = ("all", "code")
"""Targets of a left-to-right notebook segment: every token, or only the code cells' (`--notebook-loss`)."""

SIZES: dict[str, dict[str, int]] = {
    # total parameters at an 8k vocabulary (tied embeddings); head_dim 64 everywhere
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=176),
    "5m": dict(hidden_size=192, num_hidden_layers=8, num_attention_heads=3, intermediate_size=512),
    "9m": dict(hidden_size=256, num_hidden_layers=8, num_attention_heads=4, intermediate_size=688),
    "16m": dict(hidden_size=384, num_hidden_layers=7, num_attention_heads=6, intermediate_size=1024),
    "24m": dict(hidden_size=448, num_hidden_layers=8, num_attention_heads=7, intermediate_size=1216),
}


# -- model ------------------------------------------------------------------------------------------------------


def padded_vocab(size: int, multiple: int = 64) -> int:
    return -(-size // multiple) * multiple


def model_config(vocab_size: int, size: str | dict, seq_len: int, specials: Specials):
    from transformers import LlamaConfig

    dims = SIZES[size] if isinstance(size, str) else dict(size)
    return LlamaConfig(
        vocab_size=padded_vocab(vocab_size),
        max_position_embeddings=seq_len,
        num_key_value_heads=dims["num_attention_heads"],
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=specials.endoftext,
        eos_token_id=specials.endoftext,
        pad_token_id=specials.pad if specials.pad is not None else specials.endoftext,
        initializer_range=0.02,
        **dims,
    )


def count_parameters(model) -> tuple[int, int]:
    """(total, without the embedding matrix) unique parameters."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    embed = model.get_input_embeddings().weight.numel()
    return total, total - embed


# -- data -------------------------------------------------------------------------------------------------------


@dataclass
class TokenSource:
    """One JSONL file, tokenized: documents back to back in `tokens`, document d is tokens[starts[d]:starts[d+1]]."""

    name: str
    weight: float
    tokens: np.ndarray
    starts: np.ndarray
    text_bytes: int

    @property
    def documents(self) -> int:
        return len(self.starts) - 1

    def document(self, d: int) -> np.ndarray:
        return self.tokens[self.starts[d] : self.starts[d + 1]]

    @property
    def mean_length(self) -> float:
        return max(1.0, len(self.tokens) / max(1, self.documents))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()[:16]


def tokenize_file(path: Path, tokenizer, heldout: bool, cache: Path | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(tokens, document starts, text bytes) of the training (or held-out) documents of a JSONL file, cached."""
    tokenizer_key = hashlib.sha256(tokenizer.to_str().encode()).hexdigest()[:12]
    key = f"{path.stem}-{file_digest(path)}-{tokenizer_key}-{'heldout' if heldout else 'train'}-{HELDOUT_PERMILLE}"
    cached = cache / f"{key}.npz" if cache else None
    if cached is not None and cached.is_file():
        with np.load(cached) as z:
            return z["tokens"], z["starts"], int(z["text_bytes"])
    dtype = np.uint16 if tokenizer.get_vocab_size() <= 65536 else np.uint32
    chunks, lengths, text_bytes, batch = [], [], 0, []

    def flush():
        for enc in tokenizer.encode_batch(batch, add_special_tokens=False):
            chunks.append(np.asarray(enc.ids, dtype=dtype))
            lengths.append(len(enc.ids))
        batch.clear()

    for text in iter_texts([path]):
        if is_heldout(text) != heldout:
            continue
        batch.append(text)
        text_bytes += len(text.encode("utf-8"))
        if len(batch) >= 512:
            flush()
    flush()
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(cached.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, tokens=tokens, starts=starts, text_bytes=text_bytes)
        os.replace(tmp, cached)
    return tokens, starts, text_bytes


def load_sources(specs: Sequence[str], tokenizer, heldout: bool, cache: Path | None) -> list[TokenSource]:
    sources = []
    for spec in specs:
        path, weight = parse_source(spec)
        tokens, starts, text_bytes = tokenize_file(path, tokenizer, heldout, cache)
        sources.append(TokenSource(path.stem, weight, tokens, starts, text_bytes))
    return sources


def data_fingerprint(specs: Sequence[str], tokenizer) -> str:
    h = hashlib.sha256(tokenizer.to_str().encode())
    for spec in specs:
        path, weight = parse_source(spec)
        h.update(f"{path.name}|{path.stat().st_size}|{weight}".encode())
    return h.hexdigest()[:16]


class CodeTargets:
    """Which tokens of a notebook document are code: inside `<cell>` .. `</cell>`, the closing tag included.

    With `--notebook-loss code` a left-to-right segment of a notebook document is scored on these alone: the
    product only ever asks for a cell's code given the rest, and with every token scored the requests (6-8 nats a
    token) and printed outputs set most of the gradient. Measured (model/TRAINING.md, run-log row 15): better on
    the generator's own conversations, worse on unseen tables, so it is not the default. Source files (no notebook
    tag at the start) keep every token.
    """

    def __init__(self, tokenizer):
        ids = [tokenizer.token_to_id(t) for t in (FILE_TOKENS[1], "<cell>", "</cell>")]
        if None in ids:
            raise ValueError("the tokenizer lacks the notebook tokens (<| file ext=.ipynb:python |>, <cell>, </cell>)")
        self.notebook, self.open, self.close = ids

    def __call__(self, body: np.ndarray) -> np.ndarray | None:
        """A boolean target per token of a whole document, or None where every token is one (not a notebook)."""
        if len(body) == 0 or body[0] != self.notebook:
            return None
        depth = np.cumsum((body == self.open).astype(np.int32) - (body == self.close).astype(np.int32))
        # token i is code when a cell was open before it: the depth after token i - 1 is positive
        return np.concatenate([[False], depth[:-1] > 0])


@dataclass
class Segment:
    source: int
    document: int
    offset: int = 0


class Packer:
    """Fills `rows` windows of `seq_len` tokens per step from weighted sources, masking each segment (see module doc).

    Every random choice comes from one numpy Generator and the state is a small JSON-able dict, so a resumed
    run continues the same data stream. Within a source, documents go in a fresh random order every epoch;
    the next source is chosen with probability weight / mean document length, so weights are token shares.
    """

    def __init__(self, sources: list[TokenSource], seq_len: int, rows: int, masking: CausalMasking, seed: int, tokenizer=None,
                 notebook_loss: str = "all"):
        if notebook_loss not in NOTEBOOK_LOSS:
            raise ValueError(f"notebook_loss must be one of {NOTEBOOK_LOSS}, not {notebook_loss!r}")
        usable = [s for s in sources if s.documents > 0 and s.weight > 0]
        if not usable:
            raise ValueError("no training documents: every data source is empty or has weight 0")
        if tokenizer is None and masking.p > 0:
            raise ValueError("causal masking re-encodes the masked pieces: the packer needs the tokenizer")
        self.sources, self.tokenizer = sources, tokenizer
        self.seq_len, self.rows, self.masking, self.seed = seq_len, rows, masking, seed
        self.code_targets = CodeTargets(tokenizer) if notebook_loss == "code" else None
        odds = np.array([s.weight / s.mean_length if s.documents and s.weight > 0 else 0.0 for s in sources])
        self.choice = odds / odds.sum()
        self.rng = np.random.default_rng(seed)
        self.epoch = [0] * len(sources)
        self.position = [0] * len(sources)
        self.current: list[Segment | None] = [None] * rows
        self._orders: dict[int, tuple[int, np.ndarray]] = {}
        self.masked_tokens = 0
        self.packed_tokens = 0

    # state ------------------------------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "seed": self.seed,
            "rows": self.rows,
            "rng": self.rng.bit_generator.state,
            "epoch": list(self.epoch),
            "position": list(self.position),
            "current": [dataclasses.asdict(c) if c else None for c in self.current],
        }

    def load_state(self, state: dict) -> None:
        if state["rows"] != self.rows or len(state["epoch"]) != len(self.sources):
            raise ValueError("the data state belongs to another batch layout or source list")
        self.seed = state["seed"]
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.position = list(state["epoch"]), list(state["position"])
        self.current = [Segment(**c) if c else None for c in state["current"]]

    # documents --------------------------------------------------------------------------------------------------
    def _order(self, s: int) -> np.ndarray:
        epoch = self.epoch[s]
        if self._orders.get(s, (None,))[0] != epoch:
            rng = np.random.default_rng([self.seed, s, epoch])
            self._orders[s] = (epoch, rng.permutation(self.sources[s].documents))
        return self._orders[s][1]

    def _next_document(self) -> Segment:
        s = int(self.rng.choice(len(self.sources), p=self.choice))
        if self.position[s] >= self.sources[s].documents:
            self.epoch[s] += 1
            self.position[s] = 0
        d = int(self._order(s)[self.position[s]])
        self.position[s] += 1
        return Segment(s, d)

    def epochs(self) -> list[float]:
        return [e + p / max(1, s.documents) for e, p, s in zip(self.epoch, self.position, self.sources)]

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    # windows ----------------------------------------------------------------------------------------------------
    def window(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, targets) of the next window of batch row `row`."""
        specials = self.masking.specials
        tokens: list[np.ndarray] = []
        targets: list[np.ndarray] = []
        room = self.seq_len
        while room > 0:
            seg = self.current[row]
            if seg is None:
                seg = self.current[row] = self._next_document()
            body = self.sources[seg.source].document(seg.document)
            if seg.offset == 0:
                tokens.append(np.array([specials.endoftext]))
                targets.append(np.array([True]))
                room -= 1
                if len(body) == 0:
                    self.current[row] = None
                    continue
            if room <= 0:
                # the `<|endoftext|>` filled the window; the body starts the next one (offset 0 still, so mark it)
                seg.offset = -1
                break
            start = max(seg.offset, 0)
            left = len(body) - start
            k = self.masking.draw(self.rng)
            piece = None
            if k and room - overhead(k) - 4 * k >= MIN_MASKED_SEGMENT and left >= MIN_MASKED_SEGMENT:
                # Re-encoding the pieces on their own can add a token or two at each cut: keep 4k tokens of slack.
                take = min(left, room - overhead(k) - 4 * k)
                text = self.tokenizer.decode(body[start : start + take].tolist(), skip_special_tokens=False)
                piece, keep = self.masking.apply(text, k, self.rng, self._encode)
                if len(piece) > room:  # rare: too many extra tokens; this segment stays left-to-right
                    piece = None
                else:
                    self.masked_tokens += len(piece)
            if piece is None:
                take = min(left, room)
                piece, keep = body[start : start + take].astype(np.int64), np.ones(take, dtype=bool)
                code = self.code_targets(body) if self.code_targets else None
                if code is not None:
                    keep = code[start : start + take]
            tokens.append(piece)
            targets.append(keep)
            room -= len(piece)
            seg.offset = start + take
            if seg.offset >= len(body):
                self.current[row] = None
        out_tokens = np.concatenate(tokens).astype(np.int64)
        out_targets = np.concatenate(targets)
        self.packed_tokens += len(out_tokens)
        assert len(out_tokens) == self.seq_len, len(out_tokens)
        return out_tokens, out_targets

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        windows = [self.window(r) for r in range(self.rows)]
        return np.stack([w[0] for w in windows]), np.stack([w[1] for w in windows])


def heldout_windows(source: TokenSource, seq_len: int, max_tokens: int, endoftext: int, pad: int) -> np.ndarray:
    """The first documents of a held-out source, plain left-to-right, packed into windows (a source smaller
    than one window is padded with `pad`, which evaluation does not score)."""
    stream: list[np.ndarray] = []
    total = 0
    for d in range(source.documents):
        doc = source.document(d)
        stream += [np.array([endoftext]), doc.astype(np.int64)]
        total += len(doc) + 1
        if total >= max_tokens:
            break
    if total < 2:
        return np.zeros((0, seq_len), dtype=np.int64)
    flat = np.concatenate(stream)[:max_tokens]
    rows = max(1, len(flat) // seq_len)
    if len(flat) < seq_len:
        flat = np.concatenate([flat, np.full(seq_len - len(flat), pad)])
        return flat[None, :]
    return flat[: rows * seq_len].reshape(rows, seq_len)


def token_bytes(tokenizer, vocab_size: int) -> np.ndarray:
    """UTF-8 bytes each token stands for: byte-level tokens one byte per character, added tokens their text,
    `<|endoftext|>` and `<pad>` none (they separate documents, they are not in them)."""
    table = np.zeros(vocab_size, dtype=np.int64)
    for token, i in tokenizer.get_vocab(with_added_tokens=True).items():
        table[i] = len(token)
    for i, added in tokenizer.get_added_tokens_decoder().items():
        table[i] = 0 if added.content in ("<|endoftext|>", "<pad>") else len(added.content.encode("utf-8"))
    return table


# -- schedule ---------------------------------------------------------------------------------------------------


def learning_rate(step: int, peak: float, warmup: int, total: int, min_ratio: float, rewarm_from: int = -1,
                  rewarm: int = 0, rewarm_peak: float | None = None) -> float:
    """Linear warmup, cosine decay to min_ratio * peak at `total`, constant after; plus an optional linear
    re-warmup over `rewarm` steps from `rewarm_from` (after a resume that restarted the optimizer).

    With `rewarm_peak`, the re-warmup climbs to that rate instead and a cosine of its own takes it back to the same
    floor at `total` ("re-warm and re-decay", Ibrahim et al. 2024): a run resumed near the end of the first cosine
    otherwise spends every later session at barely above the floor rate."""
    if rewarm_peak is not None and rewarm_from >= 0 and step >= rewarm_from:
        if step < rewarm_from + rewarm:
            return rewarm_peak * (step - rewarm_from + 1) / rewarm
        floor = min_ratio * peak
        progress = min(1.0, (step - rewarm_from - rewarm) / max(1, total - rewarm_from - rewarm))
        return floor + (rewarm_peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if step < warmup:
        lr = peak * (step + 1) / warmup
    else:
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        lr = peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    if rewarm_from >= 0 and rewarm > 0 and rewarm_from <= step < rewarm_from + rewarm:
        lr *= (step - rewarm_from + 1) / rewarm
    return lr


# -- checkpoints ------------------------------------------------------------------------------------------------


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_checkpoint(model, out: Path, tokenizer_dir: Path, trainer_state: dict) -> None:
    """Weights-only bf16 safetensors + config + tokenizer + trainer_state.json (written last: the commit point)."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".save-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    half = copy.deepcopy(model).to(device="cpu", dtype=torch.bfloat16)
    half.save_pretrained(tmp, safe_serialization=True)
    for item in tmp.iterdir():
        os.chmod(item, 0o644)
        os.replace(item, out / item.name)
    tmp.rmdir()
    for name in TOKENIZER_FILES:
        src = tokenizer_dir / name
        if src.is_file() and src.resolve() != (out / name).resolve():
            shutil.copy2(src, out / name)
    _atomic_write_text(out / "trainer_state.json", json.dumps(trainer_state, indent=2) + "\n")


def save_state(path: Path, model, optimizer, step: int, run_id: str, packer_state: dict) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(
        {
            "step": step,
            "run_id": run_id,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None,
            "data": packer_state,
        },
        tmp,
    )
    os.replace(tmp, path)


def _truncate_log(path: Path, step: int) -> None:
    """Drops log rows after `step` (a resume redoes those steps)."""
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(kept)


class CsvLog:
    def __init__(self, path: Path, fields: Sequence[str]):
        self.path, self.fields = path, tuple(fields)
        if not path.is_file() or path.stat().st_size == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(self.fields)
            return
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header, rows = tuple(reader.fieldnames or ()), list(reader)
        if header != self.fields:  # a log from an older version: rewrite it with today's columns
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, self.fields, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)

    def write(self, **row) -> None:
        with self.path.open("a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self.fields])


# -- training ---------------------------------------------------------------------------------------------------


@dataclass
class Settings:
    data: list[str]
    tokenizer: str = str(DEFAULT_TOKENIZER)
    out: str = str(DEFAULT_OUT)
    state: str = str(DEFAULT_STATE)
    size: str = "9m"
    seq_len: int = 1024
    micro_batch: int = 8
    accum: int = 4
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup: int = 300
    rewarm: int = 100
    rewarm_peak: float | None = None
    """The learning rate a re-warmup climbs to (then a cosine of its own to the floor); None: the first cosine's."""
    weight_decay: float = 0.1
    clip: float = 1.0
    total_steps: int | None = None
    p_cm: float = 0.5
    p_line: float = 0.25
    notebook_loss: str | None = None
    """Targets of left-to-right notebook segments (NOTEBOOK_LOSS); None: the resumed run's, else "all"."""
    seed: int = 1234
    hours: float = 1.0
    max_steps: int | None = None
    threads: int | None = None
    bf16: bool | None = None
    """bf16 autocast; None: where the device computes bf16 natively (native_bf16, or a CUDA GPU that has it)."""
    device: str = "auto"
    """cpu, cuda or auto (cuda where torch sees a GPU): where the weights, optimizer state and batches live."""
    log_every: int = 10
    eval_every: int = 200
    eval_tokens: int = 32768
    save_minutes: float = 30.0
    resume: bool = False
    cache: str | None = None


def _evaluate(model, windows: dict[str, np.ndarray], targets_bytes: np.ndarray, bf16: bool, micro_batch: int, pad: int,
              device: str) -> dict[str, dict]:
    """Per source: mean loss (nats/token) and bits per byte of the held-out windows, every token scored."""
    import torch
    import torch.nn.functional as F

    model.eval()
    results = {}
    with torch.no_grad():
        for name, w in windows.items():
            if len(w) == 0:
                continue
            nll, count, nbytes = 0.0, 0, 0
            for i in range(0, len(w), micro_batch):
                x = torch.from_numpy(w[i : i + micro_batch]).to(device)
                with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                    logits = model(input_ids=x, use_cache=False).logits
                y = x[:, 1:]
                scored = y != pad
                losses = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
                nll += float(losses[scored.reshape(-1)].sum())
                count += int(scored.sum())
                nbytes += int(targets_bytes[y[scored].cpu().numpy()].sum())
            results[name] = {
                "loss": nll / max(1, count),
                "bits_per_byte": nll / math.log(2) / max(1, nbytes),
                "eval_tokens": count,
            }
    model.train()
    return results


def add_bf16_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="bf16 autocast; auto: only where the device computes bf16 natively")
    p.add_argument("--no-bf16", action="store_true", help="the same as --bf16 off")


def bf16_choice(a: argparse.Namespace) -> bool | None:
    """--bf16 / --no-bf16 as Settings.bf16 (None: decided by native_bf16 when training starts)."""
    return False if a.no_bf16 or a.bf16 == "off" else True if a.bf16 == "on" else None


def use_bf16(choice: bool | None, device: str = "cpu") -> bool:
    """Settings.bf16 as used: None means bf16 where `device` computes it natively."""
    if choice is not None:
        return choice
    if device == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    return native_bf16()


def resolve_device(choice: str) -> str:
    """--device as used: auto takes the GPU where torch sees one. The CUDA path cannot run on the project's
    machines (no GPU); it is written for the people and sessions that have one."""
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA GPU here; install a CUDA build of torch on a machine "
                         "with a GPU, or leave --device out to train on the CPU.")
    return choice


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16, AMX). Elsewhere autocast emulates it: on a 2-core
    AVX2 EPYC a 9m step took minutes in bf16 against 817 tokens/s in fp32 (python -m model.sweep)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def train(s: Settings) -> dict:
    """Runs (or resumes) training until the step or wall-clock budget; returns the final trainer state."""
    import torch
    import torch.nn.functional as F
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM

    wall_start = time.monotonic()
    out, state_dir = Path(s.out), Path(s.state)
    state_file = state_dir / "optimizer.pt"
    trainer_file = out / "trainer_state.json"
    resumed: dict | None = None
    if s.resume:
        if not trainer_file.is_file():
            raise SystemExit(f"--resume: there is no checkpoint in {out} (no trainer_state.json)")
        resumed = json.loads(trainer_file.read_text(encoding="utf-8"))
        saved = resumed["settings"]
        # The run's identity comes from the checkpoint; the budget, logging and data arguments from this call.
        for key in ("size", "seq_len", "micro_batch", "accum", "lr", "min_lr_ratio", "warmup", "weight_decay", "p_cm", "p_line", "seed"):
            setattr(s, key, saved.get(key, getattr(s, key)))
        if s.total_steps is None:
            s.total_steps = resumed["total_steps"]
        if not s.data:
            s.data = saved["data"]
    s.notebook_loss = s.notebook_loss or (resumed["settings"].get("notebook_loss") if resumed else None) or "all"
    tokenizer_dir = out if s.resume and (out / "tokenizer.json").is_file() else Path(s.tokenizer)
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    specials = Specials.from_tokenizer(tokenizer)
    if s.threads:
        torch.set_num_threads(s.threads)
    s.device = resolve_device(s.device)
    s.bf16 = use_bf16(s.bf16, s.device)
    torch.manual_seed(s.seed)

    cache = Path(s.cache) if s.cache else state_dir.parent / "token_cache"
    sources = load_sources(s.data, tokenizer, heldout=False, cache=cache)
    heldout = load_sources(s.data, tokenizer, heldout=True, cache=cache)
    fingerprint = data_fingerprint(s.data, tokenizer)
    masking = CausalMasking(specials, p=s.p_cm, p_line=s.p_line)
    rows = s.micro_batch * s.accum

    def make_packer(seed: int) -> Packer:
        return Packer(sources, s.seq_len, rows, masking, seed, tokenizer, notebook_loss=s.notebook_loss)

    packer = make_packer(s.seed)

    if resumed:
        model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32)
    else:
        config = model_config(tokenizer.get_vocab_size(), s.size, s.seq_len, specials)
        model = LlamaForCausalLM(config)
    model.to(s.device)
    model.train()
    total_params, body_params = count_parameters(model)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s.lr, betas=(0.9, 0.95), eps=1e-8, fused=s.device == "cuda",
    )

    step, tokens_seen, train_seconds = 0, 0, 0.0
    run_id = hashlib.sha256(f"{time.time()}-{os.getpid()}".encode()).hexdigest()[:12]
    rewarm_from = -1
    rewarm_peak: float | None = None
    how = "fresh"
    if resumed:
        step, tokens_seen = resumed["step"], resumed["tokens"]
        train_seconds = resumed.get("train_seconds", 0.0)
        run_id = resumed["run_id"]
        rewarm_from = resumed.get("rewarm_from", -1)
        rewarm_peak = resumed.get("rewarm_peak")
        exact, rewarm_starts = False, False
        if state_file.is_file():
            st = torch.load(state_file, map_location="cpu", weights_only=False)
            if st["step"] == step and st["run_id"] == run_id:
                model.load_state_dict(st["model"])
                optimizer.load_state_dict(st["optimizer"])
                torch.set_rng_state(st["torch_rng"])
                if s.device == "cuda" and st.get("cuda_rng") is not None:
                    torch.cuda.set_rng_state(st["cuda_rng"])
                exact = True
        same_data = resumed.get("data_fingerprint") == fingerprint
        if exact:
            how = "exact (weights, optimizer and data position from the state folder)"
            if same_data:
                packer.load_state(st["data"])
            else:
                packer = make_packer(s.seed + step)
                how = "weights and optimizer from the state folder; data changed, new data order"
        else:
            rewarm_from, rewarm_starts = step, True
            how = "weights and step from the checkpoint; optimizer restarted with a re-warmup"
            if same_data:
                try:
                    packer.load_state(resumed["data"])
                    how += "; data position kept"
                except (KeyError, ValueError):
                    packer = make_packer(s.seed + step)
            else:
                packer = make_packer(s.seed + step)
                how += "; data changed, new data order"
        if exact and s.total_steps > resumed["total_steps"] and step >= resumed["total_steps"]:
            # The old horizon ended at the floor LR; jumping straight back up the new cosine would shock the
            # optimizer, so a longer run re-warms as a restarted one does.
            rewarm_from, rewarm_starts = step, True
            how += f"; horizon extended from {resumed['total_steps']} to {s.total_steps}, re-warmup"
        if rewarm_starts:
            rewarm_peak = s.rewarm_peak  # a re-warmup starts here: to this call's peak (None: the first cosine)
        elif s.rewarm_peak is not None:
            raise SystemExit("--rewarm-peak applies only where a re-warmup starts (an optimizer restart or a longer "
                             "horizon); this resume continues the current one, so leave it out.")
        for name in (TRAIN_LOG, EVAL_LOG):
            _truncate_log(out / name, step)

    if s.total_steps is None:
        s.total_steps = _planned_steps(s, model, packer)
    tokens_per_step = rows * s.seq_len
    out.mkdir(parents=True, exist_ok=True)
    train_log, eval_log = CsvLog(out / TRAIN_LOG, TRAIN_FIELDS), CsvLog(out / EVAL_LOG, EVAL_FIELDS)
    vocab_rows = model.config.vocab_size
    bytes_table = token_bytes(tokenizer, vocab_rows)
    pad = specials.pad if specials.pad is not None else -1
    eval_windows = {src.name: heldout_windows(src, s.seq_len, s.eval_tokens, specials.endoftext, pad) for src in heldout}
    print(
        f"model: {total_params / 1e6:.2f} M parameters ({body_params / 1e6:.2f} M without embeddings), vocab "
        f"{vocab_rows}, window {s.seq_len}; {tokens_per_step} tokens/step; step {step}/{s.total_steps}; notebook loss: {s.notebook_loss}; start: {how}",
        flush=True,
    )
    for src in sources:
        print(f"data {src.name}: {len(src.tokens):,} training tokens in {src.documents:,} documents, weight {src.weight}", flush=True)

    def trainer_state() -> dict:
        return {
            "step": step,
            "tokens": tokens_seen,
            "train_seconds": round(train_seconds, 1),
            "train_hours": round(train_seconds / 3600, 3),
            "total_steps": s.total_steps,
            "run_id": run_id,
            "rewarm_from": rewarm_from,
            "rewarm_peak": rewarm_peak,
            "parameters": total_params,
            "parameters_without_embeddings": body_params,
            "data_fingerprint": fingerprint,
            "data": packer.state(),
            "epochs": {src.name: round(e, 4) for src, e in zip(sources, packer.epochs())},
            "settings": dataclasses.asdict(s),
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # a grown model (model/grow.py) keeps saying what it grew from, through every later run
            **({"grown": resumed["grown"]} if resumed and resumed.get("grown") else {}),
        }

    def checkpoint() -> None:
        save_checkpoint(model, out, tokenizer_dir, trainer_state())
        save_state(state_file, model, optimizer, step, run_id, packer.state())

    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum

    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        old_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    budget = s.hours * 3600
    last_save = time.monotonic()
    interval_loss, interval_targets, interval_start, interval_masked, interval_steps = 0.0, 0, time.monotonic(), 0, 0
    step_seconds = 0.0
    last_eval = step
    interval_cpu = time.process_time()
    threads = torch.get_num_threads()

    def evaluate() -> None:
        for name, r in _evaluate(model, eval_windows, bytes_table, s.bf16, s.micro_batch, pad, s.device).items():
            eval_log.write(step=step, tokens=tokens_seen, source=name, loss=round(r["loss"], 4),
                           bits_per_byte=round(r["bits_per_byte"], 4), eval_tokens=r["eval_tokens"])
            print(f"eval step {step} {name}: loss {r['loss']:.4f}, {r['bits_per_byte']:.4f} bits/byte", flush=True)

    try:
        if step == 0 and not resumed:
            checkpoint()
        while True:
            elapsed = time.monotonic() - wall_start
            if stop["signal"] is not None:
                print(f"signal {stop['signal']}: saving and stopping", flush=True)
                break
            if s.max_steps is not None and step >= s.max_steps:
                break
            if elapsed + step_seconds * 1.5 >= budget:
                break
            t0 = time.monotonic()
            lr = learning_rate(step, s.lr, s.warmup, s.total_steps, s.min_lr_ratio, rewarm_from, s.rewarm,
                               rewarm_peak)
            for group in optimizer.param_groups:
                group["lr"] = lr
            masked_before = packer.masked_tokens
            x_all, keep_all = packer.batch()
            y_all = np.where(keep_all, x_all, -100)
            n_targets = int((y_all[:, 1:] != -100).sum())
            step_loss = 0.0
            for i in range(0, rows, s.micro_batch):
                x = torch.from_numpy(x_all[i : i + s.micro_batch]).to(s.device)
                y = torch.from_numpy(y_all[i : i + s.micro_batch, 1:]).to(s.device)
                with torch.autocast(s.device, dtype=torch.bfloat16, enabled=s.bf16):
                    logits = model(input_ids=x, use_cache=False).logits
                loss = F.cross_entropy(
                    logits[:, :-1].float().reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100, reduction="sum"
                )
                (loss / n_targets).backward()
                step_loss += float(loss.detach())
            if s.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens_seen += tokens_per_step
            step_seconds = time.monotonic() - t0
            train_seconds += step_seconds
            interval_loss += step_loss
            interval_targets += n_targets
            interval_masked += packer.masked_tokens - masked_before
            interval_steps += 1
            if step % s.log_every == 0:
                now = time.monotonic()
                n_steps = interval_steps
                row = dict(
                    step=step,
                    tokens=tokens_seen,
                    loss=round(interval_loss / max(1, interval_targets), 4),
                    lr=f"{lr:.3e}",
                    tokens_per_s=round(n_steps * tokens_per_step / max(1e-9, now - interval_start)),
                    hours=round(train_seconds / 3600, 4),
                    masked_share=round(interval_masked / (n_steps * tokens_per_step), 3),
                    # CPU time per thread and wall second: well below 1 when other processes share the cores
                    cpu_share=round((time.process_time() - interval_cpu) / max(1e-9, (now - interval_start) * threads), 2),
                )
                train_log.write(**row)
                print(json.dumps(row), flush=True)
                interval_loss, interval_targets, interval_start, interval_masked, interval_steps = 0.0, 0, now, 0, 0
                interval_cpu = time.process_time()
            if s.eval_every and step % s.eval_every == 0:
                evaluate()
                last_eval = step
                interval_start, interval_cpu = time.monotonic(), time.process_time()
            if time.monotonic() - last_save >= s.save_minutes * 60:
                checkpoint()
                last_save = time.monotonic()
                interval_start, interval_cpu = time.monotonic(), time.process_time()
        if s.eval_every and step != last_eval:
            evaluate()
        checkpoint()
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    final = trainer_state()
    print(f"stopped at step {step} ({tokens_seen:,} tokens, {final['train_hours']} h of training); saved to {out}", flush=True)
    return final


def _planned_steps(s: Settings, model, packer: Packer) -> int:
    """The cosine horizon when none is given: the steps --hours allows at the speed measured on two steps
    (the horizon is stored in the checkpoint, so later sessions keep the schedule)."""
    if s.max_steps is not None:
        return max(s.max_steps, s.warmup + 1)
    import torch
    import torch.nn.functional as F

    probe = copy.deepcopy(model)
    probe.train()
    x = torch.from_numpy(np.random.default_rng(0).integers(0, model.config.vocab_size, (s.micro_batch, s.seq_len))).to(s.device)
    times = []
    for _ in range(2):
        t0 = time.monotonic()
        with torch.autocast(s.device, dtype=torch.bfloat16, enabled=s.bf16):
            logits = probe(input_ids=x, use_cache=False).logits
        F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x.reshape(-1)).backward()
        if s.device == "cuda":
            torch.cuda.synchronize()  # kernels run asynchronously: time them, not their launch
        times.append(time.monotonic() - t0)
    step_seconds = min(times) * s.accum * 1.1
    return max(s.warmup + 1, int(s.hours * 3600 / step_seconds))


# -- plot -------------------------------------------------------------------------------------------------------


def plot(out: Path, png: Path) -> Path:
    """The training loss and held-out bits per byte against training tokens, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with (out / TRAIN_LOG).open(newline="", encoding="utf-8") as f:
        train_rows = list(csv.DictReader(f))
    eval_rows = []
    if (out / EVAL_LOG).is_file():
        with (out / EVAL_LOG).open(newline="", encoding="utf-8") as f:
            eval_rows = list(csv.DictReader(f))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    tokens = np.array([float(r["tokens"]) for r in train_rows]) / 1e6
    loss = np.array([float(r["loss"]) for r in train_rows])
    ax1.plot(tokens, loss, lw=0.6, alpha=0.4, color="C0")
    if len(loss) >= 10:
        width = max(5, len(loss) // 50)
        smooth = np.convolve(loss, np.ones(width) / width, mode="valid")
        ax1.plot(tokens[width - 1 :], smooth, color="C0", label=f"training loss ({width}-point mean)")
    ax1.set(xlabel="training tokens (millions)", ylabel="loss (nats/token, targets only)", title="Training loss")
    ax1.grid(alpha=0.3)
    if len(loss) >= 10:
        ax1.legend()
    for i, source in enumerate(sorted({r["source"] for r in eval_rows})):
        rows = [r for r in eval_rows if r["source"] == source]
        ax2.plot([float(r["tokens"]) / 1e6 for r in rows], [float(r["bits_per_byte"]) for r in rows],
                 marker=".", color=f"C{i + 1}", label=source)
    ax2.set(xlabel="training tokens (millions)", ylabel="bits per byte", title="Held-out bits per byte")
    ax2.grid(alpha=0.3)
    if eval_rows:
        ax2.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return png


# -- command line -----------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    d = Settings(data=[])
    p.add_argument("--data", nargs="+", default=[], help="JSONL sources, `path` or `path:weight` (token share)")
    p.add_argument("--tokenizer", default=d.tokenizer, help="folder with tokenizer.json (from model.tokenizer)")
    p.add_argument("--out", default=d.out, help="checkpoint folder (small, committed)")
    p.add_argument("--state", default=d.state, help="optimizer-state folder (git-ignored)")
    p.add_argument("--size", default=d.size, choices=sorted(SIZES), help="model size preset")
    p.add_argument("--seq-len", type=int, default=d.seq_len)
    p.add_argument("--micro-batch", type=int, default=d.micro_batch, help="windows per forward pass")
    p.add_argument("--accum", type=int, default=d.accum, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--min-lr-ratio", type=float, default=d.min_lr_ratio)
    p.add_argument("--warmup", type=int, default=d.warmup, help="warmup steps")
    p.add_argument("--rewarm", type=int, default=d.rewarm, help="re-warmup steps after a resume without optimizer state")
    p.add_argument("--rewarm-peak", type=float, help="learning rate the re-warmup climbs to, then a cosine of its own "
                   "to the floor at --total-steps (default: back onto the first cosine)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--total-steps", type=int, help="cosine horizon (default: what --hours allows at the measured speed)")
    p.add_argument("--p-cm", type=float, default=d.p_cm, help="probability that a document segment is causally masked")
    p.add_argument("--p-line", type=float, default=d.p_line, help="share of masked segments whose spans are whole lines")
    p.add_argument("--notebook-loss", choices=NOTEBOOK_LOSS, help="targets of a left-to-right notebook segment: "
                   "every token, or only the code cells' (default: the resumed run's, else all)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--hours", type=float, default=d.hours, help="wall-clock budget of this call")
    p.add_argument("--max-steps", type=int, help="stop at this step (tests, smoke runs)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    add_bf16_argument(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                   help="where to train; auto: a CUDA GPU where torch sees one, else the CPU")
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--eval-tokens", type=int, default=d.eval_tokens, help="held-out tokens per source per evaluation")
    p.add_argument("--save-minutes", type=float, default=d.save_minutes)
    p.add_argument("--resume", action="store_true", help="continue from --out (and --state where it matches)")
    p.add_argument("--cache", help="token cache folder (default: next to --state)")
    p.add_argument("--plot", metavar="PNG", help="write the loss curve of --out to PNG and exit")
    a = p.parse_args(argv)
    s = Settings(
        data=a.data, tokenizer=a.tokenizer, out=a.out, state=a.state, size=a.size, seq_len=a.seq_len,
        micro_batch=a.micro_batch, accum=a.accum, lr=a.lr, min_lr_ratio=a.min_lr_ratio, warmup=a.warmup,
        rewarm=a.rewarm, rewarm_peak=a.rewarm_peak, weight_decay=a.weight_decay, total_steps=a.total_steps,
        p_cm=a.p_cm, p_line=a.p_line, notebook_loss=a.notebook_loss, seed=a.seed,
        hours=a.hours, max_steps=a.max_steps, threads=a.threads, bf16=bf16_choice(a), device=a.device, log_every=a.log_every,
        eval_every=a.eval_every, eval_tokens=a.eval_tokens, save_minutes=a.save_minutes, resume=a.resume, cache=a.cache,
    )
    return s, a


def main(argv: Sequence[str] | None = None) -> int:
    s, a = parse_args(argv)
    if a.plot:
        print(plot(Path(s.out), Path(a.plot)))
        return 0
    if not s.data and not s.resume:
        print("--data is required for a new run", file=sys.stderr)
        return 2
    train(s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
