"""Which aggregation a request names in its words ("total", "how many", "average").

A small model that has the right columns often aggregates them the wrong way: asked for "weekly visitor totals" it
writes `resample("W", on="Visit Date")["Visitors"].mean()`, because means are what it saw most. Where the request
says which aggregation it wants, in a word an analyst uses for it, the column guard adds a bonus to the tokens that
begin that method at the one place where it surely goes: after a grouping (`df.groupby("k")["x"].sum()`,
`df.resample("W", on="d").size()`). After a column of the whole frame the same words as often ask for something
else ("fill the gaps with the mean" is `fillna`, "yearly mean" a `resample` first), so nothing is linked there. A
request that names two aggregations ("total and average") links `agg`, which takes both. Like the column links
(column_linking) this is only a bonus; the model still chooses, and words that are vague about the aggregation
("most", "biggest", "typical") link nothing.
"""

from __future__ import annotations

from typing import Iterable

from .column_linking import name_words, same_word, words

AGGREGATION_WORDS: dict[str, tuple[str, ...]] = {
    "sum": ("total", "totals", "sum", "sums", "summed", "altogether"),
    "mean": ("average", "averages", "averaged", "mean", "means", "avg"),
    "median": ("median", "medians"),
    "max": ("maximum", "max"),
    "min": ("minimum",),
    "std": ("std", "stdev", "deviation"),
    "var": ("variance",),
}
"""Method -> the request words that ask for it. "min" alone is left out (it is often minutes)."""
COUNT_PHRASES = (("how", "many"), ("number", "of"), ("count",), ("counts",))
"""Phrases that ask for a count of rows per group: `size` or `count`."""
DISTINCT_WORDS = frozenset({"distinct", "unique", "different"})
"""With a count phrase: a count of distinct values (`nunique`)."""


def _has_phrase(asked: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(asked[i:i + n]) == phrase for i in range(len(asked) - n + 1))


def linked_operations(request: str, columns: Iterable[str] = ()) -> tuple[str, ...]:
    """The methods that aggregate a group as the request asks in its words: one aggregation's (a count has two,
    `count` and `size`), or `agg` for two or more. A word that is part of a column's name names the column, not an
    operation (a `count` column, `mean_temp`)."""
    column_words = {w for c in columns for w in name_words(c)}
    asked = [w for w in words(request) if not any(same_word(w, c) for c in column_words)]
    found: list[tuple[str, ...]] = [(method,) for method, cues in AGGREGATION_WORDS.items()
                                    if any(w in cues for w in asked)]
    if any(_has_phrase(asked, phrase) for phrase in COUNT_PHRASES):
        found.append(("nunique",) if DISTINCT_WORDS & set(asked) else ("count", "size"))
    if len(found) > 1:
        return ("agg",)
    return found[0] if found else ()
