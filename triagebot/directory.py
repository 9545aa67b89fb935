"""The public directory page: the single place to look up who speaks for a community.

Bot comments and triagers link here instead of copying contacts around, so the page must be
safe to publish as is. Two rules shape this module:

- Privacy is decided once, in `public_view`. It copies out only contacts flagged public, and
  only for current delegates and the communities themselves; a former delegate is a dated
  fact, never a way to reach someone. The renderers only ever see that view, so a change to
  the layout cannot leak a private value.
- Registry text is hand-edited and may contain markup characters, so every value is escaped
  where it is written (`html.escape` for HTML, `_md` for Markdown).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date

from triagebot.registry import Contact, Delegation, Governance, Registry

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


def _public(contacts: tuple[Contact, ...]) -> tuple[Contact, ...]:
    # `is True`, not truthiness: only an explicit public flag publishes a contact.
    return tuple(c for c in contacts if c.public is True)


def public_view(registry: Registry, today: date) -> list[Entry]:
    """Every community sorted by name, holding only what the page may show on `today`."""

    def name_of(handle: str) -> str:
        person = registry.people.get(handle)
        return person.name if person else handle

    def holder(term: Delegation, current: bool) -> Holder:
        person = registry.people.get(term.person)
        contacts = _public(person.contacts) if current and person else ()
        return Holder(name_of(term.person), term.title, term.since, term.until, contacts)

    communities = sorted(registry.communities.values(), key=lambda c: (c.name.casefold(), c.slug))
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
                (r.kind, r.id, tuple(name_of(h) for h in r.responsible)) for r in c.resources
            ),
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
_CSS = """
:root{color-scheme:light dark;--fg:#1b1b1f;--muted:#55555f;--line:#d7d7db;--card:#fff;
--bg:#f4f4f6;--accent:#0b57d0;--badge:#fde7c7;--badge-fg:#5c3b00}
@media (prefers-color-scheme:dark){:root{--fg:#ececf0;--muted:#b4b4bd;--line:#3a3a44;
--card:#1f1f25;--bg:#141418;--accent:#8ab4f8;--badge:#4a3510;--badge-fg:#fde7c7}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;background:var(--bg);color:var(--fg);
font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:anywhere}
header,nav,main{max-width:46rem;margin:0 auto}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.3rem;margin:0 0 .5rem}
h3{font-size:1.05rem;margin:1.1rem 0 .3rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;
padding:1rem 1.25rem;margin:1rem 0}
dl{margin:.25rem 0}dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 1rem}
ul,ol{padding-left:1.25rem;margin:.3rem 0}li{margin:.2rem 0}
.muted{color:var(--muted)}a{color:var(--accent)}
.badge{font-size:.8rem;font-weight:600;padding:.1rem .55rem;border-radius:1rem;
background:var(--badge);color:var(--badge-fg);white-space:nowrap}
"""


def _html_contact(c: Contact) -> str:
    value = html.escape(c.value)
    if _URL.fullmatch(c.value):
        value = f'<a href="{html.escape(c.value)}">{value}</a>'
    elif _EMAIL.fullmatch(c.value):
        value = f'<a href="mailto:{html.escape(c.value)}">{value}</a>'
    return f"<li>{html.escape(c.kind)}: {value}</li>"


def _html_contacts(contacts: tuple[Contact, ...]) -> str:
    return f"<ul>{''.join(map(_html_contact, contacts))}</ul>" if contacts else ""


def _badge(status: str) -> str:
    return "" if status == "active" else f' <span class="badge">{html.escape(status)}</span>'


def _html_entry(e: Entry) -> str:
    g = e.governance
    facts = [("Status", html.escape(e.status)), ("Governance", html.escape(_governance(g)))]
    if e.aliases:
        facts.insert(0, ("Also known as", html.escape(", ".join(e.aliases))))
    if g.charter:
        link = _URL.fullmatch(g.charter)
        charter = html.escape(g.charter)
        facts.append(("Charter", f'<a href="{charter}">{charter}</a>' if link else charter))
    if g.notes:
        facts.append(("Notes", html.escape(g.notes)))
    if e.contacts:
        facts.append(("Contacts", _html_contacts(e.contacts)))
    parts = [f'<section class="card" id="{_anchor(e.slug)}">']
    parts.append(f"<h2>{html.escape(e.name)}{_badge(e.status)}</h2>")
    if e.status in STATUS_NOTES:
        parts.append(f'<p class="muted">{html.escape(STATUS_NOTES[e.status])}</p>')
    parts.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    parts.append("<h3>Current delegates</h3>")
    current = [
        f"<li><strong>{html.escape(h.name)}</strong>, {html.escape(h.title)} "
        f'· <span class="muted">{_term(h)}</span>{_html_contacts(h.contacts)}</li>'
        for h in e.current
    ]
    parts.append(f"<ul>{''.join(current)}</ul>" if current else "<p>No current delegate.</p>")
    if e.resources:
        parts.append("<h3>Resources</h3><dl>")
        for kind, rid, names in e.resources:
            who = html.escape(", ".join(names))
            parts.append(f"<dt>{html.escape(kind)}: {html.escape(rid)}</dt>")
            parts.append(f"<dd>responsible: {who}</dd>")
        parts.append("</dl>")
    if e.past:
        parts.append("<h3>Past delegates</h3><ul>")
        parts += [
            f"<li>{html.escape(h.name)}, {html.escape(h.title)} "
            f'· <span class="muted">{_term(h)}</span></li>'
            for h in e.past
        ]
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(registry: Registry, today: date) -> str:
    """The directory as one self-contained HTML file (no external assets) that reads well
    on a phone: cards and definition lists instead of wide tables."""
    entries = public_view(registry, today)
    toc = "".join(
        f'<li><a href="#{_anchor(e.slug)}">{html.escape(e.name)}</a>{_badge(e.status)}</li>'
        for e in entries
    )
    body = "\n".join(_html_entry(e) for e in entries)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>{TITLE}</h1>
<p>{html.escape(INTRO)} <span class="muted">Generated on {today.isoformat()}.</span></p></header>
<nav class="card" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>
<main>
{body}
</main>
</body>
</html>
"""
