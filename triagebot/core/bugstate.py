"""A bug's state as the bot reads it from Bugzilla: one vocabulary for the poll, the
follow-up, `queue`, `status` and `explain`.

Bugzilla is the record, so every question about a bug (tags, the bot's open needinfo, its own
comments and their kind, awaiting, stale) is answered here from the bug itself: a second
reading elsewhere would sooner or later disagree (`queue` calling a bug stale that the bot
never tags).

The bot's account: when its login is unknown (a dry run without `bot_login` on a server
without whoami), a comment ending in the bot's footer is taken for the bot's, and every open
needinfo request for one the bot set: the best reading there is. Live, the login is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from triagebot.core.bugs import Bug, Comment, Flag
from triagebot.core.footer import parse_footer
from triagebot.core.registry import Registry, normalize_email
from triagebot.core.rule import Rule

# -- tags -----------------------------------------------------------------------------------------
SKIP = "[triagebot-skip]"  # a human's "never touch this bug"
AWAITING = "[endorsement-needed]"
ENDORSED = "[endorsed]"
DECLINED = "[endorsement-declined]"
STALE = "[endorsement-stale]"
_COMMUNITY = "[community:{community}]"  # when the rule's tags name none


def has_tag(whiteboard: str, tag: str) -> bool:
    """A tag counts wherever it occurs, case aside: `[a][b]` holds `[b]`."""
    return tag.casefold() in whiteboard.casefold()


def edit_whiteboard(current: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> str:
    """The whiteboard without the `remove` tags (case aside), with the missing `add` tags
    appended; the rest of what humans wrote is kept, in single spaces."""
    text = current
    for tag in remove:
        text = re.sub(re.escape(tag), " ", text, flags=re.IGNORECASE)
    text = " ".join(text.split())
    for tag in add:
        if not has_tag(text, tag):
            text = f"{text} {tag}" if text else tag
    return text


def _community_template(rule: Rule) -> str:
    for outcome in ("needs-endorsement", "endorsed", "former-delegate"):
        action = rule.outcomes.get(outcome)
        for tag in action.whiteboard if action else ():
            if "{community}" in tag:
                return tag
    return _COMMUNITY


def community_tag_for(rule: Rule, slug: str) -> str:
    """The rule's community tag (`[community:{community}]` in the shipped rule) for `slug`."""
    return _community_template(rule).format(community=slug)


def community_tag(whiteboard: str, rule: Rule) -> str | None:
    """The slug in the bug's community tag, if it has one."""
    before, _, after = _community_template(rule).partition("{community}")
    pattern = re.escape(before) + r"([a-z0-9][a-z0-9-]*)" + re.escape(after)
    found = re.search(pattern, whiteboard, re.IGNORECASE)
    return found.group(1).lower() if found else None


def skipped(bug: Bug) -> bool:
    return has_tag(bug.whiteboard, SKIP)


def awaiting(bug: Bug) -> bool:
    """Tagged as awaiting endorsement, and not to be touched otherwise."""
    return has_tag(bug.whiteboard, AWAITING) and not skipped(bug)


def awaits(bug: Bug, rule: Rule) -> bool:
    """Might this bug hold an answer for the bot to read? (Its comments tell for sure.)"""
    return rule.followup is not None and awaiting(bug)


# -- needinfo -------------------------------------------------------------------------------------
def _open_needinfo(bug: Bug) -> Iterable[Flag]:
    return (f for f in bug.flags if f.name == "needinfo" and f.status == "?" and f.requestee)


def open_requestees(bug: Bug) -> set[str]:
    """Everyone with an open needinfo request, whoever set it: nobody is asked twice at once."""
    return {normalize_email(f.requestee) for f in _open_needinfo(bug) if f.requestee}


def bot_needinfo(bug: Bug, bot_login: str | None, requestee: str | None = None) -> tuple[Flag, ...]:
    """The open needinfo requests the bot set (optionally: on `requestee`), in bug order."""
    me = normalize_email(bot_login) if bot_login else None
    return tuple(
        f
        for f in _open_needinfo(bug)
        if me is None or (f.setter is not None and normalize_email(f.setter) == me)
        if requestee is None or normalize_email(f.requestee or "") == normalize_email(requestee)
    )


def asked_names(bug: Bug, registry: Registry, bot_login: str | None) -> tuple[str, ...]:
    """Whom the bot's open needinfo requests wait for: registry names, "the reporter", else
    the login as Bugzilla shows it."""
    names: list[str] = []
    for flag in bot_needinfo(bug, bot_login):
        login = flag.requestee or ""
        person = registry.person_by_email(login)
        if person is not None:
            names.append(person.name)
        elif normalize_email(login) == normalize_email(bug.creator):
            names.append("the reporter")
        else:
            names.append(login)
    return tuple(dict.fromkeys(names))


# -- the bot's own comments -----------------------------------------------------------------------
# Comment kinds, named in the footer: `-- triagebot (rule R; KIND; ref X)`; none: the first.
KINDS = ("confirmation", "decline", "who-can-endorse", "retriage", "reminder")
ASKS = (None, "retriage")  # the first comment and a re-triage ask for an answer
DECIDED = ("confirmation", "decline")  # after these the bot writes nothing more on the bug


@dataclass(frozen=True, slots=True)
class Own:
    """One of the bot's comments under a rule."""

    kind: str | None  # None: the first comment
    ref: str | None  # None: no footer, the author is enough to go by


def by_bot(comment: Comment, bot_login: str | None) -> bool:
    """By the bot's account; without a known login, any comment ending in the bot's footer."""
    if bot_login:
        return normalize_email(comment.creator) == normalize_email(bot_login)
    return parse_footer(comment.text) is not None


def own(comment: Comment, rule: str, bot_login: str | None) -> Own | None:
    """The comment as the bot's own under `rule`, or None. A comment by the bot's login with
    no footer is a first comment (a footer edited away, a comment from before footers)."""
    if not by_bot(comment, bot_login):
        return None
    footer = parse_footer(comment.text)
    if footer is None:
        return Own(None, None)
    if footer.rule != rule:
        return None
    return Own(footer.kind if footer.kind in KINDS else None, footer.ref)


def own_comment(
    comments: Iterable[Comment], rule: str, bot_login: str | None, ref: str | None = None
) -> Comment | None:
    """The first of the bot's own comments under `rule`; the one with `ref` in its footer is
    preferred, so a write found again keeps its id. Without a known login and with a ref,
    only that ref counts (anybody can paste a footer)."""
    candidates: list[Comment] = []
    for comment in comments:
        mine = own(comment, rule, bot_login)
        if mine is None:
            continue
        if ref is not None and mine.ref == ref:
            return comment
        if bot_login or ref is None:
            candidates.append(comment)
    return candidates[0] if candidates else None


# -- awaiting an answer, and stale ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Asked:
    """A bug on which the bot asked for an answer and has not decided yet."""

    ask: Comment  # the bot's last asking comment (creation_time None: older than those read)
    since: tuple[Comment, ...]  # comments after it, not the bot's: where answers are
    kinds: frozenset[str | None]  # kinds of the bot's comments seen
    community: str | None  # the slug in the bug's community tag


def asked(
    bug: Bug,
    comments: Sequence[Comment],
    rule: Rule,
    bot_login: str | None,
    *,
    complete: bool = True,
) -> Asked | None:
    """What the bug's comments say of the bot's question under `rule`: None when the bot
    never asked or has decided (a confirmation or decline, whatever the tags say now). Not
    `complete` (see `follow_up`): an ask not among them is older than all of them."""
    ask: Comment | None = None
    after: list[Comment] = []
    kinds: set[str | None] = set()
    for comment in comments:
        mine = own(comment, rule.name, bot_login)
        if mine is not None:
            kinds.add(mine.kind)
            if mine.kind in ASKS:
                ask, after = comment, []
            continue
        if not by_bot(comment, bot_login):
            after.append(comment)
    if kinds & set(DECIDED):
        return None
    if ask is None:
        if complete:
            return None
        ask = Comment(0, bug.id, bot_login or "", "", creation_time=None)
    return Asked(ask, tuple(after), frozenset(kinds), community_tag(bug.whiteboard, rule))


def stale_after(rule: Rule) -> timedelta | None:
    """How long the bot waits for an answer; None: the rule does not follow up."""
    return timedelta(days=rule.followup.stale_after_days) if rule.followup else None


def may_turn_stale(bug: Bug, rule: Rule, now: datetime) -> bool:
    """Can the bot's ask be old enough to turn the bug stale? Not on a bug tagged stale
    already, nor on one filed more recently (the ask comes after the bug): the comments of
    those need not be read."""
    wait = stale_after(rule)
    return (
        wait is not None
        and awaiting(bug)
        and not has_tag(bug.whiteboard, STALE)
        and bug.creation_time <= now - wait
    )


def turns_stale(bug: Bug, state: Asked | None, rule: Rule, now: datetime) -> bool:
    """Does the bot tag this bug stale now? Its ask is old enough and the tag not there yet."""
    wait = stale_after(rule)
    if wait is None or state is None or state.ask.creation_time is None:
        return False
    return not has_tag(bug.whiteboard, STALE) and now - state.ask.creation_time >= wait


def stale(bug: Bug, state: Asked | None, rule: Rule, now: datetime) -> bool:
    """Stale: tagged so by the bot, or about to be (the README: the age of the bot's ask)."""
    return (awaiting(bug) and has_tag(bug.whiteboard, STALE)) or turns_stale(bug, state, rule, now)
