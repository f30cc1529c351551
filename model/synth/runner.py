"""Run synthetic conversations in a real IPython shell and serialize them exactly as the product does.

The notebook the model reads at inference time is built by the magics from three product functions: the
conversation's turns (`Conversation.as_cells`, given the cells run since the last turn), the kernel history
(`history_cells`), and the variables summary (`summarize_namespace`), fitted by `build_request_context`. Here a
no-op `%%codegen` cell magic does exactly what the real magic's context step does, at the same moment (while the
request cell runs), so the prompt is the product's own; the training document is that prompt, the answer, and the
closing ``</cell>``. tests/test_synth.py checks this against the real `%%codegen` magic with a scripted engine.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import random
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from jupyter_codegen.context import build_request_context
from jupyter_codegen.conversation import Conversation, Turn
from jupyter_codegen.history import history_cells
from jupyter_codegen.variables import summarize_namespace

from . import names as N
from . import ops as O
from .query import CheckFailed
from .tables import Table, make_table, write_csv

BUDGET = 2048
CELL_CLOSE = "\n</cell>\n"


def count_tokens(text: str) -> int:
    return len(text) // 3


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Stats:
    tried: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    """(op, reason) -> count; reasons: error, check, warning, output."""
    conversations: int = 0
    documents: int = 0
    no_document: int = 0

    def merge(self, other: "Stats") -> None:
        self.tried.update(other.tried)
        self.kept.update(other.kept)
        self.dropped.update(other.dropped)
        self.conversations += other.conversations
        self.documents += other.documents
        self.no_document += other.no_document

    def as_dict(self) -> dict:
        ops = sorted(set(self.tried))
        table = {}
        for op in ops:
            reasons = {r: n for (o, r), n in self.dropped.items() if o == op}
            table[op] = {"tried": self.tried[op], "kept": self.kept[op], "dropped": sum(reasons.values()), "why": reasons}
        return {"conversations": self.conversations, "documents": self.documents, "no_document": self.no_document, "ops": table}


@dataclass
class Cell:
    ok: bool
    result: object
    stdout: str
    error: str | None
    warned: list[str]


class Session:
    """One IPython shell (reset between conversations) in its own scratch folder."""

    def __init__(self, workdir: str | None = None, budget: int = BUDGET):
        os.environ.setdefault("MPLBACKEND", "Agg")
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="synth-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        config.InteractiveShell.colors = "nocolor"
        self.shell = InteractiveShell(config=config)
        self.shell.register_magic_function(self._codegen, magic_kind="cell", magic_name="codegen")
        self.budget = budget
        self.plots = plots_available()
        if self.plots:
            import matplotlib

            matplotlib.use("Agg")
        self.conversation = Conversation()
        self.since = 0
        self.contexts: list[str] = []
        self.asked: tuple[list, str] | None = None
        """The cells before and the variables summary the last `%%codegen` cell saw (what a model answers from)."""
        self.transcript: list[str] = []
        """Every cell run in the current conversation, in order (for replaying it elsewhere)."""

    # --- the product's context step, at the moment the real magic takes it ---------------------------------

    def _codegen(self, line: str, cell: str) -> None:
        shell = self.shell
        before = self.conversation.as_cells(history_cells(shell, since=self.since))
        variables = summarize_namespace(shell.user_ns, exclude=shell.user_ns_hidden)
        fitted = build_request_context(before, cell.strip(), "notebook", count_tokens, self.budget, variables)
        self.contexts.append(fitted.text)
        self.asked = (before, variables)

    def _record(self, request: str, answer: str) -> None:
        """What the real magic records after answering: the turn, and where the next turn's history starts."""
        cells_before = history_cells(self.shell, since=self.since)
        self.conversation.add(Turn(request=request.strip(), answer=answer, kind="codegen", cells_before=cells_before))
        self.since = len(self.shell.history_manager.input_hist_raw) - 1

    # --- running cells --------------------------------------------------------------------------------------

    def run(self, source: str) -> Cell:
        self.transcript.append(source)
        out = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            warnings.simplefilter("always")
            res = self.shell.run_cell(source, store_history=True, silent=False)
        err = res.error_before_exec or res.error_in_exec
        warned = [f"{w.category.__name__}: {w.message}" for w in caught if _serious(w)]
        return Cell(err is None, res.result, out.getvalue(), None if err is None else f"{type(err).__name__}: {err}", warned)

    def start(self) -> None:
        self.shell.reset(new_session=True)
        self.conversation = Conversation()
        self.since = 0
        self.contexts = []
        self.transcript = []
        self.close_figures()

    def close_figures(self) -> None:
        if self.plots:
            import matplotlib.pyplot as plt

            plt.close("all")

    def close(self) -> None:
        self.close_figures()
        try:
            self.shell.history_manager.end_session()
        except Exception:
            pass
        # IPython resets every shell at exit (a garbage collection each): seconds per closed shell in a big process.
        atexit.unregister(self.shell.atexit_operations)
        if self._tmp is not None:
            self._tmp.cleanup()


def _serious(w: warnings.WarningMessage) -> bool:
    """Warnings that mean the code is not what an expert writes today (deprecations, chained assignment...)."""
    name = w.category.__name__
    if issubclass(w.category, (DeprecationWarning, FutureWarning, PendingDeprecationWarning)):
        return "ipykernel" not in str(w.filename) and "IPython" not in str(w.filename)
    return "Pandas" in name or "SettingWithCopy" in name or "ChainedAssignment" in name or "RuntimeWarning" == name


# --- one conversation -------------------------------------------------------------------------------------------

def frame_name(rng: random.Random, table) -> str:
    """The frame's variable: `df` / `data` in names.GENERIC_VAR_SHARE of conversations, else a domain noun,
    an abbreviation, `df_<noun>` or an invented word."""
    return N.frame_var(rng, table.domain.varnames, table.stem, table.rows_word, table.invented)


TURN_COUNTS = [1, 2, 2, 3, 3, 3, 4, 4, 5, 6]


@dataclass
class Result:
    index: int
    seed: str
    documents: list[dict]
    stats: Stats
    examined: Examined | None = None


def plan(index: int, seed: int) -> tuple[random.Random, Table, str]:
    """A conversation's rng (seeded by (seed, index)), its table and its frame's name, as the conversation draws them."""
    rng = random.Random(f"{seed}:{index}")
    table = make_table(rng)
    return rng, table, frame_name(rng, table)


Answerer = Callable[[Session, O.Step], str]
"""Writes the code for a turn's request, from `session.asked` (a model, for evaluation)."""


@dataclass
class Examined:
    """One turn answered by a model instead of the generator, run and checked by the generator's own check."""

    op: str
    turn: int
    request: str
    reference: str
    answer: str
    reason: str | None
    """None when the answer ran and passed the check; else error / warning / check / check_error."""
    error: str | None = None


def conversation(session: Session, index: int, seed: int, per_turn: bool = False,
                 answerer: Answerer | None = None) -> Result:
    """Generate, run and check one conversation; returns its document (none when no turn survived).

    With `answerer`, the conversation's last planned turn is answered by it instead, checked, and the conversation
    ends there: `Result.examined` says how it fared (None when the conversation ended before that turn)."""
    key = f"{seed}:{index}"
    stats = Stats(conversations=1)
    session.start()
    rng, table, var = plan(index, seed)
    env = O.Env(rng, table, var, session.shell.user_ns, session.plots)
    env.key = key
    sub = rng.choice(["", "", "", "data"])
    folder = session.workdir
    for f in folder.glob("**/*.csv"):
        f.unlink()
    env.path = write_csv(table, folder, sub)
    if table.lookup is not None:
        write_csv(table.lookup, folder, "")
    cwd = os.getcwd()
    os.chdir(folder)
    examined: list[Examined] = []
    try:
        docs = _run_turns(session, env, rng, stats, per_turn, answerer, examined)
    finally:
        os.chdir(cwd)
        session.close_figures()
    for d in docs:
        d["seed"] = key
        d["domain"] = table.domain.name
        d["invented"] = table.invented
        d["guests"] = [c.name for c in table.guests]
    stats.documents += len(docs)
    stats.no_document += not docs
    return Result(index, key, docs, stats, examined[0] if examined else None)


def _verdict(env: O.Env, step: O.Step, cell: Cell, snap) -> str | None:
    """Why the cell does not answer the step (error, warning, check, check_error), or None when it does."""
    if not cell.ok:
        return "error"
    if cell.warned:
        return "warning"
    try:
        if step.check is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step.check(O.Run(cell.result, cell.stdout, env.ns, snap))
        if step.figure and not _has_figure():
            raise CheckFailed("no figure")
        if not step.figure and _has_figure():
            raise CheckFailed("unexpected figure")
    except CheckFailed:
        return "check"
    except Exception:
        return "check_error"
    return None


def _run_turns(session: Session, env: O.Env, rng: random.Random, stats: Stats, per_turn: bool,
               answerer: Answerer | None = None, examined: list[Examined] | None = None) -> list[dict]:
    """The kept documents; with `answerer`, the last planned turn is answered by it and appended to `examined`."""
    turns_left = rng.choice(TURN_COUNTS)
    load_as_turn = rng.random() < 0.25
    steps_done: list[tuple[str, str]] = []  # (op, answer) of kept turns
    docs: list[dict] = []

    def hand(step: O.Step) -> bool:
        cell = session.run(step.code)
        if step.after and cell.ok:
            step.after()
        return cell.ok

    def turn(step: O.Step) -> bool:
        stats.tried[step.op] += 1
        session.close_figures()
        snap = env.frame.copy() if env.var in env.ns else None
        session.run("%%codegen\n" + step.request)
        if len(session.contexts) != len(steps_done) + 1:
            stats.dropped[(step.op, "context")] += 1
            return False
        if answerer is not None and turns_left == 1:
            answer = answerer(session, step)
            cell = session.run(answer)
            examined.append(Examined(step.op, len(steps_done) + 1, step.request, step.code, answer,
                                     _verdict(env, step, cell, snap), cell.error or "; ".join(cell.warned) or None))
            return False  # the conversation ends at the examined turn
        session._record(step.request, step.code)
        cell = session.run(step.code)
        reason = _verdict(env, step, cell, snap)
        if reason:
            stats.dropped[(step.op, reason)] += 1
            if os.environ.get("SYNTH_DEBUG"):
                import sys
                print(f"--- {step.op} {reason} [{env.table.domain.name} {getattr(env, 'key', '')}]: {step.request!r}\n{step.code}\n{cell.error or cell.warned}", file=sys.stderr)
                if reason.startswith("check"):
                    import traceback
                    try:
                        step.check(O.Run(cell.result, cell.stdout, env.ns, snap))
                    except Exception:
                        traceback.print_exc()
            return False
        stats.kept[step.op] += 1
        if step.after:
            step.after()
        env.last = step.last
        env._last_check = step.check if step.figure else None
        steps_done.append((step.op, step.code))
        if per_turn:
            docs.append(_document(session.contexts[-1], step.code, [o for o, _ in steps_done]))
        return True

    # the load: typed by hand (most often) or asked for
    load = O.load_step(env, as_turn=load_as_turn)
    if load_as_turn:
        if not turn(load):
            return []
        turns_left -= 1
    elif not hand(load):
        stats.dropped[("hand", "error")] += 1
        return []
    if rng.random() < 0.15:
        if not hand(O.lookup_hand_cell(env) or O.op_head(env)):
            return []
    while turns_left > 0:
        if rng.random() < 0.12:  # the user types a cell of their own between turns
            name = rng.choice(O.HAND_CELLS)
            fn = dict((n, f) for n, _, f in O.OPS)[name]
            step = fn(env)
            if step is not None:
                session.close_figures()
                if not hand(step):
                    break
                env.last = step.last
        step = None
        if env.last is not None and rng.random() < 0.6:
            step = O.choose(env, O.FOLLOWUPS, followup=True)
        if step is None:
            step = O.choose(env, O.OPS)
        if step is None:
            break
        if not turn(step):
            break
        turns_left -= 1
    if not steps_done:
        return []
    if per_turn:
        return docs
    return [_document(session.contexts[len(steps_done) - 1], steps_done[-1][1], [o for o, _ in steps_done])]


def _has_figure() -> bool:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    return bool(plt.get_fignums())


def _document(context: str, answer: str, ops: list[str]) -> dict:
    text = context + answer + CELL_CLOSE
    return {"text": text, "source": "synth", "ops": ops, "turns": len(ops)}


# --- worker processes (module-level, so a pool can find them: IPython replaces sys.modules["__main__"]) ---------

_worker_session: Session | None = None


def init_worker() -> None:
    global _worker_session
    os.environ.setdefault("MPLBACKEND", "Agg")
    _worker_session = Session()


def work_item(job: tuple[int, int, bool]) -> Result:
    index, seed, per_turn = job
    if _worker_session is None:
        init_worker()
    return conversation(_worker_session, index, seed, per_turn)


def sample_requests(seed: int, n: int) -> list[str]:
    """Requests as the generator words them, without running anything (fast; for the held-out guard).

    Each table gets a namespace holding its frame (dates parsed), and ops are drawn as in a conversation, each
    one's result taken as given for the follow-ups.
    """
    out: list[str] = []
    k = 0
    while len(out) < n:
        rng = random.Random(f"dry:{seed}:{k}")
        k += 1
        table = make_table(rng)
        var = frame_name(rng, table)
        frame = table.frame.copy()
        ns = {var: frame}
        env = O.Env(rng, table, var, ns, plots=True)
        env.path = f"{table.stem}.csv"
        load = O.load_step(env, as_turn=True)
        out.append(load.request)
        for _ in range(rng.randint(3, 8)):
            step = None
            if env.last is not None and rng.random() < 0.5:
                step = O.choose(env, O.FOLLOWUPS)
            if step is None:
                step = O.choose(env, O.OPS)
            if step is None or step.op in ("dropna", "rename", "new_column", "to_datetime", "fillna", "merge"):
                continue  # these change the frame; without running them later requests would not match it
            out.append(step.request)
            env.last = step.last
    return out[:n]
