"""The poller against mocked HTTP (`responses`) answering in the shapes recorded from a real
Bugzilla 5.0.6 (tests/recordings/): what lands on the tracker, how many requests a
poll takes, and what happens when a write fails or a poll is interrupted. No socket is opened.

`Tracker` is a small stateful stand-in built from the recordings, so that several polls in a
row see the effects of earlier writes; every assertion is on what went over the wire (PUT
bodies, request kinds and their order) or on what the operator sees (results, report, cursor).
"""

from __future__ import annotations

import copy
import email.utils
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from conftest import load_recording

from triagebot.bugzilla.client import SEARCH_FIELDS, Client
from triagebot.bugzilla.transport import request_kind
from triagebot.core.registry import (
    Community,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
)
from triagebot.files.rules import load_rules
from triagebot.service.poller import Poller, PollReport, PollSettings
from triagebot.service.writer import BugzillaWriter, Recorder
from triagebot.state.store import Intent, Store

BASE = "https://bugzilla.example.test"
REST = f"{BASE}/rest"
KEY = "SECRET-KEY-123"
BOT = "triagebot@example.org"
PRODUCT = "Participation Infrastructure"
RULES = Path(__file__).resolve().parents[1] / "rules"
(RULE,) = load_rules(RULES)
# Bugs are filed around the recordings' time; the bot polls a few minutes later.
FILED = datetime(2026, 11, 24, 7, 50, 56, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)
START = FILED - timedelta(hours=1)
FOOTER = "\n\n-- triagebot (rule community-it; ref {ref})"
WB_ENDORSED = "[community:mozilla-francophone] [endorsed]"
WB_NEEDED_FR = "[community:mozilla-francophone] [endorsement-needed]"
WB_NEEDED_ES = "[community:mozilla-hispano] [endorsement-needed]"


# -- the registry: small, in code, so the exact comments below do not move with data/ ----------
def _community(slug: str, name: str, aliases: tuple[str, ...], **kw: Any) -> Community:
    return Community(slug, name, "active", date(2026, 1, 1), Governance("board"), aliases, **kw)


def build_registry() -> Registry:
    people = [
        Person(
            "camille",
            "Camille Berthelot",
            ("camille@example.org",),
            710001,
            (
                Contact("matrix", "@camille:example.org", True),
                Contact("phone", "+1-555-0101", False),
            ),
        ),
        Person(
            "nadia",
            "Nadia Benslimane",
            ("nadia@example.org",),
            None,
            (Contact("email", "tresorerie@mozfr.example.org", True),),
        ),
        Person(
            "bastien",
            "Bastien Morvan",
            ("bastien@example.org",),
            None,
            (Contact("email", "bastien@example.org", True),),  # former: never published
        ),
        Person(
            "lucia",
            "Lucía Ferreyra",
            ("lucia@example.org",),
            None,
            (Contact("matrix", "@lucia:example.org", True),),
        ),
    ]
    mozfr = _community(
        "mozilla-francophone",
        "Mozilla Francophone",
        ("MozFr",),
        contacts=(
            Contact("mailing-list", "https://lists.example.org/mozfr", True),
            Contact("email", "bureau@mozfr.example.org", False),
        ),
        delegates=(
            Delegation("camille", "Présidente", date(2025, 6, 14)),
            Delegation("nadia", "Trésorière", date(2025, 6, 14)),
            Delegation("bastien", "Président", date(2021, 6, 12), date(2025, 6, 14)),
        ),
        resources=(Resource("domain", "mozfr.example.org", ("camille",)),),
    )
    hispano = _community(
        "mozilla-hispano",
        "Mozilla Hispano",
        ("MozHispano",),
        contacts=(Contact("matrix", "#hispano:example.org", True),),
        delegates=(Delegation("lucia", "Coordinadora general", date(2026, 1, 15)),),
    )
    return Registry.build(people, [mozfr, hispano])


REGISTRY = build_registry()
DELEGATES = ("camille@example.org", "nadia@example.org", "lucia@example.org")


# -- a stateful Bugzilla 5.0 made of `responses` callbacks and the recorded shapes -------------
class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(name: str, message: str | None = None) -> tuple[int, dict[str, Any]]:
    rec = load_recording(name)
    body = rec["response"]
    if message is not None:
        body["message"] = message
    return rec["status"], body


LOSE_ANSWER = "lose-answer"  # a PUT fault: applied by the server, but the answer never arrives


class Tracker:
    """Search, batched comments and PUT, answering like the recorded 5.0.6: a search is paged
    by limit/offset in bug id order with an inclusive creation_time; a PUT naming an unknown
    requestee is rejected whole (404, code 51) and nothing is applied."""

    def __init__(self, rsps: responses.RequestsMock, clock: Clock, *, writes: bool = True):
        self.rsps = rsps
        self.clock = clock
        self.bugs: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.users = {BOT, *DELEGATES}
        self.put_faults: list[Any] = []
        self._next_bug = 8
        self._next_comment = 14
        rsps.add(responses.GET, f"{REST}/version", json=load_recording("version")["response"])
        rsps.add_callback(responses.GET, f"{REST}/bug", callback=self._search)
        rsps.add_callback(
            responses.GET, re.compile(rf"{re.escape(REST)}/bug/\d+/comment"), self._comments
        )
        if writes:  # a dry run's tracker has no write route at all
            rsps.add_callback(responses.PUT, re.compile(rf"{re.escape(REST)}/bug/\d+"), self._put)

    # -- seeding -----------------------------------------------------------------------------
    def add_bug(
        self,
        summary: str,
        creator: str,
        created: datetime = FILED,
        *,
        whiteboard: str = "",
        component: str = "Community IT",
        description: str = "More details here.",
    ) -> int:
        bug = load_recording("search_created_since")["response"]["bugs"][0]
        bug_id = self._next_bug
        self._next_bug += 1
        self.users.add(creator)
        bug.update(
            id=bug_id,
            summary=summary,
            creator=creator,
            creator_detail={
                "id": 100 + bug_id,
                "email": creator,
                "name": creator,
                "real_name": "",
            },
            creation_time=_iso(created),
            last_change_time=_iso(created),
            whiteboard=whiteboard,
            component=component,
            flags=[],
        )
        self.bugs[bug_id] = bug
        self.comments[bug_id] = []
        self.add_comment(bug_id, f"{summary}\n\n{description}", creator, created)
        return bug_id

    def add_comment(
        self, bug_id: int, text: str, creator: str, when: datetime | None = None
    ) -> None:
        comment = load_recording("comments_batch")["response"]["bugs"]["9"]["comments"][0]
        stamp = _iso(when or self.clock())
        comment.update(
            id=self._next_comment,
            bug_id=bug_id,
            count=len(self.comments[bug_id]),
            text=text,
            creator=creator,
            time=stamp,
            creation_time=stamp,
        )
        self._next_comment += 1
        self.comments[bug_id].append(comment)
        if bug_id in self.bugs:
            self.bugs[bug_id]["last_change_time"] = max(
                self.bugs[bug_id]["last_change_time"], stamp
            )

    # -- what a triager sees -----------------------------------------------------------------
    def bot_comments(self, bug_id: int) -> list[str]:
        return [c["text"] for c in self.comments[bug_id] if c["creator"] == BOT]

    def needinfo(self, bug_id: int) -> list[str]:
        return [f["requestee"] for f in self.bugs[bug_id]["flags"] if f["name"] == "needinfo"]

    def puts(self) -> list[tuple[int, dict[str, Any]]]:
        return [
            (int(urlsplit(c.request.url).path.rsplit("/", 1)[1]), json.loads(c.request.body))
            for c in self.rsps.calls
            if c.request.method == "PUT"
        ]

    def kinds(self) -> list[str]:
        """Every request so far, in order, by kind (version, search, comments, update)."""
        return [
            request_kind(c.request.method, urlsplit(c.request.url).path) for c in self.rsps.calls
        ]

    def queries(self, kind: str) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlsplit(c.request.url).query)
            for c in self.rsps.calls
            if request_kind(c.request.method, urlsplit(c.request.url).path) == kind
        ]

    # -- answering ---------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Date": email.utils.format_datetime(self.clock(), usegmt=True)}

    def _search(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        query = parse_qs(urlsplit(request.url).query)
        since = query["last_change_time"][0]
        found = [
            bug
            for _, bug in sorted(self.bugs.items())
            if bug["product"] in query["product"]
            and bug["component"] in query["component"]
            and bug["last_change_time"] >= since  # inclusive, whole seconds
        ]
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = [copy.deepcopy(b) for b in found[offset : offset + limit]]
        return 200, self._headers(), json.dumps({"bugs": page})

    def _comments(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        url = urlsplit(request.url)
        ids = [int(url.path.split("/")[3]), *map(int, parse_qs(url.query).get("ids", []))]
        for bug_id in ids:
            if bug_id not in self.bugs:
                status, body = _error("error_no_such_bug", f"Bug #{bug_id} does not exist.")
                return status, {}, json.dumps(body)
        answer = {str(i): {"comments": copy.deepcopy(self.comments[i])} for i in ids}
        return 200, self._headers(), json.dumps({"bugs": answer, "comments": {}})

    def _put(self, request: requests.PreparedRequest) -> Any:
        bug_id = int(urlsplit(request.url).path.rsplit("/", 1)[1])
        change = json.loads(request.body)
        fault = self.put_faults.pop(0) if self.put_faults else None
        if isinstance(fault, Exception):
            return fault
        if isinstance(fault, tuple):
            status, body = fault
            return status, {}, body if isinstance(body, str) else json.dumps(body)
        for flag in change.get("flags") or ():
            if flag["requestee"] not in self.users:  # validated whole, before anything applies
                status, body = _error(
                    "error_unknown_requestee",
                    f"There is no user named '{flag['requestee']}'. Either you mis-typed the "
                    "name or that user has not yet registered for a Bugzilla account.",
                )
                return status, {}, json.dumps(body)
        bug = self.bugs[bug_id]
        if "whiteboard" in change:
            bug["whiteboard"] = change["whiteboard"]
        for flag in change.get("flags") or ():
            bug["flags"].append({**flag, "setter": BOT, "id": len(bug["flags"]) + 1})
        self.add_comment(bug_id, change["comment"]["body"], BOT)
        if fault == LOSE_ANSWER:
            return requests.ConnectionError("('Connection aborted.', RemoteDisconnected())")
        answer = load_recording("put_comment_whiteboard_needinfo")["response"]
        answer["bugs"][0].update(id=bug_id, last_change_time=_iso(self.clock()))
        return 200, self._headers(), json.dumps(answer)


# -- fixtures --------------------------------------------------------------------------------
class Refs:
    """Deterministic write refs: R1, R2, ..."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self) -> str:
        self.made += 1
        return f"R{self.made}"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def tracker(rsps: responses.RequestsMock, clock: Clock) -> Tracker:
    return Tracker(rsps, clock)


@pytest.fixture
def store(clock: Clock) -> Iterator[Store]:
    with Store("sqlite://", now=clock) as s:
        yield s


@pytest.fixture
def client() -> Client:
    return Client(BASE, KEY, requests_per_minute=None, retries=1, sleep=lambda _s: None)


@pytest.fixture
def make_poller(client: Client, store: Store, clock: Clock) -> Callable[..., Poller]:
    def make(**settings: Any) -> Poller:
        live = settings.pop("live", True)
        markdown = settings.pop("markdown", False)
        values: dict[str, Any] = {
            "max_actions": None,
            "start": START,
            "overlap": timedelta(minutes=10),
            "intent_grace": timedelta(seconds=60),
            "bot_login": BOT,
        }
        values.update(settings)
        return Poller(
            client,
            store,
            lambda: REGISTRY,
            lambda: [RULE],
            PollSettings(**values),
            BugzillaWriter(client, markdown) if live else Recorder(markdown),
            clock=clock,
            new_ref=Refs() if live else None,
        )

    return make


def poll_once(poller: Poller) -> PollReport:
    (report,) = poller.poll()
    return report


def actions(report: PollReport) -> dict[int, str]:
    return {r.bug.id: r.action for r in report.results}


def needinfo_flags(*logins: str) -> list[dict[str, Any]]:
    return [{"name": "needinfo", "status": "?", "requestee": x, "new": True} for x in logins]


# -- 1. each outcome: the one PUT, exactly ----------------------------------------------------
OUTCOME_CASES = [
    pytest.param(
        "camille@example.org",
        "Renew the MozFr mailing list",
        "[infra]",
        "endorsed",
        "[infra] " + WB_ENDORSED,  # what was there is kept
        (),
        "**Endorsed**: Camille Berthelot is Présidente of Mozilla Francophone (since "
        "2025-06-14).\n"
        "Community contacts: mailing-list: https://lists.example.org/mozfr",
        id="endorsed",
    ),
    pytest.param(
        "bastien@example.org",
        "Hosting for mozfr.example.org",
        "",
        "former-delegate",
        WB_NEEDED_FR,
        ("camille@example.org", "nadia@example.org"),
        "**Former delegate**: Bastien Morvan was Président of Mozilla Francophone until "
        "2025-06-14, so this request is not endorsed yet.\n"
        "\n"
        "Current delegates of Mozilla Francophone:\n"
        "- Camille Berthelot, Présidente since 2025-06-14 (matrix: @camille:example.org)\n"
        "- Nadia Benslimane, Trésorière since 2025-06-14 "
        "(email: tresorerie@mozfr.example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozfr\n"
        "\n"
        "Camille Berthelot, Nadia Benslimane: does Mozilla Francophone support this request?\n"
        "\n"
        "To answer, a current delegate of Mozilla Francophone comments `/endorse` or "
        "`/decline` with a reason on a line of its own.\n"
        "\n"
        "Mentioned resources:\n"
        "- mozfr.example.org (domain of Mozilla Francophone): Camille Berthelot "
        "(matrix: @camille:example.org)",
        id="former-delegate",
    ),
    pytest.param(
        "alice@example.org",
        "A wiki for Mozilla Hispano",
        "",
        "needs-endorsement",
        WB_NEEDED_ES,
        ("lucia@example.org",),
        "**Endorsement needed**: this request is about Mozilla Hispano, and the reporter is not "
        "one of its current delegates.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Lucía Ferreyra, Coordinadora general since 2026-01-15 (matrix: @lucia:example.org)\n"
        "\n"
        "Community contacts: matrix: #hispano:example.org\n"
        "\n"
        "Lucía Ferreyra: does Mozilla Hispano support this request?"
        "\n\nTo answer, a current delegate of Mozilla Hispano comments `/endorse` or "
        "`/decline` with a reason on a line of its own.",
        id="needs-endorsement",
    ),
    pytest.param(
        "newcomer@example.org",
        "Need a server",
        "",
        "unknown",
        "[endorsement-needed]",
        ("newcomer@example.org",),
        "**Which community?** This request names no community we know of, and the reporter is "
        "not a delegate of one.\n"
        "\n"
        "Could you tell us which community this request is for, and who there supports it? The "
        "community directory lists them all, with their contacts: "
        "https://community.example.org/directory",
        id="unknown",
    ),
    pytest.param(
        "visitor@example.org",
        "Joint event of MozFr and MozHispano",
        "",
        "ambiguous",
        "[endorsement-needed]",
        ("visitor@example.org",),
        "**Which community?** This request could be for several communities:\n"
        "- Mozilla Francophone\n"
        "- Mozilla Hispano\n"
        "\n"
        "Could you tell us which one it is for? The community directory lists them all: "
        "https://community.example.org/directory",
        id="ambiguous",
    ),
]


@pytest.mark.parametrize(
    ("creator", "summary", "whiteboard", "outcome", "new_whiteboard", "asked", "body"),
    OUTCOME_CASES,
)
def test_each_outcome_is_one_put_with_the_exact_comment_whiteboard_and_needinfo(
    tracker, make_poller, store, creator, summary, whiteboard, outcome, new_whiteboard, asked, body
):
    """In Markdown, as for bugzilla.mozilla.org (plain text: the next test)."""
    bug = tracker.add_bug(summary, creator, whiteboard=whiteboard)

    report = poll_once(make_poller(markdown=True))

    expected: dict[str, Any] = {
        "ids": [bug],
        "comment": {"body": body + FOOTER.format(ref="R1"), "is_markdown": True},
        "whiteboard": new_whiteboard,
    }
    if asked:
        expected["flags"] = needinfo_flags(*asked)
    assert tracker.puts() == [(bug, expected)]
    assert tracker.kinds() == ["version", "search", "comments", "update"]
    (result,) = report.results
    assert (result.action, result.decision.outcome, result.needinfo) == (
        "commented",
        outcome,
        asked,
    )
    assert result.comment == body + FOOTER.format(ref="R1")
    assert report.ok and report.requests == 4  # connecting (first use), search, comments, PUT
    # and on the tracker, as a triager sees it
    assert tracker.bot_comments(bug) == [body + FOOTER.format(ref="R1")]
    assert tracker.bugs[bug]["whiteboard"] == new_whiteboard
    assert tracker.needinfo(bug) == list(asked)
    record = store.records(RULE.name, [bug])[bug]
    assert (record.state, record.ref, record.outcome) == ("done", "R1", outcome)
    # nothing private, nothing about a former delegate's contacts
    for secret in ("+1-555-0101", "bureau@mozfr.example.org", "email: bastien@"):
        assert secret not in body


def test_a_server_without_markdown_gets_plain_text_and_no_is_markdown(tracker, make_poller):
    bug = tracker.add_bug("A wiki for Mozilla Hispano", "lucia@examp1e.org")

    poll_once(make_poller(markdown=False))

    body = (
        "Look-alike login: the reporter's login lucia@examp1e.org resembles lucia@example.org, "
        "a login of Lucía Ferreyra in the delegate registry, but it is another account: it "
        "contains the digit '1' where the registry has 'l'. Nothing in this comment endorses "
        "the reporter.\n"
        "\n"
        "Endorsement needed: this request is about Mozilla Hispano, and the reporter is not "
        "one of its current delegates.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Lucía Ferreyra, Coordinadora general since 2026-01-15 (matrix: @lucia:example.org)\n"
        "\n"
        "Community contacts: matrix: #hispano:example.org\n"
        "\n"
        "Lucía Ferreyra: does Mozilla Hispano support this request?\n"
        "\n"
        "To answer, a current delegate of Mozilla Hispano comments /endorse or /decline with a "
        "reason on a line of its own." + FOOTER.format(ref="R1")
    )
    ((_, change),) = tracker.puts()
    assert change["comment"] == {"body": body}  # no is_markdown: 5.0 takes the same request
    assert tracker.bot_comments(bug) == [body]


@pytest.mark.parametrize("markdown", [True, False])
def test_a_lost_answer_is_reconciled_in_either_format(tracker, make_poller, clock, markdown):
    """The footer and its ref are the same text in both formats: never a second comment."""
    bug = tracker.add_bug("Need a server", "a@example.org")
    tracker.put_faults.append(LOSE_ANSWER)
    poller = make_poller(markdown=markdown)
    assert actions(poll_once(poller)) == {bug: "failed"}
    (posted,) = tracker.bot_comments(bug)
    assert posted.startswith("**Which community?**" if markdown else "Which community?")
    clock.advance(minutes=5)
    assert actions(poll_once(poller)) == {bug: "reconciled"}
    assert tracker.bot_comments(bug) == [posted]


def test_a_needinfo_already_open_is_not_asked_again(tracker, make_poller):
    bug = tracker.add_bug("Need a server", "newcomer@example.org")
    tracker.bugs[bug]["flags"] = [
        {"name": "needinfo", "status": "?", "requestee": "newcomer@example.org", "id": 1}
    ]
    poll_once(make_poller())
    ((_, body),) = tracker.puts()
    assert "flags" not in body
    assert body["whiteboard"] == "[endorsement-needed]"


# -- 2. paging -------------------------------------------------------------------------------
def test_three_pages_take_one_search_and_one_comments_request_each(tracker, make_poller):
    bugs = [
        tracker.add_bug("Need a server", f"user{n}@example.org", FILED + timedelta(seconds=n))
        for n in range(5)
    ]
    tracker.bugs[bugs[3]]["whiteboard"] = "[triagebot-skip]"

    report = poll_once(make_poller(page_size=2))

    assert tracker.kinds() == [
        "version",
        *["search", "comments"] * 3,
        *["update"] * 4,  # every page read (and decided) before the first write
    ]
    searches = tracker.queries("search")
    # one bug more than a page: the look-ahead that tells a next page follows
    assert [(q["limit"], q["offset"]) for q in searches] == [
        (["3"], ["0"]),
        (["3"], ["2"]),
        (["3"], ["4"]),
    ]
    for q in searches:
        assert q["product"] == [PRODUCT]
        assert q["component"] == ["Community IT"]
        assert q["last_change_time"] == [_iso(START)]
        assert q["order"] == ["bug_id"]
        assert q["include_fields"] == [SEARCH_FIELDS]
    # one batched comments request per page: the path's bug plus ids= for the others
    comment_paths = [
        (urlsplit(c.request.url).path, parse_qs(urlsplit(c.request.url).query).get("ids"))
        for c in tracker.rsps.calls
        if request_kind(c.request.method, urlsplit(c.request.url).path) == "comments"
    ]
    assert comment_paths == [
        (f"/rest/bug/{bugs[0]}/comment", [str(bugs[1])]),
        (f"/rest/bug/{bugs[2]}/comment", [str(bugs[3])]),
        (f"/rest/bug/{bugs[4]}/comment", None),
    ]
    assert [bug for bug, _ in tracker.puts()] == [bugs[0], bugs[1], bugs[2], bugs[4]]
    assert actions(report) == {
        bugs[0]: "commented",
        bugs[1]: "commented",
        bugs[2]: "commented",
        bugs[3]: "skipped",
        bugs[4]: "commented",
    }
    assert report.requests == 1 + 3 + 3 + 4


def test_a_full_last_page_costs_no_extra_search(tracker, make_poller):
    for n in range(4):
        tracker.add_bug("Need a server", f"user{n}@example.org", FILED + timedelta(seconds=n))
    poll_once(make_poller(page_size=2))
    assert tracker.kinds() == ["version", *["search", "comments"] * 2, *["update"] * 4]


# -- 3. the same second on both sides of a poll boundary --------------------------------------
def test_bugs_created_in_the_same_second_across_two_polls(tracker, make_poller, store, clock):
    second = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)
    clock.now = second + timedelta(milliseconds=400)  # the first search runs within that second
    a = tracker.add_bug("Need a server", "first@example.org", second)
    poller = make_poller(overlap=timedelta(0))  # no overlap: the boundary itself must hold

    first = poll_once(poller)

    assert actions(first) == {a: "commented"}
    assert store.get_cursor(RULE.name) == second  # the first search's Date: whole seconds
    # B is committed with the same creation second, after the first search ran
    b = tracker.add_bug("Need a mailing list", "second@example.org", second)
    clock.advance(minutes=5)

    again = poll_once(poller)

    assert tracker.queries("search")[-1]["last_change_time"] == [_iso(second)]  # inclusive
    assert actions(again) == {b: "commented"}  # A is found again, and left alone
    assert again.handled_before == 1
    assert [bug for bug, _ in tracker.puts()] == [a, b]
    assert len(tracker.bot_comments(a)) == 1
    assert len(tracker.bot_comments(b)) == 1
    last_comments = [
        c.request.url
        for c in tracker.rsps.calls
        if request_kind(c.request.method, urlsplit(c.request.url).path) == "comments"
    ][-1]
    assert urlsplit(last_comments).path == f"/rest/bug/{b}/comment"
    assert "ids=" not in urlsplit(last_comments).query  # A's comments are not even read again


# -- 4. restart after a write that was never confirmed ----------------------------------------
def _unconfirmed_write(store: Store, clock: Clock, bug: int, ref: str, age: timedelta) -> None:
    """What a crash between the PUT and `finish_writes` leaves: an intent with its ref."""
    then = clock.now
    clock.now = then - age
    store.begin_writes(
        RULE.name,
        [Intent(bug, ref, "unknown", None, "comment+whiteboard+needinfo(1)", ("n@example.org",))],
    )
    clock.now = then


def test_restart_finds_its_own_comment_and_does_not_write_again(tracker, make_poller, store, clock):
    bug = tracker.add_bug("Need a server", "n@example.org")
    tracker.add_comment(bug, "**Which community?** ..." + FOOTER.format(ref="R0"), BOT)
    (own_comment,) = [c["id"] for c in tracker.comments[bug] if c["creator"] == BOT]
    _unconfirmed_write(store, clock, bug, "R0", age=timedelta(minutes=5))

    report = poll_once(make_poller())

    assert tracker.puts() == []
    assert actions(report) == {bug: "reconciled"}
    assert tracker.kinds() == ["version", "search", "comments"]
    record = store.records(RULE.name, [bug])[bug]
    assert (record.state, record.ref, record.comment_id) == ("done", "R0", own_comment)
    assert store.pending_intents() == []
    assert report.ok
    assert store.get_cursor(RULE.name) == NOW


def test_an_intent_whose_bug_was_skip_tagged_since_is_closed_without_writing(
    tracker, make_poller, store, clock
):
    """A crash left an intent, and a triager added [triagebot-skip] before the next poll: the
    comments are checked (no comment with the ref), nothing is written, and the intent is
    closed, so `status` stops listing it as unconfirmed."""
    bug = tracker.add_bug("Need a server", "n@example.org", whiteboard="[triagebot-skip]")
    _unconfirmed_write(store, clock, bug, "R0", age=timedelta(minutes=5))

    report = poll_once(make_poller())

    assert tracker.puts() == []
    assert actions(report) == {bug: "skipped"}
    assert store.records(RULE.name, [bug])[bug].state == "seen"
    assert store.pending_intents() == []


def test_a_pasted_footer_by_someone_else_is_not_the_bots_comment(
    tracker, make_poller, store, clock
):
    bug = tracker.add_bug("Need a server", "n@example.org")
    # a reporter quoting the bot's footer (same ref, even) is not the bot having written
    tracker.add_comment(bug, "As the bot said:" + FOOTER.format(ref="R0"), "n@example.org")
    _unconfirmed_write(store, clock, bug, "R0", age=timedelta(minutes=5))

    report = poll_once(make_poller(bot_login=BOT))

    ((put_bug, body),) = tracker.puts()
    assert put_bug == bug
    assert body["comment"]["body"].endswith(FOOTER.format(ref="R0"))  # the same write's ref
    assert body["flags"] == needinfo_flags("n@example.org")
    assert actions(report) == {bug: "commented"}
    assert store.records(RULE.name, [bug])[bug].state == "done"
    assert len(tracker.bot_comments(bug)) == 1


def test_a_young_intent_is_left_pending_and_holds_the_cursor(tracker, make_poller, store, clock):
    early = tracker.add_bug("Need a server", "early@example.org", FILED)
    young = tracker.add_bug("Need a list", "n@example.org", FILED + timedelta(seconds=30))
    later = tracker.add_bug("Need a wiki", "later@example.org", FILED + timedelta(seconds=60))
    _unconfirmed_write(store, clock, young, "R0", age=timedelta(seconds=10))
    poller = make_poller(intent_grace=timedelta(seconds=60))

    report = poll_once(poller)

    assert actions(report) == {early: "commented", young: "pending", later: "commented"}
    assert [bug for bug, _ in tracker.puts()] == [early, later]
    (comments,) = tracker.queries("comments")
    assert comments["ids"] == [str(later)]  # the pending bug's comments are not even read
    assert not report.ok  # exit code 1: something is left for the next poll
    assert store.get_cursor(RULE.name) == FILED + timedelta(seconds=30)
    assert store.records(RULE.name, [young])[young].state == "intent"

    clock.advance(minutes=5)  # past the grace: check the comments, nothing there, write
    again = poll_once(poller)

    assert actions(again) == {young: "commented"}
    assert tracker.kinds()[-3:] == ["search", "comments", "update"]
    assert tracker.puts()[-1][1]["comment"]["body"].endswith(FOOTER.format(ref="R0"))
    assert again.ok
    # the newest change read: the bot's own comment on `fine`, stamped by Bugzilla's clock
    assert store.get_cursor(RULE.name) == NOW


# -- 5. what is never touched ------------------------------------------------------------------
def test_skip_tag_means_no_write_and_other_components_are_not_searched(tracker, make_poller, store):
    skip = tracker.add_bug("MozFr wiki", "camille@example.org", whiteboard="[x] [TriageBot-Skip]")
    general = tracker.add_bug("A wiki for Mozilla Hispano", "a@example.org", component="General")

    report = poll_once(make_poller())

    (search,) = tracker.queries("search")
    assert search["product"] == [PRODUCT]
    assert search["component"] == ["Community IT"]  # General is never asked for
    assert tracker.puts() == []
    assert actions(report) == {skip: "skipped"}
    assert tracker.bugs[skip]["whiteboard"] == "[x] [TriageBot-Skip]"
    assert not any(f"/bug/{general}" in c.request.url for c in tracker.rsps.calls)
    assert store.records(RULE.name, [skip, general]).keys() == {skip}
    assert store.records(RULE.name, [skip])[skip].state == "seen"
    assert report.ok


# -- 6. an idle poll ---------------------------------------------------------------------------
def test_a_second_poll_with_nothing_new_makes_only_its_search_requests(
    tracker, make_poller, client, clock
):
    for n in range(2):
        tracker.add_bug("Need a server", f"user{n}@example.org", FILED + timedelta(seconds=n))
    tracker.add_bug("MozFr", "camille@example.org", whiteboard="[triagebot-skip]")
    poller = make_poller(page_size=2)  # two pages, the second one short
    poll_once(poller)
    before = dict(client.requests_made)
    calls = len(tracker.rsps.calls)
    clock.advance(minutes=5)

    report = poll_once(poller)

    assert tracker.kinds()[calls:] == ["search", "search"]  # two pages, nothing else
    after = dict(client.requests_made)
    assert {k: after[k] - before.get(k, 0) for k in after} == {
        "version": 0,
        "search": 2,
        "comments": 0,
        "update": 0,
    }
    assert report.results == []
    assert report.handled_before == 3  # found again, left alone: "3 bugs", not "0 bugs"
    assert report.ok and report.requests == 2


# -- 7. a rejected needinfo --------------------------------------------------------------------
def test_unknown_requestee_put_is_retried_once_without_flags(tracker, make_poller, store, caplog):
    tracker.users.discard("lucia@example.org")  # the delegate has no Bugzilla account
    bug = tracker.add_bug("A wiki for Mozilla Hispano", "alice@example.org")

    with caplog.at_level(logging.WARNING, logger="triagebot"):
        report = poll_once(make_poller())

    (first, second) = tracker.puts()
    assert first[1]["flags"] == needinfo_flags("lucia@example.org")
    assert second == (bug, {k: v for k, v in first[1].items() if k != "flags"})
    assert tracker.bot_comments(bug) == [first[1]["comment"]["body"]]  # posted once
    assert tracker.bugs[bug]["whiteboard"] == WB_NEEDED_ES
    assert tracker.needinfo(bug) == []
    (result,) = report.results
    assert (result.action, result.needinfo) == ("commented", ())
    assert report.ok
    record = store.records(RULE.name, [bug])[bug]
    assert record.state == "done"
    assert record.needinfo == ""  # the record says who was really asked: nobody
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"bug {bug}" in warning.getMessage()
    assert "lucia@example.org" in warning.getMessage()
    assert "without needinfo" in warning.getMessage()


def test_a_requestee_who_cannot_see_the_bug_32000_is_dropped(tracker, make_poller, caplog):
    bug = tracker.add_bug("A wiki for Mozilla Hispano", "alice@example.org")
    # Bugzilla's flag_requestee_unauthorized: a user error with no number of its own (32000)
    message = (
        f"You asked Lucía Ferreyra <lucia@example.org> for needinfo on bug {bug}, but that bug "
        "has been restricted to users in certain groups, and the user you asked isn't in all "
        "the groups to which the bug has been restricted."
    )
    tracker.put_faults.append(
        (400, {"error": True, "code": 32000, "message": message, "documentation": "x"})
    )

    with caplog.at_level(logging.WARNING, logger="triagebot"):
        report = poll_once(make_poller())

    assert ["flags" in body for _, body in tracker.puts()] == [True, False]
    assert actions(report) == {bug: "commented"}
    assert len(tracker.bot_comments(bug)) == 1
    assert "posting without needinfo" in caplog.text


@pytest.mark.parametrize(
    "message",
    [
        # bugzilla.mozilla.org answers a tripped rate limit with 400 / 32000
        "You have exceeded the rate limit for this service. Please wait and try again.",
        # and upstream 5.2 answers malformed JSON in a request with 400 / 32000
        "The data you sent does not appear to be valid JSON.",
    ],
    ids=["rate-limit", "malformed-json"],
)
def test_other_32000_errors_fail_the_bug_and_the_next_poll_retries_it(
    tracker, make_poller, store, clock, message
):
    bug = tracker.add_bug("A wiki for Mozilla Hispano", "alice@example.org")
    tracker.put_faults.append(
        (400, {"error": True, "code": 32000, "message": message, "documentation": "x"})
    )
    poller = make_poller()

    first = poll_once(poller)

    assert len(tracker.puts()) == 1  # not retried without the flags: they were not the problem
    (result,) = first.results
    assert result.action == "failed"
    assert message in (result.error or "")
    assert not first.ok
    assert tracker.bot_comments(bug) == []
    assert store.records(RULE.name, [bug])[bug].state == "failed"  # nothing landed
    assert store.get_cursor(RULE.name) == FILED  # not past the failed bug

    clock.advance(minutes=5)
    again = poll_once(poller)

    assert actions(again) == {bug: "commented"}
    (_, retry) = tracker.puts()[-1]
    assert retry["flags"] == needinfo_flags("lucia@example.org")
    assert retry["comment"]["body"].endswith(FOOTER.format(ref="R2"))  # a fresh write
    assert len(tracker.bot_comments(bug)) == 1
    assert again.ok


# -- 8. a failed write -------------------------------------------------------------------------
PUT_FAILURES = [
    pytest.param((500, "<html><body>Internal Server Error</body></html>"), id="500-html"),
    pytest.param(requests.ConnectionError("connection reset by peer"), id="connection-error"),
    pytest.param(requests.ReadTimeout("read timed out"), id="timeout"),
    # Bugzilla's internal errors carry a code (100500), with HTTP 500 or even 201: the change
    # may have been committed before the error (mail sending comes after the commit).
    pytest.param(
        (500, {"error": True, "code": 100500, "message": "internal", "documentation": "x"}),
        id="500-code-100500",
    ),
    pytest.param(
        (201, {"error": True, "code": 100500, "message": "internal", "documentation": "x"}),
        id="201-code-100500",
    ),
]


@pytest.mark.parametrize("failure", PUT_FAILURES)
def test_a_failed_put_holds_the_cursor_and_is_reconciled_then_retried(
    tracker, make_poller, store, clock, failure
):
    failing = tracker.add_bug("Need a server", "a@example.org", FILED)
    fine = tracker.add_bug("Need a list", "b@example.org", FILED + timedelta(seconds=2))
    tracker.put_faults.append(failure)
    poller = make_poller()

    first = poll_once(poller)

    assert actions(first) == {failing: "failed", fine: "commented"}
    assert not first.ok  # `once` exits 1
    assert store.get_cursor(RULE.name) == FILED  # not past the failed bug's creation
    record = store.records(RULE.name, [failing])[failing]
    assert (record.state, record.ref) == ("intent", "R1")  # the write may have landed
    assert tracker.bot_comments(failing) == []

    clock.advance(minutes=5)
    calls = len(tracker.rsps.calls)
    again = poll_once(poller)

    # its comments are read first (did the write land after all?), then it is written
    assert tracker.kinds()[calls:] == ["search", "comments", "update"]
    (comments,) = tracker.queries("comments")[-1:]
    assert "ids" not in comments  # only the failed bug: the other one is done
    assert actions(again) == {failing: "commented"}
    assert tracker.bot_comments(failing)[0].endswith(FOOTER.format(ref="R1"))  # same write
    assert len(tracker.bot_comments(fine)) == 1
    assert again.ok
    # the newest change read: the bot's own comment on `fine`, stamped by Bugzilla's clock
    assert store.get_cursor(RULE.name) == NOW


def test_a_put_that_landed_but_whose_answer_was_lost_is_not_repeated(
    tracker, make_poller, store, clock
):
    bug = tracker.add_bug("Need a server", "a@example.org")
    tracker.put_faults.append(LOSE_ANSWER)
    poller = make_poller()

    first = poll_once(poller)
    assert actions(first) == {bug: "failed"}
    assert len(tracker.bot_comments(bug)) == 1  # it did land

    clock.advance(minutes=5)
    again = poll_once(poller)

    assert actions(again) == {bug: "reconciled"}
    assert len(tracker.puts()) == 1
    assert len(tracker.bot_comments(bug)) == 1
    assert store.records(RULE.name, [bug])[bug].state == "done"
    assert again.ok


def test_a_429_stops_the_writes_of_this_poll(tracker, make_poller, store, clock):
    bugs = [
        tracker.add_bug("Need a server", f"user{n}@example.org", FILED + timedelta(seconds=n))
        for n in range(3)
    ]
    # bugzilla.mozilla.org's block: an HTML 429 without Retry-After, and every further request
    # restarts it
    tracker.put_faults.append((429, "<html><body>Too Many Requests</body></html>"))
    poller = make_poller()

    first = poll_once(poller)

    assert len(tracker.puts()) == 1  # the other two were not even sent
    assert actions(first) == dict.fromkeys(bugs, "failed")
    assert all("not sent" in (r.error or "") for r in first.results[1:])
    assert not first.ok
    assert store.get_cursor(RULE.name) == FILED
    states = {b: r.state for b, r in store.records(RULE.name, bugs).items()}
    assert states == dict.fromkeys(bugs, "failed")  # nothing landed: no reconciling needed

    clock.advance(minutes=5)
    again = poll_once(poller)

    assert actions(again) == dict.fromkeys(bugs, "commented")
    assert [bug for bug, _ in tracker.puts()] == [bugs[0], *bugs]
    assert all(len(tracker.bot_comments(b)) == 1 for b in bugs)
    assert again.ok


def test_a_failed_search_fails_the_poll_and_leaves_the_cursor(
    tracker, rsps, make_poller, store, clock
):
    tracker.add_bug("Need a server", "a@example.org")
    poller = make_poller()
    poll_once(poller)
    cursor = store.get_cursor(RULE.name)
    tracker.add_bug("Need a list", "b@example.org", FILED + timedelta(seconds=5))
    rsps.replace(responses.GET, f"{REST}/bug", status=503, body="<html>busy</html>")
    clock.advance(minutes=5)

    report = poll_once(poller)

    assert report.error is not None and "503" in report.error
    assert not report.ok
    assert store.get_cursor(RULE.name) == cursor
    assert len(tracker.puts()) == 1


# -- 9. the action cap ------------------------------------------------------------------------
def test_more_bugs_than_the_cap_means_no_write_at_all(tracker, make_poller, store):
    bugs = [
        tracker.add_bug("Need a server", f"user{n}@example.org", FILED + timedelta(seconds=n))
        for n in range(3)
    ]
    tracker.add_bug("MozFr", "camille@example.org", whiteboard="[triagebot-skip]")

    report = poll_once(make_poller(max_actions=2))

    assert tracker.puts() == []
    assert report.capped == 3
    assert not report.ok
    assert {bug: a for bug, a in actions(report).items() if bug in bugs} == dict.fromkeys(
        bugs, "capped"
    )
    assert store.get_cursor(RULE.name) is None
    assert store.pending_intents() == []
    assert store.records(RULE.name, bugs) == {}

    lifted = poll_once(make_poller(max_actions=None))  # `once --live --no-limit`
    assert [bug for bug, _ in tracker.puts()] == bugs
    assert lifted.capped is None and lifted.ok


def test_as_many_bugs_as_the_cap_are_written(tracker, make_poller):
    for n in range(2):
        tracker.add_bug("Need a server", f"user{n}@example.org", FILED + timedelta(seconds=n))
    report = poll_once(make_poller(max_actions=2))
    assert len(tracker.puts()) == 2 and report.capped is None and report.ok


# -- 10. dry run -------------------------------------------------------------------------------
def test_dry_run_sends_no_write_and_stores_only_its_poll(rsps, clock, make_poller, store):
    tracker = Tracker(rsps, clock, writes=False)  # a PUT would find no route and fail loudly
    bug = tracker.add_bug("A wiki for Mozilla Hispano", "alice@example.org")
    tracker.add_bug("MozFr", "camille@example.org", whiteboard="[triagebot-skip]")

    report = poll_once(make_poller(live=False))

    assert {c.request.method for c in rsps.calls} == {"GET"}
    assert tracker.kinds() == ["version", "search", "comments"]
    would = next(r for r in report.results if r.bug.id == bug)
    assert would.action == "would-comment"
    assert would.needinfo == ("lucia@example.org",)
    assert would.comment is not None
    assert would.comment.endswith(FOOTER.format(ref="dry-run"))
    assert report.ok and not report.live
    assert store.get_cursor(RULE.name) is None
    assert store.records(RULE.name, list(tracker.bugs)) == {}
    # only the poll itself, for `status`, with the counts it printed
    ((poll),) = store.recent_polls()
    counts = (poll.dry_run, poll.searched, poll.acted, poll.skipped, poll.failed)
    assert counts == (True, 2, 1, 1, 0)
