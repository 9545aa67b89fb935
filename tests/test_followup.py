"""follow_up(): what the bot does with answers, read from the bug alone (tags, its comments)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from triagebot.core.bugs import Bug, Comment, Decision, Flag, Write
from triagebot.core.bugstate import edit_whiteboard
from triagebot.core.followup import (
    KINDS,
    Command,
    ReadHistory,
    follow_up,
    parse_command,
    sample_context,
)
from triagebot.core.registry import Community, Contact, Delegation, Governance, Person, Registry
from triagebot.core.triage import decide
from triagebot.files.rules import load_rules

RULES = Path(__file__).resolve().parents[1] / "rules"
BOT = "triagebot@example.org"
ASKED = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
NOW = ASKED + timedelta(days=2)
(RULE,) = load_rules(RULES)
NO_REMIND = replace(RULE, followup=replace(RULE.followup, remind=False))


def _community(slug: str, name: str, *delegates: Delegation, **kw: Any) -> Community:
    contacts = (Contact("mailing-list", f"https://lists.example.org/{slug}", True),)
    return Community(
        slug, name, "active", date(2026, 1, 1), Governance("board"), (), contacts, delegates, **kw
    )


def _registry() -> Registry:
    people = [
        Person(
            "camille",
            "Camille Berthelot",
            ("camille@example.org",),
            None,
            (
                Contact("matrix", "@camille:example.org", True),
                Contact("phone", "+1-555-0101", False),
            ),
        ),
        Person("nadia", "Nadia Benslimane", ("nadia@example.org",)),
        Person("bastien", "Bastien Morvan", ("bastien@example.org",)),
        Person(
            "luis",
            "Luis García",
            ("luis@example.org",),
            None,
            (Contact("matrix", "@luis:example.org", True),),
        ),
    ]
    mozfr = _community(
        "mozilla-francophone",
        "Mozilla Francophone",
        Delegation("camille", "Présidente", date(2025, 6, 1)),
        Delegation("nadia", "Trésorière", date(2023, 6, 1)),
        Delegation("bastien", "Président", date(2019, 6, 1), date(2025, 6, 1)),
    )
    hispano = _community(
        "mozilla-hispano", "Mozilla Hispano", Delegation("luis", "Coordinador", date(2022, 1, 1))
    )
    return Registry.build(people, [mozfr, hispano])


REGISTRY = _registry()


def first_comment(bug: Bug) -> tuple[Bug, Comment]:
    """The bug as the bot left it after its first comment, and that comment."""
    decision = decide(bug, REGISTRY, RULE, ASKED)
    assert decision.write.comment is not None and decision.whiteboard is not None
    flags = tuple(
        Flag("needinfo", "?", login, BOT, id=40 + i) for i, login in enumerate(decision.needinfo)
    )
    asked = replace(bug, whiteboard=decision.whiteboard, flags=bug.flags + flags)
    return asked, Comment(11, bug.id, BOT, decision.write.text("r1", markdown=True), 1, ASKED)


def hispano_bug(**kw: Any) -> tuple[Bug, list[Comment]]:
    bug = Bug(7, "A wiki for Mozilla Hispano", "zed@example.net", ASKED - timedelta(hours=1), **kw)
    asked, ask = first_comment(bug)
    description = Comment(10, 7, "zed@example.net", "please", 0, bug.creation_time)
    return asked, [description, ask]


def unknown_bug() -> tuple[Bug, list[Comment]]:
    bug = Bug(8, "A new mailing list, please", "zed@example.net", ASKED - timedelta(hours=1))
    asked, ask = first_comment(bug)
    return asked, [Comment(20, 8, "zed@example.net", "see summary", 0, bug.creation_time), ask]


def said(login: str, text: str, count: int = 2, hours: int = 1) -> Comment:
    return Comment(100 + count, 7, login, text, count, ASKED + timedelta(hours=hours))


def run(bug: Bug, comments: list[Comment], rule: Any = RULE, now: datetime = NOW, **kw: Any):
    """Comments in Markdown; `test_plain_text` shows how a server without it gets them."""
    return follow_up(bug, comments, REGISTRY, rule, now, BOT, **kw)


# -- parsing commands ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/endorse", Command("endorse")),
        ("  /ENDORSE \t", Command("endorse")),
        ("Looks good.\n/Endorse\nthanks", Command("endorse")),
        ("/decline", Command("decline")),
        ("/decline  We have a list already. ", Command("decline", "We have a list already.")),
        ("/DECLINE no\n/endorse", Command("decline", "no")),
        ("/endorse please", None),
        ("/endorsed", None),
        ("/declined it", None),
        ("I /endorse this", None),
        ("> /endorse", None),
        ("  >> /decline no", None),
        ("> /endorse\n/decline not us", Command("decline", "not us")),
        ("", None),
    ],
)
def test_parse_command(text: str, expected: Command | None) -> None:
    assert parse_command(text) == expected


def test_edit_whiteboard_keeps_what_humans_wrote() -> None:
    text = "[community:x] [Endorsement-Needed] [sec] [endorsement-stale]"
    got = edit_whiteboard(
        text, add=("[endorsed]",), remove=("[endorsement-needed]", "[endorsement-stale]")
    )
    assert got == "[community:x] [sec] [endorsed]"


# -- endorse and decline ------------------------------------------------------------------------
def test_endorse_by_a_current_delegate() -> None:
    bug, comments = hispano_bug()
    other = Flag("needinfo", "?", "someone@example.org", "triager@example.org", id=90)
    bug = replace(bug, flags=(*bug.flags, other))
    got = run(bug, [*comments, said("luis@example.org", "Yes, we want it.\n/endorse")])
    assert got == Decision(
        7,
        "community-it",
        "endorsed",
        "luis, Coordinador of mozilla-hispano, endorsed in comment 2",
        "mozilla-hispano",
        ("mozilla-hispano",),
        Write(
            "community-it",
            "confirmation",
            comment="**Endorsed** by Luis García, Coordinador of Mozilla Hispano, on 2026-07-03 "
            "(comment 2).",
            whiteboard="[community:mozilla-hispano] [endorsed]",
            clear_flags=(40,),  # the bot's request to Luis; the triager's stays
        ),
    )
    assert got.write.text("f1", markdown=True).endswith(
        "\n\n-- triagebot (rule community-it; confirmation; ref f1)"
    )


def test_decline_with_reason() -> None:
    bug, comments = hispano_bug()
    answer = said("LUIS@example.org", "/decline  We already run one.\u202e!")
    got = run(bug, [*comments, answer])
    assert got is not None
    assert (got.kind, got.outcome) == ("decline", "declined")
    assert got.write.comment == (
        "**Declined** by Luis García, Coordinador of Mozilla Hispano, on 2026-07-03 (comment 2).\n"
        "Reason given: `We already run one. !`"
    )
    assert got.whiteboard == "[community:mozilla-hispano] [endorsement-declined]"
    assert got.write.clear_flags == (40,)


def test_decline_without_reason() -> None:
    bug, comments = hispano_bug()
    got = run(bug, [*comments, said("luis@example.org", "/decline")])
    assert got is not None and got.write.comment is not None
    assert got.write.comment.endswith("(comment 2).")


def test_a_command_turned_off_is_an_ordinary_comment() -> None:
    bug, comments = hispano_bug()
    only_endorse = replace(RULE, followup=replace(RULE.followup, commands=("endorse",)))
    assert run(bug, [*comments, said("luis@example.org", "/decline no")], only_endorse) is None


def test_a_delegate_of_one_community_decides_an_unknown_bug() -> None:
    bug, comments = unknown_bug()
    assert bug.whiteboard == "[endorsement-needed]"
    assert bug.flags == (Flag("needinfo", "?", "zed@example.net", BOT, id=40),)
    got = run(bug, [*comments, said("camille@example.org", "/endorse")])
    assert got is not None
    assert got.write.comment == (
        "**Endorsed** by Camille Berthelot, Présidente of Mozilla Francophone, on 2026-07-03 "
        "(comment 2)."
    )
    assert got.whiteboard == "[community:mozilla-francophone] [endorsed]"
    assert got.write.clear_flags == (40,)


@pytest.mark.parametrize(
    ("login", "why"),
    [
        ("zed@example.net", "non-delegate"),
        ("bastien@example.org", "former delegate"),
        ("luis@example.org.evil.example", "look-alike"),
        ("luís@example.org", "look-alike"),
        ("camille@example.org", "delegate of another community"),
    ],
)
def test_a_command_from_anyone_else_changes_nothing_and_is_answered_once(
    login: str, why: str
) -> None:
    bug, comments = hispano_bug()
    comments = [*comments, said(login, "/endorse")]
    got = run(bug, comments)
    assert got is not None, why
    assert (got.kind, got.whiteboard, got.write.clear_flags, got.needinfo) == (
        "who-can-endorse",
        None,
        (),
        (),
    )
    assert got.write.comment == (
        "The `/endorse` in comment 2 does not count: only a current delegate of Mozilla Hispano "
        "can endorse this request.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Luis García, Coordinador since 2022-01-01 (matrix: @luis:example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozilla-hispano"
    )
    answered = Comment(
        300, 7, BOT, got.write.text("f2", markdown=True), 3, ASKED + timedelta(hours=2)
    )
    again = said(login, "/endorse", count=4, hours=3)
    assert run(bug, [*comments, answered, again]) is None


def test_the_refusal_names_public_contacts_only() -> None:
    bug = Bug(9, "Mozilla Francophone wiki", "zed@example.net", ASKED)
    asked, ask = first_comment(bug)
    got = run(asked, [ask, said("bastien@example.org", "/endorse")])
    assert got is not None and got.write.comment is not None
    assert "@camille:example.org" in got.write.comment
    assert "+1-555-0101" not in got.write.comment
    assert "Bastien" not in got.write.comment


def two_hats() -> Registry:
    nordic = _community(
        "mozilla-nordic", "Mozilla Nordic", Delegation("luis", "Lead", date(2024, 1, 1))
    )
    return Registry.build(REGISTRY.people.values(), [*REGISTRY.communities.values(), nordic])


def test_a_delegate_of_two_communities_cannot_pick_for_an_unknown_bug() -> None:
    registry = two_hats()
    bug, comments = unknown_bug()
    got = follow_up(
        bug,
        [*comments, said("luis@example.org", "/endorse")],
        registry,
        RULE,
        NOW,
        BOT,
    )
    assert got is not None and got.kind == "who-can-endorse"
    assert got.write.comment == (
        "The `/endorse` in comment 2 does not count: only a current delegate of the community "
        "this request is for can endorse it, and this request names no community yet. The "
        "community directory lists their delegates: https://community.example.org/directory"
    )


def test_quoted_and_own_commands_never_count() -> None:
    bug, comments = hispano_bug()
    quoted = said("luis@example.org", "> /endorse\nI am not sure yet.")
    assert run(bug, [*comments, quoted]) is None
    bot = Comment(400, 7, BOT, "To answer, comment:\n/endorse", 2, ASKED)
    assert run(bug, [*comments, bot]) is None


def test_a_command_before_the_bot_asked_does_not_count() -> None:
    bug, (description, ask) = hispano_bug()
    early = said("luis@example.org", "/endorse", count=1, hours=-1)
    assert run(bug, [description, early, replace(ask, count=2)]) is None


# -- done once: read back from the bug ----------------------------------------------------------
def test_a_confirmation_on_the_bug_ends_the_follow_up() -> None:
    bug, comments = hispano_bug()
    comments = [*comments, said("luis@example.org", "/endorse")]
    got = run(bug, comments)
    assert got is not None
    posted = Comment(500, 7, BOT, got.write.text("f1", markdown=True), 3, NOW)
    # Even if a human puts [endorsement-needed] back, the bug was decided once.
    assert run(bug, [*comments, posted, said("luis@example.org", "/decline", 4)]) is None


def test_a_human_removing_the_tag_or_adding_skip_stops_it() -> None:
    bug, comments = hispano_bug()
    comments = [*comments, said("luis@example.org", "/endorse")]
    removed = replace(bug, whiteboard="[community:mozilla-hispano]")
    assert run(removed, comments) is None
    skipped = replace(bug, whiteboard=bug.whiteboard + " [triagebot-skip]")
    assert run(skipped, comments) is None


def test_no_follow_up_where_the_bot_never_asked() -> None:
    bug, (description, _) = hispano_bug()
    assert run(bug, [description, said("luis@example.org", "/endorse")]) is None


def test_a_rule_without_followup_does_nothing() -> None:
    bug, comments = hispano_bug()
    rule = replace(RULE, followup=None)
    assert run(bug, [*comments, said("luis@example.org", "/endorse")], rule) is None


def test_only_new_comments_given() -> None:
    """With `new_since`, the ask is older than what was read: commands still count; a refusal
    (at most once per bug) needs the whole history first."""
    bug, _ = hispano_bug()
    got = run(bug, [said("luis@example.org", "/endorse")], complete=False)
    assert got is not None and got.kind == "confirmation"
    got = run(bug, [said("zed@example.net", "/endorse")], complete=False)
    assert isinstance(got, ReadHistory)


# -- the reporter's answer ------------------------------------------------------------------------
def test_the_reporter_naming_a_community_retriages() -> None:
    bug, comments = unknown_bug()
    answer = said(
        "zed@example.net",
        "> Could you tell us which community this request is for?\nIt is for Mozilla Hispano.",
    )
    got = run(bug, [*comments, answer])
    assert got is not None
    assert (got.kind, got.outcome, got.community) == (
        "retriage",
        "needs-endorsement",
        "mozilla-hispano",
    )
    assert got.whiteboard == "[endorsement-needed] [community:mozilla-hispano]"
    assert got.needinfo == ("luis@example.org",)
    assert got.write.clear_flags == (40,)
    assert got.write.comment == (
        "**Re-triaged** after the reporter's answer in comment 2.\n"
        "\n"
        "**Endorsement needed**: this request is about Mozilla Hispano, and the reporter is not "
        "one of its current delegates.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Luis García, Coordinador since 2022-01-01 (matrix: @luis:example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozilla-hispano\n"
        "\n"
        "Luis García: does Mozilla Hispano support this request?"
        "\n\nTo answer, a current delegate of Mozilla Hispano comments `/endorse` or "
        "`/decline` with a reason on a line of its own."
    )
    # Once re-triaged (the community tag is there), the same answer re-triages nothing.
    posted = Comment(600, 8, BOT, got.write.text("f3", markdown=True), 3, NOW)
    after = replace(bug, whiteboard=got.whiteboard)
    assert run(after, [*comments, answer, posted]) is None


def test_the_reporter_who_is_a_delegate_is_endorsed_on_retriage() -> None:
    """Luis speaks for two communities, so his request was ambiguous until he named one."""
    registry = two_hats()
    bug = Bug(8, "A new mailing list, please", "luis@example.org", ASKED)
    decision = decide(bug, registry, RULE, ASKED)
    assert decision.outcome == "ambiguous" and decision.whiteboard is not None
    asked = replace(bug, whiteboard=decision.whiteboard)
    ask = Comment(11, 8, BOT, decision.write.text("r1", markdown=True), 1, ASKED)
    answer = said("luis@example.org", "This is for MOZILLA HISPANO")
    got = follow_up(asked, [ask, answer], registry, RULE, NOW, BOT)
    assert got is not None
    assert (got.outcome, got.whiteboard, got.needinfo) == (
        "endorsed",
        "[community:mozilla-hispano] [endorsed]",
        (),
    )
    assert got.write.comment == (
        "**Re-triaged** after the reporter's answer in comment 2.\n"
        "\n"
        "**Endorsed**: Luis García is Coordinador of Mozilla Hispano (since 2022-01-01).\n"
        "Community contacts: mailing-list: https://lists.example.org/mozilla-hispano"
    )


@pytest.mark.parametrize(
    "text", ["Mozilla Hispano or Mozilla Francophone", "no idea", "> Mozilla Hispano"]
)
def test_an_answer_naming_no_single_community_changes_nothing(text: str) -> None:
    bug, comments = unknown_bug()
    assert run(bug, [*comments, said("zed@example.net", text)]) is None


def test_someone_else_naming_a_community_is_not_the_reporter() -> None:
    bug, comments = unknown_bug()
    assert run(bug, [*comments, said("other@example.net", "Mozilla Hispano")]) is None


# -- stale -----------------------------------------------------------------------------------------
STALE_AT = ASKED + timedelta(days=14)


def test_not_stale_before_stale_after_days() -> None:
    bug, comments = hispano_bug()
    assert run(bug, comments, now=STALE_AT - timedelta(seconds=1)) is None


def test_stale_with_reminder() -> None:
    bug, comments = hispano_bug()
    got = run(bug, comments, now=STALE_AT)
    assert got is not None
    assert (got.kind, got.needinfo, got.write.clear_flags) == ("reminder", (), ())
    assert got.whiteboard == "[community:mozilla-hispano] [endorsement-needed] [endorsement-stale]"
    assert got.write.comment == (
        "**Still waiting** for an answer after 14 days from Luis García.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Luis García, Coordinador since 2022-01-01 (matrix: @luis:example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozilla-hispano\n"
        "\n"
        "To answer, a current delegate of Mozilla Hispano comments `/endorse` or `/decline` "
        "with a reason on a line of its own."
    )
    # Read back: the stale tag is there; and if a human removes it, the reminder is there.
    assert run(replace(bug, whiteboard=got.whiteboard), comments, now=STALE_AT) is None
    posted = Comment(700, 7, BOT, got.write.text("f4", markdown=True), 2, STALE_AT)
    again = run(bug, [*comments, posted], now=STALE_AT + timedelta(days=30))
    assert again is not None and (again.kind, again.write.comment) == ("stale", None)


def test_stale_without_reminder_is_a_tag() -> None:
    bug, comments = hispano_bug()
    got = run(bug, comments, NO_REMIND, now=STALE_AT)
    assert got == Decision(
        7,
        "community-it",
        "awaiting",
        "awaiting an answer for 14 days",
        "mozilla-hispano",
        ("mozilla-hispano",),
        Write(
            "community-it",
            "stale",
            whiteboard="[community:mozilla-hispano] [endorsement-needed] [endorsement-stale]",
        ),
    )
    assert got.acts


def test_the_reminder_never_asks_again_who_cleared_the_request() -> None:
    """Luis cleared the bot's needinfo without answering: the reminder names nobody and asks
    nobody; it only sets the tag and says who can answer."""
    bug, comments = hispano_bug()
    cleared = replace(bug, flags=())
    got = run(cleared, comments, now=STALE_AT)
    assert got is not None and got.needinfo == ()
    assert got.write.comment is not None
    assert got.write.comment.startswith("**Still waiting** for an answer after 14 days.\n")


def test_a_retriage_is_a_new_ask_for_staleness() -> None:
    bug, comments = unknown_bug()
    answer = said("zed@example.net", "For Mozilla Hispano", hours=24 * 13)
    got = run(bug, [*comments, answer], now=STALE_AT)
    assert got is not None and got.kind == "retriage"
    posted = Comment(800, 8, BOT, got.write.text("f5", markdown=True), 3, STALE_AT)
    after = replace(bug, whiteboard=got.whiteboard, flags=())
    assert run(after, [*comments, answer, posted], now=STALE_AT + timedelta(days=13)) is None
    late = run(after, [*comments, answer, posted], now=STALE_AT + timedelta(days=14))
    assert late is not None and late.kind == "reminder"


def test_stale_with_only_new_comments_reads_the_history_first() -> None:
    bug, comments = hispano_bug()
    got = run(bug, comments[1:], now=STALE_AT, complete=False)
    assert isinstance(got, ReadHistory)
    assert run(bug, [], now=STALE_AT, complete=False) is None  # when it asked is not known


def test_plain_text_for_a_server_that_does_not_render_markdown() -> None:
    bug, comments = hispano_bug()
    answer = said("luis@example.org", "/decline `rm -rf` **no**")
    got = follow_up(bug, [*comments, answer], REGISTRY, RULE, NOW, BOT)
    assert isinstance(got, Decision) and got.write is not None
    assert got.write.text("f9", markdown=False) == (
        "Declined by Luis García, Coordinador of Mozilla Hispano, on 2026-07-03 (comment 2).\n"
        "Reason given: `rm -rf` no"  # markup.plain_text: strong markers go, even in code
        "\n\n-- triagebot (rule community-it; decline; ref f9)"
    )
    assert got.write.comment is not None
    assert got.write.comment.endswith("Reason given: `` `rm -rf` **no** ``")


def test_the_sample_context_is_the_real_one() -> None:
    """Templates are checked at load against the sample: what they see at run time must have
    the same keys, down to the community's (a confirmation's lists no delegates)."""
    seen: dict[str, dict[str, Any]] = {}

    class Recording:
        def __init__(self, kind: str) -> None:
            self.kind = kind

        def render(self, context: dict[str, Any]) -> str:
            seen[self.kind] = context
            return "seen"

    assert RULE.followup is not None
    templates = {kind: Recording(kind) for kind in KINDS}
    rule = replace(RULE, followup=replace(RULE.followup, templates=templates))
    bug, comments = hispano_bug()
    for login, text in [("luis", "/endorse"), ("luis", "/decline no"), ("nadia", "/endorse")]:
        run(bug, [*comments, said(f"{login}@example.org", text)], rule)
    run(bug, comments, rule, now=STALE_AT)
    unknown, asked = unknown_bug()
    run(unknown, [*asked, said("zed@example.net", "For Mozilla Hispano")], rule)
    assert seen.keys() == set(KINDS)

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        return tuple(shape(item) for item in value[:1]) if isinstance(value, tuple) else None

    for kind, real in seen.items():
        sample = sample_context(kind, RULE.name, None)
        if kind == "retriage":  # the outcome's context: see test_triage
            assert real.keys() == sample.keys()
        else:
            assert shape(real) == shape(sample), kind
    assert sample_context("confirmation", "r", None)["community"]["delegates"] == ()
