"""HTTP and WebSocket handlers of the shared model service: thin translations between `wire` messages and the
`EngineService`.

Every endpoint goes through Jupyter's own authentication (a token, or the login cookie plus XSRF for POSTs from a
browser) and authorization (resource "codegen"); a request without them gets 403. REST serves one-shot calls; the
WebSocket streams generations, chat answers and fills (Queued, Delta..., then Done / ChatDone / FillDone or Failed) and takes
cancellations. A client that disconnects cancels its requests, so a closed notebook never keeps the model busy.
Chat questions run on the engine's queue like any request; what a chat turn is lives in `chat`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
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

from . import __version__, chat, wire
from .assistant import UpdateCallback
from .config import CodeGen
from .conversation import Conversation, server_notebook_key
from .engine import Completion, Engine, GenerationOptions
from .engine_service import EngineService, Ticket, Work
from .errors import CodeGenError
from .model_store import EngineSettings

AUTH_RESOURCE = "codegen"
SERVICE_KEY = "codegen_service"
DEFAULTS_KEY = "codegen_defaults"
CONFIG_KEY = "codegen_config"
"""web_app.settings keys: the EngineService, the server's (model spec, EngineSettings) from its CodeGen config, and
that CodeGen config itself (generation defaults and the conversation folder for chats)."""

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

    @property
    def config(self) -> CodeGen:
        return self.settings[CONFIG_KEY]

    def choice(self, choice: wire.ModelChoice) -> tuple[str, EngineSettings]:
        spec, defaults = self.settings[DEFAULTS_KEY]
        return choice.resolve(spec, defaults)

    @property
    def root_dir(self) -> str:
        """Where notebook paths start: the kernel manager's root, from which the kernels' JPY_SESSION_NAME is made."""
        manager = self.settings.get("kernel_manager")
        return getattr(manager, "root_dir", None) or self.settings.get("server_root_dir") or "."

    def conversation(self, path: str) -> Conversation:
        return chat.notebook_conversation(path, self.root_dir, self.config.conversation_dir or None)

    def options_of(self, request: wire.ChatRequest | wire.FillRequest) -> GenerationOptions:
        """The server's CodeGen options, with those the request gives over them."""
        options = self.config.generation_options()
        return request.options.over(options) if request.options else options

    def work_for(self, request: wire.ChatRequest | wire.FillRequest, on_update: UpdateCallback | None = None) -> Work:
        """What a chat question or a fill does when its turn on the engine comes."""
        if isinstance(request, wire.ChatRequest):
            return self.chat_work(request, on_update)
        return self.fill_work(request, on_update)

    def chat_work(self, request: wire.ChatRequest, on_update: UpdateCallback | None = None) -> Work[wire.ChatDone]:
        """What a chat request does when its turn on the engine comes: the whole turn, recorded, as a ChatDone."""
        options = self.options_of(request)
        max_context, rank = self.config.max_context_tokens, self.config.rank
        conversation_dir = self.config.conversation_dir or None
        root = self.root_dir

        def work(engine: Engine, cancel: threading.Event) -> wire.ChatDone:
            conversation = chat.notebook_conversation(request.path, root, conversation_dir)
            result = chat.ask(
                engine, conversation, request.message, options, snapshot=request.snapshot, variables=request.variables,
                max_context_tokens=max_context, on_update=on_update, cancel=cancel, rank=rank,
            )
            answer = result.answer
            return wire.ChatDone(
                id=request.id, answer=answer.code, cells=answer.cells,
                notes=answer.notes + ([result.warning] if result.warning else []), cancelled=answer.cancelled,
                model=engine.name, turn=result.turn_number, prompt=answer.prompt if request.show_prompt else None,
            )

        return work

    def fill_work(self, request: wire.FillRequest, on_update: UpdateCallback | None = None) -> Work[wire.FillDone]:
        """What a fill request does on the engine: one hole, filled with the notebook around it, recorded."""
        options = self.options_of(request)
        config = self.config
        max_context, marker, method = config.max_context_tokens, config.infill_marker, config.infill_method
        conversation_dir = config.conversation_dir or None
        root = self.root_dir

        def work(engine: Engine, cancel: threading.Event) -> wire.FillDone:
            conversation = chat.notebook_conversation(request.path, root, conversation_dir)
            result = chat.fill(
                engine, conversation, request.before, request.after, options, snapshot=request.snapshot,
                variables=request.variables, marker=marker, method=method, max_context_tokens=max_context, record=request.record,
                on_update=on_update, cancel=cancel,
            )
            answer = result.answer
            return wire.FillDone(
                id=request.id, fill=answer.fills[0] if answer.fills else "", code=answer.code,
                notes=answer.notes + ([result.warning] if result.warning else []), cancelled=answer.cancelled,
                model=engine.name, turn=result.turn_number,
            )

        return work


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


class _WorkHandler(_QueuedRestHandler):
    """A request answered whole after its turn on the engine (the WebSocket streams the same answer)."""

    message: type[wire.ChatRequest] | type[wire.FillRequest]

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        request = self.read(self.message)
        spec, settings = self.choice(request.model)
        client = request.client or f"rest {self.current_user.username}"
        self.ticket = self.service.submit(spec, settings, client, self.work_for(request), request.id)
        self.send(await self.outcome(self.ticket))


class ChatHandler(_WorkHandler):
    """One chat question."""

    message = wire.ChatRequest


class FillHandler(_WorkHandler):
    """One selection filled."""

    message = wire.FillRequest


class ConversationHandler(_RestHandler):
    """A notebook's conversation, which its kernel's magics and the chat share: read it (GET) or reset it (DELETE,
    keeping a backup as `%codegen --reset` does)."""

    def notebook(self) -> str:
        path = self.get_query_argument("path", "").strip()
        if not path:
            raise web.HTTPError(400, "Say which notebook with ?path=<the notebook's path under the server's root>.")
        return path

    def reply(self, path: str, conversation: Conversation) -> None:
        self.send(
            wire.ConversationOut(
                path=path, key=server_notebook_key(path, self.root_dir),
                turns=[wire.TurnOut.of(t) for t in conversation.turns], warning=conversation.warning,
            )
        )

    @web.authenticated
    @authorized("read")
    def get(self) -> None:
        path = self.notebook()
        self.reply(path, self.conversation(path))

    @web.authenticated
    @authorized("write")
    def delete(self) -> None:
        path = self.notebook()
        conversation = self.conversation(path)
        try:
            conversation.reset()
        except OSError as err:
            raise web.HTTPError(
                500, f"Could not reset the conversation ({err.strerror or err}); check that its folder is writable."
            ) from None
        self.reply(path, conversation)


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
        if isinstance(request, (wire.ChatRequest, wire.FillRequest)):
            self.start_work(request)
        else:
            self.start(request)

    def start_work(self, request: wire.ChatRequest | wire.FillRequest) -> None:
        """Streams a chat answer or a fill as Delta events (index 0) of the raw text so far, then its one final
        event (ChatDone or FillDone; marked cancelled when it was cancelled before it ran)."""
        if isinstance(request, wire.ChatRequest):
            if_cancelled: BaseModel = wire.ChatDone(id=request.id, answer="", cancelled=True)
        else:
            if_cancelled = wire.FillDone(id=request.id, fill="", cancelled=True)
        loop, rid = self._loop, request.id
        sent = [""]

        def on_update(text_so_far: str) -> None:  # on the engine's thread
            previous, sent[0] = sent[0], text_so_far
            if text_so_far.startswith(previous) and len(text_so_far) > len(previous):
                loop.call_soon_threadsafe(self.emit, wire.Delta(id=rid, index=0, text=text_so_far[len(previous):]))

        spec, settings = self.choice(request.model)
        ticket = self.service.submit(spec, settings, request.client or self._client, self.work_for(request, on_update), rid)
        self._tickets[rid] = ticket
        self.emit(wire.Queued(id=rid, ahead=ticket.ahead))
        ticket.future.add_done_callback(lambda _: loop.call_soon_threadsafe(self.finish_work, ticket, if_cancelled))

    def finish_work(self, ticket: Ticket, if_cancelled: BaseModel) -> None:
        self._tickets.pop(ticket.request_id, None)
        future = ticket.future
        if future.cancelled():
            self.emit(if_cancelled)
        elif future.exception() is not None:
            self.emit(wire.Failed(id=ticket.request_id, message=failure_sentence(future.exception())))
        else:
            self.emit(future.result())

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
        (url_path_join(base, "chat"), ChatHandler),
        (url_path_join(base, "fill"), FillHandler),
        (url_path_join(base, "conversation"), ConversationHandler),
        (url_path_join(base, "stream"), StreamHandler),
    ]

