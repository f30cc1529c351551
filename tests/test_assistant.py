"""One turn of the assistant on an engine that records what it was asked: the column guard's frames go with every
request, an infill's hole gets the code before it on its line, and imports the answer forgot are added and said."""

from __future__ import annotations

import pandas as pd

from jupyter_codegen import assistant
from jupyter_codegen.context import Cell
from jupyter_codegen.engine import Completion, GenerationOptions
from jupyter_codegen.formats import format_by_name
from jupyter_codegen.variables import summarize_namespace

VARIABLES = summarize_namespace({"hives": pd.DataFrame({"apiary": ["Meadow"], "honey_kg": [2.1]})})


class RecordingEngine:
    def __init__(self, answer: str):
        self.format, self.name, self.context_window, self.device = format_by_name("causal-masking"), "rec", 1024, "cpu"
        self.answer = answer
        self.options: list[GenerationOptions] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def generate(self, prompt, options, on_text=None, cancel=None):
        self.options.append(options)
        return [Completion(text=self.answer, finish_reason="stop") for _ in range(options.n)]

    def score(self, prompt, continuations):
        return [0.0] * len(continuations)


def test_requests_carry_the_frames_columns_unless_the_guard_is_off():
    engine = RecordingEngine("hives.head()")
    assistant.codegen(engine, "first rows", [], GenerationOptions(), variables=VARIABLES)
    assistant.codegen(engine, "first rows", [], GenerationOptions(guard_columns=False), variables=VARIABLES)
    assistant.codegen(engine, "first rows", [], GenerationOptions(), variables=None)
    guarded, off, none = engine.options
    assert guarded.columns.as_dict() == {"hives": ("apiary", "honey_kg")}
    assert off.columns is None and none.columns is None


def test_a_request_links_the_columns_it_names_scaled_by_the_setting():
    engine = RecordingEngine("hives.head()")
    assistant.codegen(engine, "total honey per apiary", [], GenerationOptions(link_columns=2.0), variables=VARIABLES)
    assistant.codegen(engine, "total honey per apiary", [], GenerationOptions(link_columns=0.0), variables=VARIABLES)
    linked, off = engine.options
    assert dict(linked.columns.linked) == {"apiary": 2.0, "honey_kg": 2.0 * 5 / 7}
    assert linked.columns.linked_keys == ("apiary",)
    assert off.columns.linked == () and off.columns.as_dict() == linked.columns.as_dict()


def test_a_request_links_the_aggregation_it_asks_for_scaled_by_the_setting():
    engine = RecordingEngine("hives.head()")
    for nats in (2.5, 0.0):
        assistant.codegen(engine, "how many rows per apiary", [], GenerationOptions(link_operations=nats),
                          variables=VARIABLES)
    linked, off = engine.options
    assert linked.columns.linked_methods == (("count", 2.5), ("size", 2.5))
    assert off.columns.linked_methods == ()


def test_a_request_links_the_values_it_compares_with_scaled_by_the_setting():
    engine = RecordingEngine("hives.head()")
    for nats in (2.0, 0.0):
        assistant.codegen(engine, "apiary Hillside, honey over 12.5 in March", [], GenerationOptions(link_values=nats),
                          variables=VARIABLES)
    linked, off = engine.options
    assert dict(linked.columns.linked_values) == {"12.5": 2.0, "3": 2.0, '"Hillside"': 2.0, '"hillside"': 2.0}
    assert off.columns.linked_values == ()


def test_each_hole_of_an_infill_is_guarded_from_the_code_before_it_on_its_line():
    engine = RecordingEngine('apiary"')
    code = 'top = hives.groupby("<FILL>)["honey_kg"].sum()\nlow = hives.sort_values("<FILL>).head()'
    assistant.infill(engine, code, "<FILL>", [], [], GenerationOptions(), variables=VARIABLES, method="infill")
    assert [o.columns.line_prefix for o in engine.options] == ['top = hives.groupby("', 'low = hives.sort_values("']


def test_an_import_the_answer_forgot_is_added_and_said():
    engine = RecordingEngine('plt.hist(hives["honey_kg"])\nplt.show()')
    answer = assistant.codegen(engine, "histogram of honey", [], GenerationOptions(), variables=VARIABLES)
    assert answer.code.startswith("import matplotlib.pyplot as plt\nplt.hist(")
    assert any("import matplotlib.pyplot as plt" in note for note in answer.notes)
    earlier = [Cell("code", "import matplotlib.pyplot as plt\nimport pandas as pd")]
    again = assistant.codegen(engine, "histogram of honey", earlier, GenerationOptions(), variables=VARIABLES)
    assert again.code.startswith("plt.hist(")


def test_several_candidates_at_temperature_0_keep_the_greedy_answer_among_them(tiny_model):
    from jupyter_codegen.onnx_engine import OnnxEngine

    engine = OnnxEngine(tiny_model("codegen"), device="cpu", threads=1)
    one = assistant.codegen(engine, "sum the list", [], GenerationOptions(max_new_tokens=12, seed=3))
    many = assistant.codegen(engine, "sum the list", [], GenerationOptions(max_new_tokens=12, n=4, seed=3))
    assert len(many.candidates) == 4
    assert many.candidates[0].token_ids == one.candidates[0].token_ids
    assert len({tuple(c.token_ids) for c in many.candidates}) > 1  # the other three were sampled
    assert "the greedy answer and 3 samples" in many.method
    sampled = assistant.codegen(engine, "sum the list", [], GenerationOptions(max_new_tokens=12, n=4, seed=3, temperature=1.0))
    assert "(4 samples)" in sampled.method


def test_every_alternative_carries_the_imports_it_would_be_inserted_with():
    class TwoAnswers(RecordingEngine):
        def generate(self, prompt, options, on_text=None, cancel=None):
            self.options.append(options)
            return [Completion(text='hives["honey_kg"].mean()', logprob=-0.1, token_ids=[1], finish_reason="stop"),
                    Completion(text='plt.hist(hives["honey_kg"])', logprob=-5.0, token_ids=[1], finish_reason="stop")]

    answer = assistant.codegen(TwoAnswers(""), "honey", [], GenerationOptions(n=2, temperature=0.5), variables=VARIABLES)
    assert [a.code for a in answer.alternatives] == [
        'hives["honey_kg"].mean()', 'import matplotlib.pyplot as plt\nplt.hist(hives["honey_kg"])']
