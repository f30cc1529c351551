"""Averages the weights of checkpoints that grew from one starting point (WiSE-FT, model soups).

    python -m model.average --out DIR CKPT_A CKPT_B [CKPT_C ...] [--weights 0.5 0.5 ...]

Every run trained on from step 2074 learned the generator's world better and unseen tables no better or worse.
Wortsman et al. (2022, "Robust fine-tuning of zero-shot models", WiSE-FT; and "Model soups") found that averaging
a model's weights with those of its fine-tuned descendants keeps much of what the fine-tuning gained while keeping
the robustness of the start on data neither was tuned for; it works where the checkpoints share a starting point,
so their weights lie in one basin. The result is an ordinary checkpoint (`model.ship` exports it); its
trainer_state.json is the last checkpoint's, with the parts and their weights recorded under "averaged".
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.json"


def average(checkpoints: Sequence[Path], out: Path, weights: Sequence[float] | None = None) -> dict:
    """Writes the weighted mean of the checkpoints' weights to `out`, with the other files of the last checkpoint.
    Returns the provenance written to `out/trainer_state.json` under "averaged"."""
    from safetensors.torch import load_file, save_file

    checkpoints = [Path(c) for c in checkpoints]
    if len(checkpoints) < 2:
        raise ValueError("Give two or more checkpoints to average.")
    weights = list(weights) if weights is not None else [1.0 / len(checkpoints)] * len(checkpoints)
    if len(weights) != len(checkpoints) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("Give one non-negative weight per checkpoint, not all zero.")
    weights = [w / sum(weights) for w in weights]
    configs = [json.loads((c / "config.json").read_text(encoding="utf-8")) for c in checkpoints]
    if any(config != configs[0] for config in configs[1:]):
        raise ValueError("The checkpoints have different configs; only one architecture's weights can be averaged.")
    parts = [load_file(str(c / WEIGHTS_FILE)) for c in checkpoints]
    for c, part in zip(checkpoints[1:], parts[1:]):
        if part.keys() != parts[0].keys() or any(part[k].shape != parts[0][k].shape for k in part):
            raise ValueError(f"{c} holds other tensors than {checkpoints[0]}; they cannot be averaged.")
    mean = {name: sum(w * part[name].float() for w, part in zip(weights, parts)).to(parts[0][name].dtype)
            for name in parts[0]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    last = checkpoints[-1]
    for item in last.iterdir():
        if item.is_file() and item.name not in (WEIGHTS_FILE, STATE_FILE):
            shutil.copy2(item, out / item.name)
    save_file({k: v.contiguous() for k, v in mean.items()}, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    states = [json.loads((c / STATE_FILE).read_text(encoding="utf-8")) if (c / STATE_FILE).is_file() else {}
              for c in checkpoints]
    provenance = [{"checkpoint": str(c), "step": s.get("step"), "run_id": s.get("run_id"), "weight": round(w, 6)}
                  for c, s, w in zip(checkpoints, states, weights)]
    state = dict(states[-1])
    state.pop("data", None)  # a data order belongs to one run: an average is not resumed, it is shipped
    state["averaged"] = provenance
    (out / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return {"averaged": provenance}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.average", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", type=float, nargs="+", help="one per checkpoint (default: equal)")
    a = p.parse_args(argv)
    try:
        report = average(a.checkpoints, a.out, a.weights)
    except (ValueError, FileNotFoundError) as error:
        p.error(str(error))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
