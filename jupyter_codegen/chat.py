"""A sidebar chat question, or a selection filled from the editor, as a turn of its notebook's conversation: the
same file, context and prompt as the notebook's ``%%codegen`` and ``%%infill`` cells, so a question asked in the
chat is a turn the next magic sees, and the reverse.

Plain Python (no server imports): the server's handlers call `ask` on the engine's worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from . import assistant
from .conversation import Conversation, Turn, conversation_path, server_notebook_key
from .engine import Engine, GenerationOptions
from .errors import RequestError
from .frontend_protocol import Snapshot
from .notebook_context import live_context


def notebook_conversation(api_path: str, root_dir: str, conversation_dir: str | None = None) -> Conversation:
    """The conversation of the notebook at `api_path` (relative to the server's root), from the same file the
    notebook's kernel uses (its key is the notebook's absolute path, as JPY_SESSION_NAME gives it to the kernel)."""
    root = Path(conversation_dir).expanduser() if conversation_dir else None
    return Conversation.load(conversation_path(server_notebook_key(api_path, root_dir), root))


@dataclass
class ChatResult:
    answer: assistant.Answer
    turn_number: int | None
    """1-based number of the recorded turn in the conversation; None when nothing was recorded (stopped)."""
    warning: str | None = None


def ask(
    engine: Engine,
    conversation: Conversation,
    message: str,
    options: GenerationOptions,
    *,
    snapshot: Snapshot | None = None,
    variables: str | None = None,
    max_context_tokens: int = 2048,
    on_update: assistant.UpdateCallback | None = None,
    cancel: threading.Event | None = None,
    rank: str = "likelihood",
) -> ChatResult:
    """Answers `message` with code, seeing the conversation, the notebook and the kernel's variables (as the magics
    do), and records it as a "chat" turn.

    With a snapshot the model reads the notebook as on screen up to the active cell (the answer goes below it),
    with earlier chat turns in place; the turn records the cells above that the conversation has not seen yet, so a
    kernel without a frontend (or after a restart) reads them in order too. Without one it reads the conversation
    as saved. A stopped answer is not recorded, as in the magics.
    """
    conversation.refresh()
    if snapshot is not None:
        live = live_context(snapshot, conversation.turns, include_current=True)
        before, cells_before = live.before, conversation.unrecorded(live.above)
    else:
        before, cells_before = conversation.as_cells(), []
    answer = assistant.codegen(
        engine, message, before, options, variables=variables or None, max_context_tokens=max_context_tokens,
        on_update=on_update, cancel=cancel, rank=rank,
    )
    if answer.cancelled:
        return ChatResult(answer, None)
    conversation.add(
        Turn(
            request=message.strip(), answer=answer.code, kind="chat", cells_before=cells_before, model=engine.name,
            cell_id=(snapshot.cell_id or "") if snapshot is not None else "",
        )
    )
    return ChatResult(answer, len(conversation.turns), conversation.warning)


HOLE = assistant.HOLE
"""Where the selection was, inside the cell: a string no cell contains, so a <FILL> the user wrote stays text."""


def fill(
    engine: Engine,
    conversation: Conversation,
    before: str,
    after: str,
    options: GenerationOptions,
    *,
    snapshot: Snapshot | None = None,
    variables: str | None = None,
    marker: str = "<FILL>",
    method: str = "auto",
    max_context_tokens: int = 2048,
    record: bool = True,
    on_update: assistant.UpdateCallback | None = None,
    cancel: threading.Event | None = None,
) -> ChatResult:
    """Fills the gap between `before` and `after` (the active cell's text on both sides of the selection or the
    cursor), seeing the cells above and below it on screen, as an ``%%infill`` cell with one hole would; at the end of
    a cell (nothing but blanks after the gap) the "auto" method continues the text left to right.

    Recorded as an "infill" turn (the cell with `marker` where the hole was), unless `record` is false (a completion
    offered while typing is not a turn until the user keeps it) or it was stopped.
    """
    if HOLE in before or HOLE in after:
        raise RequestError("The cell contains a NUL character; remove it and fill the selection again.")
    conversation.refresh()
    if snapshot is not None:
        live = live_context(snapshot, conversation.turns, include_current=False)
        cells_before, cells_after, unseen = live.before, live.after, conversation.unrecorded(live.above)
    else:
        cells_before, cells_after, unseen = conversation.as_cells(), [], []

    def on_text(text_so_far: str) -> None:
        # The whole cell so far, the hole's text in the middle: pass on the fill alone.
        if on_update is not None and text_so_far.startswith(before):
            middle = text_so_far[len(before):]
            if middle.endswith(HOLE + after):
                return
            if after and middle.endswith(after):
                middle = middle[: len(middle) - len(after)]
            on_update(middle)

    if method == "auto" and not after.strip():
        # Nothing on the right in the cell: continuing the text is what the model does best (InCoder does the same).
        method = "left-to-right"
    answer = assistant.infill(
        engine, before + HOLE + after, HOLE, cells_before, cells_after, options, method=method,  # type: ignore[arg-type]
        variables=variables or None, max_context_tokens=max_context_tokens, on_update=on_text if on_update else None, cancel=cancel,
    )
    answer.code = answer.code.replace(HOLE, marker)
    if answer.cancelled or not record:
        return ChatResult(answer, None)
    conversation.add(
        Turn(
            request=before + marker + after, answer=answer.code, kind="infill", cells_before=unseen, model=engine.name,
            cell_id=(snapshot.cell_id or "") if snapshot is not None else "",
        )
    )
    return ChatResult(answer, len(conversation.turns), conversation.warning)
