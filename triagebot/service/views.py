"""What `queue`, `status` and `explain` show, as data: each reads what the poll reads and
says what the poll says, so the views in `commands` only format it.

`queue` asks Bugzilla; `status` reads the database, and neither creates one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from triagebot.core import awaiting
from triagebot.core.bugs import Bug, Comment, Decision, Put
from triagebot.core.bugstate import AWAITING, may_turn_stale, own_comment
from triagebot.files.config import Config, ConfigError
from triagebot.files.rules import load_rules
from triagebot.service.run import Bot, load_registry_strict, make_client
from triagebot.state.store import BugRecord, Poll, RecordState, ReloadProblems, Store


def queue(config: Config, now: datetime | None = None) -> list[awaiting.Entry]:
    """The bugs awaiting endorsement under every rule, read from Bugzilla: one search per
    page, and one batched comments request per page holding a bug old enough to have turned
    stale (the age of the bot's ask decides, as for the bot's own sweep)."""
    now = now or datetime.now(UTC)
    registry = load_registry_strict(config.registry.path)
    client = make_client(config)
    rows: list[awaiting.Entry] = []
    for rule in load_rules(config.rules.path):
        for page in client.search_tagged(rule.product, list(rule.components), AWAITING):
            old = [b.id for b in page if may_turn_stale(b, rule, now)]
            comments: dict[int, list[Comment]] = client.comments(old) if old else {}
            rows += awaiting.entries(
                page, comments, registry, rule, now, config.bugzilla.bot_login, client.url
            )
    return rows


@dataclass(frozen=True, slots=True)
class RuleExplained:
    """One watching rule's view of a bug: what the next poll writes (`put`, exactly, but for
    the footer's ref) and what the bot posted before."""

    rule: str
    decision: Decision  # outcome and reason: the poll's, else its decision at first sight
    record: BugRecord | None
    start: datetime
    before_start: bool  # the bug was created before the rule's start
    action: str | None  # what the next poll does (would-comment, skipped...); None: nothing
    put: Put | None
    posted: Comment | None  # the bot's own comment under this rule, read back from Bugzilla


@dataclass(frozen=True, slots=True)
class Explained:
    bug: Bug
    rules: list[RuleExplained]


def explain(bot: Bot, bug_id: int) -> Explained | None:
    """The bug as the next poll sees it under each rule that watches it, with a dry run's
    poller: the poll's own read, reconcile, decide and write steps, written nowhere. Reads
    the bug and its comments (two requests; a bug created before `start` with no record
    costs its history too). None: no such bug, or not visible to this account."""
    bug = bot.client.get_bug(bug_id)
    if bug is None:
        return None
    comments = bot.client.comments([bug_id]).get(bug_id, [])
    login = bot.poller.settings.bot_login
    rules: list[RuleExplained] = []
    for rule in bot.rules.current():
        if not rule.watches(bug.product, bug.component):
            continue
        preview = bot.poller.explain(rule, bug, comments)
        result = preview.result
        ref = preview.record.ref if preview.record is not None else None
        start = bot.poller.start_for(rule)
        rules.append(
            RuleExplained(
                rule.name,
                preview.decision,
                preview.record,
                start,
                bug.creation_time < start,
                result.action if result is not None else None,
                result.put if result is not None else None,
                own_comment(comments, rule.name, login, ref),
            )
        )
    return Explained(bug, rules)


@dataclass(frozen=True, slots=True)
class Status:
    """What `status` shows: the database as the polls left it (each poll with the counts it
    printed), and the problems of the files a bot would load."""

    state: bool  # False: no database yet (none is created to say so)
    polls: list[Poll]  # newest first
    outcomes: dict[str, int]
    awaiting: int
    unconfirmed: list[BugRecord]
    failed: list[BugRecord]
    gave_up: list[BugRecord]
    running_bot_problems: list[ReloadProblems]
    file_problems: list[str]

    @classmethod
    def read(cls, store: Store | None, file_problems: list[str]) -> Status:
        if store is None:
            return cls(False, [], {}, 0, [], [], [], [], file_problems)
        return cls(
            True,
            store.recent_polls(10),
            dict(sorted(store.outcome_counts().items())),
            len(store.awaiting()),
            store.records_in(RecordState.INTENT),
            store.records_in(RecordState.FAILED),
            store.records_in(RecordState.GAVE_UP),
            store.reload_problems(),
            file_problems,
        )

    @property
    def ok(self) -> bool:
        return not self.file_problems and not any(r.problems for r in self.running_bot_problems)


def status(config: Config) -> Status:
    """From the database only, no request to Bugzilla; a SQLite database that does not exist
    is not created (nor its WAL files): there is no state yet."""
    problems: list[str] = []
    try:
        load_registry_strict(config.registry.path)
    except ConfigError as exc:
        problems.extend(str(p) for p in exc.problems)
    try:
        load_rules(config.rules.path)  # its RulesError is a ConfigError
    except ConfigError as exc:
        problems.extend(str(p) for p in exc.problems)
    if not has_state(config.database.url):
        return Status.read(None, problems)
    with Store(config.database.url) as store:
        return Status.read(store, problems)


def has_state(url: str) -> bool:
    """Is there a database to read? Not a SQLite file that does not exist: a command that
    only reads must not create one. Other databases are created by their administrator."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return True
    name = parsed.database or ""
    return name not in ("", ":memory:") and Path(name).is_file()
