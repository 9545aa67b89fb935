"""Loading and validating the registry files: every problem, each at its file and line."""

from __future__ import annotations

import dataclasses
import string
import tomllib
from datetime import date, datetime, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triagebot.core.registry import Community, Contact, Delegation, Governance, Person, Resource
from triagebot.files import problems
from triagebot.files.problems import Problem, format_path
from triagebot.files.tomlpos import Locator
from triagebot.files.validate import (
    LoadResult,
    load_registry,
)

TODAY = date(2026, 6, 1)

PEOPLE = """\
[jdoe]
name = "Jane Doe"
bugzilla_id = 123456
emails = ["jane@example.org"]

[bob]
name = "Bob Martin"
emails = ["bob@example.org"]
"""

# Line numbers the expected messages below rely on: 3 status, 4 reviewed, 5 governance,
# 7 [[delegates]], 8 person, 9 title, 10 since, 12 [[resources]], 13 kind, 14 id, 15 responsible.
MOZFR = """\
name = "Mozilla Francophone"
aliases = ["MozFr"]
status = "active"
reviewed = 2026-01-15
governance = { model = "elected board" }

[[delegates]]
person = "jdoe"
title = "Présidente"
since = 2023-06-01

[[resources]]
kind = "domain"
id = "mozfr.example.org"
responsible = ["bob"]
"""

P = "data/people.toml"
M = "data/communities/mozfr.toml"


def write_registry(
    root: Path,
    people: str | bytes | None = PEOPLE,
    communities: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a registry under `root`; None leaves a file or directory out."""
    root.mkdir(parents=True, exist_ok=True)
    if people is not None:
        _write(root / "people.toml", people)
    if communities is not None:
        (root / "communities").mkdir(exist_ok=True)
        for slug, text in communities.items():
            _write(root / "communities" / f"{slug}.toml", text)
    return root


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from tmp_path so that problems read `data/...`, as a maintainer would see them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(people: str | bytes | None = PEOPLE, **communities: str | bytes | None) -> LoadResult:
    """Load `data/` after writing it; communities default to mozfr only."""
    files = {"mozfr": MOZFR, **communities}
    write_registry(Path("data"), people, {k: v for k, v in files.items() if v is not None})
    return load_registry("data", today=TODAY)


def errors(result: LoadResult) -> list[str]:
    return [str(p) for p in result.errors]


def warnings(result: LoadResult) -> list[str]:
    return [str(p) for p in result.warnings]


def mozfr(old: str, new: str) -> str:
    assert old in MOZFR
    return MOZFR.replace(old, new, 1)


def people(old: str, new: str) -> str:
    assert old in PEOPLE
    return PEOPLE.replace(old, new, 1)


# jdoe's term ends on 2025-06-01 and bob's starts that day.
ENDED = (
    'since = 2023-06-01\nuntil = 2025-06-01\n\n[[delegates]]\nperson = "bob"\ntitle = "x"\n'
    "since = 2025-06-01"
)


def other(name: str = "Other", alias: str = "Other FR", resource: str = "other.example.org") -> str:
    """A second community, clashing with mozfr only where a test says so."""
    text = mozfr('"Mozilla Francophone"', f'"{name}"').replace('"MozFr"', f'"{alias}"')
    return text.replace("mozfr.example.org", resource)


# (people.toml, {slug: text} added to or replacing mozfr, expected errors)
MALFORMED = {
    "unknown-key-suggested": (
        people('emails = ["jane', 'emial = ["jane'),
        {},
        [f"{P}:4: jdoe.emial: unknown key; did you mean 'emails'?"],
    ),
    "unknown-key-listed": (
        people('name = "Jane Doe"', 'name = "Jane Doe"\ntwitter = "@jd"'),
        {},
        [f"{P}:3: jdoe.twitter: unknown key; expected name, emails, bugzilla_id, contacts"],
    ),
    "handle-written-inside": (
        people('name = "Jane Doe"', 'name = "Jane Doe"\nhandle = "jane"'),
        {},
        [f"{P}:3: jdoe.handle: unknown key; a person's handle is its table's name"],
    ),
    "slug-written-inside": (
        PEOPLE,
        {
            "mozfr": mozfr(
                'name = "Mozilla Francophone"', 'slug = "mozfr"\nname = "Mozilla Francophone"'
            )
        },
        [f"{M}:1: slug: unknown key; a community's slug is its file name"],
    ),
    "missing-name": (
        people('name = "Jane Doe"\n', ""),
        {},
        [f"{P}:1: jdoe.name: required key is missing"],
    ),
    "empty-name": (
        people('"Jane Doe"', '"  "'),
        {},
        [f"{P}:2: jdoe.name: must not be empty"],
    ),
    "name-not-string": (
        people('"Jane Doe"', "42"),
        {},
        [f"{P}:2: jdoe.name: expected a string, got integer 42"],
    ),
    "bugzilla-id-string": (
        people("123456", '"123456"'),
        {},
        [f"{P}:3: jdoe.bugzilla_id: expected a positive integer, got string '123456'"],
    ),
    "bugzilla-id-zero": (
        people("123456", "0"),
        {},
        [f"{P}:3: jdoe.bugzilla_id: expected a positive integer, got integer 0"],
    ),
    "bugzilla-id-twice": (
        people('name = "Bob Martin"', 'name = "Bob Martin"\nbugzilla_id = 123456'),
        {},
        [f"{P}:8: bob.bugzilla_id: bugzilla_id 123456 is already used by 'jdoe'"],
    ),
    "email-no-dot": (
        people("jane@example.org", "jane@localhost"),
        {},
        [
            f"{P}:4: jdoe.emails[0]: malformed email 'jane@localhost' "
            "(expected local@domain.tld, no spaces)"
        ],
    ),
    "email-space": (
        people("jane@example.org", "jane doe@example.org"),
        {},
        [
            f"{P}:4: jdoe.emails[0]: malformed email 'jane doe@example.org' "
            "(expected local@domain.tld, no spaces)"
        ],
    ),
    "email-two-at": (
        people("jane@example.org", "jane@doe@example.org"),
        {},
        [
            f"{P}:4: jdoe.emails[0]: malformed email 'jane@doe@example.org' "
            "(expected local@domain.tld, no spaces)"
        ],
    ),
    "email-claimed-twice": (
        people('["bob@example.org"]', '["bob@example.org", "Jane@EXAMPLE.org"]'),
        {},
        [f"{P}:8: bob.emails[1]: email 'Jane@EXAMPLE.org' is already claimed by 'jdoe'"],
    ),
    "email-listed-twice": (
        people('["jane@example.org"]', '["jane@example.org", "jane@example.org"]'),
        {},
        [f"{P}:4: jdoe.emails[1]: email 'jane@example.org' is listed twice (also emails[0])"],
    ),
    "emails-not-array": (
        people('["jane@example.org"]', '"jane@example.org"'),
        {},
        [f"{P}:4: jdoe.emails: expected an array of strings, got string 'jane@example.org'"],
    ),
    "email-not-string": (
        people('"jane@example.org"', '"jane@example.org",\n  123'),
        {},
        [f"{P}:5: jdoe.emails[1]: expected a string, got integer 123"],
    ),
    "contact-public-missing": (
        people(
            'name = "Bob Martin"', 'name = "Bob Martin"\ncontacts = [{ kind = "x", value = "y" }]'
        ),
        {},
        [f"{P}:8: bob.contacts[0].public: required key is missing"],
    ),
    "contact-public-not-bool": (
        PEOPLE + 'contacts = [\n  { kind = "matrix", value = "@bob:example.org", public = true },\n'
        '  { kind = "email", value = "bob@example.org", public = "no" },\n]\n',
        {},
        [f"{P}:11: bob.contacts[1].public: expected true or false, got string 'no'"],
    ),
    "contact-not-table": (
        PEOPLE + 'contacts = ["@bob:example.org"]\n',
        {},
        [f"{P}:9: bob.contacts[0]: expected a table, got string '@bob:example.org'"],
    ),
    "person-not-table": (
        'jdoe = "Jane Doe"\n\n' + PEOPLE.split("\n\n")[1],
        {},
        [
            f"{P}:1: jdoe: expected a table of person fields ([jdoe] then name = ...), "
            "got string 'Jane Doe'"
        ],
    ),
    "person-defined-twice": (
        PEOPLE + '\n[jdoe]\nname = "Other Jane"\n',
        {},
        [
            f"{P}:1: jdoe: table [jdoe] is defined twice (again at line 10)",
            f"{P}:10: jdoe: table [jdoe] is defined twice (first at line 1)",
        ],
    ),
    "people-syntax-error-no-reference-noise": (
        people('name = "Jane Doe"', 'name = "Jane Doe'),
        {},
        [f'{P}:2: invalid TOML: invalid basic string, expected `"` (column 17)'],
    ),
    "people-not-utf8": (
        PEOPLE.encode().replace(b"Bob Martin", b"Bob Mart\xefn"),
        {},
        [f"{P}:7: not valid UTF-8 (byte 0xef at column 17); save as UTF-8"],
    ),
    "handle-with-space": (
        PEOPLE + '\n["j doe"]\nname = "J"\n',
        {},
        [f'{P}:10: "j doe": a handle must be a non-empty word without spaces'],
    ),
    "community-unknown-key": (
        PEOPLE,
        {"mozfr": mozfr("aliases =", "alias =")},
        [f"{M}:2: alias: unknown key; did you mean 'aliases'?"],
    ),
    "status-typo": (
        PEOPLE,
        {"mozfr": mozfr('"active"', '"actve"')},
        [
            f"{M}:3: status: expected one of 'active', 'dormant', 'retired', got string 'actve'; "
            "did you mean 'active'?"
        ],
    ),
    "status-missing": (
        PEOPLE,
        {"mozfr": mozfr('status = "active"\n', "")},
        [f"{M}:1: status: required key is missing"],
    ),
    "reviewed-bad-date": (
        PEOPLE,
        {"mozfr": mozfr("2026-01-15", '"2024-13-01"')},
        [f"{M}:4: reviewed: expected a date like 2024-01-31, got string '2024-13-01'"],
    ),
    "reviewed-datetime": (
        PEOPLE,
        {"mozfr": mozfr("2026-01-15", "2026-01-15T10:00:00")},
        [f"{M}:4: reviewed: expected a date like 2024-01-31, got date-time 2026-01-15T10:00:00"],
    ),
    "reviewed-future": (
        PEOPLE,
        {"mozfr": mozfr("2026-01-15", "2026-06-02")},
        [f"{M}:4: reviewed: reviewed 2026-06-02 is in the future (today is 2026-06-01)"],
    ),
    "governance-missing": (
        PEOPLE,
        {"mozfr": mozfr('governance = { model = "elected board" }\n', "")},
        [f"{M}:1: governance: required key is missing"],
    ),
    "governance-fields": (
        PEOPLE,
        {"mozfr": mozfr('"elected board" }', '"board", term_months = -1, chartr = "x" }')},
        [
            f"{M}:5: governance.chartr: unknown key; did you mean 'charter'?",
            f"{M}:5: governance.term_months: expected a positive integer, got integer -1",
        ],
    ),
    "governance-as-table": (
        PEOPLE,
        {
            "mozfr": mozfr(
                'governance = { model = "elected board" }\n',
                '\n[governance]\nmodel = ""\n',
            )
        },
        [f"{M}:7: governance.model: must not be empty"],
    ),
    "delegate-unknown-person-suggested": (
        PEOPLE,
        {"mozfr": mozfr('person = "jdoe"', 'person = "jdeo"')},
        [f"{M}:8: delegates[0].person: unknown person 'jdeo'; did you mean 'jdoe'?"],
    ),
    "delegate-unknown-person": (
        PEOPLE,
        {"mozfr": mozfr('person = "jdoe"', 'person = "xyz"')},
        [f"{M}:8: delegates[0].person: unknown person 'xyz'"],
    ),
    "since-after-until": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01", "since = 2023-06-01\nuntil = 2023-01-01")},
        [f"{M}:11: delegates[0].until: until 2023-01-01 must be after since 2023-06-01"],
    ),
    "since-equals-until": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01", "since = 2023-06-01\nuntil = 2023-06-01")},
        [f"{M}:11: delegates[0].until: until 2023-06-01 must be after since 2023-06-01"],
    ),
    "since-over-a-year-ahead": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01", "since = 2027-06-02")},
        [f"{M}:10: delegates[0].since: since 2027-06-02 is more than a year ahead (a typo?)"],
    ),
    "since-missing": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01\n", "")},
        [f"{M}:7: delegates[0].since: required key is missing"],
    ),
    "title-empty": (
        PEOPLE,
        {"mozfr": mozfr('"Présidente"', '""')},
        [f"{M}:9: delegates[0].title: must not be empty"],
    ),
    "delegates-single-table": (
        PEOPLE,
        {"mozfr": mozfr("[[delegates]]", "[delegates]")},
        [f"{M}:7: delegates: expected an array of tables ([[delegates]]), got a table"],
    ),
    "second-delegate-bad": (
        PEOPLE,
        {
            "mozfr": mozfr(
                "since = 2023-06-01", 'since = 2023-06-01\n\n[[delegates]]\nperson = "bob"'
            )
        },
        [
            f"{M}:12: delegates[1].title: required key is missing",
            f"{M}:12: delegates[1].since: required key is missing",
        ],
    ),
    "resource-kind": (
        PEOPLE,
        {"mozfr": mozfr('"domain"', '"domian"')},
        [
            f"{M}:13: resources[0].kind: expected one of 'domain', 'hosting', 'mailing-list', "
            "'social', 'repo', 'other', got string 'domian'; did you mean 'domain'?"
        ],
    ),
    "resource-unknown-person": (
        PEOPLE,
        {"mozfr": mozfr('["bob"]', '["bob", "alice"]')},
        [f"{M}:15: resources[0].responsible[1]: unknown person 'alice'"],
    ),
    "resource-nobody-responsible": (
        PEOPLE,
        {"mozfr": mozfr('["bob"]', "[]")},
        [f"{M}:15: resources[0].responsible: nobody is responsible (the list is empty)"],
    ),
    "resource-only-former-delegates": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01", ENDED).replace('["bob"]', '["jdoe"]')},
        [
            f"{M}:21: resources[0].responsible: no current responsible person "
            "('jdoe' is a former delegate)"
        ],
    ),
    "active-without-current-delegate": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01", "since = 2023-06-01\nuntil = 2025-06-01")},
        [f"{M}:3: status: community is active but has no current delegate on 2026-06-01"],
    ),
    "alias-used-twice": (
        PEOPLE,
        {
            "mozfr": mozfr('["MozFr"]', '["MozFr", "Mozilla FR"]'),
            "other": other(alias="mozilla  fr"),
        },
        [
            "data/communities/other.toml:2: aliases[0]: alias 'mozilla  fr' is already the alias "
            f"of {M}"
        ],
    ),
    "alias-is-other-slug": (
        PEOPLE,
        {"other": other(alias="MozFR")},
        [f"data/communities/other.toml:2: aliases[0]: alias 'MozFR' is already the slug of {M}"],
    ),
    "name-is-other-slug": (
        PEOPLE,
        {"other": other(name="MOZFR")},
        [f"data/communities/other.toml:1: name: name 'MOZFR' is already the slug of {M}"],
    ),
    "resource-used-twice": (
        PEOPLE,
        {"other": other(resource="mozfr.example.org")},
        [
            "data/communities/other.toml:14: resources[0].id: resource 'mozfr.example.org' "
            f"already belongs to {M}"
        ],
    ),
    "bad-slug": (
        PEOPLE,
        {"mozfr": None, "Moz_FR": MOZFR},
        [
            "data/communities/Moz_FR.toml:1: file name 'Moz_FR' is not a valid community slug "
            "(lowercase letters, digits and '-', starting with a letter or digit)"
        ],
    ),
    "community-not-utf8": (
        PEOPLE,
        {"mozfr": MOZFR.encode().replace(b"elected", b"\xe9lected")},
        [f"{M}:5: not valid UTF-8 (byte 0xe9 at column 25); save as UTF-8"],
    ),
    "community-syntax-error": (
        PEOPLE,
        {"mozfr": mozfr("since = 2023-06-01", "since = 2023-06-01\nuntil =")},
        [f"{M}:11: invalid TOML: string values must be quoted, expected literal string (column 8)"],
    ),
    "alias-empty": (
        PEOPLE,
        {"mozfr": mozfr('["MozFr"]', '["MozFr", ""]')},
        [f"{M}:2: aliases[1]: must not be empty"],
    ),
    "multi-line-array-element": (
        PEOPLE,
        {"mozfr": mozfr('["MozFr"]', '[\n  "MozFr",\n  3,\n]')},
        [f"{M}:4: aliases[1]: expected a string, got integer 3"],
    ),
    "community-contact-empty-value": (
        PEOPLE,
        {
            "mozfr": mozfr(
                "status =",
                'contacts = [\n  { kind = "irc", value = "#mozfr", public = true },\n'
                '  { kind = "mailing-list", value = "", public = true },\n]\nstatus =',
            )
        },
        [f"{M}:5: contacts[1].value: must not be empty"],
    ),
    "missing-people-file": (
        None,
        {},
        [f"{P}:1: file not found"],
    ),
}


@pytest.mark.parametrize(
    ("people_toml", "communities", "expected"), MALFORMED.values(), ids=MALFORMED
)
def test_malformed_input_is_reported_exactly(
    in_tmp: Path,
    people_toml: str | bytes | None,
    communities: dict[str, str | bytes | None],
    expected: list[str],
) -> None:
    result = load(people_toml, **communities)
    assert errors(result) == expected
    assert result.registry is None
    assert not result.ok


def test_missing_communities_directory(in_tmp: Path) -> None:
    write_registry(Path("data"), PEOPLE, None)
    assert errors(load_registry("data", today=TODAY)) == ["data/communities:1: directory not found"]


def test_missing_registry_directory(in_tmp: Path) -> None:
    result = load_registry("nowhere", today=TODAY)
    assert errors(result) == ["nowhere: registry directory not found"]
    assert (result.files, result.people, result.communities) == (0, 0, 0)


def test_every_problem_in_one_run(in_tmp: Path) -> None:
    text = mozfr('"active"', '"actve"').replace("2023-06-01", '"yesterday"')
    text = text.replace('["bob"]', '["bobb"]')
    result = load(PEOPLE, mozfr=text)
    assert errors(result) == [
        f"{M}:3: status: expected one of 'active', 'dormant', 'retired', got string 'actve'; "
        "did you mean 'active'?",
        f"{M}:10: delegates[0].since: expected a date like 2024-01-31, got string 'yesterday'",
        f"{M}:15: resources[0].responsible[0]: unknown person 'bobb'; did you mean 'bob'?",
    ]


def test_problems_in_several_files_are_all_reported(in_tmp: Path) -> None:
    result = load(
        people("jane@example.org", "jane@example"),
        mozfr=mozfr("[[delegates]]", "[[delegate]]"),
        other=b"name = \xff\n",
    )
    assert errors(result) == [
        f"{P}:4: jdoe.emails[0]: malformed email 'jane@example' "
        "(expected local@domain.tld, no spaces)",
        f"{M}:3: status: community is active but has no current delegate on 2026-06-01",
        f"{M}:7: delegate: unknown key; did you mean 'delegates'?",
        "data/communities/other.toml:1: not valid UTF-8 (byte 0xff at column 8); save as UTF-8",
    ]


def test_valid_minimal_registry_loads(in_tmp: Path) -> None:
    result = load()
    assert result.ok and result.errors == [] and result.warnings == []
    assert (result.files, result.people, result.communities) == (2, 2, 1)
    registry = result.registry
    assert registry is not None
    assert registry.community("mozfr").name == "Mozilla Francophone"
    assert registry.person_by_bugzilla_id(123456).handle == "jdoe"


def test_full_featured_registry_loads(in_tmp: Path) -> None:
    """Every optional field, in each form TOML allows, is accepted."""
    people_toml = PEOPLE + (
        "contacts = [\n"
        '  { kind = "matrix", value = "@bob:example.org", public = true },\n'
        '  { kind = "email", value = "bob@example.org", public = false },\n'
        "]\n\n"
        '[zoe]\nname = "Zoé Lefèvre"\nemails = ["zoé@exemple.example.org"]\n\n'
        '[sam]\nname = "Sam"\nemails = []\n\n[[sam.contacts]]\nkind = "irc"\n'
        'value = "sam"\npublic = true\n'
    )
    text = (
        MOZFR.replace('{ model = "elected board" }', "")
        .replace("governance = \n", "")
        .replace('responsible = ["bob"]', 'responsible = ["bob", "jdoe"]')
        + "\n[[delegates]]\n"
        'person = "zoe"\ntitle = "Trésorière"\nsince = 2020-01-01\nuntil = 2022-01-01\n'
        'source = "https://discourse.example.org/t/1"\n\n'
        '[[delegates]]\nperson = "sam"\ntitle = "Next president"\nsince = 2027-01-01\n\n'
        '[governance]\nmodel = "elected board"\ncharter = "https://example.org/statuts"\n'
        'term_months = 24\nnotes = """Elected at the general assembly.\n[1] see charter"""\n'
    )
    result = load(people_toml, mozfr=text)
    assert errors(result) == []
    assert result.registry is not None
    community = result.registry.community("Mozilla Francophone")
    assert community.governance.term_months == 24
    assert [d.person for d in community.current_delegates(TODAY)] == ["jdoe"]
    assert result.registry.person_by_email("ZOÉ@exemple.example.org").handle == "zoe"
    assert result.registry.people["sam"].contacts[0].value == "sam"


def test_warnings_do_not_make_the_load_fail(in_tmp: Path) -> None:
    dormant = mozfr('"active"', '"dormant"').replace("2026-01-15", "2025-05-31")
    result = load(PEOPLE + '\n[carol]\nname = "Carol"\n', mozfr=dormant)
    assert result.ok
    assert result.registry is not None
    assert errors(result) == []
    assert warnings(result) == [
        f"{P}:10: carol: person is referenced by no community (no delegation, no resource)",
        f"{M}:3: status: community is dormant but has current delegates: 'jdoe'",
        f"{M}:4: reviewed: last reviewed 2025-05-31, more than a year ago: "
        "please confirm this file",
    ]


def test_a_review_exactly_a_year_old_is_fine(in_tmp: Path) -> None:
    assert load(PEOPLE, mozfr=mozfr("2026-01-15", "2025-06-01")).warnings == []


def test_a_term_starting_within_a_year_is_allowed(in_tmp: Path) -> None:
    scheduled = (
        'since = 2023-06-01\n\n[[delegates]]\nperson = "bob"\ntitle = "x"\nsince = 2027-06-01'
    )
    assert errors(load(PEOPLE, mozfr=mozfr("since = 2023-06-01", scheduled))) == []


def test_until_in_the_future_is_fine(in_tmp: Path) -> None:
    text = mozfr("since = 2023-06-01", "since = 2023-06-01\nuntil = 2027-06-01")
    assert load(PEOPLE, mozfr=text).ok


def test_never_delegates_count_as_current_responsible_people(in_tmp: Path) -> None:
    """A technical admin who never held a role may be the only one responsible."""
    text = mozfr("since = 2023-06-01", ENDED).replace('["bob"]', '["jdoe", "carol"]')
    result = load(PEOPLE + '\n[carol]\nname = "Carol"\n', mozfr=text)
    assert errors(result) == []


def test_non_ascii_emails_are_accepted(in_tmp: Path) -> None:
    result = load(people("jane@example.org", "josé@exemple.example.org"))
    assert errors(result) == []


def test_not_a_toml_file_is_a_warning(in_tmp: Path) -> None:
    write_registry(Path("data"), PEOPLE, {"mozfr": MOZFR})
    Path("data/communities/notes.md").write_text("hello", encoding="utf-8")
    Path("data/communities/.gitkeep").write_text("", encoding="utf-8")
    result = load_registry("data", today=TODAY)
    assert result.ok
    assert warnings(result) == ["data/communities/notes.md:1: not a .toml file; ignored"]


def test_a_sub_folder_of_communities_is_ignored_and_says_why(in_tmp: Path) -> None:
    write_registry(Path("data"), PEOPLE, {"mozfr": MOZFR})
    Path("data/communities/europe").mkdir()
    Path("data/communities/europe/mozit.toml").write_text(MOZFR, encoding="utf-8")
    result = load_registry("data", today=TODAY)
    assert result.ok
    assert warnings(result) == [
        "data/communities/europe:1: a folder; ignored with everything in it: a community is "
        "one file, communities/SLUG.toml, directly in communities/"
    ]


def test_a_term_not_started_yet_is_reported_at_its_since(in_tmp: Path) -> None:
    """The only delegate's term starts next month: the error at `status` says there is no
    current delegate, and the `since` line shows why."""
    result = load(PEOPLE, mozfr=mozfr("since = 2023-06-01", "since = 2026-07-01"))
    assert errors(result) == [
        f"{M}:3: status: community is active but has no current delegate on 2026-06-01",
        f"{M}:10: delegates[0].since: since 2026-07-01 is after today (2026-06-01): this term "
        "has not started, so 'jdoe' is not a current delegate yet",
    ]


def test_did_you_mean_in_a_large_registry(in_tmp: Path) -> None:
    """Beyond a few thousand handles only those one edit away are compared (for speed)."""
    many = "".join(f'[user{i}]\nname = "User {i}"\n' for i in range(2500))
    result = load(PEOPLE + many, mozfr=mozfr('person = "jdoe"', 'person = "usr42"'))
    assert errors(result) == [
        f"{M}:8: delegates[0].person: unknown person 'usr42'; did you mean 'user42'?"
    ]


def test_a_valid_registry_never_looks_for_lines(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line numbers are found only for reported problems, so valid data pays nothing."""

    def no_locator(text: str) -> None:
        raise AssertionError("a line was looked up")

    monkeypatch.setattr(problems, "Locator", no_locator)
    assert load().ok


def test_problem_rendering() -> None:
    assert str(Problem("a.toml", 3, "x[0].y", "bad")) == "a.toml:3: x[0].y: bad"
    assert str(Problem("a.toml", 1, "", "bad", "warning")) == "a.toml:1: bad"
    assert format_path(("j.doe", "emails", 0)) == '"j.doe".emails[0]'


# -- the locator ---------------------------------------------------------------------------------
LOCATOR_DOC = """\
# [not] a header
name = "x"
notes = '''
[fake]
'''
contacts = [
  { kind = "a", value = "b", public = true },
  { kind = "c", value = "d" },
]

[[delegates]]
person = "a"

[[delegates]]  # the second
person = "b"
"dotted.key".sub = 1

[jdoe]
emails = [
  "a@example.org", # comment, with ] and "
  "b@example.org",
]
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("name",), 2),
        (("contacts", 1, "value"), 8),
        (("contacts", 0, "public"), 7),
        (("delegates", 1, "person"), 15),
        (("delegates", 1), 14),
        (("delegates",), 11),
        (("delegates", 1, "dotted.key", "sub"), 16),
        (("delegates", 0, "title"), 11),
        (("jdoe", "emails", 1), 21),
        (("jdoe", "name"), 18),
        (("fake",), 1),
        (("nowhere", 3), 1),
    ],
)
def test_locator(path: tuple[str | int, ...], line: int) -> None:
    assert tomllib.loads(LOCATOR_DOC)  # the document is valid TOML
    assert Locator(LOCATOR_DOC).line(path) == line


def test_locator_on_odd_text_falls_back() -> None:
    locator = Locator('[a]\nx = "unterminated\n[b]\ny = 1\n')
    assert locator.line(("a", "x")) == 2
    assert locator.line(("b", "y")) == 4


# -- no traceback, whatever the data --------------------------------------------------------------
TABLES = (Person, Community, Delegation, Resource, Contact, Governance)
KEYS = [
    *(f.name for table in TABLES for f in dataclasses.fields(table)),
    "jdoe",
    "bob",
    "x y",
    "",
]
SCALARS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["jdoe", "bob", "active", "domain", "a@example.org", " ", ""]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    ),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)


def to_toml(document: dict[str, object]) -> str:
    """A tiny writer for the property tests: one inline `key = value` line per top-level key."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in document.items())


def _toml_key(key: str) -> str:
    return (
        key if key and set(key) <= set(string.ascii_letters + string.digits + "_-") else _str(key)
    )


def _str(text: str) -> str:
    return (
        '"' + "".join(c if c.isalnum() or c in " .@-_" else f"\\U{ord(c):08x}" for c in text) + '"'
    )


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
    return "{ " + inner + " }"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people_doc=DOCUMENTS, community_doc=DOCUMENTS)
def test_any_data_gives_problems_not_tracebacks(
    tmp_path_factory: pytest.TempPathFactory, people_doc: dict, community_doc: dict
) -> None:
    root = tmp_path_factory.mktemp("registry")
    write_registry(root, to_toml(people_doc), {"c": to_toml(community_doc)})
    result = load_registry(root, today=TODAY)
    assert isinstance(result, LoadResult)
    for problem in [*result.errors, *result.warnings]:
        assert problem.line >= 1 and problem.message
    assert (result.registry is None) == bool(result.errors)


# -- the locator against a writer that knows where it put everything --------------------------
TRICKY_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list("ab \"\\#[]{},='.\n\t")), st.characters(codec="utf-8")),
    max_size=8,
)
PLAIN_VALUES = st.recursive(
    st.one_of(TRICKY_TEXT, st.integers(), st.booleans(), st.dates()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(TRICKY_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
LAID_OUT = st.dictionaries(
    TRICKY_TEXT,
    st.one_of(
        PLAIN_VALUES,
        st.dictionaries(TRICKY_TEXT, PLAIN_VALUES, max_size=3),
        st.lists(st.dictionaries(TRICKY_TEXT, PLAIN_VALUES, max_size=3), min_size=1, max_size=3),
    ),
    max_size=5,
)


class _Layout:
    """Writes a document with headers, multi-line arrays and raw punctuation in strings,
    remembering the line of every path."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.where: dict[tuple[str | int, ...], int] = {}

    def write(self, document: dict) -> str:
        tables = {k: v for k, v in document.items() if isinstance(v, dict)}
        arrays = {
            k: v
            for k, v in document.items()
            if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)
        }
        for key, value in document.items():
            if key not in tables and key not in arrays:
                self.entry((key,), value)
        for key, table in tables.items():
            self.header((key,), f"[{_raw_key(key)}]", table)
        for key, items in arrays.items():
            for index, table in enumerate(items):
                self.header((key, index), f"[[{_raw_key(key)}]]  # [not] a header", table)
        return "".join(line + "\n" for line in self.lines)

    def header(self, path: tuple[str | int, ...], text: str, table: dict) -> None:
        self.where[path] = len(self.lines) + 1
        self.lines.append(text)
        for key, value in table.items():
            self.entry((*path, key), value)

    def entry(self, path: tuple[str | int, ...], value: object) -> None:
        key = _raw_key(path[-1])  # type: ignore[arg-type]
        if isinstance(value, list) and len(value) % 2:  # odd lengths go one element a line
            self.where[path] = len(self.lines) + 1
            self.lines.append(f"{key} = [ # {{ ]")
            for index, item in enumerate(value):
                self.inline((*path, index), item, len(self.lines) + 1)
                self.lines.append(f"  {_raw_value(item)}, # '")
            self.lines.append("]")
        else:
            self.inline(path, value, len(self.lines) + 1)
            self.lines.append(f"{key} = {_raw_value(value)}")

    def inline(self, path: tuple[str | int, ...], value: object, line: int) -> None:
        self.where[path] = line
        if isinstance(value, dict):
            for key, item in value.items():
                self.inline((*path, key), item, line)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.inline((*path, index), item, line)


def _raw_string(text: str) -> str:
    if "'" not in text and text.isprintable() and len(text) % 2:
        return f"'{text}'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\U{ord(c):08x}" for c in escaped) + '"'


def _raw_key(key: str) -> str:
    bare = key and set(key) <= set(string.ascii_letters + string.digits + "_-")
    return key if bare else _raw_string(key)


def _raw_value(value: object) -> str:
    if isinstance(value, str):
        return _raw_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_raw_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_raw_key(k)} = {_raw_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return _toml_value(value)


@settings(max_examples=300, deadline=None)
@given(document=LAID_OUT)
def test_locator_finds_every_path_the_writer_placed(document: dict) -> None:
    layout = _Layout()
    text = layout.write(document)
    assert tomllib.loads(text) == document
    locator = Locator(text)
    for path, line in layout.where.items():
        assert locator.line(path) == line, (path, text)


def test_today_is_the_utc_date_like_the_bots() -> None:
    """23:30 in New York on 24 November is already 25 November in UTC: the registry commands
    take the day the bot (whose clock is UTC) decides by."""
    from datetime import UTC, datetime, timedelta, timezone

    from triagebot.files.validate import utc_today

    new_york = timezone(timedelta(hours=-5))
    assert utc_today(lambda: datetime(2026, 11, 24, 23, 30, tzinfo=new_york)) == date(2026, 11, 25)
    assert utc_today() == datetime.now(UTC).date()
