"""The CI smoke pipeline (model/smoke.py): data -> tokenizer -> training steps -> resume -> ship -> product engine."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("optimum.exporters.onnx")

pytestmark = pytest.mark.slow


def test_smoke_pipeline_ships_a_model_the_product_loads_and_runs(tmp_path):
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.infill import fill_holes
    from jupyter_codegen.model_store import DEFAULT_MODEL_DIR, EngineSettings, forget_engines, load_engine
    from jupyter_codegen.onnx_engine import OnnxEngine
    from model.ship import DOC_FILES, ENGINE_FILES, TORCH_FILES
    from model.smoke import run

    target = tmp_path / "shipped"
    report = run(tmp_path / "work", target, steps=12)
    assert target.resolve() != DEFAULT_MODEL_DIR.resolve()
    assert report["step"] == 12
    assert sorted(p.name for p in target.iterdir()) == sorted(ENGINE_FILES + DOC_FILES + ("torch",))
    assert set(TORCH_FILES) <= {p.name for p in (target / "torch").iterdir()}  # weights to fine-tune from
    manifest = json.loads((target / "export.json").read_text())
    assert manifest["quantization"] == "int8" and manifest["step"] == 12 and manifest["model_type"] == "llama"
    check = report["check"]
    assert check["format"] == "causal-masking" and check["infill_method"] == "causal masking"

    # the product's own loading paths, independently of the ship check
    engine = OnnxEngine(target, threads=2)
    assert engine.format.name == "causal-masking"
    assert engine.context_window == 256
    forget_engines()
    engine = load_engine("default", EngineSettings(default_model_dir=str(target), progress=False, threads=2))
    options = GenerationOptions(max_new_tokens=8)
    prompt = engine.format.continuation("<| file ext=.ipynb:python |>\n<text>\nShow the data.\n</text>\n<cell>\n")
    [completion] = engine.generate(prompt.text, options.with_(stop=prompt.stop))
    assert completion.finish_reason in ("stop", "length")
    result = fill_holes(engine, ["def f(x):\n    ", "\n    return y\n"], options, method="infill")
    assert result.method == "causal masking" and len(result.fills) == 1
    forget_engines()
