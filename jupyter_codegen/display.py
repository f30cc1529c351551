"""Showing an answer in the cell's output while it is generated, then for good.

Code is sent as Markdown with a Python fence, which JupyterLab, the classic notebook and VS Code all render with
syntax highlighting, plus plain text for terminals and logs. Updates replace one output in place. The final one
also carries the cells bundle (`frontend_protocol.CELLS_MIME`) that the JupyterLab extension inserts from; other
frontends do not know the type and show the markdown.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from IPython.display import display

from .frontend_protocol import CELLS_MIME, CellsBundle

UPDATE_INTERVAL = 0.1  # seconds between live updates: enough to look smooth without flooding the frontend


def fenced(code: str, language: str = "python") -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code}\n{fence}"


def code_bundle(code: str, cells: CellsBundle | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"text/markdown": fenced(code), "text/plain": code}
    if cells is not None:
        bundle[CELLS_MIME] = cells.model_dump(mode="json")
    return bundle


class LiveCode:
    """One output that shows the code so far; live updates only where a frontend can replace outputs."""

    def __init__(self, live: bool):
        self.live = live
        self._handle = None
        self._last = 0.0

    def update(self, code: str) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if self._handle is not None and now - self._last < UPDATE_INTERVAL:
            return
        self._last = now
        self._show(code)

    def final(self, code: str, cells: CellsBundle | None = None) -> None:
        self._show(code, cells)

    def _show(self, code: str, cells: CellsBundle | None = None) -> None:
        if self._handle is None:
            self._handle = display(code_bundle(code, cells), raw=True, display_id=True)
        else:
            self._handle.update(code_bundle(code, cells), raw=True)


def note(text: str) -> None:
    print(text)


def error(text: str) -> None:
    print(text, file=sys.stderr)


def explanation(sentence: str) -> None:
    """An explanation, as markdown where the frontend renders it and as plain text elsewhere."""
    if sentence:
        display({"text/markdown": f"**Explanation:** {sentence}", "text/plain": f"Explanation: {sentence}"}, raw=True)
