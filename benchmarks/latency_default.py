"""How long a user waits for the embedded model on this machine: loading it, and a `%%codegen` answer.

Each run is a fresh process (a cold start, as after a kernel restart) with a real IPython shell and the real
magic on a small DataFrame: time to load the model, time from running the cell to the inserted code, time to the
first streamed token. Medians over `--runs`; run it on an idle machine.

    python benchmarks/latency_default.py [--model default] [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REQUESTS = ["total revenue by region", "show the first rows", "histogram of revenue"]

PROBE = r"""
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
cfg = Config(); cfg.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell(config=cfg)
shell.run_cell("%load_ext jupyter_codegen")
shell.run_cell("import pandas as pd\ndf = pd.DataFrame({'region': ['N', 'S', 'N'], 'revenue': [1.0, 2.0, 3.0]})")
model, threads, conv, requests = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
shell.run_cell(f"%config CodeGen.conversation_dir = {conv!r}")
shell.run_cell(f"%config CodeGen.model = {model!r}")
shell.run_cell(f"%config CodeGen.threads = {threads}")
magics = shell.magics_manager.registry["CodeGenMagics"]
t0 = time.perf_counter(); engine = magics._engine(None); load_s = time.perf_counter() - t0
first = []
original = engine.generate
def timed(prompt, options, on_text=None, cancel=None):
    start = time.perf_counter(); seen = []
    def hook(i, d):
        if not seen: seen.append(time.perf_counter() - start)
        if on_text: on_text(i, d)
    out = original(prompt, options, hook, cancel); first.append(seen[0] if seen else None); return out
engine.generate = timed
answers = []
for request in requests:
    t = time.perf_counter(); shell.run_cell("%%codegen\n" + request + "\n"); answers.append(time.perf_counter() - t)
print(json.dumps({"load_s": load_s, "answer_s": answers, "first_token_s": first}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    loads, answers, firsts = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [sys.executable, "-c", PROBE, args.model, str(args.threads), tmp, json.dumps(REQUESTS)],
                check=True, capture_output=True, text=True, cwd=tmp, env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        loads.append(row["load_s"])
        answers += row["answer_s"]
        firsts += [f for f in row["first_token_s"] if f is not None]
    med = statistics.median
    print(f"model {args.model}, {args.threads} threads, {args.runs} cold starts x {len(REQUESTS)} requests (medians):")
    print(f"  load {med(loads):.3f} s; %%codegen cell to inserted code {med(answers):.3f} s; "
          f"first token {med(firsts):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
