"""The follow-up core: after the bot's first comment, what to do with a bug's answers.

`follow_up` is pure, like `triage.decide`, and decides at most one write.

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
from datetime import date, datetime, time
from pathlib import Path
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
from triagebot.core.rule import Followup, Rule

REASON_LIMIT = 300  # characters of a decline reason quoted back

_COMMAND = re.compile(r"/(endorse|decline)(?:\s+(.*))?", re.IGNORECASE)
# A delegate's command: the kind of the bot's answer, the tag it adds, the outcome.
_ANSWERED = {
    "endorse": ("confirmation", ENDORSED, "endorsed"),
    "decline": ("decline", DECLINED, "declined"),
}
_DECIDED = {kind for kind, _, _ in _ANSWERED.values()}


# -- commands -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # "endorse" | "decline"
    reason: str = ""  # decline only; may be empty


def parse_command(text: str) -> Command | None:
    """The first command line of a comment: exactly `/endorse`, or `/decline` with an optional
    reason on the same line; case aside, surrounding whitespace ignored. Quoted lines (`>`)
    never count: a reply quoting someone's `/endorse` is not an endorsement."""
    for line in unquoted(text).splitlines():
        match = _COMMAND.fullmatch(line.strip())
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
    case = _Case(bug, rule, registry, now, bot_login, state, community)
    refused: Comment | None = None
    for comment in state.since:
        command = parse_command(comment.text)
        if command is None or command.verb not in settings.commands:
            continue
        decider = _decider(registry, comment, community, now.date())
        if decider is not None:
            return case.decided(command, comment, *decider)
        refused = refused or comment
    if settings.retriage and community is None:
        for comment in state.since:
            if _same_person(registry, bug, comment.creator):
                found = case.retriage(comment)
                if found is not None:
                    return found
    if refused is not None and "who-can-endorse" not in state.kinds:
        if not complete:
            return ReadHistory("a refused command: read all")
        return case.who_can_endorse(refused)
    return case.stale(complete)


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


@dataclass(frozen=True, slots=True)
class _Case:
    """A bug on which the bot awaits an answer, as each kind of follow-up reads it."""

    bug: Bug
    rule: Rule
    registry: Registry
    now: datetime
    bot_login: str | None
    state: Asked
    community: Community | None  # the one in the bug's community tag

    def decision(
        self,
        kind: str,
        reason: str,
        community: str | None,
        outcome: str = "awaiting",
        context: dict[str, Any] | None = None,
        whiteboard: str | None = None,
        needinfo: tuple[str, ...] = (),
        clear: Sequence[Flag] = (),
    ) -> Decision:
        """`outcome`: the endorsement state after the write; `kind` (one of KINDS, or "stale"
        for a tag-only change, no `context`) names the template and goes in the footer."""
        comment = None if context is None else self.rule.render_followup(kind, context)
        flags = tuple(f.id for f in clear if f.id is not None)
        write = Write(self.rule.name, kind, comment, whiteboard, needinfo, flags)
        communities = (community,) if community else ()
        return Decision(self.bug.id, self.rule.name, outcome, reason, community, communities, write)

    def context(self, kind: str, community: Community | None, **extra: Any) -> dict:
        """What the `kind` template sees: `extra`, and what every follow-up template sees. A
        confirmation or decline gets the community without its contacts and delegates."""
        assert self.rule.followup is not None
        shown = None
        if community is not None and kind in _DECIDED:
            shown = {**triage.community_ref(community), "contacts": (), "delegates": ()}
        elif community is not None:
            shown = triage.community_view(community, self.registry.people, self.now.date())
        return {
            "rule": self.rule.name,
            "directory_url": self.rule.directory_url,
            "community": shown,
            "commands": tuple(self.rule.followup.commands),
            **extra,
        }

    def decided(
        self, command: Command, comment: Comment, person: Person, term: Delegation, to: Community
    ) -> Decision:
        kind, tag, outcome = _ANSWERED[command.verb]
        add = [tag] if self.community is not None else [community_tag_for(self.rule, to.slug), tag]
        context = self.answered(command, comment, person, term, to)
        reason = f"{person.handle}, {term.title} of {to.slug}, {outcome} in comment {comment.count}"
        whiteboard = edit_whiteboard(self.bug.whiteboard, add=add, remove=(AWAITING, STALE))
        clear = bot_needinfo(self.bug, self.bot_login)
        return self.decision(kind, reason, to.slug, outcome, context, whiteboard, clear=clear)

    def answered(
        self, command: Command, comment: Comment, person: Person, term: Delegation, to: Community
    ) -> dict:
        """The context of the confirmation or decline of `command`."""
        return self.context(
            _ANSWERED[command.verb][0],
            to,
            decider={"name": person.name, "title": term.title, "since": term.since.isoformat()},
            date=self.now.date().isoformat(),
            reason=triage.sanitize(command.reason, REASON_LIMIT) or None,
            answer=comment.count,
        )

    def who_can_endorse(self, refused: Comment) -> Decision:
        command = parse_command(refused.text)
        assert command is not None
        slug = self.community.slug if self.community else None
        reason = f"/{command.verb} in comment {refused.count} is not by a current delegate"
        reason += f" of {slug}" if slug else " of exactly one community"
        context = self.context(
            "who-can-endorse", self.community, verb=command.verb, answer=refused.count
        )
        return self.decision("who-can-endorse", reason, slug, context=context)

    def retriage(self, answer: Comment) -> Decision | None:
        """The reporter's answer names exactly one community: decide the bug again with it."""
        bug, registry, day = self.bug, self.registry, self.now.date()
        mentions = triage.text_index(registry).find(unquoted(answer.text)[: triage.SCAN_LIMIT])
        if len(mentions.communities) != 1:
            return None
        reporter = registry.identify(bug.creator_id, bug.creator)
        roles = registry.roles_of(reporter.handle, day) if reporter else []
        roles = [r for r in roles if r.community.slug == mentions.communities[0].slug]
        verdict = triage.classify(day, reporter, roles, triage.Mentions(mentions.communities[:1]))
        context, tags, needinfo = triage.respond(bug, registry, self.rule, verdict)
        assert verdict.community is not None
        slug = verdict.community.slug
        remove = (STALE,) if AWAITING in tags else (AWAITING, STALE)  # a new ask starts afresh
        return self.decision(
            "retriage",
            f"the reporter named {slug} in comment {answer.count}: {verdict.outcome}",
            slug,
            verdict.outcome,
            {**context, "answer": answer.count},
            edit_whiteboard(bug.whiteboard, add=tags, remove=remove),
            needinfo,
            bot_needinfo(bug, self.bot_login, bug.creator),
        )

    def stale(self, complete: bool) -> Decision | ReadHistory | None:
        settings, state = self.rule.followup, self.state
        assert settings is not None
        if not turns_stale(self.bug, state, self.rule, self.now):
            return None
        assert state.ask.creation_time is not None
        age = self.now - state.ask.creation_time
        whiteboard = edit_whiteboard(self.bug.whiteboard, add=(STALE,))
        reason = f"awaiting an answer for {age.days} days"
        slug = self.community.slug if self.community else None
        if settings.remind and not complete and "reminder" not in state.kinds:
            return ReadHistory("stale: was a reminder posted?")
        if not settings.remind or "reminder" in state.kinds:
            return self.decision("stale", reason, slug, whiteboard=whiteboard)
        # Whom the bot is still waiting for: its open needinfo requests, by name. Nobody is asked
        # again: a request still open needs no second one, and one cleared must not come back.
        waiting = asked_names(self.bug, self.registry, self.bot_login)
        context = self.context("reminder", self.community, days=age.days, waiting=waiting)
        return self.decision("reminder", reason, slug, context=context, whiteboard=whiteboard)


# -- samples, for checking templates when rules load ----------------------------------------------
def sample_context(kind: str, rule_name: str, directory_url: str | None) -> dict[str, Any]:
    """A realistic context for the `kind` template, built by the same code as a real one, with
    every optional part filled in."""
    if kind == "retriage":
        context = triage.sample_context("needs-endorsement", "delegates", rule_name, directory_url)
        return {**context, "body": "(the outcome's comment)", "answer": 2}
    registry, now = triage.sample_registry(), datetime.combine(triage.SAMPLE_DAY, time(12))
    rule = Rule(rule_name, Path(), "", (), directory_url, 0, {}, followup=Followup())
    community = registry.communities["sample-b"]  # Dee D, its Lead, answers
    bug, answer = Bug(0, "", "zed@example.org", now), Comment(2, 0, "dee@example.org", "", 2, now)
    state = Asked(Comment(1, 0, "", "", 1, now), (), frozenset(), community.slug)
    case = _Case(bug, rule, registry, now, None, state, community)
    if kind in _DECIDED:
        verb = next(verb for verb, answered in _ANSWERED.items() if answered[0] == kind)
        dee = registry.people["dee"]
        return case.answered(Command(verb, "no"), answer, dee, community.delegates[0], community)
    if kind == "who-can-endorse":
        return case.context(kind, community, verb="endorse", answer=2)
    if kind == "reminder":
        return case.context(kind, community, days=15, waiting=("Dee D",))
    raise ValueError(kind)
