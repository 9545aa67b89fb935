"""Closing the loop, against the stand-in (`triagebot.demo.devserver`) with the shipped registry and
rules: each follow-up is one PUT whose exact body is asserted (tags, needinfo flag ids
cleared, the comment), and a bot started with an empty database afterwards writes nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from standin import FaultyBugzilla

from triagebot.bugzilla.client import Client
from triagebot.commands import jsonout
from triagebot.core.bugstate import STALE
from triagebot.core.registry import Registry
from triagebot.demo import demo, devserver
from triagebot.files.config import load_config
from triagebot.files.rules import Rule, load_rules
from triagebot.service import views
from triagebot.service.poller import Poller, PollReport, PollSettings
from triagebot.service.run import load_registry_strict
from triagebot.service.writer import BugzillaWriter
from triagebot.state.store import Store

ROOT = Path(__file__).resolve().parents[1]
BOT = "triagebot@example.org"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START = T0 - timedelta(days=1)
FOOTER = "\n\n-- triagebot (rule community-it; {kind}; ref F{n})"


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
def fake(clock: Clock, registry: Registry) -> Iterator[FaultyBugzilla]:
    with FaultyBugzilla(bot_login=BOT, clock=clock) as fake:
        demo.add_accounts(fake, registry.people.values())
        yield fake


class Bot:
    """A poller on the stand-in with its own database; refs F1, F2... in order."""

    def __init__(
        self,
        fake: FaultyBugzilla,
        db: Path,
        registry: Registry,
        rules: list[Rule],
        clock: Clock,
        markdown: bool = True,
    ):
        assert fake.url is not None
        self.store = Store(f"sqlite:///{db}", now=clock)
        client = Client(fake.url, "k" * 12, requests_per_minute=None, retries=0)
        fake.mount(client.session)
        # Markdown, as on bugzilla.mozilla.org; test_plain_text shows the other format.
        settings = PollSettings(
            max_actions=None,
            start=START,
            overlap=timedelta(minutes=1),
            bot_login=BOT,
        )
        refs = (f"F{n}" for n in itertools.count(1))
        self.poller = Poller(
            client,
            self.store,
            lambda: registry,
            lambda: rules,
            settings,
            BugzillaWriter(client, markdown),
            clock=clock,
            new_ref=lambda: next(refs),
        )

    def poll(self) -> PollReport:
        (report,) = self.poller.poll()
        return report


@pytest.fixture
def bot(fake, registry, rules, clock, tmp_path) -> Iterator[Bot]:
    made = Bot(fake, tmp_path / "a.db", registry, rules, clock)
    yield made
    made.store.close()


def file(fake: FaultyBugzilla, summary: str, reporter: str, clock: Clock) -> int:
    return fake.add_bug(summary, "Please.", reporter, creation_time=clock.now - timedelta(hours=1))


def asked(fake: FaultyBugzilla, bug: int) -> dict[str, int]:
    """The bug's open needinfo requests set by the bot: requestee -> flag id."""
    return {
        f["requestee"]: f["id"]
        for f in fake.bugs[bug]["flags"]
        if f["name"] == "needinfo" and f["status"] == "?" and f["setter"] == BOT
    }


def answer(fake: FaultyBugzilla, clock: Clock, bug: int, who: str, text: str) -> None:
    clock.advance(minutes=5)
    fake.add_comment(bug, text, who, when=clock.now)
    clock.advance(minutes=5)


def last_put(fake: FaultyBugzilla, bug: int) -> dict[str, Any]:
    """The last PUT's body; its comment, if any, was sent as Markdown (checked, then left out
    of the dict the tests compare)."""
    (found, body) = fake.puts[-1]
    assert found == bug
    body = {**body}
    if "comment" in body:
        comment = {**body["comment"]}
        assert comment.pop("is_markdown") is True
        body["comment"] = comment
    return body


def nothing_more(fake: FaultyBugzilla, bot: Bot, clock: Clock, tmp_path: Path, registry, rules):
    """Neither the same bot's next poll nor a bot with an empty database writes again."""
    puts = len(fake.puts)
    clock.advance(minutes=5)
    bot.poll()
    fresh = Bot(fake, tmp_path / "empty.db", registry, rules, clock)
    try:
        report = fresh.poll()
    finally:
        fresh.store.close()
    assert len(fake.puts) == puts, fake.puts[-1]
    assert not [r for r in report.results if r.action == "commented"]


TLS = "TLS certificate of mozfr.example.org expired"


# -- /endorse and /decline -----------------------------------------------------------------------
def test_a_current_delegate_endorses(fake, bot, clock, tmp_path, registry, rules) -> None:
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    flags = asked(fake, bug)
    assert set(flags) == {"camille@example.org", "nadia@example.org"}
    answer(fake, clock, bug, "Camille@Example.org", "Yes, please renew it.\n/endorse")
    report = bot.poll()
    assert last_put(fake, bug) == {
        "ids": [bug],
        "comment": {
            "body": "**Endorsed** by Camille Berthelot, Présidente of Mozilla Francophone, on "
            "2026-11-24 (comment 2)." + FOOTER.format(kind="confirmation", n=2)
        },
        "whiteboard": "[community:mozilla-francophone] [endorsed]",
        "flags": [
            {"id": flags["camille@example.org"], "status": "X"},
            {"id": flags["nadia@example.org"], "status": "X"},
        ],
    }
    assert [(r.bug.id, r.action) for r in report.results] == [(bug, "commented")]
    assert asked(fake, bug) == {}
    (record,) = bot.store.records("community-it", [bug]).values()
    assert (record.outcome, record.action) == ("endorsed", "followup:confirmation")
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


def test_a_current_delegate_declines_with_a_reason(fake, bot, clock, tmp_path, registry, rules):
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    flags = asked(fake, bug)
    answer(fake, clock, bug, "nadia@example.org", "/decline The site moved to another host.")
    bot.poll()
    assert last_put(fake, bug) == {
        "ids": [bug],
        "comment": {
            "body": "**Declined** by Nadia Benslimane, Trésorière of Mozilla Francophone, on "
            "2026-11-24 (comment 2).\nReason given: `The site moved to another host.`"
            + FOOTER.format(kind="decline", n=2)
        },
        "whiteboard": "[community:mozilla-francophone] [endorsement-declined]",
        "flags": [{"id": i, "status": "X"} for i in flags.values()],
    }
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


WHO_CAN_ENDORSE = (
    "The `/endorse` in comment 2 does not count: only a current delegate of Mozilla Francophone "
    "can endorse this request.\n"
    "\n"
    "Current delegates of Mozilla Francophone:\n"
    "- Camille Berthelot, Présidente since 2025-06-14 (matrix: @camille:mozfr.example.org; "
    "email: camille.berthelot@mozfr.example.org)\n"
    "- Nadia Benslimane, Trésorière since 2025-06-14 (email: tresorerie@mozfr.example.org)\n"
    "\n"
    "Community contacts: mailing-list: https://lists.example.org/mozfr; matrix: "
    "#mozfr:mozfr.example.org"
)


@pytest.mark.parametrize(
    "who",
    [
        pytest.param("visitor@example.org", id="non-delegate"),
        pytest.param("bastien@example.org", id="former-delegate"),
        pytest.param("camille@example.org.example.net", id="look-alike"),
        pytest.param("саmille@example.org", id="look-alike-cyrillic"),
        pytest.param("lucia@example.org", id="another-communitys-delegate"),
    ],
)
def test_anyone_else_changes_nothing_and_is_answered_once(
    fake, bot, clock, tmp_path, registry, rules, who
):
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    flags = asked(fake, bug)
    whiteboard = fake.bugs[bug]["whiteboard"]
    answer(fake, clock, bug, who, "/endorse")
    bot.poll()
    assert last_put(fake, bug) == {
        "ids": [bug],
        "comment": {"body": WHO_CAN_ENDORSE + FOOTER.format(kind="who-can-endorse", n=2)},
    }
    assert fake.bugs[bug]["whiteboard"] == whiteboard
    assert asked(fake, bug) == flags
    answer(fake, clock, bug, who, "/endorse")  # again: no second answer
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


def test_a_human_who_removed_the_tag_stopped_it(fake, bot, clock, tmp_path, registry, rules):
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    fake.bugs[bug]["whiteboard"] = "[community:mozilla-francophone] [handled-by-hand]"
    answer(fake, clock, bug, "camille@example.org", "/endorse")
    puts = len(fake.puts)
    bot.poll()
    assert len(fake.puts) == puts
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


# -- the reporter's answer -----------------------------------------------------------------------
def test_the_reporter_naming_a_community_retriages(fake, bot, clock, tmp_path, registry, rules):
    bug = file(fake, "Need a server for our group", "newcomer@example.org", clock)
    bot.poll()
    assert fake.bugs[bug]["whiteboard"] == "[endorsement-needed]"
    flags = asked(fake, bug)
    assert list(flags) == ["newcomer@example.org"]
    answer(fake, clock, bug, "newcomer@example.org", "> Which community?\nMozilla Hispano.")
    bot.poll()
    body = last_put(fake, bug)
    assert body["whiteboard"] == "[endorsement-needed] [community:mozilla-hispano]"
    assert body["flags"] == [
        {"id": flags["newcomer@example.org"], "status": "X"},
        {"name": "needinfo", "status": "?", "requestee": "lucia@example.org", "new": True},
        {"name": "needinfo", "status": "?", "requestee": "mateo@example.org", "new": True},
    ]
    assert body["comment"]["body"] == (
        "**Re-triaged** after the reporter's answer in comment 2.\n"
        "\n"
        "**Endorsement needed**: this request is about Mozilla Hispano, and the reporter is not "
        "one of its current delegates.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Lucía Ferreyra, Coordinadora general since 2026-01-15 (matrix: "
        "@lucia:mozhispano.example.org)\n"
        "- Mateo Quiroga, Coordinador técnico since 2026-01-15 (email: "
        "tecnico@mozhispano.example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozhispano; discourse: "
        "https://discourse.example.org/c/mozhispano\n"
        "\n"
        "Lucía Ferreyra, Mateo Quiroga: does Mozilla Hispano support this request?"
        "\n\nTo answer, a current delegate of Mozilla Hispano comments `/endorse` or "
        "`/decline` with a reason on a line of its own." + FOOTER.format(kind="retriage", n=2)
    )
    assert set(body) == {"ids", "comment", "whiteboard", "flags"}
    (record,) = bot.store.records("community-it", [bug]).values()
    assert (record.outcome, record.community) == ("needs-endorsement", "mozilla-hispano")
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


# -- stale ----------------------------------------------------------------------------------------
def test_stale_with_one_reminder(fake, bot, clock, tmp_path, registry, rules):
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    clock.advance(days=13)
    bot.poll()  # a day's sweep: not stale yet
    assert len(fake.puts) == 1
    clock.advance(days=1)  # the next sweep, about a day later
    before = fake.counts.copy()
    bot.poll()
    assert fake.counts - before == {"search": 2, "comments": 1, "update": 1}
    assert last_put(fake, bug) == {
        "ids": [bug],
        "comment": {
            "body": "**Still waiting** for an answer after 14 days from Camille Berthelot, "
            "Nadia Benslimane.\n"
            "\n"
            "Current delegates of Mozilla Francophone:\n"
            "- Camille Berthelot, Présidente since 2025-06-14 (matrix: "
            "@camille:mozfr.example.org; email: camille.berthelot@mozfr.example.org)\n"
            "- Nadia Benslimane, Trésorière since 2025-06-14 (email: "
            "tresorerie@mozfr.example.org)\n"
            "\n"
            "Community contacts: mailing-list: https://lists.example.org/mozfr; matrix: "
            "#mozfr:mozfr.example.org\n"
            "\n"
            "To answer, a current delegate of Mozilla Francophone comments `/endorse` or "
            "`/decline` with a reason on a line of its own." + FOOTER.format(kind="reminder", n=2)
        },
        "whiteboard": "[community:mozilla-francophone] [endorsement-needed] [endorsement-stale]",
    }
    clock.advance(days=2)
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


def test_stale_without_reminder_is_a_tag(fake, registry, rules, clock, tmp_path):
    quiet = [replace(r, followup=replace(r.followup, remind=False)) for r in rules]
    bot = Bot(fake, tmp_path / "q.db", registry, quiet, clock)
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    clock.advance(days=15)
    bot.poll()
    assert last_put(fake, bug) == {
        "ids": [bug],
        "whiteboard": "[community:mozilla-francophone] [endorsement-needed] [endorsement-stale]",
    }
    nothing_more(fake, bot, clock, tmp_path, registry, quiet)
    bot.store.close()


# -- requests -------------------------------------------------------------------------------------
def test_a_poll_where_nothing_changed_is_one_request(fake, bot, clock):
    file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    for _ in range(3):
        clock.advance(minutes=5)
        before = fake.counts.copy()
        bot.poll()
        assert fake.counts - before == {"search": 1}


def test_answers_are_read_with_new_since_in_one_batch_per_page(fake, bot, clock):
    bugs = [file(fake, TLS, "visitor@example.org", clock) for _ in range(3)]
    bot.poll()
    answer(fake, clock, bugs[0], "visitor@example.org", "Any news?")
    fake.add_comment(
        bugs[2], "/endorse", "nadia@example.org", when=clock.now - timedelta(minutes=1)
    )
    before = fake.counts.copy()
    bot.poll()
    assert fake.counts - before == {"search": 1, "comments": 1, "update": 1}
    assert fake.puts[-1][0] == bugs[2]


def test_plain_text_where_markdown_is_not_rendered(fake, registry, rules, clock, tmp_path):
    plain = Bot(fake, tmp_path / "p.db", registry, rules, clock, markdown=False)
    bug = file(fake, TLS, "visitor@example.org", clock)
    plain.poll()
    flags = asked(fake, bug)
    answer(fake, clock, bug, "nadia@example.org", "/decline **Not** us.")
    plain.poll()
    assert fake.puts[-1] == (
        bug,
        {
            "ids": [bug],
            "comment": {
                "body": "Declined by Nadia Benslimane, Trésorière of Mozilla Francophone, on "
                "2026-11-24 (comment 2).\nReason given: Not us."
                + FOOTER.format(kind="decline", n=2)
            },
            "whiteboard": "[community:mozilla-francophone] [endorsement-declined]",
            "flags": [{"id": i, "status": "X"} for i in flags.values()],
        },
    )
    plain.store.close()


def test_a_follow_up_that_failed_is_written_next_poll(fake, bot, clock, tmp_path, registry, rules):
    bug = file(fake, TLS, "visitor@example.org", clock)
    bot.poll()
    answer(fake, clock, bug, "camille@example.org", "/endorse")
    refused = {"error": True, "code": 32000, "message": "Try again later.", "documentation": ""}
    fake.fail_next(400, kind="update", body=refused)
    report = bot.poll()
    assert [(r.bug.id, r.action) for r in report.results] == [(bug, "failed")]
    assert len(fake.puts) == 1  # the refused PUT changed nothing
    clock.advance(minutes=5)
    report = bot.poll()
    assert [(r.bug.id, r.action) for r in report.results] == [(bug, "commented")]
    assert last_put(fake, bug)["whiteboard"] == "[community:mozilla-francophone] [endorsed]"
    nothing_more(fake, bot, clock, tmp_path, registry, rules)


def test_queue_calls_stale_exactly_the_bugs_the_sweep_tags(fake, bot, clock, tmp_path):
    """One definition of stale, the age of the bot's ask: `queue --json` flags the bugs the
    next sweep tags, not a bug filed long ago that the bot asked about again lately."""
    tls = file(fake, TLS, "visitor@example.org", clock)
    server = file(fake, "Need a server for our group", "newcomer@example.org", clock)
    renamed = file(fake, "Need a server", "newcomer@example.org", clock)
    bot.poll()
    clock.advance(days=10)
    answer(fake, clock, renamed, "newcomer@example.org", "We are Mozilla Hispano.")
    bot.poll()  # the reporter named a community: the bot asks its delegates (a new ask)
    clock.advance(days=5)  # 15 days after the first asks, 5 after the new one
    assert fake.url is not None
    config = load_config(
        devserver.write_config(
            tmp_path,
            fake.url,
            api_key="k" * 12,
            bot_login=BOT,
            data=ROOT / "data",
            rules=ROOT / "rules",
            start=START,
        )
    )
    # what `queue --json` prints, at the bot's clock
    document = jsonout.queue_document(views.queue(config, clock())).model_dump(mode="json")
    rows = document["bugs"]
    flagged = {row["bug"] for row in rows if row["stale"]}
    before = len(fake.puts)
    bot.poll()  # the day's sweep
    tagged = {bug for bug, body in list(fake.puts)[before:] if STALE in body.get("whiteboard", "")}
    assert flagged == tagged == {tls, server}
    assert {row["bug"] for row in rows} == {tls, server, renamed}
