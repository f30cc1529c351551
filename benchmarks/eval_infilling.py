#!/usr/bin/env python
"""HumanEval infilling: how well a model fills a hole in a Python function, by each of the product's methods.

What it measures
    For each task a span of a HumanEval solution (the "middle") is removed; the model sees the code before it
    (`prompt`, the left side) and after it (`suffix`, the right side) and writes a fill. Three task sets, as in
    the InCoder paper (Fried et al. 2022, section 4.1) and the fill-in-the-middle paper that added the third:
    single-line (1033 holes of one whole line), multi-line (5815 holes of several whole lines), random-span
    (1640 holes starting and ending anywhere, often mid-line). Per set and method:
    - pass@1: the share of programs `left + fill + right + "\\n" + test + "\\n" + "check(entry_point)"` that exit
      cleanly when run in a sandbox (benchmarks/sandbox.py: a child process in a temporary directory, 3 s limit,
      the reference harness's);
    - exact match: the fill equals the canonical middle once surrounding whitespace is stripped, as in the paper.

How
    Every fill goes through the product's own code path, `jupyter_codegen.infill.fill_holes(engine, [left, right],
    options, method=...)`, on an engine from `model_store.load_engine(spec)`:
    - "left-to-right": left-to-right single, greedy: continue the left side, cut with `cut_left_to_right`;
    - "rerank": left-to-right reranking: K candidates (default 8) sampled at the product's RERANK_TEMPERATURE
      (0.8) and RERANK_TOP_P (0.95), each cut the same way, the one that makes `fill + right` most likely given
      the left side wins (sum of log-probabilities, `engine.score`); the seed is derived from the task id;
    - "infill": causal masking or fill-in-the-middle, greedy, ending at the format's own end (`<|endofmask|>` for
      causal masking); only for models whose format can infill (`engine.format.can_infill`), reported "n/a"
      otherwise.
    Beside them, two rows that need no model: the floor, the same tests with an empty fill (some holes are
    dead code or duplicated checks), and a ceiling for the left-to-right methods: the product's cut applied
    to a perfect continuation (canonical middle followed by the right side). Whatever that cut loses, no
    left-to-right fill can win back.

Protocol choices, and why
    - Hole size: single-line fills are one line: every method gets `max_lines=1` (the product's own option for
      this), which cuts a left-to-right continuation and a causal-masking fill after its first non-blank line
      (the model may go on without writing `<|endofmask|>`; the hole is one line by definition). Multi-line and
      random-span fills are kept as the product returns them.
    - Indentation: by default the fill is the model's own. `--fit` fills as `%%infill` does (CodeGen.
      fit_indentation): a fill that starts a line and makes the program fail to parse moves to the nearest depth
      at which it parses, for every method, and (since 2026-12-07, CodeGen.trim_fills) a fill inside a line that
      repeats the code after its hole is cut at its last comma after which the program compiles. That reads the
      right side, for left-to-right methods too.
    - Token budgets (max new tokens): single 64, multi 256, random 128: above the longest canonical middle in
      single-line and 99% of them in the other sets with an 8k-vocabulary tokenizer, so no correct fill is cut
      by the budget, while a model that never stops costs a bounded time.
    - Fills of an inline hole (the left side ends mid-line: most random spans) end at the end of that line, by
      every method: that is the product's rule (`cut_left_to_right`, and a line-end stop for causal masking),
      so no method fills a span that crosses lines from mid-line. The paper reports left-to-right baselines for
      single- and multi-line only, and cuts no causal-masking fill.
    - Context: "raw" (default) gives the model the program text alone, as the paper does. "notebook" wraps it
      as one notebook cell with the product's `build_infill_context`, the layout a notebook-trained model sees
      from the magics; the fill is put back into the raw program either way.
    - Sampling for `--limit N`: the N tasks with the smallest sha256 of their task id (then in file order).
      The choice does not depend on the model or on N's neighbours: a larger N keeps every task of a smaller
      one, so runs at different limits compare on a shared core. Sample sizes are printed beside every number.
      Defaults: single-line in full, multi-line and random-span 100 each (DEFAULT_LIMITS).
    - Exact match strips whitespace on both sides, so a whitespace-only middle (a few random spans) "matches"
      an empty fill: the floor row shows how often.
    - Parallelism: generation runs on the main thread (ONNX Runtime with `--threads`, default 1); programs run
      in a pool of `--workers` (default 1) threads, each waiting on one sandboxed child, overlapping with
      generation. Defaults use two cores in all.

Output: benchmarks/results/infilling-<name>.json (settings, summary, and one record per task, set and method:
task_id, set, method, fill, passed, exact, seconds of generation, status, error) and .md (the table), which is
also printed.

    python benchmarks/eval_infilling.py --model /tmp/model-step210 --sets single --limit 100
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _path in (str(REPO), str(HERE)):
    if _path not in sys.path:  # run as a script from a checkout, or imported by the tests
        sys.path.insert(0, _path)

from sandbox import DEFAULT_TIMEOUT_S, RunResult, run_program  # noqa: E402

DATA_DIR = REPO / "benchmarks" / "data" / "humaneval_infilling"
"""Copied unchanged from the shared benchmark data, MIT licence beside it."""
RESULTS_DIR = HERE / "results"
METHODS: tuple[str, ...] = ("left-to-right", "rerank", "infill")
LEFT_TO_RIGHT = ("left-to-right", "rerank")
FLOOR = "empty-fill"
CEILING = "cut-canonical"
DEFAULT_K = 8


@dataclass(frozen=True)
class SetSpec:
    name: str
    file: str
    size: int
    max_new_tokens: int
    max_lines: int | None
    """Whole lines a fill may have (None: no limit)."""


SETS: dict[str, SetSpec] = {
    "single": SetSpec("single", "HumanEval-SingleLineInfilling.jsonl.gz", 1033, 64, 1),
    "multi": SetSpec("multi", "HumanEval-MultiLineInfilling.jsonl.gz", 5815, 256, None),
    "random": SetSpec("random", "HumanEval-RandomSpanInfilling.jsonl.gz", 1640, 128, None),
}
DEFAULT_LIMITS: dict[str, int | None] = {"single": None, "multi": 100, "random": 100}
"""Sized by cost: multi-line reranking (K=8, 256 tokens) costs about 4x a single-line task."""

LABELS = {
    "left-to-right": "left-to-right single",
    "rerank": "left-to-right reranking (K={k})",
    "infill": "infill ({infill})",
    FLOOR: "empty fill (floor)",
    CEILING: "L-R cut of canonical (ceiling)",
}


# -- tasks ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    task_id: str
    set: str
    left: str
    right: str
    middle: str
    test: str
    entry_point: str


def load_tasks(set_name: str, data_dir: Path = DATA_DIR) -> list[Task]:
    """All tasks of one set, in file order."""
    spec = SETS[set_name]
    with gzip.open(data_dir / spec.file, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [
        Task(r["task_id"], set_name, r["prompt"], r["suffix"], r["canonical_solution"], r["test"], r["entry_point"])
        for r in rows
    ]


def _digest(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("utf-8")).hexdigest()


def sample(tasks: Sequence[Task], limit: int | None) -> list[Task]:
    """The `limit` tasks with the smallest sha256(task_id), in their original order; all of them for None."""
    if limit is None or limit >= len(tasks):
        return list(tasks)
    chosen = set(sorted((t.task_id for t in tasks), key=_digest)[:limit])
    return [t for t in tasks if t.task_id in chosen]


def program(task: Task, fill: str) -> str:
    """The program whose exit status says whether `fill` is right (the human-eval-infilling layout)."""
    return task.left + fill + task.right + "\n" + task.test + "\n" + f"check({task.entry_point})\n"


def exact_match(fill: str, middle: str) -> bool:
    return fill.strip() == middle.strip()


# -- fills ----------------------------------------------------------------------------------------------------


@dataclass
class Fill:
    text: str
    seconds: float = 0.0
    error: str | None = None


Filler = Callable[[Task, str], Fill]
"""Writes the fill of one task by one method: the model, or a stand-in (the canonical middle) in tests."""


def canonical_filler(task: Task, method: str) -> Fill:
    """The right answer, whatever the method: every program should pass and match exactly."""
    return Fill(task.middle)


def task_seed(task_id: str, seed: int = 0) -> int:
    return int(hashlib.sha256(f"{seed}:{task_id}".encode()).hexdigest()[:8], 16)


class ModelFiller:
    """Fills holes through the product's `fill_holes`, with the protocol of the module docstring."""

    def __init__(self, engine, *, k: int = DEFAULT_K, context: str = "raw", seed: int = 0, guard: bool = False,
                 fit: bool = False):
        self.engine = engine
        self.k = k
        self.context = context
        self.seed = seed
        self.guard = guard
        self.fit = fit

    def parts(self, task: Task, max_new_tokens: int) -> list[str]:
        if self.context == "raw":
            return [task.left, task.right]
        from jupyter_codegen.context import build_infill_context

        budget = self.engine.context_window - max_new_tokens - 16  # room for the format's sentinels
        built = build_infill_context(
            [], [task.left, task.right], [], self.engine.format.document, self.engine.count_tokens, budget
        )
        return built.parts

    def __call__(self, task: Task, method: str) -> Fill:
        from jupyter_codegen.column_guard import KnownColumns
        from jupyter_codegen.engine import GenerationOptions
        from jupyter_codegen.errors import CodeGenError
        from jupyter_codegen.infill import fill_holes

        spec = SETS[task.set]
        options = GenerationOptions(
            max_new_tokens=spec.max_new_tokens, temperature=0.0, seed=task_seed(task.task_id, self.seed),
            # as `%%infill` asks: a marked hole, with no frames here (only the guard's bracket and comma rules)
            columns=KnownColumns(nonempty=True) if self.guard else None,
        )
        start = time.perf_counter()
        try:
            parts = self.parts(task, spec.max_new_tokens)
            result = fill_holes(
                self.engine, parts, options, method=method, candidates=self.k, max_lines=spec.max_lines,
                code_parts=[task.left, task.right], fit=self.fit, trim=self.fit,
            )
        except CodeGenError as exc:  # e.g. the prompt does not fit in the context window
            return Fill("", time.perf_counter() - start, str(exc))
        return Fill(result.fills[0] if result.fills else "", time.perf_counter() - start)


def applicability(engine, methods: Iterable[str]) -> dict[str, str | None]:
    """For each method, None when the engine can use it, else why not (the product's own message)."""
    from jupyter_codegen.errors import RequestError
    from jupyter_codegen.infill import resolve_method

    reasons: dict[str, str | None] = {}
    for method in methods:
        try:
            resolve_method(engine, method)  # type: ignore[arg-type]
            reasons[method] = None
        except RequestError as exc:
            reasons[method] = str(exc)
    return reasons


def ceiling_fill(task: Task) -> str:
    """What the product's left-to-right cut keeps of a perfect continuation (canonical middle, then the right)."""
    from jupyter_codegen.infill import cut_left_to_right

    return cut_left_to_right(task.middle + task.right, task.left, task.right, SETS[task.set].max_lines)


# -- evaluation -----------------------------------------------------------------------------------------------


@dataclass
class Record:
    task_id: str
    set: str
    method: str
    fill: str
    passed: bool
    exact: bool
    seconds: float
    """Generation time of this fill (0 for the rows that need no model)."""
    status: str
    """passed, failed, timeout; or error (no fill: the request failed, see `error`)."""
    error: str | None = None
    test_seconds: float = 0.0


@dataclass
class Run:
    records: list[Record] = field(default_factory=list)
    wall: dict[str, float] = field(default_factory=dict)
    """Wall seconds of generation per "set/method"."""


Runner = Callable[[str, float], RunResult]


def evaluate(
    tasks_by_set: dict[str, list[Task]],
    methods: Sequence[str],
    filler: Filler,
    *,
    not_applicable: dict[str, str | None] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int = 1,
    runner: Runner = run_program,
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Fills and tests every task of every set by every applicable method, plus the floor and ceiling rows.

    Fills are written one at a time on this thread; their programs run in a pool of `workers` threads meanwhile.
    """
    skip = {m for m, why in (not_applicable or {}).items() if why}
    run = Run()
    pending: list[tuple[Task, str, Fill, Future[RunResult]]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:

        def submit(task: Task, method: str, fill: Fill) -> None:
            if fill.error is not None:
                pending.append((task, method, fill, _done(RunResult("failed", None, 0.0, fill.error))))
            else:
                pending.append((task, method, fill, pool.submit(runner, program(task, fill.text), timeout_s)))

        for set_name, tasks in tasks_by_set.items():
            for task in tasks:
                submit(task, FLOOR, Fill(""))
                if any(m in LEFT_TO_RIGHT for m in methods):
                    submit(task, CEILING, Fill(ceiling_fill(task)))
            for method in methods:
                if method in skip:
                    continue
                start = time.perf_counter()
                for i, task in enumerate(tasks, 1):
                    submit(task, method, filler(task, method))
                    if progress and (i % 25 == 0 or i == len(tasks)):
                        spent = time.perf_counter() - start
                        progress(f"{set_name}/{method}: {i}/{len(tasks)}, {spent / i:.2f} s/task")
                run.wall[f"{set_name}/{method}"] = time.perf_counter() - start
        if progress:
            progress(f"generation done; waiting for {sum(not f.done() for *_, f in pending)} of {len(pending)} programs")
        for task, method, fill, future in pending:
            result = future.result()
            run.records.append(
                Record(
                    task_id=task.task_id,
                    set=task.set,
                    method=method,
                    fill=fill.text,
                    passed=result.passed,
                    exact=exact_match(fill.text, task.middle),
                    seconds=round(fill.seconds, 4),
                    status="error" if fill.error is not None else result.status,
                    error=fill.error,
                    test_seconds=round(result.seconds, 4),
                )
            )
    return run


def _done(result: RunResult) -> Future[RunResult]:
    future: Future[RunResult] = Future()
    future.set_result(result)
    return future


# -- reporting ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    set: str
    method: str
    label: str
    n: int
    pass_rate: float | None
    exact_rate: float | None
    seconds_per_task: float | None
    timeouts: int = 0
    errors: int = 0
    note: str | None = None


def summarize(
    run: Run,
    sets: Sequence[str],
    methods: Sequence[str],
    *,
    not_applicable: dict[str, str | None] | None = None,
    k: int = DEFAULT_K,
    infill_name: str = "causal masking",
) -> list[Row]:
    """One row per set and method (in the order asked), then the floor and the ceiling of each set."""
    rows: list[Row] = []
    for set_name in sets:
        order = list(methods) + [FLOOR] + ([CEILING] if any(m in LEFT_TO_RIGHT for m in methods) else [])
        for method in order:
            label = LABELS[method].format(k=k, infill=infill_name)
            why = (not_applicable or {}).get(method)
            if why:
                rows.append(Row(set_name, method, label, 0, None, None, None, note=why))
                continue
            recs = [r for r in run.records if r.set == set_name and r.method == method]
            n = len(recs)
            wall = run.wall.get(f"{set_name}/{method}")
            rows.append(
                Row(
                    set_name,
                    method,
                    label,
                    n,
                    100.0 * sum(r.passed for r in recs) / n if n else None,
                    100.0 * sum(r.exact for r in recs) / n if n else None,
                    wall / n if (wall is not None and n) else None,
                    timeouts=sum(r.status == "timeout" for r in recs),
                    errors=sum(r.status == "error" for r in recs),
                )
            )
    return rows


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| set | method | pass@1 % | exact % | n | s/task | timeouts | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        secs = "" if r.seconds_per_task is None else f"{r.seconds_per_task:.3f}"
        n = str(r.n) if r.note is None else "n/a"
        lines.append(
            f"| {r.set} | {r.label} | {_pct(r.pass_rate)} | {_pct(r.exact_rate)} | {n} | {secs} | "
            f"{r.timeouts if r.note is None else ''} | {r.errors if r.note is None else ''} |"
        )
    notes = sorted({r.note for r in rows if r.note})
    return "\n".join(lines + [""] + [f"n/a: {note}" for note in notes])


def report(header: dict, rows: Sequence[Row]) -> str:
    """The markdown document: what was run, then the table."""
    head = [f"# HumanEval infilling: {header['name']}", ""]
    for key, value in header.items():
        if key != "name":
            head.append(f"- {key}: {value}")
    return "\n".join(head + ["", markdown_table(rows), ""])


# -- command line ---------------------------------------------------------------------------------------------


def parse_limits(values: Sequence[str] | None, sets: Sequence[str]) -> dict[str, int | None]:
    """`--limit 100` (every set) or `--limit multi=500 random=all`; sets not named keep DEFAULT_LIMITS."""
    limits = {s: DEFAULT_LIMITS[s] for s in sets}
    for value in values or ():
        name, _, number = value.rpartition("=")
        targets = [name] if name else list(sets)
        for target in targets:
            if target not in SETS:
                raise SystemExit(f"--limit: unknown set {target!r}; choose from {', '.join(SETS)}")
            limits[target] = None if number in ("all", "full", "0") else int(number)
    return limits


def default_name(spec: str, context: str) -> str:
    base = Path(spec.rstrip("/")).name if not spec.startswith("openai:") else spec.rsplit("#", 1)[-1]
    slug = re.sub(r"[^\w.-]+", "-", base).strip("-") or "model"
    return slug if context == "raw" else f"{slug}-{context}"


def main(argv: Sequence[str] | None = None, *, filler: Filler | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model", required=True, help="a model spec, as CodeGen.model takes it")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--limit", nargs="+", metavar="[SET=]N", help="tasks per set: N, or SET=N / SET=all")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="candidates for reranking")
    parser.add_argument("--context", choices=("raw", "notebook"), default="raw")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per program")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--workers", type=int, default=1, help="programs run at once")
    parser.add_argument("--seed", type=int, default=0, help="mixed into each task's sampling seed")
    parser.add_argument("--guard", action="store_true",
                        help="fill as %%%%infill does, with the guard's rules for a marked hole (brackets, commas)")
    parser.add_argument("--fit", action="store_true",
                        help="fill as %%%%infill does, moving a fill whose depth breaks the program to one that parses "
                             "and cutting an inline fill that repeats the code after its hole")
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--name", help="output file stem (default: from the model)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    limits = parse_limits(args.limit, args.sets)
    tasks_by_set = {s: sample(load_tasks(s, args.data), limits[s]) for s in args.sets}
    log = lambda message: print(f"[infilling] {message}", file=sys.stderr, flush=True)  # noqa: E731

    load_start = time.perf_counter()
    if filler is None:
        from jupyter_codegen.model_store import EngineSettings, load_engine

        engine = load_engine(args.model, EngineSettings(threads=args.threads, progress=False))
        fmt_name, can_infill = engine.format.name, engine.format.can_infill
        not_applicable = applicability(engine, args.methods)
        filler = ModelFiller(engine, k=args.k, context=args.context, seed=args.seed, guard=args.guard, fit=args.fit)
    else:  # a stand-in (tests): every method applies
        fmt_name, can_infill, not_applicable = "stand-in", True, {m: None for m in args.methods}
    load_seconds = time.perf_counter() - load_start
    log(f"model {args.model} ({fmt_name}) loaded in {load_seconds:.1f} s; "
        + ", ".join(f"{s}: {len(t)} tasks" for s, t in tasks_by_set.items()))

    start = time.perf_counter()
    run = evaluate(
        tasks_by_set, args.methods, filler, not_applicable=not_applicable, timeout_s=args.timeout,
        workers=args.workers, progress=log,
    )
    total = time.perf_counter() - start
    infill_name = "causal masking" if fmt_name == "causal-masking" else "fill-in-the-middle"
    rows = summarize(run, args.sets, args.methods, not_applicable=not_applicable, k=args.k, infill_name=infill_name)

    name = args.name or default_name(args.model, args.context)
    samples = ", ".join(
        f"{s} {len(tasks_by_set[s])}/{SETS[s].size}" + ("" if limits[s] is None else " (sha256(task_id) sample)")
        for s in args.sets
    )
    header = {
        "name": name,
        "model": args.model,
        "format": f"{fmt_name} (can infill: {can_infill})",
        "context": args.context,
        "tasks": samples,
        "max new tokens": ", ".join(f"{s} {SETS[s].max_new_tokens}" for s in args.sets),
        "rerank": f"K={args.k}, seed {args.seed}",
        "guard": "the guard of a marked hole (%%infill)" if args.guard else "none (the engine alone)",
        "indentation": "fitted to a depth that parses (%%infill)" if args.fit else "the model's own",
        "sandbox": f"{args.timeout:g} s per program, {args.workers} worker(s); ONNX threads {args.threads}",
        "wall time": f"{total:.0f} s (model load {load_seconds:.1f} s)",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    text = report(header, rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"infilling-{name}.md").write_text(text, encoding="utf-8")
    payload = {
        "settings": header | {"limits": limits, "sets": args.sets, "methods": args.methods},
        "wall_seconds": run.wall,
        "summary": [asdict(r) for r in rows],
        "records": [asdict(r) for r in run.records],
    }
    (args.out / f"infilling-{name}.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(text)
    log(f"wrote {args.out / f'infilling-{name}.json'} and .md")
    return rows


if __name__ == "__main__":
    main()
