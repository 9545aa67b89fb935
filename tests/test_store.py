"""The store: at-most-once bookkeeping, batching, tz-aware datetimes, restarts.

Runs on in-memory SQLite and on a real PostgreSQL server that the session starts in a
temporary directory (tests/pgserver.py): without one the PostgreSQL half skips and says why,
and fails under CI.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import create_mock_engine, event
from sqlmodel import SQLModel

from triagebot.state import process
from triagebot.state.store import (
    IN_CHUNK,
    BugRecordRow,
    CursorRow,
    Intent,
    Lease,
    LeaseHeld,
    LeaseLost,
    Owner,
    PollRow,
    RecordState,
    Seen,
    Store,
    StoreConflict,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TABLES = [CursorRow.__table__, BugRecordRow.__table__, PollRow.__table__]  # type: ignore[attr-defined]


class Clock:
    """Deterministic `now`: advances one second per call unless told otherwise."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.t = start
        self.step = step

    def __call__(self) -> datetime:
        self.t += self.step
        return self.t


@pytest.fixture(params=["sqlite-memory", "postgresql"])
def clock_store(request: pytest.FixtureRequest) -> Iterator[tuple[Clock, Store]]:
    """Every store test runs on in-memory SQLite and on a real PostgreSQL server (a fresh
    database each time; see tests/pgserver.py)."""
    clock = Clock()
    with ExitStack() as stack:
        if request.param == "postgresql":
            from pgserver import database

            url = stack.enter_context(database(request.getfixturevalue("postgres_server")))
            store = Store(url, now=clock)
        else:
            store = Store("sqlite://", now=clock)
        yield clock, store
        store.close()


@pytest.fixture
def store(clock_store: tuple[Clock, Store]) -> Store:
    return clock_store[1]


@contextmanager
def count_statements(store: Store) -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent to the driver (an executemany counts once: one round trip)."""
    seen: list[tuple[str, bool]] = []

    def listener(*args: Any) -> None:
        statement, executemany = args[2], args[5]
        seen.append((statement, executemany))

    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)


def intent(
    bug_id: int, ref: str | None = None, needinfo: tuple[str, ...] = (), attempts: int = 0
) -> Intent:
    """A claim by a poll that read the record with `attempts` (0: no record)."""
    return Intent(
        bug_id, ref or f"ref{bug_id}", "endorsed", "l10n-fr", "comment", needinfo, attempts
    )


# -- cursors -----------------------------------------------------------------------------------
def test_cursor_round_trip_is_tz_aware_utc(store: Store) -> None:
    assert store.get_cursor("fr") is None
    paris = timezone(timedelta(hours=2))
    store.set_cursor("fr", datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=paris))
    got = store.get_cursor("fr")
    assert got == datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert got is not None and got.tzinfo == UTC
    store.set_cursor("fr", T0 - timedelta(days=1))  # may move back (an old bug failed)
    assert store.get_cursor("fr") == T0 - timedelta(days=1)
    assert store.get_cursor("de") is None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive"):
        store.set_cursor("fr", datetime(2024, 5, 1))
    assert store.get_cursor("fr") is None


# -- the write protocol ------------------------------------------------------------------------
def test_begin_then_finish(clock_store: tuple[Clock, Store]) -> None:
    clock, store = clock_store
    store.begin_writes("fr", [intent(1, needinfo=("alice@example.org", "bob@example.org"))])
    rec = store.records("fr", [1])[1]
    assert (rec.state, rec.ref, rec.attempts, rec.action) == ("intent", "ref1", 1, "comment")
    assert rec.intent_at == clock.t and rec.intent_at.tzinfo == UTC
    assert rec.needinfo == "alice@example.org,bob@example.org"
    assert store.pending_intents() == [rec]

    store.finish_writes("fr", [1], comment_ids={1: 777})
    done = store.records("fr", [1])[1]
    assert (done.state, done.ref, done.comment_id) == ("done", "ref1", 777)
    assert done.done_at == clock.t and done.intent_at == rec.intent_at
    assert store.pending_intents() == []
    with pytest.raises(ValidationError):
        done.state = "seen"  # type: ignore[misc]

    store.finish_writes("fr", [1])  # idempotent: keeps the first done_at and the comment id
    assert store.records("fr", [1])[1] == done


def test_records_are_per_rule(store: Store) -> None:
    store.begin_writes("fr", [intent(1)])
    store.mark_seen("de", [Seen(1, "skipped", None)])
    assert store.records("fr", [1])[1].state == "intent"
    assert store.records("de", [1])[1].state == "seen"
    assert store.records("it", [1]) == {}
    assert [r.rule for r in store.records_in(RecordState.INTENT, "fr")] == ["fr"]
    assert store.records_in(RecordState.INTENT, "de") == []


def test_batch_of_1000_intents_in_one_call(store: Store) -> None:
    store.begin_writes("fr", [intent(b) for b in range(1, 1001)])
    pending = store.records_in(RecordState.INTENT, "fr")
    assert len(pending) == 1000
    assert {r.ref for r in pending} == {f"ref{b}" for b in range(1, 1001)}
    store.finish_writes("fr", list(range(1, 1001)))
    assert store.pending_intents() == []
    assert store.outcome_counts("fr") == {"done/endorsed": 1000}


def test_records_with_more_ids_than_one_in_clause(store: Store) -> None:
    store.begin_writes("fr", [intent(b) for b in range(0, 2400, 2)])  # 1,200 even ids
    ids = [*range(2500), 4, 4, 6]  # duplicates are harmless
    with count_statements(store) as statements:
        got = store.records("fr", ids)
    assert set(got) == set(range(0, 2400, 2))
    assert all(got[b].bug_id == b and got[b].ref == f"ref{b}" for b in got)
    assert len(statements) == math.ceil(2500 / IN_CHUNK)
    assert store.records("fr", []) == {}


def test_retry_of_an_unconfirmed_write_keeps_its_ref_and_counts_attempts(store: Store) -> None:
    store.begin_writes("fr", [intent(1, "abc", needinfo=("alice",))])
    store.mark_failed("fr", 1, "read timeout", write_may_have_landed=True)
    # Next poll: ref not found in the comments, so the caller writes again with the same ref.
    store.begin_writes("fr", [intent(1, "abc", needinfo=("Alice", "carol"), attempts=1)])
    rec = store.records("fr", [1])[1]
    assert (rec.state, rec.ref, rec.attempts) == ("intent", "abc", 2)
    # The first attempt may have pinged alice: she stays on the never-re-ping list.
    assert rec.needinfo == "alice,carol"


def test_of_two_claimers_of_one_stale_intent_exactly_one_wins(store: Store) -> None:
    """Both read the stale intent (attempts 1, ref abc) and both would reuse its ref: the
    claim compares and swaps the attempt counter, so the second one is refused."""
    store.begin_writes("fr", [intent(1, "abc")])
    store.begin_writes("fr", [intent(1, "abc", attempts=1)])  # the first claimer
    with pytest.raises(StoreConflict):
        store.begin_writes("fr", [intent(1, "abc", attempts=1)])  # the second, same snapshot
    assert store.records("fr", [1])[1].attempts == 2
    store.begin_writes("fr", [intent(2)])
    with pytest.raises(StoreConflict):  # a bug with no record when read, claimed since
        store.begin_writes("fr", [intent(2)])


def test_begin_writes_refuses_done_or_foreign_intent_and_commits_nothing(store: Store) -> None:
    store.begin_writes("fr", [intent(1), intent(2, "theirs")])
    store.finish_writes("fr", [1])
    for clash in (1, 2):
        with pytest.raises(StoreConflict) as caught:
            store.begin_writes("fr", [intent(10), intent(clash, "mine"), intent(11)])
        assert caught.value.bug_ids == (clash,)
    assert set(store.records("fr", [1, 2, 10, 11])) == {1, 2}  # the batch is all or nothing
    assert store.records("fr", [2])[2].ref == "theirs"
    assert store.records("fr", [1])[1].state == "done"


def test_failed_and_seen_records_can_be_claimed(store: Store) -> None:
    store.begin_writes("fr", [intent(1, "old")])
    store.mark_failed("fr", 1, "400 bad request", write_may_have_landed=False)
    store.mark_seen("fr", [Seen(2, "skipped", None)])
    store.begin_writes("fr", [intent(1, "new", attempts=1), intent(2)])
    recs = store.records("fr", [1, 2])
    assert (recs[1].state, recs[1].ref, recs[1].attempts) == ("intent", "new", 2)
    assert (recs[2].state, recs[2].attempts) == ("intent", 1)


def test_duplicate_bug_in_one_batch_is_a_caller_bug(store: Store) -> None:
    with pytest.raises(ValueError, match="twice"):
        store.begin_writes("fr", [intent(1), intent(1, "other")])
    with pytest.raises(ValueError, match="twice"):
        store.mark_seen("fr", [Seen(1, "a", None), Seen(1, "b", None)])
    assert store.records("fr", [1]) == {}


def test_empty_batches_send_nothing(store: Store) -> None:
    with count_statements(store) as statements:
        store.begin_writes("fr", [])
        store.finish_writes("fr", [])
        store.mark_seen("fr", [])
        store.records("fr", [])
    assert statements == []


# -- seen and failed ---------------------------------------------------------------------------
def test_mark_seen_never_downgrades_done_or_intent(store: Store) -> None:
    store.begin_writes("fr", [intent(1), intent(2), intent(3)])
    store.finish_writes("fr", [1])
    store.mark_failed("fr", 3, "403", write_may_have_landed=False)
    before = store.records("fr", [1, 2])
    store.mark_seen("fr", [Seen(b, "skipped", None) for b in (1, 2, 3, 4)])
    after = store.records("fr", [1, 2, 3, 4])
    assert after[1] == before[1] and after[1].state == "done"
    assert after[2] == before[2] and after[2].state == "intent"
    assert (after[3].state, after[3].outcome) == ("seen", "skipped")  # failed: nothing landed
    assert (after[4].state, after[4].action, after[4].ref) == ("seen", "none", None)

    store.mark_seen("fr", [Seen(4, "unknown", "l10n-de", "none")])  # refreshes a seen record
    assert (store.records("fr", [4])[4].outcome, store.records("fr", [4])[4].community) == (
        "unknown",
        "l10n-de",
    )


def test_failed_versus_intent_with_error(store: Store) -> None:
    store.begin_writes("fr", [intent(1, "r1"), intent(2, "r2"), intent(3, "r3")])
    store.mark_failed("fr", 1, "read timeout", write_may_have_landed=True)
    store.mark_failed("fr", 2, "Bugzilla error 109: bug locked", write_may_have_landed=False)
    recs = store.records("fr", [1, 2])
    assert (recs[1].state, recs[1].ref, recs[1].last_error) == ("intent", "r1", "read timeout")
    assert (recs[2].state, recs[2].ref) == ("failed", "r2")
    assert recs[2].last_error == "Bugzilla error 109: bug locked"

    assert [r.bug_id for r in store.records_in(RecordState.INTENT, "fr")] == [1, 3]
    assert [r.bug_id for r in store.records_in(RecordState.FAILED, "fr")] == [2]
    assert store.records_in(RecordState.FAILED, "de") == []

    store.finish_writes("fr", [1])  # the ref was found in the comments after all
    assert store.records("fr", [1])[1].last_error is None
    store.mark_failed("fr", 1, "late", write_may_have_landed=False)
    assert store.records("fr", [1])[1].state == "done"  # done is never undone
    store.mark_failed("fr", 9, "x" * 10_000, write_may_have_landed=True)  # no record: failed
    rec9 = store.records("fr", [9])[9]
    assert rec9.state == "failed" and rec9.last_error is not None
    assert len(rec9.last_error) < 10_000


def test_finish_without_intent_still_records_done(store: Store) -> None:
    store.finish_writes("fr", [5])
    rec = store.records("fr", [5])[5]
    assert (rec.state, rec.action) == ("done", "unknown")


# -- polls and counts --------------------------------------------------------------------------
def test_polls_and_counts(clock_store: tuple[Clock, Store]) -> None:
    clock, store = clock_store
    first = store.start_poll("fr", dry_run=True)
    store.finish_poll(first, searched=3, acted=0, failed=0, skipped=3)
    second = store.start_poll("de", dry_run=False)
    started = clock.t
    store.finish_poll(second, searched=10, acted=4, failed=1, skipped=5, error="boom")
    unfinished = store.start_poll("fr", dry_run=False)

    polls = store.recent_polls()
    assert [p.id for p in polls] == [unfinished, second, first]
    assert polls[0].finished_at is None and polls[0].searched == 0
    p = polls[1]
    assert (p.rule, p.dry_run, p.searched, p.acted, p.failed, p.skipped, p.error) == (
        "de",
        False,
        10,
        4,
        1,
        5,
        "boom",
    )
    assert p.started_at == started and p.started_at.tzinfo == UTC
    assert p.finished_at is not None and p.finished_at > p.started_at
    assert polls[2].dry_run is True
    assert [p.id for p in store.recent_polls(1)] == [unfinished]
    with pytest.raises(KeyError):
        store.finish_poll(10_000, searched=0, acted=0, failed=0, skipped=0)

    store.begin_writes("fr", [intent(1), intent(2), intent(3)])
    store.finish_writes("fr", [1, 2])
    store.mark_seen("fr", [Seen(4, "skipped", None), Seen(5, None, None)])
    store.begin_writes("de", [Intent(1, "d1", "needs-endorsement", "l10n-de", "comment")])
    store.finish_writes("de", [1])
    assert store.outcome_counts() == {
        "done/endorsed": 2,
        "done/needs-endorsement": 1,
        "seen/skipped": 1,
        "seen/-": 1,
    }
    assert store.outcome_counts("de") == {"done/needs-endorsement": 1}
    assert store.outcome_counts("it") == {}


def test_poll_history_is_kept_for_its_window(tmp_path: Path) -> None:
    clock = Clock(step=timedelta(0))
    with Store(
        f"sqlite:///{tmp_path / 'polls.db'}", now=clock, poll_history=timedelta(days=30)
    ) as store:
        first = store.start_poll("fr", dry_run=False)
        clock.t += timedelta(days=29)
        second = store.start_poll("fr", dry_run=False)
        clock.t += timedelta(days=2)  # the first is now 31 days old: forgotten
        third = store.start_poll("de", dry_run=False)
        assert [p.id for p in store.recent_polls()] == [third, second]
        assert first < second < third
    with Store(f"sqlite:///{tmp_path / 'polls.db'}", now=clock) as reader:
        reader.start_poll("fr", dry_run=False)  # without a window (a reader): nothing goes
        assert len(reader.recent_polls()) == 3


# -- crash safety and restarts -----------------------------------------------------------------
def test_state_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    clock = Clock()
    first = Store(url, now=clock)
    first.set_cursor("fr", T0)
    first.begin_writes("fr", [intent(1, "r1"), intent(2, "r2")])
    first.finish_writes("fr", [1])
    poll = first.start_poll("fr", dry_run=False)
    # The intent is committed before the PUT: another process sees it at once.
    other = Store(url, now=clock)
    assert [r.ref for r in other.pending_intents()] == ["r2"]
    other.close()
    first.engine.dispose()  # "killed": no finish_write for bug 2, no finish_poll

    second = Store(url, now=clock)
    assert second.get_cursor("fr") == T0
    recs = second.records("fr", [1, 2])
    assert (recs[1].state, recs[2].state, recs[2].ref) == ("done", "intent", "r2")
    assert recs[2].intent_at is not None and recs[2].intent_at.tzinfo == UTC
    assert [(p.id, p.finished_at) for p in second.recent_polls()] == [(poll, None)]
    with second.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    second.close()


def test_memory_store_is_shared_between_threads() -> None:
    store = Store("sqlite://")
    worker = threading.Thread(target=lambda: store.begin_writes("fr", [intent(1)]))
    worker.start()
    worker.join()
    assert store.records("fr", [1])[1].state == "intent"


# -- batching ----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 200, 500, 1000])
def test_begin_writes_is_a_few_statements_per_batch(store: Store, size: int) -> None:
    half = size // 2
    store.mark_seen("fr", [Seen(b, "skipped", None) for b in range(half)])  # half exist
    with count_statements(store) as statements:
        store.begin_writes("fr", [intent(b) for b in range(size)])
    selects = math.ceil(size / IN_CHUNK)
    writes = (1 if half else 0) + 1  # one executemany UPDATE, one executemany INSERT
    assert len(statements) <= selects + writes, statements
    assert sum(s.lstrip().upper().startswith("SELECT") for s, _ in statements) == selects
    assert len(store.records_in(RecordState.INTENT, "fr")) == size

    with count_statements(store) as statements:
        store.finish_writes("fr", list(range(size)))
    assert len(statements) <= 1 + selects + 1  # one UPDATE when every bug had its intent
    with count_statements(store) as statements:
        store.mark_seen("fr", [Seen(b, "skipped", None) for b in range(size, 2 * size)])
    assert len(statements) <= selects + 2


# -- state machine -----------------------------------------------------------------------------
operation = st.one_of(
    # a claim with ref a or b, by a poll that read the current record (False) or a stale one
    # (True: another process claimed the bug since that poll read it)
    st.tuples(st.just("begin"), st.integers(0, 3), st.sampled_from(["a", "b"]), st.booleans()),
    st.tuples(st.just("finish"), st.integers(0, 3), st.none(), st.none()),
    st.tuples(st.just("seen"), st.integers(0, 3), st.none(), st.none()),
    st.tuples(st.just("failed"), st.integers(0, 3), st.booleans(), st.none()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=25))
def test_done_is_final_and_intents_are_never_stolen(ops: list[tuple]) -> None:
    """Against a model: "done" never changes, an intent only changes through finish or a
    definite failure, a different ref can never take over an intent, and a claim by a poll
    that read the record before another claim (the same ref included: two processes that
    read one stale intent) is refused."""
    store = Store("sqlite://")
    model: dict[int, tuple[str, str | None]] = {}
    claims: dict[int, int] = {}  # bug -> attempts so far
    for op, bug, arg, stale in ops:
        state, ref = model.get(bug, (None, None))
        if op == "begin":
            read = claims.get(bug, 0) - (1 if stale and claims.get(bug, 0) else 0)
            legal = (
                state != "done"
                and not (state == "intent" and ref != arg)
                and read == claims.get(bug, 0)
            )
            if not legal:
                with pytest.raises(StoreConflict):
                    store.begin_writes("r", [intent(bug, arg, attempts=read)])
            else:
                store.begin_writes("r", [intent(bug, arg, attempts=read)])
                model[bug] = ("intent", arg)
                claims[bug] = claims.get(bug, 0) + 1
        elif op == "finish":
            store.finish_writes("r", [bug])
            model[bug] = ("done", ref)
        elif op == "seen":
            store.mark_seen("r", [Seen(bug, "skipped", None)])
            if state in (None, "seen", "failed"):
                model[bug] = ("seen", ref)
        else:
            store.mark_failed("r", bug, "err", write_may_have_landed=arg)
            if state is None or (not arg and state != "done"):
                model[bug] = ("failed", ref)
        got = {b: (r.state, r.ref) for b, r in store.records("r", range(4)).items()}
        assert got == model
        assert {b: r.attempts for b, r in store.records("r", claims).items()} == claims
    store.close()


# -- portability -------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["postgresql://", "mysql://"])
def test_schema_compiles_for_other_backends(url: str) -> None:
    ddl: list[str] = []
    engine = create_mock_engine(
        url, lambda sql, *a, **k: ddl.append(str(sql.compile(dialect=engine.dialect)))
    )
    SQLModel.metadata.create_all(engine, tables=TABLES, checkfirst=False)
    joined = "\n".join(ddl)
    assert "triagebot_bug" in joined and "PRIMARY KEY (bug_id, rule)" in joined
    if url.startswith("postgresql"):
        assert "TIMESTAMP WITH TIME ZONE" in joined


def test_sql_is_not_sqlite_specific(store: Store) -> None:
    """Sanity check of what the write path sends: no INSERT OR REPLACE / ON CONFLICT."""
    with count_statements(store) as statements:
        store.begin_writes("fr", [intent(1)])
        store.begin_writes("fr", [intent(1, attempts=1)])
        store.mark_seen("fr", [Seen(2, None, None)])
        store.finish_writes("fr", [1, 3])
        store.set_cursor("fr", T0)
    for sql, _ in statements:
        assert "OR REPLACE" not in sql.upper() and "ON CONFLICT" not in sql.upper()


# -- the poll lease ----------------------------------------------------------------------------
def test_one_lease_per_rule_taken_over_once_expired_and_fenced(
    clock_store: tuple[Clock, Store],
) -> None:
    clock, store = clock_store
    a, b = Owner("token-a", "host-a", 101), Owner("token-b", "host-b", 202)
    ttl = timedelta(minutes=5)
    first = store.acquire_lease("fr", a, ttl)
    assert isinstance(first, Lease) and first.epoch == 1
    held = store.acquire_lease("fr", b, ttl)
    assert isinstance(held, LeaseHeld)
    assert held.message() == (
        "another poll of rule fr is running on host-a (pid 101) since "
        f"{T0 + timedelta(seconds=1):%Y-%m-%d %H:%M:%S}Z: nothing to do"
    )
    assert isinstance(store.acquire_lease("de", b, ttl), Lease)  # another rule: free

    clock.t += ttl  # a dies without releasing: its lease expires, b takes over
    second = store.acquire_lease("fr", b, ttl)
    assert isinstance(second, Lease) and second.epoch == 2
    # a wakes up: its claims are fenced off in their own transaction, nothing is written
    with pytest.raises(LeaseLost):
        store.begin_writes("fr", [intent(1)], lease=first)
    with pytest.raises(LeaseLost):
        store.renew_lease(first, ttl)
    assert store.records("fr", [1]) == {}
    store.begin_writes("fr", [intent(1)], lease=second)
    store.release_lease(first)  # a stale release changes nothing
    assert isinstance(store.acquire_lease("fr", a, ttl), LeaseHeld)
    store.release_lease(second)
    assert isinstance(store.acquire_lease("fr", a, ttl), Lease)


def test_replicas_racing_for_a_lease_get_one(database_url: str) -> None:
    """Four replicas, each with its own engine (as separate processes would have), on a SQLite
    file and on PostgreSQL: exactly one gets the lease."""
    Store(database_url).close()  # migrated once, before the race
    results: list[object] = []
    barrier = threading.Barrier(4)

    def take(n: int) -> None:
        with Store(database_url) as store:
            barrier.wait()
            owner = Owner(f"t{n}", "h", n)
            results.append(store.acquire_lease("fr", owner, timedelta(minutes=5)))

    threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Lease) for r in results) == 1
    assert sum(isinstance(r, LeaseHeld) for r in results) == 3


def _gone_process() -> tuple[int, str | None]:
    """The pid and start of a process of this host that has exited."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    started = process.start_of(child.pid)
    child.communicate(b"")
    return child.pid, started


@pytest.mark.skipif(
    process.start_of(os.getpid()) is None, reason="no /proc: a process's start is unknown"
)
def test_a_lease_whose_holder_on_this_host_is_gone_is_free_at_once(
    clock_store: tuple[Clock, Store],
) -> None:
    clock, store = clock_store
    host, ttl = socket.gethostname(), timedelta(minutes=5)
    me = Owner.this_process()
    assert (me.host, me.pid, me.started) == (host, os.getpid(), process.start_of(os.getpid()))
    pid, started = _gone_process()
    dead = store.acquire_lease("fr", Owner("dead", host, pid, started), ttl)
    assert isinstance(dead, Lease)
    taken = store.acquire_lease("fr", me, ttl)  # its pid is gone: no waiting for the expiry
    assert isinstance(taken, Lease) and taken.epoch == dead.epoch + 1
    with pytest.raises(LeaseLost):  # and its claims, had it lived, are fenced
        store.begin_writes("fr", [intent(1)], lease=dead)

    # its pid now belongs to another process (one that started at another time): gone too
    assert me.started is not None
    boot = me.started.split(":")[0]
    reused = store.acquire_lease("de", Owner("old", host, os.getpid(), f"{boot}:1"), ttl)
    assert isinstance(store.acquire_lease("de", me, ttl), Lease)
    assert isinstance(reused, Lease)

    # alive on this host (this very process, another poller): held, and named
    alive = Owner("alive", host, os.getpid(), me.started)
    assert isinstance(store.acquire_lease("it", alive, ttl), Lease)
    held = store.acquire_lease("it", me, ttl)
    assert isinstance(held, LeaseHeld) and (held.host, held.pid) == (host, os.getpid())

    # on another host, another boot (or a host of the same name), or from a version that
    # did not store the start: the expiry stands
    other_boot = Owner("reboot", host, os.getpid(), "another-boot:1")
    assert isinstance(store.acquire_lease("es", other_boot, ttl), Lease)
    assert isinstance(store.acquire_lease("es", me, ttl), LeaseHeld)
    assert isinstance(
        store.acquire_lease("nl", Owner("far", "elsewhere", pid, started), ttl), Lease
    )
    assert isinstance(store.acquire_lease("nl", me, ttl), LeaseHeld)
    assert isinstance(store.acquire_lease("pt", Owner("older", host, pid, None), ttl), Lease)
    assert isinstance(store.acquire_lease("pt", me, ttl), LeaseHeld)
    clock.t += ttl
    assert isinstance(store.acquire_lease("nl", me, ttl), Lease)
    assert isinstance(store.acquire_lease("pt", me, ttl), Lease)
