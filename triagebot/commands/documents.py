"""The `--json` documents, declared once: what each command prints for scripts.

Every document is versioned and says whether the command succeeded (`ok`); a failure is one
`ErrorDocument` whatever the command, so a script's `json.load` always gets a document and
reads `error.kind` instead of parsing stderr. One vocabulary across commands: `bug` (a bug
number), `rule`, `community` (a slug), `current_delegates`, and times as
`YYYY-MM-DDTHH:MM:SSZ`. Keys are added, never renamed or removed; a key without a value is
null or an empty list, never absent.

The JSON Schemas generated from these models are committed in `data/schema/output/`, beside
the registry's (`python -m triagebot.commands.documents data/schema/output` writes them), and
tests validate every command's output, success and failure, against them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

VERSION = 1


def _utc(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# A moment, in UTC to the second: the README's format, the same in every document.
Time = Annotated[
    datetime,
    PlainSerializer(_utc, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"},
        mode="serialization",
    ),
]


class ErrorKind(StrEnum):
    """Why a command failed, for scripts to branch on; the exit code says what to do."""

    USAGE = "usage"  # a bad option or argument (exit 2)
    CONFIGURATION = "configuration"  # a file, setting, key or product to fix (exit 2)
    NOT_FOUND = "not_found"  # the bug, person or community asked for is not there (exit 1)
    UNREACHABLE = "unreachable"  # Bugzilla did not answer: worth a retry (exit 1)
    BUGZILLA = "bugzilla"  # Bugzilla answered an error (exit 1, or 2 for a refused key)
    INTERRUPTED = "interrupted"  # Ctrl-C (exit 130)
    INTERNAL = "internal"  # a bug in triagebot (exit 1)


class Part(BaseModel):
    # Frozen, closed to unknown keys, and readable off a view model's attributes
    # (`from_attributes`), so `jsonout` passes the view models' objects in as they are.
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class Document(Part):
    """What every document starts with."""

    version: Literal[1] = VERSION
    ok: bool = True


class Error(Part):
    kind: ErrorKind
    message: str
    problems: list[str] = []  # every problem when there are several (files with errors)


class ErrorDocument(Document):
    """Any command that failed: the same exit code as in text mode."""

    ok: Literal[False] = False
    exit_code: int
    error: Error


# -- once -----------------------------------------------------------------------------------
class BugLine(Part):
    bug: int
    action: str
    outcome: str | None
    community: str | None
    communities: list[str]
    whiteboard: str | None
    needinfo: list[str]
    comment: str | None
    error: str | None


class PollView(Part):
    rule: str
    live: bool
    since: Time
    requests: int
    error: str | None
    capped: int | None
    handled_before: int
    bugs: list[BugLine]


class PollDocument(Document):
    """`once --json`."""

    exit_code: int
    polls: list[PollView]


# -- explain --------------------------------------------------------------------------------
class WouldWrite(Part):
    whiteboard: str | None
    needinfo: list[str]
    comment: str | None  # None: a change of tags only (a request turned stale)
    clear_flags: list[int]  # the bot's needinfo requests cleared, by flag id
    kind: str | None  # a follow-up's kind (confirmation, reminder...); None: the first comment


class Posted(Part):
    comment_id: int
    count: int
    creator: str
    time: Time | None
    text: str


class ExplainRule(Part):
    rule: str
    outcome: str
    reason: str
    community: str | None
    communities: list[str]
    before_start: bool
    state: str | None
    would_write: WouldWrite | None
    posted: Posted | None


class ExplainDocument(Document):
    """`explain BUG --json`: `rules` is empty when no rule watches the bug."""

    bug: int
    summary: str
    product: str
    component: str
    reporter: str
    reporter_id: int | None
    created: Time
    rules: list[ExplainRule]


# -- status ---------------------------------------------------------------------------------
class PollRecord(Part):
    rule: str
    live: bool
    started: Time
    finished: Time | None
    bugs: int
    acted: int
    failed: int
    skipped: int
    error: str | None


class UnconfirmedWrite(Part):
    bug: int
    rule: str
    ref: str | None
    since: Time | None


class FailedBug(Part):
    bug: int
    rule: str
    error: str | None


class ReloadReport(Part):
    source: str
    reported: Time | None
    problems: list[str]


class StatusDocument(Document):
    """`status --json`: `state` false when there is no database yet (none is created)."""

    state: bool
    polls: list[PollRecord] = []
    outcomes: dict[str, int] = {}
    unconfirmed_writes: list[UnconfirmedWrite] = []
    failed: list[FailedBug] = []
    running_bot_problems: list[ReloadReport] = []
    file_problems: list[str] = []


# -- queue ----------------------------------------------------------------------------------
class AwaitingBug(Part):
    bug: int
    url: str
    summary: str
    rule: str
    community: str | None  # the slug; null when the bug names none the registry knows
    community_name: str | None
    age_days: int
    asked: list[str]
    stale: bool


class QueueDocument(Document):
    """`queue --json`: the bugs awaiting endorsement, oldest first."""

    bugs: list[AwaitingBug]


# -- registry -------------------------------------------------------------------------------
class ContactView(Part):
    kind: str
    value: str


class PastTerm(Part):
    handle: str
    name: str
    title: str
    since: date
    until: date | None


class Term(PastTerm):
    contacts: list[ContactView] = []  # public ones, current delegates only


class Role(Part):
    community: str
    title: str
    since: date
    until: date | None
    current: bool


class PersonView(Part):
    handle: str
    name: str
    bugzilla_id: int | None
    emails: list[str]
    contacts: list[ContactView]
    roles: list[Role]


class PersonDocument(Document):
    """`registry find --json`; nobody found is an ErrorDocument of kind not_found."""

    query: str
    person: PersonView


class GovernanceView(Part):
    model: str
    term_months: int | None
    charter: str | None
    notes: str | None


class ResourceView(Part):
    kind: str
    id: str
    responsible: list[str]


class CommunityDocument(Document):
    """`registry show --json`: one community (public contacts only)."""

    slug: str
    name: str
    status: str
    reviewed: date
    aliases: list[str]
    governance: GovernanceView
    current_delegates: list[Term]
    contacts: list[ContactView]
    resources: list[ResourceView]
    past_delegates: list[PastTerm]


class Holder(Part):
    """A term as the directory page shows it, by name; contacts only for a current one."""

    name: str
    title: str
    since: date
    until: date | None
    contacts: list[ContactView]


class Event(Part):
    day: date
    kind: str
    person: str
    title: str
    source: str | None
    scheduled: bool
    text: str


class DirectoryCommunity(Part):
    slug: str
    name: str
    aliases: list[str]
    status: str
    governance: GovernanceView
    contacts: list[ContactView]
    current_delegates: list[Holder]
    past_delegates: list[Holder]
    resources: list[ResourceView]
    history: list[Event]


class DirectoryDocument(Document):
    """`registry render --json`: the directory page's public data, for other tools."""

    generated: date
    communities: list[DirectoryCommunity]


class CheckDocument(Document):
    """`registry check --json`: `ok` false when there are errors (exit 1)."""

    registry: str
    communities: int
    people: int
    files: int
    errors: list[str]
    warnings: list[str]


class Finding(Part):
    severity: str  # error | warning
    file: str
    line: int
    field: str
    message: str


class AuditDocument(Document):
    """`registry audit --json`: `ok` false when a finding is an error (exit 1)."""

    policy: str
    checks: list[str]  # the policy.toml tables that switch a check on
    findings: list[Finding]


class Blocker(Part):
    what: str  # key, bot_login, product, registry, directory_url, database, ...
    problem: str


class GoLiveDocument(Document):
    """`check --json`: every reason the bot cannot go live, each with its fix."""

    blockers: list[Blocker]


# Every document a command prints, by the name the README and `--help` use.
DOCUMENTS: dict[str, type[Document]] = {
    "error": ErrorDocument,
    "poll": PollDocument,
    "explain": ExplainDocument,
    "status": StatusDocument,
    "queue": QueueDocument,
    "person": PersonDocument,
    "community": CommunityDocument,
    "directory": DirectoryDocument,
    "check": CheckDocument,
    "audit": AuditDocument,
    "golive": GoLiveDocument,
}


def dumps(document: Document) -> str:
    """The document as printed: indented, keys in declared order, non-ASCII as is."""
    data = document.model_dump(mode="json")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per document, of the JSON as printed (serialization mode)."""
    schemas = {}
    for name, model in DOCUMENTS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["title"] = f"triagebot --json: {name} document"
        schemas[name] = schema
    return schemas


def schema_file(name: str) -> str:
    return f"{name}.schema.json"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / schema_file(name)
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m triagebot.commands.documents data/schema/output
    for written in write_schemas(Path(sys.argv[1])):
        print(f"wrote {written}", file=sys.stderr)
