"""The registry's file formats, declared once: people.toml and communities/SLUG.toml.

These pydantic models are the one statement of what a registry file may hold. They validate
the files (`triagebot.files.validate` maps their errors to `file:line: field: message`), give the
JSON Schemas editors use for completion and inline errors (`triagebot registry schema`,
`data/schema/`, see `triagebot.files.schema`), and their descriptions are the field documentation.
What needs more than one file (references to people, names claimed twice, current delegates)
is checked by hand in `triagebot.files.validate`.

Checks that depend on the day (a term far in the future, a review date ahead of today) and on
people.toml (a delegate's handle) read the validation context: `today`, `handles` (None when
people.toml could not be read) and `referenced` (a set the handles met are added to).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from triagebot.core.registry import COMMUNITY_STATUSES, RESOURCE_KINDS
from triagebot.files.problems import Say, Table, did_you_mean, invalid

SCHEDULED_TERM_MAX = timedelta(days=365)

# local@domain.tld: no spaces, no second '@', no empty domain label. Non-ASCII letters are fine:
# look-alike protection belongs to the exact look-up, not to this syntax check.
_EMAIL_CHAR = r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}]+@{_EMAIL_CHAR}.]+(?:\.{_EMAIL_CHAR}.]+)+$"
EMAIL_RE = re.compile(EMAIL_PATTERN)

Text = Annotated[str, Field(pattern=r"\S"), Say(string_pattern_mismatch="must not be empty")]
Email = Annotated[
    str,
    Field(pattern=EMAIL_PATTERN),
    Say(string_pattern_mismatch="malformed email {value!r} (expected local@domain.tld, no spaces)"),
]
PositiveInt = Annotated[int, Field(gt=0), Say("a positive integer")]
Handle = Annotated[
    str,
    Field(pattern=r"^\S+$"),
    Say(string_pattern_mismatch="a handle must be a non-empty word without spaces"),
]


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
    AfterValidator(_person_ref),
    Field(description="a handle from people.toml"),
    Say("a person handle (string)"),
]
CommunityStatus = Literal[*COMMUNITY_STATUSES]  # type: ignore[valid-type]
ResourceKind = Literal[*RESOURCE_KINDS]  # type: ignore[valid-type]


class Contact(Table):
    """How to reach a person or a community. Only `public = true` entries are ever published."""

    kind: Text = Field(description="matrix, email, irc, mailing-list, phone, forum...")
    value: Text = Field(description="the address, channel or number")
    public: bool = Field(description="true: shown on the directory page and in bot comments")


class Person(Table):
    """Someone who holds or held a role in a community, or looks after one of its resources."""

    name: Text = Field(description="shown on the directory page and in the bot's comments")
    bugzilla_id: PositiveInt | None = Field(
        None,
        description="the numeric Bugzilla account id: it keeps matching after the person "
        "changes their login email",
    )
    emails: list[Email] = Field(
        default_factory=list,
        description="every Bugzilla login that is this person; matched exactly (case aside), "
        "one address belongs to one person only",
    )
    contacts: list[Contact] = Field(default_factory=list, description="how to reach them")


PERSON_SAY = Say("a table of person fields ([{key}] then name = ...)")
People = dict[Handle, Annotated[Person, PERSON_SAY]]  # people.toml: a table per handle


class Governance(Table):
    """How the community chooses its delegates."""

    model: Text = Field(description="e.g. elected board, appointed lead, mentor-led club")
    charter: Text | None = Field(None, description="link to the charter or bylaws")
    term_months: PositiveInt | None = Field(None, description="length of a delegate's term")
    notes: Text | None = Field(None, description="shown on the directory page")


class Delegation(Table):
    """A dated term: `person` held `title` from `since` up to, not including, `until`."""

    person: PersonRef
    title: Text = Field(description="the role, as the community names it")
    since: date = Field(description="first day of the term")
    until: date | None = Field(None, description="the day the term ended (absent: current)")
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


class Resource(Table):
    """Something the community runs, and who answers for it."""

    kind: ResourceKind
    id: Text = Field(description="a domain, a URL, a list address...")
    responsible: Annotated[
        list[PersonRef],
        Field(min_length=1),
        Say("an array of person handles", too_short="nobody is responsible (the list is empty)"),
    ]


class CommunityFile(Table):
    """communities/SLUG.toml: one community; the file name is its slug."""

    name: Text = Field(description="the community's name, as people write it in bugs")
    aliases: list[Text] = Field(default_factory=list, description="other names a bug may use")
    status: CommunityStatus
    reviewed: date = Field(description="when someone last confirmed this file is current")
    governance: Governance
    contacts: list[Contact] = Field(
        default_factory=list, description="the community's own public contacts"
    )
    delegates: Annotated[
        list[Delegation], Say("an array of tables ([[delegates]])"), Field(default_factory=list)
    ]
    resources: Annotated[
        list[Resource], Say("an array of tables ([[resources]])"), Field(default_factory=list)
    ]

    @field_validator("reviewed")
    @classmethod
    def _not_ahead(cls, reviewed: date, info: ValidationInfo) -> date:
        today = (info.context or {}).get("today")
        if today is not None and reviewed > today:
            raise invalid(f"reviewed {reviewed} is in the future (today is {today})")
        return reviewed
