"""Training mechanics (model/train.py): packing with causal masking, the schedule, checkpoints and resume."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model import tokenizer as mtok  # noqa: E402
from jupyter_codegen.objective import CausalMasking, Specials  # noqa: E402
from model.smoke import stdlib_documents  # noqa: E402
from model.train import (  # noqa: E402
    CodeTargets,
    Packer,
    Settings,
    TokenSource,
    learning_rate,
    load_sources,
    token_bytes,
    train,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    work = tmp_path_factory.mktemp("train")
    data = stdlib_documents(work / "docs.jsonl", ("json.decoder", "textwrap", "csv", "statistics", "heapq", "bisect"))
    notebooks = work / "nb.jsonl"
    with notebooks.open("w") as f:
        for i in range(40):
            text = (
                f"<| file ext=.ipynb:python |>\n<text>\nShow row {i}.\n</text>\n<cell>\ndf.iloc[{i}]\n</cell>\n"
                f"<output>\nprice    {i}.5\n</output>\n"
            )
            f.write(json.dumps({"text": text}) + "\n")
    sample, _ = mtok.sample_texts([data, notebooks], 10**7)
    tok = mtok.train_tokenizer(sample, vocab_size=700)
    mtok.save_tokenizer(tok, work / "tok", 64)
    return work, [f"{data}:0.7", f"{notebooks}:0.3"], tok


def _sources(tok):
    rng = np.random.default_rng(0)
    docs = [rng.integers(100, 600, size=int(n)) for n in rng.integers(1, 300, size=50)]
    starts = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    return [TokenSource("a", 1.0, np.concatenate(docs).astype(np.uint16), starts, 0)]


def test_packer_fills_windows_and_keeps_every_masked_segment_whole(setup):
    _, _, tok = setup
    specials = Specials.from_tokenizer(tok)
    packer = Packer(_sources(tok), seq_len=512, rows=4, masking=CausalMasking(specials, p=0.5), seed=3, tokenizer=tok)
    seen_masked = 0
    for _ in range(30):
        tokens, targets = packer.batch()
        assert tokens.shape == (4, 512) and targets.shape == (4, 512)
        for row, keep in zip(tokens, targets):
            sentinel = np.isin(row, specials.masks)
            assert not keep[sentinel].any() and keep[~sentinel].all()
            # inside one window every masked segment is complete: as many <|endofmask|> as spans, each span's
            # sentinel appearing twice (in place and in the tail) plus one extra sentinel per segment
            k_total = int((row == specials.endofmask).sum())
            assert int(sentinel.sum()) == 2 * k_total + _segments_with_spans(row, specials)
            seen_masked += k_total > 0
    assert seen_masked > 20
    # p = 0.5 of the segments, a little less where a segment is too short to mask
    assert 0.3 < packer.masked_tokens / packer.packed_tokens < 0.6


def _segments_with_spans(row, specials):
    """Masked segments in a window: each has exactly one extra sentinel <|mask:k|> right before its tail."""
    count, i, masks = 0, 0, list(specials.masks)
    row = row.tolist()
    while i < len(row):
        if row[i] in masks and i + 1 < len(row) and row[i + 1] == masks[0] and row[i] != masks[0]:
            count += 1
        i += 1
    return count


def test_packer_state_round_trips(setup):
    _, _, tok = setup
    specials = Specials.from_tokenizer(tok)
    make = lambda: Packer(_sources(tok), seq_len=64, rows=2, masking=CausalMasking(specials, p=0.5), seed=9, tokenizer=tok)  # noqa: E731
    a = make()
    for _ in range(7):
        a.batch()
    state = json.loads(json.dumps(a.state()))
    b = make()
    b.load_state(state)
    for _ in range(5):
        ta, ka = a.batch()
        tb, kb = b.batch()
        assert (ta == tb).all() and (ka == kb).all()


def test_documents_start_with_endoftext_and_weights_are_token_shares(setup):
    work, sources, tok = setup
    specials = Specials.from_tokenizer(tok)
    loaded = load_sources(sources, tok, heldout=False, cache=work / "cache")
    packer = Packer(loaded, seq_len=256, rows=1, masking=CausalMasking(specials, p=0.0), seed=0, tokenizer=tok)
    tokens, _ = packer.batch()
    text = tok.decode(tokens[0].tolist(), skip_special_tokens=False)
    assert "<|endoftext|><| file ext=" in text
    assert loaded[0].documents > 0 and loaded[1].documents > 0
    assert abs(packer.choice.sum() - 1) < 1e-9
    table = token_bytes(tok, 768)
    assert table[specials.endoftext] == 0 and table[tok.token_to_id("<cell>")] == 6


def test_code_targets_are_the_cells_code_and_their_closing_tag(setup):
    _, _, tok = setup
    text = (
        "<| file ext=.ipynb:python |>\n<cell>\nimport pandas as pd\n</cell>\n<text>\nmean price per region\n</text>\n"
        "<cell>\ndf.groupby(\"region\")[\"price\"].mean()\n</cell>\n<output>\nnorth    3.5\n</output>\n"
    )
    body = np.array(tok.encode(text, add_special_tokens=False).ids)
    keep = CodeTargets(tok)(body)
    scored = tok.decode(body[keep].tolist(), skip_special_tokens=False)
    assert scored == '\nimport pandas as pd\n</cell>\ndf.groupby("region")["price"].mean()\n</cell>'
    assert CodeTargets(tok)(np.array(tok.encode("def f():\n    return 1\n", add_special_tokens=False).ids)) is None


def test_code_notebook_loss_scores_only_code_in_left_to_right_notebook_segments(setup):
    work, sources, tok = setup
    specials = Specials.from_tokenizer(tok)
    loaded = load_sources(sources, tok, heldout=False, cache=work / "cache")
    cell, close = tok.token_to_id("<cell>"), tok.token_to_id("</cell>")
    text_tags = [tok.token_to_id(t) for t in ("<text>", "</text>", "<output>", "</output>")]
    packer = Packer(loaded, seq_len=256, rows=2, masking=CausalMasking(specials, p=0.0), seed=0, tokenizer=tok,
                    notebook_loss="code")
    seen = {"notebook": 0, "source": 0}
    for _ in range(60):
        for row, keep in zip(*packer.batch()):
            text = tok.decode(row[keep].tolist(), skip_special_tokens=False)
            assert "Show row" not in text and "price" not in text  # requests and outputs are never scored
            assert not keep[np.isin(row, text_tags + [cell])].any()
            assert keep[row == close].all()
            seen["notebook"] += int("df.iloc[" in text)
            seen["source"] += int(not np.isin(row, [cell, close]).any() and keep.all())  # source files: every token
    assert seen["notebook"] and seen["source"]
    with pytest.raises(ValueError, match="notebook_loss"):
        Packer(loaded, seq_len=256, rows=2, masking=CausalMasking(specials, p=0.0), seed=0, tokenizer=tok,
               notebook_loss="answers")


def test_learning_rate_schedule():
    assert learning_rate(0, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate(9, 1.0, 10, 100, 0.1) == pytest.approx(1.0)
    assert learning_rate(55, 1.0, 10, 100, 0.1) == pytest.approx(0.55)
    assert learning_rate(100, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate(500, 1.0, 10, 100, 0.1) == pytest.approx(0.1)
    assert learning_rate(50, 1.0, 10, 100, 0.1, rewarm_from=50, rewarm=10) == pytest.approx(learning_rate(50, 1.0, 10, 100, 0.1) / 10)


def test_a_rewarm_peak_climbs_to_it_and_decays_to_the_same_floor_by_the_horizon():
    def lr(step):
        return learning_rate(step, 1.0, 10, 100, 0.1, rewarm_from=80, rewarm=5, rewarm_peak=0.5)

    assert lr(79) == pytest.approx(learning_rate(79, 1.0, 10, 100, 0.1))  # before the re-warmup: the first cosine
    assert lr(80) == pytest.approx(0.1) and lr(84) == pytest.approx(0.5)
    assert lr(84) > lr(90) > lr(99) > lr(100) == pytest.approx(0.1) == lr(300)
    assert lr(84) > 2 * learning_rate(84, 1.0, 10, 100, 0.1)  # the point: well above the old cosine's tail


def _settings(work, sources, name, **kw):
    base = dict(
        data=sources, tokenizer=str(work / "tok"), out=str(work / name / "ckpt"), state=str(work / name / "state"),
        cache=str(work / "cache"), size="tiny", seq_len=64, micro_batch=2, accum=2, lr=3e-3, warmup=2,
        total_steps=8, hours=0.05, threads=2, log_every=1, eval_every=3, eval_tokens=256, save_minutes=60.0,
    )
    base.update(kw)
    return Settings(**base)


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _log_steps(path):
    with open(path, newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_resume_is_exact_on_the_same_machine_and_keeps_step_on_a_fresh_one(setup):
    work, sources, _ = setup
    straight = train(_settings(work, sources, "straight", max_steps=6))
    train(_settings(work, sources, "split", max_steps=3))
    resumed = train(_settings(work, sources, "split", max_steps=6, resume=True))
    assert straight["step"] == resumed["step"] == 6
    a, b = _weights(work / "straight" / "ckpt"), _weights(work / "split" / "ckpt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _log_steps(work / "split" / "ckpt" / "train_log.csv") == list(range(1, 7))
    ckpt = work / "split" / "ckpt"
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "trainer_state.json"} <= {
        p.name for p in ckpt.iterdir()
    }
    assert not any(p.suffix == ".pt" for p in ckpt.iterdir())  # optimizer state lives in the state folder only
    config = json.loads((ckpt / "config.json").read_text())
    assert config["tie_word_embeddings"] and config["model_type"] == "llama"
    assert "lm_head.weight" not in a  # tied: stored once
    assert all(t.dtype == torch.bfloat16 for t in a.values())  # small: bf16 on disk

    # a fresh machine: the committed checkpoint only, no optimizer state
    shutil.rmtree(work / "split" / "state")
    fresh = train(_settings(work, sources, "split", max_steps=8, resume=True))
    assert fresh["step"] == 8 and fresh["rewarm_from"] == 6
    assert _log_steps(ckpt / "train_log.csv") == list(range(1, 9))


def test_extending_a_finished_horizon_rewarms_instead_of_jumping_up_the_new_cosine(setup):
    work, sources, _ = setup
    first = train(_settings(work, sources, "extend", max_steps=4, total_steps=4))
    assert first["step"] == 4 and first["rewarm_from"] == -1
    longer = train(_settings(work, sources, "extend", max_steps=6, total_steps=10, resume=True))
    assert longer["step"] == 6 and longer["total_steps"] == 10 and longer["rewarm_from"] == 4
    with open(work / "extend" / "ckpt" / "train_log.csv", newline="") as f:
        lrs = {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f)}
    assert lrs[5] < lrs[4] * 2  # no jump: the first step after the old horizon starts low again


def test_a_restart_with_a_rewarm_peak_keeps_that_schedule_when_resumed_again(setup):
    work, sources, _ = setup
    train(_settings(work, sources, "peak", max_steps=3, total_steps=10))
    shutil.rmtree(work / "peak" / "state")  # a fresh machine: AdamW restarts
    restarted = train(_settings(work, sources, "peak", max_steps=5, total_steps=10, rewarm=2, rewarm_peak=1e-2,
                                resume=True))
    assert restarted["rewarm_from"] == 3 and restarted["rewarm_peak"] == 1e-2
    again = train(_settings(work, sources, "peak", max_steps=7, total_steps=10, rewarm=2, resume=True))
    assert again["rewarm_peak"] == 1e-2  # the schedule is the checkpoint's, not this call's default
    with open(work / "peak" / "ckpt" / "train_log.csv", newline="") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert max(lrs) == pytest.approx(1e-2)  # above the first cosine's 3e-3 peak: the re-warmup went to its own
    assert lrs[-1] < max(lrs)  # and decays from there
    with pytest.raises(SystemExit, match="rewarm-peak"):
        train(_settings(work, sources, "peak", max_steps=8, total_steps=10, rewarm_peak=5e-3, resume=True))


def test_the_notebook_loss_is_the_checkpoints_on_resume_unless_given(setup):
    work, sources, _ = setup
    first = train(_settings(work, sources, "nbloss", max_steps=2, notebook_loss="code"))
    assert first["settings"]["notebook_loss"] == "code"
    kept = train(_settings(work, sources, "nbloss", max_steps=3, resume=True))
    assert kept["settings"]["notebook_loss"] == "code"
    changed = train(_settings(work, sources, "nbloss", max_steps=4, resume=True, notebook_loss="all"))
    assert changed["settings"]["notebook_loss"] == "all"
    assert train(_settings(work, sources, "nbloss-default", max_steps=1))["settings"]["notebook_loss"] == "all"


def test_bf16_autocast_is_chosen_by_the_cpu_unless_asked_for():
    import argparse

    from model.train import add_bf16_argument, bf16_choice, native_bf16, use_bf16

    p = argparse.ArgumentParser()
    add_bf16_argument(p)
    assert bf16_choice(p.parse_args([])) is None  # decided when training starts
    assert bf16_choice(p.parse_args(["--bf16", "on"])) is True
    assert bf16_choice(p.parse_args(["--bf16", "off"])) is False
    assert bf16_choice(p.parse_args(["--no-bf16"])) is False
    assert use_bf16(True) is True and use_bf16(False) is False and use_bf16(None) == native_bf16()
    if torch.backends.cpu.get_cpu_capability() in ("DEFAULT", "AVX2"):
        assert not native_bf16()  # no AVX512 at all: bf16 could only be emulated (this machine, 2026-12-02)


def test_the_device_is_the_gpu_only_where_torch_sees_one():
    from model.train import parse_args, resolve_device, use_bf16

    assert parse_args(["--data", "x.jsonl"])[0].device == "auto"
    assert parse_args(["--data", "x.jsonl", "--device", "cpu"])[0].device == "cpu"
    assert resolve_device("cpu") == "cpu"
    assert use_bf16(False, "cuda") is False  # an explicit choice wins on any device
    if torch.cuda.is_available():
        assert resolve_device("auto") == "cuda"
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(SystemExit, match="sees no CUDA GPU"):
            resolve_device("cuda")


def test_a_data_source_may_be_the_folder_its_generator_wrote(tmp_path):
    from model.docs import parse_source

    (tmp_path / "synth.jsonl").write_text("{}\n")
    assert parse_source(f"{tmp_path}:0.7") == (tmp_path / "synth.jsonl", 0.7)
    assert parse_source(str(tmp_path / "synth.jsonl")) == (tmp_path / "synth.jsonl", 1.0)
    (tmp_path / "other.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="give the file itself"):
        parse_source(str(tmp_path))


def test_averaged_checkpoints_are_the_weighted_mean_and_ship_like_any_checkpoint(setup, tmp_path):
    """WiSE-FT / model soups (model/average.py): a start and its descendant, averaged tensor by tensor."""
    from model.average import average

    work, sources, _ = setup
    train(_settings(work, sources, "soup_start", max_steps=2))
    start = tmp_path / "start"
    shutil.copytree(work / "soup_start" / "ckpt", start)
    train(_settings(work, sources, "soup_start", max_steps=4, resume=True))
    later = work / "soup_start" / "ckpt"
    report = average([start, later], tmp_path / "mean", [1.0, 3.0])
    assert [(p["step"], p["weight"]) for p in report["averaged"]] == [(2, 0.25), (4, 0.75)]
    a, b, mean = _weights(start), _weights(later), _weights(tmp_path / "mean")
    assert mean.keys() == a.keys()
    for key in a:
        expected = (0.25 * a[key].float() + 0.75 * b[key].float()).to(torch.bfloat16)
        assert mean[key].dtype == torch.bfloat16 and torch.equal(mean[key], expected), key
    assert not torch.equal(mean["model.embed_tokens.weight"], b["model.embed_tokens.weight"])
    state = json.loads((tmp_path / "mean" / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["averaged"] == report["averaged"] and "data" not in state
    assert (tmp_path / "mean" / "tokenizer.json").is_file() and (tmp_path / "mean" / "config.json").is_file()
    # the average loads as a model
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(tmp_path / "mean")
    # and ships with its parts in the export's provenance
    from model.ship import ship

    ship(tmp_path / "mean", tmp_path / "shipped", verify=False, progress=False)
    assert json.loads((tmp_path / "shipped" / "export.json").read_text())["averaged"] == report["averaged"]
    with pytest.raises(ValueError, match="one non-negative weight per checkpoint"):
        average([start, later], tmp_path / "bad", [1.0])


def test_grown_checkpoint_computes_the_same_logits_then_trains_and_ships(setup, tmp_path):
    """Depth growth (model/grow.py): inserted copies write nothing at first, so the deeper model is the same function."""
    from transformers import AutoModelForCausalLM

    from model.grow import grow, layer_plan

    assert layer_plan(4, [3, 1]) == [(0, False), (1, False), (1, True), (2, False), (3, False), (3, True)]
    with pytest.raises(ValueError, match="must lie in 0..3"):
        layer_plan(4, [4])
    work, sources, _ = setup
    train(_settings(work, sources, "grow_start", max_steps=3))
    start = work / "grow_start" / "ckpt"
    report = grow(start, tmp_path / "grown", [0])
    assert report["grown"]["to_layers"] == 3 and report["grown"]["step"] == 3
    small = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32).eval()
    big = AutoModelForCausalLM.from_pretrained(tmp_path / "grown", dtype=torch.float32).eval()
    assert big.config.num_hidden_layers == small.config.num_hidden_layers + 1
    ids = torch.randint(0, small.config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(small(ids).logits, big(ids).logits, atol=1e-5)
    inserted = _weights(tmp_path / "grown")
    assert not inserted["model.layers.1.self_attn.o_proj.weight"].any()
    assert torch.equal(inserted["model.layers.1.self_attn.q_proj.weight"], inserted["model.layers.0.self_attn.q_proj.weight"])
    # it trains on from its step with a fresh optimizer, and the copies start to write
    grown_run = work / "grown_run"
    shutil.copytree(tmp_path / "grown", grown_run / "ckpt")
    state = train(_settings(work, sources, "grown_run", max_steps=5, resume=True))
    assert state["step"] == 5 and state["parameters"] == report["parameters"] and state["grown"] == report["grown"]
    assert _weights(grown_run / "ckpt")["model.layers.1.self_attn.o_proj.weight"].any()
    from model.ship import ship

    ship(grown_run / "ckpt", tmp_path / "shipped", verify=False, progress=False)
    assert json.loads((tmp_path / "shipped" / "config.json").read_text())["num_hidden_layers"] == 3
    assert json.loads((tmp_path / "shipped" / "export.json").read_text())["grown"] == report["grown"]


def test_split_growth_halves_what_a_copied_layer_and_its_copy_write(setup, tmp_path):
    from model.grow import grow

    work, sources, _ = setup
    start = work / "grow_start" / "ckpt"
    if not start.is_dir():
        train(_settings(work, sources, "grow_start", max_steps=3))
    report = grow(start, tmp_path / "split", [1], init="split")
    assert report["grown"]["init"] == "split" and report["grown"]["to_layers"] == 3
    before, after = _weights(start), _weights(tmp_path / "split")
    for part in ("self_attn.o_proj.weight", "mlp.down_proj.weight"):
        half = (before[f"model.layers.1.{part}"].float() * 0.5).to(torch.bfloat16)
        assert torch.equal(after[f"model.layers.1.{part}"], half) and torch.equal(after[f"model.layers.2.{part}"], half)
        assert torch.equal(after[f"model.layers.0.{part}"], before[f"model.layers.0.{part}"])  # not copied: unchanged
    assert torch.equal(after["model.layers.2.mlp.up_proj.weight"], before["model.layers.1.mlp.up_proj.weight"])
    with pytest.raises(ValueError, match="init must be one of"):
        grow(start, tmp_path / "bad", [0], init="noise")
