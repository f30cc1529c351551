"""Fine-tuning a model on the user's own notebooks: the training loop behind notebooks/finetune.ipynb.

The objective is the one the embedded model was trained with (`objective.CausalMasking`: InCoder's causal masking
mixed with plain left-to-right), so infilling keeps working; a base model without the `<|mask:i|>` tokens trains
left to right only, and says so. The embedded default model is fine-tuned whole (it is small: a CPU is enough);
any other Hugging Face causal LM gets LoRA adapters through peft (bf16 on a GPU). Held-out loss is measured on
whole notebooks the model never trains on, and training stops early when it stops falling. Checkpoints are written
as it goes, so an interrupted run resumes where it stopped. `export` merges the result and writes an ONNX folder
that `%config CodeGen.model = "<folder>"` loads. Needs the `finetune` extra (torch, transformers, peft).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .finetune_data import FinetuneError

PACKAGE = Path(__file__).resolve().parent
DEFAULT_WEIGHTS = PACKAGE / "default_model" / "torch"
"""The embedded model's PyTorch weights (bf16), shipped beside its ONNX export so it can be fine-tuned."""
REPOSITORY_CHECKPOINT = PACKAGE.parent / "model" / "checkpoint"
"""The same weights in a clone of the repository (model/checkpoint), used when the package has none."""
STATE_FILE = "finetune_state.json"


@dataclass
class FinetuneSettings:
    base: str = "default"
    """"default" (the embedded model, fine-tuned whole) or a Hugging Face model id or folder (LoRA)."""
    out: str = "finetuned"
    """Folder for checkpoints (out/checkpoint), the loss log and the exported model (out/model)."""
    max_steps: int = 200
    batch_size: int = 4
    seq_len: int = 512
    lr: float | None = None
    """None: 3e-4 for full fine-tuning, 2e-4 for LoRA."""
    warmup: int = 10
    p_cm: float = 0.5
    """Share of windows trained with causal masking (the rest left to right)."""
    eval_every: int = 20
    patience: int = 3
    """Evaluations without a new best held-out loss before training stops."""
    lora_rank: int = 8
    lora_alpha: int = 16
    device: str = "auto"
    seed: int = 0
    threads: int | None = None

    @property
    def full(self) -> bool:
        return self.base == "default"


@dataclass
class Progress:
    step: int
    train_loss: float | None = None
    heldout_loss: float | None = None
    best_heldout: float | None = None
    seconds: float = 0.0


@dataclass
class FinetuneResult:
    steps: int
    best_step: int
    best_heldout: float | None
    first_heldout: float | None
    stopped_early: bool
    resumed_from: int
    log: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise FinetuneError(
            "Fine-tuning needs PyTorch and transformers; run pip install 'jupyter-codegen[finetune]', then restart the kernel."
        ) from None


def base_folder(base: str) -> str:
    """Where the base model's PyTorch weights are: the embedded model's for "default", else `base` itself."""
    if base != "default":
        return base
    for folder in (DEFAULT_WEIGHTS, REPOSITORY_CHECKPOINT):
        if (folder / "config.json").is_file():
            return str(folder)
    raise FinetuneError(
        "This install has no PyTorch weights of the embedded model; reinstall jupyter-codegen, or set base to a Hugging Face model."
    )


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise FinetuneError("device is 'cuda' but PyTorch sees no GPU; set device to 'cpu' or 'auto'.")
    return name


def _encode_fn(tokenizer) -> Callable[[str], list[int]]:
    return lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]


def _masking(tokenizer, p_cm: float):
    """The causal-masking objective for this tokenizer, or None when it has no sentinel tokens."""
    from tokenizers import Tokenizer

    from .objective import CausalMasking, Specials

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        return None
    try:
        specials = Specials.from_tokenizer(backend)
    except (KeyError, ValueError, TypeError):
        return None
    return CausalMasking(specials, p=p_cm)


def chunks_of(text: str, count: Callable[[str], int], budget: int) -> list[str]:
    """`text` cut at line ends into pieces of at most about `budget` tokens (a longer line stays whole), so that a
    masked piece keeps its spans in the same window as their sentinels."""
    pieces, current, used = [], [], 0
    for line in text.splitlines(keepends=True):
        n = count(line)
        if current and used + n > budget:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(line)
        used += n
    if current:
        pieces.append("".join(current))
    return pieces


def windows_of(
    texts: Sequence[str], tokenizer, masking, seq_len: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(input ids, labels) windows of `seq_len` tokens, as pre-training makes them: each document, in pieces that
    fit a window, causally masked or left to right after `<|endoftext|>`; the last window of a piece padded (no loss
    on padding). Masking adds a few tokens per span, so pieces leave room for them."""
    from .objective import labels_for, training_example

    encode = _encode_fn(tokenizer)
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (bos or 0)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for text in texts:
        for piece in chunks_of(text, lambda line: len(encode(line)), int(seq_len * 0.8)):
            if masking is not None:
                tokens, targets = training_example(piece, masking, rng, encode)
                labels = labels_for(tokens, targets)
            else:
                tokens = np.asarray(([bos] if bos is not None else []) + list(encode(piece)), dtype=np.int64)
                labels = tokens.copy()
            for start in range(0, len(tokens), seq_len):
                ids, lab = tokens[start:start + seq_len], labels[start:start + seq_len]
                if len(ids) < 2:
                    continue
                if len(ids) < seq_len:
                    fill = seq_len - len(ids)
                    ids = np.concatenate([ids, np.full(fill, pad)])
                    lab = np.concatenate([lab, np.full(fill, -100)])
                out.append((ids.astype(np.int64), lab.astype(np.int64)))
    return out


def _load(settings: FinetuneSettings, resume_from: Path | None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = base_folder(settings.base)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    device = _device(settings.device)
    dtype = torch.bfloat16 if (device == "cuda" and not settings.full) else torch.float32
    source = resume_from if (resume_from is not None and settings.full) else folder
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    if not settings.full:
        from peft import LoraConfig, PeftModel, get_peft_model

        if resume_from is not None:
            model = PeftModel.from_pretrained(model, resume_from, is_trainable=True)
        else:
            config = LoraConfig(r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=0.05, task_type="CAUSAL_LM")
            model = get_peft_model(model, config)
    return model.to(device), tokenizer, device


def _loss(model, batch: list[tuple[np.ndarray, np.ndarray]], device: str):
    import torch

    ids = torch.from_numpy(np.stack([b[0] for b in batch])).to(device)
    labels = torch.from_numpy(np.stack([b[1] for b in batch])).to(device)
    # Padding sits only at a window's end and attention is causal, so no mask is needed: labels skip it.
    return model(input_ids=ids, labels=labels).loss


def heldout_loss(model, windows: list[tuple[np.ndarray, np.ndarray]], batch_size: int, device: str) -> float | None:
    import torch

    if not windows:
        return None
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            batch = windows[start:start + batch_size]
            tokens = int(sum((b[1][1:] != -100).sum() for b in batch))
            total += float(_loss(model, batch, device)) * tokens
            count += tokens
    model.train()
    return total / max(count, 1)


def _save(model, tokenizer, optimizer, folder: Path, state: dict) -> None:
    import torch

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def train(
    settings: FinetuneSettings,
    train_texts: Sequence[str],
    heldout_texts: Sequence[str],
    on_progress: Callable[[Progress], None] | None = None,
    progress_bar: bool = True,
) -> FinetuneResult:
    """Trains until max_steps or early stop, resuming from out/checkpoint when it holds an earlier run."""
    _require_torch()
    import torch
    from tqdm.auto import tqdm

    if not train_texts:
        raise FinetuneError("There are no training notebooks; point notebooks_folder at a folder with some.")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    out = Path(settings.out).expanduser()
    checkpoint = out / "checkpoint"
    state: dict[str, Any] = {}
    if (checkpoint / STATE_FILE).is_file():
        state = json.loads((checkpoint / STATE_FILE).read_text())
        if state.get("settings", {}).get("base") != settings.base:
            raise FinetuneError(
                f"{checkpoint} holds a run on base {state.get('settings', {}).get('base')!r}, not {settings.base!r}; "
                "set out to another folder, or delete that one to start over."
            )
    model, tokenizer, device = _load(settings, checkpoint if state else None)
    notes = []
    masking = _masking(tokenizer, settings.p_cm) if settings.p_cm > 0 else None
    if masking is None and settings.p_cm > 0:
        notes.append(f"{settings.base} has no <|mask:i|> tokens, so it is trained left to right only (no infilling).")
    rng = np.random.default_rng(settings.seed)
    heldout = windows_of(heldout_texts, tokenizer, masking, settings.seq_len, np.random.default_rng(settings.seed + 1))
    lr = settings.lr if settings.lr is not None else (3e-4 if settings.full else 2e-4)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    if state and (checkpoint / "optimizer.pt").is_file():
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", map_location=device))
    step = int(state.get("step", 0))
    log: list[dict] = list(state.get("log", []))
    best = state.get("best_heldout")
    best_step = int(state.get("best_step", 0))
    first = state.get("first_heldout")
    bad_evals = int(state.get("bad_evals", 0))
    resumed_from = step
    if first is None:
        first = heldout_loss(model, heldout, settings.batch_size, device)
        log.append({"step": 0, "heldout_loss": first})
        best = first
    stopped_early = False
    started = time.perf_counter()
    bar = tqdm(total=settings.max_steps, initial=step, desc="Fine-tuning", unit="step", disable=not progress_bar)
    train_windows: list[tuple[np.ndarray, np.ndarray]] = []
    model.train()

    def schedule(i: int) -> float:
        if i < settings.warmup:
            return (i + 1) / settings.warmup
        progress = (i - settings.warmup) / max(1, settings.max_steps - settings.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def snapshot_state() -> dict:
        return {"step": step, "log": log, "best_heldout": best, "best_step": best_step, "first_heldout": first,
                "bad_evals": bad_evals, "settings": asdict(settings)}

    try:
        while step < settings.max_steps:
            batch = []
            while len(batch) < settings.batch_size:
                if not train_windows:
                    train_windows = windows_of(train_texts, tokenizer, masking, settings.seq_len, rng)
                    rng.shuffle(train_windows)  # type: ignore[arg-type]
                batch.append(train_windows.pop())
            for group in optimizer.param_groups:
                group["lr"] = lr * schedule(step)
            try:
                loss = _loss(model, batch, device)
                loss.backward()
            except RuntimeError as exc:
                if "out of memory" in str(exc).lower():
                    raise FinetuneError(
                        f"Out of memory at batch_size {settings.batch_size} and seq_len {settings.seq_len}; lower them, "
                        "or fine-tune a large model with LoRA on a GPU."
                    ) from None
                raise
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            value = float(loss.detach())
            entry: dict[str, Any] = {"step": step, "train_loss": value}
            if step % settings.eval_every == 0 or step == settings.max_steps:
                h = heldout_loss(model, heldout, settings.batch_size, device)
                entry["heldout_loss"] = h
                if h is not None and (best is None or h < best):
                    best, best_step, bad_evals = h, step, 0
                    _save(model, tokenizer, optimizer, out / "best", snapshot_state())
                elif h is not None:
                    bad_evals += 1
                log.append(entry)
                _save(model, tokenizer, optimizer, checkpoint, snapshot_state())
                if bad_evals >= settings.patience:
                    stopped_early = True
            else:
                log.append(entry)
            bar.set_postfix(loss=f"{value:.3f}", heldout=f"{best:.3f}" if best is not None else "-")
            if on_progress is not None:
                on_progress(Progress(step, value, entry.get("heldout_loss"), best, time.perf_counter() - started))
            if stopped_early:
                break
    except KeyboardInterrupt:
        _save(model, tokenizer, optimizer, checkpoint, snapshot_state())
        raise FinetuneError(
            f"Interrupted at step {step}; run the training cell again to resume from the checkpoint in {checkpoint}."
        ) from None
    finally:
        bar.close()
    if not (out / "best").is_dir():  # no held-out notebooks: the last weights are the result
        _save(model, tokenizer, optimizer, out / "best", snapshot_state())
    (out / "loss_log.json").write_text(json.dumps(log, indent=1))
    return FinetuneResult(step, best_step, best, first, stopped_early, resumed_from, log, notes)


def export(settings: FinetuneSettings, quantization: str = "int8") -> Path:
    """The best weights as an ONNX folder (out/model) that `%config CodeGen.model = ...` loads; LoRA adapters are
    merged into the base first."""
    _require_torch()
    from .export import export_model

    out = Path(settings.out).expanduser()
    best = out / "best"
    if not (best / STATE_FILE).is_file():
        raise FinetuneError(f"{best} holds no trained model yet; run the training cell first.")
    source = best
    if not settings.full:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        merged = out / "merged"
        base = AutoModelForCausalLM.from_pretrained(base_folder(settings.base), dtype=torch.float32)
        model = PeftModel.from_pretrained(base, best).merge_and_unload()
        model.save_pretrained(merged, safe_serialization=True)
        AutoTokenizer.from_pretrained(best).save_pretrained(merged)
        source = merged
    target = out / "model"
    shutil.rmtree(target, ignore_errors=True)
    return export_model(source, target, quantization=quantization)  # type: ignore[arg-type]
