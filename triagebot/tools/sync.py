"""`registry sync`: hold people.toml against the accounts Bugzilla really has.

The bot matches reporters exactly, so an email with a typo silently turns a delegate into a
stranger, and a mistyped `bugzilla_id` silently endorses someone else. Only Bugzilla knows,
so this asks it, in batches (GET /rest/user with many `names`, then many `ids`):
ceil(emails / batch) + ceil(ids / batch) requests, plus one per listed email that has no
account (Bugzilla 5.0's User.get has no `permissive`: one unknown login fails the whole
request with error 51, naming it, so that login is dropped and the batch asked again).

What needs a person's decision is only reported. The one thing filled in by itself, with
`--write`, is a missing `bugzilla_id` when the person's emails all lead to one enabled
account; the line goes right under the person's `name`, and nothing a person wrote is
removed or rewritten.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from triagebot.bugzilla.client import BugzillaError, Client
from triagebot.core.registry import Registry, normalize_email
from triagebot.files.config import Config
from triagebot.files.problems import Problem, TomlFile
from triagebot.files.tomlpos import Locator
from triagebot.files.validate import PEOPLE_FILE

_NO_SUCH_USER = re.compile(r"There is no user named '(.+?)'")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    can_login: bool


@dataclass
class Accounts:
    """What Bugzilla said: accounts by login and by id, and the logins it does not know."""

    by_login: dict[str, Account] = field(default_factory=dict)
    by_id: dict[int, Account] = field(default_factory=dict)
    unknown_logins: set[str] = field(default_factory=set)
    requests: int = 0


def _account(raw: dict[str, Any]) -> Account:
    return Account(int(raw["id"]), str(raw["name"]), bool(raw.get("can_login", True)))


def _batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def look_up(client: Client, emails: Sequence[str], ids: Sequence[int], batch: int) -> Accounts:
    """Every email and id, `batch` per request."""
    found = Accounts()
    for names in _batches(sorted(set(emails)), batch):
        while names:
            found.requests += 1
            try:
                users = client.users(names=names)
            except BugzillaError as exc:
                match = _NO_SUCH_USER.search(exc.message) if exc.code == 51 else None
                if match is None:
                    raise
                gone = normalize_email(match.group(1))
                left = [n for n in names if normalize_email(n) != gone]
                if len(left) == len(names):  # a name we did not send: do not loop
                    raise
                found.unknown_logins.add(gone)
                names = left
                continue
            for raw in users:
                account = _account(raw)
                found.by_login[normalize_email(account.login)] = account
                found.by_id[account.id] = account
            break
    for chunk in _batches(sorted(set(ids)), batch):
        found.requests += 1
        for raw in client.users(ids=chunk):
            account = _account(raw)
            found.by_id[account.id] = account
            found.by_login.setdefault(normalize_email(account.login), account)
    return found


@dataclass
class Report:
    problems: list[Problem]  # each needs a person's decision
    to_fill: dict[str, int]  # handle -> the bugzilla_id Bugzilla gives
    fill_lines: list[str]
    notes: list[str]  # worth knowing, nothing to decide
    requests: int


def compare(registry: Registry, people_file: Path, accounts: Accounts) -> Report:
    """Every disagreement between people.toml and Bugzilla, at its line."""
    file = TomlFile(str(people_file), people_file.read_text(encoding="utf-8"))
    to_fill: dict[str, int] = {}
    fill_lines: list[str] = []
    notes: list[str] = []
    for handle, person in registry.people.items():
        listed = {normalize_email(e) for e in person.emails}
        ids_seen: set[int] = set()
        for index, email in enumerate(person.emails):
            key = normalize_email(email)
            if key in accounts.unknown_logins or key not in accounts.by_login:
                file.error(
                    (handle, "emails", index),
                    f"no Bugzilla account has the login '{email}': a typo, or an account "
                    "not created (or renamed) since",
                )
                continue
            account = accounts.by_login[key]
            ids_seen.add(account.id)
            if not account.can_login:
                file.error(
                    (handle, "emails", index),
                    f"the Bugzilla account '{account.login}' (id {account.id}) is disabled",
                )
        if person.bugzilla_id is not None:
            account = accounts.by_id.get(person.bugzilla_id)
            if account is None:
                file.error(
                    (handle, "bugzilla_id"), f"no Bugzilla account has the id {person.bugzilla_id}"
                )
            elif normalize_email(account.login) not in listed:
                file.error(
                    (handle, "bugzilla_id"),
                    f"Bugzilla account {account.id} has the login '{account.login}', which is "
                    f"not one of {handle}'s emails: a mistyped id (which would endorse "
                    "someone else) or a login changed since",
                )
            elif not account.can_login and account.id not in ids_seen:
                file.error(
                    (handle, "bugzilla_id"),
                    f"the Bugzilla account '{account.login}' (id {account.id}) is disabled",
                )
            continue
        if len(ids_seen) > 1:  # several accounts of one person: any may be the id
            numbers = ", ".join(map(str, sorted(ids_seen)))
            notes.append(
                f"{file.name}:{file.line((handle, 'emails'))}: {handle}.emails: "
                f"{len(ids_seen)} Bugzilla accounts ({numbers}); bugzilla_id left for you "
                "to choose"
            )
        elif len(ids_seen) == 1:
            account = accounts.by_id[next(iter(ids_seen))]
            if account.can_login:
                to_fill[handle] = account.id
                fill_lines.append(
                    f"{file.name}:{file.line((handle, 'name'))}: {handle}.bugzilla_id: "
                    f"{account.id} (Bugzilla login '{account.login}')"
                )
    return Report(file.problems(), to_fill, fill_lines, notes, accounts.requests)


class WriteError(Exception):
    pass


def fill_ids(text: str, to_fill: dict[str, int]) -> str:
    """`text` with `bugzilla_id = N` added under each person's `name` line: only lines are
    added, so comments, blank lines and layout stay as the maintainers wrote them.

    tomlkit checks the result: it must parse, and be the old document plus exactly these
    keys. (tomlkit's own `add` appends at the end of a table, which in a hand-written file
    is often after the comment that introduces the next one.)"""
    lines = text.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    locate = Locator(text).line
    for handle, bugzilla_id in to_fill.items():
        line = locate((handle, "name"))  # 1-based: insert after it
        newline = "\r\n" if lines[line - 1].endswith("\r\n") else "\n"
        inserts.append((line, f"bugzilla_id = {bugzilla_id}{newline}"))
    for line, added in sorted(inserts, reverse=True):
        if not lines[line - 1].endswith(("\n", "\r")):
            lines[line - 1] += "\n"
        lines.insert(line, added)
    result = "".join(lines)
    try:
        before = tomlkit.parse(text).unwrap()
        after = tomlkit.parse(result).unwrap()
    except tomlkit.exceptions.ParseError as exc:
        raise WriteError(f"the edited file would not parse ({exc}); nothing written") from None
    expected = {h: dict(t) for h, t in before.items()}
    for handle, bugzilla_id in to_fill.items():
        expected[handle]["bugzilla_id"] = bugzilla_id
    if after != expected or tomllib.loads(result) != expected:
        raise WriteError("a name line could not take the new key below it; nothing written")
    return result


def sync_command(config: Config, path: Path, registry: Registry, *, write: bool, batch: int) -> int:
    """Report, and with `write` fill in ids; exit 1 when something needs a decision."""
    if batch < 1:
        print("error: --batch must be at least 1", file=sys.stderr)
        return 2
    api_key = config.bugzilla.api_key()
    if not api_key:
        # Logged out, Bugzilla refuses look-ups by id and leaves out `can_login`.
        print(
            f"error: registry sync needs an API key (${config.bugzilla.api_key_env} or "
            "[bugzilla] api_key_file): Bugzilla shows ids and disabled accounts only to "
            "a logged-in user",
            file=sys.stderr,
        )
        return 2
    people_file = path / PEOPLE_FILE
    client = Client.configured(config.bugzilla, api_key)
    emails = [e for p in registry.people.values() for e in p.emails]
    ids = [p.bugzilla_id for p in registry.people.values() if p.bugzilla_id is not None]
    accounts = look_up(client, emails, ids, batch)
    report = compare(registry, people_file, accounts)
    for problem in report.problems:
        print(f"error: {problem}")
    verb = "added" if write else "to add"
    for line in report.fill_lines:
        print(f"{verb}: {line}")
    for line in report.notes:
        print(f"note: {line}")
    if write and report.to_fill:
        text = people_file.read_text(encoding="utf-8")
        try:
            people_file.write_text(fill_ids(text, report.to_fill), encoding="utf-8")
        except WriteError as exc:
            print(f"error: {people_file}: {exc}", file=sys.stderr)
            return 2
    fill = f"{len(report.to_fill)} bugzilla_id(s) {verb}"
    if report.to_fill and not write:
        fill += " (run with --write)"
    print(
        f"sync: {len(set(emails))} email(s) and {len(set(ids))} id(s) checked against "
        f"{client.url} in {report.requests} look-up(s); {len(report.problems)} need a "
        f"person's decision; {fill}"
    )
    return 1 if report.problems else 0
