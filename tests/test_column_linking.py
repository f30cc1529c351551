"""Schema linking: which columns a request names in its words, and how the guard prefers them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from jupyter_codegen.column_guard import ColumnGuard, GuardVocabulary, KnownColumns
from jupyter_codegen.column_linking import grouping_columns, linked_columns, same_word, stem, words

HIVES = ("hive_id", "apiary", "inspected", "honey_kg", "varroa_count", "temperament")
KNOWN = KnownColumns((("hives", HIVES),))


@pytest.mark.parametrize("name, expected", [
    ("honey_kg", ["honey", "kg"]),
    ("LateFee", ["late", "fee"]),
    ("Roasted (g)", ["roasted", "g"]),
    ("HTTPStatus", ["http", "status"]),
    ("wind speed 2", ["wind", "speed", "2"]),
])
def test_a_name_splits_into_its_words_whatever_its_casing(name, expected):
    assert words(name) == expected


@pytest.mark.parametrize("a, b, same", [
    ("apiaries", "apiary", True),
    ("fees", "fee", True),
    ("roasting", "roasted", True),
    ("contamination", "contaminated", True),
    ("finishing", "finish", True),
    ("departures", "depart", True),
    ("monthly", "month", True),
    ("temperature", "temperament", False),
    ("age", "agent", False),
    ("speed", "spe", False),
])
def test_forms_of_one_word_are_the_same_word_and_different_words_are_not(a, b, same):
    assert same_word(a, b) is same and same_word(b, a) is same


def test_stems_keep_enough_of_the_word():
    assert [stem(w) for w in ("has", "times", "categories", "speed")] == ["has", "time", "category", "speed"]


def test_the_request_links_the_columns_whose_names_it_uses():
    linked = linked_columns("How much honey did each apiary produce in total?", HIVES)
    assert set(linked) == {"apiary", "honey_kg"}
    assert linked["apiary"] == 1.0 and linked["honey_kg"] == pytest.approx(5 / 7)  # "kg" is not in the request


def test_units_numbers_and_function_words_link_nothing():
    assert linked_columns("top 5 by the weight in g", ["Roasted (g)", "no_show", "is_open", "col_5"]) == {}
    assert linked_columns("", HIVES) == {}
    assert linked_columns("average price by region", ["price", "price", "region"]) == {"price": 1.0, "region": 1.0}


@pytest.mark.parametrize("request_text, keys", [
    ("How much honey did each apiary produce in total?", {"apiary"}),
    ("mean honey yield per apiary", {"apiary"}),
    ("honey by the apiary and the temperament", {"apiary", "temperament"}),
    ("spread of honey for every hive", {"hive_id"}),
    ("honey in the hives checked each week", set()),  # the group is no column
    ("varroa count above 10", set()),
])
def test_the_request_groups_by_the_columns_that_follow_a_grouping_word(request_text, keys):
    assert grouping_columns(request_text, HIVES) == keys


def _guard(linked: dict[str, float], texts: list[str]) -> ColumnGuard:
    return ColumnGuard(replace(KNOWN, linked=tuple(linked.items())), GuardVocabulary(texts), 1)


def test_inside_a_guarded_literal_the_tokens_that_spell_a_linked_column_get_its_bonus():
    texts = ["temperament", "api", "ary", 'apiary")', "honey", "_kg", '"', "x", "apiary"]
    logits = np.array([4.0, 2.0, 0.0, 1.5, 3.0, 0.0, 0.0, 5.0, 1.0])
    guard = _guard({"apiary": 3.0, "honey_kg": 1.0}, texts)
    kept = guard.restrict(0, 'hives.sort_values("', logits, greedy=False)
    assert kept[1] == 5.0 and kept[3] == 4.5 and kept[8] == 4.0  # on the way to apiary, or all of it and more
    assert kept[4] == 4.0 and kept[0] == 4.0  # honey_kg's smaller bonus; temperament is not linked
    assert kept[7] == -np.inf  # the guard still forbids what spells no column
    assert int(guard.restrict(0, 'hives.sort_values("', logits, greedy=True).argmax()) == 1
    # further into the literal the bonus follows the column the text is spelling
    assert guard.restrict(0, 'hives.sort_values("api', logits, greedy=False)[2] == 3.0


def test_a_groupbys_keys_prefer_what_the_request_groups_by_and_its_values_the_rest():
    """"How much honey did each apiary produce?": apiary is the group, honey what is summed; linked alike, the
    bonus would pull honey_kg into the key as readily as apiary."""
    texts = ["temperament", "apiary", "honey_kg", "x"]
    logits = np.array([4.0, 2.0, 2.5, 0.0])
    known = replace(KNOWN, linked=(("apiary", 3.0), ("honey_kg", 3.0)), linked_keys=("apiary",))
    guard = ColumnGuard(known, GuardVocabulary(texts), 1)
    for key_slot in ('hives.groupby("', 'hives.groupby(by="', 'hives.groupby(["', 'hives.pivot_table(index="'):
        kept = guard.restrict(0, key_slot, logits, greedy=False)
        assert kept[:3].tolist() == [4.0, 5.0, 2.5], key_slot
    for value_slot in ('hives.groupby("apiary")["', 'hives.groupby("apiary")[["', 'hives.pivot_table(values="'):
        kept = guard.restrict(0, value_slot, logits, greedy=False)
        assert kept[0] == 4.0 and kept[2] == 5.5, value_slot
    assert guard.restrict(0, 'hives.groupby("apiary")["', logits, greedy=False)[1] == -np.inf  # a key is no value
    # elsewhere both are linked
    assert guard.restrict(0, 'hives[hives["', logits, greedy=False)[:3].tolist() == [4.0, 5.0, 5.5]


def test_the_model_still_wins_where_it_is_surer_than_the_bonus_and_outside_literals_nothing_changes():
    texts = ["temperament", "apiary", "x"]
    guard = _guard({"apiary": 3.0}, texts)
    sure = np.array([6.0, 2.0, 0.0])
    assert int(guard.restrict(0, 'hives.sort_values("', sure, greedy=True).argmax()) == 0
    outside = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(guard.restrict(0, "hives.", outside, greedy=False), outside)
    unlinked = ColumnGuard(KNOWN, GuardVocabulary(texts), 1).restrict(0, 'hives.sort_values("', sure, greedy=False)
    assert unlinked.tolist() == [6.0, 2.0, -np.inf]  # no bonus; "x" spells no column
    assert guard.restrict(0, 'hives.sort_values("', sure, greedy=False).tolist() == [6.0, 5.0, -np.inf]


def test_a_linked_column_the_answer_already_names_gets_no_more_bonus():
    """Else a linked column crowds into every slot: `(df["x"] > 4) & (df["x"] > 4)`."""
    texts = ["temperament", "apiary", "x"]
    guard = _guard({"apiary": 3.0}, texts)
    logits = np.array([4.0, 2.0, 0.0])
    assert guard.restrict(0, 'hives[hives["', logits, greedy=False)[1] == 5.0
    assert guard.restrict(0, 'hives[hives["apiary"] == "Ridge"]["', logits, greedy=False)[1] == 2.0
    assert guard.restrict(0, "hives[hives['apiary'] == 'Ridge']['", logits, greedy=False)[1] == 2.0
