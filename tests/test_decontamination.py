"""Nothing from the evaluation benchmarks (HumanEval, HumanEval-infilling, MTPB) is in any training data.

Checked on the real-code corpus (the --slice build CI runs), on a sample from the synthetic generator, and on the
checker itself: a planted HumanEval function, test line or MTPB turn must be caught, and ordinary code must not be.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model.corpus import build as corpus_build
from model.corpus import sources
from model.corpus.decontaminate import MIN_PHRASE, NGRAM, _fill, default_data_dir, load_benchmarks, words

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    # No skip when the data is missing: CI has shared/ beside the clone, and a silently skipped
    # decontamination test would prove nothing.
    return load_benchmarks()


@pytest.fixture(scope="module")
def humaneval():
    with gzip.open(default_data_dir() / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def mtpb():
    with open(default_data_dir() / "mtpb" / "mtpb.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# --- the checker catches what it must -------------------------------------------------------------------------


def _function(item: dict) -> str:
    prompt = item["prompt"]
    return prompt[prompt.index(f"def {item['entry_point']}("):] + item["canonical_solution"]


def test_every_humaneval_function_is_caught_even_reformatted(bench, humaneval):
    for item in humaneval:
        fn = _function(item)
        # pasted into a notebook cell, indented by tabs instead of spaces, with extra blank lines
        planted = "<cell>\nimport os\n" + fn.replace("    ", "\t").replace("\n", "\n\n") + "\n</cell>\n"
        hits = bench.check(planted)
        assert hits and hits[0].kind == "exact-function" and hits[0].benchmark == item["task_id"], item["task_id"]


def test_a_humaneval_function_without_its_docstring_is_caught(bench, humaneval):
    item = humaneval[0]
    prompt = item["prompt"]
    start = prompt.index(f"def {item['entry_point']}(")
    signature = prompt[start: prompt.index('"""', start)]
    hits = bench.check("# helpers\n" + signature + item["canonical_solution"] + "\nprint('done')\n")
    assert hits and hits[0].benchmark == "HumanEval/0"


def test_copied_test_assertions_are_caught_by_ngrams(bench, humaneval):
    asserts = [ln.strip() for ln in humaneval[0]["test"].splitlines() if ln.strip().startswith("assert")]
    hits = bench.check("def test_close():\n    candidate = my_function\n    " + "\n    ".join(asserts[:2]) + "\n")
    assert hits and hits[0].kind == "ngram" and hits[0].benchmark == "HumanEval/0"


def test_a_docstring_sentence_is_caught_by_ngrams(bench, humaneval):
    words = humaneval[0]["prompt"].split('"""')[1].split()[: NGRAM + 2]
    hits = bench.check("<text>\n" + " ".join(words).upper() + "\n</text>\n")
    assert hits and hits[0].kind == "ngram" and hits[0].benchmark == "HumanEval/0"


def test_an_mtpb_turn_is_caught_as_a_request(bench, mtpb):
    plain = [p for row in mtpb for p in row["prompts"] if "{" not in p]
    long_turn = next(t for t in plain if len(words(t)) >= NGRAM)
    assert bench.check(f"<text>\n{long_turn}\n</text>\n<cell>\nx = 1\n</cell>\n")
    short_turn = next(t for t in plain if MIN_PHRASE <= len(words(t)) < NGRAM)  # matched whole
    assert bench.check(f"# {short_turn}\nresult = compute()\n")
    # a turn with its inputs filled in, as a harness would write it
    row, template = next((r, p) for r in mtpb for p in r["prompts"]
                         if "{" in p and max(len(words(f)) for f in re.split(r"\{[^{}]*\}", p)) >= MIN_PHRASE)
    assert bench.check(f"# {_fill(template, row['inputs'][0])}\n")


def test_ordinary_code_is_not_flagged(bench):
    clean = [
        "import numpy as np\nimport pandas as pd\n\ndf = pd.read_csv('sales.csv')\n"
        "df.groupby('region')['price'].mean().sort_values(ascending=False).head(10)\n",
        "for i in range(len(numbers)):\n    for j in range(i + 1, len(numbers)):\n        if numbers[i] > numbers[j]:\n"
        "            numbers[i], numbers[j] = numbers[j], numbers[i]\nreturn numbers\n",
        "x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]\nprint(sum(x))\n",
        "def is_prime(n):\n    if n < 2:\n        return False\n    for k in range(2, int(n ** 0.5) + 1):\n"
        "        if n % k == 0:\n            return False\n    return True\n",
        "if __name__ == '__main__':\n    import doctest\n    doctest.testmod()\n",
        # an MTPB input (lorem ipsum) and an alphabet (MTPB's Morse table) are not the benchmark's own words
        "TEXT = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore'\n",
        "letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p']\n"
        "HEX = '0 1 2 3 4 5 6 7 8 9 a b c d e f'\n",
    ]
    for text in clean:
        assert bench.check(text) == [], text


# --- the builder applies it ---------------------------------------------------------------------------------------


def test_builder_drops_a_planted_function_and_counts_it(tmp_path, humaneval):
    planted = tmp_path / "src"
    planted.mkdir()
    code = "import math\n\n\n" + _function(humaneval[5]) + "\n\ndef other(x):\n    return math.sqrt(x) + 1.0\n"
    (planted / "planted.py").write_text(code)
    (planted / "fine.py").write_text(
        "def area(width, height):\n    '''The area of a rectangle.\n\n    >>> area(2, 3)\n    6\n    '''\n"
        "    return width * height\n"
    )
    extra = sources.Source("planted", "0", "MIT", "test", "test", root=planted)
    stats = corpus_build.build(tmp_path / "out", slice_=True, extra_sources=[extra], log=lambda *_: None)
    texts = (tmp_path / "out" / "corpus.jsonl").read_text(encoding="utf-8")
    assert humaneval[5]["entry_point"] not in texts
    assert "def area(width, height)" in texts
    # the file itself, and the notebook mined from its docstring examples (the docstring's sentence is HumanEval's)
    assert stats["by_source"]["planted"]["dropped"] == {
        "file:contaminated-exact-function": 1, "doctest-notebook:contaminated-ngram": 1}
    assert stats["decontamination"]["benchmark_items"] == {humaneval[5]["task_id"]: 2}
    assert stats["by_source"]["planted"]["documents_by_kind"] == {"file": 1, "doctest-notebook": 1}


# --- the training data is clean -----------------------------------------------------------------------------------


def test_slice_corpus_is_clean(bench, tmp_path):
    stats = corpus_build.build(tmp_path, slice_=True, log=lambda *_: None)
    docs = [json.loads(line) for line in (tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(docs) == stats["documents"] > 0
    dirty = [(d["path"], bench.check(d["text"])) for d in docs if bench.check(d["text"])]
    assert dirty == []


def test_synthetic_sample_is_clean(bench, tmp_path):
    """The synthetic generator's documents (`python -m model.synth --n 50 --out F`) carry no benchmark text."""
    out = tmp_path / "synth.jsonl"
    subprocess.run([sys.executable, "-m", "model.synth", "--n", "50", "--out", str(out)], cwd=REPO, check=True,
                   timeout=600, capture_output=True)
    files = sorted(out.glob("*.jsonl")) if out.is_dir() else [out]
    texts = [json.loads(line)["text"] for f in files for line in f.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    assert texts, "the generator wrote no documents"
    dirty = [(t[:200], bench.check(t)) for t in texts if bench.check(t)]
    assert dirty == []


def test_decontamination_is_fast_enough_for_the_full_corpus(bench):
    """The whole real corpus (~200 MB) is checked document by document: 1 MB of code must take
    seconds, not minutes (about 0.3 s here; the bound is loose for a busy CI machine)."""
    import time

    text = Path(corpus_build.__file__).read_text() * 40
    t0 = time.perf_counter()
    for _ in range(max(1, 1_000_000 // len(text))):
        bench.check(text)
    assert time.perf_counter() - t0 < 10.0
