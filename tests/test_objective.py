"""The causal-masking objective (jupyter_codegen/objective.py) against the product's inference prompt, byte for byte."""

from __future__ import annotations

import inspect
import json
import re
import textwrap

import numpy as np
import pytest

tokenizers = pytest.importorskip("tokenizers")

from jupyter_codegen.formats import CausalMaskingFormat, detect_format  # noqa: E402
from jupyter_codegen.tokenizer import TextTokenizer  # noqa: E402
from model import tokenizer as mtok  # noqa: E402
from jupyter_codegen.objective import (  # noqa: E402
    MASK_TOKENS,
    CausalMasking,
    Specials,
    cut_points,
    labels_for,
    mask_spans,
    mask_text,
    overhead,
    sample_span_count,
    sample_spans,
    training_example,
)

NOTEBOOK = textwrap.dedent(
    """\
    <| file ext=.ipynb:python |>
    <text>
    Average price by region.
    </text>
    <cell>
    df.groupby("region")["price"].mean()
    </cell>
    <output>
    region
    north    10.5
    south     7.25
    </output>
    """
)

SCRIPT = textwrap.dedent(
    """\
    <| file ext=.py |>
    import json


    def load(path):
        with open(path) as f:
            return json.load(f)


    def save(path, data):
        with open(path, "w") as f:
            json.dump(data, f, indent=2)
    <|/ file |>"""
)


@pytest.fixture(scope="module")
def tok_folder(tmp_path_factory):
    import collections
    import json as json_module

    texts = [inspect.getsource(json_module), inspect.getsource(collections), NOTEBOOK, SCRIPT] * 2
    tokenizer = mtok.train_tokenizer(texts, vocab_size=800)
    folder = tmp_path_factory.mktemp("tok")
    mtok.save_tokenizer(tokenizer, folder)
    return folder


@pytest.fixture(scope="module")
def tok(tok_folder):
    return mtok.load_tokenizer(tok_folder)


@pytest.fixture(scope="module")
def specials(tok):
    return Specials.from_tokenizer(tok)


def encode(tok, text):
    return tok.encode(text, add_special_tokens=False).ids


def decode(tok, ids):
    return tok.decode([int(i) for i in ids], skip_special_tokens=False)


def test_special_tokens_are_single_tokens_with_fixed_ids(tok):
    mtok.check_tokenizer(tok)
    assert tok.token_to_id("<|endoftext|>") == 0
    assert tok.token_to_id("<|mask:0|>") == 3
    assert tok.token_to_id(f"<|mask:{MASK_TOKENS - 1}|>") == 3 + MASK_TOKENS - 1
    assert tok.token_to_id(f"<|mask:{MASK_TOKENS}|>") is None
    for tag in ("<cell>", "</cell>", "<text>", "</text>", "<output>", "</output>", "<| file ext=.ipynb:python |>"):
        assert len(encode(tok, tag)) == 1
    # text round-trips exactly, special tokens included
    assert decode(tok, encode(tok, NOTEBOOK)) == NOTEBOOK
    assert decode(tok, encode(tok, SCRIPT + "\ncafé ≤ 🐍\t\r\n")) == SCRIPT + "\ncafé ≤ 🐍\t\r\n"


def test_product_reads_the_tokenizer_as_causal_masking(tok_folder):
    t = TextTokenizer.from_folder(tok_folder)
    assert t.bos_token == "<|endoftext|>" and t.eos_token == "<|endoftext|>" and t.pad_token == "<pad>"
    assert not t.add_bos_token
    fmt = detect_format(t.special_tokens, t.vocab.keys(), t.bos_token, t.eos_token, t.add_bos_token)
    assert fmt.name == "causal-masking"
    assert fmt.bos == "<|endoftext|>"
    config = json.loads((tok_folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"


def test_transformers_reads_the_tokenizer(tok_folder):
    transformers = pytest.importorskip("transformers")
    t = transformers.AutoTokenizer.from_pretrained(tok_folder)
    assert t.bos_token == t.eos_token == "<|endoftext|>" and t.pad_token == "<pad>"
    assert t.encode("<|mask:0|>", add_special_tokens=False) == [3]


def _line_boundaries(tok, ids):
    """Token positions right after a token that ends with a newline."""
    return [i + 1 for i in range(len(ids) - 1) if decode(tok, ids[i : i + 1]).endswith("\n")]


@pytest.mark.parametrize("doc", [SCRIPT, NOTEBOOK])
def test_token_spans_match_the_inference_prompt_byte_for_byte(tok, specials, doc):
    """mask_spans (spans on the document's own ids): the layout and the labels."""
    ids = encode(tok, doc)
    cuts = _line_boundaries(tok, ids)
    start, end = cuts[1], cuts[3]
    body, keep = mask_spans(ids, [(start, end)], specials)
    tokens = np.concatenate([[specials.endoftext], body])
    targets = np.concatenate([[True], keep])
    left, span, right = decode(tok, ids[:start]), decode(tok, ids[start:end]), decode(tok, ids[end:])
    assert left + span + right == doc

    prompt = CausalMaskingFormat().infill_prompt([left, right], [])
    assert prompt.text == f"<|endoftext|>{left}<|mask:0|>{right}<|mask:1|><|mask:0|>"
    prefix_len = 1 + start + 1 + (len(ids) - end) + 2  # BOS, left, <|mask:0|>, right, <|mask:1|>, <|mask:0|>
    assert decode(tok, tokens[:prefix_len]) == prompt.text
    # what the model is taught to write after the prompt: the span, then <|endofmask|>, and nothing else
    assert decode(tok, tokens[prefix_len:]) == span + "<|endofmask|>"
    assert len(tokens) == 1 + len(ids) + overhead(1)

    # labels: no loss on any sentinel, loss on everything else (span and <|endofmask|> included)
    sentinel = np.isin(tokens, specials.masks)
    assert sentinel.sum() == 3
    assert not targets[sentinel].any()
    assert targets[~sentinel].all()
    labels = labels_for(tokens, targets)
    assert (labels[prefix_len:] == tokens[prefix_len:]).all()
    assert labels[prefix_len - 1] == -100 and labels[prefix_len - 2] == -100  # <|mask:1|><|mask:0|>
    assert labels[1 + start] == -100  # the in-place <|mask:0|>


def _check_against_product(tok, specials, text, spans):
    """The training example for `text` with character `spans` against the product's prompts, id for id."""
    body, keep = mask_text(text, spans, lambda t: encode(tok, t), specials)
    tokens = [specials.endoftext] + body.tolist()
    bounds = [0] + [p for s in spans for p in s] + [len(text)]
    parts = [text[bounds[2 * i] : bounds[2 * i + 1]] for i in range(len(spans) + 1)]
    fills = [text[a:b] for a, b in spans]
    fmt = CausalMaskingFormat()
    for hole in range(len(spans)):
        prompt = fmt.infill_prompt(parts, fills[:hole])
        ids = encode(tok, prompt.text)
        # the product's prompt for this hole is the training example up to the sentinel that opens the span ...
        assert tokens[: len(ids)] == ids
        # ... and the model is taught to continue it with exactly the fill, then <|endofmask|>
        fill = encode(tok, fills[hole])
        assert tokens[len(ids) : len(ids) + len(fill) + 1] == fill + [specials.endofmask]
        assert decode(tok, tokens[len(ids) :]).startswith(fills[hole] + "<|endofmask|>")
    assert decode(tok, tokens).endswith("<|endofmask|>")
    # labels: every sentinel unscored, everything else scored
    sentinel = np.isin(body, specials.masks)
    assert sentinel.sum() == 2 * len(spans) + 1
    assert not keep[sentinel].any() and keep[~sentinel].all()
    return tokens


@pytest.mark.parametrize("doc", [SCRIPT, NOTEBOOK])
def test_one_hole_matches_the_inference_prompt_token_for_token(tok, specials, doc):
    # a whole indented line, as HumanEval single-line infilling cuts it: left ends with "\n", right starts with
    # the next line's indentation, cuts that fall inside tokens of the whole document
    lines = doc.splitlines(keepends=True)
    start = sum(len(x) for x in lines[:4])
    end = start + len(lines[4])
    tokens = _check_against_product(tok, specials, doc, [(start, end)])
    left, right = doc[:start], doc[end:]
    prompt = CausalMaskingFormat().infill_prompt([left, right], []).text
    assert prompt == f"<|endoftext|>{left}<|mask:0|>{right}<|mask:1|><|mask:0|>"
    assert decode(tok, tokens).startswith(prompt)
    assert len(tokens) == 1 + len(encode(tok, left)) + len(encode(tok, right)) + len(encode(tok, doc[start:end])) + overhead(1)


def test_several_holes_match_each_step_of_multi_hole_infilling(tok, specials):
    n = len(SCRIPT)
    _check_against_product(tok, specials, SCRIPT, [(30, 41), (60, 75), (n - 20, n)])
    _check_against_product(tok, specials, NOTEBOOK, [(0, 5), (40, 41), (50, 90)])


def test_random_cuts_always_match_the_product(tok, specials):
    rng = np.random.default_rng(3)
    masking = CausalMasking(specials, p=1.0, p_line=0.5)
    doc = NOTEBOOK + SCRIPT + "\ncafé = '≤🐍'\n"
    for _ in range(100):
        k = masking.draw(rng)
        points = cut_points(doc, lines=bool(rng.random() < 0.5))
        k = min(k, len(points) // 2)
        spans = sample_spans(len(doc), k, rng, points)
        _check_against_product(tok, specials, doc, spans)


def test_cuts_never_split_special_tokens_and_line_spans_are_whole_lines(tok, specials):
    doc = NOTEBOOK
    points = set(cut_points(doc).tolist())
    for tag in ("<| file ext=.ipynb:python |>", "<cell>", "</output>"):
        i = doc.index(tag)
        assert i in points and i + len(tag) in points
        assert not points & set(range(i + 1, i + len(tag)))
    line_points = cut_points(doc, lines=True).tolist()
    assert all(p == 0 or p == len(doc) or doc[p - 1] == "\n" for p in line_points)
    rng = np.random.default_rng(0)
    masking = CausalMasking(specials, p=1.0, p_line=1.0)
    for _ in range(50):
        tokens, _ = masking(doc, rng, lambda t: encode(tok, t))
        text = decode(tok, tokens)
        tail = text[text.index("<|mask:0|>", text.index("<|mask:1|>")) :]
        for span in re.findall(r"<\|mask:\d+\|>(.*?)<\|endofmask\|>", tail, flags=re.S):
            assert span.endswith("\n") or doc.endswith(span)


def test_no_spans_is_plain_left_to_right(tok, specials):
    encode_ = lambda t: encode(tok, t)  # noqa: E731
    rng = np.random.default_rng(0)
    tokens, targets = CausalMasking(specials, p=0.0)(SCRIPT, rng, encode_)
    assert tokens.tolist() == encode(tok, SCRIPT) and targets.all()
    tokens, targets = training_example(SCRIPT, CausalMasking(specials, p=0.0), rng, encode_)
    assert decode(tok, tokens) == "<|endoftext|>" + SCRIPT and targets.all()


def test_span_sampling_is_uniform_non_overlapping_and_poisson_truncated():
    rng = np.random.default_rng(1)
    counts = np.array([sample_span_count(rng, 31) for _ in range(20000)])
    assert counts.min() == 1 and counts.max() <= 31
    # Poisson(1) conditioned on k >= 1: mean 1 / (1 - e^-1) = 1.582, P(k = 1) = e^-1 / (1 - e^-1) = 0.582
    assert abs(counts.mean() - 1.582) < 0.03
    assert abs((counts == 1).mean() - 0.582) < 0.015
    assert sample_span_count(rng, 1) == 1
    for _ in range(2000):
        n = int(rng.integers(1, 60))
        k = int(rng.integers(1, (n + 1) // 2 + 1))
        spans = sample_spans(n, k, rng)
        assert len(spans) == k
        for (a, b), (c, d) in zip(spans, spans[1:]):
            assert b < c  # at least one position between two spans
        assert all(0 <= a < b <= n for a, b in spans)
    with pytest.raises(ValueError):
        sample_spans(3, 3, rng)


def test_random_masking_round_trips_the_document(tok, specials):
    doc = NOTEBOOK + SCRIPT
    masking = CausalMasking(specials, p=1.0)
    rng = np.random.default_rng(5)
    masks = list(specials.masks)
    for _ in range(200):
        tokens, targets = masking(doc, rng, lambda t: encode(tok, t))
        k = int(np.isin(tokens, masks).sum() - 1) // 2
        assert k >= 1
        # rebuild the document from the layout: the text with its sentinels, then each span in order
        toks = tokens.tolist()
        extra = toks.index(masks[k])
        text_part, tail = toks[:extra], toks[extra + 1 :]
        fills = {}
        for i in range(k):
            assert tail[0] == masks[i]
            end = tail.index(specials.endofmask)
            fills[masks[i]] = tail[1:end]
            tail = tail[end + 1 :]
        assert tail == []
        rebuilt = [t for x in text_part for t in (fills[x] if x in fills else [x])]
        assert decode(tok, rebuilt) == doc
        assert targets.sum() == len(tokens) - (2 * k + 1)


def test_sentinel_limit(specials):
    assert specials.max_spans == MASK_TOKENS - 1
    with pytest.raises(ValueError):
        mask_spans(list(range(200)), [(2 * i, 2 * i + 1) for i in range(MASK_TOKENS)], specials)
