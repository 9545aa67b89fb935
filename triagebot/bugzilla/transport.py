"""How the bot talks HTTP to Bugzilla: one `requests.Session` with our timeout, a request
budget (requests per minute), counting by kind, no redirects, and retries with backoff
(urllib3's `Retry`): reads on connection errors, 5xx and a 429 that says when; a PUT is never
retried once sent (the comment may have landed), only a connection that could not be opened.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclasses.dataclass
class Attempts:
    """Tries and backoff seconds of the call under way, kept by `BotRetry` for the message
    of a call that failed after its retries."""

    tries: int = 0
    slept: float = 0.0


class RequestBudget:
    """At most `per_minute` requests in any 60 s window (sliding window); `acquire` sleeps
    when over. BMO blocks an IP for an hour when it trips a limit, so we stay under it."""

    window = 60.0

    def __init__(
        self,
        per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute is not None and per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1, or None")
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self._stamps: collections.deque[float] = collections.deque()

    def acquire(self) -> float:
        """Take one request from the budget; returns the seconds slept for it."""
        if self.per_minute is None:
            return 0.0
        now = self.clock()
        self._expire(now)
        waited = 0.0
        if len(self._stamps) >= self.per_minute:
            until = self._stamps[0] + self.window
            waited = until - now
            if waited > 0:
                log.info("request budget of %d/min reached: waiting %.1fs", self.per_minute, waited)
                self.sleep(waited)
            now = max(self.clock(), until)
            self._expire(now)
        self._stamps.append(now)
        return max(waited, 0.0)

    def _expire(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.window:
            self._stamps.popleft()


class BotRetry(Retry):
    """urllib3's Retry with injectable sleeps, and two refusals: a 429 without Retry-After
    (bugzilla.mozilla.org's hour-long block restarts with every request, so hammering it is
    the worst move) and a Retry-After longer than `give_up_after` (the next poll will do)."""

    sleeper: Callable[[float], None] = staticmethod(time.sleep)
    give_up_after: float = 60.0
    attempts: Attempts | None = None

    def new(self, **kw: Any) -> BotRetry:
        retry = super().new(**kw)
        retry.sleeper = self.sleeper
        retry.attempts = self.attempts
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and not has_retry_after:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> BotRetry:
        if self.attempts is not None:
            self.attempts.tries += 1
        try:
            wait = self.get_retry_after(response) if response is not None else None
        except InvalidHeader:
            wait = None
        if wait is not None and wait > self.give_up_after:
            raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:.0f}s is too long"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep_for_retry(self, response: Any) -> bool:
        wait = self.get_retry_after(response)
        if wait:
            self._sleep(wait)
        return bool(wait)

    def sleep(self, response: Any = None) -> None:
        """urllib3's public `sleep`, with our sleeper: Retry-After, else the backoff."""
        after = self.respect_retry_after_header and response is not None
        if not (after and self.sleep_for_retry(response)):
            backoff = self.get_backoff_time()
            if backoff > 0:
                self._sleep(backoff)

    def _sleep(self, seconds: float) -> None:
        if self.attempts is not None:
            self.attempts.slept += seconds
        self.sleeper(seconds)


BACKOFF_MAX = 30.0  # seconds, the longest single backoff


def longest_write(timeout: float, retries: int, backoff: float) -> float:
    """The longest a write can take before the bot knows its fate: every try timing out
    (the first and each retry of a connection that could not be opened) plus every backoff
    at its longest (exponential, capped, plus the jitter). An unconfirmed write younger
    than this may still land, so the next poll leaves it alone that long."""
    waits = sum(min(BACKOFF_MAX, backoff * 2**i) + backoff for i in range(retries))
    return timeout * (retries + 1) + waits


def make_retry(
    retries: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
    attempts: Attempts | None = None,
) -> BotRetry:
    """Reads and connection errors are retried; status retries for GET only; never a PUT or
    POST that reached the server (urllib3 retries a connect error for any method: the request
    was not sent)."""
    params = inspect.signature(Retry.__init__).parameters
    newer = {"backoff_jitter": backoff, "backoff_max": BACKOFF_MAX}  # urllib3 2 has them
    kwargs = {name: value for name, value in newer.items() if name in params}
    retry = BotRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        **kwargs,
    )
    retry.sleeper = sleep
    retry.attempts = attempts
    return retry


def request_kind(method: str, path: str) -> str:
    """What a REST request is for, as counted by `Client.requests_made` and the devserver:
    version, time, search, bug, comments, update, product, user, ..."""
    marker = path.find("/rest/")
    tail = path[marker + 6 :] if marker >= 0 else path.lstrip("/")
    parts = [p for p in tail.split("/") if p]
    head = parts[0] if parts else ""
    method = method.upper()
    if head == "bug":
        if len(parts) == 1:
            return "search" if method == "GET" else "create"
        if len(parts) >= 3 and parts[2] == "comment":
            return "comments" if method == "GET" else "comment"
        if len(parts) >= 3 and parts[2] == "history":
            return "history"
        return "update" if method == "PUT" else "bug"
    if head == "valid_login":
        return "user"
    return head or "other"


def resolve_environment_once(session: requests.Session, url: str) -> None:
    """Proxies and CA bundle from the environment, read once for the one server the bot
    talks to. requests otherwise re-reads the proxy environment on every request (a third of
    the CPU of a write). ~/.netrc, the other thing requests takes from the environment, is
    left out on purpose: the API key is the bot's only credential."""
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


class BotSession(requests.Session):
    """A session that gives every request our timeout (python-bugzilla passes its own 300 s),
    takes it from the request budget, counts it by kind and refuses redirects."""

    def __init__(
        self,
        timeout: float,
        budget: RequestBudget,
        counter: collections.Counter[str],
        user_agent: str,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.budget = budget
        self.counter = counter
        self.user_agent = user_agent

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["timeout"] = self.timeout
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "User-Agent": self.user_agent}
        method_s = method.decode() if isinstance(method, bytes) else method
        url_s = url.decode() if isinstance(url, bytes) else url
        # A redirect would carry the key (query or header) wherever Location points; a REST
        # API has no business redirecting, so it is an error naming where it pointed.
        kwargs["allow_redirects"] = False
        self.budget.acquire()
        self.counter[request_kind(method_s, urlsplit(url_s).path)] += 1
        response = super().request(method, url, *args, **kwargs)
        if response.is_redirect:
            target = urlsplit(response.headers.get("Location", ""))
            raise requests.TooManyRedirects(
                f"Bugzilla answered HTTP {response.status_code} redirecting to "
                f"{target.scheme}://{target.netloc}{target.path}: configure that URL instead"
            )
        return response
