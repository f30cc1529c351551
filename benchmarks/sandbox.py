"""Run an untrusted Python program in a child process with a time limit, and say how it ended.

Used by the benchmark harnesses to execute model-written code against unit tests. Isolation is modest and
meant against accidents, not attacks: a fresh temporary directory as working directory (removed afterwards),
`python -I` (no user site-packages, no PYTHON* variables), an almost empty environment, stdin closed, its own
process group (so a program that forks is killed whole), and resource limits (address space, file size,
CPU seconds, so a runaway allocation or write cannot take the machine down). Nothing here needs a network.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Literal

Status = Literal["passed", "failed", "timeout"]

DEFAULT_TIMEOUT_S = 3.0
DEFAULT_MEMORY_MB = 2048
MAX_FILE_BYTES = 16 << 20
_TAIL = 2000


@dataclass(frozen=True)
class RunResult:
    status: Status
    """passed: exit status 0 within the limit; failed: any other exit; timeout: still running at the limit."""
    returncode: int | None
    seconds: float
    stderr: str
    """The last characters of the program's stderr (the traceback of a failed assertion)."""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# The child sets its own limits before running the program: `preexec_fn` is not safe in a process with threads
# (the harness runs programs from a thread pool while ONNX Runtime runs its own).
_BOOT = """\
import resource, runpy, sys
path, cpu, fsize, memory = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
if memory:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


def run_program(
    source: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    *,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    python: str = sys.executable,
) -> RunResult:
    """Writes `source` to a temporary directory and runs it there with `python -I`, for at most `timeout_s`."""
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp:
        path = os.path.join(tmp, "program.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        start = time.monotonic()
        proc = subprocess.Popen(
            [python, "-I", "-B", "-c", _BOOT, path, str(int(timeout_s) + 2), str(MAX_FILE_BYTES),
             str((memory_mb or 0) << 20)],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=timeout_s)
            status: Status = "passed" if proc.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a grandchild in another session still holds stderr
                proc.kill()
                proc.wait()
                err = b""
            status = "timeout"
        seconds = time.monotonic() - start
        text = err.decode("utf-8", "replace")[-_TAIL:]
        return RunResult(status=status, returncode=proc.returncode, seconds=seconds, stderr=text)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kills the program and whatever it started (its own session, so its process group id is its pid)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
