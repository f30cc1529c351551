"""The notebook as the user sees it (a frontend's `Snapshot`) turned into the cells the model reads.

Kernel history knows only what ran. A snapshot also has markdown, cells never run, unsaved edits, and the cells
below the current one, so the magics prefer it when the frontend sent one for the running cell. Read in notebook
order, the notebook already holds the conversation: each ``%%codegen`` cell is a request and the cells inserted
below it are its answer. Only sidebar chat turns live elsewhere (in the conversation file), so they are placed
among the cells here. Plain functions, no IPython or comm: the magics and the server's chat both use them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

from .context import Cell, trim_output
from .conversation import Turn
from .frontend_protocol import Snapshot, SnapshotCell, SnapshotOutput
from .history import cell_from_source
from .postprocess import split_cells

REQUEST_MAGICS = frozenset({"codegen"})
"""Cell magics whose body is a request in words."""
HOLE_MAGICS = frozenset({"infill"})
"""Cell magics whose body has holes: left out, since its filled code is the cell itself once filled in place, or
the cell inserted below it."""


@dataclass
class LiveContext:
    before: list[Cell]
    """Cells above the current one, oldest first, chat turns among them."""
    after: list[Cell] = field(default_factory=list)
    """Cells below the current one, nearest first."""
    above: list[Cell] = field(default_factory=list)
    """The notebook's own cells above (no chat turns, no requests): what a chat turn records as run before it."""


def output_text(outputs: Sequence[SnapshotOutput]) -> str | None:
    """A cell's text outputs in order (printed text, results, error lines), trimmed as kernel history's are.

    stderr is left out: it is mostly warnings and progress bars, noise to the model.
    """
    parts: list[str] = []
    for out in outputs:
        if out.output_type == "stream" and out.name != "stderr" and out.text:
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            plain = out.data.get("text/plain")
            if isinstance(plain, list):
                plain = "".join(p for p in plain if isinstance(p, str))
            if isinstance(plain, str) and plain.strip():
                parts.append(plain)
        elif out.output_type == "error" and (out.ename or out.evalue):
            parts.append(f"{out.ename or 'Error'}: {out.evalue or ''}".rstrip())
    text = "\n".join(p.rstrip("\n") for p in parts if p.strip())
    return (trim_output(text) or None) if text else None


def _magic(source: str) -> tuple[str | None, str]:
    """(cell magic name, body) of a cell; (None, source) when it is not a cell magic."""
    first, _, body = source.lstrip("\n").partition("\n")
    first = first.strip()
    if not first.startswith("%%"):
        return None, source
    words = first[2:].split()
    return (words[0] if words else ""), body


def snapshot_cell(cell: SnapshotCell) -> Cell | None:
    """One cell of the snapshot as the model reads it; None for what it should not read (raw cells, blank cells,
    cells with holes, IPython-only lines), as for kernel history."""
    if cell.cell_type == "markdown":
        return Cell("markdown", cell.source) if cell.source.strip() else None
    if cell.cell_type != "code":
        return None
    name, body = _magic(cell.source)
    if name in REQUEST_MAGICS:
        return Cell("request", body.strip()) if body.strip() else None
    if name in HOLE_MAGICS:
        return None
    converted = cell_from_source(cell.source)
    if converted is not None and converted.kind == "code":
        converted.output = output_text(cell.outputs)
    return converted


def current_index(snapshot: Snapshot) -> int | None:
    """Where the current cell (running, or active in the chat) is in the snapshot; None when it names none."""
    if snapshot.cell_id is not None:
        for i, cell in enumerate(snapshot.cells):
            if cell.id == snapshot.cell_id:
                return i
        return None
    if snapshot.cell_index is not None and snapshot.cell_index < len(snapshot.cells):
        return snapshot.cell_index
    return None


def is_fresh(snapshot: Snapshot, cell_id: str | None, source: str) -> bool:
    """Whether `snapshot` was sent for the cell that runs now: it names the same cell (when the kernel knows the
    running cell's id) and shows the source being run. Anything else is stale and must not be used."""
    index = current_index(snapshot)
    if index is None:
        return False
    if cell_id is not None and snapshot.cell_id is not None and snapshot.cell_id != cell_id:
        return False
    shown = snapshot.cells[index].source
    return shown == source or shown.rstrip() == source.rstrip()


def _answer_shown(answer: str, notebook: set[str]) -> bool:
    """Whether a chat answer is already in the notebook (the user inserted it), whole or cell by cell."""
    pieces = [p.strip() for p in split_cells(answer) if p.strip()]
    return answer.strip() in notebook or (bool(pieces) and all(p in notebook for p in pieces))


def live_context(snapshot: Snapshot, turns: Sequence[Turn], *, include_current: bool) -> LiveContext:
    """The cells above and below the current cell, with the conversation's chat turns placed among those above.

    `include_current` is false for a magic (its cell is the request, built separately) and true for a chat
    question (its answer goes below the active cell). A chat turn goes right after the cell that was active when it
    was asked; before it when that cell is a request, so a request stays next to its answer; and just before the
    current cell when that cell is not above (no cell, the current one, a cell below, or one since deleted), where
    the latest discussion belongs. A chat answer the user inserted shows once, as the cell it became. Codegen and
    infill turns are not added: their requests and answers are cells of the notebook, and a cell the user deleted
    should not come back.
    """
    index = current_index(snapshot)
    cells = snapshot.cells
    if index is None:
        above_raw, below_raw = list(cells), []
    else:
        above_raw = list(cells[: index + 1] if include_current else cells[:index])
        below_raw = list(cells[index + 1:])
    above = [(raw.id, converted) for raw in above_raw if (converted := snapshot_cell(raw)) is not None]
    below = [converted for raw in below_raw if (converted := snapshot_cell(raw)) is not None]

    notebook = {c.source.strip() for c in (*(c for _, c in above), *below) if c.kind == "code"}
    position = {cell_id: i for i, (cell_id, _) in enumerate(above) if cell_id}
    ahead: dict[int, list[Cell]] = {}
    behind: dict[int, list[Cell]] = {}
    last: list[Cell] = []
    for turn in turns:
        if turn.kind != "chat":
            continue
        shown = [Cell("request", turn.request)] if turn.request.strip() else []
        if turn.answer.strip() and not _answer_shown(turn.answer, notebook):
            shown.append(Cell("code", turn.answer))
        at = position.get(turn.cell_id) if turn.cell_id else None
        if at is None:
            last.extend(shown)
        elif above[at][1].kind == "request":
            ahead.setdefault(at, []).extend(shown)
        else:
            behind.setdefault(at, []).extend(shown)
    before: list[Cell] = []
    for i, (_, cell) in enumerate(above):
        before.extend(ahead.get(i, []))
        before.append(cell)
        before.extend(behind.get(i, []))
    before.extend(last)
    return LiveContext(before=before, after=below, above=[c for _, c in above if c.kind != "request"])


class SnapshotStore:
    """The latest snapshots a frontend sent, for the magic of the cell each was sent for.

    A few are kept, not one: in "run all" the frontend sends one per magic cell, each before that cell's execute
    request, and a kernel that handles comm messages while an async cell awaits may receive the next one early.
    A snapshot is used at most once, so a re-run without a new one falls back to kernel history, never to an old
    picture of the notebook.
    """

    def __init__(self, keep: int = 8):
        self._keep = keep
        self._items: OrderedDict[int, Snapshot] = OrderedDict()
        self._next = 0
        self._lock = threading.Lock()

    def put(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._items[self._next] = snapshot
            self._next += 1
            while len(self._items) > self._keep:
                self._items.popitem(last=False)

    def take(self, cell_id: str | None, source: str) -> Snapshot | None:
        """The newest snapshot sent for the running cell (`cell_id`, `source`), removed from the store; None if none."""
        with self._lock:
            for key in reversed(self._items):
                if is_fresh(self._items[key], cell_id, source):
                    return self._items.pop(key)
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
