"""What the bot knows of a bug and what it decides to do with it: plain data.

The seam between the shell and the core: the shell fills `Bug`, the core (`triage`,
`followup`) returns a `Decision` holding at most one `Write`, and the shell sends it as one
`Put`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from triagebot.core.footer import footer_line
from triagebot.core.markup import plain_text


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
class Write:
    """What the bot writes to a bug in one PUT, whether triage or a follow-up decided it. How
    the comment is sent (Markdown or plain text) is the server's business: `put` applies it."""

    rule: str
    kind: str | None = None  # a follow-up's kind, named in the footer; None: the first comment
    comment: str | None = None  # the body, in Markdown, without the footer; None: no comment
    whiteboard: str | None = None  # the new whiteboard; None: left as it is
    needinfo: tuple[str, ...] = ()  # Bugzilla logins to ask
    clear_flags: tuple[int, ...] = ()  # the bot's needinfo requests to clear (status X), by id

    def text(self, ref: str, markdown: bool) -> str | None:
        """The comment as posted: the body, as plain text for a server that shows Markdown as
        typed, and the footer by which the bot recognises its own comment later."""
        if self.comment is None:
            return None  # a tag-only change posts no comment
        body = self.comment if markdown else plain_text(self.comment)
        return f"{body.rstrip()}\n\n{footer_line(self.rule, ref, self.kind)}"

    def put(self, bug_id: int, ref: str, markdown: bool) -> Put:
        text = self.text(ref, markdown)
        markdown = markdown and text is not None
        return Put(bug_id, ref, text, markdown, self.whiteboard, self.needinfo, self.clear_flags)


@dataclass(frozen=True, slots=True)
class Put:
    """One PUT as sent: what a dry run and `explain` show is exactly what a live poll sends."""

    bug_id: int
    ref: str
    comment: str | None
    markdown: bool  # sent with `is_markdown: true`
    whiteboard: str | None
    needinfo: tuple[str, ...]
    clear_flags: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the bot decided about one bug under one rule and why; `write` None: nothing to
    write. Triage and follow-up both decide one."""

    bug_id: int
    rule: str
    outcome: str  # one of OUTCOMES, "skipped", or an endorsement state after a follow-up
    reason: str
    community: str | None = None  # slug of the community the request is about
    communities: tuple[str, ...] = ()  # every community matched (several when ambiguous)
    write: Write | None = None
    lookalike: str | None = None  # the reporter's login resembles a registry login: why

    @property
    def acts(self) -> bool:
        return self.write is not None

    @property
    def kind(self) -> str | None:
        return self.write.kind if self.write is not None else None

    @property
    def whiteboard(self) -> str | None:
        return self.write.whiteboard if self.write is not None else None

    @property
    def needinfo(self) -> tuple[str, ...]:
        return self.write.needinfo if self.write is not None else ()
