"""Going live by accident: refused when the registry or a rule is still example data; and
every go-live blocker at once, for `check`.

A live bot posts on real bugs. Two mistakes a newcomer makes by following a tutorial too
literally are caught before the first request: going live with the shipped fictional
registry (every reporter would be compared against invented people) and with a placeholder
directory link (every comment would send triagers to a page that does not exist).

"Example data" is recognised by what it is, not by a marker (which would be lost, or copied
along with the data): addresses and links under the names reserved for documentation and
tests (RFC 2606, RFC 6761). The project ships only such data, and no real reporter can be
identified with it. Against a Bugzilla on loopback or under a reserved name (the demo's
stand-in, the tests' mocks) nothing real can be written, so the check does not apply there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from triagebot.bugzilla.client import KEY_REJECTED, BugzillaError, Client, public_url
from triagebot.files.config import Config
from triagebot.files.problems import ProblemError
from triagebot.files.rules import load_rules
from triagebot.files.validate import load_registry

if TYPE_CHECKING:
    from triagebot.core.registry import Registry
    from triagebot.files.rules import Rule

RESERVED_DOMAINS = ("example.org", "example.com", "example.net")
RESERVED_TLDS = ("example", "test", "invalid", "localhost")


def is_reserved_host(host: str) -> bool:
    """A host name reserved for documentation and tests: no real server is there."""
    host = host.lower().rstrip(".")
    if host in RESERVED_DOMAINS or host.endswith(tuple(f".{d}" for d in RESERVED_DOMAINS)):
        return True
    return host.rpartition(".")[2] in RESERVED_TLDS


def is_test_server(url: str) -> bool:
    """Loopback or a reserved name: the demo's stand-in or a test's mock, not a real tracker."""
    host = (urlsplit(url).hostname or "").lower()
    if is_reserved_host(host):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def live_problems(
    bugzilla_url: str, registry: Registry, registry_path: Path, rules: Iterable[Rule]
) -> list[str]:
    """One line per reason not to write to `bugzilla_url`, each saying how to fix it."""
    if is_test_server(bugzilla_url):
        return []
    problems = []
    logins = [login for person in registry.people.values() for login in person.emails]
    if all(is_reserved_host(login.rpartition("@")[2]) for login in logins):
        what = "lists nobody yet" if not logins else "holds only example.org people (fictional)"
        problems.append(
            f"{registry_path}: refusing to go live: the registry {what}; put your communities' "
            "delegates in it (README: Use it on your Bugzilla), or use --dry-run"
        )
    for rule in rules:
        host = urlsplit(rule.directory_url or "").hostname
        if host and is_reserved_host(host):
            problems.append(
                f"{rule.path}: refusing to go live: directory_url {rule.directory_url} is a "
                "placeholder; set it to your community directory page, or delete the line"
            )
    return problems


UNREACHABLE = "unreachable"  # the one blocker that a later try may clear by itself


@dataclass(frozen=True)
class Blocker:
    """One reason the bot cannot go live, and how to fix it (`problem` says both)."""

    what: str  # registry, rules, example data, database, key, bot_login, bugzilla, product...
    problem: str


def no_login(config: Config, where: str) -> str:
    """Without its login the bot cannot tell its own comments from anybody's: a lost database
    would mean a second comment."""
    return (
        f"{config.path or 'configuration'}: live mode needs the bot's Bugzilla login, to "
        f"recognise its own comments: set [bugzilla] bot_login ({where} has no /rest/whoami)"
    )


def blockers(config: Config) -> list[Blocker]:
    """Everything that would stop `once --live`, found in one go rather than one per try.
    Reads only: creates no database and writes nothing to Bugzilla."""
    found: list[Blocker] = []
    rules = None
    result = load_registry(config.registry.path)
    if result.registry is None:
        found += [Blocker("registry", str(p)) for p in result.errors]
    try:
        rules = load_rules(config.rules.path)
    except ProblemError as exc:
        found += [Blocker("rules", str(p)) for p in exc.problems]
    if result.registry is not None and rules is not None:
        problems = live_problems(config.bugzilla.url, result.registry, config.registry.path, rules)
        found += [Blocker("example data", p) for p in problems]
    if (problem := _database(config.database.url)) is not None:
        found.append(Blocker("database", problem))
    key = None
    try:
        key = config.bugzilla.api_key()
    except ProblemError as exc:
        found += [Blocker("key", str(p)) for p in exc.problems]
    else:
        if not key:
            found.append(
                Blocker(
                    "key",
                    f"no API key: set ${config.bugzilla.api_key_env} or [bugzilla] api_key_file (a "
                    "file readable only by its owner) to the bot account's key",
                )
            )
    where = public_url(config.bugzilla.url)
    client = Client.configured(config.bugzilla, key, budget=False)
    try:
        client.connect()
    except BugzillaError as exc:
        # No answer is worth trying again later (`check` exits 1 when nothing else blocks);
        # an answer that is not a Bugzilla's is a URL to fix.
        found.append(Blocker(UNREACHABLE if exc.worth_a_retry else "bugzilla", f"{where}: {exc}"))
        return found
    if (blocker := _account(config, client, key, where)) is not None:
        found.append(blocker)
    if rules:
        wanted: dict[str, list[str]] = {}
        for rule in rules:
            wanted.setdefault(rule.product, []).extend(rule.components)
        try:
            problems = client.check_products(wanted)
        except BugzillaError as exc:
            problems = [str(exc)]
        fix = "set product and components in the rule to what your requests are filed in"
        found += [Blocker("product", f"{where}: {p}; {fix}") for p in problems]
    return found


def _account(config: Config, client: Client, key: str | None, where: str) -> Blocker | None:
    """The key accepted and the bot's login known: by it the bot recognises its comments."""
    login = config.bugzilla.bot_login
    if key:
        try:
            if login is not None:
                client.users(names=[login])  # refused with a wrong key; a missing user too
            else:
                login = client.whoami()
        except BugzillaError as exc:
            if exc.code in KEY_REJECTED:
                return Blocker(
                    "key", f"{where} rejected the API key: {exc}; set the bot account's key"
                )
            if login is not None:
                return Blocker("bot_login", f"{where}: bot_login {login!r}: {exc}")
            raise
    return Blocker("bot_login", no_login(config, where)) if login is None else None


def _database(url: str) -> str | None:
    """Where the bot keeps its state can be reached, without creating it."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if name in ("", ":memory:"):
            return (
                f"{url}: an in-memory database forgets every poll; "
                "set [database] url to a file or a server"
            )
        path = Path(name)
        if path.exists() and not path.is_file():
            return f"{path}: not a file; set [database] url"
        if not path.exists() and not path.parent.is_dir():
            return (
                f"{path.parent}: no such directory for the database; "
                "create it or set [database] url"
            )
        return None  # there, or created by the first poll
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        where = parsed.render_as_string(hide_password=True)
        return f"{where}: cannot connect: {reason.splitlines()[0]}"
    finally:
        engine.dispose()
    return None
