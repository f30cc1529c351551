"""Candidates run in a fork of this process: the verdicts, and that nothing reaches the caller or its files."""

import os
import time

from jupyter_codegen.candidate_check import Verdict, check, rank


def test_a_candidate_that_runs_or_fails_gets_its_verdict_and_the_callers_objects_are_untouched():
    namespace = {"prices": [3, 4], "log": []}
    ok = check("log.append('changed')\ntotal = sum(prices)\nprint(total)", namespace)
    assert ok.status == "ok" and ok.ran and "without error" in ok.describe()
    assert namespace == {"prices": [3, 4], "log": []}  # the fork's copy changed, not ours
    failed = check("sum(prces)", namespace)
    assert (failed.status, failed.detail) == ("error", "NameError: name 'prces' is not defined")


def test_files_network_and_processes_are_refused_and_marked(tmp_path):
    target = tmp_path / "out.csv"
    wrote = check(f"open({str(target)!r}, 'w').write('x')", {})
    assert wrote.status == "blocked" and "writes the file" in wrote.detail and not target.exists()
    caught = check(f"try:\n    open({str(target)!r}, 'a')\nexcept OSError:\n    pass", {})
    assert caught.status == "blocked" and not target.exists()  # catching the refusal does not hide it
    (tmp_path / "keep.txt").write_text("data")
    removed = check(f"import os\nos.remove({str(tmp_path / 'keep.txt')!r})", {})
    assert removed.status == "blocked" and (tmp_path / "keep.txt").read_text() == "data"
    assert check("import socket\nsocket.create_connection(('127.0.0.1', 9))", {}).status == "blocked"
    assert check("import subprocess\nsubprocess.run(['true'])", {}).status == "blocked"
    read = check(f"text = open({str(tmp_path / 'keep.txt')!r}).read()\nassert text == 'data'", {})
    assert read.status == "ok"  # reading the user's files is allowed


def test_a_candidate_that_loops_forever_is_stopped_at_the_limit():
    started = time.perf_counter()
    looped = check("while True:\n    pass", {}, timeout=0.5)
    assert looped.status == "timeout" and "0.5 s" in looped.detail
    swallowed = check("import time\nwhile True:\n    try:\n        time.sleep(0.01)\n    except BaseException:\n        pass", {}, timeout=0.5)
    assert swallowed.status == "timeout"  # an alarm it swallows does not save it: the parent kills it
    assert time.perf_counter() - started < 6
    assert os.getpid() and check("x = 1", {}).ran  # this process is fine afterwards


def test_ranking_prefers_candidates_that_ran_and_keeps_the_answers_order_otherwise():
    verdicts = [Verdict("error", "x"), Verdict("ok"), Verdict("ok"), Verdict("timeout", "t")]
    assert rank(verdicts) == [1, 2, 0, 3]


def test_temporary_files_go_to_a_scratch_folder_and_a_plot_is_drawn_off_screen():
    verdict = check("import tempfile, os\nwith tempfile.NamedTemporaryFile('w') as f:\n    f.write('x')\n"
                    "os.makedirs(os.path.join(tempfile.gettempdir(), 'cache'))", {})
    assert verdict.status == "ok", verdict
    plotted = check("import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.show()", {})
    assert plotted.status == "ok", plotted


def test_a_write_that_python_does_not_see_is_refused_by_the_system_where_landlock_exists(tmp_path):
    target = tmp_path / "raw.bin"
    # os.open's flags are audited, so write through libc, as a C extension would.
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = libc.open({str(target).encode()!r}, 0o1101, 0o644)\n"  # O_WRONLY | O_CREAT | O_TRUNC
        "assert fd < 0, 'the file was opened for writing'\n"
        "raise PermissionError(13, 'Permission denied', " + repr(str(target)) + ")\n"
    )
    verdict = check(code, {})
    probe = check("from jupyter_codegen.candidate_check import _landlock\nimport tempfile\n"
                  "assert _landlock(tempfile.mkdtemp())", {})
    if probe.status != "ok":  # a kernel without Landlock (before Linux 5.13): only the audit hook guards
        assert verdict.status == "error" and target.exists()
        return
    assert verdict.status == "blocked" and "refused by the system" in verdict.detail, verdict
    assert not target.exists()
