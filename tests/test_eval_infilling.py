"""The HumanEval infilling harness (benchmarks/eval_infilling.py) and its sandbox (benchmarks/sandbox.py)."""

import gzip
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import eval_infilling as E  # noqa: E402
from sandbox import run_program  # noqa: E402

# -- sandbox --------------------------------------------------------------------------------------------------


def test_sandbox_passing_program_passes():
    result = run_program("import math\nassert math.sqrt(4) == 2\n", timeout_s=5)
    assert result.status == "passed" and result.passed and result.returncode == 0


def test_sandbox_failing_program_fails_with_its_traceback():
    result = run_program("def f():\n    return 1\nassert f() == 2\n", timeout_s=5)
    assert result.status == "failed" and not result.passed
    assert "AssertionError" in result.stderr


def test_sandbox_stops_an_infinite_loop_at_the_limit():
    result = run_program("while True:\n    pass\n", timeout_s=1)
    assert result.status == "timeout" and not result.passed
    assert 0.9 < result.seconds < 5


def test_sandbox_runs_in_a_fresh_temporary_directory(tmp_path):
    result = run_program(f"import os\nassert os.getcwd() != {str(tmp_path)!r}\nopen('x.txt', 'w').write('x')\n")
    assert result.passed
    assert not (tmp_path / "x.txt").exists()


# -- pieces ---------------------------------------------------------------------------------------------------


def _task(**changes) -> E.Task:
    fields = dict(
        task_id="T/0", set="single", left="def f(x):\n", right="    return y\n", middle="    y = x + 1\n",
        test="def check(candidate):\n    assert candidate(1) == 2\n", entry_point="f",
    )
    return E.Task(**(fields | changes))


def test_program_layout_and_exact_match():
    task = _task()
    assert run_program(E.program(task, task.middle)).passed
    assert not run_program(E.program(task, "")).passed
    assert E.exact_match("  y = x + 1", task.middle) and not E.exact_match("y = x+1", task.middle)


def test_sample_is_deterministic_nested_and_in_file_order():
    tasks = [_task(task_id=f"T/{i}") for i in range(50)]
    small, large = E.sample(tasks, 10), E.sample(tasks, 20)
    assert small == E.sample(tasks, 10)
    assert {t.task_id for t in E.sample(tasks[::-1], 10)} == {t.task_id for t in small}
    assert len(small) == 10 and {t.task_id for t in small} <= {t.task_id for t in large}
    assert small == [t for t in tasks if t in small]
    assert E.sample(tasks, None) == tasks and E.sample(tasks, 100) == tasks


def test_limits_per_set():
    assert E.parse_limits(None, ["single", "multi"]) == {"single": None, "multi": E.DEFAULT_LIMITS["multi"]}
    assert E.parse_limits(["7"], ["single", "random"]) == {"single": 7, "random": 7}
    assert E.parse_limits(["multi=all", "random=5"], ["multi", "random"]) == {"multi": None, "random": 5}
    with pytest.raises(SystemExit):
        E.parse_limits(["nope=3"], ["single"])


# -- the harness with the canonical middle as the fill --------------------------------------------------------


def test_canonical_middles_pass_and_match_and_the_floor_is_computed():
    tasks = {s: E.sample(E.load_tasks(s), 3) for s in E.SETS}
    assert all(len(t) == 3 for t in tasks.values())
    run = E.evaluate(tasks, ["infill"], E.canonical_filler, workers=2)
    rows = {(r.set, r.method): r for r in E.summarize(run, list(E.SETS), ["infill"])}
    for s in E.SETS:
        assert rows[s, "infill"].n == 3
        assert rows[s, "infill"].pass_rate == 100.0 and rows[s, "infill"].exact_rate == 100.0
        floor = rows[s, E.FLOOR]
        assert floor.n == 3 and floor.pass_rate is not None and floor.exact_rate == 0.0
        assert (s, E.CEILING) not in rows  # only with a left-to-right method
    assert {r.method for r in run.records} == {"infill", E.FLOOR}


def test_main_writes_json_and_markdown(tmp_path, capsys):
    rows = E.main(
        ["--model", "canonical", "--sets", "single", "--methods", "left-to-right", "--limit", "2",
         "--out", str(tmp_path), "--name", "t"],
        filler=E.canonical_filler,
    )
    assert [r.method for r in rows] == ["left-to-right", E.FLOOR, E.CEILING]
    payload = json.loads((tmp_path / "infilling-t.json").read_text())
    record = payload["records"][0]
    assert {"task_id", "set", "method", "fill", "passed", "exact", "seconds"} <= record.keys()
    assert len(payload["records"]) == 2 * 3
    table = (tmp_path / "infilling-t.md").read_text()
    assert "| single | left-to-right single | 100.0 | 100.0 | 2 |" in table
    assert "empty fill (floor)" in table and table.strip() in capsys.readouterr().out


# -- end to end on tiny random-weight models ------------------------------------------------------------------


def _short_tasks(folder: Path, count: int = 3) -> Path:
    """A data folder whose single-line set holds the `count` shortest tasks (tiny models read 256 tokens)."""
    with gzip.open(E.DATA_DIR / E.SETS["single"].file, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    rows.sort(key=lambda r: len(r["prompt"]) + len(r["suffix"]))
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / E.SETS["single"].file, "wt", encoding="utf-8") as f:
        for row in rows[:count]:
            f.write(json.dumps(row) + "\n")
    return folder


@pytest.mark.slow
def test_end_to_end_on_a_causal_masking_model(tiny_model, tmp_path):
    data = _short_tasks(tmp_path / "data")
    rows = E.main(
        ["--model", str(tiny_model("xglm")), "--sets", "single", "--k", "2", "--data", str(data),
         "--out", str(tmp_path / "out"), "--name", "xglm", "--timeout", "3"]
    )
    by_method = {r.method: r for r in rows}
    for method in E.METHODS:
        assert by_method[method].n == 3 and by_method[method].note is None
        assert by_method[method].errors == 0
        assert by_method[method].seconds_per_task is not None
    assert by_method["infill"].label == "infill (causal masking)"
    records = json.loads((tmp_path / "out" / "infilling-xglm.json").read_text())["records"]
    assert {(r["method"], r["task_id"]) for r in records if r["method"] in E.METHODS} == {
        (m, t) for m in E.METHODS for t in {r["task_id"] for r in records}
    }
    for r in records:
        if r["method"] in E.METHODS:
            assert sum(1 for line in r["fill"].splitlines() if line.strip()) <= 1  # single-line: one line


@pytest.mark.slow
def test_guard_fills_as_infill_magic_does(tiny_model, tmp_path, monkeypatch):
    """--guard: every fill asks for the guard of a marked hole (KnownColumns.nonempty), and the report says so."""
    import jupyter_codegen.infill as infill_module

    data = _short_tasks(tmp_path / "data")
    asked = []
    real = infill_module.fill_holes

    def recording(engine, parts, options, **kw):
        asked.append(options.columns)
        return real(engine, parts, options, **kw)

    monkeypatch.setattr(infill_module, "fill_holes", recording)
    E.main(["--model", str(tiny_model("xglm")), "--sets", "single", "--methods", "infill", "--data", str(data),
            "--out", str(tmp_path / "out"), "--name", "g", "--timeout", "3", "--guard"])
    settings = json.loads((tmp_path / "out" / "infilling-g.json").read_text())["settings"]
    assert settings["guard"].startswith("the guard of a marked hole")
    assert len(asked) == 3 and all(known is not None and known.nonempty for known in asked)


@pytest.mark.slow
def test_infill_is_not_applicable_to_a_left_to_right_model(tiny_model, tmp_path):
    data = _short_tasks(tmp_path / "data", count=2)
    rows = E.main(
        ["--model", str(tiny_model("codegen")), "--sets", "single", "--methods", "left-to-right", "infill",
         "--data", str(data), "--out", str(tmp_path / "out"), "--name", "codegen"]
    )
    by_method = {r.method: r for r in rows}
    assert by_method["infill"].note is not None and by_method["infill"].pass_rate is None
    assert by_method["left-to-right"].n == 2
    table = (tmp_path / "out" / "infilling-codegen.md").read_text()
    assert "| single | infill (fill-in-the-middle) | n/a | n/a | n/a |" in table
    assert "no infill tokens" in table
