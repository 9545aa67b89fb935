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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection

from triagebot.bugzilla.client import Client
from triagebot.core.bugs import Put
from triagebot.state.store import Lease, Owner, RecordState, Store

DRY_RUN_REF = "dry-run"  # the footer's ref in what a dry run shows: no write, no ref
T = TypeVar("T")


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
    """The store as a poll that writes nothing sees it: every read, through the wrapped
    store's connection (it opens none of its own), and the poll's own row, so `status` shows
    dry runs too. Its other writes do nothing, and a write of `Store` not named here fails
    loudly (`_write`) instead of writing."""

    def __init__(self, store: Store) -> None:  # not Store's: that would open a connection
        self.store = store
        self._engine = store.engine

    def _write(self, work: Callable[[Connection], T]) -> T:
        raise AssertionError("a dry run keeps nothing: stub this write in DryRunStore")

    # the poll's row
    def start_poll(self, rule: str, dry_run: bool = True) -> int:
        return self.store.start_poll(rule, dry_run=True)

    def finish_poll(self, poll_id: int, **counts: Any) -> None:
        self.store.finish_poll(poll_id, **counts)

    # what a live poll keeps, and a dry run does not
    def default_start(self, rule: str, proposed: datetime) -> datetime:
        return self.get_default_start(rule) or proposed

    def acquire_lease(self, rule: str, owner: Owner, ttl: timedelta) -> Lease:
        return Lease(rule, owner, 0, datetime.max)

    def renew_lease(self, lease: Lease, ttl: timedelta) -> Lease:
        return lease

    def mark_failed(self, *args: Any, **kwargs: Any) -> RecordState:
        return RecordState.FAILED

    def _keep_nothing(self, *args: Any, **kwargs: Any) -> None:
        pass

    set_cursor = release_lease = begin_writes = finish_writes = mark_seen = _keep_nothing
    close_intents = note_followup_error = record_followups = record_check_passed = _keep_nothing
