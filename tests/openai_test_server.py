"""A real OpenAI-compatible completions server for the tests, backed by any object with the Engine protocol.

It runs as its own process (`python tests/openai_test_server.py --onnx FOLDER`), so the remote engine is tested over
real sockets, chunked transfer and Server-Sent Events, against answers that a real model computed. It speaks what
vLLM speaks: /v1/completions (streamed or not, n, stop, seed, logprobs, echo, a list of prompts), /v1/models,
/tokenize at the root, and an API key. POST /debug/config switches on the ways other servers differ or fail
(llama.cpp's /tokenize body, no echo, OpenAI's cap of 4 stop strings, slowness, a reply that is not JSON), and
GET /debug/stats tells what the server saw (the last request, streams the client hung up on).
"""

from __future__ import annotations

import subprocess

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_codegen.engine import Engine, GenerationOptions

DEFAULT_CONFIG: dict[str, Any] = {
    "tokenize": "vllm",  # "vllm" | "llama.cpp" (/tokenize bodies) | "llama-cpp-python" (/extras/tokenize) | "none"
    "echo": True,  # False: ignore echo, as llama.cpp's server does
    "logprobs": True,  # False: refuse logprobs with HTTP 400
    "list_prompts": True,  # False: refuse a list of prompts with HTTP 400; 500: fail, as llama-cpp-python does
    "ignore_n": False,  # True: answer one candidate whatever n asks, as llama-cpp-python does
    "max_stops": None,  # 4: refuse longer stop lists with HTTP 400, as OpenAI does
    "first_delay": 0.0,  # seconds before the first byte of a completions answer
    "token_delay": 0.0,  # seconds after each streamed piece
    "garbage": False,  # answer completions with an HTML page, as a proxy in front of a dead server does
    "break_after": None,  # a number of pieces: then hang up mid-stream, as a crashing server does
    "error_after": None,  # a number of pieces: then send an error event, as vLLM does when generation fails
}


class _RecordingTokenizer:
    """Stands in for the engine's tokenizer during a streamed request, to see the token ids behind each piece of
    text (the engine decodes a candidate's tokens just before it reports the new text), so that every piece can
    carry its tokens' log-probabilities as vLLM's do."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.last: list[int] = []

    def decode(self, ids: list[int]) -> str:
        self.last = list(ids)
        return self.inner.decode(ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _CharTokenizer:
    """For an injected engine without a tokenizer: one token per character."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i) for i in ids)


@dataclass
class ServerState:
    engine: Engine
    model_name: str
    api_key: str | None = None
    config: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CONFIG))
    stats: dict[str, Any] = field(default_factory=lambda: {"aborted": 0, "completions": 0, "last_request": None})
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tokenizer(self) -> Any:
        return getattr(self.engine, "tokenizer", None) or _CharTokenizer()

    def token_logprobs(self, ids: list[int], first: int) -> list[float | None]:
        """log p(ids[k] | ids[:k]) for k >= first (None at k = 0, which nothing predicts), from one forward pass
        of the ONNX engine; an engine without one gets the chain rule over its public `score`."""
        forward = getattr(self.engine, "_forward", None)
        if forward is not None and ids:
            import numpy as np

            from jupyter_codegen.sampling import log_softmax

            batch = np.array([ids], dtype=np.int64)
            logits, _ = forward(batch, np.ones_like(batch), np.arange(len(ids), dtype=np.int64)[None, :], None, all_logits=True)
            rows = log_softmax(logits[0])
            return [None if k == 0 else float(rows[k - 1, ids[k]]) for k in range(first, len(ids))]
        decode = self.tokenizer.decode
        return [
            None if k == 0 else self.engine.score(decode(ids[:k]), [decode(ids[k : k + 1])])[0]
            for k in range(first, len(ids))
        ]

    def logprobs_block(self, ids: list[int], first: int, start_offset: int) -> dict:
        """The completions API's logprobs object for ids[first:]."""
        texts = [self.tokenizer.decode([i]) for i in ids[first:]]
        values = self.token_logprobs(ids, first)
        offsets, position = [], start_offset
        for text in texts:
            offsets.append(position)
            position += len(text)
        top = [None if v is None else {t: v} for t, v in zip(texts, values)]
        return {"tokens": texts, "token_logprobs": values, "text_offset": offsets, "top_logprobs": top}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TestServer

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    @property
    def state(self) -> ServerState:
        return self.server.state

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "BadRequestError") -> None:
        self._send(status, {"object": "error", "message": message, "type": kind, "code": status})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _authorized(self) -> bool:
        key = self.state.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send(401, {"error": "Unauthorized"})
        return False

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # -- routes -------------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path == "/debug/stats":
            self._send(200, self.state.stats)
        elif self.path == "/v1/models":
            if self._authorized():
                ctx = getattr(self.state.engine, "context_window", None)
                model = {"id": self.state.model_name, "object": "model", "owned_by": "tests", "max_model_len": ctx}
                self._send(200, {"object": "list", "data": [model]})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self._error(400, "The request body is not valid JSON.")
            return
        if self.path == "/debug/config":
            self.state.config.update(body)
            self._send(200, self.state.config)
        elif self.path == "/debug/reset":
            self.state.config = dict(DEFAULT_CONFIG)
            self.state.stats.update(aborted=0, completions=0, last_request=None)
            self._send(200, self.state.config)
        elif self.path == "/extras/tokenize" and self.state.config["tokenize"] == "llama-cpp-python":
            if self._authorized():
                self._send(200, {"tokens": self.state.tokenizer.encode(body["input"])})
        elif self.path == "/tokenize" and self.state.config["tokenize"] in ("vllm", "llama.cpp"):
            if self._authorized():
                self._tokenize(body)
        elif self.path == "/v1/completions":
            if self._authorized():
                self._completions(body)
        else:
            self._send(404, {"detail": "Not Found"})

    def _tokenize(self, body: dict) -> None:
        encode = self.state.tokenizer.encode
        if self.state.config["tokenize"] == "llama.cpp":
            # llama.cpp answers a body without "content" with no tokens rather than an error.
            self._send(200, {"tokens": encode(body["content"]) if "content" in body else []})
        elif "prompt" not in body:
            self._error(400, "1 validation error for TokenizeRequest: prompt field required")
        else:
            tokens = encode(body["prompt"])
            ctx = getattr(self.state.engine, "context_window", None)
            self._send(200, {"count": len(tokens), "max_model_len": ctx, "tokens": tokens})

    def _completions(self, body: dict) -> None:
        state, config = self.state, self.state.config
        state.stats["last_request"] = body
        state.stats["completions"] += 1
        if config["garbage"]:
            self._send(200, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", "text/html")
            return
        if body.get("model") != state.model_name:
            self._error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
            return
        prompts = body.get("prompt", "")
        if isinstance(prompts, list) and config["list_prompts"] is not True:
            if config["list_prompts"] == 500:
                self._send(
                    500, {"error": {"message": "", "type": "internal_server_error", "param": None, "code": None}}
                )
            else:
                self._error(400, "prompt must be a string")
            return
        prompts = prompts if isinstance(prompts, list) else [prompts]
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        if config["max_stops"] is not None and len(stop) > config["max_stops"]:
            self._error(400, f"'stop' may hold at most {config['max_stops']} strings")
            return
        logprobs = body.get("logprobs")
        if logprobs is not None and not config["logprobs"]:
            self._error(400, "logprobs is not supported by this server")
            return
        max_tokens = int(body.get("max_tokens", 16))
        echo = bool(body.get("echo")) and config["echo"]
        problem = _invalid(body, max_tokens)
        if problem:
            self._error(400, problem)
            return
        options = GenerationOptions(
            max_new_tokens=max_tokens,
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            seed=body.get("seed"),
            n=1 if config["ignore_n"] else int(body.get("n", 1)),
            stop=tuple(stop),
        )
        time.sleep(config["first_delay"])
        if body.get("stream"):
            self._stream(prompts, options, logprobs is not None, echo)
        else:
            self._whole(prompts, options, logprobs is not None, echo)

    def _envelope(self, choices: list[dict]) -> dict:
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.state.model_name,
            "choices": choices,
        }

    def _finished(self, prompt: str, completion: Any, logprobs: bool, echo: bool) -> tuple[str, dict | None]:
        """The choice's text beyond what streamed, and its logprobs object."""
        tokenizer = self.state.tokenizer
        prompt_ids = tokenizer.encode(prompt)
        generated = list(completion.token_ids) if completion.token_ids else tokenizer.encode(completion.text)
        ids = prompt_ids + generated
        if not logprobs:
            return completion.text, None
        if echo:
            return completion.text, self.state.logprobs_block(ids, 0, 0)
        return completion.text, self.state.logprobs_block(ids, len(prompt_ids), 0)

    def _generate(
        self, prompt: str, options: GenerationOptions, recorder: _RecordingTokenizer | None = None, **kwargs: Any
    ) -> list[Any]:
        if options.max_new_tokens == 0:
            return [_Empty() for _ in range(max(1, options.n))]
        engine = self.state.engine
        with self.state.lock:
            if recorder is None:
                return engine.generate(prompt, options, **kwargs)
            engine.tokenizer = recorder
            try:
                return engine.generate(prompt, options, **kwargs)
            finally:
                engine.tokenizer = recorder.inner

    def _whole(self, prompts: list[str], options: GenerationOptions, logprobs: bool, echo: bool) -> None:
        choices = []
        for p, prompt in enumerate(prompts):
            for i, completion in enumerate(self._generate(prompt, options)):
                text, block = self._finished(prompt, completion, logprobs, echo)
                choices.append(
                    {
                        "index": p * options.n + i,
                        "text": (prompt if echo else "") + text,
                        "logprobs": block,
                        "finish_reason": completion.finish_reason,
                    }
                )
        self._send(200, self._envelope(choices))

    def _stream_prompt(
        self, first: int, prompt: str, options: GenerationOptions, logprobs: bool, send: Any, cancel: threading.Event
    ) -> None:
        """The pieces of one prompt's candidates (choice indices from `first`), each with its tokens' logprobs."""
        inner = getattr(self.state.engine, "tokenizer", None)
        prompt_ids = self.state.tokenizer.encode(prompt)
        recorder = _RecordingTokenizer(inner) if logprobs and inner is not None else None
        sent = [0] * options.n  # tokens whose log-probabilities went out, per candidate

        def tokens_block(i: int, ids: list[int]) -> dict | None:
            if not logprobs or len(ids) <= sent[i]:
                return None
            block = self.state.logprobs_block(prompt_ids + ids, len(prompt_ids) + sent[i], 0)
            sent[i] = len(ids)
            return block

        def on_text(i: int, delta: str) -> None:
            block = tokens_block(i, recorder.last) if recorder is not None else None
            send({"index": first + i, "text": delta, "logprobs": block, "finish_reason": None})
            time.sleep(self.state.config["token_delay"])

        completions = self._generate(prompt, options, recorder, on_text=on_text, cancel=cancel)
        for i, completion in enumerate(completions):
            # The last piece carries the tokens not reported yet (all of them, for an engine not watched).
            block = tokens_block(i, list(completion.token_ids))
            send({"index": first + i, "text": "", "logprobs": block, "finish_reason": completion.finish_reason})

    def _stream(self, prompts: list[str], options: GenerationOptions, logprobs: bool, echo: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        cancel = threading.Event()

        pieces = 0
        config = self.state.config

        def send(choice: dict) -> None:
            nonlocal pieces
            if cancel.is_set():
                return
            try:
                if pieces == config["break_after"]:
                    cancel.set()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if pieces == config["error_after"]:
                    cancel.set()
                    error = {"object": "error", "message": "CUDA out of memory", "type": "InternalServerError"}
                    self._chunk(f"data: {json.dumps({'error': error})}\n\ndata: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self._chunk(f"data: {json.dumps(self._envelope([choice]))}\n\n")
                pieces += 1
            except OSError:  # the client hung up: stop generating, as vLLM aborts the request
                cancel.set()
                self.state.stats["aborted"] += 1

        try:
            self._chunk(": keep-alive comment, which clients must skip\n\n")
            for p, prompt in enumerate(prompts):
                self._stream_prompt(p * options.n, prompt, options, logprobs, send, cancel)
            if not cancel.is_set():
                self._chunk("data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.state.stats["aborted"] += 1
        self.close_connection = True


def _invalid(body: dict, max_tokens: int) -> str | None:
    """vLLM's checks of the sampling options, with its wording."""
    temperature, top_p, n = float(body.get("temperature", 1.0)), float(body.get("top_p", 1.0)), int(body.get("n", 1))
    if temperature < 0:
        return f"temperature must be non-negative, got {temperature}."
    if not 0 < top_p <= 1:
        return f"top_p must be in (0, 1], got {top_p}."
    if n < 1:
        return f"n must be at least 1, got {n}."
    if max_tokens < 0:
        return f"max_tokens must be at least 0, got {max_tokens}."
    return None


@dataclass
class _Empty:
    """max_tokens 0: nothing generated (only the echoed prompt is wanted)."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    logprob: float = 0.0
    finish_reason: str = "length"


class TestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServerState, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


def serve(engine: Engine, model_name: str, api_key: str | None = None, port: int = 0) -> TestServer:
    """A server for `engine` on 127.0.0.1 (a free port unless given); call serve_forever() to run it."""
    return TestServer(ServerState(engine, model_name, api_key), port=port)


def stop_process(process: subprocess.Popen) -> None:
    """Ends a server process the tests started: politely first, then for sure."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True, help="an exported ONNX model folder")
    parser.add_argument("--model-name", default="tiny")
    parser.add_argument("--api-key")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    from jupyter_codegen.onnx_engine import OnnxEngine

    engine = OnnxEngine.from_folder(args.onnx, device="cpu", threads=args.threads)
    server = serve(engine, args.model_name, args.api_key, args.port)
    print(f"LISTENING {server.url}", flush=True)  # the fixture waits for this line
    server.serve_forever()


if __name__ == "__main__":
    main()

