"""The directory page: complete for current roles, silent on anything private or past."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triagebot import shipped
from triagebot.commands.cli import main
from triagebot.core.registry import (
    Community,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
)
from triagebot.tools.directory import render_html, render_markdown

TODAY = date(2026, 11, 24)
RENDERERS = [render_markdown, render_html]
Render = Callable[[Registry, date], str]

PRIVATE_VALUES = ("+1-555-0100", "ana.home@example.org", "board-only@example.org", "bob-secret")
# Bob's term has ended: even his public contacts must not be shown.
FORMER_PUBLIC = ("bob.public@example.org", "@bob:example.org")
EVIL_NAME = '<script>alert("x")</script> & "Co"'


def _registry() -> Registry:
    people = [
        Person(
            "ana",
            "Ana Example",
            emails=("ana@example.org",),
            contacts=(
                Contact("matrix", "@ana:example.org", True),
                Contact("phone", "+1-555-0100", False),
                Contact("email", "ana.home@example.org", False),
            ),
        ),
        Person(
            "bob",
            "Bob Former",
            contacts=(
                Contact("email", "bob.public@example.org", True),
                Contact("matrix", "@bob:example.org", True),
                Contact("telegram", "bob-secret", False),
            ),
        ),
        Person("carl", "Carl Admin", contacts=(Contact("matrix", "@carl:example.org", True),)),
        Person("evil", EVIL_NAME, contacts=(Contact("website", "https://evil.example.org", True),)),
    ]
    example = Community(
        slug="mozex",
        name="Mozilla Example",
        status="active",
        reviewed=date(2026, 6, 1),
        governance=Governance("elected board", "https://mozex.example.org/charter", 24),
        aliases=("MozEx",),
        contacts=(
            Contact("mailing-list", "https://lists.example.org/mozex", True),
            Contact("email", "board-only@example.org", False),
        ),
        delegates=(
            Delegation("ana", "Presidenta", date(2025, 1, 1)),
            Delegation("bob", "Presidente", date(2020, 1, 1), date(2025, 1, 1)),
        ),
        resources=(
            Resource("domain", "mozex.example.org", ("carl", "ana")),
            Resource("hosting", "vps.mozex.example.org", ("carl",)),
        ),
    )
    quiet = Community(
        slug="quiet",
        name="Quiet Club",
        status="dormant",
        reviewed=date(2026, 2, 1),
        governance=Governance("mentor-led club"),
        delegates=(Delegation("bob", "Mentor", date(2018, 3, 1), date(2024, 5, 1)),),
        resources=(Resource("domain", "quiet.example.org", ("carl",)),),
    )
    odd = Community(
        slug="odd",
        name="Another <Group>",
        status="active",
        reviewed=date(2026, 6, 1),
        governance=Governance("single owner"),
        delegates=(Delegation("evil", "Owner & <b>boss</b>", date(2026, 1, 1)),),
    )
    return Registry.build(people, [example, quiet, odd])


@pytest.fixture(scope="module")
def registry() -> Registry:
    return _registry()


@pytest.mark.parametrize("render", RENDERERS)
def test_current_delegates_with_titles_and_public_contacts(render: Render, registry: Registry):
    page = render(registry, TODAY)
    for text in (
        "Ana Example",
        "Presidenta",
        "@ana:example.org",
        "https://lists.example.org/mozex",
        "elected board",
        "https://mozex.example.org/charter",
        "MozEx",
    ):
        assert text in page


@pytest.mark.parametrize("render", RENDERERS)
def test_resources_name_the_responsible_people(render: Render, registry: Registry):
    page = render(registry, TODAY)
    assert "mozex.example.org" in page
    assert "vps.mozex.example.org" in page
    assert "Carl Admin" in page
    assert "hosting" in page
    # A resource lists names only: a non-delegate admin's contacts are not published.
    assert "@carl:example.org" not in page


@pytest.mark.parametrize("render", RENDERERS)
def test_past_delegates_with_dates(render: Render, registry: Registry):
    page = render(registry, TODAY)
    assert "Bob Former" in page
    assert "Presidente" in page
    assert "2020-01-01 – 2025-01-01" in page
    assert "2018-03-01 – 2024-05-01" in page


@pytest.mark.parametrize("render", RENDERERS)
def test_private_and_former_delegate_contacts_never_appear(render: Render, registry: Registry):
    page = render(registry, TODAY)
    for value in PRIVATE_VALUES + FORMER_PUBLIC:
        assert value not in page


@pytest.mark.parametrize("render", RENDERERS)
def test_sorted_with_contents_date_and_status(render: Render, registry: Registry):
    page = render(registry, TODAY)
    assert "2026-11-24" in page
    assert "Contents" in page
    assert page.count("#community-mozex") == 1  # one contents link per community
    positions = [page.index(f'id="community-{slug}"') for slug in ("odd", "mozex", "quiet")]
    assert positions == sorted(positions)
    assert "dormant" in page
    assert "No current delegate." in page


def test_html_escapes_registry_text(registry: Registry):
    page = render_html(registry, TODAY)
    assert page.count("<script") == 1  # the page's own filter script, nothing from the data
    assert "<script>alert" not in page
    assert "<b>boss</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Co&#34;" in page
    assert "Another &lt;Group&gt;" in page


def test_markdown_escapes_registry_text(registry: Registry):
    page = render_markdown(registry, TODAY)
    assert "<script>" not in page
    assert "<b>" not in page
    assert r"\<script\>" in page
    assert r"Another \<Group\>" in page


def test_html_is_self_contained_and_mobile_friendly(registry: Registry):
    page = render_html(registry, TODAY)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<table" not in page
    for banned in ("<link", "src=", "@import", "url("):
        assert banned not in page.lower()
    # The only external links are public contact values (Matrix ids through matrix.to) and
    # charters, as plain <a href>.
    external = re.findall(r'href="(https?://[^"]*)"', page)
    assert set(external) == {
        "https://lists.example.org/mozex",
        "https://mozex.example.org/charter",
        "https://evil.example.org",
        "https://matrix.to/#/@ana:example.org",
    }


# -- property: no private value ever reaches either page -------------------------------------
MARK = "§"  # only private values contain it, and neither escaper touches it
_text = st.text(  # a value the registry holds: not blank (its types say so)
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=MARK),
    min_size=1,
    max_size=12,
).filter(lambda text: not text.isspace())
_contacts = st.lists(
    st.one_of(
        st.builds(Contact, kind=_text, value=_text, public=st.just(True)),
        st.builds(Contact, kind=_text, value=_text.map(MARK.__add__), public=st.just(False)),
    ),
    max_size=4,
).map(tuple)


@st.composite
def registries(draw: st.DrawFn) -> Registry:
    handles = [f"p{i}" for i in range(draw(st.integers(1, 5)))]
    people = [Person(h, draw(_text), contacts=draw(_contacts)) for h in handles]

    def delegation() -> Delegation:
        since = TODAY + timedelta(days=draw(st.integers(-4000, 400)))
        length = draw(st.none() | st.integers(1, 3000))
        until = since + timedelta(days=length) if length else None
        return Delegation(draw(st.sampled_from(handles)), draw(_text), since, until)

    communities = [
        Community(
            slug=f"c{i}",
            name=draw(_text),
            status=draw(st.sampled_from(["active", "dormant", "retired"])),
            reviewed=TODAY,
            governance=Governance(draw(_text), notes=draw(st.none() | _text)),
            aliases=tuple(draw(st.lists(_text, max_size=2))),
            contacts=draw(_contacts),
            delegates=tuple(delegation() for _ in range(draw(st.integers(0, 4)))),
            resources=(
                Resource(
                    "domain",
                    draw(_text),
                    tuple(draw(st.sets(st.sampled_from(handles), min_size=1))),
                ),
            ),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    return Registry.build(people, communities)


@settings(max_examples=200, deadline=None)
@given(registries())
def test_no_private_value_in_any_render(registry: Registry):
    for render in RENDERERS:
        assert MARK not in render(registry, TODAY)


# -- the page's layout and extras ------------------------------------------------------------
def test_active_first_retired_last_whatever_the_names():
    def community(slug: str, name: str, status: str) -> Community:
        return Community(slug, name, status, date(2026, 1, 1), Governance("club"))

    registry = Registry.build(
        [],
        [
            community("a", "Aardvark Club", "retired"),
            community("b", "Beaver Club", "dormant"),
            community("z", "Zebra Club", "active"),
        ],
    )
    for render in RENDERERS:
        page = render(registry, TODAY)
        order = [page.index(f"community-{slug}", page.index("Contents")) for slug in "zba"]
        assert order == sorted(order), render.__name__


def test_html_card_shows_current_delegates_before_governance_notes(registry: Registry):
    page = render_html(registry, TODAY)
    card = page[page.index('id="community-mozex"') :]
    assert card.index("Current delegates") < card.index("Governance") < card.index("History")


def test_html_correction_link_is_per_community_and_escaped(registry: Registry):
    page = render_html(registry, TODAY, "https://bz.example.org/enter_bug.cgi?c={slug}&n={name}")
    assert 'href="https://bz.example.org/enter_bug.cgi?c=mozex&amp;n=Mozilla%20Example"' in page
    assert page.count("Request a correction") == 3
    assert "Request a correction" not in render_html(registry, TODAY)


def test_html_history_is_dated_and_names_the_titles(registry: Registry):
    page = render_html(registry, TODAY)
    assert "2020-01-01</span> Bob Former became Presidente" in page
    assert "2025-01-01</span> Bob Former stopped being Presidente" in page


def test_json_is_the_public_view(registry: Registry):
    import json

    from triagebot.commands.documents import dumps
    from triagebot.commands.jsonout import directory_document

    document = json.loads(dumps(directory_document(registry, TODAY)))
    assert document["generated"] == "2026-11-24"
    slugs = [c["slug"] for c in document["communities"]]
    assert slugs == ["odd", "mozex", "quiet"]
    mozex = document["communities"][1]
    assert mozex["current_delegates"][0]["name"] == "Ana Example"
    assert mozex["current_delegates"][0]["contacts"] == [
        {"kind": "matrix", "value": "@ana:example.org"}
    ]
    assert mozex["past_delegates"][0]["contacts"] == []
    assert mozex["resources"][0] == {
        "kind": "domain",
        "id": "mozex.example.org",
        "responsible": ["Carl Admin", "Ana Example"],
    }
    text = json.dumps(document)
    for value in PRIVATE_VALUES + FORMER_PUBLIC:
        assert value not in text


def test_the_default_correction_link_files_a_bug_where_requests_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """Without --correction-url, "Request a correction" opens a new bug in the product and
    component the rule watches (Bugzilla would otherwise ask for a product first)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    shutil.copytree(shipped.DATA, tmp_path / "data")
    shutil.copytree(shipped.RULES, tmp_path / "rules")
    assert main(["registry", "render", "--format", "html"]) == 0
    links = re.findall(r'href="([^"]*enter_bug[^"]*)"', capsys.readouterr().out)
    assert links[0] == (
        "https://bugzilla.mozilla.org/enter_bug.cgi?product=Participation%20Infrastructure"
        "&amp;component=Community%20IT&amp;short_desc=Directory%20correction%3A%20"
        "Mozilla%20Campus%20Club%20Nairobi"
    )
    shutil.rmtree(tmp_path / "rules")  # a data repository on its own: Bugzilla asks
    assert main(["registry", "render", "--format", "html"]) == 0
    links = re.findall(r'href="([^"]*enter_bug[^"]*)"', capsys.readouterr().out)
    assert links[0].startswith("https://bugzilla.mozilla.org/enter_bug.cgi?short_desc=")
