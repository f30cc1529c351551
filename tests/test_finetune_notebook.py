"""notebooks/finetune.ipynb executed as a user's CI would (papermill, parameters injected) on a tiny budget on
notebooks the test writes: interrupted once and resumed, the held-out loss falls, the exported model loads in a
fresh engine, and the notebook's last %%codegen cell runs with it."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from jupyter_codegen.frontend_protocol import CELLS_MIME

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "finetune.ipynb"


def write_notebooks(folder: Path, n: int = 8) -> None:
    folder.mkdir()
    for i in range(n):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"Shipments of depot {i}, by week"),
            nbformat.v4.new_code_cell(f"import cargolib as cl\nshipments = cl.load_depot({i})"),
            nbformat.v4.new_code_cell("shipments.weekly(metric='tonnage').plot_trend()"),
        ]
        nbformat.write(nb, str(folder / f"depot_{i}.ipynb"))
    (folder / "notes.ipynb").write_text("this is not JSON")


def run(tmp_path: Path, name: str, **parameters):
    import papermill

    return papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / name), parameters=parameters, cwd=str(tmp_path), kernel_name="python3",
        progress_bar=False, log_output=False,
    )


def outputs_text(nb, snippet: str) -> str:
    """The text outputs of the notebook's cell whose source holds `snippet` (papermill adds cells of its own)."""
    [cell] = [c for c in nb["cells"] if c["cell_type"] == "code" and snippet in c["source"]]
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") if isinstance(out.get("text"), str) else "".join(out.get("text", [])))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
        parts.append(str(out.get("data", {}).get("text/markdown", "")))
    return "\n".join(parts)


def test_the_notebook_trains_resumes_after_an_interruption_exports_and_answers(tmp_path):
    import papermill

    write_notebooks(tmp_path / "mine")
    params = dict(notebooks_folder=str(tmp_path / "mine"), out=str(tmp_path / "run"), max_steps=6, batch_size=2,
                  seq_len=128, eval_every=3, threads=2)
    with pytest.raises(papermill.PapermillExecutionError) as interrupted:
        run(tmp_path, "first.ipynb", stop_after_steps=3, **params)
    assert "Interrupted at step 3; run the training cell again to resume" in str(interrupted.value)
    first = nbformat.read(str(tmp_path / "first.ipynb"), as_version=4)
    assert "is not valid JSON" in outputs_text(first, "data = collect(")  # the broken notebook was listed, not fatal

    done = run(tmp_path, "second.ipynb", **params)
    training = outputs_text(done, "result = finetune.train(")
    assert "steps 6 (resumed from 3)" in training, training
    log = json.loads((tmp_path / "run" / "loss_log.json").read_text())
    heldout = [e["heldout_loss"] for e in log if e.get("heldout_loss") is not None]
    assert heldout[-1] < heldout[0]  # the held-out notebooks got likelier
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000

    from jupyter_codegen.model_store import EngineSettings, forget_engines, load_engine

    forget_engines()
    engine = load_engine(str(tmp_path / "run" / "model"), EngineSettings(threads=1, progress=False))
    assert engine.format.can_infill
    comparison = outputs_text(done, "comparison_table")
    assert "| before | after |" in comparison
    codegen = done["cells"][-1]
    assert codegen["source"].startswith("%%codegen") and codegen.get("outputs")
    bundles = [o["data"][CELLS_MIME] for o in codegen["outputs"] if CELLS_MIME in o.get("data", {})]
    assert bundles and bundles[-1]["model"]  # the %%codegen cell answered with the fine-tuned model
