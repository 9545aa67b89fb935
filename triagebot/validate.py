"""Load the hand-edited registry files and report every problem in them at once.

Maintainers fix these files from the report alone, so each problem says `file:line: field:
message`, and one run lists them all: a validator that stops at the first error makes people
re-run it once per typo. Nothing in the data may raise: any value of any type in any place
becomes a Problem. Line numbers are found only for problems actually reported (see
`triagebot.tomlpos`), so a valid registry pays nothing for them.
"""

from __future__ import annotations

import difflib
import gc
import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from sys import intern
from typing import Any, TextIO

from triagebot.registry import (
    COMMUNITY_STATUSES,
    RESOURCE_KINDS,
    Community,
    Contact,
    Delegation,
    Governance,
    Person,
    Registry,
    Resource,
    normalize_email,
    normalize_name,
)
from triagebot.tomlpos import Locator, decode_error_line, decode_error_message

try:  # A compiled parser: tomllib alone takes several seconds on a 100,000-person file.
    import rtoml as _fast_toml
except ImportError:  # pragma: no cover - depends on the environment
    _fast_toml = None

Key = str | int
FieldPath = tuple[Key, ...]

PEOPLE_FILE = "people.toml"
COMMUNITIES_DIR = "communities"
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
# local@domain.tld: no spaces, no second '@', no empty domain label. Non-ASCII letters are fine:
# look-alike protection belongs to the exact look-up, not to this syntax check.
EMAIL_RE = re.compile(
    r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\]+@[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\.]+"
    r"(?:\.[^@\s\x00-\x1f\x7f<>()\[\],;:\"\\.]+)+"
)
_SPACE_RE = re.compile(r"\s")
BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")

# The keys each table may hold, in the order the messages list them (a dict: its key view
# makes the "no unknown key" test a single C-level subset check).
PERSON_KEYS = dict.fromkeys(("name", "bugzilla_id", "emails", "contacts"))
CONTACT_KEYS = dict.fromkeys(("kind", "value", "public"))
COMMUNITY_KEYS = dict.fromkeys(
    ("name", "aliases", "status", "reviewed", "governance", "contacts", "delegates", "resources")
)
GOVERNANCE_KEYS = dict.fromkeys(("model", "charter", "term_months", "notes"))
DELEGATE_KEYS = dict.fromkeys(("person", "title", "since", "until", "source"))
RESOURCE_KEYS = dict.fromkeys(("kind", "id", "responsible"))

_PERSON_KEYS = PERSON_KEYS.keys()
_CONTACT_KEYS = CONTACT_KEYS.keys()
_DELEGATE_KEYS = DELEGATE_KEYS.keys()
_RESOURCE_KEYS = RESOURCE_KEYS.keys()

_CHUNK = 128 * 1024
_SMALL_REGISTRY = 2000  # handles; up to this many, did-you-mean compares with every one
_HANDLE_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789-_."
REVIEW_MAX_AGE = timedelta(days=365)
SCHEDULED_TERM_MAX = timedelta(days=365)
_MISSING: Any = object()


# -- public API -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong in the registry files, placed where the maintainer must look."""

    file: str
    line: int
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


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

    @property
    def problems(self) -> list[Problem]:
        return [*self.errors, *self.warnings]


class RegistryError(Exception):
    """The registry files have errors; `problems` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"{len(problems)} error(s) in the registry:\n{lines}")


def load_registry(path: str | Path, today: date | None = None) -> LoadResult:
    """Read `path`/people.toml and `path`/communities/*.toml, validate, and index them."""
    with _gc_paused():
        return _Loader(Path(path), today or date.today()).run()


def load_registry_or_raise(path: str | Path, today: date | None = None) -> Registry:
    """The registry, or RegistryError listing every error (warnings are not errors)."""
    result = load_registry(path, today)
    if result.registry is None:
        raise RegistryError(result.errors)
    return result.registry


# -- plumbing --------------------------------------------------------------------------------
@contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading allocates millions of small objects and no cycles; the cyclic collector would
    otherwise walk them over and over (about half the load time of a large registry)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # What the load built is long-lived: move it straight to the oldest generation, or the
        # next young collection walks every object of it (0.2 s for a large registry). Skipped
        # when the application froze objects itself: unfreeze() would thaw those too.
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


class _File:
    """One registry file: its displayed name, its text (for line look-ups) and whether it
    was read and parsed.

    The text is released once the file is checked (`release`): a large registry's texts
    would otherwise stay in memory for the whole load, for the rare problem reported later
    by a cross-file check. A line look-up after that reads the file again."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.text = ""
        self.parsed = False
        self.released = False
        self._locator: Locator | None = None

    def release(self) -> None:
        if self._locator is None:
            self.text, self.released = "", True

    def line(self, path: FieldPath) -> int:
        try:
            if self._locator is None:
                if self.released:
                    with open(self.name, "rb") as stream:
                        self.text = stream.read().decode("utf-8")
                self._locator = Locator(self.text)
            return self._locator.line(path)
        except Exception:  # a best-effort position must never hide the problem itself
            return 1


@dataclass(slots=True)
class _Pending:
    """A problem whose line is found only when the report is assembled."""

    file: _File
    path: FieldPath
    message: str
    severity: str
    line: int | None = None


def format_path(path: FieldPath) -> str:
    """("delegates", 1, "since") -> "delegates[1].since"; odd keys are quoted."""
    out: list[str] = []
    for key in path:
        if isinstance(key, int):
            out.append(f"[{key}]")
            continue
        text = key if BARE_KEY_RE.fullmatch(key) else _quote(key)
        out.append(f".{text}" if out else text)
    return "".join(out)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def describe(value: object) -> str:
    """A value as the maintainer wrote it, in TOML terms: `string '2024-13-01'`, `table`."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, datetime):
        return f"date-time {value.isoformat()}"
    if isinstance(value, date):
        return f"date {value.isoformat()}"
    if isinstance(value, time):
        return f"time {value.isoformat()}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__  # pragma: no cover - TOML has no other types


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _edits(word: str) -> set[str]:
    """Every string one deletion, swap, replacement or insertion away from `word`, and its
    lower case (after Norvig's spelling corrector): a cheap set of likely intended words."""
    letters = set(_HANDLE_LETTERS) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {word.lower()}
    edits.update(a + b[1:] for a, b in splits if b)
    edits.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    edits.update(a + c + b[1:] for a, b in splits if b for c in letters)
    edits.update(a + c + b for a, b in splits for c in letters)
    return edits


def _parse_toml(text: str) -> dict[str, Any]:
    """Parse with the compiled parser when installed; tomllib has the last word on errors, so
    a syntax error is always reported with tomllib's message and position."""
    if _fast_toml is not None:
        try:
            return _parse_in_chunks(text)
        except Exception:
            try:
                return _fast_toml.loads(text)
            except Exception:
                pass
    return tomllib.loads(text)


def _parse_in_chunks(text: str) -> dict[str, Any]:
    """rtoml on a 20 MB file builds a large tree in memory and takes twice as long as on the
    same text in 128 kB pieces, so a big file is parsed in pieces (see _pieces). A table split
    over two pieces shows as a top-level key in both: that raises, and the caller parses the
    whole text instead."""
    if len(text) <= _CHUNK:
        return _fast_toml.loads(text)
    document: dict[str, Any] = {}
    for part in _pieces(text):
        if not document.keys().isdisjoint(part):
            raise ValueError("a table is split across pieces")
        document.update(part)
    return document


def _pieces(text: str) -> Iterator[dict[str, Any]]:
    """The text parsed in pieces of about _CHUNK characters, each cut at a line that opens a
    table. A cut that falls inside a multi-line string or array leaves the piece before it
    unterminated, hence a parse error (the caller falls back to a whole parse)."""
    start = 0
    while start < len(text):
        cut = text.find("\n[", start + _CHUNK)
        end = len(text) if cut < 0 else cut + 1
        yield _fast_toml.loads(text[start:end])
        start = end


def _stream_pieces(stream: TextIO) -> Iterator[dict[str, Any]]:
    """Like _pieces, reading the file a block at a time: the whole text of a large
    people.toml need never be in memory. Each piece ends before the last line of its block
    that opens a table."""
    rest = ""
    while block := stream.read(_CHUNK):
        text = rest + block
        cut = text.rfind("\n[")
        if cut < 0:
            rest = text
            continue
        yield _fast_toml.loads(text[: cut + 1])
        rest = text[cut + 1 :]
    if rest:
        yield _fast_toml.loads(rest)


def _blank(text: str) -> bool:
    return not text or text.isspace()


class _FastPath:
    """Accepts the plainly valid entries in as few steps as possible; for anything else it
    returns None and the diagnosing code explains the problem. It must never accept what the
    diagnosing code refuses (a property test checks this). It exists for speed: a registry of
    100,000 people must load in well under 2 s."""

    __slots__ = ("bugzilla_owner", "dates", "email_owner", "handles", "horizon", "referenced")

    def __init__(self, loader: _Loader, handles: dict[str, Any]) -> None:
        self.email_owner = loader.email_owner
        self.bugzilla_owner = loader.bugzilla_owner
        self.referenced = loader.referenced
        self.handles = handles  # handle -> the same string: one object per handle
        self.dates: dict[date, date] = {}
        self.horizon = loader.today + SCHEDULED_TERM_MAX

    def person(self, handle: str, raw: Any) -> Person | None:
        if type(raw) is not dict or not raw.keys() <= _PERSON_KEYS or not handle:
            return None
        name = raw.get("name")
        if type(name) is not str or not name or name.isspace() or _SPACE_RE.search(handle):
            return None
        bugzilla_id = raw.get("bugzilla_id")
        if bugzilla_id is not None and (type(bugzilla_id) is not int or bugzilla_id <= 0):
            return None
        emails = raw.get("emails", ())
        keys: list[str] = []
        if type(emails) is list:
            for email in emails:
                if type(email) is not str or EMAIL_RE.fullmatch(email) is None:
                    return None
                keys.append(normalize_email(email))
        elif emails != ():
            return None
        contacts = raw.get("contacts", ())
        if contacts != ():
            contacts = self.contacts(contacts)
            if contacts is None:
                return None
        if not self._claim(handle, keys, bugzilla_id):
            return None
        return Person(handle, name, tuple(emails), bugzilla_id, contacts)

    def _claim(self, handle: str, keys: list[str], bugzilla_id: int | None) -> bool:
        if len(keys) > 1 and len(set(keys)) != len(keys):
            return False
        owner = self.email_owner
        for key in keys:
            if owner.setdefault(key, handle) != handle:
                return False
        return bugzilla_id is None or self.bugzilla_owner.setdefault(bugzilla_id, handle) == handle

    @staticmethod
    def contacts(raw: Any) -> tuple[Contact, ...] | None:
        if type(raw) is not list:
            return None
        contacts = []
        for table in raw:
            if type(table) is not dict or table.keys() != _CONTACT_KEYS:
                return None
            kind, value, public = table["kind"], table["value"], table["public"]
            if type(kind) is not str or type(value) is not str or type(public) is not bool:
                return None
            if not kind or kind.isspace() or not value or value.isspace():
                return None
            contacts.append(Contact(intern(kind), value, public))
        return tuple(contacts)

    def delegation(self, raw: Any) -> Delegation | None:
        if type(raw) is not dict or not raw.keys() <= _DELEGATE_KEYS:
            return None
        person, title, since = raw.get("person"), raw.get("title"), raw.get("since")
        if type(person) is not str or person not in self.handles:
            return None
        if type(title) is not str or not title or title.isspace():
            return None
        if type(since) is not date or since > self.horizon:
            return None
        until, source = raw.get("until"), raw.get("source")
        if until is not None and (type(until) is not date or until <= since):
            return None
        if source is not None and (type(source) is not str or not source or source.isspace()):
            return None
        self.referenced.add(person)
        # Share one object per distinct handle, title and date: a large registry repeats
        # them thousands of times, and the registry is held for the bot's lifetime.
        dates = self.dates
        return Delegation(
            self.handles[person],
            intern(title),
            dates.setdefault(since, since),
            None if until is None else dates.setdefault(until, until),
            source,
        )

    def resource(self, raw: Any, former: set[str]) -> Resource | None:
        if type(raw) is not dict or raw.keys() != _RESOURCE_KEYS:
            return None
        kind, ident, responsible = raw["kind"], raw["id"], raw["responsible"]
        if type(kind) is not str or kind not in RESOURCE_KINDS:
            return None
        if type(ident) is not str or not ident or ident.isspace():
            return None
        if type(responsible) is not list or not responsible:
            return None
        handles = self.handles
        for handle in responsible:
            if type(handle) is not str or handle not in handles:
                return None
        if former and all(handle in former for handle in responsible):
            return None
        self.referenced.update(responsible)
        return Resource(intern(kind), ident, tuple(handles[h] for h in responsible))


# -- the loader ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Draft:
    """What one community file validated to, kept even when the file has errors so that the
    cross-file checks (duplicate names, resources) still run."""

    file: _File
    slug: str
    names: list[tuple[FieldPath, str, str]] = field(default_factory=list)  # path, role, text
    resources: list[tuple[int, str]] = field(default_factory=list)  # index, id
    community: Community | None = None


class _Loader:
    """One load: reads the files, validates each value, then checks across files."""

    def __init__(self, root: Path, today: date) -> None:
        self.root = root
        self.today = today
        self.pending: list[_Pending] = []
        self.errors = 0
        self.files: list[_File] = []
        self.files_read = 0
        self.handles: dict[str, Any] | None = None  # people.toml, once it parsed
        self.people: dict[str, Person] = {}
        self.email_owner: dict[str, str] = {}  # normalized email -> handle
        self.bugzilla_owner: dict[int, str] = {}
        self.referenced: set[str] = set()
        self.suggestions: dict[str, str | None] = {}
        self.fast = _FastPath(self, {})

    # problems
    def error(self, file: _File, path: FieldPath, message: str, line: int | None = None) -> None:
        self.errors += 1
        self.pending.append(_Pending(file, path, message, "error", line))

    def warn(self, file: _File, path: FieldPath, message: str, line: int | None = None) -> None:
        self.pending.append(_Pending(file, path, message, "warning", line))

    # reading
    def run(self) -> LoadResult:
        people_file = _File(str(self.root / PEOPLE_FILE))
        communities_dir = self.root / COMMUNITIES_DIR
        if not self.root.is_dir():
            self.error(_File(str(self.root)), (), "registry directory not found", line=1)
            return self._result([], complete=False)
        self._load_people(people_file)
        drafts, complete = self._read_communities(communities_dir)
        self._check_names(drafts)
        return self._result(drafts, complete=complete and self.handles is not None)

    def _load_people(self, file: _File) -> None:
        if self._stream_people(file):
            return
        raw = self._read(file)
        if raw is None:
            return
        # Keep the handles, not the parsed tables: freeing those now lets the community files
        # reuse their memory (fewer page faults; a tenth of the load time on a big registry).
        self.handles = {handle: handle for handle in raw}
        self.fast = _FastPath(self, self.handles)
        self._check_people(file, raw)
        file.release()

    def _stream_people(self, file: _File) -> bool:
        """A large people.toml parsed and checked piece by piece (see _parse_in_chunks), so
        only one piece's parsed tables are alive at a time: the whole parsed document of a
        100,000-person file is over 100 MB. False, with nothing recorded, when the file is
        small, cannot be read or cut cleanly: the caller then reads it whole, and reports."""
        if _fast_toml is None:
            return False
        try:
            if os.path.getsize(file.name) <= _CHUNK:
                return False
        except OSError:
            return False
        handles: dict[str, Any] = {}
        self.handles = handles
        self.fast = _FastPath(self, handles)
        pending, errors = len(self.pending), self.errors
        file.parsed = True
        try:
            with open(file.name, encoding="utf-8", newline="") as stream:
                for piece in _stream_pieces(stream):
                    if not handles.keys().isdisjoint(piece):
                        raise ValueError("a table is split across pieces")
                    handles.update({handle: handle for handle in piece})
                    self._check_people(file, piece)
        except Exception:
            # Undo: the whole-file path decides and reports, from a clean slate.
            del self.pending[pending:]
            self.errors = errors
            for owned in (self.people, self.email_owner, self.bugzilla_owner):
                owned.clear()
            self.handles, self.fast = None, _FastPath(self, {})
            file.parsed = False
            return False
        self.files.append(file)
        self.files_read += 1
        file.release()
        return True

    def _read(self, file: _File) -> dict[str, Any] | None:
        """The parsed document, or None after reporting why it could not be had."""
        self.files.append(file)
        try:
            with open(file.name, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            self.error(file, (), "file not found", line=1)
            return None
        except OSError as exc:
            self.error(file, (), f"cannot read: {exc.strerror or exc}", line=1)
            return None
        self.files_read += 1
        try:
            file.text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            bad = data[exc.start]
            message = f"not valid UTF-8 (byte 0x{bad:02x} at column {column}); save as UTF-8"
            self.error(file, (), message, line=line)
            return None
        try:
            document = _parse_toml(file.text)
        except tomllib.TOMLDecodeError as exc:
            self._syntax_error(file, exc)
            return None
        file.parsed = True
        return document

    def _syntax_error(self, file: _File, exc: tomllib.TOMLDecodeError) -> None:
        message = f"invalid TOML: {decode_error_message(exc)}"
        self.error(file, (), message, line=decode_error_line(exc, file.text))

    def _read_communities(self, directory: Path) -> tuple[list[_Draft], bool]:
        """A draft per community file, and whether every file could be read."""
        if not directory.is_dir():
            self.error(_File(str(directory)), (), "directory not found", line=1)
            return [], False
        drafts: list[_Draft] = []
        complete = True
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            self.error(_File(str(directory)), (), f"cannot read: {exc.strerror or exc}", line=1)
            return [], False
        prefix = str(directory)
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            file = _File(os.path.join(prefix, name))
            if not name.endswith(".toml") or not entry.is_file():
                self.warn(file, (), "not a .toml file; ignored", line=1)
                continue
            raw = self._read(file)
            if raw is None:
                complete = False
                continue
            drafts.append(self._check_community(file, name.removesuffix(".toml"), raw))
            file.release()
        return drafts, complete

    # people
    def _check_people(self, file: _File, raw: dict[str, Any]) -> None:
        people, fast = self.people, self.fast
        for handle, table in raw.items():
            person = fast.person(handle, table)
            if person is None:
                person = self._check_person(file, handle, table)
            if person is not None:
                people[handle] = person

    def _check_person(self, file: _File, handle: str, raw: Any) -> Person | None:
        """The diagnosing path: says what is wrong with a person the fast path refused."""
        base = (handle,)
        errors = self.errors
        if _SPACE_RE.search(handle) or not handle:
            self.error(file, base, "a handle must be a non-empty word without spaces")
        if type(raw) is not dict:
            message = f"expected a table of person fields ([{handle}] then name = ...)"
            self.error(file, base, f"{message}, got {describe(raw)}")
            return None
        self._unknown_keys(file, raw, PERSON_KEYS, base)
        name = self._string(file, raw, "name", base, required=True)
        bugzilla_id = raw.get("bugzilla_id")
        if bugzilla_id is not None:
            bugzilla_id = self._bugzilla_id(file, handle, bugzilla_id)
        emails = self._emails(file, handle, raw.get("emails", _MISSING))
        contacts = self._contacts(file, raw.get("contacts", _MISSING), (*base, "contacts"))
        if self.errors != errors or name is None:
            return None
        return Person(handle, name, emails, bugzilla_id, contacts)

    def _bugzilla_id(self, file: _File, handle: str, value: Any) -> int | None:
        path = (handle, "bugzilla_id")
        if type(value) is not int or value <= 0:
            self.error(file, path, f"expected a positive integer, got {describe(value)}")
            return None
        owner = self.bugzilla_owner.setdefault(value, handle)
        if owner != handle:
            self.error(file, path, f"bugzilla_id {value} is already used by '{owner}'")
        return value

    def _emails(self, file: _File, handle: str, value: Any) -> tuple[str, ...]:
        if value is _MISSING:
            return ()
        if type(value) is not list:
            message = f"expected an array of strings, got {describe(value)}"
            self.error(file, (handle, "emails"), message)
            return ()
        seen: dict[str, int] = {}
        for index, email in enumerate(value):
            path = (handle, "emails", index)
            if type(email) is not str:
                self.error(file, path, f"expected a string, got {describe(email)}")
            elif EMAIL_RE.fullmatch(email) is None:
                message = f"malformed email {email!r} (expected local@domain.tld, no spaces)"
                self.error(file, path, message)
            else:
                self._claim_email(file, path, email, seen)
        return tuple(value)

    def _claim_email(self, file: _File, path: FieldPath, email: str, seen: dict[str, int]) -> None:
        """Identity is decided by email: two people with one address would be ambiguous."""
        handle, _, index = path
        key = normalize_email(email)
        first = seen.setdefault(key, index)
        if first != index:
            self.error(file, path, f"email {email!r} is listed twice (also emails[{first}])")
            return
        owner = self.email_owner.setdefault(key, handle)
        if owner != handle:
            self.error(file, path, f"email {email!r} is already claimed by '{owner}'")

    # shared value checks
    def _unknown_keys(
        self, file: _File, raw: dict[str, Any], allowed: dict[str, None], base: FieldPath
    ) -> None:
        if raw.keys() <= allowed.keys():
            return
        for key in raw:
            if key in allowed:
                continue
            close = _suggest(key, list(allowed))
            hint = f"did you mean '{close}'?" if close else "expected " + ", ".join(allowed)
            self.error(file, (*base, key), f"unknown key; {hint}")

    def _string(
        self, file: _File, raw: dict[str, Any], key: str, base: FieldPath, required: bool
    ) -> str | None:
        value = raw.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.error(file, (*base, key), "required key is missing")
            return None
        if type(value) is not str:
            self.error(file, (*base, key), f"expected a string, got {describe(value)}")
            return None
        if _blank(value):
            self.error(file, (*base, key), "must not be empty")
            return None
        return value

    def _date(
        self, file: _File, raw: dict[str, Any], key: str, base: FieldPath, required: bool
    ) -> date | None:
        value = raw.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.error(file, (*base, key), "required key is missing")
            return None
        if type(value) is not date:
            message = f"expected a date like 2024-01-31, got {describe(value)}"
            self.error(file, (*base, key), message)
            return None
        return value

    def _tables(self, file: _File, value: Any, path: FieldPath, header: str) -> list[Any]:
        """An array of tables; a single table is the common `[x]`-for-`[[x]]` slip."""
        if type(value) is list:
            return value
        hint = f" ({header})" if header else ""
        self.error(file, path, f"expected an array of tables{hint}, got {describe(value)}")
        return []

    def _table(self, file: _File, value: Any, path: FieldPath) -> dict[str, Any] | None:
        if type(value) is dict:
            return value
        self.error(file, path, f"expected a table, got {describe(value)}")
        return None

    def _contacts(self, file: _File, value: Any, path: FieldPath) -> tuple[Contact, ...]:
        if value is _MISSING:
            return ()
        contacts: list[Contact] = []
        for index, raw in enumerate(self._tables(file, value, path, "")):
            base = (*path, index)
            table = self._table(file, raw, base)
            if table is None:
                continue
            self._unknown_keys(file, table, CONTACT_KEYS, base)
            kind = self._string(file, table, "kind", base, required=True)
            text = self._string(file, table, "value", base, required=True)
            public = table.get("public", _MISSING)
            if public is _MISSING:
                self.error(file, (*base, "public"), "required key is missing")
            elif type(public) is not bool:
                self.error(
                    file, (*base, "public"), f"expected true or false, got {describe(public)}"
                )
            elif kind is not None and text is not None:
                contacts.append(Contact(kind, text, public))
        return tuple(contacts)

    def _choice(
        self, file: _File, value: Any, path: FieldPath, choices: tuple[str, ...]
    ) -> str | None:
        if type(value) is str and value in choices:
            return value
        expected = ", ".join(f"'{choice}'" for choice in choices)
        message = f"expected one of {expected}, got {describe(value)}"
        close = _suggest(value, choices) if type(value) is str else None
        self.error(file, path, message + (f"; did you mean '{close}'?" if close else ""))
        return None

    # communities
    def _check_community(self, file: _File, slug: str, raw: dict[str, Any]) -> _Draft:
        draft = _Draft(file, slug)
        errors = self.errors
        if SLUG_RE.fullmatch(slug) is None:
            message = (
                f"file name '{slug}' is not a valid community slug "
                "(lowercase letters, digits and '-', starting with a letter or digit)"
            )
            self.error(file, (), message, line=1)
        draft.names.append(((), "slug", slug))
        self._unknown_keys(file, raw, COMMUNITY_KEYS, ())
        name = self._string(file, raw, "name", (), required=True)
        if name is not None:
            draft.names.append((("name",), "name", name))
        aliases = self._aliases(file, raw.get("aliases", _MISSING), draft)
        status = raw.get("status", _MISSING)
        if status is _MISSING:
            self.error(file, ("status",), "required key is missing")
            status = None
        else:
            status = self._choice(file, status, ("status",), COMMUNITY_STATUSES)
        reviewed = self._reviewed(file, raw)
        governance = self._governance(file, raw.get("governance", _MISSING))
        contacts = self._contacts(file, raw.get("contacts", _MISSING), ("contacts",))
        delegates, delegates_ok = self._delegates(file, raw.get("delegates", _MISSING))
        resources = self._resources(file, raw.get("resources", _MISSING), draft, delegates)
        if delegates_ok and status is not None:
            self._status_vs_delegates(file, status, delegates)
        if self.errors == errors and name and status and reviewed and governance:
            draft.community = Community(
                slug, name, status, reviewed, governance, aliases, contacts, delegates, resources
            )
        return draft

    def _aliases(self, file: _File, value: Any, draft: _Draft) -> tuple[str, ...]:
        if value is _MISSING:
            return ()
        if type(value) is not list:
            self.error(file, ("aliases",), f"expected an array of strings, got {describe(value)}")
            return ()
        aliases: list[str] = []
        for index, alias in enumerate(value):
            path = ("aliases", index)
            if type(alias) is not str:
                self.error(file, path, f"expected a string, got {describe(alias)}")
            elif _blank(alias):
                self.error(file, path, "must not be empty")
            else:
                aliases.append(alias)
                draft.names.append((path, "alias", alias))
        return tuple(aliases)

    def _reviewed(self, file: _File, raw: dict[str, Any]) -> date | None:
        reviewed = self._date(file, raw, "reviewed", (), required=True)
        if reviewed is None:
            return None
        if reviewed > self.today:
            message = f"reviewed {reviewed} is in the future (today is {self.today})"
            self.error(file, ("reviewed",), message)
            return None
        if self.today - reviewed > REVIEW_MAX_AGE:
            message = f"last reviewed {reviewed}, more than a year ago: please confirm this file"
            self.warn(file, ("reviewed",), message)
        return reviewed

    def _governance(self, file: _File, value: Any) -> Governance | None:
        path = ("governance",)
        if value is _MISSING:
            self.error(file, path, "required key is missing")
            return None
        table = self._table(file, value, path)
        if table is None:
            return None
        errors = self.errors
        self._unknown_keys(file, table, GOVERNANCE_KEYS, path)
        model = self._string(file, table, "model", path, required=True)
        charter = self._string(file, table, "charter", path, required=False)
        notes = self._string(file, table, "notes", path, required=False)
        term = table.get("term_months")
        if term is not None and (type(term) is not int or term <= 0):
            message = f"expected a positive integer, got {describe(term)}"
            self.error(file, (*path, "term_months"), message)
        if self.errors != errors or model is None:
            return None
        return Governance(model, charter, term, notes)

    def _delegates(self, file: _File, value: Any) -> tuple[tuple[Delegation, ...], bool]:
        """The valid terms, and whether every entry was valid (if not, the checks that count
        current delegates would only add noise)."""
        if value is _MISSING:
            return (), True
        delegates: list[Delegation] = []
        entries = self._tables(file, value, ("delegates",), "[[delegates]]")
        fast = self.fast
        for index, raw in enumerate(entries):
            delegation = fast.delegation(raw)
            if delegation is None:
                delegation = self._delegation(file, raw, ("delegates", index))
            if delegation is not None:
                delegates.append(delegation)
        return tuple(delegates), len(delegates) == len(entries) and type(value) is list

    def _delegation(self, file: _File, raw: Any, base: FieldPath) -> Delegation | None:
        table = self._table(file, raw, base)
        if table is None:
            return None
        errors = self.errors
        self._unknown_keys(file, table, DELEGATE_KEYS, base)
        person = self._person_ref(file, table.get("person", _MISSING), (*base, "person"))
        title = self._string(file, table, "title", base, required=True)
        since = self._date(file, table, "since", base, required=True)
        until = self._date(file, table, "until", base, required=False)
        source = self._string(file, table, "source", base, required=False)
        if since is not None and since - self.today > SCHEDULED_TERM_MAX:
            message = f"since {since} is more than a year ahead (a typo?)"
            self.error(file, (*base, "since"), message)
        if since is not None and until is not None and until <= since:
            self.error(file, (*base, "until"), f"until {until} must be after since {since}")
        if self.errors != errors or not (person and title and since):
            return None
        return Delegation(person, title, since, until, source)

    def _person_ref(self, file: _File, value: Any, path: FieldPath) -> str | None:
        """A handle from people.toml; a typo gets the closest handle as a suggestion."""
        if value is _MISSING:
            self.error(file, path, "required key is missing")
            return None
        if type(value) is not str:
            self.error(file, path, f"expected a person handle (string), got {describe(value)}")
            return None
        self.referenced.add(value)
        if self.handles is None or value in self.handles:
            return value
        close = self._suggest_handle(value)
        hint = f"; did you mean '{close}'?" if close else ""
        self.error(file, path, f"unknown person '{value}'{hint}")
        return None

    def _suggest_handle(self, wrong: str) -> str | None:
        """The closest handle. difflib over 100,000 handles takes most of a second per typo,
        so in a large registry only the handles one edit away from the typo are compared."""
        if wrong in self.suggestions:
            return self.suggestions[wrong]
        handles = self.handles or {}
        if len(handles) > _SMALL_REGISTRY:
            close = _suggest(wrong, sorted(e for e in _edits(wrong) if e in handles))
        else:
            close = _suggest(wrong, list(handles))
        self.suggestions[wrong] = close
        return close

    def _resources(
        self, file: _File, value: Any, draft: _Draft, delegates: tuple[Delegation, ...]
    ) -> tuple[Resource, ...]:
        if value is _MISSING:
            return ()
        former = self._former_delegates(delegates)
        resources: list[Resource] = []
        entries = self._tables(file, value, ("resources",), "[[resources]]")
        fast = self.fast
        for index, raw in enumerate(entries):
            resource = fast.resource(raw, former)
            if resource is None:
                resource = self._resource(file, raw, index, draft, former)
            else:
                draft.resources.append((index, resource.id))
            if resource is not None:
                resources.append(resource)
        return tuple(resources)

    def _former_delegates(self, delegates: tuple[Delegation, ...]) -> set[str]:
        """People whose every term here has ended: they cannot be the only ones responsible."""
        ended = {d.person for d in delegates if d.until is not None and d.until <= self.today}
        return ended - {d.person for d in delegates if d.active_on(self.today)}

    def _resource(
        self, file: _File, raw: Any, index: int, draft: _Draft, former: set[str]
    ) -> Resource | None:
        base = ("resources", index)
        table = self._table(file, raw, base)
        if table is None:
            return None
        errors = self.errors
        self._unknown_keys(file, table, RESOURCE_KEYS, base)
        kind = table.get("kind", _MISSING)
        if kind is _MISSING:
            self.error(file, (*base, "kind"), "required key is missing")
        else:
            kind = self._choice(file, kind, (*base, "kind"), RESOURCE_KINDS)
        ident = self._string(file, table, "id", base, required=True)
        if ident is not None:
            draft.resources.append((index, ident))
        responsible = self._responsible(file, table.get("responsible", _MISSING), base, former)
        if self.errors != errors or not (kind and ident):
            return None
        return Resource(kind, ident, responsible)

    def _responsible(
        self, file: _File, value: Any, base: FieldPath, former: set[str]
    ) -> tuple[str, ...]:
        path = (*base, "responsible")
        if value is _MISSING:
            self.error(file, path, "required key is missing")
            return ()
        if type(value) is not list:
            message = f"expected an array of person handles, got {describe(value)}"
            self.error(file, path, message)
            return ()
        if not value:
            self.error(file, path, "nobody is responsible (the list is empty)")
            return ()
        handles = [self._person_ref(file, v, (*path, i)) for i, v in enumerate(value)]
        if all(handle in former for handle in handles):
            names = ", ".join(f"'{h}'" for h in handles)
            verb = "is a former delegate" if len(handles) == 1 else "are former delegates"
            self.error(file, path, f"no current responsible person ({names} {verb})")
        return tuple(h for h in handles if h is not None)

    def _status_vs_delegates(
        self, file: _File, status: str, delegates: tuple[Delegation, ...]
    ) -> None:
        current = [d.person for d in delegates if d.active_on(self.today)]
        if status == "active" and not current:
            message = f"community is active but has no current delegate on {self.today}"
            self.error(file, ("status",), message)
        elif status == "dormant" and current:
            names = ", ".join(f"'{p}'" for p in current)
            self.warn(file, ("status",), f"community is dormant but has current delegates: {names}")

    # across files
    def _check_names(self, drafts: list[_Draft]) -> None:
        """Slugs, names and aliases find a community, and resource ids the community a bug
        talks about: each must lead to one community only. Slugs are claimed first."""
        owners: dict[str, tuple[_Draft, str]] = {}
        for draft in drafts:
            owners.setdefault(normalize_name(draft.slug), (draft, "slug"))
        for draft in drafts:
            for path, role, text in draft.names:
                if role == "slug":
                    continue
                other, other_role = owners.setdefault(normalize_name(text), (draft, role))
                if other is not draft:
                    message = f"{role} '{text}' is already the {other_role} of {other.file.name}"
                    self.error(draft.file, path, message)
        resource_owner: dict[str, _Draft] = {}
        for draft in drafts:
            for index, ident in draft.resources:
                other = resource_owner.setdefault(normalize_name(ident), draft)
                if other is not draft:
                    message = f"resource '{ident}' already belongs to {other.file.name}"
                    self.error(draft.file, ("resources", index, "id"), message)

    def _unreferenced(self, people_file: _File) -> None:
        for handle in self.handles or ():
            if handle not in self.referenced:
                message = "person is referenced by no community (no delegation, no resource)"
                self.warn(people_file, (handle,), message)

    # the report
    def _result(self, drafts: list[_Draft], complete: bool) -> LoadResult:
        if complete and self.files:
            self._unreferenced(self.files[0])
        order: dict[int, int] = {}  # people.toml first, then files in the order read
        for file in [*self.files, *(p.file for p in self.pending)]:
            order.setdefault(id(file), len(order))
        problems = sorted(
            (self._resolve(p) for p in self.pending),
            key=lambda item: (order[id(item[0])], item[1].line),
        )
        errors = [p for _, p in problems if p.severity == "error"]
        warnings = [p for _, p in problems if p.severity == "warning"]
        # The loader's own indexes are not needed any more: free them before the registry
        # builds its own (a large registry's peak memory is reached right here).
        for index in (self.email_owner, self.bugzilla_owner, self.referenced):
            index.clear()
        registry = None
        if not errors:
            communities = {d.slug: d.community for d in drafts if d.community is not None}
            registry = Registry(self.people, communities)
        return LoadResult(
            registry,
            errors,
            warnings,
            files=self.files_read,
            people=len(self.handles or ()),
            communities=len(drafts),
        )

    @staticmethod
    def _resolve(pending: _Pending) -> tuple[_File, Problem]:
        file = pending.file
        line = pending.line
        if line is None:
            line = file.line(pending.path) if file.parsed else 1
        problem = Problem(
            file.name, line, format_path(pending.path), pending.message, pending.severity
        )
        return file, problem
