"""The run-debug-revise loop in a real kernel: a NameError gets a fix that runs, candidates are checked in a fork of
the kernel with their verdicts shown, and what a candidate does (loop, write a file, display, change a variable)
never reaches the user's kernel, which keeps answering."""

from __future__ import annotations

import pytest
from test_kernel_comm import execute, final_bundle, kernel  # noqa: F401 - the kernel fixture

pytestmark = pytest.mark.slow


def test_a_name_error_gets_a_checked_fix_that_runs(kernel, tmp_path):  # noqa: F811
    assert execute(kernel, "prices = [3, 4]", "a")["status"] == "ok"
    failed = execute(kernel, "total = 0\ntotal += sum(prces)\nprint(total)", "b")
    assert failed["status"] == "error" and "NameError" in failed["text"]
    run = execute(kernel, "%codegen --fix -n 3 --check", "c")
    assert run["status"] == "ok", run
    assert "each run in a copy of the kernel" in run["text"] and "<- chosen" in run["text"]
    chosen = next(line for line in run["text"].splitlines() if "<- chosen" in line)
    assert "ran without error" in chosen, run["text"]
    fix = final_bundle(run)["cells"][0]["source"]
    assert fix == "total = 0\ntotal += sum(prices)\nprint(total)"
    again = execute(kernel, fix, "d")
    assert again["status"] == "ok" and again["text"].strip() == "7"


def test_candidates_that_loop_write_files_or_display_are_stopped_and_the_kernel_is_untouched(kernel, tmp_path):  # noqa: F811
    target = tmp_path / "out.txt"
    candidates = ["while True:\n    pass", f"open({str(target)!r}, 'w').write('x')",
                  "seen.append(1)\nprint('leak')\ndisplay('leak')"]
    code = "\n".join([
        "from jupyter_codegen.candidate_check import check",
        "seen = []",
        f"verdicts = [check(c, get_ipython().user_ns, get_ipython(), 1.0) for c in {candidates!r}]",
        "print([v.status for v in verdicts], seen)",
    ])
    run = execute(kernel, code, "e")
    assert run["status"] == "ok", run
    assert "['timeout', 'blocked', 'ok'] []" in run["text"]  # the fork's append stayed in the fork
    assert "leak" not in run["text"] and not any("leak" in str(b) for b in run["bundles"])
    assert not target.exists()
    after = execute(kernel, "print(len(seen), 1 + 1)", "f")
    assert after["status"] == "ok" and after["text"].strip() == "0 2"
