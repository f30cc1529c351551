"""The embedded default model as a user gets it: in the wheel, loadable with no torch, answering quickly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs in the fresh environment: a real IPython shell, the real magic, the shipped model; prints timings as JSON.
PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
cfg = Config(); cfg.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell(config=cfg)
shell.run_cell("%load_ext jupyter_codegen")
shell.run_cell("import pandas as pd\ndf = pd.DataFrame({'region': ['N', 'S', 'N'], 'revenue': [1.0, 2.0, 3.0]})")
shell.run_cell(f"%config CodeGen.conversation_dir = {sys.argv[1]!r}")
shell.run_cell("%config CodeGen.max_new_tokens = 48")
from jupyter_codegen.model_store import load_engine
t1 = time.perf_counter()
load_engine("default")
t2 = time.perf_counter()
result = shell.run_cell("%%codegen\ntotal revenue by region\n")
t3 = time.perf_counter()
print(json.dumps({
    "torch": "torch" in sys.modules,
    "ok": result.success,
    "load_s": t2 - t1,
    "answer_s": t3 - t2,
    "code": shell.rl_next_input,  # what set_next_input proposes outside a kernel
}))
"""


@pytest.mark.slow
def test_the_wheel_carries_the_model_and_it_answers_without_torch(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheel_dir), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(wheel_dir.glob("jupyter_codegen-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "jupyter_codegen/default_model/model.onnx" in names
    assert "jupyter_codegen/default_model/tokenizer.json" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # A bare install (no extras) plus pandas for the example table; nothing here may pull torch in.
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel), "pandas"], check=True, capture_output=True)
    has_torch = subprocess.run([str(python), "-c", "import torch"], capture_output=True)
    assert has_torch.returncode != 0, "a bare install must not need torch"

    out = subprocess.run([str(python), "-c", PROBE, str(tmp_path / "conv")], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["ok"] and not report["torch"]
    assert report["code"] and report["code"].strip()
    # Speed is measured in benchmarks/latency_default.py, not asserted here.
    print(f"load {report['load_s']:.2f} s, answer {report['answer_s']:.2f} s: {report['code']!r}")
