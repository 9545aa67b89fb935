"""One poll: search changed bugs, decide, write — the imperative shell around `triage.decide`.

Bugzilla is the record of what the bot wrote; the database is a cache and a coordination
point. The order of effects is what makes the bot safe on a live tracker:

1. read: every page of bugs changed since the cursor (one search request per page, by
   `last_change_time`: new bugs, bugs moved in from another component and bugs with new
   comments alike); a bug created before `start` that the bot has no record of gets its
   history read once (did it move in after `start`?), and the answer is remembered;
2. reconcile: the comments of the bugs not already handled (one batched request per page)
   tell whether the bot's own comment for this rule is there: such a bug is recorded done,
   from Bugzilla, and nothing is written, whatever the database held or lacked;
3. decide every other bug (pure); if more bugs would be acted on than the cap allows, act on
   none;
4. record and write, per chunk: record the intents (with a unique ref that goes in the
   comment's footer), then one PUT per bug, then record them done;
5. move the cursor to the newest `last_change_time` read (Bugzilla's database clock), but
   never past a bug that is not finished.

A crash anywhere leaves either no intent (nothing was written), or an intent whose ref the next
poll looks for in the bug's comments before writing again: never a second comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from triagebot.bugzilla.client import INTERNAL_ERRORS_FROM, BugzillaError, Client
from triagebot.core.bugs import Bug, Comment, Decision, Put, Write
from triagebot.core.bugstate import awaits, own_comment
from triagebot.core.registry import Registry
from triagebot.core.triage import decide
from triagebot.files.rules import Rule
from triagebot.service import logs
from triagebot.service.answers import Answers, Planned
from triagebot.service.writer import DryRunStore, Writer
from triagebot.state.store import (
    BugRecord,
    Intent,
    Lease,
    LeaseHeld,
    LeaseLost,
    Owner,
    RecordState,
    Seen,
    Store,
    StoreConflict,
)

log = logging.getLogger(__name__)

# Bugzilla rejects the whole PUT for a bad requestee (nothing lands), and the bot then retries
# once without the needinfo flags. 51 is "no such user". 32000 is the code of every user error
# without a number of its own: a requestee who cannot see the bug, is disabled or refuses
# needinfo (messages that name the requestee), but also bugzilla.mozilla.org's rate limit and
# a malformed request, which have nothing to do with the flags.
NO_SUCH_USER = 51
UNNUMBERED_USER_ERROR = 32000
WRITE_CHUNK = 200
# Without `[poll] start`, the first poll of a rule looks this far back; the start is stored.
DEFAULT_LOOKBACK = timedelta(days=7)
# The outcome remembered for a bug created before `start` that did not move in after it.
BEFORE_START = "before-start"
# Records of bugs an earlier poll finished with: their comments are read only for answers.
FINISHED = (RecordState.DONE, RecordState.SEEN, RecordState.GAVE_UP)


class Action(StrEnum):
    """What happened to one bug in one poll (the per-bug output line says it in words)."""

    COMMENTED = "commented"
    WOULD_COMMENT = "would-comment"
    SKIPPED = "skipped"
    RECONCILED = "reconciled"  # the bot's own comment is already on the bug
    PENDING = "pending"
    FAILED = "failed"
    GAVE_UP = "gave-up"  # the same permanent error max_attempts times: no more tries
    CAPPED = "capped"
    STOPPED = "stopped"  # not written: the process was told to stop (SIGTERM); next poll


@dataclass(frozen=True, slots=True)
class ToDo(Planned):
    """A first write, with the ref of an earlier unconfirmed write (reused)."""

    earlier_ref: str | None = None
    attempts: int = 0  # the record's attempts when read: the claim compares and swaps it


@dataclass
class BugResult:
    """What happened to one bug in one poll, for the per-bug output line."""

    bug: Bug
    decision: Decision | None
    action: Action
    error: str | None = None
    put: Put | None = None  # the PUT sent (or recorded, or tried): the exact comment
    comment_id: int | None = None  # when known (found again by reconciliation)

    @property
    def ref(self) -> str | None:
        return self.put.ref if self.put is not None else None

    @property
    def needinfo(self) -> tuple[str, ...]:
        """Who was asked: without those Bugzilla refused."""
        return self.put.needinfo if self.put is not None else ()

    @property
    def comment(self) -> str | None:
        return self.put.comment if self.put is not None else None


@dataclass(frozen=True, slots=True)
class Preview:
    """`explain`'s answer: what the next poll does with one bug under one rule."""

    result: BugResult | None  # None: nothing (handled before, or before `start`)
    decision: Decision  # the poll's, else its triage decision at first sight
    record: BugRecord | None


@dataclass
class PollReport:
    rule: str
    since: datetime
    live: bool
    results: list[BugResult] = field(default_factory=list)
    capped: int | None = None  # set when the action cap stopped the poll: how many would act
    error: str | None = None  # the poll itself failed (Bugzilla down...): cursor untouched
    error_code: int | None = None  # Bugzilla's code for `error`, when it answered one
    requests: int = 0
    # Bugs the search found again (the overlap window, a change since) that an earlier poll
    # handled, or that were in the component before `start`: no result line, no request.
    handled_before: int = 0
    # The newest last_change_time read (Bugzilla's database clock): where the cursor goes.
    newest_change: datetime | None = None
    # Another process holds this rule's poll lease: this poll did nothing, and that is fine.
    busy: str | None = None
    # Told to stop (a signal's name) before the poll's end: the cursor stays where it was.
    stopped: str | None = None

    @property
    def failed(self) -> list[BugResult]:
        unfinished = (Action.FAILED, Action.PENDING, Action.STOPPED)
        return [r for r in self.results if r.action in unfinished]

    @property
    def ok(self) -> bool:
        return self.error is None and self.capped is None and not self.failed

    @property
    def bugs(self) -> int:
        """Every bug the poll found, those handled before included: as its summary says."""
        return len(self.results) + self.handled_before

    @property
    def acted(self) -> int:
        """Bugs written on (or, in a dry run, that would be)."""
        sent = Action.COMMENTED if self.live else Action.WOULD_COMMENT
        return sum(r.action == sent for r in self.results)

    def log_fields(self) -> dict[str, object]:
        """The poll's summary line as fields, for JSON logs: `outcome` is ok, busy (another
        process polls the rule), error (the poll failed), capped, stopped, or failed (some
        writes did)."""
        outcome = "ok"
        if self.busy is not None:
            outcome = "busy"
        elif self.error is not None:
            outcome = "error"
        elif self.capped is not None:
            outcome = "capped"
        elif self.stopped is not None:
            outcome = "stopped"
        elif self.failed:
            outcome = "failed"
        return {
            "rule": self.rule,
            "outcome": outcome,
            "live": self.live,
            "bugs": self.bugs,
            "acted": self.acted,
            "failed": [r.bug.id for r in self.failed],
            "requests": self.requests,
            "error": self.error,
        }


@dataclass
class PollSettings:
    max_actions: int | None  # None: no cap
    start: datetime | None  # None: DEFAULT_LOOKBACK before the first poll, stored then
    overlap: timedelta
    page_size: int = 500
    intent_grace: timedelta = timedelta(seconds=60)  # a write may still land this long after
    bot_login: str | None = None
    max_attempts: int = 5  # the same permanent error this many times: the bug is given up
    lease_ttl: timedelta = timedelta(minutes=5)  # a dead poller's rule is free after this


@dataclass
class _Page:
    """One search page on its way through a poll's steps."""

    fresh: list[Bug]  # to reconcile and decide
    records: dict[int, BugRecord]
    seen: list[Seen] = field(default_factory=list)  # decisions that need no write
    closed: list[Seen] = field(default_factory=list)  # unconfirmed writes no longer needed
    reconciled: dict[int, int | None] = field(default_factory=dict)  # bug -> own comment id
    handled: list[Bug] = field(default_factory=list)  # finished earlier: answers to read?


class Poller:
    """Runs polls for every rule against one client, store and (reloadable) registry; its
    writer sends each write to Bugzilla, or records it (a dry run: `writer.DryRunStore`)."""

    def __init__(
        self,
        client: Client,
        store: Store,
        registry: Callable[[], Registry],
        rules: Callable[[], list[Rule]],
        settings: PollSettings,
        writer: Writer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_ref: Callable[[], str] | None = None,
    ) -> None:
        self.client = client
        self.writer = writer
        self.store = store if writer.live else DryRunStore(store)
        self.registry = registry
        self.rules = rules
        self.settings = settings
        self.clock = clock
        self.new_ref = new_ref or writer.new_ref
        # What a write that went out counts as: done, or shown.
        self.sent = Action.COMMENTED if writer.live else Action.WOULD_COMMENT
        self.owner = Owner.this_process()
        self._blocked: BugzillaError | None = None  # a 429 in this poll's writes
        # The reports of the poll under way, filled as it goes: a Ctrl-C still has them.
        self.reports: list[PollReport] = []
        # Told (done, total) after each write of a poll: the terminal's progress line.
        self.progress: Callable[[int, int], None] | None = None
        self._written = 0
        self._lease: Lease | None = None  # of the rule being polled
        # Set (to a signal's name) from another thread or a signal handler: the poll under way
        # ends after the write in flight, and no other rule is polled. A plain attribute, not
        # an Event: a signal handler must take no lock.
        self.stop_requested: str | None = None
        self._renewed = datetime.min.replace(tzinfo=UTC)
        self.answers = Answers(client, self.store, clock, lambda: self.settings.bot_login)

    def poll(self) -> list[PollReport]:
        self.reports = []
        return [self.poll_rule(rule) for rule in self.rules()]

    def start_for(self, rule: Rule) -> datetime:
        """`[poll] start`, else the stored default start of this rule: DEFAULT_LOOKBACK before
        its first live poll, stored then, so a restart does not move it and a bug that failed
        before stays in reach."""
        if self.settings.start is not None:
            return self.settings.start
        return self.store.default_start(rule.name, self.clock() - DEFAULT_LOOKBACK)

    def poll_rule(self, rule: Rule) -> PollReport:
        """One poll of one rule. A live poll first takes the rule's lease, so that of any
        number of processes sharing the database one polls a rule at a time; finding it held
        is no failure (the report is `busy`, and `once` exits 0). Told to stop, it reads
        nothing: the report says `stopped`."""
        if self.stop_requested is not None:
            report = PollReport(
                rule.name, self.clock(), self.writer.live, stopped=self.stop_requested
            )
            self.reports.append(report)
            return report
        lease = self.store.acquire_lease(rule.name, self.owner, self.settings.lease_ttl)
        if isinstance(lease, LeaseHeld):
            report = PollReport(rule.name, self.clock(), self.writer.live, busy=lease.message())
            self.reports.append(report)
            log.info("%s", report.busy)
            return report
        self._lease, self._renewed = lease, self.clock()
        try:
            return self._poll_rule(rule)
        finally:
            current, self._lease = self._lease, None
            try:
                self.store.release_lease(current)
            except Exception:  # it expires by itself; the poll's result stands
                log.exception("rule %s: could not release the poll lease", rule.name)

    def _poll_rule(self, rule: Rule) -> PollReport:
        start = self.start_for(rule)
        cursor = self.store.get_cursor(rule.name)
        since = start
        if cursor is not None:
            since = max(since, cursor - self.settings.overlap)
        report = PollReport(rule.name, since, self.writer.live)
        self.reports.append(report)  # what an interrupted poll had done, for its message
        before = sum(self.client.requests_made.values())
        poll_id = self.store.start_poll(rule.name, dry_run=not self.writer.live)
        try:
            todo, followups = self._gather(rule, start, since, report)
            self._act(rule, todo, report, followups)
            if self.stop_requested is not None:
                report.stopped = self.stop_requested  # some bugs unread or unwritten
            elif report.capped is None and report.error is None:
                self._advance_cursor(rule, report)
        except BugzillaError as exc:
            report.error = str(exc)
            report.error_code = exc.code
            log.error("poll of rule %s failed, cursor left where it was: %s", rule.name, exc)
        except LeaseLost as exc:
            report.error = str(exc)
            log.error("%s", exc)
        except _Stopped:
            report.stopped = self.stop_requested
        report.requests = sum(self.client.requests_made.values()) - before
        # The counts the poll printed: `status` shows them as they were.
        self.store.finish_poll(
            poll_id,
            searched=report.bugs,
            acted=report.acted,
            failed=len(report.failed),
            skipped=sum(r.action == Action.SKIPPED for r in report.results),
            error=report.error or (f"action cap: {report.capped}" if report.capped else None),
        )
        return report

    def _check_stop(self) -> None:
        """Between two reads: stop now if told to (nothing is half done there)."""
        if self.stop_requested is not None:
            raise _Stopped

    def _keep_lease(self, at_once: bool = False) -> None:
        """Renew the lease during a long poll (a third of its length at most between
        renewals); raises LeaseLost if another process took the rule over meanwhile."""
        if self._lease is None:
            return
        if not at_once and self.clock() - self._renewed < self.settings.lease_ttl / 3:
            return
        self._lease = self.store.renew_lease(self._lease, self.settings.lease_ttl)
        self._renewed = self.clock()

    # -- reading, reconciling, deciding, recording ----------------------------------------
    def _gather(
        self, rule: Rule, start: datetime, since: datetime, report: PollReport
    ) -> tuple[list[ToDo], list[Planned]]:
        """Every page of changed bugs through read / reconcile / decide / record: the first
        writes and the follow-ups (answers to the bot's questions, stale requests) to make."""
        registry = self.registry()
        todo: list[ToDo] = []
        followups: list[Planned] = []
        found: set[int] = set()
        last_read = self.store.get_cursor(rule.name)  # the newest change the last poll read
        evaluated: set[int] = set()  # bugs whose answers this poll read
        for bugs in self._pages(rule, since, found):
            self._check_stop()
            self._keep_lease()
            bugs = [b for b in bugs if b.id not in found]
            found.update(b.id for b in bugs)
            for bug in bugs:
                changed = bug.last_change_time or bug.creation_time
                if report.newest_change is None or changed > report.newest_change:
                    report.newest_change = changed
            page = self._read(rule, start, bugs, report)
            waiting = [
                b
                for b in page.handled
                if awaits(b, rule) and _changed_since_read(b, page.records.get(b.id), last_read)
            ]
            if page.fresh or waiting:
                # One batched read per page: whole when there are new bugs to decide, else
                # only the comments since the search's start, where answers are.
                ids = [b.id for b in (*page.fresh, *waiting)]
                comments = self.client.comments(ids, new_since=None if page.fresh else since)
                found_todo, planned, read = self._decide_page(
                    rule, registry, page, waiting, comments, report, complete=bool(page.fresh)
                )
                todo += found_todo
                followups += planned
                evaluated.update(read)
            self._record(rule, page)
        self._check_stop()
        if self.answers.sweep_due(rule):
            followups += self.answers.sweep(rule, registry, evaluated, self.settings.page_size)
        return todo, followups

    def _decide_page(
        self,
        rule: Rule,
        registry: Registry,
        page: _Page,
        waiting: list[Bug],
        comments: dict[int, list[Comment]],
        report: PollReport,
        *,
        complete: bool,
    ) -> tuple[list[ToDo], list[Planned], set[int]]:
        """Reconcile and decide the page's new bugs, and the follow-ups of the bugs that may
        hold an answer, from their comments (all of them, or only the new ones). Returns the
        first writes, the follow-ups, and the bugs whose answers were read."""
        todo: list[ToDo] = []
        answered: dict[int, BugResult] = {}  # bugs found done on Bugzilla that may await
        for bug in page.fresh:
            result = self._reconcile(rule, bug, comments, page)
            if result is not None and result.action == Action.RECONCILED and awaits(bug, rule):
                answered[bug.id] = result
                continue
            if result is None:
                result, decision = self._decide(rule, registry, bug, comments[bug.id])
                record = page.records.get(bug.id)
                if decision.acts:
                    attempts = record.attempts if record is not None else 0
                    todo.append(ToDo(result.bug, decision, _intent_ref(record), attempts))
                    continue
                if result.action == Action.SKIPPED:
                    seen = Seen(bug.id, decision.outcome, decision.community, "none")
                    page.seen.append(seen)
                    if record is not None and record.state == RecordState.INTENT:
                        page.closed.append(seen)  # comments read, ref absent, not needed
            report.results.append(result)
        planned = self.answers.decide(
            rule,
            registry,
            [*waiting, *(r.bug for r in answered.values())],
            comments,
            complete=complete,
        )
        acting = {p.bug.id for p in planned}
        report.results.extend(r for b, r in answered.items() if b not in acting)
        report.handled_before -= sum(b.id in acting for b in waiting)
        return todo, planned, {b.id for b in waiting} | set(answered)

    def explain(self, rule: Rule, bug: Bug, comments: list[Comment]) -> Preview:
        """What the next poll would do with `bug` under `rule`, read only: the poll's own
        read, reconcile, decide and write steps for this one bug, its write recorded by this
        poller's writer (a dry run's). Every answer counts (`comments`: all of the bug's),
        as when the bug changes or the day's sweep reads it."""
        if self.writer.live:
            raise ValueError("explain writes nothing: give it a dry run's poller")
        report = PollReport(rule.name, self.clock(), live=False)
        registry = self.registry()
        page = self._read(rule, self.start_for(rule), [bug], report)
        waiting = [b for b in page.handled if awaits(b, rule)]
        if page.fresh or waiting:
            todo, planned, _ = self._decide_page(
                rule, registry, page, waiting, {bug.id: comments}, report, complete=True
            )
            self._act(rule, todo, report, planned)
        result = report.results[0] if report.results else None
        decision = result.decision if result is not None else None
        if decision is None:  # nothing to do now: what the bot decided at first sight
            decision = self._decide(rule, registry, bug, comments)[1]
        return Preview(result, decision, page.records.get(bug.id))

    def _pages(self, rule: Rule, since: datetime, found: set[int]) -> Iterator[list[Bug]]:
        """The search's pages, then the bugs waiting for a write that it did not find: a
        given-up bug put back by `retry` after the cursor passed it (one more request, only
        when there is such a bug). One of them no longer in the rule's components is left."""
        yield from self.client.search_changed(
            rule.product, list(rule.components), since, page_size=self.settings.page_size
        )
        failed = self.store.records_in(RecordState.FAILED, rule.name)
        waiting = [r.bug_id for r in failed if r.bug_id not in found]
        if not waiting:
            return
        bugs = self.client.search_ids(rule.product, list(rule.components), waiting)
        gone = set(waiting) - {b.id for b in bugs}
        if gone:
            log.warning("rule %s: bugs %s left its components; not retried", rule.name, gone)
            self.store.mark_seen(rule.name, [Seen(b, "not-watched", None) for b in sorted(gone)])
        yield bugs

    def _read(self, rule: Rule, start: datetime, bugs: list[Bug], report: PollReport) -> _Page:
        """Which bugs of a search page need their comments read: not those an earlier poll
        finished, not a write that may still land, not a bug that was in the component
        before `start` (its history is read once, then remembered)."""
        records = self.store.records(rule.name, [b.id for b in bugs])
        page = _Page([], records)
        now = self.clock()
        for bug in bugs:
            record = records.get(bug.id)
            if record is not None and record.state in FINISHED:
                report.handled_before += 1
                page.handled.append(bug)
                continue
            if (
                record is not None
                and record.state == RecordState.INTENT
                and record.intent_at is not None
                and now - record.intent_at < self.settings.intent_grace
            ):
                result = BugResult(bug, None, Action.PENDING, "an earlier write may still land")
                report.results.append(result)
                continue
            if record is None and bug.creation_time < start:
                entered = self._moved_in_at(rule, bug)
                if entered < start:
                    page.seen.append(Seen(bug.id, BEFORE_START, None, "none"))
                    report.handled_before += 1
                    continue
            page.fresh.append(bug)
        return page

    def _moved_in_at(self, rule: Rule, bug: Bug) -> datetime:
        """When the bug came into what the rule watches: its creation, or the last product or
        component change that brought it in. One history request."""
        product, component = bug.product, bug.component
        for change in reversed(self.client.history(bug.id)):
            before_product = change.removed if change.field == "product" else product
            before_component = change.removed if change.field == "component" else component
            if not rule.watches(before_product, before_component):
                return change.when
            product, component = before_product, before_component
        return bug.creation_time

    def _reconcile(
        self, rule: Rule, bug: Bug, comments: dict[int, list[Comment]], page: _Page
    ) -> BugResult | None:
        """The bug's comments, read back from Bugzilla: does it already carry this rule's
        comment by the bot? Then it is done, whatever the database holds."""
        if bug.id not in comments:
            error = "comments not readable (bug not visible?)"
            return BugResult(bug, None, Action.FAILED, error)
        ref = _intent_ref(page.records.get(bug.id))
        own = own_comment(comments[bug.id], rule.name, self.settings.bot_login, ref)
        if own is None:
            return None
        page.reconciled[bug.id] = own.id
        return BugResult(bug, None, Action.RECONCILED, comment_id=own.id)

    def _decide(
        self, rule: Rule, registry: Registry, bug: Bug, comments: list[Comment]
    ) -> tuple[BugResult, Decision]:
        description = next((c.text for c in comments if c.count == 0), "")
        decision = decide(replace(bug, description=description), registry, rule, self.clock())
        action = Action.WOULD_COMMENT if decision.acts else Action.SKIPPED
        # Decided: nothing later reads the description, and a poll holds every bug it found
        # until it has acted (the action cap counts them first), so do not hold their text.
        return BugResult(bug, decision, action), decision

    def _record(self, rule: Rule, page: _Page) -> None:
        """What a page taught, in one statement per kind."""
        if page.seen:
            self.store.mark_seen(rule.name, page.seen)
        if page.closed:
            self.store.close_intents(rule.name, page.closed)
        if page.reconciled:
            ids = {b: c for b, c in page.reconciled.items() if c is not None}
            self.store.finish_writes(rule.name, list(page.reconciled), comment_ids=ids)

    # -- writing -------------------------------------------------------------------------
    def _act(
        self, rule: Rule, todo: list[ToDo], report: PollReport, followups: Sequence[Planned]
    ) -> None:
        cap, acts = self.settings.max_actions, (*todo, *followups)
        if cap is not None and len(acts) > cap:
            report.capped = len(acts)
            log.warning(
                "rule %s would act on %d bugs, more than max_actions_per_run=%d: acting on none",
                rule.name,
                len(acts),
                cap,
            )
            # A dry run still shows every comment: it is what the operator reads before
            # deciding on --no-limit. The report says a live run would refuse.
            if self.writer.live:
                report.results += [BugResult(i.bug, i.decision, Action.CAPPED) for i in acts]
                return
        self._blocked = None
        self._written = 0
        for start in range(0, len(todo), WRITE_CHUNK):
            if self.stop_requested is not None:  # not claimed yet: nothing to undo
                report.results += [
                    BugResult(i.bug, i.decision, Action.STOPPED) for i in todo[start:]
                ]
                break
            self._write_chunk(rule, todo[start : start + WRITE_CHUNK], report, len(todo))
        for planned in followups:
            if self.stop_requested is not None:  # the bug's own state brings it back
                report.results.append(BugResult(planned.bug, planned.decision, Action.STOPPED))
                continue
            report.results.append(_logged(rule, self._write_followup(rule, planned)))

    def _put(self, bug: Bug, write: Write, ref: str) -> tuple[Put, BugzillaError | None]:
        """The one PUT of a write, and the error that refused it. When Bugzilla rejects a
        needinfo requestee it rejects the whole PUT, comment included (nothing landed): the
        write is sent again once without the flags rather than not at all, and logged."""
        put = write.put(bug.id, ref, self.writer.markdown)
        while True:
            try:
                self.writer.send(put)
                return put, None
            except BugzillaError as exc:
                if not _requestee_rejected(exc, put.needinfo):
                    return put, exc
                log.warning(
                    "bug %d: Bugzilla rejected the needinfo for %s (%s); posting without needinfo",
                    bug.id,
                    ", ".join(put.needinfo),
                    exc,
                )
                put = replace(put, needinfo=())

    def _write_followup(self, rule: Rule, planned: Planned) -> BugResult:
        """One PUT: tags, needinfo flags cleared (by id) and set, one comment. No intent
        first: the bug's own state says what is left to do (see `answers`)."""
        bug, decision = planned.bug, planned.decision
        assert decision.write is not None
        ref = self.new_ref()
        if self._blocked is not None:
            error = f"not sent, Bugzilla is refusing requests ({self._blocked})"
            put = decision.write.put(bug.id, ref, self.writer.markdown)
            return BugResult(bug, decision, Action.FAILED, error, put)
        self._keep_lease(at_once=True)  # fenced: a poller whose rule was taken over writes nothing
        put, exc = self._put(bug, decision.write, ref)
        if exc is not None:
            self.store.note_followup_error(rule.name, bug.id, str(exc))
            if exc.http_status == 429:
                self._blocked = exc
            return BugResult(bug, decision, Action.FAILED, str(exc), put)
        self.answers.landed(rule, planned)
        return BugResult(bug, decision, self.sent, None, put)

    def _write_chunk(self, rule: Rule, chunk: list[ToDo], report: PollReport, total: int) -> None:
        refs = {item.bug.id: item.earlier_ref or self.new_ref() for item in chunk}
        intents = [
            Intent(
                t.bug.id, refs[t.bug.id], d.outcome, d.community, _action(d), d.needinfo, t.attempts
            )
            for t in chunk
            for d in (t.decision,)
        ]
        try:
            self._keep_lease()
            self.store.begin_writes(rule.name, intents, lease=self._lease)
        except StoreConflict as exc:
            # Another replica claimed some of these bugs since we read their records: write
            # none of this chunk; the next poll sees the real state.
            log.warning("rule %s: %s; leaving this chunk to the next poll", rule.name, exc)
            for item in chunk:
                result = BugResult(item.bug, item.decision, Action.PENDING, "claimed elsewhere")
                report.results.append(result)
            return
        done: list[int] = []
        not_asked: dict[int, tuple[str, ...]] = {}
        try:
            for item in chunk:
                bug, decision = item.bug, item.decision
                if self._blocked is not None or self.stop_requested is not None:
                    report.results.append(self._not_sent(rule, bug, decision, refs[bug.id]))
                    continue
                result = _logged(rule, self._write_one(rule, bug, decision, refs[bug.id]))
                report.results.append(result)
                self._written += 1
                if self.progress is not None:
                    self.progress(self._written, total)
                if result.action == self.sent:
                    done.append(bug.id)
                    if result.needinfo != decision.needinfo:  # refused by Bugzilla
                        not_asked[bug.id] = tuple(
                            n for n in decision.needinfo if n not in result.needinfo
                        )
        finally:
            if done:
                self.store.finish_writes(rule.name, done, not_asked=not_asked)

    def _write_one(self, rule: Rule, bug: Bug, decision: Decision, ref: str) -> BugResult:
        assert decision.write is not None
        put, exc = self._put(bug, decision.write, ref)
        if exc is None:
            return BugResult(bug, decision, self.sent, None, put)
        landed = _may_have_landed(exc)
        state = self.store.mark_failed(
            rule.name,
            bug.id,
            str(exc),
            write_may_have_landed=landed,
            permanent=not landed and exc.http_status != 429,
            max_attempts=self.settings.max_attempts,
        )
        if state == RecordState.GAVE_UP:
            return BugResult(bug, decision, Action.GAVE_UP, str(exc), put)
        if exc.http_status == 429:
            # bugzilla.mozilla.org's block: every request restarts it, so the other
            # writes wait for the next poll instead of extending it.
            self._blocked = exc
            log.error("Bugzilla answered 429: no more writes in this poll")
        return BugResult(bug, decision, Action.FAILED, str(exc), put)

    def _not_sent(self, rule: Rule, bug: Bug, decision: Decision, ref: str) -> BugResult:
        """A claimed write skipped after a 429 or when told to stop: nothing was sent, so the
        intent is withdrawn and the next poll writes it afresh, at once."""
        assert decision.write is not None
        put = decision.write.put(bug.id, ref, self.writer.markdown)
        if self._blocked is None:
            result = BugResult(bug, decision, Action.STOPPED, None, put)
            error = f"not sent: stopped on {self.stop_requested}"
        else:
            error = f"not sent, Bugzilla is refusing requests ({self._blocked})"
            result = BugResult(bug, decision, Action.FAILED, error, put)
        self.store.mark_failed(rule.name, bug.id, error, write_may_have_landed=False)
        return result

    def _advance_cursor(self, rule: Rule, report: PollReport) -> None:
        """The next poll starts at the newest change read (Bugzilla's database clock: the
        `last_change_time` it stamped, not a web server's Date header), or at the oldest
        change of a bug not finished. Nothing read: the cursor stays where it was."""
        unfinished = [r.bug.last_change_time or r.bug.creation_time for r in report.failed]
        candidates = [t for t in (report.newest_change, *unfinished) if t is not None]
        if not candidates:
            return
        self.store.set_cursor(rule.name, min(candidates))


def _logged(rule: Rule, result: BugResult) -> BugResult:
    """A write's result, once its log line is out."""
    assert result.decision is not None
    bug, action, decision = result.bug.id, result.action, result.decision
    logs.write_line(rule.name, bug, action, decision, result.needinfo, result.error, result.ref)
    return result


class _Stopped(Exception):
    """Raised between two reads when the poll was told to stop."""


def _requestee_rejected(exc: BugzillaError, needinfo: Sequence[str]) -> bool:
    """Did Bugzilla reject the PUT because of a needinfo requestee? A 32000 counts only when
    its message names one of them (Bugzilla's requestee errors show the requestee's login)."""
    if not needinfo:
        return False
    if exc.code == NO_SUCH_USER:
        return True
    if exc.code == UNNUMBERED_USER_ERROR:
        message = exc.message.casefold()
        return any(login.casefold() in message for login in needinfo)
    return False


def _may_have_landed(exc: BugzillaError) -> bool:
    """A Bugzilla user error (a code under 100000, not on a 5xx) is raised while the change is
    checked, before anything is written. No answer (timeout, connection, a proxy's page), an
    HTTP 5xx or an internal error (mail is sent after the commit) may come after the commit:
    the next poll then looks for the write's ref before writing again. A 429 was refused
    before anything was looked at."""
    if exc.http_status == 429:
        return False
    if exc.code is None or exc.code < 0 or exc.code >= INTERNAL_ERRORS_FROM:
        return True
    return exc.http_status is not None and exc.http_status >= 500


def _changed_since_read(bug: Bug, record: BugRecord | None, last_read: datetime | None) -> bool:
    """Has a bug the bot finished earlier changed since it was last read? Not when its change
    is no newer than what the last poll read (the overlap window finds it again), nor when
    the change is the bot's own last write (recorded after Bugzilla stamped it: a clock
    skew beyond a second could hide an answer posted within it). A follow-up that failed is
    read again until it lands."""
    if record is not None and record.last_error:
        return True
    changed = bug.last_change_time or bug.creation_time
    if last_read is not None and changed <= last_read:
        return False
    return record is None or record.updated_at is None or changed > record.updated_at


def _intent_ref(record: BugRecord | None) -> str | None:
    """The ref of an unconfirmed earlier write of this bug: looked for, and reused."""
    return record.ref if record is not None and record.state == RecordState.INTENT else None


def _action(decision: Decision) -> str:
    parts = ["comment"]
    if decision.whiteboard is not None:
        parts.append("whiteboard")
    if decision.needinfo:
        parts.append(f"needinfo({len(decision.needinfo)})")
    return "+".join(parts)
