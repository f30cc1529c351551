"""Which of a table's columns a request names in its own words (schema linking).

A small model often picks the right operation on the wrong column: asked for "honey per apiary" it groups by the
inspection date. Text-to-SQL systems meet the same problem and answer it by linking the question's words to the
schema before decoding (Guo et al., 2019, "IRNet"; Wang et al., 2020, "RAT-SQL"): a column whose name the question
uses is likely the one it means. Here the link is a weight per column, the share of the column name's letters that
the request spells (as a word of its own or a form of it: "apiaries" for `apiary`, "roasting" for `Roasted (g)`);
the column guard adds it, scaled, to the tokens that go on spelling a linked column inside a guarded literal.
Only a bonus: the model still chooses, and a column the request names by meaning ("weight" for `wt_kg`) is as free
as before.
"""

from __future__ import annotations

import re
from typing import Iterable

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SUFFIXES = (("ations", 4), ("ation", 4), ("ings", 4), ("ing", 4), ("ies", 3), ("ers", 4), ("er", 4), ("ed", 4),
             ("es", 4), ("s", 3))
"""Endings, each stripped only where at least that many letters stay ("fees" -> "fee", "has" and "speed" stay)."""
FUNCTION_WORDS = frozenset(
    "an and are as at be by did do does for from how in is it its me my no not of on or per than that the then this "
    "to was what which who with".split())
"""Request words that say nothing about a column (a column called `no` or `is_open` is not named by them)."""
MIN_SHARED = 5
"""Two stems of which one begins the other are one word when the shorter has at least this many letters
("contamin"ation / "contaminat"ed); shorter stems must be equal ("age" is not "agent")."""


def words(text: str) -> list[str]:
    """The words of a name or a sentence, lower case: snake_case, camelCase, spaces and units split apart."""
    return [w.lower() for w in _WORD.findall(text)]


def name_words(name: str) -> list[str]:
    """The words of a column's name that can be linked: one letter and numbers say nothing (`Roasted (g)`)."""
    return [w for w in words(name) if len(w) > 1 and not w.isdigit()]


def stem(word: str) -> str:
    """The word without one common English ending, so that the forms of a word compare equal."""
    for suffix, keep in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    a, b = stem(a), stem(b)
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= MIN_SHARED and long.startswith(short)


GROUPING_CUES = frozenset({"by", "per", "each", "every", "across"})
"""Words that make what follows them the groups of an aggregate ("honey per apiary", "for each roast level")."""
_JOINERS = frozenset({"the", "a", "an", "and", "or", "its", "their", "both"})


def grouping_columns(request: str, columns: Iterable[str]) -> set[str]:
    """The columns the request groups by: named in the phrase after a grouping cue ("by the apiary and the
    temperament", "for each roast level"; one other word may come first, "per individual hive"). What else the
    request names is what is aggregated."""
    asked = words(request)
    parts = {c: name_words(c) for c in dict.fromkeys(columns)}
    keys: set[str] = set()
    for cue, word in enumerate(asked):
        if word not in GROUPING_CUES:
            continue
        found, spare = False, 1
        for later in asked[cue + 1:]:
            named = {c for c, ws in parts.items() if any(same_word(later, w) for w in ws)}
            if named:
                keys |= named
                found = True
            elif later in _JOINERS or later in GROUPING_CUES:
                continue
            elif not found and spare:
                spare -= 1
            else:
                break
    return keys


def linked_columns(request: str, columns: Iterable[str]) -> dict[str, float]:
    """Each column whose name the request uses, with the share (0-1] of the name's letters in words the request
    has. Words of one letter and numbers count for nothing on either side (`Roasted (g)`, "top 5"), nor do the
    request's function words."""
    asked = [w for w in name_words(request) if w not in FUNCTION_WORDS]
    linked: dict[str, float] = {}
    for column in dict.fromkeys(columns):
        parts = name_words(column)
        total = sum(len(w) for w in parts)
        if not total:
            continue
        matched = sum(len(w) for w in parts if any(same_word(w, a) for a in asked))
        if matched:
            linked[column] = matched / total
    return linked
