"""The stand-in's webhooks, shaped like bugzilla.mozilla.org's (extensions/Webhooks, sent by
extensions/Push/lib/Connector/Webhook.pm): upstream Bugzilla 5.0 has none, BMO has.

A webhook is registered per product (and optionally component), or "Any", for every event
(create, change and comment). On a matching change the stand-in POSTs one JSON document, in
order, from one sender thread, as BMO's push daemon does: `{"bug": {...}, "event": {"action",
"target", "routing_key", "time", "user", "changes"?}, "webhook_id", "webhook_name"}`, with
`Content-Type` and `Accept: application/json` and, when both are set, the header the owner
chose with its value. A comment's payload is its bug's, with the comment under
`bug.comment`. Times are UTC without a zone (`2026-11-24T07:50:57`). BMO does not send a bug
its owner cannot see (an invisible bug here); it retries an answer other than 2xx with backoff,
the stand-in records it in `deliveries` and goes on.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger(__name__)

ANY = "Any"
TIMEOUT_SECONDS = 30  # BMO's request timeout (Bugzilla::Util::mojo_user_agent)


@dataclass(frozen=True)
class Webhook:
    id: int
    name: str
    url: str
    product: str = ANY
    component: str = ANY
    api_key_header: str | None = None
    api_key_value: str | None = None

    def wants(self, product: str, component: str, changes: list[dict[str, str]]) -> bool:
        """BMO's `should_send`: product and component (or Any); or a change that took the bug
        out of this product or component."""
        if self.product in (ANY, product) and self.component in (ANY, component):
            return True
        removed = {
            c["field"]: c["removed"] for c in changes if c["field"] in ("product", "component")
        }
        if not removed:
            return False
        return self.product == removed.get("product", product) and self.component in (
            ANY,
            removed.get("component"),
        )


@dataclass(frozen=True)
class Delivery:
    webhook_id: int
    routing_key: str
    bug_id: int
    status: int | None  # None: no answer (refused, timed out)


def bmo_time(iso: str) -> str:
    """`2026-11-24T07:50:57Z` as BMO's payloads write it: `2026-11-24T07:50:57`."""
    return iso.removesuffix("Z")


def user_detail(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "login": user["name"], "real_name": user["real_name"]}


def bug_document(bug: dict[str, Any], creator: dict[str, Any]) -> dict[str, Any]:
    """A public bug as BMO's Push serialiser writes it (the fields the stand-in has)."""
    return {
        "alias": "",
        "assigned_to": bug["assigned_to"],
        "classification": "Other",
        "component": bug["component"],
        "creation_time": bmo_time(bug["creation_time"]),
        "creator": bug["creator"],
        "creator_detail": user_detail(creator),
        "flags": [],
        "id": bug["id"],
        "is_private": False,
        "keywords": [],
        "last_change_time": bmo_time(bug["last_change_time"]),
        "priority": "",
        "product": bug["product"],
        "resolution": bug["resolution"],
        "severity": "--",
        "status": bug["status"],
        "summary": bug["summary"],
        "type": "task",
        "url": "",
        "version": "unspecified",
        "whiteboard": bug["whiteboard"],
    }


def event_document(
    routing_key: str, user: dict[str, Any], time: str, changes: list[dict[str, str]] | None
) -> dict[str, Any]:
    target, _, rest = routing_key.partition(".")
    event: dict[str, Any] = {
        "action": rest.split(":")[0],
        "routing_key": routing_key,
        "target": target,
        "time": bmo_time(time),
        "user": user_detail(user),
    }
    if changes is not None:
        event["changes"] = changes
    return event


class Sender:
    """Registered webhooks and the thread that delivers their payloads in order."""

    def __init__(self) -> None:
        self.hooks: list[Webhook] = []
        self.deliveries: collections.deque[Delivery] = collections.deque(maxlen=1000)
        # a payload to send, or an event to set once everything before it was sent
        self._queue: queue.Queue[tuple[Webhook, dict[str, Any]] | threading.Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # loopback: no proxy from the environment

    def add(self, url: str, **options: Any) -> Webhook:
        number = len(self.hooks) + 1
        hook = Webhook(number, options.pop("name", f"webhook {number}"), url, **options)
        self.hooks.append(hook)
        if self._thread is None:
            self._thread = threading.Thread(target=self._deliver, name="webhooks", daemon=True)
            self._thread.start()
        return hook

    def emit(self, bug: dict[str, Any], document: dict[str, Any], event: dict[str, Any]) -> None:
        """Queue the payload for every webhook that wants this event on this bug."""
        if bug.get("invisible"):
            return
        changes = event.get("changes") or []
        for hook in self.hooks:
            if hook.wants(bug["product"], bug["component"], changes):
                payload = {
                    "bug": document,
                    "event": event,
                    "webhook_id": hook.id,
                    "webhook_name": hook.name,
                }
                self._queue.put((hook, payload))

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every payload queued so far was delivered (or given up)."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _deliver(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            hook, payload = item
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if hook.api_key_header and hook.api_key_value:
                headers[hook.api_key_header] = hook.api_key_value
            status: int | None
            try:
                response = self._session.post(
                    hook.url, json=payload, headers=headers, timeout=TIMEOUT_SECONDS
                )
                status = response.status_code
            except requests.RequestException as exc:
                log.debug("webhook %d: %s", hook.id, type(exc).__name__)
                status = None
            routing_key = payload["event"]["routing_key"]
            self.deliveries.append(Delivery(hook.id, routing_key, payload["bug"]["id"], status))
