"""Engines shared by every client of one process (the Jupyter server), each served by its own worker thread.

An ONNX Runtime session is run by one request at a time, so each engine gets one thread and a queue. The queue is
fair between clients (kernels, browser tabs): it serves them round-robin, one request each in turn, so a notebook
that sends twenty rerank candidates does not make another notebook wait for all twenty. A cancelled request frees
its slot at once: a queued one leaves the queue, a running one is stopped through the engine's cancel event
within one token step.

Plain Python with no server imports, so the queueing is tested without a server; the handlers only translate.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections import Counter, OrderedDict, deque
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Generic, Literal, TypeVar

from .engine import Completion, Engine, GenerationOptions, TextCallback
from .model_store import EngineSettings, load_engine

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[Engine, threading.Event], T]
"""What a request does once its turn comes: it gets the loaded engine and the request's cancel event."""
Loader = Callable[[str, EngineSettings], Engine]
EngineKey = tuple[str, EngineSettings]


def default_loader(spec: str, settings: EngineSettings) -> Engine:
    """model_store's loader, without progress bars: a server has no terminal to draw them on."""
    return load_engine(spec, replace(settings, progress=False))


@dataclass(eq=False)
class Ticket(Generic[T]):
    """One submitted request. `future` ends with the work's result, its error, or cancelled (while queued)."""

    request_id: str
    client: str
    key: EngineKey
    work: Work
    future: Future = field(default_factory=Future)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    ahead: int = 0
    """Requests the engine had to run before this one when it was submitted (the running one included)."""


@dataclass(frozen=True)
class EngineState:
    """A snapshot of one engine for the status endpoint."""

    model: str
    settings: dict
    state: Literal["loading", "ready", "failed"]
    device: str | None
    running: str | None
    queued: int
    served: dict[str, int]


class _Worker:
    """One engine, its thread, and its per-client queues in round-robin order."""

    def __init__(self, key: EngineKey, loader: Loader, on_failed: Callable[["_Worker"], None]):
        self.key = key
        self.loaded: Future = Future()
        self._loader = loader
        self._on_failed = on_failed
        self._queues: OrderedDict[str, deque[Ticket]] = OrderedDict()
        self._cond = threading.Condition()
        self._closed = False
        self.running: Ticket | None = None
        self.served: Counter[str] = Counter()
        self.thread = threading.Thread(target=self._run, name=f"codegen-engine-{key[0][-40:]}", daemon=True)
        self.thread.start()

    # -- queue (any thread) ---------------------------------------------------------------------------------------

    def put(self, ticket: Ticket) -> None:
        with self._cond:
            if not self._closed:
                ticket.ahead = sum(len(q) for q in self._queues.values()) + (self.running is not None)
                self._queues.setdefault(ticket.client, deque()).append(ticket)
                self._cond.notify()
                return
        # Closed: the engine failed to load (the ticket hears why) or the service is shutting down.
        failure = self.loaded.exception() if self.loaded.done() else None
        _settle(ticket.future, failure)

    def remove(self, ticket: Ticket) -> bool:
        """Takes a queued ticket out; False when it is not queued (running or finished)."""
        with self._cond:
            queue = self._queues.get(ticket.client)
            if queue is None or ticket not in queue:
                return False
            queue.remove(ticket)
            if not queue:
                del self._queues[ticket.client]
            return True

    def pending(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def close(self) -> list[Ticket]:
        with self._cond:
            self._closed = True
            left = [t for q in self._queues.values() for t in q]
            self._queues.clear()
            self._cond.notify()
        if self.running is not None:
            self.running.cancel_event.set()
        return left

    def _next(self) -> Ticket | None:
        """Round-robin: the first client in line gives one request, then goes to the back if it has more."""
        with self._cond:
            while not self._queues and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            client, queue = next(iter(self._queues.items()))
            ticket = queue.popleft()
            del self._queues[client]
            if queue:
                self._queues[client] = queue
            self.running = ticket
            return ticket

    # -- the worker thread ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            engine = self._loader(*self.key)
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear why, whatever it was
            self.loaded.set_exception(exc)
            self._on_failed(self)
            for ticket in self.close():
                _settle(ticket.future, exc)
            return
        self.loaded.set_result(engine)
        while (ticket := self._next()) is not None:
            ran = ticket.future.set_running_or_notify_cancel()
            result, failure = None, None
            if ran:
                try:
                    result = ticket.work(engine, ticket.cancel_event)
                except BaseException as exc:  # noqa: BLE001 - the error belongs to the request, not the worker
                    failure = exc
            # The books are kept before the answer goes out, so a client that got its answer sees it counted.
            with self._cond:
                self.running = None
                if ran:
                    self.served[ticket.client] += 1
            if failure is not None:
                ticket.future.set_exception(failure)
            elif ran:
                ticket.future.set_result(result)

    def state(self) -> EngineState:
        spec, settings = self.key
        if not self.loaded.done():
            state, device = "loading", None
        elif self.loaded.exception() is not None:
            state, device = "failed", None
        else:
            state, device = "ready", getattr(self.loaded.result(), "device", None)
        with self._cond:
            running = self.running.client if self.running is not None else None
            queued = sum(len(q) for q in self._queues.values())
            served = dict(self.served)
        public = {k: v for k, v in asdict(settings).items() if k != "progress"}
        return EngineState(spec, public, state, device, running, queued, served)


class EngineService:
    """Loads each (model, settings) once and runs its requests one at a time, fairly between clients."""

    def __init__(self, loader: Loader = default_loader):
        self._loader = loader
        self._workers: dict[EngineKey, _Worker] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def _worker(self, spec: str, settings: EngineSettings) -> _Worker:
        key = (spec.strip(), replace(settings, progress=False))
        with self._lock:
            worker = self._workers.get(key)
            if worker is None:
                worker = self._workers[key] = _Worker(key, self._loader, self._forget)
            return worker

    def _forget(self, worker: _Worker) -> None:
        """A model that failed to load is tried again by the next request (the user may have fixed it)."""
        with self._lock:
            if self._workers.get(worker.key) is worker:
                del self._workers[worker.key]

    def engine(self, spec: str, settings: EngineSettings) -> Future:
        """The loaded engine (a Future: loading can take minutes, or fail with a CodeGenError)."""
        return self._worker(spec, settings).loaded

    def submit(
        self, spec: str, settings: EngineSettings, client: str, work: Work[T], request_id: str | None = None
    ) -> Ticket[T]:
        worker = self._worker(spec, settings)
        ticket: Ticket[T] = Ticket(request_id or f"r{next(self._ids)}-{uuid.uuid4().hex[:8]}", client, worker.key, work)
        worker.put(ticket)
        return ticket

    def generate(
        self,
        spec: str,
        settings: EngineSettings,
        client: str,
        prompt: str,
        options: GenerationOptions,
        on_text: TextCallback | None = None,
        request_id: str | None = None,
    ) -> Ticket[list[Completion]]:
        """Queues a generation; `on_text` is called on the engine's thread as text arrives."""

        def work(engine: Engine, cancel: threading.Event) -> list[Completion]:
            return engine.generate(prompt, options, on_text, cancel)

        return self.submit(spec, settings, client, work, request_id)

    def score(
        self, spec: str, settings: EngineSettings, client: str, prompt: str, continuations: list[str],
        request_id: str | None = None,
    ) -> Ticket[list[float]]:
        def work(engine: Engine, cancel: threading.Event) -> list[float]:
            return engine.score(prompt, continuations)

        return self.submit(spec, settings, client, work, request_id)

    def cancel(self, ticket: Ticket) -> None:
        """Frees the request's slot: a queued request leaves the queue; a running one stops within a token step."""
        ticket.cancel_event.set()
        with self._lock:
            worker = self._workers.get(ticket.key)
        if worker is not None and worker.remove(ticket):
            ticket.future.cancel()

    def status(self) -> list[EngineState]:
        with self._lock:
            workers = list(self._workers.values())
        return [w.state() for w in workers]

    def close(self) -> None:
        """Stops every worker; queued requests end cancelled, running ones are asked to stop."""
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            for ticket in worker.close():
                _settle(ticket.future)


def _settle(future: Future, failure: BaseException | None = None) -> None:
    """Ends a future that never ran: with the engine's loading error, or cancelled; a no-op if it already ended."""
    if future.done():
        return
    if failure is not None and future.set_running_or_notify_cancel():
        future.set_exception(failure)
    else:
        future.cancel()
