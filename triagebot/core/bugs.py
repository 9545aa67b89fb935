"""What the bot knows of a bug and what it decides to do with it: plain data.

These types are the seam between the imperative shell (`bugzilla`, `store`, `poller`) and
the functional core (`triage`): the shell fills `Bug`, the core returns `Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from triagebot.core.footer import footer_line


class Outcome(StrEnum):
    """What the registry says of a request (a StrEnum: equal to its text, stored as text)."""

    ENDORSED = "endorsed"
    FORMER_DELEGATE = "former-delegate"
    NEEDS_ENDORSEMENT = "needs-endorsement"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"


OUTCOMES = tuple(Outcome)


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    status: str
    requestee: str | None = None
    setter: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    bug_id: int
    creator: str
    text: str
    count: int = 0
    creation_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One field change from a bug's history (product and component are the ones read)."""

    when: datetime
    field: str
    removed: str
    added: str


@dataclass(frozen=True, slots=True)
class Bug:
    id: int
    summary: str
    creator: str
    creation_time: datetime
    # Bugzilla's database clock at the bug's last change: the search's cursor.
    last_change_time: datetime | None = None
    creator_id: int | None = None
    creator_name: str = ""
    whiteboard: str = ""
    product: str = ""
    component: str = ""
    status: str = ""
    flags: tuple[Flag, ...] = ()
    # The first comment (count 0); a 5.0 search cannot return it, so it is filled in later.
    description: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one bug under one rule. `comment is None` means: write nothing."""

    bug_id: int
    rule: str
    outcome: str  # one of OUTCOMES, or "skipped"
    reason: str
    community: str | None = None  # slug of the community the request is about
    communities: tuple[str, ...] = ()  # every community matched (several when ambiguous)
    comment: str | None = None  # body, without the footer (see `comment_text`)
    whiteboard: str | None = None  # the full new whiteboard, or None to leave it alone
    needinfo: tuple[str, ...] = ()  # Bugzilla logins to ask
    lookalike: str | None = None  # the reporter's login resembles a registry login: why
    markdown: bool = False  # the comment is Markdown, sent with is_markdown (markup.py)

    @property
    def acts(self) -> bool:
        return self.comment is not None

    def comment_text(self, ref: str) -> str:
        """The comment as posted: the body and a footer naming the bot, the rule and the
        write's unique ref, by which the bot recognises its own comment after a crash."""
        assert self.comment is not None
        return f"{self.comment.rstrip()}\n\n{footer_line(self.rule, ref)}"
