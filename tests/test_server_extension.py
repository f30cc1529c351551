"""The shared model service in a real Jupyter server: the handlers through pytest-jupyter's in-process server, the
kernel-side client against it, and (slow) two kernels of a real `jupyter server` sharing one model."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import tornado.httpclient
from traitlets.config import Config

# pytest-jupyter's fixtures (jp_serverapp, jp_fetch, jp_ws_fetch and what they need), for this module only: as a
# global plugin its autouse event-loop fixtures would wrap every other test of the suite too.
from pytest_jupyter.jupyter_server import *  # noqa: F403,E402

from jupyter_codegen import service_client, wire  # noqa: E402
from jupyter_codegen.engine import GenerationOptions  # noqa: E402
from jupyter_codegen.handlers import DUPLICATE_ID, UNKNOWN_ID  # noqa: E402
from jupyter_codegen.model_store import EngineSettings, load_engine  # noqa: E402

TIMEOUT = 60
LONG = {"n": 32, "max_new_tokens": 200, "temperature": 1.0, "seed": 1}
"""A request that takes a second or more on the tiny model: 32 sampled candidates of 200 tokens."""
SHORT = {"max_new_tokens": 8}
PROMPT = "import json\n\ndef load(path):\n"


@pytest.fixture
def model(tiny_model) -> Path:
    return tiny_model("xglm")


@pytest.fixture
def jp_server_config(model, tmp_path):
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_codegen": True}},
            "CodeGen": {
                "model": str(model), "threads": 1, "cache_dir": str(tmp_path / "cache"),
                "conversation_dir": str(tmp_path / "conversations"), "max_new_tokens": 16,
            },
        }
    )


@pytest.fixture
def run(jp_serverapp, jp_asyncio_loop):
    """Runs a coroutine on the server's event loop (tests here are plain functions driving it)."""

    def _run(coro, timeout: float = TIMEOUT):
        return jp_asyncio_loop.run_until_complete(asyncio.wait_for(coro, timeout))

    return _run


@pytest.fixture
def api(jp_fetch):
    async def call(endpoint: str, body: dict | None = None, **kwargs):
        method = "GET" if body is None else "POST"
        response = await jp_fetch(
            "codegen", "api", endpoint, method=method, body=None if body is None else json.dumps(body), **kwargs
        )
        return json.loads(response.body)

    return call


@pytest.fixture
def stream(jp_ws_fetch):
    async def connect():
        return await jp_ws_fetch("codegen", "api", "stream")

    return connect


def generate(rid: str, options: dict = SHORT, **extra) -> str:
    return json.dumps({"type": "generate", "id": rid, "prompt": PROMPT, "options": options, **extra})


def stopped_early(completions) -> bool:
    """A cancelled sampling run: candidates still going say "cancelled"; a few may have ended on their own before."""
    reasons = [c.finish_reason for c in completions]
    return "cancelled" in reasons and "length" not in reasons


async def next_event(ws):
    raw = await ws.read_message()
    assert raw is not None, "the service closed the WebSocket"
    return wire.server_event.validate_json(raw)


async def until_finished(ws, ids: set[str], log: list | None = None) -> dict[str, list]:
    """Every event per request id until each of `ids` got its Done or Failed."""
    events: dict[str, list] = {}
    open_ids = set(ids)
    while open_ids:
        event = await next_event(ws)
        events.setdefault(event.id, []).append(event)
        if isinstance(event, (wire.Done, wire.ChatDone, wire.FillDone, wire.Failed)):
            open_ids.discard(event.id)
            if log is not None:
                log.append(event.id)
    return events


# -- authentication -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint, body",
    [("status", None), ("model", {}), ("generate", {"id": "x", "prompt": "x"}), ("score", {"id": "x", "prompt": "x", "continuations": []}),
     ("chat", {"id": "x", "path": "a.ipynb", "message": "x"}), ("fill", {"id": "x", "path": "a.ipynb", "before": "", "after": ""}),
     ("conversation", None)],
)
def test_every_endpoint_refuses_a_request_without_the_token(run, api, endpoint, body):
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        run(api(endpoint, body, headers={"Authorization": ""}, params={"path": "a.ipynb"}))
    assert refused.value.code == 403


def test_resetting_a_conversation_needs_the_token_too(run, jp_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        run(jp_fetch("codegen", "api", "conversation", method="DELETE", params={"path": "a.ipynb"}, headers={"Authorization": ""}))
    assert refused.value.code == 403


def test_the_websocket_refuses_a_connection_without_the_token(run, jp_ws_fetch):
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        run(jp_ws_fetch("codegen", "api", "stream", headers={"Authorization": ""}))
    assert refused.value.code == 403


def test_a_wrong_token_is_refused_too(run, api):
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        run(api("generate", {"id": "x", "prompt": "x"}, headers={"Authorization": "token not-the-token"}))
    assert refused.value.code == 403


# -- REST ---------------------------------------------------------------------------------------------------------


def test_status_says_the_service_is_there_and_loads_nothing_yet(run, api):
    status = wire.Status.model_validate(run(api("status")))
    assert status.service == "jupyter-codegen" and status.engines == []


def test_model_info_describes_the_servers_default_model(run, api, model):
    info = wire.ModelInfo.model_validate(run(api("model", {})))
    assert info.format == "causal-masking" and info.context_window == 256
    assert info.device == "CPUExecutionProvider" and Path(info.folder) == model


def test_one_shot_generate_and_score(run, api):
    done = wire.Done.model_validate(run(api("generate", {"id": "g1", "client": "t", "prompt": PROMPT, "options": SHORT})))
    assert done.id == "g1" and len(done.completions) == 1 and 0 < len(done.completions[0].token_ids) <= 8
    scores = wire.ScoreReply.model_validate(
        run(api("score", {"id": "s1", "client": "t", "prompt": PROMPT, "continuations": ["    return 1", "    pass"]}))
    )
    assert scores.id == "s1" and len(scores.scores) == 2 and all(s < 0 for s in scores.scores)
    [engine] = wire.Status.model_validate(run(api("status"))).engines
    assert engine.state == "ready" and engine.served == {"t": 2}


def test_a_client_that_hangs_up_frees_its_slot(run, api, client):
    """A kernel interrupted during a one-shot call closes its connection; the server cancels the request instead of
    running it to the end."""
    run(api("model", {}))  # loaded first, so only requests are timed
    started = time.monotonic()
    body = wire.GenerateRequest(id="hang-up", client="k", prompt=PROMPT, options=wire.Options(**{**LONG, "n": 64}))
    with pytest.raises(service_client.ServiceUnavailable):
        off_loop(run, client._fetch, "POST", "generate", body, 0.3)  # gives up after 0.3 s, as Ctrl-C would

    async def idle():
        while (engines := wire.Status.model_validate(await api("status")).engines)[0].running is not None:
            await asyncio.sleep(0.02)
        return engines[0]

    engine = run(idle())
    hung_up = time.monotonic() - started
    assert engine.served == {"k": 1}
    started = time.monotonic()
    done = wire.Done.model_validate_json(off_loop(run, client._fetch, "POST", "generate", body.model_copy(update={"id": "full"}), TIMEOUT))
    assert {c.finish_reason for c in done.completions} != {"cancelled"}
    assert hung_up < 0.6 * (time.monotonic() - started)  # it stopped well before a whole run's time


def test_errors_are_one_sentence_with_a_status_code(run, api, tmp_path):
    with pytest.raises(tornado.httpclient.HTTPClientError) as malformed:
        run(api("generate", {"id": "x"}))
    assert malformed.value.code == 400
    assert "malformed at prompt" in json.loads(malformed.value.response.body)["message"]
    missing = {"id": "m", "prompt": "x", "model": {"model": str(tmp_path / "nowhere")}}
    with pytest.raises(tornado.httpclient.HTTPClientError) as unknown:
        run(api("generate", missing))
    message = json.loads(unknown.value.response.body)["message"]
    assert unknown.value.code == 422 and message.startswith("Unknown model") and message.count(". ") == 0


# -- WebSocket ----------------------------------------------------------------------------------------------------


def test_streaming_sends_queued_then_deltas_then_done(run, stream):
    async def scenario():
        ws = await stream()
        ws.write_message(generate("s1"))
        return (await until_finished(ws, {"s1"}))["s1"]

    events = run(scenario())
    assert isinstance(events[0], wire.Queued) and isinstance(events[-1], wire.Done)
    deltas = events[1:-1]
    assert deltas and all(isinstance(e, wire.Delta) and e.index == 0 for e in deltas)
    assert "".join(d.text for d in deltas) == events[-1].completions[0].text


def test_cancel_mid_stream_frees_the_slot_for_the_next_request(run, stream, api):
    async def scenario():
        ws = await stream()
        ws.write_message(generate("long", LONG))
        ws.write_message(generate("next"))
        while not isinstance(event := await next_event(ws), wire.Delta):
            assert event.id in ("long", "next") and isinstance(event, wire.Queued)
        started = time.monotonic()
        ws.write_message(json.dumps({"type": "cancel", "id": "long"}))
        events = await until_finished(ws, {"long", "next"})
        return events, time.monotonic() - started

    events, elapsed = run(scenario())
    long_done, next_done = events["long"][-1], events["next"][-1]
    assert isinstance(long_done, wire.Done) and stopped_early(long_done.completions)
    assert all(len(c.token_ids) < 200 for c in long_done.completions)
    assert isinstance(next_done, wire.Done) and next_done.completions[0].finish_reason in ("stop", "length")
    [engine] = wire.Status.model_validate(run(api("status"))).engines
    assert engine.running is None and engine.queued == 0


def test_two_clients_at_once_are_served_in_turn(run, stream, api):
    """While a long request holds the engine, client A queues three requests and client B two; they then run
    A, B, A, B, A rather than in arrival order. (One socket carries both clients, so the order the Done events
    arrive in is the order the server ran them.)"""

    async def scenario():
        ws = await stream()
        ws.write_message(generate("hold", LONG, client="holder"))
        while not isinstance(await next_event(ws), wire.Delta):
            pass
        for name, count in (("A", 3), ("B", 2)):
            for i in range(1, count + 1):
                ws.write_message(generate(f"{name}{i}", {"max_new_tokens": 16}, client=name))
        ws.write_message(json.dumps({"type": "cancel", "id": "hold"}))
        order: list[str] = []
        events = await until_finished(ws, {"hold", "A1", "A2", "A3", "B1", "B2"}, order)
        return order, events

    order, events = run(scenario())
    assert order == ["hold", "A1", "B1", "A2", "B2", "A3"]
    assert [e.ahead for name in ("A1", "A2", "A3", "B1", "B2") for e in events[name] if isinstance(e, wire.Queued)] == [1, 2, 3, 4, 5]
    assert all(isinstance(events[name][-1], wire.Done) for name in order)
    [engine] = wire.Status.model_validate(run(api("status"))).engines
    assert engine.served == {"holder": 1, "A": 3, "B": 2}


def test_two_connections_at_once_both_complete(run, stream, api):
    async def scenario():
        a, b = await stream(), await stream()
        a.write_message(generate("a", {"n": 4, "max_new_tokens": 64}))
        b.write_message(generate("b", {"n": 4, "max_new_tokens": 64}))
        return await asyncio.gather(until_finished(a, {"a"}), until_finished(b, {"b"}))

    done_a, done_b = run(scenario())
    assert isinstance(done_a["a"][-1], wire.Done) and isinstance(done_b["b"][-1], wire.Done)
    assert len(done_a["a"][-1].completions) == len(done_b["b"][-1].completions) == 4
    [engine] = wire.Status.model_validate(run(api("status"))).engines
    assert sorted(engine.served.values()) == [1, 1]  # one request from each connection's own client


def test_unknown_duplicate_and_malformed_ids_are_answered_and_the_socket_keeps_working(run, stream):
    async def scenario():
        ws = await stream()
        ws.write_message(json.dumps({"type": "cancel", "id": "never-sent"}))
        unknown = await next_event(ws)
        ws.write_message(json.dumps({"type": "generate", "id": "bad"}))
        malformed = await next_event(ws)
        ws.write_message("not json at all")
        unreadable = await next_event(ws)
        ws.write_message(generate("dup", LONG))
        ws.write_message(generate("dup"))
        events = []
        while not (isinstance(events[-1:] and events[-1], wire.Failed)):
            events.append(await next_event(ws))
        ws.write_message(json.dumps({"type": "cancel", "id": "dup"}))
        rest = await until_finished(ws, {"dup"})
        ws.write_message(generate("after"))
        after = await until_finished(ws, {"after"})
        return unknown, malformed, unreadable, events[-1], rest["dup"][-1], after["after"][-1]

    unknown, malformed, unreadable, duplicate, cancelled, after = run(scenario())
    assert unknown == wire.Failed(id="never-sent", message=UNKNOWN_ID)
    assert malformed.id == "bad" and "malformed at generate.prompt" in malformed.message
    assert unreadable.id is None and unreadable.message.startswith("The codegen message is malformed")
    assert duplicate == wire.Failed(id="dup", message=DUPLICATE_ID)
    assert isinstance(cancelled, wire.Done) and cancelled.completions[0].finish_reason == "cancelled"
    assert isinstance(after, wire.Done)


# -- chat ---------------------------------------------------------------------------------------------------------


def conversation_of(run, api, path: str) -> wire.ConversationOut:
    return wire.ConversationOut.model_validate(run(api("conversation", params={"path": path})))


def test_a_chat_question_is_answered_and_recorded_in_the_notebooks_conversation(run, api, jp_root_dir, tmp_path):
    done = wire.ChatDone.model_validate(
        run(api("chat", {"id": "c1", "path": "reports/q3.ipynb", "message": "load sales.csv", "show_prompt": True}))
    )
    assert done.id == "c1" and done.turn == 1 and not done.cancelled and done.model
    assert done.prompt.endswith("<text>\nload sales.csv\n</text>\n<cell>\n")
    conversation = conversation_of(run, api, "reports/q3.ipynb")
    assert conversation.key == str(jp_root_dir / "reports" / "q3.ipynb")  # what the notebook's kernel uses
    assert [(t.kind, t.request, t.answer) for t in conversation.turns] == [("chat", "load sales.csv", done.answer)]
    # The file is the one a kernel of this notebook reads.
    from jupyter_codegen.conversation import Conversation, conversation_path

    saved = Conversation.load(conversation_path(conversation.key, tmp_path / "conversations"))
    assert [t.request for t in saved.turns] == ["load sales.csv"]
    # The second question sees the first; a snapshot puts the notebook on screen in the prompt, and the turn
    # remembers the active cell.
    snapshot = {"cell_id": "b", "cells": [
        {"id": "a", "cell_type": "markdown", "source": "Quarterly *sales*"},
        {"id": "b", "cell_type": "code", "source": "df = load()", "execution_count": 1},
        {"id": "c", "cell_type": "code", "source": "below()"},
    ]}
    second = wire.ChatDone.model_validate(run(api("chat", {
        "id": "c2", "path": "reports/q3.ipynb", "message": "now by month", "snapshot": snapshot, "show_prompt": True,
    })))
    assert second.turn == 2
    p = second.prompt
    assert p.index("Quarterly sales") < p.index("df = load()") < p.index("load sales.csv") < p.index("now by month")
    assert "below()" not in p
    [_, turn] = conversation_of(run, api, "reports/q3.ipynb").turns
    assert turn.cell_id == "b"


def test_resetting_a_conversation_over_rest(run, api, jp_fetch):
    run(api("chat", {"id": "c1", "path": "a.ipynb", "message": "load sales.csv"}))
    response = run(jp_fetch("codegen", "api", "conversation", method="DELETE", params={"path": "a.ipynb"}))
    assert wire.ConversationOut.model_validate_json(response.body).turns == []
    assert conversation_of(run, api, "a.ipynb").turns == []
    with pytest.raises(tornado.httpclient.HTTPClientError) as missing:
        run(api("conversation"))
    assert missing.value.code == 400 and "?path=" in json.loads(missing.value.response.body)["message"]


def test_a_chat_answer_streams_over_the_websocket_and_a_stopped_one_is_not_recorded(run, stream, api):
    async def scenario():
        ws = await stream()
        ws.write_message(json.dumps({"type": "chat", "id": "q", "path": "a.ipynb", "message": "load sales.csv",
                                     "options": {"max_new_tokens": 24, "temperature": 1.0, "seed": 1}}))
        answered = (await until_finished(ws, {"q"}))["q"]
        # 32 candidates of up to 128 tokens: long enough to be stopped (candidates are not streamed, only one is).
        ws.write_message(json.dumps({"type": "chat", "id": "stop", "path": "a.ipynb", "message": "and then?",
                                     "options": {"n": 32, "max_new_tokens": 200, "temperature": 1.0, "seed": 1}}))
        assert isinstance(await next_event(ws), wire.Queued)
        ws.write_message(json.dumps({"type": "cancel", "id": "stop"}))
        stopped = (await until_finished(ws, {"stop"}))["stop"]
        return answered, stopped

    answered, stopped = run(scenario())
    assert isinstance(answered[0], wire.Queued) and isinstance(answered[-1], wire.ChatDone)
    deltas = [e.text for e in answered[1:-1]]
    assert deltas and all(isinstance(e, wire.Delta) for e in answered[1:-1])
    done = answered[-1]
    assert done.turn == 1 and done.answer.strip() and done.answer.strip()[:8] in "".join(deltas)
    assert isinstance(stopped[-1], wire.ChatDone) and stopped[-1].cancelled and stopped[-1].turn is None
    assert [t.request for t in conversation_of(run, api, "a.ipynb").turns] == ["load sales.csv"]


def test_a_selection_is_filled_over_rest_and_streamed_over_the_websocket(run, api, stream):
    done = wire.FillDone.model_validate(run(api("fill", {
        "id": "f1", "path": "a.ipynb", "before": "def double(x):\n    return ", "after": "\n",
        "options": {"max_new_tokens": 6},
    })))
    assert done.turn == 1 and done.code == "def double(x):\n    return " + done.fill + "\n"
    [turn] = conversation_of(run, api, "a.ipynb").turns
    assert turn.kind == "infill" and turn.request == "def double(x):\n    return <FILL>\n"

    async def scenario():
        ws = await stream()
        ws.write_message(json.dumps({"type": "fill", "id": "f2", "path": "a.ipynb", "before": "rows = ",
                                     "after": "\nprint(rows)\n", "record": False,
                                     "options": {"max_new_tokens": 12, "temperature": 1.0, "seed": 3}}))
        return (await until_finished(ws, {"f2"}))["f2"]

    events = run(scenario())
    assert isinstance(events[0], wire.Queued) and isinstance(events[-1], wire.FillDone)
    assert events[-1].turn is None and len(conversation_of(run, api, "a.ipynb").turns) == 1
    streamed = "".join(e.text for e in events[1:-1])
    assert all(isinstance(e, wire.Delta) for e in events[1:-1])
    assert "print(rows)" not in streamed and "rows = " not in streamed


def test_chat_options_override_only_the_settings_they_give():
    from jupyter_codegen.engine import GenerationOptions

    base = GenerationOptions(max_new_tokens=99, temperature=0.5, n=2, stop=("x",))
    merged = wire.Options.model_validate({"max_new_tokens": 3}).over(base)
    assert (merged.max_new_tokens, merged.temperature, merged.n, merged.stop) == (3, 0.5, 2, ("x",))
    assert wire.Options.model_validate({"temperature": 0, "stop": ["y"]}).over(base).stop == ("y",)


def test_a_malformed_chat_is_one_sentence(run, api):
    with pytest.raises(tornado.httpclient.HTTPClientError) as malformed:
        run(api("chat", {"id": "x", "path": "a.ipynb"}))
    assert malformed.value.code == 400 and "malformed at message" in json.loads(malformed.value.response.body)["message"]


@pytest.mark.slow
def test_chat_and_magics_share_one_conversation(run, api, jp_fetch, jp_root_dir, jp_serverapp, model, tmp_path):
    """A question asked in the chat is a turn the next %%codegen sees, and the reverse: a real kernel started by
    the server for reports/q3.ipynb, its magics, and the chat endpoint, on one conversation file."""
    (jp_root_dir / "reports").mkdir()
    body = {"path": "reports/q3.ipynb", "name": "q3.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    session = json.loads(run(jp_fetch("api", "sessions", method="POST", body=json.dumps(body))).body)
    kc = jp_serverapp.kernel_manager.get_kernel(session["kernel"]["id"]).client()
    kc.start_channels()

    async def cell(code: str) -> str:
        """Runs a cell and returns what it printed; awaiting keeps the server's loop free for the kernel's requests."""
        msg_id = kc.execute(code, store_history=True)
        text = []
        while True:
            msg = await kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind == "error":
                text.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(text)

    try:
        run(kc.wait_for_ready(timeout=TIMEOUT))
        setup = (
            "%load_ext jupyter_codegen\n"
            f"%config CodeGen.model = {str(model)!r}\n%config CodeGen.threads = 1\n%config CodeGen.max_new_tokens = 16\n"
            f"%config CodeGen.conversation_dir = {str(tmp_path / 'conversations')!r}\n"
        )
        assert "Error" not in run(cell(setup))
        run(api("chat", {"id": "c1", "path": "reports/q3.ipynb", "message": "which regions are in sales.csv?"}))
        shown = run(cell("%%codegen --show-prompt\nplot the totals per region"), 2 * TIMEOUT)
        assert "in the Jupyter server" in shown  # the kernel found its server, and its model
        prompt = shown[shown.index("Prompt sent to the model:"):]
        assert prompt.index("which regions are in sales.csv?") < prompt.index("plot the totals per region")
        reply = wire.ChatDone.model_validate(run(api("chat", {
            "id": "c2", "path": "reports/q3.ipynb", "message": "now as a table", "show_prompt": True,
        })))
        assert reply.turn == 3
        assert reply.prompt.index("which regions") < reply.prompt.index("plot the totals per region") < reply.prompt.index("now as a table")
        history = run(cell("%codegen --history"))
        assert "--- Turn 3 (chat" in history and "now as a table" in history
    finally:
        kc.stop_channels()
        run(jp_fetch("api", "sessions", session["id"], method="DELETE"))
    turns = conversation_of(run, api, "reports/q3.ipynb").turns
    assert [t.kind for t in turns] == ["chat", "codegen", "chat"]


# -- the kernel-side client against the same server ---------------------------------------------------------------


@pytest.fixture
def client(jp_serverapp, http_server, jp_http_port, jp_base_url):
    token = jp_serverapp.identity_provider.token
    server = service_client.ServerInfo(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", token, os.getpid())
    c = service_client.ServiceClient(server, name="test kernel")
    yield c
    c.close()


def off_loop(run, fn, *args):
    """Calls a blocking client method on a thread while the server's loop runs, as a kernel would."""
    return run(asyncio.to_thread(fn, *args))


def test_the_service_engine_matches_the_in_process_engine(run, client, model):
    settings = EngineSettings(threads=1)
    choice = service_client.model_choice(str(model), settings)
    info = off_loop(run, client.model_info, choice)
    shared = service_client.ServiceEngine(client, choice, info)
    local = load_engine(str(model), settings)
    assert (shared.name, shared.format, shared.context_window) == (local.name, local.format, local.context_window)
    assert shared.device == "CPUExecutionProvider in the Jupyter server"
    assert shared.count_tokens(PROMPT) == local.count_tokens(PROMPT)
    options = GenerationOptions(max_new_tokens=12)
    deltas: list[str] = []
    [remote] = off_loop(run, shared.generate, PROMPT, options, lambda i, d: deltas.append(d))
    [here] = local.generate(PROMPT, options)
    assert remote.text == here.text == "".join(deltas) and remote.token_ids == here.token_ids
    assert off_loop(run, shared.score, PROMPT, ["    pass"]) == pytest.approx(local.score(PROMPT, ["    pass"]), abs=1e-4)


def test_a_cancel_event_or_ctrl_c_stops_a_streaming_generation_and_late_replies_are_dropped(run, client, model):
    shared = service_client.ServiceEngine(
        client, choice := service_client.model_choice(str(model), EngineSettings(threads=1)),
        off_loop(run, client.model_info, choice),
    )
    cancel = threading.Event()
    options = GenerationOptions(max_new_tokens=200, n=32, temperature=1.0, seed=1)
    completions = off_loop(run, shared.generate, PROMPT, options, lambda i, d: cancel.set(), cancel)
    assert len(completions) == 32 and stopped_early(completions)

    def ctrl_c(index: int, delta: str) -> None:  # what the kernel's SIGINT does while the answer streams in
        raise KeyboardInterrupt

    interrupted = off_loop(run, shared.generate, PROMPT, options, ctrl_c)
    assert len(interrupted) == 32 and stopped_early(interrupted)
    # The same connection serves the next request; anything still arriving for the old ids is ignored.
    [after] = off_loop(run, shared.generate, PROMPT, GenerationOptions(max_new_tokens=4))
    assert after.finish_reason in ("stop", "length") and client._pending == {}


def test_a_connection_lost_mid_request_is_one_sentence_and_frees_the_slot(run, client, model, api):
    from jupyter_codegen.errors import CodeGenError

    choice = service_client.model_choice(str(model), EngineSettings(threads=1))
    shared = service_client.ServiceEngine(client, choice, off_loop(run, client.model_info, choice))

    def drop_connection(index: int, delta: str) -> None:
        if client._ws is not None:
            client._io.loop.call_soon_threadsafe(client._ws.close)

    options = GenerationOptions(max_new_tokens=200, n=64, temperature=1.0, seed=1)
    started = time.monotonic()
    with pytest.raises(CodeGenError) as lost:
        off_loop(run, shared.generate, PROMPT, options, drop_connection)
    assert str(lost.value) == service_client.GONE and not client.healthy

    async def idle():
        while (engine := wire.Status.model_validate(await api("status")).engines[0]).running is not None:
            await asyncio.sleep(0.02)
        return engine

    assert run(idle()).queued == 0
    dropped = time.monotonic() - started
    started = time.monotonic()
    off_loop(run, shared.generate, PROMPT, options)  # the client reconnects by itself
    assert dropped < 0.6 * (time.monotonic() - started)  # the server stopped the orphaned generation


def test_discovery_reads_the_runtime_file_of_the_parent_server(tmp_path):
    info = {"url": "http://myhost:8888/lab/", "hostname": "0.0.0.0", "port": 8888, "base_url": "/lab/", "token": "t0k",
            "secure": False, "sock": "", "pid": 4242}
    (tmp_path / "jpserver-4242.json").write_text(json.dumps(info))
    found = service_client.find_server({"JPY_PARENT_PID": "4242"}, tmp_path)
    assert found == service_client.ServerInfo("http://127.0.0.1:8888/lab/", "t0k", 4242)
    assert found.websocket("stream") == "ws://127.0.0.1:8888/lab/codegen/api/stream"
    assert service_client.find_server({}, tmp_path) is None  # plain IPython, VS Code: no server
    assert service_client.find_server({"JPY_PARENT_PID": "4243"}, tmp_path) is None
    assert service_client.server_info({**info, "sock": "/tmp/jupyter.sock"}) is None


@pytest.fixture
def kernel_of_this_server(jp_serverapp, http_server, monkeypatch):
    """Makes this process look like a kernel the test server started: JPY_PARENT_PID is the server's pid, and the
    server's runtime file (jp_environ's runtime dir) says where it listens."""
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    service_client.forget_clients()
    yield
    service_client.forget_clients()


def test_a_kernel_of_the_server_finds_it_and_uses_its_model(run, kernel_of_this_server, model, api):
    engine, note = off_loop(run, service_client.engine_for, str(model), EngineSettings(threads=1))
    assert isinstance(engine, service_client.ServiceEngine) and note is None
    assert engine.device == "CPUExecutionProvider in the Jupyter server"
    assert off_loop(run, service_client.engine_for, str(model), EngineSettings(threads=1))[0] is engine
    assert [e.state for e in wire.Status.model_validate(run(api("status"))).engines] == ["ready"]


@pytest.mark.parametrize("jp_server_config", [Config({"ServerApp": {"jpserver_extensions": {"jupyter_codegen": False}}})])
def test_a_server_without_the_extension_leaves_the_model_in_the_kernel_and_says_why(run, kernel_of_this_server, model):
    engine, note = off_loop(run, service_client.engine_for, str(model), EngineSettings(threads=1))
    assert engine is load_engine(str(model), EngineSettings(threads=1))
    assert "has no jupyter_codegen extension, so the model runs in this kernel; install jupyter-codegen where " in note
    assert note.count(". ") == 0 and note.endswith("to share one copy between notebooks.")


def test_without_a_server_the_in_process_engine_is_used(model, monkeypatch):
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    engine, note = service_client.engine_for(str(model), EngineSettings(threads=1))
    assert engine is load_engine(str(model), EngineSettings(threads=1)) and note is None


# -- two kernels of a real server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"cannot read the memory of process {pid}")


class _Server:
    """A `jupyter server` subprocess and its REST API."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(root / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.get("api/status")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter server did not start: {(root / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str) -> dict:
        return self.call("GET", path)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _execute(kc, code: str) -> str:
    return kc.execute(code, store_history=True)


def _outputs(kc, msg_id: str) -> str:
    """Everything a cell printed or displayed, as text, once the kernel is idle again."""
    text = []
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            text.append(content["text"])
        elif kind in ("display_data", "execute_result", "update_display_data"):
            text.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            text.append("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(text)


REPORT = (
    "import sys, os, json\n"
    "_m = get_ipython().magics_manager.registry['CodeGenMagics']\n"
    "print(json.dumps({'onnxruntime': 'onnxruntime' in sys.modules, 'pid': os.getpid(), 'code': _m.last_answer.code,"
    " 'tokens': len(_m.last_answer.candidates[0].token_ids)}))\n"
)


@pytest.mark.slow
def test_two_kernels_of_a_real_server_share_one_model(tiny_model, tmp_path):
    from jupyter_client import BlockingKernelClient

    model = tiny_model("xglm")
    root, runtime, ipython = tmp_path / "root", tmp_path / "runtime", tmp_path / "ipython"
    for folder in (root, runtime, ipython / "profile_default"):
        folder.mkdir(parents=True)
    # The kernels' CodeGen settings, as a user would put them in their IPython profile.
    (ipython / "profile_default" / "ipython_kernel_config.py").write_text(
        f"c.CodeGen.model = {str(model)!r}\nc.CodeGen.threads = 1\nc.CodeGen.max_new_tokens = 24\n"
        f"c.CodeGen.cache_dir = {str(tmp_path / 'cache')!r}\nc.CodeGen.conversation_dir = {str(tmp_path / 'conv')!r}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env.update(
        JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"), IPYTHONDIR=str(ipython), HF_HUB_OFFLINE="1",
    )
    started = time.monotonic()
    server = _Server(root, env)  # the extension is enabled by the config file that `pip install` put in etc/jupyter
    clients = []
    try:
        kernels = {}
        for name in ("a.ipynb", "b.ipynb", "local.ipynb"):
            session = server.call("POST", "api/sessions", {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}})
            kc = BlockingKernelClient(connection_file=str(runtime / f"kernel-{session['kernel']['id']}.json"))
            kc.load_connection_file()
            kc.start_channels()
            kc.wait_for_ready(timeout=TIMEOUT)
            clients.append(kc)
            kernels[name] = kc
        for kc in kernels.values():
            assert "Error" not in _outputs(kc, _execute(kc, "%load_ext jupyter_codegen"))
        local = kernels["local.ipynb"]
        assert "Error" not in _outputs(local, _execute(local, "%config CodeGen.use_server = False"))
        # Both shared kernels ask at once; the server queues them fairly.
        cell = "%%codegen\nload sales.csv into a DataFrame and show the first rows\n"
        sent = {name: _execute(kc, cell) for name, kc in kernels.items()}
        shown = {name: _outputs(kernels[name], msg_id) for name, msg_id in sent.items()}
        reports = {name: json.loads(_outputs(kc, _execute(kc, REPORT)).strip().splitlines()[-1]) for name, kc in kernels.items()}
        status = wire.Status.model_validate(server.get("codegen/api/status"))
        memory = {"server": _rss_mb(server.process.pid), **{name: _rss_mb(r["pid"]) for name, r in reports.items()}}
    finally:
        for kc in clients:
            kc.stop_channels()
        server.stop()
    elapsed = time.monotonic() - started

    for name in ("a.ipynb", "b.ipynb"):
        assert "runs on CPUExecutionProvider in the Jupyter server." in shown[name], shown[name]
        assert reports[name]["onnxruntime"] is False, f"{name} imported onnxruntime"
        assert reports[name]["tokens"] > 0
    assert "runs on CPUExecutionProvider." in shown["local.ipynb"] and reports["local.ipynb"]["onnxruntime"] is True
    # Greedy decoding of the same prompt: the shared model answers exactly as a model in the kernel does.
    assert reports["a.ipynb"]["code"] == reports["b.ipynb"]["code"] == reports["local.ipynb"]["code"]
    [engine] = status.engines
    assert engine.state == "ready" and Path(engine.model) == model.resolve()
    assert sorted(engine.served) == sorted(f"{n} (pid {reports[n]['pid']})" for n in ("a.ipynb", "b.ipynb"))
    print(
        "\nresident memory (MB): "
        + ", ".join(f"{name} {mb:.0f}" for name, mb in memory.items())
        + f"; kernels using the server's model import no onnxruntime; {elapsed:.1f} s in all"
    )
