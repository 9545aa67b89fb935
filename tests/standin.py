"""The loopback stand-in with fault injection, for the tests only (the crash harness, the secrecy
and hostile-input tests): `FaultyBugzilla` is `triagebot.demo.devserver.FakeBugzilla` plus

- `fail_next`: answer the next requests with an error instead of applying them;
- `on_request` hooks that see every request before and after it is applied and may drop the
  connection without an answer (a request that never landed, or one that landed and whose
  answer was lost), answer something else, or do anything at that instant (SIGKILL the client
  at request N);
- `settle`, which waits until every request a client sent has been answered or dropped: what
  the intent grace guarantees in real time, for a test that moves its clock past the grace;
- `snapshot`/`restore`, which rewind the whole state between runs;
- `mount`, which serves a `requests.Session` in process, without a socket.

None of this is in the runtime package: the demo and the benchmarks need none of it.
"""

from __future__ import annotations

import copy
import email.utils
import http
import json
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from triagebot.demo.devserver import DOCS, Answer, FakeBugzilla

# What an `on_request` hook may return instead of None (carry on): close the connection
# without answering.
DROP = "drop"
# The state `snapshot` copies and `restore` puts back.
_STATE = (
    "counts",
    "bugs",
    "users",
    "products",
    "_next_bug",
    "_next_user",
    "_next_comment",
    "_next_flag",
    "request_number",
)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request as an `on_request` hook sees it."""

    number: int  # 1-based, in order of arrival since the server was made (or restored)
    method: str
    path: str
    kind: str  # as `triagebot.bugzilla.transport.request_kind` names it: search, update...
    phase: str  # "before" it is applied, or "after" (a write has then landed)


Hook = Callable[[RequestInfo], Any]


class FaultyBugzilla(FakeBugzilla):
    """The stand-in, with faults and hooks a test sets."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_number = 0
        self._faults: list[dict[str, Any]] = []
        self._hooks: list[Hook] = []
        self._open = 0  # connections accepted and not yet closed
        self._open_lock = threading.Lock()

    def start(self) -> str:
        """As the stand-in's, counting the connections open: `settle` waits for none."""
        url = super().start()
        assert self._server is not None
        handler: Any = self._server.RequestHandlerClass
        fake = self

        class Counted(handler):  # type: ignore[misc,valid-type]
            def setup(self) -> None:
                with fake._open_lock:
                    fake._open += 1
                super().setup()

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with fake._open_lock:
                        fake._open -= 1

        self._server.RequestHandlerClass = Counted
        return url

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until no connection is open nor waiting to be accepted: every request that a
        client (a process killed mid-request included) sent has landed or been dropped. In
        real time the intent grace (60 s) guarantees this; a test that moves its clock past
        the grace must wait for it, or it repeats a write that is still on its way. Callers
        close their own sessions first. Served in process only (`mount`): nothing is on its way."""
        if self._server is None:
            return
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 2:  # twice in a row: a connection between the two checks is seen
            with self._open_lock:
                busy = self._open > 0
            pending, _, _ = select.select([self._server.socket], [], [], 0)
            quiet = 0 if busy or pending else quiet + 1
            if time.monotonic() > deadline:  # a hang guard, not a figure
                raise AssertionError(f"stand-in not settled after {timeout} s")
            time.sleep(0.01)

    def fail_next(
        self,
        status: int,
        *,
        kind: str | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` requests (of `kind`, or any) with `status` instead: for
        testing retries (503, 429 with Retry-After) and errors with HTTP 200/201. `body` is
        JSON-encoded, or sent as is when a string (an HTML error page)."""
        if body is None:
            body = {
                "error": True,
                "code": 100500,
                "message": "injected failure",
                "documentation": DOCS,
            }
        with self._lock:
            self._faults.append(
                {
                    "status": status,
                    "kind": kind,
                    "times": times,
                    "headers": headers or {},
                    "body": body,
                }
            )

    def on_request(self, hook: Hook) -> Hook:
        """Call `hook(info)` for every request, with `info.phase` "before" it is applied and
        "after" (not after a `fail_next` fault or a hook's early answer). The hook returns
        None to carry on, `DROP` to close the connection without an answer (before: nothing
        was applied; after: the change landed and its answer is lost), or `(status, body)` to
        answer that instead (after: the change stays applied). Hooks run in the server's
        thread, outside its lock, in the order added; the first non-None answer wins.
        Returns the hook, for `remove_hook`."""
        with self._lock:
            self._hooks.append(hook)
        return hook

    def remove_hook(self, hook: Hook) -> None:
        with self._lock:
            if hook in self._hooks:
                self._hooks.remove(hook)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state (bugs, users, products, counters, ids), for
        `restore`: one server can replay a scenario many times."""
        with self._lock:
            return copy.deepcopy({name: getattr(self, name) for name in _STATE})

    def restore(self, state: dict[str, Any]) -> None:
        """Back to a `snapshot`; pending `fail_next` faults and hooks are cleared too."""
        with self._lock:
            for name, value in copy.deepcopy(state).items():
                setattr(self, name, value)
            self._faults.clear()
            self._hooks.clear()
            self.requests.clear()
            self.puts.clear()
            self._changed()

    def mount(self, session: requests.Session) -> None:
        """Serve `session`'s requests to this server's URL in process, without a socket: the
        same answers, hooks and faults, several times faster, for tests that make thousands
        of requests. No urllib3 underneath, so no transport retries; a dropped connection is
        a `requests.ConnectionError`. The server must have a URL (`start`)."""
        if self.url is None:
            raise RuntimeError("start() the server first: the session is mounted on its URL")
        session.mount(self.url + "/", _InProcessAdapter(self))

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Answer | None:
        """The stand-in's answer, with the hooks run before and after it and the faults taken
        instead of it; None when a hook drops the connection."""
        kind = self.record(method, target)
        with self._lock:
            self.request_number += 1
            info = RequestInfo(self.request_number, method, urlsplit(target).path, kind, "before")
            hooks = list(self._hooks)
        try:
            early = _run_hooks(hooks, info)
            if early is not None:
                return early
            with self._lock:
                fault = self._take_fault(kind)
                if fault is not None:
                    return _encode(fault["status"], fault["body"], fault["headers"])
                status, answer = self.answer(method, target, headers, body)
            late = _run_hooks(hooks, replace(info, phase="after"))
        except _Dropped:
            return None
        if late is not None:
            return late
        return status, json.dumps(answer).encode(), {}

    def _take_fault(self, kind: str) -> dict[str, Any] | None:
        for fault in self._faults:
            if fault["kind"] in (None, kind):
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self._faults.remove(fault)
                return fault
        return None


def _encode(status: int, payload: Any, headers: dict[str, str]) -> Answer:
    """An injected answer: JSON-encoded, or sent as is when a string (an HTML error page)."""
    if isinstance(payload, str):
        return status, payload.encode(), headers
    return status, json.dumps(payload).encode(), headers


class _Dropped(Exception):
    """A hook asked to close the connection without an answer."""


def _run_hooks(hooks: list[Hook], info: RequestInfo) -> Answer | None:
    """The first hook's answer, None to carry on; raises `_Dropped` for `DROP`."""
    for hook in hooks:
        answer = hook(info)
        if answer is None:
            continue
        if answer == DROP:
            raise _Dropped
        status, payload = answer
        return _encode(status, payload, {})
    return None


class _InProcessAdapter(BaseAdapter):
    """A requests transport that hands each request to `FaultyBugzilla.handle` directly."""

    def __init__(self, fake: FaultyBugzilla) -> None:
        super().__init__()
        self.fake = fake

    def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        answer = self.fake.handle(request.method or "GET", target, dict(request.headers), body)
        if answer is None:
            raise requests.ConnectionError(
                f"Connection aborted: remote end closed connection without response "
                f"({request.method} {parts.path} dropped)",
                request=request,
            )
        status, payload, extra = answer
        response = requests.Response()
        response.status_code = status
        response.reason = http.HTTPStatus(status).phrase
        response.headers = CaseInsensitiveDict(
            {
                "Content-Type": "application/json; charset=UTF-8",
                "Date": email.utils.format_datetime(self.fake.clock().astimezone(UTC), True),
                **extra,
            }
        )
        response._content = payload
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        return
