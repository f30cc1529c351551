#!/usr/bin/env python
"""The Multi-Turn Programming Benchmark (MTPB, CodeGen paper: Nijkamp et al. 2022) through the real magics.

What is measured: whether a model, used through `%%codegen` in a real Jupyter kernel, writes a program turn by
turn from plain-English requests that prints the right answer. Pass rate = the share of (problem, input set) pairs
that pass; the per-problem share and per-category rates are reported too.

Data: `benchmarks/data/mtpb/mtpb.jsonl` (copied unchanged from the shared benchmark data; BSD-3-Clause, licence beside it): 115 problems, each with turn templates
(`prompts`), 5 input sets (`inputs`), the expected output per set (`outputs`), `max_gen_length` and a category.

Protocol, per (problem, input set), in one fresh kernel (ipykernel, driven through nbclient):

1. Setup cell: `%load_ext jupyter_codegen`, `%config CodeGen.model = <--model>`, greedy decoding (temperature 0,
   n 1), `max_new_tokens` = the item's `max_gen_length`, and a conversation folder inside a fresh temporary folder.
   `JPY_SESSION_NAME` is a fresh notebook path, so the product keys its conversation to a notebook no earlier run
   used: every run starts with an empty conversation. The temporary folder is also the kernel's working folder.
2. Preamble cell `import numpy as np`, which the user runs: the CodeGen reference harness starts every program with
   it ("# Import libraries. import numpy as np"), and here it reaches the model the product's way, as a cell the
   user ran.
3. Each turn template, filled with `str.format(**inputs)` as in the reference harness, is the body of a
   `%%codegen` cell. The code the magic proposes as the next cell (the kernel's `set_next_input` payload, what a
   front end inserts) is then run as the next cell, as a user accepting it would. So each turn sees the earlier
   ones only through the product's own conversation and context (`Conversation`, `history_cells`), exactly as in
   a notebook. An error in a turn's code does not stop the run: the user would go on to the next request.
4. Judging: the program's printed output (stdout of the accepted cells, in order) is compared with the expected
   value by `compare_output`. What counts is its tail, the lines printed last, which is the final turn's print in
   the usual case ("Print ...") and mirrors the reference harness's "last `print` call" when the final turn's
   code prints nothing (problem 97 prints in one of its two last turns). A value only displayed as a cell result
   (`x` instead of `print(x)`) is recorded but does not count, as in the reference: the requests ask to print.

Comparison (`compare_output`, documented there): the expected value's type decides. A string must equal the printed
text exactly (leading and trailing spaces included; only print's final newline is dropped), since several gold
strings have meaningful spaces or are empty. Other values are read back from the printed text as Python literals
(numpy's `[1 2 3]` array printing and numpy 2 scalar reprs such as `np.float64(1.5)` included) and compared
structurally: numbers within 1e-6 (the reference tolerance; an int may print as `7980.0`), bools only as
`True`/`False`, `None` as `None`, lists against lists/tuples/sets in printed order, dicts with keys compared as JSON
stores them (the gold file was written as JSON, so `{1: [...]}` arrives as `{"1": [...]}`).

Protocol choices, and how this differs from the reference harness (so numbers are close to, not equal to,
published ones: CodeGen-Mono 350M 16.98%, 2.7B 38.72%):

- The prompt is the product's, not the reference's `# {turn}` comment script: the product decides the layout
  (notebook or script style by model family), the stop strings and the post-processing (`tidy_code`), which is
  the point of measuring the product.
- Cells run one by one; the reference runs the concatenated program once and an exception anywhere fails it.
- Limits: each answer cell may run `--cell-timeout` seconds (default 10; the reference gives the whole program
  20 s); a generation cell `--gen-timeout` seconds (default 300, model load included). A timeout ends the run as
  failed. The kernel's address space is capped (`--memory-limit-gb`, default 8; applied with prlimit on the kernel
  process, so nothing shows in the notebook's context) so runaway generated code cannot take the machine's memory.
- Problem 57 has 6 outputs for 5 inputs: input i is judged against output i. Problems 38 and 46 read CSV files
  MTPB does not ship, so they cannot pass; they stay in the denominator (as in the paper) and are flagged.
- Gold `None` (problem 41) and dicts (problem 89) can pass here; under the reference comparator they cannot.

Run (prefix `nice -n 10` on a shared machine):

    python benchmarks/eval_mtpb.py --model /tmp/model-step210 --limit 5 --inputs 1
    python benchmarks/eval_mtpb.py --model default --inputs 1 --name embedded      # all problems, ~8 min
    python benchmarks/eval_mtpb.py --model default --max-minutes 10 --name embedded

`--limit N` picks N problems spread evenly over the file (deterministic), `--problems 1,3,12` picks by id,
`--inputs K` the first K input sets of each; pairs run input-major (every problem's first input set, then every
problem's second, ...), so a run cut short by `--max-minutes` (no new pair starts after it) or by hand covers the
problems evenly. Writes `benchmarks/results/mtpb-<name>.json` (every record: the code per turn, printed output,
expected, passed, reason, seconds; rewritten after every pair, so an interrupted run keeps what it did) and
`mtpb-<name>.md` (pass rate, n, by category, outcomes, by problem), and prints the summary.

Cost, measured on the development machine (2 cores shared with a training run, load average 5-7), 9M embedded
model at step 210: 4.1 s per pair (2.8-7.9 s: kernel start, extension and model load, 3-7 generations, the cells),
so all 115 problems with one input set took 471 s and all 575 pairs take about 40 minutes. That checkpoint writes
one short line per turn; a model that fills `max_gen_length` (128-256 tokens, about 60-90 tokens/s for the 9M
model on this machine) adds 1.5-3 s per turn, up to about 12 s per pair. For a run of about ten minutes:
`--inputs 1` (115 pairs) for short answers, `--limit 50 --inputs 1` for long ones, or `--max-minutes 10`.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import math
import os
import re
import sys
import tempfile
import time
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness_kernel import CellRun, KernelSession

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "benchmarks" / "data" / "mtpb" / "mtpb.jsonl"
DEFAULT_OUT = REPO / "benchmarks" / "results"
PREAMBLE = "import numpy as np"
FLOAT_ABS_TOLERANCE = 1e-6  # the reference harness's tolerance for floats
FLOAT_REL_TOLERANCE = 1e-9  # for large numbers, where 1e-6 is below float precision
MAX_TAIL_LINES = 50
MAX_KEPT_OUTPUT = 4000  # characters of printed output kept per turn in the JSON (judging sees all of it)
MAX_KEPT_ERROR = 500  # characters of an exception's message kept per turn
MISSING_DATA = {"38": "reads ./datasets/mlbootcamp5_train.csv", "46": "reads ./datasets/melb_data.csv"}
"""Problems whose turns read CSV files that MTPB does not ship: they cannot pass."""


# -- items ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One (problem, input set) pair: the turns with the input's values filled in, and the expected output."""

    problem: str
    name: str
    category: str
    index: int
    inputs: dict
    turns: tuple[str, ...]
    expected: Any
    max_gen_length: int


def load_problems(path: str | Path = DEFAULT_DATA) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def select_problems(problems: list[dict], limit: int | None = None, ids: Sequence[str] | None = None) -> list[dict]:
    """By id, or `limit` problems spread evenly over the file (so a small run still covers several categories)."""
    if ids:
        wanted = [str(i) for i in ids]
        by_id = {p["id"]: p for p in problems}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise ValueError(f"no MTPB problem with id {', '.join(missing)}")
        return [by_id[i] for i in wanted]
    if limit is None or limit >= len(problems):
        return list(problems)
    return [problems[(i * len(problems)) // limit] for i in range(limit)]


def cases_of(problem: dict, inputs: int | None = None) -> list[Case]:
    """The problem's (problem, input set) cases; templates are filled with `str.format`, as the reference does."""
    count = len(problem["inputs"]) if inputs is None else min(inputs, len(problem["inputs"]))
    return [
        Case(
            problem=str(problem["id"]),
            name=problem.get("name", ""),
            category=problem.get("category", ""),
            index=i,
            inputs=problem["inputs"][i],
            turns=tuple(t.format(**problem["inputs"][i]) for t in problem["prompts"]),
            expected=problem["outputs"][i],
            max_gen_length=int(problem.get("max_gen_length", 256)),
        )
        for i in range(count)
    ]


# -- judging the printed output -------------------------------------------------------------------------------------

_NUMPY_MODULES = {"np", "numpy"}
_NUMPY_WRAPPERS = {
    "float16", "float32", "float64", "float128", "longdouble", "half", "single", "double",
    "int8", "int16", "int32", "int64", "intc", "intp", "longlong",
    "uint8", "uint16", "uint32", "uint64", "uintc", "uintp", "ulonglong",
    "bool", "bool_", "str_", "bytes_", "array",
}
_NUMPY_CONSTANTS = {"True_": True, "False_": False, "nan": math.nan, "inf": math.inf, "NaN": math.nan, "NAN": math.nan}


class Unreadable(ValueError):
    """The printed text is not a Python literal this module can read."""


def _value(node: ast.AST) -> Any:
    """A printed value from its syntax tree: literals, containers (tuples and sets become lists in printed order),
    negative numbers, and numpy's scalar reprs (`np.float64(1.5)`, `np.True_`), nothing that runs code."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise Unreadable("dict unpacking")
        return {_hashable(_value(k)): _value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and len(node.args) == 1 and _numpy_name(node.func, _NUMPY_WRAPPERS):
        if all(k.arg == "dtype" for k in node.keywords):
            return _value(node.args[0])
    if isinstance(node, (ast.Attribute, ast.Name)):
        name = _numpy_name(node, set(_NUMPY_CONSTANTS))
        if name is not None and (isinstance(node, ast.Attribute) or name in ("nan", "inf")):
            return _NUMPY_CONSTANTS[name]
    raise Unreadable(type(node).__name__)


def _numpy_name(node: ast.AST, names: set[str]) -> str | None:
    """`name` for `np.name`, `numpy.name` or a bare `name`, when it is one of `names`."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _NUMPY_MODULES:
        return node.attr if node.attr in names else None
    if isinstance(node, ast.Name) and node.id in names:
        return node.id
    return None


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _numpy_array_text(text: str) -> str | None:
    """numpy's array printing (`[1 2 3]`, `[[1. 2.]\\n [3. 4.]]`, `['a' 'b']`) with commas between elements."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    out: list[str] = []
    after_value = False
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.COMMENT):
            continue
        starts_value = tok.type in (tokenize.NUMBER, tokenize.STRING, tokenize.NAME) or tok.string in ("[", "(", "-", "+")
        if after_value and starts_value:
            out.append(",")
        out.append(tok.string)
        after_value = tok.type in (tokenize.NUMBER, tokenize.STRING, tokenize.NAME) or tok.string in ("]", ")")
    return " ".join(out)


def read_printed(text: str) -> list[Any]:
    """The Python values that could have printed `text` (usually one); empty when it cannot be read back.

    Two readings: as a Python literal, and, for text that starts with `[`, as numpy's comma-less array printing.
    Both are kept where both parse, because they can differ: `['a' 'b']` is numpy's array of two strings and,
    to Python, a list of one concatenated string.
    """
    text = text.strip()
    if not text:
        return []
    sources = [text]
    if text.startswith("["):  # numpy prints arrays without commas
        joined = _numpy_array_text(text)
        if joined is not None:
            sources.append(joined)
    values = []
    for source in sources:
        try:
            values.append(_value(ast.parse(source, mode="eval").body))
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # Unreadable is a ValueError
            continue
    return values


def _json_key(key: Any) -> str:
    """A dict key the way `json.dumps` writes it: the gold dicts went through JSON, so all their keys are strings."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return repr(key)
    return str(key)


def same_value(actual: Any, expected: Any) -> bool:
    """Structural equality of a value read from print output with a gold value (see the module docstring)."""
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if expected is None:
        return actual is None
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return math.isclose(actual, expected, rel_tol=FLOAT_REL_TOLERANCE, abs_tol=FLOAT_ABS_TOLERANCE)
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if isinstance(expected, list):
        return (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(same_value(a, e) for a, e in zip(actual, expected))
        )
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        keyed = {_json_key(k): v for k, v in actual.items()}
        return len(keyed) == len(actual) and keyed.keys() == expected.keys() and all(
            same_value(keyed[k], v) for k, v in expected.items()
        )
    return actual == expected


def tail_candidates(stdout: str) -> list[str]:
    """What the last print(s) wrote: the last line, the last two lines, ... (print's final newline dropped)."""
    body = stdout[:-1] if stdout.endswith("\n") else stdout
    lines = body.split("\n")
    return ["\n".join(lines[start:]) for start in range(len(lines) - 1, max(-1, len(lines) - 1 - MAX_TAIL_LINES), -1)]


def compare_output(stdout: str, expected: Any) -> tuple[bool, str]:
    """(passed, reason): whether the printed `stdout` ends with the expected value.

    A string must equal a tail of the printed text exactly (spaces matter: several gold strings begin or end with
    one, or are empty). Any other value is read from a tail of the text (`read_printed`) and compared with
    `same_value`; a tail that cannot be read as a value does not match. The tails tried are the last line, the last two lines, and so on, so a multi-line print (a nested
    numpy array) and earlier prints in the same program are both handled.
    """
    if not stdout:
        return False, "printed nothing"
    for candidate in tail_candidates(stdout):
        if isinstance(expected, str):
            if candidate == expected:
                return True, "passed"
            continue
        if any(same_value(value, expected) for value in read_printed(candidate)):
            return True, "passed"
    last = tail_candidates(stdout)[0]
    return False, f"wrong output: printed {_short(last)}, expected {_short(expected)}"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- running one case in a kernel -----------------------------------------------------------------------------------


@dataclass
class Settings:
    model: str | None
    """The CodeGen.model string; None when the code per turn is given (`run_case(answers=...)`)."""
    gen_timeout: float = 300.0
    cell_timeout: float = 10.0
    memory_limit_gb: float = 8.0
    startup_timeout: float = 120.0
    show_prompt: bool = False
    """Also keep the prompt the model read for each turn (`%%codegen --show-prompt`) in the record."""
    kernel_name: str = "python3"


@dataclass
class TurnRecord:
    request: str
    code: str = ""
    generation_seconds: float = 0.0
    generation_output: str = ""
    """What the %%codegen cell printed: notes (model device, token limit) and, on stderr, errors."""
    prompt: str | None = None
    stdout: str = ""
    displayed: str | None = None
    error: str | None = None
    seconds: float = 0.0


class _Stop(Exception):
    """Ends a pair: a cell ran out of time or the kernel died (the memory cap, `os._exit` in generated code).

    The message is the record's reason."""


def _run(kernel: KernelSession, source: str, timeout: float, what: str) -> CellRun:
    """`kernel.run`, except that a timeout or a dead kernel ends the pair (no later cell could run)."""
    ran = kernel.run(source, timeout)
    if ran.status == "timeout":
        raise _Stop(f"timeout: {what} {ran.error}")
    if ran.status == "dead":
        raise _Stop(f"kernel: {ran.error}")
    return ran


def setup_source(model: str, case: Case, conversations: Path) -> str:
    """The first cell: the extension, the model, greedy decoding and a conversation folder of this run's own."""
    return "\n".join(
        [
            "%load_ext jupyter_codegen",
            f"%config CodeGen.model = {model!r}",
            f"%config CodeGen.conversation_dir = {str(conversations)!r}",
            f"%config CodeGen.max_new_tokens = {case.max_gen_length}",
            "%config CodeGen.temperature = 0.0",
            "%config CodeGen.n = 1",
        ]
    )


def _split_prompt_note(text: str) -> tuple[str, str | None]:
    """The %%codegen cell's stdout without the `--show-prompt` note, and the prompt from it."""
    marker = "Prompt sent to the model:\n"
    at = text.find(marker)
    if at < 0:
        return text, None
    prompt = text[at + len(marker) :]
    return text[:at], prompt[:-1] if prompt.endswith("\n") else prompt


def run_case(case: Case, settings: Settings, answers: Sequence[str] | None = None) -> dict:
    """Runs one (problem, input set) in a fresh kernel and judges it; returns its JSON record.

    `answers`, when given, is the code for each turn, used instead of a `%%codegen` cell: the seam that lets a
    hand-written solution go through the same kernel, cells and judging as the model's code.
    """
    if answers is not None and len(answers) != len(case.turns):
        raise ValueError(f"{len(answers)} answers for {len(case.turns)} turns")
    if answers is None and not settings.model:
        raise ValueError("a model is needed when no answers are given")
    started = time.perf_counter()
    turns: list[TurnRecord] = []
    failure: str | None = None
    with tempfile.TemporaryDirectory(prefix=f"mtpb-{case.problem}-{case.index}-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        env = dict(os.environ, JPY_SESSION_NAME=str(workdir / f"mtpb-{case.problem}-{case.index}.ipynb"))
        try:
            with KernelSession(workdir, env, kernel_name=settings.kernel_name, startup_timeout=settings.startup_timeout,
                               memory_limit_gb=settings.memory_limit_gb) as kernel:
                if answers is None:
                    setup = _run(kernel, setup_source(settings.model, case, workdir / "conversations"),
                                 settings.gen_timeout, "setup")
                    if setup.error:
                        raise RuntimeError(f"setup cell failed: {setup.error}")
                _run(kernel, PREAMBLE, settings.cell_timeout, "setup")
                for k, request in enumerate(case.turns):
                    turn = TurnRecord(request=request)
                    turns.append(turn)
                    if answers is None:
                        flag = " --show-prompt" if settings.show_prompt else ""
                        gen = _run(kernel, f"%%codegen{flag}\n{request}", settings.gen_timeout,
                                   f"generation for turn {k + 1}")
                        turn.code = gen.next_input or ""
                        turn.generation_seconds = round(gen.seconds, 3)
                        notes, turn.prompt = _split_prompt_note(gen.stdout)
                        turn.generation_output = (notes + gen.stderr).strip()
                        if gen.error:
                            turn.generation_output += f"\n{gen.error[:MAX_KEPT_ERROR]}"
                    else:
                        turn.code = answers[k]
                    if not turn.code.strip():
                        continue
                    ran = _run(kernel, turn.code, settings.cell_timeout, f"turn {k + 1}'s code")
                    turn.seconds = round(ran.seconds, 3)
                    turn.stdout = ran.stdout
                    turn.displayed = ran.displayed
                    turn.error = ran.error[:MAX_KEPT_ERROR] if ran.error else None
        except _Stop as exc:
            failure = str(exc)
        except Exception as exc:  # a failed start or setup cell
            failure = f"kernel: {type(exc).__name__}: {str(exc)[:300]}"
    printed = "".join(t.stdout for t in turns)
    if failure is not None:
        passed, reason = False, failure
    else:
        passed, reason = compare_output(printed, case.expected)
        if not passed and not printed:
            reason = _why_nothing_printed(turns)
    if not passed and case.problem in MISSING_DATA:
        reason += f" (cannot pass: {MISSING_DATA[case.problem]}, which MTPB does not ship)"
    return {
        "problem": case.problem,
        "name": case.name,
        "category": case.category,
        "input_index": case.index,
        "inputs": case.inputs,
        "turns": [dict(t.__dict__, stdout=t.stdout[-MAX_KEPT_OUTPUT:]) for t in turns],  # a print loop can write MBs
        "printed": printed[-MAX_KEPT_OUTPUT:],
        "final_turn_printed": (turns[-1].stdout if turns else "")[-MAX_KEPT_OUTPUT:],
        "expected": case.expected,
        "passed": passed,
        "reason": reason,
        "reason_kind": reason.split(":")[0].split(" (")[0],
        "seconds": round(time.perf_counter() - started, 2),
    }


def _why_nothing_printed(turns: list[TurnRecord]) -> str:
    if not turns:
        return "printed nothing"
    final = turns[-1]
    if not final.code.strip():
        detail = f" ({final.generation_output.splitlines()[-1][:200]})" if final.generation_output.strip() else ""
        return f"no code: the final turn produced no code{detail}"
    if final.error:
        return f"error: the final turn raised {final.error}"
    if final.displayed is not None:
        return f"printed nothing: the final turn displayed {_short(final.displayed)} instead of printing it"
    return "printed nothing"


# -- the run --------------------------------------------------------------------------------------------------------


def summarize(records: list[dict]) -> dict:
    """Pass rate over (problem, input) pairs, by category, by problem, and failure kinds."""

    def rate(rs: list[dict]) -> dict:
        passed = sum(r["passed"] for r in rs)
        return {"n": len(rs), "passed": passed, "pass_rate": passed / len(rs) if rs else 0.0}

    by_category = {c: rate([r for r in records if r["category"] == c]) for c in sorted({r["category"] for r in records})}
    problems: dict[str, list[dict]] = {}
    for r in records:
        problems.setdefault(r["problem"], []).append(r)
    by_problem = [
        {"problem": p, "name": rs[0]["name"], "category": rs[0]["category"], **rate(rs)} for p, rs in problems.items()
    ]
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r["reason_kind"]] = kinds.get(r["reason_kind"], 0) + 1
    seconds = [r["seconds"] for r in records]
    return {
        **rate(records),
        "problems": len(problems),
        "by_category": by_category,
        "by_problem": by_problem,
        "outcomes": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "seconds_total": round(sum(seconds), 1),
        "seconds_per_case": round(sum(seconds) / len(seconds), 2) if seconds else 0.0,
    }


def markdown(report: dict) -> str:
    s = report["summary"]
    lines = [
        f"# MTPB through the magics: {report['name']}",
        "",
        f"Model `{report['model']}`; {s['n']} (problem, input) pairs from {s['problems']} problems "
        f"(up to the first {report['settings']['inputs_per_problem']} input set(s) of each); greedy, one kernel per pair.",
        "",
        ("" if report["complete"] else f"Stopped early: {s['n']} of {report['planned']} planned pairs ran. ")
        + f"**Pass rate: {100 * s['pass_rate']:.2f}%** ({s['passed']}/{s['n']}). "
        f"Time: {s['seconds_total']:.0f} s in all, {s['seconds_per_case']:.1f} s per pair.",
        "",
        "| category | n | passed | pass rate |",
        "|---|---|---|---|",
    ]
    for cat, r in s["by_category"].items():
        lines.append(f"| {cat} | {r['n']} | {r['passed']} | {100 * r['pass_rate']:.1f}% |")
    lines += ["", "| outcome | pairs |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["outcomes"].items()]
    lines += ["", "| problem | name | category | passed | share |", "|---|---|---|---|---|"]
    for p in s["by_problem"]:
        lines.append(f"| {p['problem']} | {p['name']} | {p['category']} | {p['passed']}/{p['n']} | {p['pass_rate']:.2f} |")
    return "\n".join(lines) + "\n"


def default_name(spec: str) -> str:
    path = Path(spec).expanduser()
    base = path.name if path.exists() else spec
    return re.sub(r"[^\w.-]+", "-", base).strip("-") or "model"


def run(
    cases: list[Case],
    settings: Settings,
    *,
    name: str,
    out: Path,
    inputs_per_problem: int,
    max_seconds: float | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> dict:
    """Runs the cases in order, rewriting the JSON after each one; returns the report.

    With `max_seconds`, no case starts after that much time: the report says how many were planned and run.
    """
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"mtpb-{name}.json", out / f"mtpb-{name}.md"
    records: list[dict] = []
    started = time.perf_counter()

    def report() -> dict:
        return {
            "benchmark": "mtpb",
            "model": settings.model,
            "name": name,
            "settings": {
                "gen_timeout": settings.gen_timeout,
                "cell_timeout": settings.cell_timeout,
                "memory_limit_gb": settings.memory_limit_gb,
                "inputs_per_problem": inputs_per_problem,
                "max_seconds": max_seconds,
                "preamble": PREAMBLE,
                "decoding": "greedy (temperature 0, n 1), max_new_tokens = max_gen_length",
            },
            "planned": len(cases),
            "complete": len(records) == len(cases),
            "wall_seconds": round(time.perf_counter() - started, 1),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "summary": summarize(records),
            "records": records,
        }

    for i, case in enumerate(cases):
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            log(f"time budget of {max_seconds:.0f} s spent: stopping after {len(records)} of {len(cases)} pairs")
            break
        record = run_case(case, settings)
        records.append(record)
        verdict = "PASS" if record["passed"] else f"FAIL ({record['reason'][:100]})"
        log(f"{i + 1}/{len(cases)} problem {case.problem} input {case.index}: {verdict} {record['seconds']:.1f} s")
        json_path.write_text(json.dumps(report(), indent=1, default=str) + "\n", encoding="utf-8")
    final = report()
    json_path.write_text(json.dumps(final, indent=1, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(final), encoding="utf-8")
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="MTPB pass rate of a model through %%codegen in real kernels (see the module docstring).",
    )
    parser.add_argument("--model", required=True, help="any CodeGen.model string load_engine accepts")
    parser.add_argument("--limit", type=int, default=None, help="N problems spread evenly over the 115 (default all)")
    parser.add_argument("--problems", default=None, help="comma-separated problem ids instead of --limit")
    parser.add_argument("--inputs", type=int, default=5, help="input sets per problem, the first K (default 5)")
    parser.add_argument("--name", default=None, help="results name (default: from --model)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="results folder (default %(default)s)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="mtpb.jsonl (default %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=10.0, help="seconds per answer cell (default 10)")
    parser.add_argument("--gen-timeout", type=float, default=300.0, help="seconds per %%%%codegen cell (default 300)")
    parser.add_argument("--memory-limit-gb", type=float, default=8.0, help="kernel address-space cap, 0 for none (default 8)")
    parser.add_argument("--show-prompt", action="store_true", help="keep each turn's prompt in the JSON")
    parser.add_argument("--max-minutes", type=float, default=None, help="start no new pair after this many minutes")
    args = parser.parse_args(argv)
    if args.inputs < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--inputs and --limit must be at least 1")

    data = Path(args.data)
    if not data.is_file():
        parser.error(f"{data} does not exist; pass --data PATH/mtpb.jsonl")
    ids = [i.strip() for i in args.problems.split(",") if i.strip()] if args.problems else None
    problems = select_problems(load_problems(data), args.limit, ids)
    # Input-major order (every problem's first input set, then every problem's second, ...): a run stopped by
    # --max-minutes or by hand has covered the problems evenly.
    cases = sorted((c for p in problems for c in cases_of(p, args.inputs)), key=lambda c: c.index)
    settings = Settings(
        model=args.model,
        gen_timeout=args.gen_timeout,
        cell_timeout=args.cell_timeout,
        memory_limit_gb=args.memory_limit_gb,
        show_prompt=args.show_prompt,
    )
    name = args.name or default_name(args.model)

    def log(message: str) -> None:
        print(f"[mtpb] {message}", file=sys.stderr, flush=True)

    log(f"{len(cases)} (problem, input) pairs from {len(problems)} problems, model {args.model}")
    max_seconds = args.max_minutes * 60 if args.max_minutes else None
    report = run(
        cases, settings, name=name, out=Path(args.out), inputs_per_problem=args.inputs, max_seconds=max_seconds, log=log
    )
    print(markdown(report))
    print(f"-> {Path(args.out) / f'mtpb-{name}.json'}, {Path(args.out) / f'mtpb-{name}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
