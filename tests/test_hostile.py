"""Hostile input: bug text is written by anyone, and the bot must only ever scan it.

Property tests (hypothesis, derandomized, fixed example counts) over the matcher
(`triage.decide`), the comment renderer (the shipped rule's templates and a template that
echoes every bug-supplied field and dumps the whole context) and the directory renderers:

* template syntax in a summary, description, reporter name or login is never evaluated
  ("{{ 7*7 }}" never becomes "49"), markdown/HTML/control characters/bidi marks cannot add a
  line or hide text, and 1 MB of text stays cheap;
* a comment is at most `MAX_COMMENT_CHARS` long, well under the 65,535 characters Bugzilla
  refuses (code 114), whatever the bug holds;
* a look-alike of a delegate's login (Cyrillic letters, digits for letters, invisible
  characters, full-width forms) is never endorsed;
* a contact marked `public = false` never appears in any comment nor on the directory page,
  for generated registries;
* `once --dry-run` sends nothing but GETs.
"""

from __future__ import annotations

import string
import textwrap
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from standin import FaultyBugzilla, RequestInfo

from triagebot.commands import cli
from triagebot.core.bugs import Bug
from triagebot.core.bugstate import SKIP as SKIP_TAG
from triagebot.core.registry import (
    Community,
    CommunityStatus,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
)
from triagebot.core.triage import decide
from triagebot.demo import demo
from triagebot.demo.devserver import MAX_COMMENT
from triagebot.files.rules import Rule, load_rules
from triagebot.service.run import load_registry_strict
from triagebot.tools.directory import render_html, render_markdown

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
# The bound this suite holds comments to. Bugzilla refuses 65,535 characters and more.
MAX_COMMENT_CHARS = 20_000
assert MAX_COMMENT_CHARS < MAX_COMMENT
UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What evaluating these would print; none may ever show up in a comment.
EVALUATED = ("49", "777777", "XXX", "<class", "TemplateReference", "Undefined", "<built-in")
FRAGMENTS = (
    "{{ 7*7 }}",
    "{{7*7}}",
    "{{ 111111*7 }}",
    "{% for i in range(3) %}X{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ self }}",
    "{{ config }}",
    "{{ lipsum.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{% raw %}",
    "{% endraw %}",
    "{#",
    "#}",
    "{{",
    "}}",
    "{%",
    "%}",
    "${7*7}",
    "#{7*7}",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "**bold** _it_ `code`",
    "[click](javascript:alert(1))",
    "\n# Endorsed\n",
    "\n- item\n",
    "> quote",
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\u2066\u2069",  # isolates
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u2028",
    "\ufeff",
    "\ud800",  # a lone surrogate
    "\U000f0000",  # private use
    "Mozilla Hispano",
    "mozfr.example.org",
    "https://mozhispano.example.org/gobernanza",
    "@mozhispano@social.example.org",
    "MozTamil",
    "lucia@example.org",
    SKIP_TAG,
)
# Random text without decimal digits: a "49" in a comment can only come from evaluation.
PLAIN = st.text(st.characters(blacklist_categories=("Nd",)), max_size=30)
HOSTILE = st.lists(st.one_of(st.sampled_from(FRAGMENTS), PLAIN), max_size=10).map("".join)


# -- rules: the shipped one, and one echoing every bug-supplied field ---------------------------
ECHO_TEMPLATE = """\
Summary: {{ summary }}
Reporter: {{ reporter.name }} <{{ reporter.email }}>
Context: {{ community }} | {{ communities }} | {{ also_named }} | {{ former_role }} | {{ resources }} | {{ asked }}
"""  # noqa: E501
ECHO_RULE = """\
product = "Participation Infrastructure"
components = ["Community IT"]
[outcomes.endorsed]
template = "echo.md.j2"
whiteboard = ["[community:{community}]"]
needinfo = "nobody"
[outcomes.former-delegate]
template = "echo.md.j2"
needinfo = "delegates"
[outcomes.needs-endorsement]
template = "echo.md.j2"
needinfo = "delegates"
[outcomes.unknown]
template = "echo.md.j2"
needinfo = "reporter"
[outcomes.ambiguous]
template = "echo.md.j2"
needinfo = "reporter"
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[Rule]:
    """The shipped rule, and the echo rule (the same product, so loaded apart)."""
    echo_dir = tmp_path_factory.mktemp("echo-rules")
    (echo_dir / "templates").mkdir()
    (echo_dir / "templates" / "echo.md.j2").write_text(ECHO_TEMPLATE, encoding="utf-8")
    (echo_dir / "echo.toml").write_text(ECHO_RULE, encoding="utf-8")
    return [*load_rules(ROOT / "rules"), *load_rules(echo_dir)]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry_strict(ROOT / "data")


def comments_for(bug: Bug, registry: Registry, rules: list[Rule]) -> list[str]:
    texts = []
    for rule in rules:
        decision = decide(bug, registry, rule, NOW)
        if decision.write is not None:
            texts.append(decision.write.text("0123abcdef", markdown=False) or "")
    return texts


def assert_safe_comment(text: str, echo: bool) -> None:
    assert len(text) <= MAX_COMMENT_CHARS, len(text)
    for evaluated in EVALUATED:
        assert evaluated not in text, (evaluated, text)
    unsafe = [c for c in text if c != "\n" and unicodedata.category(c) in UNSAFE]
    assert not unsafe, [f"U+{ord(c):04X}" for c in unsafe]
    if echo:  # bug text stays on its line: it cannot start a heading, a list or a fake footer
        lines = text.splitlines()
        assert lines[0].startswith("Summary:") and lines[1].startswith("Reporter:")
        assert lines[2].startswith("Context:") and lines[3] == ""
        assert lines[4].startswith("-- triagebot (rule echo; ref 0123abcdef)")
        assert len(lines) == 5


# -- matcher and renderer -----------------------------------------------------------------------
@settings(SETTINGS, max_examples=150)
@given(
    summary=HOSTILE,
    description=HOSTILE,
    creator=st.one_of(st.sampled_from(("lucia@example.org", "newcomer@example.org")), HOSTILE),
    creator_name=HOSTILE,
    whiteboard=st.one_of(st.just(""), HOSTILE),
)
def test_bug_text_is_scanned_never_evaluated(
    registry, rules, summary, description, creator, creator_name, whiteboard
):
    bug = Bug(
        7,
        summary,
        creator,
        NOW - timedelta(minutes=5),
        creator_name=creator_name,
        whiteboard=whiteboard,
        description=description,
    )
    for rule in rules:
        decision = decide(bug, registry, rule, NOW)
        assert len(decision.reason) <= 400
        if decision.write is not None:
            text = decision.write.text("0123abcdef", markdown=False) or ""
            assert_safe_comment(text, echo=rule.name == "echo")


@settings(SETTINGS, max_examples=10)
@given(fragment=st.sampled_from(FRAGMENTS), tail=HOSTILE)
def test_a_megabyte_of_hostile_text_gives_a_bounded_comment(registry, rules, fragment, tail):
    """How long it takes is measured by bench/triage_bench.py."""
    block = (fragment + tail + " Mozilla Hispano mozfr.example.org ") or "x"
    huge = (block * (1_000_000 // len(block) + 1))[:1_000_000]
    bug = Bug(
        8,
        huge,
        huge[:5000] + "@example.org",
        NOW,
        creator_name=huge,
        whiteboard=huge[:2000],
        description=huge,
    )
    texts = comments_for(bug, registry, rules)
    for text, rule in zip(texts, rules, strict=False):
        assert_safe_comment(text, echo=rule.name == "echo")


def test_the_worst_bug_the_shipped_registry_allows_stays_short(registry, rules):
    """Every community, alias and resource named at once, a megabyte long."""
    names = [c.name for c in registry.communities.values()]
    names += [a for c in registry.communities.values() for a in c.aliases]
    names += [r.id for c in registry.communities.values() for r in c.resources]
    text = " ".join(names) + " "
    bug = Bug(9, text * 50, "ingrid@example.org", NOW, description=(text * 2000)[:1_000_000])
    longest = max(len(t) for t in comments_for(bug, registry, rules))
    assert longest <= MAX_COMMENT_CHARS


# -- look-alike logins ----------------------------------------------------------------------------
HOMOGLYPHS = {
    "a": "аɑα",  # Cyrillic a, Latin alpha, Greek alpha
    "c": "сϲ",
    "e": "еҽ",
    "i": "іıɩ",
    "j": "ј",
    "l": "ӏⅼ",
    "m": "м",
    "n": "ո",
    "o": "оοօ",
    "p": "рρ",
    "s": "ѕ",
    "u": "υս",
    "x": "хх",
    "y": "уү",
}
DIGITS = {"o": "0", "l": "1", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7", "b": "8"}
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff")


def delegates(registry: Registry) -> list[tuple[str, Community]]:
    """(login, community) for every current delegate with a login."""
    found = []
    for community in registry.communities.values():
        for term in community.current_delegates(TODAY):
            person = registry.people[term.person]
            found += [(email, community) for email in person.emails]
    return found


def exact(login: str) -> str:
    """What makes two logins the same account: NFC and case, nothing more."""
    return unicodedata.normalize("NFC", login).lower()


@st.composite
def lookalike(draw: st.DrawFn, login: str) -> str:
    local, _, domain = login.partition("@")
    how = draw(st.sampled_from(("homoglyph", "digit", "invisible", "fullwidth", "domain")))
    if how in ("homoglyph", "digit"):
        table = HOMOGLYPHS if how == "homoglyph" else DIGITS
        spots = [i for i, c in enumerate(local) if c in table]
        assume(spots)
        i = draw(st.sampled_from(spots))
        local = local[:i] + draw(st.sampled_from(table[local[i]])) + local[i + 1 :]
    elif how == "invisible":
        i = draw(st.integers(0, len(local)))
        local = local[:i] + draw(st.sampled_from(INVISIBLE)) + local[i:]
    elif how == "fullwidth":
        i = draw(st.integers(0, len(local) - 1))
        assume(local[i] in string.ascii_letters)
        local = local[:i] + chr(ord(local[i]) + 0xFEE0) + local[i + 1 :]
    else:
        domain = draw(
            st.sampled_from(
                (
                    domain + ".",
                    domain.replace(".", "\u3002"),  # ideographic full stop
                    domain.replace("example", "examp1e"),
                    domain.replace("example", "еxample"),
                    domain + ".evil.net",
                )
            )
        )
    return f"{local}@{domain}"


@settings(SETTINGS, max_examples=120)
@given(data=st.data())
def test_a_lookalike_of_a_delegate_is_never_endorsed(registry, rules, data):
    login, community = data.draw(st.sampled_from(delegates(registry)))
    fake = data.draw(lookalike(login))
    # Not the system's own normalize_email: a fuzzier one would hide every look-alike here.
    known = {exact(e) for p in registry.people.values() for e in p.emails}
    assume(exact(fake) not in known)
    ids = {p.bugzilla_id for p in registry.people.values()}
    creator_id = data.draw(
        st.one_of(st.none(), st.integers(1, 10**6).filter(lambda i: i not in ids))
    )
    summary = f"Request for {community.name}"
    real = Bug(10, summary, login, NOW, description="Please.")
    assert decide(real, registry, rules[0], NOW).outcome in ("endorsed", "ambiguous")
    bug = Bug(11, summary, fake, NOW, creator_id=creator_id, creator_name="", description="Please.")
    for rule in rules:
        decision = decide(bug, registry, rule, NOW)
        assert decision.outcome not in ("endorsed", "former-delegate"), (fake, decision.reason)
        assert decision.outcome == "needs-endorsement" and decision.community == community.slug
        assert "Endorsed" not in (decision.write.comment or "")


# -- private contacts, generated registries -------------------------------------------------------
NAMES = ("Alpha Guild", "Beta Crew", "Gamma Club", "Delta Team", "Epsilon Circle")


@st.composite
def registries(draw: st.DrawFn) -> tuple[Registry, set[str]]:
    """A registry whose contact values are unique tokens; returns it and the private ones."""
    counter = iter(range(10**6))
    private: set[str] = set()

    def contacts() -> tuple[Contact, ...]:
        found = []
        for _ in range(draw(st.integers(0, 3))):
            public = draw(st.booleans())
            value = f"{'pubval' if public else 'zzpriv'}{next(counter)}qq"
            if not public:
                private.add(value)
            kind = draw(st.sampled_from(("email", "matrix", "phone", "irc", "website")))
            found.append(Contact(kind, value, public))
        return tuple(found)

    people = []
    for i in range(draw(st.integers(1, 6))):
        emails = tuple(f"p{i}.{k}@example.org" for k in range(draw(st.integers(0, 2))))
        bugzilla_id = draw(st.one_of(st.none(), st.just(5000 + i)))
        people.append(Person(f"p{i}", f"Person {i}", emails, bugzilla_id, contacts()))
    handles = [p.handle for p in people]

    def day(low: int, high: int) -> date:
        return TODAY + timedelta(days=draw(st.integers(low, high)))

    communities = []
    for j in range(draw(st.integers(1, len(NAMES)))):
        terms = []
        for handle in draw(st.lists(st.sampled_from(handles), max_size=3)):
            since = day(-900, 30)
            until = draw(
                st.one_of(
                    st.none(), st.integers(1, 900).map(lambda n, s=since: s + timedelta(days=n))
                )
            )
            terms.append(Delegation(handle, "Lead", since, until))
        resources = tuple(
            Resource(
                draw(st.sampled_from(("domain", "hosting", "mailing-list", "repo"))),
                f"r{j}{k}.example.org",
                tuple(
                    draw(st.lists(st.sampled_from(handles), min_size=1, max_size=3, unique=True))
                ),
            )
            for k in range(draw(st.integers(0, 2)))
        )
        communities.append(
            Community(
                f"c{j}",
                NAMES[j],
                draw(st.sampled_from(get_args(CommunityStatus))),
                TODAY,
                Governance("board", notes=draw(st.sampled_from((None, "Elected yearly.")))),
                (f"Alias{j}",) if draw(st.booleans()) else (),
                contacts(),
                tuple(terms),
                resources,
            )
        )
    return Registry.build(people, communities), private


@settings(SETTINGS, max_examples=60)
@given(generated=registries(), mention_all=st.booleans())
def test_private_contacts_never_appear_in_comments_nor_on_the_directory(
    rules, generated, mention_all
):
    registry, private = generated
    pages = [render_markdown(registry, TODAY), render_html(registry, TODAY)]
    mentions = [[c.name, *(r.id for r in c.resources)] for c in registry.communities.values()]
    summaries = [""] + [" ".join(m) for m in mentions]
    if mentions and mention_all:
        summaries.append(" and ".join(x for m in mentions for x in m))
    reporters = [(e, p.bugzilla_id) for p in registry.people.values() for e in p.emails[:1]]
    reporters += [("stranger@example.net", None)]
    texts = []
    for summary in summaries:
        for login, bugzilla_id in reporters:
            bug = Bug(12, summary, login, NOW, creator_id=bugzilla_id, description=summary)
            texts += comments_for(bug, registry, rules)
    for text in pages + texts:
        leaked = [value for value in private if value in text]
        assert not leaked, (leaked, text)


# -- a dry run is read-only -----------------------------------------------------------------------
def test_a_dry_run_sends_nothing_but_gets(registry, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    key = "dry-run-key-0123456789abcdef"
    now = datetime.now(UTC).replace(microsecond=0)
    writes: list[str] = []

    def refuse_writes(info: RequestInfo) -> Any:
        if info.method != "GET" and info.phase == "before":
            writes.append(f"{info.method} {info.path}")
            return 405, {"error": True, "code": 32614, "message": "a dry run wrote"}
        return None

    with FaultyBugzilla(api_key=key) as fake:
        demo.add_accounts(fake, registry.people.values())
        for n, fragment in enumerate(FRAGMENTS[:20]):
            fake.add_bug(
                f"Mozilla Hispano {fragment}",
                fragment * 3,
                ("lucia@example.org", "newcomer@example.org", "kavin@example.org")[n % 3],
                creation_time=now - timedelta(minutes=40 - n),
            )
        before = fake.snapshot()["bugs"]
        fake.on_request(refuse_writes)
        key_file = tmp_path / "key"
        key_file.write_text(key, encoding="utf-8")
        key_file.chmod(0o600)
        config = tmp_path / "triagebot.toml"
        config.write_text(
            textwrap.dedent(
                f"""\
                [bugzilla]
                url = "{fake.url}"
                api_key_file = "{key_file}"
                api_key_in = "query"
                requests_per_minute = 0
                page_size = 7
                [registry]
                path = "{ROOT / "data"}"
                [rules]
                path = "{ROOT / "rules"}"
                [database]
                url = "sqlite:///{tmp_path / "triagebot.db"}"
                [poll]
                start = {now - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}
                [run]
                dry_run = false
                max_actions_per_run = 100
                """
            ),
            encoding="utf-8",
        )
        code = cli.main(["--config", str(config), "once", "--dry-run"])
        out = capsys.readouterr().out
        explained = cli.main(["--config", str(config), "explain", "1"])
        assert cli.main(["--config", str(config), "status"]) == 0
        after = fake.snapshot()["bugs"]
        searched = fake.counts["search"]
    assert code == 0 and explained == 0
    assert "mozilla-hispano" in out  # it did decide, and print what it would have done
    assert writes == []
    assert after == before
    assert searched >= 3
