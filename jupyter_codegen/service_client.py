"""The kernel side of the shared model service: find the Jupyter server that started this kernel, check that its
jupyter_codegen extension answers, and run the model there instead of in the kernel.

Discovery: jupyter_client starts a kernel with JPY_PARENT_PID set to the starting process, the server itself
(on POSIX; on Windows it is a handle, so the parent pid is tried too), and the server writes its url and token to
jpserver-<pid>.json in jupyter_runtime_dir(). A status request then proves the extension is there and the token
works; anything else (plain IPython, VS Code, a server without the extension) keeps the in-process engine.

One-shot calls (status, model, score) are plain HTTP from the calling thread. The streaming WebSocket lives on one
daemon thread with its own asyncio loop, because the kernel's own loop is busy running the cell; the calling thread
waits on a queue, so Ctrl-C (a KeyboardInterrupt) lands there and becomes a cancel message, and streamed text is
shown from the cell's own thread. Prompts and token counts are made here with the model's own
tokenizer (the server says where its folder is; same machine), so only generation and scoring cross the wire.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import json
import os
import queue
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Coroutine, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from . import wire
from .engine import Completion, Engine, GenerationOptions, TextCallback
from .errors import CodeGenError
from .model_store import EngineSettings, load_engine
from .tokenizer import TextTokenizer

T = TypeVar("T")
REMOTE_PREFIX = "openai:"
"""Remote models are only HTTP clients: each kernel talks to them directly, nothing to share."""
STATUS_TIMEOUT_S = 5.0
LOAD_TIMEOUT_S = 3600.0
"""Loading may export a Hugging Face model first, which takes minutes."""
CANCEL_GRACE_S = 5.0
"""How long a cancelled generation waits for the server's last word before keeping what it streamed."""
_POLL_S = 0.1
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


class ServiceUnavailable(CodeGenError):
    """The server's model service cannot be used (not there, refusing the token, not answering)."""

    def __init__(self, problem: str, fix: str):
        super().__init__(f"{problem}; {fix}.")
        self.problem = problem
        self.fix = fix

    def fallback_note(self) -> str:
        return f"{self.problem}, so the model runs in this kernel; {self.fix} to share one copy between notebooks."


GONE = (
    "The Jupyter server stopped answering in the middle of this request; run the cell again (the model then runs "
    "in this kernel if the server is gone), or set CodeGen.use_server = False."
)


# -- discovery ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    url: str
    """The server's base url, ending with a slash."""
    token: str
    pid: int
    root_dir: str = ""
    """The server's root folder: notebook paths relative to it are what its frontends and sessions use."""

    def api(self, endpoint: str) -> str:
        return f"{self.url}{wire.API_PATH}/{endpoint}"

    def websocket(self, endpoint: str) -> str:
        return "ws" + self.api(endpoint)[len("http"):]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}


def server_info(info: dict[str, Any]) -> ServerInfo | None:
    """A connectable ServerInfo from a jpserver-<pid>.json; None for unix-socket servers."""
    if info.get("sock") or not isinstance(info.get("port"), int):
        return None
    host = str(info.get("hostname") or "")
    host = "127.0.0.1" if host in _WILDCARD_HOSTS else (f"[{host}]" if ":" in host else host)
    scheme = "https" if info.get("secure") else "http"
    base = "/" + str(info.get("base_url") or "/").strip("/")
    base = base if base.endswith("/") else base + "/"
    return ServerInfo(
        f"{scheme}://{host}:{info['port']}{base}", str(info.get("token") or ""), int(info.get("pid", 0)),
        str(info.get("root_dir") or ""),
    )


def find_server(environ: dict[str, str] | None = None, runtime_dir: str | Path | None = None) -> ServerInfo | None:
    """The Jupyter server that started this kernel, from its runtime file; None outside one."""
    environ = os.environ if environ is None else environ
    candidates = []
    parent = environ.get("JPY_PARENT_PID", "")
    if parent.isdigit():
        candidates.append(int(parent))
    if parent:  # only kernels started by jupyter_client have it; the parent pid covers Windows' handle
        candidates.append(os.getppid())
    if not candidates:
        return None
    if runtime_dir is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    for pid in candidates:
        try:
            info = json.loads((Path(runtime_dir) / f"jpserver-{pid}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("pid") == pid:
            return server_info(info)
    return None


# -- the client ---------------------------------------------------------------------------------------------------


class _Loop:
    """One asyncio loop on a daemon thread for all of this process's service traffic."""

    _instance: "_Loop | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, name="codegen-service-io", daemon=True).start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @classmethod
    def get(cls) -> "_Loop":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


class _Closed:
    """Put in every waiting request's queue when the WebSocket closes."""


def client_name(environ: dict[str, str] | None = None) -> str:
    """How this kernel appears in the server's status: its notebook, and its pid to tell two kernels apart."""
    environ = os.environ if environ is None else environ
    session = environ.get("JPY_SESSION_NAME", "")
    return f"{Path(session).name or 'kernel'} (pid {os.getpid()})"


class ServiceClient:
    """One kernel's connection to one server's model service: REST for one-shot calls, one WebSocket for streams,
    requests on it told apart by their ids (events for an id nobody waits for any more are dropped)."""

    def __init__(self, server: ServerInfo, name: str | None = None):
        self.server = server
        self.name = name or client_name()
        self.healthy = True
        """False after a connection failure: the next use checks the server again before trusting it."""
        self._io = _Loop.get()
        self._ws: Any = None
        self._connecting: asyncio.Lock | None = None
        self._pending: dict[str, queue.Queue] = {}
        self._pending_lock = threading.Lock()

    # -- REST -----------------------------------------------------------------------------------------------------

    def _fetch(self, method: str, endpoint: str, body: BaseModel | None, timeout: float) -> bytes:
        """One REST call from the calling thread: a KeyboardInterrupt closes the connection, and the server then
        drops the request (its handler cancels the queued work when its client goes away)."""
        url = urlsplit(self.server.api(endpoint))
        connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(url.hostname, url.port, timeout=timeout)
        try:
            connection.request(
                method, url.path, body=body.model_dump_json() if body is not None else None,
                headers={**self.server.headers, "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            code, data = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            raise self._unreachable(exc) from exc
        finally:
            connection.close()
        if code in (401, 403):
            raise ServiceUnavailable(
                f"The Jupyter server at {self.server.url} refused this kernel's token",
                "restart the kernel from that server, or set CodeGen.use_server = False",
            )
        if code == 404:
            raise ServiceUnavailable(
                f"The Jupyter server at {self.server.url} has no jupyter_codegen extension",
                "install jupyter-codegen where the server runs (or run `jupyter server extension enable "
                "jupyter_codegen` there) and restart the server",
            )
        if code >= 400:
            raise CodeGenError(_message_of(data) or f"The Jupyter server answered HTTP {code}; see its log.")
        return data

    def _unreachable(self, error: object) -> ServiceUnavailable:
        self.healthy = False
        return ServiceUnavailable(
            f"The Jupyter server at {self.server.url} does not answer ({error})",
            "check that it still runs, or set CodeGen.use_server = False",
        )

    def _call(self, method: str, endpoint: str, body: BaseModel | None, reply: type[T], timeout: float) -> T:
        raw = self._fetch(method, endpoint, body, timeout)
        try:
            return reply.model_validate_json(raw)  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise ServiceUnavailable(
                f"The Jupyter server at {self.server.url} answered {endpoint} in an unknown shape ({exc.error_count()} problems)",
                "install the same jupyter-codegen version in the kernel and the server",
            ) from None

    def status(self) -> wire.Status:
        status = self._call("GET", "status", None, wire.Status, STATUS_TIMEOUT_S)
        self.healthy = True
        return status

    def model_info(self, choice: wire.ModelChoice) -> wire.ModelInfo:
        return self._call("POST", "model", wire.ModelRequest(model=choice), wire.ModelInfo, LOAD_TIMEOUT_S)

    def score(self, choice: wire.ModelChoice, prompt: str, continuations: list[str]) -> list[float]:
        request = wire.ScoreRequest(id=uuid.uuid4().hex, client=self.name, model=choice, prompt=prompt, continuations=continuations)
        return self._call("POST", "score", request, wire.ScoreReply, LOAD_TIMEOUT_S).scores

    # -- WebSocket ------------------------------------------------------------------------------------------------

    async def _socket(self) -> Any:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._ws is None:
                request = HTTPRequest(
                    self.server.websocket("stream"), headers=self.server.headers, connect_timeout=STATUS_TIMEOUT_S
                )
                try:
                    self._ws = await websocket_connect(request)
                except Exception as exc:  # noqa: BLE001 - HTTPClientError, OSError, StreamClosedError alike
                    raise self._unreachable(exc) from exc
                asyncio.ensure_future(self._read(self._ws))
            return self._ws

    async def _read(self, ws: Any) -> None:
        while (raw := await ws.read_message()) is not None:
            try:
                event = wire.server_event.validate_json(raw)
            except ValidationError:
                continue
            with self._pending_lock:
                sink = self._pending.get(event.id) if event.id else None
            if sink is not None:  # else stale: the request was given up on, and its late replies are dropped
                sink.put(event)
        if self._ws is ws:
            self._ws = None
            self.healthy = False
        with self._pending_lock:
            sinks = list(self._pending.values())
        for sink in sinks:
            sink.put(_Closed())

    async def _send(self, message: BaseModel, sink: queue.Queue | None) -> None:
        try:
            ws = await self._socket()
            await ws.write_message(message.model_dump_json())
        except ServiceUnavailable as exc:
            if sink is not None:
                sink.put(exc)
        except Exception:  # noqa: BLE001 - the socket closed while writing
            if sink is not None:
                sink.put(_Closed())

    def generate(
        self,
        choice: wire.ModelChoice,
        prompt: str,
        options: GenerationOptions,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Streams one generation; on a set `cancel` or a KeyboardInterrupt, asks the server to stop and returns
        what was generated so far, marked cancelled (the Engine contract)."""
        rid = uuid.uuid4().hex
        sink: queue.Queue = queue.Queue()
        with self._pending_lock:
            self._pending[rid] = sink
        request = wire.GenerateRequest(
            id=rid, client=self.name, model=choice, prompt=prompt, options=wire.Options.of(options)
        )
        streamed = [""] * max(1, options.n)
        try:
            self._io.submit(self._send(request, sink))
            while True:
                if cancel is not None and cancel.is_set():
                    return self._stop(rid, sink, streamed)
                try:
                    event = sink.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if isinstance(event, wire.Delta):
                    streamed[event.index] += event.text
                    if on_text is not None:
                        on_text(event.index, event.text)
                elif isinstance(event, wire.Done):
                    return [c.completion() for c in event.completions]
                elif isinstance(event, wire.Failed):
                    raise CodeGenError(event.message)
                elif isinstance(event, ServiceUnavailable):
                    raise event
                elif isinstance(event, _Closed):
                    raise CodeGenError(GONE)
        except KeyboardInterrupt:
            return self._stop(rid, sink, streamed)
        finally:
            with self._pending_lock:
                self._pending.pop(rid, None)

    def _stop(self, rid: str, sink: queue.Queue, streamed: list[str]) -> list[Completion]:
        self._io.submit(self._send(wire.CancelRequest(id=rid), None))
        try:
            deadline = CANCEL_GRACE_S
            while deadline > 0:
                try:
                    event = sink.get(timeout=_POLL_S)
                except queue.Empty:
                    deadline -= _POLL_S
                    continue
                if isinstance(event, wire.Done):
                    return [c.completion() for c in event.completions]
                if isinstance(event, wire.Delta):
                    streamed[event.index] += event.text
                elif not isinstance(event, wire.Queued):
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting for the server's last word
            pass
        return [Completion(text=text, finish_reason="cancelled") for text in streamed]

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            self._io.loop.call_soon_threadsafe(ws.close)


def _message_of(body: bytes | None) -> str | None:
    try:
        message = json.loads(body or b"").get("message")
    except (ValueError, AttributeError):
        return None
    return message if isinstance(message, str) and message else None


# -- the engine ---------------------------------------------------------------------------------------------------


class ServiceEngine:
    """An Engine whose model runs in the Jupyter server: the prompt is built here, the tokens are generated there."""

    def __init__(self, client: ServiceClient, choice: wire.ModelChoice, info: wire.ModelInfo):
        if not info.folder:
            raise ServiceUnavailable(
                f"The Jupyter server's model {info.name} has no tokenizer folder this kernel can read",
                "set CodeGen.use_server = False",
            )
        self.client = client
        self.choice = choice
        self.info = info
        self.name = info.name
        self.context_window = info.context_window
        self.device = f"{info.device} in the Jupyter server"
        self.tokenizer = TextTokenizer.from_folder(info.folder)
        self.format = self.tokenizer.prompt_format(choice.prompt_format or "auto")

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(text)

    def generate(
        self,
        prompt: str,
        options: GenerationOptions,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        return self.client.generate(self.choice, prompt, options, on_text, cancel)

    def score(self, prompt: str, continuations: list[str]) -> list[float]:
        return self.client.score(self.choice, prompt, continuations)


# -- choosing the engine ------------------------------------------------------------------------------------------

_lock = threading.Lock()
_clients: dict[ServerInfo, ServiceClient] = {}
_engines: dict[tuple[ServerInfo, wire.ModelChoice], ServiceEngine] = {}


def _absolute(value: str | None) -> str | None:
    """Kernels and the server run in different folders: local paths are sent absolute."""
    if not value or value == "default":
        return value
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value


def model_choice(spec: str, settings: EngineSettings) -> wire.ModelChoice:
    return wire.ModelChoice.of(
        _absolute(spec) or spec,
        EngineSettings(
            device=settings.device, threads=settings.threads, quantization=settings.quantization,
            prompt_format=settings.prompt_format,
            cache_dir=str(Path(settings.cache_dir).expanduser().absolute()) if settings.cache_dir else None,
            default_model_dir=_absolute(settings.default_model_dir),
        ),
    )


def connect(server: ServerInfo) -> ServiceClient:
    """A client for `server` whose extension answered; checks again after a connection failure."""
    with _lock:
        client = _clients.get(server)
        if client is None:
            client = _clients[server] = ServiceClient(server)
            client.healthy = False
    if not client.healthy:
        client.status()
    return client


def shared_engine(server: ServerInfo, spec: str, settings: EngineSettings) -> ServiceEngine:
    """The server's engine for this model, loaded there once for all kernels (this may take a while the first time)."""
    client = connect(server)
    choice = model_choice(spec, settings)
    with _lock:
        engine = _engines.get((server, choice))
    if engine is None:
        engine = ServiceEngine(client, choice, client.model_info(choice))
        with _lock:
            engine = _engines.setdefault((server, choice), engine)
    return engine


def engine_for(spec: str, settings: EngineSettings, use_server: bool = True) -> tuple[Engine, str | None]:
    """The engine a kernel should use: the Jupyter server's shared one when the server that started this kernel runs
    the extension, else the in-process one. The second value says why a server that was found is not used."""
    spec = spec.strip()
    note = None
    if use_server and not spec.startswith(REMOTE_PREFIX):
        server = find_server()
        if server is not None:
            try:
                return shared_engine(server, spec, settings), None
            except ServiceUnavailable as exc:
                note = exc.fallback_note()
    return load_engine(spec, settings), note


def forget_clients() -> None:
    """Closes the connections (in tests, or after the server changed)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
        _engines.clear()
    for client in clients:
        client.close()
