"""Fine-tuning on notebooks (jupyter_codegen.finetune): the embedded model trained whole with the causal-masking
objective, held-out loss that falls, early stop, resume after an interruption, LoRA on another model, and the export
that a fresh engine loads."""

from __future__ import annotations

import json

import nbformat
import pytest

from jupyter_codegen import finetune
from jupyter_codegen.finetune_data import FinetuneError, collect

pytestmark = pytest.mark.slow


def ledger_notebooks(folder, n=8):
    """Notebooks in one analyst's habits: a library and names no base model has seen."""
    for i in range(n):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"Quarterly ledger review for branch {i}"),
            nbformat.v4.new_code_cell(f"import ledgerkit as lk\nbook = lk.open('branches/{i}.lk')"),
            nbformat.v4.new_code_cell("book.balance(kind='quarterly').plot_drift()"),
        ]
        nbformat.write(nb, str(folder / f"branch_{i}.ipynb"))
    return collect(folder, heldout_share=0.25)


def texts(data, split):
    return [d.text for d in data.split(split)]


def test_the_embedded_model_learns_the_users_notebooks_and_resumes_after_an_interruption(tmp_path):
    data = ledger_notebooks(tmp_path)
    settings = finetune.FinetuneSettings(out=str(tmp_path / "run"), max_steps=6, batch_size=2, seq_len=128,
                                         eval_every=3, threads=2)
    seen = []
    first = finetune.train(settings, texts(data, "train"), texts(data, "heldout"), on_progress=seen.append,
                           progress_bar=False)
    assert first.steps == 6 and first.resumed_from == 0 and [p.step for p in seen] == list(range(1, 7))
    assert first.best_heldout < first.first_heldout  # held-out notebooks got likelier
    # Run again with a larger budget: it continues from the checkpoint, not from the base model.
    settings.max_steps = 9
    second = finetune.train(settings, texts(data, "train"), texts(data, "heldout"), progress_bar=False)
    assert second.resumed_from == 6 and second.steps == 9
    assert [e["step"] for e in second.log if "train_loss" in e] == list(range(1, 10))
    assert second.first_heldout == first.first_heldout
    log = json.loads((tmp_path / "run" / "loss_log.json").read_text())
    assert log[0] == {"step": 0, "heldout_loss": first.first_heldout}

    onnx = finetune.export(settings)
    from jupyter_codegen.model_store import EngineSettings, load_engine

    engine = load_engine(str(onnx), EngineSettings(threads=1))
    assert engine.format.can_infill  # the sentinels survived: infilling keeps working
    from jupyter_codegen.engine import GenerationOptions

    [answer] = engine.generate("<| file ext=.ipynb:python |>\n<cell>\nimport ledgerkit as lk\n", GenerationOptions(max_new_tokens=8))
    assert len(answer.token_ids) == 8 and "lk." in answer.text  # it writes the user's library now


def test_training_stops_early_when_held_out_loss_stops_falling(tmp_path):
    data = ledger_notebooks(tmp_path)
    settings = finetune.FinetuneSettings(out=str(tmp_path / "run"), max_steps=60, batch_size=2, seq_len=64,
                                         eval_every=1, patience=2, lr=5e-2, threads=2)
    result = finetune.train(settings, texts(data, "train"), texts(data, "heldout"), progress_bar=False)
    assert result.stopped_early and result.steps < 60
    assert result.best_step < result.steps


def test_another_model_gets_lora_adapters_and_is_merged_on_export(tmp_path):
    from tiny_models import make_hf_model

    base = make_hf_model("llama", tmp_path / "base")
    data = ledger_notebooks(tmp_path)
    settings = finetune.FinetuneSettings(base=str(base), out=str(tmp_path / "run"), max_steps=4, batch_size=2,
                                         seq_len=64, eval_every=2, threads=2)
    result = finetune.train(settings, texts(data, "train"), texts(data, "heldout"), progress_bar=False)
    assert result.steps == 4 and result.notes and "left to right only" in result.notes[0]
    assert (tmp_path / "run" / "best" / "adapter_config.json").is_file()  # adapters, not a copy of the model
    onnx = finetune.export(settings, quantization="none")
    assert (onnx / "model.onnx").is_file()
    with pytest.raises(FinetuneError, match="holds a run on base"):
        finetune.train(finetune.FinetuneSettings(out=str(tmp_path / "run")), texts(data, "train"), [],
                       progress_bar=False)
