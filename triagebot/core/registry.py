"""The delegate registry: who speaks for which community, as plain data plus an index.

Everything here is pure and in memory. Loading and validating the hand-edited files lives in
`triagebot.files.validate`; this module only answers questions, fast, from an index built once.
Identity look-ups are exact on purpose (Bugzilla id, or a listed email compared
case-insensitively after NFC): a look-alike address must never be taken for a delegate.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

COMMUNITY_STATUSES = ("active", "dormant", "retired")
RESOURCE_KINDS = ("domain", "hosting", "mailing-list", "social", "repo", "other")


def normalize_email(email: str) -> str:
    """The key emails are compared by: NFC, then lower case. Nothing fuzzier."""
    key = unicodedata.normalize("NFC", email).strip().lower()
    return email if key == email else key  # the same object when unchanged: less memory


def normalize_name(name: str) -> str:
    """The key community names, aliases and resource ids are compared by."""
    key = " ".join(unicodedata.normalize("NFC", name).casefold().split())
    return name if key == name else key  # the same object when unchanged: less memory


@dataclass(frozen=True, slots=True)
class Contact:
    kind: str
    value: str
    public: bool


@dataclass(frozen=True, slots=True)
class Person:
    handle: str
    name: str
    emails: tuple[str, ...] = ()
    bugzilla_id: int | None = None
    contacts: tuple[Contact, ...] = ()

    @property
    def public_contacts(self) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.public)


@dataclass(frozen=True, slots=True)
class Delegation:
    person: str
    title: str
    since: date
    until: date | None = None
    source: str | None = None

    def active_on(self, day: date) -> bool:
        """A term covers `since` up to, not including, `until`."""
        return self.since <= day and (self.until is None or day < self.until)


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    id: str
    responsible: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Governance:
    model: str
    charter: str | None = None
    term_months: int | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Community:
    slug: str
    name: str
    status: str
    reviewed: date
    governance: Governance
    aliases: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    delegates: tuple[Delegation, ...] = ()
    resources: tuple[Resource, ...] = ()

    @property
    def public_contacts(self) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.public)

    def current_delegates(self, day: date) -> tuple[Delegation, ...]:
        return tuple(d for d in self.delegates if d.active_on(day))

    def past_delegates(self, day: date) -> tuple[Delegation, ...]:
        """Terms that have ended by `day`, most recent end first."""
        past = [d for d in self.delegates if d.until is not None and d.until <= day]
        return tuple(sorted(past, key=lambda d: d.until or d.since, reverse=True))


@dataclass(frozen=True, slots=True)
class Role:
    """A person's term in a community, seen from a given day."""

    community: Community
    delegation: Delegation
    current: bool
    # Who holds a role in the community on that day (for a former delegate: the successors).
    holders_now: tuple[Delegation, ...] = ()

    @property
    def ended(self) -> date | None:
        return None if self.current else self.delegation.until


@dataclass(slots=True)
class Registry:
    """People and communities, indexed once for the look-ups the bot makes per bug."""

    people: dict[str, Person]
    communities: dict[str, Community]
    _by_email: dict[str, Person] = field(default_factory=dict, repr=False)
    _by_bugzilla_id: dict[int, Person] = field(default_factory=dict, repr=False)
    _by_name: dict[str, Community] = field(default_factory=dict, repr=False)
    _by_resource: dict[str, Community] = field(default_factory=dict, repr=False)
    _delegations_of: dict[str, list[tuple[Community, Delegation]]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        self._build_index()

    @classmethod
    def build(cls, people: Iterable[Person], communities: Iterable[Community]) -> Registry:
        return cls({p.handle: p for p in people}, {c.slug: c for c in communities})

    def _build_index(self) -> None:
        for person in self.people.values():
            for email in person.emails:
                self._by_email.setdefault(normalize_email(email), person)
            if person.bugzilla_id is not None:
                self._by_bugzilla_id.setdefault(person.bugzilla_id, person)
        for community in self.communities.values():
            for key in (community.slug, community.name, *community.aliases):
                self._by_name.setdefault(normalize_name(key), community)
            for resource in community.resources:
                self._by_resource.setdefault(normalize_name(resource.id), community)
            for delegation in community.delegates:
                self._delegations_of.setdefault(delegation.person, []).append(
                    (community, delegation)
                )

    # -- identity: exact only -------------------------------------------------------------
    def person_by_email(self, email: str) -> Person | None:
        return self._by_email.get(normalize_email(email))

    def person_by_bugzilla_id(self, bugzilla_id: int) -> Person | None:
        return self._by_bugzilla_id.get(bugzilla_id)

    def identify(self, bugzilla_id: int | None, email: str | None) -> Person | None:
        """The registry person behind a Bugzilla account: the id first (it survives email
        changes), then the login email."""
        if bugzilla_id is not None:
            person = self._by_bugzilla_id.get(bugzilla_id)
            if person is not None:
                return person
        return self.person_by_email(email) if email else None

    # -- communities ----------------------------------------------------------------------
    def community(self, query: str) -> Community | None:
        """By slug, name or alias, case-insensitively."""
        return self._by_name.get(normalize_name(query))

    def community_by_resource(self, resource_id: str) -> Community | None:
        return self._by_resource.get(normalize_name(resource_id))

    def names_index(self) -> dict[str, Community]:
        """Normalized slug/name/alias -> community; for matching text against names."""
        return self._by_name

    def resources_index(self) -> dict[str, Community]:
        """Normalized resource id -> community; for matching domains named in text."""
        return self._by_resource

    # -- roles ----------------------------------------------------------------------------
    def roles_of(self, handle: str, day: date) -> list[Role]:
        """Every term the person held or holds, as seen on `day`; current ones first.

        A term that starts after `day` is not a role yet and is left out.
        """
        roles: list[Role] = []
        for community, delegation in self._delegations_of.get(handle, ()):
            if delegation.since > day:
                continue
            current = delegation.active_on(day)
            holders = () if current else community.current_delegates(day)
            roles.append(Role(community, delegation, current, holders))
        roles.sort(key=lambda r: (not r.current, r.community.slug, r.delegation.since))
        return roles

    def referenced_handles(self) -> set[str]:
        used = set(self._delegations_of)
        for community in self.communities.values():
            for resource in community.resources:
                used.update(resource.responsible)
        return used
