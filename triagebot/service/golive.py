"""Going live by accident: refused when the registry or a rule is still example data.

A live bot posts on real bugs. Two mistakes a newcomer makes by following a tutorial too
literally are caught before the first request: going live with the shipped fictional
registry (every reporter would be compared against invented people) and with a placeholder
directory link (every comment would send triagers to a page that does not exist).

"Example data" is recognised by what it is, not by a marker: addresses and links under the
domains reserved for documentation and testing (RFC 2606 and RFC 6761: example.org, .com,
.net, and the .example, .test, .invalid and .localhost names). The project ships only such
data, and a real deployment cannot identify a single real reporter with it, so a registry with
no login outside them is never the one to go live with, wherever it was copied from. A marker
file would be lost or copied along with the data; the addresses cannot be.

Against a Bugzilla that is itself on loopback or under a reserved name (the demo's stand-in,
the tests' mocks) nothing real can be written, so the check does not apply there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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
    if host == "localhost" or is_reserved_host(host):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_example_login(login: str) -> bool:
    return is_reserved_host(login.rpartition("@")[2])


def live_problems(
    bugzilla_url: str, registry: Registry, registry_path: Path, rules: Iterable[Rule]
) -> list[str]:
    """One line per reason not to write to `bugzilla_url`, each saying how to fix it."""
    if is_test_server(bugzilla_url):
        return []
    problems = []
    logins = [login for person in registry.people.values() for login in person.emails]
    if not any(not _is_example_login(login) for login in logins):
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
