"""What `run` tells the outside about itself: Prometheus metrics and readiness.

Both are fed from the service layer, around each poll and its report (and from the Bugzilla
session's response hook), so the core stays pure and the poller knows nothing of them. The
metrics live in a registry of their own, not prometheus_client's global one: two bots in one
process (the tests) never share a counter, and nothing a library registers globally leaks into
the page. No label names a person: rules, results, kinds, HTTP methods and codes only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from triagebot import __version__
from triagebot.service.poller import Action, PollReport
from triagebot.state.store import RecordState, Store

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A poll is one request when idle and minutes for a large backlog.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class PollResult(StrEnum):
    OK = "ok"
    ERROR = "error"  # the poll failed (Bugzilla down, lease lost) or the action cap stopped it
    BUSY = "busy"  # another process holds the rule's lease: nothing to do, and no failure


class WriteKind(StrEnum):
    """What a write on a bug was, as `triagebot_writes_total{kind}` counts it."""

    TRIAGE = "triage"  # the first comment: the triage outcome
    CONFIRMATION = "confirmation"
    DECLINE = "decline"
    RETRIAGE = "retriage"
    STALE = "stale"
    REMINDER = "reminder"
    ANSWER = "answer"  # to a refused command: who can endorse


class PushResult(StrEnum):
    TRIGGERED = "triggered"  # a rule's next poll moved to now
    COALESCED = "coalesced"  # a poll was already pending: this one adds nothing
    IGNORED = "ignored"  # authenticated, but no rule watches it (or it is the bot's own change)
    UNAUTHORIZED = "unauthorized"  # header missing or wrong: 401


# A follow-up's kind (None: the first comment) -> what is counted.
WRITE_KINDS: dict[str | None, WriteKind] = {
    **{kind.value: kind for kind in WriteKind},
    None: WriteKind.TRIAGE,
    "who-can-endorse": WriteKind.ANSWER,
}


def poll_result(report: PollReport) -> PollResult:
    if report.busy is not None:
        return PollResult.BUSY
    if report.error is not None or report.capped is not None:
        return PollResult.ERROR
    return PollResult.OK


class Metrics:
    """The page `GET /metrics` serves."""

    def __init__(self, rules: Iterable[str] = ()) -> None:
        r = self.registry = CollectorRegistry()
        counter, gauge = partial(Counter, registry=r), partial(Gauge, registry=r)
        self.polls = counter("triagebot_polls", "Polls of a rule, by result", ["rule", "result"])
        self.writes = counter(
            "triagebot_writes", "Writes on bugs that landed, by kind", ["rule", "kind"]
        )
        self.requests = counter(
            "triagebot_bugzilla_requests",
            "Answers from Bugzilla (after retries), by HTTP method and status code",
            ["method", "code"],
        )
        self.poll_duration = Histogram(
            "triagebot_poll_duration_seconds",
            "How long a poll of a rule took",
            ["rule"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_success = gauge(
            "triagebot_last_success_timestamp_seconds",
            "When the last successful poll of a rule finished (Unix time)",
            ["rule"],
        )
        self.gave_up = gauge(
            "triagebot_gave_up_bugs",
            "Bugs given up after the same error max_attempts times (triagebot retry BUG)",
            ["rule"],
        )
        self.awaiting = gauge("triagebot_awaiting_bugs", "Bugs awaiting an endorsement", ["rule"])
        self.push_events = counter(
            "triagebot_push_events", "Webhook requests, by result", ["result"]
        )
        Info("triagebot_build", "The running version", registry=r).info({"version": __version__})
        for result in PushResult:
            self.push_events.labels(result.value)
        for rule in rules:
            self.add_rule(rule)

    def add_rule(self, rule: str) -> None:
        """Every series of a rule from the start, at zero: a rate() over a counter that
        appears only at its first increment misses that increment."""
        for result in PollResult:
            self.polls.labels(rule, result.value)
        for kind in WriteKind:
            self.writes.labels(rule, kind.value)

    def page(self) -> bytes:
        return generate_latest(self.registry)

    def observe_poll(self, report: PollReport, seconds: float, finished: datetime) -> None:
        self.add_rule(report.rule)
        result = poll_result(report)
        self.polls.labels(report.rule, result.value).inc()
        if result == PollResult.BUSY:
            return
        self.poll_duration.labels(report.rule).observe(seconds)
        if result == PollResult.OK:
            self.last_success.labels(report.rule).set(finished.timestamp())
        for item in report.results:
            kind = WRITE_KINDS.get(item.decision.kind if item.decision is not None else None)
            if item.action == Action.COMMENTED and kind is not None:
                self.writes.labels(report.rule, kind.value).inc()

    def observe_store(self, store: Store, rule: str) -> None:
        """The gauges read from the database, after each poll of the rule."""
        self.gave_up.labels(rule).set(len(store.records_in(RecordState.GAVE_UP, rule)))
        self.awaiting.labels(rule).set(len(store.awaiting(rule)))

    def count_responses(self, session: requests.Session) -> None:
        """Count every answer the session receives, through requests' public response hook."""

        def hook(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
            self.requests.labels(response.request.method or "", str(response.status_code)).inc()

        session.hooks["response"].append(hook)


class Health:
    """Readiness: every rule's last poll succeeded less than two intervals ago. Thread-safe:
    the scheduler's thread records, the listener's threads read."""

    def __init__(self, interval: timedelta, clock: Callable[[], datetime] | None = None) -> None:
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._last: dict[str, tuple[datetime, str | None]] = {}  # rule -> (finished, error)

    def record(self, report: PollReport, finished: datetime) -> None:
        result = poll_result(report)
        error = None
        if result == PollResult.ERROR:
            error = report.error or f"action cap: {report.capped} bugs would be acted on"
        # busy counts as a success: another process polls the rule, as good for readiness
        with self._lock:
            self._last[report.rule] = (finished, error)

    def reasons(self, rules: Iterable[str]) -> list[str]:
        """Why the bot is not ready, one line each; none when it is."""
        rules = list(rules)
        if not rules:
            return ["no rules are loaded"]
        now = self.clock()
        out = []
        with self._lock:
            for rule in rules:
                if rule not in self._last:
                    out.append(f"rule {rule}: no poll has finished yet")
                    continue
                at, error = self._last[rule]
                if error is not None:
                    out.append(f"rule {rule}: the last poll failed at {_iso(at)}: {error}")
                elif now - at >= 2 * self.interval:
                    out.append(f"rule {rule}: no poll for two intervals (last at {_iso(at)})")
        return out


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
