"""Text that people read on a terminal: per-bug lines, summaries, registry views, status.

Pure functions from data to strings, so the CLI stays thin and tests compare exact text.
"""

from __future__ import annotations

import os
import textwrap
from datetime import date
from pathlib import Path
from typing import IO, Any

from triagebot.bugs import Bug, Decision
from triagebot.poller import BugResult, PollReport
from triagebot.registry import Community, Person, Registry

ACTION_WORDS = {
    "commented": "commented",
    "would-comment": "would comment",
    "skipped": "skipped",
    "reconciled": "already commented (confirmed)",
    "pending": "waiting: an earlier write may still land",
    "failed": "FAILED, retried next poll",
    "capped": "not acted on (action cap)",
}


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with NO_COLOR (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


# -- registry ------------------------------------------------------------------------------
def check_summary(path: Path, result: Any) -> str:
    return (
        f"{path}: {result.communities} communities, {result.people} people in "
        f"{result.files} files: {len(result.errors)} errors, {len(result.warnings)} warnings"
    )


def _person_line(person: Person) -> str:
    contacts = ", ".join(f"{c.kind} {c.value}" for c in person.public_contacts)
    return f"{person.name}" + (f" ({contacts})" if contacts else "")


def find_person(registry: Registry, query: str, today: date) -> str | None:
    query = query.strip()
    person = (
        registry.person_by_bugzilla_id(int(query))
        if query.isdigit()
        else registry.person_by_email(query)
    )
    if person is None:
        return None
    lines = [f"{person.name} ({person.handle})"]
    if person.bugzilla_id is not None:
        lines.append(f"  Bugzilla id: {person.bugzilla_id}")
    if person.emails:
        lines.append(f"  Bugzilla logins: {', '.join(person.emails)}")
    roles = registry.roles_of(person.handle, today)
    if not roles:
        lines.append("  no role in any community")
    for role in roles:
        d = role.delegation
        where = f"{role.community.name} [{role.community.slug}]"
        if role.current:
            lines.append(f"  current: {d.title} of {where} since {d.since}")
        else:
            holders = ", ".join(
                f"{registry.people[h.person].name} ({h.title})" for h in role.holders_now
            )
            lines.append(
                f"  former:  {d.title} of {where}, {d.since} to {d.until}; "
                f"now: {holders or 'nobody'}"
            )
    return "\n".join(lines)


def show_community(registry: Registry, community: Community, today: date) -> str:
    g = community.governance
    lines = [
        f"{community.name} [{community.slug}] ({community.status}, reviewed {community.reviewed})"
    ]
    if community.aliases:
        lines.append(f"  aliases: {', '.join(community.aliases)}")
    governance = g.model
    if g.term_months:
        governance += f", terms of {g.term_months} months"
    if g.charter:
        governance += f", charter {g.charter}"
    lines.append(f"  governance: {governance}")
    lines.append("  current delegates:")
    current = community.current_delegates(today)
    for d in current:
        lines.append(f"    {d.title}: {_person_line(registry.people[d.person])} since {d.since}")
    if not current:
        lines.append("    none")
    contacts = community.public_contacts
    if contacts:
        lines.append("  contacts:")
        lines.extend(f"    {c.kind}: {c.value}" for c in contacts)
    if community.resources:
        lines.append("  resources:")
        for r in community.resources:
            names = ", ".join(registry.people[h].name for h in r.responsible)
            lines.append(f"    {r.kind} {r.id}: {names}")
    past = community.past_delegates(today)
    if past:
        lines.append("  past delegates:")
        for d in past:
            lines.append(f"    {d.title}: {registry.people[d.person].name}, {d.since} to {d.until}")
    return "\n".join(lines)


# -- polls -------------------------------------------------------------------------------------
def bug_line(result: BugResult, color: bool = False) -> str:
    d = result.decision
    outcome = d.outcome if d else "-"
    community = (d.community or ("/".join(d.communities) if d.communities else "-")) if d else "-"
    action = ACTION_WORDS.get(result.action, result.action)
    if result.needinfo and result.action in ("commented", "would-comment"):
        action += f", needinfo {', '.join(result.needinfo)}"
    if result.error:
        action += f": {result.error}"
    colors = {"failed": "31", "capped": "33", "pending": "33", "commented": "32"}
    code = colors.get(result.action)
    head = f"{result.bug.id:>7}  {outcome:<17}  "
    text = head + (f"{community}: {action}" if community != "-" else action)
    if len(text) > 78:  # an 80-column terminal: the action goes on its own lines
        text = (
            head
            + community
            + "\n"
            + textwrap.fill(
                action, 80, initial_indent=" " * len(head), subsequent_indent=" " * (len(head) + 2)
            )
        )
    return _paint(text, code, color) if code else text


def poll_lines(report: PollReport, color: bool = False) -> str:
    out: list[str] = []
    for result in sorted(report.results, key=lambda r: r.bug.id):
        out.append(bug_line(result, color))
        if result.action == "would-comment" and result.comment:
            out.append(textwrap.indent(_dry_run_block(result), "         | "))
    out.append(poll_summary(report))
    if report.capped is not None:
        out.append(
            _paint(
                f"ACTION CAP: {report.capped} bugs would be acted on, more than "
                "max_actions_per_run; nothing was written. Check the rule, then run again "
                "with --no-limit if this is expected.",
                "1;33",
                color,
            )
        )
    return "\n".join(out) + "\n"


def _dry_run_block(result: BugResult) -> str:
    d = result.decision
    assert d is not None and result.comment is not None
    head = [f"whiteboard: {d.whiteboard if d.whiteboard is not None else '(unchanged)'}"]
    if d.needinfo:
        head.append(f"needinfo: {', '.join(d.needinfo)}")
    return "\n".join([*head, "comment:", *result.comment.splitlines()])


def poll_summary(report: PollReport) -> str:
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.action] = counts.get(r.action, 0) + 1
    mode = "live" if report.live else "dry run"
    parts = [f"{n} {ACTION_WORDS.get(a, a).split(',')[0].split(':')[0]}" for a, n in counts.items()]
    head = (
        f"rule {report.rule} ({mode}): {len(report.results)} bugs created since "
        f"{report.since:%Y-%m-%d %H:%M:%S}Z"
    )
    text = head + (": " + ", ".join(parts) if parts else "") + f"; {report.requests} requests"
    if report.failed:
        text += "; to retry: " + ", ".join(f"bug {r.bug.id}" for r in report.failed)
    if report.error:
        text += f"; POLL FAILED: {report.error}"
    return text


def exit_code(reports: list[PollReport]) -> int:
    return 0 if all(r.ok for r in reports) else 1


def explain(bug: Bug, rule: str, decision: Decision, record: Any) -> str:
    lines = [
        f"bug {bug.id}: {bug.summary}",
        f"  reporter: {bug.creator}" + (f" (id {bug.creator_id})" if bug.creator_id else ""),
        f"  rule {rule}: {decision.outcome} — {decision.reason}",
    ]
    if record is not None:
        lines.append(f"  state: {record.state} ({record.action}, {record.updated_at})")
    if decision.acts:
        lines.append(f"  whiteboard: {decision.whiteboard}")
        lines.append(f"  needinfo: {', '.join(decision.needinfo) or 'nobody'}")
        lines.append("  comment:")
        lines.extend(f"    {line}" for line in decision.comment_text("…").splitlines())
    else:
        lines.append("  no write")
    return "\n".join(lines)


def status(store: Any, problems: list[str]) -> str:
    lines = ["last polls:"]
    polls = store.recent_polls(10)
    for p in polls:
        mode = "dry run" if p.dry_run else "live"
        finished = f"{p.finished_at:%Y-%m-%d %H:%M:%S}" if p.finished_at else "not finished"
        lines.append(
            f"  {p.started_at:%Y-%m-%d %H:%M:%S} {p.rule} ({mode}) {finished}: {p.searched} bugs,"
            f" {p.acted} acted on, {p.failed} failed, {p.skipped} skipped"
            + (f"; {p.error}" if p.error else "")
        )
    if not polls:
        lines.append("  none yet")
    counts = store.outcome_counts()
    lines.append("outcomes:")
    lines.extend(f"  {k}: {v}" for k, v in sorted(counts.items()))
    if not counts:
        lines.append("  none yet")
    pending = store.pending_intents()
    lines.append(f"writes not confirmed (checked against Bugzilla next poll): {len(pending)}")
    lines.extend(f"  bug {r.bug_id} rule {r.rule} ref {r.ref} since {r.intent_at}" for r in pending)
    failed = store.failed()
    lines.append(f"failed (retried next poll): {len(failed)}")
    lines.extend(f"  bug {r.bug_id} rule {r.rule}: {r.last_error}" for r in failed)
    if problems:
        lines.append("REGISTRY/RULES HAVE ERRORS (a running bot keeps its last good version):")
        lines.extend(f"  {p}" for p in problems)
    return "\n".join(lines)
