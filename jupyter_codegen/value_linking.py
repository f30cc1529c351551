"""Which values a request compares with ("amount over 1500", "only Denver", "in March"), and where code writes one.

A small model that picks the right column and the right comparison often writes the wrong value after it: asked
for "nBytes above 1500" it writes `> 150`, asked for "city Denver" it writes `== "Porto"` (a value it saw in the
variables summary). The request's numbers, dates and words that are not the analyst's vocabulary are the values a
filter most likely takes; where the code compares (`>`, `==`, `.isin([`, `.between(`, `.str.contains(`, inside a
`query` string too) the column guard adds a bonus to the tokens that go on writing one of them. Only a bonus: the
model still chooses, and a value the request does not spell ("the foggy crossings" for `weather == "fog"`) stays
as free as before, merely less likely than one it does.
"""

from __future__ import annotations

import re
from typing import Iterable

from .column_linking import FUNCTION_WORDS, name_words, same_word

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")

_NUMBER = re.compile(r"(?<![\w.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
"""A number as a request writes it: `1500`, `1,500` (written in code as 1500), `-3`, `4.5`; not the digits of a
name (`co2`, `T4`)."""
_DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")
_QUOTED = re.compile(r"\"([^\"]{1,60})\"|'([^']{1,60})'")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&/'\-]*|\d+[A-Za-z][A-Za-z0-9]*")
_REQUEST_WORDS = FUNCTION_WORDS | frozenset(
    "a above after again all also any average away bar bars before below between bigger biggest both bottom but "
    "can chart count could data delete did didn discard display do does drop each entries equal equals every "
    "except exclude excluding fewer filter find first for get give greater group had have help higher highest how "
    "i if instead it just keep largest last least leave less let like list lower lowest many max maximum mean "
    "median min minimum more most much need next noon now number ok one ones only or out over percent please pls "
    "plot print records redo remove rid row rows same see show smaller smallest sort sorted sum table than that "
    "them then there these those throw top total under up values want we were when where whose why will with "
    "without you".split())
"""Words of the analyst's own vocabulary: a request says them, a filter seldom compares with them."""
MAX_WORDS = 3
"""A value may be a few words ("Staten Island", "rye loaf")."""

_OPERATOR = re.compile(
    r"^.*(?:[=!<>]=|(?<![<>=!\-])[<>](?![<>=])|\.(?:isin|between|eq|ne|gt|ge|lt|le)\(\s*\[?|"
    r"\.str\.(?:contains|startswith|endswith)\()(?P<args>[^()]*)$")
_IN_PROGRESS = re.compile(r"^\s*(?:(?P<quote>[\"'])(?P<text>[^\"']*)|(?P<number>-?[\d.]*))$")


def request_values(request: str, columns: Iterable[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The numbers and the text values a request may compare with: (numbers, texts). Numbers as written (and a
    month's number for its name); texts are quoted spans, dates, and runs of up to three words that look like a
    table's values (a capital letter past the request's first word, or a digit: "Denver", "Staten Island", "T4")
    and are neither the analyst's vocabulary nor words of a column's name, each as written, capitalized and in
    lower case. A word in lower case ("hake") is left out: in a request it is as often a word of the sentence, and
    a bonus for every word would steer the model's own choice of value towards them."""
    columns = list(columns)
    column_words = {w for c in columns for w in name_words(c)}
    whole_names = {re.sub(r"\W|_", "", c).lower() for c in columns}
    numbers = [m.group().replace(",", "") for m in _NUMBER.finditer(request)]
    texts = [a or b for a, b in _QUOTED.findall(request)] + _DATE.findall(request)
    run: list[str] = []
    for k, m in enumerate([*_WORD.finditer(request), None]):
        word = m.group().strip("'") if m is not None else ""
        low = word.lower()
        month = low in MONTHS and word != "may"  # "may I see ..."
        if month:
            numbers.append(str(MONTHS.index(low) + 1))
        looks_like_value = (k > 0 and word != low) or any(ch.isdigit() for ch in word)
        if (m is None or not looks_like_value or low in _REQUEST_WORDS or len(word) < 2 or month
                or low in whole_names or any(same_word(low, c) for c in column_words)):
            for i in range(len(run)):
                for j in range(i + 1, min(len(run), i + MAX_WORDS) + 1):
                    texts.append(" ".join(run[i:j]))
            run = []
        else:
            run.append(word)
    variants = []
    for text in texts:
        variants += [text, text[:1].upper() + text[1:], text.lower()]
    return tuple(dict.fromkeys(numbers)), tuple(dict.fromkeys(v for v in variants if v))


def value_slot(text: str) -> tuple[str | None, str] | None:
    """Where the code is writing the value of a comparison, after `text`: (the quote of the string being written, or
    None for a number or nothing yet; what of the value is written, after any spaces). None elsewhere."""
    line = text.rsplit("\n", 1)[-1]
    m = _OPERATOR.match(line)
    if m is None:
        return None
    current = re.split(r"[,\[]", m.group("args"))[-1]
    if m.group("args") != current and not re.search(r"\.(?:isin|between)\(\s*\[?[^()]*$", line):
        return None  # `df["x"] > 1, ...`: a comma after a comparison starts something else
    written = _IN_PROGRESS.match(current)
    if written is None:
        return None
    if written.group("quote"):
        return written.group("quote"), written.group("quote") + written.group("text")
    return None, written.group("number") or ""


def continues(written: str, token: str, target: str) -> bool:
    """Whether `token`, after `written` (a value's beginning), goes on writing `target` (a number, or a quoted
    text with its closing quote): a beginning of the rest, or all of it and then something that ends a number."""
    if not written:
        token = token.lstrip(" ")
        if not token:
            return False
    both = written + token
    if len(both) <= len(target):
        return target.startswith(both)
    if not both.startswith(target):
        return False
    return target[-1] in "\"'" or not (both[len(target)].isalnum() or both[len(target)] == ".")
