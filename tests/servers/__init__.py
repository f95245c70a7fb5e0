"""Local stand-ins for the model APIs, for testing the real SDKs without a network.

Each server is a context manager bound to 127.0.0.1 on a free port (``server.url``). A test scripts
it with a list of replies (played in order, one per request) or a callable ``f(body) -> reply``;
list items may themselves be callables. A reply is a JSON-able dict (sent with status 200) or a
``Reply`` (any status, headers, delay). Every request is recorded: ``server.requests`` holds the
parsed JSON bodies, ``server.headers`` their headers, so tests assert on what the SDK really sent.

Requests the real API would reject (a tool_use without its tool_result, roles out of order, ...)
get the API's 400 ``invalid_request_error`` and are listed in ``server.problems``; a script that
runs out answers 400 too (the SDKs do not retry a 400), so a runaway agent fails fast.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

ReplyLike = Union[dict, "Reply"]
Script = Union[list, Callable[[dict], ReplyLike]]


@dataclasses.dataclass
class Reply:
    """One HTTP answer. ``delay`` (seconds) simulates a model's latency."""

    body: Any
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's default of 5 serializes concurrent clients
    allow_reuse_address = True


class ScriptedServer:
    """Base: one POST endpoint answered from a script. Subclasses define the API's shapes."""

    path = "/"

    def __init__(self, script: Script | None = None) -> None:
        self._script = script if script is not None else []
        self._index = 0
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.problems: list[str] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what subclasses provide -------------------------------------------------------------
    def validate(self, body: dict[str, Any]) -> str | None:
        """Why the real API would reject this request body, or None."""
        return None

    def auth_problem(self, headers: dict[str, str]) -> str | None:
        """Why the real API would answer 401 to these (lower-cased) headers, or None."""
        return None

    def error_reply(self, status: int, message: str, kind: str) -> Reply:
        raise NotImplementedError

    # -- scripting -----------------------------------------------------------------------------
    def add(self, *replies: ReplyLike | Callable[[dict], ReplyLike]) -> None:
        """Append replies to a list script."""
        assert isinstance(self._script, list), "add() needs a list script"
        self._script.extend(replies)

    @property
    def remaining(self) -> int:
        return len(self._script) - self._index if isinstance(self._script, list) else 0

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            problem = self.validate(body)
            if problem:
                self.problems.append(problem)
                return self.error_reply(400, problem, "invalid_request_error")
            if callable(self._script):
                item: Any = self._script
            elif self._index < len(self._script):
                item = self._script[self._index]
                self._index += 1
            else:
                msg = f"fake server: script exhausted after {self._index} replies"
                self.problems.append(msg)
                return self.error_reply(400, msg, "invalid_request_error")
        if callable(item):
            item = item(body)
        return item if isinstance(item, Reply) else Reply(item)

    # -- the server ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "use the server as a context manager"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ScriptedServer:
        """Start serving (what ``with`` does; starting twice is a no-op)."""
        return self.__enter__()

    def __enter__(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = -1  # headers and body leave in one write (flushed after each request)

            def log_message(self, *a: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n)
                if self.path.split("?")[0] != server.path:
                    self._send(server.error_reply(404, f"no route {self.path}", "not_found_error"))
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError as e:
                    self._send(server.error_reply(400, f"body is not JSON: {e}", "invalid_request_error"))
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.headers.append(headers)
                denied = server.auth_problem(headers)
                if denied:
                    with server._lock:
                        server.requests.append(body)
                    self._send(server.error_reply(401, denied, "authentication_error"))
                    return
                try:
                    reply = server._next(body)
                except Exception as e:  # a broken script: make it visible, don't hang the client
                    server.problems.append(f"script raised {e!r}")
                    reply = server.error_reply(400, f"fake server: script raised {e!r}", "invalid_request_error")
                if reply.delay:
                    time.sleep(reply.delay)
                self._send(reply)

            def do_GET(self) -> None:
                self._send(server.get(self.path))

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = _HTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def get(self, path: str) -> Reply:
        return self.error_reply(404, f"no route GET {path}", "not_found_error")

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


from .chat_api import ChatAPIServer  # noqa: E402
from .messages_api import MessagesAPIServer  # noqa: E402

__all__ = ["ChatAPIServer", "MessagesAPIServer", "Reply", "ScriptedServer"]
