"""Text that people read on a terminal: per-bug lines, summaries, registry views, status.

Pure functions from data to strings, so the CLI stays thin and tests compare exact text.
"""

from __future__ import annotations

import difflib
import os
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from triagebot.bugzilla.client import public_url
from triagebot.core.bugs import Bug
from triagebot.core.registry import Community, Person, Registry
from triagebot.service.poller import BugResult, PollReport
from triagebot.service.views import RuleExplained, Status

# Everything printed for a terminal fits 80 columns; 78 leaves room for the demo's indent.
WIDTH = 78

ACTION_WORDS = {
    "commented": "commented",
    "would-comment": "would comment",
    "skipped": "skipped",
    "reconciled": "already commented (confirmed)",
    "pending": "waiting: an earlier write may still land",
    "failed": "FAILED, retried next poll",
    "gave-up": "GAVE UP after the same error each time (triagebot retry BUG)",
    "capped": "not acted on (action cap)",
    "stopped": "not written: stopped (the next poll writes it)",
    "handled-before": "handled in an earlier poll",
}


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never with NO_COLOR (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


# -- registry ------------------------------------------------------------------------------
def check_summary(path: Path, result: Any) -> str:
    return (
        f"{path}: {_count(result.communities, 'community', 'communities')}, "
        f"{_count(result.people, 'person', 'people')} in {_count(result.files, 'file')}: "
        f"{_count(len(result.errors), 'error')}, {_count(len(result.warnings), 'warning')}"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _person_line(person: Person) -> str:
    contacts = ", ".join(f"{c.kind} {c.value}" for c in person.public_contacts)
    return f"{person.name}" + (f" ({contacts})" if contacts else "")


def find_person(registry: Registry, person: Person, today: date) -> str:
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


def lookalike_hint(query: str) -> str | None:
    """Why an address that looks like a delegate's matches nobody: its non-ASCII letters."""
    odd = [c for c in dict.fromkeys(query) if ord(c) > 127]
    if not odd:
        return None
    names = ", ".join(f"'{c}' U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in odd)
    return (
        f"note: {query!r} has non-ASCII characters ({names}); logins are matched exactly, "
        "so a look-alike of a delegate's address is nobody"
    )


def unknown_community(registry: Registry, query: str, path: Path) -> str:
    """The message for `registry show` of a community that is not there: close matches by
    slug, name or alias, else every slug."""
    names: dict[str, str] = {}
    for community in registry.communities.values():
        for name in (community.slug, community.name, *community.aliases):
            names.setdefault(name.lower(), community.slug)
    close = difflib.get_close_matches(query.lower(), list(names), n=3, cutoff=0.6)
    slugs = list(dict.fromkeys(names[c] for c in close))
    if slugs:
        hint = "did you mean " + " or ".join(repr(s) for s in slugs) + "?"
    else:
        hint = "known: " + ", ".join(sorted(registry.communities))
    return (
        f"no community {query!r} in {path} (by slug, name or alias); {hint}\n"
        "run: triagebot registry render   for the whole directory"
    )


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
    if g.notes:  # as the directory page shows them
        lines.append(f"  notes: {g.notes}")
    lines.append("  current delegates:")
    lines += [
        f"    {d.title}: {_person_line(registry.people[d.person])} since {d.since}"
        for d in community.current_delegates(today)
    ] or ["    none"]
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
    return "\n".join(_fit(line) for line in lines)


def _fit(line: str) -> str:
    """A line of a view wrapped at 80 columns, going on indented under itself."""
    if len(line) <= WIDTH + 2:
        return line
    lead = line[: len(line) - len(line.lstrip())]
    return "\n".join(_wrap(line.lstrip(), initial_indent=lead, subsequent_indent=lead + "  "))


# -- polls -------------------------------------------------------------------------------------
def bug_line(result: BugResult, color: bool = False) -> str:
    d = result.decision
    outcome = d.outcome if d else "-"
    community = (d.community or ("/".join(d.communities) if d.communities else "-")) if d else "-"
    action = ACTION_WORDS.get(result.action, result.action)
    reason = getattr(d, "reason", None)
    if result.action == "skipped" and reason:
        action = f"not acted on: {reason}"  # why, rather than "skipped" twice
    kind = getattr(d, "kind", None)  # a follow-up: confirmation, reminder...
    if kind:
        action = f"{kind}, {action}"
    if result.needinfo and result.action in ("commented", "would-comment"):
        action += f", needinfo {', '.join(result.needinfo)}"
    if result.error:
        action += f": {result.error}"
    colors = {"failed": "31", "capped": "33", "pending": "33", "stopped": "33", "commented": "32"}
    code = colors.get(result.action)
    head = f"{result.bug.id:>7}  {outcome:<17}  "
    text = head + (f"{community}: {action}" if community != "-" else action)
    if len(text) > WIDTH:  # an 80-column terminal: the action goes on its own lines
        indent = " " * len(head)
        if community == "-":
            lines = _wrap(action, initial_indent=head, subsequent_indent=indent + "  ")
        else:
            lines = [
                *_wrap(community, initial_indent=head, subsequent_indent=indent),
                *_wrap(action, initial_indent=indent, subsequent_indent=indent + "  "),
            ]
        text = "\n".join(lines)
    return _paint(text, code, color) if code else text


def _wrap(text: str, **kwargs: Any) -> list[str]:
    """Lines of at most WIDTH, never breaking a word, an address or a URL."""
    return textwrap.wrap(text, WIDTH, break_long_words=False, break_on_hyphens=False, **kwargs) or [
        kwargs.get("initial_indent", "").rstrip()
    ]


def _item(text: str) -> list[str]:
    """An item of a list: indented by two, going on at four."""
    return _wrap(text, initial_indent="  ", subsequent_indent="    ")


def _section(head: str, items: Iterable[str]) -> list[str]:
    """A heading going on at two, then its items."""
    return [*_wrap(head, subsequent_indent="  "), *(line for item in items for line in _item(item))]


GUTTER = "         | "
FOLDED = "         ┆ "


def poll_lines(report: PollReport, color: bool = False) -> str:
    if report.busy is not None:  # another process polls this rule: nothing was done
        return report.busy + "\n"
    out: list[str] = []
    for result in sorted(report.results, key=lambda r: r.bug.id):
        out.append(bug_line(result, color))
        out.extend(_would_post(result))
    out.extend(_summary_lines(report))
    if report.capped is not None:
        cap = f"ACTION CAP: {report.capped} bugs would be acted on, more than max_actions_per_run"
        if report.live:
            cap += "; nothing was written. Check the rule, then run again with --no-limit"
        else:
            cap += (
                ": a live run would refuse and write nothing. Read the comments above, then "
                "run with --live --no-limit"
            )
        cap += " if this is expected."
        out.extend(_paint(line, "1;33", color) for line in _wrap(cap, subsequent_indent="  "))
    return "\n".join(out) + "\n"


def _would_post(result: BugResult) -> list[str]:
    """What a dry run would post on a bug. A line of the comment starts after "|"; where one
    is too long for the terminal it goes on after "┆", so the exact text stays readable
    (`explain` prints it raw)."""
    d = result.decision
    if result.action != "would-comment" or not result.comment or d is None:
        return []
    lines = [f"whiteboard: {d.whiteboard if d.whiteboard is not None else '(unchanged)'}"]
    if d.needinfo:
        lines.append(f"needinfo: {', '.join(d.needinfo)}")
    lines += ["comment:", *result.comment.splitlines()]
    return [
        out
        for line in lines
        for out in _wrap(line, initial_indent=GUTTER, subsequent_indent=FOLDED)
    ]


def _summary_parts(report: PollReport) -> tuple[str, list[str]]:
    counts = Counter(str(r.action) for r in report.results)
    if report.handled_before:  # found again by the overlap window, handled in an earlier poll
        counts["handled-before"] = report.handled_before
    mode = "live" if report.live else "dry run"
    head = (
        f"rule {report.rule} ({mode}): "
        f"{_count(report.bugs, 'bug')} changed since "
        f"{report.since:%Y-%m-%d %H:%M:%S}Z"
    )
    parts = []
    if counts:
        parts.append(
            ", ".join(
                f"{n} {ACTION_WORDS.get(a, a).split(',')[0].split(':')[0]}"
                for a, n in counts.items()
            )
        )
    parts.append(_count(report.requests, "HTTP request"))
    if report.failed:
        parts.append("to retry: " + ", ".join(f"bug {r.bug.id}" for r in report.failed))
    if report.error:
        parts.append(f"POLL FAILED: {report.error}")
    if report.stopped:
        parts.append(f"stopped on {report.stopped}: the rest is left to the next poll")
    return head, parts


def poll_summary(report: PollReport) -> str:
    """One line (for logs): `rule R (mode): N bugs changed since T: counts; K requests...`."""
    if report.busy is not None:
        return report.busy
    head, parts = _summary_parts(report)
    if report.results or report.handled_before:  # the first part counts them
        head += ": " + parts.pop(0)
    return "; ".join([head, *parts])


def _summary_lines(report: PollReport) -> list[str]:
    """The summary for a terminal: one line when it fits, else one line per part."""
    line = poll_summary(report)
    if len(line) <= WIDTH:
        return [line]
    head, parts = _summary_parts(report)
    return _section(head + ":", parts)


def exit_code(reports: list[PollReport]) -> int:
    return 0 if all(r.ok for r in reports) else 1


def explain(bug: Bug, view: RuleExplained) -> str:
    """What `explain` prints for one rule, within 80 columns."""
    decision = view.decision
    lines = [
        f"bug {bug.id}: {bug.summary}",
        f"  reporter: {bug.creator}" + (f" (id {bug.creator_id})" if bug.creator_id else ""),
        f"  rule {view.rule}: {decision.outcome} — {decision.reason}",
    ]
    if decision.lookalike:
        lines.extend(_item(f"look-alike: {decision.lookalike}"))
    if view.before_start:
        lines.append(
            f"  created {bug.creation_time:%Y-%m-%d %H:%M:%S}Z, before the poll start "
            f"{view.start:%Y-%m-%d %H:%M:%S}Z: the bot acts on it only if it moved in after that"
        )
    if view.record is not None:
        lines.append(f"  state: {_record_state(view.record)}")
    out = [_fit(line) for line in lines]
    put = view.put
    if put is not None:
        kind = f" ({decision.kind})" if decision.kind else ""
        out.append(f"  the next poll writes{kind}:")
        whiteboard = put.whiteboard if put.whiteboard is not None else "(unchanged)"
        out.append(_fit(f"  whiteboard: {whiteboard}"))
        out.append(_fit(f"  needinfo: {', '.join(put.needinfo) or 'nobody'}"))
        if put.clear_flags:
            out.append(_fit(f"  clears the bot's needinfo requests: {len(put.clear_flags)}"))
        if put.comment is not None:
            out.append("  comment:")
            out.extend(_folded(put.comment))
    elif view.action == "pending":
        out.append("  an earlier write may still land: the next poll looks for it first")
    else:
        out.append("  the next poll writes nothing on this bug")
    if view.posted is not None:
        posted = view.posted
        when = _when(posted.creation_time)
        out.append(_fit(f"  the bot posted comment #{posted.count} by {posted.creator} at {when}:"))
        out.extend(_folded(posted.text))
    return "\n".join(out)


def _folded(text: str) -> list[str]:
    """A comment's lines after 4 spaces; one too long for 80 columns goes on after '┆', as
    in a dry run (a folded line is the previous one, joined with a space)."""
    lines: list[str] = []
    for line in text.splitlines():
        if len(line) + 4 <= WIDTH + 2:
            lines.append(f"    {line}")
        else:
            lines.extend(_wrap(line, initial_indent="    ", subsequent_indent="  ┆ "))
    return lines


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "?"


def _record_state(record: Any) -> str:
    """What the store says about a bug, in the words a triager needs."""
    if record.state == "done":
        comment = f", comment {record.comment_id}" if record.comment_id else ""
        return f"done: {record.action} at {_when(record.done_at or record.updated_at)}{comment}"
    if record.state == "seen":
        return f"seen at {_when(record.updated_at)}: nothing to write"
    if record.state == "intent":
        return (
            f"a write (ref {record.ref}) started at {_when(record.intent_at)} is not confirmed;"
            " the next poll looks for it in the bug's comments before writing"
        )
    if record.state == "gave-up":
        return (
            f"gave up at {_when(record.updated_at)} after {record.failures} refusals: "
            f"{record.last_error}; `triagebot retry {record.bug_id}` puts it back"
        )
    return f"failed at {_when(record.updated_at)}: {record.last_error}; retried next poll"


NO_STATE = "no state yet: no poll has run with this database"


def _bounded(text: str, width: int = WIDTH + 2) -> str:
    """One line of at most `width` (80) columns, cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _poll_outcome(p: Any) -> str:
    if p.error and p.error.startswith("action cap: "):
        cap = p.error.removeprefix("action cap: ")
        return f"CAPPED: {cap} bugs to act on, over max_actions_per_run; none written"
    if p.error:
        return f"FAILED: {p.error}"
    acted = f"{p.acted} would comment" if p.dry_run else f"{p.acted} acted on"  # as `once` says
    return f"{p.searched} bugs, {acted}, {p.failed} failed, {p.skipped} skipped"


def poll_status_lines(p: Any) -> list[str]:
    """One poll of `status`: one line when it fits 80 columns, else what happened goes on
    a second line, itself cut at 80 columns."""
    mode = "dry run" if p.dry_run else "live"
    if p.finished_at is None:
        took = "not finished"
    else:
        took = f"{(p.finished_at - p.started_at).total_seconds():.1f} s"
    head = f"  {p.started_at:%Y-%m-%d %H:%M:%S}Z {p.rule} ({mode}, {took})"
    what = _poll_outcome(p)
    if len(head) + 2 + len(what) <= WIDTH + 2:
        return [f"{head}: {what}"]
    return [head, "    " + _bounded(what, WIDTH - 2)]


def _last_failure(polls: list[Any]) -> str | None:
    """`FAILED: reason` when the latest poll of some rule failed: the first thing to read."""
    latest: dict[str, Any] = {}
    for p in polls:  # newest first
        latest.setdefault(p.rule, p)
    failed = [p for p in latest.values() if p.error and not p.error.startswith("action cap: ")]
    if not failed:
        return None
    return _bounded(f"FAILED: {failed[0].error}")


def status(view: Status) -> str:
    """What `status` prints."""
    if not view.state:
        return "\n".join([NO_STATE, *_file_problems(view.file_problems)])
    failure = _last_failure(view.polls)
    lines = [failure] if failure else []
    lines.append("last polls:")
    lines += [line for p in view.polls for line in poll_status_lines(p)] or ["  none yet"]
    lines.append("outcomes:")
    lines += [f"  {k}: {v}" for k, v in view.outcomes.items()] or ["  none yet"]
    lines.append(
        f"awaiting endorsement: {view.awaiting}; `triagebot queue` lists them and "
        "says which are stale"
    )
    pending = view.unconfirmed
    lines.append(f"writes not confirmed (checked against Bugzilla next poll): {len(pending)}")
    lines.extend(
        f"  bug {r.bug_id} rule {r.rule} ref {r.ref} since {_when(r.intent_at)}" for r in pending
    )
    lines += _section(
        f"failed (retried next poll): {len(view.failed)}",
        (f"bug {r.bug_id} rule {r.rule}: {r.last_error}" for r in view.failed),
    )
    lines += _section(
        f"gave up (`triagebot retry BUG` puts one back): {len(view.gave_up)}",
        (f"bug {r.bug_id} rule {r.rule}, {r.failures} times: {r.last_error}" for r in view.gave_up),
    )
    for reported in view.running_bot_problems:
        when = _when(reported.reported_at)
        lines += _section(
            f"RUNNING BOT: {reported.source} reload failed at {when}; it keeps its last good "
            "version:",
            reported.problems,
        )
    lines.extend(_file_problems(view.file_problems))
    return "\n".join(lines)


def _file_problems(problems: list[str]) -> list[str]:
    if not problems:
        return ["registry and rules files: OK"]
    return _section(
        f"REGISTRY/RULES FILES HAVE ERRORS: {len(problems)} (a running bot keeps its last "
        "good version; a new one will not start):",
        problems,
    )


# -- the service and interruptions ------------------------------------------------------------
def run_startup_line(config: Any, live: bool, rules: list[str]) -> str:
    """`run`'s first log line: where, how, what, how often. The URL has no credentials."""
    mode = "live" if live else "dry run"
    return (
        f"triagebot run: Bugzilla {public_url(config.bugzilla.url)}, {mode}, "
        f"rules {', '.join(rules) or 'none'}, every {config.poll.interval_minutes:g} min"
    )


def would_post_lines(report: PollReport) -> list[str]:
    """The comments a dry-run poll would post, as `once --dry-run` prints them."""
    lines: list[str] = []
    for result in sorted(report.results, key=lambda r: r.bug.id):
        if block := _would_post(result):
            lines += [f"bug {result.bug.id} would get:", *block]
    return lines


def interrupted_line(reports: list[PollReport], store: Any) -> str:
    """What `once --live` had done when Ctrl-C stopped it."""
    commented = sum(r.action == "commented" for report in reports for r in report.results)
    unconfirmed = len(store.pending_intents())
    return (
        f"interrupted: {commented} commented, {unconfirmed} unconfirmed "
        "(checked against Bugzilla next poll)"
    )
