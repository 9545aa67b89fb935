"""decide(): every outcome's exact comment, whiteboard and needinfo, and what must never happen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triagebot.core import markup, triage
from triagebot.core.bugs import OUTCOMES, Bug, Flag
from triagebot.core.registry import (
    Community,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
)
from triagebot.core.triage import decide, sanitize
from triagebot.files.rules import OutcomeAction, Rule, load_rules, template_environment

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
RULES = Path(__file__).resolve().parents[1] / "rules"
PRIVATE = ("+1-555-0100", "+1-555-0102", "+1-555-0199", "bureau@mozfr.example.org")
FORMER_CONTACTS = ("@bastien:example.org", "bastien.pub@example.org")


def person(
    handle: str,
    name: str,
    *contacts: Contact,
    emails: tuple[str, ...] | None = None,
    bugzilla_id: int | None = None,
) -> Person:
    logins = (f"{handle}@example.org",) if emails is None else emails
    return Person(handle, name, logins, bugzilla_id, contacts)


def matrix(handle: str) -> Contact:
    return Contact("matrix", f"@{handle}:example.org", True)


def community(slug: str, name: str, aliases: tuple[str, ...], **kw: Any) -> Community:
    return Community(slug, name, "active", date(2026, 1, 1), Governance("board"), aliases, **kw)


def build_registry() -> Registry:
    people = [
        person(
            "jdoe",
            "Jane Doe",
            matrix("jdoe"),
            Contact("phone", PRIVATE[0], False),
            emails=("jane@example.org", "jdoe@mozfr.example.org"),
            bugzilla_id=1001,
        ),
        person(
            "nadia",
            "Nadia Benslimane",
            Contact("email", "tresorerie@mozfr.example.org", True),
            Contact("phone", PRIVATE[1], False),
        ),
        person(
            "bastien",
            "Bastien Morvan",
            matrix("bastien"),
            Contact("email", "bastien.pub@example.org", True),
        ),
        person("yann", "Yann Kerbrat", matrix("yann"), Contact("phone", PRIVATE[2], False)),
        person("luis", "Luis García", matrix("luis")),
        person("maria", "María López", emails=()),
        person("pat", "Pat Lee", matrix("pat")),
    ]
    mozfr = community(
        "mozilla-francophone",
        "Mozilla Francophone",
        ("MozFr",),
        contacts=(
            Contact("mailing-list", "https://lists.example.org/mozfr", True),
            Contact("email", PRIVATE[3], False),
        ),
        delegates=(
            Delegation("jdoe", "Présidente", date(2023, 6, 1)),
            Delegation("nadia", "Trésorière", date(2023, 6, 1)),
            Delegation("bastien", "Président", date(2019, 6, 1), date(2023, 6, 1)),
        ),
        resources=(Resource("domain", "mozfr.example.org", ("yann", "bastien")),),
    )
    hispano = community(
        "mozilla-hispano",
        "Mozilla Hispano",
        ("MozHispano",),
        contacts=(Contact("matrix", "#hispano:example.org", True),),
        delegates=(
            Delegation("luis", "Coordinador", date(2022, 1, 1)),
            Delegation("maria", "Tesorera", date(2022, 1, 1)),
        ),
        resources=(
            Resource("domain", "mozhispano.example.org", ("luis",)),
            Resource("repo", "https://code.example.org/hispano/web", ("luis",)),
        ),
    )
    esperanto = community(
        "mozilla-esperanto",
        "Mozilla Esperanto",
        ("MozEo",),
        delegates=(Delegation("pat", "Kunordiganto", date(2024, 1, 1)),),
    )
    nordic = community(
        "mozilla-nordic",
        "Mozilla Nordic",
        ("Mozilla Norden",),
        delegates=(Delegation("pat", "Lead", date(2024, 1, 1)),),
    )
    coimbra = replace(
        community("mcc-coimbra", "Mozilla Campus Club Coimbra", ("MCC Coimbra",)), status="retired"
    )
    return Registry.build(people, [mozfr, hispano, esperanto, nordic, coimbra])


REGISTRY = build_registry()
(RULE,) = load_rules(RULES)


def bug(summary: str, creator: str = "someone@example.net", **kw: Any) -> Bug:
    return Bug(7, summary, creator, NOW, **kw)


def run(b: Bug, rule: Rule = RULE, registry: Registry = REGISTRY):
    """Comments are Markdown; how a server without it gets them is tested on its own below."""
    return decide(b, registry, rule, NOW)


# -- each outcome: exact comment, whiteboard, needinfo ---------------------------------------------
def test_endorsed() -> None:
    d = run(bug("Renew TLS on https://mozfr.example.org/wiki", "jane@example.org"))
    assert d.outcome == "endorsed"
    assert d.community == "mozilla-francophone"
    assert d.communities == ("mozilla-francophone",)
    assert d.reason == "reporter jdoe is Présidente of mozilla-francophone since 2023-06-01"
    assert d.write.comment == (
        "**Endorsed**: Jane Doe is Présidente of Mozilla Francophone (since 2023-06-01).\n"
        "Community contacts: mailing-list: https://lists.example.org/mozfr\n"
        "\n"
        "Mentioned resources:\n"
        "- mozfr.example.org (domain of Mozilla Francophone): Yann Kerbrat "
        "(matrix: @yann:example.org), Bastien Morvan"
    )
    assert d.whiteboard == "[community:mozilla-francophone] [endorsed]"
    assert d.needinfo == ()
    assert d.write.text("r1", markdown=True).endswith(
        "\n\n-- triagebot (rule community-it; ref r1)"
    )


def test_former_delegate() -> None:
    d = run(bug("Mailing list for MozFr", "bastien@example.org"))
    assert d.outcome == "former-delegate"
    assert d.reason == "reporter bastien was Président of mozilla-francophone until 2023-06-01"
    assert d.write.comment == (
        "**Former delegate**: Bastien Morvan was Président of Mozilla Francophone until "
        "2023-06-01, so this request is not endorsed yet.\n"
        "\n"
        "Current delegates of Mozilla Francophone:\n"
        "- Jane Doe, Présidente since 2023-06-01 (matrix: @jdoe:example.org)\n"
        "- Nadia Benslimane, Trésorière since 2023-06-01 (email: tresorerie@mozfr.example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozfr\n"
        "\n"
        "Jane Doe, Nadia Benslimane: does Mozilla Francophone support this request?"
        "\n\nTo answer, a current delegate of Mozilla Francophone comments `/endorse` or "
        "`/decline` with a reason on a line of its own."
    )
    assert d.whiteboard == "[community:mozilla-francophone] [endorsement-needed]"
    assert d.needinfo == ("jane@example.org", "nadia@example.org")


def test_former_delegate_naming_nothing() -> None:
    d = run(bug("Please help", "bastien@example.org"))
    assert (d.outcome, d.community) == ("former-delegate", "mozilla-francophone")


def test_needs_endorsement() -> None:
    d = run(bug("A wiki for Mozilla Hispano"))
    assert d.outcome == "needs-endorsement"
    assert d.reason == (
        "bug names mozilla-hispano; reporter someone@example.net is not one of its current "
        "delegates"
    )
    assert d.write.comment == (
        "**Endorsement needed**: this request is about Mozilla Hispano, and the reporter is not "
        "one of its current delegates.\n"
        "\n"
        "Current delegates of Mozilla Hispano:\n"
        "- Luis García, Coordinador since 2022-01-01 (matrix: @luis:example.org)\n"
        "- María López, Tesorera since 2022-01-01\n"
        "\n"
        "Community contacts: matrix: #hispano:example.org\n"
        "\n"
        "Luis García: does Mozilla Hispano support this request?"
        "\n\nTo answer, a current delegate of Mozilla Hispano comments `/endorse` or "
        "`/decline` with a reason on a line of its own."
    )
    assert d.whiteboard == "[community:mozilla-hispano] [endorsement-needed]"
    assert d.needinfo == ("luis@example.org",)  # María has no login: skipped


def test_needs_endorsement_of_a_community_without_delegates() -> None:
    d = run(bug("Archive the MCC Coimbra site"))
    assert (d.outcome, d.community, d.needinfo) == ("needs-endorsement", "mcc-coimbra", ())
    assert d.write.comment == (
        "**Endorsement needed**: this request is about Mozilla Campus Club Coimbra, and the "
        "reporter is not one of its current delegates.\n"
        "\n"
        "Mozilla Campus Club Coimbra has no current delegate on record; see "
        "https://community.example.org/directory."
    )


def test_unknown() -> None:
    d = run(bug("Need a new mailing list", creator_name="Some One"))
    assert d.outcome == "unknown"
    assert (d.community, d.communities) == (None, ())
    assert d.reason == (
        "reporter someone@example.net holds no delegate role and the bug names no community"
    )
    assert d.write.comment == (
        "**Which community?** This request names no community we know of, and the reporter is "
        "not a delegate of one.\n"
        "\n"
        "Could you tell us which community this request is for, and who there supports it? "
        "The community directory lists them all, with their contacts: "
        "https://community.example.org/directory"
    )
    assert d.whiteboard == "[endorsement-needed]"
    assert d.needinfo == ("someone@example.net",)


def test_ambiguous() -> None:
    d = run(bug("Joint event of MozFr and MozHispano at https://mozhispano.example.org/evento"))
    assert d.outcome == "ambiguous"
    assert (d.community, d.communities) == (None, ("mozilla-francophone", "mozilla-hispano"))
    assert d.reason == (
        "bug names several communities (mozilla-francophone, mozilla-hispano); "
        "reporter someone@example.net speaks for none alone"
    )
    assert d.write.comment == (
        "**Which community?** This request could be for several communities:\n"
        "- Mozilla Francophone\n"
        "- Mozilla Hispano\n"
        "\n"
        "Could you tell us which one it is for? The community directory lists them all: "
        "https://community.example.org/directory\n"
        "\n"
        "Mentioned resources:\n"
        "- mozhispano.example.org (domain of Mozilla Hispano): Luis García "
        "(matrix: @luis:example.org)"
    )
    assert d.whiteboard == "[endorsement-needed]"
    assert d.needinfo == ("someone@example.net",)


# -- delegates of several communities, and of other communities ------------------------------------
def test_delegate_of_several_naming_one_is_endorsed_for_it() -> None:
    d = run(bug("MozEo wiki", "pat@example.org"))
    assert (d.outcome, d.community) == ("endorsed", "mozilla-esperanto")
    assert d.reason == "reporter pat is Kunordiganto of mozilla-esperanto since 2024-01-01"


def test_delegate_of_several_naming_none_is_ambiguous() -> None:
    d = run(bug("A new server", "pat@example.org"))
    assert d.outcome == "ambiguous"
    assert d.communities == ("mozilla-esperanto", "mozilla-nordic")
    assert d.reason == (
        "reporter pat has roles in several communities (mozilla-esperanto, mozilla-nordic); "
        "bug names none"
    )
    assert "- Mozilla Esperanto\n- Mozilla Nordic\n" in (d.write.comment or "")


def test_delegate_of_several_naming_both_is_ambiguous() -> None:
    d = run(bug("Mozilla Norden and MozEo", "pat@example.org"))
    assert d.outcome == "ambiguous"
    assert d.communities == ("mozilla-nordic", "mozilla-esperanto")


def test_delegate_naming_only_another_community_needs_its_endorsement() -> None:
    d = run(bug("Please reset the Mozilla Hispano wiki", "jane@example.org"))
    assert (d.outcome, d.community) == ("needs-endorsement", "mozilla-hispano")
    assert d.needinfo == ("luis@example.org",)


def test_delegate_naming_own_and_other_community_is_endorsed_with_a_warning() -> None:
    d = run(bug("MozFr and MozHispano shared list", "jane@example.org"))
    assert (d.outcome, d.community) == ("endorsed", "mozilla-francophone")
    assert d.communities == ("mozilla-francophone", "mozilla-hispano")
    assert "Also mentioned: Mozilla Hispano, which this endorsement does not cover." in (
        d.write.comment or ""
    )


def test_identity_by_bugzilla_id_survives_an_email_change_and_says_so() -> None:
    d = run(bug("MozFr", "new-address@example.net", creator_id=1001))
    assert d.outcome == "endorsed"
    sentence = (
        "matched by Bugzilla account id; login new-address@example.net is not listed for Jane Doe"
    )
    assert d.reason.endswith(f"; {sentence}")  # what explain shows
    assert (d.write.comment or "").endswith(f"\n\nNote: {sentence}.")
    # a listed login, with or without the id, needs no such note
    for listed in (
        run(bug("MozFr", "JANE@example.org", creator_id=1001)),
        run(bug("MozFr", "jane@example.org")),
    ):
        assert "matched by Bugzilla account id" not in listed.reason + (listed.write.comment or "")


@pytest.mark.parametrize(
    "login",
    [
        "j\u0430ne@example.org",  # Cyrillic а
        "jane@examp1e.org",  # digit 1 for l
        "jane@example.org.evil.example",
        "jane@exаmple.org",  # Cyrillic а in the domain
    ],
)
def test_look_alike_login_is_not_endorsed(login: str) -> None:
    d = run(bug("MozFr server", login, creator_name="Jane Doe"))
    assert d.outcome == "needs-endorsement"
    assert "Jane Doe" in (d.write.comment or "")  # listed as the delegate to ask...
    assert not (d.write.comment or "").startswith("**Endorsed**")
    assert d.needinfo == ("jane@example.org", "nadia@example.org")  # ...and asked


def test_look_alike_login_is_flagged_in_the_comment_and_never_endorsed() -> None:
    d = run(bug("Transfer the MozFr domain to me", "jane@examp1e.org"))
    assert d.outcome == "needs-endorsement"
    assert d.lookalike == (
        "the reporter's login jane@examp1e.org resembles jane@example.org, a login of Jane Doe "
        "(jdoe) in the registry, but is another account: it contains the digit '1' where the "
        "registry has 'l'; never endorsed"
    )
    assert d.write.comment == (
        "**Look-alike login**: the reporter's login `jane@examp1e.org` resembles "
        "`jane@example.org`, a login of Jane Doe in the delegate registry, but it is another "
        "account: it contains the digit '1' where the registry has 'l'. Nothing in this "
        "comment endorses the reporter.\n"
        "\n"
        "**Endorsement needed**: this request is about Mozilla Francophone, and the reporter "
        "is not one of its current delegates.\n"
        "\n"
        "Current delegates of Mozilla Francophone:\n"
        "- Jane Doe, Présidente since 2023-06-01 (matrix: @jdoe:example.org)\n"
        "- Nadia Benslimane, Trésorière since 2023-06-01 (email: tresorerie@mozfr.example.org)\n"
        "\n"
        "Community contacts: mailing-list: https://lists.example.org/mozfr\n"
        "\n"
        "Jane Doe, Nadia Benslimane: does Mozilla Francophone support this request?"
        "\n\nTo answer, a current delegate of Mozilla Francophone comments `/endorse` or "
        "`/decline` with a reason on a line of its own."
    )
    # the real delegate, not the look-alike, is asked
    assert d.needinfo == ("jane@example.org", "nadia@example.org")


def test_plain_text_comments_for_a_server_without_markdown() -> None:
    """Upstream Bugzilla shows comments as typed: no `**`, no backticks, same words."""
    d = run(bug("Renew TLS on https://mozfr.example.org/wiki", "jane@example.org"))
    assert d.write.text("r1", markdown=False) == (
        "Endorsed: Jane Doe is Présidente of Mozilla Francophone (since 2023-06-01).\n"
        "Community contacts: mailing-list: https://lists.example.org/mozfr\n"
        "\n"
        "Mentioned resources:\n"
        "- mozfr.example.org (domain of Mozilla Francophone): Yann Kerbrat "
        "(matrix: @yann:example.org), Bastien Morvan"
        "\n\n-- triagebot (rule community-it; ref r1)"
    )
    d = run(bug("Need a server", "jane@examp1e.org"))
    assert d.write.text("r1", markdown=False) == (
        "Look-alike login: the reporter's login jane@examp1e.org resembles jane@example.org, "
        "a login of Jane Doe in the delegate registry, but it is another account: it contains "
        "the digit '1' where the registry has 'l'. Nothing in this comment endorses the "
        "reporter.\n"
        "\n"
        "Which community? This request names no community we know of, and the reporter is not "
        "a delegate of one.\n"
        "\n"
        "Could you tell us which community this request is for, and who there supports it? "
        "The community directory lists them all, with their contacts: "
        "https://community.example.org/directory"
        "\n\n-- triagebot (rule community-it; ref r1)"
    )


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_plain_text_is_the_markdown_without_its_markers(outcome: str) -> None:
    context = triage.sample_context(outcome, RULE.outcomes[outcome].needinfo, "r", None)
    markdown = RULE.render(outcome, context)
    assert "**" in markdown
    plain = markup.plain_text(markdown)
    assert "**" not in plain and "`" not in plain
    assert plain == markdown.replace("**", "").replace("`", "")


def test_a_stranger_with_no_lookalike_gets_no_such_paragraph() -> None:
    d = run(bug("Need a server", "stranger@example.net"))
    assert d.lookalike is None
    assert "Look-alike" not in (d.write.comment or "")


# -- whiteboard ------------------------------------------------------------------------------------
def test_skip_tag_means_untouched() -> None:
    d = run(bug("MozFr", "jane@example.org", whiteboard="[foo] [TriageBot-Skip]"))
    assert (d.outcome, d.write, d.whiteboard, d.needinfo) == ("skipped", None, None, ())
    assert not d.acts


def test_existing_whiteboard_kept_and_tags_not_duplicated() -> None:
    d = run(bug("MozFr", "jane@example.org", whiteboard="  [infra][ENDORSED] keep me "))
    assert d.whiteboard == "[infra][ENDORSED] keep me [community:mozilla-francophone]"


def test_whiteboard_left_alone_when_every_tag_is_there() -> None:
    wb = "[community:mozilla-francophone] [endorsed]"
    assert run(bug("MozFr", "jane@example.org", whiteboard=wb)).whiteboard is None


# -- finding the community -------------------------------------------------------------------------
BOTH = ("mozilla-esperanto", "mozilla-francophone")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://mozfr.example.org/wiki/Accueil.", ("mozilla-francophone",)),
        ("(<https://MOZFR.example.org:443/x?y=1#z>)", ("mozilla-francophone",)),
        ("wiki.mozfr.example.org is down", ("mozilla-francophone",)),
        ("mail me at admin@mozhispano.example.org", ("mozilla-hispano",)),
        ("https://code.example.org/hispano/web/issues/3", ("mozilla-hispano",)),
        ("[site](https://mozhispano.example.org)", ("mozilla-hispano",)),
        ("notmozfr.example.org, xmozhispano.example.org", ()),
        ("mozilla francophone\u00a0wiki", ("mozilla-francophone",)),
        ("MOZILLA-FRANCOPHONE", ("mozilla-francophone",)),
        ("mozfrance and amozfr are not names", ()),
        ("Mozilla Nordics", ()),
        ("mozilla-esperanto\nand Mozilla\nFrancophone", BOTH),
        ("", ()),
    ],
)
def test_communities_found_in_text(text: str, expected: tuple[str, ...]) -> None:
    found = triage.text_index(REGISTRY).find(text)
    assert tuple(c.slug for c in found.communities) == expected


@pytest.mark.parametrize(
    "text",
    ["mozfr.example.org.evil.test", "https://evil.test/mozfr.example.org", "xmozfr.example.org"],
)
def test_resources_match_whole_hostnames_only(text: str) -> None:
    assert triage.text_index(REGISTRY).find(text).resources == ()


def test_community_found_via_domain_inside_a_url() -> None:
    d = run(bug("Certificate expired", description="Visit https://mozfr.example.org/wiki today"))
    assert (d.outcome, d.community) == ("needs-endorsement", "mozilla-francophone")
    assert "- mozfr.example.org (domain of Mozilla Francophone)" in (d.write.comment or "")


def test_text_index_built_once_per_registry() -> None:
    assert triage.text_index(REGISTRY) is triage.text_index(REGISTRY)
    other = build_registry()
    assert triage.text_index(other) is not triage.text_index(REGISTRY)


def test_only_the_start_of_a_one_megabyte_description_is_scanned() -> None:
    """Its cost is measured by bench/triage_bench.py."""
    big = "lorem ipsum dolor " * 60_000  # ~1 MB
    tail = run(bug("A request", description=big + " MozFr"))
    head = run(bug("A request", description="MozFr " + big))
    assert tail.outcome == "unknown"
    assert head.outcome == "needs-endorsement"


def test_a_name_among_ten_thousand_communities_is_found() -> None:
    """How fast is measured by bench/triage_bench.py."""
    communities = [
        community(f"c{i}", f"Community Number {i}", (f"Alias{i}",)) for i in range(10_000)
    ]
    registry = Registry.build([], communities)
    text = "Community Number 9999 " + "word " * 4000
    found = triage.text_index(registry).find(text)
    assert [c.slug for c in found.communities] == ["c9999"]


# -- privacy ---------------------------------------------------------------------------------------
ALL_OUTCOME_BUGS = [
    bug("Renew https://mozfr.example.org/", "jane@example.org"),
    bug("MozFr list, mozfr.example.org", "bastien@example.org"),
    bug("MozFr request at mozfr.example.org"),
    bug("Nothing named"),
    bug("MozFr or MozHispano? mozfr.example.org"),
]


def test_private_and_former_contacts_never_in_comments() -> None:
    decisions = [run(b) for b in ALL_OUTCOME_BUGS]
    assert [d.outcome for d in decisions] == list(OUTCOMES)
    for d in decisions:
        for value in (*PRIVATE, *FORMER_CONTACTS):
            assert value not in (d.write.comment or ""), (d.outcome, value)


def test_former_delegate_named_but_unreachable_as_resource_owner() -> None:
    d = run(bug("mozfr.example.org", "jane@example.org"))
    assert "Bastien Morvan\n" in (d.write.comment or "") + "\n"
    assert "@bastien" not in (d.write.comment or "")


def test_context_holds_plain_data_only() -> None:
    context = triage.sample_context("endorsed", "delegates", "r", None)

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, tuple):
            for item in value:
                walk(item)
        else:
            assert value is None or isinstance(value, str | int | bool), type(value)

    walk(context)


def test_real_context_has_the_sample_shape() -> None:
    """Templates are checked at load against the sample; a real context must look the same."""
    for b in ALL_OUTCOME_BUGS:
        verdict = triage.analyse(b, REGISTRY, NOW.date())
        real = triage.build_context(b, REGISTRY, verdict, (), "r", None)
        sample = triage.sample_context(verdict.outcome, "nobody", "r", None)
        assert real.keys() == sample.keys()
        for key in ("reporter", "community", "former_role"):
            if real[key] is not None:
                assert real[key].keys() == sample[key].keys(), key


# -- needinfo --------------------------------------------------------------------------------------
def test_needinfo_capped() -> None:
    d = run(bug("MozFr", "bastien@example.org"), rule=replace(RULE, needinfo_cap=1))
    assert d.needinfo == ("jane@example.org",)
    assert d.write.comment is not None and "\nJane Doe: does Mozilla Francophone" in d.write.comment


def test_needinfo_cap_zero_asks_nobody() -> None:
    d = run(bug("MozFr", "bastien@example.org"), rule=replace(RULE, needinfo_cap=0))
    assert d.needinfo == ()
    assert "support this request?" not in (d.write.comment or "")


def test_no_second_needinfo_for_someone_already_asked() -> None:
    flags = (
        Flag("needinfo", "?", requestee="JDOE@mozfr.example.org"),  # Jane, under another login
        Flag("needinfo", "+", requestee="nadia@example.org"),  # answered: not open
    )
    d = run(bug("MozFr", "bastien@example.org", flags=flags))
    assert d.needinfo == ("nadia@example.org",)


def test_reporter_with_an_open_needinfo_is_not_asked_again() -> None:
    flags = (Flag("needinfo", "?", requestee="someone@example.net"),)
    assert run(bug("Nothing named", flags=flags)).needinfo == ()


def test_reporter_never_asked_as_a_delegate() -> None:
    endorsed = replace(RULE.outcomes["endorsed"], needinfo="delegates")
    rule = replace(RULE, outcomes={**RULE.outcomes, "endorsed": endorsed})
    assert run(bug("MozFr", "jane@example.org"), rule=rule).needinfo == ("nadia@example.org",)


# -- untrusted text --------------------------------------------------------------------------------
def echo_rule() -> Rule:
    """A rule whose every template echoes the (sanitised) summary."""
    env = template_environment({"e": ("Summary: {{ summary }}", "e")})
    action = OutcomeAction("e", (), "nobody")
    return replace(
        RULE,
        outcomes=dict.fromkeys(OUTCOMES, action),
        templates=dict.fromkeys(OUTCOMES, env.get_template("e")),
    )


def test_bug_text_is_never_evaluated() -> None:
    text = "{{ 7*7 }} {% for x in range(3) %}{{ x }}{% endfor %} {% for %} {{ ''.__class__ }}"
    d = run(bug(text, description=text))
    assert d.outcome == "unknown"
    assert "49" not in (d.write.comment or "")
    echoed = run(bug(text), rule=echo_rule())
    assert echoed.write.comment == f"Summary: {text}"


def test_echoed_text_is_sanitised() -> None:
    evil = "Re\u202eset\x1b[31m\u200b MozFr\nFAKE: **Endorsed**" + "x" * 300
    d = run(bug(evil), rule=echo_rule())
    assert d.write.comment is not None
    assert d.write.comment.startswith("Summary: Re set [31m  MozFr FAKE:".replace("  ", " "))
    assert (
        "\u202e" not in d.write.comment
        and "\x1b" not in d.write.comment
        and "\n" not in d.write.comment
    )
    assert len(d.write.comment) == len("Summary: ") + triage.ECHO_LIMIT


def test_sanitize() -> None:
    assert sanitize("a\tb\u2066c\u2069\u200d d\u2028e", 80) == "a b c d e"
    assert sanitize("abcdef", 4) == "abc…"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    summary=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    "MozFr",
                    "Mozilla Hispano",
                    "MozEo",
                    "https://mozfr.example.org/x",
                    "mozhispano.example.org",
                    *PRIVATE,
                    *FORMER_CONTACTS,
                    "{{ 7*7 }}",
                    "{% for %}",
                    "\u202e",
                    "\x00",
                    " ",
                    "\n",
                    "ß",
                    "İ",
                    "@",
                    "://",
                    ".",
                ]
            ),
            max_size=12,
        ).map("".join),
    ),
    creator=st.sampled_from(
        ["jane@example.org", "bastien@example.org", "pat@example.org", "x@example.net", ""]
    ),
    whiteboard=st.sampled_from(["", "[endorsed]", "[triagebot-skip]", "{{ x }}"]),
)
def test_decide_never_raises_nor_leaks(summary: str, creator: str, whiteboard: str) -> None:
    d = run(bug(summary, creator, whiteboard=whiteboard, description=summary))
    assert d.outcome in (*OUTCOMES, "skipped")
    for value in PRIVATE:
        if value not in summary:  # the shipped templates echo no bug text, but be exact
            assert d.write is None or value not in (d.write.comment or "")
    if d.outcome != "skipped":
        assert d.write is not None and d.write.comment
        assert len(d.needinfo) <= RULE.needinfo_cap
