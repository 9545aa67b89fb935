"""The functional core: from one bug, the registry and a rule to a `Decision`.

`decide` is pure: no I/O, no clock, no logging. It answers two questions and keeps them apart:

- *Who is the reporter?* Exact only (`Registry.identify`): a look-alike login is a stranger,
  and one whose login is confusable with a registry login (`lookalike`) is flagged as such.
- *Which community is the bug about?* Fuzzy is fine here: community names, aliases and slugs
  as whole words, and resource ids (domains, also inside URLs and addresses) found in the
  summary and the start of the description.

Bug text is untrusted. It is only scanned, never rendered as a template, and the shipped
templates echo none of it; the template sees plain dicts and tuples built here, holding
public contacts only, so no template can reach a private value through a registry object.

Choices worth knowing:
- A current delegate of C who files a bug naming only community D gets `needs-endorsement`
  for D: speaking for C does not make someone a voice of D. Naming C and D is `endorsed` for
  C, and the comment flags D as not covered.
- A former delegate of C is `former-delegate` only when the bug names C alone or nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache
from sys import intern
from typing import Any

from triagebot.core import lookalike
from triagebot.core.bugs import Bug, Decision, Write
from triagebot.core.bugstate import SKIP, has_tag, open_requestees, skipped
from triagebot.core.registry import (
    Community,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
    Role,
    normalize_email,
    normalize_name,
)
from triagebot.core.rule import Rule

SCAN_LIMIT = 20_000  # characters of the description scanned: a 1 MB paste stays cheap
ECHO_LIMIT = 120  # characters of any bug-supplied text handed to a template
LIST_LIMIT = 10  # communities or resources listed in one comment
_PATH_SEGMENTS = 4  # URL path segments tried against resource ids such as host/org/repo

_WORD = re.compile(r"\w+")
# A run of text that may hold a URL, hostname, address or handle.
_CHUNK = re.compile(r"[^\s<>()\[\]{}\"'`,;|\\]+")
_CHUNK_RIGHT = ".,:;!?*_~'\"/"
_CHUNK_LEFT = "*_~'\""
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_AUTHORITY_END = re.compile(r"[/?#]")
# Controls, format characters (bidi overrides, zero-width), surrogates, private use, unassigned,
# line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


# -- the entry point ----------------------------------------------------------------------------
def decide(bug: Bug, registry: Registry, rule: Rule, now: datetime) -> Decision:
    """What to do with `bug` under `rule`, as of `now` (the caller's clock)."""
    if skipped(bug):
        return Decision(bug.id, rule.name, "skipped", f"whiteboard has {SKIP}")
    verdict = analyse(bug, registry, now.astimezone(UTC).date())  # the UTC day, like the CLI
    context, tags, needinfo = respond(bug, registry, rule, verdict)
    comment = context["body"]
    because = reason(verdict, bug)
    note = identity_note(verdict)
    if note is not None:  # a triager must see that the login itself is not in the registry
        comment = f"{comment.rstrip()}\n\nNote: {note}."
        because = f"{because}; {note}"
    write = Write(rule.name, None, comment, new_whiteboard(bug.whiteboard, tags), needinfo)
    return Decision(
        bug.id,
        rule.name,
        verdict.outcome,
        because,
        verdict.community.slug if verdict.community else None,
        tuple(c.slug for c in verdict.matched),
        write,
        lookalike_sentence(verdict.lookalike),
    )


def respond(
    bug: Bug, registry: Registry, rule: Rule, verdict: Verdict
) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """What the rule does for a verdict, for triage and re-triage alike: the template context
    with the rendered comment as `body`, the whiteboard tags to add, the logins to ask."""
    action = rule.outcomes[verdict.outcome]
    needinfo, asked = plan_needinfo(bug, registry, verdict, action.needinfo, rule.needinfo_cap)
    commands = rule.followup.commands if rule.followup is not None else ()
    context = build_context(bug, registry, verdict, asked, rule.name, rule.directory_url, commands)
    slug = verdict.community.slug if verdict.community else ""
    tags = tuple(tag.format(community=slug) for tag in action.whiteboard)
    return {**context, "body": rule.render(verdict.outcome, context)}, tags, needinfo


# -- analysis: who reported it, what it names, which outcome -------------------------------------
@dataclass(frozen=True, slots=True)
class Mentions:
    """Communities and resources a bug's text names, in order of first mention."""

    communities: tuple[Community, ...] = ()
    resources: tuple[tuple[Community, Resource], ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome and the facts behind it: what the comment, reason and needinfo come from."""

    outcome: str
    day: date
    reporter: Person | None
    community: Community | None = None
    role: Role | None = None  # endorsed: the current term; former-delegate: the ended one
    candidates: tuple[Community, ...] = ()  # ambiguous: the communities to choose from
    mentions: Mentions = field(default_factory=Mentions)
    lookalike: lookalike.Lookalike | None = None  # a stranger whose login resembles a known one
    # Matched by Bugzilla account id, but this login is not among the person's emails (ids
    # survive email changes): still that person, and said so.
    unlisted_login: str | None = None

    @property
    def matched(self) -> tuple[Community, ...]:
        """Every community matched: the candidates, else those named, else the chosen one."""
        found = self.candidates or self.mentions.communities
        if self.community is not None and self.community not in found:
            found = (self.community, *found)
        return found


def analyse(bug: Bug, registry: Registry, day: date) -> Verdict:
    """Identify the reporter exactly, find what the bug names, and pick the outcome."""
    reporter = registry.identify(bug.creator_id, bug.creator)
    roles = registry.roles_of(reporter.handle, day) if reporter else []
    scanned = f"{bug.summary[:SCAN_LIMIT]}\n{bug.description[:SCAN_LIMIT]}"
    mentions = text_index(registry).find(scanned)
    verdict = classify(day, reporter, roles, mentions)
    if (
        reporter is not None
        and bug.creator
        and reporter.bugzilla_id is not None
        and reporter.bugzilla_id == bug.creator_id
        and normalize_email(bug.creator) not in {normalize_email(e) for e in reporter.emails}
    ):
        verdict = replace(verdict, unlisted_login=bug.creator)
    if reporter is None and bug.creator:
        found = lookalike.find(registry, bug.creator)
        if found is not None:
            verdict = replace(verdict, lookalike=found)
    return verdict


def classify(day: date, reporter: Person | None, roles: list[Role], mentions: Mentions) -> Verdict:
    """The outcomes table (README, "For triagers") as one ordered list of cases."""
    current = _one_role_each(r for r in roles if r.current)
    former = _one_role_each(r for r in roles if not r.current and r.community.slug not in current)
    named = mentions.communities

    def verdict(outcome: str, community: Community | None = None, **kw: Any) -> Verdict:
        return Verdict(outcome, day, reporter, community, mentions=mentions, **kw)

    if current:
        mine = [c for c in named if c.slug in current]
        if len(mine) == 1:
            return verdict("endorsed", mine[0], role=current[mine[0].slug])
        if len(mine) > 1:
            return verdict("ambiguous", candidates=named)
        if not named:
            if len(current) == 1:
                role = next(iter(current.values()))
                return verdict("endorsed", role.community, role=role)
            return verdict("ambiguous", candidates=tuple(r.community for r in current.values()))
    if len(named) == 1:
        community = named[0]
        if community.slug in former:
            return verdict("former-delegate", community, role=former[community.slug])
        return verdict("needs-endorsement", community)
    if named:
        return verdict("ambiguous", candidates=named)
    if len(former) == 1:
        role = next(iter(former.values()))
        return verdict("former-delegate", role.community, role=role)
    if former:
        return verdict("ambiguous", candidates=tuple(r.community for r in former.values()))
    return verdict("unknown")


def _one_role_each(roles: Iterable[Role]) -> dict[str, Role]:
    """One role per community slug: the current term, or the most recently ended one."""
    best: dict[str, Role] = {}
    for role in roles:  # max keeps the first of equals
        best[role.community.slug] = max(best.get(role.community.slug, role), role, key=_recency)
    return best


def _recency(role: Role) -> tuple[date, date]:
    return (role.delegation.until or date.max, role.delegation.since)


# -- finding communities in text ------------------------------------------------------------------
class TextIndex:
    """A registry's names and resource ids, arranged so that one pass over a text finds them.

    Names become word tuples (`"Mozilla Francophone"` -> `("mozilla", "francophone")`), so the
    text's words are looked up in a dict, longest name first, instead of trying each of
    thousands of names at every position. Resource ids are looked up the same way, one chunk
    of text (a URL, hostname, address) at a time.
    """

    def __init__(self, registry: Registry) -> None:
        self.names: dict[tuple[str, ...], Community] = {}
        for key, community in registry.names_index().items():
            words = tuple(map(intern, _WORD.findall(key)))  # names share words: one copy
            if words:
                self.names.setdefault(words, community)
        self.first_words = frozenset(words[0] for words in self.names)
        self.longest = max((len(words) for words in self.names), default=0)
        self.resources: dict[str, tuple[Community, Resource]] = {}
        for key, community in registry.resources_index().items():
            for resource in community.resources:
                if normalize_name(resource.id) == key:
                    self.resources.setdefault(_resource_key(key), (community, resource))

    def find(self, text: str) -> Mentions:
        folded = unicodedata.normalize("NFC", text).casefold()
        hits = sorted([*self._names_in(folded), *self._resources_in(folded)], key=lambda h: h[0])
        communities: dict[str, Community] = {}
        resources: dict[str, tuple[Community, Resource]] = {}
        for _, community, resource in hits:
            communities.setdefault(community.slug, community)
            if resource is not None:
                resources.setdefault(resource.id, (community, resource))
        return Mentions(tuple(communities.values()), tuple(resources.values()))

    def _names_in(self, folded: str) -> Iterator[tuple[int, Community, None]]:
        """Whole-word matches, the longest at each position, never overlapping."""
        words = [(m.start(), m.group()) for m in _WORD.finditer(folded)]
        tokens = [word for _, word in words]
        i = 0
        while i < len(tokens):
            step = 1
            if tokens[i] in self.first_words:
                for size in range(min(self.longest, len(tokens) - i), 0, -1):
                    community = self.names.get(tuple(tokens[i : i + size]))
                    if community is not None:
                        yield words[i][0], community, None
                        step = size
                        break
            i += step

    def _resources_in(self, folded: str) -> Iterator[tuple[int, Community, Resource]]:
        if not self.resources:
            return
        for match in _CHUNK.finditer(folded):
            chunk = match.group()
            if "." not in chunk and "@" not in chunk:
                continue
            for candidate in _candidates(chunk):
                found = self.resources.get(candidate)
                if found is not None:
                    yield match.start(), found[0], found[1]
                    break


def _resource_key(text: str) -> str:
    """Resource ids and text are compared without scheme and trailing slash."""
    return _SCHEME.sub("", text, count=1).rstrip("/")


def _candidates(chunk: str) -> Iterator[str]:
    """What a chunk of text may name, most specific first: all of it (an address, a handle,
    host/path), shorter URL paths, the hostname, then its parent domains. Whole labels only:
    `wiki.mozfr.example.org` names `mozfr.example.org`; `xmozfr.example.org` does not."""
    rest = _resource_key(chunk.rstrip(_CHUNK_RIGHT).lstrip(_CHUNK_LEFT))
    if not rest:
        return
    yield rest
    cut = _AUTHORITY_END.search(rest)
    authority, path = (rest[: cut.start()], rest[cut.start() :]) if cut else (rest, "")
    host = authority.rpartition("@")[2].partition(":")[0].rstrip(".")
    if "." not in host:
        return
    segments = [s for s in _AUTHORITY_END.split(path) if s][:_PATH_SEGMENTS]
    for size in range(len(segments), 0, -1):
        yield host + "/" + "/".join(segments[:size])
    labels = host.split(".")
    for start in range(len(labels) - 1):
        yield ".".join(labels[start:])


def text_index(registry: Registry) -> TextIndex:
    """The TextIndex of `registry`, built once per Registry object."""
    return registry.index(TextIndex)


# -- actions: whiteboard and needinfo -------------------------------------------------------------
def new_whiteboard(current: str, tags: tuple[str, ...]) -> str | None:
    """The whiteboard with the missing tags appended, or None when all of them are there.
    Unlike `edit_whiteboard`, the spacing humans wrote is left as it was."""
    text = current.strip()
    added: list[str] = []
    for tag in tags:
        if not has_tag(" ".join([text, *added]), tag):
            added.append(tag)
    return (" ".join([text, *added]) if text else " ".join(added)) if added else None


def plan_needinfo(
    bug: Bug, registry: Registry, verdict: Verdict, mode: str, cap: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The logins to ask, and the names the comment may show for them.

    Never anyone with an open needinfo on the bug already (under any of their logins), never
    the reporter when asking delegates, and at most `cap` new requests."""
    already = open_requestees(bug)
    asks: list[tuple[str, str]] = []
    if mode == "reporter":
        if bug.creator and normalize_email(bug.creator) not in already:
            name = verdict.reporter.name if verdict.reporter else "the reporter"
            asks.append((bug.creator, name))
    elif mode == "delegates" and verdict.community is not None:
        for person in _delegates_to_ask(bug, registry, verdict):
            if not any(normalize_email(email) in already for email in person.emails):
                asks.append((person.emails[0], person.name))
    asks = asks[: max(cap, 0)]
    return tuple(login for login, _ in asks), tuple(name for _, name in asks)


def _delegates_to_ask(bug: Bug, registry: Registry, verdict: Verdict) -> Iterator[Person]:
    """The community's current delegates with a login, in file order, reporter excluded."""
    assert verdict.community is not None
    reporter_login = normalize_email(bug.creator)
    reporter_handle = verdict.reporter.handle if verdict.reporter else None
    seen: set[str] = set()
    for delegation in verdict.community.current_delegates(verdict.day):
        person = registry.people.get(delegation.person)
        if person is None or not person.emails or person.handle in seen:
            continue
        seen.add(person.handle)
        mine = reporter_login in {normalize_email(e) for e in person.emails}
        if person.handle != reporter_handle and not mine:
            yield person


# -- the reason: one line for logs and triagers ----------------------------------------------------
def reason(verdict: Verdict, bug: Bug) -> str:
    """Why the outcome, in one line (explain, logs)."""
    who = verdict.reporter.handle if verdict.reporter else sanitize(bug.creator, 80) or "?"
    slug = verdict.community.slug if verdict.community else ""
    term = verdict.role.delegation if verdict.role else None
    listed = ", ".join(c.slug for c in verdict.candidates[:LIST_LIMIT])
    if verdict.outcome == "endorsed" and term:
        return f"reporter {who} is {term.title} of {slug} since {term.since}"
    if verdict.outcome == "former-delegate" and term:
        return f"reporter {who} was {term.title} of {slug} until {term.until}"
    if verdict.outcome == "needs-endorsement":
        return f"bug names {slug}; reporter {who} is not one of its current delegates"
    if verdict.outcome == "ambiguous" and verdict.mentions.communities:
        return f"bug names several communities ({listed}); reporter {who} speaks for none alone"
    if verdict.outcome == "ambiguous":
        return f"reporter {who} has roles in several communities ({listed}); bug names none"
    return f"reporter {who} holds no delegate role and the bug names no community"


def identity_note(verdict: Verdict) -> str | None:
    """How the reporter was recognised, when it was by account id alone."""
    if verdict.unlisted_login is None or verdict.reporter is None:
        return None
    login = sanitize(verdict.unlisted_login, 80)
    return (
        f"matched by Bugzilla account id; login {login} is not listed for {verdict.reporter.name}"
    )


def lookalike_sentence(found: lookalike.Lookalike | None) -> str | None:
    """What a triager is told about a look-alike login, in one line (explain, logs)."""
    if found is None:
        return None
    return (
        f"the reporter's login {sanitize(found.login, 80)} resembles {found.resembles}, a login "
        f"of {found.person.name} ({found.person.handle}) in the registry, but is another "
        f"account: it {found.why}; never endorsed"
    )


# -- the template context -------------------------------------------------------------------------
def build_context(
    bug: Bug,
    registry: Registry,
    verdict: Verdict,
    asked: tuple[str, ...],
    rule_name: str,
    directory_url: str | None,
    commands: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Plain data for the template: names, titles, dates and public contacts only. Keys are
    the same for every outcome (None or empty where they do not apply), so a template can be
    checked against a sample at load time."""
    people, day, community = registry.people, verdict.day, verdict.community
    chosen = community_view(community, people, day) if community else None
    also = [c for c in verdict.mentions.communities if c is not community] if community else []
    matched = verdict.matched
    return {
        "outcome": verdict.outcome,
        "rule": rule_name,
        "directory_url": directory_url,
        "summary": sanitize(bug.summary),
        "reporter": _reporter(verdict, bug),
        "community": chosen,
        "communities": tuple(community_ref(c) for c in matched[:LIST_LIMIT]),
        "more_communities": max(len(matched) - LIST_LIMIT, 0),
        "also_named": tuple(community_ref(c) for c in also[:LIST_LIMIT]),
        "former_role": _former_role(verdict, chosen),
        "resources": tuple(
            _resource(c, r, people, day) for c, r in verdict.mentions.resources[:LIST_LIMIT]
        ),
        "asked": asked,
        "lookalike": _lookalike(verdict.lookalike),
        "commands": commands,
    }


def _lookalike(found: lookalike.Lookalike | None) -> dict[str, str] | None:
    if found is None:
        return None
    return {
        "login": sanitize(found.login),
        "resembles": found.resembles,
        "name": found.person.name,
        "why": found.why,
    }


def _reporter(verdict: Verdict, bug: Bug) -> dict[str, Any]:
    person, term = verdict.reporter, verdict.role.delegation if verdict.role else None
    return {
        "known": person is not None,
        "handle": person.handle if person else None,
        "name": person.name if person else sanitize(bug.creator_name),
        "email": sanitize(bug.creator),
        "title": term.title if term else None,
        "since": term.since.isoformat() if term else None,
        "until": term.until.isoformat() if term and term.until else None,
    }


def community_ref(community: Community) -> dict[str, str]:
    return {"name": community.name, "slug": community.slug, "status": community.status}


def community_view(community: Community, people: dict[str, Person], day: date) -> dict[str, Any]:
    return {
        **community_ref(community),
        "contacts": _contacts(community.contacts),
        "delegates": tuple(
            _delegate(d, people[d.person])
            for d in community.current_delegates(day)
            if d.person in people
        ),
    }


def _delegate(delegation: Delegation, person: Person) -> dict[str, Any]:
    return {
        "name": person.name,
        "title": delegation.title,
        "since": delegation.since.isoformat(),
        "contacts": _contacts(person.contacts),
    }


def _former_role(verdict: Verdict, chosen: dict[str, Any] | None) -> dict[str, Any] | None:
    role = verdict.role
    if verdict.outcome != "former-delegate" or role is None or chosen is None:
        return None
    term = role.delegation
    return {
        "title": term.title,
        "community": chosen["name"],
        "since": term.since.isoformat(),
        "until": term.until.isoformat() if term.until else None,
        "holders": chosen["delegates"],
    }


def _resource(
    community: Community, resource: Resource, people: dict[str, Person], day: date
) -> dict[str, Any]:
    """A mentioned resource and who looks after it; a former delegate is named, unreachable."""
    former = {d.person for d in community.past_delegates(day)}
    hidden = former - {d.person for d in community.current_delegates(day)}
    return {
        "id": resource.id,
        "kind": resource.kind,
        "community": community.name,
        "community_slug": community.slug,
        "responsible": tuple(
            {
                "name": people[h].name,
                "contacts": () if h in hidden else _contacts(people[h].contacts),
            }
            for h in resource.responsible
            if h in people
        ),
    }


def _contacts(contacts: tuple[Contact, ...]) -> tuple[dict[str, str], ...]:
    """Public contacts only: `is True`, so nothing but an explicit flag publishes one."""
    return tuple(
        {"kind": c.kind, "value": c.value, "text": f"{c.kind}: {c.value}"}
        for c in contacts
        if c.public is True
    )


def sanitize(text: str, limit: int = ECHO_LIMIT) -> str:
    """Bug-supplied text made safe to show: no controls, bidi overrides or zero-width
    characters, one line, at most `limit` characters."""
    head = text[: limit * 4]
    kept = "".join(" " if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch for ch in head)
    line = " ".join(kept.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- samples: the context of every outcome, for checking templates when rules load ---------------
SAMPLE_DAY = date(2026, 1, 1)
_SAMPLE_NOW = datetime(2026, 1, 1, 12, 0)
_SAMPLE_TEXT = {
    "endorsed": ("ana@example.org", "Sample Community A with Sample Community B: a.example.org"),
    "former-delegate": ("ben@example.org", "renew https://a.example.org/wiki"),
    # Strangers with look-alike logins, so that the look-alike paragraph is checked too.
    "needs-endorsement": ("dee@examp1e.org", "Sample Community A: https://a.example.org/"),
    "unknown": ("dee@examp1e.org", "a new mailing list, please"),
    "ambiguous": ("dee@examp1e.org", "Sample Community A or Sample Community B? a.example.org"),
}


@cache
def sample_registry() -> Registry:
    def person(handle: str, name: str) -> Person:
        contacts = (
            Contact("matrix", f"@{handle}:example.org", True),
            Contact("phone", "+1-555-0100", False),
        )
        return Person(handle, name, (f"{handle}@example.org",), None, contacts)

    def community(slug: str, name: str, delegates: tuple[Delegation, ...]) -> Community:
        contact = Contact("mailing-list", f"https://lists.example.org/{slug}", True)
        resource = Resource("domain", f"{slug[-1]}.example.org", ("cy", "ben"))
        governance = Governance("board")
        return Community(
            slug, name, "active", SAMPLE_DAY, governance, (), (contact,), delegates, (resource,)
        )

    since, ended = date(2024, 1, 1), date(2025, 1, 1)
    people = [person("ana", "Ana A"), person("ben", "Ben B"), person("cy", "Cy C")]
    people.append(person("dee", "Dee D"))
    terms_a = (Delegation("ana", "Chair", ended), Delegation("ben", "Chair", since, ended))
    return Registry.build(
        people,
        [
            community("sample-a", "Sample Community A", terms_a),
            community("sample-b", "Sample Community B", (Delegation("dee", "Lead", since),)),
        ],
    )


def sample_context(
    outcome: str, needinfo_mode: str, rule_name: str, directory_url: str | None
) -> dict[str, Any]:
    """A realistic context for `outcome`, built by the same code as a real one, with every
    optional part filled in where the outcome allows it."""
    registry = sample_registry()
    login, text = _SAMPLE_TEXT[outcome]
    bug = Bug(0, text, login, _SAMPLE_NOW, creator_name="Zed Z")
    verdict = analyse(bug, registry, SAMPLE_DAY)
    assert verdict.outcome == outcome, (outcome, verdict.outcome)
    _, asked = plan_needinfo(bug, registry, verdict, needinfo_mode, LIST_LIMIT)
    commands = ("endorse", "decline")  # the line telling delegates how to answer, checked too
    return build_context(bug, registry, verdict, asked, rule_name, directory_url, commands)
