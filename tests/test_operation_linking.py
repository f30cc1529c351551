"""Operation linking: which aggregation a request asks for in its words, and where the guard prefers it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from jupyter_codegen.column_guard import ColumnGuard, ColumnScanner, GuardVocabulary, KnownColumns
from jupyter_codegen.operation_linking import linked_operations

VISITS = ("Gallery", "Ticket Type", "Visit Date", "Visitors", "Revenue")
KNOWN = KnownColumns((("visits", VISITS),))


@pytest.mark.parametrize("request_text, expected", [
    ("weekly visitor totals", ("sum",)),
    ("Energy output by month (sum over all turbines)", ("sum",)),
    ("average revenue for each gallery", ("mean",)),
    ("median ticket price", ("median",)),
    ("the standard deviation of revenue", ("std",)),
    ("How many visits each month?", ("count", "size")),
    ("number of visits per gallery", ("count", "size")),
    ("how many distinct galleries did each ticket type reach?", ("nunique",)),
    ("total and average revenue per gallery", ("agg",)),  # two aggregations: agg takes both
])
def test_the_request_names_its_aggregation(request_text, expected):
    assert linked_operations(request_text, VISITS) == expected


@pytest.mark.parametrize("request_text", [
    "Which gallery drew the most people?",  # a superlative says which row, not how to aggregate
    "biggest revenue first",
    "show the first rows",
    "what do 10 min visits look like",  # "min" is as often minutes
])
def test_vague_words_link_no_aggregation(request_text):
    assert linked_operations(request_text, VISITS) == ()


def test_a_word_of_a_column_name_names_the_column_not_an_operation():
    assert linked_operations("total birds counted for every species", ("species", "count")) == ("sum",)
    assert linked_operations("average mean_temp per city", ("city", "mean_temp")) == ("mean",)
    assert linked_operations("plot mean_temp per city", ("city", "mean_temp")) == ()


@pytest.mark.parametrize("code, slot", [
    ('visits.groupby("Gallery")["Visitors"]', "dot"),
    ('visits.groupby("Gallery")["Visitors"].', "name"),
    ('visits.groupby("Gallery").', "name"),
    ('visits.groupby(["Gallery", "Ticket Type"])[["Visitors", "Revenue"]].', "name"),
    ('visits.resample("W", on="Visit Date")["Visitors"].', "name"),
    ('visits.groupby(visits["Visit Date"].dt.month)["Visitors"].', "name"),
    # a column of the whole frame: "the mean" may be a fillna's, "yearly" a resample first
    ('visits["Visitors"]', None),
    ('visits["Visitors"].', None),
    ("visits.", None),
    ('visits.groupby("Gallery")["Visitors"].su', None),  # the name has begun
    ('visits.groupby("Gallery")["Visitors"].sum().', None),  # already aggregated
    ('visits[visits["Visitors"] > 10]', None),
    ('visits.groupby("Gallery', None),
])
def test_the_scanner_knows_where_a_groups_aggregation_goes(code, slot):
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed(code)
    assert scanner.method_slot == slot


TEXTS = ["mean", "sum", "su", "sum()", "summary", "size", "count", ".sum", ".mean", "value_counts", "x", "s", "med"]


def _logits() -> np.ndarray:
    return np.ones(len(TEXTS))


def _guard(methods: tuple[tuple[str, float], ...]) -> ColumnGuard:
    return ColumnGuard(replace(KNOWN, linked_methods=methods), GuardVocabulary(TEXTS), 1)


def _raised(logits: np.ndarray) -> set[str]:
    return {TEXTS[i] for i, v in enumerate(logits) if v != 1.0}


def test_the_tokens_that_begin_a_linked_aggregation_get_its_bonus_where_it_goes():
    guard = _guard((("sum", 3.0),))
    after_dot = guard.restrict(0, 'visits.groupby("Gallery")["Visitors"].', _logits(), greedy=False)
    assert _raised(after_dot) == {"sum", "sum()"} and after_dot.max() == 4.0
    # not "summary", nor "s" and "su", which begin other names too (`g.spend`)
    before_dot = guard.restrict(0, 'visits.groupby("Gallery")["Visitors"]', _logits(), greedy=False)
    assert _raised(before_dot) == {".sum"}
    median = _guard((("median", 3.0),)).restrict(0, 'visits.groupby("Gallery").', _logits(), greedy=False)
    assert _raised(median) == {"med"}
    # the model still chooses: a much likelier token keeps its place
    sure = _logits()
    sure[TEXTS.index("mean")] = 9.0
    assert TEXTS[int(guard.restrict(0, 'visits.groupby("Gallery").', sure, greedy=True).argmax())] == "mean"


def test_no_bonus_outside_a_groups_aggregation():
    guard = _guard((("sum", 3.0), ("count", 3.0)))
    for code in ("visits.", 'visits["Visitors"].', 'visits.groupby("Gallery")["Visitors"].sum().', "x = ",
                 'visits[visits["Visitors"] > '):
        assert np.array_equal(guard.restrict(0, code, _logits(), greedy=False), _logits()), code
