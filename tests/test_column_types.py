"""The guard's type check: a column read with an attribute its dtype lacks (the mean of a text column, `.dt` of a
number) is written again as another column, since the operation may well be what was asked and the column not."""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_codegen.column_guard import ColumnGuard, ColumnScanner, GuardVocabulary, known_columns, type_fits
from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.variables import summarize_namespace
from jupyter_codegen.wire import Options

ROASTS = pd.DataFrame({
    "Origin": ["Kenya"], "Roast Level": ["dark"], "Roast Date": pd.to_datetime(["2024-03-01"]), "Minutes": [11.5],
    "Decaf": [False],
})
KNOWN = known_columns(summarize_namespace({"roasts": ROASTS}))


def test_the_summary_gives_each_columns_dtype():
    assert dict(KNOWN.dtypes)["roasts"] == ("str", "str", "datetime64[us]", "float64", "bool")


@pytest.mark.parametrize("dtype, attribute, fits", [
    ("str", "mean", False), ("object", "median", False), ("category", "std", False), ("str", "value_counts", True),
    ("str", "nunique", True), ("str", "corr", False), ("object", "round", False), ("float64", "mean", True),
    ("bool", "mean", True), ("int64", "dt", False),
    ("str", "dt", False), ("datetime64[ns]", "dt", True), ("datetime64[us, UTC]", "dt", True),
    ("timedelta64[ns]", "dt", True),
])
def test_what_a_dtype_has(dtype, attribute, fits):
    assert type_fits(dtype, attribute) is fits


@pytest.mark.parametrize("code, rewind_at", [
    ('roasts["Roast Level"].mean()', 7),  # the offset of its opening quote
    ('x = roasts.groupby("Origin")["Roast Level"].mean()', 29),
    ('roasts.loc[:, "Origin"].median()', 14),
    ('roasts["Minutes"].dt.hour', 7),
    ('roasts.groupby(roasts["Origin"].dt.month)["Minutes"].sum()', 22),
    ('roasts[roasts["Origin"] > 5]', 14),  # text compared with a number: a TypeError
    ('roasts[roasts["Roast Date"] >= 2024]', 14),  # so is a date
    ('roasts.loc[roasts["Roast Level"]<3, "Minutes"]', 18),
    # what fits, or is not a column's attribute at all
    ('roasts["Minutes"].mean()', None),
    ('roasts["Decaf"].mean()', None),
    ('roasts["Roast Level"].value_counts()', None),
    ('roasts["Roast Date"].dt.year', None),
    ('roasts[roasts["Roast Level"] == "dark"].mean(numeric_only=True)', None),
    ('roasts["Roast Level"] + ".x"', None),
    ('roasts[["Origin", "Roast Level"]].mean()', None),
    ('roasts[roasts["Minutes"] > 10]', None),
    ('roasts[roasts["Origin"] > "K"]', None),
    ('roasts[roasts["Roast Date"] >= "2024-01-01"]', None),
    ('roasts[roasts["Origin"] == 5]', None),  # no error, only no rows
])
def test_a_column_read_with_an_attribute_its_type_lacks_is_written_again(code, rewind_at):
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed(code)
    assert scanner.rewind_at == rewind_at
    if rewind_at is not None:
        assert scanner.violated and scanner.allows("")  # not refused token by token: the engine rewinds


def test_resample_and_rolling_take_a_date_column_on():
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed('roasts.resample("W", on="')
    assert not scanner.allows('Minutes"') and scanner.allows('Roast Date"')
    rolling = ColumnScanner.over(KNOWN)
    rolling.feed('roasts.rolling("7D", on="')
    assert not rolling.allows('Origin"') and rolling.allows('Roast Date"')
    no_dates = known_columns(summarize_namespace({"roasts": ROASTS.drop(columns="Roast Date")}))
    free = ColumnScanner.over(no_dates)
    free.feed('roasts.resample("W", on="')
    assert free.allows('Minutes"')  # no date column listed: the guard does not forbid every column


def test_written_again_the_literal_names_another_column():
    guard = ColumnGuard(KNOWN, GuardVocabulary([]), 1)
    text = 'x = roasts.groupby("Origin")["Roast Level"].mean('
    assert guard.observe(0, text) == 29
    guard.rewind(0, kept=28)  # the engine cut before the token `["`
    assert guard.observe(0, text[:28]) is None
    scanner = guard.scanners[0]
    assert not scanner.allows('["Roast Level"]') and not scanner.allows('["Origin"]')  # excluded; the key
    assert scanner.allows('["Minutes"].mean()')
    # a second rewind at another literal keeps the first exclusion
    assert guard.observe(0, 'x = roasts.groupby("Origin")["Roast Date"].mean()') is None  # a date has a mean


def test_a_selected_column_is_not_shown_until_what_follows_it_is_read():
    """A streamed answer must not show text a rewind may take back."""
    guard = ColumnGuard(KNOWN, GuardVocabulary([]), 1)
    assert guard.observe(0, 'x = roasts["Roast Level"]') is None
    assert guard.uncertain_from(0) == 11
    assert guard.observe(0, 'x = roasts["Roast Level"].value_counts(') is None
    assert guard.uncertain_from(0) is None
    assert guard.observe(0, 'x = roasts["Roast Level"].value_counts()\ny = roasts[roasts["Origin"] >') is None
    assert guard.uncertain_from(0) == 59  # until the number or the string after the comparison


def test_the_wire_carries_the_dtypes_to_the_server():
    options = GenerationOptions(columns=KNOWN)
    sent = Options.model_validate_json(Options.of(options).model_dump_json())
    assert sent.generation_options().columns == KNOWN and sent.over(GenerationOptions()).columns == KNOWN


@pytest.mark.parametrize("request_text, error", [
    ("average temperament per apiary", TypeError),  # the model alone: groupby("apiary")["temperament"].mean()
    ("inspections by month of varroa count", AttributeError),  # the model alone: hives["honey_kg"].dt.month
])
def test_the_embedded_model_answers_with_a_column_of_the_right_type(request_text, error, monkeypatch):
    """With the embedded model: without the type check its answer raises; with it, the engine goes back to the
    column literal and writes another column, and the answer runs."""
    from jupyter_codegen import assistant, column_guard
    from jupyter_codegen.model_store import EngineSettings, load_engine

    hives = pd.DataFrame({
        "hive_id": ["H01", "H02", "H03"], "apiary": ["Meadow", "Meadow", "Ridge"],
        "inspected": pd.to_datetime(["2024-04-06", "2024-05-11", "2024-06-15"]), "frames_brood": [5, 7, 4],
        "honey_kg": [2.1, 3.4, 1.2], "varroa_count": [3.0, 1.0, 9.0], "queen_seen": [True, True, False],
        "temperament": ["calm", "calm", "nervous"],
    })
    engine = load_engine("default", EngineSettings(progress=False))
    variables = summarize_namespace({"hives": hives})
    options = GenerationOptions(max_new_tokens=48)
    typed = assistant.codegen(engine, request_text, [], options, variables=variables).code
    monkeypatch.setattr(column_guard, "type_fits", lambda dtype, attribute: True)
    untyped = assistant.codegen(engine, request_text, [], options, variables=variables).code
    with pytest.raises(error):
        eval(untyped, {"hives": hives.copy(), "pd": pd})  # the case this test is about
    eval(typed, {"hives": hives.copy(), "pd": pd})
