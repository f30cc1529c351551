"""The benchmark harnesses' kernel runner (benchmarks/harness_kernel.py) on a real kernel."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from harness_kernel import KernelSession  # noqa: E402


@pytest.mark.slow
def test_a_cell_reports_what_a_front_end_sees_and_silent_cells_leave_no_trace(tmp_path):
    with KernelSession(tmp_path, os.environ, memory_limit_gb=2) as kernel:
        silent = kernel.run_silent("hidden = 1\nprint('quiet')\nhidden", 20)
        assert silent.status == "ok" and silent.stdout == "quiet\n" and silent.execution_count is None

        shown = kernel.run("import sys\nprint('out'); print('err', file=sys.stderr)\nhidden + 1", 20)
        assert (shown.status, shown.stdout, shown.stderr, shown.displayed) == ("ok", "out\n", "err\n", "2")
        assert shown.execution_count == 1  # the silent cell was not counted

        proposed = kernel.run("get_ipython().set_next_input('x = 1')", 20)
        assert proposed.next_input == "x = 1" and proposed.displayed is None

        raised = kernel.run("bytearray(4 * 2**30)", 20)  # over the cap: an error in the cell, the kernel lives
        assert raised.status == "error" and raised.error.startswith("MemoryError")

        looping = kernel.run("while True:\n    pass", 1.5)
        assert (looping.status, looping.error) == ("timeout", "timed out after 1.5 s")
        assert not kernel.usable and kernel.run("1", 20).status == "dead"  # nothing more runs in a busy kernel
