"""The follow-up core: after the bot's first comment, what to do with a bug's answers.

`follow_up` is pure, like `triage.decide`: from (bug, its comments, registry, rule, now, the
bot's login) to at most one `Decision` whose `Write` is one PUT, as a first comment's is: the
new whiteboard, the needinfo flags to clear (by id, status X), new needinfo requests and one
comment.

Everything is read back from the bug, never from the database, so a lost database posts no
second confirmation, reminder or re-triage:

- the bot asked: a comment of the bot's with this rule's footer (no kind: the first comment;
  kind `retriage`: a new ask), and the bug still carries `[endorsement-needed]`;
- the bot already decided: a tag flipped (`[endorsed]`, `[endorsement-declined]`), a
  `[community:SLUG]` tag added by a re-triage, `[endorsement-stale]` added with the reminder;
- the bot already answered a refused command: its `who-can-endorse` comment on the bug;
- a human stopped it: `[endorsement-needed]` removed, or `[triagebot-skip]` added.

Identity is exact, as for reporters: a comment's login must be one the registry lists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from triagebot.core import triage
from triagebot.core.bugs import Bug, Comment, Decision, Flag, Write
from triagebot.core.bugstate import (
    AWAITING,
    DECLINED,
    ENDORSED,
    STALE,
    Asked,
    asked,
    asked_names,
    awaits,
    bot_needinfo,
    community_tag_for,
    edit_whiteboard,
    turns_stale,
)
from triagebot.core.bugstate import KINDS as KINDS  # the templates a rule loads, by kind
from triagebot.core.registry import Community, Delegation, Person, Registry, normalize_email
from triagebot.core.rule import COMMANDS, Rule

REASON_LIMIT = 300  # characters of a decline reason quoted back

_COMMAND = re.compile(r"/(endorse|decline)(?:\s+(.*))?", re.IGNORECASE)


# -- commands -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # "endorse" | "decline"
    reason: str = ""  # decline only; may be empty


def parse_command(text: str) -> Command | None:
    """The first command line of a comment: exactly `/endorse`, or `/decline` with an optional
    reason on the same line; case aside, surrounding whitespace ignored. Quoted lines (`>`)
    never count: a reply quoting someone's `/endorse` is not an endorsement."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        match = _COMMAND.fullmatch(stripped)
        if match is None:
            continue
        verb = match.group(1).lower()
        reason = (match.group(2) or "").strip()
        if verb == "endorse" and reason:
            continue  # `/endorse` must stand alone: `/endorse later?` is not one
        return Command(verb, reason)
    return None


def unquoted(text: str) -> str:
    """A comment without its quoted lines: what its author wrote, not what they reply to."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


# -- the decision ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadHistory:
    """Nothing to write yet: the decision needs all of the bug's comments (the caller gave
    only the new ones) and must be made again with them."""

    reason: str


def _followup(
    bug_id: int,
    rule: str,
    kind: str,
    reason: str,
    community: str | None = None,
    outcome: str = "awaiting",
    comment: str | None = None,
    whiteboard: str | None = None,
    needinfo: tuple[str, ...] = (),
    clear_flags: tuple[int, ...] = (),
) -> Decision:
    """A follow-up's decision: `outcome` is the endorsement state after its write; `kind`
    (one of KINDS, or "stale" for a tag-only change) goes in the comment's footer."""
    write = Write(rule, kind, comment, whiteboard, needinfo, clear_flags)
    communities = (community,) if community else ()
    return Decision(bug_id, rule, outcome, reason, community, communities, write)


def follow_up(
    bug: Bug,
    comments: Sequence[Comment],
    registry: Registry,
    rule: Rule,
    now: datetime,
    bot_login: str | None,
    *,
    complete: bool = True,
) -> Decision | ReadHistory | None:
    """What to do about the answers to the bot's question on `bug`, or None.

    `comments`: the bug's comments in order; all of them (`complete`), or only those since
    some time (Bugzilla's `new_since`), in which case an ask not among them is older than all
    of them, and a decision that needs the whole history asks for it (`ReadHistory`)."""
    settings = rule.followup
    if settings is None or not awaits(bug, rule):
        return None
    state = asked(bug, comments, rule, bot_login, complete=complete)
    if state is None:
        return None
    community = registry.communities.get(state.community) if state.community else None
    day = now.date()
    refused: Comment | None = None
    for comment in state.since:
        command = parse_command(comment.text)
        if command is None or command.verb not in settings.commands:
            continue
        decider = _decider(registry, comment, community, day)
        if decider is not None:
            return _decided(bug, rule, community, command, comment, decider, day, bot_login)
        refused = refused or comment
    if settings.retriage and community is None:
        for comment in state.since:
            if _same_person(registry, bug, comment.creator):
                found = _retriage(bug, comment, registry, rule, day, bot_login)
                if found is not None:
                    return found
    if refused is not None and "who-can-endorse" not in state.kinds:
        if not complete:
            return ReadHistory("a refused command: read all")
        return _who_can_endorse(bug, rule, registry, community, refused, day)
    return _stale(bug, rule, registry, state, community, now, bot_login, complete)


def _decider(
    registry: Registry, comment: Comment, community: Community | None, day: date
) -> tuple[Person, Delegation, Community] | None:
    """The comment's author, their current term and the community they decide for: a current
    delegate of the bug's community, or, on a bug with none, of exactly one community."""
    person = registry.identify(None, comment.creator)
    if person is None:
        return None
    current = [r for r in registry.roles_of(person.handle, day) if r.current]
    if community is not None:
        mine = [r for r in current if r.community.slug == community.slug]
        return (person, mine[0].delegation, community) if mine else None
    slugs = {r.community.slug for r in current}
    if len(slugs) != 1:
        return None
    return person, current[0].delegation, current[0].community


def _same_person(registry: Registry, bug: Bug, login: str) -> bool:
    """Is `login` the reporter? The same login, or a login the registry lists for them."""
    if normalize_email(login) == normalize_email(bug.creator):
        return True
    reporter = registry.identify(bug.creator_id, bug.creator)
    return reporter is not None and registry.person_by_email(login) is reporter


def _decided(
    bug: Bug,
    rule: Rule,
    asked_about: Community | None,
    command: Command,
    comment: Comment,
    decider: tuple[Person, Delegation, Community],
    day: date,
    bot_login: str | None,
) -> Decision:
    person, term, community = decider
    endorse = command.verb == "endorse"
    kind, tag = ("confirmation", ENDORSED) if endorse else ("decline", DECLINED)
    add = [tag]
    if asked_about is None:
        add.insert(0, community_tag_for(rule, community.slug))
    reason = triage.sanitize(command.reason, REASON_LIMIT) or None
    context = {
        **_base_context(rule, community, day),
        "decider": {"name": person.name, "title": term.title, "since": term.since.isoformat()},
        "date": day.isoformat(),
        "reason": reason,
        "answer": comment.count,
    }
    verb = "endorsed" if endorse else "declined"
    return _followup(
        bug.id,
        rule.name,
        kind,
        f"{person.handle}, {term.title} of {community.slug}, {verb} in comment {comment.count}",
        community=community.slug,
        outcome="endorsed" if endorse else "declined",
        comment=rule.render_followup(kind, context),
        whiteboard=edit_whiteboard(bug.whiteboard, add=add, remove=(AWAITING, STALE)),
        clear_flags=_flag_ids(bot_needinfo(bug, bot_login)),
    )


def _who_can_endorse(
    bug: Bug,
    rule: Rule,
    registry: Registry,
    community: Community | None,
    refused: Comment,
    day: date,
) -> Decision:
    command = parse_command(refused.text)
    assert command is not None
    context = {
        **_base_context(rule, community, day, registry),
        "verb": command.verb,
        "answer": refused.count,
    }
    slug = community.slug if community else None
    return _followup(
        bug.id,
        rule.name,
        "who-can-endorse",
        f"/{command.verb} in comment {refused.count} is not by a current delegate"
        + (f" of {slug}" if slug else " of exactly one community"),
        community=slug,
        outcome="awaiting",
        comment=rule.render_followup("who-can-endorse", context),
    )


def _retriage(
    bug: Bug, answer: Comment, registry: Registry, rule: Rule, day: date, bot_login: str | None
) -> Decision | None:
    """The reporter's answer names exactly one community: decide the bug again with it."""
    mentions = triage.text_index(registry).find(unquoted(answer.text)[: triage.SCAN_LIMIT])
    if len(mentions.communities) != 1:
        return None
    reporter = registry.identify(bug.creator_id, bug.creator)
    roles = registry.roles_of(reporter.handle, day) if reporter else []
    roles = [r for r in roles if r.community.slug == mentions.communities[0].slug]
    verdict = triage.classify(day, reporter, roles, triage.Mentions(mentions.communities[:1]))
    action = rule.outcomes[verdict.outcome]
    needinfo, asked = triage.plan_needinfo(
        bug, registry, verdict, action.needinfo, rule.needinfo_cap
    )
    commands = rule.followup.commands if rule.followup else ()
    context = triage.build_context(
        bug, registry, verdict, asked, rule.name, rule.directory_url, commands
    )
    assert verdict.community is not None
    slug = verdict.community.slug
    tags = tuple(t.format(community=slug) for t in action.whiteboard)
    remove = (STALE,) if AWAITING in tags else (AWAITING, STALE)  # a new ask starts afresh
    context = {
        **context,
        "body": rule.render(verdict.outcome, context),
        "answer": answer.count,
    }
    reporter_login = normalize_email(bug.creator)
    return _followup(
        bug.id,
        rule.name,
        "retriage",
        f"the reporter named {slug} in comment {answer.count}: {verdict.outcome}",
        community=slug,
        outcome=verdict.outcome,
        comment=rule.render_followup("retriage", context),
        whiteboard=edit_whiteboard(bug.whiteboard, add=tags, remove=remove),
        needinfo=needinfo,
        clear_flags=_flag_ids(bot_needinfo(bug, bot_login, reporter_login)),
    )


def _stale(
    bug: Bug,
    rule: Rule,
    registry: Registry,
    state: Asked,
    community: Community | None,
    now: datetime,
    bot_login: str | None,
    complete: bool,
) -> Decision | ReadHistory | None:
    settings = rule.followup
    assert settings is not None
    if not turns_stale(bug, state, rule, now):
        return None
    assert state.ask.creation_time is not None
    age = now - state.ask.creation_time
    whiteboard = edit_whiteboard(bug.whiteboard, add=(STALE,))
    reason = f"awaiting an answer for {age.days} days"
    slug = community.slug if community else None
    if settings.remind and not complete and "reminder" not in state.kinds:
        return ReadHistory("stale: was a reminder posted?")
    if not settings.remind or "reminder" in state.kinds:
        return _followup(bug.id, rule.name, "stale", reason, slug, "awaiting", None, whiteboard)
    # Whom the bot is still waiting for: its open needinfo requests, by name. Nobody is asked
    # again: a request still open needs no second one, and one cleared must not come back.
    context = {
        **_base_context(rule, community, now.date(), registry),
        "days": age.days,
        "waiting": asked_names(bug, registry, bot_login),
    }
    comment = rule.render_followup("reminder", context)
    return _followup(bug.id, rule.name, "reminder", reason, slug, "awaiting", comment, whiteboard)


def _flag_ids(flags: Sequence[Flag]) -> tuple[int, ...]:
    return tuple(f.id for f in flags if f.id is not None)


def _base_context(
    rule: Rule, community: Community | None, day: date, registry: Registry | None = None
) -> dict[str, Any]:
    settings = rule.followup
    assert settings is not None
    people = registry.people if registry is not None else {}
    shown = None
    if community is not None:
        shown = triage.community_view(community, people, day) if registry else None
        shown = shown or {**triage.community_ref(community), "contacts": (), "delegates": ()}
    return {
        "rule": rule.name,
        "directory_url": rule.directory_url,
        "community": shown,
        "commands": tuple(settings.commands),
    }


# -- samples, for checking templates when rules load ----------------------------------------------
def sample_context(kind: str, rule_name: str, directory_url: str | None) -> dict[str, Any]:
    """A realistic context for the `kind` template, every optional part filled in."""
    registry = triage.sample_registry()
    day = triage.SAMPLE_DAY
    community = registry.communities["sample-b"]
    base = {
        "rule": rule_name,
        "directory_url": directory_url,
        "community": triage.community_view(community, registry.people, day),
        "commands": COMMANDS,
    }
    if kind in ("confirmation", "decline"):
        decider = {"name": "Dee D", "title": "Lead", "since": "2024-01-01"}
        return {**base, "decider": decider, "date": day.isoformat(), "reason": "no", "answer": 2}
    if kind == "who-can-endorse":
        return {**base, "verb": "endorse", "answer": 2}
    if kind == "reminder":
        return {**base, "days": 15, "waiting": ("Dee D",)}
    if kind == "retriage":
        context = triage.sample_context("needs-endorsement", "delegates", rule_name, directory_url)
        return {**context, "body": "(the outcome's comment)", "answer": 2}
    raise ValueError(kind)
