"""The service: fetching one bug for `explain`, and `run` — the first poll at start, one poll
at a time, registry and rules re-read when they change (broken ones reported to `status`),
a clean stop on SIGTERM, and start-up errors that exit 2."""

from __future__ import annotations

import contextlib
import itertools
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from conftest import cli_env, edit, wait_for

from triagebot.commands.cli import main
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla
from triagebot.files.config import Config, load_config
from triagebot.files.rules import Rule
from triagebot.service.poller import PollReport
from triagebot.service.run import Bot, build_bot, run_forever
from triagebot.service.watch import Reloader
from triagebot.state.store import Store

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_MINUTES = 0.003  # 0.18 s


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)


@pytest.fixture
def config_path(fake: FakeBugzilla, base: Path, tmp_path: Path) -> Path:
    workdir = tmp_path / "bot"
    workdir.mkdir()
    assert fake.url is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    path = demo.write_config(workdir, fake.url, base, start)
    edit(path, "[poll]\n", f"[poll]\ninterval_minutes = {INTERVAL_MINUTES}\n")
    return path


# -- run_forever with a stand-in poller ---------------------------------------------------------
class SlowPoller:
    """Records when each poll ran and how many ran at once."""

    def __init__(
        self,
        seconds: float,
        fail_first: bool = False,
        stop_in: tuple[int, threading.Event] | None = None,
    ) -> None:
        self.seconds = seconds
        self.fail_first = fail_first
        self.stop_in = stop_in  # (n, stop): set `stop` during the n-th poll, as SIGTERM would
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.polls: list[tuple[float, float]] = []

    def poll_rule(self, rule: Rule) -> PollReport:
        started = time.monotonic()
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            if self.stop_in is not None and len(self.polls) + 1 == self.stop_in[0]:
                self.stop_in[1].set()
        try:
            time.sleep(self.seconds)
            if self.fail_first and not self.polls:
                raise RuntimeError("first poll breaks")
            return PollReport(rule.name, datetime.now(UTC), live=False)
        finally:
            with self.lock:
                self.active -= 1
                self.polls.append((started, time.monotonic()))


def stand_in_bot(tmp_path: Path, poller: SlowPoller, interval: float = INTERVAL_MINUTES) -> Bot:
    marker = tmp_path / "files.txt"
    marker.write_text("x", encoding="utf-8")
    registry = Reloader(lambda: "registry", [marker], "registry")
    rule = Rule(
        "community-it", marker, "Participation Infrastructure", ("Community IT",), None, 3, {}
    )
    rules = Reloader(lambda: [rule], [marker], "rules")
    registry.load_first()
    rules.load_first()
    config = Config(poll={"interval_minutes": interval})
    client = SimpleNamespace(session=requests.Session())
    return Bot(config, client, Store("sqlite://"), registry, rules, poller)  # type: ignore[arg-type]


def test_run_polls_at_start_and_stops_after_the_current_poll(tmp_path: Path) -> None:
    poller = SlowPoller(0.3)
    stop = threading.Event()
    bot = stand_in_bot(tmp_path, poller, interval=60.0)  # the next turn would be in an hour
    thread = threading.Thread(target=run_forever, args=(bot, print, stop))
    thread.start()
    try:
        wait_for(lambda: poller.active == 1)  # the first poll, at start
        stop.set()  # while it is under way
        stopped_at = time.monotonic()
        thread.join(timeout=5)
        returned = time.monotonic()
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    ((_start, end),) = poller.polls  # one poll, at start: the next turn was an hour away
    assert poller.active == 0  # the poll under way when told to stop was finished...
    assert stopped_at < end <= returned  # ...before run_forever returned


def test_run_polls_one_at_a_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Turns come faster than polls end: they wait, one poll runs at a time, and a turn that
    waited behind the poll under way when the stop came does not start another."""
    stop = threading.Event()
    poller = SlowPoller(0.3, stop_in=(3, stop))  # longer than the interval
    bot = stand_in_bot(tmp_path, poller, interval=0.002)  # 0.12 s
    thread = threading.Thread(target=run_forever, args=(bot, print, stop))
    thread.start()
    thread.join(timeout=30)  # a hang guard, not a figure
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert poller.most_active == 1
    assert len(poller.polls) == 3  # the third was under way when told to stop: no fourth
    ordered = sorted(poller.polls)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ordered))


def test_a_failing_poll_is_logged_and_the_next_one_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    poller = SlowPoller(0.0, fail_first=True)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(stand_in_bot(tmp_path, poller), print, stop)
    )
    thread.start()
    try:
        wait_for(lambda: len(poller.polls) >= 2)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert "poll failed; trying again at the next interval" in caplog.text
    assert "RuntimeError: first poll breaks" in caplog.text


@contextlib.contextmanager
def running(bot: Bot) -> Iterator[list[int]]:
    """`run_forever` in a thread for the duration; yields a list that grows by one per poll."""
    stop = threading.Event()
    polls: list[int] = []
    thread = threading.Thread(target=run_forever, args=(bot, lambda rs: polls.append(1), stop))
    thread.start()
    try:
        yield polls
    finally:
        stop.set()
        thread.join(timeout=10)


# -- run_forever with the real bot -----------------------------------------------------------
def test_run_rereads_registry_keeps_last_good_version_and_status_shows_problems(
    config_path: Path,
    fake: FakeBugzilla,
    base: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = load_config(config_path)
    bot = build_bot(config, live=True)
    reports: queue.Queue[PollReport] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(bot, lambda rs: [reports.put(r) for r in rs], stop)
    )

    def next_report() -> PollReport:
        return reports.get(timeout=10)

    def status(code: int = 0) -> str:
        assert main(["--config", str(config_path), "status"]) == code
        return capsys.readouterr().out

    thread.start()
    try:
        first = next_report()
        assert sum(r.action == "commented" for r in first.results) == 6

        # a maintainer's typo, then a new request from a delegate
        people = base / "data" / "people.toml"
        edit(people, '"camille@example.org"', '"camille@example"')  # line 29
        bug = fake.add_bug(
            "Another list for Mozilla Hispano",
            "One more list, please.",
            "lucia@example.org",
            creation_time=datetime.now(UTC),
        )
        while True:
            report = next_report()
            mine = [r for r in report.results if r.bug.id == bug]
            if mine:
                break
        (result,) = mine
        assert result.action == "commented"
        assert result.decision is not None and result.decision.outcome == "endorsed"

        (problems,) = bot.store.reload_problems()
        assert problems.source == "registry"
        assert any(p.startswith(f"{people}:29: camille.emails[0]: ") for p in problems.problems)
        assert f"registry: {people}:29: camille.emails[0]: " in caplog.text

        text = status(1)  # it reports errors: non-zero
        assert "RUNNING BOT: registry reload failed at " in text
        assert "it keeps its last\n  good version:" in text
        assert text.count(f"  {people}:29:") == 2  # the bot's, the files'
        assert "REGISTRY/RULES FILES HAVE ERRORS: 1 " in text

        # fixed: the next poll uses it, and status is clear again
        edit(people, '"camille@example"', '"camille@example.org"')
        wait_for(lambda: bot.store.reload_problems() == [])
        text = status()
        assert "RUNNING BOT" not in text
        assert text.endswith("registry and rules files: OK\n")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert fake.counts["update"] == 7  # never twice


def test_run_reports_broken_rules_and_keeps_going(
    config_path: Path, fake: FakeBugzilla, base: Path
) -> None:
    bot = build_bot(load_config(config_path), live=True)
    rule = base / "rules" / "community-it.toml"
    with running(bot) as polls:
        wait_for(lambda: polls)
        edit(rule, "needinfo_cap = 2", "needinfo_cap = -1")
        wait_for(lambda: bot.store.reload_problems())
        count = len(polls)
        wait_for(lambda: len(polls) > count)  # polling goes on
    (problems,) = bot.store.reload_problems()
    assert problems.source == "rules"
    assert all(p.startswith(f"{rule}:") for p in problems.problems)
    assert bot.rules.current()[0].needinfo_cap == 2


def test_run_checks_edited_rules_against_bugzilla_before_using_them(
    config_path: Path, fake: FakeBugzilla, base: Path
) -> None:
    bot = build_bot(load_config(config_path), live=True)
    rule = base / "rules" / "community-it.toml"
    with running(bot) as polls:
        wait_for(lambda: polls)
        edit(rule, '["Community IT"]', '["Comunity IT"]')  # valid TOML, unknown on the server
        wait_for(lambda: bot.store.reload_problems())
        (problems,) = bot.store.reload_problems()
        assert problems.source == "rules"
        assert problems.problems == (
            f"{fake.url}: unknown component 'Comunity IT' in product 'Participation "
            "Infrastructure' (did you mean 'Community IT'? known: Community IT, General)",
        )
        assert bot.rules.current()[0].components == ("Community IT",)  # the last good rules
        count = len(polls)
        wait_for(lambda: len(polls) > count)  # polling goes on with them
        edit(rule, '["Comunity IT"]', '["Community IT", "General"]')
        wait_for(lambda: not bot.store.reload_problems())
        assert bot.rules.current()[0].components == ("Community IT", "General")


def test_run_stops_cleanly_on_sigterm(config_path: Path, fake: FakeBugzilla) -> None:
    env = cli_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "triagebot", "--config", str(config_path), "run", "--live"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: fake.counts["update"] == 6 or proc.poll() is not None, timeout=30)
        searches = fake.counts["search"]
        wait_for(lambda: fake.counts["search"] > searches)  # it polls on
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == ""
    assert "rule community-it (live): 7 bugs changed since" in err
    assert "received SIGTERM, stopping after the write in flight" in err
    assert err.rstrip().endswith("stopped")
    assert "Traceback" not in err
    assert fake.counts["update"] == 6


def test_run_with_broken_files_at_start_exits_2(
    config_path: Path,
    fake: FakeBugzilla,
    base: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = base / "data" / "people.toml"
    edit(people, '"camille@example.org"', '"camille@example"')
    assert main(["--config", str(config_path), "run", "--live"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {people}:29: camille.emails[0]: ")
    assert fake.counts["search"] == 0

    edit(config_path, "[poll]\n", "[poll]\ninterval_minute = 1\n")
    line = config_path.read_text(encoding="utf-8").splitlines().index("interval_minute = 1") + 1
    assert main(["--config", str(config_path), "run"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {config_path}:{line}: poll.interval_minute: unknown key; "
        "did you mean 'interval_minutes'?\n"
    )


def test_run_with_an_unknown_component_exits_2(
    config_path: Path, fake: FakeBugzilla, base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(base / "rules" / "community-it.toml", '["Community IT"]', '["Comunity IT"]')
    assert main(["--config", str(config_path), "run", "--live"]) == 2
    err = capsys.readouterr().err
    assert "unknown component 'Comunity IT' in product 'Participation Infrastructure'" in err
    assert fake.counts["search"] == 0


# -- the start-up product check, remembered by `once` ---------------------------------------------


def test_once_checks_products_once_a_day_and_again_when_a_rule_changes(
    config_path: Path, fake: FakeBugzilla, base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--config", str(config_path), "once", "--dry-run"]
    assert main(args) == 0
    assert main(args) == 0
    assert fake.counts["product"] == 1  # the second `once` trusted the first one's check
    assert fake.counts["version"] == 2

    rule = base / "rules" / "community-it.toml"
    edit(rule, '["Community IT"]', '["Community IT", "General"]')
    assert main(args) == 0
    assert fake.counts["product"] == 2  # what is watched changed: checked again
    capsys.readouterr()

    edit(rule, '["Community IT", "General"]', '["Comunity IT"]')
    assert main(args) == 2
    assert "unknown component 'Comunity IT'" in capsys.readouterr().err
    assert main(args) == 2  # a failed check is never remembered
    assert fake.counts["product"] == 4
    assert fake.counts["search"] == 3


def test_a_product_check_older_than_a_day_is_made_again(
    config_path: Path, fake: FakeBugzilla
) -> None:
    from triagebot.service import run as service

    config = load_config(config_path)
    bot = build_bot(config, live=False)
    service.check_products(bot)
    assert fake.counts["product"] == 1
    with bot.store.engine.begin() as conn:  # the pass was recorded 25 hours ago
        conn.exec_driver_sql(
            "UPDATE triagebot_check SET passed_at = ?",
            ((datetime.now(UTC) - timedelta(hours=25)).replace(tzinfo=None),),
        )
    service.check_products(bot)
    assert fake.counts["product"] == 2
    service.check_products(bot, cached=False)  # `run`: always at start-up
    assert fake.counts["product"] == 3
    bot.store.close()
