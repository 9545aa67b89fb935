"""`run`'s listener: /livez, /readyz, /metrics and push from Bugzilla (POST /hooks/bugzilla),
with payloads shaped like bugzilla.mozilla.org's webhooks; the schedule's coalescing."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Clock, wait_for
from prometheus_client.parser import text_string_to_metric_families
from test_service import stand_in_bot

from triagebot import __version__
from triagebot.core.bugs import Bug, Decision, Write
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla
from triagebot.files.config import ConfigError, load_config
from triagebot.files.rules import Rule
from triagebot.service.http import Listener, Request, Response
from triagebot.service.poller import Action, BugResult, PollReport
from triagebot.service.push import PushAuth
from triagebot.service.run import build_bot, resolve_bot_login, run_forever
from triagebot.service.schedule import PUSH_GAP, Schedule
from triagebot.service.serve import Service
from triagebot.state.store import Store

ROOT = Path(__file__).resolve().parents[1]
SECRET = "Token zQ5TSBzq7tTZMtKYq9K1ZqJMjifKx3c"
HEADER = "X-Triagebot-Token"
RULE = Rule("community-it", ROOT, "Participation Infrastructure", ("Community IT",), None, 3, {})
OTHER = Rule("other", ROOT, "Firefox", ("General",), None, 3, {})
INTERVAL = timedelta(minutes=60)


def bmo_payload(
    routing_key: str = "bug.create",
    product: str = "Participation Infrastructure",
    component: str = "Community IT",
    login: str = "lucia@example.org",
) -> dict[str, Any]:
    """A payload as bugzilla.mozilla.org's Webhooks extension sends it (its documentation's
    example, with this project's product)."""
    target, _, rest = routing_key.partition(".")
    event: dict[str, Any] = {
        "action": rest.split(":")[0],
        "routing_key": routing_key,
        "target": target,
        "time": "2026-11-24T07:50:57",
        "user": {"id": 7, "login": login, "real_name": "Lucía Ferreyra"},
    }
    if rest.startswith("modify"):
        event["changes"] = [{"field": "status", "removed": "UNCONFIRMED", "added": "NEW"}]
    return {
        "bug": {
            "alias": "",
            "assigned_to": "nobody@mozilla.org",
            "classification": "Other",
            "component": component,
            "creation_time": "2026-11-24T07:50:57",
            "creator": login,
            "creator_detail": {"id": 7, "login": login, "real_name": "Lucía Ferreyra"},
            "flags": [],
            "id": 1629704,
            "is_private": False,
            "keywords": [],
            "last_change_time": "2026-11-24T07:50:57",
            "product": product,
            "resolution": "",
            "status": "UNCONFIRMED",
            "summary": "Hosting for mozilla-hispano.example.org",
            "whiteboard": "",
        },
        "event": event,
        "webhook_id": 23,
        "webhook_name": "triagebot",
    }


PRIVATE_PAYLOAD = {  # a private bug: only its id (BMO's documentation)
    "bug": {"id": 2, "is_private": True},
    "event": {
        "action": "modify",
        "routing_key": "bug.modify:priority",
        "target": "bug",
        "time": "2026-11-24T07:50:57",
        "user": {"id": 1, "login": "nobody@mozilla.org", "real_name": "Nobody"},
    },
    "webhook_id": 23,
    "webhook_name": "triagebot",
}


class Moves:
    """Stands in for APScheduler's modify_job: records when the next round was set for."""

    def __init__(self) -> None:
        self.times: list[datetime] = []

    def __call__(self, when: datetime) -> None:
        self.times.append(when)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))


@pytest.fixture
def service(tmp_path: Path, clock: Clock) -> Iterator[Service]:
    store = Store(f"sqlite:///{tmp_path / 'triagebot.db'}")
    service = Service(
        interval=INTERVAL,
        rules=lambda: [RULE],
        store=store,
        session=requests.Session(),
        bot_login=lambda: "triagebot@example.org",
        listen=("127.0.0.1", 0),
        push_auth=PushAuth(HEADER, SECRET),
        clock=clock,
    )
    service.start(lambda: True)
    yield service
    service.stop()
    store.close()


def url(service: Service, path: str) -> str:
    assert service.listener is not None
    return f"http://{service.listener.address}{path}"


def hook(service: Service, payload: Any, headers: dict[str, str] | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(
        url(service, "/hooks/bugzilla"),
        data=body,
        headers={
            "Content-Type": "application/json",
            **({HEADER: SECRET} if headers is None else headers),
        },
        timeout=10,
    )


def report(rule: str = "community-it", **fields: Any) -> PollReport:
    return PollReport(rule, datetime(2026, 11, 24, 7, 0, tzinfo=UTC), True, **fields)


# -- /livez and /readyz --------------------------------------------------------------------------
def test_livez_is_200_while_the_scheduler_runs_and_503_after(service: Service) -> None:
    answer = requests.get(url(service, "/livez"), timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"status": "alive"})
    service.stop()
    service.start(lambda: False)  # the scheduler stopped
    answer = requests.get(url(service, "/livez"), timeout=10)
    assert answer.status_code == 503
    assert answer.json() == {"status": "dead", "reasons": ["the scheduler is not running"]}


def test_readyz_before_the_first_poll_after_a_success_a_failure_and_two_intervals(
    service: Service, clock: Clock
) -> None:
    def ready() -> tuple[int, Any]:
        answer = requests.get(url(service, "/readyz"), timeout=10)
        assert answer.headers["Content-Type"] == "application/json"
        return answer.status_code, answer.json()

    assert ready() == (
        503,
        {"status": "not ready", "reasons": ["rule community-it: no poll has finished yet"]},
    )
    service.observe(report(), 0.1)
    assert ready() == (200, {"status": "ready", "reasons": []})

    clock.now += timedelta(minutes=5)
    service.observe(report(error="Bugzilla answered HTTP 503"), 0.1)
    assert ready() == (
        503,
        {
            "status": "not ready",
            "reasons": [
                "rule community-it: the last poll failed at 2026-11-24T08:05:00Z: "
                "Bugzilla answered HTTP 503"
            ],
        },
    )
    service.observe(report(busy="another poll of rule community-it is running"), 0.0)
    assert ready()[0] == 200  # another process polls it: as good

    clock.now += 2 * INTERVAL
    assert ready() == (
        503,
        {
            "status": "not ready",
            "reasons": [
                "rule community-it: no poll for two intervals (last at 2026-11-24T08:05:00Z)"
            ],
        },
    )
    service.observe(report(capped=51), 0.1)
    assert ready()[1]["reasons"] == [
        "rule community-it: the last poll failed at 2026-11-24T10:05:00Z: "
        "action cap: 51 bugs would be acted on"
    ]


# -- /metrics --------------------------------------------------------------------------------------
def page(service: Service) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The metrics page: sample name -> sorted label pairs -> value."""
    answer = requests.get(url(service, "/metrics"), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return found


def test_metrics_names_label_sets_and_values(service: Service, clock: Clock) -> None:
    bug = Bug(5, "Hosting", "lucia@example.org", clock.now)

    def decided(kind: str | None) -> Decision:
        """A first decision (kind None: triage) or a follow-up's, with its write."""
        return Decision(5, "community-it", "x", "why", write=Write("community-it", kind))

    triage_decision = decided(None)
    endorse, refused = decided("confirmation"), decided("who-can-endorse")
    results = [
        BugResult(bug, triage_decision, Action.COMMENTED),
        BugResult(bug, endorse, Action.COMMENTED),
        BugResult(bug, refused, Action.COMMENTED),
        BugResult(bug, triage_decision, Action.FAILED, "HTTP 500"),
        BugResult(bug, triage_decision, Action.SKIPPED),
    ]
    service.observe(report(results=results), 0.3)
    service.observe(report(error="down"), 0.2)
    service.observe(report(busy="held"), 0.0)
    service.metrics.requests.labels("GET", "200").inc(3)

    found = page(service)
    # prometheus_client adds a `_created` time to counters and histograms
    created = {name for name in found if name.endswith("_created")}
    assert created == {
        "triagebot_polls_created",
        "triagebot_writes_created",
        "triagebot_bugzilla_requests_created",
        "triagebot_poll_duration_seconds_created",
        "triagebot_push_events_created",
    }
    labels = {name: {tuple(k for k, _ in key) for key in found[name]} for name in found}
    assert {n: ls for n, ls in labels.items() if n not in created} == {
        "triagebot_polls_total": {("result", "rule")},
        "triagebot_writes_total": {("kind", "rule")},
        "triagebot_bugzilla_requests_total": {("code", "method")},
        "triagebot_poll_duration_seconds_bucket": {("le", "rule")},
        "triagebot_poll_duration_seconds_count": {("rule",)},
        "triagebot_poll_duration_seconds_sum": {("rule",)},
        "triagebot_last_success_timestamp_seconds": {("rule",)},
        "triagebot_gave_up_bugs": {("rule",)},
        "triagebot_awaiting_bugs": {("rule",)},
        "triagebot_push_events_total": {("result",)},
        "triagebot_build_info": {("version",)},
    }
    rule = ("rule", "community-it")
    assert found["triagebot_polls_total"] == {
        (("result", "ok"), rule): 1.0,
        (("result", "error"), rule): 1.0,
        (("result", "busy"), rule): 1.0,
    }
    writes = {dict(k)["kind"]: v for k, v in found["triagebot_writes_total"].items()}
    assert writes == {
        "triage": 1.0,
        "confirmation": 1.0,
        "decline": 0.0,
        "retriage": 0.0,
        "stale": 0.0,
        "reminder": 0.0,
        "answer": 1.0,
    }
    assert found["triagebot_bugzilla_requests_total"] == {(("code", "200"), ("method", "GET")): 3.0}
    assert found["triagebot_poll_duration_seconds_count"] == {(rule,): 2.0}  # busy: no poll
    assert found["triagebot_last_success_timestamp_seconds"] == {(rule,): clock.now.timestamp()}
    assert found["triagebot_gave_up_bugs"] == {(rule,): 0.0}
    assert found["triagebot_awaiting_bugs"] == {(rule,): 0.0}
    assert found["triagebot_push_events_total"] == {
        (("result", r),): 0.0 for r in ("triggered", "coalesced", "ignored", "unauthorized")
    }
    assert found["triagebot_build_info"] == {(("version", __version__),): 1.0}


def test_bugzilla_requests_are_counted_by_method_and_code(tmp_path: Path) -> None:
    session = requests.Session()
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    service = Service(
        interval=INTERVAL,
        rules=lambda: [RULE],
        store=store,
        session=session,
        bot_login=lambda: None,
    )
    with FakeBugzilla() as fake:
        session.get(f"{fake.url}/rest/version", timeout=10)
        session.get(f"{fake.url}/rest/bug/999", timeout=10)
        session.put(f"{fake.url}/rest/bug/1", json={}, timeout=10)
    counted = {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(service.metrics.page().decode())
        if f.name == "triagebot_bugzilla_requests"
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert counted == {
        (("code", "200"), ("method", "GET")): 1.0,
        (("code", "404"), ("method", "GET")): 1.0,
        (("code", "404"), ("method", "PUT")): 1.0,
    }
    store.close()


# -- errors of the listener ------------------------------------------------------------------------
def test_unknown_path_404_wrong_method_405_large_body_413(service: Service) -> None:
    answer = requests.get(url(service, "/nope"), timeout=10)
    assert (answer.status_code, answer.json()) == (404, {"error": "no such path: /nope"})
    answer = requests.post(url(service, "/metrics"), data=b"x", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET"
    assert answer.json() == {"error": "POST not allowed; use GET"}
    answer = requests.get(url(service, "/hooks/bugzilla"), timeout=10)
    assert (answer.status_code, answer.headers["Allow"]) == (405, "POST")
    answer = requests.head(url(service, "/livez"), timeout=10)
    assert (answer.status_code, answer.headers["Allow"], answer.content) == (405, "GET", b"")

    # 1 MiB + 1: refused from its Content-Length, before the body is read
    assert service.listener is not None
    with socket.create_connection((service.listener.host, service.listener.port), 10) as conn:
        conn.sendall(
            b"POST /hooks/bugzilla HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"{HEADER}: {SECRET}\r\nContent-Length: {1024 * 1024 + 1}\r\n\r\n".encode()
        )
        head = b"".join(iter(lambda: conn.recv(4096), b"")).decode()  # until it closes
    assert head.startswith("HTTP/1.0 413 ")
    assert '{"error": "the body is over 1048576 bytes"}' in head
    assert service.schedule.request(["x"])  # nothing was pending: the 413 asked for nothing


def test_a_slow_client_is_cut_off_and_others_are_served(tmp_path: Path) -> None:
    answer_all = {"GET": lambda r: Response(200, b"{}"), "POST": lambda r: Response(202)}
    listener = Listener("127.0.0.1", 0, {"/livez": answer_all}, timeout=0.2)
    listener.start()
    try:
        with socket.create_connection((listener.host, listener.port), 10) as slow:
            slow.sendall(b"POST /livez HTTP/1.1\r\nContent-Length: 10\r\n\r\n12")  # 8 missing
            answer = requests.get(f"http://{listener.address}/livez", timeout=10)
            assert answer.status_code == 200  # served while the slow one waits
            slow.settimeout(10)  # a hang guard
            assert slow.recv(4096) == b""  # closed by the listener, no answer
    finally:
        listener.stop()


def test_a_failing_handler_is_a_500_and_a_log_line_and_the_listener_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_request: Request) -> Response:
        raise RuntimeError("handler bug")

    listener = Listener(
        "127.0.0.1", 0, {"/x": {"GET": broken}, "/livez": {"GET": lambda r: Response(200)}}
    )
    listener.start()
    try:
        for _ in range(2):
            answer = requests.get(f"http://{listener.address}/x", timeout=10)
            assert (answer.status_code, answer.json()) == (500, {"error": "Internal Server Error"})
        assert requests.get(f"http://{listener.address}/livez", timeout=10).status_code == 200
    finally:
        listener.stop()
    failures = [r for r in caplog.records if r.getMessage() == "http: GET /x failed"]
    assert len(failures) == 2 and "RuntimeError: handler bug" in caplog.text


# -- push -----------------------------------------------------------------------------------------
def test_push_without_or_with_a_wrong_header_is_401_and_changes_nothing(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    moves = Moves()
    service.schedule.attach(moves)
    wrong = "Token wrong-value-of-the-same-length-xxxxxx"
    for headers in ({}, {HEADER: wrong}, {HEADER: SECRET[:-1]}, {"Authorization": SECRET}):
        answer = hook(service, bmo_payload(), headers)
        assert answer.status_code == 401
        assert answer.json() == {"error": "missing or wrong X-Triagebot-Token header"}
    assert moves.times == []
    assert not service.schedule.busy()
    unauthorized = page(service)["triagebot_push_events_total"][(("result", "unauthorized"),)]
    assert unauthorized == 4.0
    assert SECRET not in caplog.text and wrong not in caplog.text
    assert caplog.text.count("push: refused a request without the right X-Triagebot-Token") == 4


def test_push_with_the_header_is_202_and_moves_the_rules_poll_to_now(
    service: Service, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    moves = Moves()
    service.schedule.attach(moves)
    answer = hook(service, bmo_payload())
    assert (answer.status_code, answer.json()) == (
        202,
        {"result": "triggered", "rules": ["community-it"]},
    )
    assert moves.times == [clock.now]  # the next round: now
    answer = hook(service, bmo_payload("comment.create"))
    assert answer.json() == {"result": "coalesced", "rules": ["community-it"]}
    assert moves.times == [clock.now]
    assert service.schedule.due(["community-it"]) == ["community-it"]
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (bmo_payload("bug.create"), {"result": "triggered", "rules": ["community-it"]}),
        (bmo_payload("bug.modify:status"), {"result": "triggered", "rules": ["community-it"]}),
        (bmo_payload("comment.create"), {"result": "triggered", "rules": ["community-it"]}),
        (bmo_payload(component="General"), {"result": "ignored", "rules": []}),
        (bmo_payload(product="Firefox"), {"result": "ignored", "rules": []}),
        # the bot's own write: nothing new to read
        (bmo_payload(login="TriageBot@example.org"), {"result": "ignored", "rules": []}),
        # no product or component: every rule
        (PRIVATE_PAYLOAD, {"result": "triggered", "rules": ["community-it", "other"]}),
        (b"", {"result": "triggered", "rules": ["community-it", "other"]}),
        (b"not json", {"result": "triggered", "rules": ["community-it", "other"]}),
        ([1, 2], {"result": "triggered", "rules": ["community-it", "other"]}),
    ],
)
def test_which_rules_a_payload_asks_to_poll(
    tmp_path: Path, payload: Any, expected: dict[str, Any]
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    service = Service(
        interval=INTERVAL,
        rules=lambda: [RULE, OTHER],
        store=store,
        session=requests.Session(),
        bot_login=lambda: "triagebot@example.org",
        listen=("127.0.0.1", 0),
        push_auth=PushAuth(HEADER, SECRET),
    )
    service.start(lambda: True)
    try:
        answer = hook(service, payload)
        assert (answer.status_code, answer.json()) == (202, expected)
    finally:
        service.stop()
        store.close()


def test_no_push_route_without_push_configured(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    service = Service(
        interval=INTERVAL,
        rules=lambda: [RULE],
        store=store,
        session=requests.Session(),
        bot_login=lambda: None,
        listen=("127.0.0.1", 0),
    )
    service.start(lambda: True)
    try:
        assert hook(service, bmo_payload()).status_code == 404
    finally:
        service.stop()
        store.close()


# -- coalescing -----------------------------------------------------------------------------------
def test_schedule_one_round_running_one_pending(clock: Clock) -> None:
    schedule = Schedule(INTERVAL, clock)
    moves = Moves()
    schedule.attach(moves)
    assert schedule.due(["r"]) == ["r"]  # the first round, at start
    assert schedule.again() is None
    assert moves.times == [clock.now + INTERVAL]  # the safety poll

    clock.now += timedelta(minutes=10)
    assert schedule.request(["r"])
    assert moves.times[-1] == clock.now  # at once
    assert not schedule.request(["r"])  # coalesced: a round is already moved up
    assert schedule.due(["r"]) == ["r"]
    started = clock.now
    results = [schedule.request(["r"]) for _ in range(99)]  # while it runs
    assert results.count(True) == 1  # one pending; the others join it
    clock.now += timedelta(seconds=0.25)
    assert schedule.again() == PUSH_GAP - timedelta(seconds=0.25)  # a second round, soon
    clock.now = started + PUSH_GAP
    assert schedule.due(["r"]) == ["r"]
    assert schedule.again() is None  # then nothing: the next is the safety poll again
    assert moves.times[-1] == clock.now + INTERVAL


def test_schedule_safety_polls_keep_every_rule_within_its_interval(clock: Clock) -> None:
    schedule = Schedule(INTERVAL, clock)
    moves = Moves()
    schedule.attach(moves)
    assert schedule.due(["a", "b"]) == ["a", "b"]
    schedule.again()
    clock.now += timedelta(minutes=30)
    schedule.request(["a"])
    assert schedule.due(["a", "b"]) == ["a"]  # only the rule pushed for
    assert schedule.again() is None
    assert moves.times[-1] == clock.now + timedelta(minutes=30)  # b's interval, not a's
    clock.now += timedelta(minutes=30)
    assert schedule.due(["a", "b"]) == ["b"]
    schedule.again()
    assert schedule.due(["b"]) == []  # a rule removed is forgotten...
    schedule.again()
    assert moves.times[-1] == clock.now + INTERVAL  # ...and no longer wakes the scheduler


class CountingPoller:
    """Counts polls; the second one (the first pushed) blocks until released."""

    def __init__(self) -> None:
        self.polls: list[str] = []
        self.running = threading.Event()
        self.release = threading.Event()
        self.reports: list[PollReport] = []

    def poll_rule(self, rule: Rule) -> PollReport:
        self.polls.append(rule.name)
        if len(self.polls) == 2:
            self.running.set()
            self.release.wait(10)
        return report(rule.name)


def test_a_hundred_hooks_cause_at_most_two_polls(tmp_path: Path) -> None:
    poller = CountingPoller()
    bot = stand_in_bot(tmp_path, poller, interval=60.0)  # type: ignore[arg-type]
    service = Service(
        interval=timedelta(minutes=60),
        rules=bot.rules.current,
        store=bot.store,
        session=requests.Session(),
        bot_login=lambda: None,
        listen=("127.0.0.1", 0),
        push_auth=PushAuth(HEADER, SECRET),
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(bot, lambda r: None, stop), kwargs={"service": service}
    )
    thread.start()
    try:
        wait_for(lambda: poller.polls == ["community-it"] and not service.schedule.busy())
        wait_for(lambda: service.listener is not None)
        answers = [hook(service, bmo_payload()).json()["result"]]  # the first one starts a poll
        poller.running.wait(10)
        answers += [hook(service, bmo_payload()).json()["result"] for _ in range(99)]
        poller.release.set()
        wait_for(lambda: not service.schedule.busy())
    finally:
        poller.release.set()
        stop.set()
        thread.join(timeout=10)
    assert answers.count("triggered") == 2 and answers.count("coalesced") == 98
    assert poller.polls == ["community-it"] * 3  # at start, then two for the hundred hooks


# -- end to end: the stand-in's webhooks, the real bot -----------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeBugzilla]:
    server = FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT)
    server.start()
    yield server
    server.stop()


def test_the_stand_in_sends_bmo_shaped_webhooks(fake: FakeBugzilla) -> None:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    def record(request: Request) -> Response:
        received.append((dict(request.headers), json.loads(request.body)))
        return Response(200)

    listener = Listener("127.0.0.1", 0, {"/hook": {"POST": record}})
    listener.start()
    try:
        fake.add_webhook(
            f"http://{listener.address}/hook",
            name="triagebot",
            product="Participation Infrastructure",
            component="Community IT",
            api_key_header=HEADER,
            api_key_value=SECRET,
        )
        bug = fake.add_bug("Hosting", "Please host us", "lucia@example.org")
        fake.add_bug("Elsewhere", "Not watched", "lucia@example.org", component="General")
        fake.add_comment(bug, "Any news?", "lucia@example.org")
        fake.move_bug(bug, component="General")
        assert fake.webhooks.drain()
    finally:
        listener.stop()
    keys = [payload["event"]["routing_key"] for _, payload in received]
    # the move out is sent too: BMO sends a change that takes a bug out of the component
    assert keys == ["bug.create", "comment.create", "bug.modify:component"]
    assert received[2][1]["event"]["changes"] == [
        {"field": "component", "removed": "Community IT", "added": "General"}
    ]
    assert received[2][1]["bug"]["component"] == "General"
    headers, created = received[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers[HEADER] == SECRET
    assert set(created) == {"bug", "event", "webhook_id", "webhook_name"}
    assert (created["webhook_id"], created["webhook_name"]) == (1, "triagebot")
    assert created["event"]["action"] == "create" and created["event"]["target"] == "bug"
    assert created["event"]["user"]["login"] == "lucia@example.org"
    assert "Z" not in created["event"]["time"] and "changes" not in created["event"]
    assert created["bug"]["id"] == bug
    assert created["bug"]["product"] == "Participation Infrastructure"
    assert created["bug"]["component"] == "Community IT"
    comment = received[1][1]
    assert comment["event"]["target"] == "comment"
    assert comment["bug"]["comment"]["body"] == "Any news?"
    assert comment["bug"]["comment"]["number"] == 1


def test_push_end_to_end_a_request_filed_is_annotated_without_waiting_for_the_interval(
    fake: FakeBugzilla, base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    workdir = tmp_path / "bot"
    workdir.mkdir()
    assert fake.url is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    config = load_config(demo.write_config(workdir, fake.url, base, start))
    bot = build_bot(config, live=True)
    resolve_bot_login(bot, live=True)
    service = Service(
        interval=timedelta(minutes=60),  # the safety poll: not within this test
        rules=bot.rules.current,
        store=bot.store,
        session=bot.client.session,
        bot_login=lambda: bot.poller.settings.bot_login,
        listen=("127.0.0.1", 0),
        push_auth=PushAuth(HEADER, SECRET),
    )
    reports: list[PollReport] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(bot, reports.extend, stop), kwargs={"service": service}
    )
    thread.start()
    try:
        wait_for(lambda: reports and service.listener is not None)  # the poll at start
        assert service.listener is not None
        listening = (
            f"listening on http://{service.listener.address} "
            "(/hooks/bugzilla /livez /metrics /readyz)"
        )
        fake.add_webhook(
            url(service, "/hooks/bugzilla"),
            product="Participation Infrastructure",
            api_key_header=HEADER,
            api_key_value=SECRET,
        )
        bug = fake.add_bug(
            "Mailing list for Mozilla Hispano translators",
            "Hola! We would like a new list for our translators team.",
            "lucia@example.org",
        )
        wait_for(lambda: len(fake.comments_of(bug)) == 2)
        assert fake.webhooks.drain()
        wait_for(lambda: not service.schedule.busy())
    finally:
        stop.set()
        thread.join(timeout=10)
    posted = fake.comments_of(bug)[1]
    assert posted["creator"] == demo.BOT
    assert posted["text"].startswith("Endorsed: Lucía Ferreyra")
    # the bot's own comment and whiteboard came back as webhooks: ignored, no extra poll
    deliveries = [(d.routing_key, d.status) for d in fake.webhooks.deliveries]
    assert deliveries == [
        ("bug.create", 202),
        ("comment.create", 202),
        ("bug.modify:whiteboard", 202),
    ]
    assert len(reports) == 2  # at start, then the push
    assert listening in [r.getMessage() for r in caplog.records]
    assert SECRET not in caplog.text


# -- configuration: [http] and [push] ----------------------------------------------------------
def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "triagebot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:0", ("::1", 0)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_http_listen(tmp_path: Path, listen: str, address: tuple[str, int]) -> None:
    config = load_config(write_toml(tmp_path, f'[http]\nlisten = "{listen}"\n'))
    assert config.http.address == address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[http]\nlisten = "9464"\n', "2: http.listen: expected host:port like 127.0.0.1:9464"),
        ('[http]\nlisten = "host:99999"\n', "2: http.listen: expected host:port like"),
        ('[push]\nheader = "X Token"\n', "2: push.header: expected an HTTP header name"),
    ],
)
def test_http_and_push_errors_name_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write_toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value.problems[0]).startswith(f"{path}:{expected}")


def test_push_secret_from_env_then_credential_then_owner_only_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "push-secret"
    secret_file.write_text("from-file\n", encoding="utf-8")
    secret_file.chmod(0o600)
    path = write_toml(
        tmp_path,
        f'[push]\nheader = "{HEADER}"\nsecret_env = "MY_PUSH"\nsecret_file = "{secret_file}"\n',
    )
    monkeypatch.delenv("MY_PUSH", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = load_config(path)
    assert config.push.secret() == "from-file"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "push-secret").write_text("from-systemd\n", encoding="utf-8")
    (credentials / "push-secret").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert config.push.secret() == "from-systemd"
    monkeypatch.setenv("MY_PUSH", "from-env")
    assert config.push.secret() == "from-env"
    assert "from-env" not in repr(config)

    secret_file.chmod(0o644)
    monkeypatch.delenv("MY_PUSH")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError) as caught:
        config.push.secret()
    assert [str(p) for p in caught.value.problems] == [
        f"{secret_file}: the push secret file is readable by other users (mode 644); "
        f"run: chmod 600 {secret_file}"
    ]


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (
            f'[push]\nheader = "{HEADER}"\nsecret_env = "MY_PUSH"\n',
            "[push] needs [http] listen, the address webhooks are sent to",
        ),
        (
            f'[http]\nlisten = "127.0.0.1:0"\n[push]\nheader = "{HEADER}"\n'
            'secret_env = "TRIAGEBOT_TEST_UNSET"\n',
            "[push] has no secret: set secret_env (and that variable), secret_file, or "
            "systemd's credential push-secret",
        ),
    ],
)
def test_run_with_push_misconfigured_exits_2(
    fake: FakeBugzilla,
    base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sections: str,
    expected: str,
) -> None:
    from triagebot.commands.cli import main

    monkeypatch.setenv("MY_PUSH", SECRET)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    workdir = tmp_path / "bot"
    workdir.mkdir()
    assert fake.url is not None
    path = demo.write_config(workdir, fake.url, base, datetime.now(UTC))
    path.write_text(path.read_text(encoding="utf-8") + sections, encoding="utf-8")
    assert main(["--config", str(path), "run", "--live"]) == 2
    assert f"error: {path}: {expected}" in capsys.readouterr().err
