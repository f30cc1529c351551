"""Surface names: what a table's columns, its file and its frame variable are called.

A column keeps its role (kind, value generator) from its domain spec, but the name it carries in a given table is
drawn per conversation from a wide space: the domain's own words, word-level synonyms, abbreviations, unit and
count affixes (`_kg`, `_usd`, `n_`, `pct_`), invented but pronounceable words, in one of several casing styles;
now and then a whole table is an invented domain (file, frame and every column named with invented words). The
frame is `df` / `data` only in a minority of conversations. A model trained on this cannot predict a name from
the domain; it has to copy it from the context (the load cell, the variables summary, the request).

Nothing here is derived from the held-out evaluation set; the word lists are generic analyst vocabulary.
"""

from __future__ import annotations

import builtins
import keyword
import random
import re

# --- knobs --------------------------------------------------------------------------------------------------

GENERIC_VAR_SHARE = 0.30
"""Share of frames named `df` or `data` (the rest: domain nouns, abbreviations, `df_<noun>`, invented words)."""
GENERIC_VARS = ("df", "df", "df", "data")
INVENTED_DOMAIN_SHARE = 0.12
"""Share of tables whose file, frame and every column are invented words (roles and values from a real domain)."""
COLUMN_SOURCES = (("domain", 0.42), ("synonym", 0.16), ("abbrev", 0.12), ("affix", 0.14), ("invented", 0.16))
"""How one column's name is made, in a table of a real domain."""
ALIAS_SHARE = 0.4
"""Chance that a request names a column (when not by its exact name) by what it means rather than by its name
read out: the domain's other words for it ("quantity" for `qty`, "weight" for `wt_kg`)."""
STYLE_SWITCH = 0.12
"""Chance that one column ignores the table's casing style."""

NAME_STYLES = ("snake", "snake", "snake", "snake", "camel", "lower_camel", "title_space", "lower_nospace",
               "upper_snake", "upper_space", "lower_space")

# --- word lists -------------------------------------------------------------------------------------------------

SYNONYMS = {
    "price": ["cost", "rate", "list price", "fee"], "cost": ["expense", "spend", "price"], "amount": ["value", "amt", "sum"],
    "total": ["sum", "overall", "gross"], "date": ["day", "dt", "when"], "time": ["ts", "moment", "clock"],
    "timestamp": ["ts", "event time", "logged at"], "id": ["code", "no", "ref", "key", "number"],
    "name": ["label", "full name", "title"], "type": ["kind", "class", "variant"], "status": ["state", "stage"],
    "score": ["points", "mark", "result"], "rating": ["stars", "grade", "score"], "count": ["cnt", "n", "tally"],
    "number": ["num", "no", "count"], "region": ["area", "zone", "territory"], "city": ["town", "municipality"],
    "country": ["nation", "ctry"], "category": ["group", "segment", "class"], "customer": ["client", "buyer", "account"],
    "product": ["item", "article", "good"], "store": ["shop", "outlet", "branch"], "department": ["division", "unit", "dept"],
    "age": ["years old", "age years"], "duration": ["length", "elapsed", "span"], "distance": ["dist", "range", "length"],
    "delay": ["lag", "late by", "wait"], "temperature": ["temp", "heat", "degrees"], "speed": ["velocity", "pace"],
    "weight": ["mass", "wt", "load"], "quantity": ["qty", "volume", "units"], "units": ["pieces", "qty", "volume"],
    "revenue": ["income", "turnover", "takings"], "salary": ["wage", "pay", "compensation"], "level": ["tier", "grade", "stage"],
    "location": ["place", "spot", "site"], "site": ["location", "facility", "plant"], "method": ["mode", "way", "channel"],
    "channel": ["source", "medium", "route"], "start": ["begin", "opened", "from"], "end": ["finish", "closed", "until"],
    "size": ["volume", "magnitude", "bulk"], "hours": ["hrs", "time spent"], "minutes": ["mins", "time"],
    "days": ["day count", "nights"], "user": ["member", "person", "visitor"], "payment": ["tender", "pay method"],
    "discount": ["markdown", "rebate", "reduction"], "tip": ["gratuity", "extra"], "fare": ["ticket price", "charge"],
    "paid": ["settled", "payout", "disbursed"], "stock": ["inventory", "supply", "on hand"], "supplier": ["vendor", "maker", "source"],
    "station": ["post", "outpost", "point"], "sensor": ["probe", "device", "unit"], "flag": ["marker", "indicator"],
}

ABBREV_SKIP = {"id", "no", "of", "in", "to", "is", "at"}

UNIT_SUFFIX = {"$": ["usd", "eur", "gbp", "dollars"], "C": ["c", "degc", "celsius"]}
NUM_SUFFIXES = ["kg", "usd", "eur", "m", "km", "s", "ms", "pct", "g", "l", "val", "amt", "avg"]
NUM_PREFIXES = ["pct", "avg", "raw", "est", "net"]
INT_PREFIXES = ["n", "num", "cnt", "count", "no"]
INT_SUFFIXES = ["count", "cnt", "n", "num", "total"]
DATE_SUFFIXES = ["dt", "date", "at", "ts", "day", "on"]
BOOL_PREFIXES = ["is", "has", "flag", "was", "any"]
ID_SUFFIXES = ["id", "no", "key", "ref", "num", "code"]
CAT_AFFIXES = ["code", "name", "label", "grp", "cat", "type", "class", "tag"]

ONSETS = ("b br bl ch d dr f fl g gr gl h j k kl kr l m n p pl pr r s sk sl sn st t tr th v w z sh").split()
VOWELS = ("a e i o u a e i o u a o ai ea ou").split()
CODAS = ["", "", "", "", "n", "r", "l", "s", "k", "m", "t", "x", "nd", "rk", "st"]

FILE_SUFFIXES = ["export", "raw", "clean", "final", "v2", "2023", "2024", "q1", "q3", "dump", "sample", "all", "log"]
FILE_PREFIXES = ["raw", "my", "new", "data", "export", "tbl", "all"]

_RESERVED = set(dir(builtins)) | set(keyword.kwlist) | {"pd", "np", "plt", "sns", "os", "re", "math", "json", "sys",
                                                         "mpl", "df", "data", "self", "cls", "get", "set", "display"}


# --- pieces -----------------------------------------------------------------------------------------------------

def invented_word(rng: random.Random, syllables: tuple[int, int] = (2, 3)) -> str:
    """A pronounceable made-up word ("brelon", "toskavi")."""
    while True:
        parts = []
        for i in range(rng.randint(*syllables)):
            onset = rng.choice(ONSETS) if (i == 0 or rng.random() < 0.85) else ""
            coda = rng.choice(CODAS) if i == 0 or rng.random() < 0.5 else ""
            parts.append(onset + rng.choice(VOWELS) + coda)
        word = "".join(parts)
        if 4 <= len(word) <= 9 and word not in _RESERVED and re.fullmatch(r"[a-z]+", word):
            return word


def abbreviate(word: str, rng: random.Random) -> str:
    if len(word) <= 4 or word in ABBREV_SKIP:
        return word
    how = rng.random()
    if how < 0.4:
        return word[:rng.choice([3, 4])]
    if how < 0.8:  # consonant skeleton: "quantity" -> "qnty", "price" -> "prc"
        skel = word[0] + re.sub(r"[aeiou]", "", word[1:])
        return skel[:rng.choice([3, 4, 5])] if len(skel) >= 3 else word[:4]
    return word[:len(word) // 2 + 1]


def split_words(name: str) -> list[str]:
    """The words a name is made of: "UnitPrice" / "unit_price" / "Unit Price" / "UNIT_PRICE" -> ["unit", "price"]."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [p.lower() for p in re.split(r"[^0-9A-Za-z]+", text) if p]


def render(words: list[str], style: str) -> str:
    parts = [p for w in words for p in w.replace("/", " ").replace("-", " ").split()]
    if style == "snake":
        return "_".join(p.lower() for p in parts)
    if style == "upper_snake":
        return "_".join(p.upper() for p in parts)
    if style == "upper_space":
        return " ".join(p.upper() for p in parts)
    if style == "lower_space":
        return " ".join(p.lower() for p in parts)
    if style == "camel":
        return "".join(p if p.isupper() and len(p) > 1 else p.capitalize() for p in parts)
    if style == "lower_camel":
        head = parts[0].lower()
        return head + "".join(p if p.isupper() and len(p) > 1 else p.capitalize() for p in parts[1:])
    if style == "title_space":
        return " ".join(p if p.isupper() and len(p) > 1 else p.capitalize() for p in parts)
    if style == "lower_nospace":
        return "".join(p.lower() for p in parts)
    raise ValueError(style)


# --- columns ----------------------------------------------------------------------------------------------------

def _affix(words: list[str], kind: str, unit: str, rng: random.Random) -> list[str]:
    if kind in ("num", "expr"):
        if rng.random() < 0.3:
            return [rng.choice(NUM_PREFIXES)] + words
        return words + [rng.choice(UNIT_SUFFIX.get(unit) or NUM_SUFFIXES)]
    if kind == "int":
        if words[0] in INT_PREFIXES or words[-1] in INT_SUFFIXES:
            return words + [rng.choice(NUM_SUFFIXES)]
        return [rng.choice(INT_PREFIXES)] + words if rng.random() < 0.6 else words + [rng.choice(INT_SUFFIXES)]
    if kind == "date":
        if words[-1] in DATE_SUFFIXES or words[-1] in ("time", "timestamp"):
            return words[:-1] + [rng.choice(DATE_SUFFIXES)] if len(words) > 1 else [rng.choice(["event", "log", "entry"])] + words
        return words + [rng.choice(DATE_SUFFIXES)]
    if kind == "bool":
        if words[0] in BOOL_PREFIXES:
            return [rng.choice([p for p in BOOL_PREFIXES if p != words[0]])] + words[1:] if len(words) > 1 else words + ["flag"]
        return [rng.choice(BOOL_PREFIXES)] + words
    if kind == "id":
        if words[-1] in ID_SUFFIXES:
            return words[:-1] + [rng.choice([s for s in ID_SUFFIXES if s != words[-1]])] if len(words) > 1 else ["row"] + words
        return words + [rng.choice(ID_SUFFIXES)]
    affix = rng.choice(CAT_AFFIXES)
    if affix in words:
        return words
    return words + [affix] if rng.random() < 0.7 or affix == "cat" else [affix] + words


def _synonym(words: list[str], rng: random.Random) -> list[str] | None:
    spots = [i for i, w in enumerate(words) if w in SYNONYMS]
    if not spots:
        return None
    i = rng.choice(spots)
    return words[:i] + rng.choice(SYNONYMS[words[i]]).split() + words[i + 1:]


def _invented_column(kind: str, rng: random.Random) -> list[str]:
    word = invented_word(rng)
    r = rng.random()
    if r < 0.55:
        return [word]
    if r < 0.75:
        return [word, invented_word(rng, (1, 2))]
    return _affix([word], kind, "", rng)


def column_words(spec_words: tuple[str, ...], key: str, kind: str, unit: str, rng: random.Random,
                 invented: bool) -> tuple[list[str], str]:
    """The words of one column's name, and how they were made (one of COLUMN_SOURCES' names)."""
    base = rng.choice(spec_words).lower().split()
    if invented:
        return _invented_column(kind, rng), "invented"
    r, acc, source = rng.random(), 0.0, "domain"
    for name, p in COLUMN_SOURCES:
        acc += p
        if r < acc:
            source = name
            break
    if source == "synonym":
        syn = _synonym(base, rng) or _synonym(key.split("_"), rng)
        if syn is None:
            source = "affix"
        else:
            return syn, source
    if source == "abbrev":
        ab = [abbreviate(w, rng) for w in base]
        if ab != base:
            return ab, source
        source = "affix"
    if source == "affix":
        return _affix(base, kind, unit, rng), source
    if source == "invented":
        return _invented_column(kind, rng), source
    return base, "domain"


def phrase_of(words: list[str], source: str, name: str) -> str:
    """How a person says the column: the domain's words for a domain name ("unit price" for `unitprice`),
    otherwise the name read out ("n units" for `nUnits`, "brelon kg" for `BRELON_KG`)."""
    if source == "domain":
        return " ".join(words)
    return " ".join(split_words(name))


def aliases_of(spec_words: tuple[str, ...], source: str, phrase: str) -> tuple[str, ...]:
    """The other words a person may use for a column: every word its domain has for it, so a request says
    "weight" or "quantity" for `wt_kg` or `qty` as people do; none for an invented name, which has no meaning."""
    if source == "invented":
        return ()
    out: list[str] = []
    for w in spec_words:
        w = w.lower()
        if w != phrase and w not in out:
            out.append(w)
    return tuple(out)


def unambiguous_aliases(columns: list) -> None:
    """Drop each alias whose words are a subset or a superset of another column's phrase, alias or name words
    ("date" when both `order_dt` and `ship_dt` exist): a request must name one column, not guess between two."""
    def words_of(c) -> list[set[str]]:
        return [set(x.split()) for x in (c.phrase, *c.aliases)] + [set(split_words(c.name))]

    others = {id(c): words_of(c) for c in columns}
    for c in columns:
        keep = []
        for a in c.aliases:
            aw = set(a.split())
            if not any(aw <= ow or ow <= aw for d in columns if d is not c for ow in others[id(d)]):
                keep.append(a)
        c.aliases = tuple(keep)


# --- tables, files and frames -----------------------------------------------------------------------------------

def invented_stem(rng: random.Random) -> str:
    word = invented_word(rng)
    r = rng.random()
    if r < 0.5:
        return word
    if r < 0.75:
        return f"{word}_{rng.choice(FILE_SUFFIXES)}"
    return f"{word}_{invented_word(rng, (1, 2))}"


def vary_stem(stem: str, rng: random.Random) -> str:
    """A file name around a domain stem: "sales", "sales_export", "raw_sales", "sls_2024"."""
    r = rng.random()
    if r < 0.45:
        return stem
    if r < 0.7:
        return f"{stem}_{rng.choice(FILE_SUFFIXES)}"
    if r < 0.85:
        return f"{rng.choice(FILE_PREFIXES)}_{stem}"
    return "_".join(abbreviate(w, rng) for w in stem.split("_")) + rng.choice(["", "_" + rng.choice(FILE_SUFFIXES)])


def frame_var(rng: random.Random, varnames: tuple[str, ...], stem: str, rows_word: str, invented: bool) -> str:
    """The frame's variable name: `df` / `data` in GENERIC_VAR_SHARE of conversations; otherwise a noun of the
    domain, an abbreviation, `df_<noun>`, or an invented word."""
    if rng.random() < GENERIC_VAR_SHARE:
        return rng.choice(GENERIC_VARS)
    nouns = [v for v in varnames if v not in ("df", "data")] + [stem, rows_word.replace(" ", "_")]
    if invented:
        nouns = [stem, invented_word(rng)]
    nouns = [n for n in (re.sub(r"[^0-9a-z_]+", "_", n.lower()).strip("_") for n in nouns) if n]
    noun = rng.choice(nouns)
    r = rng.random()
    if r < 0.4:
        out = noun
    elif r < 0.55:
        out = "_".join(abbreviate(p, rng) for p in noun.split("_"))
    elif r < 0.75:
        out = f"df_{noun}"
    elif r < 0.85:
        out = f"{noun}_df"
    else:
        out = invented_word(rng)
    if not out.isidentifier() or out[0].isdigit() or out in _RESERVED or keyword.iskeyword(out):
        out = f"df_{noun}" if f"df_{noun}".isidentifier() else "df"
    return out
