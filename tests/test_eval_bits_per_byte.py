"""Held-out bits per byte (benchmarks/eval_bits_per_byte.py): the sample, the chunking, and the number itself."""

import json
import math
import random
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import eval_bits_per_byte as B  # noqa: E402
from model.docs import is_heldout  # noqa: E402



def synthetic_texts(n: int = 3000) -> list[str]:
    """Small Python documents of varied length; about 1% of them fall in the held-out split."""
    texts = []
    for i in range(n):
        body = "".join(f"    total += x * {i} + {j}  # step {j}\n" for j in range(i % 7 + 1))
        texts.append(f"def f_{i}(x):\n    total = 0\n{body}    return total\n")
    return texts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, text in enumerate(synthetic_texts()):
            f.write(json.dumps({"text": text, "source": "synthetic", "path": f"f_{i}.py"}) + "\n")
    return path


@pytest.fixture(scope="module")
def engine(scoring_engine):
    return scoring_engine


def test_only_heldout_documents_and_the_same_sample_whatever_the_file_order(corpus, tmp_path):
    records = list(B.heldout_documents(corpus))
    assert records and all(is_heldout(r["text"]) for r in records)
    assert len(records) == sum(is_heldout(t) for t in synthetic_texts())
    first = B.sample_documents(records, max_bytes=2000, max_doc_bytes=300)
    again = B.sample_documents(list(B.heldout_documents(corpus)), max_bytes=2000, max_doc_bytes=300)
    assert first == again

    lines = corpus.read_text().splitlines()
    random.Random(0).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n")
    assert B.sample_documents(list(B.heldout_documents(shuffled)), max_bytes=2000, max_doc_bytes=300) == first

    sizes = [len(d.text.encode()) for d in first]
    assert sum(sizes) <= 2000 and max(sizes) <= 300
    assert all(d.text.endswith("\n") for d in first)  # heads are cut at line ends
    texts = {r["text"] for r in records}
    assert all(any(t.startswith(d.text) for t in texts) for d in first)


def test_the_number_equals_a_direct_computation_from_score(corpus, engine):
    documents = B.sample_documents(list(B.heldout_documents(corpus)), max_bytes=1500, max_doc_bytes=150)
    assert len(documents) >= 3
    for d in documents:  # each fits one window, so one score() call per document is the direct computation
        assert engine.count_tokens(d.text) + 1 < engine.context_window // 2
    result = B.evaluate(engine, documents, model="tiny", name="tiny")

    logprob = sum(engine.score(engine.format.bos, [d.text])[0] for d in documents)
    nbytes = sum(len(d.text.encode("utf-8")) for d in documents)
    assert result.bytes == nbytes and result.documents == len(documents) and result.score_calls == len(documents)
    assert result.bits_per_byte == pytest.approx(-logprob / math.log(2) / nbytes, rel=1e-9)
    assert result.tokens == sum(engine.count_tokens(d.text) for d in documents)
    assert 0 < result.bits_per_byte < 20  # a random model: several bits per byte, but finite
    assert engine.format.bos == "<|endoftext|>"  # the document-start token every prompt of this family begins with


def test_long_documents_are_scored_once_over_in_windows_that_fit(engine):
    text = "".join(synthetic_texts(40))
    window, chunk = 96, 32
    plan = B.plan_chunks(text, engine.count_tokens, engine.format.bos, window, chunk)
    assert len(plan) > 5
    assert "".join(c for _, c in plan) == text  # every byte scored exactly once
    before = ""
    for prompt, continuation in plan:
        assert prompt.startswith(engine.format.bos)
        context = prompt[len(engine.format.bos):]
        assert before.endswith(context)  # the prompt is the text right before the chunk
        assert engine.count_tokens(continuation) <= chunk
        assert engine.count_tokens(prompt) + engine.count_tokens(continuation) <= window
        assert context or not before  # after the first chunk, the document's own lines come first
        before += continuation


def test_a_line_longer_than_a_chunk_is_cut_inside_it(engine):
    line = "x = [" + ", ".join(str(i) for i in range(200)) + "]\n"
    plan = B.plan_chunks(line, engine.count_tokens, engine.format.bos, 64, 24)
    assert len(plan) > 1 and "".join(c for _, c in plan) == line


def test_the_command_line_writes_its_json(tiny_model, corpus, tmp_path, capsys):
    code = B.main(["--model", str(tiny_model("xglm")), "--corpus", str(corpus), "--max-bytes", "800",
                   "--name", "tiny", "--out", str(tmp_path), "--quiet", "--threads", "1"])
    assert code == 0
    result = json.loads((tmp_path / "bits_per_byte-tiny.json").read_text())
    assert 0 < result["bytes"] <= 800 and result["documents"] >= 1
    assert result["corpus"]["heldout_documents"] == len(list(B.heldout_documents(corpus)))
    line = capsys.readouterr().out
    assert f"{result['bits_per_byte']:.4f} bits/byte" in line and f"{result['bytes']:,} bytes" in line
