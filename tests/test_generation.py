"""Generation behaviour of the local engine on a real ONNX Runtime session (tiny CodeGen-family model)."""

import threading

import numpy as np
import pytest

from jupyter_codegen.decoding import TextStream
from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.errors import RequestError
from jupyter_codegen.onnx_engine import OnnxEngine
from jupyter_codegen.sampling import Sampler
from tiny_models import PYTHON_PROMPT


@pytest.fixture(scope="module")
def engine(tiny_model):
    return OnnxEngine(tiny_model("codegen"), device="cpu", threads=1)


def test_streamed_text_is_the_completion(engine):
    pieces = []
    [c] = engine.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=30), on_text=lambda i, t: pieces.append(t))
    assert c.text and "".join(pieces) == c.text
    assert c.finish_reason in ("length", "stop")
    assert len(c.token_ids) <= 30
    assert c.logprob < 0


def test_stop_string_cuts_before_it(engine):
    [full] = engine.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=30))
    stop = full.text[len(full.text) // 2 :][:3]
    pieces = []
    [c] = engine.generate(
        PYTHON_PROMPT, GenerationOptions(max_new_tokens=30, stop=(stop,)), on_text=lambda i, t: pieces.append(t)
    )
    assert c.finish_reason == "stop"
    assert c.text == full.text[: full.text.find(stop)]
    assert "".join(pieces) == c.text


def test_candidates_share_one_batch_and_greedy_agrees(engine):
    [one] = engine.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=12))
    many = engine.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=12, n=3))
    assert [c.token_ids for c in many] == [one.token_ids] * 3


def test_seeded_sampling_is_reproducible_and_varied(engine):
    options = GenerationOptions(max_new_tokens=16, n=4, temperature=1.0, top_p=0.95, seed=7)
    first = [c.token_ids for c in engine.generate(PYTHON_PROMPT, options)]
    again = [c.token_ids for c in engine.generate(PYTHON_PROMPT, options)]
    assert first == again
    assert len({tuple(t) for t in first}) > 1
    other = [c.token_ids for c in engine.generate(PYTHON_PROMPT, options.with_(seed=8))]
    assert other != first


def test_cancel_event_keeps_what_was_generated(engine):
    cancel = threading.Event()
    seen = []

    def on_text(i, text):
        seen.append(text)
        if len(seen) == 3:
            cancel.set()

    [c] = engine.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=50), on_text=on_text, cancel=cancel)
    assert c.finish_reason == "cancelled"
    assert 3 <= len(c.token_ids) <= 4  # stops within one token step
    assert c.text.startswith("".join(seen))


def test_keyboard_interrupt_is_a_cancel(engine):
    calls = []

    def on_text(i, text):
        calls.append(text)
        if len(calls) == 2:
            raise KeyboardInterrupt

    [c] = engine.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=50), on_text=on_text)
    assert c.finish_reason == "cancelled"
    assert len(c.token_ids) == 2


def test_prompt_longer_than_the_window_is_one_sentence(engine):
    with pytest.raises(RequestError, match="reads at most 256"):
        engine.generate("x = 1\n" * 400, GenerationOptions(max_new_tokens=4))


def test_max_new_tokens_shrinks_to_fit_the_window(engine):
    prompt = "x = 1\n" * 60
    room = engine.context_window - engine.count_tokens(prompt)
    [c] = engine.generate(prompt, GenerationOptions(max_new_tokens=10_000))
    assert len(c.token_ids) <= room


def test_text_stream_holds_back_a_possible_stop_prefix():
    s = TextStream(["</cell>"])
    assert s.update("x = 1\n</") == "x = 1\n"
    assert s.update("x = 1\n</ce") == ""
    assert s.update("x = 1\n</cell>\nmore") == ""
    assert s.stopped and s.text == "x = 1\n"
    s = TextStream(["</cell>"])
    assert s.update("a </") == "a "
    assert s.update("a </b>") == "</b>"
    assert s.finish() == ""


def test_text_stream_waits_for_whole_characters():
    s = TextStream([])
    assert s.update("caf\ufffd") == "caf"
    assert s.update("café") == "é"


def test_sampler_greedy_and_nucleus():
    logits = np.array([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
    assert Sampler()(logits).tolist() == [1, 0]
    tight = Sampler(temperature=1.0, top_p=0.01, seed=0)
    assert all(tight(logits).tolist() == [1, 0] for _ in range(20))
    with pytest.raises(ValueError):
        Sampler(temperature=-1)


def test_asking_for_cuda_without_it_says_where_it_runs(tiny_model):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA: the fallback cannot happen")
    engine = OnnxEngine(tiny_model("codegen"), device="cuda", threads=1)
    assert engine.device == "CPUExecutionProvider"
    assert engine.info.warning.startswith("CodeGen.device is 'cuda' but ONNX Runtime runs on the CPU")


def test_nucleus_sampling_draws_from_the_right_distribution():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]] * 4000))
    counts = np.bincount(Sampler(temperature=1.0, top_p=0.9, seed=3)(logits), minlength=4) / 4000
    assert counts[3] == 0  # outside the nucleus
    assert counts[:3] == pytest.approx(np.array([0.5, 0.3, 0.15]) / 0.95, abs=0.03)


def test_flat_distributions_fall_back_to_the_whole_vocabulary():
    flat = np.zeros((3, 2000), dtype=np.float32)  # the 256-token shortlist holds far less than top_p
    picks = Sampler(temperature=1.0, top_p=0.95, seed=0)(flat)
    assert picks.shape == (3,) and (picks >= 0).all() and len(set(picks.tolist())) > 1


def test_export_keeps_only_the_last_logits_when_generating(engine):
    """The prompt's prefill must not compute vocabulary logits for every position (see graph_edits)."""
    assert engine.io.has_logits_to_keep
    ids = np.array([engine.tokenizer.encode(PYTHON_PROMPT)], dtype=np.int64)
    positions = np.arange(ids.shape[1], dtype=np.int64)[None, :]
    last, _ = engine._forward(ids, np.ones_like(ids), positions, None)
    every, _ = engine._forward(ids, np.ones_like(ids), positions, None, all_logits=True)
    assert last.shape[1] == 1 and every.shape[1] == ids.shape[1]
    np.testing.assert_allclose(last[0, 0], every[0, -1], rtol=1e-5, atol=1e-5)


def test_codegen_export_has_no_cast_copying_the_cache(engine):
    import onnx

    graph = onnx.load(str(engine.folder / "model.onnx"), load_external_data=False).graph
    producers = {out: node.op_type for node in graph.node for out in node.output}
    assert engine.model_type == "codegen"
    assert {producers[o.name] for o in graph.output if o.name.startswith("present.")} == {"Concat"}
