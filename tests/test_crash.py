"""Never twice, never lost: a crash harness for the write protocol.

Every bug in the watched component must end up with exactly one comment by the bot, whatever
happens to the process or the network on the way:

* in-process crashes: the poller runs against the loopback FaultyBugzilla and a SQLite file
  through wrappers that count every boundary (each store call, each search page, comments,
  each PUT) and "kill the process" at boundary k: from then on every effect raises `Crash`
  (a BaseException the poller does not catch), so nothing after the kill lands, not even the
  `finally` blocks' writes. A PUT killed "after" has landed on the server and its answer is
  lost. Then restart (new Client, Store and Poller on the same file, clock past the intent
  grace), poll until quiet, and count the bot's comments on every bug. Every k of a clean run
  is tried, for generated scenarios (page sizes 1 to 500, needinfo refusals, skip tags, bugs
  filed in the same second and while the bot was down); a third of them crash again during
  recovery, another third restart at once, while the intents are still within their grace.
  Requests go to the server in process (`FaultyBugzilla.mount`): a thousand polls stay fast;
* in-flight faults, over real sockets: the server drops the connection or answers an error
  before or after applying a PUT (a request that never landed, one whose answer was lost, an
  internal error after the commit), and the process carries on;
* real SIGKILL: `python -m triagebot --config CFG once --live` in a subprocess, killed by a
  server hook when the Nth request of a kind arrives, before or after applying it; then the
  bot is rebuilt from the same configuration and polls until quiet.

The tally (kill points, duplicates, missed) is printed in the test output, even under -q.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env
from sqlalchemy.util import LRUCache
from standin import DROP, FaultyBugzilla, RequestInfo

from triagebot.bugzilla.client import Client
from triagebot.core.bugstate import SKIP as SKIP_TAG
from triagebot.core.registry import Registry
from triagebot.demo import demo, devserver
from triagebot.files.config import load_config
from triagebot.files.rules import Rule, load_rules
from triagebot.service.poller import Poller, PollReport, PollSettings
from triagebot.service.run import build_bot, check_products, load_registry_strict
from triagebot.service.writer import BugzillaWriter
from triagebot.state.store import Store

ROOT = Path(__file__).resolve().parents[1]
KEY = "crash-harness-key-4f1c2a9d7e"
BOT = "triagebot@example.org"
PRODUCT = "Participation Infrastructure"
WATCHED = "Community IT"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)
OVERLAP = timedelta(minutes=10)
MAX_RECOVERY_POLLS = 6
SQL_CACHE = LRUCache(500)

# Reporters: current delegates, former ones, strangers, a look-alike of a delegate.
REPORTERS = (
    "lucia@example.org",
    "camille@example.org",
    "bastien@example.org",
    "kavin@example.org",
    "ingrid@example.org",
    "visitor@example.org",
    "newcomer@example.org",
    "lucіа@example.org",
)
SUMMARIES = (
    "Mailing list for Mozilla Hispano translators",
    "TLS certificate of mozfr.example.org expired",
    "Renew hosting for the Mozilla Tamil site",
    "Need a server for our group",
    "Shared event page for MozFr and Mozilla Hispano",
    "Nordic meetup wiki",
    "{{ 7*7 }} please",
)


# -- the tally, printed at the end of this module ----------------------------------------------
@dataclass
class Tally:
    crashes: int = 0  # in-process kill points fired
    second_crashes: int = 0  # crashes during a recovery poll
    in_flight: int = 0  # network faults around a PUT, process alive
    sigkills: int = 0  # real SIGKILLs of a `once --live` subprocess
    replica_runs: int = 0  # replica mode: databases shared by several processes
    replica_processes: int = 0
    lease_met: int = 0  # replica mode: processes that found the rule's lease held, exit 0
    scenarios: int = 0
    bug_checks: int = 0  # (scenario, bug) pairs checked
    duplicates: int = 0  # comments beyond the first, needinfo asked twice
    missed: int = 0  # bugs that should have a comment and have none
    unexpected: int = 0  # comments on bugs the rule does not cover

    @property
    def kill_points(self) -> int:
        return self.crashes + self.second_crashes + self.in_flight + self.sigkills

    def line(self) -> str:
        return (
            f"crash harness: {self.kill_points} kill points ({self.crashes} in-process crashes, "
            f"{self.second_crashes} second crashes during recovery, {self.in_flight} in-flight "
            f"PUT faults, {self.sigkills} real SIGKILLs) over {self.scenarios} runs, "
            f"replica mode: {self.replica_processes} processes on {self.replica_runs} shared "
            f"databases (SQLite, PostgreSQL, {self.lease_met} found the lease held), "
            f"{self.bug_checks} bug checks: duplicates = {self.duplicates}, "
            f"missed = {self.missed}, unexpected = {self.unexpected}"
        )


class Summary:
    """A plugin registered while the tests run: its lines go to the terminal summary, which
    pytest prints whatever the verbosity and output capture."""

    name = "triagebot-crash-tally"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    manager = request.config.pluginmanager
    summary = manager.get_plugin(Summary.name)
    if summary is None:
        summary = Summary()
        manager.register(summary, Summary.name)
    found = Tally()
    yield found
    summary.lines.append(found.line())


# -- shared data ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry_strict(ROOT / "data")


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return load_rules(ROOT / "rules")


class Clock:
    """One clock for the server (Date headers, hence the cursor), the store and the poller."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# -- crashing a process, in process ---------------------------------------------------------------
class Crash(BaseException):
    """The process died here. A BaseException: the poller catches Bugzilla errors only."""


class Killer:
    """Counts boundaries; at boundary `kill_at` the process dies, and stays dead: every later
    boundary raises again, so no effect (store commit, request) happens after the kill."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at = kill_at
        self.labels: list[str] = []
        self.fired: str | None = None

    def point(self, label: str) -> None:
        if self.fired is not None:
            raise Crash(f"dead since {self.fired}")
        number = len(self.labels)
        self.labels.append(label)
        if number == self.kill_at:
            self.fired = f"#{number} {label}"
            raise Crash(self.fired)


class KillableStore:
    """A Store whose every method is a boundary before and after (a committed write)."""

    def __init__(self, store: Store, killer: Killer) -> None:
        self._store = store
        self._killer = killer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self._killer.point(f"before store.{name}")
            result = attr(*args, **kwargs)
            self._killer.point(f"after store.{name}")
            return result

        return wrapped


class KillableClient:
    """A Client whose requests are boundaries: each search page (before it is asked for, and
    after it came back but before the poller handles it), the comments batch, and each PUT
    (killed before: the request never left; after: it landed and the answer is lost)."""

    def __init__(self, client: Client, killer: Killer) -> None:
        self._client = client
        self._killer = killer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def search_changed(self, *args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        pages = self._client.search_changed(*args, **kwargs)
        number = 0
        while True:
            self._killer.point(f"before search page {number}")
            try:
                page = next(pages)
            except StopIteration:
                return
            self._killer.point(f"after search page {number} (mid-page)")
            yield page
            number += 1

    def comments(self, *args: Any, **kwargs: Any) -> Any:
        self._killer.point("before comments")
        result = self._client.comments(*args, **kwargs)
        self._killer.point("after comments")
        return result

    def update(self, bug_id: int, **kwargs: Any) -> Any:
        self._killer.point(f"before PUT bug {bug_id} (never sent)")
        result = self._client.update(bug_id, **kwargs)
        self._killer.point(f"after PUT bug {bug_id} (landed, answer lost)")
        return result


# -- scenarios ------------------------------------------------------------------------------------
@dataclass
class Scenario:
    """A generated set of bugs on a fresh server, replayable from its snapshot."""

    seed: int
    fake: FaultyBugzilla
    db_dir: Path
    page_size: int
    expected: dict[int, bool] = field(default_factory=dict)  # bug -> should get one comment
    in_process: bool = True  # requests handed to the server in process (no socket)
    state: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    @property
    def start(self) -> datetime:
        return T0 - timedelta(hours=1)

    def settings(self) -> PollSettings:
        return PollSettings(
            max_actions=None,
            start=self.start,
            overlap=OVERLAP,
            page_size=self.page_size,
            intent_grace=GRACE,
            bot_login=BOT,
            lease_ttl=GRACE,  # a killed poller's lease has expired when the restart comes
        )


def make_scenario(
    seed: int, fake: FaultyBugzilla, registry: Registry, db_dir: Path, clock: Clock
) -> Scenario:
    """4-8 bugs: delegates, strangers and a look-alike, some filed in the same second, some
    skipped by tag or in another component; a few registry people have no Bugzilla account,
    so asking them for needinfo is refused (the bot retries without the flag)."""
    rng = random.Random(seed)
    clock.now = T0
    scenario = Scenario(seed, fake, db_dir, page_size=rng.choice((1, 2, 3, 500)))
    absent = set(rng.sample(sorted(registry.people), k=3))
    demo.add_accounts(fake, (p for p in registry.people.values() if p.handle not in absent))
    created = T0 - timedelta(minutes=30)
    for _ in range(rng.randint(4, 8)):
        created += timedelta(seconds=rng.choice((0, 0, 1, 45)))
        component = WATCHED if rng.random() > 0.15 else "General"
        whiteboard = SKIP_TAG if rng.random() < 0.15 else ""
        bug_id = fake.add_bug(
            rng.choice(SUMMARIES),
            rng.choice(SUMMARIES) + "\n\nMore details here.",
            rng.choice(REPORTERS),
            component=component,
            creation_time=created,
            whiteboard=whiteboard,
        )
        scenario.expected[bug_id] = component == WATCHED and not whiteboard
    scenario.state = fake.snapshot()
    return scenario


@dataclass
class Outcome:
    labels: list[str]
    fired: str | None
    second: str | None
    polls: int


def file_late_bug(scenario: Scenario) -> None:
    """A bug filed while the bot was down: it must not be lost either."""
    bug_id = scenario.fake.add_bug(
        "Filed while the bot was down", "Mozilla Hispano list, please.", "visitor@example.org"
    )
    scenario.expected[bug_id] = True


def run_poll(
    scenario: Scenario,
    registry: Registry,
    rules: list[Rule],
    clock: Clock,
    killer: Killer,
) -> list[PollReport] | None:
    """One process lifetime: fresh Client, Store and Poller on the scenario's SQLite file.
    Returns the reports, or None when the process was killed."""
    client = Client(scenario.fake.url, KEY, requests_per_minute=None, sleep=lambda _s: None)
    if scenario.in_process:
        scenario.fake.mount(client.session)
        client.session.trust_env = False  # no proxy settings to look up for every request
    store = Store(f"sqlite:///{scenario.db_dir / f'run{scenario.runs}.db'}", now=clock)
    # Every restart is a new engine with a cold SQL compilation cache; sharing one keeps a
    # thousand restarts fast and changes no statement.
    store.engine._compiled_cache = SQL_CACHE  # type: ignore[attr-defined]
    killable = KillableClient(client, killer)
    poller = Poller(
        killable,  # type: ignore[arg-type]
        KillableStore(store, killer),  # type: ignore[arg-type]
        lambda: registry,
        lambda: rules,
        scenario.settings(),
        BugzillaWriter(killable, markdown=False),  # type: ignore[arg-type]
        clock=clock,
    )
    try:
        return poller.poll()
    except Crash:
        return None
    finally:
        client.session.close()  # the OS closes a dead process's sockets
        store.close()


def play(
    scenario: Scenario,
    registry: Registry,
    rules: list[Rule],
    clock: Clock,
    kill_at: int | None,
    *,
    second_kill_at: int | None = None,
    restart_at_once: bool = False,
    fault: Callable[[RequestInfo], Any] | None = None,
) -> Outcome:
    """Restore the scenario, run one poll killed at boundary `kill_at` (or disturbed by the
    server hook `fault`), then restart and poll until quiet: the first recovery poll killed at
    `second_kill_at` if given, or made at once (an intent still within its grace: that bug
    must wait, and the cursor must not pass it) if `restart_at_once`. Leaves the server state
    for `check`."""
    fake = scenario.fake
    fake.restore(scenario.state)
    scenario.expected = {b: e for b, e in scenario.expected.items() if b in fake.bugs}
    scenario.runs += 1
    for old in scenario.db_dir.glob(f"run{scenario.runs}.db*"):
        old.unlink()
    clock.now = T0
    if fault is not None:
        fake.on_request(fault)
    first = Killer(kill_at)
    run_poll(scenario, registry, rules, clock, first)
    if fault is not None:
        fake.remove_hook(fault)
    file_late_bug(scenario)
    second_fired = None
    for number in range(MAX_RECOVERY_POLLS):
        at_once = restart_at_once and number == 0
        clock.advance(timedelta(seconds=1) if at_once else GRACE + timedelta(seconds=1))
        killer = Killer(second_kill_at if number == 0 else None)
        updates_before = fake.counts["update"]
        reports = run_poll(scenario, registry, rules, clock, killer)
        if killer.fired is not None:
            second_fired = killer.fired
            continue
        assert reports is not None
        if at_once:
            continue
        if fake.counts["update"] == updates_before and all(
            r.ok and r.busy is None for r in reports
        ):
            return Outcome(first.labels, first.fired, second_fired, number + 1)
    raise AssertionError(f"seed {scenario.seed}: not quiet after {MAX_RECOVERY_POLLS} polls")


def check(scenario: Scenario, tally: Tally, what: str, *, final: bool = True) -> None:
    """Exactly one bot comment on every covered bug, none elsewhere; nobody asked twice.
    Not `final`: only that nothing was posted twice (yet)."""
    scenario.fake.settle()  # a write still on its way counts
    problems = []
    for bug_id, expected in scenario.expected.items():
        bug = scenario.fake.bugs[bug_id]
        mine = sum(c["creator"] == BOT for c in bug["comments"])
        asked = Counter(
            f.get("requestee")
            for f in bug["flags"]
            if f["name"] == "needinfo" and f["setter"] == BOT
        )
        extra = max(mine - 1, 0) + sum(n - 1 for n in asked.values() if n > 1)
        if not final:
            if extra:
                problems.append(f"bug {bug_id}: {mine} comments, needinfo {dict(asked)}")
            continue
        tally.bug_checks += 1
        if expected and mine == 0:
            tally.missed += 1
            problems.append(f"bug {bug_id}: missed")
        elif not expected and mine:
            tally.unexpected += 1
            problems.append(f"bug {bug_id}: commented although not covered")
        if extra:
            tally.duplicates += extra
            problems.append(f"bug {bug_id}: {mine} comments, needinfo {dict(asked)}")
    tally.scenarios += final
    assert not problems, f"seed {scenario.seed}, {what}: {problems}"


@pytest.fixture
def db_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the harness's SQLite files go: in memory-backed /dev/shm when there is one (a
    thousand restarts each close a WAL database, which syncs on disk), else tmp_path."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="triagebot-crash-") as name:
        yield Path(name)


@pytest.fixture
def server() -> Iterator[tuple[FaultyBugzilla, Clock]]:
    clock = Clock(T0)
    with FaultyBugzilla(api_key=KEY, bot_login=BOT, clock=clock) as fake:
        yield fake, clock


# -- in-process crashes ---------------------------------------------------------------------------
# Page sizes 500, 3, 1 and 2 (see make_scenario).
SEEDS = (11, 23, 37, 53)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_crash_at_every_boundary_never_posts_twice_nor_loses_a_bug(
    seed, server, registry, rules, db_dir, tally
):
    fake, clock = server
    scenario = make_scenario(seed, fake, registry, db_dir, clock)
    clean = play(scenario, registry, rules, clock, None)
    check(scenario, tally, "clean run")
    assert clean.fired is None
    rng = random.Random(seed)
    for kill_at in range(len(clean.labels)):
        # For every third kill point a second crash during the first recovery poll; for
        # another third, a restart at once, before the intents are stale.
        second = rng.randrange(0, 40) if kill_at % 3 == 0 else None
        outcome = play(
            scenario,
            registry,
            rules,
            clock,
            kill_at,
            second_kill_at=second,
            restart_at_once=kill_at % 3 == 1,
        )
        assert outcome.fired is not None, kill_at
        tally.crashes += 1
        tally.second_crashes += outcome.second is not None
        check(scenario, tally, f"killed at {outcome.fired}, then at {outcome.second}")


# -- follow-up writes -----------------------------------------------------------------------------
ANSWERS = (
    # (summary, reporter, who answers, what, the follow-up kind expected)
    ("TLS certificate of mozfr.example.org expired", "visitor@example.org",
     "camille@example.org", "/endorse", "confirmation"),
    ("A wiki for Mozilla Hispano", "visitor@example.org",
     "visitor@example.org", "/endorse", "who-can-endorse"),
    ("Need a server for our group", "newcomer@example.org",
     "newcomer@example.org", "It is for Mozilla Hispano.", "retriage"),
    ("Domain renewal for mozhispano.example.org", "visitor@example.org",
     "mateo@example.org", "/decline We moved away from it.", "decline"),
)  # fmt: skip


def followup_kinds(fake: FaultyBugzilla, bug_id: int) -> Counter[str]:
    """The bot's comments on a bug by kind ("first" for the first comment)."""
    kinds: Counter[str] = Counter()
    for comment in fake.bugs[bug_id]["comments"]:
        if comment["creator"] == BOT:
            footer = comment["text"].rsplit("-- triagebot (rule community-it", 1)[-1]
            kinds[footer.split(";")[1].strip() if footer.count(";") == 2 else "first"] += 1
    return kinds


def test_a_crash_around_a_follow_up_write_never_posts_it_twice(
    server, registry, rules, db_dir, tally
):
    """Every boundary of a poll that writes follow-ups (a confirmation, a decline, a refusal
    answered, a re-triage) is a kill point; the restarted bot, with the same database or an
    empty one, ends with exactly one of each on the bugs."""
    fake, clock = server
    demo.add_accounts(fake, registry.people.values())
    bugs = [
        fake.add_bug(summary, "Please.", reporter, creation_time=T0 - timedelta(minutes=30))
        for summary, reporter, *_ in ANSWERS
    ]
    asked_db = db_dir / "asked.db"
    scenario = Scenario(0, fake, db_dir, page_size=2)

    def one_poll(db: Path, killer: Killer) -> list[PollReport] | None:
        client = Client(fake.url, KEY, requests_per_minute=None, sleep=lambda _s: None)
        fake.mount(client.session)
        client.session.trust_env = False
        store = Store(f"sqlite:///{db}", now=clock)
        store.engine._compiled_cache = SQL_CACHE  # type: ignore[attr-defined]
        killable = KillableClient(client, killer)
        poller = Poller(
            killable,  # type: ignore[arg-type]
            KillableStore(store, killer),  # type: ignore[arg-type]
            lambda: registry,
            lambda: rules,
            scenario.settings(),
            BugzillaWriter(killable, markdown=False),  # type: ignore[arg-type]
            clock=clock,
        )
        try:
            return poller.poll()
        except Crash:
            return None
        finally:
            client.session.close()
            store.close()

    clock.now = T0
    one_poll(asked_db, Killer())
    clock.advance(timedelta(minutes=5))
    for bug_id, (_, _, who, text, _) in zip(bugs, ANSWERS, strict=True):
        fake.add_comment(bug_id, text, who, when=clock.now)
    clock.advance(timedelta(minutes=5))
    state, answered_at = fake.snapshot(), clock.now

    def replay(kill_at: int | None, empty: bool) -> Killer:
        fake.restore(state)
        clock.now = answered_at
        db = db_dir / "followup.db"
        for old in db_dir.glob("followup.db*"):
            old.unlink()
        db.write_bytes(asked_db.read_bytes())
        killer = Killer(kill_at)
        one_poll(db, killer)
        if empty:
            for old in db_dir.glob("followup.db*"):
                old.unlink()
        for _ in range(MAX_RECOVERY_POLLS):
            clock.advance(GRACE + timedelta(seconds=1))
            updates = fake.counts["update"]
            reports = one_poll(db, Killer())
            assert reports is not None
            if fake.counts["update"] == updates and all(r.ok for r in reports):
                break
        else:
            raise AssertionError(f"not quiet after a kill at {killer.fired}")
        for bug_id, (*_, kind) in zip(bugs, ANSWERS, strict=True):
            found = followup_kinds(fake, bug_id)
            tally.bug_checks += 1
            extra = sum(n - 1 for n in found.values() if n > 1)
            tally.duplicates += extra
            tally.missed += found != Counter({"first": 1, kind: 1})
            assert found == Counter({"first": 1, kind: 1}), (killer.fired, empty, found)
        tally.scenarios += 1
        return killer

    clean = replay(None, empty=False)
    for kill_at in range(len(clean.labels)):
        killer = replay(kill_at, empty=kill_at % 2 == 1)
        assert killer.fired is not None
        tally.crashes += 1


# -- in-flight PUT faults, the process carrying on ------------------------------------------------
INTERNAL_ERROR = {
    "error": True,
    "code": 100500,
    "message": "Internal error (mail could not be sent)",
    "documentation": "https://bugzilla.readthedocs.org/en/5.0/api/",
}
# (phase, answer): before = nothing applied, after = the change landed.
FAULTS = {
    "dropped before it landed": ("before", DROP),
    "landed, connection dropped": ("after", DROP),
    "proxy 502 before it landed": ("before", (502, "<html>Bad gateway</html>")),
    "landed, then HTTP 500": ("after", (500, "<html>Internal Server Error</html>")),
    "landed, then internal error 100500 with HTTP 201": ("after", (201, INTERNAL_ERROR)),
}


def put_fault(which: int, phase: str, answer: Any) -> Callable[[RequestInfo], Any]:
    """Disturb the `which`-th PUT (0-based) at `phase`."""
    seen = Counter[str]()

    def hook(info: RequestInfo) -> Any:
        if info.kind != "update":
            return None
        if info.phase == "before":
            seen["update"] += 1
        if seen["update"] - 1 == which and info.phase == phase:
            return answer
        return None

    return hook


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_a_put_lost_on_the_way_or_on_the_way_back_is_never_repeated(
    seed, server, registry, rules, db_dir, tally
):
    fake, clock = server
    scenario = make_scenario(seed, fake, registry, db_dir, clock)
    scenario.in_process = False  # real sockets: urllib3 must not retry a PUT it sent
    play(scenario, registry, rules, clock, None)  # counts start from the snapshot's zero
    puts = fake.counts["update"] - 1  # the late bug's PUT comes in recovery
    assert puts >= 3
    for which in sorted({0, puts // 2, puts - 1}):  # the first, a middle and the last PUT
        for name, (phase, answer) in FAULTS.items():
            play(scenario, registry, rules, clock, None, fault=put_fault(which, phase, answer))
            tally.in_flight += 1
            check(scenario, tally, f"PUT #{which}: {name}")


# -- a bug leaving the results between two page requests ------------------------------------------
def test_a_bug_leaving_the_results_mid_paging_does_not_hide_the_next_one(
    server, registry, rules, tmp_path, tally
):
    fake, clock = server
    demo.add_accounts(fake, registry.people.values())
    scenario = Scenario(0, fake, tmp_path, page_size=2)
    for n in range(5):
        bug_id = fake.add_bug(
            f"Need a server {n}",
            "Details.",
            "visitor@example.org",
            creation_time=T0 - timedelta(minutes=30) + timedelta(seconds=n),
        )
        scenario.expected[bug_id] = True
    first = min(scenario.expected)
    scenario.state = fake.snapshot()
    moved = threading.Event()

    def triager_moves_the_first_bug(info: RequestInfo) -> None:
        if info.kind == "search" and info.phase == "after" and not moved.is_set():
            moved.set()
            fake.bugs[first]["component"] = "General"  # after it was read on page 1
            fake._changed()

    play(scenario, registry, rules, clock, None, fault=triager_moves_the_first_bug)
    check(scenario, Tally(), "a bug moved out between two pages")  # not in the tally: known


# -- real SIGKILL of `triagebot once --live` ------------------------------------------------------
@dataclass
class KillCase:
    kind: str  # request kind: search, comments, update
    occurrence: int  # 0-based among the requests of that kind
    # before: the request is not applied; after: it landed, the answer is lost; landing: it
    # lands a moment after the process died (the server was still working on it)
    phase: str
    rerun_at_once: bool = False  # restart the CLI immediately, within the intent grace
    fake: FaultyBugzilla | None = None
    workdir: Path | None = None
    expected: dict[int, bool] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    seen: int = -1
    fired: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)

    def hook(self, info: RequestInfo) -> Any:
        if info.kind != self.kind:
            return None
        if info.phase == "before":
            self.seen += 1
        when = "before" if self.phase == "landing" else self.phase
        if self.seen != self.occurrence or info.phase != when:
            return None
        if self.fired.is_set() or not self.ready.wait(10):
            return None
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)  # it is waiting for this answer: it dies first
        self.fired.set()
        if self.phase == "landing":
            time.sleep(1.0)  # then it lands: the server was still working on it
            return None
        return DROP

    def __str__(self) -> str:
        return f"SIGKILL at {self.kind} #{self.occurrence} {self.phase}"


def seed_for_cli(fake: FaultyBugzilla, registry: Registry, now: datetime) -> dict[int, bool]:
    """Seven bugs for the subprocess runs (real clock: the CLI uses the wall clock)."""
    # needinfo to mateo is refused: a second PUT
    demo.add_accounts(fake, (p for p in registry.people.values() if p.handle != "mateo"))
    expected = {}
    bugs = (
        ("Mailing list for Mozilla Hispano translators", "lucia@example.org", ""),
        ("Renew hosting for the Mozilla Tamil site", "kavin@example.org", ""),
        ("Need a server for our group", "newcomer@example.org", ""),
        ("Mozilla Hispano: a new repository", "visitor@example.org", ""),
        ("Migrate the wiki", "visitor@example.org", SKIP_TAG),
        ("Shared page for MozFr and Mozilla Hispano", "visitor@example.org", ""),
        ("TLS certificate of mozfr.example.org expired", "camille@example.org", ""),
    )
    for n, (summary, creator, whiteboard) in enumerate(bugs):
        bug_id = fake.add_bug(
            summary,
            summary + "\n\nDetails.",
            creator,
            creation_time=now - timedelta(minutes=30) + timedelta(seconds=n // 2),
            whiteboard=whiteboard,
        )
        expected[bug_id] = not whiteboard
    return expected


def write_cli_config(workdir: Path, url: str, start: datetime) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    return devserver.write_config(
        workdir,
        url,
        api_key=KEY,
        bot_login=BOT,
        data=ROOT / "data",
        rules=ROOT / "rules",
        start=start,
        page_size=3,
        max_actions_per_run=100,
    )


def launch(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "triagebot", "--config", str(config), "once", "--live"],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def recover_until_quiet(config: Path, fake: FaultyBugzilla) -> int:
    """Restart: the bot rebuilt from the same configuration (as `once --live` builds it), its
    clock and its store's past the intent grace and the poll lease (a killed process's lease
    must expire first), polling until a poll writes nothing. Returns the polls."""
    return recover_after(config, fake, load_config(config).database.url)


def reference_kinds(registry: Registry, tmp: Path) -> Counter[str]:
    """How many requests of each kind a clean `once --live` makes, from the same bot built in
    process (the kill cases are chosen from it)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with FaultyBugzilla(api_key=KEY, bot_login=BOT) as fake:
        seed_for_cli(fake, registry, now)
        config = write_cli_config(tmp / "reference", fake.url, now - timedelta(hours=1))
        bot = build_bot(load_config(config), live=True)
        try:
            check_products(bot)
            (report,) = bot.poller.poll()
        finally:
            bot.client.session.close()
            bot.store.close()
        assert report.ok, report
        return Counter(fake.counts)


# (kind, occurrence, phase, restart the CLI at once): the clean run makes version, product,
# then search+comments per page (3 pages), then 7 PUTs: the 4th is refused (needinfo to a
# user Bugzilla does not know) and the 5th is its retry without the flag.
KILLS = (
    # first of its batch: without `settle`, its recovery would read bug 2 before this lands
    ("update", 1, "landing", False),  # the second PUT lands after its process died
    ("search", 0, "before", False),  # nothing read, nothing recorded
    ("comments", 1, "after", False),  # mid-gather: page 1 handled, page 2 read
    ("update", 0, "before", False),  # every intent committed, nothing posted
    ("update", 0, "after", True),  # the first comment landed, its answer lost
    ("update", 2, "after", False),
    ("update", 3, "after", False),  # the refused PUT: nothing landed
    ("update", 4, "before", False),  # its retry without needinfo never sent
    ("update", 4, "after", False),
    ("update", 6, "after", False),  # the last comment landed, nothing marked done
    ("search", 2, "after", False),  # the last page read
)


def test_sigkill_of_the_real_cli_at_request_boundaries(registry, tmp_path, tally):
    kinds = reference_kinds(registry, tmp_path)
    assert kinds["update"] == 7 and kinds["search"] == 3 and kinds["comments"] == 3, kinds
    cases = [KillCase(kind, n, phase, rerun) for kind, n, phase, rerun in KILLS]
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        for batch_start in range(0, len(cases), 5):  # five processes at a time
            batch = cases[batch_start : batch_start + 5]
            for number, case in enumerate(batch, start=batch_start):
                case.fake = FaultyBugzilla(api_key=KEY, bot_login=BOT)
                case.fake.start()
                case.expected = seed_for_cli(case.fake, registry, now)
                case.workdir = tmp_path / f"kill{number}"
                config = write_cli_config(case.workdir, case.fake.url, now - timedelta(hours=1))
                case.fake.on_request(case.hook)
                case.proc = launch(config)
                case.ready.set()
            for case in batch:
                run_kill_case(case, tally)
    finally:
        for case in cases:
            if case.proc is not None and case.proc.poll() is None:
                case.proc.kill()  # only after a failure: each case's hook kills its own
                case.proc.wait()
            if case.fake is not None:
                case.fake.stop()


def run_kill_case(case: KillCase, tally: Tally) -> None:
    assert case.proc is not None and case.fake is not None and case.workdir is not None
    out, err = case.proc.communicate(timeout=60)
    assert case.proc.returncode == -signal.SIGKILL, f"{case}: {out}\n{err}"
    assert case.fired.is_set()
    tally.sigkills += 1
    config = case.workdir / "triagebot.toml"
    scenario = Scenario(0, case.fake, case.workdir, page_size=3, expected=case.expected)
    if case.rerun_at_once:
        # Restarted at once: the dead process's lease is free at once (same host, its pid
        # gone), so the new one polls; the writes it left in doubt wait out their grace (a
        # PUT may still be landing) and are to retry (exit 1): nothing is posted twice.
        again = launch(config)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 1, f"{case}: {out}\n{err}"
        assert "another poll" not in out, out
        assert "waiting: an earlier write may still land" in out, out
        check(scenario, tally, f"{case}, restarted at once", final=False)
    recover_until_quiet(config, case.fake)
    check(scenario, tally, str(case))


# -- replica mode: several processes on one database --------------------------------------------
REPLICA_ROUNDS = 4
REPLICAS = 3


def slow_and_lossy_writes(fake: FaultyBugzilla, on: threading.Event, every: int = 3) -> None:
    """While `on`: every PUT takes a while (the replicas overlap), and every `every`-th one
    lands but its answer is lost (the connection closes): the writer cannot know it landed."""
    seen = Counter[str]()

    def hook(info: RequestInfo) -> Any:
        if info.kind != "update" or not on.is_set():
            return None
        if info.phase == "before":
            seen["update"] += 1
            time.sleep(0.15)
            return None
        return DROP if seen["update"] % every == 0 else None

    fake.on_request(hook)


def replica_config(workdir: Path, url: str, start: datetime, database_url: str) -> Path:
    config = write_cli_config(workdir, url, start)
    text = config.read_text(encoding="utf-8")
    lines = [
        f'url = "{database_url}"' if line.startswith('url = "sqlite') else line
        for line in text.splitlines()
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def recover_after(config: Path, fake: FaultyBugzilla, database_url: str) -> int:
    """What an operator's next poll does once a killed replica's lease has expired: the bot
    rebuilt from the configuration, its clock and its store's past the lease and the intent
    grace, polling until quiet."""
    fake.settle()  # what the grace is for: a write of a killed process still on its way lands
    bot = build_bot(load_config(config), live=True)
    later = max(bot.poller.settings.lease_ttl, bot.poller.settings.intent_grace)
    shifted = lambda: datetime.now(UTC) + later + timedelta(seconds=1)  # noqa: E731
    bot.store.close()
    bot.store = bot.poller.store = Store(database_url, now=shifted)
    bot.poller.clock = shifted
    try:
        check_products(bot)
        for number in range(1, MAX_RECOVERY_POLLS + 1):
            updates = fake.counts["update"]
            reports = bot.poller.poll()
            if fake.counts["update"] == updates and all(r.ok and r.busy is None for r in reports):
                return number
    finally:
        bot.client.session.close()
        bot.store.close()
    raise AssertionError(f"{config}: not quiet after {MAX_RECOVERY_POLLS} polls")


def test_replicas_on_one_database_never_post_twice_nor_miss_a_bug(
    registry, tmp_path, tally, database_url
):
    """Replica mode: rounds of REPLICAS `once --live` processes started together on one
    database (a SQLite file; a PostgreSQL server), writes slowed and every third answer lost,
    one process SIGKILLed at a random moment of each round, bugs filed between rounds; the
    lease lets one poll at a time (the others say so and exit 0), and after the last round
    every bug has exactly one comment."""
    rng = random.Random(12)
    now = datetime.now(UTC).replace(microsecond=0)
    busy = 0
    with FaultyBugzilla(api_key=KEY, bot_login=BOT) as fake:
        expected = seed_for_cli(fake, registry, now)
        faults = threading.Event()
        slow_and_lossy_writes(fake, faults)
        config = replica_config(
            tmp_path / "replicas", fake.url, now - timedelta(hours=1), database_url
        )
        for round_number in range(REPLICA_ROUNDS):
            faults.set()
            procs = [launch(config) for _ in range(REPLICAS)]
            victim = rng.choice(procs)
            time.sleep(rng.uniform(0.8, 2.5))
            if victim.poll() is None:
                victim.kill()
                tally.sigkills += 1
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                if proc is not victim:
                    assert proc.returncode in (0, 1), f"{out}\n{err}"
                busy += out.count("another poll of rule community-it is running on ")
            tally.replica_processes += len(procs)
            # between rounds: a bug filed, and the killed replica's lease waited out
            bug = fake.add_bug(
                f"Round {round_number}: Mozilla Hispano list, please",
                "Details.",
                "visitor@example.org",
            )
            expected[bug] = True
            faults.clear()  # the network is fine again when the operator's next poll runs
            recover_after(config, fake, database_url)
            check(
                Scenario(round_number, fake, tmp_path, page_size=3, expected=expected),
                tally,
                f"replica round {round_number} on {database_url.split(':')[0]}",
            )
        tally.replica_runs += 1
    tally.lease_met += busy  # how often a replica found the lease held (timing-dependent)
