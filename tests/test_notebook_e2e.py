"""End to end: a notebook executed through nbclient in a real IPython kernel, as a user would run it."""

import json

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow


def notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def execute(nb, cwd):
    replies = {}

    def on_cell_executed(cell, cell_index, execute_reply):
        replies[cell_index] = execute_reply["content"]

    client = NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(cwd)}})
    client.on_cell_executed = on_cell_executed
    client.execute()
    return replies


def text_of(cell, output_type="stream", name="stdout"):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == output_type and o.get("name", name) == name)


def displayed_code(cell):
    bundles = [o.data for o in cell.outputs if o.output_type == "display_data"]
    assert bundles, f"no code displayed: {cell.outputs}"
    return bundles[-1]


def test_two_turns_and_an_infill_in_a_real_kernel(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "analysis.ipynb"))
    model = tiny_model("xglm")
    setup = "\n".join(
        [
            "%load_ext jupyter_codegen",
            f"%config CodeGen.model = {str(model)!r}",
            f"%config CodeGen.conversation_dir = {str(tmp_path / 'conversations')!r}",
            "%config CodeGen.max_new_tokens = 16",
        ]
    )
    nb = notebook(
        setup,
        "%%codegen\nwrite a function that returns the squares of a list",
        "%%codegen --show-prompt\nnow do it with a dict comprehension instead",
        "%%infill\ndef mean(xs):\n    total = <FILL>\n    return total / <FILL>\n",
        "%codegen --history",
    )
    replies = execute(nb, tmp_path)
    first, second, filled, history = nb.cells[1:]

    # The answer is shown as highlighted code and proposed as the next cell.
    code1 = displayed_code(first)
    assert code1["text/markdown"].startswith("```python\n")
    payloads = [p for p in replies[1].get("payload", []) if p.get("source") == "set_next_input"]
    assert payloads and payloads[0]["text"] == code1["text/plain"] and payloads[0]["replace"] is False

    # The second prompt carried the first turn: its request and its answer.
    prompt = text_of(second)
    assert "write a function that returns the squares of a list" in prompt
    assert code1["text/plain"].strip()[:20] in prompt
    assert prompt.index("squares of a list") < prompt.index("dict comprehension")

    # Both holes filled; the code around them kept.
    code3 = displayed_code(filled)["text/plain"]
    assert "<FILL>" not in code3 and code3.startswith("def mean(xs):\n    total = ")
    assert "    return total / " in code3

    assert "Turn 3" in text_of(history) and not any(o.output_type == "error" for c in nb.cells for o in c.outputs)

    # A kernel restart finds the same conversation again.
    again = notebook(setup, "%codegen --history")
    execute(again, tmp_path)
    assert "dict comprehension" in text_of(again.cells[1])


def test_errors_leave_the_kernel_and_conversation_alone(tiny_model, tmp_path):
    nb = notebook(
        "%load_ext jupyter_codegen",
        "%config CodeGen.model = 'Salesforce/codegen-350M-mono'",
        "%%codegen\nload data",
        "%config CodeGen.model = " + repr(str(tiny_model("codegen"))),
        "%%codegen\n" + "plot the data " * 600,
        "print('still alive')",
    )
    execute(nb, tmp_path)
    offline = "".join(o.get("text", "") for o in nb.cells[2].outputs if o.get("name") == "stderr")
    assert "offline" in offline and offline.count("\n") == 1
    too_long = "".join(o.get("text", "") for o in nb.cells[4].outputs if o.get("name") == "stderr")
    assert "shorten the request" in too_long
    assert text_of(nb.cells[5]) == "still alive\n"


def test_cells_run_again_after_a_kernel_restart_show_once(tiny_model, tmp_path, monkeypatch):
    """Restart + run all runs the cells the saved turns recorded again; the prompt must not hold them twice."""
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "restart.ipynb"))
    setup = "\n".join(
        [
            "%load_ext jupyter_codegen",
            f"%config CodeGen.model = {str(tiny_model('xglm'))!r}",
            f"%config CodeGen.conversation_dir = {str(tmp_path / 'conversations')!r}",
            "%config CodeGen.max_new_tokens = 8",
        ]
    )
    execute(notebook(setup, "base = 41", "%%codegen\nadd one to base"), tmp_path)
    again = notebook(setup, "base = 41", "unrelated = 'new since the restart'", "%%codegen --show-prompt\nnow double it")
    execute(again, tmp_path)  # a new kernel: what a restart and "run all" give
    prompt = text_of(again.cells[3])
    assert prompt.count("base = 41") == 1
    assert prompt.index("base = 41") < prompt.index("add one to base") < prompt.index("unrelated") < prompt.index("now double it")
