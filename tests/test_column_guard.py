"""The column guard: which string literals name a column, the frames it trusts from a variables summary, and the
engine keeping those literals to real columns on a real ONNX Runtime session."""

from __future__ import annotations

import ast
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from jupyter_codegen.column_guard import ColumnScanner, KnownColumns, known_columns, request_count
from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.onnx_engine import OnnxEngine
from jupyter_codegen.variables import summarize_namespace
from jupyter_codegen.wire import Options

HIVES = pd.DataFrame({
    "hive_id": ["H01"], "apiary": ["Meadow"], "honey_kg": [2.1], "varroa_count": [3.0], "temperament": ["calm"],
})
KNOWN = KnownColumns((("hives", tuple(HIVES.columns)),))


def test_frames_and_columns_come_from_the_variables_summary():
    summary = summarize_namespace({"hives": HIVES, "n": 3, "label": "x"})
    assert known_columns(summary).as_dict() == {"hives": tuple(HIVES.columns)}


def test_frames_whose_summary_does_not_list_every_column_exactly_are_not_guarded():
    wide = pd.DataFrame({f"c{i}": [i] for i in range(20)})  # the summary lists 12 and counts the rest
    cut = pd.DataFrame({"a_column_name_far_longer_than_thirty_characters": [1]})
    odd = pd.DataFrame({'say "hi"': [1], "größe": [2]})
    summary = summarize_namespace({"wide": wide, "cut": cut, "odd": odd, "hives": HIVES})
    assert set(known_columns(summary).as_dict()) == {"hives"}
    assert not known_columns(None) and not known_columns("")


def _violates(code: str, known: KnownColumns = KNOWN) -> bool:
    scanner = ColumnScanner.over(known)
    scanner.feed(code)
    return scanner.violated


@pytest.mark.parametrize("code, misspelt", [
    # reads: a literal that is not a column is refused
    ('x = hives["honey"]', True),
    ('x = hives["honey_kg"].sum()', False),
    ('hives.groupby("apiary")["honey_kg"].mean()', False),
    ('hives.groupby("apiarys")', True),
    ('hives.groupby("apiary")["honey"].mean()', True),
    ('hives.groupby(["apiary", "temperament"]).size()', False),
    ('hives.groupby(["apiary", "tempx"])', True),
    ('hives[hives["varroa_count"] >= 10]', False),
    ('hives[hives["temper"] == "calm"]', True),
    ('hives.sort_values("honey_kg", ascending=False).head(5)', False),
    ('hives.sort_values(by="honey")', True),
    ('hives.loc[hives["apiary"] == "Meadow", "honey_kg"].sum()', False),
    ('y = hives.loc[:, ["apiary", "honeyx"]]', True),
    ('z = hives[["apiary", "honey_kg"]]', False),
    ('hives.nlargest(5, "honey_kg")', False),
    ('hives.nlargest(5, "hone")', True),
    ('a = hives.dropna(subset=["varroa_count"])', False),
    ('hives.pivot_table(index="apiary", columns="temperament", values="honey_kg", aggfunc="mean")', False),
    ('hives.pivot_table(index="apiary", values="hon", aggfunc="mean")', True),
    ('sns.barplot(data=hives, x="apiary", y="honey_kg")', False),
    ('sns.barplot(data=hives, x="apiary", y="honey")', True),
    ('hives.plot(kind="bar", x="apiary", y="honey_kg")', False),
    ('hives.plot.bar(x="apiar")', True),
    ("m = hives['honey']", True),
    ('w = hives.resample("W", on="inspectd")["honey_kg"].sum()', True),
    ('w = hives.resample("W", on="apiary")["honey_kg"].sum()', False),
    ('q = ""\nw = hives["zz"]', True),
    ('x = hives.groupby("api\n', True),  # a column's name does not end the line
    ('hives["kg"] = hives["kg"].fillna(0)', True),  # read on the right before the statement makes it
    ('hives["kg"] = 0; hives["kg"].sum()', False),
    # not reads of a column: left free
    ('hives["new"] = hives["honey_kg"] * 2', False),
    ('hives["apiary"].str.upper() == "MEADOW"', False),
    ('hives.agg({"honey_kg": "sum"})', False),
    ('hives.groupby("apiary").agg(total=("honey_kg", "sum"))["total"]', False),
    ('hives.rename(columns={"a": "b"})["b"]', False),
    ('print(f"{hives[\'x\']}")', False),
    ('hives.columns[0]', False),
    ('hives["apiary"].value_counts(normalize=True)', False),
    ('"""doc "x" """\nhives["zz"] = 1', False),
    ('len(hives[hives.honey_kg > 2])', False),
    ('other["anything"]', False),
])
def test_the_scanner_knows_which_literals_name_a_column(code, misspelt):
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed(code)
    assert scanner.violated is misspelt
    assert scanner.rewind_at is None


@pytest.mark.parametrize("code, rewind_at", [
    ('hives["max_ip"].value_counts()', 6),
    ('x = 1\nhives["max_ip"] == 3', 12),
    ('hives["max_ip"] += 1', 6),
    ('hives["max_ip"]\n', 6),
    ('hives.loc[hives["apiary"] == "Meadow", "kg"].sum()', 39),
    ('hives["kg"] = hives["honey_kg"] * 1000\nhives["kg"].mean()', None),  # made, then read
    ('hives["honey_kg"].sum()', None),
    ('hives[["apiary", "kg", "n"]].head()', 17),  # the first made-up one of a list
    ('hives.loc[hives["apiary"] == "Meadow", ["honey_kg", "kg"]].sum()', 52),
    ('hives[["kg", "n"]] = 0\nhives[["kg", "n", "apiary"]].sum()', None),
])
def test_a_statement_start_literal_is_free_until_it_turns_out_to_be_a_read(code, rewind_at):
    """`hives["x"]` may begin an assignment that makes the column; once what follows shows it is read, the engine
    must write it again from the literal (rewind_at), now guarded."""
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed(code)
    assert scanner.rewind_at == rewind_at
    assert scanner.allows("")  # a read is not refused token by token: the name is what is wrong
    if rewind_at is not None:
        again = ColumnScanner.over(KNOWN, frozenset({rewind_at}))
        again.feed(code)
        assert again.violated and again.rewind_at is None  # guarded this time


@pytest.mark.parametrize("code, guarded", [
    # a value that keeps the frame's rows and columns: the new name reads the same columns
    ('subset = hives[hives["varroa_count"] > 10]\nsubset.groupby("', "subset"),
    ('top = hives.sort_values("honey_kg").head(3)\nx = top["', "top"),
    ('calm = hives.loc[hives.temperament == "calm"]; calm.plot(x="', "calm"),
    ('hives = hives.dropna()\nx = hives["', "hives"),
    ('by_apiary = hives.groupby("apiary")\nx = by_apiary["', "by_apiary"),
    # anything else: the name is no guarded frame, whatever it was before
    ('hives = hives.rename(columns={"apiary": "site"})\nhives.groupby("', None),
    ('hives = hives.assign(kg=1)\nx = hives["', None),
    ('hives = pd.read_csv("other.csv")\nx = hives["', None),
    ('s = hives["honey_kg"]\nx = s["', None),
    ('s = hives.loc[hives.honey_kg > 1, "apiary"]\nx = s["', None),
    ('n = hives.shape\nx = n["', None),
    ('x = 2 * hives\ny = x["', None),
    ('hives2 = hives.groupby("apiary").sum()\nx = hives2["', None),
    ('a, b = hives, hives\nx = a["', None),
    ('hives.x = hives[hives.honey_kg > 1]\nx = hives["', "hives"),
    ('other = hives[hives.honey_kg > 1] if True else None\nx = other["', None),
    ('s = hives.iloc[:, 0]\nx = s["', None),  # a Series: its labels are the rows'
    ('v = hives.iloc[0, 1]\nx = v["', None),
    ('f = hives.iloc[:, 0:2]\nx = f["', "f"),
    ('f = hives.loc[hives.honey_kg > 1, ["apiary", "honey_kg"]]\nx = f["', "f"),
    ('row = hives.iloc[0]\nx = row["', "row"),  # a row: its labels are the columns
])
def test_an_assigned_name_reads_the_columns_its_value_keeps(code, guarded):
    """`subset = hives[mask]` is a frame with hives's columns; `hives = hives.rename(...)` no longer has them, and
    the guard must never forbid a column a frame really has."""
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed(code)
    assert not scanner.violated
    assert scanner.guarded == guarded


def test_a_derived_frame_refuses_a_made_up_column():
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed('subset = hives[hives["varroa_count"] > 10]\nsubset.groupby("Meadow")')
    assert scanner.violated


@pytest.mark.parametrize("code, repeats", [
    ('x = hives.groupby("apiary")["apiary"].mean()', True),  # the group labels, averaged: TypeError
    ('x = hives.groupby("apiary")["honey_kg"].mean()', False),
    ('hives.groupby(["apiary", "temperament"])["temperament"].size()', True),
    ('hives.groupby(by="apiary")[["honey_kg", "apiary"]].sum()', True),
    ('hives.groupby(["apiary", "apiary"]).size()', True),
    ('x = hives[["apiary", "apiary"]]', True),
    ('hives[["apiary", "apiary"]].head()', True),  # at a statement start too, read or made
    ('hives[["apiary", "honey_kg"]].head()', False),
    ('hives.plot(kind="scatter", x="honey_kg", y="honey_kg")', True),  # a column against itself
    ('hives.plot(kind="scatter", x="honey_kg", y="varroa_count")', False),
    ('sns.scatterplot(data=hives, x="apiary", y="apiary")', True),
    ('sns.barplot(data=hives, x="apiary", y="honey_kg", hue="apiary")', False),  # hue repeats x on purpose
    ('hives.pivot_table(index=["apiary"], columns="apiary", values="honey_kg")', True),
    ('hives.pivot_table(index="apiary", columns="temperament", values="honey_kg")', False),
    # the keys bind only the selection right after the groupby
    ('hives.groupby("apiary").head(2)["apiary"]', False),
    ('hives[hives["apiary"] == "Meadow"].groupby("apiary")["honey_kg"].sum()', False),
    ('hives.groupby("apiary")["honey_kg"].sum(); hives["apiary"].unique()', False),
])
def test_a_column_is_not_named_again_in_a_role_it_cannot_share(code, repeats):
    assert _violates(code) is repeats


def test_a_rewind_into_an_infills_left_side_starts_the_fill_anew():
    scanner = ColumnScanner.over(KNOWN.after('hives["'))
    scanner.feed('max_ip"].sum()')
    assert scanner.rewind_at == -1
    again = ColumnScanner.over(KNOWN.after('hives["'), frozenset({-1}))
    assert again.guarded == "hives" and not again.allows('max_ip"')


def test_text_that_may_be_rewound_is_not_shown_yet():
    scanner = ColumnScanner.over(KNOWN)
    scanner.feed('hives["max')
    assert scanner.uncertain_from == 6
    scanner.feed('_ip"] = 0')
    assert scanner.uncertain_from is None


# The notebook has hives (a frame), n, pd and tk; anything else is a name the model made up.
NAMED = KnownColumns(KNOWN.frames, frame_names=("hives", "wide"), names=("hives", "wide", "n", "pd", "tk"))


@pytest.mark.parametrize("code, rewind_at", [
    ('data["honey_kg"].sum()', 0),  # a made-up frame read at a statement start
    ('race = films.dropna()', 7),  # the value of an assignment
    ('hives["kg"] = data["honey_kg"] * 2', 14),
    ('films.groupby("apiary").size()', 0),
    ('x = ferers.sort_values("a")', 4),
    ('  data.head()', 2),
    ('route_share = films.plot(kind="scatter", x="a", y="b")', 14),
    ('hives["t"] = data.temperament.fillna("calm")', 13),  # an attribute that is one of a frame's columns
    ('x = staff[staff["honey_kg"] > 1]', 4),  # a row filter on a made-up frame
    ('staff[(staff["a"] > 1) & (staff["b"] < 2)]', 0),
    ('subset = quakes[hives["honey_kg"] > 10]', 9),  # a real frame's mask on a made-up one
    # names the notebook or the answer has, module functions, and uses that are not a frame's: left free
    ('wide.groupby("a").size()', None),
    ('merged = hives.copy()\nmerged.head()', None),
    ('a, b = 1, 2\nb["x"]', None),
    ('for row in hives.itertuples():\n    row.head()', None),
    ('import seaborn as s2\ns2.head()', None),
    ('pd.merge(hives, other)', None),
    ('np.mean(hives["honey_kg"])', None),
    ('plt.bar(x, y)', None),
    ('tk.busiest(hives, n=5)', None),
    ('len(hives)', None),
    ('films = hives.copy()\nfilms.head()', None),
    ('totals == 3', None),
    ('print(data["x"])', 6),  # a call's argument
    ('round(mple["honey_kg"].corr(hives["varroa_count"]))', 6),
    ('hives.loc[rent["apiary"] != "x"]', 10),  # a subscript's element
    ('print(data.dropna())', 6),
    ('sum(r["a"] for r in rows)', None),  # a comprehension binds it later in the same bracket
    ('max((r["a"], r["b"]) for r in rows)', None),
    ('[r["a"] for r in rows]', None),  # a display: not checked at all
    ('print(data)', None),  # not used as a frame
    ('hives.plot(x=data, kind="bar")', None),
    ('def f(t):\n    t.head()\ndata.head()', None),  # after a def, parameters are names the scanner does not read
    ('data.columns_of_mine', None),
    ('x = items[i]', None),  # a subscript by some other name: not known to be a frame
    ('x = items[items_b]', None),
])
def test_a_made_up_frame_name_is_rewound_when_it_is_used_as_a_frame(code, rewind_at):
    scanner = ColumnScanner.over(NAMED)
    scanner.feed(code)
    assert scanner.rewind_at == rewind_at, (scanner.rewind_at, scanner.violated)
    if rewind_at is not None:
        again = ColumnScanner.over(NAMED, frozenset({rewind_at}))
        prefix = code[:rewind_at]
        again.feed(prefix)
        assert again.name_guarded
        assert again.allows("hives") and again.allows("wide.") and not again.allows("h2") and not again.allows("data")


def test_frame_names_are_free_when_the_summary_leaves_variables_out():
    summary = summarize_namespace({f"v{i}": i for i in range(30)} | {"hives": HIVES})
    known = known_columns(summary)
    assert "more variables" in summary and known.names is None
    scanner = ColumnScanner.over(known.with_names({"pd"}))
    scanner.feed('data["honey_kg"].sum()')
    assert scanner.rewind_at is None and not scanner.violated


def test_the_summary_gives_every_name_and_every_frame():
    wide = pd.DataFrame({f"c{i}": [i] for i in range(20)})
    known = known_columns(summarize_namespace({"hives": HIVES, "wide": wide, "n": 3}))
    assert set(known.names) == {"hives", "wide", "n"} and set(known.frame_names) == {"hives", "wide"}
    assert known.as_dict().keys() == {"hives"}  # only the frame whose columns are all listed has them guarded


def test_a_made_up_name_is_written_again_from_where_the_engine_cut_the_text():
    """The engine cuts at a token boundary, often before the space ahead of the name: the space comes back, then
    a frame's name (not `race =hives`, and not `race = (` with the made-up name on the next line)."""
    from jupyter_codegen.column_guard import ColumnGuard, GuardVocabulary

    guard = ColumnGuard(NAMED, GuardVocabulary([]), 1)
    assert guard.observe(0, "race = films.dropna(") == 7
    guard.rewind(0, kept=6)  # "race =" kept: the token " films" went
    assert guard.observe(0, "race =") is None
    scanner = guard.scanners[0]
    assert scanner.name_guarded and scanner.allows(" hives") and scanner.allows(" ") and scanner.allows(" h")
    assert not scanner.allows("hives") and not scanner.allows(" (") and not scanner.allows(" films")
    assert not scanner.allows("films")


def test_a_made_up_name_cut_at_its_own_start_is_written_again_as_a_name():
    from jupyter_codegen.column_guard import ColumnGuard, GuardVocabulary

    guard = ColumnGuard(NAMED, GuardVocabulary([]), 1)
    assert guard.observe(0, "race = films.dropna(") == 7
    guard.rewind(0, kept=7)  # "race = " kept
    assert guard.observe(0, "race = ") is None
    scanner = guard.scanners[0]
    assert scanner.allows("hives") and scanner.allows("wide.head()")
    assert not scanner.allows("(") and not scanner.allows("films") and not scanner.allows('"')


def test_a_name_not_yet_known_to_be_made_up_is_not_shown_yet():
    scanner = ColumnScanner.over(NAMED)
    scanner.feed("race = fil")
    assert scanner.uncertain_from == 7
    scanner.feed("ms.dropna")
    assert scanner.uncertain_from == 7
    scanner.feed("_all")
    scanner.feed("(")
    assert scanner.uncertain_from is None and scanner.rewind_at is None


def test_an_infill_reads_the_code_before_the_hole_on_its_line():
    scanner = ColumnScanner.over(KNOWN.after('import pandas as pd\ntop = hives.groupby("'))
    assert scanner.guarded == "hives"
    assert scanner.allows('apiary")') and not scanner.allows('region")')


def test_a_whole_cell_may_not_end_inside_a_bracket_or_a_string():
    """`round(race["t"].corr(race["age"])` and then the end of the cell is a SyntaxError: while a bracket or a
    string is open, the tokens that end a whole cell (end of text, a stop string) are removed; a fill, which code
    on its right may close, is left alone."""
    from dataclasses import replace

    from jupyter_codegen.column_guard import ColumnGuard, GuardVocabulary

    texts = ["<cell>", ")", "x", "\n", '"', "</cell>"]
    eos = 6
    logits = np.array([5.0, 1.0, 2.0, 0.5, 0.1, 4.0, 6.0])
    whole = ColumnGuard(replace(KNOWN, whole=True), GuardVocabulary(texts + [""]), 1, stops=("<cell>", "</cell>"),
                        end_ids={eos})
    kept = whole.restrict(0, "x = round(hives.honey_kg.sum()", logits, greedy=True)
    assert kept[0] == kept[5] == kept[eos] == -np.inf and kept[2] == 2.0
    # where the model meant to stop, it closes the bracket: the ending tokens' probability goes to ")"
    assert int(kept.argmax()) == 1 and np.isclose(np.exp(kept[1]), np.exp(logits[[0, 1, 5, 6]]).sum())
    assert int(whole.restrict(0, "x = round(hives.honey_kg.sum())", logits, greedy=True).argmax()) == eos
    assert int(whole.restrict(0, 'x = hives.query("honey_kg > 1', logits, greedy=False).argmax()) == 4  # the quote
    likelier_x = logits.copy()
    likelier_x[2] = 9.0  # ending is not the likeliest choice: the endings go, the rest is as it was
    kept = whole.restrict(0, "x = round(hives.honey_kg.sum()", likelier_x, greedy=True)
    assert kept[1] == 1.0 and int(kept.argmax()) == 2 and kept[eos] == -np.inf
    split = ColumnGuard(replace(KNOWN, whole=True), GuardVocabulary(texts + ["", "ll>"]), 1,
                        stops=("<|endofmask|>", "</cell>"), end_ids={eos})
    ends_the_stop = split.restrict(0, "f(x, y</ce", np.append(logits, 7.0), greedy=True)  # "ll>" completes "</cell>"
    assert ends_the_stop[7] == -np.inf
    fill = ColumnGuard(KNOWN, GuardVocabulary(texts + [""]), 1, stops=("<cell>",), end_ids={eos})
    assert int(fill.restrict(0, "x = round(hives.honey_kg.sum()", logits, greedy=True).argmax()) == eos


@pytest.mark.parametrize("code, broken", [
    ('x = round(hives["honey_kg"]]', True),  # a bracket closed by the wrong closer
    ('x = {"a": [1, 2)}', True),
    ('x = round(hives["honey_kg"].sum(), 1)', False),
    ("x = hives.head(, 3)", True),  # an argument left out
    ("f(a,, b)", True),
    ("f(a=, b)", True),
    ("hives.iloc[:, 0]", False),
    ("a, b = 1, 2", False),
    ("x = [1, 2,]", False),
])
def test_code_that_cannot_parse_is_refused_where_it_breaks(code, broken):
    assert _violates(code) is broken


@pytest.mark.parametrize("left, right, fill, broken", [
    ("top = hives.sort_values(", ", ascending=False).head(5)", '"honey_kg"', False),
    ("top = hives.sort_values(", ", ascending=False).head(5)", '"honey_kg")', True),  # the right side closes it
    ("top = hives.sort_values(", "", '"honey_kg").head(5)', False),  # nothing on the right: the fill closes it
    ("x = f(g(", ")", "1)", False),  # the right side closes one of the two
    ("x = f(g(", ")", "1))", True),
    ("x = f(", '")")', "1", False),  # a closer inside a string on the right closes nothing
])
def test_a_fill_does_not_close_what_the_code_after_it_closes(left, right, fill, broken):
    scanner = ColumnScanner.over(KNOWN.after(left, right))
    scanner.feed(fill)
    assert scanner.violated is broken


def test_a_marked_hole_that_stands_for_a_column_begins_with_a_string_or_a_list():
    """`hives.sort_values(<FILL>, ...)`: left to itself the model ends the fill at once (a SyntaxError) or writes
    text it read nearby; a hole the user marked at a column argument begins with a literal, which the guard then
    spells as a column."""
    from jupyter_codegen.column_guard import ColumnGuard, GuardVocabulary

    texts = ["x", ")", ' "', "[", "t64", '"apiary"']
    eos = 6
    logits = np.array([1.0, 2.0, 0.5, 0.2, 3.0, 0.1, 4.0])  # ending first, then text read nearby
    hole = replace(KNOWN, nonempty=True).after("top = hives.sort_values(", ", ascending=False)")
    guard = ColumnGuard(hole, GuardVocabulary(texts + [""]), 1, stops=("\n",), end_ids={eos})
    kept = guard.restrict(0, "", logits, greedy=True)
    assert int(kept.argmax()) == 2  # the likeliest token that opens a literal
    assert int(guard.restrict(0, ' "apiary"', logits, greedy=True).argmax()) == eos  # named: it may end
    anywhere = ColumnGuard(replace(KNOWN, nonempty=True).after("x = hives.head("), GuardVocabulary(texts + [""]), 1,
                           stops=("\n",), end_ids={eos})
    assert int(anywhere.restrict(0, "", logits, greedy=True).argmax()) == eos  # head() may stay empty
    unmarked = ColumnGuard(KNOWN.after("top = hives.sort_values("), GuardVocabulary(texts + [""]), 1, end_ids={eos})
    assert int(unmarked.restrict(0, "", logits, greedy=True).argmax()) == eos  # a fix may delete its line


@pytest.mark.parametrize("request_text, count", [
    ("give me the tail end of the table, last 4 rows", 4),
    ("top five apiaries by honey", 5),
    ("the 3 largest harvests", 3),
    ("Fastest three finishers with their times", 3),
    ("show 12 rows", 12),
    ("rows where amount > 100, sorted", None),  # a threshold, not a count
    ("Histogram of the cupping scores, 5 bins", None),
    ("only 2023", None),
    ("days with wind above 9.5 m/s", None),
    ("the 3 largest orders over 100", None),  # two numbers: which is the count is a guess
    ("first rows please", None),
    ("show the 4th row", None),  # an ordinal picks a row, it does not count them
])
def test_the_number_of_rows_a_request_asks_for(request_text, count):
    assert request_count(request_text) == count


@pytest.mark.parametrize("code, broken", [
    ("hives.tail(4)", False),
    ('x = hives.sort_values("honey_kg").head(4)', False),
    ('hives["honey_kg"].nlargest(4)', False),
    ('hives.nsmallest(4, "honey_kg")', False),
    ("hives.tail(5)", True),
    ("hives.tail()", True),  # five rows, not the four asked for
    ("hives.tail(40)", True),
    ("hives.tail(n)", True),
    ("hives.tail( 4)", True),  # the number itself, as written in code
    ("hives.round(2)", False),  # not a count of rows
])
def test_a_counting_call_takes_the_number_of_rows_the_request_asks_for(code, broken):
    assert _violates(code, replace(KNOWN, count=4)) is broken
    assert not _violates(code, KNOWN)  # no number in the request: free


@pytest.mark.parametrize("known", [
    KNOWN.after("x = hives["), NAMED, KnownColumns(frame_names=("wide",), names=("wide",)),
    KnownColumns((("hives", ("a",)),), whole=True),
    replace(KNOWN, nonempty=True).after("x = hives.sort_values(", ", ascending=False)"), replace(KNOWN, count=4),
    replace(KNOWN, linked=(("apiary", 3.0), ("honey_kg", 2.1)), linked_keys=("apiary",)),
    replace(KNOWN, linked_methods=(("count", 3.0), ("size", 3.0))),
    replace(KNOWN, linked_values=(("1500", 3.0), ('"Denver"', 3.0))),
])
def test_the_wire_carries_the_columns_and_names_to_the_server(known):
    options = GenerationOptions(columns=known)
    sent = Options.model_validate_json(Options.of(options).model_dump_json())
    assert sent.generation_options().columns == options.columns
    assert sent.over(GenerationOptions()).columns == options.columns


@pytest.fixture(scope="module")
def engine(tiny_model):
    return OnnxEngine(tiny_model("llama"), device="cpu", threads=1)


def _literal(text: str) -> str:
    return text.split('"', 1)[0] if '"' in text else text


@pytest.mark.parametrize("temperature, seed", [(0.0, None), (1.0, 1), (1.0, 2)])
def test_the_engine_keeps_a_guarded_literal_to_the_frames_columns(engine, temperature, seed):
    """A random-weight model writes anything after `hives.groupby("`; guarded, it can only close a column."""
    left = 'top = hives.groupby("'
    options = GenerationOptions(max_new_tokens=24, temperature=temperature, seed=seed, n=2)
    free = engine.generate(left, options)
    guarded = engine.generate(left, options.with_(columns=KNOWN.after(left)))
    assert not all(c.text.startswith(tuple(f'{col}"' for col in HIVES.columns)) for c in free)
    for completion in guarded:
        assert completion.text.startswith(tuple(f'{col}"' for col in HIVES.columns)), completion.text


@pytest.fixture
def embedded_shell():
    """A real IPython shell with the extension on the embedded model; `frame` puts a table in it as `hives`. The
    shell is shared with later tests: the traits get their defaults back."""
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_codegen.config import CodeGen

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_codegen")
    changed = {"model": "'default'", "use_server": "False", "max_new_tokens": "64"}
    for name, value in changed.items():
        shell.run_line_magic("config", f"CodeGen.{name} = {value}")
    magics = shell.magics_manager.registry["CodeGenMagics"]

    def answer(magic: str, cell: str, frame: pd.DataFrame = HIVES):
        shell.user_ns["hives"] = frame
        magics.conversation.reset()
        shell.run_cell_magic(magic, "", cell)
        return magics.last_answer

    try:
        yield answer
    finally:
        shell.user_ns.pop("hives", None)
        for name in changed:
            shell.run_line_magic("config", f"CodeGen.{name} = {getattr(CodeGen, name).default_value!r}")


def test_the_embedded_model_reads_only_columns_the_frame_has(embedded_shell):
    """Through the real magic in a real IPython shell: every column the answer reads from the frame exists."""
    hives = HIVES.assign(inspected=pd.Timestamp("2024-04-06"), queen_seen=True)
    columns = set(hives.columns)
    for request in ("Draw a bar chart with the mean honey yield for every apiary.",
                    "How many inspections are missing a varroa count?",
                    "Which inspections found a varroa count of 10 or more?",
                    "What's the typical brood frame count per temperament? Use the median."):
        answer = embedded_shell("codegen", request, hives)
        code = answer.code
        if answer.candidates[0].finish_reason == "length":
            continue  # cut at the token limit: it may stop inside a literal
        subscripts = [  # hives["..."], in the order written (a literal is never left unterminated)
            node for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "hives"
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
        ]
        made = {node.slice.value for node in subscripts if isinstance(node.ctx, ast.Store)}
        for node in subscripts:
            if isinstance(node.ctx, ast.Load):
                assert node.slice.value in columns | made, code


def test_the_embedded_model_fills_a_hole_at_a_column_argument_with_a_column(embedded_shell):
    """Through the real `%%infill` magic: left free, the embedded model ends the fill of `sort_values(<FILL>, ...)`
    at once (a SyntaxError) or writes text from the variables summary into it; the marked hole begins with a literal,
    which the guard spells as one of the frame's columns, and the cell parses."""
    for cell in ("top = hives.sort_values(<FILL>, ascending=False).head(3)\ntop",
                 "hives.groupby(<FILL>)[\"honey_kg\"].sum()"):
        answer = embedded_shell("infill", cell)
        [fill] = answer.fills
        assert ast.literal_eval(fill.strip()) in set(HIVES.columns), answer.code
        ast.parse(answer.code)


def test_the_embedded_model_shows_as_many_rows_as_the_request_asks_for(embedded_shell):
    """Through the real `%%codegen` magic: left free, the embedded model answers "first 7 rows" with `head(5)`, the
    count it saw most in training; the request's number is what `head` takes."""
    code = embedded_shell("codegen", "first 7 rows").code
    counted = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Attribute) and node.func.attr in ("head", "tail", "nlargest")]
    assert counted and all(ast.literal_eval(node.args[0]) == 7 for node in counted), code


def test_the_embedded_model_aggregates_the_column_the_request_names(embedded_shell):
    """Through the real `%%codegen` magic: "median brood frames for every apiary" left to the model alone takes the
    median of honey_kg (on the machines measured); the request's words link frames_brood, which the guard then
    prefers in the groupby's value slot, and apiary, which it prefers as the key."""
    hives = HIVES.assign(frames_brood=[5])
    code = embedded_shell("codegen", "median brood frames for every apiary", hives).code
    assert 'groupby("apiary")["frames_brood"].median()' in code, code


def test_an_answer_that_reads_a_made_up_column_at_a_statement_start_is_rewound_and_never_shows_it():
    """The embedded model, left free, begins `hives["<made-up>"].unique()`; guarded, the engine goes back to the
    literal and writes a real column, and what streamed to the user only ever grew."""
    from jupyter_codegen import assistant
    from jupyter_codegen.context import Cell
    from jupyter_codegen.model_store import EngineSettings, load_engine

    engine = load_engine("default", EngineSettings(progress=False))
    frame = HIVES.assign(inspected=pd.Timestamp("2024-04-06"), frames_brood=5, queen_seen=True)
    before = [Cell("code", 'import pandas as pd\nhives = pd.read_csv("hives.csv", parse_dates=["inspected"])')]
    variables = summarize_namespace({"hives": frame})
    request = "list the distinct apiaries"  # the step-2074 model, free: hives["enroll_date"].unique()
    options = GenerationOptions(max_new_tokens=48)
    free = assistant.codegen(engine, request, before, options.with_(guard_columns=False), variables=variables)
    shown: list[str] = []
    guarded = assistant.codegen(engine, request, before, options, variables=variables, on_update=shown.append)

    def reads(code):
        return [n.slice.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Subscript)
                and isinstance(n.ctx, ast.Load) and isinstance(n.slice, ast.Constant)]

    assert set(reads(free.code)) - set(frame.columns)  # the case this test is about
    assert reads(guarded.code) and set(reads(guarded.code)) <= set(frame.columns)
    assert all(b.startswith(a) for a, b in zip(shown, shown[1:])) and guarded.code.startswith(shown[-1].strip())


def test_an_answer_that_uses_a_made_up_frame_is_rewound_to_a_frame_the_notebook_has():
    """The embedded model, left free, filters a frame it made up (`subset = staff[staff["wind_kmh"] > 10]`:
    NameError, there is no `staff`); guarded, the engine goes back to `staff` and writes, after the same space, a
    frame the variables summary lists."""
    from jupyter_codegen import assistant
    from jupyter_codegen.context import Cell
    from jupyter_codegen.model_store import EngineSettings, load_engine

    engine = load_engine("default", EngineSettings(progress=False))
    frame = pd.DataFrame({"station": ["Ridge"], "taken": [pd.Timestamp("2024-01-02")], "snow_cm": [12.0],
                          "temp_c": [-3.5], "wind_kmh": [22], "observer": ["Kim"]})
    before = [Cell("code", 'import pandas as pd\nobs = pd.read_csv("snow.csv", parse_dates=["taken"])')]
    variables = summarize_namespace({"obs": frame})
    request = "rows where wind is above 10"  # the step-2074 model, free: subset = staff[staff["wind_kmh"] > 10]
    options = GenerationOptions(max_new_tokens=48)
    free = assistant.codegen(engine, request, before, options.with_(guard_columns=False), variables=variables)
    shown: list[str] = []
    guarded = assistant.codegen(engine, request, before, options, variables=variables, on_update=shown.append)

    def loaded(code):
        tree = ast.parse(code)
        bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound

    assert loaded(free.code) - {"obs", "pd"}  # the case this test is about
    assert loaded(guarded.code) <= {"obs", "pd"}, guarded.code
    assert " = obs" in guarded.code and " =obs" not in guarded.code  # the space the rewind cut came back
    assert all(b.startswith(a) for a, b in zip(shown, shown[1:]))  # the stream only grew: a rewind was never shown
    made_up = loaded(free.code) - {"obs", "pd"}
    assert not any(f"{name}[" in text or f"{name}." in text for text in shown for name in made_up)


def test_each_of_several_guarded_candidates_is_rewound_on_its_own():
    """Candidates of one batch share a cache and could not be rewound; guarded, they are generated one by one, so
    every sampled candidate reads only real columns, where the free samples make some up."""
    from jupyter_codegen import assistant
    from jupyter_codegen.context import Cell
    from jupyter_codegen.model_store import EngineSettings, load_engine

    engine = load_engine("default", EngineSettings(progress=False))
    frame = HIVES.assign(inspected=pd.Timestamp("2024-04-06"), frames_brood=5, queen_seen=True)
    before = [Cell("code", 'import pandas as pd\nhives = pd.read_csv("hives.csv", parse_dates=["inspected"])')]
    variables = summarize_namespace({"hives": frame})
    options = GenerationOptions(max_new_tokens=48, n=4, temperature=1.0, seed=5)

    def made_up(answer):
        reads = set()
        for alternative in answer.alternatives:
            try:
                tree = ast.parse(alternative.code)
            except SyntaxError:
                continue
            reads |= {n.slice.value for n in ast.walk(tree) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
                      and isinstance(n.value, ast.Name) and n.value.id == "hives" and isinstance(n.slice, ast.Constant)}
        return reads - set(frame.columns)

    request = "list the distinct apiaries"
    free = assistant.codegen(engine, request, before, options.with_(guard_columns=False), variables=variables)
    guarded = assistant.codegen(engine, request, before, options, variables=variables)
    assert made_up(free)  # the case this test is about
    assert len(guarded.candidates) == 4 and not made_up(guarded)
