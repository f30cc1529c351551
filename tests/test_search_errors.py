"""Search errors against model errors (benchmarks/search_errors.py), on a real tiny ONNX model."""

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import search_errors as S  # noqa: E402



def test_the_likelier_side_decides_and_a_copy_of_the_reference_is_identical():
    assert S.classify("df.head()", " df.head() \n", -9.0, -1.0) == "identical"
    assert S.classify("df.tail()", "df.head()", -9.0, -1.0) == "search error"
    assert S.classify("df.tail()", "df.head()", -1.0, -9.0) == "model error"


def test_each_answer_is_scored_against_its_reference_under_the_same_prompt(scoring_engine):
    engine = scoring_engine
    prompt = "<cell>\nimport pandas as pd\n</cell>\n<text>\nfirst rows\n</text>\n<cell>\n"
    items = [
        {"id": "a", "ok": True, "prompt": prompt, "code": "df.head()"},
        {"id": "b", "ok": False, "prompt": prompt, "code": "df.tail(3)"},
    ]
    references = {"a": "df.head()", "b": "df.head()"}
    verdicts = S.diagnose(items, references, engine)
    answer, reference = engine.score(prompt, ["df.tail(3)" + S.CELL_END, "df.head()" + S.CELL_END])
    assert verdicts[0].kind == "identical" and verdicts[0].passed
    assert verdicts[1].answer_logprob == pytest.approx(answer, abs=1e-3)
    assert verdicts[1].reference_logprob == pytest.approx(reference, abs=1e-3)
    assert verdicts[1].kind == ("search error" if reference > answer else "model error")
    counts = S.summary(verdicts)
    assert counts["identical"] == {"passed": 1, "failed": 0}
    assert counts[verdicts[1].kind] == {"passed": 0, "failed": 1}


def test_the_command_writes_results_for_an_answers_file(tiny_model, tmp_path):
    data = tmp_path / "items.jsonl"
    data.write_text(json.dumps({"id": "x", "reference": "df.shape"}) + "\n")
    answers = tmp_path / "data_exploration-tiny.json"
    answers.write_text(json.dumps({"items": [{"id": "x", "ok": False, "prompt": "<cell>\n", "code": "df.size"}]}))
    assert S.main([str(answers), "--model", str(tiny_model("xglm")), "--data", str(data), "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "search_errors-tiny.json").read_text())
    assert [v["id"] for v in written["items"]] == ["x"]
    assert sum(row["failed"] for row in written["summary"].values()) == 1
    assert (tmp_path / "search_errors-tiny.md").read_text().startswith("## Search errors and model errors: tiny")
