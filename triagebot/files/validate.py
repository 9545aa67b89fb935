"""Load the hand-edited registry files and report every problem in them at once.

Maintainers fix these files from the report alone, so each problem says `file:line: field:
message`, and one run lists them all: a validator that stops at the first error makes people
re-run it once per typo. What one file may hold is declared in `triagebot.core.registry`;
this module reads the files, validates each against its model, and checks by hand only what
spans entries or files: emails and Bugzilla ids claimed twice, names and resources claimed by
two communities, current delegates and responsible people, people nobody refers to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from triagebot.core.registry import (
    EMAIL_RE,
    Community,
    CommunityStatus,
    Delegation,
    People,
    Person,
    Registry,
    Resource,
    normalize_email,
    normalize_name,
)
from triagebot.files.problems import FieldPath, Problem, TomlFile

PEOPLE_FILE = "people.toml"
COMMUNITIES_DIR = "communities"
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
REVIEW_MAX_AGE = timedelta(days=365)


@dataclass
class LoadResult:
    """What a load found: the registry (only when there is no error) and every problem."""

    registry: Registry | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    files: int = 0
    people: int = 0
    communities: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def utc_today(now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> date:
    """Today in UTC: the day the bot decides by (its clock is UTC), so the registry commands
    and the bot agree on who is a current delegate at midnight, wherever they run."""
    return now().astimezone(UTC).date()


def load_registry(path: str | Path, today: date | None = None) -> LoadResult:
    """Read `path`/people.toml and `path`/communities/*.toml, validate, and index them."""
    return _Loader(Path(path), today or utc_today()).run()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


@dataclass
class _Draft:
    """One community file as read, kept even when it has errors so that the checks across
    files (names, resources claimed twice) still run."""

    file: TomlFile
    slug: str
    names: list[tuple[FieldPath, str, str]]  # path, role (name or alias), text
    resources: list[tuple[int, str]]  # index, id
    community: Community | None = None


class _Loader:
    """One load: reads the files, validates each, then checks across entries and files."""

    def __init__(self, root: Path, today: date) -> None:
        self.root = root
        self.today = today
        self.files: list[TomlFile] = []
        self.handles: dict[str, Any] | None = None  # people.toml's tables, once it parsed
        self.referenced: set[str] = set()

    def _file(self, name: str) -> TomlFile:
        file = TomlFile(name)
        self.files.append(file)
        return file

    def run(self) -> LoadResult:
        if not self.root.is_dir():
            self._file(str(self.root)).error((), "registry directory not found", line=0)
            return self._result([])
        people = self._people(self._file(str(self.root / PEOPLE_FILE)))
        drafts, complete = self._communities(self.root / COMMUNITIES_DIR)
        self._check_names(drafts)
        if complete and self.handles is not None:
            for handle in self.handles:
                if handle not in self.referenced:
                    message = "person is referenced by no community (no delegation, no resource)"
                    self.files[0].warn((handle,), message)
        return self._result(drafts, people)

    # people.toml
    def _people(self, file: TomlFile) -> dict[str, Person]:
        raw = file.read()
        if raw is None:
            return {}
        self.handles = raw
        self._claims(file, raw)
        people: dict[str, Person] | None = file.validate(People, raw)
        return people or {}

    def _claims(self, file: TomlFile, raw: dict[str, Any]) -> None:
        """Identity is decided by email and Bugzilla id: two people with one would be
        ambiguous. Checked on the raw tables, so a person with another error still claims."""
        email_owner: dict[str, str] = {}
        id_owner: dict[int, str] = {}
        for handle, table in raw.items():
            if not isinstance(table, dict):
                continue
            if "handle" in table:
                file.error((handle, "handle"), "unknown key; a person's handle is its table's name")
            bugzilla_id = table.get("bugzilla_id")
            if type(bugzilla_id) is int and bugzilla_id > 0:
                owner = id_owner.setdefault(bugzilla_id, handle)
                if owner != handle:
                    message = f"bugzilla_id {bugzilla_id} is already used by '{owner}'"
                    file.error((handle, "bugzilla_id"), message)
            seen: dict[str, int] = {}
            for index, email in _items(table.get("emails")):
                if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
                    continue
                path = (handle, "emails", index)
                key = normalize_email(email)
                first = seen.setdefault(key, index)
                owner = email_owner.setdefault(key, handle)
                if first != index:
                    file.error(path, f"email {email!r} is listed twice (also emails[{first}])")
                elif owner != handle:
                    file.error(path, f"email {email!r} is already claimed by '{owner}'")

    # communities/
    def _communities(self, directory: Path) -> tuple[list[_Draft], bool]:
        """A draft per community file, and whether every file could be read."""
        if not directory.is_dir():
            self._file(str(directory)).error((), "directory not found", line=1)
            return [], False
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            self._file(str(directory)).error((), f"cannot read: {exc.strerror or exc}", line=1)
            return [], False
        drafts: list[_Draft] = []
        complete = True
        for entry in entries:
            if entry.name.startswith("."):
                continue
            file = self._file(os.path.join(str(directory), entry.name))
            if entry.is_dir():
                message = (
                    "a folder; ignored with everything in it: a community is one file, "
                    f"{COMMUNITIES_DIR}/SLUG.toml, directly in {COMMUNITIES_DIR}/"
                )
                file.warn((), message, line=1)
                continue
            if not entry.name.endswith(".toml") or not entry.is_file():
                file.warn((), "not a .toml file; ignored", line=1)
                continue
            raw = file.read()
            if raw is None:
                complete = False
                continue
            drafts.append(self._community(file, entry.name.removesuffix(".toml"), raw))
        return drafts, complete

    def _community(self, file: TomlFile, slug: str, raw: dict[str, Any]) -> _Draft:
        if SLUG_RE.fullmatch(slug) is None:
            message = (
                f"file name '{slug}' is not a valid community slug "
                "(lowercase letters, digits and '-', starting with a letter or digit)"
            )
            file.error((), message, line=1)
        if "slug" in raw:
            file.error(("slug",), "unknown key; a community's slug is its file name")
        names: list[tuple[FieldPath, str, str]] = []
        if name := _text(raw.get("name")):
            names.append((("name",), "name", name))
        for index, alias in _items(raw.get("aliases")):
            if alias := _text(alias):
                names.append((("aliases", index), "alias", alias))
        resources = [
            (index, ident)
            for index, table in _items(raw.get("resources"))
            if isinstance(table, dict) and (ident := _text(table.get("id")))
        ]
        context = {"today": self.today, "handles": self.handles, "referenced": self.referenced}
        checked = file.validate(Community, {**raw, "slug": slug}, context)
        if checked is not None:
            self._check_terms(file, checked.status, checked.delegates, checked.resources)
            if self.today - checked.reviewed > REVIEW_MAX_AGE:
                message = "more than a year ago: please confirm this file"
                file.warn(("reviewed",), f"last reviewed {checked.reviewed}, {message}")
        else:  # the checks of each valid part still run; `parts` keeps errors already reported
            quiet, parts = {**context, "referenced": set()}, TomlFile(file.name)
            self._check_terms(
                file,
                parts.validate(CommunityStatus, raw.get("status")),
                parts.validate(tuple[Delegation, ...], raw.get("delegates", []), quiet),
                parts.validate(tuple[Resource, ...], raw.get("resources", []), quiet),
            )
        return _Draft(file, slug, names, resources, checked)

    def _check_terms(
        self,
        file: TomlFile,
        status: str | None,
        delegates: tuple[Delegation, ...] | None,
        resources: tuple[Resource, ...] | None,
    ) -> None:
        """What the dated terms say: someone current for an active community, someone
        current among the people responsible for each resource."""
        if delegates is None:
            return
        today = self.today
        current = [d.person for d in delegates if d.since <= today and not d.ended(today)]
        if status == "active" and not current:
            message = f"community is active but has no current delegate on {today}"
            file.error(("status",), message)
            for index, d in enumerate(delegates):
                if d.since > today:
                    message = (
                        f"since {d.since} is after today ({today}): this term has not started, "
                        f"so '{d.person}' is not a current delegate yet"
                    )
                    file.error(("delegates", index, "since"), message)
        elif status == "dormant" and current:
            names = ", ".join(f"'{p}'" for p in current)
            file.warn(("status",), f"community is dormant but has current delegates: {names}")
        former = {d.person for d in delegates if d.ended(today)} - set(current)
        for index, resource in enumerate(resources or ()):
            if all(handle in former for handle in resource.responsible):
                names = ", ".join(f"'{h}'" for h in resource.responsible)
                one = len(resource.responsible) == 1
                verb = "is a former delegate" if one else "are former delegates"
                message = f"no current responsible person ({names} {verb})"
                file.error(("resources", index, "responsible"), message)

    def _check_names(self, drafts: list[_Draft]) -> None:
        """Slugs, names and aliases find a community, and resource ids the community a bug
        talks about: each must lead to one community only. Slugs are claimed first."""
        owners: dict[str, tuple[_Draft, str]] = {}
        for draft in drafts:
            owners.setdefault(normalize_name(draft.slug), (draft, "slug"))
        for draft in drafts:
            for path, role, text in draft.names:
                other, other_role = owners.setdefault(normalize_name(text), (draft, role))
                if other is not draft:
                    message = f"{role} '{text}' is already the {other_role} of {other.file.name}"
                    draft.file.error(path, message)
        resource_owner: dict[str, _Draft] = {}
        for draft in drafts:
            for index, ident in draft.resources:
                other = resource_owner.setdefault(normalize_name(ident), draft)
                if other is not draft:
                    message = f"resource '{ident}' already belongs to {other.file.name}"
                    draft.file.error(("resources", index, "id"), message)

    def _result(self, drafts: list[_Draft], people: dict[str, Person] | None = None) -> LoadResult:
        problems = [p for file in self.files for p in file.problems()]
        errors = [p for p in problems if p.severity == "error"]
        registry = None
        if not errors:
            communities = {d.slug: d.community for d in drafts if d.community is not None}
            registry = Registry(people or {}, communities)
        return LoadResult(
            registry,
            errors,
            [p for p in problems if p.severity == "warning"],
            files=sum(file.opened for file in self.files),
            people=len(self.handles or ()),
            communities=len(drafts),
        )
