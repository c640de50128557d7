"""A scripted OpenAI-compatible chat server on 127.0.0.1, for the tests of the one chat client's two users
(trace rewriting and the LLM judge): it answers ``POST /v1/chat/completions``, serves the scripted actions first, logs every request
and counts the requests in flight. ``BAD_REPLIES`` are the 200 replies that are not chat completions, and
:class:`Drip` a body sent a byte at a time."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENDPOINT = "/v1/chat/completions"


def completion(content: str, model: str = "fake") -> bytes:
    """A successful chat-completion body."""
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()


def error(message: str) -> bytes:
    return json.dumps({"error": {"message": message}}).encode()


def _without_message(**choice) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop", **choice}],
        }
    ).encode()


# name -> (status, headers, payload): what a proxy, a broken server or a filter may answer with a 200.
BAD_REPLIES = {
    "text/plain": (200, {"Content-Type": "text/plain"}, b"upstream busy, try later"),
    "empty body": (200, {}, b""),
    "JSON null": (200, {}, b"null"),
    "empty choices": (200, {}, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()),
    "null choices": (200, {}, json.dumps({"id": "x", "object": "chat.completion", "choices": None}).encode()),
    "choices not a list": (
        200,
        {},
        json.dumps({"id": "x", "object": "chat.completion", "choices": "ok"}).encode(),
    ),
    "no message": (200, {}, _without_message()),
    "null message": (200, {}, _without_message(message=None)),
    "null content": (200, {}, _without_message(message={"role": "assistant", "content": None})),
    "content not text": (200, {}, _without_message(message={"role": "assistant", "content": {"a": 1}})),
}


class Drip:
    """A payload sent one byte every ``interval`` seconds after the headers (each read is quick, the whole is
    not); it stops early when the client hangs up or the server closes."""

    def __init__(self, payload: bytes, interval: float = 0.05):
        self.payload, self.interval = payload, interval

    def __len__(self) -> int:
        return len(self.payload)


class FakeChatServer:
    """``respond(server, body, action) -> (status, headers, payload)`` answers each request; ``action`` is the
    next item of ``script`` (None once it is empty). ``delay`` holds each request open (released on close) so
    that concurrent requests overlap."""

    def __init__(self, respond: Callable):
        self.respond = respond
        self.script: list = []
        self.requests: list[dict] = []  # request bodies, in arrival order
        self.headers: list[dict] = []  # their headers, lower-cased names
        self.delay = 0.0
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def prompts(self) -> list[str]:
        """The last message of every request."""
        return [r["messages"][-1]["content"] for r in self.requests]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    action = server.script.pop(0) if server.script else None
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                if server.delay:
                    server._release.wait(server.delay)
                with server._lock:
                    server.in_flight -= 1
                if self.path == ENDPOINT:
                    status, headers, payload = server.respond(server, body, action)
                else:
                    status, headers, payload = 404, {}, error(f"no route {self.path}")
                self.send_response(status)
                for k, v in {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(payload)),
                    **headers,
                }.items():
                    self.send_header(k, v)
                self.end_headers()
                if isinstance(payload, Drip):
                    self._drip(payload)
                else:
                    self.wfile.write(payload)

            def _drip(self, drip: Drip):
                try:
                    for k in range(len(drip.payload)):
                        if server._release.wait(drip.interval):
                            return
                        self.wfile.write(drip.payload[k : k + 1])
                        self.wfile.flush()
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> FakeChatServer:
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def aim_the_judge(monkeypatch, server: FakeChatServer, cache) -> None:
    """lmms-eval's judge environment pointed at ``server``, with a private verdict cache and quick retries."""
    for name, value in {
        "API_TYPE": "openai",
        "OPENAI_API_URL": server.url,
        "OPENAI_API_KEY": "test-key",
        "MODEL_VERSION": "judge-model",
        "MOSS_JUDGE_CACHE": str(cache),
        "MOSS_JUDGE_BACKOFF": "0.01",
        "MOSS_JUDGE_RETRIES": "3",
    }.items():
        monkeypatch.setenv(name, value)
