#!/usr/bin/env python
"""Search error or model error? For each held-out data-exploration answer, is the reference likelier than it?

Greedy decoding (with the product's guards) answers each held-out request; `eval_data_exploration.py` records the
answer and the exact prompt the model read. This scores, under the same model and prompt, the answer and the item's
reference answer, each closed by `</cell>` as the model closes a cell (`engine.score`, the sum of token
log-probabilities). Where the reference is likelier, the model ranks it above what greedy decoding found: a
**search error**, which a wider search (beam search, more candidates ranked by likelihood) could mend. Where the
answer is likelier, the model itself prefers a wrong answer (or the reference's style): a **model error**, which
only a better model mends. Idea from Stahlberg and Byrne (2019), *On NMT Search Errors and Model Errors*.

    .venv/bin/python benchmarks/search_errors.py benchmarks/results/data_exploration-embedded.json --model default

Writes benchmarks/results/search_errors-<name>.json and .md. A reference written in another style than the
model's (quotes, `.loc` against `[]`) lowers its likelihood, so the search-error count is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks" / "heldout"))

import validate  # noqa: E402  (benchmarks/heldout/validate.py: the items)

from jupyter_codegen.model_store import load_engine  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
CELL_END = "\n</cell>"


@dataclass
class Verdict:
    id: str
    passed: bool
    answer_logprob: float
    reference_logprob: float
    kind: str
    """One of: identical, search error (the reference is likelier), model error (the answer is)."""


def classify(answer: str, reference: str, answer_logprob: float, reference_logprob: float) -> str:
    if answer.strip() == reference.strip():
        return "identical"
    return "search error" if reference_logprob > answer_logprob else "model error"


def diagnose(items: list[dict], references: dict[str, str], engine) -> list[Verdict]:
    verdicts = []
    for it in items:
        reference = references[it["id"]]
        answer_lp, reference_lp = engine.score(it["prompt"], [it["code"] + CELL_END, reference + CELL_END])
        kind = classify(it["code"], reference, answer_lp, reference_lp)
        verdicts.append(Verdict(it["id"], bool(it["ok"]), round(answer_lp, 3), round(reference_lp, 3), kind))
    return verdicts


def summary(verdicts: list[Verdict]) -> dict[str, dict[str, int]]:
    """Counts per kind, split by whether the answer passed its check."""
    table: dict[str, dict[str, int]] = {}
    for v in verdicts:
        row = table.setdefault(v.kind, {"passed": 0, "failed": 0})
        row["passed" if v.passed else "failed"] += 1
    return table


def markdown(name: str, source: str, verdicts: list[Verdict]) -> str:
    lines = [f"## Search errors and model errors: {name}", "", f"Answers from `{source}`.", "",
             "| kind | answers that passed | answers that failed |", "|---|---|---|"]
    for kind, row in sorted(summary(verdicts).items()):
        lines.append(f"| {kind} | {row['passed']} | {row['failed']} |")
    lines += ["", "Failed answers the model ranks below the reference (a wider search could find it):", ""]
    lines += [f"- {v.id}: answer {v.answer_logprob:.1f}, reference {v.reference_logprob:.1f}"
              for v in verdicts if v.kind == "search error" and not v.passed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("answers", type=Path, help="a data_exploration-*.json written by eval_data_exploration.py")
    p.add_argument("--model", required=True, help="the model that wrote those answers (CodeGen.model)")
    p.add_argument("--name", help="results name (default: the answers file's)")
    p.add_argument("--data", type=Path, help="the items (default: the held-out set's JSONL)")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    items = json.loads(a.answers.read_text(encoding="utf-8"))["items"]
    references = {item["id"]: item["reference"] for item in validate.load(a.data)}
    verdicts = diagnose(items, references, load_engine(a.model))
    name = a.name or a.answers.stem.removeprefix("data_exploration-")
    a.out.mkdir(parents=True, exist_ok=True)
    document = {"name": name, "answers": str(a.answers), "model": a.model, "summary": summary(verdicts),
                "items": [asdict(v) for v in verdicts]}
    (a.out / f"search_errors-{name}.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    text = markdown(name, a.answers.name, verdicts)
    (a.out / f"search_errors-{name}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
