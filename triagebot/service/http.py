"""The one small HTTP listener of `run`: health, metrics and the push hook.

The standard library's ThreadingHTTPServer, no framework: four routes do not need one. A
thread per connection, each with a socket timeout, so a slow client holds only its own
thread; bodies are read only up to MAX_BODY; a handler that raises answers 500 and is logged,
and the listener goes on.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB; a BMO webhook payload is a few kB
TIMEOUT_SECONDS = 10.0  # a client that sends nothing for this long is cut off


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: Message
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, document: Any) -> Response:
    return Response(status, (json.dumps(document, ensure_ascii=False) + "\n").encode())


def error(status: HTTPStatus, message: str | None = None) -> Response:
    return json_response(status, {"error": message or status.phrase})


Handler = Callable[[Request], Response]
# path -> method -> handler
Routes = Mapping[str, Mapping[str, Handler]]


class Listener:
    """Serves `routes` on host:port (port 0: a free one) from a daemon thread."""

    def __init__(
        self, host: str, port: int, routes: Routes, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.routes = routes
        handler = type("Handler", (_Handler,), {"listener": self, "timeout": timeout})
        server_class = _Server6 if ":" in host else ThreadingHTTPServer
        self._server = server_class((host, port), handler)
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-listener", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def respond(
        self, method: str, path: str, headers: Message, read: Callable[[int], bytes]
    ) -> Response:
        """The answer to one request; `read(n)` reads n bytes of its body."""
        methods = self.routes.get(path.split("?", 1)[0])
        if methods is None:
            return error(HTTPStatus.NOT_FOUND, f"no such path: {path.split('?', 1)[0]}")
        handler = methods.get(method)
        if handler is None:
            allow = ", ".join(sorted(methods))
            response = error(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} not allowed; use {allow}")
            return replace(response, headers=(("Allow", allow),))
        if headers.get("Transfer-Encoding"):
            return error(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        try:
            length = int(headers.get("Content-Length", "0"))
        except ValueError:
            return error(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
        if length < 0:
            return error(HTTPStatus.BAD_REQUEST, "Content-Length is negative")
        if length > MAX_BODY:
            return error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY} bytes")
        body = read(length) if length else b""
        return handler(Request(method, path, headers, body))


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    listener: Listener
    server_version = "triagebot"
    sys_version = ""

    def _serve(self) -> None:
        try:
            response = self.listener.respond(self.command, self.path, self.headers, self.rfile.read)
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        except Exception:  # any handler bug: a 500 and a log line, never a dead listener
            log.exception("http: %s %s failed", self.command, self.path.split("?", 1)[0])
            response = error(HTTPStatus.INTERNAL_SERVER_ERROR)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers only
                self.wfile.write(response.body)
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Requests at DEBUG: a scraper every 15 s would fill the log. Never the headers."""
        log.debug("http: %s %s", self.address_string(), format % args)
