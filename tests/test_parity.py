"""The engine's greedy output must be token-identical to transformers' `generate` for every supported family."""

import numpy as np
import pytest

from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.onnx_engine import OnnxEngine
from tiny_models import FAMILIES, PYTHON_PROMPT

pytestmark = pytest.mark.slow

EXPECTED_FORMAT = {
    "codegen": "left-to-right",
    "gpt2": "left-to-right",
    "xglm": "causal-masking",
    "gpt_bigcode": "starcoder-fim",
    "qwen2": "qwen-fim",
    "llama": "deepseek-fim",
}


def torch_greedy(hf_folder, ids, max_new_tokens):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_folder)
    model.eval()
    with torch.no_grad():
        out = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=model.config.eos_token_id,
        )
    return out[0, len(ids) :].tolist()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_greedy_matches_transformers(tiny_model, family):
    folder = tiny_model(family)
    engine = OnnxEngine(folder, device="cpu", threads=1)
    assert engine.format.name == EXPECTED_FORMAT[family]
    assert engine.device == "CPUExecutionProvider"
    assert engine.io.has_logits_to_keep  # the export found this family's language-model head
    prompt = engine.format.bos + PYTHON_PROMPT
    ids = engine.tokenizer.encode(prompt)
    expected = torch_greedy(folder.parent / "hf", ids, 24)
    [completion] = engine.generate(prompt, GenerationOptions(max_new_tokens=24))
    got = completion.token_ids
    eos = engine.eos_ids
    if expected and expected[-1] in eos:
        expected = expected[:-1]
        assert completion.finish_reason == "stop"
    assert got == expected, f"{family}: {got} != {expected}"
    assert len(got) > 0


@pytest.mark.parametrize("family", ["codegen", "llama"])
def test_score_matches_transformers(tiny_model, family):
    import torch
    from transformers import AutoModelForCausalLM

    folder = tiny_model(family)
    engine = OnnxEngine(folder, device="cpu", threads=1)
    prompt = engine.format.bos + "def add(a, b):\n"
    conts = ["    return a + b\n", "    return a - b  # wrong\n", ""]
    scores = engine.score(prompt, conts)
    model = AutoModelForCausalLM.from_pretrained(folder.parent / "hf").eval()
    p = engine.tokenizer.encode(prompt)
    for cont, score in zip(conts, scores):
        ids = p + engine.tokenizer.encode(cont)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        lsm = torch.log_softmax(logits, -1)
        want = sum(lsm[t - 1, ids[t]].item() for t in range(len(p), len(ids)))
        assert score == pytest.approx(want, abs=1e-3)
    assert scores[2] == 0.0
