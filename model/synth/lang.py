"""Putting requests into words: synonyms, politeness and terseness, word order, casing, and the odd typo.

Every request is composed from small pieces picked at random, so the same intent comes out in many phrasings.
Column names, values, numbers and file names are protected: a typo never lands on them (the model must copy
those exactly from the context), though a column may be named in words ("unit price") or exactly (`unit_price`).
"""

from __future__ import annotations

import random
import re

from .names import ALIAS_SHARE

AGG_WORDS = {
    "mean": ["average", "mean", "avg", "average", "mean"],
    "sum": ["total", "sum of", "total", "sum of the"],
    "median": ["median"],
    "min": ["minimum", "lowest", "smallest", "min"],
    "max": ["maximum", "highest", "largest", "max", "biggest"],
    "count": ["number of non-missing", "count of non-null", "non-null count of"],
    "nunique": ["number of distinct", "number of unique", "count of unique", "how many distinct"],
    "std": ["standard deviation of", "std of", "spread (std) of"],
    "size": ["number of rows", "row count", "count of rows", "how many rows"],
}

BY_WORDS = ["by", "per", "for each", "by", "per", "grouped by", "broken down by", "across", "for every", "split by"]

SHOW = ["show", "show me", "give me", "display", "list", "get", "let me see", "print", "show", "find"]
SHOW_LEAD = ["", "", "", "", "please ", "can you ", "could you ", "pls ", "now ", "ok ", "next, ", "let's "]
WANT = ["I want", "I'd like", "I need", "I want to see", "I'd like to see", "we need", "help me get"]

DESC = ["highest first", "sorted descending", "largest first", "in descending order", "from high to low",
        "biggest first", "sorted from largest to smallest", "descending", "top values first"]
ASC = ["lowest first", "sorted ascending", "smallest first", "in ascending order", "from low to high", "ascending"]

ROWS_WORDS = ["rows", "records", "entries", "rows"]

CMP_WORDS = {
    ">": ["greater than", "more than", "above", "over", ">", "bigger than", "larger than", "exceeding"],
    "<": ["less than", "below", "under", "<", "smaller than", "lower than"],
    ">=": ["at least", ">=", "greater than or equal to", "no less than"],
    "<=": ["at most", "<=", "no more than", "up to"],
    "==": ["is", "equals", "is equal to", "==", "=", ""],
    "!=": ["is not", "isn't", "not equal to", "!=", "other than"],
}

_KEYBOARD = {
    "a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo", "j": "hk",
    "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et", "s": "ad", "t": "ry",
    "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}


_NO_LEAD = {"by", "per", "for", "grouped", "broken", "split", "across", "where", "with", "when", "in", "during"}
"""A noun phrase starting with one of these ("by region, average price") takes no "show me the" in front."""



QUESTION_SHARE = 0.5
"""How often a request that can be asked as a question is: analysts ask ("which region sells the most?") about as
often as they command; at 0.3 only 8% of all requests were questions."""


QUESTION_STARTS = ("which ", "what", "how ", "who ", "is ", "are ", "does ", "do ", "can you find", "for each",
                   "for every")


def is_question(request: str) -> bool:
    """Whether a request is put as a question, however it ends ("which orders have price over 100")."""
    text = request.strip().lower()
    return text.endswith("?") or text.startswith(QUESTION_STARTS)

class Words:
    """Request pieces for one conversation: its speaker's habits stay the same from turn to turn."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lower = rng.random() < 0.55  # writes all in lower case
        self.terse = rng.random() < 0.35  # drops "please", articles, punctuation
        self.verbose = not self.terse and rng.random() < 0.3
        self.typo_rate = rng.choice([0.0, 0.0, 0.03, 0.06, 0.12])
        self.exact_names = rng.choice([0.15, 0.35, 0.6, 0.9])  # how often a column is named exactly
        self.backticks = rng.random() < 0.3
        self.end = rng.choice(["", "", "", ".", "?"])
        self.protected: set[str] = set()

    def pick(self, options):
        return self.rng.choice(options)

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    def col(self, column, exact: bool | None = None) -> str:
        """A column as this speaker names it: in words or by its exact name."""
        if exact is None:
            exact = self.maybe(self.exact_names) or not column.phrase
        if not exact and column.aliases and self.maybe(ALIAS_SHARE):
            alias = self.pick(column.aliases)
            self.protected.add(alias)
            return alias
        if exact or column.phrase.replace(" ", "") == column.name.lower().replace("_", "").replace(" ", ""):
            name = column.name
            self.protected.add(name)
            if self.backticks and self.maybe(0.7):
                return f"`{name}`"
            if " " in name and self.maybe(0.6):
                return f'"{name}"'
            return name
        self.protected.add(column.phrase)
        return column.phrase

    def value(self, v) -> str:
        text = str(v)
        self.protected.add(text)
        return text

    def finish(self, text: str, question: bool = False) -> str:
        """Casing, final punctuation, typos; `text` is lower case except protected spans."""
        text = re.sub(r"\s+", " ", text).strip()
        if self.typo_rate and self.maybe(min(1.0, self.typo_rate * 2)):
            text = self._typo(text)
        if not self.lower and text and text[0].isalpha() and not any(text.startswith(p) for p in self.protected):
            text = text[0].upper() + text[1:]
        end = self.end
        if question and end == "." and self.maybe(0.8):
            end = "?"
        if not question and end == "?":
            end = ""
        if self.terse:
            end = ""
        if text and text[-1] in ".?!":
            return text
        return text + end

    def _typo(self, text: str) -> str:
        spans = []
        for p in self.protected:
            for m in re.finditer(re.escape(p), text):
                spans.append((m.start(), m.end()))
        words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)
                 if not any(a <= m.start() < b or a < m.end() <= b for a, b in spans)]
        if not words:
            return text
        w = self.pick(words)
        s = w.group()
        i = self.rng.randrange(1, len(s) - 1)
        kind = self.rng.randrange(4)
        if kind == 0:
            s2 = s[:i] + s[i + 1] + s[i] + s[i + 2:]  # swap
        elif kind == 1:
            s2 = s[:i] + s[i + 1:]  # drop
        elif kind == 2:
            s2 = s[:i] + s[i] + s[i:]  # double
        else:
            c = s[i].lower()
            s2 = s[:i] + self.pick(_KEYBOARD.get(c, c)) + s[i + 1:]
        return text[: w.start()] + s2 + text[w.end():]

    # --- common frames ----------------------------------------------------------------------------------

    def np(self, noun_phrase: str, question: str | None = None) -> str:
        """A request around a noun phrase: "avg price by region", "show me the avg price by region", ..."""
        r = self.rng.random()
        if question:
            if r < QUESTION_SHARE:
                return self.finish(question, question=True)
            r = (r - QUESTION_SHARE) / (1 - QUESTION_SHARE)  # the other frames as often as for any request
        if self.terse or r < 0.45 or noun_phrase.split(" ", 1)[0] in _NO_LEAD:
            return self.finish(noun_phrase)
        if self.verbose and r < 0.8:
            lead = self.pick(WANT)
            return self.finish(f"{lead} {self._the(noun_phrase)}")
        lead = self.pick(SHOW_LEAD)
        verb = self.pick(SHOW)
        return self.finish(f"{lead}{verb} {self._the(noun_phrase)}")

    def imp(self, imperative: str) -> str:
        """A request that is already a command ("drop rows with missing price")."""
        if self.terse:
            return self.finish(imperative)
        lead = self.pick(SHOW_LEAD + ["", "", "", ""])
        if self.verbose and self.maybe(0.5):
            lead = self.pick(["I want to ", "I'd like to ", "I need to ", "we should ", "let's "])
        return self.finish(f"{lead}{imperative}")

    def plot(self, text: str) -> str:
        """A plot request: "histogram of age", "plot the distribution of age", "can you draw a box plot of age"."""
        verb = text.split(" ", 1)[0]
        if verb in ("plot", "scatter", "hist", "boxplot", "compare", "show", "visualize", "chart", "draw"):
            return self.imp(text)
        if self.terse or self.maybe(0.4):
            return self.finish(text)
        lead = self.pick(["show ", "make ", "draw ", "can you make ", "give me ", "I want ", "I'd like ", "let's see ",
                          "create ", "please plot "])
        if lead == "please plot ":
            text = text.split(" of ", 1)[-1] if " of " in text[:25] else text
        article = "a " if lead.strip() in ("make", "draw", "can you make", "give me", "I want", "I'd like", "create") and not text.startswith(("a ", "the ")) else ""
        return self.finish(f"{lead}{article}{text}")

    def fu(self, text: str) -> str:
        """A follow-up that refers back ("now only for 2023", "plot it as bars"): said as it is, no lead-in."""
        return self.finish(text, question=text.rstrip().endswith("?"))

    def _the(self, phrase: str) -> str:
        if phrase.startswith(("the ", "a ", "how ", "what ", "which ", "all ", "only ")) or self.terse:
            return phrase
        return ("the " if self.maybe(0.5) else "") + phrase

    def agg(self, agg: str) -> str:
        return self.pick(AGG_WORDS[agg])

    def agg_adjective(self, agg: str) -> str:
        """An aggregate's word to put before a column ("average", "total"): `agg` without its "of (the)"."""
        return self.agg(agg).replace(" of", "").replace(" the", "")

    def by(self) -> str:
        return self.pick(BY_WORDS)

    def rows(self) -> str:
        return self.pick(ROWS_WORDS)

    def cmp(self, op: str) -> str:
        return self.pick(CMP_WORDS[op])
