"""The Bugzilla client: what the bot asks of Bugzilla, each a known, small number of requests.

Bugzilla's error body (sometimes with HTTP 200/201) and every library or transport exception
become one `BugzillaError`. python-bugzilla's public API serves where it can (connecting, the
PUT, a bug's history); the shared session makes the reads it cannot: the comments of several
bugs in one request (its `get_comments` makes one per bug), the paged search without a
library object per bug, `whoami`.
"""

from __future__ import annotations

import collections
import difflib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import bugzilla as pybz
import requests
from bugzilla.exceptions import BugzillaHTTPError
from requests.adapters import HTTPAdapter

from triagebot import __version__
from triagebot.bugzilla.redaction import install_redaction, redact
from triagebot.bugzilla.transport import (
    Attempts,
    BotSession,
    RequestBudget,
    longest_write,
    make_retry,
    resolve_environment_once,
)
from triagebot.core.bugs import Bug, Change, Comment, Flag
from triagebot.files.config import Bugzilla as BugzillaConfig

log = logging.getLogger(__name__)

SEARCH_FIELDS = (
    "id,creator,creator_detail,summary,creation_time,last_change_time,whiteboard,flags,"
    "product,component,status"
)
# ids=1234567& is 12 characters: 500 ids keep the URL under BMO's 8 KiB limit (414 beyond).
COMMENT_BATCH = 500
# Codes meaning "this bug is not readable": the comments batch then fails as a whole.
UNREADABLE_CODES = frozenset({101, 102})
# "A REST API resource was not found for 'GET /...'": Bugzilla's REST 404.
RESOURCE_NOT_FOUND = 32614
# Codes from 100000 up are Bugzilla's internal errors (a failure of the server, not of the
# request); they may arrive with HTTP 200 or 201.
INTERNAL_ERRORS_FROM = 100000


# -- errors ------------------------------------------------------------------------------
class BugzillaError(Exception):
    """A failed Bugzilla call. `code` is Bugzilla's error code, None when Bugzilla gave no
    answer (timeout, connection, 5xx, not JSON): then a write may or may not have landed.
    The message never contains the API key nor a URL carrying it."""

    def __init__(
        self,
        message: str,
        code: int | None = None,
        bug_id: int | None = None,
        *,
        http_status: int | None = None,
    ) -> None:
        self.message = redact(message)
        self.code = code
        self.bug_id = bug_id
        self.http_status = http_status
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} (Bugzilla error {self.code})" if self.code else self.message

    @property
    def worth_a_retry(self) -> bool:
        """No answer, or a server error: the same request may succeed later (exit 1). An
        answered error (a wrong key, no access) is for the operator to fix (exit 2)."""
        if self.code is None:
            return True
        return self.code >= INTERNAL_ERRORS_FROM or (self.http_status or 0) >= 500

    def __repr__(self) -> str:
        return f"BugzillaError({self.message!r}, code={self.code!r}, bug_id={self.bug_id!r})"


class BugzillaUnreachable(BugzillaError):
    """No connection to Bugzilla at all (refused, unknown host, no answer in time): a message
    that stands on its own, `cannot reach Bugzilla at URL: why (N tries over S s)`."""


class NotABugzilla(BugzillaError):
    """The configured URL answers, but not as a Bugzilla's REST API (404 for /rest/version, a
    redirect): a configuration error a restart will not fix (exit 2, not 1)."""

    @property
    def worth_a_retry(self) -> bool:
        return False


# Bugzilla's answers meaning the API key is not accepted: invalid (306), or ignored where
# a login is needed (410, the header on 5.0). For the operator to fix, not worth a retry.
KEY_REJECTED = frozenset({306, 410})


def public_url(url: str) -> str:
    """`scheme://host:port/path` of a URL: no credentials, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


# Reasons meaning no connection was made at all: nothing was sent.
UNREACHABLE = ("connection refused", "host not found", "connection timed out")


def _connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in words, from the exception chain urllib3 and requests
    build (MaxRetryError.reason, __cause__, __context__, args)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, socket.gaierror) or type(item).__name__ == "NameResolutionError":
            return "host not found"
        if isinstance(item, ssl.SSLError):
            return f"TLS error ({item.reason or item})"
        name = type(item).__name__
        if isinstance(item, TimeoutError | requests.ConnectTimeout) or "ConnectTimeout" in name:
            return "connection timed out"
        if "ReadTimeout" in name:
            return "no answer in time"
        if "RemoteDisconnected" in name or "ConnectionReset" in name:
            return "connection closed without an answer"
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return "connection failed"


def _error_from_body(body: Any) -> tuple[int | None, str] | None:
    if isinstance(body, dict) and body.get("error"):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message") or "error")
    return None


def _map_exception(
    exc: BaseException, what: str, bug_id: int | None, where: str, tries: int, seconds: float
) -> BugzillaError:
    """One `BugzillaError` from whatever python-bugzilla, requests or urllib3 raised."""
    if isinstance(exc, BugzillaError):
        return exc
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        tries = max(tries, 1)
        count = f"{tries} {'try' if tries == 1 else 'tries'} over {seconds:.0f} s"
        if isinstance(exc, requests.ConnectionError):
            why = _connection_reason(exc)
            if why in UNREACHABLE or why.startswith("TLS"):
                return BugzillaUnreachable(f"cannot reach Bugzilla at {where}: {why} ({count})")
            return BugzillaError(f"{what}: {why} ({count})", None, bug_id)
        return BugzillaError(f"{what}: timed out, no answer in time ({count})", None, bug_id)
    if isinstance(exc, BugzillaHTTPError | requests.HTTPError):  # status not 400/401/404
        response = exc.response
        status = response.status_code if response is not None else None
        try:
            found = _error_from_body(response.json()) if response is not None else None
        except ValueError:
            found = None
        if found is not None:
            return BugzillaError(found[1], found[0], bug_id, http_status=status)
        reason = response.reason if response is not None else ""
        return BugzillaError(
            f"{what}: HTTP {status} {reason}".rstrip(), None, bug_id, http_status=status
        )
    if isinstance(exc, pybz.BugzillaError):
        code = getattr(exc, "code", None)
        message = str(exc)
        suffix = f" (code={code})"
        if code is not None and message.endswith(suffix):
            message = message[: -len(suffix)]
        return BugzillaError(message, code if isinstance(code, int) else None, bug_id)
    if isinstance(exc, requests.RequestException):
        return BugzillaError(f"{what}: {type(exc).__name__}: {exc}", None, bug_id)
    if isinstance(exc, ValueError):  # the answer was not JSON (a proxy's HTML page...)
        return BugzillaError(f"{what}: unreadable answer ({exc})", None, bug_id)
    return BugzillaError(f"{what}: {type(exc).__name__}: {exc}", None, bug_id)


# -- parsing -----------------------------------------------------------------------------
def parse_time(value: str | None) -> datetime | None:
    """Bugzilla's `2026-11-24T07:50:57Z` (REST times are UTC) as an aware datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """A search time: UTC, whole seconds (truncating only widens an inclusive `>=`)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_bug(raw: dict[str, Any]) -> Bug:
    detail = raw.get("creator_detail") or {}
    created = parse_time(raw.get("creation_time"))
    if created is None:
        raise BugzillaError(f"bug {raw.get('id')} came without creation_time", bug_id=raw.get("id"))
    return Bug(
        id=int(raw["id"]),
        summary=raw.get("summary") or "",
        creator=raw.get("creator") or detail.get("email") or detail.get("name") or "",
        creation_time=created,
        last_change_time=parse_time(raw.get("last_change_time")) or created,
        creator_id=detail.get("id"),
        creator_name=detail.get("real_name") or "",
        whiteboard=raw.get("whiteboard") or "",
        product=raw.get("product") or "",
        component=raw.get("component") or "",
        status=raw.get("status") or "",
        flags=tuple(
            Flag(
                f.get("name", ""),
                f.get("status", ""),
                f.get("requestee"),
                f.get("setter"),
                f.get("id"),
            )
            for f in raw.get("flags") or ()
        ),
    )


def parse_comment(raw: dict[str, Any], bug_id: int) -> Comment:
    return Comment(
        id=int(raw["id"]),
        bug_id=int(raw.get("bug_id") or bug_id),
        creator=raw.get("creator") or "",
        text=raw.get("text") or "",
        count=int(raw.get("count") or 0),
        creation_time=parse_time(raw.get("creation_time") or raw.get("time")),
    )


def _closest(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate `name` was most likely meant to be: the same but for case, else the
    closest spelling (difflib, case-insensitively), else None."""
    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None


def rest_url(url: str) -> str:
    """`http://h:p`, `http://h:p/`, `http://h:p/rest` and `http://h:p/rest/` all give
    `http://h:p/rest` (python-bugzilla turns `http://h:p/` into requests for `/version`)."""
    base = url.strip().rstrip("/")
    if not base.endswith("/rest"):
        base += "/rest"
    return base


# -- the client --------------------------------------------------------------------------
MAX_SEARCH_RESTARTS = 3


class Client:
    """What the bot asks of Bugzilla, each operation a known, small number of requests."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        key_in: str = "query",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        requests_per_minute: int | None = 60,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if key_in not in ("query", "header"):
            raise ValueError(f"key_in must be 'query' or 'header', not {key_in!r}")
        self.rest_url = rest_url(url)
        self.write_window = longest_write(timeout, retries, backoff)
        self.url = self.rest_url[: -len("/rest")]
        self.key_in = key_in
        self._api_key = api_key or None
        install_redaction(self._api_key)
        self.requests_made: collections.Counter[str] = collections.Counter()
        self.budget = RequestBudget(requests_per_minute, clock=clock, sleep=sleep)
        agent = f"triagebot/{__version__} python-bugzilla/{pybz.__version__}"
        self.session = BotSession(timeout, self.budget, self.requests_made, agent)
        resolve_environment_once(self.session, self.rest_url)
        self.attempts = Attempts()
        adapter = HTTPAdapter(max_retries=make_retry(retries, backoff, sleep, self.attempts))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if self._api_key and key_in == "header":
            self.session.headers["X-BUGZILLA-API-KEY"] = self._api_key
        self._bz: pybz.Bugzilla | None = None

    @classmethod
    def configured(
        cls, bugzilla: BugzillaConfig, api_key: str | None, budget: bool = True
    ) -> Client:
        """The client `[bugzilla]` describes (no request yet). `check` goes without the
        request budget: its few requests never come near one."""
        return cls(
            bugzilla.url,
            api_key,
            key_in=bugzilla.key_in,
            timeout=bugzilla.timeout_seconds,
            requests_per_minute=bugzilla.request_budget if budget else None,
        )

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"Client({self.url!r}, key_in={self.key_in!r}, api_key=<{key}>)"

    # -- plumbing ------------------------------------------------------------------------
    @property
    def library(self) -> pybz.Bugzilla:
        """python-bugzilla, connected on first use (one GET /rest/version). use_creds=False:
        no ~/.bugzillarc key or cached token may sneak in."""
        if self._bz is None:
            api_key = self._api_key if self.key_in == "query" else None
            try:
                self._bz = self._call(
                    "connect",
                    lambda: pybz.Bugzilla(
                        self.rest_url,
                        api_key=api_key,
                        use_creds=False,
                        force_rest=True,
                        requests_session=self.session,
                    ),
                )
            except BugzillaError as exc:
                raise self._not_a_bugzilla(exc) or exc from None
        return self._bz

    def _not_a_bugzilla(self, exc: BugzillaError) -> NotABugzilla | None:
        """The first request, `GET /rest/version`, answered 404 (any Bugzilla since 5.0 has
        it: the URL is not a Bugzilla's base; python-bugzilla reports a JSON 404 by its code
        alone) or with a redirect (already worded)."""
        where = public_url(self.url)
        if exc.http_status == 404 or exc.code == RESOURCE_NOT_FOUND:
            return NotABugzilla(
                f"{where}: GET {urlsplit(self.rest_url).path}/version answered HTTP 404: "
                "is this the base URL of a Bugzilla? ([bugzilla] url)"
            )
        if exc.code is None and "redirecting to" in exc.message:
            return NotABugzilla(f"{where}: {exc.message.split('TooManyRedirects: ')[-1]}")
        return None

    def connect(self) -> None:
        """Connect now (python-bugzilla's GET /rest/version), so that start-up costs are paid
        at start-up and a poll's request count is the poll's own."""
        self.library  # noqa: B018 - the property connects

    def _call(self, what: str, fn: Callable[[], Any], bug_id: int | None = None) -> Any:
        """Run one library call; every failure leaves as our BugzillaError, with no chained
        exception (whose message could hold a URL with the key)."""
        self.attempts.tries = 0
        self.attempts.slept = 0.0
        started = time.monotonic()
        try:
            result = fn()
        except Exception as exc:
            seconds = max(time.monotonic() - started, self.attempts.slept)
            where = public_url(self.url)
            error = _map_exception(exc, what, bug_id, where, self.attempts.tries, seconds)
        else:
            found = _error_from_body(result)  # an error answered with HTTP 200/201
            if found is None:
                return result
            error = BugzillaError(found[1], found[0], bug_id)
        if error.bug_id is None:
            error.bug_id = bug_id
        raise error

    def _get(
        self, path: str, params: dict[str, Any] | None = None, bug_id: int | None = None
    ) -> dict:
        """A GET over the shared session. Bugzilla 5.0 takes the key only as a query parameter;
        with `key_in="header"` the session carries it."""
        self.library  # noqa: B018 - connected first: start-up costs stay at start-up
        query: dict[str, Any] = {}
        if self._api_key and self.key_in == "query":
            query["Bugzilla_api_key"] = self._api_key
        query.update(params or {})

        def call() -> Any:
            response = self.session.get(self.rest_url + path, params=query)
            response.raise_for_status()
            return response.json()

        return self._call(f"GET {path}", call, bug_id)

    # -- reads ---------------------------------------------------------------------------
    def check_products(self, wanted: dict[str, list[str]]) -> list[str]:
        """Problems with the products and components the rules watch, for a clear start-up
        failure: an unknown product or component silently matches no bug. One request."""
        if not wanted:
            return []
        answer = self._get("/product", {"names": list(wanted)})
        found = {p.get("name"): p for p in answer.get("products") or ()}
        known: list[str] | None = None  # the server's product names, asked for at most once
        problems: list[str] = []
        for product, components in wanted.items():
            info = found.get(product)
            if info is None:
                close = _closest(product, [str(name) for name in found])
                if close is None:
                    known = self._product_names() if known is None else known
                    close = _closest(product, known)
                hint = f" (did you mean {close!r}?)" if close else ""
                problems.append(
                    f"unknown product {product!r}, or not visible to this account{hint}"
                )
                continue
            if info.get("is_active") is False:
                problems.append(f"product {product!r} is closed for new bugs")
            comps = {c.get("name"): c for c in info.get("components") or ()}
            for component in dict.fromkeys(components):
                comp = comps.get(component)
                if comp is None:
                    names = sorted(str(n) for n in comps)
                    close = _closest(component, names)
                    hint = f"did you mean {close!r}? " if close else ""
                    problems.append(
                        f"unknown component {component!r} in product {product!r} "
                        f"({hint}known: {', '.join(names) or 'none'})"
                    )
                elif comp.get("is_active") is False:
                    problems.append(
                        f"component {component!r} of product {product!r} is inactive "
                        "(closed for new bugs)"
                    )
        return problems

    def _product_names(self) -> list[str]:
        """The names of every product this account can see (`GET /rest/product?type=
        accessible`, Bugzilla 5.0 and later), for a did-you-mean; [] when the server will
        not list them. Asked only when a rule names an unknown product."""
        try:
            answer = self._get("/product", {"type": "accessible", "include_fields": "name"})
        except BugzillaError as exc:
            log.debug("no list of products for a suggestion: %s", exc)
            return []
        return [str(p["name"]) for p in answer.get("products") or () if p.get("name")]

    def search_changed(
        self, product: str, components: list[str], since: datetime, *, page_size: int = 500
    ) -> Iterator[list[Bug]]:
        """Bugs changed at or after `since` (`last_change_time`, inclusive, whole seconds):
        new bugs, bugs moved in from another component and bugs with new comments all come
        from this one read. A shifted page restarts the search (see `_pages`)."""
        params = {"last_change_time": format_time(since)}
        return self._pages(product, components, params, page_size, restart=True)

    def search_tagged(
        self, product: str, components: list[str], tag: str, *, page_size: int = 500
    ) -> Iterator[list[Bug]]:
        """Open or closed bugs whose whiteboard holds `tag` (Bugzilla's `whiteboard` search is
        a substring match). For the queue and the sweep: a bug that shifts between pages
        shows next time."""
        return self._pages(product, components, {"whiteboard": tag}, page_size, restart=False)

    def _pages(
        self,
        product: str,
        components: list[str],
        terms: dict[str, Any],
        page_size: int,
        *,
        restart: bool,
    ) -> Iterator[list[Bug]]:
        """A search in bug id order, one request per page. Each request asks for one bug more
        than a page: a page that comes back with no extra bug is the last (no empty request
        after a full page), and the extra bug's id is the one the next page must start with.
        Offset paging shifts when a bug leaves the results between two requests (moved, made
        private), which would hide the bug at the page boundary; with `restart`, the search
        then starts again from the top, skipping what was already yielded, and after a few
        restarts fails (the cursor stays put) rather than risk missing a bug."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        params: dict[str, Any] = {
            "product": product,
            "component": list(components),
            **terms,
            "include_fields": SEARCH_FIELDS,
            "order": "bug_id",
            "limit": page_size + 1,
        }
        yielded: set[int] = set()
        offset, expected, restarts = 0, None, 0
        while True:
            raw = self._get("/bug", {**params, "offset": offset}).get("bugs") or []
            if restart and expected is not None and (not raw or raw[0].get("id") != expected):
                restarts += 1
                if restarts > MAX_SEARCH_RESTARTS:
                    raise BugzillaError("search results kept shifting while paging")
                log.info("search results shifted while paging; restarting from the top")
                offset, expected = 0, None
                continue
            fresh = [b for b in map(parse_bug, raw[:page_size]) if b.id not in yielded]
            yielded.update(b.id for b in fresh)
            yield fresh
            if len(raw) <= page_size:
                return
            offset += page_size
            expected = raw[page_size].get("id")

    def search_ids(self, product: str, components: list[str], ids: list[int]) -> list[Bug]:
        """These bugs, if still in the product and components: one request per 500 ids."""
        found: list[Bug] = []
        for start in range(0, len(ids), COMMENT_BATCH):
            chunk = ",".join(map(str, ids[start : start + COMMENT_BATCH]))
            found += self._bugs({"id": chunk, "product": product, "component": list(components)})
        return found

    def get_bug(self, bug_id: int) -> Bug | None:
        """One bug, or None when it does not exist or this account cannot see it (either is an
        empty search, not an error)."""
        found = [b for b in self._bugs({"id": bug_id}, bug_id) if b.id == bug_id]
        return found[0] if found else None

    def _bugs(self, params: dict[str, Any], bug_id: int | None = None) -> list[Bug]:
        answer = self._get("/bug", {**params, "include_fields": SEARCH_FIELDS}, bug_id)
        return [parse_bug(raw) for raw in answer.get("bugs") or ()]

    def whoami(self) -> str | None:
        """The login the API key belongs to (`GET /rest/whoami`, Bugzilla 5.1 and later, and
        bugzilla.mozilla.org), or None where the server has no such method (5.0) or the key
        is refused there: the operator then names the bot in `[bugzilla] bot_login`."""
        try:
            answer = self._get("/whoami")
        except BugzillaError as exc:
            if exc.code is None and exc.http_status not in (404, 401, 403):
                raise  # no answer: say so, rather than pretend the server has no whoami
            return None
        login = answer.get("login") or answer.get("name")
        return str(login) if login else None

    def history(self, bug_id: int) -> list[Change]:
        """The product and component changes of one bug, oldest first: when it moved into
        what a rule watches. One request (python-bugzilla's public `bugs_history_raw`)."""
        bz = self.library
        answer = self._call(
            f"GET /rest/bug/{bug_id}/history", lambda: bz.bugs_history_raw([bug_id]), bug_id
        )
        changes = [
            Change(when, c["field_name"], str(c.get("removed", "")), str(c.get("added", "")))
            for entry in answer.get("bugs") or ()
            if int(entry.get("id", -1)) == bug_id
            for event in entry.get("history") or ()
            if (when := parse_time(event.get("when"))) is not None
            for c in event.get("changes") or ()
            if c.get("field_name") in ("product", "component")
        ]
        return sorted(changes, key=lambda c: c.when)

    def comments(
        self, bug_ids: Iterable[int], *, new_since: datetime | None = None
    ) -> dict[int, list[Comment]]:
        """Comments of many bugs: one request per 500 bugs; with `new_since`, only those
        posted after it (Bugzilla's filter, exclusive). An unreadable bug fails the whole
        batch (102); the batch is then bisected so readable bugs still get theirs, and the
        unreadable ones are absent from the result."""
        ids = list(dict.fromkeys(int(i) for i in bug_ids))
        result: dict[int, list[Comment]] = {}
        unreadable: list[int] = []
        since = format_time(new_since) if new_since is not None else None
        for start in range(0, len(ids), COMMENT_BATCH):
            self._comments_into(ids[start : start + COMMENT_BATCH], result, unreadable, since)
        if unreadable:
            log.warning(
                "comments of bug(s) %s are not readable by this account; left out",
                ", ".join(map(str, sorted(unreadable))),
            )
        return result

    def _comments_into(
        self,
        ids: list[int],
        result: dict[int, list[Comment]],
        unreadable: list[int],
        new_since: str | None = None,
    ) -> None:
        first, rest = ids[0], ids[1:]
        params: dict[str, Any] = {"ids": rest} if rest else {}
        if new_since is not None:
            params["new_since"] = new_since
        try:
            answer = self._get(f"/bug/{first}/comment", params, bug_id=first if not rest else None)
        except BugzillaError as exc:
            if exc.code not in UNREADABLE_CODES:
                raise
            if len(ids) == 1:
                unreadable.append(ids[0])
                return
            mid = len(ids) // 2
            self._comments_into(ids[:mid], result, unreadable, new_since)
            self._comments_into(ids[mid:], result, unreadable, new_since)
            return
        for key, entry in (answer.get("bugs") or {}).items():
            bug_id = int(key)
            result[bug_id] = [parse_comment(c, bug_id) for c in (entry or {}).get("comments") or ()]

    def users(self, *, names: Sequence[str] = (), ids: Sequence[int] = ()) -> list[dict[str, Any]]:
        """Many accounts in one GET /rest/user. Bugzilla 5.0 answers the whole request with
        error 51 when one of `names` has no account (the message names the login), and
        silently leaves out ids it does not know: the caller sees both."""
        params = {"names": list(names), "ids": [int(i) for i in ids]}
        return list(self._get("/user", {k: v for k, v in params.items() if v}).get("users") or [])

    # -- the write -----------------------------------------------------------------------
    def update(
        self,
        bug_id: int,
        *,
        comment: str | None,
        whiteboard: str | None,
        needinfo: list[str],
        clear_flags: Sequence[int] = (),
        markdown: bool = False,
    ) -> int | None:
        """Comment, whiteboard and needinfo flags in ONE PUT, so they land together or not at
        all (Bugzilla rejects the whole PUT if any part is bad: nothing was posted). Never
        retried once sent. Returns the comment id when the server says it (5.0 does not).
        `markdown`: sent with `is_markdown: true` (bugzilla.mozilla.org renders it); the key
        is left out otherwise, so a plain comment is the same request on every version."""
        flags: list[dict[str, Any]] = [{"id": i, "status": "X"} for i in dict.fromkeys(clear_flags)]
        flags += [
            {"name": "needinfo", "status": "?", "requestee": login, "new": True}
            for login in dict.fromkeys(needinfo)
        ]
        bz = self.library
        update = bz.build_update(whiteboard=whiteboard, flags=flags or None)
        # Not build_update's {"comment": {"comment": text}}, which Bugzilla renames for
        # back-compat: the documented {"body": text}. A tag-only change has none.
        if comment is not None:
            update["comment"] = {"body": comment, **({"is_markdown": True} if markdown else {})}
        answer = self._call(
            f"PUT /rest/bug/{bug_id}", lambda: bz.update_bugs([bug_id], update), bug_id
        )
        for entry in answer.get("bugs") or ():
            if int(entry.get("id", -1)) == bug_id:
                comment_id = (entry.get("comment") or {}).get("id")  # not in 5.0
                return int(comment_id) if comment_id is not None else None
        log.warning("bug %d: the update's answer does not mention the bug", bug_id)
        return None
