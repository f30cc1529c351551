"""A folder of notebooks as fine-tuning documents: the same layout as the magics send, a held-out split by whole
notebook, and every unusable notebook skipped with its reason."""

import json

import nbformat
import pytest

from jupyter_codegen.context import NOTEBOOK_HEADER
from jupyter_codegen.finetune_data import FinetuneError, collect, write_jsonl


def notebook(path, *cells, language="python"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": language}
    for kind, source, *out in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if out:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out[0])]
            nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_notebooks_become_documents_in_the_magics_layout_split_by_notebook(tmp_path):
    for i in range(10):
        notebook(tmp_path / f"team/q{i}.ipynb", ("md", f"# Quarter {i}"), ("code", f"ledger_{i} = load({i})", f"{i} rows"))
    notebook(tmp_path / ".ipynb_checkpoints/q0-checkpoint.ipynb", ("code", "ignored()"))
    (tmp_path / "broken.ipynb").write_text("{ not json")
    notebook(tmp_path / "r.ipynb", ("code", "x <- 1"), language="R")
    notebook(tmp_path / "prose.ipynb", ("md", "only words"))
    found = collect(tmp_path, heldout_share=0.2, seed=3)
    assert len(found.documents) == 10 and len(found.split("heldout")) == 2
    doc = next(d for d in found.documents if d.path.name == "q4.ipynb")
    assert doc.text.startswith(NOTEBOOK_HEADER)
    assert "<text>\nQuarter 4\n</text>\n<cell>\nledger_4 = load(4)\n</cell>\n<output>\n4 rows\n</output>\n" in doc.text
    why = {p.name: reason for p, reason in found.skipped}
    assert why == {"broken.ipynb": "is not valid JSON (line 1: Expecting property name enclosed in double quotes)",
                   "r.ipynb": "is not a Python notebook", "prose.ipynb": "has no code cells"}
    assert collect(tmp_path, heldout_share=0.2, seed=3).split("heldout") == found.split("heldout")  # stable
    summary = found.summary(lambda text: len(text.split()))
    assert summary["train"]["notebooks"] == 8 and summary["heldout"]["tokens"] > 0 and len(summary["skipped"]) == 3
    rows = [json.loads(line) for line in write_jsonl(found.split("train"), tmp_path / "out/train.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and rows[0]["text"].startswith(NOTEBOOK_HEADER)


def test_errors_a_user_will_hit_are_one_sentence(tmp_path):
    with pytest.raises(FinetuneError, match="does not exist; set notebooks_folder"):
        collect(tmp_path / "missing")
    with pytest.raises(FinetuneError, match="holds no .ipynb notebooks"):
        collect(tmp_path)
    (tmp_path / "a.ipynb").write_text("[]")
    with pytest.raises(FinetuneError, match=r"None of the 1 notebooks .* is JSON but not a notebook"):
        collect(tmp_path)
    notebook(tmp_path / "b.ipynb", ("code", "only_one = True"))
    single = collect(tmp_path)
    assert len(single.split("train")) == 1 and single.split("heldout") == []  # one notebook: nothing to hold out


def test_the_projects_example_notebooks_are_a_usable_fine_tuning_folder():
    """notebooks/examples (the README's fine-tuning run) as the notebook reads it: every notebook used, every one
    saved with the outputs of a run that raised nothing, and the team's own library in the training text."""
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "notebooks" / "examples"
    data = collect(folder, heldout_share=0.2)
    assert not data.skipped
    assert len(data.split("train")) >= 18 and len(data.split("heldout")) >= 4
    for path in folder.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.execution_count for c in code), path.name
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], path.name
    assert all("tk." in d.text for d in data.split("train"))
