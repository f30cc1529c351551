"""The CI smoke pipeline, end to end in about a minute on two cores:

    data (a corpus slice + a few hundred synthetic notebooks) -> tokenizer -> a few training steps of a tiny model
    -> resume -> ship (export, int8) into a folder -> load it with the product's engine -> generate and infill.

    python -m model.smoke --work /tmp/smoke [--target /tmp/smoke/default_model]

Data: `python -m model.corpus --slice` and `python -m model.synth --n 200` when those modules exist (they are
written separately); where one is missing, the smoke run says so and uses a fallback: a few standard-library
modules as `<| file ext=.py |>` documents for the corpus, nothing for the synthetic set.
The target is never the package's own default_model unless passed explicitly.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import tokenizer as mtok

STDLIB_MODULES = ("json.decoder", "json.encoder", "textwrap", "csv", "statistics", "fractions", "heapq", "bisect",
                  "string", "shlex", "fnmatch", "glob", "colorsys", "calendar", "base64", "difflib")
REPO = Path(__file__).resolve().parent.parent


def stdlib_documents(path: Path, modules: Sequence[str] = STDLIB_MODULES) -> Path:
    """A few standard-library sources (PSF licence) as `<| file ext=.py |>` documents, one JSON line each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for name in modules:
            module = importlib.import_module(name)
            text = f"<| file ext=.py |>\n{inspect.getsource(module)}\n<|/ file |>"
            f.write(json.dumps({"text": text, "source": f"cpython:{name}", "license": "PSF-2.0"}) + "\n")
    return path


def _module_exists(name: str) -> bool:
    """Whether `python -m name` can run (the package and its __main__ exist)."""
    try:
        return importlib.util.find_spec(f"{name}.__main__") is not None
    except ImportError:
        return False


def _run_module(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _jsonl_outputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.jsonl") if p.stat().st_size > 0)


def gather_data(work: Path, notes: list[str]) -> list[str]:
    """The smoke run's data sources (`path:weight`), producing them with the data modules where they exist."""
    sources: list[str] = []
    corpus_dir = work / "corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    used_corpus = False
    if _module_exists("model.corpus"):
        result = _run_module(["model.corpus", "--slice", "--out", str(corpus_dir)], timeout=120)
        found = _jsonl_outputs(corpus_dir)
        if result.returncode == 0 and found:
            sources += [f"{p}:0.5" for p in found]
            used_corpus = True
            notes.append(f"corpus: python -m model.corpus --slice ({', '.join(p.name for p in found)})")
        else:
            notes.append(f"corpus: model.corpus --slice failed (rc {result.returncode}: {result.stderr.strip()[-300:]}); fallback")
    else:
        notes.append("corpus: model.corpus does not exist yet; fallback to standard-library documents")
    if not used_corpus:
        sources.append(f"{stdlib_documents(corpus_dir / 'stdlib.jsonl')}:0.5")
    synth_dir = work / "synth"
    synth_dir.mkdir(parents=True, exist_ok=True)
    if _module_exists("model.synth"):
        result = _run_module(["model.synth", "--n", "200", "--out", str(synth_dir)], timeout=180)
        found = _jsonl_outputs(synth_dir)
        if result.returncode == 0 and found:
            sources += [f"{p}:0.5" for p in found]
            notes.append(f"synthetic: python -m model.synth --n 200 ({', '.join(p.name for p in found)})")
        else:
            notes.append(f"synthetic: model.synth --n 200 failed (rc {result.returncode}: {result.stderr.strip()[-300:]}); skipped")
    else:
        notes.append("synthetic: model.synth does not exist yet; skipped")
    return sources


def run(work: Path, target: Path | None = None, steps: int = 12, vocab: int = 1024) -> dict:
    from .ship import ship
    from .train import Settings, train

    work = Path(work)
    target = Path(target) if target else work / "default_model"
    timings: dict[str, float] = {}
    notes: list[str] = []
    t = time.perf_counter()
    sources = gather_data(work, notes)
    timings["data_s"] = time.perf_counter() - t

    t = time.perf_counter()
    paths = [s.rpartition(":")[0] for s in sources]
    sample, _ = mtok.sample_texts(paths, max_chars=3_000_000)
    tokenizer = mtok.train_tokenizer(sample, vocab_size=vocab)
    mtok.check_tokenizer(tokenizer)
    mtok.save_tokenizer(tokenizer, work / "tokenizer", model_max_length=256)
    timings["tokenizer_s"] = time.perf_counter() - t

    t = time.perf_counter()
    common = dict(
        data=sources, tokenizer=str(work / "tokenizer"), out=str(work / "checkpoint"), state=str(work / "state"),
        size="tiny", seq_len=256, micro_batch=4, accum=2, lr=3e-3, warmup=4, total_steps=steps, hours=0.1,
        threads=2, log_every=2, eval_every=steps // 2, eval_tokens=2048, save_minutes=60.0,
    )
    train(Settings(**common, max_steps=steps // 2))
    final = train(Settings(**common, max_steps=steps, resume=True))
    timings["train_s"] = time.perf_counter() - t

    t = time.perf_counter()
    report = ship(work / "checkpoint", target, quantization="int8", progress=False)
    timings["ship_s"] = time.perf_counter() - t
    return {
        "notes": notes,
        "sources": sources,
        "step": final["step"],
        "parameters": final["parameters"],
        "timings": {k: round(v, 1) for k, v in timings.items()},
        **report,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.smoke", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True, help="scratch folder")
    p.add_argument("--target", help="where to ship the model (default: WORK/default_model)")
    p.add_argument("--steps", type=int, default=12)
    a = p.parse_args(argv)
    print(json.dumps(run(Path(a.work), Path(a.target) if a.target else None, a.steps), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
