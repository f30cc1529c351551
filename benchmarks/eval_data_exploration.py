#!/usr/bin/env python
"""Score a model on the held-out data-exploration set through the real product: `%%codegen` in a real kernel.

What it measures: the share of the 64 items of benchmarks/heldout/data_exploration.jsonl whose generated code
runs and passes the item's check (benchmarks/heldout/README.md defines the items and the judging). Every request
goes through what a user runs: `%load_ext jupyter_codegen`, the magic building its prompt from the kernel's own
history, the conversation file and the variables, the engine that `CodeGen.model` loads, and the answer taken
from the `set_next_input` payload that inserts it as the next cell. Any model `load_engine` accepts can be scored.

    .venv/bin/python benchmarks/eval_data_exploration.py --model /tmp/model-step210 [--limit 8] [--ids 004 013]
    .venv/bin/python benchmarks/eval_data_exploration.py --answers reference   # self-check: must be 64/64

Writes benchmarks/results/data_exploration-<name>.json (one record per item: id, tags, request, generated code,
ok, reason, seconds, the prompt the model read, the answer's value) and a markdown table (.md, also printed).

Protocol, per item (validate.py's `run_answer`/`judge` are the reference it follows):

- A fresh folder with the item's files; a kernel started in it (nbclient, ipykernel) with MPLBACKEND=Agg and
  JPY_SESSION_NAME=<folder>/analysis.ipynb, so the magics find this item's conversation and no other.
- Earlier turns are teacher-forced: recorded as real turns whose answer is the turn's `code`, and that code run,
  as a user who accepted it would. A follow-up ("just for March") is then judged on the request alone, not on
  whether the model also got the earlier turn right, which would compound errors and measure the first request
  twice. They are written before the kernel starts through the product's own `Conversation`/`Turn` and
  `conversation_path`, with `cells_before` made by the product's `history_cells` from a plain IPython shell
  that ran the same cells, so the file is what the magics would have saved in an uninterrupted session.
- Cells before the last earlier turn are in that file, so in the kernel they run silently (no history, no
  `Out`): otherwise the prompt would show them twice. The last turn's code runs as an ordinary cell (the
  magics read it, with its output, from the kernel's history, as they do after a real turn). Items without
  turns run their setup as an ordinary cell. Harness cells (closing figures, judging) are silent too and run
  after the request, so nothing of the harness can reach a prompt; `--show-prompt` output is kept per item.
- Greedy decoding (temperature 0, n 1), `--max-new-tokens` (128: the references are one to three lines).
- The answer runs as the next cell after closing every figure, within `--timeout` seconds (it may loop); then
  the check is evaluated inside the kernel, where the answer's namespace and figures are: `result` is the
  answer cell's `Out` value, `ns` the user namespace, `expected` the reference's value from validate.py's own
  `run_answer` on a fresh copy of the setup (in this process; sent over by pickle, except matplotlib objects,
  which no check needs and which would reopen as figures beside the answer's).
- Failed: no code, the answer raised or timed out or killed the kernel, or the check was false or raised;
  `reason` says which. One kernel per item, killed afterwards.

`--answers reference` (or `head2`, a wrong answer) skips the model and runs those answers instead: a check of the
harness's judging side, which must score 64/64 (and 0/64).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import re
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO = Path(__file__).resolve().parent.parent
HELDOUT = REPO / "benchmarks" / "heldout"
DATA = HELDOUT / "data_exploration.jsonl"
RESULTS = REPO / "benchmarks" / "results"
for _path in (REPO, HELDOUT, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:  # run as a script from a checkout, installed or not
        sys.path.insert(0, str(_path))

import validate  # noqa: E402  (benchmarks/heldout/validate.py: the reference implementation)
from harness_kernel import CellRun, KernelSession, judge_call, read_verdict  # noqa: E402

from jupyter_codegen.context import Cell  # noqa: E402
from jupyter_codegen.conversation import Conversation, Turn, conversation_path, notebook_key  # noqa: E402

NOTEBOOK = "analysis.ipynb"
PROMPT_MARK = "Prompt sent to the model:\n"
CLOSE_FIGURES = '__import__("sys").modules.get("matplotlib.pyplot") and __import__("sys").modules["matplotlib.pyplot"].close("all")'
"""A silent harness cell that binds no name (closes figures only where pyplot was imported)."""
TEACHER_FORCED = "heldout turn (teacher-forced)"

AnswerFn = Callable[[dict], str]
"""Code to use instead of the model's for an item (the test seam, and `--answers`)."""


@dataclass(frozen=True)
class Settings:
    max_new_tokens: int = 128
    answer_timeout: float = 30.0
    """Seconds the generated code may run (the tables are 12-20 rows; a right answer takes well under 1 s)."""
    cell_timeout: float = 300.0
    """Seconds any other cell may take (setup, generation with a first model load)."""
    startup_timeout: int = 120
    codegen_flags: str = ""
    """Flags for every `%%codegen` cell, e.g. "-n 5 --check" (five candidates, checked in a copy of the kernel)."""
    config: tuple[str, ...] = ()
    """More `%config` settings for the kernel, e.g. "CodeGen.guard_columns = False"."""


@dataclass
class ItemResult:
    id: str
    tags: list[str]
    request: str
    code: str | None
    """The generated code (the `set_next_input` payload); None when none came."""
    ok: bool
    reason: str | None
    """Why it failed, None when it passed."""
    seconds: float
    """Wall time for the whole item: reference, kernel start, setup, generation, answer, judging."""
    generate_seconds: float | None = None
    """The `%%codegen` cell alone (includes loading the model in this kernel)."""
    prompt: str | None = None
    result: str | None = None
    """repr of the answer's value (cut at 400 characters)."""
    notes: list[str] = field(default_factory=list)
    """What the magics said besides the prompt (where the model runs, context left out, token limit reached) and
    the harness's own remarks."""


# -- preparing an item ------------------------------------------------------------------------------------------


def load_items(path: Path = DATA, ids: Sequence[str] = (), limit: int | None = None) -> list[dict]:
    """The items, optionally only `ids` (full ids or their numbers: "004") and the first `limit`."""
    items = validate.load(path)
    if ids:
        wanted = {i if i.startswith("heldout-") else f"heldout-de-{int(i):03d}" for i in ids}
        unknown = wanted - {item["id"] for item in items}
        if unknown:
            raise SystemExit(f"unknown item ids: {', '.join(sorted(unknown))}")
        items = [item for item in items if item["id"] in wanted]
    return items[:limit] if limit is not None else items


def frame_name(item: dict) -> str:
    """The setup's table variable (as validate.py finds it for its wrong answer)."""
    return item["setup"].split("\n")[-1].split(" = ")[0]


def reference_answer(item: dict) -> str:
    return item["reference"]


def head2_answer(item: dict) -> str:
    """validate.py's wrong answer: every check must reject it."""
    return f"{frame_name(item)}.head(2)"


def expected_value(item: dict) -> tuple[bool, object, str | None]:
    """(ok, value, error): the reference's value on a fresh copy of the setup, by validate.py itself."""
    import matplotlib.pyplot as plt

    cwd = os.getcwd()
    try:
        ok, value, _, err = validate.run_answer(item, item["reference"])
    finally:
        os.chdir(cwd)
        plt.close("all")
    return ok, value, err


class _Unsendable(Exception):
    pass


class _NoMatplotlib(pickle.Pickler):
    def reducer_override(self, obj):
        if type(obj).__module__.startswith("matplotlib"):
            raise _Unsendable(type(obj).__name__)
        return NotImplemented


def save_expected(value: object, path: Path) -> str | None:
    """Pickle `value` for the kernel; a note (and no file, so `expected` is None) when it cannot be sent."""
    buffer = io.BytesIO()
    try:
        _NoMatplotlib(buffer).dump(value)
    except _Unsendable as exc:
        return f"expected not sent to the kernel (a matplotlib {exc}); the check sees None"
    except Exception as exc:
        return f"expected not sent to the kernel ({type(exc).__name__}: {exc}); the check sees None"
    path.write_bytes(buffer.getvalue())
    return None


def recorded_cells(item: dict, folder: Path) -> list[list[Cell]]:
    """`Turn.cells_before` for each earlier turn, exactly as the magics would have recorded them.

    The magics record, per turn, `history_cells` of the cells run since the previous turn: before turn 1 the
    setup, before turn k the code of turn k-1. The same function is run here on a plain IPython shell that runs
    those cells in `folder`, so text and trimmed outputs match what the kernel would have produced.
    """
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from jupyter_codegen.history import history_cells

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell(config=cfg)
    sources = [item["setup"]] + [turn["code"] for turn in item["turns"][:-1]]
    cells: list[list[Cell]] = []
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for source in sources:
                since = shell.execution_count - 1
                run = shell.run_cell(source, store_history=True)
                if not run.success:
                    raise RuntimeError(f"an earlier cell failed on its own: {run.error_in_exec or run.error_before_exec}")
                cells.append(history_cells(shell, since=since))
    finally:
        os.chdir(cwd)
    return cells


def write_conversation(item: dict, notebook: Path, root: Path, cells_before: list[list[Cell]]) -> Path:
    """The item's earlier turns saved where the magics of a kernel serving `notebook` will load them from."""
    path = conversation_path(notebook_key({"JPY_SESSION_NAME": str(notebook)}), root)
    conversation = Conversation(path=path)
    for turn, before in zip(item["turns"], cells_before):
        conversation.add(Turn(request=turn["request"], answer=turn["code"], kind="codegen", cells_before=before,
                              model=TEACHER_FORCED))
    if conversation.warning:
        raise RuntimeError(conversation.warning)
    return path


def config_cell(model: str, conversation_dir: Path, settings: Settings) -> str:
    return "\n".join([
        "%load_ext jupyter_codegen",
        f"%config CodeGen.model = {model!r}",
        f"%config CodeGen.conversation_dir = {str(conversation_dir)!r}",
        "%config CodeGen.temperature = 0.0",
        "%config CodeGen.n = 1",
        f"%config CodeGen.max_new_tokens = {settings.max_new_tokens}",
        *(f"%config {line}" for line in settings.config),
    ])


# -- running an item --------------------------------------------------------------------------------------------


def _failed_cell(what: str, run: CellRun) -> str:
    if run.status == "timeout":
        return f"{what} {run.error}"
    if run.status == "dead":
        return f"{what}: {run.error}"
    return f"{what} raised {run.error}"


def run_item(item: dict, work: Path, model: str | None = None, answer_for: AnswerFn | None = None,
             settings: Settings = Settings()) -> ItemResult:
    """One item in its own folder and kernel; never raises for what the answer does (see the module docstring)."""
    start = time.monotonic()
    record = ItemResult(item["id"], list(item["tags"]), item["request"], None, False, None, 0.0)

    def done(ok: bool, reason: str | None) -> ItemResult:
        record.ok, record.reason = ok, reason
        record.seconds = round(time.monotonic() - start, 2)
        return record

    base = Path(tempfile.mkdtemp(prefix=f"{item['id']}-", dir=work))
    folder, harness = base / "notebook", base / "harness"
    folder.mkdir()
    harness.mkdir()
    for name, text in item["files"].items():
        (folder / name).write_text(text, encoding="utf-8")

    ok, expected, err = expected_value(item)
    if not ok:
        return done(False, f"harness: the reference failed ({err})")
    note = save_expected(expected, harness / "expected.pkl")
    if note:
        record.notes.append(note)

    notebook = folder / NOTEBOOK
    conversations = harness / "conversations"
    turns = item["turns"]
    if turns:
        write_conversation(item, notebook, conversations, recorded_cells(item, folder))
    env = {**os.environ, "MPLBACKEND": "Agg", "JPY_SESSION_NAME": str(notebook)}

    with KernelSession(folder, env, startup_timeout=settings.startup_timeout, log_path=harness / "kernel.log") as kernel:
        limit = settings.cell_timeout
        if model is not None:
            run = kernel.run(config_cell(model, conversations, settings), limit)
            if run.status != "ok":
                return done(False, "harness: " + _failed_cell("loading the extension", run))
        # Everything before the last earlier turn is in the conversation file: silent. The rest as cells.
        if turns:
            before = [item["setup"]] + [t["code"] for t in turns[:-1]]
            runs = [kernel.run_silent(source, limit) for source in before] + [kernel.run(turns[-1]["code"], limit)]
        else:
            runs = [kernel.run(item["setup"], limit)]
        for run in runs:
            if run.status != "ok":
                return done(False, "harness: " + _failed_cell("the setup", run))

        if answer_for is not None:
            code = answer_for(item)
        else:
            magic = f"%%codegen --show-prompt {settings.codegen_flags.strip()}".rstrip()
            run = kernel.run(f"{magic}\n{item['request']}", limit)
            record.generate_seconds = round(run.seconds, 2)
            said, _, prompt = run.stdout.partition(PROMPT_MARK)
            record.prompt = prompt.removesuffix("\n") or None
            record.notes += [line for line in said.splitlines() + run.stderr.splitlines() if line.strip()]
            if run.status != "ok":
                return done(False, _failed_cell("the %%codegen cell", run))
            code = run.next_input
            if not code or not code.strip():
                said = run.stderr.strip().splitlines()
                return done(False, "no code" + (f": {said[-1]}" if said else ""))
        record.code = code

        kernel.run_silent(CLOSE_FIGURES, limit)
        answer = kernel.run(code, settings.answer_timeout)
        if answer.status != "ok":
            return done(False, _failed_cell("the answer", answer))
        verdict_path = harness / "verdict.json"
        call = judge_call(item["check"], answer.execution_count, harness / "expected.pkl", HELDOUT / "checks.py",
                          folder, verdict_path)
        run = kernel.run_silent(call, limit)
        verdict = read_verdict(verdict_path)
        if verdict is None:
            return done(False, "harness: " + _failed_cell("judging", run) if run.status != "ok" else "harness: no verdict")
        record.result = verdict.get("result")
        return done(bool(verdict["ok"]), verdict.get("reason"))


def evaluate(items: Iterable[dict], model: str | None = None, answer_for: AnswerFn | None = None,
             settings: Settings = Settings(), log: Callable[[str], None] | None = None) -> list[ItemResult]:
    """Every item in turn, each in a fresh folder and kernel; `model` or `answer_for` (not both) writes the code."""
    if (model is None) == (answer_for is None):
        raise ValueError("give a model or answer_for, not both")
    items = list(items)
    records = []
    with tempfile.TemporaryDirectory(prefix="heldout-eval-") as tmp:
        for number, item in enumerate(items, 1):
            try:
                record = run_item(item, Path(tmp), model, answer_for, settings)
            except Exception as exc:  # the harness itself broke on this item: say so, go on with the others
                record = ItemResult(item["id"], list(item["tags"]), item["request"], None, False,
                                    f"harness: {type(exc).__name__}: {exc}", 0.0)
            records.append(record)
            if log:
                verdict = "pass" if record.ok else f"FAIL ({record.reason})"
                log(f"[{number}/{len(items)}] {record.id} {record.seconds:.1f} s {verdict}")
    return records


# -- model and report -------------------------------------------------------------------------------------------


def prepare_model(spec: str) -> str:
    """The spec as the kernel must see it, with the model resolved (and exported, if need be) once, here.

    A relative folder is made absolute (each kernel runs in its own folder), and a Hugging Face folder or hub id
    is exported into the user cache now rather than inside the first item's time limit. Raises the product's
    own error (ModelNotFoundError, OfflineModelError) for a spec no kernel could load.
    """
    spec = spec.strip()
    if spec.startswith("openai:"):
        return spec
    path = Path(spec).expanduser()
    if path.exists():
        spec = str(path.resolve())
    from jupyter_codegen.model_store import EngineSettings, resolve_folder

    resolve_folder(spec, EngineSettings(progress=False))
    return spec


def default_name(model: str | None, answers: str | None) -> str:
    if answers:
        return f"answers-{answers}"
    assert model is not None
    path = Path(model.split("#")[-1])
    return re.sub(r"[^\w.-]+", "-", path.name or model).strip("-") or "model"


def failure_kind(reason: str | None) -> str:
    """The reason without its details, for the summary ("the answer raised KeyError: 'x'" -> "the answer raised")."""
    if reason is None:
        return "passed"
    for kind in ("no code", "the answer raised", "the answer timed out", "the answer:", "check failed",
                 "check raised", "the %%codegen cell", "harness"):
        if reason.startswith(kind):
            return kind.rstrip(":")
    return reason


def summarize(records: Sequence[ItemResult]) -> dict:
    total, passed = len(records), sum(r.ok for r in records)
    by_tag: dict[str, list[int]] = {}
    for r in records:
        for tag in r.tags:
            counts = by_tag.setdefault(tag, [0, 0])
            counts[0] += r.ok
            counts[1] += 1
    seconds = sum(r.seconds for r in records)
    generate = [r.generate_seconds for r in records if r.generate_seconds is not None]
    return {
        "passed": passed,
        "total": total,
        "rate": passed / total if total else 0.0,
        "by_tag": {tag: {"passed": p, "total": n} for tag, (p, n) in sorted(by_tag.items(), key=lambda kv: (-kv[1][1], kv[0]))},
        "failures": dict(Counter(failure_kind(r.reason) for r in records if not r.ok).most_common()),
        "seconds": round(seconds, 1),
        "seconds_per_item": round(seconds / total, 2) if total else 0.0,
        "generate_seconds_per_item": round(sum(generate) / len(generate), 2) if generate else None,
    }


def _percent(passed: int, total: int) -> str:
    return f"{100 * passed / total:.0f}%" if total else "-"


def markdown(name: str, model: str, summary: dict, settings: Settings, when: str) -> str:
    s = summary
    lines = [
        f"## Held-out data exploration: {name}",
        "",
        f"Model `{model}`; "
        + (f"`%%codegen {settings.codegen_flags.strip()}`" if settings.codegen_flags.strip() else "greedy")
        + "".join(f", `%config {line}`" for line in settings.config)
        + f", max_new_tokens {settings.max_new_tokens}, answer time limit "
        f"{settings.answer_timeout:g} s; {when}.",
        "",
        f"**Passed {s['passed']}/{s['total']} ({100 * s['rate']:.1f}%)**; {s['seconds_per_item']} s per item "
        f"({s['seconds']} s in all"
        + (f", generation {s['generate_seconds_per_item']} s per item" if s["generate_seconds_per_item"] else "")
        + ").",
        "",
        "| tag | passed | % |",
        "|---|---|---|",
    ]
    lines += [f"| {tag} | {c['passed']}/{c['total']} | {_percent(c['passed'], c['total'])} |"
              for tag, c in s["by_tag"].items()]
    if s["failures"]:
        lines += ["", "| failed because | items |", "|---|---|"]
        lines += [f"| {kind} | {n} |" for kind, n in s["failures"].items()]
    return "\n".join(lines) + "\n"


def write_report(records: Sequence[ItemResult], name: str, model: str, settings: Settings, out: Path) -> tuple[Path, Path, str]:
    """`data_exploration-<name>.json` (every record) and `.md` (the tables) in `out`; returns both and the table."""
    when = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    summary = summarize(records)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"data_exploration-{name}"
    document = {"name": name, "model": model, "created": when, "settings": asdict(settings), "summary": summary,
                "items": [asdict(r) for r in records]}
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    table = markdown(name, model, summary, settings, when)
    md_path.write_text(table, encoding="utf-8")
    return json_path, md_path, table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="CodeGen.model: an ONNX or Hugging Face folder, 'default', a hub id, openai:...")
    source.add_argument("--answers", choices=["reference", "head2"],
                        help="skip the model and run these answers (a check of the judging side)")
    parser.add_argument("--limit", type=int, help="only the first N items")
    parser.add_argument("--ids", nargs="+", default=[], help="only these items (heldout-de-004 or 004)")
    parser.add_argument("--name", help="results file name: data_exploration-NAME.json (default: the model's folder name)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results folder (default {RESULTS.relative_to(REPO)})")
    parser.add_argument("--data", type=Path, default=DATA, help="the items (JSONL)")
    parser.add_argument("--max-new-tokens", type=int, default=Settings.max_new_tokens)
    parser.add_argument("--timeout", type=float, default=Settings.answer_timeout, help="seconds the generated code may run")
    parser.add_argument("--flags", default="", help='flags for every %%%%codegen cell, e.g. "-n 5 --check"')
    parser.add_argument("--config", action="append", default=[], metavar="SETTING",
                        help='a %%%%config line for the kernel, e.g. "CodeGen.guard_columns = False" (repeatable)')
    args = parser.parse_args(argv)

    items = load_items(args.data, args.ids, args.limit)
    settings = Settings(max_new_tokens=args.max_new_tokens, answer_timeout=args.timeout, codegen_flags=args.flags,
                        config=tuple(args.config))
    answer_for = {"reference": reference_answer, "head2": head2_answer}.get(args.answers) if args.answers else None
    model = None
    if args.model:
        from jupyter_codegen.errors import CodeGenError

        try:
            model = prepare_model(args.model)
        except CodeGenError as exc:
            print(exc, file=sys.stderr)
            return 2
    name = args.name or default_name(model, args.answers)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    records = evaluate(items, model, answer_for, settings, log=log)
    json_path, md_path, table = write_report(records, name, model or f"(answers: {args.answers})", settings, args.out)
    print(table)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
