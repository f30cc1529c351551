"""The kernel's end of the comm a notebook frontend (the JupyterLab extension) opens: thin glue between ipykernel's
comm API (the `comm` package's manager, which ipykernel 6.29+ and 7 provide) and the plain `FrontendLink` state
that the magics read. Messages are described in `frontend_protocol`."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from pydantic import ValidationError

from . import __version__
from .frontend_protocol import (
    COMM_TARGET, CommError, FrontendSettings, Hello, Snapshot, Variables, VariablesRequest, Welcome, frontend_message,
)
from .notebook_context import SnapshotStore

log = logging.getLogger(__name__)


class FrontendLink:
    """What the frontends connected to this kernel said: their capabilities (per open comm) and their snapshots.

    `receive` is the whole protocol and needs no comm, so it is tested directly; `register` wires it to ipykernel.
    """

    def __init__(
        self,
        notebook_key: Callable[[], str | None] = lambda: None,
        on_settings: Callable[[FrontendSettings], None] = lambda settings: None,
        variables: Callable[[], str | None] = lambda: None,
    ):
        self.snapshots = SnapshotStore()
        self._notebook_key = notebook_key
        self._on_settings = on_settings
        self._variables = variables
        self._capabilities: dict[str, frozenset[str]] = {}
        self._sessions: dict[str, str | None] = {}
        """The client session (the message header's `session`) of each open comm: the frontend it belongs to."""
        self._lock = threading.Lock()
        self._manager: Any = None

    # -- the protocol ---------------------------------------------------------------------------------------------

    def receive(self, comm_id: str, data: Any, session: str | None = None) -> dict | None:
        """Handles one message from comm `comm_id` (of client `session`); returns the reply to send on it, if any."""
        try:
            message = frontend_message.validate_python(data if isinstance(data, dict) else {})
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "unreadable"}
            where = ".".join(str(p) for p in first.get("loc", ())) or "the message"
            text = (
                f"The jupyter-codegen kernel could not read the frontend's message at {where} ({first.get('msg')}); "
                "update the JupyterLab extension and the kernel's jupyter-codegen to the same version."
            )
            return CommError(message=text).model_dump(mode="json")
        if isinstance(message, FrontendSettings) or (isinstance(message, Hello) and message.settings is not None):
            error = self._apply(message if isinstance(message, FrontendSettings) else message.settings)
            if error is not None:
                return error
        if isinstance(message, Hello):
            with self._lock:
                self._capabilities[comm_id] = frozenset(message.capabilities)
                self._sessions[comm_id] = session
            try:
                key = self._notebook_key()
            except Exception:  # noqa: BLE001 - a key is a courtesy in the welcome, never a reason to fail it
                key = None
            return Welcome(version=__version__, notebook_key=key).model_dump(mode="json")
        if isinstance(message, Snapshot):
            self.snapshots.put(message)
        if isinstance(message, VariablesRequest):
            try:
                summary = self._variables() or ""
            except Exception:  # noqa: BLE001 - a namespace that cannot be summarized: the chat goes on without it
                log.debug("jupyter_codegen: could not summarize the variables", exc_info=True)
                summary = ""
            return Variables(id=message.id, summary=summary).model_dump(mode="json")
        return None

    def _apply(self, settings: FrontendSettings) -> dict | None:
        try:
            self._on_settings(settings)
        except Exception as exc:  # noqa: BLE001 - a bad setting is reported to the frontend, not raised in the kernel
            log.debug("jupyter_codegen: could not apply the frontend's settings", exc_info=True)
            text = f"The kernel could not apply the JupyterLab settings of jupyter-codegen ({exc}); correct them in Settings."
            return CommError(message=text).model_dump(mode="json")
        return None

    def closed(self, comm_id: str) -> None:
        with self._lock:
            self._capabilities.pop(comm_id, None)
            self._sessions.pop(comm_id, None)

    def capabilities(self, session: str | None = None) -> frozenset[str]:
        """What the open comms said they can do (normally one comm, one frontend); with `session`, only the comms
        of that client, which tells whether the client that sent an execute request runs the extension."""
        with self._lock:
            found = [
                caps for comm_id, caps in self._capabilities.items()
                if session is None or self._sessions.get(comm_id) == session
            ]
        return frozenset().union(*found) if found else frozenset()

    def take_snapshot(self, cell_id: str | None, source: str) -> Snapshot | None:
        return self.snapshots.take(cell_id, source)

    # -- ipykernel ------------------------------------------------------------------------------------------------

    def register(self, shell: Any) -> bool:
        """Registers the comm target in a kernel; False in a plain IPython shell (no kernel, no frontend)."""
        if getattr(shell, "kernel", None) is None:
            return False
        try:
            import comm
        except ImportError:  # pragma: no cover - every ipykernel depends on it
            return False
        manager = comm.get_comm_manager()
        manager.register_target(COMM_TARGET, self._on_open)
        self._manager = manager
        return True

    def unregister(self) -> None:
        if self._manager is not None:
            try:
                self._manager.unregister_target(COMM_TARGET, self._on_open)
            except Exception:  # noqa: BLE001 - already gone
                pass
            self._manager = None

    def _on_open(self, comm: Any, open_msg: dict) -> None:
        comm_id = comm.comm_id

        def on_msg(msg: dict) -> None:
            self._reply(comm, self.receive(comm_id, msg.get("content", {}).get("data"), client_session(msg)))

        def on_close(msg: dict) -> None:
            self.closed(comm_id)

        comm.on_msg(on_msg)
        comm.on_close(on_close)
        self._reply(comm, self.receive(comm_id, open_msg.get("content", {}).get("data"), client_session(open_msg)))

    @staticmethod
    def _reply(comm: Any, reply: dict | None) -> None:
        if reply is None:
            return
        try:
            comm.send(data=reply)
        except Exception:  # noqa: BLE001 - a frontend gone away must not break the kernel
            log.debug("jupyter_codegen: could not answer on comm %s", getattr(comm, "comm_id", "?"), exc_info=True)


def client_session(msg: object) -> str | None:
    """The client session that sent a kernel message (or whose header this is): a JupyterLab kernel connection
    uses one for all it sends, comm messages and execute requests alike."""
    if not isinstance(msg, dict):
        return None
    header = msg.get("header", msg)
    session = header.get("session") if isinstance(header, dict) else None
    return session if isinstance(session, str) and session else None
