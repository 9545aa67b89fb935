"""Look-alike logins: which registry login a stranger's login resembles, and why, in words."""

from __future__ import annotations

import pytest

from triagebot.core import lookalike
from triagebot.core.registry import Person, Registry

LUCIA = Person("lucia", "Lucía Ferreyra", ("lucia@example.org", "Ian@mozhispano.example.org"))
MATEO = Person("mateo", "Mateo Quiroga", ("mateo@example.org",))
REGISTRY = Registry.build([LUCIA, MATEO], [])


@pytest.mark.parametrize(
    ("login", "resembles", "why"),
    [
        (
            "lucіа@example.org",  # Cyrillic і and а
            "lucia@example.org",
            "contains Cyrillic 'і' U+0456 and Cyrillic 'а' U+0430",
        ),
        (
            "lucia@examp1e.org",
            "lucia@example.org",
            "contains the digit '1' where the registry has 'l'",
        ),
        (
            "lucia@exampIe.org",  # capital i
            "lucia@example.org",
            "contains the character 'I' where the registry has 'l'",
        ),
        ("LUCІA@example.org", "lucia@example.org", "contains Cyrillic 'І' U+0406"),
        (
            "lu\u200bcia@example.org",
            "lucia@example.org",
            "contains an invisible U+200B (zero width space)",
        ),
        (
            "ｌucia@example.org",
            "lucia@example.org",
            "contains 'ｌ' U+FF4C (fullwidth latin small letter l)",
        ),
        (
            "mate0@example.org",
            "mateo@example.org",
            "contains the digit '0' where the registry has 'o'",
        ),
        (  # the registry's capital I is confusable with a reporter's l
            "lan@mozhispano.example.org",
            "Ian@mozhispano.example.org",
            "contains the character 'l' where the registry has 'I'",
        ),
    ],
)
def test_a_confusable_login_names_the_login_it_resembles_and_why(
    login: str, resembles: str, why: str
) -> None:
    found = lookalike.find(REGISTRY, login)
    assert found is not None
    assert (found.resembles, found.why) == (resembles, why)
    assert found.person.handle == ("mateo" if "mate" in login else "lucia")


@pytest.mark.parametrize(
    "login",
    [
        "lucia@example.org",  # the login itself: exact identity, not a look-alike
        "LUCIA@Example.org",  # case aside, the same login
        "lucía@example.org",  # an accent is a different letter, not a confusable
        "lucia@example.org.evil.example",
        "luciana@example.org",
        "",
    ],
)
def test_a_different_or_identical_login_is_no_lookalike(login: str) -> None:
    assert lookalike.find(REGISTRY, login) is None


def test_the_registry_side_is_computed_once_and_a_check_is_a_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 2,000 people, a check computes the reporter's skeletons only (as written, then
    lower-cased), never the registry's again."""
    people = [Person(f"p{i}", f"P {i}", (f"person{i}@example.org",)) for i in range(2000)]
    registry = Registry.build(people, [])
    index = lookalike.login_index(registry)
    assert lookalike.login_index(registry) is index
    calls: list[str] = []
    real = lookalike.skeleton
    monkeypatch.setattr(lookalike, "skeleton", lambda s: calls.append(s) or real(s))
    found = lookalike.find(registry, "Person1999@examp1e.org")
    assert found is not None and found.resembles == "person1999@example.org"
    assert calls == ["Person1999@examp1e.org"]  # found as written: no second skeleton
    calls.clear()
    assert lookalike.find(registry, "Stranger@example.net") is None
    assert calls == ["Stranger@example.net", "stranger@example.net"]
