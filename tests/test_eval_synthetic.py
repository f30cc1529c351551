"""The in-distribution harness: fresh generator conversations, the last turn answered and judged by the
generator's own check. The judging side passes the generator's code and fails a wrong answer; the embedded model
answers through the product's codegen."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import eval_synthetic as harness  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_judging_side_passes_the_generators_code_and_fails_a_wrong_answer():
    right = harness.evaluate(harness.reference_answer, 6, harness.SEED)
    wrong = harness.evaluate(harness.head2_answer, 6, harness.SEED)
    assert len(right) >= 4 and all(r["reason"] is None for r in right), right
    assert [r["index"] for r in wrong] == [r["index"] for r in right]
    assert sum(r["reason"] is None for r in wrong) <= 1  # "show the first rows" may ask for head itself
    summary = harness.summarize(right)
    assert summary["passed"] == summary["total"] == len(right)


def test_the_model_answers_from_the_context_the_magic_would_build():
    from jupyter_codegen.config import CodeGen
    from jupyter_codegen.model_store import load_engine

    settings = CodeGen()
    engine = load_engine("default", settings.engine_settings(progress=False))
    records = harness.evaluate(harness.model_answerer(engine, settings.generation_options(max_new_tokens=64)), 3, harness.SEED)
    assert records and all(r["answer"].strip() for r in records)
    # The first two (a value count of a named column, a load) are copied from the request by any trained model.
    assert any(r["reason"] is None for r in records), records


def test_settings_are_read_as_config_takes_them_and_a_bad_one_is_refused():
    from jupyter_codegen.config import CodeGen

    settings = CodeGen(config=harness.settings_config(["CodeGen.link_columns = 0", "CodeGen.model = 'x'"]))
    assert settings.link_columns == 0.0 and settings.model == "x"
    for bad in ("link_columns = 0", "CodeGen.link_columns 0", "CodeGen.model = x"):
        with pytest.raises(ValueError):
            harness.settings_config([bad])
    assert harness.main(["--model", "default", "--config", "nonsense"]) == 2
