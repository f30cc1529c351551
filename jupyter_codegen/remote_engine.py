"""An engine that asks a remote OpenAI-compatible *completions* server (vLLM, TGI, llama.cpp server).

This is how a team shares one big GPU model: the notebook sends the exact prompt string that `formats` wrote and
streams the answer back. HTTP is spoken with the standard library only (http.client, Server-Sent Events read line by
line), so a remote model adds no dependency. Every failure a user can meet becomes a `RemoteModelError` whose
message is one sentence saying what to do. Proxy settings (HTTP_PROXY) are not used: model servers live on the
team's own network.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import socket
import ssl
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .decoding import TextStream
from .engine import Completion, FinishReason, GenerationOptions, TextCallback
from .errors import RemoteModelError
from .formats import PromptFormat, detect_format

SPEC_PREFIX = "openai:"
SPEC_EXAMPLE = "openai:http://gpu-box:8000/v1#bigcode/starcoder2-15b"
MAX_SERVER_STOPS = 4
"""OpenAI rejects more than 4 stop strings, so only the first 4 go to the server; all are applied here."""
CHARS_PER_TOKEN = 3.5
"""Estimate used when the server has no tokenize endpoint: code runs about 3.5 characters per token."""
_COUNT_CACHE_SIZE = 4096
_CANCEL_POLL_S = 0.05


def parse_remote_spec(spec: str) -> tuple[str, str]:
    """Split `openai:<base-url>#<model>` into (base_url without trailing slash, model)."""
    text = spec.strip()
    url, sep, model = text[len(SPEC_PREFIX) :].partition("#") if text.startswith(SPEC_PREFIX) else ("", "", "")
    url, model = url.strip().rstrip("/"), model.strip()
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if not (sep and model and parts.scheme in ("http", "https") and parts.hostname and port_ok) or (
        parts.query or parts.fragment
    ):
        raise RemoteModelError(
            f"{spec!r} is not a remote model name: write it as openai:<base-url>#<model>, e.g. {SPEC_EXAMPLE}."
        )
    return url, model


@dataclass
class _ServerAnswer(RemoteModelError):
    """The server answered with an HTTP error status (as opposed to not answering at all)."""

    def __init__(self, sentence: str, status: int, detail: str):
        super().__init__(sentence)
        self.status = status
        self.detail = detail


class _Rejected(_ServerAnswer):
    """HTTP 400/422: the server understood the request and refused it; callers may retry another shape."""


class _NotFound(_ServerAnswer):
    """HTTP 404 (or 405/501) on a path: the model name or the URL is wrong; the caller works out which."""


class _NotJson(RemoteModelError):
    """A 2xx answer that is not JSON: something other than an OpenAI-compatible API sits at that URL."""


@dataclass
class _Token:
    start: int
    """Where the token's text starts, in characters of the candidate's text (or the echoed text)."""
    text: str
    logprob: float | None


def _tokens_of(logprobs: Any, start: int) -> list[_Token]:
    """Token log-probabilities in either shape servers use: completions (tokens/token_logprobs/text_offset) or
    chat-style (content: [{token, logprob}]). Offsets missing from the reply are counted on from `start`."""
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("content"), list):
        entries = [e for e in logprobs["content"] if isinstance(e, dict)]
        texts = [str(e.get("token", "")) for e in entries]
        values = [e.get("logprob") for e in entries]
        offsets: list[Any] = []
    else:
        texts = [str(t) for t in logprobs.get("tokens") or []]
        values = list(logprobs.get("token_logprobs") or [])
        offsets = list(logprobs.get("text_offset") or [])
    tokens = []
    position = start
    for i, text in enumerate(texts):
        offset = offsets[i] if i < len(offsets) and isinstance(offsets[i], int) else position
        value = values[i] if i < len(values) and isinstance(values[i], (int, float)) else None
        tokens.append(_Token(offset, text, None if value is None or math.isnan(value) else float(value)))
        position = offset + len(text)
    return tokens


def _echo_tokens(logprobs: Any, echoed: str) -> list[_Token]:
    """The echoed tokens placed in the echoed text. When their texts end with that text, they are placed from its
    end, because a server that adds BOS reports its text ("<s>") ahead of the prompt and shifts text_offset."""
    tokens = _tokens_of(logprobs, 0)
    if "".join(t.text for t in tokens).endswith(echoed):
        end = len(echoed)
        for token in reversed(tokens):
            end -= len(token.text)
            token.start = end
    return tokens


@dataclass
class _Candidate:
    """One answer as it streams in: its raw text, its client-side stop cut, its token log-probabilities."""

    stops: tuple[str, ...]
    stream: TextStream = field(init=False)
    raw: str = ""
    tokens: list[_Token] = field(default_factory=list)
    token_chars: int = 0
    server_finish: str | None = None
    seen: bool = False
    """Whether the server sent anything for this candidate at all."""

    def __post_init__(self) -> None:
        self.stream = TextStream(self.stops)

    @property
    def done(self) -> bool:
        return self.stream.stopped or self.server_finish is not None

    def feed(self, text: str, logprobs: Any) -> str:
        """Take one streamed piece; return the text that became safe to show."""
        if self.done:
            return ""
        new = _tokens_of(logprobs, self.token_chars)
        # Offsets are counted here from the token texts: servers disagree on what text_offset is relative to.
        for token in new:
            token.start = self.token_chars
            self.token_chars += len(token.text)
        self.tokens.extend(new)
        self.raw += text
        return self.stream.update(self.raw)

    def completion(self, cancelled: bool) -> Completion:
        """The tokens counted are those up to the one that completed the first stop string, as the local engine
        counts them; without a client-side cut, every token the server reported."""
        kept = self.tokens
        if self.stream.stopped:
            ends = [self.raw.find(s) + len(s) for s in self.stops if s in self.raw]
            if ends:
                end = min(ends)
                kept = [t for t in self.tokens if t.start < end]
        if cancelled and not self.done:
            reason: FinishReason = "cancelled"
        elif self.stream.stopped or self.server_finish != "length":
            reason = "stop"
        else:
            reason = "length"
        logprob = sum(t.logprob for t in kept if t.logprob is not None)
        return Completion(text=self.stream.text, logprob=logprob, finish_reason=reason, token_count=len(kept))


class _CancelWatch:
    """Shuts the connection's socket once `cancel` is set, so a wait for the server's next bytes ends at once
    instead of after the next chunk (a busy server can take seconds before its first byte)."""

    def __init__(self, cancel: threading.Event | None):
        self.cancel = cancel
        self.connection: http.client.HTTPConnection | None = None
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        if cancel is not None:
            self._thread = threading.Thread(target=self._run, name="codegen-remote-cancel", daemon=True)
            self._thread.start()

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _run(self) -> None:
        assert self.cancel is not None
        while not self._finished.is_set():
            if self.cancel.wait(_CANCEL_POLL_S):
                sock = self.connection.sock if self.connection is not None else None
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self._finished.wait(_CANCEL_POLL_S)

    def stop(self) -> None:
        self._finished.set()
        if self._thread is not None:
            self._thread.join()


def _sse_events(response: http.client.HTTPResponse) -> Iterator[tuple[str, str]]:
    """(field, data) per Server-Sent Event, read line by line as the server sends them."""
    data: list[str] = []
    name = "data"
    while True:
        raw = response.readline()
        if not raw:
            if data:
                yield name, "\n".join(data)
            return
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield name, "\n".join(data)
            data, name = [], "data"
            continue
        if line.startswith(":"):
            continue  # a comment: servers send these to keep the connection alive
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "data":
            data.append(value)
        elif key == "error":  # llama.cpp's server reports a failure mid-stream this way
            name = "error"
            data.append(value)


def _detail(body: bytes) -> str:
    """The server's own explanation from an error body, short and on one line."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            text = str(error.get("message") or error.get("detail") or error.get("type") or "")
        elif error is not None:
            text = str(payload.get("message") or payload.get("detail") or error)
    text = re.sub(r"<[^>]+>", " ", text)  # an HTML error page: keep its words
    text = " ".join(text.split()).rstrip(".")
    return text[:200] + ("…" if len(text) > 200 else "")


_TOKENIZE: dict[str, Any] = {
    "vllm": lambda model, text: ("/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}),
    "llama.cpp": lambda model, text: ("/tokenize", {"content": text, "add_special": False}),
    # llama-cpp-python always counts the BOS token too: one token more than the text's own, which errs on the safe side.
    "llama-cpp-python": lambda model, text: ("/extras/tokenize", {"model": model, "input": text}),
}
"""Tokenize endpoints at the server's root, tried in this order: (path, JSON body) for (model, text)."""


class RemoteEngine:
    """An `Engine` over HTTP: generation, scoring and token counting on an OpenAI-compatible completions server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        format: PromptFormat | None = None,
        context_window: int = 4096,
        api_key: str | None = None,
        timeout: float = 60.0,
    ):
        """`format` defaults to left-to-right: a server does not tell which prompt layout its model was trained on.
        `api_key` defaults to the OPENAI_API_KEY environment variable. `timeout` bounds each wait for the server
        (connecting, and each pause between streamed pieces), not a whole answer."""
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteModelError(
                f"{base_url!r} is not a server URL: write it as http://host:port/v1, e.g. {SPEC_EXAMPLE}."
            )
        self.model = model
        self.name = model
        self.format: PromptFormat = format if format is not None else detect_format(())
        self.context_window = context_window
        self.api_key = api_key if api_key is not None else (os.environ.get("OPENAI_API_KEY") or None)
        self.timeout = timeout
        self.device = f"remote {self.base_url} ({model})"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        # vLLM and llama.cpp serve /tokenize at the server's root, beside the /v1 API.
        self._root = self._prefix.removesuffix("/v1")
        self._logprobs = True
        self._echo_batched: bool | None = None
        self._tokenize_shape: str | None = None
        """None: not probed yet; a key of _TOKENIZE: the endpoint that answers; "estimate": none does."""
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> RemoteEngine:
        base_url, model = parse_remote_spec(spec)
        return cls(base_url, model, **kwargs)

    def __repr__(self) -> str:
        return f"RemoteEngine({self.base_url!r}, {self.model!r}, format={self.format.name!r})"

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _connection_error(self, exc: BaseException) -> RemoteModelError:
        """The one sentence for a failure below HTTP (no answer, or no valid one)."""
        url = self.base_url
        if isinstance(exc, socket.gaierror):
            return RemoteModelError(
                f"The host {self._host!r} in {url} cannot be found: check the URL in the model name ({SPEC_PREFIX}"
                "<base-url>#<model>) and that this machine can reach that network."
            )
        if isinstance(exc, ConnectionRefusedError):
            return RemoteModelError(
                f"Nothing answers at {url} (connection refused): start the model server there, or check the URL "
                "and port in the model name."
            )
        if isinstance(exc, TimeoutError):
            return RemoteModelError(
                f"The server at {url} sent nothing for {self.timeout:g} s: it may be busy or still loading the model, "
                "so try again, or allow it more time with a longer timeout."
            )
        if isinstance(exc, ssl.SSLError):
            return RemoteModelError(
                f"The secure connection to {url} failed ({exc.reason or exc}): check that the URL's scheme, http or "
                "https, is the one the server speaks."
            )
        if isinstance(exc, (http.client.IncompleteRead, ConnectionResetError)):
            return RemoteModelError(
                f"The server at {url} closed the stream before the answer was complete: see that server's log, then "
                "try again."
            )
        if isinstance(exc, http.client.HTTPException):
            return RemoteModelError(
                f"The server at {url} broke off without a valid HTTP answer ({type(exc).__name__}): check that the URL "
                "points to an OpenAI-compatible server, and see that server's log."
            )
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return RemoteModelError(
            f"The connection to {url} failed ({reason}): check that the model server is running and reachable "
            "from this machine."
        )

    def _open(
        self, method: str, path: str, body: dict | None = None, watch: _CancelWatch | None = None
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Sends one request; returns the open response after turning any HTTP error status into its sentence."""
        connection = self._connect()
        if watch is not None:
            watch.connection = connection
        headers = {"Accept": "application/json, text/event-stream", "User-Agent": f"jupyter-codegen/{__version__}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            if response.status >= 400:
                self._raise_status(response.status, path, response.read())
        except BaseException:
            connection.close()
            raise
        return connection, response

    def _raise_status(self, status: int, path: str, body: bytes) -> None:
        url, detail = self.base_url, _detail(body)
        said = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            if self.api_key:
                raise RemoteModelError(
                    f"The server at {url} refused the API key ({said}): set OPENAI_API_KEY, or pass api_key, to the "
                    "key that server expects."
                )
            raise RemoteModelError(
                f"The server at {url} needs an API key ({said}): set OPENAI_API_KEY, or pass api_key, to the key "
                "that server expects."
            )
        if status in (404, 405, 501) or (
            status == 400 and re.search(r"model.*(does not exist|not found)", detail, re.IGNORECASE)
        ):
            raise _NotFound(
                f"The server at {url} has no {path} for the model {self.model!r} ({said}): check the URL (usually "
                "ending in /v1) and the model name.",
                status,
                detail,
            )
        if status in (400, 422):
            raise _Rejected(
                f"The server at {url} rejected the request ({said}): shorten the prompt or change the option that "
                "the server names.",
                status,
                detail,
            )
        if status in (408, 504):
            sentence = f"The server at {url} timed out ({said}): it may be busy, so try again, or ask for fewer tokens."
        elif status in (429, 503):
            sentence = f"The server at {url} is busy or not ready yet ({said}): wait a moment and try again."
        elif status >= 500:
            sentence = f"The server at {url} failed ({said}): see that server's log, then try again."
        else:
            sentence = f"The server at {url} answered {said}: check the URL in the model name and that server's log."
        raise _ServerAnswer(sentence, status, detail)

    def _parse_json(self, data: bytes | str, content_type: str | None) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
            raise _NotJson(
                f"The server at {self.base_url} did not answer with JSON (it sent {content_type or 'no content type'}"
                f" starting {text.strip()[:60]!r}): check that the URL points to an OpenAI-compatible API, usually "
                "ending in /v1."
            ) from None

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        """One request whose whole JSON answer is read at once."""
        try:
            connection, response = self._open(method, path, body)
            try:
                data = response.read()
            finally:
                connection.close()
        except RemoteModelError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise self._connection_error(exc) from exc
        return self._parse_json(data, response.getheader("Content-Type"))

    def _completions(self, body: dict) -> Any:
        """POST /completions, with a 404 explained: a wrong model name, or a URL that is not the API root."""
        try:
            return self._call("POST", f"{self._prefix}/completions", body)
        except _NotFound as exc:
            raise self._not_found(exc.detail) from None

    def _not_found(self, detail: str) -> RemoteModelError:
        url = self.base_url
        offered = self._offered_models()
        if offered is not None and self.model not in offered:
            choices = ", ".join(offered[:8]) + (", …" if len(offered) > 8 else "")
            if not offered:
                return RemoteModelError(
                    f"The server at {url} has no model {self.model!r} and lists none: check the model name."
                )
            return RemoteModelError(
                f"The server at {url} has no model {self.model!r}; it offers {choices}, so use a name like "
                f"{SPEC_PREFIX}{url}#{offered[0]}."
            )
        if offered is not None:
            return RemoteModelError(
                f"The server at {url} has the model {self.model!r} but no /completions endpoint (HTTP 404): it "
                "must offer the OpenAI completions API, not only chat."
            )
        said = f" ({detail})" if detail else ""
        return RemoteModelError(
            f"The server at {url} has no completions endpoint there (HTTP 404{said}) and lists no models: check the "
            "URL, which usually ends in /v1, and the model name."
        )

    def models(self) -> list[str]:
        """The model names the server offers (GET /models)."""
        reply = self._call("GET", f"{self._prefix}/models")
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list):
            raise RemoteModelError(
                f"The server at {self.base_url} answered /models without a model list: check that the URL points "
                "to an OpenAI-compatible API, usually ending in /v1."
            )
        return [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]

    def _offered_models(self) -> list[str] | None:
        try:
            return self.models()
        except RemoteModelError:
            return None

    # -- generation ---------------------------------------------------------------------------------------------

    def _generation_body(self, prompt: str, options: GenerationOptions, n: int) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": options.max_new_tokens,
            # Greedy: top_p 1 so that servers which check the pair do not complain.
            "temperature": 0.0 if options.greedy else options.temperature,
            "top_p": 1.0 if options.greedy else options.top_p,
            "n": n,
            "stream": True,
        }
        stops = [s for s in options.stop if s][:MAX_SERVER_STOPS]
        if stops:
            body["stop"] = stops
        if options.seed is not None:
            body["seed"] = options.seed
        if self._logprobs:
            body["logprobs"] = 1
        return body

    def generate(
        self,
        prompt: str,
        options: GenerationOptions,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Streams `options.n` answers; see `Engine.generate`. Greedy answers are all the same, so n > 1 greedy
        asks the server for one and copies it (older vLLM even refuses n > 1 with temperature 0)."""
        n = max(1, options.n)
        asked = 1 if options.greedy else n
        candidates = [_Candidate(tuple(s for s in options.stop if s)) for _ in range(asked)]

        def emit(index: int, delta: str) -> None:
            if delta and on_text is not None:
                for target in range(n) if asked == 1 else (index,):
                    on_text(target, delta)

        body = self._generation_body(prompt, options, asked)
        watch = _CancelWatch(cancel)
        try:
            cancelled = self._request(body, candidates, emit, watch)
            # A server that ignores n (llama-cpp-python) answers index 0 only: ask for the others one at a time.
            for index, candidate in enumerate(candidates):
                if cancelled:
                    break
                if not candidate.seen:
                    one = {**body, "n": 1}
                    if options.seed is not None:
                        one["seed"] = options.seed + index
                    cancelled = self._request(one, [candidate], lambda _, delta, k=index: emit(k, delta), watch)
        finally:
            watch.stop()
        completions: list[Completion] = []
        for index, candidate in enumerate(candidates):
            tail = candidate.stream.finish()
            if not cancelled:
                emit(index, tail)
            completions.append(candidate.completion(cancelled))
        if asked == 1 and n > 1:
            first = completions[0]
            completions += [replace(first, token_ids=list(first.token_ids)) for _ in range(n - 1)]
        return completions

    def _request(self, body: dict, candidates: list[_Candidate], emit: TextCallback, watch: _CancelWatch) -> bool:
        """One streamed request into `candidates`; True when it was cancelled."""
        if watch.cancelled:
            return True
        connection: http.client.HTTPConnection | None = None
        try:
            connection, response = self._open_generation(body, watch)
            if "text/event-stream" in (response.getheader("Content-Type") or ""):
                self._read_stream(response, candidates, emit, watch)
            else:  # a server that ignored stream=True answers all at once
                reply = self._parse_json(response.read(), response.getheader("Content-Type"))
                self._take_choices(reply, candidates, emit)
        except KeyboardInterrupt:
            return True
        except (OSError, http.client.HTTPException) as exc:
            if not watch.cancelled:
                raise self._connection_error(exc) from exc
        finally:
            if connection is not None:
                connection.close()  # also tells the server to stop generating
        return watch.cancelled

    def _open_generation(
        self, body: dict, watch: _CancelWatch
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Opens the stream; a server that refuses log-probabilities is asked again without them, once."""
        path = f"{self._prefix}/completions"
        try:
            return self._open("POST", path, body, watch)
        except _Rejected as exc:
            if "logprobs" not in body or "logprob" not in exc.detail.lower():
                raise
            self._logprobs = False
            return self._open("POST", path, {k: v for k, v in body.items() if k != "logprobs"}, watch)
        except _NotFound as exc:
            raise self._not_found(exc.detail) from None

    def _read_stream(
        self,
        response: http.client.HTTPResponse,
        candidates: list[_Candidate],
        emit: TextCallback,
        watch: _CancelWatch,
    ) -> None:
        """Reads events until the server says [DONE] or every answer has ended here (then the connection is closed
        early: the server was not told about every stop string)."""
        for kind, data in _sse_events(response):
            if watch.cancelled:
                return
            if data.strip() == "[DONE]":
                return
            payload = self._parse_json(data, "an event stream")
            if kind == "error" or (
                isinstance(payload, dict) and ("error" in payload or payload.get("object") == "error")
            ):
                raise RemoteModelError(
                    f"The server at {self.base_url} failed while answering ({_detail(data.encode())}): see that "
                    "server's log, then try again."
                )
            self._take_choices(payload, candidates, emit)
            if all(c.done for c in candidates):
                return
        # Candidates never seen are asked for again by the caller (a server that ignores n).
        if not watch.cancelled and (
            not any(c.seen for c in candidates) or any(c.seen and not c.done for c in candidates)
        ):
            raise RemoteModelError(
                f"The server at {self.base_url} closed the stream before the answer was complete: see that server's "
                "log, then try again."
            )

    def _take_choices(self, payload: Any, candidates: list[_Candidate], emit: TextCallback) -> None:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list):
            raise RemoteModelError(
                f"The server at {self.base_url} answered without completion choices: check that it offers the "
                "OpenAI completions API at that URL."
            )
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            if not isinstance(index, int) or not 0 <= index < len(candidates):
                continue
            candidate = candidates[index]
            candidate.seen = True
            emit(index, candidate.feed(str(choice.get("text") or ""), choice.get("logprobs")))
            reason = choice.get("finish_reason")
            if reason and candidate.server_finish is None:
                candidate.server_finish = str(reason)

    # -- scoring ------------------------------------------------------------------------------------------------

    def score(self, prompt: str, continuations: list[str]) -> list[float]:
        """log p(continuation | prompt), from the log-probabilities the server returns for an echoed prompt.

        The tokens summed are those that end after the prompt: a token that straddles the boundary depends on
        the continuation, so it counts.
        """
        texts = [prompt + c for c in continuations]
        scores = []
        for text, continuation, choice in zip(texts, continuations, self._echo(texts)):
            echoed = str(choice.get("text") or "")
            tokens = _echo_tokens(choice.get("logprobs"), echoed)
            if continuation and (not echoed.startswith(text) or not any(t.logprob is not None for t in tokens)):
                raise self._no_echo()
            scores.append(
                sum(
                    t.logprob
                    for t in tokens
                    if t.logprob is not None and t.start + len(t.text) > len(prompt) and t.start < len(text)
                )
            )
        return scores

    def _no_echo(self) -> RemoteModelError:
        return RemoteModelError(
            f"Reranking needs a server that returns the log-probabilities of the prompt (echo with logprobs), and "
            f"the server at {self.base_url} does not: serve the model with vLLM, or turn reranking off."
        )

    def _echo(self, texts: list[str]) -> list[dict]:
        """One choice per text: one batched request if the server takes a list of prompts, else one per text (the
        way that works is remembered). max_tokens is 1, not 0: llama-cpp-python reads 0 as "up to the context"."""
        if not texts:
            return []
        if len(texts) > 1 and self._echo_batched is not False:
            try:
                choices = self._echo_request(texts)
            except _ServerAnswer as exc:
                if not isinstance(exc, _Rejected) and exc.status < 500:
                    raise
                choices = []  # llama-cpp-python fails a list of prompts with HTTP 500
            self._echo_batched = len(choices) == len(texts)
            if self._echo_batched:
                return choices
        try:
            return [self._echo_request([text])[0] for text in texts]
        except _Rejected as exc:
            if re.search(r"echo|logprob", exc.detail, re.IGNORECASE):
                raise self._no_echo() from None
            raise

    def _echo_request(self, texts: list[str]) -> list[dict]:
        body = {
            "model": self.model,
            "prompt": texts if len(texts) > 1 else texts[0],
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        reply = self._completions(body)
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not isinstance(choices, list) or not choices:
            raise self._no_echo()
        return sorted((c for c in choices if isinstance(c, dict)), key=lambda c: c.get("index", 0))

    # -- token counting -----------------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Exact when the server has a tokenize endpoint (vLLM, llama.cpp); otherwise an estimate of
        len(text) / 3.5, which is enough to budget a prompt with some room to spare."""
        if not text:
            return 0
        with self._lock:
            if text in self._counts:
                self._counts.move_to_end(text)
                return self._counts[text]
        count = self._count(text)
        with self._lock:
            self._counts[text] = count
            while len(self._counts) > _COUNT_CACHE_SIZE:
                self._counts.popitem(last=False)
        return count

    @staticmethod
    def estimate_tokens(text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def _count(self, text: str) -> int:
        shapes = tuple(_TOKENIZE) if self._tokenize_shape is None else (self._tokenize_shape,)
        for shape in shapes:
            if shape == "estimate":
                break
            count = self._tokenize(shape, text)
            if count is not None:
                self._tokenize_shape = shape
                return count
        self._tokenize_shape = "estimate"
        return self.estimate_tokens(text)

    def _tokenize(self, shape: str, text: str) -> int | None:
        """The token count from one server's tokenize endpoint, or None when the server does not serve it."""
        path, body = _TOKENIZE[shape](self.model, text)
        try:
            reply = self._call("POST", f"{self._root}{path}", body)
        except (_Rejected, _NotFound, _NotJson):
            return None  # other failures (unreachable, locked, broken) are raised: an estimate would hide them
        if not isinstance(reply, dict):
            return None
        tokens = reply.get("tokens")
        count = reply.get("count")
        if isinstance(tokens, list) and tokens:
            return len(tokens)
        if isinstance(count, int) and count > 0:
            return count
        return None  # llama.cpp answers a body without "content" with no tokens at all


__all__ = ["Completion", "RemoteEngine", "parse_remote_spec"]
