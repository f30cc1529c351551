"""Training speed of the model sizes on this machine: tokens/s of forward + backward + AdamW steps.

    python -m model.sweep                                # the size presets at an 8k vocabulary
    python -m model.sweep --sizes 9m --vocabs 4096,8192,16384
    python -m model.sweep --sizes 9m --seq-lens 512,1024

Speed does not depend on the text, so the windows are random token ids. Each configuration runs `--seconds` of
steps after two warm-up steps. "head share" is the output layer's share of the forward multiply-adds per token
(vocab x hidden against the rest, attention over the window included).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence

from jupyter_codegen.objective import Specials

# OpenMP threads that spin while they wait for each other collapse when another process takes one of the two
# cores (measured here, 9m model, both cores busy elsewhere: 575 tokens/s spinning, 3,443 passive). libgomp reads
# this when torch loads it, so it is set before any torch import; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from .train import SIZES, add_bf16_argument, bf16_choice, count_parameters, model_config, use_bf16


def forward_macs_per_token(config, seq_len: int) -> tuple[float, float]:
    """(all, output layer) multiply-adds per token of one forward pass, attention scores at the mean position."""
    d, layers, ff, v = config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.vocab_size
    per_layer = 4 * d * d + 3 * d * ff + 2 * d * (seq_len / 2)
    return layers * per_layer + d * v, d * v


def measure(size: str, vocab: int, seq_len: int, micro_batch: int, seconds: float, threads: int, bf16: bool) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from transformers import LlamaForCausalLM

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    specials = Specials(endoftext=0, endofmask=2, masks=tuple(range(3, 35)), pad=1)
    config = model_config(vocab, size, seq_len, specials)
    model = LlamaForCausalLM(config)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    rng = np.random.default_rng(0)
    total, body = count_parameters(model)

    def step():
        x = torch.from_numpy(rng.integers(0, config.vocab_size, (micro_batch, seq_len)))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=x, use_cache=False).logits
        loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    load_before = os.getloadavg()[0]
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or steps < 2:
        step()
        steps += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    macs, head = forward_macs_per_token(config, seq_len)
    return {
        "size": size,
        "params_M": round(total / 1e6, 2),
        "body_M": round(body / 1e6, 2),
        "vocab": config.vocab_size,
        "seq_len": seq_len,
        "tokens_per_s": round(steps * micro_batch * seq_len / elapsed),
        "head_share": round(head / macs, 3),
        "steps": steps,
        # CPU time this process got per thread and wall second: well below 1 means other processes shared the
        # cores (and OpenMP threads waited on each other), so tokens/s is lower than on an idle machine.
        "cpu_share": round(cpu / (elapsed * threads), 2),
        "load_before": round(load_before, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="5m,9m,16m,24m")
    p.add_argument("--vocabs", default="8192")
    p.add_argument("--seq-lens", default="1024")
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=2)
    add_bf16_argument(p)
    a = p.parse_args(argv)
    bf16 = use_bf16(bf16_choice(a))
    rows = []
    for size in a.sizes.split(","):
        if size not in SIZES:
            p.error(f"unknown size {size}; choose from {', '.join(SIZES)}")
        for vocab in (int(v) for v in a.vocabs.split(",")):
            for seq_len in (int(n) for n in a.seq_lens.split(",")):
                row = measure(size, vocab, seq_len, a.micro_batch, a.seconds, a.threads, bf16)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print("| size | params (M) | without embeddings (M) | vocab | window | tokens/s | output layer share | cpu share |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['params_M']} | {r['body_M']} | {r['vocab']} | {r['seq_len']} | {r['tokens_per_s']:,} "
              f"| {r['head_share']:.0%} | {r['cpu_share']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
