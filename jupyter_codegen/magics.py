"""`%%codegen` and `%%infill`: thin IPython edges over `assistant`.

They parse flags, gather the notebook's context (the frontend's live snapshot of the notebook when it sent one for
this cell, else the kernel's history), show the answer as it streams, have it inserted (by the JupyterLab extension
when it is there, else as IPython's next cell), and record the turn. Errors the user can act on are one sentence on
stderr; the cell's text and the conversation are never lost.
"""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import assistant, candidate_check, display
from .config import CodeGen
from .context import Cell
from .conversation import Conversation, Turn, adopt_legacy_file, conversation_path, notebook_key
from .engine import Engine, GenerationOptions
from .errors import CodeGenError
from .frontend_protocol import FrontendSettings, cells_bundle
from .fix import Failure, failure_of, last_error_in
from .history import history_cells, is_own_magic, last_code_cell, without_last
from .kernel_comm import FrontendLink, client_session
from .notebook_context import live_context
from .postprocess import split_cells, tidy_code
from .reviewer import RANKINGS
from .service_client import engine_for, find_server
from .variables import summarize_namespace


def _has_notebook_identity(shell) -> bool:
    """Only a kernel that knows its notebook can find its conversation again after a restart."""
    return "JPY_SESSION_NAME" in os.environ or bool(shell.user_ns.get("__vsc_ipynb_file__"))


def _server_root() -> str | None:
    """The root folder of the Jupyter server that started this kernel, which relative session names are under."""
    try:
        server = find_server()
    except Exception:  # noqa: BLE001 - only a help to resolve a relative path
        return None
    return server.root_dir if server is not None and server.root_dir else None


@dataclass
class _Gathered:
    """The context of one run: the cells around the request, the variables, and the run's frontend (if any)."""

    before: list[Cell]
    after: list[Cell] = field(default_factory=list)
    variables: str | None = None
    capabilities: frozenset[str] | None = None
    """What the frontend of this run can do (it sent the snapshot, or its client opened the comm); None when no
    frontend with the extension spoke for this run."""
    cell_id: str | None = None


KEPT_FAILURES = 20
"""Failures remembered by cell id: enough for the cells a user may click Fix on."""


@magics_class
class CodeGenMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self.settings = CodeGen(parent=shell)
        self._conversation: Conversation | None = None
        self._since = 0
        self._last_own: Turn | None = None
        """The last turn this kernel added: turns after it in the file were added by others (see `unrecorded`)."""
        self.last_answer: assistant.Answer | None = None
        self.last_bundle = None
        self._announced: set[int] = set()
        self._running: tuple[str | None, str] = (None, "")
        """(cell id, source) of the cell that runs now, from IPython's pre_run_cell event."""
        self._running_client: str | None = None
        """The client session of that cell's execute request (None outside a kernel)."""
        self.last_failure: Failure | None = None
        """The last cell that raised (for `%codegen --fix`); cleared when that cell runs without error."""
        self.failures: OrderedDict[str, Failure] = OrderedDict()
        """The latest failures by notebook cell id (for `%codegen --fix --cell ID`, the frontend's Fix action)."""
        self.link = FrontendLink(self._key, self._apply_frontend_settings, self._variables_summary)
        self._own_values: dict[str, object] = {}
        """The kernel's own CodeGen values that a JupyterLab setting overrides, to give back when it is cleared."""

    # -- state ------------------------------------------------------------------------------------------------

    def _key(self) -> str | None:
        if not _has_notebook_identity(self.shell):
            return None
        return notebook_key(os.environ, self.shell.user_ns, os.getcwd(), _server_root())

    @property
    def conversation(self) -> Conversation:
        """This notebook's conversation, read again when another process (a second kernel, the chat) changed it."""
        if self._conversation is None:
            key = self._key()
            if key is not None:
                root = Path(self.settings.conversation_dir).expanduser() if self.settings.conversation_dir else None
                path = conversation_path(key, root)
                legacy = (os.environ.get("JPY_SESSION_NAME") or "").strip()
                if legacy and legacy != key:
                    adopt_legacy_file(path, conversation_path(legacy, root))
                self._conversation = Conversation.load(path)
                if self._conversation.warning:
                    display.error(self._conversation.warning)
            else:
                self._conversation = Conversation()
        else:
            self._conversation.refresh()
        return self._conversation

    def _variables_summary(self) -> str | None:
        return summarize_namespace(self.shell.user_ns, exclude=self.shell.user_ns_hidden)

    def _apply_frontend_settings(self, settings: FrontendSettings) -> None:
        """JupyterLab's settings, shared with the chat, set the magics' traits as `%config` would; clearing one there
        gives the kernel its own value back. A later `%config` in the notebook wins until the setting changes."""
        for name, value in settings.values().items():
            if value is not None:
                self._own_values.setdefault(name, getattr(self.settings, name))
                setattr(self.settings, name, value)
            elif name in self._own_values:
                setattr(self.settings, name, self._own_values.pop(name))

    def on_pre_run_cell(self, info) -> None:
        self._running = (getattr(info, "cell_id", None), getattr(info, "raw_cell", "") or "")
        # ipykernel keeps the whole request message there.
        self._running_client = client_session(getattr(self.shell, "parent_header", None))

    def on_post_run_cell(self, result) -> None:
        """Remembers the last cell that failed, with what the traceback says, for `%codegen --fix`."""
        info = getattr(result, "info", None)
        source = getattr(info, "raw_cell", "") or ""
        cell_id = getattr(info, "cell_id", None)
        exc = result.error_in_exec or result.error_before_exec
        if is_own_magic(source):
            return
        if exc is not None and source.strip():
            self.last_failure = failure_of(exc, source, self.shell.user_ns, cell_id)
            if cell_id:
                self.failures.pop(cell_id, None)
                self.failures[cell_id] = self.last_failure
                while len(self.failures) > KEPT_FAILURES:
                    self.failures.popitem(last=False)
            return
        if cell_id:
            self.failures.pop(cell_id, None)
        if self.last_failure is not None and (
            (cell_id and cell_id == self.last_failure.cell_id) or source.strip() == self.last_failure.source.strip()
        ):
            self.last_failure = None  # the failing cell ran again, now without error

    def _engine(self, model: str | None) -> Engine:
        engine, why_not_shared = engine_for(
            model or self.settings.model, self.settings.engine_settings(), use_server=self.settings.use_server
        )
        if id(engine) not in self._announced:
            # Say once where the model really runs: onnxruntime-gpu falls back to the CPU without a word, and a
            # Jupyter server's shared model says "in the Jupyter server".
            self._announced.add(id(engine))
            display.note(f"Model {engine.name} runs on {engine.device}.")
            if why_not_shared:
                display.note(why_not_shared)
            warning = getattr(getattr(engine, "info", None), "warning", None)
            if warning:
                display.error(warning)
        return engine

    def _ran_since(self) -> list[Cell]:
        """Cells run since this kernel's last turn, without those the conversation recorded already."""
        return self.conversation.unrecorded(history_cells(self.shell, since=self._since), self._last_own)

    def _context(self) -> _Gathered:
        """The frontend's snapshot of the notebook when it sent one for this very cell; else kernel history.

        Without a snapshot the extension still inserts when the client that sent this run opened its comm (a line
        magic, or a snapshot that did not arrive): the kernel's own set_next_input would put an unmarked cell
        beside the marked cells of an earlier run, which then are neither replaced nor undone together.
        """
        cell_id, source = self._running
        variables = self._variables_summary()
        snapshot = self.link.take_snapshot(cell_id, source)
        conversation = self.conversation
        if snapshot is None:
            client = self._running_client
            capabilities = self.link.capabilities(client) if client is not None else frozenset()
            return _Gathered(
                conversation.as_cells(self._ran_since()), [], variables, capabilities or None, cell_id
            )
        live = live_context(snapshot, conversation.turns, include_current=False)
        return _Gathered(live.before, live.after, variables, self.link.capabilities(), cell_id or snapshot.cell_id)

    def _record(self, request: str, answer: assistant.Answer, kind: str, engine: Engine, cell_id: str | None) -> None:
        turn = Turn(
            request=request, answer=answer.code, kind=kind, cells_before=self._ran_since(), model=engine.name,
            cell_id=cell_id or "",
        )
        self._last_own = self.conversation.add(turn)
        self._since = self._current_cell()
        if self.conversation.warning:
            display.error(self.conversation.warning)

    def _current_cell(self) -> int:
        """History index of the running cell: IPython stores a cell's input before running it."""
        return len(self.shell.history_manager.input_hist_raw) - 1

    def _finish(
        self, answer: assistant.Answer, live: display.LiveCode, show_prompt: bool, kind: str, gathered: _Gathered,
        engine: Engine, replace_cell: bool = False,
    ) -> None:
        """Shows the answer for good, with the bundle that tells the frontend what to insert; the kernel inserts
        (set_next_input) only when no extension spoke for this run, so the cells never arrive twice."""
        self.last_answer = answer
        bundle = cells_bundle(
            generation_id=uuid.uuid4().hex, kind=kind, code=answer.code, cells=answer.cells,
            insert_enabled=self.settings.insert, capabilities=gathered.capabilities, replace_cell=replace_cell,
            source_cell_id=gathered.cell_id, fills=answer.fills if kind == "infill" else None,
            marker=self.settings.infill_marker if kind == "infill" else None, cancelled=answer.cancelled,
            model=engine.name,
        )
        self.last_bundle = bundle
        live.final(answer.code, bundle)
        for text in answer.notes:
            display.note(text)
        if show_prompt:
            display.note("Prompt sent to the model:\n" + answer.prompt)
        if bundle.insert == "kernel":
            self.shell.set_next_input(answer.code, replace=False)

    def _live(self) -> display.LiveCode:
        return display.LiveCode(live=getattr(self.shell, "kernel", None) is not None)

    # -- magics -----------------------------------------------------------------------------------------------

    @magic_arguments()
    @argument("--model", help="Model for this cell (see CodeGen.model).")
    @argument("-n", type=int, help="Candidates to sample; the most likely one is kept.")
    @argument("--beams", type=int, help="Beam width for a greedy answer (see CodeGen.num_beams).")
    @argument("--rank", choices=RANKINGS, help="How the best of several candidates is chosen (see CodeGen.rank).")
    @argument("--temperature", type=float, help="Sampling temperature (0 = greedy).")
    @argument("--max-new-tokens", type=int, help="Most tokens to generate.")
    @argument("--seed", type=int, help="Seed for sampling.")
    @argument("--reset", action="store_true", help="Forget this notebook's conversation first.")
    @argument("--history", action="store_true", help="Show this notebook's conversation.")
    @argument("--show-prompt", action="store_true", help="Also print exactly what the model read.")
    @argument("--check", action="store_true", help="Run every candidate in a copy of the kernel (never in it) and prefer those that run without error.")
    @argument("--fix", action="store_true", help="Propose a corrected version of the last cell that failed, as a new cell.")
    @argument("--cell", metavar="ID", help="With --fix: the notebook cell (by id) whose last failure to fix; in the cell form the body is that cell's source.")
    @argument("--explain", action="store_true", help="Explain in one sentence the code in this cell (line form: the last cell run).")
    @argument("request", nargs="*", help="In the line form, the request itself.")
    @line_cell_magic
    def codegen(self, line: str, cell: str | None = None):
        """Turn a plain-English request (the cell, or the rest of the line) into code in a new cell below."""
        try:
            args = parse_argstring(self.codegen, line)
        except Exception as exc:  # UsageError from argparse
            display.error(f"{exc}; see %codegen? for the options.")
            return
        if args.reset:
            had = len(self.conversation)
            try:
                self.conversation.reset()
            except OSError as err:
                display.error(
                    f"Could not reset the conversation ({err.strerror or err}); check that its folder is writable."
                )
                return
            self._since, self._last_own = self._current_cell(), None
            display.note(f"Conversation reset ({had} turns forgotten).")
        if args.history:
            display.note(self.conversation.transcript())
        if args.fix:
            self._fix(args, cell)
            return
        if args.explain:
            self._explain(args, cell)
            return
        request = cell if cell is not None else " ".join(args.request)
        if not request.strip():
            if not (args.reset or args.history):
                display.error("The request is empty; write in the cell what the code should do.")
            return
        live = self._live()
        try:
            engine = self._engine(args.model)
            gathered = self._context()
            options = self._options(args)
            # Cells below the request are not shown: the prompt ends where the answer goes, as the model was trained.
            answer = assistant.codegen(
                engine, request, gathered.before, options, variables=gathered.variables,
                max_context_tokens=self.settings.max_context_tokens, on_update=live.update,
                rank=args.rank or self.settings.rank,
            )
        except CodeGenError as exc:
            display.error(str(exc))
            return
        if args.check:
            answer = self._checked(answer)
        self._finish(answer, live, args.show_prompt, "codegen", gathered, engine)
        if not answer.cancelled:
            self._record(request.strip(), answer, "codegen", engine, gathered.cell_id)

    def _options(self, args) -> GenerationOptions:
        """The CodeGen options with this cell's %codegen flags over them."""
        return self.settings.generation_options(
            n=args.n, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed,
            num_beams=args.beams,
        )

    def _fix(self, args, cell: str | None = None) -> None:
        failure = self.failures.get(args.cell) if args.cell else self.last_failure
        if failure is None and cell is not None and cell.strip():
            # The failing cell's source from the frontend (%%codegen --fix): the kernel's last error, if it arose in
            # that code (the extension may have been loaded only after the cell failed).
            failure = last_error_in(cell, self.shell.user_ns, args.cell)
        if failure is None:
            if args.cell:
                display.error(f"Cell {args.cell} has not failed in this kernel since jupyter_codegen was loaded; run it, then fix it.")
            else:
                display.error("No cell has failed since jupyter_codegen was loaded; run the failing cell, then %codegen --fix.")
            return
        live = self._live()
        try:
            engine = self._engine(args.model)
            gathered = self._context()
            options = self._options(args)
            before = without_last(gathered.before, failure.source)
            answer = assistant.fix(
                engine, failure, before, options, variables=gathered.variables,
                max_context_tokens=self.settings.max_context_tokens, on_update=live.update,
            )
        except CodeGenError as exc:
            display.error(str(exc))
            return
        if args.check:
            answer = self._checked(answer)
        display.note(f"Proposed fix for {failure.message}: {answer.method}.")
        self._finish(answer, live, args.show_prompt, "codegen", gathered, engine)
        if not answer.cancelled:
            self._record(f"Fix the error {failure.message}", answer, "fix", engine, gathered.cell_id)

    def _checked(self, answer: assistant.Answer) -> assistant.Answer:
        """The answer whose candidate runs without error in a copy of the kernel (then the best ranked), with a report
        of how each fared; the user's kernel runs none of them."""
        alternatives = answer.alternatives or [assistant.Alternative(answer.code, None)]
        codes = [a.code for a in alternatives]
        timeout = self.settings.check_timeout
        verdicts = [candidate_check.check(code, self.shell.user_ns, self.shell, timeout) for code in codes]
        order = candidate_check.rank(verdicts)
        display.note(candidate_check.report(codes, verdicts, [a.logprob for a in alternatives], order,
                                            [a.origin for a in alternatives], timeout,
                                            [a.reviewer for a in alternatives]))
        best = alternatives[order[0]]
        if best.code == answer.code:
            return answer
        return replace(answer, code=best.code, cells=[tidy_code(c) for c in split_cells(best.code)] or [best.code],
                       alternatives=[alternatives[i] for i in order])

    def _explain(self, args, cell: str | None) -> None:
        code = cell if cell is not None and cell.strip() else last_code_cell(self.shell)
        try:
            engine = self._engine(args.model)
            gathered = self._context()
            options = self.settings.generation_options(n=args.n, temperature=args.temperature, seed=args.seed)
            answer = assistant.explain(
                engine, code or "", without_last(gathered.before, code or ""), options,
                method=self.settings.explain_method, candidates=self.settings.rerank_candidates,
                max_context_tokens=self.settings.max_context_tokens,
            )
        except CodeGenError as exc:
            display.error(str(exc))
            return
        self.last_answer = answer
        display.explanation(answer.code)
        for text in answer.notes:
            display.note(text)
        if args.show_prompt:
            display.note("Prompt sent to the model:\n" + answer.prompt)

    @magic_arguments()
    @argument("--model", help="Model for this cell (see CodeGen.model).")
    @argument("-n", type=int, help="Candidates to sample per hole; the most likely one is kept.")
    @argument("--temperature", type=float, help="Sampling temperature (0 = greedy).")
    @argument("--max-new-tokens", type=int, help="Most tokens to generate per hole.")
    @argument("--method", choices=["auto", "infill", "left-to-right", "rerank"], help="How to fill (see CodeGen.infill_method).")
    @argument("--show-prompt", action="store_true", help="Also print exactly what the model read for the last hole.")
    @line_cell_magic
    def infill(self, line: str, cell: str | None = None):
        """Fill every hole (CodeGen.infill_marker, <FILL> by default) in the cell, or in the rest of the line."""
        if cell is None:
            args, code = None, line
        else:
            try:
                args = parse_argstring(self.infill, line)
            except Exception as exc:
                display.error(f"{exc}; see %infill? for the options.")
                return
            code = cell
        live = self._live()
        try:
            engine = self._engine(args.model if args else None)
            gathered = self._context()
            options = self.settings.generation_options(
                n=args.n if args else None,
                temperature=args.temperature if args else None,
                max_new_tokens=args.max_new_tokens if args else None,
            )
            answer = assistant.infill(
                engine, code, self.settings.infill_marker, gathered.before, gathered.after, options,
                variables=gathered.variables,
                method=(args.method if args and args.method else self.settings.infill_method),
                candidates=self.settings.rerank_candidates, max_context_tokens=self.settings.max_context_tokens,
                on_update=live.update, fit_indentation=self.settings.fit_indentation,
                trim_fills=self.settings.trim_fills,
            )
        except CodeGenError as exc:
            display.error(str(exc))
            return
        show_prompt = bool(args and args.show_prompt)
        self._finish(answer, live, show_prompt, "infill", gathered, engine, replace_cell=cell is not None)
        if not answer.cancelled:
            self._record(code, answer, "infill", engine, gathered.cell_id)


def load_ipython_extension(ipython) -> None:
    magics = CodeGenMagics(ipython)
    ipython.register_magics(magics)
    ipython.configurables.append(magics.settings)
    ipython.events.register("pre_run_cell", magics.on_pre_run_cell)
    ipython.events.register("post_run_cell", magics.on_post_run_cell)
    magics.link.register(ipython)


def unload_ipython_extension(ipython) -> None:
    magics = ipython.magics_manager.registry.get("CodeGenMagics")
    if magics is not None:
        for event, callback in (("pre_run_cell", magics.on_pre_run_cell), ("post_run_cell", magics.on_post_run_cell)):
            try:
                ipython.events.unregister(event, callback)
            except ValueError:
                pass
        magics.link.unregister()
    for configurable in list(ipython.configurables):
        if isinstance(configurable, CodeGen):
            ipython.configurables.remove(configurable)
