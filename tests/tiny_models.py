"""Tiny random-weight models of each supported family, built from a config on the spot (no hub access).

Each gets a real byte-level BPE tokenizer trained on a little Python source, carrying the family's special
tokens, so format detection, export and generation all run on the same files a real checkpoint has.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

VOCAB_SIZE = 512


@dataclass(frozen=True)
class Family:
    name: str
    bos: str
    eos: str
    specials: tuple[str, ...]
    add_bos_token: bool = False
    pad: str | None = None
    extra_config: dict = field(default_factory=dict)


FAMILIES: dict[str, Family] = {
    "codegen": Family("codegen", "<|endoftext|>", "<|endoftext|>", ("<|endoftext|>",)),
    "gpt2": Family("gpt2", "<|endoftext|>", "<|endoftext|>", ("<|endoftext|>",)),
    "xglm": Family(  # InCoder
        "xglm",
        "<|endoftext|>",
        "<|endoftext|>",
        ("<|endoftext|>", "<pad>", "<|endofmask|>", "<|mask:0|>", "<|mask:1|>", "<|mask:2|>", "<|mask:3|>"),
        pad="<pad>",
    ),
    "gpt_bigcode": Family(  # StarCoder
        "gpt_bigcode",
        "<|endoftext|>",
        "<|endoftext|>",
        ("<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"),
    ),
    "qwen2": Family(  # Qwen2.5-Coder
        "qwen2",
        "<|endoftext|>",
        "<|endoftext|>",
        ("<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|im_start|>", "<|im_end|>"),
    ),
    "llama": Family(  # DeepSeek-Coder
        "llama",
        "<｜begin▁of▁sentence｜>",
        "<｜end▁of▁sentence｜>",
        ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
        add_bos_token=True,
    ),
}


def _training_text() -> list[str]:
    import collections
    import json as json_module
    import textwrap as textwrap_module

    sources = [inspect.getsource(m) for m in (json_module, textwrap_module, collections)]
    sources.append("import pandas as pd\ndf = pd.read_csv('data.csv')\ndf.head()\ndf.groupby('region')['price'].mean()\n")
    return sources


def make_tokenizer(family: Family, folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - 16,
        special_tokens=list(family.specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_text(), trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": family.bos,
        "eos_token": family.eos,
        "pad_token": family.pad or family.eos,
        "add_bos_token": family.add_bos_token,
        "model_max_length": 256,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def model_config(family: Family, bos_id: int, eos_id: int, pad_id: int):
    import transformers as T

    ids = dict(bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    # A wide initialisation spreads the logits, so greedy choices are not near-ties that float noise could flip.
    init = dict(initializer_range=0.3)
    small = dict(vocab_size=VOCAB_SIZE, **ids, **init)
    if family.name == "codegen":
        return T.CodeGenConfig(n_embd=32, n_layer=2, n_head=4, n_positions=256, n_ctx=256, rotary_dim=4, **small)
    if family.name == "gpt2":
        return T.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=256, **small)
    if family.name == "gpt_bigcode":
        return T.GPTBigCodeConfig(n_embd=32, n_layer=2, n_head=4, n_positions=256, multi_query=True, **small)
    if family.name == "qwen2":
        return T.Qwen2Config(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=256, tie_word_embeddings=False, **small,
        )
    if family.name == "llama":
        return T.LlamaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=256, **small,
        )
    if family.name == "xglm":
        return T.XGLMConfig(d_model=32, ffn_dim=64, num_layers=2, attention_heads=4, max_position_embeddings=256, init_std=0.3, **small)
    raise KeyError(family.name)


def make_hf_model(name: str, folder: Path, seed: int = 0) -> Path:
    """A Hugging Face folder (config, safetensors weights, tokenizer) for the family `name`."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    family = FAMILIES[name]
    make_tokenizer(family, folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    config = model_config(family, tok.token_to_id(family.bos), tok.token_to_id(family.eos), tok.token_to_id(family.pad or family.eos))
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.eval()
    model.save_pretrained(folder)
    return folder


def make_tiny_model(name: str, folder: Path, quantization: str = "none") -> Path:
    """An exported ONNX folder for the family `name`, made through the project's own export path."""
    from jupyter_codegen.export import export_model

    hf = make_hf_model(name, folder / "hf")
    return export_model(hf, folder / "onnx", quantization=quantization, progress=False)


PYTHON_PROMPT = textwrap.dedent(
    """\
    import json

    def load(path):
        with open(path) as f:
    """
)
