"""Hugging Face checkpoint -> ONNX folder the engine loads (model.onnx with a KV cache, tokenizer.json, config.json).

Needs the `export` extra (torch, transformers, optimum-onnx); inference afterwards does not. Export writes into a
temporary folder and moves it into place at the end, so an interrupted export never leaves a half model behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from .errors import ExportError
from .graph_edits import optimize_for_generation

Quantization = Literal["none", "int8", "q8", "q4"]
QUANTIZATIONS: tuple[str, ...] = ("none", "int8", "q8", "q4")
"""none: as exported (fp32); int8: dynamic int8 MatMul weights (onnxruntime.quantization.quantize_dynamic);
q8 / q4: weight-only block quantization (MatMulNBits, 8 or 4 bits, block 32)."""

EXPORT_MANIFEST = "export.json"
_TWO_GB = 2 * 1024**3


def _require_export_extra():
    try:
        import optimum.exporters.onnx  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ExportError(
            "Turning a Hugging Face model into ONNX needs the export tools: run "
            "`pip install 'jupyter-codegen[export]'` once, or point CodeGen.model at an already exported ONNX folder."
        ) from exc


def _xglm_onnx_config(config):
    """optimum has no ONNX config for XGLM (InCoder); its decoder layout is the standard one under other names."""
    from optimum.exporters.onnx.config import TextDecoderOnnxConfig
    from optimum.utils import NormalizedTextConfig

    class XGLMOnnxConfig(TextDecoderOnnxConfig):
        NORMALIZED_CONFIG_CLASS = NormalizedTextConfig.with_args(
            num_layers="num_layers", num_attention_heads="attention_heads", hidden_size="d_model"
        )

    return XGLMOnnxConfig(config, task="text-generation", use_past=True, use_past_in_inputs=True)


def _custom_configs(hf_folder: Path, model_type: str) -> dict | None:
    if model_type != "xglm":
        return None
    from transformers import AutoConfig

    return {"model": _xglm_onnx_config(AutoConfig.from_pretrained(hf_folder, local_files_only=True))}


def quantize_model(source: Path, target: Path, quantization: Quantization) -> None:
    """Writes a quantized copy of `source` to `target` (both .onnx files)."""
    if quantization == "none":
        raise ValueError("nothing to quantize")
    large = sum(f.stat().st_size for f in source.parent.glob(source.name + "*")) > _TWO_GB
    if quantization == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # MatMul weights only: quantizing the attention's activation x activation MatMuls too is slower on CPU.
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            use_external_data_format=large,
            extra_options={"MatMulConstBOnly": True},
        )
        return
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    bits = 8 if quantization == "q8" else 4
    model = onnx.load(str(source))
    quantizer = MatMulNBitsQuantizer(model, bits=bits, block_size=32, is_symmetric=True, accuracy_level=4)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=large)


def export_model(
    hf_folder: str | Path,
    out_folder: str | Path,
    *,
    quantization: Quantization = "none",
    progress: bool = True,
) -> Path:
    """Exports a local Hugging Face causal LM folder to an ONNX folder; returns `out_folder`."""
    _require_export_extra()
    from tqdm.auto import tqdm

    hf_folder, out_folder = Path(hf_folder), Path(out_folder)
    if quantization not in QUANTIZATIONS:
        raise ExportError(f"Unknown quantization {quantization!r}; use one of {', '.join(QUANTIZATIONS)}.")
    config_file = hf_folder / "config.json"
    if not config_file.is_file():
        raise ExportError(f"{hf_folder} has no config.json, so it is not a Hugging Face model folder; check the path.")
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type", "unknown")
    out_folder.parent.mkdir(parents=True, exist_ok=True)
    steps = ["export to ONNX", "tokenizer"] + ([f"quantize ({quantization})"] if quantization != "none" else [])
    bar = tqdm(total=len(steps), desc=f"Exporting {hf_folder.name}", disable=not progress, unit="step")
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out_folder.parent))
    try:
        bar.set_postfix_str(steps[0])
        raw = work / "raw"
        _export_onnx(hf_folder, raw, model_type)
        optimize_for_generation(raw / "model.onnx")
        bar.update()
        bar.set_postfix_str(steps[1])
        _save_tokenizer(hf_folder, raw)
        bar.update()
        final = raw
        if quantization != "none":
            bar.set_postfix_str(steps[2])
            final = work / "quantized"
            final.mkdir()
            quantize_model(raw / "model.onnx", final / "model.onnx", quantization)
            for item in raw.iterdir():
                if not item.name.startswith("model.onnx"):
                    shutil.copy2(item, final / item.name)
            bar.update()
        (final / EXPORT_MANIFEST).write_text(
            json.dumps({"source": str(hf_folder), "model_type": model_type, "quantization": quantization}, indent=2),
            encoding="utf-8",
        )
        if out_folder.exists():
            shutil.rmtree(out_folder)
        os.replace(final, out_folder)
    finally:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)
    return out_folder


def _export_onnx(hf_folder: Path, target: Path, model_type: str) -> None:
    from optimum.exporters.onnx import main_export
    from optimum.exporters.tasks import TasksManager

    supported = model_type in TasksManager._SUPPORTED_MODEL_TYPE or model_type == "xglm"
    if not supported:
        raise ExportError(
            f"optimum cannot export the {model_type} family to ONNX yet; export it yourself with "
            "`optimum-cli export onnx --task text-generation-with-past` and point CodeGen.model at that folder."
        )
    try:
        main_export(
            str(hf_folder),
            str(target),
            task="text-generation-with-past",
            library_name="transformers",
            local_files_only=True,
            do_validation=False,
            custom_onnx_configs=_custom_configs(hf_folder, model_type),
        )
    except Exception as exc:
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ExportError(
            f"Exporting the {model_type} model in {hf_folder} to ONNX failed ({message}); check that the installed "
            "transformers supports it, or export it with `optimum-cli export onnx --task text-generation-with-past`."
        ) from exc


def _save_tokenizer(hf_folder: Path, target: Path) -> None:
    """Saves tokenizer.json (converting a slow tokenizer where transformers can) so inference needs only `tokenizers`."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(hf_folder, local_files_only=True, use_fast=True)
    except Exception as exc:
        raise ExportError(f"The tokenizer in {hf_folder} cannot be loaded ({type(exc).__name__}: {exc}); check its files.") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ExportError(
            f"The tokenizer in {hf_folder} has no fast version (tokenizer.json), which inference needs; "
            "install sentencepiece/protobuf so transformers can convert it, then try again."
        )
    tokenizer.save_pretrained(target)
