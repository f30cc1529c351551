"""The shared engine service's queue on a real tiny model: one engine per model, requests one at a time, round-robin
between clients, cancellation that frees the slot."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.engine_service import EngineService
from jupyter_codegen.errors import ModelNotFoundError
from jupyter_codegen.model_store import EngineSettings

SETTINGS = EngineSettings(threads=1)
TIMEOUT = 60


@pytest.fixture
def service():
    s = EngineService()
    yield s
    s.close()


@pytest.fixture
def model(tiny_model) -> str:
    return str(tiny_model("xglm"))


def blocker(service, model, client="first"):
    """A request that holds the engine until released, so the test can line others up behind it."""
    started, release = threading.Event(), threading.Event()

    def work(engine, cancel):
        started.set()
        release.wait(TIMEOUT)
        return "blocker"

    ticket = service.submit(model, SETTINGS, client, work)
    assert started.wait(TIMEOUT)
    return ticket, release


def recorder(order: list[str], name: str):
    def work(engine, cancel):
        order.append(name)
        # Every request really uses the engine, as generation would.
        return engine.count_tokens(name)

    return work


def test_one_engine_per_model_and_settings(service, model):
    first = service.engine(model, SETTINGS).result(TIMEOUT)
    assert service.engine(model, SETTINGS).result(TIMEOUT) is first
    assert service.engine(model, EngineSettings(threads=1, progress=False)).result(TIMEOUT) is first
    [state] = service.status()
    assert state.state == "ready" and state.device == "CPUExecutionProvider" and state.model == model


def test_generation_streams_and_counts_the_client(service, model):
    deltas: list[str] = []
    ticket = service.generate(model, SETTINGS, "kernel-a", "def f(x):", GenerationOptions(max_new_tokens=8), lambda i, d: deltas.append(d))
    [completion] = ticket.future.result(TIMEOUT)
    assert completion.text == "".join(deltas) and len(completion.token_ids) <= 8
    assert service.status()[0].served == {"kernel-a": 1}


def test_clients_are_served_round_robin_not_first_come(service, model):
    held, release = blocker(service, model)
    order: list[str] = []
    tickets = [service.submit(model, SETTINGS, "A", recorder(order, f"A{i}")) for i in range(1, 4)]
    tickets += [service.submit(model, SETTINGS, "B", recorder(order, f"B{i}")) for i in range(1, 3)]
    assert [t.ahead for t in tickets] == [1, 2, 3, 4, 5]
    assert service.status()[0].queued == 5 and service.status()[0].running == "first"
    release.set()
    for t in [held, *tickets]:
        t.future.result(TIMEOUT)
    assert order == ["A1", "B1", "A2", "B2", "A3"]
    assert service.status()[0].served == {"first": 1, "A": 3, "B": 2}


def test_a_cancelled_queued_request_leaves_the_queue(service, model):
    held, release = blocker(service, model)
    order: list[str] = []
    dropped = service.submit(model, SETTINGS, "A", recorder(order, "dropped"))
    kept = service.submit(model, SETTINGS, "B", recorder(order, "kept"))
    service.cancel(dropped)
    assert service.status()[0].queued == 1
    release.set()
    kept.future.result(TIMEOUT)
    with pytest.raises(CancelledError):
        dropped.future.result(TIMEOUT)
    assert order == ["kept"]


def test_cancelling_a_running_generation_frees_the_slot(service, model):
    holder: dict = {}

    def on_text(index: int, delta: str) -> None:
        holder["deltas"] = holder.get("deltas", 0) + 1
        if holder["deltas"] == 3:
            service.cancel(holder["ticket"])

    options = GenerationOptions(max_new_tokens=200, temperature=1.0, seed=3)
    holder["ticket"] = service.generate(model, SETTINGS, "A", "def f(x):", options, on_text)
    after = service.generate(model, SETTINGS, "B", "import json", GenerationOptions(max_new_tokens=4))
    [stopped] = holder["ticket"].future.result(TIMEOUT)
    assert stopped.finish_reason == "cancelled" and 3 <= len(stopped.token_ids) < 200
    assert after.future.result(TIMEOUT)[0].finish_reason in ("stop", "length")


def test_a_failing_request_does_not_stop_the_worker(service, model):
    def broken(engine, cancel):
        raise ValueError("boom")

    bad = service.submit(model, SETTINGS, "A", broken)
    good = service.score(model, SETTINGS, "A", "def f(x):", ["\n    return x", "\n    pass"])
    with pytest.raises(ValueError):
        bad.future.result(TIMEOUT)
    assert len(good.future.result(TIMEOUT)) == 2


def test_a_model_that_fails_to_load_fails_its_requests_and_is_tried_again(service, tmp_path):
    missing = str(tmp_path / "no-such-model")
    ticket = service.generate(missing, SETTINGS, "A", "x", GenerationOptions(max_new_tokens=2))
    with pytest.raises(ModelNotFoundError):
        ticket.future.result(TIMEOUT)
    with pytest.raises(ModelNotFoundError):
        service.engine(missing, SETTINGS).result(TIMEOUT)
    assert all(s.model != missing or s.state == "failed" for s in service.status())
