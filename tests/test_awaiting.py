"""`triagebot queue`: the bugs awaiting endorsement, read from Bugzilla, as a triager sees them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triagebot.commands.cli import main
from triagebot.core import awaiting
from triagebot.core.bugs import Bug, Comment, Flag
from triagebot.core.footer import footer_line
from triagebot.core.registry import Community, Delegation, Governance, Person, Registry
from triagebot.demo import demo
from triagebot.demo.devserver import FakeBugzilla
from triagebot.files.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]
(RULE,) = load_rules(ROOT / "rules")
BOT = "triagebot@example.org"
NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
REGISTRY = Registry.build(
    [Person("luis", "Luis García", ("luis@example.org",))],
    [
        Community(
            "mozilla-hispano",
            "Mozilla Hispano",
            "active",
            date(2026, 1, 1),
            Governance("board"),
            delegates=(Delegation("luis", "Coordinador", date(2022, 1, 1)),),
        )
    ],
)


def bug(bug_id: int, days: int, whiteboard: str, *flags: Flag, summary: str = "S") -> Bug:
    return Bug(
        bug_id,
        summary,
        "zed@example.net",
        NOW - timedelta(days=days, hours=1),
        whiteboard=whiteboard,
        flags=flags,
    )


BUGS = [
    bug(
        3,
        2,
        "[community:mozilla-hispano] [endorsement-needed]",
        Flag("needinfo", "?", "luis@example.org", BOT, id=1),
        Flag("needinfo", "?", "other@example.org", "someone@example.org", id=2),
        summary="A | *wiki* for [Mozilla Hispano](x)",
    ),
    bug(4, 20, "[endorsement-needed]", Flag("needinfo", "?", "zed@example.net", BOT, id=3)),
    bug(5, 3, "[endorsement-needed] [endorsement-stale]"),
    bug(6, 30, "[community:mozilla-hispano] [endorsed]"),
    bug(7, 30, "[endorsement-needed] [triagebot-skip]"),
]


def asking(bug_id: int, days: int, kind: str = "") -> Comment:
    """The bot's comment asking for an answer on `bug_id`, `days` ago."""
    footer = footer_line(RULE.name, f"R{bug_id}", kind or None)
    return Comment(
        bug_id * 10 + days,
        bug_id,
        BOT,
        f"Which community?\n\n{footer}",
        1,
        NOW - timedelta(days=days),
    )


# The comments `queue` reads: those of the bugs old enough to have turned stale.
COMMENTS = {4: [asking(4, 20)]}


def test_entries_per_bug() -> None:
    rows = awaiting.entries(
        BUGS, COMMENTS, REGISTRY, RULE, NOW, BOT, "https://bugzilla.example.org/"
    )
    assert [(r.bug_id, r.community, r.age_days, r.asked, r.stale) for r in rows] == [
        (4, None, 20, ("the reporter",), True),  # asked longer ago than stale_after_days (14)
        (5, None, 3, (), True),  # tagged stale
        (3, "mozilla-hispano", 2, ("Luis García",), False),  # only the bot's request
    ]
    assert rows[2].url == "https://bugzilla.example.org/show_bug.cgi?id=3"


def test_stale_is_the_age_of_the_bots_ask_not_of_the_bug() -> None:
    """An old bug the bot asked about again recently (a re-triage) is not stale: the sweep
    would not tag it either."""
    old = bug(8, 30, "[endorsement-needed]")
    comments = {8: [asking(8, 30), asking(8, 3, "retriage")]}
    (row,) = awaiting.entries([old], comments, REGISTRY, RULE, NOW, BOT, "https://bz.example.org")
    assert (row.age_days, row.stale) == (30, False)
    comments = {8: [asking(8, 30)]}
    (row,) = awaiting.entries([old], comments, REGISTRY, RULE, NOW, BOT, "https://bz.example.org")
    assert row.stale


def test_text_and_markdown() -> None:
    rows = awaiting.entries(BUGS, COMMENTS, REGISTRY, RULE, NOW, BOT, "https://bz.example.org")
    assert awaiting.render_text(rows) == (
        "3 bugs await endorsement (2 stale)\n"
        "\n"
        "Mozilla Hispano: 1\n"
        "  bug 3          2 days        asked: Luis García\n"
        "    A | *wiki* for [Mozilla Hispano](x)\n"
        "\n"
        "no community yet: 2\n"
        "  bug 4         20 days STALE  asked: the reporter\n"
        "    S\n"
        "  bug 5          3 days STALE  asked: nobody\n"
        "    S\n"
    )
    assert awaiting.render_markdown(rows) == (
        "# Awaiting endorsement: 3 bugs, 2 stale\n"
        "\n"
        "## Mozilla Hispano (1)\n"
        "\n"
        "| Bug | Summary | Age (days) | Asked | Stale |\n"
        "|---|---|--:|---|---|\n"
        "| [3](https://bz.example.org/show_bug.cgi?id=3) | A \\| \\*wiki\\* for \\[Mozilla "
        "Hispano\\](x) | 2 | Luis García | no |\n"
        "\n"
        "## no community yet (2)\n"
        "\n"
        "| Bug | Summary | Age (days) | Asked | Stale |\n"
        "|---|---|--:|---|---|\n"
        "| [4](https://bz.example.org/show_bug.cgi?id=4) | S | 20 | the reporter | yes |\n"
        "| [5](https://bz.example.org/show_bug.cgi?id=5) | S | 3 | nobody | yes |\n"
    )
    assert awaiting.render_text([]) == "no bug awaits endorsement\n"


# -- the command, against the stand-in ------------------------------------------------------------
@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeBugzilla]]:
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    server = FakeBugzilla(api_key=demo.DEMO_KEY, bot_login=demo.BOT)
    server.start()
    now = datetime.now(UTC).replace(microsecond=0)
    demo.seed(server, now, ROOT / "data")
    assert server.url is not None
    path = demo.write_config(tmp_path, server.url, ROOT, now - timedelta(hours=1))
    yield path, server
    server.stop()


def test_queue_after_a_poll(
    config: tuple[Path, FakeBugzilla], capsys: pytest.CaptureFixture[str]
) -> None:
    path, server = config
    assert main(["--config", str(path), "queue", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"version": 1, "ok": True, "bugs": []}
    assert not list(path.parent.glob("triagebot.db*"))  # queue creates no database
    assert main(["--config", str(path), "once", "--live"]) == 0
    capsys.readouterr()
    before = server.counts.copy()
    assert main(["--config", str(path), "queue", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["bugs"]
    assert server.counts - before == {"version": 1, "search": 1}  # connect, one search
    assert [(r["community"], r["asked"], r["stale"]) for r in rows] == [
        ("mozilla-francophone", ["Camille Berthelot", "Nadia Benslimane"], False),
        ("mozilla-tamil", ["Meenakshi Raghavan"], False),
        (None, ["the reporter"], False),
        (None, ["the reporter"], False),
        ("mozilla-hispano", ["Lucía Ferreyra", "Mateo Quiroga"], False),
    ]
    assert main(["--config", str(path), "queue", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Awaiting endorsement: 5 bugs, 0 stale\n")
    assert "## Mozilla Francophone (1)" in out
