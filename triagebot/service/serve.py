"""What `run` adds around its polls: the schedule, metrics and readiness, and the listener.

`run_forever` polls through a `Service`; the listener is started only when `[http] listen` is
set, and `POST /hooks/bugzilla` is served only when `[push]` is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import requests

from triagebot.core.rule import Rule
from triagebot.service import push
from triagebot.service.http import Handler, Listener, Request, Response, json_response
from triagebot.service.metrics import CONTENT_TYPE, Health, Metrics
from triagebot.service.poller import Poller, PollReport
from triagebot.service.push import PushAuth, PushHook
from triagebot.service.schedule import Schedule
from triagebot.state.store import Store

log = logging.getLogger(__name__)

DEAD = "the scheduler is not running"


class Service:
    def __init__(
        self,
        *,
        interval: timedelta,
        rules: Callable[[], list[Rule]],
        store: Store,
        session: requests.Session,
        bot_login: Callable[[], str | None],
        listen: tuple[str, int] | None = None,
        push_auth: PushAuth | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.rules = rules
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.schedule = Schedule(interval, self.clock)
        self.metrics = Metrics(r.name for r in rules())
        self.metrics.count_responses(session)
        self.health = Health(interval, self.clock)
        self.listen = listen
        self.push = (
            None
            if push_auth is None
            else PushHook(push_auth, self.schedule, rules, bot_login, self.metrics)
        )
        self.listener: Listener | None = None
        self._alive: Callable[[], bool] = lambda: True

    def poll(self, poller: Poller, rules: Sequence[Rule]) -> list[PollReport]:
        """Poll these rules, one after the other, and observe each report."""
        poller.reports = []
        reports = []
        for rule in rules:
            started = time.monotonic()
            report = poller.poll_rule(rule)
            self.observe(report, time.monotonic() - started)
            reports.append(report)
        return reports

    def observe(self, report: PollReport, seconds: float) -> None:
        finished = self.clock()
        self.health.record(report, finished)
        self.metrics.observe_poll(report, seconds, finished)
        if report.busy is None:
            try:
                self.metrics.observe_store(self.store, report.rule)
            except Exception:  # the gauges wait for the next poll; the poll's result stands
                log.exception("metrics: could not read the counts of rule %s", report.rule)

    # -- the listener --------------------------------------------------------------------------
    def start(self, alive: Callable[[], bool]) -> None:
        """Start listening, when configured; `alive()` says whether the scheduler runs."""
        self._alive = alive
        if self.listen is None:
            return
        routes: dict[str, dict[str, Handler]] = {
            "/livez": {"GET": self.livez},
            "/readyz": {"GET": self.readyz},
            "/metrics": {"GET": self.metrics_page},
        }
        if self.push is not None:
            routes[push.PATH] = {"POST": self.push}
        self.listener = Listener(*self.listen, routes)
        self.listener.start()
        log.info("listening on http://%s (%s)", self.listener.address, " ".join(sorted(routes)))

    def stop(self) -> None:
        """Before the scheduler shuts down."""
        self.schedule.detach()
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    def livez(self, _request: Request) -> Response:
        if self._alive():
            return json_response(HTTPStatus.OK, {"status": "alive"})
        return json_response(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "dead", "reasons": [DEAD]})

    def readyz(self, _request: Request) -> Response:
        reasons = self.health.reasons(r.name for r in self.rules())
        if not self._alive():
            reasons.insert(0, DEAD)
        if reasons:
            return json_response(
                HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "reasons": reasons}
            )
        return json_response(HTTPStatus.OK, {"status": "ready", "reasons": []})

    def metrics_page(self, _request: Request) -> Response:
        return Response(HTTPStatus.OK, self.metrics.page(), CONTENT_TYPE)
