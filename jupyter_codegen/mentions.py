"""Which of the frames' columns a request names, in the analyst's own words.

An analyst names columns loosely: "honey" for `honey_kg`, "cupping scores" for `Cupping Score`, "varroa count"
for `varroa_count`. A small model often copies the wrong column from the variables summary even when the request
names the right one, so the column guard gives the named columns a bonus while the model spells a column
(a copy prior, as pointer networks learn one). The model still chooses among the columns; the bonus only tips it
toward those the request names, in proportion to how much of each column's name the request has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
MIN_PREFIX = 4
"""Two words match when equal, or when they share a prefix this long ("contamination" and "contaminated")."""


def words(text: str) -> list[str]:
    """Lower-case words, splitting snake_case, camelCase and spaces (`FinishMin` -> finish, min)."""
    return [w.lower() for w in _WORD.findall(text)]


def _match(a: str, b: str) -> bool:
    if a == b:
        return True
    shared = 0
    for x, y in zip(a, b):
        if x != y:
            break
        shared += 1
    return shared >= MIN_PREFIX


def relevance(request: str, columns: Iterable[str]) -> dict[str, float]:
    """For each column the request names, the share of its name's words (of three letters or more) the request
    has; columns it does not name are left out."""
    said = {w for w in words(request) if len(w) >= 3}
    result: dict[str, float] = {}
    for column in columns:
        own = [w for w in words(column) if len(w) >= 3]
        if not own:
            continue
        share = sum(any(_match(w, s) for s in said) for w in own) / len(own)
        if share > 0:
            result[column] = share
    return result
