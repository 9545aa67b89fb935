"""A loopback stand-in for Bugzilla 5.0's REST API: the subset the bot uses, with the shapes
recorded from a real 5.0.6 (tests/recordings/).

One implementation serves the end-to-end tests, the benchmark and `triagebot demo`, so the
behaviours that make the bot safe are modelled, not just the happy path: a PUT is validated
whole before anything is applied (an unknown needinfo requestee rejects the comment too), an
invisible bug fails a comments batch with 102 and is left out of searches, a wrong key is 306,
a write without a key is 410, and 5.0 ignores the X-BUGZILLA-API-KEY header (`header_ignored`).

Searches stay cheap with 10,000 bugs: bugs are kept in id order, a query's matches are cached
until the next change, and each page is a slice.

Only what the demo, the benchmarks and the tests share lives here. Fault injection (errors,
dropped connections, hooks at request N, snapshots, an in-process transport) is for tests
only, in `tests/standin.py`, which subclasses `FakeBugzilla` and overrides `handle`.
"""

from __future__ import annotations

import collections
import email.utils
import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from triagebot.bugzilla.transport import request_kind
from triagebot.demo import webhooks

DOCS = "https://bugzilla.readthedocs.org/en/5.0/api/"
VERSION = "5.0.6"
FLAG_TYPES = {"needinfo": 1}
MAX_COMMENT = 65535
# A bug's state that the REST API does not show; it shows the rest, in `add_bug`'s order.
INTERNAL = frozenset({"comments", "history", "invisible"})
KEY_PARAMS = ("Bugzilla_api_key", "api_key")
# A change's field as BMO's webhooks name it (Push splits flag changes by flag type; the
# stand-in has one, needinfo).
WEBHOOK_FIELDS = {"flagtypes.name": "needinfo"}
# Methods 5.0 runs without logging in: a wrong key is not noticed there (python-bugzilla's
# connect, GET /rest/version, therefore does not check the key).
LOGIN_EXEMPT = frozenset({"version", "time", "valid_login"})


# What `handle` answers: status, body, extra headers.
Answer = tuple[int, bytes, dict[str, str]]


class ApiError(Exception):
    """An error answered in Bugzilla's shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _missing(function: str, name: str) -> ApiError:
    return ApiError(
        400,
        50,
        f"The function {function} requires a {name} argument, and that argument was not set.",
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_date(value: str) -> datetime:
    """The forms Bugzilla accepts for creation_time; anything else is error 56."""
    text = value.strip()
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, 56, f"'{value}' is not a legal date.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class FakeBugzilla:
    """An in-memory Bugzilla 5.0 on 127.0.0.1, served from a daemon thread."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        header_ignored: bool = True,
        bot_login: str = "triagebot@example.org",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api_key = api_key
        # More API keys, each a user's: `add_user_key`. Lets a script file bugs as a reporter.
        self.user_keys: dict[str, str] = {}
        self.whoami = False  # 5.0.6 has no /rest/whoami; True answers like 5.1+ and BMO
        self.header_ignored = header_ignored
        self.bot_login = bot_login
        self.port = port
        self.clock = clock or (lambda: datetime.now(UTC))
        self.counts: collections.Counter[str] = collections.Counter()
        self.bugs: dict[int, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=1000)
        # Every PUT applied, as (bug id, JSON body): what tests assert a write carried.
        self.puts: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=1000)
        self.url: str | None = None
        self._lock = threading.RLock()
        self._next_bug = 1
        self._next_user = 1
        self._next_comment = 1
        self._next_flag = 1
        self._version = 0  # bumped on every change: invalidates the search cache
        self._search_cache: dict[tuple, list[int]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.webhooks = webhooks.Sender()  # BMO's, which 5.0 lacks: `add_webhook`
        self.add_product("Participation Infrastructure", ["Community IT", "General"])
        self.add_user(bot_login, "Triage Bot")

    # -- seeding -------------------------------------------------------------------------
    def add_product(
        self, name: str, components: Iterable[str], *, inactive: Iterable[str] = ()
    ) -> None:
        with self._lock:
            inactive = set(inactive)
            product = self.products.setdefault(
                name,
                {"id": len(self.products) + 1, "name": name, "is_active": True, "components": {}},
            )
            for component in components:
                product["components"].setdefault(
                    component,
                    {
                        "id": sum(len(p["components"]) for p in self.products.values()) + 1,
                        "name": component,
                        "is_active": component not in inactive,
                    },
                )

    def add_user(self, login: str, real_name: str = "", id: int | None = None) -> dict[str, Any]:
        """Registers a user (idempotent on the login); returns the account."""
        with self._lock:
            existing = self.users.get(login.lower())
            if existing is not None:
                if real_name:
                    existing["real_name"] = real_name
                return existing
            if id is None:
                id = self._next_user
            if any(u["id"] == id for u in self.users.values()):
                raise ValueError(f"user id {id} is taken")
            self._next_user = max(self._next_user, id + 1)
            self.users[login.lower()] = {
                "id": id,
                "name": login,
                "email": login,
                "real_name": real_name,
                "can_login": True,
                "groups": [],
            }
            return self.users[login.lower()]

    def add_bug(
        self,
        summary: str,
        description: str,
        creator: str,
        *,
        product: str = "Participation Infrastructure",
        component: str = "Community IT",
        creation_time: datetime | None = None,
        whiteboard: str = "",
    ) -> int:
        """Files a bug (the creator is registered if needed); returns its id."""
        with self._lock:
            user = self.add_user(creator)
            created = _iso(creation_time or self.clock())
            bug_id = self._next_bug
            self._next_bug += 1
            bug: dict[str, Any] = {
                "id": bug_id,
                "summary": summary,
                "creator": user["name"],
                "creator_detail": {k: user[k] for k in ("id", "name", "email", "real_name")},
                "creation_time": created,
                "last_change_time": created,
                "product": product,
                "component": component,
                "status": "UNCONFIRMED",
                "resolution": "",
                "is_open": True,
                "whiteboard": whiteboard,
                "flags": [],
                "cc": [],
                "alias": [],
                "assigned_to": "nobody@mozilla.org",
                "comments": [],
                "history": [],
                "invisible": False,
            }
            self._add_comment(bug, description, user["name"], created)
            self.bugs[bug_id] = bug
            self._changed()
            self._emit("bug.create", bug, user["name"], created)
            return bug_id

    def add_webhook(self, url: str, **options: Any) -> webhooks.Webhook:
        """A webhook as bugzilla.mozilla.org's preferences register it (see webhooks.py):
        product, component, api_key_header, api_key_value, name."""
        with self._lock:
            return self.webhooks.add(url, **options)

    def add_user_key(self, key: str, login: str, real_name: str = "") -> None:
        """An API key acting as `login` (registered if needed), as a reporter's own key."""
        with self._lock:
            self.user_keys[key] = self.add_user(login, real_name)["name"]

    def move_bug(self, bug_id: int, *, component: str, when: datetime | None = None) -> None:
        """A triager moves a bug to another component: the change goes in the bug's history
        and its last_change_time, as in Bugzilla."""
        who = "triager@example.org"
        with self._lock:
            bug = self.bugs[bug_id]
            now = _iso(when or self.clock())
            if component != bug["component"]:
                moved = {"removed": bug["component"], "added": component}
                bug["component"] = component
                bug["history"].append(
                    {"when": now, "who": who, "changes": [{"field_name": "component", **moved}]}
                )
                bug["last_change_time"] = now
                self.add_user(who)
                changes = [{"field": "component", **moved}]
                self._emit(_modified(changes), bug, who, now, changes=changes)
            self._changed()

    def add_comment(
        self, bug_id: int, text: str, creator: str, *, when: datetime | None = None
    ) -> int:
        """Somebody (the bot included, as another process would) comments; returns its id."""
        with self._lock:
            login = self.add_user(creator)["name"]
            return self._comment(self.bugs[bug_id], text, login, _iso(when or self.clock()))["id"]

    def set_invisible(self, bug_id: int, invisible: bool = True) -> None:
        """The bug goes in (or out of) a group the bot is not in."""
        with self._lock:
            self.bugs[bug_id]["invisible"] = invisible
            self._changed()

    def comments_of(self, bug_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self.bugs[bug_id]["comments"]]

    # -- serving -------------------------------------------------------------------------
    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL `http://127.0.0.1:PORT`."""
        if self._server is not None:
            assert self.url is not None
            return self.url
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll
            name=f"FakeBugzilla:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeBugzilla:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ----------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Answer | None:
        """One request: (status, JSON bytes, extra headers), encoded once. None closes the
        connection without an answer (never here; a test's subclass may)."""
        self.record(method, target)
        status, answer = self.answer(method, target, headers, body)
        return status, json.dumps(answer).encode(), {}

    def record(self, method: str, target: str) -> str:
        """Counts a request by kind (`counts`, `requests`); returns its kind."""
        path = urlsplit(target).path
        kind = request_kind(method, path)
        with self._lock:
            self.counts[kind] += 1
            self.requests.append((method, path))
        return kind

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        """Applies a request and returns (status, JSON document), errors in Bugzilla's shape."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            try:
                return self._route(method, parts.path, query, headers, body)
            except ApiError as err:
                return err.status, {
                    "error": True,
                    "code": err.code,
                    "message": err.message,
                    "documentation": DOCS,
                }

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any]:
        data: dict[str, Any] = {}
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise ApiError(400, 32000, "The request body is not valid JSON.") from None
            if not isinstance(data, dict):
                raise ApiError(400, 32000, "The request body must be a JSON object.")
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "rest":
            raise ApiError(404, 32614, f"A REST API resource was not found for '{method} {path}'.")
        parts = parts[1:]
        try:
            user = self._authenticate(query, headers, data)
        except ApiError:
            if not parts or parts[0] not in LOGIN_EXEMPT:
                raise
            user = None  # 5.0 does not look at the key there: a wrong one is anonymous
        match [method, *parts]:
            case ["GET", "version"]:
                return 200, {"version": VERSION}
            case ["GET", "time"]:
                times = dict.fromkeys(("db_time", "web_time", "web_time_utc"), _iso(self.clock()))
                return 200, times | {"tz_name": "UTC", "tz_offset": "+0000", "tz_short_name": "UTC"}
            case ["GET", "bug"]:
                return 200, self._search(query)
            case ["GET", "bug", ref]:
                shown = self._show(self._visible_bug(ref), _fields(query))
                return 200, {"bugs": [shown], "faults": []}
            case ["GET", "bug", ref, "history"]:
                bug = self._visible_bug(ref)
                history = [dict(h) for h in bug["history"]]
                return 200, {"bugs": [{"id": bug["id"], "alias": [], "history": history}]}
            case ["GET", "whoami"] if self.whoami:
                account = self.users[self._logged_in(user).lower()]
                shown = {k: account[k] for k in ("id", "real_name", "name")}
                return 200, shown | {"login": account["name"]}
            case ["GET", "bug", ref, "comment"]:
                return 200, self._comments(ref, query)
            case ["POST", "bug"]:
                return 200, self._create_bug(data, user)
            case ["POST", "bug", ref, "comment"]:
                return 201, self._post_comment(ref, data, user)
            case ["PUT", "bug", ref]:
                return 200, self._update(ref, data, user)
            case ["GET", "product"]:
                return 200, self._product(query)
            case ["GET", "user"]:
                return 200, self._user(query)
            case ["GET", "valid_login"]:
                login = (query.get("login") or [""])[0]
                return 200, {"result": user is not None and login.lower() == user.lower()}
        raise ApiError(
            404, 32614, f"A REST API resource was not found for '{method} /{'/'.join(parts)}'."
        )

    def _authenticate(
        self, query: dict[str, list[str]], headers: dict[str, str], data: dict[str, Any]
    ) -> str | None:
        """The login a request acts as, None when anonymous; a wrong key is error 306. Without
        an `api_key` the fake trusts everyone as the bot. 5.0 takes the key only as a
        parameter (query or JSON body); the header counts only when `header_ignored` is False
        (BMO, 5.3)."""
        if self.api_key is None:
            return self.bot_login
        keys = [v for name in KEY_PARAMS for v in query.get(name, [])]
        if isinstance(data.get("api_key"), str):
            keys.append(data["api_key"])
        header = {k.lower(): v for k, v in headers.items()}.get("x-bugzilla-api-key")
        if header is not None and not self.header_ignored:
            keys.append(header)
        if not keys:
            return None
        if any(k != self.api_key and k not in self.user_keys for k in keys):
            raise ApiError(
                400,
                306,
                "The API key you specified is invalid. Please check that you typed it correctly.",
            )
        return self.user_keys.get(keys[0], self.bot_login)

    def _logged_in(self, user: str | None) -> str:
        if user is None:
            raise ApiError(401, 410, "You must log in before using this part of Bugzilla.")
        return user

    # -- resources -----------------------------------------------------------------------
    def _search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        offset, limit = _int_param(query, "offset"), _int_param(query, "limit")
        if offset is not None and limit is None:
            raise _missing("Bug.search()", "limit")
        field = "last_change_time" if query.get("last_change_time") else "creation_time"
        since = _iso(_parse_date(query[field][0])) if query.get(field) else None
        ids: set[int] | None = None
        if query.get("id"):
            ids = {int(i) for v in query["id"] for i in v.split(",") if i.strip().isdigit()}
        products = tuple(sorted(query.get("product", [])))
        components = tuple(sorted(query.get("component", [])))
        id_key = tuple(sorted(ids)) if ids is not None else None
        key = (products, components, (field, since), id_key, self._version)
        matches = self._search_cache.get(key)
        if matches is None:
            wanted_products = {p.lower() for p in products}
            wanted_components = {c.lower() for c in components}
            # `self.bugs` is kept in id order; REST times are fixed-width UTC strings, so they
            # compare as strings.
            matches = [
                bug_id
                for bug_id, bug in self.bugs.items()
                if not bug["invisible"]
                and (not wanted_products or bug["product"].lower() in wanted_products)
                and (not wanted_components or bug["component"].lower() in wanted_components)
                and (since is None or bug[field] >= since)
                and (ids is None or bug_id in ids)
            ]
            self._search_cache = {key: matches}  # one query is paged at a time
        if query.get("whiteboard"):  # a substring, case aside, as Bugzilla's search does
            wanted = query["whiteboard"][0].casefold()
            matches = [i for i in matches if wanted in self.bugs[i]["whiteboard"].casefold()]
        start = offset or 0
        end = None if limit is None or limit == 0 else start + limit
        fields = _fields(query)
        return {"bugs": [self._show(self.bugs[i], fields) for i in matches[start:end]]}

    def _visible_bug(self, ref: str) -> dict[str, Any]:
        if not ref.isdigit():
            raise ApiError(404, 100, f"Bug alias {ref} does not exist.")
        if int(ref) not in self.bugs:
            raise ApiError(404, 101, f"Bug #{ref} does not exist.")
        bug = self.bugs[int(ref)]
        if bug["invisible"]:
            raise ApiError(401, 102, f"You are not authorized to access bug #{bug['id']}.")
        return bug

    def _show(self, bug: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
        return {
            name: [dict(f) for f in value] if name == "flags" else value
            for name, value in bug.items()
            if name not in INTERNAL and (fields is None or name in fields)
        }

    def _comments(self, ref: str, query: dict[str, list[str]]) -> dict[str, Any]:
        refs = [ref, *query.get("ids", [])]
        bugs = [self._visible_bug(r) for r in refs]  # one unreadable bug fails them all
        since = _iso(_parse_date(query["new_since"][0])) if query.get("new_since") else None
        answer: dict[str, Any] = {}
        for bug in bugs:
            comments = bug["comments"]
            if since is not None:
                comments = [c for c in comments if c["creation_time"] > since]  # exclusive
            answer[str(bug["id"])] = {"comments": [dict(c) for c in comments]}
        return {"bugs": answer, "comments": {}}

    def _create_bug(self, data: dict[str, Any], user: str | None) -> dict[str, Any]:
        """Bug.create as 5.0 answers it: 200 and `{"id": N}`; the description is comment 0."""
        login = self._logged_in(user)
        for name in ("product", "component", "summary", "version"):
            if not isinstance(data.get(name), str) or not data[name].strip():
                raise _missing("Bug.create", name)
        product = self.products.get(data["product"])
        if product is None:
            raise ApiError(
                400, 106, f"Product '{data['product']}' does not exist or you don't have access."
            )
        if data["component"] not in product["components"]:
            raise ApiError(
                400,
                51,
                f"There is no component named '{data['component']}' in the "
                f"'{data['product']}' product.",
            )
        description = data.get("description") or ""
        if not isinstance(description, str):
            raise ApiError(400, 32000, "description must be a string.")
        bug_id = self.add_bug(
            data["summary"].strip(),
            description,
            login,
            product=data["product"],
            component=data["component"],
            whiteboard=str(data.get("whiteboard") or ""),
        )
        return {"id": bug_id}

    def _post_comment(self, ref: str, data: dict[str, Any], user: str | None) -> dict[str, Any]:
        login = self._logged_in(user)
        bug = self._visible_bug(ref)
        text = data.get("comment")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, 54, "You must enter a comment.")
        self._check_comment(text)
        return {"id": self._comment(bug, text, login, _iso(self.clock()))["id"]}

    def _update(self, ref: str, data: dict[str, Any], user: str | None) -> dict[str, Any]:
        """Validates the whole change first, then applies it: all or nothing, like Bugzilla."""
        login = self._logged_in(user)
        bugs = [self._visible_bug(str(i)) for i in data.get("ids") or [ref]]
        comment = data.get("comment")
        text = None
        if comment is not None:
            if not isinstance(comment, dict):
                raise ApiError(400, 32000, "comment must be an object with a body.")
            text = comment.get("body", comment.get("comment"))  # {"comment": ...} is renamed
            if text is not None:
                self._check_comment(str(text))
        whiteboard = data.get("whiteboard")
        flag_changes = [self._check_flag(f) for f in data.get("flags") or ()]
        self.puts.append((int(bugs[0]["id"]), data))
        now = _iso(self.clock())
        changed = []
        for bug in bugs:
            changes: dict[str, dict[str, str]] = {}
            if whiteboard is not None and whiteboard != bug["whiteboard"]:
                changes["whiteboard"] = {"removed": bug["whiteboard"], "added": whiteboard}
                bug["whiteboard"] = whiteboard
            removed: list[str] = []
            added: list[str] = []
            cc = len(bug["cc"])
            for change in flag_changes:
                self._apply_flag(bug, change, login, now, removed, added)
            if added or removed:
                changes["flagtypes.name"] = {
                    "removed": ", ".join(removed),
                    "added": ", ".join(added),
                }
            if bug["cc"][cc:]:
                changes["cc"] = {"removed": "", "added": ", ".join(bug["cc"][cc:])}
            if text:
                posted = self._add_comment(bug, str(text), login, now)
                self._emit("comment.create", bug, login, now, comment=posted)
            if changes or text:
                bug["last_change_time"] = now
            if changes:
                fields = [
                    {"field": WEBHOOK_FIELDS.get(name, name), **change}
                    for name, change in sorted(changes.items())
                ]
                self._emit(_modified(fields), bug, login, now, changes=fields)
            changed.append(
                {
                    "id": bug["id"],
                    "last_change_time": bug["last_change_time"],
                    "alias": [],
                    "changes": changes,
                }
            )
        self._changed()
        return {"bugs": changed}

    def _check_comment(self, text: str) -> None:
        if len(text) > MAX_COMMENT:
            raise ApiError(400, 114, f"Comments cannot be longer than {MAX_COMMENT} characters.")

    def _check_flag(self, flag: Any) -> dict[str, Any]:
        if not isinstance(flag, dict):
            raise ApiError(400, 32000, "flags must be a list of objects.")
        name = flag.get("name")
        if flag.get("id") is None and name not in FLAG_TYPES:
            raise ApiError(400, 32000, f"The flag type '{name}' does not exist.")
        status = flag.get("status")
        if status not in ("?", "+", "-", "X"):
            raise ApiError(400, 129, f"The flag status {status} is invalid.")
        requestee = flag.get("requestee")
        return {**flag, "requestee": self._account(requestee)["name"] if requestee else requestee}

    def _apply_flag(
        self,
        bug: dict[str, Any],
        change: dict[str, Any],
        login: str,
        now: str,
        removed: list[str],
        added: list[str],
    ) -> None:
        """A flag change: `new` or no flag of that type adds one; otherwise the existing flag
        (by id, else the first of that type) is updated, or removed with status X. The flags
        before and after go in `removed` and `added`; a requestee joins the cc list."""
        flags = bug["flags"]
        existing = None
        if change.get("id") is not None:
            existing = next((f for f in flags if f["id"] == change["id"]), None)
        elif not change.get("new"):
            existing = next((f for f in flags if f["name"] == change["name"]), None)
        requestee = change.get("requestee")
        if existing is not None:
            removed.append(_flag_label(existing))
            if change["status"] == "X":
                flags.remove(existing)
            else:
                existing.update(status=change["status"], setter=login, modification_date=now)
                if requestee:
                    existing["requestee"] = requestee
                else:
                    existing.pop("requestee", None)
                added.append(_flag_label(existing))
        elif change["status"] != "X":
            flag = {
                "id": self._next_flag,
                "type_id": FLAG_TYPES.get(change["name"], 99),
                "name": change["name"],
                "status": change["status"],
                "setter": login,
                "creation_date": now,
                "modification_date": now,
            }
            if requestee:
                flag["requestee"] = requestee
            self._next_flag += 1
            flags.append(flag)
            added.append(_flag_label(flag))
        if requestee and requestee not in bug["cc"]:
            bug["cc"].append(requestee)

    def _product(self, query: dict[str, list[str]]) -> dict[str, Any]:
        names = {n.lower() for n in query.get("names", [])}
        ids = {int(i) for i in query.get("ids", []) if i.isdigit()}
        every = bool(query.get("type"))  # ?type=accessible: every product (all are, here)
        products = [
            {
                "id": product["id"],
                "name": product["name"],
                "description": "",
                "is_active": product["is_active"],
                "components": [
                    {**c, "description": "", "default_assigned_to": "nobody@mozilla.org"}
                    for c in product["components"].values()
                ],
            }
            for product in self.products.values()
            if every or product["name"].lower() in names or product["id"] in ids  # else left out
        ]
        return {"products": products}

    def _user(self, query: dict[str, list[str]]) -> dict[str, Any]:
        found = [dict(self._account(name)) for name in query.get("names", [])]
        # Like 5.0 (Bugzilla::User->new_from_list): an unknown id is left out, no error; a
        # user named and given by id is listed once.
        for value in query.get("ids", []):
            user = next((u for u in self.users.values() if str(u["id"]) == value), None)
            if user is not None and all(u["id"] != user["id"] for u in found):
                found.append(dict(user))
        return {"users": found}

    # -- helpers -------------------------------------------------------------------------
    def _changed(self) -> None:
        self._version += 1

    def _account(self, login: str) -> dict[str, Any]:
        """A user's account, case aside; error 51 when there is none."""
        account = self.users.get(login.lower())
        if account is None:
            raise ApiError(
                404,
                51,
                f"There is no user named '{login}'. Either you mis-typed the name or that user has "
                "not yet registered for a Bugzilla account.",
            )
        return account

    def _comment(self, bug: dict[str, Any], text: str, login: str, now: str) -> dict[str, Any]:
        """Somebody comments on `bug` (not the description): it changes, webhooks hear of it."""
        comment = self._add_comment(bug, text, login, now)
        bug["last_change_time"] = max(bug["last_change_time"], now)
        self._changed()
        self._emit("comment.create", bug, login, now, comment=comment)
        return comment

    def _emit(
        self,
        routing_key: str,
        bug: dict[str, Any],
        login: str,
        when: str,
        *,
        changes: list[dict[str, str]] | None = None,
        comment: dict[str, Any] | None = None,
    ) -> None:
        """The webhooks' payloads for a change (nothing to do without a webhook)."""
        if not self.webhooks.hooks:
            return
        document = webhooks.bug_document(bug, self.users[bug["creator"].lower()])
        if comment is not None:
            document["comment"] = {
                "body": comment["text"],
                "creation_time": webhooks.bmo_time(comment["creation_time"]),
                "id": comment["id"],
                "is_private": False,
                "number": comment["count"],
            }
        user = self.users[login.lower()]
        event = webhooks.event_document(routing_key, user, when, changes)
        self.webhooks.emit(bug, document, event)

    def _add_comment(
        self, bug: dict[str, Any], text: str, creator: str, now: str
    ) -> dict[str, Any]:
        comment = {
            "id": self._next_comment,
            "bug_id": bug["id"],
            "attachment_id": None,
            "count": len(bug["comments"]),
            "text": text,
            "creator": creator,
            "time": now,
            "creation_time": now,
            "tags": [],
            "is_private": False,
        }
        self._next_comment += 1
        bug["comments"].append(comment)
        return comment


def _modified(changes: list[dict[str, str]]) -> str:
    """BMO's routing key of a change: `bug.modify:` and the fields, in order."""
    return "bug.modify:" + ",".join(c["field"] for c in changes)


def _flag_label(flag: dict[str, Any]) -> str:
    requestee = flag.get("requestee")
    return f"{flag['name']}{flag['status']}" + (f"({requestee})" if requestee else "")


def _fields(query: dict[str, list[str]]) -> set[str] | None:
    """`include_fields`, None for all; creator_detail comes with creator (as on BMO and 5.0)."""
    values = query.get("include_fields")
    if not values:
        return None
    fields = {f.strip() for v in values for f in v.split(",") if f.strip()}
    return fields | {"creator_detail"} if "creator" in fields else fields


def _int_param(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    try:
        return max(0, int(values[0]))
    except ValueError:
        raise ApiError(400, 32000, f"Invalid {name}: '{values[0]}' is not an integer.") from None


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (the benchmark makes thousands of requests)."""

    fake: FakeBugzilla
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    timeout = 60  # an idle keep-alive connection is dropped after this
    disable_nagle_algorithm = True  # headers and body go out as two writes
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.fake.handle(self.command, self.path, dict(self.headers), body)
        if answer is None:
            self.close_connection = True  # no answer at all: the client sees the socket close
            return
        status, payload, extra = answer
        self.send_response(status)
        if "Content-Type" not in extra:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header follows the fake's clock, like /rest/time."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return email.utils.format_datetime(self.fake.clock().astimezone(UTC), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and demo
        return


def write_config(
    workdir: Path,
    url: str,
    *,
    api_key: str,
    bot_login: str,
    data: Path,
    rules: Path,
    start: datetime,
    key_in: str = "query",
    page_size: int | None = None,
    requests_per_minute: int = 0,
    dry_run: bool = False,
    max_actions_per_run: int | None = None,
    key_mode: int = 0o600,
    written_by: str | None = None,
) -> Path:
    """A bot config pointed at a stand-in (`url`), its API key in an owner-only file beside
    it and its database in `workdir`: what the demo, the benchmark and the tests run with."""
    key_file = workdir / "api-key"
    key_file.write_text(api_key + "\n", encoding="utf-8")
    key_file.chmod(key_mode)
    lines = [f"# Written by {written_by}"] if written_by else []
    lines += [
        "[bugzilla]",
        f'url = "{url}"',
        f'api_key_file = "{key_file}"',
        f'api_key_in = "{key_in}"',
        f'bot_login = "{bot_login}"',
        f"requests_per_minute = {requests_per_minute}",
        *([f"page_size = {page_size}"] if page_size is not None else []),
        "",
        "[registry]",
        f'path = "{data}"',
        "",
        "[rules]",
        f'path = "{rules}"',
        "",
        "[database]",
        f'url = "sqlite:///{workdir / "triagebot.db"}"',
        "",
        "[poll]",
        f"start = {start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "",
        "[run]",
        f"dry_run = {'true' if dry_run else 'false'}",
        *([f"max_actions_per_run = {max_actions_per_run}"] if max_actions_per_run else []),
    ]
    config = workdir / "triagebot.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config
