"""Which comments are the bot's own for a rule: what decides whether a bug gets written on
when the database knows nothing of it."""

from __future__ import annotations

from triagebot.core.bugs import Comment
from triagebot.core.bugstate import own_comment
from triagebot.core.footer import Footer, footer_line, parse_footer

BOT = "triagebot@example.org"


def comment(n: int, text: str, creator: str = BOT) -> Comment:
    return Comment(id=n, bug_id=1, creator=creator, text=text, count=n)


def test_the_footer_round_trips_and_the_last_one_counts() -> None:
    text = f"Quoted:\n{footer_line('old', 'aaaa')}\n\nBody\n\n{footer_line('community-it', 'R1')}"
    assert parse_footer(text) == Footer("community-it", "R1")
    assert parse_footer("no footer here") is None


def test_by_the_bot_with_this_rule_or_no_footer_is_its_own() -> None:
    theirs = comment(0, "Please help", "a@example.org")
    other_rule = comment(1, "x\n\n" + footer_line("another-rule", "R9"))
    ours = comment(2, "y\n\n" + footer_line("community-it", "R3"))
    assert own_comment([theirs, other_rule, ours], "community-it", BOT) == ours
    assert own_comment([other_rule], "community-it", BOT) is None
    bare = comment(3, "**Which community?** (footer edited away)")
    assert own_comment([other_rule, bare], "community-it", BOT.upper()) == bare


def test_a_footer_pasted_by_somebody_else_is_not_the_bots() -> None:
    pasted = comment(1, "As the bot said\n\n" + footer_line("community-it", "R1"), "a@example.org")
    assert own_comment([pasted], "community-it", BOT, ref="R1") is None
    # without a known login (a dry run on 5.0 without bot_login), the footer is all there is
    assert own_comment([pasted], "community-it", None, ref="R1") == pasted
    assert own_comment([pasted], "community-it", None, ref="R2") is None


def test_the_comment_with_the_writes_ref_is_preferred() -> None:
    first = comment(1, "a\n\n" + footer_line("community-it", "R1"))
    second = comment(2, "b\n\n" + footer_line("community-it", "R2"))
    assert own_comment([first, second], "community-it", BOT, ref="R2") == second
