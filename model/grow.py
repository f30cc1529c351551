"""Makes a deeper checkpoint from a trained one that computes the same function (depth growth).

    python -m model.grow CHECKPOINT --out DIR --after 1 3 5 7 [--init zero|split]

Every run since step 2074 left the held-out share where it was while the generator's own conversations kept
improving; a question that only a larger model answers is whether capacity is what the unseen tables lack. Training a
larger model from scratch costs every hour the small one has had. Growing it keeps them: each layer named by
`--after` gets a copy inserted right after it whose attention and MLP output projections are zero, so the copy adds
nothing to the residual stream and the grown model's logits equal the original's (Gong et al. 2019, "Efficient
training of BERT by progressively stacking", grew by copying layers; zeroing the copies' outputs keeps the function
exact, as in Chen et al. 2016, "Net2Net"). The copies' other weights start as trained features, and the zero
projections get gradients at once because their inputs are not zero. The result is an ordinary checkpoint that
`model.train --resume` continues (with a fresh optimizer: the shapes changed) and `model.ship` exports.

Zeroed copies engage slowly: after 170 steps at a learning rate of 2e-4 their output weights were a twentieth of
the others' and the training loss was that of the small model to 0.001. `--init split` instead halves the output
projections of a copied layer and of its copy, so each writes half of what the layer wrote: the function is then
only nearly the same (the copy reads the residual stream after the first half), and both train at full strength.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from .average import STATE_FILE, WEIGHTS_FILE

CONFIG_FILE = "config.json"
OUTPUTS = ("self_attn.o_proj.weight", "mlp.down_proj.weight")
"""A layer's writes into the residual stream: zero in an inserted copy (init zero), halved in a copied layer and its copy (split)."""

_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


def layer_plan(layers: int, after: Sequence[int]) -> list[tuple[int, bool]]:
    """For each layer of the grown model: (the original layer it is made from, whether it is an inserted copy)."""
    wanted = sorted(set(after))
    if not wanted:
        raise ValueError("Name at least one layer to copy (--after).")
    if wanted[0] < 0 or wanted[-1] >= layers:
        raise ValueError(f"Layers to copy must lie in 0..{layers - 1}; got {wanted}.")
    plan: list[tuple[int, bool]] = []
    for i in range(layers):
        plan.append((i, False))
        if i in wanted:
            plan.append((i, True))
    return plan


INITS = ("zero", "split")


def grow(checkpoint: Path, out: Path, after: Sequence[int], init: str = "zero") -> dict:
    """Writes the grown checkpoint to `out`; returns the provenance recorded under "grown" in its trainer state.
    `init`: "zero" (copies write nothing: the same function) or "split" (a copied layer and its copy write half each)."""
    import torch
    from safetensors.torch import load_file, save_file

    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, not {init!r}.")
    checkpoint, out = Path(checkpoint), Path(out)
    config = json.loads((checkpoint / CONFIG_FILE).read_text(encoding="utf-8"))
    layers = int(config["num_hidden_layers"])
    plan = layer_plan(layers, after)
    weights = load_file(str(checkpoint / WEIGHTS_FILE))
    grown: dict[str, torch.Tensor] = {}
    by_layer: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in weights.items():
        m = _LAYER.match(name)
        if m:
            by_layer.setdefault(int(m.group(1)), {})[m.group(2)] = tensor
        else:
            grown[name] = tensor
    if sorted(by_layer) != list(range(layers)):
        raise ValueError(f"{checkpoint} does not hold layers 0..{layers - 1} as its config says.")
    copied = set(after)
    for new_index, (source, inserted) in enumerate(plan):
        for part, tensor in by_layer[source].items():
            value = tensor.clone()
            if part in OUTPUTS and init == "zero" and inserted:
                value = torch.zeros_like(tensor)
            elif part in OUTPUTS and init == "split" and source in copied:
                value = (tensor.float() * 0.5).to(tensor.dtype)
            grown[f"model.layers.{new_index}.{part}"] = value
    out.mkdir(parents=True, exist_ok=True)
    for item in checkpoint.iterdir():
        if item.is_file() and item.name not in (WEIGHTS_FILE, CONFIG_FILE, STATE_FILE):
            shutil.copy2(item, out / item.name)
    save_file({k: v.contiguous() for k, v in grown.items()}, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    config["num_hidden_layers"] = len(plan)
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    state = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8")) if (checkpoint / STATE_FILE).is_file() else {}
    state.pop("data", None)  # the data order and optimizer belonged to the smaller model
    parameters = sum(t.numel() for t in grown.values())
    embedding = sum(t.numel() for n, t in grown.items() if "embed_tokens" in n)
    provenance = {"checkpoint": str(checkpoint), "step": state.get("step"), "layers": layers,
                  "copied_after": sorted(copied), "to_layers": len(plan), "init": init}
    state.update(parameters=parameters, parameters_without_embeddings=parameters - embedding)
    state["grown"] = provenance
    (out / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return {"grown": provenance, "parameters": parameters}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.grow", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--after", type=int, nargs="+", required=True, help="layers (from 0) that get a copy after them")
    p.add_argument("--init", choices=INITS, default="zero",
                   help="zero: copies write nothing (the same function); split: a layer and its copy write half each")
    a = p.parse_args(argv)
    try:
        report = grow(a.checkpoint, a.out, a.after, a.init)
    except (ValueError, FileNotFoundError) as error:
        p.error(str(error))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
