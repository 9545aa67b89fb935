"""The bot's state: poll cursors, one record per (bug, rule), and poll history.

At-most-once protocol, per bug and rule (crash-safe because every step commits on its own):

1. `begin_writes` commits state "intent" with a fresh `ref` *before* any PUT;
2. the caller PUTs the comment, whose footer carries the ref;
3. `finish_writes` commits state "done".

A process killed between 1 and 3 leaves "intent" with its ref: the next poll looks for that ref
in the bug's comments before writing again, so a bug never gets a second comment.

Portability: any SQLAlchemy URL works. Every write of bug records goes through `_upsert`
(plain Core statements, no dialect-specific upserts), whose UPDATEs compare and swap the state
and attempts read, so several replicas can share one PostgreSQL database: the one that lost a
race retries against the fresh rows. Callers get frozen records, usable after any connection
is gone.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ConfigDict
from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    Engine,
    Index,
    Table,
    Text,
    TypeDecorator,
    Update,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlmodel import AutoString, Field, SQLModel

from triagebot.core.bugs import Outcome
from triagebot.state import migrate as migrations
from triagebot.state import process

log = logging.getLogger(__name__)


class RecordState(StrEnum):
    """Where a (bug, rule) record stands (a StrEnum: equal to its text, stored as text)."""

    SEEN = "seen"  # decided, nothing to write (or written by nobody: before start)
    INTENT = "intent"  # a write is under way or unconfirmed: look for its ref first
    DONE = "done"  # the bot's comment is on the bug (final)
    FAILED = "failed"  # Bugzilla refused the write: nothing landed, retried next poll
    GAVE_UP = "gave-up"  # refused with the same error max_attempts times: until `retry`


# SQLite builds before 3.32 allow 999 bound variables per statement; stay under that.
IN_CHUNK = 900
MAX_ERROR_CHARS = 4000
# Outcomes that leave a bug awaiting endorsement (until a follow-up changes the outcome).
AWAITING_OUTCOMES = tuple(o.value for o in Outcome if o != Outcome.ENDORSED)
# Dialects whose DATETIME column has no time zone: store naive UTC there.
_NAIVE_DATETIME_DIALECTS = frozenset({"sqlite", "mysql", "mariadb"})
_RETRIES = 3
_BUSY_TIMEOUT_MS = 10_000  # how long an SQLite writer waits for another one's lock

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, whatever the backend keeps.

    SQLite and MySQL drop tzinfo, so values are stored as naive UTC there and tagged UTC on
    the way out; PostgreSQL gets `timestamptz`. Naive input is refused: guessing its zone is
    how cursors silently skip hours of bugs.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs tz-aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name in _NAIVE_DATETIME_DIALECTS:
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EnumText(TypeDecorator[E]):
    """A StrEnum kept as its plain text (no native ENUM type to migrate), read back as the
    enum; a value outside the enum is refused before it reaches the database."""

    impl = AutoString
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


# -- records: each table's columns, declared once --------------------------------------------
class BugRecord(SQLModel):
    """What the bot did (or is doing) to one bug under one rule: the columns of the
    `triagebot_bug` table (`BugRecordRow`), and the frozen value callers get."""

    model_config = ConfigDict(frozen=True)

    bug_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    rule: str = Field(primary_key=True)
    state: RecordState = Field(sa_type=EnumText(RecordState))
    outcome: str | None = None
    community: str | None = None
    action: str = "none"
    ref: str | None = None
    comment_id: int | None = None
    intent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    # Comma-separated logins the bot asked (or is asking): never ping them again.
    needinfo: str = Field(default="", sa_type=Text)
    # Consecutive writes refused with this same permanent error: max_attempts -> "gave-up".
    failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class BugRecordRow(BugRecord, table=True):
    __tablename__ = "triagebot_bug"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in RecordState) + ")",
            name="ck_triagebot_bug_state",
        ),
        # records_in(INTENT/FAILED) is run by every poll's status and reconciliation.
        Index("ix_triagebot_bug_state", "state", "rule"),
    )


class Poll(SQLModel):
    """One poll of one rule, for the `status` command: the columns of `triagebot_poll`."""

    model_config = ConfigDict(frozen=True)

    id: int | None = Field(default=None, primary_key=True)
    rule: str
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dry_run: bool = False
    searched: int = 0
    acted: int = 0
    failed: int = 0
    skipped: int = 0
    error: str | None = Field(default=None, sa_type=Text)


class PollRow(Poll, table=True):
    __tablename__ = "triagebot_poll"


class CursorRow(SQLModel, table=True):
    """Where the next poll of a rule starts searching (bug creation time)."""

    __tablename__ = "triagebot_cursor"

    rule: str = Field(primary_key=True)
    since: datetime = Field(sa_type=UTCDateTime)


class RuleRow(SQLModel, table=True):
    """Per rule: the default start stored at its first poll (so a restart does not move it),
    and the poll lease: who polls the rule now, until when, and a fencing epoch bumped at
    every takeover, which every claim checks in its own transaction."""

    __tablename__ = "triagebot_rule"

    rule: str = Field(primary_key=True)
    start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = None  # a token unique to the holding process
    lease_host: str | None = None
    lease_pid: int | None = None
    # When the holder started (process.start_of): a pid given to another process since is
    # not the holder, whose lease is then free at once.
    lease_started: str | None = None
    lease_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_expires: datetime | None = Field(default=None, sa_type=UTCDateTime)
    epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class ReloadProblemRow(SQLModel, table=True):
    """What a running bot could not reload (registry, rules), for the `status` command, which
    runs in another process: the bot keeps its last good version meanwhile."""

    __tablename__ = "triagebot_reload_problem"

    source: str = Field(primary_key=True)
    reported_at: datetime = Field(sa_type=UTCDateTime)
    problems: str = Field(sa_type=Text)  # a JSON list of "FILE:LINE: ..." strings


class CheckRow(SQLModel, table=True):
    """A start-up check that passed (e.g. the rules' products exist on the server), so a
    fresh `once` need not pay its request again; the key names what was checked."""

    __tablename__ = "triagebot_check"

    key: str = Field(primary_key=True)
    passed_at: datetime = Field(sa_type=UTCDateTime)


_cursor: Table = CursorRow.__table__  # type: ignore[attr-defined]
_bug: Table = BugRecordRow.__table__  # type: ignore[attr-defined]
_poll: Table = PollRow.__table__  # type: ignore[attr-defined]
_problem: Table = ReloadProblemRow.__table__  # type: ignore[attr-defined]
_check: Table = CheckRow.__table__  # type: ignore[attr-defined]
_rule: Table = RuleRow.__table__  # type: ignore[attr-defined]
_KEY = ("bug_id", "rule")
# A record's UPDATE: every other column set from the new record, compared and swapped on the
# state and attempts read (bind names differ from column names, which name the SET values).
_SWAP = update(_bug).where(
    _bug.c.rule == bindparam("k_rule"),
    _bug.c.bug_id == bindparam("k_bug_id"),
    _bug.c.state == bindparam("k_state"),
    _bug.c.attempts == bindparam("k_attempts"),
)


# -- public values -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Intent:
    """A write about to be made: recorded (and committed) before the PUT."""

    bug_id: int
    ref: str
    outcome: str | None
    community: str | None
    action: str
    needinfo: tuple[str, ...] = ()
    # The record's `attempts` when the poll read it (0: no record). The claim is a
    # compare-and-swap on it: of two processes that read the same stale intent, one wins.
    seen_attempts: int = 0


@dataclass(frozen=True, slots=True)
class Seen:
    """A decision recorded without an intent: one that needs no write (skip tag, nothing to
    say...), or a follow-up write that landed (`Followed`: None is an unchanged outcome or
    community, and the action is "followup:KIND")."""

    bug_id: int
    outcome: str | None
    community: str | None
    action: str = "none"


Followed = Seen


@dataclass(frozen=True, slots=True)
class ReloadProblems:
    source: str  # "registry" or "rules"
    reported_at: datetime
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Owner:
    """A polling process: a token unique to it, where it runs (for the operator), and when it
    started (`process.start_of`: None where the system does not tell)."""

    token: str
    host: str
    pid: int
    started: str | None = None

    @classmethod
    def this_process(cls) -> Owner:
        pid = os.getpid()
        return cls(uuid.uuid4().hex, socket.gethostname(), pid, process.start_of(pid))


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to poll `rule`, held by `owner` until `expires`; `epoch` fences claims."""

    rule: str
    owner: Owner
    epoch: int
    expires: datetime


@dataclass(frozen=True, slots=True)
class LeaseHeld:
    """Somebody else polls the rule now."""

    rule: str
    host: str
    pid: int
    since: datetime

    def message(self) -> str:
        return (
            f"another poll of rule {self.rule} is running on {self.host} (pid {self.pid}) "
            f"since {self.since:%Y-%m-%d %H:%M:%S}Z: nothing to do"
        )


class LeaseLost(RuntimeError):
    """The lease expired and another process took the rule over: claim nothing more."""


class StoreConflict(RuntimeError):
    """`begin_writes` refused the whole batch (nothing committed): some bugs are already done
    or hold another write's intent (another replica, or a caller bug). Writing them now could
    post a second comment; the next poll will see their real state."""

    def __init__(self, rule: str, bug_ids: Sequence[int]) -> None:
        self.rule = rule
        self.bug_ids = tuple(bug_ids)
        shown = ", ".join(map(str, self.bug_ids[:20])) + ("..." if len(self.bug_ids) > 20 else "")
        super().__init__(f"rule {rule}: bugs already done or claimed by another write: {shown}")


class _Raced(Exception):
    """A row changed between our SELECT and our write: retry the transaction."""


# What `_upsert` asks of its caller, per bug and given the transaction's time: the new values
# of its record (None: leave it).
Change = Callable[[T, BugRecord | None, datetime], dict[str, Any] | None]


# -- the store ---------------------------------------------------------------------------------
class Store:
    """All persistent state. Every public write method is one committed transaction."""

    def __init__(
        self,
        url: str = "sqlite:///triagebot.db",
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        migrate: bool = True,
        poll_history: timedelta | None = None,
    ) -> None:
        """`poll_history`: how long a poll is remembered (for `status`), so that a service
        running for years keeps a bounded table; None: for ever."""
        self._now = now
        self._poll_history = poll_history
        self._engine = _make_engine(url)
        if migrate:  # the schema migrations, applied at start-up (one SELECT when current)
            migrations.upgrade(self._engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cursors -------------------------------------------------------------------------------
    def get_cursor(self, rule: str) -> datetime | None:
        with self._engine.connect() as conn:
            return conn.scalar(select(_cursor.c.since).where(_cursor.c.rule == rule))

    def set_cursor(self, rule: str, since: datetime) -> None:
        self._write(lambda conn: _put(conn, _cursor, {"rule": rule}, {"since": since}))

    def get_default_start(self, rule: str) -> datetime | None:
        with self._engine.connect() as conn:
            return conn.scalar(select(_rule.c.start).where(_rule.c.rule == rule))

    def default_start(self, rule: str, proposed: datetime) -> datetime:
        """The stored default start of `rule`, storing `proposed` if it has none yet. Two
        processes racing here agree: the loser's write fails and it reads the winner's."""

        def work(conn: Connection) -> datetime:
            stored = conn.scalar(select(_rule.c.start).where(_rule.c.rule == rule))
            if stored is not None:
                return stored
            _put(conn, _rule, {"rule": rule}, {"start": proposed}, _rule.c.start.is_(None))
            return proposed

        return self._write(work)

    # -- the poll lease ------------------------------------------------------------------------
    def acquire_lease(self, rule: str, owner: Owner, ttl: timedelta) -> Lease | LeaseHeld:
        """Take the right to poll `rule` for `ttl`, unless another owner holds an unexpired
        lease and is alive: a holder on this host whose process is gone (killed, crashed)
        frees it at once; on another host, only its expiry does. Each takeover bumps the
        epoch, which fences the previous holder's claims."""

        def work(conn: Connection) -> Lease | LeaseHeld:
            now = self._now()
            row = conn.execute(select(_rule).where(_rule.c.rule == rule)).first()
            if row is not None and not (
                row.lease_owner is None
                or row.lease_owner == owner.token
                or row.lease_expires is None
                or row.lease_expires <= now
            ):
                if row.lease_host != owner.host or not process.is_gone(
                    row.lease_pid, row.lease_started
                ):
                    since = row.lease_since or now
                    return LeaseHeld(rule, row.lease_host or "?", row.lease_pid or 0, since)
                log.warning(
                    "rule %s: the poll lease of pid %s on this host is free at once: that "
                    "process is gone",
                    rule,
                    row.lease_pid,
                )
            epoch = row.epoch if row is not None else 0
            expires = now + ttl
            holder = {
                "lease_owner": owner.token,
                "lease_host": owner.host,
                "lease_pid": owner.pid,
                "lease_started": owner.started,
                "lease_since": now,
                "lease_expires": expires,
                "epoch": epoch + 1,
            }
            # Another process that took it meanwhile changed the epoch: look again.
            _put(conn, _rule, {"rule": rule}, holder, _rule.c.epoch == epoch)
            return Lease(rule, owner, epoch + 1, expires)

        return self._write(work)

    def renew_lease(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extend a lease still held (a long poll); raises LeaseLost if it was taken over."""

        def work(conn: Connection) -> Lease:
            now = self._now()
            self._fence(conn, lease, now, ttl)
            return Lease(lease.rule, lease.owner, lease.epoch, now + ttl)

        return self._write(work)

    def release_lease(self, lease: Lease) -> None:
        """The poll is over: the next one, by any process, may start at once."""
        release = _holding(lease).values(lease_owner=None, lease_expires=None)
        self._write(lambda conn: conn.execute(release))

    def _fence(
        self, conn: Connection, lease: Lease, now: datetime, ttl: timedelta | None = None
    ) -> None:
        """In the caller's transaction: the lease is still ours (same owner, same epoch) and
        unexpired; renewed by `ttl`, or by its original length. On PostgreSQL the UPDATE
        locks the rule's row, so a takeover waits for this transaction, or this one sees it."""
        length = ttl if ttl is not None else max(lease.expires - now, timedelta(0))
        done = conn.execute(
            _holding(lease)
            .where(_rule.c.lease_expires > now)
            .values(lease_expires=now + max(length, timedelta(seconds=1)))
        )
        if done.rowcount != 1:
            raise LeaseLost(
                f"rule {lease.rule}: the poll lease (epoch {lease.epoch}) expired or was taken "
                "over by another process; claiming nothing more"
            )

    # -- bug records ---------------------------------------------------------------------------
    def records(self, rule: str, bug_ids: Iterable[int]) -> dict[int, BugRecord]:
        """The records of these bugs that exist: one SELECT per IN_CHUNK ids."""
        with self._engine.connect() as conn:
            return _read(conn, rule, bug_ids)

    def begin_writes(
        self, rule: str, intents: Sequence[Intent], *, lease: Lease | None = None
    ) -> None:
        """Claim these bugs for a write, all or nothing, committed before the caller PUTs.

        A bug may be claimed when it has no record, was only seen, failed (nothing landed),
        or holds an intent with the *same* ref (retrying an unconfirmed write), and only if
        its `attempts` is still what the poll read: of two processes that read the same stale
        intent exactly one claims it. Any other bug raises StoreConflict. With a `lease`, its
        epoch is checked (and the lease renewed) in the same transaction: LeaseLost."""
        by_id = _unique(intents)
        if not by_id:
            return

        def work(conn: Connection) -> None:
            now = self._now()
            if lease is not None:
                self._fence(conn, lease, now)
            conflicts: list[int] = []

            def claim(i: Intent, old: BugRecord | None, now: datetime) -> dict[str, Any] | None:
                if (old.attempts if old else 0) != i.seen_attempts or (
                    old is not None
                    and (
                        old.state in (RecordState.DONE, RecordState.GAVE_UP)
                        or (old.state == RecordState.INTENT and old.ref != i.ref)
                    )
                ):
                    conflicts.append(i.bug_id)
                    return None
                # An earlier attempt of this same write may have landed: keep whom it asked.
                asked = (
                    _split_logins(old.needinfo) if old and old.state == RecordState.INTENT else ()
                )
                return {
                    "state": RecordState.INTENT,
                    "ref": i.ref,
                    "outcome": i.outcome,
                    "community": i.community,
                    "action": i.action,
                    "needinfo": _join_logins((*asked, *i.needinfo)),
                    "intent_at": now,
                    "updated_at": now,
                    "attempts": i.seen_attempts + 1,
                }

            self._upsert(conn, rule, by_id, claim, now)
            if conflicts:  # raised inside the transaction: nothing is committed
                raise StoreConflict(rule, sorted(conflicts))

        self._write(work)

    def finish_writes(
        self,
        rule: str,
        bug_ids: Sequence[int],
        *,
        comment_ids: dict[int, int] | None = None,
        not_asked: dict[int, Sequence[str]] | None = None,
    ) -> None:
        """Mark these bugs done, keeping the first done_at; a bug without a record too, since
        the write did land. `not_asked`: per bug, needinfo logins the write went without
        (Bugzilla refused them), so the record says only who was really asked."""
        ids = dict.fromkeys(bug_ids)
        if not ids:
            return
        comment_ids = comment_ids or {}
        dropped = {b: {login.lower() for login in v} for b, v in (not_asked or {}).items() if v}

        def work(conn: Connection) -> None:
            missing: list[int] = []

            def finish(bug_id: int, old: BugRecord | None, now: datetime) -> dict[str, Any] | None:
                comment_id = comment_ids.get(bug_id)
                if old is None:
                    missing.append(bug_id)
                    return {
                        "state": RecordState.DONE,
                        "action": "unknown",
                        "comment_id": comment_id,
                        "done_at": now,
                        "updated_at": now,
                    }
                values: dict[str, Any] = {}
                if bug_id in dropped:
                    values["needinfo"] = _join_logins(
                        login
                        for login in _split_logins(old.needinfo)
                        if login.lower() not in dropped[bug_id]
                    )
                if old.state != RecordState.DONE:  # idempotent: keep the first done_at
                    values.update(
                        state=RecordState.DONE,
                        done_at=now,
                        updated_at=now,
                        last_error=None,
                        comment_id=old.comment_id if comment_id is None else comment_id,
                    )
                return values or None

            self._upsert(conn, rule, {b: b for b in ids}, finish, self._now())
            if missing:
                log.warning("rule %s: bugs %s finished without an intent", rule, missing)

        self._write(work)

    def close_intents(self, rule: str, items: Sequence[Seen]) -> None:
        """An unconfirmed write whose bug was checked (no comment holds the intent's ref) and
        no longer needs one, e.g. `[triagebot-skip]` was added after a crash: so the intent
        does not stay open for ever."""
        self._decide(rule, items, (RecordState.INTENT,))

    def mark_seen(self, rule: str, items: Sequence[Seen]) -> None:
        """Decisions that need no write. Never touches an "intent" (a write may have landed)
        or "done" record."""
        self._decide(rule, items, (None, RecordState.SEEN, RecordState.FAILED))

    def _decide(
        self, rule: str, items: Sequence[Seen], states: tuple[RecordState | None, ...]
    ) -> None:
        """Record these decisions as "seen" on the records in one of `states` (None: no
        record yet); other records are left as they are."""
        by_id = _unique(items)
        if not by_id:
            return

        def seen(s: Seen, old: BugRecord | None, now: datetime) -> dict[str, Any] | None:
            if (old.state if old else None) not in states:
                return None
            return {
                "state": RecordState.SEEN,
                "outcome": s.outcome,
                "community": s.community,
                "action": s.action,
                "updated_at": now,
            }

        self._write(lambda conn: self._upsert(conn, rule, by_id, seen, self._now()))

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
        """Record a failed write; returns the bug's state afterwards.

        A write that may have landed (timeout, dropped connection, 5xx) stays "intent" with
        its ref, so the next poll checks the bug's comments before writing. Otherwise nothing
        was written: "failed", retried with a fresh ref; a `permanent` error (Bugzilla refused
        the change itself) `max_attempts` times in a row makes it "gave-up", which no longer
        holds the cursor back, until `retry`. "done" is never undone."""
        error = error[:MAX_ERROR_CHARS]

        def fail(_: int, old: BugRecord | None, now: datetime) -> dict[str, Any] | None:
            if old is not None and old.state == RecordState.DONE:
                return None
            values: dict[str, Any] = {"last_error": error, "updated_at": now}
            if old is None or not write_may_have_landed:
                failures = 0
                if permanent:
                    same = old is not None and old.last_error == error
                    failures = old.failures + 1 if old is not None and same else 1
                given_up = max_attempts is not None and failures >= max_attempts
                values["state"] = RecordState.GAVE_UP if given_up else RecordState.FAILED
                values["failures"] = failures
            return values

        return self._write(
            lambda conn: self._upsert(conn, rule, {bug_id: bug_id}, fail, self._now())[bug_id].state
        )

    def retry(self, bug_id: int, rule: str | None = None) -> list[BugRecord]:
        """Put a given-up bug back in the queue ("failed", its failures reset): the next poll
        writes on it, even though the cursor has passed it. Returns the records changed."""

        def work(conn: Connection) -> list[BugRecord]:
            where = [_bug.c.bug_id == bug_id, _bug.c.state == RecordState.GAVE_UP]
            if rule is not None:
                where.append(_bug.c.rule == rule)
            rows = [_record(row) for row in conn.execute(select(_bug).where(*where))]
            if rows:
                conn.execute(
                    update(_bug)
                    .where(*where)
                    .values(state=RecordState.FAILED, failures=0, updated_at=self._now())
                )
            return rows

        return self._write(work)

    def records_in(
        self, state: RecordState, rule: str | None = None, *where: ColumnElement[bool]
    ) -> list[BugRecord]:
        """By rule and bug id; every rule's when `rule` is None."""
        stmt = (
            select(_bug).where(_bug.c.state == state, *where).order_by(_bug.c.rule, _bug.c.bug_id)
        )
        if rule is not None:
            stmt = stmt.where(_bug.c.rule == rule)
        with self._engine.connect() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def pending_intents(self) -> list[BugRecord]:
        return self.records_in(RecordState.INTENT)

    def outcome_counts(self, rule: str | None = None) -> dict[str, int]:
        """Counts keyed "<state>/<outcome>" over done and seen records, e.g.
        {"done/endorsed": 12, "seen/skipped": 3}; a missing outcome shows as "-"."""
        stmt = (
            select(_bug.c.state, _bug.c.outcome, func.count())
            .where(_bug.c.state.in_((RecordState.DONE, RecordState.SEEN)))
            .group_by(_bug.c.state, _bug.c.outcome)
        )
        if rule is not None:
            stmt = stmt.where(_bug.c.rule == rule)
        with self._engine.connect() as conn:
            return {f"{state}/{outcome or '-'}": n for state, outcome, n in conn.execute(stmt)}

    def awaiting(self, rule: str | None = None) -> list[BugRecord]:
        """Bugs the bot asked about that, as far as the database knows, await an answer."""
        return self.records_in(RecordState.DONE, rule, _bug.c.outcome.in_(AWAITING_OUTCOMES))

    def note_followup_error(self, rule: str, bug_id: int, error: str) -> None:
        """A follow-up write failed on a bug already done: keep the error, so the next poll
        reads the bug again (a landed follow-up clears it)."""
        error = error[:MAX_ERROR_CHARS]

        def keep(e: str, old: BugRecord | None, _: datetime) -> dict[str, Any] | None:
            return {"last_error": e} if old else None

        self._write(lambda conn: self._upsert(conn, rule, {bug_id: error}, keep, self._now()))

    def record_followups(self, rule: str, items: Sequence[Followed]) -> None:
        """A follow-up write landed: the bug's outcome and community are now these (None:
        unchanged), for `status` and the next poll's look-ups."""
        by_id = {item.bug_id: item for item in items}
        if not by_id:
            return

        def followed(f: Followed, old: BugRecord | None, now: datetime) -> dict[str, Any]:
            values = {"state": RecordState.DONE, "action": f.action, "updated_at": now}
            if old is None:
                return values | {"outcome": f.outcome, "community": f.community, "done_at": now}
            return values | {
                "outcome": old.outcome if f.outcome is None else f.outcome,
                "community": old.community if f.community is None else f.community,
                "last_error": None,
            }

        self._write(lambda conn: self._upsert(conn, rule, by_id, followed, self._now()))

    # -- polls ---------------------------------------------------------------------------------
    def start_poll(self, rule: str, dry_run: bool) -> int:
        def work(conn: Connection) -> int:
            now = self._now()
            if self._poll_history is not None:
                conn.execute(_poll.delete().where(_poll.c.started_at < now - self._poll_history))
            result = conn.execute(insert(_poll).values(rule=rule, started_at=now, dry_run=dry_run))
            return int(result.inserted_primary_key[0])

        return self._write(work)

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
        def work(conn: Connection) -> None:
            result = conn.execute(
                update(_poll)
                .where(_poll.c.id == poll_id)
                .values(
                    finished_at=self._now(),
                    searched=searched,
                    acted=acted,
                    failed=failed,
                    skipped=skipped,
                    error=error[:MAX_ERROR_CHARS] if error else None,
                )
            )
            if result.rowcount == 0:
                raise KeyError(f"no poll {poll_id}")

        self._write(work)

    def recent_polls(self, limit: int = 10) -> list[Poll]:
        """Newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(_poll).order_by(_poll.c.id.desc()).limit(limit))
            return [Poll.model_construct(**row._asdict()) for row in rows]

    # -- reload problems -------------------------------------------------------------------
    def set_reload_problems(self, source: str, problems: Sequence[str]) -> None:
        """What a running bot could not load from `source` (registry, rules) and so keeps its
        last good version of, for `status`; an empty list clears it."""

        def work(conn: Connection) -> None:
            if not problems:
                conn.execute(_problem.delete().where(_problem.c.source == source))
                return
            text = json.dumps(list(problems), ensure_ascii=False)
            _put(conn, _problem, {"source": source}, {"reported_at": self._now(), "problems": text})

        self._write(work)

    def reload_problems(self) -> list[ReloadProblems]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(_problem).order_by(_problem.c.source))
            return [
                ReloadProblems(row.source, row.reported_at, tuple(json.loads(row.problems)))
                for row in rows
            ]

    # -- start-up checks ---------------------------------------------------------------------
    def check_passed_since(self, key: str) -> datetime | None:
        with self._engine.connect() as conn:
            return conn.scalar(select(_check.c.passed_at).where(_check.c.key == key))

    def record_check_passed(self, key: str) -> None:
        self._write(lambda conn: _put(conn, _check, {"key": key}, {"passed_at": self._now()}))

    def forget_check(self, key: str) -> None:
        self._write(lambda conn: conn.execute(_check.delete().where(_check.c.key == key)))

    # -- internals -----------------------------------------------------------------------------
    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one committed transaction, again when another writer inserted or
        changed a row between our SELECT and our write: the retry decides on fresh rows."""
        for attempt in range(1, _RETRIES + 1):
            try:
                with self._engine.begin() as conn:
                    return work(conn)
            except (IntegrityError, _Raced):
                if attempt == _RETRIES:
                    raise
                log.info("store: concurrent write detected, retrying (%d)", attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _upsert(
        conn: Connection, rule: str, items: Mapping[int, T], change: Change[T], now: datetime
    ) -> dict[int, BugRecord]:
        """The one write of bug records: read them (one SELECT per IN_CHUNK ids), ask
        `change` for each one's new values (None: leave it), then one executemany UPDATE,
        compared and swapped on the state and attempts read, and one executemany INSERT.
        Returns the records as they now are (those that exist)."""
        records = _read(conn, rule, items)
        changed: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for bug_id, item in items.items():
            old = records.get(bug_id)
            values = change(item, old, now)
            if values is None:
                continue
            if old is None:
                records[bug_id] = BugRecord(bug_id=bug_id, rule=rule, **values)
                new.append(records[bug_id].model_dump())
            else:
                records[bug_id] = old.model_copy(update=values)
                swap = {"k_rule": rule, "k_bug_id": bug_id, "k_state": old.state}
                swap["k_attempts"] = old.attempts
                changed.append(records[bug_id].model_dump(exclude=set(_KEY)) | swap)
        # The compare-and-swap UPDATE must hit every row the SELECT found (counted row by row
        # where the driver cannot count an executemany).
        if changed and conn.dialect.supports_sane_multi_rowcount:
            if conn.execute(_SWAP, changed).rowcount != len(changed):
                raise _Raced()
        elif any(conn.execute(_SWAP, one).rowcount != 1 for one in changed):
            raise _Raced()
        if new:
            conn.execute(insert(_bug), new)
        return records


# -- helpers -----------------------------------------------------------------------------------
def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        # One connection shared by every thread, or each would get its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL: readers (the status command) never block the poller; NORMAL is durable across
        # process crashes in WAL mode (only an OS crash can lose the last commits).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def _holding(lease: Lease) -> Update:
    """An UPDATE of the rule's row that changes it only while `lease` holds it (same owner,
    same epoch)."""
    return update(_rule).where(
        _rule.c.rule == lease.rule,
        _rule.c.lease_owner == lease.owner.token,
        _rule.c.epoch == lease.epoch,
    )


def _read(conn: Connection, rule: str, bug_ids: Iterable[int]) -> dict[int, BugRecord]:
    ids = list(dict.fromkeys(bug_ids))
    return {
        row.bug_id: _record(row)
        for start in range(0, len(ids), IN_CHUNK)
        for row in conn.execute(
            select(_bug).where(
                _bug.c.rule == rule, _bug.c.bug_id.in_(ids[start : start + IN_CHUNK])
            )
        )
    }


def _record(row: Any) -> BugRecord:
    """A row as the record it is (its columns were typed on the way in: no validation)."""
    return BugRecord.model_construct(**row._asdict())


def _put(
    conn: Connection,
    table: Table,
    key: dict[str, Any],
    values: dict[str, Any],
    *guard: ColumnElement[bool],
) -> None:
    """One row by its key: updated where `guard` holds, else inserted. A row that exists but
    fails the guard makes the INSERT fail, and `Store._write` reads and decides again."""
    where = [table.c[name] == value for name, value in key.items()]
    if conn.execute(update(table).where(*where, *guard).values(**values)).rowcount == 0:
        conn.execute(insert(table).values(**key, **values))


def _unique(items: Sequence[Intent] | Sequence[Seen]) -> dict[int, Any]:
    """By bug id; one batch naming a bug twice is a caller bug, not a last-one-wins."""
    by_id: dict[int, Any] = {}
    for item in items:
        if item.bug_id in by_id:
            raise ValueError(f"bug {item.bug_id} appears twice in one batch")
        by_id[item.bug_id] = item
    return by_id


def _split_logins(value: str) -> tuple[str, ...]:
    return tuple(login for login in (part.strip() for part in value.split(",")) if login)


def _join_logins(logins: Iterable[str]) -> str:
    """Comma-joined, without duplicates (compared case-insensitively, like Bugzilla logins)."""
    kept: dict[str, str] = {}
    for login in logins:
        login = login.strip()
        if login:
            kept.setdefault(login.lower(), login)
    return ",".join(kept.values())
