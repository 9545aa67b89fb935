"""The delegate registry: who speaks for which community, as plain data plus an index.

Everything here is pure and in memory; reading the files lives in `triagebot.files.validate`.
Identity look-ups are exact on purpose (Bugzilla id, or a listed email compared
case-insensitively after NFC): a look-alike address must never be taken for a delegate.

The types are declared once, as pydantic dataclasses: the same classes validate people.toml
and communities/SLUG.toml (the words of each error on its field, see `triagebot.core.says`),
give the files' JSON Schemas, and are what the bot looks things up in. `handle` and `slug`
are not written in a file: they are its table's name and its file name. Checks that depend on
the day or on people.toml read the validation context: `today`, `handles` (None when
people.toml could not be read) and `referenced` (a set the handles met are added to); a value
built in code has no context and is checked for its own shape only.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
)
from pydantic.dataclasses import dataclass as declared
from pydantic.json_schema import SkipJsonSchema

from triagebot.core.says import Say, did_you_mean, invalid

CommunityStatus = Literal["active", "dormant", "retired"]
ResourceKind = Literal["domain", "hosting", "mailing-list", "social", "repo", "other"]
SCHEDULED_TERM_MAX = timedelta(days=365)

# local@domain.tld: no spaces, no second '@', no empty domain label. Non-ASCII letters are fine:
# look-alike protection belongs to the exact look-up, not to this syntax check.
_EMAIL_CHAR = r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}]+@{_EMAIL_CHAR}.]+(?:\.{_EMAIL_CHAR}.]+)+$"
EMAIL_RE = re.compile(EMAIL_PATTERN)


def normalize_email(email: str) -> str:
    """The key emails are compared by: NFC, then lower case. Nothing fuzzier."""
    key = unicodedata.normalize("NFC", email).strip().lower()
    return email if key == email else key  # the same object when unchanged: less memory


def normalize_name(name: str) -> str:
    """The key community names, aliases and resource ids are compared by."""
    key = " ".join(unicodedata.normalize("NFC", name).casefold().split())
    return name if key == name else key  # the same object when unchanged: less memory


# -- the declared field types (strict: TOML has types, "1" is not a number) ---------------------
Text = Annotated[
    str, Strict(), Field(pattern=r"\S"), Say(string_pattern_mismatch="must not be empty")
]
Email = Annotated[
    str,
    Strict(),
    Field(pattern=EMAIL_PATTERN),
    Say(string_pattern_mismatch="malformed email {value!r} (expected local@domain.tld, no spaces)"),
]
PositiveInt = Annotated[int, Strict(), Field(gt=0), Say("a positive integer")]
Day = Annotated[date, Strict()]
Flag = Annotated[bool, Strict()]
Handle = Annotated[
    str,
    Strict(),
    Field(pattern=r"^\S+$"),
    Say(string_pattern_mismatch="a handle must be a non-empty word without spaces"),
]
Key = SkipJsonSchema[str]  # a handle or a slug: the table's or the file's name, not a key


def _person_ref(handle: str, info: ValidationInfo) -> str:
    """A handle people.toml defines; a typo gets the closest handle as a suggestion."""
    context = info.context or {}
    handles = context.get("handles")
    context.get("referenced", set()).add(handle)
    if handles is None or handle in handles:
        return handle
    raise invalid(f"unknown person '{handle}'{did_you_mean(handle, handles)}")


PersonRef = Annotated[
    str,
    Strict(),
    AfterValidator(_person_ref),
    Field(description="a handle from people.toml"),
    Say("a person handle (string)"),
]
TABLE = ConfigDict(extra="forbid")  # an unknown key is an error, with a did-you-mean
Item = TypeVar("Item")
Array = Annotated[tuple[Item, ...], Strict(False)]  # a TOML array, held as a tuple


@declared(frozen=True, slots=True, config=TABLE)
class Contact:
    """How to reach a person or a community. Only `public = true` entries are ever published."""

    kind: Text = Field(description="matrix, email, irc, mailing-list, phone, forum...")
    value: Text = Field(description="the address, channel or number")
    public: Flag = Field(description="true: shown on the directory page and in bot comments")


@declared(frozen=True, slots=True, config=TABLE)
class Person:
    """Someone who holds or held a role in a community, or looks after one of its resources."""

    handle: Key
    name: Text = Field(description="shown on the directory page and in the bot's comments")
    emails: Array[Email] = Field(
        (),
        description="every Bugzilla login that is this person; matched exactly (case aside), "
        "one address belongs to one person only",
    )
    bugzilla_id: PositiveInt | None = Field(
        None,
        description="the numeric Bugzilla account id: it keeps matching after the person "
        "changes their login email",
    )
    contacts: Array[Contact] = Field((), description="how to reach them")

    @property
    def public_contacts(self) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.public)


def _with_handles(tables: Any) -> Any:
    """people.toml files each person under its handle, not inside the table."""
    if not isinstance(tables, dict):
        return tables
    return {
        handle: {**table, "handle": handle} if isinstance(table, dict) else table
        for handle, table in tables.items()
    }


People = Annotated[  # people.toml
    dict[Handle, Annotated[Person, Say("a table of person fields ([{key}] then name = ...)")]],
    BeforeValidator(_with_handles),
]


@declared(frozen=True, slots=True, config=TABLE)
class Governance:
    """How the community chooses its delegates."""

    model: Text = Field(description="e.g. elected board, appointed lead, mentor-led club")
    charter: Text | None = Field(None, description="link to the charter or bylaws")
    term_months: PositiveInt | None = Field(None, description="length of a delegate's term")
    notes: Text | None = Field(None, description="shown on the directory page")


@declared(frozen=True, slots=True, config=TABLE)
class Delegation:
    """A dated term: `person` held `title` from `since` up to, not including, `until`."""

    person: PersonRef
    title: Text = Field(description="the role, as the community names it")
    since: Day = Field(description="first day of the term")
    until: Day | None = Field(None, description="the day the term ended (absent: current)")
    source: Text | None = Field(None, description="link to the election or appointment")

    @field_validator("since")
    @classmethod
    def _not_far_ahead(cls, since: date, info: ValidationInfo) -> date:
        today = (info.context or {}).get("today")
        if today is not None and since - today > SCHEDULED_TERM_MAX:
            raise invalid(f"since {since} is more than a year ahead (a typo?)")
        return since

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: date | None, info: ValidationInfo) -> date | None:
        since = info.data.get("since")
        if until is not None and since is not None and until <= since:
            raise invalid(f"until {until} must be after since {since}")
        return until

    def active_on(self, day: date) -> bool:
        return self.since <= day and (self.until is None or day < self.until)

    def ended(self, day: date) -> bool:
        return self.until is not None and self.until <= day


def _someone(handles: tuple[str, ...]) -> tuple[str, ...]:
    """Not `min_length`: on a tuple it would also say "empty" beside a bad handle."""
    if not handles:
        raise invalid("nobody is responsible (the list is empty)")
    return handles


@declared(frozen=True, slots=True, config=TABLE)
class Resource:
    """Something the community runs, and who answers for it."""

    kind: ResourceKind
    id: Text = Field(description="a domain, a URL, a list address...")
    responsible: Annotated[
        Array[PersonRef], AfterValidator(_someone), Say("an array of person handles")
    ] = Field(description="who answers for it", json_schema_extra={"minItems": 1})


@declared(frozen=True, slots=True, config=TABLE)
class Community:
    """communities/SLUG.toml: one community; the file name is its slug."""

    slug: Key
    name: Text = Field(description="the community's name, as people write it in bugs")
    status: CommunityStatus = Field(description="whether it is active, dormant or retired")
    reviewed: Day = Field(description="when someone last confirmed this file is current")
    governance: Governance = Field(description="how the community chooses its delegates")
    aliases: Array[Text] = Field((), description="other names a bug may use")
    contacts: Array[Contact] = Field((), description="the community's own public contacts")
    delegates: Annotated[Array[Delegation], Say("an array of tables ([[delegates]])")] = ()
    resources: Annotated[Array[Resource], Say("an array of tables ([[resources]])")] = ()

    @field_validator("reviewed")
    @classmethod
    def _not_ahead(cls, reviewed: date, info: ValidationInfo) -> date:
        today = (info.context or {}).get("today")
        if today is not None and reviewed > today:
            raise invalid(f"reviewed {reviewed} is in the future (today is {today})")
        return reviewed

    @property
    def public_contacts(self) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.public)

    def current_delegates(self, day: date) -> tuple[Delegation, ...]:
        return tuple(d for d in self.delegates if d.active_on(day))

    def past_delegates(self, day: date) -> tuple[Delegation, ...]:
        """Terms that have ended by `day`, most recent end first."""
        past = [d for d in self.delegates if d.ended(day)]
        return tuple(sorted(past, key=lambda d: d.until or d.since, reverse=True))


@dataclass(frozen=True, slots=True)
class Role:
    """A person's term in a community, seen from a given day."""

    community: Community
    delegation: Delegation
    current: bool
    # Who holds a role in the community on that day (for a former delegate: the successors).
    holders_now: tuple[Delegation, ...] = ()


Index = TypeVar("Index")


@dataclass(slots=True)
class Registry:
    """People and communities, indexed once for the look-ups the bot makes per bug. Indexes
    other modules need (the text and look-alike indexes) are built on first use by `index`
    and live as long as the registry: a reload makes a new Registry, and new indexes."""

    people: dict[str, Person]
    communities: dict[str, Community]
    _by_email: dict[str, Person] = field(default_factory=dict, repr=False)
    _by_bugzilla_id: dict[int, Person] = field(default_factory=dict, repr=False)
    _by_name: dict[str, Community] = field(default_factory=dict, repr=False)
    _by_resource: dict[str, Community] = field(default_factory=dict, repr=False)
    _delegations_of: dict[str, list[tuple[Community, Delegation]]] = field(
        default_factory=dict, repr=False
    )
    _built: dict[Callable[[Registry], Any], Any] = field(
        default_factory=dict, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def build(cls, people: Iterable[Person], communities: Iterable[Community]) -> Registry:
        return cls({p.handle: p for p in people}, {c.slug: c for c in communities})

    def __post_init__(self) -> None:
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
        person = None if bugzilla_id is None else self._by_bugzilla_id.get(bugzilla_id)
        return person or (self.person_by_email(email) if email else None)

    # -- communities ----------------------------------------------------------------------
    def community(self, query: str) -> Community | None:
        """By slug, name or alias, case-insensitively."""
        return self._by_name.get(normalize_name(query))

    def names_index(self) -> dict[str, Community]:
        """Normalized slug/name/alias -> community; for matching text against names."""
        return self._by_name

    def resources_index(self) -> dict[str, Community]:
        """Normalized resource id -> community; for matching domains named in text."""
        return self._by_resource

    # -- roles ----------------------------------------------------------------------------
    def roles_of(self, handle: str, day: date) -> list[Role]:
        """Every term the person held or holds, as seen on `day`, current ones first; a term
        that starts after `day` is not a role yet."""
        roles: list[Role] = []
        for community, delegation in self._delegations_of.get(handle, ()):
            if delegation.since > day:
                continue
            current = delegation.active_on(day)
            holders = () if current else community.current_delegates(day)
            roles.append(Role(community, delegation, current, holders))
        roles.sort(key=lambda r: (not r.current, r.community.slug, r.delegation.since))
        return roles

    # -- indexes of other modules ---------------------------------------------------------
    def index(self, build: Callable[[Registry], Index]) -> Index:
        """`build(self)`, made once for this registry (threads share the first one made)."""
        built = self._built.get(build)
        if built is None:
            with self._lock:
                built = self._built.get(build)
                if built is None:
                    built = self._built[build] = build(self)
        return built
