"""The follow-up core: after the bot's first comment, what to do with a bug's answers.

`follow_up` is pure, like `triage.decide`: from (bug, its comments, registry, rule, now, the
bot's login) to at most one `FollowUp` — one PUT carrying the new whiteboard, the needinfo
flags to clear (by id, status X), new needinfo requests and one comment.

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
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from triagebot.core import markup, triage
from triagebot.core.bugs import SKIP_TAG, Bug, Comment
from triagebot.core.footer import footer_line, parse_footer
from triagebot.core.registry import Community, Delegation, Person, Registry, normalize_email
from triagebot.core.rule import COMMANDS, Rule

AWAITING = "[endorsement-needed]"
ENDORSED = "[endorsed]"
DECLINED = "[endorsement-declined]"
STALE = "[endorsement-stale]"
# Comment kinds, named in the footer: `-- triagebot (rule R; KIND; ref X)`.
KINDS = ("confirmation", "decline", "who-can-endorse", "retriage", "reminder")
ASKS = (None, "retriage")  # the first comment (no kind) and a re-triage ask for an answer
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


# -- the bot's own comments -----------------------------------------------------------------------
def footer_of(text: str) -> tuple[str, str | None] | None:
    """(rule, kind) of the bot footer in `text`, or None."""
    found = parse_footer(text)
    return None if found is None else (found.rule, found.kind)


def is_bot(comment: Comment, bot_login: str | None) -> bool:
    """A comment by the bot's account; without a known login, one ending in a bot footer."""
    if bot_login:
        return normalize_email(comment.creator) == normalize_email(bot_login)
    return footer_of(comment.text) is not None


def own_kind(comment: Comment, bot_login: str | None, rule: str) -> tuple[bool, str | None]:
    """(is this the bot's comment under `rule`, its kind). A comment by the bot's login with
    no footer counts as a first comment: the author is enough to go by."""
    if not is_bot(comment, bot_login):
        return False, None
    footer = footer_of(comment.text)
    if footer is None:
        return bot_login is not None, None
    kind = footer[1] if footer[1] in KINDS else None
    return footer[0] == rule, kind


# -- the decision ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FollowUp:
    """One follow-up write: the same shape of PUT as a first comment, plus flags to clear.
    `comment is None` with a whiteboard: a tag-only change (stale, no reminder). `kind`
    `read-history`: nothing to write yet; the caller must read all of the bug's comments
    (it gave only the new ones) and decide again."""

    bug_id: int
    rule: str
    kind: str  # one of KINDS, "stale" or "read-history"
    reason: str
    community: str | None = None
    outcome: str = "awaiting"  # the endorsement state after the write (endorsed, declined...)
    comment: str | None = None
    whiteboard: str | None = None
    needinfo: tuple[str, ...] = ()
    clear_flags: tuple[int, ...] = ()  # needinfo flag ids to clear (status X)

    @property
    def acts(self) -> bool:
        return self.comment is not None or self.whiteboard is not None or bool(self.clear_flags)

    def comment_text(self, ref: str) -> str:
        """The comment as posted, with a footer naming its kind (how the next poll knows it
        was posted, from Bugzilla alone)."""
        if self.comment is None:
            return ""  # a tag-only change posts no comment
        return f"{self.comment.rstrip()}\n\n{footer_line(self.rule, ref, self.kind)}"

    @property
    def communities(self) -> tuple[str, ...]:
        return (self.community,) if self.community else ()


@dataclass(frozen=True, slots=True)
class _State:
    """What the bug says about the bot's follow-up, read from its tags and comments."""

    ask: Comment  # the bot's last asking comment
    since: tuple[Comment, ...]  # comments after it, not the bot's
    kinds: frozenset[str | None]  # kinds of the bot's comments seen
    community: Community | None  # from the [community:SLUG] tag


def follow_up(
    bug: Bug,
    comments: Sequence[Comment],
    registry: Registry,
    rule: Rule,
    now: datetime,
    bot_login: str | None,
    *,
    complete: bool = True,
    markdown: bool = False,
) -> FollowUp | None:
    """What to do about the answers to the bot's question on `bug`, or None.

    `comments`: the bug's comments in order; all of them (`complete`), or only those since
    some time (Bugzilla's `new_since`), in which case an ask not among them is older than all
    of them, and a decision that needs the whole history asks for it (`read-history`).
    `markdown`: the comment as Markdown, else as plain text (see `markup`)."""
    found = _follow_up(bug, comments, registry, rule, now, bot_login, complete)
    if found is None or found.comment is None or markdown:
        return found
    return replace(found, comment=markup.plain_text(found.comment))


def _follow_up(
    bug: Bug,
    comments: Sequence[Comment],
    registry: Registry,
    rule: Rule,
    now: datetime,
    bot_login: str | None,
    complete: bool,
) -> FollowUp | None:
    settings = rule.followup
    if settings is None or _has(bug.whiteboard, SKIP_TAG) or not _has(bug.whiteboard, AWAITING):
        return None
    state = _read_state(bug, comments, registry, rule, bot_login, complete)
    if state is None:
        return None
    day = now.date()
    refused: Comment | None = None
    for comment in state.since:
        command = parse_command(comment.text)
        if command is None or command.verb not in settings.commands:
            continue
        decider = _decider(registry, comment, state.community, day)
        if decider is not None:
            return _decided(bug, rule, state, command, comment, decider, day, bot_login)
        refused = refused or comment
    if settings.retriage and state.community is None:
        for comment in state.since:
            if _same_person(registry, bug, comment.creator):
                found = _retriage(bug, comment, registry, rule, day, bot_login)
                if found is not None:
                    return found
    if refused is not None and "who-can-endorse" not in state.kinds:
        if not complete:
            return FollowUp(bug.id, rule.name, "read-history", "a refused command: read all")
        return _who_can_endorse(bug, rule, registry, state, refused, day)
    return _stale(bug, rule, registry, state, now, bot_login, complete)


def _read_state(
    bug: Bug,
    comments: Sequence[Comment],
    registry: Registry,
    rule: Rule,
    bot_login: str | None,
    complete: bool,
) -> _State | None:
    ask: Comment | None = None
    after: list[Comment] = []
    kinds: set[str | None] = set()
    for comment in comments:
        own, kind = own_kind(comment, bot_login, rule.name)
        if own:
            kinds.add(kind)
            if kind in ASKS:
                ask, after = comment, []
            continue
        if not is_bot(comment, bot_login):
            after.append(comment)
    if kinds & {"confirmation", "decline"}:
        return None  # decided once, whatever the tags say now
    if ask is None:
        if complete:
            return None  # the bot never asked on this bug under this rule
        # Only new comments given: the ask is older than all of them (the tag says it exists).
        ask = Comment(0, bug.id, bot_login or "", "", creation_time=None)
    slug = community_tag(bug.whiteboard, rule)
    community = registry.communities.get(slug) if slug else None
    return _State(ask, tuple(after), frozenset(kinds), community)


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


def _bot_needinfo(bug: Bug, bot_login: str | None, requestee: str | None = None) -> list[int]:
    """Ids of the open needinfo requests the bot set (optionally: on `requestee`)."""
    if not bot_login:
        return []
    me = normalize_email(bot_login)
    return [
        f.id
        for f in bug.flags
        if f.name == "needinfo" and f.status == "?" and f.id is not None
        if f.setter and normalize_email(f.setter) == me
        if requestee is None or (f.requestee and normalize_email(f.requestee) == requestee)
    ]


def _decided(
    bug: Bug,
    rule: Rule,
    state: _State,
    command: Command,
    comment: Comment,
    decider: tuple[Person, Delegation, Community],
    day: date,
    bot_login: str | None,
) -> FollowUp:
    person, term, community = decider
    endorse = command.verb == "endorse"
    kind, tag = ("confirmation", ENDORSED) if endorse else ("decline", DECLINED)
    add = [tag]
    if state.community is None:
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
    return FollowUp(
        bug.id,
        rule.name,
        kind,
        f"{person.handle}, {term.title} of {community.slug}, {verb} in comment {comment.count}",
        community=community.slug,
        outcome="endorsed" if endorse else "declined",
        comment=rule.render_followup(kind, context),
        whiteboard=edit_whiteboard(bug.whiteboard, add=add, remove=(AWAITING, STALE)),
        clear_flags=tuple(_bot_needinfo(bug, bot_login)),
    )


def _who_can_endorse(
    bug: Bug, rule: Rule, registry: Registry, state: _State, refused: Comment, day: date
) -> FollowUp:
    command = parse_command(refused.text)
    assert command is not None
    context = {
        **_base_context(rule, state.community, day, registry),
        "verb": command.verb,
        "answer": refused.count,
    }
    slug = state.community.slug if state.community else None
    return FollowUp(
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
) -> FollowUp | None:
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
    return FollowUp(
        bug.id,
        rule.name,
        "retriage",
        f"the reporter named {slug} in comment {answer.count}: {verdict.outcome}",
        community=slug,
        outcome=verdict.outcome,
        comment=rule.render_followup("retriage", context),
        whiteboard=edit_whiteboard(bug.whiteboard, add=tags, remove=remove),
        needinfo=needinfo,
        clear_flags=tuple(_bot_needinfo(bug, bot_login, reporter_login)),
    )


def _stale(
    bug: Bug,
    rule: Rule,
    registry: Registry,
    state: _State,
    now: datetime,
    bot_login: str | None,
    complete: bool,
) -> FollowUp | None:
    settings = rule.followup
    assert settings is not None
    asked_at = state.ask.creation_time
    if asked_at is None or _has(bug.whiteboard, STALE):
        return None
    age = now - asked_at
    if age < timedelta(days=settings.stale_after_days):
        return None
    whiteboard = edit_whiteboard(bug.whiteboard, add=(STALE,))
    reason = f"awaiting an answer for {age.days} days"
    slug = state.community.slug if state.community else None
    if settings.remind and not complete and "reminder" not in state.kinds:
        return FollowUp(bug.id, rule.name, "read-history", "stale: was a reminder posted?")
    if not settings.remind or "reminder" in state.kinds:
        return FollowUp(bug.id, rule.name, "stale", reason, slug, "awaiting", None, whiteboard)
    # Whom the bot is still waiting for: its open needinfo requests, by name. Nobody is asked
    # again: a request still open needs no second one, and one cleared must not come back.
    waiting = []
    me = normalize_email(bot_login) if bot_login else None
    for flag in bug.flags:
        if flag.name != "needinfo" or flag.status != "?" or not flag.requestee:
            continue
        if me is None or not flag.setter or normalize_email(flag.setter) != me:
            continue
        person = registry.person_by_email(flag.requestee)
        if person is not None:
            waiting.append(person.name)
        elif _same_person(registry, bug, flag.requestee):
            waiting.append("the reporter")
    context = {
        **_base_context(rule, state.community, now.date(), registry),
        "days": age.days,
        "waiting": tuple(dict.fromkeys(waiting)),
    }
    comment = rule.render_followup("reminder", context)
    return FollowUp(bug.id, rule.name, "reminder", reason, slug, "awaiting", comment, whiteboard)


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


# -- tags -----------------------------------------------------------------------------------------
def _has(whiteboard: str, tag: str) -> bool:
    return tag.casefold() in whiteboard.casefold()


def community_tag_for(rule: Rule, slug: str) -> str:
    """The rule's community tag (`[community:{community}]` in the shipped rule) for `slug`."""
    return _community_template(rule).format(community=slug)


def _community_template(rule: Rule) -> str:
    for outcome in ("needs-endorsement", "endorsed", "former-delegate"):
        action = rule.outcomes.get(outcome)
        for tag in action.whiteboard if action else ():
            if "{community}" in tag:
                return tag
    return "[community:{community}]"


def community_tag(whiteboard: str, rule: Rule) -> str | None:
    """The slug in the bug's community tag, if it has one."""
    before, _, after = _community_template(rule).partition("{community}")
    pattern = re.escape(before) + r"([a-z0-9][a-z0-9-]*)" + re.escape(after)
    found = re.search(pattern, whiteboard, re.IGNORECASE)
    return found.group(1).lower() if found else None


def edit_whiteboard(current: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> str:
    """The whiteboard without the `remove` tags (case aside) and with the `add` tags that are
    missing appended; the rest of what humans wrote is kept as it was."""
    text = current
    for tag in remove:
        text = re.sub(re.escape(tag), " ", text, flags=re.IGNORECASE)
    text = " ".join(text.split())
    for tag in add:
        if not _has(text, tag):
            text = f"{text} {tag}" if text else tag
    return text


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
