"""A tiny random-weight Llama as a GGUF file, for the opt-in tests against llama-cpp-python's server.

The model is `tiny_models`' Llama (DeepSeek-Coder tokens), converted by llama.cpp's own convert_hf_to_gguf.py
(found in a llama.cpp source tree, e.g. the vendor/llama.cpp folder of the llama-cpp-python sdist). Two things are
told to the converter because the tokenizer is home-made: it is a GPT-2-style BPE tokenizer (no sentencepiece
model), and its pre-tokenizer, which no known checksum matches, is GPT-2's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_CONVERT = """
import runpy, sys
source, hf, out = sys.argv[1:4]
sys.path.insert(0, source)
sys.argv = ["convert_hf_to_gguf.py", hf, "--outfile", out, "--outtype", "f32"]
import conversion.base, conversion.llama
conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
conversion.llama.LlamaModel.set_vocab = lambda self: self._set_vocab_gpt2()
runpy.run_path(source + "/convert_hf_to_gguf.py", run_name="__main__")
"""


def make_tiny_gguf(folder: Path, llama_cpp_source: Path) -> Path:
    """folder/tiny-llama.gguf, made once; needs the export extra (torch, transformers) in this interpreter."""
    from tiny_models import make_hf_model

    out = folder / "tiny-llama.gguf"
    if out.is_file():
        return out
    hf = make_hf_model("llama", folder / "hf")
    result = subprocess.run(
        [sys.executable, "-c", _CONVERT, str(llama_cpp_source), str(hf), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"GGUF conversion failed:\n{result.stderr[-3000:]}")
    return out
