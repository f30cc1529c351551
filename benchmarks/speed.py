#!/usr/bin/env python
"""Decode speed of the local engine against PyTorch eager, on a CodeGen-350M-shaped random-weight model.

Why random weights: speed depends on the shape, not on what the weights say, and a model built from a config
needs no download. Everything the product path does is measured through the product's own calls: the ONNX folders
come from `jupyter_codegen.export.export_model` and generation goes through `OnnxEngine.generate`, the call the
magics make. Each variant runs in its own subprocess, so its peak RSS (ru_maxrss) is its own and the ONNX
workers never import torch.

Run `python benchmarks/speed.py --help`; benchmarks/README.md says how to read the table.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout, installed or not
    sys.path.insert(0, str(REPO))

BUILD_VERSION = 2  # bump when the model or tokenizer recipe changes, so cached work dirs are rebuilt
QUANTIZATIONS = ("none", "int8", "q8", "q4")
VARIANTS = ("pytorch",) + tuple(f"onnx-{q}" for q in QUANTIZATIONS)
DEFAULT_CPU_VARIANT = "onnx-int8"  # what model_store picks on a CPU (quantization "auto")
EOS = "<|endoftext|>"
TOKENIZER_VOCAB = 8192
MASKED_LOGIT = -1.0e4
LOGIT_STD = 4.0  # spread of the random model's logits: peaked like a trained model's, not flat
_PROGRESS_FD = "CODEGEN_BENCH_PROGRESS_FD"

# Salesforce/codegen-350M-mono's shape; --quick swaps in a much smaller one for a smoke run.
FULL_SHAPE = dict(n_embd=1024, n_layer=20, n_head=16, rotary_dim=32, n_positions=2048, n_ctx=2048, vocab_size=51200)
QUICK_SHAPE = dict(n_embd=256, n_layer=2, n_head=4, rotary_dim=32, n_positions=2048, n_ctx=2048, vocab_size=51200)

TARGET_QUANTIZED = 4.0  # int8 (or 4-bit) decode >= 4x PyTorch eager
TARGET_FP32 = 1.8  # fp32 decode >= 1.8x PyTorch eager
TARGET_CANDIDATES = 2.0  # n candidates take < 2x the time of one


def log(message: str) -> None:
    """Progress to the terminal; a worker writes to the parent's stderr, past its own captured output."""
    line = f"[speed] {message}\n"
    fd = os.environ.get(_PROGRESS_FD)
    if fd is not None:
        os.write(int(fd), line.encode())
    else:
        sys.stderr.write(line)
        sys.stderr.flush()


# -- building the model (prepare worker: needs torch, transformers, optimum) -----------------------------------


def _stdlib_source(*modules: str) -> list[str]:
    """Python source that exists on every machine, so the tokenizer and the prompt need no data files."""
    import importlib

    return [inspect.getsource(importlib.import_module(name)) for name in modules]


def _train_tokenizer(folder: Path) -> None:
    """A real byte-level BPE (the kind CodeGen uses) trained on local Python source; ids stay far below 51200."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = _stdlib_source("argparse", "dataclasses", "textwrap", "json.decoder", "json.encoder", "collections",
                          "functools", "string", "csv", "shlex", "typing", "logging")
    tokenizer.train_from_iterator(text, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "add_bos_token": False,
        "model_max_length": 2048,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def _visible_token_mask(tokenizer_file: Path, vocab_size: int) -> np.ndarray:
    """True for ids that decode, on their own, to non-empty whole characters and are not special.

    Only these may be generated: then every step streams text (so on_text times each token), no eos can end a
    run early, and no id lies beyond the tokenizer's vocabulary.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    special = {t.content for t in tok.get_added_tokens_decoder().values()}
    mask = np.zeros(vocab_size, dtype=bool)
    for token_id in range(min(tok.get_vocab_size(with_added_tokens=True), vocab_size)):
        token = tok.id_to_token(token_id)
        text = tok.decode([token_id], skip_special_tokens=False)
        mask[token_id] = token is not None and token not in special and bool(text) and "\ufffd" not in text
    return mask


def build_hf_model(folder: Path, shape: dict) -> None:
    """CodeGen-shaped random weights, with lm_head's bias pushing invisible and eos ids to -1e4.

    The bias changes no arithmetic (the same MatMul + Add runs), it only decides which argmax/sample wins.
    lm_head's weights are widened so the logits spread by about LOGIT_STD: with the default initialisation the
    distribution is nearly flat and top-p would keep tens of thousands of tokens, unlike any trained model.
    """
    import torch
    from tokenizers import Tokenizer
    from transformers import CodeGenConfig, CodeGenForCausalLM

    _train_tokenizer(folder)
    eos_id = Tokenizer.from_file(str(folder / "tokenizer.json")).token_to_id(EOS)
    config = CodeGenConfig(**shape, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
                           tie_word_embeddings=False)
    torch.manual_seed(0)
    model = CodeGenForCausalLM(config).eval()
    if model.lm_head.bias is None:
        raise RuntimeError("CodeGen's lm_head has no bias in this transformers version; cannot mask eos")
    visible = torch.from_numpy(_visible_token_mask(folder / "tokenizer.json", shape["vocab_size"]))
    with torch.no_grad():
        model.lm_head.weight.normal_(0.0, LOGIT_STD / shape["n_embd"] ** 0.5)  # ln_f output has unit spread
        model.lm_head.bias.zero_()
        model.lm_head.bias[~visible] = MASKED_LOGIT
    model.save_pretrained(folder)


def _tensor_bytes(tensor: Any) -> int:
    import onnx

    itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    return int(np.prod(tensor.dims, dtype=np.int64)) * itemsize


def weight_bytes(onnx_folder: Path) -> dict[str, int]:
    """On-disk size, all initializers, and the bytes one decode step streams.

    Streamed = initializers minus tables read only by Gather (the token embedding: one row per token).
    """
    import onnx

    model = onnx.load(str(onnx_folder / "model.onnx"), load_external_data=False)
    graph = model.graph
    consumers: dict[str, list[tuple[str, int]]] = {}
    for node in graph.node:
        for index, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node.op_type, index))
    total = gathered = 0
    for init in graph.initializer:
        size = _tensor_bytes(init)
        total += size
        uses = consumers.get(init.name, [])
        if uses and all(op == "Gather" and index == 0 for op, index in uses):
            gathered += size
    files = sum(f.stat().st_size for f in onnx_folder.glob("model.onnx*"))
    return {"file_bytes": files, "initializer_bytes": total, "streamed_bytes": total - gathered}


def exact_prompt(tokenizer_file: Path, tokens: int) -> str:
    """Python source cut so the tokenizer turns it into exactly `tokens` ids (both sides encode the same ids)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    text = "".join(_stdlib_source("difflib", "inspect", "tokenize"))
    encoding = tok.encode(text, add_special_tokens=False)
    if len(encoding.ids) < tokens:
        raise RuntimeError(f"the prompt source has only {len(encoding.ids)} tokens; ask for fewer")
    end = encoding.offsets[tokens - 1][1]
    for delta in sorted(range(-64, 65), key=abs):
        candidate = text[: end + delta]
        if len(tok.encode(candidate, add_special_tokens=False).ids) == tokens:
            return candidate
    raise RuntimeError(f"no prefix of the prompt source encodes to exactly {tokens} tokens")


def prepare(spec: dict) -> dict:
    """Builds (or reuses) the HF folder, exports each ONNX variant, writes the prompt; returns sizes."""
    from jupyter_codegen.export import export_model

    work = Path(spec["work"])
    hf = work / "hf"
    if not (hf / "model.safetensors").is_file():
        log(f"building the random-weight model in {hf}")
        build_hf_model(hf, spec["shape"])
    sizes = {}
    for quantization in spec["quantizations"]:
        folder = work / f"onnx-{quantization}"
        if not (folder / "model.onnx").is_file() or not (folder / "export.json").is_file():
            log(f"exporting onnx-{quantization} with jupyter_codegen.export.export_model")
            started = time.perf_counter()
            export_model(hf, folder, quantization=quantization, progress=False)
            log(f"  exported in {time.perf_counter() - started:.0f} s")
        sizes[f"onnx-{quantization}"] = weight_bytes(folder)
    prompt = exact_prompt(hf / "tokenizer.json", spec["prompt_tokens"])
    (work / "prompt.txt").write_text(prompt, encoding="utf-8")
    n_params = _count_hf_params(hf)
    sizes["pytorch"] = {"file_bytes": n_params["bytes"], "initializer_bytes": n_params["bytes"],
                        "streamed_bytes": n_params["bytes"] - n_params["embedding_bytes"]}
    return {"sizes": sizes}


def _count_hf_params(hf: Path) -> dict[str, int]:
    from safetensors import safe_open

    total = embedding = 0
    with safe_open(str(hf / "model.safetensors"), framework="np") as f:
        for name in f.keys():
            array = f.get_slice(name)
            size = int(np.prod(array.get_shape(), dtype=np.int64)) * 4  # float32
            total += size
            if name.endswith("wte.weight"):
                embedding += size
    return {"bytes": total, "embedding_bytes": embedding}


# -- timing helpers -------------------------------------------------------------------------------------------


@dataclass
class Run:
    ttft_s: float
    """Call start to the first new token reaching the caller (on_text / streamer)."""
    decode_tok_s: float
    """(tokens - 1) / (last token time - first token time): the decode steps alone, prefill excluded."""
    total_s: float
    tokens: int


def _run_from_times(start: float, token_times: list[float], end: float, tokens: int) -> Run:
    if len(token_times) < 2:
        raise RuntimeError("fewer than two token times were recorded; cannot time decoding")
    decode = (len(token_times) - 1) / (token_times[-1] - token_times[0])
    return Run(token_times[0] - start, decode, end - start, tokens)


def _summary(runs: list[Run]) -> dict:
    return {
        "ttft_s": statistics.median(r.ttft_s for r in runs),
        "decode_tok_s": statistics.median(r.decode_tok_s for r in runs),
        "total_s": statistics.median(r.total_s for r in runs),
        "runs": [asdict(r) for r in runs],
    }


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# -- PyTorch eager worker -------------------------------------------------------------------------------------


def torch_worker(spec: dict) -> dict:
    """HF `model.generate`, greedy with the KV cache; token times from a streamer (put per new token)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    from transformers.generation.streamers import BaseStreamer

    torch.set_num_threads(spec["threads"])
    hf = Path(spec["work"]) / "hf"
    prompt = (Path(spec["work"]) / "prompt.txt").read_text(encoding="utf-8")
    ids = Tokenizer.from_file(str(hf / "tokenizer.json")).encode(prompt, add_special_tokens=False).ids
    if len(ids) != spec["prompt_tokens"]:
        raise RuntimeError(f"prompt is {len(ids)} tokens, expected {spec['prompt_tokens']}")
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
    input_ids = torch.tensor([ids], dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    new_tokens = spec["new_tokens"]

    class Clock(BaseStreamer):
        """generate() puts the prompt once, then each new token: time every put after the first."""

        def __init__(self) -> None:
            self.times: list[float] = []
            self.seen_prompt = False

        def put(self, value: Any) -> None:
            if self.seen_prompt:
                self.times.append(time.perf_counter())
            self.seen_prompt = True

        def end(self) -> None:
            pass

    runs = []
    for index in range(spec["warmup"] + spec["runs"]):
        clock = Clock()
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=new_tokens,
                                 do_sample=False, use_cache=True, streamer=clock, pad_token_id=model.config.eos_token_id)
        end = time.perf_counter()
        got = out.shape[1] - len(ids)
        if got != new_tokens or len(clock.times) != new_tokens:
            raise RuntimeError(f"PyTorch generated {got} tokens ({len(clock.times)} timed), expected {new_tokens}")
        if index >= spec["warmup"]:
            runs.append(_run_from_times(start, clock.times, end, got))
    return {"n1": _summary(runs), "peak_rss_bytes": _peak_rss_bytes()}


# -- ONNX engine worker ---------------------------------------------------------------------------------------


def _engine_run(engine: Any, prompt: str, options: Any, expected: int) -> tuple[Run, list[list[int]]]:
    """One `engine.generate` call as the magic makes it; checks every candidate ran to the token limit."""
    times: list[float] = []

    def on_text(index: int, delta: str) -> None:
        if index == 0:
            times.append(time.perf_counter())

    start = time.perf_counter()
    completions = engine.generate(prompt, options, on_text=on_text)
    end = time.perf_counter()
    for c in completions:
        if len(c.token_ids) != expected or c.finish_reason != "length":
            raise RuntimeError(f"a candidate ended after {len(c.token_ids)} tokens ({c.finish_reason}), expected {expected}")
    if len(times) != expected:
        raise RuntimeError(f"on_text was called {len(times)} times for {expected} tokens; cannot time each token")
    return _run_from_times(start, times, end, expected), [c.token_ids for c in completions]


def _host_step_ms(engine: Any, n: int, temperature: float, top_p: float, vocab: int, steps: int = 20) -> float:
    """The numpy work one decode step does outside the session (sample, log-softmax, detokenize), in ms.

    Mirrors what OnnxEngine.generate does per step on random logits, to show how much of a step is not the model.
    """
    from jupyter_codegen.sampling import Sampler, log_softmax

    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((n, vocab)) * LOGIT_STD).astype(np.float32)  # as peaked as the model's
    sampler = Sampler(temperature, top_p, 0)
    history = [list(rng.integers(1, 200, size=32)) for _ in range(n)]
    started = time.perf_counter()
    for _ in range(steps):
        next_ids = sampler(logits)
        log_softmax(logits)[np.arange(n), next_ids]
        for row in history:
            engine.tokenizer.decode(row)
    return (time.perf_counter() - started) / steps * 1000


def onnx_worker(spec: dict) -> dict:
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.onnx_engine import OnnxEngine

    folder = Path(spec["work"]) / spec["variant"]
    prompt = (Path(spec["work"]) / "prompt.txt").read_text(encoding="utf-8")
    load_start = time.perf_counter()
    engine = OnnxEngine(folder, device="cpu", threads=spec["threads"])
    load_s = time.perf_counter() - load_start
    if engine.count_tokens(prompt) != spec["prompt_tokens"]:
        raise RuntimeError(f"prompt is {engine.count_tokens(prompt)} tokens, expected {spec['prompt_tokens']}")
    new_tokens = spec["new_tokens"]
    greedy = GenerationOptions(max_new_tokens=new_tokens, temperature=0.0, stop=())
    runs = []
    for index in range(spec["warmup"] + spec["runs"]):
        run, _ = _engine_run(engine, prompt, greedy, new_tokens)
        if index >= spec["warmup"]:
            runs.append(run)
    result: dict = {"n1": _summary(runs), "peak_rss_bytes": _peak_rss_bytes(), "load_s": load_s,
                    "provider": engine.device}
    vocab = engine.session.get_outputs()[0].shape[-1]
    vocab = vocab if isinstance(vocab, int) else 51200
    result["host_step_ms_n1"] = _host_step_ms(engine, 1, 0.0, 1.0, vocab)
    n = spec["candidates"]
    if n > 1:
        sampled_runs, distinct = [], []
        for index in range(spec["warmup"] + spec["runs"]):
            options = GenerationOptions(max_new_tokens=new_tokens, temperature=0.8, top_p=0.95, seed=index, n=n, stop=())
            run, rows = _engine_run(engine, prompt, options, new_tokens)
            distinct.append(len({tuple(r) for r in rows}))
            if index >= spec["warmup"]:
                sampled_runs.append(run)
        if min(distinct) < 2:
            raise RuntimeError(f"the {n} sampled candidates were all the same; sampling did not take effect")
        result["nk"] = _summary(sampled_runs)
        result["nk"]["distinct_rows"] = min(distinct)
        result["peak_rss_bytes_nk"] = _peak_rss_bytes()
        result["host_step_ms_nk"] = _host_step_ms(engine, n, 0.8, 0.95, vocab)
    return result


# -- memory bandwidth (parent process) ------------------------------------------------------------------------


def read_bandwidth(nbytes: int, threads: int, repeats: int = 7) -> float:
    """Bytes/s the machine reads: `threads` Python threads each reduce their own slice of one buffer.

    numpy releases the GIL inside reductions, so the threads run in parallel. Two read-only kernels (int64 sum,
    float32 max) are timed and the best pass of `repeats` is kept: a bound should be what the hardware can do.
    A buffer of the weights' own size sees the same mix of cache and DRAM that one pass over the weights does.
    """
    buffer = np.ones(max(nbytes, 1 << 20) // 8, dtype=np.int64)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for dtype, kernel in ((np.int64, np.add.reduce), (np.float32, np.maximum.reduce)):
            view = buffer.view(dtype)
            chunks = np.array_split(view, threads)
            list(pool.map(kernel, chunks))  # touch the pages once
            for _ in range(repeats):
                started = time.perf_counter()
                list(pool.map(kernel, chunks))
                best = max(best, buffer.nbytes / (time.perf_counter() - started))
    return best


def _available_memory() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


# -- orchestration --------------------------------------------------------------------------------------------


def _run_worker(kind: str, spec: dict, work: Path, threads: int) -> dict:
    """Runs one measurement in a fresh interpreter, so its RSS is its own; output goes to a log in the work dir."""
    result_file = work / f"result-{kind}-{spec.get('variant', kind)}.json"
    log_file = work / f"log-{kind}-{spec.get('variant', kind)}.txt"
    result_file.unlink(missing_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               TRANSFORMERS_VERBOSITY="error", PYTHONWARNINGS="ignore")
    progress = os.dup(sys.stderr.fileno())
    env[_PROGRESS_FD] = str(progress)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--spec", json.dumps(spec),
               "--result", str(result_file)]
    try:
        with log_file.open("w") as out:
            code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                   pass_fds=(progress,))
    finally:
        os.close(progress)
    if code != 0 or not result_file.is_file():
        tail = log_file.read_text(errors="replace").splitlines()[-25:]
        raise RuntimeError(f"{kind} worker failed (exit {code}); last lines of {log_file}:\n" + "\n".join(tail))
    return json.loads(result_file.read_text())


def _shape_key(shape: dict) -> str:
    blob = json.dumps({"shape": shape, "build": BUILD_VERSION, "vocab": TOKENIZER_VOCAB}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def _versions() -> dict:
    from importlib import metadata

    found = {}
    for name in ("onnxruntime", "torch", "transformers", "optimum-onnx", "numpy", "tokenizers"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(args: argparse.Namespace, work: Path) -> dict:
    shape = QUICK_SHAPE if args.quick else FULL_SHAPE
    work = work / f"{'quick' if args.quick else 'codegen-350M'}-{_shape_key(shape)}"
    work.mkdir(parents=True, exist_ok=True)
    variants = args.variants
    quantizations = [v.removeprefix("onnx-") for v in variants if v.startswith("onnx-")]
    load_before = os.getloadavg()
    prepared = _run_worker("prepare", {"work": str(work), "shape": shape, "quantizations": quantizations,
                                       "prompt_tokens": args.prompt_tokens}, work, args.threads)
    sizes = prepared["sizes"]
    common = {"work": str(work), "threads": args.threads, "runs": args.runs, "warmup": args.warmup,
              "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "candidates": args.candidates}
    results: dict[str, dict] = {}
    for variant in variants:
        log(f"measuring {variant} ({args.runs} runs + {args.warmup} warm-up, {args.threads} threads)")
        kind = "torch" if variant == "pytorch" else "onnx"
        results[variant] = _run_worker(kind, dict(common, variant=variant), work, args.threads)
        results[variant].update(sizes[variant])
    log("measuring read bandwidth")
    cap = _available_memory() // 3
    dram_bytes = min(2 << 30, cap)
    bandwidth = {"dram_bytes": dram_bytes, "dram_bytes_per_s": read_bandwidth(dram_bytes, args.threads)}
    for variant, result in results.items():
        streamed = min(result["streamed_bytes"], cap)
        result["bandwidth_bytes_per_s"] = read_bandwidth(streamed, args.threads)
        result["bound_tok_s"] = result["bandwidth_bytes_per_s"] / result["streamed_bytes"]
        result["share_of_bound"] = result["n1"]["decode_tok_s"] / result["bound_tok_s"]
    load_after = os.getloadavg()
    kv_bytes = 2 * shape["n_layer"] * shape["n_embd"] * 4 * (args.prompt_tokens + args.new_tokens)
    return {
        "kv_cache_bytes_last_step": kv_bytes,
        "shape": "quick" if args.quick else "codegen-350M",
        "model_config": shape,
        "settings": {k: getattr(args, k) for k in ("threads", "runs", "warmup", "prompt_tokens", "new_tokens",
                                                     "candidates", "quick")},
        "machine": {"cpu": _cpu_name(), "cpus_usable": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": load_after},
        "versions": _versions(),
        "bandwidth": bandwidth,
        "variants": results,
        "targets": targets(results, args.candidates),
    }


def targets(results: dict[str, dict], candidates: int) -> list[dict]:
    """The issue's targets; a target whose variants were not run is reported as skipped."""
    out: list[dict] = []
    eager = results.get("pytorch", {}).get("n1", {}).get("decode_tok_s")

    def speedup(variant: str) -> float | None:
        rate = results.get(variant, {}).get("n1", {}).get("decode_tok_s")
        return rate / eager if rate and eager else None

    quantized = {v: speedup(v) for v in ("onnx-int8", "onnx-q8", "onnx-q4") if speedup(v) is not None}
    best = max(quantized, key=quantized.get) if quantized else None
    out.append({"name": f"int8 or 4-bit decode >= {TARGET_QUANTIZED:g}x PyTorch eager", "variant": best,
                "value": quantized.get(best) if best else None, "target": TARGET_QUANTIZED, "higher_is_better": True})
    out.append({"name": f"fp32 decode >= {TARGET_FP32:g}x PyTorch eager", "variant": "onnx-none",
                "value": speedup("onnx-none"), "target": TARGET_FP32, "higher_is_better": True})
    default = results.get(DEFAULT_CPU_VARIANT, {})
    ratio = None
    if "nk" in default:
        ratio = default["nk"]["total_s"] / default["n1"]["total_s"]
    out.append({"name": f"{candidates} candidates < {TARGET_CANDIDATES:g}x the time of 1", "variant": DEFAULT_CPU_VARIANT,
                "value": ratio, "target": TARGET_CANDIDATES, "higher_is_better": False})
    for t in out:
        if t["value"] is None:
            t["status"] = "SKIPPED"
        elif t["higher_is_better"]:
            t["status"] = "PASS" if t["value"] >= t["target"] else "MISS"
        else:
            t["status"] = "PASS" if t["value"] < t["target"] else "MISS"
    return out


# -- report ---------------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def report(data: dict) -> str:
    results = data["variants"]
    eager = results.get("pytorch")
    s = data["settings"]
    lines = [
        f"model: {data['shape']} {json.dumps(data['model_config'])}",
        f"prompt {s['prompt_tokens']} tokens, {s['new_tokens']} new tokens, {s['threads']} threads, "
        f"median of {s['runs']} runs (+{s['warmup']} warm-up); cpu: {data['machine']['cpu']} "
        f"({data['machine']['cpus_usable']} usable), load {data['machine']['loadavg_before'][0]:.2f} before / "
        f"{data['machine']['loadavg_after'][0]:.2f} after",
        f"read bandwidth ({s['threads']} threads, {data['bandwidth']['dram_bytes'] / 2**30:.1f} GiB buffer): "
        f"{data['bandwidth']['dram_bytes_per_s'] / 1e9:.1f} GB/s",
        "",
    ]
    header = (f"{'variant':<10} {'streamed':>9} {'TTFT s':>7} {'x eager':>7} {'tok/s':>7} {'x eager':>7} "
              f"{'bound':>7} {'of bound':>8} {'RSS MB':>7} {'n=' + str(max(2, s['candidates'])) + '/n=1':>8}")
    lines += [header, "-" * len(header)]
    for name, r in results.items():
        n1 = r["n1"]
        ttft_x = eager["n1"]["ttft_s"] / n1["ttft_s"] if eager else None
        tok_x = n1["decode_tok_s"] / eager["n1"]["decode_tok_s"] if eager else None
        nk = r["nk"]["total_s"] / n1["total_s"] if "nk" in r else None
        lines.append(
            f"{name:<10} {r['streamed_bytes'] / 1e6:>7.0f}MB {n1['ttft_s']:>7.3f} {_fmt(ttft_x, '.2f', 'x'):>7} "
            f"{n1['decode_tok_s']:>7.1f} {_fmt(tok_x, '.2f', 'x'):>7} {r['bound_tok_s']:>7.0f} "
            f"{r['share_of_bound']:>8.0%} {r['peak_rss_bytes'] / 1e6:>7.0f} {_fmt(nk, '.2f', 'x'):>8}"
        )
    lines += ["", "streamed = weight bytes one decode step reads (embedding table excluded); bound = read bandwidth "
              "over a buffer that size / streamed bytes",
              f"KV cache (fp32) at the last step: {data['kv_cache_bytes_last_step'] / 1e6:.0f} MB per candidate, read "
              "on top of the weights each step (not in the bound)"]
    extra = [(n, r) for n, r in results.items() if "host_step_ms_n1" in r]
    if extra:
        lines.append("engine detail: " + "; ".join(
            f"{n}: load {r['load_s']:.1f} s, host work/step {r['host_step_ms_n1']:.2f} ms (n=1)"
            + (f", {r['host_step_ms_nk']:.1f} ms (n={s['candidates']}), n={s['candidates']} decode "
               f"{r['nk']['decode_tok_s']:.1f} steps/s" if "nk" in r else "")
            for n, r in extra))
    lines.append("")
    for t in data["targets"]:
        value = _fmt(t["value"], ".2f", "x")
        lines.append(f"{t['status']:<7} {t['name']}: {value} ({t['variant'] or 'not run'})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for torch, ONNX Runtime and the bandwidth probe")
    parser.add_argument("--runs", type=int, help="timed runs per variant, medians reported (default 5, 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before the timed ones")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--candidates", type=int, default=8, help="n for the sampled candidates run (1 to skip)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="which to measure (ratios need pytorch)")
    parser.add_argument("--quick", action="store_true", help="a 2-layer, 256-wide model: a smoke run, not a benchmark")
    parser.add_argument("--work-dir", type=Path, help="keep the model and exports here and reuse them (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", choices=("prepare", "torch", "onnx"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.new_tokens < 2 or args.prompt_tokens < 1 or args.runs < 1 or args.threads < 1:
        parser.error("need --new-tokens >= 2, --prompt-tokens >= 1, --runs >= 1, --threads >= 1")
    return args


WORKERS: dict[str, Callable[[dict], dict]] = {"prepare": prepare, "torch": torch_worker, "onnx": onnx_worker}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](json.loads(args.spec))
        args.result.write_text(json.dumps(result), encoding="utf-8")
        return 0
    started = time.perf_counter()
    if args.work_dir:
        data = measure(args, args.work_dir.expanduser().resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="codegen-bench-") as tmp:
            data = measure(args, Path(tmp))
    data["elapsed_s"] = time.perf_counter() - started
    print(report(data))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2), encoding="utf-8")
        log(f"results written to {args.json}")
    log(f"done in {data['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
