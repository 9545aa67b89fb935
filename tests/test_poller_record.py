"""Bugzilla is the record: the poller against the stand-in (`triagebot.demo.devserver`), with the
shipped registry and rules. What the bot wrote is read back from Bugzilla, so a second bot
with an empty database posts nothing twice; the search by last change finds bugs moved into
the component after the cursor passed their creation; the default start survives a restart.
Requests go to the stand-in in process (no socket)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Clock
from standin import FaultyBugzilla

from triagebot.bugzilla.client import Client
from triagebot.core.registry import Registry
from triagebot.files.rules import Rule, load_rules
from triagebot.service.poller import DEFAULT_LOOKBACK, Poller, PollReport, PollSettings
from triagebot.service.run import load_registry_strict
from triagebot.service.views import Status
from triagebot.service.writer import BugzillaWriter
from triagebot.state.store import RecordState, Store

ROOT = Path(__file__).resolve().parents[1]
BOT = "triagebot@example.org"
PRODUCT = "Participation Infrastructure"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START = T0 - timedelta(days=1)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry_strict(ROOT / "data")


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return load_rules(ROOT / "rules")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FaultyBugzilla]:
    with FaultyBugzilla(bot_login=BOT, clock=clock) as fake:
        yield fake


def make_poller(
    fake: FaultyBugzilla,
    store: Store,
    registry: Registry,
    rules: list[Rule],
    clock: Clock,
    *,
    start: datetime | None = START,
    bot_login: str | None = BOT,
) -> Poller:
    assert fake.url is not None
    client = Client(fake.url, "k" * 12, requests_per_minute=None, retries=0)
    fake.mount(client.session)
    settings = PollSettings(
        max_actions=None,
        start=start,
        overlap=timedelta(minutes=1),
        bot_login=bot_login,
    )
    writer = BugzillaWriter(client, markdown=False)
    return Poller(client, store, lambda: registry, lambda: rules, settings, writer, clock=clock)


def poll(poller: Poller) -> PollReport:
    (report,) = poller.poll()
    return report


def bot_comments(fake: FaultyBugzilla, bug: int) -> list[str]:
    return [c["text"] for c in fake.comments_of(bug) if c["creator"] == BOT]


def file_bugs(fake: FaultyBugzilla, when: datetime) -> list[int]:
    return [
        fake.add_bug(
            "Mailing list for Mozilla Hispano translators",
            "Please create it.",
            "visitor@example.org",
            creation_time=when,
        ),
        fake.add_bug(
            "TLS certificate of mozfr.example.org expired",
            "Renew it please.",
            "newcomer@example.org",
            creation_time=when + timedelta(seconds=1),
        ),
    ]


# -- 1. own comments, read back from Bugzilla --------------------------------------------------
def test_a_second_bot_with_an_empty_database_posts_nothing_twice(
    fake, registry, rules, clock, tmp_path
):
    bugs = file_bugs(fake, T0 - timedelta(hours=1))
    with Store(f"sqlite:///{tmp_path / 'a.db'}", now=clock) as a:
        first = poll(make_poller(fake, a, registry, rules, clock))
    assert {r.bug.id: r.action for r in first.results} == dict.fromkeys(bugs, "commented")
    posted = {b: bot_comments(fake, b) for b in bugs}
    updates = fake.counts["update"]

    clock.now += timedelta(minutes=5)
    with Store(f"sqlite:///{tmp_path / 'b.db'}", now=clock) as b:  # database B: empty
        report = poll(make_poller(fake, b, registry, rules, clock))
        records = b.records(rules[0].name, bugs)

    assert {b: bot_comments(fake, b) for b in bugs} == posted  # not one comment more
    assert {r.bug.id: r.action for r in report.results} == dict.fromkeys(bugs, "reconciled")
    assert {r.state for r in records.values()} == {"done"}  # recorded done, from Bugzilla
    assert fake.counts["update"] == updates  # not even tried


def test_a_bot_comment_without_a_footer_is_recognised_by_its_author(
    fake, registry, rules, clock, tmp_path
):
    """Only the author to go by: a comment by the bot's account whose footer was edited
    away (or that predates footers) still means the bug was annotated."""
    bug = fake.add_bug(
        "Need a server", "For the Nordic meetup.", "visitor@example.org", creation_time=T0
    )
    fake.add_comment(bug, "**Which community?** This request names none.", BOT)
    # a reporter pasting another bot comment's footer is not the bot having written
    quoted = fake.add_bug(
        "Need a list",
        "As the bot said:\n\n-- triagebot (rule community-it; ref 0123456789abcdef)",
        "visitor@example.org",
        creation_time=T0,
    )
    clock.now += timedelta(minutes=5)
    with Store(f"sqlite:///{tmp_path / 'b.db'}", now=clock) as store:
        report = poll(make_poller(fake, store, registry, rules, clock))

    assert {r.bug.id: r.action for r in report.results} == {
        bug: "reconciled",
        quoted: "commented",
    }
    assert bot_comments(fake, bug) == ["**Which community?** This request names none."]
    assert len(bot_comments(fake, quoted)) == 1


# -- 2. poll by last change ----------------------------------------------------------------
def test_a_bug_moved_in_after_the_cursor_passed_its_creation_is_annotated_once(
    fake, registry, rules, clock, tmp_path
):
    moved = fake.add_bug(
        "Mailing list for Mozilla Hispano translators",
        "Please create it.",
        "visitor@example.org",
        component="General",
        creation_time=T0 - timedelta(hours=2),
    )
    with Store(f"sqlite:///{tmp_path / 'a.db'}", now=clock) as store:
        poller = make_poller(fake, store, registry, rules, clock)
        assert poll(poller).results == []  # not watched yet; the cursor moves past it
        clock.now += timedelta(hours=1)
        fake.move_bug(moved, component="Community IT")  # a triager moves it in
        clock.now += timedelta(minutes=5)
        before = fake.counts["history"]

        report = poll(poller)
        clock.now += timedelta(minutes=5)
        again = poll(poller)

    assert {r.bug.id: r.action for r in report.results} == {moved: "commented"}
    assert fake.counts["history"] == before  # created after start: no history needed
    assert len(bot_comments(fake, moved)) == 1
    assert again.results == [] and again.handled_before == 1


def test_a_bug_created_and_moved_in_before_start_is_not_annotated_and_asked_once(
    fake, registry, rules, clock, tmp_path
):
    old = fake.add_bug(
        "Mailing list for Mozilla Hispano translators",
        "Please create it.",
        "visitor@example.org",
        component="General",
        creation_time=START - timedelta(days=3),
    )
    fake.move_bug(old, component="Community IT", when=START - timedelta(days=2))
    late = fake.add_bug(
        "TLS certificate of mozfr.example.org expired",
        "Renew it please.",
        "newcomer@example.org",
        component="General",
        creation_time=START - timedelta(days=3),
    )
    fake.move_bug(late, component="Community IT", when=START + timedelta(hours=1))
    for bug in (old, late):  # somebody comments on both now: they show in the search
        fake.add_comment(bug, "Any news?", "visitor@example.org")

    with Store(f"sqlite:///{tmp_path / 'a.db'}", now=clock) as store:
        poller = make_poller(fake, store, registry, rules, clock)
        report = poll(poller)
        asked = fake.counts["history"]
        fake.add_comment(old, "Hello?", "visitor@example.org")
        clock.now += timedelta(minutes=5)
        again = poll(poller)

    assert {r.bug.id: r.action for r in report.results} == {late: "commented"}
    assert bot_comments(fake, old) == []
    assert asked == 2  # one history request per bug created before start
    assert fake.counts["history"] == asked  # remembered: not asked again
    assert again.results == []


# -- 3. never skip ---------------------------------------------------------------------------
def test_the_stored_default_start_survives_a_restart(fake, registry, rules, clock, tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    failing = fake.add_bug(
        "Mailing list for Mozilla Hispano translators",
        "Please create it.",
        "visitor@example.org",
        creation_time=T0 - timedelta(days=6),
    )
    fake.fail_next(500, kind="update")
    with Store(url, now=clock) as store:
        first = poll(make_poller(fake, store, registry, rules, clock, start=None))
        stored = store.get_default_start(rules[0].name)
    assert [r.action for r in first.results] == ["failed"]
    assert stored == T0 - DEFAULT_LOOKBACK

    clock.now += timedelta(days=3)  # a restart three days later: 7 days back would miss it
    with Store(url, now=clock) as store:
        again = poll(make_poller(fake, store, registry, rules, clock, start=None))
        assert store.get_default_start(rules[0].name) == stored

    assert again.since <= failing_creation(fake, failing)
    assert {r.bug.id: r.action for r in again.results} == {failing: "commented"}
    assert len(bot_comments(fake, failing)) == 1


def failing_creation(fake: FaultyBugzilla, bug: int) -> datetime:
    return datetime.fromisoformat(fake.bugs[bug]["creation_time"].replace("Z", "+00:00"))


def test_the_cursor_is_the_newest_change_bugzilla_stamped(fake, registry, rules, clock, tmp_path):
    """The cursor comes from Bugzilla's own clock (the last_change_time it stamped, as
    /rest/time's db_time would say), not from the bot's clock nor a web server's Date."""
    bugs = file_bugs(fake, T0 - timedelta(hours=1))
    clock.now = T0 + timedelta(minutes=3)  # the stand-in stamps the bot's comments then
    with Store(f"sqlite:///{tmp_path / 'a.db'}", now=clock) as store:
        poller = make_poller(fake, store, registry, rules, clock)
        poller.clock = lambda: T0 + timedelta(hours=5)  # a bot host whose clock is wrong
        poll(poller)
        cursor = store.get_cursor(rules[0].name)
    newest = max(fake.bugs[b]["creation_time"] for b in bugs)
    assert cursor == datetime.fromisoformat(newest.replace("Z", "+00:00"))


# -- 4. poison bugs ------------------------------------------------------------------------------
REFUSED = {
    "error": True,
    "code": 115,
    "message": "You tried to change the Whiteboard field but only a user with the required "
    "permissions may make this change.",
    "documentation": "https://bugzilla.readthedocs.org/en/5.0/api/",
}


def test_a_poison_bug_gives_up_frees_the_cursor_shows_in_status_and_retry_revives_it(
    fake, registry, rules, clock, tmp_path
):
    from triagebot.commands import output

    poison = fake.add_bug(
        "Mailing list for Mozilla Hispano translators",
        "Please create it.",
        "visitor@example.org",
        creation_time=T0 - timedelta(hours=2),
    )
    fake.fail_next(400, kind="update", times=3, body=REFUSED)
    rule = rules[0].name
    with Store(f"sqlite:///{tmp_path / 'a.db'}", now=clock) as store:
        poller = make_poller(fake, store, registry, rules, clock)
        poller.settings.max_attempts = 3
        actions = []
        for _ in range(3):
            report = poll(poller)
            actions.append([r.action for r in report.results])
            clock.now += timedelta(minutes=5)
        assert actions == [["failed"], ["failed"], ["gave-up"]]
        filed = clock.now
        later = fake.add_bug(
            "TLS certificate of mozfr.example.org expired",
            "Renew it please.",
            "newcomer@example.org",
            creation_time=clock.now,
        )
        clock.now += timedelta(minutes=5)
        quiet = poll(poller)
        assert {r.bug.id: r.action for r in quiet.results} == {later: "commented"}
        assert store.get_cursor(rule) == filed  # given up, it no longer holds the cursor back
        status = output.status(Status.read(store, []))
        shown = " ".join(line.strip() for line in status.splitlines())
        assert (
            f"bug {poison} rule {rule}, 3 times: You tried to change the Whiteboard field but "
            "only a user with the required permissions may make this change. "
            "(Bugzilla error 115)"
        ) in shown

        (revived,) = store.retry(poison)  # what `triagebot retry BUG` does
        assert revived.state == "gave-up"
        clock.now += timedelta(minutes=5)
        report = poll(poller)  # the cursor is past it: it is fetched by id, written
        assert {r.bug.id: r.action for r in report.results} == {poison: "commented"}
        assert store.records(rule, [poison])[poison].state == "done"
        assert store.records_in(RecordState.GAVE_UP) == []
    assert len(bot_comments(fake, poison)) == 1
