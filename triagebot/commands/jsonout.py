"""`--json`: one JSON document per command, for scripts. Keys are stable (documented in the
README, section "Scriptable output"): a key is added, never renamed or removed, and one that
has no value is null or an empty list rather than absent.

Pure functions from the same data the text output uses, so both always say the same thing.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from triagebot.core.bugs import Bug, Comment, Decision
from triagebot.core.registry import Community, Contact, Delegation, Person, Registry
from triagebot.service.poller import BugResult, PollReport

SCHEMA_VERSION = 1


def dumps(document: dict[str, Any]) -> str:
    """The document as printed: indented, keys in the order built, non-ASCII as is."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


# -- once ---------------------------------------------------------------------------------------
def poll_document(reports: list[PollReport], exit_code: int) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "exit_code": exit_code,
        "polls": [_poll(report) for report in reports],
    }


def _poll(report: PollReport) -> dict[str, Any]:
    return {
        "rule": report.rule,
        "live": report.live,
        "since": report.since,
        "requests": report.requests,
        "error": report.error,
        "capped": report.capped,
        "handled_before": report.handled_before,
        "bugs": [_result(r) for r in sorted(report.results, key=lambda r: r.bug.id)],
    }


def _result(result: BugResult) -> dict[str, Any]:
    d = result.decision
    return {
        "bug": result.bug.id,
        "action": result.action,
        "outcome": d.outcome if d else None,
        "community": d.community if d else None,
        "communities": list(d.communities) if d else [],
        "whiteboard": d.whiteboard if d and d.acts else None,
        "needinfo": list(result.needinfo or (d.needinfo if d else ())),
        "comment": result.comment,
        "error": result.error,
    }


# -- explain ------------------------------------------------------------------------------------
def explain_document(bug: Bug, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "bug": bug.id,
        "summary": bug.summary,
        "product": bug.product,
        "component": bug.component,
        "reporter": bug.creator,
        "reporter_id": bug.creator_id,
        "created": bug.creation_time,
        "rules": rules,
    }


def explain_rule(
    rule: str, decision: Decision, record: Any, posted: Comment | None, before_start: bool
) -> dict[str, Any]:
    """One watching rule's view of a bug: the decision, the store's record and, for a bug
    already handled, what the bot posted (read back from Bugzilla)."""
    return {
        "rule": rule,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "community": decision.community,
        "communities": list(decision.communities),
        "before_start": before_start,
        "state": record.state if record is not None else None,
        "would_write": None
        if not decision.acts
        else {
            "whiteboard": decision.whiteboard,
            "needinfo": list(decision.needinfo),
            "comment": decision.comment_text("…"),
        },
        "posted": None
        if posted is None
        else {
            "comment_id": posted.id,
            "count": posted.count,
            "creator": posted.creator,
            "time": posted.creation_time,
            "text": posted.text,
        },
    }


# -- status -------------------------------------------------------------------------------------
def status_document(store: Any, problems: list[str]) -> dict[str, Any]:
    """`store` None when there is no database yet."""
    document: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "state": store is not None,
        "polls": [],
        "outcomes": {},
        "unconfirmed_writes": [],
        "failed": [],
        "running_bot_problems": [],
        "file_problems": list(problems),
    }
    if store is None:
        return document
    document["polls"] = [
        {
            "rule": p.rule,
            "live": not p.dry_run,
            "started": p.started_at,
            "finished": p.finished_at,
            "bugs": p.searched,
            "acted": p.acted,
            "failed": p.failed,
            "skipped": p.skipped,
            "error": p.error,
        }
        for p in store.recent_polls(10)
    ]
    document["outcomes"] = dict(sorted(store.outcome_counts().items()))
    document["unconfirmed_writes"] = [
        {"bug": r.bug_id, "rule": r.rule, "ref": r.ref, "since": r.intent_at}
        for r in store.pending_intents()
    ]
    document["failed"] = [
        {"bug": r.bug_id, "rule": r.rule, "error": r.last_error} for r in store.failed()
    ]
    document["running_bot_problems"] = [
        {"source": r.source, "reported": r.reported_at, "problems": list(r.problems)}
        for r in store.reload_problems()
    ]
    return document


# -- registry -----------------------------------------------------------------------------------
def _contacts(contacts: tuple[Contact, ...]) -> list[dict[str, str]]:
    return [{"kind": c.kind, "value": c.value} for c in contacts if c.public]


def _term(registry: Registry, d: Delegation) -> dict[str, Any]:
    person = registry.people.get(d.person)
    return {
        "handle": d.person,
        "name": person.name if person else d.person,
        "title": d.title,
        "since": d.since,
        "until": d.until,
        "contacts": _contacts(person.contacts) if person else [],
    }


def person_document(
    registry: Registry, query: str, person: Person | None, today: date
) -> dict[str, Any]:
    """`registry find`: the person (public contacts only) and every term, or null."""
    document: dict[str, Any] = {"version": SCHEMA_VERSION, "query": query, "person": None}
    if person is None:
        return document
    document["person"] = {
        "handle": person.handle,
        "name": person.name,
        "bugzilla_id": person.bugzilla_id,
        "emails": list(person.emails),
        "contacts": _contacts(person.contacts),
        "roles": [
            {
                "community": role.community.slug,
                "title": role.delegation.title,
                "since": role.delegation.since,
                "until": role.delegation.until,
                "current": role.current,
            }
            for role in registry.roles_of(person.handle, today)
        ],
    }
    return document


def community_document(registry: Registry, community: Community, today: date) -> dict[str, Any]:
    """`registry show`: what the directory page shows of one community."""
    g = community.governance
    return {
        "version": SCHEMA_VERSION,
        "slug": community.slug,
        "name": community.name,
        "status": community.status,
        "reviewed": community.reviewed,
        "aliases": list(community.aliases),
        "governance": {
            "model": g.model,
            "term_months": g.term_months,
            "charter": g.charter,
            "notes": g.notes,
        },
        "current_delegates": [_term(registry, d) for d in community.current_delegates(today)],
        "contacts": _contacts(community.contacts),
        "resources": [
            {"kind": r.kind, "id": r.id, "responsible": list(r.responsible)}
            for r in community.resources
        ],
        "past_delegates": [
            {k: v for k, v in _term(registry, d).items() if k != "contacts"}
            for d in community.past_delegates(today)
        ],
    }
