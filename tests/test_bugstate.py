"""A bug's state as the bot reads it: one reading for the poll, the follow-up and the views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from triagebot.core.bugs import Bug, Comment, Flag
from triagebot.core.bugstate import Own, asked, bot_needinfo, open_requestees, own, stale
from triagebot.core.footer import footer_line
from triagebot.files.rules import load_rules

(RULE,) = load_rules(Path(__file__).resolve().parents[1] / "rules")
BOT = "triagebot@example.org"
NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
FLAGS = (
    Flag("needinfo", "?", "Luis@example.org", BOT, id=1),
    Flag("needinfo", "?", "ana@example.org", "someone@example.org", id=2),
    Flag("needinfo", "X", "old@example.org", BOT, id=3),
)


def comment(n: int, text: str, creator: str = BOT, days: int = 0) -> Comment:
    return Comment(n, 1, creator, text, n, NOW - timedelta(days=days))


def test_the_bots_open_needinfo_and_everyones() -> None:
    bug = Bug(1, "S", "zed@example.net", NOW, flags=FLAGS)
    assert [f.id for f in bot_needinfo(bug, BOT.upper())] == [1]
    assert [f.id for f in bot_needinfo(bug, BOT, "luis@example.org")] == [1]
    assert [f.id for f in bot_needinfo(bug, None)] == [1, 2]  # login unknown: every open one
    assert open_requestees(bug) == {"luis@example.org", "ana@example.org"}


def test_own_comments_and_their_kind() -> None:
    first = comment(1, "Hi\n\n" + footer_line(RULE.name, "R1"))
    reminder = comment(2, "Still\n\n" + footer_line(RULE.name, "R2", "reminder"))
    bare = comment(3, "no footer")
    pasted = comment(4, "quote\n\n" + footer_line(RULE.name, "R1"), "zed@example.net")
    assert [own(c, RULE.name, BOT) for c in (first, reminder, bare, pasted)] == [
        Own(None, "R1"),
        Own("reminder", "R2"),
        Own(None, None),  # by the bot's login: the author is enough
        None,  # a footer pasted by somebody else
    ]
    assert own(first, "another-rule", BOT) is None
    assert own(pasted, RULE.name, None) is not None  # without a login the footer is all


def test_stale_is_the_age_of_the_last_ask() -> None:
    bug = Bug(
        1, "S", "zed@example.net", NOW - timedelta(days=30), whiteboard="[endorsement-needed]"
    )
    ask = comment(1, "Which?\n\n" + footer_line(RULE.name, "R1"), days=30)
    again = comment(2, "Which?\n\n" + footer_line(RULE.name, "R2", "retriage"), days=3)
    assert stale(bug, asked(bug, [ask], RULE, BOT), RULE, NOW)
    assert not stale(bug, asked(bug, [ask, again], RULE, BOT), RULE, NOW)
    decided = comment(3, "Endorsed\n\n" + footer_line(RULE.name, "R3", "confirmation"))
    assert asked(bug, [ask, decided], RULE, BOT) is None  # decided: never stale
