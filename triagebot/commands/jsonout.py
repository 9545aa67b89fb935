"""`--json` views: the documents of `triagebot.commands.documents`, read off the same view
models the text views format, so both always say the same thing. A key is read off the
attribute of the same name (`_read`, pydantic's `from_attributes`); only the others are
given here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from triagebot.commands import documents as doc
from triagebot.core.awaiting import Entry
from triagebot.core.registry import Community, Delegation, Person, Registry
from triagebot.service.poller import BugResult, PollReport
from triagebot.service.views import Explained, RuleExplained, Status
from triagebot.tools.directory import public_view

M = TypeVar("M", bound=doc.Part)


def _read(model: type[M], source: object, **given: Any) -> M:
    """`model` with its required fields read off `source`, but for those given. Fields with a
    default (`version`, `ok`...) are never read: a view model's `ok` means something else."""
    read = {
        name: getattr(source, name)
        for name, field in model.model_fields.items()
        if field.is_required() and name not in given
    }
    return model(**read, **given)


# -- once ---------------------------------------------------------------------------------------
def poll_document(reports: list[PollReport], exit_code: int) -> doc.PollDocument:
    polls = [
        _read(doc.PollView, r, bugs=[_result(b) for b in sorted(r.results, key=lambda b: b.bug.id)])
        for r in reports
    ]
    return doc.PollDocument(exit_code=exit_code, polls=polls)


def _result(result: BugResult) -> doc.BugLine:
    d = result.decision
    return _read(
        doc.BugLine,
        result,
        bug=result.bug.id,
        outcome=d.outcome if d else None,
        community=d.community if d else None,
        communities=d.communities if d else [],
        whiteboard=d.whiteboard if d else None,
        needinfo=result.needinfo or (d.needinfo if d else ()),
    )


# -- explain ------------------------------------------------------------------------------------
def explain_document(explained: Explained) -> doc.ExplainDocument:
    bug = explained.bug
    return _read(
        doc.ExplainDocument,
        bug,
        bug=bug.id,
        reporter=bug.creator,
        reporter_id=bug.creator_id,
        created=bug.creation_time,
        rules=[_explain_rule(r) for r in explained.rules],
    )


def _explain_rule(view: RuleExplained) -> doc.ExplainRule:
    decision, put, posted = view.decision, view.put, view.posted
    return _read(
        doc.ExplainRule,
        decision,
        rule=view.rule,
        before_start=view.before_start,
        state=view.record.state if view.record is not None else None,
        would_write=None if put is None else _read(doc.WouldWrite, put, kind=decision.kind),
        posted=None
        if posted is None
        else _read(doc.Posted, posted, comment_id=posted.id, time=posted.creation_time),
    )


# -- status -------------------------------------------------------------------------------------
def status_document(view: Status) -> doc.StatusDocument:
    return doc.StatusDocument(
        state=view.state,
        polls=[
            _read(
                doc.PollRecord,
                p,
                live=not p.dry_run,
                started=p.started_at,
                finished=p.finished_at,
                bugs=p.searched,
            )
            for p in view.polls
        ],
        outcomes=view.outcomes,
        unconfirmed_writes=[
            _read(doc.UnconfirmedWrite, r, bug=r.bug_id, since=r.intent_at)
            for r in view.unconfirmed
        ],
        failed=[_read(doc.FailedBug, r, bug=r.bug_id, error=r.last_error) for r in view.failed],
        running_bot_problems=[
            _read(doc.ReloadReport, r, reported=r.reported_at) for r in view.running_bot_problems
        ],
        file_problems=view.file_problems,
    )


# -- queue --------------------------------------------------------------------------------------
def queue_document(rows: Sequence[Entry]) -> doc.QueueDocument:
    bugs = [
        _read(
            doc.AwaitingBug,
            r,
            bug=r.bug_id,
            community_name=None if r.community is None else r.community_name,
        )
        for r in rows
    ]
    return doc.QueueDocument(bugs=bugs)


# -- registry -----------------------------------------------------------------------------------
def check_document(path: Path, result: Any) -> doc.CheckDocument:
    return _read(
        doc.CheckDocument,
        result,
        ok=result.ok,
        registry=str(path),
        errors=[str(p) for p in result.errors],
        warnings=[str(p) for p in result.warnings],
    )


def audit_document(policy_path: Path, policy: Any, findings: list[Any]) -> doc.AuditDocument:
    return doc.AuditDocument(
        ok=not any(f.severity == "error" for f in findings),
        policy=str(policy_path),
        checks=[name for name, rule in policy if rule is not None],
        findings=findings,
    )


def _term(registry: Registry, d: Delegation) -> doc.Term:
    person = registry.people.get(d.person)
    return _read(
        doc.Term,
        d,
        handle=d.person,
        name=person.name if person else d.person,
        contacts=person.public_contacts if person else [],
    )


def person_document(
    registry: Registry, query: str, person: Person, today: date
) -> doc.PersonDocument:
    """`registry find`: the person (public contacts only) and every term."""
    roles = [
        _read(doc.Role, role.delegation, community=role.community.slug, current=role.current)
        for role in registry.roles_of(person.handle, today)
    ]
    view = _read(doc.PersonView, person, contacts=person.public_contacts, roles=roles)
    return doc.PersonDocument(query=query, person=view)


def community_document(
    registry: Registry, community: Community, today: date
) -> doc.CommunityDocument:
    """`registry show`: what the directory page shows of one community."""
    return _read(
        doc.CommunityDocument,
        community,
        current_delegates=[_term(registry, d) for d in community.current_delegates(today)],
        contacts=community.public_contacts,
        past_delegates=[
            _read(doc.PastTerm, _term(registry, d)) for d in community.past_delegates(today)
        ],
    )


def directory_document(registry: Registry, today: date) -> doc.DirectoryDocument:
    """`registry render --json`: the page's public view (privacy decided in `public_view`)."""
    communities = [
        _read(
            doc.DirectoryCommunity,
            e,
            current_delegates=e.current,
            past_delegates=e.past,
            resources=[
                doc.ResourceView(kind=kind, id=rid, responsible=names)
                for kind, rid, names in e.resources
            ],
            history=[_read(doc.Event, ev, text=ev.describe()) for ev in e.history],
        )
        for e in public_view(registry, today)
    ]
    return doc.DirectoryDocument(generated=today, communities=communities)
