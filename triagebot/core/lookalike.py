"""Look-alike logins: a reporter whose login only *looks* like a registry login.

Identity stays exact (`Registry.identify`): a look-alike is a stranger and is never endorsed.
This module only tells the triager why a stranger's login deserves a second look, as an
impersonation attempt would look.

Two logins are confusable when they share a UTS #39 skeleton (`disarm`'s `skeleton_key`, with
`digit_policy="tr39"` so `1` is `l` and `0` is `O`). The registry's skeletons are computed
once per registry (`LoginIndex`), so the per-bug check is one look-up whatever its size.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from triagebot.core.registry import Person, Registry, normalize_email

# Scripts named as themselves in an explanation; a non-ASCII character of these reads better
# by its Unicode name ("fullwidth latin small letter l").
_PLAIN_SCRIPTS = frozenset({"Latin", "Common", "Inherited"})
_INVISIBLE = frozenset({"Cf", "Cc", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class Lookalike:
    """A reporter login confusable with `resembles`, a login of registry person `person`."""

    login: str
    resembles: str
    person: Person
    why: str  # e.g. "contains Cyrillic 'і' U+0456 and Cyrillic 'а' U+0430"


def skeleton(login: str) -> str:
    """The key two confusable logins share (UTS #39 skeleton, lower case)."""
    from disarm import skeleton_key  # imported on first use: `--help` stays quick

    return skeleton_key(login, digit_policy="tr39")  # NFKC is its first step


def _keys(login: str) -> Iterator[str]:
    """The skeleton of a login as written and in lower case: `I` and `l` are confusable in
    `exampIe.org`, and a capital Cyrillic `І` only folds to `i` once lower-cased."""
    yield skeleton(login)
    lower = login.lower()
    if lower != login:
        yield skeleton(lower)


class LoginIndex:
    """Skeleton -> (login, person) for every login in a registry, built once."""

    def __init__(self, registry: Registry) -> None:
        self.by_skeleton: dict[str, tuple[str, Person]] = {}
        for person in registry.people.values():
            for email in person.emails:
                for key in _keys(email):
                    self.by_skeleton.setdefault(key, (email, person))

    def find(self, login: str) -> Lookalike | None:
        """The registry login `login` is confusable with, unless it is that login."""
        if not login:
            return None
        for key in _keys(login):
            found = self.by_skeleton.get(key)
            if found is None:
                continue
            email, person = found
            if normalize_email(email) == normalize_email(login):
                return None  # the same login: an exact match, not a look-alike
            return Lookalike(login, email, person, explain(login, email))
        return None


def explain(login: str, resembles: str) -> str:
    """What sets `login` apart from `resembles`, in words a triager can check by eye."""
    mine, theirs = list(login), list(resembles)
    matcher = difflib.SequenceMatcher(
        None, [c.lower() for c in mine], [c.lower() for c in theirs], autojunk=False
    )
    parts: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        instead = "".join(theirs[j1:j2])
        for char in dict.fromkeys(mine[i1:i2]):
            parts.append(_describe(char, instead))
    parts = list(dict.fromkeys(parts))
    if not parts:
        return "looks the same"
    if len(parts) == 1:
        return f"contains {parts[0]}"
    return f"contains {', '.join(parts[:-1])} and {parts[-1]}"


def _describe(char: str, instead: str) -> str:
    code = f"U+{ord(char):04X}"
    if unicodedata.category(char) in _INVISIBLE:
        return f"an invisible {code} ({unicodedata.name(char, 'unnamed').lower()})"
    if char.isascii():
        kind = "the digit" if char.isdigit() else "the character"
        return f"{kind} '{char}' where the registry has '{instead}'" if instead else f"'{char}'"
    from disarm import detect_scripts

    scripts = detect_scripts(char)
    script = scripts[0].value if scripts else None
    if script and script not in _PLAIN_SCRIPTS:
        return f"{script} '{char}' {code}"
    return f"'{char}' {code} ({unicodedata.name(char, 'unnamed').lower()})"


def login_index(registry: Registry) -> LoginIndex:
    """The LoginIndex of `registry`, built on first use and once per Registry object."""
    return registry.index(LoginIndex)


def find(registry: Registry, login: str) -> Lookalike | None:
    """The registry login that the (unidentified) reporter's `login` is confusable with."""
    return login_index(registry).find(login)
