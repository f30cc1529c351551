"""What a notebook frontend (the JupyterLab extension) and the kernel's magics say to each other.

Two channels, both versioned so that either side can be upgraded first:

- **Kernel -> frontend, in the magic's output**: the final display of every `%%codegen` / `%%infill` run carries a
  `CellsBundle` under the MIME type `CELLS_MIME`, next to ``text/markdown`` and ``text/plain`` renderings of the same
  code, so a frontend without the extension (classic notebook, VS Code, a terminal) still shows the code. The bundle
  says which cells to insert below the magic cell (or which code replaces an ``%%infill`` cell), and who inserts them:
  ``insert == "frontend"`` means the extension must; ``"kernel"`` means the kernel already sent IPython's
  ``set_next_input`` payload, which the frontend's own payload handling inserts, so the extension must not insert too.
- **Frontend -> kernel, over a comm** (target `COMM_TARGET`, opened by the frontend): a `Hello` in the comm_open's
  data says what the frontend can do (and carries its `FrontendSettings`, sent again whenever they change), a
  `Snapshot` before each magic cell's execute request gives the notebook as it is on screen, and a
  `VariablesRequest` asks for the variables summary the magics would send (answered with `Variables`), which the
  chat sends along with its questions. The kernel answers the open with a `Welcome` (and a malformed message with a `CommError`).

Comm messages travel on the shell channel and wait behind a running cell, so a snapshot is sent *before* the
execute request of the cell it describes; the kernel uses it only when it was sent for the cell that runs (same
cell id, same source), and only once. Plain data classes with no IPython imports: the magics and the server's chat
endpoint both read them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

PROTOCOL_VERSION = 1
"""Version of the comm messages; a side that reads a higher one uses the fields it knows (unknown ones are ignored)."""
COMM_TARGET = "jupyter_codegen"
CELLS_MIME = "application/vnd.jupyter-codegen.cells.v1+json"
"""The version is in the name: an incompatible change gets a new type, and older frontends fall back to markdown."""
CELL_METADATA_KEY = "jupyter_codegen"
"""Recommended key of the metadata the frontend puts on cells it inserts (generation_id, source_cell_id, kind)."""

INSERT_CELLS = "insert-cells"
"""Capability: the frontend inserts a bundle's `cells` below the magic cell itself."""
REPLACE_SOURCE = "replace-source"
"""Capability: the frontend replaces an ``%%infill`` cell's source with the bundle's `replace_source`."""

Insert = Literal["frontend", "kernel", "none"]


class _Message(BaseModel):
    # Unknown fields are ignored, so a newer frontend can talk to an older kernel about what both know.
    model_config = ConfigDict(extra="ignore", frozen=True)


def _joined(value: Any) -> Any:
    """nbformat allows multiline strings as lists of lines; both sides use plain strings."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value


# -- kernel -> frontend: the magic's output --------------------------------------------------------------------------


class NewCell(_Message):
    cell_type: Literal["code"] = "code"
    source: str


class CellsBundle(_Message):
    """The value under `CELLS_MIME` in a magic's final output."""

    version: Literal[1] = 1
    generation_id: str
    """New for every run: the frontend marks the cells it inserts with it and never handles one bundle twice."""
    kind: Literal["codegen", "infill"]
    source_cell_id: str | None = None
    """Id of the magic cell (from the execute request's cellId): a re-run replaces the cells inserted for this id."""
    cells: list[NewCell] = Field(default_factory=list)
    """Cells to insert below the magic cell, in order (empty when `replace_source` is used)."""
    replace_source: str | None = None
    """For ``%%infill`` cells: the whole new source of the magic cell (the filled code, without the magic line)."""
    fills: list[str] = Field(default_factory=list)
    """For infill: what went into each hole, in order (for a frontend that replaces the holes one by one)."""
    marker: str | None = None
    """For infill: the text that marked a hole (CodeGen.infill_marker)."""
    insert: Insert
    cancelled: bool = False
    """The user stopped the generation: the code is what was generated until then."""
    model: str = ""


# -- frontend -> kernel: the comm ------------------------------------------------------------------------------------


class FrontendSettings(_Message):
    """The JupyterLab settings that the magics share with the chat, sent in the Hello and whenever they change.

    A value applies to the kernel's CodeGen options as `%config` would; None gives the kernel its own value back.
    """

    type: Literal["settings"] = "settings"
    model: str | None = None
    temperature: float | None = Field(None, ge=0.0)
    max_new_tokens: int | None = Field(None, ge=1)

    def values(self) -> dict[str, Any]:
        """CodeGen trait name -> value (None: the kernel's own), for the traits these settings cover."""
        return {"model": self.model or None, "temperature": self.temperature, "max_new_tokens": self.max_new_tokens}


class VariablesRequest(_Message):
    """The frontend asks for the kernel's variables summary (what the magics put in a prompt), for the chat."""

    type: Literal["variables_request"] = "variables_request"
    id: str = Field(min_length=1, max_length=128)


class Variables(_Message):
    """The kernel's answer to a VariablesRequest."""

    type: Literal["variables"] = "variables"
    id: str
    summary: str
    """Empty when the namespace holds nothing worth showing."""


class Hello(_Message):
    """The data of the comm_open."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    frontend: str = ""
    """Free text for logs, e.g. "jupyterlab 4.4.0, jupyter-codegen 0.1.0"."""
    capabilities: list[str] = Field(default_factory=list)
    """INSERT_CELLS and/or REPLACE_SOURCE; unknown ones are ignored."""
    settings: FrontendSettings | None = None
    """The frontend's shared settings; None when it has none."""


class SnapshotOutput(_Message):
    """An nbformat output, text only: the frontend drops images and other rich data to keep the message small."""

    output_type: str
    """stream, execute_result, display_data or error (others are ignored)."""
    name: str | None = None
    """stream: stdout or stderr."""
    text: str | None = None
    """stream: the text."""
    data: dict[str, Any] = Field(default_factory=dict)
    """execute_result / display_data: only "text/plain" is read."""
    ename: str | None = None
    evalue: str | None = None

    @field_validator("text", mode="before")
    @classmethod
    def _lines(cls, value: Any) -> Any:
        return _joined(value)


class SnapshotCell(_Message):
    id: str | None = None
    cell_type: Literal["code", "markdown", "raw"]
    source: str
    """As on screen, unsaved edits included."""
    execution_count: int | None = None
    """None for a cell never run in this kernel (its outputs, if any, are from an earlier session)."""
    outputs: list[SnapshotOutput] = Field(default_factory=list)

    @field_validator("source", mode="before")
    @classmethod
    def _lines(cls, value: Any) -> Any:
        return _joined(value)


class Snapshot(_Message):
    """The notebook as on screen, sent as a comm message just before a magic cell's execute request (and, in the
    sidebar chat, with a question: then `cell_id` is the active cell, and None means "below everything")."""

    type: Literal["snapshot"] = "snapshot"
    protocol: int = PROTOCOL_VERSION
    notebook_path: str | None = None
    """The notebook's path relative to the server root, as the frontend knows it."""
    cell_id: str | None = None
    """The cell about to run (magics) or the active cell (chat)."""
    cell_index: int | None = Field(None, ge=0)
    """Its index in `cells`; used when ids are missing."""
    cells: list[SnapshotCell] = Field(default_factory=list, max_length=20_000)


class Welcome(_Message):
    """The kernel's answer to a Hello."""

    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    version: str
    """jupyter-codegen's version in the kernel."""
    cells_mime: str = CELLS_MIME
    notebook_key: str | None = None
    """Which conversation the kernel's magics use (the notebook's absolute path under a Jupyter server)."""


class CommError(_Message):
    type: Literal["error"] = "error"
    message: str
    """One sentence saying what to do."""


FrontendMessage = Annotated[Union[Hello, Snapshot, FrontendSettings, VariablesRequest], Field(discriminator="type")]
frontend_message = TypeAdapter(FrontendMessage)


# -- who inserts -----------------------------------------------------------------------------------------------------


def cells_bundle(
    *,
    generation_id: str,
    kind: Literal["codegen", "infill"],
    code: str,
    cells: list[str],
    insert_enabled: bool,
    capabilities: frozenset[str] | None,
    replace_cell: bool = False,
    source_cell_id: str | None = None,
    fills: list[str] | None = None,
    marker: str | None = None,
    cancelled: bool = False,
    model: str = "",
) -> CellsBundle:
    """The bundle for one answer, and so who inserts it.

    `capabilities` is None when no extension spoke for this run (no fresh snapshot, and no comm from the client
    that sent the execute request): the kernel then inserts with set_next_input as it always did, and says so, so
    an extension that sees the output later does not insert twice.
    `replace_cell` is true for an ``%%infill`` cell, whose filled code replaces the cell where the frontend can.
    """
    pieces = [c for c in cells if c.strip()] or ([code] if code.strip() else [])
    replace_source = None
    if not insert_enabled or not code.strip():
        insert: Insert = "none"
    elif capabilities is not None and replace_cell and REPLACE_SOURCE in capabilities:
        insert, replace_source, pieces = "frontend", code, []
    elif capabilities is not None and INSERT_CELLS in capabilities:
        insert = "frontend"
        if replace_cell:
            pieces = [code]
    else:
        insert = "kernel"
        pieces = [code]  # set_next_input inserts one cell
    return CellsBundle(
        generation_id=generation_id, kind=kind, source_cell_id=source_cell_id,
        cells=[NewCell(source=p) for p in pieces], replace_source=replace_source, fills=list(fills or []),
        marker=marker, insert=insert, cancelled=cancelled, model=model,
    )
