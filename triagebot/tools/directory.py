"""The public directory page: the single place to look up who speaks for a community.

Bot comments and triagers link here instead of copying contacts around, so the page must be
safe to publish as is. Two rules shape this module:

- Privacy is decided once, in `public_view`. It copies out only contacts flagged public, and
  only for current delegates and the communities themselves; a former delegate is a dated
  fact, never a way to reach someone. The renderers only ever see that view, so a change to
  the layout cannot leak a private value.
- Registry text is hand-edited and may contain markup characters, so every value is escaped
  where it is written: the HTML page is a Jinja2 template with autoescape on (a value can only
  become markup through the `addr` filter, which escapes each piece itself), Markdown goes
  through `_md`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup

from triagebot.core.registry import Contact, Delegation, Governance, Registry
from triagebot.files.rules import RulesError, load_rules
from triagebot.tools.history import Event, name_of, timeline

TITLE = "Community directory"
INTRO = "Who speaks for each community, and how to reach them. Public contacts only."
STATUS_NOTES = {
    "dormant": "Dormant: currently inactive; listed so requests about it can still be routed.",
    "retired": "Retired: the community has closed; listed so old requests still resolve.",
}
_URL = re.compile(r"https?://[^\s<>\"']+")
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[^\s@<>\"']+")


@dataclass(frozen=True, slots=True)
class Holder:
    """A term as the page shows it; `contacts` stays empty for a former delegate."""

    name: str
    title: str
    since: date
    until: date | None
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One community, reduced to what may be published."""

    slug: str
    name: str
    aliases: tuple[str, ...]
    status: str
    governance: Governance
    contacts: tuple[Contact, ...]
    current: tuple[Holder, ...]
    past: tuple[Holder, ...]
    resources: tuple[tuple[str, str, tuple[str, ...]], ...]  # kind, id, responsible names
    history: tuple[Event, ...] = ()


def _public(contacts: tuple[Contact, ...]) -> tuple[Contact, ...]:
    # `is True`, not truthiness: only an explicit public flag publishes a contact.
    return tuple(c for c in contacts if c.public is True)


STATUS_ORDER = {"active": 0, "dormant": 1, "retired": 2}


def public_view(registry: Registry, today: date) -> list[Entry]:
    """Every community, active ones first and retired ones last, by name within each; holding
    only what the page may show on `today`."""

    def holder(term: Delegation, current: bool) -> Holder:
        person = registry.people.get(term.person)
        contacts = _public(person.contacts) if current and person else ()
        return Holder(name_of(registry, term.person), term.title, term.since, term.until, contacts)

    communities = sorted(
        registry.communities.values(),
        key=lambda c: (STATUS_ORDER.get(c.status, 1), c.name.casefold(), c.slug),
    )
    return [
        Entry(
            slug=c.slug,
            name=c.name,
            aliases=c.aliases,
            status=c.status,
            governance=c.governance,
            contacts=_public(c.contacts),
            current=tuple(holder(d, True) for d in c.current_delegates(today)),
            past=tuple(holder(d, False) for d in c.past_delegates(today)),
            resources=tuple(
                (r.kind, r.id, tuple(name_of(registry, h) for h in r.responsible))
                for r in c.resources
            ),
            history=tuple(timeline(registry, c, today)),
        )
        for c in communities
    ]


def _anchor(slug: str) -> str:
    return "community-" + re.sub(r"[^a-z0-9-]+", "-", slug.lower())


def _term(h: Holder) -> str:
    return f"{h.since} – {h.until}" if h.until else f"since {h.since}"


def _governance(g: Governance) -> str:
    parts = [g.model]
    if g.term_months:
        parts.append(f"terms of {g.term_months} months")
    return ", ".join(parts)


# -- Markdown --------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&$])")


def _md(text: str) -> str:
    """Escape characters that would turn data into markup; fold newlines so data cannot
    start a heading or a list item."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_value(value: str) -> str:
    return f"<{value}>" if _URL.fullmatch(value) else _md(value)


def _md_contacts(contacts: tuple[Contact, ...], indent: str) -> list[str]:
    return [f"{indent}- {_md(c.kind)}: {_md_value(c.value)}" for c in contacts]


def render_markdown(registry: Registry, today: date) -> str:
    """The directory as Markdown, e.g. for a wiki or a repository page."""
    entries = public_view(registry, today)
    out = [f"# {TITLE}", "", f"{INTRO} Generated on {today.isoformat()}.", "", "## Contents", ""]
    for e in entries:
        mark = "" if e.status == "active" else f" ({_md(e.status)})"
        out.append(f"- [{_md(e.name)}](#{_anchor(e.slug)}){mark}")
    for e in entries:
        out += ["", f'<a id="{_anchor(e.slug)}"></a>', "", f"## {_md(e.name)}", ""]
        if e.status in STATUS_NOTES:
            out += [f"> **{STATUS_NOTES[e.status]}**", ""]
        if e.aliases:
            out.append(f"- **Also known as:** {', '.join(_md(a) for a in e.aliases)}")
        out.append(f"- **Status:** {_md(e.status)}")
        out.append(f"- **Governance:** {_md(_governance(e.governance))}")
        if e.governance.charter:
            out.append(f"- **Charter:** {_md_value(e.governance.charter)}")
        if e.governance.notes:
            out.append(f"- **Notes:** {_md(e.governance.notes)}")
        if e.contacts:
            out.append("- **Contacts:**")
            out += _md_contacts(e.contacts, "  ")
        out += ["", "### Current delegates", ""]
        if not e.current:
            out.append("No current delegate.")
        for h in e.current:
            out.append(f"- **{_md(h.name)}**, {_md(h.title)} · {_term(h)}")
            out += _md_contacts(h.contacts, "  ")
        if e.resources:
            out += ["", "### Resources", ""]
            for kind, rid, names in e.resources:
                who = ", ".join(_md(n) for n in names)
                out.append(f"- {_md(kind)}: {_md(rid)} (responsible: {who})")
        if e.past:
            out += ["", "### Past delegates", ""]
            out += [f"- {_md(h.name)}, {_md(h.title)} · {_term(h)}" for h in e.past]
    return "\n".join(out) + "\n"


# -- HTML ------------------------------------------------------------------------------------
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("triagebot.tools", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
# The seams of an address: after '@', after ':' (a Matrix id's server) and after '/', but
# not inside "://". A host name longer than _LONG characters may also break before a dot.
_SEAM = re.compile(r"(?<=[@:/])(?!/)")
_DOT = re.compile(r"(?=[.])")
_LONG = 30
_SIGILS = ("@", "#", "!")


def _addr(value: str) -> Markup:
    """An address that may wrap only where a reader expects it: after '@' (never right after
    a Matrix id's leading sigil), ':' or '/', and before a dot only in a very long host name;
    never in the middle of a word (the CSS forbids other breaks)."""
    pieces = [p for p in _SEAM.split(value) if p]
    if len(pieces) > 1 and pieces[0] in _SIGILS:  # "@" alone at a line's end reads as noise
        pieces[:2] = [pieces[0] + pieces[1]]
    pieces = [q for p in pieces for q in (_DOT.split(p) if len(p) > _LONG else [p]) if q]
    # Each piece is kept whole (a browser would otherwise break after a hyphen).
    return Markup("<wbr>").join(Markup('<span class="nowrap">%s</span>') % p for p in pieces)


def _href(contact: Contact) -> str | None:
    """Where a contact links to: URLs as they are, emails as mailto:, Matrix ids and rooms
    through matrix.to (what Element and other clients open)."""
    value = contact.value.strip()
    if _URL.fullmatch(value):
        return value
    if _EMAIL.fullmatch(value) and not value.startswith(("@", "#")):
        return "mailto:" + value
    if contact.kind == "matrix" and re.fullmatch(r"[@#!][^\s:]+:[^\s]+", value):
        return "https://matrix.to/#/" + quote(value, safe="@#!:")
    return None


def _search_text(e: Entry) -> str:
    """What the filter box matches: names, aliases, slug, delegates and resource ids; all of
    it already public on the page."""
    words = [e.name, e.slug, e.status, *e.aliases, *(h.name for h in e.current)]
    words += [rid for _, rid, _ in e.resources]
    return " ".join(words).casefold()


def default_correction_url(bugzilla_url: str, rules_path: Path) -> str:
    """Where "Request a correction" points unless told: a new bug on the configured Bugzilla,
    in the product and component the first rule watches (where the Community IT team reads
    requests), its summary naming the community. Without readable rules (a data repository
    on its own), Bugzilla asks for the product."""
    try:
        rules = load_rules(rules_path)
    except RulesError:
        rules = []
    where = {"product": rules[0].product, "component": rules[0].components[0]} if rules else {}
    query = urlencode(where, quote_via=quote)
    summary = "short_desc=Directory%20correction%3A%20{name}"  # {name}: filled per community
    return f"{bugzilla_url.rstrip('/')}/enter_bug.cgi?{query + '&' if query else ''}{summary}"


def _correction(template: str, e: Entry) -> str:
    return template.replace("{slug}", quote(e.slug)).replace("{name}", quote(e.name))


_ENV.filters["addr"] = _addr
_ENV.filters["href"] = _href
_ENV.globals.update(anchor=_anchor, term=_term, governance=_governance, notes=STATUS_NOTES)


def render_html(registry: Registry, today: date, correction_url: str | None = None) -> str:
    """The directory as one self-contained HTML file (no external assets) that reads well
    on a phone: cards and definition lists instead of wide tables.

    `correction_url` is where "Request a correction" points; `{slug}` and `{name}` in it are
    replaced by the community's (URL-encoded)."""
    entries = public_view(registry, today)
    return _ENV.get_template("directory.html.j2").render(
        title=TITLE,
        intro=INTRO,
        today=today,
        entries=entries,
        search={e.slug: _search_text(e) for e in entries},
        corrections={e.slug: _correction(correction_url, e) for e in entries}
        if correction_url
        else {},
    )
