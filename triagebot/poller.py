"""One poll: search new bugs, decide, write — the imperative shell around `triage.decide`.

The order of effects is what makes the bot safe on a live tracker:

1. read every page of new bugs (one search request per page) and, for the bugs not already
   handled, their comments (one batched request per page): descriptions, and the bot's own
   earlier comments for reconciling a write that a crash left unconfirmed;
2. decide every bug (pure); if more bugs would be acted on than the cap allows, act on none;
3. for each chunk: record the intents (with a unique ref that goes in the comment's footer),
   then one PUT per bug, then record it done;
4. move the cursor, but never past a bug that is not finished.

A crash anywhere leaves either no intent (nothing was written), or an intent whose ref the next
poll looks for in the bug's comments before writing again: never a second comment.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from triagebot.bugs import Bug, Comment, Decision
from triagebot.bugzilla import BugzillaError, Client
from triagebot.registry import Registry
from triagebot.rules import Rule
from triagebot.store import BugRecord, Intent, Seen, Store, StoreConflict
from triagebot.triage import decide

log = logging.getLogger(__name__)

# Bugzilla rejects the whole PUT for a bad requestee (nothing lands), and the bot then retries
# once without the needinfo flags. 51 is "no such user". 32000 is the code of every user error
# without a number of its own: a requestee who cannot see the bug, is disabled or refuses
# needinfo (messages that name the requestee), but also bugzilla.mozilla.org's rate limit and
# a malformed request, which have nothing to do with the flags.
NO_SUCH_USER = 51
UNNUMBERED_USER_ERROR = 32000
# Codes from 100000 up are Bugzilla's internal errors, which can come after the change was
# committed (mail is sent after the commit); they may arrive with HTTP 200 or 201.
INTERNAL_ERRORS_FROM = 100000
WRITE_CHUNK = 200
# A bug to write on, its decision, and the ref of an earlier unconfirmed write (reused).
ToDo = tuple[Bug, Decision, str | None]


@dataclass
class BugResult:
    """What happened to one bug in one poll, for the per-bug output line."""

    bug: Bug
    decision: Decision | None
    action: (
        str  # commented | would-comment | skipped | already-done | reconciled | pending | failed
    )
    error: str | None = None
    ref: str | None = None  # of the write: with the decision, it gives the exact comment
    needinfo: tuple[str, ...] = ()
    comment_id: int | None = None  # when known (found again by reconciliation)

    @property
    def comment(self) -> str | None:
        """The exact text posted (or that would be posted). Computed, not kept: a poll holds
        every result until it reports, and a backlog's comments would be held twice."""
        if self.ref is None or self.decision is None or not self.decision.acts:
            return None
        return self.decision.comment_text(self.ref)


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
    # Bugs the search found again (the overlap window) that an earlier poll handled: they get
    # no result line and cost no request, but they were created since `since` all the same.
    handled_before: int = 0

    @property
    def failed(self) -> list[BugResult]:
        return [r for r in self.results if r.action in ("failed", "pending")]

    @property
    def ok(self) -> bool:
        return self.error is None and self.capped is None and not self.failed


@dataclass
class PollSettings:
    live: bool
    max_actions: int | None  # None: no cap
    start: datetime
    overlap: timedelta
    page_size: int = 500
    intent_grace: timedelta = timedelta(seconds=60)  # a write may still land this long after
    bot_login: str | None = None
    markdown: bool = False  # comments in Markdown, sent with is_markdown (markup.py)


class Poller:
    """Runs polls for every rule against one client, store and (reloadable) registry."""

    def __init__(
        self,
        client: Client,
        store: Store,
        registry: Callable[[], Registry],
        rules: Callable[[], list[Rule]],
        settings: PollSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_ref: Callable[[], str] = lambda: uuid.uuid4().hex[:16],
    ) -> None:
        self.client = client
        self.store = store
        self.registry = registry
        self.rules = rules
        self.settings = settings
        self.clock = clock
        self.new_ref = new_ref
        self._blocked: BugzillaError | None = None  # a 429 in this poll's writes
        # The reports of the poll under way, filled as it goes: a Ctrl-C still has them.
        self.reports: list[PollReport] = []
        # Told (done, total) after each write of a poll: the terminal's progress line.
        self.progress: Callable[[int, int], None] | None = None
        self._written = 0

    def poll(self) -> list[PollReport]:
        self.reports = []
        return [self.poll_rule(rule) for rule in self.rules()]

    def poll_rule(self, rule: Rule) -> PollReport:
        live = self.settings.live
        cursor = self.store.get_cursor(rule.name)
        since = self.settings.start
        if cursor is not None:
            since = max(since, cursor - self.settings.overlap)
        report = PollReport(rule.name, since, live)
        self.reports.append(report)  # what an interrupted poll had done, for its message
        before = sum(self.client.requests_made.values())
        poll_id = self.store.start_poll(rule.name, dry_run=not live) if live else None
        try:
            searched_at, todo = self._gather(rule, since, report)
            self._act(rule, todo, report)
            if live and report.capped is None:
                self._advance_cursor(rule, searched_at, report)
        except BugzillaError as exc:
            report.error = str(exc)
            report.error_code = exc.code
            log.error("poll of rule %s failed, cursor left where it was: %s", rule.name, exc)
        report.requests = sum(self.client.requests_made.values()) - before
        if poll_id is not None:
            self.store.finish_poll(
                poll_id,
                searched=len(report.results),
                acted=sum(r.action == "commented" for r in report.results),
                failed=len(report.failed),
                skipped=sum(r.action == "skipped" for r in report.results),
                error=report.error or (f"action cap: {report.capped}" if report.capped else None),
            )
        return report

    # -- reading and deciding ------------------------------------------------------------
    def _gather(
        self, rule: Rule, since: datetime, report: PollReport
    ) -> tuple[datetime, list[ToDo]]:
        """Every page of new bugs, decided. Returns the server time of the first search and
        the decisions that need a write, each with the ref of an earlier unconfirmed intent."""
        registry = self.registry()
        now = self.clock()
        searched_at: datetime | None = None
        todo: list[ToDo] = []
        seen = set()
        for page in self.client.search_new(
            rule.product, list(rule.components), since, page_size=self.settings.page_size
        ):
            if searched_at is None:
                searched_at = self.client.last_response_date() or now
            page = [b for b in page if b.id not in seen and b.creation_time >= self.settings.start]
            seen.update(b.id for b in page)
            records = self.store.records(rule.name, [b.id for b in page])
            fresh: list[Bug] = []
            for bug in page:
                record = records.get(bug.id)
                if record is not None and record.state in ("done", "seen"):
                    report.handled_before += 1  # the overlap window finds it again
                    continue
                if (
                    record is not None
                    and record.state == "intent"
                    and record.intent_at is not None
                    and now - record.intent_at < self.settings.intent_grace
                ):
                    report.results.append(
                        BugResult(bug, None, "pending", "an earlier write may still land")
                    )
                    continue
                fresh.append(bug)
            if not fresh:
                continue
            comments = self.client.comments([b.id for b in fresh])
            seen_items: list[Seen] = []
            reconciled: dict[int, int | None] = {}  # bug -> the id of the comment found
            for bug in fresh:
                result, decision = self._decide_one(rule, registry, bug, comments, records)
                if decision is not None and decision.acts:
                    earlier = records.get(bug.id)
                    ref = earlier.ref if earlier is not None and earlier.state == "intent" else None
                    todo.append((result.bug, decision, ref))
                    continue
                report.results.append(result)
                if result.action == "reconciled":
                    reconciled[bug.id] = result.comment_id
                elif result.action == "skipped" and decision is not None:
                    seen_items.append(Seen(bug.id, decision.outcome, decision.community, "none"))
            if self.settings.live:  # one statement per page, not one per bug
                if seen_items:
                    self.store.mark_seen(rule.name, seen_items)
                    checked = [i for i in seen_items if _is_intent(records.get(i.bug_id))]
                    if checked:  # comments read, ref absent, and no write needed any more
                        self.store.close_intents(rule.name, checked)
                if reconciled:
                    ids = {b: c for b, c in reconciled.items() if c is not None}
                    self.store.finish_writes(rule.name, list(reconciled), comment_ids=ids)
        return searched_at or now, todo

    def _decide_one(
        self,
        rule: Rule,
        registry: Registry,
        bug: Bug,
        comments: dict[int, list[Comment]],
        records: dict[int, BugRecord],
    ) -> tuple[BugResult, Decision | None]:
        if bug.id not in comments:
            error = "comments not readable (bug not visible?)"
            return BugResult(bug, None, "failed", error), None
        bug_comments = comments[bug.id]
        description = next((c.text for c in bug_comments if c.count == 0), "")
        bug = replace(bug, description=description)
        record = records.get(bug.id)
        if record is not None and record.state == "intent" and record.ref:
            own = self._own_comment(bug_comments, record.ref)
            if own is not None:
                found = replace(bug, description="")
                return BugResult(found, None, "reconciled", comment_id=own.id), None
        decision = decide(bug, registry, rule, self.clock(), markdown=self.settings.markdown)
        action = "would-comment" if decision.acts else "skipped"
        # Decided: nothing later reads the description, and a poll holds every bug it found
        # until it has acted (the action cap counts them first), so do not hold their text.
        return BugResult(replace(bug, description=""), decision, action), decision

    def _own_comment(self, comments: list[Comment], ref: str) -> Comment | None:
        """The bot's comment carrying this write's ref in its footer, if it landed. A pasted
        footer from another bug has another ref; when the bot's login is known the author must
        match too."""
        marker = f"; ref {ref})"
        login = (self.settings.bot_login or "").lower()
        return next(
            (c for c in comments if marker in c.text and (not login or c.creator.lower() == login)),
            None,
        )

    # -- writing -------------------------------------------------------------------------
    def _act(self, rule: Rule, todo: list[ToDo], report: PollReport) -> None:
        cap = self.settings.max_actions
        if cap is not None and len(todo) > cap:
            report.capped = len(todo)
            log.warning(
                "rule %s would act on %d bugs, more than max_actions_per_run=%d: acting on none",
                rule.name,
                len(todo),
                cap,
            )
            if self.settings.live:
                for bug, decision, _ in todo:
                    report.results.append(BugResult(bug, decision, "capped"))
                return
            # A dry run still shows every comment: it is what the operator reads before
            # deciding on --no-limit. The report says a live run would refuse.
        if not self.settings.live:
            for bug, decision, _ in todo:
                report.results.append(
                    BugResult(bug, decision, "would-comment", None, "dry-run", decision.needinfo)
                )
            return
        self._blocked = None
        self._written = 0
        for start in range(0, len(todo), WRITE_CHUNK):
            self._write_chunk(rule, todo[start : start + WRITE_CHUNK], report, todo)

    def _write_chunk(
        self, rule: Rule, chunk: list[ToDo], report: PollReport, todo: list[ToDo]
    ) -> None:
        refs = {bug.id: earlier or self.new_ref() for bug, _, earlier in chunk}
        intents = [
            Intent(bug.id, refs[bug.id], d.outcome, d.community, _action(d), d.needinfo)
            for bug, d, _ in chunk
        ]
        try:
            self.store.begin_writes(rule.name, intents)
        except StoreConflict as exc:
            # Another replica claimed some of these bugs since we read their records: write
            # none of this chunk; the next poll sees the real state.
            log.warning("rule %s: %s; leaving this chunk to the next poll", rule.name, exc)
            for bug, decision, _ in chunk:
                report.results.append(BugResult(bug, decision, "pending", "claimed elsewhere"))
            return
        done: list[int] = []
        not_asked: dict[int, tuple[str, ...]] = {}
        try:
            for bug, decision, _ in chunk:
                if self._blocked is not None:
                    report.results.append(self._not_sent(rule, bug, decision, refs[bug.id]))
                    continue
                result = self._write_one(rule, bug, decision, refs[bug.id])
                report.results.append(result)
                self._written += 1
                if self.progress is not None:
                    self.progress(self._written, len(todo))
                if result.action == "commented":
                    done.append(bug.id)
                    if result.needinfo != decision.needinfo:  # refused by Bugzilla
                        not_asked[bug.id] = tuple(
                            n for n in decision.needinfo if n not in result.needinfo
                        )
        finally:
            if done:
                self.store.finish_writes(rule.name, done, not_asked=not_asked)

    def _write_one(self, rule: Rule, bug: Bug, decision: Decision, ref: str) -> BugResult:
        text = decision.comment_text(ref)
        needinfo = list(decision.needinfo)
        while True:
            try:
                self.client.update(
                    bug.id,
                    comment=text,
                    whiteboard=decision.whiteboard,
                    needinfo=needinfo,
                    markdown=decision.markdown,
                )
                return BugResult(bug, decision, "commented", None, ref, tuple(needinfo))
            except BugzillaError as exc:
                if _requestee_rejected(exc, needinfo):
                    # The whole PUT was rejected, comment included: nothing landed. Annotate
                    # without the flags rather than not at all, and say so.
                    log.warning(
                        "bug %d: Bugzilla rejected the needinfo for %s (%s); "
                        "posting without needinfo",
                        bug.id,
                        ", ".join(needinfo),
                        exc,
                    )
                    needinfo = []
                    continue
                landed = _may_have_landed(exc)
                self.store.mark_failed(rule.name, bug.id, str(exc), write_may_have_landed=landed)
                log.error("bug %d: write failed, will retry next poll: %s", bug.id, exc)
                if exc.http_status == 429:
                    # bugzilla.mozilla.org's block: every request restarts it, so the other
                    # writes wait for the next poll instead of extending it.
                    self._blocked = exc
                    log.error("Bugzilla answered 429: no more writes in this poll")
                return BugResult(bug, decision, "failed", str(exc), ref)

    def _not_sent(self, rule: Rule, bug: Bug, decision: Decision, ref: str) -> BugResult:
        """A write skipped after a 429: nothing was sent, so the next poll writes it afresh."""
        error = f"not sent, Bugzilla is refusing requests ({self._blocked})"
        self.store.mark_failed(rule.name, bug.id, error, write_may_have_landed=False)
        return BugResult(bug, decision, "failed", error, ref)

    def _advance_cursor(self, rule: Rule, searched_at: datetime, report: PollReport) -> None:
        """The next poll starts at the search's server time, or at the oldest unfinished bug."""
        unfinished = [r.bug.creation_time for r in report.failed]
        self.store.set_cursor(rule.name, min([searched_at, *unfinished]))


def _requestee_rejected(exc: BugzillaError, needinfo: list[str]) -> bool:
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
    HTTP 5xx or an internal error may come after the commit: the next poll then looks for the
    write's ref before writing again. A 429 was refused before anything was looked at."""
    if exc.http_status == 429:
        return False
    if exc.code is None or exc.code < 0 or exc.code >= INTERNAL_ERRORS_FROM:
        return True
    return exc.http_status is not None and exc.http_status >= 500


def _is_intent(record: BugRecord | None) -> bool:
    return record is not None and record.state == "intent"


def _action(decision: Decision) -> str:
    parts = ["comment"]
    if decision.whiteboard is not None:
        parts.append("whiteboard")
    if decision.needinfo:
        parts.append(f"needinfo({len(decision.needinfo)})")
    return "+".join(parts)
