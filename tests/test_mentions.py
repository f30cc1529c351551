"""The columns a request names, and the column guard tipping the model toward them while it spells a column."""

from __future__ import annotations

import numpy as np

from jupyter_codegen.column_guard import ColumnGuard, KnownColumns
from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.mentions import relevance, words
from jupyter_codegen.wire import Options

COLUMNS = ("hive_id", "apiary", "honey_kg", "varroa_count", "Roast Level", "Roast Date", "FinishMin")


def test_column_names_split_into_the_words_an_analyst_would_say():
    assert words("honey_kg FinishMin Roast Level URLPath") == ["honey", "kg", "finish", "min", "roast", "level", "url", "path"]


def test_a_request_names_a_column_by_some_of_its_words_or_their_stem():
    assert relevance("How much honey did each apiary produce?", COLUMNS) == {"apiary": 1.0, "honey_kg": 1.0}
    assert relevance("which inspections are missing a varroa count", COLUMNS) == {"varroa_count": 1.0}
    assert relevance("average time for each roast level", COLUMNS) == {"Roast Level": 1.0, "Roast Date": 0.5}
    assert relevance("who finished fastest?", COLUMNS) == {"FinishMin": 0.5}  # "finished" is "finish"; "min" unsaid
    assert relevance("show the first rows", COLUMNS) == {}


TEXTS = ['"', "api", "ary", "honey", "_kg", '"]', '".', "x", "_count", "var", "roa"]


def _guard(mentioned: dict[str, float]) -> ColumnGuard:
    known = KnownColumns((("hives", COLUMNS[:4]),)).with_mentions(mentioned)
    quotes = np.array([i for i, t in enumerate(TEXTS) if '"' in t], dtype=np.int64)
    return ColumnGuard(known, TEXTS, quotes, 1)


def _logits(**values: float) -> np.ndarray:
    logits = np.full(len(TEXTS), -10.0)
    for text, value in values.items():
        logits[TEXTS.index(text)] = value
    return logits


def test_the_guard_favours_the_named_column_only_while_a_column_is_spelled():
    text = 'hives.groupby("apiary")["'
    logits = _logits(api=1.0, honey=0.0, var=0.5)
    assert TEXTS[int(_guard({}).restrict(0, text, logits, greedy=True).argmax())] == "api"
    favoured = _guard({"honey_kg": 2.0}).restrict(0, text, logits, greedy=True)
    assert TEXTS[int(favoured.argmax())] == "honey"
    # The bonus goes on to the end of the name and its closing quote, and nowhere else.
    guard = _guard({"honey_kg": 2.0})
    assert TEXTS[int(guard.restrict(0, text + "honey", _logits(_kg=0.0, x=1.0), greedy=True).argmax())] == "_kg"
    outside = _logits(x=1.0, honey=0.5)
    assert np.array_equal(guard.restrict(0, "total = ", outside, greedy=True), outside)


def test_a_statement_start_subscript_is_favoured_too_since_it_reads_a_column_unless_assigned():
    guard = _guard({"varroa_count": 3.0})
    favoured = guard.restrict(0, 'hives["', _logits(api=1.0, var=0.0), greedy=True)
    assert TEXTS[int(favoured.argmax())] == "var"


def test_the_wire_carries_the_bonus_of_each_named_column():
    options = GenerationOptions(mention_bonus=2.0, columns=KnownColumns((("hives", COLUMNS[:4]),)).with_mentions({"honey_kg": 2.0}))
    sent = Options.model_validate_json(Options.of(options).model_dump_json())
    assert sent.generation_options() == options
    assert sent.over(GenerationOptions()).columns == options.columns
