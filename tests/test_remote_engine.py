"""The remote engine against a real HTTP server process (tests/openai_test_server.py) whose answers come from the
tiny ONNX model, so every remote result can be checked against the same model run in-process."""

from __future__ import annotations

import json
import math
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from tiny_models import PYTHON_PROMPT

from jupyter_codegen.engine import Engine, GenerationOptions
from jupyter_codegen.errors import RemoteModelError
from jupyter_codegen.formats import detect_format
from jupyter_codegen.onnx_engine import OnnxEngine
from openai_test_server import stop_process
from jupyter_codegen.remote_engine import RemoteEngine, parse_remote_spec

SERVER = Path(__file__).parent / "openai_test_server.py"
KEY = "test-key-123"
MODEL = "tiny"


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    @property
    def root(self) -> str:
        return self.url[: -len("/v1")]

    def post(self, path: str, body: dict, key: str | None = KEY) -> dict:
        request = urllib.request.Request(self.root + path, json.dumps(body).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def configure(self, **config) -> None:
        self.post("/debug/config", config)

    def stats(self) -> dict:
        with urllib.request.urlopen(self.root + "/debug/stats", timeout=30) as reply:
            return json.loads(reply.read())


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


@pytest.fixture(scope="module")
def folder(tiny_model) -> Path:
    return tiny_model("codegen")


@pytest.fixture(scope="module")
def local(folder) -> OnnxEngine:
    return OnnxEngine(folder, device="cpu", threads=1)


@pytest.fixture(scope="module")
def server_process(folder):
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--onnx", str(folder), "--model-name", MODEL, "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(process, timeout=120)
        if not line.startswith("LISTENING "):
            process.kill()
            pytest.fail(f"the test server did not start: {line!r} {process.communicate(timeout=10)[1][-2000:]}")
        yield Server(line.split()[1], process)
    finally:
        stop_process(process)


@pytest.fixture
def server(server_process) -> Server:
    server_process.post("/debug/reset", {})
    return server_process


@pytest.fixture
def remote(server) -> RemoteEngine:
    return RemoteEngine(server.url, MODEL, api_key=KEY, timeout=30)


def one_sentence(message: str) -> bool:
    return message.endswith(".") and not re.search(r"[.!?]\s+[A-Z]", message[:-1]) and "\n" not in message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


GREEDY = GenerationOptions(max_new_tokens=24)


# -- the model name --------------------------------------------------------------------------------------------


def test_parse_remote_spec():
    assert parse_remote_spec("openai:http://gpu-box:8000/v1#bigcode/starcoder2-15b") == (
        "http://gpu-box:8000/v1",
        "bigcode/starcoder2-15b",
    )
    assert parse_remote_spec(" openai:https://models.example.com/v1/#m ") == ("https://models.example.com/v1", "m")


@pytest.mark.parametrize(
    "spec",
    [
        "openai:http://gpu-box:8000/v1",  # no model
        "openai:http://gpu-box:8000/v1#",
        "openai:gpu-box:8000/v1#m",  # no scheme
        "openai:ftp://gpu-box/v1#m",
        "openai:http://:8000/v1#m",
        "openai:http://gpu-box:99999/v1#m",
        "http://gpu-box:8000/v1#m",  # no prefix
        "openai:http://gpu-box:8000/v1?x=1#m",
    ],
)
def test_malformed_spec_says_the_right_form(spec):
    with pytest.raises(RemoteModelError) as error:
        parse_remote_spec(spec)
    assert "openai:<base-url>#<model>" in str(error.value)
    assert one_sentence(str(error.value))


def test_engine_identity(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    engine = RemoteEngine.from_spec("openai:http://gpu-box:8000/v1#bigcode/starcoder2-15b")
    assert isinstance(engine, Engine)
    assert engine.device == "remote http://gpu-box:8000/v1 (bigcode/starcoder2-15b)"
    assert engine.name == "bigcode/starcoder2-15b"
    assert engine.format == detect_format(())
    assert engine.context_window == 4096
    assert engine.api_key == "from-env"
    assert RemoteEngine("http://h/v1", "m", api_key="given").api_key == "given"


# -- generation ------------------------------------------------------------------------------------------------


def test_streamed_text_equals_the_whole_answer_and_the_local_engine(remote, server, local):
    pieces: list[tuple[int, str]] = []
    [got] = remote.generate(PYTHON_PROMPT, GREEDY, on_text=lambda i, t: pieces.append((i, t)))
    [want] = local.generate(PYTHON_PROMPT, GREEDY)
    assert got.text == want.text and got.text
    assert "".join(t for _, t in pieces) == got.text and {i for i, _ in pieces} == {0}
    assert got.finish_reason == want.finish_reason
    assert got.token_count == len(want.token_ids)
    assert got.logprob == pytest.approx(want.logprob, abs=1e-3)
    assert got.mean_logprob == pytest.approx(want.mean_logprob, abs=1e-4)
    sent = server.stats()["last_request"]
    assert sent["stream"] is True and sent["logprobs"] == 1 and sent["max_tokens"] == 24
    whole = server.post(
        "/v1/completions",
        {"model": MODEL, "prompt": PYTHON_PROMPT, "max_tokens": 24, "temperature": 0, "stream": False},
    )
    assert whole["choices"][0]["text"] == got.text


def test_text_arrives_while_the_server_is_still_generating(remote, server):
    server.configure(token_delay=0.05)
    arrivals: list[float] = []
    start = time.monotonic()
    [c] = remote.generate(
        PYTHON_PROMPT, GenerationOptions(max_new_tokens=20), on_text=lambda i, t: arrivals.append(time.monotonic())
    )
    end = time.monotonic()
    assert len(arrivals) >= 5 and c.finish_reason in ("length", "stop")
    assert arrivals[0] - start < (end - start) / 2


def test_n_sampled_candidates_match_the_local_engine(remote, local):
    options = GenerationOptions(max_new_tokens=16, temperature=0.8, top_p=0.95, seed=7, n=3)
    pieces: dict[int, str] = {}
    got = remote.generate(PYTHON_PROMPT, options, on_text=lambda i, t: pieces.__setitem__(i, pieces.get(i, "") + t))
    want = local.generate(PYTHON_PROMPT, options)
    assert [c.text for c in got] == [c.text for c in want]
    assert len({c.text for c in got}) > 1
    assert pieces == {i: c.text for i, c in enumerate(got)}
    for g, w in zip(got, want):
        assert g.logprob == pytest.approx(w.logprob, abs=1e-3)


def test_a_server_that_ignores_n_is_asked_once_per_candidate(remote, server, local):
    server.configure(ignore_n=True)
    options = GenerationOptions(max_new_tokens=16, temperature=0.8, top_p=0.95, seed=7, n=3)
    pieces: dict[int, str] = {}
    got = remote.generate(PYTHON_PROMPT, options, on_text=lambda i, t: pieces.__setitem__(i, pieces.get(i, "") + t))
    want = [local.generate(PYTHON_PROMPT, options.with_(n=1, seed=7 + k))[0].text for k in range(3)]
    assert [c.text for c in got] == want
    assert pieces == {i: c.text for i, c in enumerate(got)}
    assert server.stats()["completions"] == 3


def test_greedy_candidates_are_asked_once_and_copied(remote, server):
    pieces: dict[int, str] = {}
    got = remote.generate(
        PYTHON_PROMPT, GREEDY.with_(n=3), on_text=lambda i, t: pieces.__setitem__(i, pieces.get(i, "") + t)
    )
    assert server.stats()["last_request"]["n"] == 1
    assert len(got) == 3 and len({c.text for c in got}) == 1
    assert got[0] is not got[1]
    assert pieces == {0: got[0].text, 1: got[0].text, 2: got[0].text}


def test_every_stop_string_cuts_though_the_server_gets_four(remote, server, local):
    [full] = local.generate(PYTHON_PROMPT, GREEDY)
    stop = full.text[len(full.text) // 2 :][:3]
    stops = ("@@1", "@@2", "@@3", "@@4", "@@5", stop)
    server.configure(max_stops=4, token_delay=0.05)  # as OpenAI: more than 4 is an error
    pieces: list[str] = []
    [got] = remote.generate(PYTHON_PROMPT, GREEDY.with_(stop=stops), on_text=lambda i, t: pieces.append(t))
    [want] = local.generate(PYTHON_PROMPT, GREEDY.with_(stop=stops))
    assert server.stats()["last_request"]["stop"] == list(stops[:4])
    assert _wait_for(lambda: server.stats()["aborted"] >= 1)  # the client hung up once the answer was cut
    assert got.text == full.text[: full.text.find(stop)] == want.text
    assert "".join(pieces) == got.text
    assert got.finish_reason == "stop"
    assert got.token_count == len(want.token_ids)
    assert got.logprob == pytest.approx(want.logprob, abs=1e-3)


def test_a_stop_string_the_server_knows_is_cut_there(remote, local):
    [full] = local.generate(PYTHON_PROMPT, GREEDY)
    stop = full.text[len(full.text) // 3 :][:2]
    [got] = remote.generate(PYTHON_PROMPT, GREEDY.with_(stop=(stop,)))
    assert got.text == full.text[: full.text.find(stop)] and got.finish_reason == "stop"


def test_cancel_event_ends_within_one_piece_and_hangs_up(remote, server, local):
    server.configure(token_delay=0.1)
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(i: int, text: str) -> None:
        pieces.append(text)
        if len(pieces) == 2:
            cancel.set()

    start = time.monotonic()
    [got] = remote.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=200), on_text=on_text, cancel=cancel)
    assert time.monotonic() - start < 2.0  # 200 pieces would take 20 s
    assert got.finish_reason == "cancelled"
    assert len(pieces) == 2 and got.text.startswith("".join(pieces))
    [full] = local.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=200))
    assert full.text.startswith(got.text)
    assert _wait_for(lambda: server.stats()["aborted"] >= 1)


def test_keyboard_interrupt_returns_what_arrived(remote, server):
    server.configure(token_delay=0.1)
    pieces: list[str] = []

    def on_text(i: int, text: str) -> None:
        pieces.append(text)
        if len(pieces) == 3:
            raise KeyboardInterrupt

    start = time.monotonic()
    [got] = remote.generate(PYTHON_PROMPT, GenerationOptions(max_new_tokens=200), on_text=on_text)
    assert time.monotonic() - start < 2.0
    assert got.finish_reason == "cancelled" and got.text.startswith("".join(pieces)) and got.text
    assert _wait_for(lambda: server.stats()["aborted"] >= 1)


def test_cancel_while_the_server_has_not_answered_yet(remote, server):
    server.configure(first_delay=5.0)
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    start = time.monotonic()
    [got] = remote.generate(PYTHON_PROMPT, GREEDY, cancel=cancel)
    timer.cancel()
    assert time.monotonic() - start < 2.0
    assert got.finish_reason == "cancelled" and got.text == ""
    completions = server.stats()["completions"]
    [again] = remote.generate(PYTHON_PROMPT, GREEDY, cancel=cancel)  # already set: nothing is sent
    assert again.finish_reason == "cancelled" and server.stats()["completions"] == completions


def test_a_server_without_logprobs_still_generates(remote, server, local):
    server.configure(logprobs=False)
    [got] = remote.generate(PYTHON_PROMPT, GREEDY)
    [want] = local.generate(PYTHON_PROMPT, GREEDY)
    assert got.text == want.text and got.logprob == 0.0 and got.token_count == 0
    assert "logprobs" not in server.stats()["last_request"]  # asked again without, and remembered
    remote.generate(PYTHON_PROMPT, GREEDY)
    assert "logprobs" not in server.stats()["last_request"]


# -- scoring ---------------------------------------------------------------------------------------------------

PROMPT = "import json\n\ndef load(path):\n"
CONTINUATIONS = ["    return json.load(open(path))\n", "    with open(path) as f:\n", "    pass\n", "x = 1\n"]


def test_score_matches_the_local_engine(remote, local):
    got = remote.score(PROMPT, CONTINUATIONS)
    want = local.score(PROMPT, CONTINUATIONS)
    assert sorted(range(len(got)), key=got.__getitem__) == sorted(range(len(want)), key=want.__getitem__)
    tok = local.tokenizer
    for g, w, c in zip(got, want, CONTINUATIONS):
        if tok.encode(PROMPT + c) == tok.encode(PROMPT) + tok.encode(c):  # same tokens both ways: same number
            assert g == pytest.approx(w, abs=1e-3)
    assert remote.score(PROMPT, []) == []


@pytest.mark.parametrize("refusal", [False, 500])
def test_score_falls_back_to_one_prompt_per_request(remote, server, refusal):
    want = remote.score(PROMPT, CONTINUATIONS)
    assert isinstance(server.stats()["last_request"]["prompt"], list)
    server.configure(list_prompts=refusal)
    fresh = RemoteEngine(server.url, MODEL, api_key=KEY)
    assert fresh.score(PROMPT, CONTINUATIONS) == pytest.approx(want, abs=1e-9)
    sent = server.stats()["last_request"]
    assert sent["prompt"] == PROMPT + CONTINUATIONS[-1] and sent["max_tokens"] == 1 and sent["echo"] is True
    assert fresh._echo_batched is False


def test_score_without_echo_says_which_server_can_rerank(remote, server):
    server.configure(echo=False)
    with pytest.raises(RemoteModelError) as error:
        remote.score(PROMPT, CONTINUATIONS)
    assert "Reranking needs a server that returns the log-probabilities of the prompt" in str(error.value)
    assert "vLLM" in str(error.value) and one_sentence(str(error.value))


def test_score_without_logprobs_says_which_server_can_rerank(remote, server):
    server.configure(logprobs=False)
    with pytest.raises(RemoteModelError, match="Reranking needs a server"):
        remote.score(PROMPT, CONTINUATIONS[:1])


# -- token counting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["vllm", "llama.cpp", "llama-cpp-python"])
def test_count_tokens_uses_the_servers_tokenizer(remote, server, local, shape):
    server.configure(tokenize=shape)
    assert remote.count_tokens(PYTHON_PROMPT) == local.count_tokens(PYTHON_PROMPT)
    assert remote._tokenize_shape == shape
    assert remote.count_tokens(PROMPT) == local.count_tokens(PROMPT)
    assert remote.count_tokens("") == 0


def test_count_tokens_estimates_without_an_endpoint_and_remembers(remote, server):
    server.configure(tokenize="none")
    assert remote.count_tokens("x" * 35) == 10 == math.ceil(35 / 3.5)
    assert remote._tokenize_shape == "estimate"
    server.configure(tokenize="vllm")
    assert remote.count_tokens("y" * 7) == 2  # not asked again


# -- errors the user can meet ----------------------------------------------------------------------------------


def test_connection_refused_on_a_closed_port():
    engine = RemoteEngine(f"http://127.0.0.1:{free_port()}/v1", MODEL, timeout=5)
    for call in (
        lambda: engine.generate("x", GREEDY),
        lambda: engine.score("x", ["y"]),
        lambda: engine.count_tokens("x"),
    ):
        with pytest.raises(RemoteModelError) as error:
            call()
        message = str(error.value)
        assert "connection refused" in message and "start the model server" in message and one_sentence(message)


def test_unknown_host(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(RemoteModelError) as error:
        RemoteEngine("http://gpu-box.invalid:8000/v1", MODEL).generate("x", GREEDY)
    assert "cannot be found: check the URL" in str(error.value) and one_sentence(str(error.value))


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_api_key(server, monkeypatch, key):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    engine = RemoteEngine(server.url, MODEL, api_key=key)
    with pytest.raises(RemoteModelError) as error:
        engine.generate(PYTHON_PROMPT, GREEDY)
    message = str(error.value)
    assert "HTTP 401" in message and "set OPENAI_API_KEY" in message and one_sentence(message)
    assert ("refused the API key" if key else "needs an API key") in message


def test_unknown_model_lists_the_models_offered(server):
    engine = RemoteEngine(server.url, "bigcode/starcoder2-15b", api_key=KEY)
    for call in (lambda: engine.generate(PYTHON_PROMPT, GREEDY), lambda: engine.score(PROMPT, CONTINUATIONS)):
        with pytest.raises(RemoteModelError) as error:
            call()
        message = str(error.value)
        assert "has no model 'bigcode/starcoder2-15b'" in message
        assert f"it offers {MODEL}" in message and f"openai:{server.url}#{MODEL}" in message
        assert one_sentence(message)


def test_url_that_is_not_the_api_root(server):
    engine = RemoteEngine(server.root, MODEL, api_key=KEY)  # forgot /v1
    with pytest.raises(RemoteModelError) as error:
        engine.generate(PYTHON_PROMPT, GREEDY)
    message = str(error.value)
    assert "HTTP 404" in message and "usually ends in /v1" in message and one_sentence(message)


def test_a_reply_that_is_not_json(remote, server):
    server.configure(garbage=True)
    for call in (lambda: remote.generate(PYTHON_PROMPT, GREEDY), lambda: remote.score(PROMPT, CONTINUATIONS)):
        with pytest.raises(RemoteModelError) as error:
            call()
        message = str(error.value)
        assert "did not answer with JSON (it sent text/html" in message and "/v1" in message
        assert one_sentence(message)


def test_a_server_that_does_not_answer_in_time(server):
    server.configure(first_delay=2.0)
    engine = RemoteEngine(server.url, MODEL, api_key=KEY, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(RemoteModelError) as error:
        engine.generate(PYTHON_PROMPT, GREEDY)
    assert time.monotonic() - start < 1.9
    message = str(error.value)
    assert "sent nothing for 0.5 s" in message and "try again" in message and one_sentence(message)


def test_a_rejected_request_passes_on_the_servers_reason(remote):
    with pytest.raises(RemoteModelError) as error:
        remote.generate(PYTHON_PROMPT, GREEDY.with_(top_p=-1.0, temperature=0.5))
    message = str(error.value)
    assert "rejected the request (HTTP 400: top_p must be in (0, 1], got -1.0)" in message
    assert one_sentence(message)


def test_a_server_that_hangs_up_mid_answer(remote, server):
    server.configure(break_after=3)
    with pytest.raises(RemoteModelError) as error:
        remote.generate(PYTHON_PROMPT, GREEDY)
    message = str(error.value)
    assert "closed the stream before the answer was complete" in message and one_sentence(message)


def test_an_error_event_mid_answer(remote, server):
    server.configure(error_after=3)
    with pytest.raises(RemoteModelError) as error:
        remote.generate(PYTHON_PROMPT, GREEDY)
    message = str(error.value)
    assert "failed while answering (CUDA out of memory)" in message and one_sentence(message)
