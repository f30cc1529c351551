"""Runs a candidate cell against a copy of the kernel's state, never in the kernel itself.

The copy is a fork of the kernel process: the child has every variable the user made, copied on write, so nothing
it does reaches the user's objects. In the child, an audit hook refuses file writes (outside a scratch folder of its own,
where libraries keep their caches and temporary files), network use and new processes (the candidate is stopped
and marked, not run further), and on Linux with Landlock the kernel itself refuses writes outside that folder and
TCP connections (so a C extension writing a file is stopped too); output goes nowhere, and an alarm ends it after
the time limit; the parent kills it if it does not answer in time. Only the verdict comes back, over a pipe.
Needs `os.fork` (Linux, macOS); elsewhere each candidate is reported as not checked.
"""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

Status = Literal["ok", "error", "timeout", "blocked", "unchecked"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FILE_EVENTS = {
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown", "os.link",
    "os.symlink", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
    "shutil.move", "shutil.make_archive", "shutil.unpack_archive",
}
_NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo", "urllib.Request"}
_PROCESS_EVENTS = {
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
    "os.startfile", "pty.spawn",
}


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str = ""
    """What went wrong, in words ("NameError: ...", "writes the file out.csv", "ran past 5 s")."""
    seconds: float = 0.0

    @property
    def ran(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        if self.status == "ok":
            return f"ran without error in {self.seconds:.2f} s"
        if self.status == "error":
            return f"raised {self.detail}"
        if self.status == "timeout":
            return f"stopped: {self.detail}"
        if self.status == "blocked":
            return f"stopped: {self.detail}"
        return f"not checked: {self.detail}"


READY = b"\x06"
SETUP_SECONDS = 20.0
"""How long the copy may take beyond the limit before it is killed: a first matplotlib import scans the fonts."""


class _Blocked(PermissionError):
    """Raised in the child for what a candidate may not do; a PermissionError, as a read-only system would raise."""


def _inside(path: Any, scratch: str) -> bool:
    """Whether `path` is in the candidate's own scratch folder (or is the null device)."""
    if isinstance(path, int):
        return False
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real == os.devnull or real == scratch or real.startswith(scratch + os.sep)


def _guard(blocked: list[str], scratch: str) -> Callable[[str, tuple], None]:
    def hook(event: str, args: tuple) -> None:
        why = None
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes and not _inside(path, scratch):
                why = f"writes the file {path!r}"
        elif event in _FILE_EVENTS:
            if not (args and all(_inside(a, scratch) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike)))):
                why = f"changes files ({event} {args[0]!r})" if args else f"changes files ({event})"
        elif event in _NETWORK_EVENTS:
            why = "uses the network"
        elif event in _PROCESS_EVENTS or event.startswith("os.exec") or event.startswith("os.spawn"):
            why = "starts another process"
        if why is not None:
            if not blocked:
                blocked.append(why)
            raise _Blocked(f"jupyter-codegen's candidate check does not allow this: the candidate {why}")

    return hook


# Landlock (Linux 5.13+): the kernel refuses the child's file writes outside the scratch folder and its TCP use,
# whatever code makes them (a C extension writing a Parquet file makes no audit event).
_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}  # the same on x86-64 and arm64
_FS_WRITES_BY_ABI = {1: 0b1_1111_1111_0010, 2: 0b11_1111_1111_0010, 3: 0b111_1111_1111_0010}
"""Write-side rights handled (so denied unless a rule allows them): write_file, remove_dir, remove_file, make_* (ABI 1),
refer (2), truncate (3); execute, read_file and read_dir stay allowed."""


def _landlock(scratch: str) -> bool:
    """Confines this process's writes to `scratch` (and /dev/null) and forbids TCP; False where Landlock is missing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
        syscall.restype = ctypes.c_long
        abi = syscall(_SYS_LANDLOCK["create_ruleset"], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        if abi < 1:
            return False
        fs = _FS_WRITES_BY_ABI[min(abi, 3)]

        class RulesetAttr(ctypes.Structure):
            _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64)]

        class PathBeneath(ctypes.Structure):
            _pack_ = 1
            _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

        attr = RulesetAttr(fs, 0b11 if abi >= 4 else 0)  # bind_tcp | connect_tcp
        size = ctypes.sizeof(RulesetAttr) if abi >= 4 else 8
        ruleset = syscall(_SYS_LANDLOCK["create_ruleset"], ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if ruleset < 0:
            return False
        for path, rights in ((scratch, fs), (os.devnull, fs & 0b100_0000_0000_0010)):  # a file: write, truncate
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = PathBeneath(rights, fd)
                if syscall(_SYS_LANDLOCK["add_rule"], ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    return False
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required to restrict oneself
            return False
        return syscall(_SYS_LANDLOCK["restrict_self"], ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0
    except Exception:  # noqa: BLE001 - no Landlock: the audit hook still refuses what Python code does
        return False


def _silence(shell: Any) -> None:
    """The child must not write to the kernel's channels (they belong to the parent): output goes nowhere."""
    sys.stdout = io.StringIO()
    sys.stderr = io.StringIO()
    if shell is not None:
        if getattr(shell, "display_pub", None) is not None:
            shell.display_pub.publish = lambda *args, **kwargs: None
        shell.displayhook = lambda *args, **kwargs: None
    sys.displayhook = lambda value: None
    if "matplotlib" in sys.modules:
        try:
            import matplotlib

            matplotlib.use("agg", force=True)
        except Exception:  # noqa: BLE001 - a plot that cannot be drawn fails as the candidate's own error
            pass


_PLOTS = ("plot", "plt.", "hist(", "sns.", "seaborn", "matplotlib", "scatter(", "boxplot(")


def _prepare_plotting(code: str, scratch: str) -> None:
    """Imports matplotlib (off screen) before the guard when the candidate plots: its first import may scan the
    system's fonts with a subprocess and write a cache, which is matplotlib's setup, not the candidate's doing. The
    usual cache is used when it exists, else one in the scratch folder."""
    if "matplotlib.pyplot" in sys.modules or not any(p in code for p in _PLOTS):
        return
    os.environ["MPLBACKEND"] = "agg"
    try:
        import matplotlib

        if not os.path.isdir(matplotlib.get_cachedir()):
            os.environ["MPLCONFIGDIR"] = scratch
        import matplotlib.pyplot  # noqa: F401
    except Exception:  # noqa: BLE001 - no matplotlib: the candidate's own import fails, as its verdict
        pass


def _child(code: str, namespace: dict, shell: Any, timeout: float, pipe: int, scratch: str) -> None:
    blocked: list[str] = []
    result: dict[str, Any]
    started = time.perf_counter()
    try:
        # Temporary files go to a folder of the candidate's own.
        for name in ("TMPDIR", "TEMP", "TMP"):
            os.environ[name] = scratch
        tempfile.tempdir = scratch
        _prepare_plotting(code, scratch)
        _silence(shell)
        sys.dont_write_bytecode = True
        source = shell.transform_cell(code) if shell is not None else code
        compiled = compile(source, "<candidate>", "exec")

        def on_alarm(signum, frame):
            raise TimeoutError(f"ran past {timeout:g} s")

        signal.signal(signal.SIGALRM, on_alarm)
        os.write(pipe, READY)  # set up: the parent's clock for the candidate starts now
        signal.setitimer(signal.ITIMER_REAL, timeout)
        _landlock(scratch)
        sys.addaudithook(_guard(blocked, scratch))
        exec(compiled, namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
        result = {"status": "blocked", "detail": blocked[0]} if blocked else {"status": "ok"}
    except TimeoutError as exc:
        result = {"status": "timeout", "detail": str(exc)}
    except BaseException as exc:  # noqa: BLE001 - every failure is a verdict
        if blocked:
            result = {"status": "blocked", "detail": blocked[0]}
        elif isinstance(exc, PermissionError) and exc.filename is not None:  # refused by Landlock
            result = {"status": "blocked", "detail": f"writes the file {exc.filename!r} (refused by the system)"}
        else:
            detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            result = {"status": "error", "detail": detail[:300]}
    result["seconds"] = time.perf_counter() - started
    data = json.dumps(result).encode()
    os.write(pipe, data[:60_000])


def check(code: str, namespace: dict, shell: Any = None, timeout: float = 5.0) -> Verdict:
    """Runs `code` in a fork of this process against `namespace` (the user's, copied by the fork) and says how
    it fared; the caller's process and files are untouched whatever the code does."""
    if not hasattr(os, "fork"):
        return Verdict("unchecked", "this platform cannot run a copy of the kernel (no os.fork)")
    scratch = os.path.realpath(tempfile.mkdtemp(prefix="codegen-check-"))
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the copy: run, report, and leave without running any of the parent's exit handlers
        try:
            os.close(read)
            _child(code, namespace, shell, timeout, write, scratch)
        finally:
            os._exit(0)
    os.close(write)
    chunks: list[bytes] = []
    deadline = started + timeout + SETUP_SECONDS
    running = False
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            ready, _, _ = select.select([read], [], [], left)
            if not ready:
                break
            chunk = os.read(read, 65536)
            if not chunk:
                break
            if not running and chunk.startswith(READY):
                running, chunk = True, chunk[len(READY):]
                deadline = time.perf_counter() + timeout + 1.0
            chunks.append(chunk)
    finally:
        os.close(read)
        elapsed = time.perf_counter() - started
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        shutil.rmtree(scratch, ignore_errors=True)
    if not b"".join(chunks).strip():
        if running and elapsed >= timeout:
            return Verdict("timeout", f"ran past {timeout:g} s", elapsed)
        return Verdict("error", "the copy of the kernel ended without an answer (it crashed or exited)", elapsed)
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        return Verdict("error", "the copy of the kernel answered unreadably", elapsed)
    return Verdict(result["status"], result.get("detail", ""), float(result.get("seconds", elapsed)))


def rank(verdicts: list[Verdict]) -> list[int]:
    """Indices of the candidates best first: those that ran without error, each group in the order given (the
    answer's own preference: log-probability, or for a fix, closeness to the user's cell)."""
    return sorted(range(len(verdicts)), key=lambda i: not verdicts[i].ran)


def report(codes: list[str], verdicts: list[Verdict], logprobs: list[float | None], order: list[int], origins: list[str],
           timeout: float, reviews: list[float | None] | None = None) -> str:
    """How each candidate fared, best first, for the cell's output."""
    lines = [f"{len(codes)} candidate{'s' if len(codes) != 1 else ''}, each run in a copy of the kernel ({timeout:g} s limit):"]
    for rank_, i in enumerate(order, 1):
        first = next((line for line in codes[i].splitlines() if line.strip()), "").strip()
        if len(first) > 60:
            first = first[:57] + "..."
        about = [verdicts[i].describe()]
        if logprobs[i] is not None:
            about.append(f"log-prob {logprobs[i]:.2f}")
        if reviews and reviews[i] is not None:
            about.append(f"request log-prob {reviews[i]:.2f}")
        if origins[i] != "model":
            about.append(origins[i])
        chosen = "  <- chosen" if rank_ == 1 else ""
        lines.append(f"  {rank_}. {first!r}: {'; '.join(about)}{chosen}")
    return "\n".join(lines)

