"""Ships a training checkpoint as the product's embedded model, through the product's own export path.

    python -m model.ship                                    # model/checkpoint -> jupyter_codegen/default_model
    python -m model.ship --checkpoint CKPT --target DIR --quantization int8

Steps: the checkpoint's bf16 weights are loaded as fp32 and saved with its config and tokenizer into a temporary
Hugging Face folder; `jupyter_codegen.export.export_model` turns it into an ONNX folder (KV cache, logits_to_keep,
int8 MatMul weights); only the files the engine reads are copied into the target (with the checkpoint's bf16
PyTorch weights in torch/, for fine-tuning), which is replaced as a whole;
then the target is loaded with `jupyter_codegen.model_store.load_engine("default")` and made to generate and to
fill a hole, so a shipped model that does not load or cannot infill is caught here, not by a user.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .train import DEFAULT_OUT, TOKENIZER_FILES

DEFAULT_TARGET = Path(__file__).resolve().parent.parent / "jupyter_codegen" / "default_model"
ENGINE_FILES = ("model.onnx", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json", "export.json")
"""What the engine needs: the graph, the tokenizer (and its BOS/EOS/pad names), the context window, the manifest."""
TORCH_FILES = ("config.json", "generation_config.json", "model.safetensors")
"""The checkpoint's PyTorch weights (bf16), shipped in `torch/` with the tokenizer: the fine-tuning notebook starts
from them (the ONNX export cannot be trained)."""
DOC_FILES = ("NOTICE.md", "README.md")
"""Beside the engine's files: the training data's licences and what this model is."""
NOTICE = Path(__file__).resolve().parent / "corpus" / "NOTICE.md"
"""The licences of the code the weights were trained on travel with the weights."""
ABOUT = """# jupyter-codegen's embedded default model

A small Llama-style code model trained by the jupyter-codegen project on CPU (real permissive code and executed
synthetic data-exploration notebooks), exported to ONNX with int8 weights. What it can and cannot do, how it
was trained and how it measures: `model/README.md` in the project's repository. Training data licences:
NOTICE.md. Provenance of this export: export.json.
"""

CHECK_PROMPT_NOTEBOOK = (
    "<| file ext=.ipynb:python |>\n<text>\nLoad the sales data and show the first rows.\n</text>\n<cell>\n"
)
CHECK_INFILL_PARTS = ["import pandas as pd\n\ndf = pd.read_csv('sales.csv')\n", "\nprint(df.shape)\n"]


def hf_folder_from_checkpoint(checkpoint: Path, folder: Path) -> Path:
    """The checkpoint as an fp32 Hugging Face folder (what optimum exports best)."""
    import torch
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (checkpoint / name).is_file():
            shutil.copy2(checkpoint / name, folder / name)
    return folder


def install(onnx_folder: Path, target: Path, provenance: dict, weights: Path | None = None) -> Path:
    """Copies the engine's files (and the PyTorch weights of checkpoint `weights` into torch/) into `target`,
    replacing it in one rename."""
    missing = [n for n in ENGINE_FILES if not (onnx_folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"the export in {onnx_folder} lacks {', '.join(missing)}")
    if any(onnx_folder.glob("model.onnx_data*")) or any(onnx_folder.glob("*.onnx.data")):
        raise RuntimeError("the export has external weight data; the embedded model must be one self-contained file")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name in ENGINE_FILES:
            shutil.copy2(onnx_folder / name, staging / name)
            os.chmod(staging / name, 0o644)  # readable by every user of a shared install
        if weights is not None:
            (staging / "torch").mkdir()
            os.chmod(staging / "torch", 0o755)
            for name in TORCH_FILES + TOKENIZER_FILES:
                if (weights / name).is_file():
                    shutil.copy2(weights / name, staging / "torch" / name)
                    os.chmod(staging / "torch" / name, 0o644)
        shutil.copy2(NOTICE, staging / "NOTICE.md")
        (staging / "README.md").write_text(ABOUT, encoding="utf-8")
        for name in DOC_FILES:
            os.chmod(staging / name, 0o644)
        manifest = json.loads((staging / "export.json").read_text(encoding="utf-8"))
        manifest["source"] = provenance.pop("checkpoint", manifest.get("source"))
        manifest.update(provenance)
        (staging / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(staging / "export.json", 0o644)
        os.chmod(staging, 0o755)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}-old-{os.getpid()}")
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def check(target: Path, max_new_tokens: int = 24) -> dict:
    """Loads `target` as the default model through the product and makes it generate and fill one hole."""
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.infill import fill_holes
    from jupyter_codegen.model_store import EngineSettings, forget_engines, load_engine

    forget_engines()
    settings = EngineSettings(default_model_dir=str(target), progress=False, threads=2)
    start = time.perf_counter()
    engine = load_engine("default", settings)
    load_s = time.perf_counter() - start
    if engine.format.name != "causal-masking":
        raise RuntimeError(f"the shipped tokenizer is detected as {engine.format.name}, not causal-masking")
    options = GenerationOptions(max_new_tokens=max_new_tokens, temperature=0.0)
    prompt = engine.format.continuation(CHECK_PROMPT_NOTEBOOK)
    start = time.perf_counter()
    [completion] = engine.generate(prompt.text, options.with_(stop=prompt.stop))
    generate_s = time.perf_counter() - start
    infill = fill_holes(engine, list(CHECK_INFILL_PARTS), options, method="infill")
    forget_engines()
    return {
        "format": engine.format.name,
        "load_s": round(load_s, 3),
        "generate_s": round(generate_s, 3),
        "generated": completion.text,
        "generated_tokens": len(completion.token_ids),
        "infill_method": infill.method,
        "infill": infill.fills[0],
    }


def ship(checkpoint: Path = DEFAULT_OUT, target: Path = DEFAULT_TARGET, quantization: str = "int8",
         verify: bool = True, progress: bool = True) -> dict:
    """Exports `checkpoint` into `target`; returns what was shipped and, with `verify`, the check's results."""
    from jupyter_codegen.export import export_model

    checkpoint, target = Path(checkpoint), Path(target)
    state_file = checkpoint / "trainer_state.json"
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="ship-") as tmp:
        hf = hf_folder_from_checkpoint(checkpoint, Path(tmp) / "hf")
        onnx_folder = export_model(hf, Path(tmp) / "onnx", quantization=quantization, progress=progress)
        provenance = {
            "checkpoint": str(checkpoint),
            "step": state.get("step"),
            "training_tokens": state.get("tokens"),
            "training_hours": state.get("train_hours"),
            "parameters": state.get("parameters"),
        }
        if state.get("averaged"):  # a weight average (model/average.py): its step and hours are one part's
            provenance["averaged"] = state["averaged"]
        if state.get("grown"):  # a deeper model made from a smaller one (model/grow.py)
            provenance["grown"] = state["grown"]
        install(onnx_folder, target, provenance, weights=checkpoint)
    report = {
        "target": str(target),
        "files": {p.name: p.stat().st_size for p in sorted(target.iterdir())},
        "model_onnx_MB": round((target / "model.onnx").stat().st_size / 1e6, 2),
    }
    if verify:
        report["check"] = check(target)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.ship", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_OUT))
    p.add_argument("--target", default=str(DEFAULT_TARGET))
    p.add_argument("--quantization", default="int8", choices=("none", "int8", "q8", "q4"))
    p.add_argument("--no-check", action="store_true", help="skip loading and generating with the shipped model")
    a = p.parse_args(argv)
    report = ship(Path(a.checkpoint), Path(a.target), a.quantization, verify=not a.no_check)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
