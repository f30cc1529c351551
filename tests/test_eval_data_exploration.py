"""The held-out data-exploration harness (benchmarks/eval_data_exploration.py) in real kernels.

A random-weight model fails the items, which is the point here: the harness must run end to end and say why
each item failed. The judging side is checked by running the references as answers (every check passes) and
validate.py's wrong answer (every check fails), through the same kernels.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import eval_data_exploration as harness  # noqa: E402
from jupyter_codegen.context import Cell  # noqa: E402
from jupyter_codegen.conversation import Conversation  # noqa: E402

FAILURE_KINDS = {"no code", "the answer raised", "the answer timed out", "the answer", "check failed", "check raised"}


def test_earlier_turns_are_recorded_as_the_magics_would(tmp_path):
    item = harness.load_items(ids=["004"])[0]
    folder = tmp_path / "notebook"
    folder.mkdir()
    for name, text in item["files"].items():
        (folder / name).write_text(text)
    cells = harness.recorded_cells(item, folder)
    assert cells == [[Cell("code", item["setup"], None)]]

    notebook = folder / "analysis.ipynb"
    path = harness.write_conversation(item, notebook, tmp_path / "conversations", cells)
    turns = Conversation.load(path).turns
    assert [(t.request, t.answer, t.cells_before) for t in turns] == [
        (item["turns"][0]["request"], item["turns"][0]["code"], cells[0])
    ]


def test_matplotlib_objects_are_not_sent_to_the_kernel(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    ax = pd.Series([1, 2]).plot.bar()
    try:
        note = harness.save_expected(ax, tmp_path / "axes.pkl")
    finally:
        plt.close("all")
    assert note and "matplotlib" in note and not (tmp_path / "axes.pkl").exists()
    assert harness.save_expected(pd.Series([1.5], index=["a"]), tmp_path / "series.pkl") is None
    assert (tmp_path / "series.pkl").exists()


@pytest.mark.slow
def test_runs_end_to_end_on_a_random_model_and_records_why_items_failed(tiny_model, tmp_path):
    items = harness.load_items(ids=["001", "004"])
    model = harness.prepare_model(str(tiny_model("xglm")))
    records = harness.evaluate(items, model, settings=harness.Settings(max_new_tokens=16))

    assert [r.id for r in records] == ["heldout-de-001", "heldout-de-004"]
    for record in records:
        assert not record.ok and record.reason
        assert harness.failure_kind(record.reason) in FAILURE_KINDS, record.reason
        assert record.seconds > 0 and record.generate_seconds is not None
        assert record.prompt and record.request in record.prompt

    json_path, md_path, table = harness.write_report(records, "tiny", model, harness.Settings(), tmp_path)
    document = json.loads(json_path.read_text())
    assert document["summary"]["passed"] == 0 and document["summary"]["total"] == 2
    assert {"id", "tags", "request", "code", "ok", "reason", "seconds"} <= set(document["items"][0])
    assert "Passed 0/2 (0.0%)" in table and md_path.read_text() == table


@pytest.mark.slow
def test_flags_reach_every_codegen_cell_and_the_report_says_which(tiny_model, tmp_path):
    model = harness.prepare_model(str(tiny_model("xglm")))
    settings = harness.Settings(max_new_tokens=8, codegen_flags="-n 2 --check")
    record, = harness.evaluate(harness.load_items(ids=["008"]), model, settings=settings)
    assert any("candidates, each run in a copy of the kernel" in note for note in record.notes), record.notes
    _, md_path, table = harness.write_report([record], "tiny-checked", model, settings, tmp_path)
    assert "`%%codegen -n 2 --check`" in table


# Small enough for the tiny models' 256-token window, with two earlier turns (the held-out items have one).
TWO_TURNS = {
    "id": "heldout-de-900",
    "files": {"x.txt": "[1, 2]\n"},
    "setup": "x = eval(open('x.txt').read())",
    "turns": [{"request": "how many?", "code": "len(x)"}, {"request": "reversed", "code": "x[::-1]"}],
    "request": "total",
    "reference": "sum(x)",
    "check": "close(result, expected)",
    "tags": ["followup"],
}


@pytest.mark.slow
def test_the_prompt_reads_as_one_uninterrupted_session(tiny_model):
    """Setup once, each teacher-forced turn's request then its code with its output, the request last, and
    nothing the harness ran; the reference, run through the same path, passes."""
    model = harness.prepare_model(str(tiny_model("xglm")))
    record, = harness.evaluate([TWO_TURNS], model, settings=harness.Settings(max_new_tokens=8))
    prompt = record.prompt
    assert prompt, record
    pieces = [TWO_TURNS["setup"], "how many?", "len(x)", "2", "reversed", "x[::-1]", "[2, 1]", "total"]
    for piece in (TWO_TURNS["setup"], "how many?", "len(x)", "reversed", "x[::-1]", "[2, 1]"):
        assert prompt.count(piece) == 1, (piece, prompt)
    at = 0
    for piece in pieces:  # in this order: index() raises when a piece comes only before the previous one
        at = prompt.index(piece, at)
    for harness_text in ("runpy", "matplotlib", "load_ext", "CodeGen", "judge"):
        assert harness_text not in prompt

    passed, = harness.evaluate([TWO_TURNS], answer_for=harness.reference_answer)
    assert passed.ok, passed.reason


@pytest.mark.slow
def test_the_reference_answers_score_everything_and_a_wrong_answer_nothing(tmp_path, capsys):
    # A follow-up, a bar chart (judged on the figure), a new column (judged on the namespace), a scalar.
    ids = ["004", "006", "016", "020"]
    assert harness.main(["--answers", "reference", "--ids", *ids, "--out", str(tmp_path)]) == 0
    assert "**Passed 4/4 (100.0%)**" in capsys.readouterr().out
    assert harness.main(["--answers", "head2", "--ids", *ids, "--out", str(tmp_path), "--name", "wrong"]) == 0
    assert "**Passed 0/4 (0.0%)**" in capsys.readouterr().out

    document = json.loads((tmp_path / "data_exploration-wrong.json").read_text())
    assert [r["code"] for r in document["items"]] == ["hives.head(2)", "hives.head(2)", "games.head(2)", "games.head(2)"]
    assert all(not r["ok"] and harness.failure_kind(r["reason"]) in ("check failed", "check raised") for r in document["items"])


@pytest.mark.slow
def test_an_answer_that_loops_or_raises_fails_with_its_reason():
    items = harness.load_items(ids=["001"])
    answers = iter(["while True:\n    pass", "hives['honey_kg'].sum() / 0 + undefined_name"])
    records = harness.evaluate(items * 2, answer_for=lambda item: next(answers),
                               settings=harness.Settings(answer_timeout=3))
    assert records[0].reason == "the answer timed out after 3 s"
    assert records[0].seconds < 30
    assert records[1].reason == "the answer raised NameError: name 'undefined_name' is not defined"
