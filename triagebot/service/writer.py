"""Where a poll's writes go: to Bugzilla, or into a record (a dry run, `explain`).

A dry run is the poll itself with a writer that records instead of sending: the same read,
reconcile and decide, the same one PUT per bug built the same way, so what a dry run and
`explain` show is what a live poll sends. Such a poll also keeps its hands off the state
(`DryRunStore`): no cursor, lease, claim or record, only the poll's own row for `status`.

Markdown is a property of the server, so it is the writer's: the core writes Markdown, and
`Write.put` turns it into plain text for a server that shows comments as typed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from triagebot.bugzilla.client import Client
from triagebot.core.bugs import Put
from triagebot.state.store import (
    BugRecord,
    Followed,
    Intent,
    Lease,
    Owner,
    Poll,
    RecordState,
    Seen,
    Store,
)

DRY_RUN_REF = "dry-run"  # the footer's ref in what a dry run shows: no write, no ref


class Writer(Protocol):
    """Sends one PUT (raising `BugzillaError` when Bugzilla refuses it), or records it."""

    live: bool  # does a PUT reach Bugzilla?
    markdown: bool  # does the server render Markdown comments?

    def new_ref(self) -> str: ...

    def send(self, put: Put) -> None: ...


class BugzillaWriter:
    live = True

    def __init__(self, client: Client, markdown: bool) -> None:
        self.client = client
        self.markdown = markdown

    def new_ref(self) -> str:
        """Unique per write: the next poll looks for it in the bug's comments."""
        return uuid.uuid4().hex[:16]

    def send(self, put: Put) -> None:
        self.client.update(
            put.bug_id,
            comment=put.comment,
            whiteboard=put.whiteboard,
            needinfo=list(put.needinfo),
            clear_flags=put.clear_flags,
            markdown=put.markdown,
        )


class Recorder:
    """A dry run's writer: each PUT a live poll would send goes nowhere, and stays in the
    poll's result (`BugResult.put`) as a sent one does, for the output to show."""

    live = False

    def __init__(self, markdown: bool, ref: str = DRY_RUN_REF) -> None:
        self.markdown = markdown
        self.ref = ref

    def new_ref(self) -> str:
        return self.ref

    def send(self, put: Put) -> None:
        pass  # a long dry-run `run` keeps nothing from one poll to the next


class DryRunStore(Store):
    """The store as a poll that writes nothing sees it: every read of `store`, and the
    poll's own row (so `status` shows dry runs too); nothing else is kept. It shares the
    wrapped store's connection and does not open one of its own: a method of `Store` a poll
    starts to use must be added here, or it fails loudly instead of writing."""

    def __init__(self, store: Store) -> None:  # not Store's: that would open a connection
        self.store = store

    # reads
    def get_cursor(self, rule: str) -> datetime | None:
        return self.store.get_cursor(rule)

    def get_default_start(self, rule: str) -> datetime | None:
        return self.store.get_default_start(rule)

    def records(self, rule: str, bug_ids: Iterable[int]) -> dict[int, BugRecord]:
        return self.store.records(rule, bug_ids)

    def failed(self, rule: str | None = None) -> list[BugRecord]:
        return self.store.failed(rule)

    def check_passed_since(self, key: str) -> datetime | None:
        return self.store.check_passed_since(key)

    def recent_polls(self, limit: int = 10) -> list[Poll]:
        return self.store.recent_polls(limit)

    # the poll's row
    def start_poll(self, rule: str, dry_run: bool) -> int:
        return self.store.start_poll(rule, dry_run=True)

    def finish_poll(
        self,
        poll_id: int,
        *,
        searched: int,
        acted: int,
        failed: int,
        skipped: int,
        error: str | None = None,
    ) -> None:
        self.store.finish_poll(
            poll_id, searched=searched, acted=acted, failed=failed, skipped=skipped, error=error
        )

    # what a live poll keeps, and a dry run does not
    def default_start(self, rule: str, proposed: datetime) -> datetime:
        return self.get_default_start(rule) or proposed

    def set_cursor(self, rule: str, since: datetime) -> None:
        pass

    def acquire_lease(self, rule: str, owner: Owner, ttl: timedelta) -> Lease:
        return Lease(rule, owner, 0, datetime.max)

    def renew_lease(self, lease: Lease, ttl: timedelta) -> Lease:
        return lease

    def release_lease(self, lease: Lease) -> None:
        pass

    def begin_writes(
        self, rule: str, intents: Sequence[Intent], *, lease: Lease | None = None
    ) -> None:
        pass

    def finish_writes(
        self,
        rule: str,
        bug_ids: Sequence[int],
        *,
        comment_ids: dict[int, int] | None = None,
        not_asked: dict[int, Sequence[str]] | None = None,
    ) -> None:
        pass

    def mark_seen(self, rule: str, items: Sequence[Seen]) -> None:
        pass

    def close_intents(self, rule: str, items: Sequence[Seen]) -> None:
        pass

    def mark_failed(
        self,
        rule: str,
        bug_id: int,
        error: str,
        *,
        write_may_have_landed: bool,
        permanent: bool = False,
        max_attempts: int | None = None,
    ) -> RecordState:
        return RecordState.FAILED

    def note_followup_error(self, rule: str, bug_id: int, error: str) -> None:
        pass

    def record_followups(self, rule: str, items: Sequence[Followed]) -> None:
        pass

    def record_check_passed(self, key: str) -> None:
        pass
