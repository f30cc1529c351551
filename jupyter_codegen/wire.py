"""The messages between a kernel (or a browser) and the Jupyter server's shared model service.

Typed with pydantic so both sides validate what they read: a malformed message becomes one sentence, never a
traceback in the server. Every request and every event carries the request's id, so a client that gave up on a
request (cancelled, timed out) recognises and drops the replies that still arrive for it.

REST (one-shot): GET status -> Status; POST model -> ModelInfo; POST generate -> Done; POST score -> ScoreReply;
POST chat (ChatRequest) -> ChatDone; POST fill (FillRequest) -> FillDone; GET conversation?path=P -> ConversationOut; DELETE conversation?path=P resets it.
WebSocket (streaming): the client sends GenerateRequest, ChatRequest, FillRequest and CancelRequest; the server
answers with Queued, then Delta events, then one Done (ChatDone for a chat, FillDone for a fill) or one Failed per
request.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .column_guard import KnownColumns
from .conversation import Turn
from .engine import Completion, GenerationOptions
from .frontend_protocol import Snapshot
from .model_store import EngineSettings

API_PATH = "codegen/api"
"""Where the service lives under the server's base url."""

RequestId = Annotated[str, Field(min_length=1, max_length=128)]


class _Message(BaseModel):
    # Unknown fields are ignored, so a newer client can talk to an older server about what both know.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ModelChoice(_Message):
    """Which engine: a model spec and the settings that decide how it is loaded. Together they are the key of one
    shared engine, so two kernels asking for the same choice share one copy. A field left out takes the server's own
    CodeGen setting (its jupyter_server_config), which is what a browser client does."""

    model: str | None = None
    device: Literal["auto", "cpu", "cuda"] | None = None
    threads: int | None = Field(None, ge=0)
    quantization: str | None = None
    prompt_format: str | None = None
    cache_dir: str | None = None
    default_model_dir: str | None = None

    @classmethod
    def of(cls, spec: str, settings: EngineSettings) -> "ModelChoice":
        return cls(
            model=spec,
            device=settings.device,
            threads=settings.threads or 0,
            quantization=settings.quantization,
            prompt_format=settings.prompt_format,
            cache_dir=settings.cache_dir or "",
            default_model_dir=settings.default_model_dir or "",
        )

    def resolve(self, spec: str, defaults: EngineSettings) -> tuple[str, EngineSettings]:
        """(spec, settings) with the server's defaults filled in where this choice says nothing."""

        def pick(value, default):
            return default if value is None else value

        settings = replace(
            defaults,
            device=pick(self.device, defaults.device),
            threads=pick(self.threads, defaults.threads) or None,
            quantization=pick(self.quantization, defaults.quantization),
            prompt_format=pick(self.prompt_format, defaults.prompt_format),
            cache_dir=pick(self.cache_dir, defaults.cache_dir) or None,
            default_model_dir=pick(self.default_model_dir, defaults.default_model_dir) or None,
            progress=False,
        )
        return (self.model or spec).strip(), settings


class Options(_Message):
    """GenerationOptions on the wire."""

    max_new_tokens: int = Field(256, ge=1, le=32_768)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    seed: int | None = None
    n: int = Field(1, ge=1, le=64)
    num_beams: int = Field(1, ge=1, le=64)
    length_penalty: float = 1.0
    stop: list[str] = Field(default_factory=list)
    guard_columns: bool = True
    columns: dict[str, list[str]] | None = Field(None, max_length=1000)
    """Frames and their columns for the column guard (a kernel's prompt, built with them, sends them along)."""
    column_line_prefix: str = Field("", max_length=100_000)
    frame_names: list[str] = Field(default_factory=list, max_length=1000)
    """Every DataFrame the variables summary lists (what a made-up frame name is written again as)."""
    names: list[str] | None = Field(None, max_length=100_000)
    """Every name the notebook has; None when the kernel does not know them all (frame names are then free)."""
    whole_cell: bool = False
    """The answer is a whole cell: the guard does not let it end inside a bracket or a string."""
    nonempty_fill: bool = False
    """The answer fills a hole the user marked: where it stands for a column it begins with a string or a list."""
    column_closed_after: int = Field(0, ge=0)
    """How many brackets the code after the hole closes on its line: the fill may not close them."""
    row_count: int | None = Field(None, ge=1)
    """The number of rows the request asks for: what `head`, `tail`, `nlargest`, `nsmallest` take."""
    linked_columns: dict[str, float] = Field(default_factory=dict, max_length=10_000)
    """Columns the request names in its words, with the nats the guard adds to the tokens that spell them."""
    linked_keys: list[str] = Field(default_factory=list, max_length=10_000)
    """The linked columns the request groups by."""
    linked_methods: list[tuple[str, float]] = Field(default_factory=list, max_length=100)
    """Aggregations the request asks for, with the nats the guard adds to the tokens that begin them."""
    linked_values: list[tuple[str, float]] = Field(default_factory=list, max_length=10_000)
    """Values the request may compare with (a text in double quotes), with the nats the guard adds to the tokens
    that write them where a comparison's value goes."""
    column_dtypes: dict[str, list[str]] | None = Field(None, max_length=1000)
    """Each frame's column dtypes, in the order of `columns`: the guard's type check."""

    @classmethod
    def of(cls, options: GenerationOptions) -> "Options":
        columns = options.columns
        return cls(
            max_new_tokens=options.max_new_tokens, temperature=options.temperature, top_p=options.top_p,
            seed=options.seed, n=options.n, num_beams=options.num_beams, length_penalty=options.length_penalty,
            stop=list(options.stop), guard_columns=options.guard_columns,
            columns={name: list(cols) for name, cols in columns.frames} if columns else None,
            column_line_prefix=columns.line_prefix if columns else "",
            frame_names=list(columns.frame_names) if columns else [],
            names=list(columns.names) if columns and columns.names is not None else None,
            whole_cell=bool(columns and columns.whole),
            nonempty_fill=bool(columns and columns.nonempty),
            column_closed_after=columns.closed_after if columns else 0,
            row_count=columns.count if columns else None,
            linked_columns=dict(columns.linked) if columns else {},
            linked_keys=list(columns.linked_keys) if columns else [],
            linked_methods=[tuple(m) for m in columns.linked_methods] if columns else [],
            linked_values=[tuple(v) for v in columns.linked_values] if columns else [],
            column_dtypes={name: list(kinds) for name, kinds in columns.dtypes} if columns else None,
        )

    def known_columns(self) -> KnownColumns | None:
        known = KnownColumns(
            tuple((name, tuple(cols)) for name, cols in (self.columns or {}).items()), self.column_line_prefix,
            tuple(self.frame_names), tuple(self.names) if self.names is not None else None, self.whole_cell,
            nonempty=self.nonempty_fill, closed_after=self.column_closed_after, count=self.row_count,
            linked=tuple(self.linked_columns.items()), linked_keys=tuple(self.linked_keys),
            linked_methods=tuple(tuple(m) for m in self.linked_methods),
            linked_values=tuple(tuple(v) for v in self.linked_values),
            dtypes=tuple((name, tuple(kinds)) for name, kinds in (self.column_dtypes or {}).items()),
        )
        return known if known else None

    def over(self, base: GenerationOptions) -> GenerationOptions:
        """`base` with the fields this message gives explicitly (the chat sends only the settings the user set)."""
        given = {name: getattr(self, name) for name in self.model_fields_set}
        if "stop" in given:
            given["stop"] = tuple(given["stop"])
        for part in ("column_line_prefix", "frame_names", "names", "whole_cell", "nonempty_fill",
                     "column_closed_after", "row_count", "linked_columns", "linked_keys", "linked_methods",
                     "linked_values", "column_dtypes"):
            given.pop(part, None)
        if "columns" in given or self.model_fields_set & {"frame_names", "names", "nonempty_fill", "row_count",
                                                               "linked_columns", "linked_keys", "linked_methods",
                                                               "linked_values", "column_dtypes"}:
            given["columns"] = self.known_columns()
        return base.with_(**given)

    def generation_options(self) -> GenerationOptions:
        return GenerationOptions(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p, seed=self.seed,
            n=self.n, num_beams=self.num_beams, length_penalty=self.length_penalty, stop=tuple(self.stop),
            guard_columns=self.guard_columns, columns=self.known_columns(),
        )


# -- requests -----------------------------------------------------------------------------------------------------


class GenerateRequest(_Message):
    type: Literal["generate"] = "generate"
    id: RequestId
    client: str | None = None
    """Who asks (a kernel, a browser tab): requests are served round-robin between clients. Over a WebSocket it
    defaults to the connection."""
    model: ModelChoice = ModelChoice()
    prompt: str
    """The exact prompt string, special tokens written out (the kernel built it with `formats`)."""
    options: Options = Options()


class ChatRequest(_Message):
    """A sidebar chat question about one notebook; the answer is recorded in that notebook's conversation."""

    type: Literal["chat"] = "chat"
    id: RequestId
    client: str | None = None
    path: str = Field(min_length=1, max_length=4096)
    """The notebook's path relative to the server's root, as the frontend knows it (e.g. "reports/q3.ipynb")."""
    message: str = Field(min_length=1, max_length=100_000)
    snapshot: Snapshot | None = None
    """The notebook as on screen; its cell_id is the active cell (the answer is meant to go below it)."""
    variables: str | None = Field(None, max_length=50_000)
    """The kernel's variables summary (the frontend asks the kernel over the comm), as the magics send it."""
    model: ModelChoice = ModelChoice()
    options: Options | None = None
    """The fields given override the server's own CodeGen settings (n, temperature, max_new_tokens, ...)."""
    show_prompt: bool = False
    """Also send back exactly what the model read."""


class FillRequest(_Message):
    """Fill the selection (or the cursor position) of a notebook cell from the code on both sides and the notebook
    around it; recorded in the notebook's conversation as an infill turn."""

    type: Literal["fill"] = "fill"
    id: RequestId
    client: str | None = None
    path: str = Field(min_length=1, max_length=4096)
    before: str = Field(max_length=200_000)
    """The cell's text before the selection."""
    after: str = Field(max_length=200_000)
    """The cell's text after the selection."""
    snapshot: Snapshot | None = None
    """The notebook as on screen; its cell_id is the cell being edited."""
    variables: str | None = Field(None, max_length=50_000)
    """The kernel's variables summary, as for a chat question."""
    model: ModelChoice = ModelChoice()
    options: Options | None = None
    record: bool = True
    """False for a suggestion not yet accepted: then the conversation is left as it was."""


class CancelRequest(_Message):
    type: Literal["cancel"] = "cancel"
    id: RequestId


class ScoreRequest(_Message):
    id: RequestId
    client: str | None = None
    model: ModelChoice = ModelChoice()
    prompt: str
    continuations: list[str] = Field(max_length=1024)


class ModelRequest(_Message):
    model: ModelChoice = ModelChoice()


# -- replies and events -------------------------------------------------------------------------------------------


class CompletionOut(_Message):
    text: str
    token_ids: list[int] = Field(default_factory=list)
    logprob: float = 0.0
    finish_reason: Literal["stop", "length", "cancelled"] = "length"
    token_count: int = 0

    @classmethod
    def of(cls, c: Completion) -> "CompletionOut":
        return cls(
            text=c.text, token_ids=list(c.token_ids), logprob=c.logprob, finish_reason=c.finish_reason,
            token_count=c.token_count,
        )

    def completion(self) -> Completion:
        return Completion(
            text=self.text, token_ids=list(self.token_ids), logprob=self.logprob, finish_reason=self.finish_reason,
            token_count=self.token_count,
        )


class Queued(_Message):
    type: Literal["queued"] = "queued"
    id: RequestId
    ahead: int
    """Requests the engine runs before this one (the running one included)."""


class Delta(_Message):
    type: Literal["delta"] = "delta"
    id: RequestId
    index: int
    """Which candidate the text belongs to."""
    text: str


class Done(_Message):
    type: Literal["done"] = "done"
    id: RequestId
    completions: list[CompletionOut]


class Failed(_Message):
    type: Literal["error"] = "error"
    id: RequestId | None = None
    """None when the message that failed had no readable id."""
    message: str
    """One sentence saying what to do."""


class ChatDone(_Message):
    type: Literal["chat_done"] = "chat_done"
    id: RequestId
    answer: str
    """The code, cleaned as the magics clean it."""
    cells: list[str] = Field(default_factory=list)
    """The answer split into cells (what "Insert below" inserts)."""
    notes: list[str] = Field(default_factory=list)
    """Sentences for the user (context left out, token limit reached, a save that failed)."""
    cancelled: bool = False
    model: str = ""
    turn: int | None = None
    """1-based number of the turn recorded in the notebook's conversation; None when nothing was recorded."""
    prompt: str | None = None


class FillDone(_Message):
    type: Literal["fill_done"] = "fill_done"
    id: RequestId
    fill: str
    """What goes where the selection was."""
    code: str = ""
    """The whole cell with the fill in place."""
    notes: list[str] = Field(default_factory=list)
    cancelled: bool = False
    model: str = ""
    turn: int | None = None


class TurnOut(_Message):
    request: str
    answer: str
    kind: str
    created: str = ""
    model: str = ""
    cell_id: str = ""

    @classmethod
    def of(cls, turn: Turn) -> "TurnOut":
        return cls(
            request=turn.request, answer=turn.answer, kind=turn.kind, created=turn.created, model=turn.model,
            cell_id=turn.cell_id,
        )


class ConversationOut(_Message):
    path: str
    """The notebook's path as asked for."""
    key: str
    """The key the notebook's kernel uses too (its absolute path)."""
    turns: list[TurnOut]
    warning: str | None = None


class ScoreReply(_Message):
    id: RequestId
    scores: list[float]


class ModelInfo(_Message):
    """What a kernel needs to build prompts itself: the tokenizer's folder (same machine) and the model's window."""

    name: str
    format: str
    context_window: int
    device: str
    folder: str | None = None
    """The model folder holding tokenizer.json; None for engines without one."""
    warning: str | None = None


class EngineStatus(_Message):
    model: str
    settings: dict[str, str | int | bool | None]
    state: Literal["loading", "ready", "failed"]
    device: str | None = None
    running: str | None = None
    """The client whose request runs now."""
    queued: int = 0
    served: dict[str, int] = Field(default_factory=dict)
    """Requests finished per client."""


class Status(_Message):
    service: Literal["jupyter-codegen"] = "jupyter-codegen"
    version: str
    engines: list[EngineStatus] = Field(default_factory=list)


ClientMessage = Annotated[Union[GenerateRequest, ChatRequest, FillRequest, CancelRequest], Field(discriminator="type")]
ServerEvent = Annotated[Union[Queued, Delta, Done, ChatDone, FillDone, Failed], Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)
server_event = TypeAdapter(ServerEvent)


def invalid(exc: ValidationError, what: str = "request") -> str:
    """One sentence for a message that failed validation: the first problem and where it is."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "unreadable"}
    where = ".".join(str(part) for part in first.get("loc", ())) or "the message"
    return f"The codegen {what} is malformed at {where} ({first.get('msg', 'invalid')}); send it as the wire module describes."
