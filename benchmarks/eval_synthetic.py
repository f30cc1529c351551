#!/usr/bin/env python
"""Score a model on fresh conversations from the training-data generator, judged by the generator's own checks.

The held-out set (eval_data_exploration.py) measures generalization: tables and phrasings the generator never
makes. This measures the other half, how well the model learned the generator's own world, so the gap between
the two says whether a better score needs more training or more varied data. Each conversation is generated as
for training (model/synth: a random table written to CSV, loaded in a real IPython shell, turns run and
checked) from a seed no training set used, up to its last planned turn; that turn's request is answered by the
model through the product's `assistant.codegen` (the context the magic would build: the conversation, the
history since, the variables summary; the column guards), the answer run in the same shell, and judged by the
check the generator applies to its own code (the result recomputed from a snapshot of the frame, the drawn
figure for plots). Conversations that end before their last turn (a generator turn failed its own check) are
skipped, as they would be dropped from training.

    .venv/bin/python benchmarks/eval_synthetic.py --model default --n 100 [--seed 1000] [--name NAME]

Writes benchmarks/results/synthetic-<name>.json (every examined turn: op, turn number, request, the generator's
code, the model's answer, why it failed) and .md (pass rate by first turn / later turn, question / command, operation).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SEED = 1000
"""Training used seeds 0-3 (model/TRAINING.md); conversations of this seed were never trained on."""


def model_answerer(engine, options):
    """Answers a turn as `%%codegen` would, from what the generator's magic saw (model.synth.runner.Answerer)."""
    from jupyter_codegen import assistant

    def answer(session, step) -> str:
        before, variables = session.asked
        return assistant.codegen(engine, step.request, before, options, variables=variables).code

    return answer


def reference_answer(session, step) -> str:
    """The generator's own code: the judging side must pass it every time."""
    return step.code


def head2_answer(session, step) -> str:
    """A plausible wrong answer: the judging side must fail it (before the table is loaded: nothing)."""
    variables = session.asked[1] or ""
    frames = [line.split(":", 1)[0] for line in variables.splitlines() if ": DataFrame" in line]
    return f"{frames[0]}.head(2)" if frames else "None"


def evaluate(answerer, n: int, seed: int, start: int = 0, log=None) -> list[dict]:
    """The examined turn of each of conversations start .. start + n - 1 that reached its last turn."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from model.synth.runner import Session, conversation

    session = Session()
    records: list[dict] = []
    try:
        for index in range(start, start + n):
            t0 = time.perf_counter()
            result = conversation(session, index, seed, answerer=answerer)
            if result.examined is None:
                continue
            record = {"index": index, **asdict(result.examined), "seconds": round(time.perf_counter() - t0, 2)}
            records.append(record)
            if log:
                verdict = "pass" if record["reason"] is None else f"FAIL ({record['reason']})"
                log(f"[{index}] {record['op']} turn {record['turn']}: {verdict}")
    finally:
        session.close()
    return records


def summarize(records: Sequence[dict]) -> dict:
    from model.synth.lang import is_question

    def tally(groups: dict[str, list[dict]]) -> dict[str, dict]:
        return {k: {"passed": sum(r["reason"] is None for r in v), "total": len(v)}
                for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))}

    by_op: dict[str, list[dict]] = {}
    by_turn: dict[str, list[dict]] = {}
    by_form: dict[str, list[dict]] = {}
    for r in records:
        by_op.setdefault(r["op"], []).append(r)
        by_turn.setdefault("first turn" if r["turn"] == 1 else "later turn", []).append(r)
        by_form.setdefault("question" if is_question(r["request"]) else "command", []).append(r)
    passed = sum(r["reason"] is None for r in records)
    return {"passed": passed, "total": len(records), "rate": passed / len(records) if records else 0.0,
            "by_op": tally(by_op), "by_turn": tally(by_turn), "by_form": tally(by_form),
            "failures": dict(Counter(r["reason"] for r in records if r["reason"] is not None).most_common())}


def settings_config(lines: Sequence[str]):
    """A traitlets Config from `%config`-style lines ("CodeGen.link_columns = 0")."""
    import ast

    from traitlets.config import Config

    config = Config()
    for line in lines:
        target, sep, value = line.partition("=")
        section, dot, name = target.strip().partition(".")
        if not sep or section != "CodeGen" or not dot or not name.isidentifier():
            raise ValueError(f"Cannot read the setting {line!r}; write it as CodeGen.name = value.")
        try:
            config.CodeGen[name] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise ValueError(f"The value in {line!r} is not a Python literal; quote strings.") from None
    return config


def markdown(name: str, model: str, seed: int, summary: dict, when: str, config: Sequence[str] = ()) -> str:
    s = summary
    settings = "".join(f", `%config {line}`" for line in config)
    lines = [f"## Generator's own conversations: {name}", "",
             f"Model `{model}`; greedy, column guards on{settings}; seed {seed}; {when}.", "",
             f"**Passed {s['passed']}/{s['total']} ({100 * s['rate']:.1f}%)** of the last turns of fresh conversations.", "",
             "| turn | passed |", "|---|---|"]
    lines += [f"| {k} | {v['passed']}/{v['total']} |" for k, v in s["by_turn"].items()]
    lines += ["", "| request | passed |", "|---|---|"]
    lines += [f"| {k} | {v['passed']}/{v['total']} |" for k, v in s["by_form"].items()]
    lines += ["", "| operation | passed |", "|---|---|"]
    lines += [f"| {k} | {v['passed']}/{v['total']} |" for k, v in s["by_op"].items()]
    if s["failures"]:
        lines += ["", "| failed because | turns |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in s["failures"].items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="CodeGen.model: 'default', an ONNX or Hugging Face folder, ...")
    source.add_argument("--answers", choices=["reference", "head2"],
                        help="skip the model and give these answers (a check of the judging side: all pass / none)")
    parser.add_argument("--n", type=int, default=100, help="conversations to generate (some end early and are skipped)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--name", help="results file name: synthetic-NAME.json (default: the model's name)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--config", action="append", default=[], metavar="SETTING",
                        help='a CodeGen setting as %%%%config takes it, e.g. "CodeGen.link_columns = 0" (repeatable)')
    args = parser.parse_args(argv)

    from jupyter_codegen.config import CodeGen
    from jupyter_codegen.errors import CodeGenError
    from jupyter_codegen.model_store import load_engine

    if args.answers:
        answerer = {"reference": reference_answer, "head2": head2_answer}[args.answers]
    else:
        try:
            settings = CodeGen(config=settings_config(args.config))
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        try:
            engine = load_engine(args.model, settings.engine_settings(progress=False))
        except CodeGenError as exc:
            print(exc, file=sys.stderr)
            return 2
        answerer = model_answerer(engine, settings.generation_options(max_new_tokens=args.max_new_tokens))
    records = evaluate(answerer, args.n, args.seed, args.start, log=lambda line: print(line, file=sys.stderr, flush=True))
    name = args.name or (Path(args.model).name if args.model else f"answers-{args.answers}")
    model = args.model or f"(answers: {args.answers})"
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    summary = summarize(records)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"synthetic-{name}"
    document = {"name": name, "model": model, "created": when, "seed": args.seed, "start": args.start,
                "max_new_tokens": args.max_new_tokens, "config": args.config, "summary": summary, "items": records}
    stem.with_suffix(".json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    table = markdown(name, model, args.seed, summary, when, args.config)
    stem.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
