"""The turns of one notebook, kept on disk so that a kernel restart finds the same conversation.

CodeGen reads a multi-turn conversation as one program: each request, the code written for it, and the cells the
user ran in between, in order. `Conversation.as_cells` gives that history to the prompt builder; the file format
is a small versioned JSON document written atomically (temp file + `os.replace`), so a crash never leaves half a
file.

Several processes write one notebook's file: its kernel (the magics), a second kernel on the same notebook, and the
Jupyter server (the sidebar chat). So every change is made under an advisory lock on a lock file beside it, after
reading the file again, and a conversation re-reads the file whenever it changed on disk before it is used: a turn
added by one writer is seen by the others and never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence, get_args

from .context import Cell
from .postprocess import split_cells

try:  # POSIX; elsewhere writes are still atomic, only the lock is missing
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
"""Version of the JSON file; bump it when the layout changes in a way an older reader would misread."""

TurnKind = Literal["codegen", "infill", "chat", "fix"]
_TURN_KINDS = frozenset(get_args(TurnKind))
_CELL_KINDS = frozenset(("code", "markdown", "request"))


@dataclass
class Turn:
    request: str
    """What the user asked: a %%codegen cell's text, a chat message, "fill the holes", ..."""
    answer: str
    """The code the assistant produced (what was inserted)."""
    kind: TurnKind = "codegen"
    cells_before: list[Cell] = field(default_factory=list)
    """Cells the user ran between the previous turn and this one, so the history reads as one program."""
    created: str = ""
    """ISO 8601 timestamp; `Conversation.add` stamps it when empty."""
    model: str = ""
    """Which model answered."""
    cell_id: str = ""
    """The notebook cell the turn belongs to: the magic's own cell, or the cell that was active when a chat question
    was asked; empty when unknown. It places chat turns among the cells of a live notebook snapshot."""


Signature = tuple[int, int, int]
"""(inode, size, mtime in ns) of the file as last read or written: a different one means another writer."""


class Conversation:
    """The turns of one notebook, oldest first, saved to `path` (when given) after every change."""

    def __init__(self, turns: list[Turn] | None = None, path: Path | None = None) -> None:
        self.turns: list[Turn] = list(turns or [])
        self.path: Path | None = Path(path) if path is not None else None
        self.warning: str | None = None
        """One sentence for the user when something went wrong with the file (set by `load` or `add`)."""
        self._signature: Signature | None = None
        self._unsaved: list[Turn] = []
        """Turns whose save failed: kept in memory across re-reads of the file until a save succeeds."""

    def __len__(self) -> int:
        self.refresh()
        return len(self.turns)

    def refresh(self) -> bool:
        """Re-read the file if another writer (a second kernel, the server's chat) changed it since this object last
        read or wrote it; True when it did. Cheap when nothing changed: one stat."""
        if self.path is None or _signature_of(self.path) == self._signature:
            return False
        self._reload()
        return True

    def add(self, turn: Turn) -> Turn:
        """Append `turn` and save; returns the turn as stored (with its timestamp).

        Under the file's lock the file is read again first, so a turn another process added meanwhile is kept.
        A failed save does not raise: code generation should not stop because the data folder is read-only.
        The turn is kept in memory and `warning` says so.
        """
        if not turn.created:
            turn = replace(turn, created=_now())
        if self.path is None:
            self.turns.append(turn)
            return turn
        try:
            with _locked(self.path):
                self._reload()
                self.turns.append(turn)
                self._write()
        except OSError as err:
            if not self.turns or self.turns[-1] is not turn:
                self.turns.append(turn)
            self._unsaved.append(turn)
            self.warning = (
                f"Could not save the conversation to {self.path} ({err.strerror or err}); "
                "it is kept in memory for this kernel only."
            )
        return turn

    def reset(self) -> None:
        """Forget all turns and save that.

        The forgotten turns are first written to a backup next to the file (`<file>.bak`, replacing an older
        backup), so a reset can be undone by hand: copy the backup over the file, then restart the kernel.
        Resetting an empty conversation keeps the existing backup.
        """
        if self.path is None:
            self.turns = []
            return
        with _locked(self.path):
            self._reload()
            if self.turns:
                _atomic_write(backup_path(self.path), self._dumps())
            self.turns, self._unsaved = [], []
            self._write()

    def as_cells(self, ran_since: Sequence[Cell] = ()) -> list[Cell]:
        """The whole history, oldest first: per turn the cells run before it, its request, its answer.

        `ran_since` are the cells run after the last turn. An answer the user then ran shows once, in its
        place, with its output, rather than twice (an answer inserted as several cells, piece by piece). An
        infill turn has no request in words (the cell with holes was the request), so only its filled code shows.
        """
        self.refresh()
        cells: list[Cell] = []
        answer: Cell | None = None

        def place(following: Sequence[Cell]) -> None:
            nonlocal answer
            rest = list(following)
            if answer is not None:
                cells.extend(_answer_in_place(answer, rest))
                answer = None
            cells.extend(rest)

        for turn in self.turns:
            place(turn.cells_before)
            if turn.kind != "infill":
                cells.append(Cell(kind="request", source=turn.request))
            answer = Cell(kind="code", source=turn.answer)
        place(ran_since)
        return cells

    def unrecorded(self, cells: Sequence[Cell], last_own: Turn | None = None) -> list[Cell]:
        """`cells` (run in this kernel since its last own turn `last_own`, or since it started when None) without
        those the conversation already recorded in turns this kernel did not make since then.

        After a kernel restart, "run all" runs again the cells the turns saved before the restart recorded; after a
        chat question, the cells it recorded from the notebook on screen. Without this they would show twice. A cell
        this kernel ran again after its own last turn is new and stays. The last turn's answer is left to
        `as_cells`, which puts a run of it in its place with its output.
        """
        self.refresh()
        foreign = self.turns
        if last_own is not None:
            mine = [i for i, t in enumerate(self.turns) if t == last_own]
            if mine:
                foreign = self.turns[mine[-1] + 1:]
        recorded = {c.source.strip() for t in foreign for c in t.cells_before}
        for turn in foreign:
            if turn is not self.turns[-1]:
                recorded.update(_pieces(turn.answer))
        return [c for c in cells if c.source.strip() not in recorded]

    def transcript(self) -> str:
        """Readable, numbered turns for `%codegen --history`; requests show as comments, as the model sees them."""
        self.refresh()
        if not self.turns:
            return "No turns yet."
        blocks = []
        for number, turn in enumerate(self.turns, 1):
            about = ", ".join(x for x in (turn.kind, turn.model, turn.created) if x)
            lines = [f"--- Turn {number} ({about}) ---"]
            ran = len(turn.cells_before)
            if ran:
                lines.append(f"({ran} cell{'s' if ran != 1 else ''} run before this turn)")
            lines.extend(f"# {line}".rstrip() for line in (turn.request.splitlines() or [""]))
            lines.append(turn.answer.rstrip() if turn.answer.strip() else "(no code)")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def save(self) -> None:
        """Write the conversation to `path` atomically, as it is in memory; raises OSError when it cannot."""
        if self.path is None:
            raise ValueError("This conversation has no file to save to.")
        with _locked(self.path):
            self._write()

    def _write(self) -> None:
        """Write and remember the file's signature; called with the lock held, so no other writer slips between."""
        assert self.path is not None
        _atomic_write(self.path, self._dumps())
        self._unsaved = []
        self._signature = _signature_of(self.path)

    def _reload(self) -> None:
        """Take the turns from the file, plus those kept in memory after a failed save.

        A file deleted by hand means an empty conversation. A file that became unreadable is set aside (see
        `load`) and the turns in memory, the last good copy, are kept and written again by the next save.
        """
        assert self.path is not None
        try:
            turns, self._signature = _read(self.path)
        except _Unreadable as bad:
            self.warning = _set_aside(self.path, bad.why, "the turns this process knows are kept")
            self._signature = None
            self._unsaved = list(self.turns)  # the file is gone: these are the only copy until the next save
            return
        self.turns = turns + [t for t in self._unsaved if t not in turns]

    @classmethod
    def load(cls, path: Path) -> "Conversation":
        """The conversation saved at `path`; an empty one when there is no file yet.

        A file that cannot be read as this version's format (corrupt, hand-edited, or written by a newer
        jupyter-codegen) never raises: it is renamed to `<file>.corrupt` so nothing is lost or overwritten, an
        empty conversation is returned, and its `warning` says what happened.
        """
        path = Path(path)
        conversation = cls(path=path)
        try:
            conversation.turns, conversation._signature = _read(path)
        except _Unreadable as bad:
            conversation.warning = _set_aside(path, bad.why, "a new conversation starts")
        return conversation

    def _dumps(self) -> str:
        document = {"version": SCHEMA_VERSION, "turns": [asdict(turn) for turn in self.turns]}
        return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


class _Unreadable(Exception):
    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def _read(path: Path) -> tuple[list[Turn], Signature | None]:
    """The turns in the file and the signature of exactly the file read (no file: none, and no signature)."""
    try:
        with open(path, "rb") as handle:
            signature = _signature(os.fstat(handle.fileno()))
            raw = handle.read()
    except FileNotFoundError:
        return [], None
    except OSError as err:
        raise _Unreadable(f"could not be read ({err})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise _Unreadable(f"could not be read ({err})") from None
    except json.JSONDecodeError:
        raise _Unreadable("is not valid JSON") from None
    version = data.get("version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise _Unreadable(
            f"was written by a newer jupyter-codegen (format version {version}, this one reads {SCHEMA_VERSION})"
        )
    try:
        return _parse(data), signature
    except (TypeError, ValueError, KeyError) as err:
        raise _Unreadable(f"is not a conversation file ({err})") from None


def _set_aside(path: Path, why: str, then: str) -> str:
    """Moves an unreadable file out of the way (never over an earlier one) and says so in one sentence."""
    aside = _free_name(path, ".corrupt")
    try:
        os.replace(path, aside)
        where = f"moved to {aside}"
    except OSError:
        where = "left where it is and will be overwritten by the next turn"
    return f"The saved conversation {path} {why}; it was {where}, and {then}."


def _signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _signature_of(path: Path) -> Signature | None:
    try:
        return _signature(os.stat(path))
    except OSError:
        return None


def lock_path(path: Path) -> Path:
    """The lock file beside a conversation file (the data file itself is replaced on every write, so it cannot
    carry the lock)."""
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds the advisory lock of `path` (flock: other processes and other threads of this one wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows: atomic writes only
        yield
        return
    with open(lock_path(path), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _pieces(code: str) -> set[str]:
    """The stripped texts an answer can show up as among the cells run: whole, or as the cells it was split into."""
    whole = code.strip()
    return ({whole} if whole else set()) | {p.strip() for p in split_cells(code) if p.strip()}


def _answer_in_place(answer: Cell, following: list[Cell]) -> list[Cell]:
    """The answer as the model should read it, taking out of `following` the runs of it.

    Run whole: that run, with its output. Inserted as several cells and run piece by piece: each piece, the run
    ones with their outputs. Not run: the answer as written.
    """
    whole = answer.source.strip()
    ran = next((c for c in following if c.kind == "code" and c.source.strip() == whole), None)
    if ran is not None:
        following.remove(ran)
        return [ran]
    pieces = [p for p in split_cells(answer.source) if p.strip()]
    if len(pieces) < 2:
        return [answer]
    shown, found = [], False
    for piece in pieces:
        ran = next((c for c in following if c.kind == "code" and c.source.strip() == piece.strip()), None)
        if ran is not None:
            following.remove(ran)
            found = True
        shown.append(ran or Cell(kind="code", source=piece))
    return shown if found else [answer]


def backup_path(path: Path) -> Path:
    """Where `reset` keeps the turns it forgot."""
    return path.with_name(path.name + ".bak")


def notebook_key(
    environ: Mapping[str, str],
    namespace: Mapping[str, object] | None = None,
    cwd: str | None = None,
    server_root: str | None = None,
) -> str:
    """Which notebook this kernel serves, as a readable key that stays the same across kernel restarts.

    jupyter_server puts the notebook's path in JPY_SESSION_NAME: the absolute path when the client named the file
    (JupyterLab, Notebook 7), else the path relative to the server's root. A relative one is made absolute (see
    `session_path`), so the kernel and the server's chat (`server_notebook_key`) find the same conversation. VS Code
    puts the path in the user namespace as `__vsc_ipynb_file__`; a plain IPython session falls back to its working
    directory, so a terminal session resumes where the last one in that folder left off.
    """
    session = (environ.get("JPY_SESSION_NAME") or "").strip()
    if session:
        return session_path(session, cwd if cwd is not None else os.getcwd(), server_root)
    vscode = (namespace or {}).get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and vscode.strip():
        return vscode.strip()
    folder = cwd if cwd is not None else os.getcwd()
    return f"{folder.rstrip('/')}/<ipython>"


def session_path(session: str, cwd: str, server_root: str | None = None) -> str:
    """JPY_SESSION_NAME as an absolute, normalized path.

    A relative one is relative to the server's root (`server_root`, from the server's runtime file, when known).
    Without it, the kernel's working folder helps: the server starts a kernel in its notebook's folder, so that
    folder ends with the relative path's folder, and what comes before is the root. When neither works, the
    relative path is kept as it is (the key such a kernel always used).
    """
    if os.path.isabs(session):
        return os.path.normpath(session)
    relative = posixpath.normpath(session.replace(os.sep, "/")).lstrip("/")
    if server_root:
        return os.path.normpath(os.path.join(server_root, *relative.split("/")))
    folder = posixpath.dirname(relative)
    here = os.path.normpath(cwd)
    if not folder:
        return os.path.join(here, relative)
    tail = os.path.join(*folder.split("/"))
    if here == tail or here.endswith(os.sep + tail):
        return os.path.normpath(os.path.join(here[: len(here) - len(tail)], *relative.split("/")))
    return session


def server_notebook_key(api_path: str, root_dir: str) -> str:
    """The key the kernels of a Jupyter server use for the notebook at `api_path` (relative to the server's root,
    as a frontend knows it): the server's session manager gives a kernel `<root>/<folder>/<name>`, which is this."""
    parts = [p for p in api_path.replace("\\", "/").split("/") if p]
    return os.path.normpath(os.path.join(root_dir, *parts))


def conversation_path(key: str, root: Path | None = None) -> Path:
    """The file that holds the conversation of notebook `key`.

    Named `<slug>-<hash>.json`: the hash of the whole key keeps two notebooks with the same name apart, the slug
    of the file name lets a person find the right file by eye.
    """
    if root is None:
        import platformdirs

        root = Path(platformdirs.user_data_dir("jupyter-codegen")) / "conversations"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return Path(root) / f"{_slug(key)}-{digest}.json"


def adopt_legacy_file(path: Path, legacy: Path) -> None:
    """Renames the file an older version kept under another key (`legacy`) to `path`, when only the old one exists,
    so that a change in how keys are made never loses a conversation."""
    if legacy == path or path.exists() or not legacy.exists():
        return
    try:
        with _locked(path):
            if not path.exists():
                os.replace(legacy, path)
    except OSError:
        pass


def _slug(key: str) -> str:
    name = re.split(r"[\\/]", key.rstrip("\\/"))[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_stem).strip("-_")[:40].rstrip("-_")
    return slug or "notebook"


def _parse(data: Any) -> list[Turn]:
    if not isinstance(data, dict) or "version" not in data:
        raise ValueError("no version field")
    if data["version"] != SCHEMA_VERSION:
        raise ValueError(f"unknown version {data['version']!r}")
    turns = data.get("turns")
    if not isinstance(turns, list):
        raise ValueError("turns is not a list")
    return [_parse_turn(item) for item in turns]


def _parse_turn(item: Any) -> Turn:
    if not isinstance(item, dict):
        raise ValueError("a turn is not an object")
    kind = item.get("kind", "codegen")
    if kind not in _TURN_KINDS:
        raise ValueError(f"unknown turn kind {kind!r}")
    cells = item.get("cells_before", [])
    if not isinstance(cells, list):
        raise ValueError("cells_before is not a list")
    return Turn(
        request=_text(item, "request"),
        answer=_text(item, "answer"),
        kind=kind,
        cells_before=[_parse_cell(cell) for cell in cells],
        created=_text(item, "created", ""),
        model=_text(item, "model", ""),
        cell_id=_text(item, "cell_id", ""),
    )


def _parse_cell(item: Any) -> Cell:
    if not isinstance(item, dict) or item.get("kind") not in _CELL_KINDS:
        raise ValueError("a cell has no known kind")
    output = item.get("output")
    if output is not None and not isinstance(output, str):
        raise ValueError("a cell's output is not text")
    return Cell(kind=item["kind"], source=_text(item, "source"), output=output)


def _text(item: dict, name: str, default: str | None = None) -> str:
    value = item.get(name, default)
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value


def _atomic_write(path: Path, text: str) -> None:
    """Write through a temp file in the same folder and `os.replace`, so readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _free_name(path: Path, suffix: str) -> Path:
    """`<path><suffix>`, or `<path>.2<suffix>`, ... so that setting a file aside never overwrites an earlier one."""
    candidate = path.with_name(path.name + suffix)
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{number}{suffix}")
        number += 1
    return candidate


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
