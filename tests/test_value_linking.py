"""Value linking: which values a request compares with, where code writes a comparison's value, and the bonus."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from jupyter_codegen.column_guard import ColumnGuard, GuardVocabulary, KnownColumns
from jupyter_codegen.value_linking import request_values, value_slot

LOGS = ("adSpendPct", "nBytes", "city_tag", "status")
KNOWN = KnownColumns((("logs", LOGS),))


def test_numbers_and_month_names_are_values():
    numbers, _ = request_values("rows where ad spend lower than 150 and nBytes above 1,500 in March", LOGS)
    assert numbers == ("150", "1500", "3")
    numbers, _ = request_values("may I see the rows with 4.5 or more in May", LOGS)
    assert numbers == ("4.5", "5")  # "may I" is not the month


def test_texts_are_the_words_that_are_neither_vocabulary_nor_column_names():
    _, texts = request_values("filter that to city_tag Denver, excluding status 'on hold'", LOGS)
    assert {"Denver", "denver", "on hold"} <= set(texts)
    assert not {"filter", "city_tag", "city", "tag", "status", "excluding", "nBytes"} & set(texts)
    _, texts = request_values("trips that started in Staten Island or zone T4", ("trips", "zone"))
    assert set(texts) == {"Staten Island", "Staten", "Island", "staten island", "staten", "island", "T4", "t4"}
    # a word in lower case is as often a word of the sentence: "about", "hake" link nothing
    assert request_values("What about the hake landings?", ("landings",)) == ((), ())
    _, texts = request_values("readings since 2024-03-01", ("reading_dt",))
    assert "2024-03-01" in texts


@pytest.mark.parametrize("code, slot", [
    ('logs[logs["nBytes"] > ', (None, "")),
    ('logs[logs["nBytes"] > 15', (None, "15")),
    ('logs[logs["nBytes"]>=15', (None, "15")),
    ('logs[logs.city_tag == "Den', ('"', '"Den')),
    ("logs[logs.city_tag != '", ("'", "'")),
    ('logs[logs.status.isin(["ok", "la', ('"', '"la')),
    ('logs[logs.status.isin(["ok", ', (None, "")),
    ('logs[logs["nBytes"].between(2, ', (None, "")),
    ('logs.query("nBytes > 5 and city_tag == \'X', ("'", "'X")),
    ('logs[logs.city_tag.str.contains("', ('"', '"')),
    # not a comparison's value
    ('logs[logs["nBytes"] >= 15]', None),
    ('logs[logs.city_tag == "Denver"', None),
    ('x > logs["nB', None),
    ('logs[logs["nBytes"] > 1, ', None),
    ("plt.plot(x, y", None),
    ("x = ", None),
    ("print(1 << ", None),
    ('logs[logs["nBytes"] > 1500]\nlogs.head(', None),
])
def test_the_slot_where_a_comparisons_value_is_written(code, slot):
    assert value_slot(code) == slot


TEXTS = ["1", "15", "150", "1500", "0", "00", "0]", ")", "]", " 1500", " 15", " 2", ' "', ' "Den', '"Den', "Den",
         "ver", 'ver"', 'ver"]', "Porto", '"', "x", " &"]


def _guard(values: tuple[tuple[str, float], ...]) -> ColumnGuard:
    return ColumnGuard(replace(KNOWN, linked_values=values), GuardVocabulary(TEXTS), 1)


def _raised(logits: np.ndarray) -> set[str]:
    return {TEXTS[i] for i, v in enumerate(logits) if v > 1.0}


def test_the_tokens_that_write_a_linked_value_get_its_bonus():
    guard = _guard((("1500", 3.0), ('"Denver"', 3.0)))
    ones = np.ones(len(TEXTS))
    start = guard.restrict(0, 'logs[logs["nBytes"] > ', ones, greedy=False)
    assert _raised(start) == {"1", "15", "150", "1500", " 1500", " 15", '"', ' "', ' "Den', '"Den'}
    # "150" goes on to 1500, not to the bracket: the request's number was 1500
    assert _raised(guard.restrict(0, 'logs[logs["nBytes"] > 150', ones, greedy=False)) == {"0", "0]"}
    assert _raised(guard.restrict(0, 'logs[logs["nBytes"] > 1500', ones, greedy=False)) == {"]", " &"}
    assert _raised(guard.restrict(0, 'logs[logs.city_tag == "Den', ones, greedy=False)) == {"ver", 'ver"', 'ver"]'}
    assert start.max() == 4.0


def test_two_numbers_leave_the_choice_between_them_to_the_model():
    guard = _guard((("150", 3.0), ("1500", 3.0)))
    after = guard.restrict(0, 'logs[logs["adSpendPct"] < 150', np.ones(len(TEXTS)), greedy=False)
    assert after[TEXTS.index("]")] == after[TEXTS.index("0")] == 4.0


def test_a_value_the_line_has_written_gets_no_more_help():
    guard = _guard((("15", 3.0),))
    assert _raised(guard.restrict(0, 'logs[logs["nBytes"].between(', np.ones(len(TEXTS)), greedy=False))
    # "15 and up" wrote its 15: the second bound is the model's own, not `between(15, 15)`
    assert not _raised(guard.restrict(0, 'logs[logs["nBytes"].between(15, ', np.ones(len(TEXTS)), greedy=False))
    # 150 is not 15
    assert _raised(guard.restrict(0, 'logs[(logs["adSpendPct"] > 150) & (logs["nBytes"] > ', np.ones(len(TEXTS)), greedy=False))


def test_no_bonus_away_from_a_comparisons_value():
    guard = _guard((("1500", 3.0), ('"Denver"', 3.0)))
    for code in ("logs.head(", 'logs[logs["nBytes"] > 1500]', "x = ", 'logs.groupby("city_tag")["nBytes"].sum() / '):
        assert not _raised(guard.restrict(0, code, np.ones(len(TEXTS)), greedy=False)), code


def test_the_model_still_chooses():
    guard = _guard((("1500", 3.0),))
    logits = np.ones(len(TEXTS))
    logits[TEXTS.index(" 2")] = 9.0
    assert TEXTS[int(guard.restrict(0, 'logs[logs["nBytes"] > ', logits, greedy=True).argmax())] == " 2"
