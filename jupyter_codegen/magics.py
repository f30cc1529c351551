"""`%%codegen` and `%%infill`: thin IPython edges over `assistant`.

They parse flags, gather the notebook's context from the kernel, show the answer as it streams, insert it as the
next cell, and record the turn. Errors the user can act on are one sentence on stderr; the cell's text and the
conversation are never lost.
"""

from __future__ import annotations

import os
from pathlib import Path

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import assistant, display
from .config import CodeGen
from .conversation import Conversation, Turn, conversation_path, notebook_key
from .engine import Engine
from .errors import CodeGenError
from .history import history_cells
from .service_client import engine_for
from .variables import summarize_namespace


def _has_notebook_identity(shell) -> bool:
    """Only a kernel that knows its notebook can find its conversation again after a restart."""
    return "JPY_SESSION_NAME" in os.environ or bool(shell.user_ns.get("__vsc_ipynb_file__"))


@magics_class
class CodeGenMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self.settings = CodeGen(parent=shell)
        self._conversation: Conversation | None = None
        self._since = 0
        self.last_answer: assistant.Answer | None = None
        self._announced: set[int] = set()

    # -- state ------------------------------------------------------------------------------------------------

    @property
    def conversation(self) -> Conversation:
        if self._conversation is None:
            if _has_notebook_identity(self.shell):
                root = Path(self.settings.conversation_dir).expanduser() if self.settings.conversation_dir else None
                key = notebook_key(os.environ, self.shell.user_ns, os.getcwd())
                self._conversation = Conversation.load(conversation_path(key, root))
                if self._conversation.warning:
                    display.error(self._conversation.warning)
            else:
                self._conversation = Conversation()
        return self._conversation

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

    def _context(self):
        cells = self.conversation.as_cells(history_cells(self.shell, since=self._since))
        return cells, summarize_namespace(self.shell.user_ns, exclude=self.shell.user_ns_hidden)

    def _record(self, request: str, answer: assistant.Answer, kind: str, engine: Engine) -> None:
        cells_before = history_cells(self.shell, since=self._since)
        self.conversation.add(Turn(request=request, answer=answer.code, kind=kind, cells_before=cells_before, model=engine.name))
        self._since = self._current_cell()
        if self.conversation.warning:
            display.error(self.conversation.warning)

    def _current_cell(self) -> int:
        """History index of the running cell: IPython stores a cell's input before running it."""
        return len(self.shell.history_manager.input_hist_raw) - 1

    def _finish(self, answer: assistant.Answer, live: display.LiveCode, show_prompt: bool) -> None:
        self.last_answer = answer
        live.final(answer.code)
        for text in answer.notes:
            display.note(text)
        if show_prompt:
            display.note("Prompt sent to the model:\n" + answer.prompt)
        if self.settings.insert and answer.code.strip():
            self.shell.set_next_input(answer.code, replace=False)

    def _live(self) -> display.LiveCode:
        return display.LiveCode(live=getattr(self.shell, "kernel", None) is not None)

    # -- magics -----------------------------------------------------------------------------------------------

    @magic_arguments()
    @argument("--model", help="Model for this cell (see CodeGen.model).")
    @argument("-n", type=int, help="Candidates to sample; the most likely one is kept.")
    @argument("--temperature", type=float, help="Sampling temperature (0 = greedy).")
    @argument("--max-new-tokens", type=int, help="Most tokens to generate.")
    @argument("--seed", type=int, help="Seed for sampling.")
    @argument("--reset", action="store_true", help="Forget this notebook's conversation first.")
    @argument("--history", action="store_true", help="Show this notebook's conversation.")
    @argument("--show-prompt", action="store_true", help="Also print exactly what the model read.")
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
            self.conversation.reset()
            self._since = self._current_cell()
            display.note(f"Conversation reset ({had} turns forgotten).")
        if args.history:
            display.note(self.conversation.transcript())
        request = cell if cell is not None else " ".join(args.request)
        if not request.strip():
            if not (args.reset or args.history):
                display.error("The request is empty; write in the cell what the code should do.")
            return
        live = self._live()
        try:
            engine = self._engine(args.model)
            before, variables = self._context()
            options = self.settings.generation_options(
                n=args.n, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed
            )
            answer = assistant.codegen(
                engine, request, before, options, variables=variables,
                max_context_tokens=self.settings.max_context_tokens, on_update=live.update,
            )
        except CodeGenError as exc:
            display.error(str(exc))
            return
        self._finish(answer, live, args.show_prompt)
        if not answer.cancelled:
            self._record(request.strip(), answer, "codegen", engine)

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
            before, variables = self._context()
            options = self.settings.generation_options(
                n=args.n if args else None,
                temperature=args.temperature if args else None,
                max_new_tokens=args.max_new_tokens if args else None,
            )
            answer = assistant.infill(
                engine, code, self.settings.infill_marker, before, [], options, variables=variables,
                method=(args.method if args and args.method else self.settings.infill_method),
                candidates=self.settings.rerank_candidates, max_context_tokens=self.settings.max_context_tokens,
                on_update=live.update,
            )
        except CodeGenError as exc:
            display.error(str(exc))
            return
        self._finish(answer, live, bool(args and args.show_prompt))
        if not answer.cancelled:
            self._record(code, answer, "infill", engine)


def load_ipython_extension(ipython) -> None:
    magics = CodeGenMagics(ipython)
    ipython.register_magics(magics)
    ipython.configurables.append(magics.settings)


def unload_ipython_extension(ipython) -> None:
    for configurable in list(ipython.configurables):
        if isinstance(configurable, CodeGen):
            ipython.configurables.remove(configurable)
