"""One real IPython kernel driven cell by cell for the benchmark harnesses, and the code they run inside it.

Host side, `KernelSession`: nbclient's NotebookClient on a kernel started in a folder and environment of the
harness's choosing, with a time limit per cell and, optionally, a cap on the kernel's address space (set from
outside with prlimit, so nothing of it shows in the notebook or in the model's context). `run` executes a cell the
way a notebook front end does (stored in the kernel's history, its value in `Out`, payloads such as
`set_next_input` in the reply), so the product's context builder sees it as a cell the user ran. `run_silent`
sends an execute request with ``silent=True``: IPython neither stores it in the history nor puts its value in
`Out` nor counts it, so harness code (and cells that already live in a conversation file) can run without ever
reaching a prompt. (``store_history=False`` alone is not enough: IPython still writes the value of a trailing
expression into `Out` under the *next* cell's number.) Neither raises for what a cell does: a `CellRun` says it.

Kernel side, `judge`: executed inside the kernel by a silent cell through `runpy.run_path`, which is why this
module imports nothing beyond the standard library at its top; nbclient and nbformat are imported by the host
side only.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

HERE = Path(__file__).resolve()


@dataclass
class CellRun:
    """What one executed cell produced, flattened to what the harnesses need."""

    status: str
    """"ok", "error" (the cell raised), "timeout" (the kernel is still busy) or "dead" (the kernel died)."""
    execution_count: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    """"KeyError: 'x'" when the cell raised; what went wrong otherwise."""
    displayed: str | None = None
    """The text/plain of the cell's value (its `Out` entry), None when it ended with a statement."""
    payload: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def next_input(self) -> str | None:
        """The code the cell proposed as the next cell (`shell.set_next_input`), as a front end would insert it."""
        texts = [p.get("text", "") for p in self.payload if p.get("source") == "set_next_input"]
        return texts[-1] if texts else None


def _cell_run(reply: Mapping[str, Any], streams: Iterable[tuple[str, str]], start: float, **extra: Any) -> CellRun:
    """A finished cell's `CellRun` from its execute reply's content and its (stream name, text) outputs."""
    out = CellRun("error" if reply.get("status") == "error" else "ok", seconds=time.monotonic() - start, **extra)
    for name, text in streams:
        if name == "stderr":
            out.stderr += text
        else:
            out.stdout += text
    if out.status == "error":
        out.error = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}"
    return out


class KernelSession:
    """A kernel started in `folder` with environment `env`, shut down (killed) on exit.

    Killing rather than a graceful shutdown: a kernel whose cell timed out is still busy, and nothing in it is
    needed afterwards. After a timeout or the kernel's death no further cell runs (`usable` is False).
    """

    def __init__(self, folder: Path, env: Mapping[str, str], kernel_name: str = "python3",
                 startup_timeout: float = 120, log_path: Path | None = None, memory_limit_gb: float = 0):
        import nbformat
        from nbclient import NotebookClient

        self.folder = Path(folder)
        self.env = dict(env)
        self.log_path = log_path
        """Where the kernel process's own stderr goes (its startup warnings); None leaves it on ours."""
        self.memory_limit_gb = memory_limit_gb
        """The kernel's address-space cap, so runaway code gets a MemoryError rather than the machine's memory;
        0 for none."""
        self.nb = nbformat.v4.new_notebook()
        self.client = NotebookClient(
            self.nb,
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=False,
            shutdown_kernel="immediate",
            startup_timeout=int(startup_timeout),
            resources={"metadata": {"path": str(self.folder)}},
        )
        self.client.on_cell_executed = self._on_cell_executed
        self._reply: dict[str, Any] | None = None
        self._stack = ExitStack()
        self.usable = False

    def __enter__(self) -> "KernelSession":
        launch: dict[str, Any] = {"env": self.env}
        try:
            if self.log_path is not None:
                launch["stderr"] = self._stack.enter_context(open(self.log_path, "ab"))
            self._stack.enter_context(self.client.setup_kernel(**launch))
            self._limit_memory()
        except BaseException:
            self._stack.close()
            raise
        self.usable = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.usable = False
        self._stack.close()

    def _limit_memory(self) -> None:
        import resource

        pid = getattr(getattr(self.client.km, "provisioner", None), "pid", None)
        if self.memory_limit_gb > 0 and pid and hasattr(resource, "prlimit"):
            limit = int(self.memory_limit_gb * 2**30)
            resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))

    def _on_cell_executed(self, cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        self._reply = execute_reply["content"]

    def _lost(self, status: str, error: str, start: float) -> CellRun:
        self.usable = False
        return CellRun(status, error=error, seconds=time.monotonic() - start)

    def run(self, source: str, timeout: float) -> CellRun:
        """Execute `source` as the next notebook cell, as a user would, for at most `timeout` seconds."""
        import nbformat
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        if not self.usable:
            return CellRun("dead", error="the kernel is gone")
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.timeout = max(1, math.ceil(timeout))
        self._reply = None
        start = time.monotonic()
        try:
            self.client.execute_cell(cell, len(self.nb.cells) - 1)
        except CellTimeoutError:
            return self._lost("timeout", f"timed out after {timeout:g} s", start)
        except DeadKernelError:
            return self._lost("dead", "the kernel died", start)
        reply = self._reply or {}
        values = [o for o in cell.outputs if o.output_type == "execute_result"]
        return _cell_run(
            reply, [(o.name, o.text) for o in cell.outputs if o.output_type == "stream"], start,
            execution_count=reply.get("execution_count"),
            displayed=values[-1].get("data", {}).get("text/plain") if values else None,
            payload=list(reply.get("payload") or []),
        )

    def run_silent(self, source: str, timeout: float) -> CellRun:
        """Execute `source` leaving no trace in history, `Out` or the execution count (see the module docstring)."""
        from jupyter_core.utils import run_sync

        if not self.usable:
            return CellRun("dead", error="the kernel is gone")
        messages: list[dict] = []
        start = time.monotonic()
        try:
            reply = run_sync(self.client.kc.execute_interactive)(
                source, silent=True, store_history=False, timeout=timeout, output_hook=messages.append
            )
        except TimeoutError:
            return self._lost("timeout", f"timed out after {timeout:g} s", start)
        streams = [(m["content"].get("name", ""), m["content"].get("text", "")) for m in messages
                   if m["msg_type"] == "stream"]
        return _cell_run(reply["content"], streams, start)


def judge_call(check: str, answer_count: int | None, expected_path: Path, checks_path: Path, folder: Path,
               verdict_path: Path) -> str:
    """The one-line silent cell that runs `judge` inside the kernel; it assigns no name in the user namespace."""
    args = ", ".join(repr(a) for a in (check, answer_count, str(expected_path), str(checks_path), str(folder),
                                       str(verdict_path)))
    return f'__import__("runpy").run_path({str(HERE)!r}, run_name="__codegen_judge__")["judge"]({args})'


def read_verdict(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- kernel side ------------------------------------------------------------------------------------------------


def judge(check: str, answer_count: int | None, expected_path: str, checks_path: str, folder: str,
          verdict_path: str) -> None:
    """Evaluate an item's check inside the kernel, where the answer's namespace and figures live.

    As benchmarks/heldout/README.md says: `result` is the answer cell's value (its `Out` entry; None when it
    ended with a statement), `expected` the reference's value (pickled by the host; None when it could not be
    sent), `ns` the user namespace, plus checks.py's helpers, with `folder` (the CSV files) as working directory.
    Writes {"ok", "reason", "result"} as JSON to `verdict_path` rather than printing, so nothing the answer
    prints can be mistaken for it.
    """
    import importlib.util
    import pickle

    from IPython import get_ipython

    shell = get_ipython()
    outputs = shell.history_manager.output_hist
    result = outputs.get(answer_count) if answer_count is not None else None
    expected = None
    if os.path.exists(expected_path):
        with open(expected_path, "rb") as handle:
            expected = pickle.load(handle)
    spec = importlib.util.spec_from_file_location("heldout_checks", checks_path)
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    env = checks.names()
    env.update({"result": result, "expected": expected, "ns": shell.user_ns})
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        ok, reason = bool(eval(check, env)), None
        if not ok:
            reason = "check failed"
    except Exception as exc:
        ok, reason = False, f"check raised {type(exc).__name__}: {exc}"
    finally:
        os.chdir(cwd)
    try:
        shown = repr(result)
    except Exception as exc:
        shown = f"<repr raised {type(exc).__name__}>"
    verdict = {"ok": ok, "reason": reason, "result": shown if len(shown) <= 400 else shown[:397] + "..."}
    with open(verdict_path, "w", encoding="utf-8") as handle:
        json.dump(verdict, handle)
