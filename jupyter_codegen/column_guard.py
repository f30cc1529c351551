"""Keeps the model from inventing DataFrame columns while it writes code.

Small models pick the right operation but often spell a column the table does not have (`hives["honey"]` for
`honey_kg`), and the answer fails with KeyError. This is monitor-guided decoding (Agrawal et al., 2023, "Guiding
Language Models of Code with Global Context using Monitors") with one monitor: a scanner over the code generated
so far knows when a string literal names a column of a frame listed in the variables summary (the summary the
model reads in its prompt), and the engine then keeps only the tokens that go on spelling one of its columns.

Only reads are guarded. A subscript on a frame at the start of a statement may be an assignment that makes a new
column (`sales["total"] = ...`), so it is left free until what follows it says which it is: `=` makes the column
(and later code may read it), anything else reads it, and then the engine rewinds to the literal and writes it
again, guarded. Text is not shown to the user while it may still be rewound. A literal the scanner is unsure
about is left free. Frames whose summary does not list every column, or lists a cut or non-ASCII name, are not
guarded at all: the guard never forbids a name the frame really has.

A second monitor keeps frame names real. A name that begins a statement or the value of an assignment and is
then used as a frame (`films["time"]`, `films.dropna(...)`) but that the notebook does not have (not in the
variables summary, not bound by the context's cells or earlier in the answer) would raise NameError; the engine
rewinds to it and writes it again as one of the frames the summary lists. Only when that summary is whole (no
"and N more variables"), and never inside a function, class or lambda, whose parameters the scanner does not read.

A guarded literal may not name a column that already has a role it cannot share: the keys of the `groupby` whose
values it selects (`groupby("turbine")["turbine"].mean()` averages the labels), a column already in the same
list, the other axis of a plot or pivot (`x="age", y="age"`). Small models fall into such repeats.

The scanner follows assignments too: a name assigned a frame's rows (`subset = obs[mask]`) reads that frame's
columns, and a frame assigned anything else is no longer guarded. And a whole cell (a `%%codegen` answer, not a
fill) may not end while a bracket or string is open: where ending is the likeliest token, the closer comes instead.
Code that cannot parse is refused where it breaks (a wrong closer, `head(, 3)`, a fill that closes what the code
after the hole closes), and a hole the user marked at an argument that names columns begins with a literal.

Types are checked too, from the dtypes the summary lists: a column read with an attribute its dtype lacks (the mean
of a text column, `.dt` of a number) sends the engine back to the column's literal, which it writes again as
another column; the operation may well be what was asked, the column is what is wrong.

Which column a guarded literal spells is the model's choice, nudged by the request: the columns it names in its
words (column_linking) get a bonus there, a groupby's keys only those it groups by ("per apiary"), and the
values only the others.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

import numpy as np

from .postprocess import CONVENTIONAL_IMPORTS
from .value_linking import continues, value_slot

# -- the frames and columns a variables summary lists ----------------------------------------------------------------

_FRAME_LINE = re.compile(r"^(?P<name>[A-Za-z_]\w*): DataFrame, \d+ rows? x (?P<count>\d+) columns?(?P<rest>.*)$")
_COLUMN = re.compile(r"(?P<label>.+?) \((?P<dtype>[^()]*)\)(?:, |$)")
_SAFE_COLUMN = re.compile(r"^[\x20-\x7e]+$")
_NAME_LINE = re.compile(r"^(?P<name>[A-Za-z_]\w*): ")
_LEFT_OUT = re.compile(r"^\(and \d+ more variables?\)$")


@dataclass(frozen=True)
class KnownColumns:
    """The columns of each DataFrame the model was shown, and the code already on the line before the generated
    text (an infill's left side), which the scanner reads first."""

    frames: tuple[tuple[str, tuple[str, ...]], ...] = ()
    line_prefix: str = ""
    frame_names: tuple[str, ...] = ()
    """Every DataFrame the summary lists (also those whose columns are not guarded): what a made-up frame name is
    written again as."""
    names: tuple[str, ...] | None = None
    """Every name the notebook has (the summary's, the context cells' bindings); None when unknown (a cut
    summary), and then frame names are not guarded."""
    whole: bool = False
    """The text is a whole cell (a `%%codegen` answer, not a fill between code on both sides): it may not end
    inside a bracket or a string, which would only be a SyntaxError."""

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.frames)

    def after(self, left: str, right: str = "") -> "KnownColumns":
        """The same frames, for text generated right after `left` (only its last line matters) and before `right`
        (whose first line may close brackets that `left` opened: then the text may not)."""
        return replace(self, line_prefix=left.rsplit("\n", 1)[-1], closed_after=_closers(right.split("\n", 1)[0]))

    def with_names(self, names: Iterable[str]) -> "KnownColumns":
        """The same frames, with the names that exist besides them (only for a summary that lists everything)."""
        return replace(self, names=tuple(sorted(set(names)))) if self.names is not None else self

    closed_after: int = 0
    """How many brackets the code after the text closes on its first line (see `after`)."""
    count: int | None = None
    """The one number of rows the request asks for ("the last 4 rows", "top five"): what `head`, `tail`,
    `nlargest` and `nsmallest` take (see `request_count`)."""
    linked: tuple[tuple[str, float], ...] = ()
    """(column, bonus) for the columns the request names in its words (column_linking): inside a guarded literal
    the tokens that go on spelling one of them get its bonus, in nats, added to their logits."""
    dtypes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Each guarded frame's column dtypes as the summary gives them, in the order of its columns: a text column is
    never averaged, and only a date column has `.dt`."""
    linked_keys: tuple[str, ...] = ()
    """The linked columns the request groups by ("per apiary"): a groupby's keys get their bonus, the values it
    aggregates do not; the other linked columns the other way round."""
    linked_methods: tuple[tuple[str, float], ...] = ()
    """(method, bonus) for the aggregation the request asks for in its words (operation_linking): where a group's
    aggregation goes, the tokens that begin it get the bonus, in nats."""
    linked_values: tuple[tuple[str, float], ...] = ()
    """(value, bonus) for the values the request may compare with (value_linking): a number as written (`1500`), a
    text in double quotes (`"Denver"`). Where the code writes a comparison's value, the tokens that go on writing
    one of them (a text in either quote) get the bonus, in nats."""
    nonempty: bool = False
    """The text fills a hole the user marked: where the hole stands for a column (`df.sort_values(<FILL>, ...)`,
    `groupby(<FILL>)`, `dropna(subset=<FILL>)`), it begins with a string or a list, so it names columns (left
    empty it is a SyntaxError, and a small model fills such a slot with nothing or with text it read nearby)."""

    def __bool__(self) -> bool:
        return (bool(self.frames) or (bool(self.frame_names) and self.names is not None) or self.nonempty
                or self.count is not None)


def known_columns(variables: str | None) -> KnownColumns:
    """The frames of a variables summary (variables.summarize_namespace) whose every column it lists in full.

    Parsed from the text the model reads, on purpose: that is the same on every path (magics, the server's chat),
    and the model can copy only names it was shown.
    """
    frames: list[tuple[str, tuple[str, ...]]] = []
    dtypes: list[tuple[str, tuple[str, ...]]] = []
    lines = (variables or "").splitlines()
    variable_names = tuple(m["name"] for m in map(_NAME_LINE.match, lines) if m)
    whole = bool(lines) and not any(_LEFT_OUT.match(line) for line in lines)
    frame_names: list[str] = []
    for line in lines:
        match = _FRAME_LINE.match(line)
        if not match:
            continue
        frame_names.append(match["name"])
        rest = match["rest"]
        if not rest.startswith(": "):
            continue
        listed = re.split(r"; (?:index|first row): ", rest[2:], maxsplit=1)[0]
        parsed = _parse_columns(listed)
        if parsed is None or len(parsed) != int(match["count"]):
            continue  # "... (N more)", or a listing we cannot read back exactly
        columns = [label for label, _ in parsed]
        if not all(_SAFE_COLUMN.match(c) and "\\" not in c and '"' not in c and "'" not in c for c in columns):
            continue
        if any(len(c) >= 30 and c.endswith("...") for c in columns):
            continue  # the summary cut the name
        frames.append((match["name"], tuple(columns)))
        dtypes.append((match["name"], tuple(dtype for _, dtype in parsed)))
    return KnownColumns(tuple(frames), frame_names=tuple(frame_names), names=variable_names if whole else None,
                        dtypes=tuple(dtypes))


COUNT_METHODS = frozenset({"head", "tail", "nlargest", "nsmallest"})
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORD = re.compile(r"\d+(?:st|nd|rd|th)\b|[a-z]+|\d+(?:\.\d+)?%?")
_COUNT_BEFORE = frozenset({"top", "first", "last", "bottom"})
_ROWS = frozenset({"rows", "row", "entries", "records", "lines", "items", "results"})
_NOT_SUPERLATIVE = frozenset({
    "interest", "request", "forest", "contest", "suggest", "rest", "test", "west", "guest", "harvest", "nest",
    "quest", "protest", "invest", "digest", "chest", "manifest", "arrest", "honest", "modest", "pest", "vest"})


def _superlative(word: str) -> bool:
    return word in ("most", "least") or (len(word) > 4 and word.endswith("est") and word not in _NOT_SUPERLATIVE)


def request_count(request: str) -> int | None:
    """The number of rows a request asks for: its one number, where it counts rows ("the last 4 rows", "top
    five", "the 3 largest", "fastest three finishers"); None for any other number ("amount > 100", "5 bins",
    "2023", "9.5") or for a request with two."""
    words = _WORD.findall(request.lower())
    numbers = [(i, w) for i, w in enumerate(words) if w[0].isdigit() or w in _NUMBER_WORDS]
    if len(numbers) != 1:
        return None
    i, word = numbers[0]
    if "." in word or word.endswith("%") or not word.isdigit() and word not in _NUMBER_WORDS:
        return None  # 9.5, 10%, the 4th row
    n = _NUMBER_WORDS[word] if word in _NUMBER_WORDS else int(word)
    if not 1 <= n <= 1000 or 1900 <= n <= 2100:
        return None
    before, after = words[max(0, i - 2):i], words[i + 1:i + 3]
    counts = (any(w in _COUNT_BEFORE or _superlative(w) for w in before) or any(w in _ROWS for w in after)
              or (bool(after) and _superlative(after[0]))
              or (bool(after) and after[0].endswith("s") and any(_superlative(w) for w in words)))
    return n if counts else None


def _closers(line: str) -> int:
    """The closing brackets in `line` that close nothing opened in it (strings skipped)."""
    depth = closed = 0
    quote = None
    for c in line:
        if quote is not None:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "#":
            break
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth, closed = (depth - 1, closed) if depth else (0, closed + 1)
    return closed


def _parse_columns(listed: str) -> list[tuple[str, str]] | None:
    """(label, dtype) of each column a summary lists."""
    columns, pos = [], 0
    while pos < len(listed):
        match = _COLUMN.match(listed, pos)
        if not match:
            return None
        columns.append((match["label"], match["dtype"]))
        pos = match.end()
    return columns or None


# -- where a string literal names a column ------------------------------------------------------------------------

GROUPINGS = frozenset({"groupby", "resample", "rolling", "expanding"})
"""Methods whose result is aggregated next (`.sum()`, `.size()`), directly or after a selection."""
KEEP_COLUMNS = frozenset({
    "head", "tail", "copy", "sort_values", "sort_index", "dropna", "drop_duplicates", "fillna", "query", "sample",
    "nlargest", "nsmallest", "groupby", "where", "mask", "set_index", "rolling", "resample", "expanding",
    "loc", "iloc", "round", "abs", "astype", "drop",
})
"""Methods (and attributes) whose result still has (a subset of) the frame's columns, so a subscript or a method
call on it names them too."""

COLUMN_ARGUMENTS: dict[str, tuple[int | None, frozenset[str]]] = {
    # method: (the positional argument that names columns, or None; keywords that name columns)
    "groupby": (0, frozenset({"by"})),
    "sort_values": (0, frozenset({"by"})),
    "set_index": (0, frozenset({"keys"})),
    "drop_duplicates": (0, frozenset({"subset"})),
    "dropna": (None, frozenset({"subset"})),
    "value_counts": (0, frozenset({"subset"})),
    "nlargest": (1, frozenset({"columns"})),
    "nsmallest": (1, frozenset({"columns"})),
    "pivot_table": (0, frozenset({"values", "index", "columns"})),
    "pivot": (None, frozenset({"values", "index", "columns"})),
    "melt": (None, frozenset({"id_vars", "value_vars"})),
    "drop": (None, frozenset({"columns"})),
    "merge": (None, frozenset({"on", "left_on"})),
    "resample": (None, frozenset({"on"})),
    "rolling": (None, frozenset({"on"})),
    "explode": (0, frozenset({"column"})),
    "hist": (0, frozenset({"column", "by"})),
    "boxplot": (0, frozenset({"column", "by"})),
    "plot": (None, frozenset({"x", "y"})),
    **{kind: (None, frozenset({"x", "y", "by", "column"})) for kind in (
        "bar", "barh", "line", "scatter", "area", "box", "pie", "hexbin", "kde", "density")},
}
DATA_KEYWORDS = frozenset({"x", "y", "hue", "size", "style", "col", "row", "units", "weights"})
"""Keywords that name columns of the `data=` frame of a plotting call (seaborn's API)."""
PAIRED_KEYWORDS = frozenset({"x", "y", "index", "columns", "values"})
"""Keywords of one call that each name a different column: a plot's two axes, a pivot's rows, columns and values
(`x="age", y="age"` plots a column against itself; `hue` often repeats `x` on purpose, so it is not one)."""

FRAME_METHODS = frozenset({
    "groupby", "sort_values", "sort_index", "dropna", "fillna", "head", "tail", "describe", "value_counts",
    "nunique", "nlargest", "nsmallest", "set_index", "reset_index", "drop_duplicates", "loc", "iloc", "query",
    "assign", "resample", "rolling", "columns", "dtypes", "rename", "astype", "iterrows", "itertuples", "explode",
    "select_dtypes", "duplicated", "corrwith", "plot", "merge", "pivot_table", "agg", "isna", "notna", "shape",
    "mean", "median", "sum", "corr", "copy",
})
"""Attributes that make a name a DataFrame (`films.dropna`). A module's name is never taken for a made-up frame:
the notebook's imports are among its names, and pd, np, plt, sns are always known (`pd.merge`, `np.mean`)."""
NUMERIC_METHODS = frozenset({
    "mean", "median", "std", "var", "sem", "skew", "quantile", "corr", "round", "cumsum", "pct_change", "abs"})
"""Methods that need numbers: on a text column they raise TypeError (`groupby("turbine")["turbine"].mean()`)."""
DATE_SLOTS = frozenset({("resample", "on"), ("rolling", "on")})
"""(method, keyword) whose column must hold dates."""
_TEXT_DTYPES = frozenset({"str", "object", "string", "category"})
_DATE_DTYPES = ("datetime64", "timedelta64", "period")


def dtype_kind(dtype: str) -> str:
    """"text", "date" or "other", for a dtype as the variables summary writes it (`str`, `datetime64[us]`)."""
    if dtype in _TEXT_DTYPES or dtype.startswith("string"):
        return "text"
    return "date" if dtype.startswith(_DATE_DTYPES) else "other"


def type_fits(dtype: str, attribute: str) -> bool:
    """Whether a column of this dtype has what `column.attribute` reads: no average of text, `.dt` only on dates."""
    kind = dtype_kind(dtype)
    return not ((attribute in NUMERIC_METHODS and kind == "text") or (attribute == "dt" and kind != "date"))


def compares_with_numbers(dtype: str) -> bool:
    """Whether `column < 3` works on a column of this dtype: text and dates raise TypeError."""
    return dtype_kind(dtype) == "other"


_NOT_FRAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(CONVENTIONAL_IMPORTS)
_SCOPES = frozenset({"def", "class", "lambda"})

_IDENT = re.compile(r"\w")
_STRING_PREFIXES = frozenset({"r", "b", "u", "f", "rb", "br", "fr", "rf"})


@dataclass(frozen=True)
class _Chain:
    """An expression that is (still) one of the known frames: `sales`, `sales[mask]`, `sales.groupby("a")`."""

    frame: str
    statement_root: bool
    """The frame's name began the statement: its subscript may be an assignment target."""
    plain: bool = True
    """Nothing but `.loc`/`.iloc` since the name: `sales["new"] = ...` and `sales.loc[m, "new"] = ...` make columns."""
    attribute: str | None = None
    """The attribute just read (`sales.plot`, `sales.loc`), until a call or subscript says what it is."""
    keys: frozenset[str] = frozenset()
    """The columns a `groupby` on the chain groups by: the selection after it names the values, never a key."""
    grouped: bool = False
    """The chain ends in a grouping (`groupby(...)`, `resample(...)`, `rolling(...)`, or a selection from one): an
    aggregation comes next."""


@dataclass
class _Bracket:
    char: str
    role: str  # "subscript", "call", "display" (list, dict, set, tuple, parentheses)
    receiver: _Chain | None = None
    method: str | None = None  # a call's method; a subscript's "loc"/"iloc"
    position: int = 0
    keyword: str | None = None
    element_start: bool = True
    literal_element: bool = False
    """A subscript whose element so far is one whole string literal (a column): its result is a Series."""
    inherit: str | None = None
    """A list display standing where a column goes (`sales[["a", "b"]]`): its elements are columns of this frame."""
    data: str | None = None
    """A call's `data=` frame (seaborn)."""
    keeps_columns: bool = True
    """A `.loc`/`.iloc` subscript still selects a frame: its column part, if any, is a slice or a list
    (`df.iloc[:, 0]` is a Series, whose labels are the rows')."""
    named: tuple[str, ...] = ()
    """The columns named so far in a list display, in a `groupby` call (its keys) and in a call's PAIRED_KEYWORDS."""
    counts: bool = False
    """A `head`/`tail`/`nlargest`/`nsmallest` call whose first argument is the request's number of rows."""
    made_up: tuple[tuple[int, str], ...] = ()
    """(offset, name) of names the notebook lacks used as frames in this bracket (`round(mple["x"]...`): unless
    a comprehension in it binds them, its end rewinds to the first."""


@dataclass
class _String:
    quote: str
    frame: str | None
    """The frame whose column this literal must spell; None when it is free."""
    new_column_of: str | None = None
    """A statement-start subscript of this frame: a new column if an assignment follows, else a read."""
    start: int = 0
    """Where the opening quote is in the scanned text."""
    content: str = ""
    allowed: frozenset[str] = frozenset()
    """With `frame`: the columns the literal may spell (the frame's, less those named in a role it cannot repeat)."""
    triple: bool = False
    escape: bool = False
    run: int = 0  # closing quotes seen in a row, for triple-quoted strings


@dataclass
class ColumnScanner:
    """Reads code a character at a time and knows whether the string literal being written names a column.

    Not a parser: it follows brackets, strings and the one expression chain that matters, and gives up
    (treats a literal as free) wherever it is unsure.
    """

    columns: dict[str, frozenset[str]]
    stack: list[_Bracket] = field(default_factory=list)
    chain: _Chain | None = None
    string: _String | None = None
    ident: str = ""
    ident_after_dot: bool = False
    ident_at_element: bool = False
    after_dot: bool = False
    statement_start: bool = True
    comment: bool = False
    last: str = ""
    """The last character that was not white space (outside strings and comments)."""
    pending_eq: bool = False
    last_ident: str = ""
    last_ident_was_keyword: bool = False
    """The name just read began an argument of a call: with `=` after it, it is a keyword."""
    closed_empty: str | None = None
    violated: bool = False
    """A guarded literal was closed with, or went on to, a name that is not a column."""
    rewind_at: int | None = None
    """With `violated`: a statement-start literal (at this offset) named no column and was then read."""
    guard_at: frozenset[int] = frozenset()
    """Offsets of statement-start literals to guard all the same (they were read: see rewind_at)."""
    name_at: tuple[tuple[int, str], ...] = ()
    """(offset, white space) where a rewind cut off a made-up frame name: the text written again repeats the white
    space the cut took (`x = sales`, not `x =sales`) and then a name (not `x = (` with the made-up name on the next
    line)."""
    unresolved: list[tuple[int, str, str]] = field(default_factory=list)
    """(offset, frame, name) of each statement-start literal that named no column (`df["x"]`, `df[["x", "y"]]`),
    until what follows the subscript says why."""
    awaiting: bool = False
    """That literal's subscript closed: the next character tells an assignment from a read."""
    made: list[tuple[str, str]] = field(default_factory=list)
    """(frame, column) this statement assigns: columns from the next statement on."""
    pos: int = 0
    fed: str = ""
    floor: int = 0
    """Brackets the code before the generated text left open on its line (an infill's left side): the right side
    closes them, so the text may not."""
    count: int | None = None
    """The request's number of rows (KnownColumns.count)."""
    last_attribute: str | None = None
    """The name just read after a dot, whatever it was read on (`s.nlargest`)."""
    ident_count: bool = False
    """The name being read is the first argument of a counting call (see `count_slot`): the request's number."""
    frame_names: frozenset[str] = frozenset()
    names: frozenset[str] | None = None
    """The names the notebook has; None: frame names are not guarded."""
    bound: set[str] = field(default_factory=set)
    """Names the code read so far binds (assignments, for targets, imports, `as`)."""
    ident_start: int = 0
    ident_value: bool = False
    """The name being read begins a statement or an assignment's value at the top level, or a call's argument or
    a subscript's element."""
    ident_guarded: bool = False
    """The name being read was written again after a rewind: it must spell one of `frame_names`."""
    value_start: bool = False
    name_check: tuple[int, str, str] | None = None
    """(offset, name, stage) of an unknown name at a value start, until what follows says whether it is used as
    a frame; stage "after" (just read), "eq" (an `=` followed), "square" (`[` followed), "dot" (`.` followed),
    "mask" (a name began inside the `[`: the same name again, or a frame the notebook has, is a row filter,
    `films[films["x"] > 1]`, `films[obs["x"] > 1]`)."""
    name_depth: int = 0
    """How many brackets were open where `name_check`'s name began."""
    binding: str | None = None
    """While names are bound by what is read: "for" (until `in`), "import" (until the line ends), "as" (one),
    "targets" (after a top-level comma, until `=` or the statement's end)."""
    scoped: bool = False
    """A def, class or lambda was read: its parameters are names the scanner does not track."""
    rewind_name: bool = False
    """With `rewind_at`: what is written again is a name (a made-up frame), not a literal."""
    lead: str | None = None
    """The statement so far is this one name (it may be an assignment's target)."""
    target: str | None = None
    """The name this statement assigns (`subset = ...`): at its end it is a frame with known columns or no
    guarded frame at all."""
    value_first: str | None = None
    """The name the assigned value begins with."""
    dtypes: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each guarded frame's column -> dtype (KnownColumns.dtypes)."""
    exclude_at: tuple[tuple[int, str], ...] = ()
    """(offset, column): a literal opened at that offset may not name the column (a rewind took it back for its
    type)."""
    last_column: tuple[int, str, str] | None = None
    """(offset, frame, column) of the last literal closed, if it named a column of a known frame."""
    selected: tuple[int, str, str] | None = None
    """That literal, when it was the whole of a subscript just closed (`df["x"]`, `g["x"]`, `df.loc[:, "x"]`):
    until the next characters say which attribute of the column is read, if any."""
    selected_dot: bool = False
    selected_grouped: bool = False
    """`selected` was selected from a grouping (`g["x"]`): what follows aggregates it per group."""
    compared: tuple[int, str, str] | None = None
    """`selected`, then `<` or `>`: a number next compares the column with it, which only a numeric column can be."""
    rewind_exclude: str | None = None
    """With `rewind_at`: the column the literal there named, which its type did not fit (`.mean()` of text)."""

    @classmethod
    def over(cls, known: KnownColumns, guard_at: frozenset[int] = frozenset(),
             name_at: tuple[tuple[int, str], ...] = (),
             exclude_at: tuple[tuple[int, str], ...] = ()) -> "ColumnScanner":
        columns = {name: frozenset(cols) for name, cols in known.frames}
        listed = dict(known.frames)
        dtypes = {name: dict(zip(listed[name], kinds)) for name, kinds in known.dtypes if name in listed}
        scanner = cls(columns, guard_at=guard_at, name_at=name_at, dtypes=dtypes, exclude_at=exclude_at,
                      frame_names=frozenset(known.frame_names) | frozenset(columns),
                      names=frozenset(known.names) if known.names is not None else None)
        # Offsets count from the generated text: the prefix's are negative (a rewind there starts from nothing).
        scanner.pos = -len(known.line_prefix)
        scanner.feed(known.line_prefix)
        scanner.fed = ""
        scanner.floor = min(len(scanner.stack), known.closed_after)
        scanner.count = known.count
        return scanner

    def copy(self) -> "ColumnScanner":
        clone = replace(self, stack=[replace(b) for b in self.stack], columns=dict(self.columns),
                        unresolved=list(self.unresolved), made=list(self.made), bound=set(self.bound), fed="")
        if self.string is not None:
            clone.string = replace(self.string)
        return clone

    def fork(self) -> "ColumnScanner":
        """A copy that has read the same text (`copy` starts `fed` empty, for probing what a token would do)."""
        clone = self.copy()
        clone.fed = self.fed
        return clone

    # -- state the guard asks about -------------------------------------------------------------------------------

    @property
    def guarded(self) -> str | None:
        """The frame whose column the open string literal must spell, if it is guarded."""
        return self.string.frame if self.string is not None else None

    @property
    def name_guarded(self) -> bool:
        """A name written again after a rewind is being read, or is about to be: it must spell a frame."""
        if self.string is not None or self.comment:
            return False
        # After a rewind the text may stop short of the name (at the space before it): the next token writes it.
        return (bool(self.ident) and self.ident_guarded) or (not self.ident and any(p >= self.pos for p in self.guard_at))

    @property
    def count_slot(self) -> bool:
        """At the first argument of `head(`, `tail(`, `nlargest(`, `nsmallest(`, where the request's number of rows
        goes (only when the request gives one)."""
        top = self.stack[-1] if self.stack else None
        return (top is not None and top.counts and top.position == 0 and top.keyword is None and top.element_start
                and self.string is None and not self.comment)

    @property
    def column_slot(self) -> bool:
        """The text is at a call argument that names columns (`df.groupby(`, `sort_values(by=`), between tokens."""
        return (self.string is None and not self.ident and not self.comment and bool(self.stack)
                and self.stack[-1].role == "call" and self._column_frame() is not None)

    @property
    def literal_slot(self) -> str | None:
        """"key" where the open literal names a group (a groupby's keys, a pivot's index or columns), "value" where
        it names what is aggregated (the selection after a groupby, a pivot's values); None elsewhere."""
        if self.string is None or not self.stack:
            return None
        top = self.stack[-1]
        if top.role == "display" and len(self.stack) > 1:
            top = self.stack[-2]  # groupby(["a", "b"]), g[["x", "y"]]
        if top.role == "call" and top.method == "groupby":
            return "key" if top.keyword == "by" or (top.keyword is None and top.position == 0) else None
        if top.role == "call" and top.method in ("pivot_table", "pivot"):
            return {"index": "key", "columns": "key", "values": "value"}.get(top.keyword or "")
        if top.role == "subscript" and top.receiver is not None and top.receiver.keys:
            return "value"
        return None

    @property
    def method_slot(self) -> str | None:
        """Where a group's aggregation goes: "dot" right after a grouping or a selection from one
        (`df.groupby("k")`, `g["x"]`, `g[["x", "y"]]`; the next token may be `.sum`), "name" after its dot. None
        elsewhere, and once a name has begun."""
        if self.string is not None or self.comment or self.ident:
            return None
        chain = self.chain
        if self.selected is not None:
            if self.selected_dot != self.after_dot or not self.selected_grouped:
                return None
        elif not (chain is not None and chain.grouped and chain.attribute is None):
            return None
        if self.after_dot:
            return "name"
        return "dot" if self.last in ")]" else None

    @property
    def unclosed(self) -> bool:
        """A bracket or a string literal is open: code that ended here would not parse."""
        return bool(self.stack) or self.string is not None

    @property
    def closer(self) -> str | None:
        """What closes the innermost open bracket or string (None for a triple-quoted string)."""
        if self.string is not None:
            return None if self.string.triple else self.string.quote
        return {"(": ")", "[": "]", "{": "}"}[self.stack[-1].char] if self.stack else None

    @property
    def uncertain_from(self) -> int | None:
        """Where the text may still be rewound from (a statement-start literal not yet known to be a column, or a
        name not yet known to be a frame the notebook lacks)."""
        points = []
        if self.string is not None and self.string.new_column_of is not None:
            points.append(self.string.start)
        if self.unresolved:
            points.append(self.unresolved[0][0])
        if self.name_check is not None:
            points.append(self.name_check[0])
        elif self.ident and self.ident_value and self._names_guarded():
            points.append(self.ident_start)
        points.extend(start for bracket in self.stack for start, _ in bracket.made_up)
        if self.selected is not None:
            points.append(self.selected[0])
        if self.compared is not None:
            points.append(self.compared[0])
        return min(points) if points else None

    def allows(self, text: str) -> bool:
        """Whether `text` may follow what was fed so far. A read of a statement-start literal is allowed: the
        engine rewinds to the literal instead, since the name is what is wrong, not what follows it."""
        probe = self.copy()
        probe.feed(text)
        return not probe.violated or probe.rewind_at is not None

    def end(self) -> None:
        """The text ends here (end of text): a statement-start literal still unresolved was read, a made-up frame
        in a bracket still open was not bound after all."""
        if self.ident and not self.violated:
            self._end_ident()
        if self.unresolved and not self.violated:
            self._read_new()
        if not self.violated:
            self._unbound(self.stack)

    def _made_up(self, start: int, name: str) -> None:
        """A name the notebook lacks is used as a frame. At the top level it is one (rewind there now); in a call
        or a subscript a comprehension may still bind it (`sum(r["a"] for r in rows)`), so that bracket's end
        decides (`_unbound`)."""
        depth = self.name_depth if self.name_depth <= len(self.stack) else 0
        if depth == 0:
            self._rewind_name(start)
        else:
            bracket = self.stack[depth - 1]
            bracket.made_up = bracket.made_up + ((start, name),)

    def _unbound(self, brackets: Sequence[_Bracket]) -> None:
        """Rewinds to the first made-up frame used in these brackets that nothing bound by their end."""
        starts = [start for bracket in brackets for start, name in bracket.made_up if name not in self.bound]
        if starts:
            self._rewind_name(min(starts))

    def _rewind_name(self, start: int) -> None:
        """The name at `start` is a frame the notebook lacks: write one of its frames there instead."""
        self.violated, self.rewind_at, self.rewind_name = True, start, True

    def _rewind_type(self, start: int, column: str) -> None:
        """The column literal at `start` names a column whose type does not fit its use: write another there."""
        self.violated, self.rewind_at, self.rewind_exclude = True, start, column

    # -- scanning ---------------------------------------------------------------------------------------------

    def feed(self, text: str) -> None:
        for char in text:
            if self.violated:
                break
            self._char(char)
            self.pos += 1
        self.fed += text

    def _read_new(self) -> None:
        assert self.unresolved
        self.violated, self.rewind_at = True, self.unresolved[0][0]

    def _resolve_assignment(self) -> None:
        # The next statements may read them; the right side of this one may not.
        self.made = [(frame, name) for _, frame, name in self.unresolved]
        self.unresolved, self.awaiting = [], False

    def _char(self, c: str) -> None:
        for start, space in self.name_at:
            i = self.pos - start
            if (0 <= i < len(space) and c != space[i]) or (i == len(space) and not _IDENT.match(c)):
                self.violated = True  # a name was cut off here: the same white space, then a name
                return
        if self.string is not None:
            self._in_string(c)
            return
        if self.comment:
            if c == "\n":
                self.comment = False
                self._newline()
            return
        if self.compared is not None and c not in " \t=":
            start, frame, column = self.compared
            self.compared = None
            dtype = self.dtypes.get(frame, {}).get(column)
            if c.isdigit() and dtype is not None and not compares_with_numbers(dtype):
                # `games["game_id"] > 1600` with text ids: a TypeError; the comparison may be what was asked
                self._rewind_type(start, column)
                return
        if self.pending_eq:
            self.pending_eq = False
            if c == "=":
                if self.awaiting:
                    self._read_new()  # sales["x"] == ...: a comparison reads it
                    return
                self._operator()
                self.last = "="
                return
            if self.awaiting:
                self._resolve_assignment()
            self._equals()
        elif self.awaiting and c not in " \t\\=":
            self._read_new()  # sales["x"].sum(), sales["x"] + 1, sales["x"] += 1, or the line ends: a read
            return
        value_start = self.value_start
        if c not in " \t\r\\":
            self.value_start = False
        if self.closed_empty is not None:
            quote, self.closed_empty = self.closed_empty, None
            if c == quote:  # '""' then '"': a triple-quoted string, never a column
                self.string = _String(quote, None, triple=True)
                return
        if self.count_slot and not self.ident and not c.isdigit():
            self.violated = True  # `tail()`, `tail(n)` for "the last 4 rows": the request's number goes here
            return
        if _IDENT.match(c):
            if not self.ident:
                if self.selected is not None and not self.selected_dot:
                    self.selected = None
                self.ident_count = self.count_slot
                if self.name_check is not None and self.name_check[2] != "dot":
                    self._check_name(c)
                self.ident_after_dot = self.after_dot
                self.ident_at_element = self._at_element()
                self.ident_start = self.pos
                self.ident_value = not self.after_dot and (
                    (not self.stack and (self.statement_start or value_start)) or self._at_argument())
                self.ident_guarded = not self.after_dot and self.pos in self.guard_at
            self.ident += c
            self.after_dot = False
            if self.ident_guarded and not any(f.startswith(self.ident) for f in self.frame_names):
                self.violated = True  # a name written again after a rewind spells a frame
            if self.ident_count and not str(self.count).startswith(self.ident):
                self.violated = True
            return
        prefix = self.ident if c in "\"'" and self.ident.lower() in _STRING_PREFIXES else None
        if self.ident:
            if self.ident_count and self.ident != str(self.count):
                self.violated = True  # `head(4` then `0`: the number goes on
                return
            self._end_ident()
            if self.violated:
                return
        if c != "(":
            self.last_attribute = None
        if c in " \t" and self.pos in self.guard_at:
            self.guard_at = self.guard_at | {self.pos + 1}  # the guarded name or literal starts after the space
        if c in " \t\r\\":
            return
        if self.selected is not None:
            if c == "." and not self.selected_dot:
                self.selected_dot = True
            elif c in "<>" and not self.selected_dot:
                self.compared, self.selected = self.selected, None
            else:
                self.selected = None  # `df["x"] > 1`, `df["x"]]`: no attribute of the column is read
        if c != "=":
            self.lead = None  # `a.b =`, `a[0] =`, `a, b =`, `a += 1`: not one name assigned
        if self.name_check is not None:
            self._check_name(c)
            if self.violated:
                return
        if c == "\n":
            self._newline()
            return
        if c == "#":
            self.comment = True
            return
        if c in "\"'":
            frame, new_column_of = (None, None) if prefix is not None else self._literal_role()
            self._string_start(c, frame, new_column_of)
            return
        if c == ".":
            self.after_dot = True
            self.last = c
            if self.chain is not None and self.chain.attribute is not None and self.chain.attribute != "plot":
                self.chain = None  # sales.columns.tolist(): not a frame any more
            return
        self.after_dot = False
        if c == "[":
            self._open_square()
        elif c == "(":
            self._open_paren()
        elif c == "{":
            self._push(_Bracket("{", "display"))
        elif c in ")]}":
            self._close(c)
        elif c == ",":
            self._comma()
        elif c == "=":
            if self.last in "<>!=":
                self._operator()
            else:
                self.pending_eq = True
        elif c == ";" and not self.stack:
            self._statement_end()
        elif c == ":":
            self.chain = None
            if self.stack:
                self.stack[-1].element_start = True
                self.stack[-1].keeps_columns = True
        else:
            self._operator()
        self.last = c

    def _at_argument(self) -> bool:
        """At the start of a call's argument or a subscript's element (`round(x`, `df.loc[x`): a name there that
        is then used as a frame is checked as at a value start. Not in a display, where a comprehension may bind it
        after its use (`[r["a"] for r in rows]`)."""
        top = self.stack[-1] if self.stack else None
        return top is not None and top.role in ("call", "subscript") and top.element_start

    def _at_element(self) -> bool:
        return self.stack[-1].element_start if self.stack else self.statement_start

    def _newline(self) -> None:
        if not self.stack:
            self._statement_end()

    def _statement_end(self) -> None:
        if self.target is not None:
            self._assigned(self.target)
        self.lead = self.target = self.value_first = None
        self.statement_start, self.chain, self.last = True, None, ""
        if self.binding in ("import", "targets"):
            self.binding = None
        for frame, name in self.made:
            self.columns[frame] = self.columns[frame] | {name}
        self.made = []

    def _assigned(self, name: str) -> None:
        """`name = <value>` ended. A value that is still a known frame's rows and columns (`obs[obs["x"] > 1]`,
        `obs.dropna().head()`: the chain of KEEP_COLUMNS) makes `name` a frame with (at most) its columns; any
        other value (`obs.rename(...)`, `obs["x"]`, `pd.read_csv(...)`) leaves `name` unguarded, since the guard must
        never forbid a column the frame really has."""
        chain = self.chain
        source = self.columns.get(chain.frame) if chain is not None else None
        if source is not None and chain.attribute is None and chain.frame == self.value_first:
            self.columns[name] = source
        else:
            self.columns.pop(name, None)

    def _element_goes_on(self) -> None:
        """Something other than a whole literal follows in the innermost bracket's element."""
        if self.stack:
            self.stack[-1].element_start = False
            self.stack[-1].literal_element = False

    def _operator(self) -> None:
        self.chain = None
        self.statement_start = False
        self._element_goes_on()

    def _equals(self) -> None:
        """A single `=`: a keyword argument inside a call, else an assignment; what follows is a new value."""
        top = self.stack[-1] if self.stack else None
        if top is not None and top.role == "call" and self.last_ident_was_keyword:
            top.keyword = self.last_ident
            top.element_start = True
        else:
            self.chain = None
            self.statement_start = False
            if top is not None:
                top.element_start = True
            else:
                self.value_start = True  # `x = films...`: the value's first name may be a made-up frame
                self.target, self.lead = self.lead, None
                if self.binding == "targets":
                    self.binding = None
        self.last_ident_was_keyword = False

    def _names_guarded(self) -> bool:
        return self.names is not None and bool(self.frame_names) and not self.scoped

    def _check_name(self, c: str) -> None:
        """What follows an unknown name at a value start: used as a frame (rewind), bound, or something else."""
        assert self.name_check is not None
        start, name, stage = self.name_check
        self.name_check = None
        if stage == "after":
            if c in "[.=":
                self.name_check = (start, name, {"[": "square", ".": "dot", "=": "eq"}[c])
            elif c in ",:":
                self.bound.add(name)  # `a, b = ...` (the comma binds the rest), `a: int = ...`
        elif stage == "eq":
            if c != "=":
                self.bound.add(name)  # an assignment makes the name; `==` compares it
        elif stage == "square" and c in "\"'":
            self._made_up(start, name)  # films["time"]: no such frame
        elif stage == "square" and _IDENT.match(c):
            self.name_check = (start, name, "mask")  # films[films...: a filter on a frame the notebook lacks?
        elif stage == "square" and c == "(":
            self.name_check = (start, name, "square")  # films[(films...

    def _bind(self, name: str) -> None:
        """Follows the statements that bind names: for targets, imports, `as`; and notes scopes it cannot follow."""
        if self.binding == "for" and name == "in":
            self.binding = None
        elif self.binding is not None:
            self.bound.add(name)
            if self.binding == "as":
                self.binding = None
        if name == "for":
            self.binding = "for"
        elif name in ("import", "from"):
            self.binding = "import"
        elif name == "as":
            self.binding = "as"
        elif name in _SCOPES:
            self.scoped = True

    def _end_ident(self) -> None:
        name, self.ident = self.ident, ""
        after_dot, at_element = self.ident_after_dot, self.ident_at_element
        if after_dot and self.selected is not None and self.selected_dot:
            start, frame, column = self.selected
            self.selected = None
            dtype = self.dtypes.get(frame, {}).get(column)
            if dtype is not None and not type_fits(dtype, name):
                # `roasts["Roast Level"].mean()`: the operation may be what was asked, the column is not
                self._rewind_type(start, column)
                return
        self.last_attribute = name if after_dot else None
        self.ident_count = False
        if not after_dot and not self.stack:
            if self.statement_start:
                self.lead = name
            elif self.ident_value and self.target is not None and self.value_first is None:
                self.value_first = name
        if self.ident_guarded and name not in self.frame_names:
            self.violated = True
            return
        if self.name_check is not None and self.name_check[2] == "mask":
            start, made_up, self.name_check = self.name_check[0], self.name_check[1], None
            if (name == made_up or name in self.frame_names) and not after_dot:
                # the same name (`films[films["x"] > 1]`) or a real frame (`films[obs["x"] > 1]`): a row filter
                self._made_up(start, made_up)
                return
        if after_dot and self.name_check is not None and self.name_check[2] == "dot":
            (start, made_up, _), self.name_check = self.name_check, None
            if name in FRAME_METHODS or any(name in columns for columns in self.columns.values()):
                # films.dropna(), data.temperament: a frame (one of whose columns is read) the notebook lacks
                self._made_up(start, made_up)
                if self.violated:
                    return
        if not after_dot:
            self._bind(name)
            if (self.ident_value and self._names_guarded() and not name[0].isdigit() and not name.startswith("_")
                    and self.binding is None and name not in self.names and name not in self.bound
                    and name not in self.frame_names and name not in _NOT_FRAMES):
                self.name_check = (self.ident_start, name, "after")
                self.name_depth = len(self.stack)
        top = self.stack[-1] if self.stack else None
        self.last_ident = name
        self.last_ident_was_keyword = at_element and not after_dot and top is not None and top.role == "call"
        self.last = name[-1]
        if after_dot:
            chain = self.chain
            if chain is None or chain.attribute not in (None, "plot"):
                self.chain = None
            elif chain.attribute == "plot":
                self.chain = replace(chain, attribute=name, plain=False)
            else:
                self.chain = replace(chain, attribute=name, plain=chain.plain and name in ("loc", "iloc"))
        elif name in self.columns:
            self.chain = _Chain(name, statement_root=self.statement_start and not self.stack)
            if top is not None and top.role == "call" and top.keyword == "data":
                top.data = name
        else:
            self.chain = None
        self._element_goes_on()
        self.statement_start = False

    def _literal_role(self) -> tuple[str | None, str | None]:
        """(the frame whose column a literal opened here must spell, the frame it may add a column to)."""
        frame = self._column_frame(new_columns=True)
        if frame is None or not frame.startswith("+"):
            return frame, None
        return (frame[1:], None) if self.pos in self.guard_at else (None, frame[1:])

    def _column_frame(self, new_columns: bool = False) -> str | None:
        """The frame whose column a string literal opened here names, or None; with `new_columns`, "+frame" where
        the literal may be an assignment target that adds a column."""
        if not self.stack or not self.stack[-1].element_start:
            return None
        top = self.stack[-1]
        receiver = top.receiver
        if top.role == "subscript" and receiver is not None:
            column = (top.method is None and top.position == 0) or (top.method == "loc" and top.position == 1)
            if not column:
                return None
            if receiver.statement_root and receiver.plain:
                return f"+{receiver.frame}" if new_columns else None
            return receiver.frame
        if top.role == "call":
            if receiver is not None and top.method in COLUMN_ARGUMENTS:
                position, keywords = COLUMN_ARGUMENTS[top.method]
                if top.keyword is not None:
                    return receiver.frame if top.keyword in keywords else None
                return receiver.frame if top.position == position else None
            if receiver is None and top.data is not None and top.keyword in DATA_KEYWORDS:
                return top.data
            return None
        if top.role == "display" and top.char == "[" and top.inherit is not None:
            return top.inherit if new_columns or not top.inherit.startswith("+") else None
        return None

    def _string_start(self, quote: str, frame: str | None, new_column_of: str | None = None) -> None:
        allowed = self.columns[frame] - self._excluded() if frame is not None else frozenset()
        allowed -= {column for at, column in self.exclude_at if at == self.pos}
        top = self.stack[-1] if self.stack else None
        if frame is not None and top is not None and (top.method, top.keyword) in DATE_SLOTS:
            kinds = self.dtypes.get(frame, {})
            dated = {c for c in allowed if dtype_kind(kinds.get(c, "")) == "date"}
            allowed = dated or allowed  # `resample(on=...)` takes a date column (none listed: left as it was)
        self.string = _String(quote, frame, new_column_of, start=self.pos, allowed=allowed)
        self.statement_start = False

    def _excluded(self) -> frozenset[str]:
        """Columns a guarded literal opened here may not name because they already have a role it cannot share:
        the keys of the `groupby` whose values it selects (`groupby("turbine")["turbine"].mean()` averages the
        labels), a column already in the same list, the other axis of a plot or pivot. Small models fall into such
        repeats; the code they give runs into TypeError or answers nothing."""
        top = self.stack[-1]
        below = self.stack[-2] if len(self.stack) > 1 else None
        if top.role == "subscript" and top.receiver is not None:
            return top.receiver.keys
        if top.role == "display":
            keys = below.receiver.keys if below is not None and below.role == "subscript" and below.receiver else None
            return frozenset(top.named) | (keys or frozenset())
        if top.role == "call" and top.keyword in PAIRED_KEYWORDS:
            return frozenset(top.named)
        return frozenset()

    def _name_column(self, column: str) -> None:
        """A guarded literal named `column`: the roles it now has (see `_excluded`)."""
        top: _Bracket | None = self.stack[-1]
        if top is not None and top.role == "display":
            top.named += (column,)
            top = self.stack[-2] if len(self.stack) > 1 else None  # groupby(["a", "b"]), pivot(index=["a", "b"])
        if top is not None and top.role == "call" and (top.method == "groupby" or top.keyword in PAIRED_KEYWORDS):
            top.named += (column,)

    def _in_string(self, c: str) -> None:
        s = self.string
        assert s is not None
        if s.triple:
            if s.escape:
                s.escape = False
            elif c == "\\":
                s.escape = True
            elif c == s.quote:
                s.run += 1
                if s.run == 3:
                    self.string = None
                    self._after_literal()
                return
            s.run = 0
            return
        if c == "\n":
            if s.frame is not None:
                self.violated = True  # a column's name never ends the line
                return
            self.string = None  # an unclosed literal: the line is broken anyway
            self._newline()
            return
        if s.escape:
            s.escape = False
            s.content += c
            return
        if c == "\\":
            if s.frame is not None:
                self.violated = True
            s.escape = True
            return
        if c == s.quote:
            self.string = None
            if s.frame is not None and s.content not in s.allowed:
                self.violated = True
                return
            if s.frame is not None and self.stack:
                self._name_column(s.content)
            elif s.new_column_of is not None and self.stack and self.stack[-1].role == "display":
                if s.content in self.stack[-1].named:
                    self.violated = True  # `df[["a", "a"]] ...`: made or read, a list names a column once
                    return
                self.stack[-1].named += (s.content,)
            if s.new_column_of is not None and s.content not in self.columns[s.new_column_of]:
                self.unresolved.append((s.start, s.new_column_of, s.content))
            if not s.content:
                self.closed_empty = s.quote
            owner = s.frame or s.new_column_of
            named = owner is not None and s.content in self.columns.get(owner, ())
            self.last_column = (s.start, owner, s.content) if named else None
            self._after_literal()
            return
        s.content += c
        if s.frame is not None and not any(col.startswith(s.content) for col in s.allowed):
            self.violated = True

    def _after_literal(self) -> None:
        self.chain = None
        self.last = '"'
        if self.stack:
            top = self.stack[-1]
            top.literal_element = top.element_start and top.role == "subscript"
            top.element_start = False

    def _push(self, bracket: _Bracket) -> None:
        self._element_goes_on()
        self.stack.append(bracket)
        self.chain = None
        self.statement_start = False

    def _open_square(self) -> None:
        if self.stack and self.stack[-1].role == "subscript" and self.stack[-1].position >= 1:
            self.stack[-1].keeps_columns = True  # df.loc[mask, ["a", "b"]]: a list of columns, still a frame
        chain = self.chain
        follows_value = self.last and (_IDENT.match(self.last) or self.last in ")]\"'")
        if follows_value and chain is not None:
            method = chain.attribute if chain.attribute in ("loc", "iloc") else None
            if chain.attribute is not None and method is None:
                self._push(_Bracket("[", "subscript"))  # sales.columns[0], sales.dtypes["a"]
            else:
                self._push(_Bracket("[", "subscript", receiver=replace(chain, attribute=None), method=method))
        elif follows_value:
            self._push(_Bracket("[", "subscript"))
        else:
            # "+frame" where the list may name new columns (`df[["a", "b"]] = ...` at a statement start).
            inherit = self._column_frame(new_columns=True)
            self._push(_Bracket("[", "display", inherit=inherit))

    def _open_paren(self) -> None:
        chain = self.chain
        follows_value = self.last and (_IDENT.match(self.last) or self.last in ")]")
        if not follows_value:
            self._push(_Bracket("(", "display"))
            return
        if chain is not None and chain.attribute is not None:
            self._push(_Bracket("(", "call", receiver=replace(chain, attribute=None), method=chain.attribute))
        else:
            self._push(_Bracket("(", "call"))
        self.stack[-1].counts = self.count is not None and self.last_attribute in COUNT_METHODS
        self.last_attribute = None

    def _close(self, c: str) -> None:
        if not self.stack:
            self._operator()
            return
        if self.count_slot and not self.ident:
            self.violated = True  # `tail()` gives five rows, not the four asked for
            return
        if {"(": ")", "[": "]", "{": "}"}[self.stack[-1].char] != c or len(self.stack) <= self.floor:
            # `round(x["a"]]` does not parse, nor a fill that closes a bracket its right side closes
            self.violated = True
            return
        bracket = self.stack.pop()
        self._unbound([bracket])
        if self.violated:
            return
        receiver = bracket.receiver
        if bracket.role == "subscript" and bracket.literal_element and self.last_column is not None:
            self.selected, self.selected_dot = self.last_column, False
            self.selected_grouped = receiver is not None and receiver.grouped
        if self.unresolved and not self.stack:
            self.awaiting = True  # sales["x"] closed: `=` next makes the column, anything else reads it
        self.chain = None
        if bracket.role == "call" and receiver is not None and bracket.method in KEEP_COLUMNS:
            keys = frozenset(bracket.named) if bracket.method == "groupby" else frozenset()
            self.chain = replace(receiver, plain=False, statement_root=False, keys=keys,
                                 grouped=bracket.method in GROUPINGS)
        elif (bracket.role == "subscript" and receiver is not None and not bracket.literal_element
              and bracket.keeps_columns):
            self.chain = replace(receiver, plain=False, statement_root=False, keys=frozenset())
        self._element_goes_on()
        self.statement_start = False

    def _comma(self) -> None:
        if self.stack and self.last in ("(", "[", "{", ",", "="):
            self.violated = True  # `head(, n)`, `f(a,, b)`: an argument is missing
            return
        self.chain = None
        self.statement_start = False
        if not self.stack and self.binding is None:
            # `a, b = ...`: the names after a top-level comma may be targets (in a tuple display, binding them is
            # only less guarding), and so may the one before it.
            self.binding = "targets"
            if self.last_ident and _IDENT.match(self.last):
                self.bound.add(self.last_ident)
        if self.stack:
            top = self.stack[-1]
            top.position += 1
            top.keyword = None
            top.element_start = True
            top.literal_element = False
            if top.role == "subscript" and top.method in ("loc", "iloc"):
                top.keeps_columns = False  # until the column part shows a slice or a list


# -- the guard the engine applies to each candidate's next token -------------------------------------------------


class GuardVocabulary:
    """What the guard needs to know of a vocabulary, read once per engine rather than once per answer:
    `token_texts[i]` is the text token i adds; the tokens with a quote (the only ones that can open a literal);
    the tokens that are exactly a closing bracket or quote; and, per stop list, the tokens that would end a cell.
    Outside a literal only tokens with a quote, a closing bracket or a comma can break a rule (`checked`)."""

    def __init__(self, token_texts: Sequence[str]):
        self.token_texts = token_texts
        self.quote_tokens = np.array([i for i, t in enumerate(token_texts) if '"' in t or "'" in t], dtype=np.int64)
        self.checked = np.array([any(c in t for c in "\"')]},") for t in token_texts], dtype=bool)
        self.checked_tokens = np.flatnonzero(self.checked)
        self.closers = {text: i for i, text in enumerate(token_texts) if text in (")", "]", "}", '"', "'")}
        self.literal_openers = np.array([i for i, t in enumerate(token_texts) if t.lstrip(" ")[:1] in ('"', "'", "[")],
                                        dtype=np.int64)
        """Tokens that begin (after spaces) a string or a list: what a hole standing for columns begins with."""
        self._endings: dict[tuple[str, ...], dict[tuple[str, int], frozenset[int]]] = {}
        self._methods: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._continuing: dict[tuple[str, str], np.ndarray] = {}
        by_first: dict[str, list[int]] = {}
        for i, text in enumerate(token_texts):
            if text:
                by_first.setdefault(text[0], []).append(i)
        self.by_first_char = {c: np.array(ids, dtype=np.int64) for c, ids in by_first.items()}
        """Token ids by the first character of their text: the few that can go on spelling a given name."""

    def spelling(self, rest: str, quote: str) -> np.ndarray:
        """The tokens whose text goes on spelling `rest` and then the closing `quote`: a beginning of `rest`, or
        all of it followed by the quote (and whatever comes after the literal in the same token)."""
        if not rest:
            return self.by_first_char.get(quote, np.zeros(0, dtype=np.int64))
        candidates = self.by_first_char.get(rest[0], np.zeros(0, dtype=np.int64))
        whole = rest + quote
        return np.array([i for i in candidates.tolist()
                         if rest.startswith(self.token_texts[i]) or self.token_texts[i].startswith(whole)],
                        dtype=np.int64)

    def method_tokens(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """The tokens that begin `method` after its dot (`sum`, `sum()`, `med` of `median`), and those that begin
        it with the dot (`.sum`, `.sum(`): a vocabulary may have either. Shorter beginnings (`s`, `su`) begin too
        many other names (`g.spend`)."""
        if method not in self._methods:
            def begins(text: str) -> bool:
                if text.startswith(method):
                    return not _IDENT.match(text[len(method):len(method) + 1])
                return len(text) >= min(3, len(method)) and method.startswith(text)
            named = [i for i in self.by_first_char.get(method[0], np.zeros(0, dtype=np.int64)).tolist()
                     if begins(self.token_texts[i])]
            dotted = [i for i in self.by_first_char.get(".", np.zeros(0, dtype=np.int64)).tolist()
                      if begins(self.token_texts[i][1:])]
            self._methods[method] = (np.array(named, dtype=np.int64), np.array(dotted, dtype=np.int64))
        return self._methods[method]

    def continuing(self, written: str, target: str) -> np.ndarray:
        """The tokens that, after `written`, go on writing `target` (value_linking.continues); with nothing written
        yet, also those that begin with spaces. Remembered: a request's values are asked for at every step of a
        comparison, and again for the next request."""
        key = (written, target)
        if key not in self._continuing:
            if len(self._continuing) >= 4096:
                self._continuing.clear()
            self._continuing[key] = self._find_continuing(written, target)
        return self._continuing[key]

    def _find_continuing(self, written: str, target: str) -> np.ndarray:
        empty = np.zeros(0, dtype=np.int64)
        if not target.startswith(written):
            return empty
        if written == target:  # a whole number: what ends it (`)`, `]`, ` &`, `,`) goes on to it
            ends = tuple(")],&|\n")
            candidates = np.concatenate([self.by_first_char.get(c, empty) for c in (*ends, " ")])
            return np.array([i for i in candidates.tolist() if self.token_texts[i].lstrip(" ")[:1] in ends],
                            dtype=np.int64)
        candidates = self.by_first_char.get(target[len(written)], empty)
        if not written:
            candidates = np.concatenate([candidates, self.by_first_char.get(" ", empty)])
        return np.array([i for i in candidates.tolist() if continues(written, self.token_texts[i], target)],
                        dtype=np.int64)

    def ending_tokens(self, stops: tuple[str, ...], tail: str) -> set[int]:
        """The tokens that, written after text ending in `tail`, complete one of `stops`: those that hold a whole
        stop string, and those that begin with the rest of one whose start `tail` ends with (`</ce` + `ll>`)."""
        if stops not in self._endings:
            self._endings[stops] = {
                (stop, k): frozenset(i for i, text in enumerate(self.token_texts)
                                     if (stop in text if k == 0 else text.startswith(stop[k:])))
                for stop in stops for k in range(len(stop))
            }
        return {token for (stop, k), tokens in self._endings[stops].items() if k == 0 or tail.endswith(stop[:k])
                for token in tokens}


class ColumnGuard:
    """Masks the next-token logits of each candidate so that a guarded literal only spells a column.

    Tokens without a quote cannot open a literal, so outside one only the few tokens that contain a quote (or a
    closing bracket or a comma, which can break the code's structure) are checked, and only those likely enough to
    be chosen.
    """

    SHORTLIST = 256

    def __init__(self, known: KnownColumns, vocabulary: GuardVocabulary, candidates: int,
                 stops: Sequence[str] = (), end_ids: Iterable[int] = ()):
        self.known = known
        self.vocabulary = vocabulary
        self.token_texts = vocabulary.token_texts
        self.quote_tokens = vocabulary.quote_tokens
        self.scanners = [ColumnScanner.over(known) for _ in range(candidates)]
        self.stops = tuple(s for s in stops if s)
        self.end_ids = frozenset(end_ids)
        self._tail = max((len(s) for s in self.stops), default=1) - 1
        """How much of the text before a token a stop string can still need."""

    def restrict(self, row: int, text: str, logits: np.ndarray, greedy: bool) -> np.ndarray:
        """`logits` (one row) with the tokens that would misspell a column set to -inf, in a whole cell those that
        would end it inside a bracket or a string, and in a marked hole that stands for a column all but those that
        open a string or a list; unchanged when none would."""
        scanner = self._sync(row, text)
        if scanner is None or scanner.violated:
            return logits
        if self.known.whole and scanner.unclosed:
            logits = self._without_endings(text, logits, self.vocabulary.closers.get(scanner.closer or ""))
        elif self.known.nonempty and not text.strip() and scanner.column_slot:
            logits = self._only(self.vocabulary.literal_openers, logits)
        inside = scanner.guarded is not None or scanner.name_guarded or scanner.count_slot
        if scanner.guarded is not None and self.known.linked:
            logits = self._linked(scanner, text, logits)
        elif self.known.linked_methods:
            logits = self._linked_methods(scanner, logits)
        if self.known.linked_values and scanner.guarded is None:
            logits = self._linked_values(text, logits)
        return self._greedy(scanner, logits, inside) if greedy else self._sampled(scanner, logits, inside)

    def _greedy(self, scanner: ColumnScanner, logits: np.ndarray, inside: bool) -> np.ndarray:
        """Only the likeliest allowed token is left. Outside a literal (or a name written again) only a token
        with a quote can misspell, so the likeliest token alone is looked at first."""
        best = int(logits.argmax())
        if (not inside and not self._has_quote(best)) or self._allowed(scanner, best):
            return logits
        for token in np.argsort(-logits, kind="stable"):
            if int(token) != best and self._allowed(scanner, int(token)):
                masked = np.full_like(logits, -np.inf)
                masked[token] = logits[token]
                return masked
        return logits  # nothing spells a column: leave the model free rather than stop it

    def _sampled(self, scanner: ColumnScanner, logits: np.ndarray, inside: bool) -> np.ndarray:
        """The likely tokens that misspell are removed; inside a literal, every token outside the shortlist too."""
        k = min(self.SHORTLIST, len(logits))
        shortlist = np.argpartition(-logits, k - 1)[:k]
        if not inside:
            banned = [int(t) for t in np.intersect1d(shortlist, self.vocabulary.checked_tokens)
                      if not self._allowed(scanner, int(t))]
            if not banned:
                return logits
            masked = logits.copy()
            masked[banned] = -np.inf
            return masked
        keep = [int(t) for t in shortlist if self._allowed(scanner, int(t))]
        if not keep:  # the model's likely tokens all misspell: any token that spells a column, however unlikely
            keep = [t for t in range(len(logits)) if self._allowed(scanner, t)]
        if not keep:
            return logits
        masked = np.full_like(logits, -np.inf)
        masked[keep] = logits[keep]
        return masked

    def _linked(self, scanner: ColumnScanner, text: str, logits: np.ndarray) -> np.ndarray:
        """`logits` with each linked column's bonus added to the tokens that go on spelling it from what the
        literal holds so far (a token on the way to two linked columns gets the larger bonus), in a group's slot only
        to the columns the request groups by and in an aggregate's only to the others. A column the text
        already names has had its say: the request's word is used up (else a linked column crowds into every slot,
        `(df["x"] > 4) & (df["x"] > 4)`)."""
        literal = scanner.string
        assert literal is not None
        written = text[: len(text) - len(literal.content) - 1]
        slot = scanner.literal_slot
        bonus = np.zeros_like(logits)
        for column, weight in self.known.linked:
            if column not in literal.allowed or not column.startswith(literal.content):
                continue
            if slot is not None and (slot == "key") != (column in self.known.linked_keys):
                continue
            if f'"{column}"' in written or f"'{column}'" in written:
                continue
            tokens = self.vocabulary.spelling(column[len(literal.content):], literal.quote)
            tokens = tokens[tokens < len(logits)]
            bonus[tokens] = np.maximum(bonus[tokens], weight)
        return logits + bonus if bonus.any() else logits

    def _linked_methods(self, scanner: ColumnScanner, logits: np.ndarray) -> np.ndarray:
        """`logits` with each linked aggregation's bonus added to the tokens that begin its name, where a group's
        aggregation goes."""
        where = scanner.method_slot
        if where is None:
            return logits
        bonus = np.zeros_like(logits)
        for method, weight in self.known.linked_methods:
            named, dotted = self.vocabulary.method_tokens(method)
            tokens = named if where == "name" else dotted
            tokens = tokens[tokens < len(logits)]
            bonus[tokens] = np.maximum(bonus[tokens], weight)
        return logits + bonus if bonus.any() else logits

    def _linked_values(self, text: str, logits: np.ndarray) -> np.ndarray:
        """`logits` with each linked value's bonus added to the tokens that go on writing it, where the code writes
        a comparison's value; a value the line has written already has had its say."""
        slot = value_slot(text)
        if slot is None:
            return logits
        quote, written = slot
        line = text[: len(text) - len(written)].rsplit("\n", 1)[-1]
        bonus = np.zeros_like(logits)
        for value, weight in self.known.linked_values:
            if re.search(rf"(?<![\w.]){re.escape(value.strip(chr(34)))}(?![\w.])", line):
                continue  # written on this line already: `between(5, 5)` is not what "5 and up" meant
            if value.startswith('"'):
                targets = [q + value[1:-1] + q for q in ([quote] if quote else ['"', "'"])]
            elif quote is None:
                targets = [value]
            else:
                continue
            for target in targets:
                tokens = self.vocabulary.continuing(written, target)
                tokens = tokens[tokens < len(logits)]
                bonus[tokens] = np.maximum(bonus[tokens], weight)
        return logits + bonus if bonus.any() else logits

    @staticmethod
    def _only(tokens: np.ndarray, logits: np.ndarray) -> np.ndarray:
        tokens = tokens[tokens < len(logits)]
        if not len(tokens):
            return logits
        kept = np.full_like(logits, -np.inf)
        kept[tokens] = logits[tokens]
        return kept

    def _without_endings(self, text: str, logits: np.ndarray, closer: int | None) -> np.ndarray:
        """The model may not stop while a bracket or string is open (`round(x.corr(y)` then end of cell): the
        tokens that would end the cell are removed, and where ending was the likeliest choice their probability
        goes to the token that closes the innermost one, so where the model meant to stop it closes what it opened
        first (only kept from ending, it writes on inside the bracket: `round(x.corr(y)\nplt.show()\n...`)."""
        tail = text[max(0, len(text) - self._tail):] if self._tail else ""
        candidates = self.end_ids | self.vocabulary.ending_tokens(self.stops, tail)
        ending = sorted(t for t in candidates if t < len(logits) and logits[t] > -np.inf)
        if not ending or len(ending) == len(logits):
            return logits
        kept = logits.copy()
        if closer is not None and closer < len(logits) and int(logits.argmax()) in ending:
            kept[closer] = np.logaddexp.reduce(logits[[closer, *ending]])
        kept[ending] = -np.inf
        return kept

    def observe(self, row: int, text: str) -> int | None:
        """Reads the candidate's text so far; where to write it again from if a statement-start literal that named
        no column was then read (`rewind` starts the scanner over with that literal guarded)."""
        scanner = self._sync(row, text)
        return scanner.rewind_at if scanner is not None else None

    def uncertain_from(self, row: int) -> int | None:
        return self.scanners[row].uncertain_from

    def branch(self, parents: Sequence[int]) -> None:
        """Row i now continues the text of row `parents[i]` (beam search): each gets its own copy of that row's
        scanner, which has read the text so far."""
        self.scanners = [self.scanners[parent].fork() for parent in parents]

    def rewind(self, row: int, kept: int | None = None) -> None:
        """Starts the scanner over with the rewind point guarded. `kept` is how much text the engine kept (it cuts
        at a token boundary, often before the space ahead of a name): a name comes back after the same white space."""
        scanner = self.scanners[row]
        assert scanner.rewind_at is not None
        point, name_at = scanner.rewind_at, scanner.name_at
        if scanner.rewind_name and kept is not None and kept <= point:
            cut = scanner.fed[kept:point] if kept >= 0 else None
            if cut is not None and (cut == "" or cut.isspace()):
                name_at += ((kept, cut),)  # the name comes back after the same white space
            else:
                point = kept
        exclude_at = scanner.exclude_at
        if scanner.rewind_exclude is not None:
            exclude_at += ((point, scanner.rewind_exclude),)  # written again, the literal names another column
        self.scanners[row] = ColumnScanner.over(self.known, scanner.guard_at | {point}, name_at, exclude_at)

    def end(self, row: int, text: str) -> int | None:
        """The candidate ends with `text`; the rewind point if its last statement read a literal that named no
        column."""
        scanner = self._sync(row, text)
        if scanner is None:
            return None
        scanner.end()
        return scanner.rewind_at

    def _has_quote(self, token: int) -> bool:
        """The token has a quote, a closing bracket or a comma: the only tokens that can break a rule outside a
        literal."""
        return bool(self.vocabulary.checked[token]) if token < len(self.vocabulary.checked) else False

    def _allowed(self, scanner: ColumnScanner, token: int) -> bool:
        # End of text inside a literal would leave it unterminated: special tokens spell no column either.
        return scanner.allows(self.token_texts[token])

    def _sync(self, row: int, text: str) -> ColumnScanner | None:
        scanner = self.scanners[row]
        if not text.startswith(scanner.fed):  # the decoded text changed: read it anew
            scanner = self.scanners[row] = ColumnScanner.over(self.known, scanner.guard_at, scanner.name_at,
                                                              scanner.exclude_at)
        if text.endswith("\ufffd"):
            return None  # half a character: wait for the rest
        scanner.feed(text[len(scanner.fed):])
        return scanner


def token_texts(decode_batch: Callable[[list[list[int]]], list[str]], vocab_size: int, anchor: int) -> list[str]:
    """The text each token adds after another token, which for SentencePiece vocabularies differs from the token
    decoded alone (a leading space is dropped there)."""
    [base] = decode_batch([[anchor]])
    return [text[len(base):] for text in decode_batch([[anchor, i] for i in range(vocab_size)])]
