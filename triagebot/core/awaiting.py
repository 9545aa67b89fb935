"""The triagers' queue: bugs awaiting endorsement, per community, read from Bugzilla.

`triagebot queue` asks Bugzilla (one search per page: the rule's components, whiteboard
`[endorsement-needed]`), not the database: the tags are the record, and a bug a human
re-tagged or untagged shows as it is. Pure from here on: `entries` turns bugs into rows,
`render_text` and `render_markdown` show them (`--json`: triagebot.commands.jsonout).

Who was asked is the open needinfo requests the bot set, by registry name ("the reporter"
for the reporter); a login is shown only for someone the registry does not know, as
Bugzilla itself shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from triagebot.core.bugs import SKIP_TAG, Bug
from triagebot.core.followup import AWAITING, STALE, community_tag
from triagebot.core.registry import Registry, normalize_email
from triagebot.core.rule import DEFAULT_STALE_AFTER_DAYS, Rule
from triagebot.core.triage import sanitize

NO_COMMUNITY = "no community yet"


@dataclass(frozen=True, slots=True)
class Entry:
    bug_id: int
    url: str
    summary: str
    rule: str
    community: str | None  # slug
    community_name: str
    age_days: int  # since the bug was filed
    asked: tuple[str, ...]
    stale: bool


def entries(
    bugs: Iterable[Bug],
    registry: Registry,
    rule: Rule,
    now: datetime,
    bot_login: str | None,
    base_url: str,
) -> list[Entry]:
    """The bugs that await endorsement under `rule`, oldest first."""
    stale_after = timedelta(
        days=rule.followup.stale_after_days if rule.followup else DEFAULT_STALE_AFTER_DAYS
    )
    found: list[Entry] = []
    for bug in bugs:
        board = bug.whiteboard.casefold()
        if AWAITING.casefold() not in board or SKIP_TAG.casefold() in board:
            continue
        slug = community_tag(bug.whiteboard, rule)
        community = registry.communities.get(slug) if slug else None
        name = community.name if community is not None else slug or NO_COMMUNITY
        age = now - bug.creation_time
        found.append(
            Entry(
                bug.id,
                f"{base_url.rstrip('/')}/show_bug.cgi?id={bug.id}",
                sanitize(bug.summary, 80),
                rule.name,
                slug,
                name,
                max(age.days, 0),
                _asked(bug, registry, bot_login),
                STALE.casefold() in board or age >= stale_after,
            )
        )
    found.sort(key=lambda e: (-e.age_days, e.bug_id))
    return found


def _asked(bug: Bug, registry: Registry, bot_login: str | None) -> tuple[str, ...]:
    me = normalize_email(bot_login) if bot_login else None
    names: list[str] = []
    for flag in bug.flags:
        if flag.name != "needinfo" or flag.status != "?" or not flag.requestee:
            continue
        if me is not None and (not flag.setter or normalize_email(flag.setter) != me):
            continue
        person = registry.person_by_email(flag.requestee)
        if person is not None:
            names.append(person.name)
        elif normalize_email(flag.requestee) == normalize_email(bug.creator):
            names.append("the reporter")
        else:
            names.append(flag.requestee)
    return tuple(dict.fromkeys(names))


def _groups(rows: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Per community, by name; the bugs with no community last."""
    groups: dict[str, list[Entry]] = {}
    for row in sorted(rows, key=lambda e: (e.community is None, e.community_name.casefold())):
        groups.setdefault(row.community_name, []).append(row)
    return groups


def render_text(rows: Sequence[Entry]) -> str:
    if not rows:
        return "no bug awaits endorsement\n"
    stale = sum(r.stale for r in rows)
    lines = [f"{len(rows)} bugs await endorsement ({stale} stale)"]
    for name, group in _groups(rows).items():
        lines.append("")
        lines.append(f"{name}: {len(group)}")
        for r in group:
            flag = " STALE" if r.stale else ""
            asked = ", ".join(r.asked) or "nobody"
            lines.append(f"  bug {r.bug_id:<7} {r.age_days:>4} days{flag:<6}  asked: {asked}")
            lines.append(f"    {r.summary}")
    return "\n".join(lines) + "\n"


def render_markdown(rows: Sequence[Entry]) -> str:
    """For a weekly triage post: one table per community."""
    if not rows:
        return "No bug awaits endorsement.\n"
    stale = sum(r.stale for r in rows)
    out = [f"# Awaiting endorsement: {len(rows)} bugs, {stale} stale", ""]
    for name, group in _groups(rows).items():
        out += [f"## {_md(name)} ({len(group)})", ""]
        out += ["| Bug | Summary | Age (days) | Asked | Stale |", "|---|---|--:|---|---|"]
        for r in group:
            asked = ", ".join(_md(a) for a in r.asked) or "nobody"
            out.append(
                f"| [{r.bug_id}]({r.url}) | {_md(r.summary)} | {r.age_days} | {asked} | "
                f"{'yes' if r.stale else 'no'} |"
            )
        out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    """Bug text in a Markdown table cell: no pipes, no markup, no links."""
    for ch in "\\|*_`[]<>#":
        text = text.replace(ch, "\\" + ch)
    return text
