"""Coder-reviewer reranking: the request is read after each candidate in the model's own infill layout, and the
candidate that explains it best wins over one that is merely likelier."""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_codegen import assistant
from jupyter_codegen.context import answer_end
from jupyter_codegen.engine import Completion, GenerationOptions
from jupyter_codegen.formats import format_by_name
from jupyter_codegen.reviewer import request_logprobs
from jupyter_codegen.variables import summarize_namespace

VARIABLES = summarize_namespace({"hives": pd.DataFrame({"apiary": ["Meadow"], "honey_kg": [2.1]})})
GENERIC, SPECIFIC = "hives.head()", 'hives.groupby("apiary")["honey_kg"].sum()'


class TwoCandidates:
    """Writes a generic likely answer and a specific less likely one; reads the request well only after the
    specific one. Records what it was asked to score."""

    def __init__(self, family: str = "causal-masking"):
        self.format, self.name, self.context_window, self.device = format_by_name(family), "rec", 4096, "cpu"
        self.scored: list[tuple[str, list[str]]] = []

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def generate(self, prompt, options, on_text=None, cancel=None):
        return [Completion(text=GENERIC, logprob=-0.2, token_ids=[1], finish_reason="stop"),
                Completion(text=SPECIFIC, logprob=-0.5 * 6, token_ids=[1] * 6, finish_reason="stop")][: options.n]

    def score(self, prompt, continuations):
        self.scored.append((prompt, continuations))
        return [-5.0 if SPECIFIC in prompt else -40.0 for _ in continuations]


def test_the_request_is_read_in_its_masked_slot_after_the_code():
    engine = TwoCandidates()
    request = "total honey per apiary"
    context = f"<| file ext=.ipynb:python |>\n<text>\n{request}\n</text>\n<cell>\n"
    [score] = request_logprobs(engine, context, request, [SPECIFIC + "\n"], "\n</cell>\n")
    [(prompt, continuations)] = engine.scored
    assert prompt == ("<|endoftext|><| file ext=.ipynb:python |>\n<text>\n<|mask:0|>\n</text>\n<cell>\n"
                      f"{SPECIFIC}\n</cell>\n<|mask:1|><|mask:0|>")
    assert continuations == [request + "<|endofmask|>"]
    assert score == -5.0 / engine.count_tokens(request + "<|endofmask|>")


def test_the_reviewer_prefers_the_candidate_that_explains_the_request():
    options = GenerationOptions(n=2, temperature=0.5)
    likely = assistant.codegen(TwoCandidates(), "total honey per apiary", [], options, variables=VARIABLES)
    assert likely.code == GENERIC and "by mean log-probability" in likely.method
    engine = TwoCandidates()
    reviewed = assistant.codegen(engine, "total honey per apiary", [], options, variables=VARIABLES, rank="reviewer")
    assert reviewed.code == SPECIFIC and "coder-reviewer" in reviewed.method
    assert [a.code for a in reviewed.alternatives] == [SPECIFIC, GENERIC]
    assert reviewed.alternatives[0].reviewer > reviewed.alternatives[1].reviewer
    assert len(engine.scored) == 2  # one score per distinct candidate


@pytest.mark.parametrize("family, request_text, said", [
    ("left-to-right", "total honey per apiary", "cannot fill the request slot"),  # no infill tokens
    ("starcoder-fim", "total honey\nper apiary", "put the request on one line"),  # written as comment lines
])
def test_what_cannot_be_reviewed_is_ranked_by_likelihood_and_says_why(family, request_text, said):
    engine = TwoCandidates(family)
    answer = assistant.codegen(engine, request_text, [], GenerationOptions(n=2, temperature=0.5),
                               variables=VARIABLES, rank="reviewer")
    assert answer.code == GENERIC and not engine.scored
    assert any("ranked by likelihood alone" in note and said in note for note in answer.notes)


def test_a_fill_in_the_middle_model_reviews_a_one_line_request():
    answer = assistant.codegen(TwoCandidates("starcoder-fim"), "total honey per apiary", [],
                               GenerationOptions(n=2, temperature=0.5), variables=VARIABLES, rank="reviewer")
    assert answer.code == SPECIFIC


def test_the_embedded_model_reads_a_request_better_after_code_that_answers_it():
    """On the shipped model the reverse direction carries the signal reranking needs: the request that names honey
    and apiaries is likelier after code that uses those columns than after generic or unrelated code."""
    from jupyter_codegen.model_store import EngineSettings, load_engine

    engine = load_engine("default", EngineSettings(progress=False))
    frame = pd.DataFrame({"apiary": ["Meadow", "Ridge"], "honey_kg": [2.1, 3.4], "varroa_count": [3, 8],
                          "temperament": ["calm", "nervous"]})
    variables = summarize_namespace({"hives": frame})
    request = "How much honey did each apiary produce in total?"
    answer = assistant.codegen(engine, request, [], GenerationOptions(max_new_tokens=8), variables=variables)
    codes = [SPECIFIC, 'hives["temperament"].value_counts()', "hives.head()"]
    scores = request_logprobs(engine, answer.prompt.removeprefix(engine.format.bos), request, codes,
                              answer_end("notebook"))
    assert scores[0] > max(scores[1:])
