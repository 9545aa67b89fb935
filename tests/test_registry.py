"""Registry look-ups: exact identity, forgiving community names, roles as of a given day."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from triagebot.core.registry import (
    Community,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
)

TRANSITION = date(2025, 6, 1)  # alice hands mozfr over to bob


def _community(slug: str, name: str, **fields: object) -> Community:
    return Community(
        slug=slug,
        name=name,
        status="active",
        reviewed=date(2026, 1, 15),
        governance=Governance("elected board"),
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def registry() -> Registry:
    people = [
        Person("alice", "Alice Martin", ("alice@example.org", "Alice.M@Mozfr.example.org"), 1001),
        Person("bob", "Bob Durand", ("bob@example.org",), 1002),
        Person("jose", "José Núñez", (unicodedata.normalize("NFC", "josé@example.org"),), None),
        Person(
            "carol",
            "Carol Li",
            ("carol@example.org",),
            1003,
            (Contact("matrix", "@carol:example.org", True),),
        ),
    ]
    mozfr = _community(
        "mozfr",
        "Mozilla Francophone",
        aliases=("MozFr", "Mozilla FR"),
        contacts=(Contact("mailing-list", "https://lists.example.org/mozfr", True),),
        delegates=(
            Delegation("alice", "Présidente", date(2021, 6, 1), TRANSITION),
            Delegation("bob", "Président", TRANSITION),
            Delegation("carol", "Trésorière", date(2027, 1, 1)),
        ),
        resources=(Resource("domain", "mozfr.example.org", ("bob",)),),
    )
    mozes = _community(
        "mozilla-hispano",
        "Mozilla Hispano",
        delegates=(Delegation("alice", "Mentor", date(2024, 1, 1)),),
        resources=(Resource("repo", "https://git.example.org/hispano/web", ("jose",)),),
    )
    return Registry.build(people, [mozfr, mozes])


# -- identity: exact, never fuzzy ------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "handle"),
    [
        ("alice@example.org", "alice"),
        ("ALICE@Example.ORG", "alice"),
        ("  alice@example.org ", "alice"),
        ("alice.m@mozfr.example.org", "alice"),
        (unicodedata.normalize("NFD", "josé@example.org"), "jose"),  # decomposed é
        (unicodedata.normalize("NFC", "JOSÉ@example.org"), "jose"),
    ],
)
def test_person_by_email_matches_case_insensitively_after_nfc(
    registry: Registry, email: str, handle: str
) -> None:
    person = registry.person_by_email(email)
    assert person is not None and person.handle == handle


@pytest.mark.parametrize(
    "email",
    [
        "alice@examp1e.org",  # digit one for the letter l
        "\u0430lice@example.org",  # Cyrillic а
        "alice@example.org.evil.example",
        "alice@example.or",
        "alice+bugs@example.org",
        "jose@example.org",  # e without the accent
        "",
    ],
)
def test_look_alike_emails_do_not_match(registry: Registry, email: str) -> None:
    assert registry.person_by_email(email) is None


def test_person_by_bugzilla_id(registry: Registry) -> None:
    assert registry.person_by_bugzilla_id(1002).handle == "bob"
    assert registry.person_by_bugzilla_id(9999) is None


def test_identify_prefers_the_bugzilla_id_over_the_email(registry: Registry) -> None:
    assert registry.identify(1002, "alice@example.org").handle == "bob"
    assert registry.identify(9999, "alice@example.org").handle == "alice"
    assert registry.identify(None, None) is None


# -- communities: by any of their names --------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ["mozfr", "MOZFR", "Mozilla Francophone", "mozilla  francophone", "MozFr", "mozilla fr"],
)
def test_community_by_slug_name_or_alias(registry: Registry, query: str) -> None:
    community = registry.community(query)
    assert community is not None and community.slug == "mozfr"


def test_unknown_community(registry: Registry) -> None:
    assert registry.community("Mozilla Francophones") is None


def test_public_contacts_only(registry: Registry) -> None:
    assert registry.people["carol"].public_contacts == (
        Contact("matrix", "@carol:example.org", True),
    )


# -- roles over time ---------------------------------------------------------------------------
def test_roles_before_the_transition(registry: Registry) -> None:
    roles = registry.roles_of("alice", date(2025, 5, 31))
    assert [(r.community.slug, r.current) for r in roles] == [
        ("mozfr", True),
        ("mozilla-hispano", True),
    ]
    assert registry.roles_of("bob", date(2025, 5, 31)) == []


def test_roles_after_the_transition(registry: Registry) -> None:
    roles = registry.roles_of("alice", TRANSITION)
    assert [(r.community.slug, r.current) for r in roles] == [
        ("mozilla-hispano", True),
        ("mozfr", False),
    ]
    former = roles[1]
    assert former.delegation.until == TRANSITION
    assert [d.person for d in former.holders_now] == ["bob"]
    (bob,) = registry.roles_of("bob", TRANSITION)
    assert bob.current and bob.delegation.title == "Président"


def test_a_term_starting_in_the_future_is_not_a_role_yet(registry: Registry) -> None:
    assert registry.roles_of("carol", date(2026, 12, 31)) == []
    (role,) = registry.roles_of("carol", date(2027, 1, 1))
    assert role.current and role.community.slug == "mozfr"


def test_current_and_past_delegates(registry: Registry) -> None:
    mozfr = registry.community("mozfr")
    assert [d.person for d in mozfr.current_delegates(date(2026, 6, 1))] == ["bob"]
    assert [d.person for d in mozfr.past_delegates(date(2026, 6, 1))] == ["alice"]
