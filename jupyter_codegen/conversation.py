"""The turns of one notebook, kept on disk so that a kernel restart finds the same conversation.

CodeGen reads a multi-turn conversation as one program: each request, the code written for it, and the cells the
user ran in between, in order. `Conversation.as_cells` gives that history to the prompt builder; the file format
is a small versioned JSON document written atomically (temp file + `os.replace`), so a crash or two kernels
saving at once can lose a turn (last writer wins) but never leave half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence, Any, Literal, Mapping, get_args

from .context import Cell

SCHEMA_VERSION = 1
"""Version of the JSON file; bump it when the layout changes in a way an older reader would misread."""

TurnKind = Literal["codegen", "infill", "chat"]
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


class Conversation:
    """The turns of one notebook, oldest first, saved to `path` (when given) after every change."""

    def __init__(self, turns: list[Turn] | None = None, path: Path | None = None) -> None:
        self.turns: list[Turn] = list(turns or [])
        self.path: Path | None = Path(path) if path is not None else None
        self.warning: str | None = None
        """One sentence for the user when something went wrong with the file (set by `load` or `add`)."""

    def __len__(self) -> int:
        return len(self.turns)

    def add(self, turn: Turn) -> None:
        """Append `turn` and save.

        A failed save does not raise: code generation should not stop because the data folder is read-only.
        The turn is kept in memory and `warning` says so.
        """
        if not turn.created:
            turn = replace(turn, created=_now())
        self.turns.append(turn)
        if self.path is not None:
            try:
                self.save()
            except OSError as err:
                self.warning = (
                    f"Could not save the conversation to {self.path} ({err.strerror or err}); "
                    "it is kept in memory for this kernel only."
                )

    def reset(self) -> None:
        """Forget all turns and save that.

        The forgotten turns are first written to a backup next to the file (`<file>.bak`, replacing an older
        backup), so a reset can be undone by hand: copy the backup over the file, then restart the kernel.
        Resetting an empty conversation keeps the existing backup.
        """
        if self.path is not None and self.turns:
            _atomic_write(backup_path(self.path), self._dumps())
        self.turns = []
        if self.path is not None:
            self.save()

    def as_cells(self, ran_since: Sequence[Cell] = ()) -> list[Cell]:
        """The whole history, oldest first: per turn the cells run before it, its request, its answer.

        `ran_since` are the cells run after the last turn. An answer the user then ran shows once, in its
        place, with its output, rather than twice. An infill turn has no request in words (the cell with holes
        was the request), so only its filled code shows.
        """
        cells: list[Cell] = []
        answer: Cell | None = None

        def place(following: Sequence[Cell]) -> None:
            nonlocal answer
            rest = list(following)
            if answer is not None:
                ran = next((c for c in rest if c.kind == "code" and c.source.strip() == answer.source.strip()), None)
                if ran is not None:
                    rest.remove(ran)
                    answer = ran
                cells.append(answer)
                answer = None
            cells.extend(rest)

        for turn in self.turns:
            place(turn.cells_before)
            if turn.kind != "infill":
                cells.append(Cell(kind="request", source=turn.request))
            answer = Cell(kind="code", source=turn.answer)
        place(ran_since)
        return cells

    def transcript(self) -> str:
        """Readable, numbered turns for `%codegen --history`; requests show as comments, as the model sees them."""
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
        """Write the conversation to `path` atomically; raises OSError when it cannot."""
        if self.path is None:
            raise ValueError("This conversation has no file to save to.")
        _atomic_write(self.path, self._dumps())

    @classmethod
    def load(cls, path: Path) -> "Conversation":
        """The conversation saved at `path`; an empty one when there is no file yet.

        A file that cannot be read as this version's format (corrupt, hand-edited, or written by a newer
        jupyter-codegen) never raises: it is renamed to `<file>.corrupt` so nothing is lost or overwritten, an
        empty conversation is returned, and its `warning` says what happened.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, UnicodeDecodeError) as err:
            return cls._set_aside(path, f"could not be read ({err})")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return cls._set_aside(path, "is not valid JSON")
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
            why = f"was written by a newer jupyter-codegen (format version {version}, this one reads {SCHEMA_VERSION})"
            return cls._set_aside(path, why)
        try:
            turns = _parse(data)
        except (TypeError, ValueError, KeyError) as err:
            return cls._set_aside(path, f"is not a conversation file ({err})")
        return cls(turns, path=path)

    @classmethod
    def _set_aside(cls, path: Path, why: str) -> "Conversation":
        aside = _free_name(path, ".corrupt")
        try:
            os.replace(path, aside)
            where = f"moved to {aside}"
        except OSError:
            where = "left where it is and will be overwritten by the next turn"
        conversation = cls(path=path)
        conversation.warning = f"The saved conversation {path} {why}; it was {where}, and a new conversation starts."
        return conversation

    def _dumps(self) -> str:
        document = {"version": SCHEMA_VERSION, "turns": [asdict(turn) for turn in self.turns]}
        return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def backup_path(path: Path) -> Path:
    """Where `reset` keeps the turns it forgot."""
    return path.with_name(path.name + ".bak")


def notebook_key(
    environ: Mapping[str, str], namespace: Mapping[str, object] | None = None, cwd: str | None = None
) -> str:
    """Which notebook this kernel serves, as a readable key that stays the same across kernel restarts.

    jupyter_server puts the notebook's path in JPY_SESSION_NAME; VS Code puts it in the user namespace as
    `__vsc_ipynb_file__`; a plain IPython session falls back to its working directory, so a terminal session
    resumes where the last one in that folder left off.
    """
    session = (environ.get("JPY_SESSION_NAME") or "").strip()
    if session:
        return session
    vscode = (namespace or {}).get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and vscode.strip():
        return vscode.strip()
    folder = cwd if cwd is not None else os.getcwd()
    return f"{folder.rstrip('/')}/<ipython>"


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
