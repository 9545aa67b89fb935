"""`--json` views: the documents of `triagebot.commands.documents`, built from the same data
the text views read, so both always say the same thing. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from triagebot.commands import documents as doc
from triagebot.core.awaiting import Entry
from triagebot.core.registry import Community, Contact, Delegation, Person, Registry
from triagebot.service.poller import BugResult, PollReport
from triagebot.service.views import Explained, RuleExplained, Status
from triagebot.tools.directory import public_view


# -- once ---------------------------------------------------------------------------------------
def poll_document(reports: list[PollReport], exit_code: int) -> doc.PollDocument:
    return doc.PollDocument(exit_code=exit_code, polls=[_poll(report) for report in reports])


def _poll(report: PollReport) -> doc.PollView:
    return doc.PollView(
        rule=report.rule,
        live=report.live,
        since=report.since,
        requests=report.requests,
        error=report.error,
        capped=report.capped,
        handled_before=report.handled_before,
        bugs=[_result(r) for r in sorted(report.results, key=lambda r: r.bug.id)],
    )


def _result(result: BugResult) -> doc.BugLine:
    d = result.decision
    return doc.BugLine(
        bug=result.bug.id,
        action=str(result.action),
        outcome=str(d.outcome) if d else None,
        community=d.community if d else None,
        communities=list(d.communities) if d else [],
        whiteboard=d.whiteboard if d and d.acts else None,
        needinfo=list(result.needinfo or (d.needinfo if d else ())),
        comment=result.comment,
        error=result.error,
    )


# -- explain ------------------------------------------------------------------------------------
def explain_document(explained: Explained) -> doc.ExplainDocument:
    bug = explained.bug
    return doc.ExplainDocument(
        bug=bug.id,
        summary=bug.summary,
        product=bug.product,
        component=bug.component,
        reporter=bug.creator,
        reporter_id=bug.creator_id,
        created=bug.creation_time,
        rules=[_explain_rule(r) for r in explained.rules],
    )


def _explain_rule(view: RuleExplained) -> doc.ExplainRule:
    """One watching rule's view of a bug: the decision, the store's record, what the next
    poll writes (exactly the PUT it sends, but for the footer's ref) and what the bot
    posted before (read back from Bugzilla)."""
    decision, put, posted = view.decision, view.put, view.posted
    return doc.ExplainRule(
        rule=view.rule,
        outcome=str(decision.outcome),
        reason=decision.reason,
        community=decision.community,
        communities=list(decision.communities),
        before_start=view.before_start,
        state=str(view.record.state) if view.record is not None else None,
        would_write=None
        if put is None
        else doc.WouldWrite(
            whiteboard=put.whiteboard,
            needinfo=list(put.needinfo),
            comment=put.comment,
            clear_flags=list(put.clear_flags),
            kind=decision.kind,
        ),
        posted=None
        if posted is None
        else doc.Posted(
            comment_id=posted.id,
            count=posted.count,
            creator=posted.creator,
            time=posted.creation_time,
            text=posted.text,
        ),
    )


# -- status -------------------------------------------------------------------------------------
def status_document(view: Status) -> doc.StatusDocument:
    if not view.state:  # no database yet
        return doc.StatusDocument(state=False, file_problems=list(view.file_problems))
    return doc.StatusDocument(
        state=True,
        polls=[
            doc.PollRecord(
                rule=p.rule,
                live=not p.dry_run,
                started=p.started_at,
                finished=p.finished_at,
                bugs=p.searched,
                acted=p.acted,
                failed=p.failed,
                skipped=p.skipped,
                error=p.error,
            )
            for p in view.polls
        ],
        outcomes=view.outcomes,
        unconfirmed_writes=[
            doc.UnconfirmedWrite(bug=r.bug_id, rule=r.rule, ref=r.ref, since=r.intent_at)
            for r in view.unconfirmed
        ],
        failed=[doc.FailedBug(bug=r.bug_id, rule=r.rule, error=r.last_error) for r in view.failed],
        running_bot_problems=[
            doc.ReloadReport(source=r.source, reported=r.reported_at, problems=list(r.problems))
            for r in view.running_bot_problems
        ],
        file_problems=list(view.file_problems),
    )


# -- queue --------------------------------------------------------------------------------------
def queue_document(rows: Sequence[Entry]) -> doc.QueueDocument:
    return doc.QueueDocument(
        bugs=[
            doc.AwaitingBug(
                bug=r.bug_id,
                url=r.url,
                summary=r.summary,
                rule=r.rule,
                community=r.community,
                community_name=None if r.community is None else r.community_name,
                age_days=r.age_days,
                asked=list(r.asked),
                stale=r.stale,
            )
            for r in rows
        ]
    )


# -- registry -----------------------------------------------------------------------------------
def check_document(path: Path, result: Any) -> doc.CheckDocument:
    return doc.CheckDocument(
        ok=result.ok,
        registry=str(path),
        communities=result.communities,
        people=result.people,
        files=result.files,
        errors=[str(p) for p in result.errors],
        warnings=[str(p) for p in result.warnings],
    )


def audit_document(policy_path: Path, policy: Any, findings: list[Any]) -> doc.AuditDocument:
    return doc.AuditDocument(
        ok=not any(f.severity == "error" for f in findings),
        policy=str(policy_path),
        checks=[name for name, rule in policy if rule is not None],
        findings=[
            doc.Finding(
                severity=f.severity, file=f.file, line=f.line, field=f.field, message=f.message
            )
            for f in findings
        ],
    )


def _contacts(contacts: tuple[Contact, ...]) -> list[doc.ContactView]:
    return [doc.ContactView(kind=c.kind, value=c.value) for c in contacts if c.public is True]


def _term(registry: Registry, d: Delegation) -> doc.Term:
    person = registry.people.get(d.person)
    return doc.Term(
        handle=d.person,
        name=person.name if person else d.person,
        title=d.title,
        since=d.since,
        until=d.until,
        contacts=_contacts(person.contacts) if person else [],
    )


def person_document(
    registry: Registry, query: str, person: Person, today: date
) -> doc.PersonDocument:
    """`registry find`: the person (public contacts only) and every term."""
    return doc.PersonDocument(
        query=query,
        person=doc.PersonView(
            handle=person.handle,
            name=person.name,
            bugzilla_id=person.bugzilla_id,
            emails=list(person.emails),
            contacts=_contacts(person.contacts),
            roles=[
                doc.Role(
                    community=role.community.slug,
                    title=role.delegation.title,
                    since=role.delegation.since,
                    until=role.delegation.until,
                    current=role.current,
                )
                for role in registry.roles_of(person.handle, today)
            ],
        ),
    )


def _governance(g: Any) -> doc.GovernanceView:
    return doc.GovernanceView(
        model=g.model, term_months=g.term_months, charter=g.charter, notes=g.notes
    )


def community_document(
    registry: Registry, community: Community, today: date
) -> doc.CommunityDocument:
    """`registry show`: what the directory page shows of one community."""
    return doc.CommunityDocument(
        slug=community.slug,
        name=community.name,
        status=community.status,
        reviewed=community.reviewed,
        aliases=list(community.aliases),
        governance=_governance(community.governance),
        current_delegates=[_term(registry, d) for d in community.current_delegates(today)],
        contacts=_contacts(community.contacts),
        resources=[
            doc.ResourceView(kind=r.kind, id=r.id, responsible=list(r.responsible))
            for r in community.resources
        ],
        past_delegates=[
            doc.PastTerm(handle=d.person, name=t.name, title=d.title, since=d.since, until=d.until)
            for d in community.past_delegates(today)
            for t in [_term(registry, d)]
        ],
    )


def directory_document(registry: Registry, today: date) -> doc.DirectoryDocument:
    """`registry render --json`: the page's public view (privacy decided in `public_view`)."""

    def holder(h: Any) -> doc.Holder:
        return doc.Holder(
            name=h.name, title=h.title, since=h.since, until=h.until, contacts=_contacts(h.contacts)
        )

    return doc.DirectoryDocument(
        generated=today,
        communities=[
            doc.DirectoryCommunity(
                slug=e.slug,
                name=e.name,
                aliases=list(e.aliases),
                status=e.status,
                governance=_governance(e.governance),
                contacts=_contacts(e.contacts),
                current_delegates=[holder(h) for h in e.current],
                past_delegates=[holder(h) for h in e.past],
                resources=[
                    doc.ResourceView(kind=kind, id=rid, responsible=list(names))
                    for kind, rid, names in e.resources
                ],
                history=[
                    doc.Event(
                        day=ev.day,
                        kind=ev.kind,
                        person=ev.person,
                        title=ev.title,
                        source=ev.source,
                        scheduled=ev.scheduled,
                        text=ev.describe(),
                    )
                    for ev in e.history
                ],
            )
            for e in public_view(registry, today)
        ],
    )
