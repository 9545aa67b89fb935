"""The directory page in a real browser: Debian's Chromium driven by Playwright.

What a reader on a phone or a desktop notices: nothing wider than the screen, addresses and
dates whole on their lines, the contents aligned with the cards, a filter that narrows the
list as they type (and a page that still works without scripts), no private contact.

Never a browser download: Playwright is pointed at /usr/bin/chromium (`.ci/run` installs the
Debian package). Without it the tests skip with the reason shown; under CI=true that is a
failure, so CI cannot silently stop testing the page.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from triagebot.files.validate import load_registry
from triagebot.tools.directory import render_html

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TODAY = date(2026, 11, 24)
WIDTHS = [390, 1366]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    registry = load_registry(ROOT / "data", TODAY).registry
    html = render_html(registry, TODAY, "https://bugzilla.example.org/enter_bug.cgi?c={slug}")
    path = tmp_path_factory.mktemp("page") / "directory.html"
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


def _open(browser: Any, url: str, width: int, scripts: bool = True) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=scripts
    )
    page = context.new_page()
    page.goto(url)
    return page


def _private_values() -> set[str]:
    values: set[str] = set()
    files = [ROOT / "data" / "people.toml", *sorted((ROOT / "data" / "communities").glob("*"))]
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        tables = data.values() if path.name == "people.toml" else [data]
        for table in tables:
            values.update(c["value"] for c in table.get("contacts", ()) if not c["public"])
    return values


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 0.5) wide.push(el.tagName + ' ' + el.textContent.slice(0, 40));
  }
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""

# A text node between two <wbr> is one word of an address: it must sit on one line. A date
# or a term (class nowrap) likewise.
SPLIT = """() => {
  const split = [];
  const lines = (node) => {
    const r = document.createRange();
    r.selectNodeContents(node);
    const tops = Array.from(r.getClientRects()).filter(x => x.width).map(x => Math.round(x.top));
    return new Set(tops).size;
  };
  for (const el of document.querySelectorAll('.addr, .nowrap')) {
    if (el.offsetParent === null) continue;
    for (const node of el.childNodes) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim() && lines(node) > 1)
        split.push(node.textContent);
    }
  }
  return split;
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_wider_than_the_screen_and_no_word_split(browser: Any, page_url: str, width: int):
    page = _open(browser, page_url, width)
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= found["width"], found
    assert found["wide"] == []
    assert page.evaluate(SPLIT) == []
    # The longest address in the data is on the page, whole words only.
    assert page.locator("a.addr", has_text="camille.berthelot@mozfr.example.org").count() >= 1
    page.context.close()


# Where each wrapped address breaks: the text of its line before each break.
BREAKS = """() => {
  const breaks = [];
  for (const el of document.querySelectorAll('.addr')) {
    if (el.offsetParent === null) continue;
    const pieces = Array.from(el.querySelectorAll('.nowrap'));
    for (let i = 1; i < pieces.length; i++) {
      const before = pieces[i - 1].getBoundingClientRect();
      if (Math.round(pieces[i].getBoundingClientRect().top) > Math.round(before.top))
        breaks.push([el.textContent, pieces.slice(0, i).map(p => p.textContent).join('')]);
    }
  }
  return breaks;
}"""


def _segment(address: str, at: int) -> str:
    """The part of `address` between the seams ('@', ':', '/') around position `at`."""
    start = max(address.rfind(c, 0, at) for c in "@:/") + 1
    ends = [i for i in (address.find(c, at) for c in "@:/") if i >= 0]
    return address[start : min(ends, default=len(address))]


# Whether the filter box shows its whole hint: the hint typed in must not scroll the box.
PLACEHOLDER = """() => {
  const box = document.querySelector('#filter-q');
  box.value = box.placeholder;
  const fits = {scroll: box.scrollWidth, width: box.clientWidth};
  box.value = '';
  return fits;
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_addresses_wrap_at_their_seams_and_the_placeholder_fits(
    browser: Any, page_url: str, width: int
):
    """On a phone a long address wraps after its '@', a Matrix id's ':' or a '/', never after
    a Matrix id's leading '@' or '#', nor before the '.org' of a short host name; and the
    filter box shows its whole hint."""
    page = _open(browser, page_url, width)
    breaks = page.evaluate(BREAKS)
    if width == 390:
        assert breaks  # the check below means something
    wrong = [
        (whole, line)
        for whole, line in breaks
        if not line.endswith(("@", ":", "/")) and len(_segment(whole, len(line))) <= 30
    ]
    assert wrong == []
    assert [line for _, line in breaks if line in ("@", "#")] == []
    fit = page.evaluate(PLACEHOLDER)
    assert fit["scroll"] <= fit["width"], fit
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_contents_centred_with_the_cards(browser: Any, page_url: str, width: int):
    page = _open(browser, page_url, width)
    nav = page.locator("nav").bounding_box()
    card = page.locator("main section.card").first.bounding_box()
    assert nav is not None and card is not None
    assert abs(nav["x"] - card["x"]) < 1
    assert abs(nav["width"] - card["width"]) < 1
    viewport = page.viewport_size["width"]
    assert abs(nav["x"] - (viewport - nav["x"] - nav["width"])) < 20  # centred, scrollbar aside
    page.context.close()


def test_active_first_retired_last_and_delegates_before_notes(browser: Any, page_url: str):
    page = _open(browser, page_url, 1366)
    badges = page.locator("main section.card h2").all_inner_texts()
    assert badges[-1].endswith("retired")
    assert "dormant" in badges[-2]
    assert not any(b.endswith(("dormant", "retired")) for b in badges[:-2])
    card = page.locator("#community-mozilla-francophone")
    text = card.inner_text()
    assert text.index("Current delegates") < text.index("Notes") < text.index("Past delegates")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_filter_narrows_as_you_type(browser: Any, page_url: str, width: int):
    page = _open(browser, page_url, width)
    cards = page.locator("main section.card:visible")
    toc = page.locator("#toc li:visible")
    total = cards.count()
    assert total == 7
    box = page.get_by_label("Filter")
    box.press_sequentially("nair")
    assert cards.count() == 1
    assert toc.count() == 1
    assert page.locator("#community-mozilla-campus-club-nairobi").is_visible()
    assert page.locator("#filter-count").inner_text() == "1 of 7"
    box.fill("camille")  # a current delegate's name finds her community
    assert cards.all_inner_texts()[0].startswith("Mozilla Francophone")
    box.fill("no such community")
    assert cards.count() == 0
    assert page.locator("#filter-none").is_visible()
    box.fill("")
    assert cards.count() == total
    page.context.close()


def test_a_filter_in_the_address_applies_on_load(browser: Any, page_url: str):
    page = _open(browser, page_url + "?q=esperanto", 390)
    assert page.locator("main section.card:visible").count() == 1
    assert page.get_by_label("Filter").input_value() == "esperanto"
    page.context.close()


def test_without_scripts_every_community_is_listed_and_linked(browser: Any, page_url: str):
    page = _open(browser, page_url, 390, scripts=False)
    assert page.locator("main section.card:visible").count() == 7
    assert not page.locator("#filter").is_visible()  # no box that would do nothing
    page.locator("#toc a", has_text="Mozilla Tamil").click()
    assert page.url.endswith("#community-mozilla-tamil")
    page.context.close()


def test_contacts_are_links_and_no_private_contact_is_on_the_page(browser: Any, page_url: str):
    page = _open(browser, page_url, 390)
    email = page.locator("a", has_text="camille.berthelot@mozfr.example.org").first
    assert email.get_attribute("href") == "mailto:camille.berthelot@mozfr.example.org"
    matrix = page.locator("a", has_text="@camille:mozfr.example.org").first
    assert matrix.get_attribute("href") == "https://matrix.to/#/@camille:mozfr.example.org"
    correction = page.locator("#community-mozilla-tamil a", has_text="Request a correction")
    assert correction.get_attribute("href").endswith("?c=mozilla-tamil")
    html = page.content()
    text = page.locator("body").inner_text()
    private = _private_values()
    assert {"+1-555-0101", "bureau@mozfr.example.org"} <= private
    assert [v for v in private if v in html or v in text] == []
    assert "bastien@example.org" not in html  # a former delegate's contact: never
    page.context.close()
