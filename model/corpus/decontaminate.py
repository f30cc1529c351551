"""Keeping the evaluation benchmarks (HumanEval, HumanEval-infilling, MTPB) out of the training data.

Two checks, each cheap enough to run over the whole corpus:

1. **Exact functions.** Every HumanEval function (from ``def <entry_point>`` in the prompt, plus the canonical
   solution), and the same function without its docstring, compared with all whitespace removed: a copy that was
   re-indented, re-wrapped or pasted into a notebook cell is still found.
2. **Long n-gram overlap.** A document may not share a run of ``NGRAM`` = 13 consecutive words (``\\w+`` tokens,
   lower-cased; punctuation and layout ignored) with any benchmark text: HumanEval prompts, solutions and tests (the
   infilling sets are the same programs: their prefix + middle + suffix and tests are included too) and MTPB turn
   prompts, filled with each test case's inputs as the harness fills them. 13 words is the length GPT-3's
   contamination study used; over code tokens it is about one and a half lines, long enough that ordinary idioms
   (``for i in range(len(x)):`` is 6) never reach it and short enough that any copied test assertion, docstring
   sentence or solution line run does. An n-gram made mostly of numbers (``[1, 2, 3, ..., 13]`` lists are common
   in real code and in the tests alike) carries no evidence, nor does an alphabet (``a b c ... m``: MTPB's Morse table
   against any ``string.ascii_lowercase`` spelled out), so only n-grams with at least ``MIN_WORDS`` = 3 words of two
   or more characters that are not numbers are used (enough for a block of copied test assertions:
   ``true assert candidate`` followed by ten numbers is one). MTPB turn prompts are short sentences (many under 13 words): one of at least
   ``MIN_PHRASE`` = 8 words is also matched whole, so a training request worded exactly like an MTPB turn is caught.

Words that never occur in any benchmark text cannot be part of a shared n-gram, so a document's words are split into
runs of benchmark words and only runs at least as long as the shortest pattern are looked at: most of the corpus
is skipped without hashing.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

NGRAM = 13
MIN_WORDS = 3
MIN_PHRASE = 8
WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")

HUMANEVAL = "humaneval/HumanEval.jsonl.gz"
INFILLING = (
    "humaneval_infilling/HumanEval-SingleLineInfilling.jsonl.gz",
    "humaneval_infilling/HumanEval-MultiLineInfilling.jsonl.gz",
    "humaneval_infilling/HumanEval-RandomSpanInfilling.jsonl.gz",
    "humaneval_infilling/HumanEval-RandomSpanInfillingLight.jsonl.gz",
)
MTPB = "mtpb/mtpb.jsonl"


def default_data_dir() -> Path:
    """The benchmark folder: $JUPYTER_CODEGEN_BENCHMARK_DATA, else ``shared/data`` beside or inside the repository."""
    env = os.environ.get("JUPYTER_CODEGEN_BENCHMARK_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo / "shared" / "data", repo.parent / "shared" / "data"):
        if (candidate / HUMANEVAL).exists():
            return candidate
    return repo.parent / "shared" / "data"


def squash(text: str) -> str:
    """The text with all whitespace removed."""
    return _SPACE.sub("", text)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@dataclass
class Hit:
    kind: str
    """"exact-function" or "ngram"."""
    benchmark: str
    """The benchmark item, e.g. "HumanEval/0" or "MTPB/12"."""
    detail: str


@dataclass
class Benchmarks:
    functions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """entry point -> [(task id, squashed function)]."""
    patterns: dict[int, dict[tuple[str, ...], str]] = field(default_factory=dict)
    """length -> {word tuple: benchmark item}; NGRAM-grams and whole short MTPB phrases."""
    vocab: set[str] = field(default_factory=set)
    _def_re: re.Pattern | None = None

    # --- building -------------------------------------------------------------------------------------------

    def add_function(self, task_id: str, entry_point: str, prompt: str, solution: str) -> None:
        start = prompt.find(f"def {entry_point}(")
        if start < 0:
            return
        body = prompt[start:]
        variants = [body + solution]
        doc = re.search(r"('''|\"\"\")", body)
        if doc:  # the same function with its docstring left out
            variants.append(body[: doc.start()] + solution)
        entries = self.functions.setdefault(entry_point, [])
        for v in variants:
            sq = squash(v)
            if (task_id, sq) not in entries:
                entries.append((task_id, sq))
        self._def_re = None

    def add_text(self, item: str, text: str, phrase: bool = False) -> None:
        toks = words(text)
        table = self.patterns.setdefault(NGRAM, {})
        for i in range(len(toks) - NGRAM + 1):
            gram = tuple(toks[i: i + NGRAM])
            if _informative(gram):
                table.setdefault(gram, item)
                self.vocab.update(gram)
        if phrase and MIN_PHRASE <= len(toks) < NGRAM and _informative(toks):
            self.patterns.setdefault(len(toks), {}).setdefault(tuple(toks), item)
            self.vocab.update(toks)

    # --- checking -------------------------------------------------------------------------------------------

    def _defs(self) -> re.Pattern:
        if self._def_re is None:
            names = sorted(self.functions, key=len, reverse=True)
            self._def_re = re.compile("def(" + "|".join(map(re.escape, names)) + r")\(") if names else re.compile("(?!)")
        return self._def_re

    def check(self, text: str, first_only: bool = True) -> list[Hit]:
        """What the text shares with the benchmarks; empty when it is clean."""
        hits: list[Hit] = []
        if self.functions and "def" in text:
            sq = squash(text)
            for name in {m.group(1) for m in self._defs().finditer(sq)}:
                for task_id, fn in self.functions[name]:
                    if fn in sq:
                        hits.append(Hit("exact-function", task_id, name))
                        if first_only:
                            return hits
                        break
        lengths = sorted(self.patterns)
        if not lengths:
            return hits
        shortest = lengths[0]
        vocab = self.vocab
        run: list[str] = []
        toks = words(text)
        toks.append("\0")  # a word no benchmark has: ends the last run
        for tok in toks:
            if tok in vocab:
                run.append(tok)
                continue
            if len(run) >= shortest:
                found = self._scan_run(run, lengths, first_only)
                hits.extend(found)
                if found and first_only:
                    return hits
            run = []
        return hits

    def _scan_run(self, run: list[str], lengths: list[int], first_only: bool) -> list[Hit]:
        found: list[Hit] = []
        for n in lengths:
            table = self.patterns[n]
            for i in range(len(run) - n + 1):
                gram = tuple(run[i: i + n])
                item = table.get(gram)
                if item is not None:
                    found.append(Hit("ngram", item, " ".join(gram)))
                    if first_only:
                        return found
        return found

    def is_clean(self, text: str) -> bool:
        return not self.check(text)


def _informative(gram: Iterable[str]) -> bool:
    """At least MIN_WORDS real words: not numbers, not single characters (an alphabet or hex digits in a row)."""
    return sum(1 for t in gram if len(t) > 1 and not t.replace("_", "").isdigit()) >= MIN_WORDS


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _fill(template: str, inputs: dict) -> str:
    try:
        return template.format(**inputs)
    except (KeyError, IndexError, ValueError, AttributeError):
        return re.sub(r"\{[^{}]*\}", " ", template)


def load_benchmarks(data_dir: str | Path | None = None) -> Benchmarks:
    """Every benchmark text under `data_dir` (see `default_data_dir`); raises FileNotFoundError when it is missing."""
    data = Path(data_dir) if data_dir else default_data_dir()
    he_path = data / HUMANEVAL
    if not he_path.exists():
        raise FileNotFoundError(
            f"benchmark data not found at {data} (expected {HUMANEVAL}); set JUPYTER_CODEGEN_BENCHMARK_DATA"
        )
    b = Benchmarks()
    texts: dict[str, str] = {}  # text -> item, so the infilling sets' repeated programs are tokenized once
    for row in _read_jsonl(he_path):
        tid = row["task_id"]
        b.add_function(tid, row["entry_point"], row["prompt"], row["canonical_solution"])
        texts.setdefault(row["prompt"] + row["canonical_solution"], tid)
        texts.setdefault(row["test"], tid)
    for name in INFILLING:
        path = data / name
        if not path.exists():
            continue
        for row in _read_jsonl(path):
            tid = row["task_id"].split("/")[0] + "/" + row["task_id"].split("/")[1]
            program = row["prompt"] + row["canonical_solution"] + row["suffix"]
            texts.setdefault(program, tid)
            texts.setdefault(row["test"], tid)
    for text, item in texts.items():
        b.add_text(item, text)
    mtpb = data / MTPB
    if mtpb.exists():
        for row in _read_jsonl(mtpb):
            item = f"MTPB/{row.get('id', row.get('name'))}"
            # The turns' own wording, without the inputs filled in: an input is arbitrary text ("Hello, World!",
            # lorem ipsum) that real code has too; each stretch between placeholders is matched on its own.
            fragments = [f for p in row["prompts"] for f in _PLACEHOLDER.split(p)]
            for f in fragments:
                b.add_text(item, f, phrase=True)
            for a, c in zip(row["prompts"], row["prompts"][1:]):  # a turn's end and the next one's start
                b.add_text(item, _PLACEHOLDER.split(a)[-1] + "\n" + _PLACEHOLDER.split(c)[0])
            if row.get("description"):
                b.add_text(item, row["description"], phrase=True)
    return b
