"""HTTP and WebSocket handlers of the shared model service: thin translations between `wire` messages and the
`EngineService`.

Every endpoint goes through Jupyter's own authentication (a token, or the login cookie plus XSRF for POSTs from a
browser) and authorization (resource "codegen"); a request without them gets 403. REST serves one-shot calls; the
WebSocket streams generations (Queued, Delta..., then Done or Failed) and takes cancellations. A client that
disconnects cancels its requests, so a closed notebook never keeps the model busy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import asdict
from typing import Any, TypeVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, ValidationError
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from . import __version__, wire
from .engine import Completion
from .engine_service import EngineService, Ticket
from .errors import CodeGenError
from .model_store import EngineSettings

AUTH_RESOURCE = "codegen"
SERVICE_KEY = "codegen_service"
DEFAULTS_KEY = "codegen_defaults"
"""web_app.settings keys: the EngineService, and the server's (model spec, EngineSettings) from its CodeGen config."""

UNKNOWN_ID = "No request with this id is queued or running (it may have finished), so nothing was cancelled."
DUPLICATE_ID = "A request with this id is already queued or running; give every request a new id."

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


def failure_sentence(exc: BaseException) -> str:
    """A user-facing error stays as it is; anything else is logged in full and summed up in one sentence."""
    if isinstance(exc, CodeGenError):
        return str(exc)
    log.error("A codegen request failed", exc_info=exc)
    return (
        f"The model service in the Jupyter server failed on this request ({type(exc).__name__}: {exc}); "
        "see the server's log, and run the cell again."
    )


def cancelled_completions(n: int) -> list[wire.CompletionOut]:
    """What a request cancelled before its turn produced: nothing, per candidate."""
    return [wire.CompletionOut(text="", finish_reason="cancelled") for _ in range(n)]


def status_of(service: EngineService) -> wire.Status:
    return wire.Status(version=__version__, engines=[wire.EngineStatus(**asdict(s)) for s in service.status()])


def model_info(engine: Any) -> wire.ModelInfo:
    folder = getattr(engine, "folder", None)
    warning = getattr(getattr(engine, "info", None), "warning", None)
    return wire.ModelInfo(
        name=engine.name, format=engine.format.name, context_window=engine.context_window, device=engine.device,
        folder=str(folder) if folder is not None else None, warning=warning,
    )


class _ServiceMixin:
    settings: dict

    @property
    def service(self) -> EngineService:
        return self.settings[SERVICE_KEY]

    def choice(self, choice: wire.ModelChoice) -> tuple[str, EngineSettings]:
        spec, defaults = self.settings[DEFAULTS_KEY]
        return choice.resolve(spec, defaults)


class _RestHandler(_ServiceMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    def read(self, model: type[M]) -> M:
        try:
            return model.model_validate_json(self.request.body or b"{}")
        except ValidationError as exc:
            raise web.HTTPError(400, wire.invalid(exc)) from None

    def send(self, message: BaseModel) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(message.model_dump_json())

    async def outcome(self, ticket_or_future) -> Any:
        """The result of a queued request or a loading engine, errors as HTTP errors with one sentence."""
        future = ticket_or_future.future if isinstance(ticket_or_future, Ticket) else ticket_or_future
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future.cancelled():
                raise web.HTTPError(409, "The request was cancelled before it ran; send it again.") from None
            raise
        except CodeGenError as exc:
            raise web.HTTPError(422, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - reported as one sentence, logged in full
            raise web.HTTPError(500, failure_sentence(exc)) from None


class StatusHandler(_RestHandler):
    """Says the extension is here, and what each engine is doing (clients check it before using the service)."""

    @web.authenticated
    @authorized("read")
    def get(self) -> None:
        self.send(status_of(self.service))


class ModelHandler(_RestHandler):
    """Loads the chosen model (once per server) and describes it, so a kernel can build prompts for it."""

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        request = self.read(wire.ModelRequest)
        engine = await self.outcome(self.service.engine(*self.choice(request.model)))
        self.send(model_info(engine))


class _QueuedRestHandler(_RestHandler):
    """A one-shot request whose slot is freed when its client disconnects before the answer."""

    ticket: Ticket | None = None

    def on_connection_close(self) -> None:
        if self.ticket is not None and not self.ticket.future.done():
            self.service.cancel(self.ticket)
        super().on_connection_close()


class GenerateHandler(_QueuedRestHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        request = self.read(wire.GenerateRequest)
        spec, settings = self.choice(request.model)
        client = request.client or f"rest {self.current_user.username}"
        self.ticket = self.service.generate(
            spec, settings, client, request.prompt, request.options.generation_options(), request_id=request.id
        )
        completions: list[Completion] = await self.outcome(self.ticket)
        self.send(wire.Done(id=request.id, completions=[wire.CompletionOut.of(c) for c in completions]))


class ScoreHandler(_QueuedRestHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        request = self.read(wire.ScoreRequest)
        spec, settings = self.choice(request.model)
        client = request.client or f"rest {self.current_user.username}"
        self.ticket = self.service.score(spec, settings, client, request.prompt, request.continuations, request.id)
        scores: list[float] = await self.outcome(self.ticket)
        self.send(wire.ScoreReply(id=request.id, scores=scores))


class StreamHandler(_ServiceMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """One connection per client; requests on it are told apart by their ids.

    The engine's thread hands events to the server's event loop with call_soon_threadsafe, in order, so a request's
    Delta events always precede its Done.
    """

    auth_resource = AUTH_RESOURCE

    def set_default_headers(self) -> None:
        """JupyterHandler's default headers make no sense on a WebSocket upgrade."""

    async def pre_get(self) -> None:
        allowed = await ensure_async(self.authorizer.is_authorized(self, self.current_user, "execute", AUTH_RESOURCE))
        if not allowed:
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self._loop = asyncio.get_running_loop()
        self._tickets: dict[str, Ticket] = {}
        self._client = f"websocket {uuid.uuid4().hex[:8]}"

    def on_message(self, message: str | bytes) -> None:
        try:
            request = wire.client_message.validate_json(message)
        except ValidationError as exc:
            self.emit(wire.Failed(id=_id_of(message), message=wire.invalid(exc, "message")))
            return
        if isinstance(request, wire.CancelRequest):
            ticket = self._tickets.get(request.id)
            if ticket is None:
                self.emit(wire.Failed(id=request.id, message=UNKNOWN_ID))
            else:
                self.service.cancel(ticket)
            return
        if request.id in self._tickets:
            self.emit(wire.Failed(id=request.id, message=DUPLICATE_ID))
            return
        self.start(request)

    def start(self, request: wire.GenerateRequest) -> None:
        spec, settings = self.choice(request.model)
        loop, rid = self._loop, request.id

        def on_text(index: int, text: str) -> None:
            loop.call_soon_threadsafe(self.emit, wire.Delta(id=rid, index=index, text=text))

        ticket = self.service.generate(
            spec, settings, request.client or self._client, request.prompt, request.options.generation_options(),
            on_text, request_id=rid,
        )
        self._tickets[rid] = ticket
        self.emit(wire.Queued(id=rid, ahead=ticket.ahead))
        n = request.options.n
        ticket.future.add_done_callback(lambda _: loop.call_soon_threadsafe(self.finish_request, ticket, n))

    def finish_request(self, ticket: Ticket, n: int) -> None:
        self._tickets.pop(ticket.request_id, None)
        future = ticket.future
        if future.cancelled():
            self.emit(wire.Done(id=ticket.request_id, completions=cancelled_completions(n)))
        elif future.exception() is not None:
            self.emit(wire.Failed(id=ticket.request_id, message=failure_sentence(future.exception())))
        else:
            completions = [wire.CompletionOut.of(c) for c in future.result()]
            self.emit(wire.Done(id=ticket.request_id, completions=completions))

    def emit(self, message: BaseModel) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        try:
            self.write_message(message.model_dump_json())
        except WebSocketClosedError:
            pass

    def on_close(self) -> None:
        for ticket in list(getattr(self, "_tickets", {}).values()):
            self.service.cancel(ticket)


def _id_of(message: str | bytes) -> str | None:
    """The id of a message that failed validation, when it has a readable one, so its sender can match the error."""
    try:
        value = json.loads(message).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def routes(base_url: str) -> list[tuple[str, type]]:
    base = url_path_join(base_url, wire.API_PATH)
    return [
        (url_path_join(base, "status"), StatusHandler),
        (url_path_join(base, "model"), ModelHandler),
        (url_path_join(base, "generate"), GenerateHandler),
        (url_path_join(base, "score"), ScoreHandler),
        (url_path_join(base, "stream"), StreamHandler),
    ]

