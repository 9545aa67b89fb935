"""When `run` polls which rule: every `[poll] interval_minutes` (the safety poll), and at once
when a push asks for it.

The poller polls one rule at a time on one thread (it keeps the poll's state), so `run` has one
scheduled job; this decides which rules each of its rounds covers and when the next round is.
Pushes coalesce: while a round runs, a push only marks its rules pending, and the pending ones
are polled once more right after it. At most one poll of a rule runs and one waits, and rounds
started by pushes are at least PUSH_GAP apart, so a burst of a hundred hooks in a second costs
at most two polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

# Rounds asked for by pushes start at least this far apart: a bug filed, then commented on
# and flagged in the next second is one poll, not three. (A push right after a safety poll
# waits for nothing.)
PUSH_GAP = timedelta(seconds=1)


class Schedule:
    def __init__(self, interval: timedelta, clock: Callable[[], datetime] | None = None) -> None:
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._round = threading.Lock()  # held by the job for its rounds: one job at a time
        self._last: dict[str, datetime] = {}  # when each rule's last poll started
        self._pending: set[str] = set()  # rules a push asked for, not polled since
        self._running = False  # a round is under way
        self._moved = False  # the job was moved up for a push and has not started
        # when the last round for a push started: the next one waits PUSH_GAP after it
        self._pushed_at = datetime.min.replace(tzinfo=UTC)
        self._move: Callable[[datetime], None] = lambda _when: None
        self._stopped = False

    def attach(self, move: Callable[[datetime], None]) -> None:
        """`move(when)` sets the time of the scheduler's next round (APScheduler's
        `modify_job(next_run_time=...)`)."""
        with self._lock:
            self._move = move

    def detach(self) -> None:
        """Before the scheduler shuts down: no more rounds and no more moves. (APScheduler's
        shutdown holds the lock `modify_job` takes while it waits for the job.)"""
        with self._lock:
            self._move = lambda _when: None
            self._stopped = True

    def request(self, rules: Iterable[str]) -> bool:
        """Poll these rules as soon as may be. True when this moved a round up; False when it
        joined one already pending (or the rules are pending already)."""
        with self._lock:
            rules = set(rules)
            if rules <= self._pending:
                return False
            self._pending |= rules
            if not self._running and not self._moved:  # else the round under way calls again
                self._moved = True
                self._move(max(self.clock(), self._pushed_at + PUSH_GAP))
            return True

    def busy(self) -> bool:
        """A round is under way or asked for."""
        with self._lock:
            return self._running or self._moved or bool(self._pending)

    def due(self, rules: Iterable[str]) -> list[str]:
        """At the start of a round: the rules to poll now (those a push asked for, and those
        whose interval is over), in the order given."""
        rules = list(rules)
        with self._lock:
            now = self.clock()
            self._running, self._moved = True, False
            if self._pending:
                self._pushed_at = now
            self._last = {r: t for r, t in self._last.items() if r in rules}
            due = [
                r
                for r in rules
                if r in self._pending or r not in self._last or now >= self._last[r] + self.interval
            ]
            self._pending.clear()
            for rule in due:
                self._last[rule] = now
            return due

    def again(self) -> timedelta | None:
        """At the end of a round: how long to wait before the next one, when pushes came
        during this one; else None, and the scheduler's next round is the next safety poll."""
        with self._lock:
            if self._pending:
                return max(timedelta(0), self._pushed_at + PUSH_GAP - self.clock())
            self._running = False
            if self._last:
                self._move(min(self._last.values()) + self.interval)
            return None

    def run(self, round: Callable[[], None], sleep: Callable[[float], object]) -> None:
        """The scheduled job: rounds until no push is pending. The scheduler may start the job
        again while it is about to return (a push moved it up just then): that one waits for
        this one, then polls what is due, so no push is lost and no two rounds overlap."""
        with self._round:
            while not self._stopped:
                round()
                wait = self.again()
                if wait is None:
                    return
                sleep(wait.total_seconds())
