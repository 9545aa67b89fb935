"""The bot's signature on its comments, and recognising its own comments by it.

Bugzilla is the record of what the bot wrote: a poll reads the comments of every bug it may
write on anyway (for the description), so it looks there for the bot's own comment before
writing, whatever the database holds or lacks (a lost SQLite file, a move to PostgreSQL, a
second replica). A comment is the bot's own for a rule when

* its author is the bot's account and its footer names the rule (any ref: another process
  may have written it), or
* its author is the bot's account and it carries no footer at all (only the author to go by:
  a footer edited away, or a comment from before footers), or
* the bot's login is unknown (a dry run without `bot_login` on a server without whoami) and
  its footer names the rule and, when one is given, the ref.

A footer pasted by somebody else (a reporter quoting the bot) is not the bot's comment once
the login is known. The follow-up commands build on `own_comment` with their own rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

# A follow-up names its kind between the rule and the ref: `(rule R; confirmation; ref X)`.
_FOOTER = re.compile(
    r"^-- triagebot \(rule (?P<rule>[^;()\n]+)(?:; (?P<kind>[a-z-]+))?; ref (?P<ref>[^)\s]+)\)\s*$",
    re.M,
)


class Authored(Protocol):
    @property
    def creator(self) -> str: ...

    @property
    def text(self) -> str: ...


C = TypeVar("C", bound=Authored)


@dataclass(frozen=True, slots=True)
class Footer:
    rule: str
    ref: str
    kind: str | None = None  # a follow-up's kind; None on the first comment


def footer_line(rule: str, ref: str, kind: str | None = None) -> str:
    """The last line of every comment the bot posts: the bot, the rule, a follow-up's kind,
    the write's ref."""
    middle = f"; {kind}" if kind else ""
    return f"-- triagebot (rule {rule}{middle}; ref {ref})"


def parse_footer(text: str) -> Footer | None:
    """The last footer in `text`, if any."""
    found = None
    for found in _FOOTER.finditer(text):  # noqa: B007 - the last one counts
        pass
    return None if found is None else Footer(found["rule"].strip(), found["ref"], found["kind"])


def own_comment(
    comments: Iterable[C], rule: str, bot_login: str | None, ref: str | None = None
) -> C | None:
    """The first comment that is the bot's own for `rule` (see the module's docstring); a
    comment with `ref` in its footer is preferred, so a write found again keeps its id."""
    login = (bot_login or "").casefold()
    candidates: list[C] = []
    for comment in comments:
        footer = parse_footer(comment.text)
        by_bot = bool(login) and comment.creator.casefold() == login
        if login and not by_bot:
            continue
        if footer is None:
            if by_bot:
                candidates.append(comment)
            continue
        if footer.rule != rule:
            continue
        if not login and ref is not None and footer.ref != ref:
            continue
        if ref is not None and footer.ref == ref:
            return comment
        candidates.append(comment)
    return candidates[0] if candidates else None
