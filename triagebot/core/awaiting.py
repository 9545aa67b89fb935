"""The triagers' queue: bugs awaiting endorsement, per community, read from Bugzilla.

`triagebot queue` reads Bugzilla (the awaiting tag, and the comments of the bugs old enough to
have turned stale), not the database: the tags and the bot's comments are the record, and a
bug a human re-tagged or untagged shows as it is. `entries` turns bugs into rows,
`render_text` and `render_markdown` show them (`--json`: triagebot.commands.jsonout).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from triagebot.core.bugs import Bug, Comment
from triagebot.core.bugstate import asked, asked_names, awaiting, community_tag, stale
from triagebot.core.registry import Registry
from triagebot.core.rule import Rule
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
    comments: Mapping[int, Sequence[Comment]],
    registry: Registry,
    rule: Rule,
    now: datetime,
    bot_login: str | None,
    base_url: str,
) -> list[Entry]:
    """The bugs that await endorsement under `rule`, oldest first. `comments`: those of the
    bugs that may have turned stale (`bugstate.may_turn_stale`)."""
    found: list[Entry] = []
    for bug in bugs:
        if not awaiting(bug):
            continue
        slug = community_tag(bug.whiteboard, rule)
        community = registry.communities.get(slug) if slug else None
        name = community.name if community is not None else slug or NO_COMMUNITY
        read = comments.get(bug.id)
        state = asked(bug, read, rule, bot_login) if read is not None else None
        found.append(
            Entry(
                bug.id,
                f"{base_url.rstrip('/')}/show_bug.cgi?id={bug.id}",
                sanitize(bug.summary, 80),
                rule.name,
                slug,
                name,
                max((now - bug.creation_time).days, 0),
                asked_names(bug, registry, bot_login),
                stale(bug, state, rule, now),
            )
        )
    found.sort(key=lambda e: (-e.age_days, e.bug_id))
    return found


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
