"""Push from Bugzilla: `POST /hooks/bugzilla` moves a rule's next poll to now.

bugzilla.mozilla.org's Webhooks extension POSTs one JSON document per event (`bug.create`,
`comment.create`, `bug.modify:...`) with the bug's id, product and component, authenticated
only by a static header whose name and value the webhook's owner chose (no signature). So the
payload is only a trigger: the poll reads Bugzilla as always, and a forged or stale payload
can make the bot look, never make it write something Bugzilla does not show. The value is
compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from triagebot.core.rule import Rule
from triagebot.service.http import Request, Response, error, json_response
from triagebot.service.metrics import Metrics, PushResult
from triagebot.service.schedule import Schedule

log = logging.getLogger(__name__)

PATH = "/hooks/bugzilla"


@dataclass(frozen=True)
class PushAuth:
    """The header BMO's webhook form sends ("API Key Header") and its value ("API Key
    Value", at most 64 characters there)."""

    header: str
    secret: str = field(repr=False)

    def accepts(self, request: Request) -> bool:
        given = request.headers.get(self.header)
        if given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.secret.encode())


def watched_by(payload: bytes, rules: list[Rule], bot_login: str | None) -> list[Rule]:
    """The rules a webhook payload concerns: those watching its bug's product and component;
    every rule when it names none (a private bug's payload has only its id; another tracker
    may send anything); none for the bot's own change (its writes would otherwise ask for a
    poll that finds nothing new)."""
    try:
        document: Any = json.loads(payload)
    except ValueError:
        return rules
    if not isinstance(document, dict):
        return rules
    event = document.get("event")
    user = event.get("user") if isinstance(event, dict) else None
    login = user.get("login") if isinstance(user, dict) else None
    if bot_login and isinstance(login, str) and login.lower() == bot_login.lower():
        return []
    bug = document.get("bug")
    product = bug.get("product") if isinstance(bug, dict) else None
    component = bug.get("component") if isinstance(bug, dict) else None
    if not isinstance(product, str) or not isinstance(component, str):
        return rules
    return [rule for rule in rules if rule.watches(product, component)]


@dataclass(frozen=True)
class PushHook:
    """The handler of `POST /hooks/bugzilla`."""

    auth: PushAuth
    schedule: Schedule
    rules: Callable[[], list[Rule]]
    bot_login: Callable[[], str | None]
    metrics: Metrics

    def __call__(self, request: Request) -> Response:
        if not self.auth.accepts(request):
            self.metrics.push_events.labels(PushResult.UNAUTHORIZED.value).inc()
            log.warning("push: refused a request without the right %s header", self.auth.header)
            return error(HTTPStatus.UNAUTHORIZED, f"missing or wrong {self.auth.header} header")
        rules = [r.name for r in watched_by(request.body, self.rules(), self.bot_login())]
        if not rules:
            result = PushResult.IGNORED
        elif self.schedule.request(rules):
            result = PushResult.TRIGGERED
        else:
            result = PushResult.COALESCED
        self.metrics.push_events.labels(result.value).inc()
        log.debug("push: %s (rules: %s)", result.value, ", ".join(rules) or "none")
        return json_response(HTTPStatus.ACCEPTED, {"result": result.value, "rules": rules})
