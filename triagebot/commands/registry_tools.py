"""The maintainers' registry tools beyond check/find/show: audit, history and sync.

Kept apart from `triagebot.commands.cli` so the command line stays a thin dispatcher: each command
here parses nothing itself, reads the registry the caller loaded, and returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from triagebot.core.registry import Registry
from triagebot.files.config import Config

COMMANDS = ("audit", "history", "sync")


def add_parsers(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Declare audit, history and sync with `add_parser` (the registry subparsers' method)."""
    audit = add_parser(
        "audit",
        help="hold the registry to data/policy.toml; exit 1 on an error finding",
        description="Check the registry against the policies in policy.toml beside the data "
        "(minimum delegates, term length, review age, resources to hand over, public "
        "contact). One line per finding, 'SEVERITY: FILE:LINE: FIELD: MESSAGE', then a "
        "summary. Exit 0 when no finding is an error, 1 otherwise, 2 when the registry or "
        "the policy file is broken.",
    )
    audit.add_argument("dir", nargs="?", help="registry directory (default: config or ./data)")
    audit.add_argument("--policy", metavar="FILE", help="policy file (default: DIR/policy.toml)")
    history = add_parser(
        "history",
        help="who held which title in a community, when, and who should take over what",
        description="The dated timeline of a community's delegates (with sources), who "
        "holds a role now, and which resources are still in the hands of someone whose "
        "term has ended.",
    )
    history.add_argument("slug", help="community slug, name or alias")
    history.add_argument("--dir", help="registry directory")
    sync = add_parser(
        "sync",
        help="hold people.toml against Bugzilla's accounts; --write fills in bugzilla_id",
        description="Look every listed email and bugzilla_id up on the Bugzilla in the "
        "configuration (GET /rest/user, many per request) and report emails with no "
        "account, ids whose login is not listed for that person, and disabled accounts. "
        "--write adds the missing bugzilla_id lines to people.toml and changes nothing "
        "else. Exit 0 when the registry and Bugzilla agree, 1 when something needs a "
        "person's decision.",
    )
    sync.add_argument("--dir", help="registry directory")
    sync.add_argument(
        "--write", action="store_true", help="add the bugzilla_id lines that are missing"
    )
    sync.add_argument(
        "--batch", type=int, default=100, help="emails or ids per request (default: 100)"
    )


def run(
    args: argparse.Namespace, config: Config, path: Path, registry: Registry, today: date
) -> int:
    if args.registry_command == "audit":
        return _audit(args, path, registry, today)
    if args.registry_command == "history":
        return _history(args, path, registry, today)
    if args.registry_command == "sync":
        from triagebot.tools.sync import sync_command

        return sync_command(config, path, registry, write=args.write, batch=args.batch)
    raise AssertionError(args.registry_command)


def _audit(args: argparse.Namespace, path: Path, registry: Registry, today: date) -> int:
    from triagebot.files.policy import POLICY_FILE, PolicyError, load_policy
    from triagebot.tools.audit import audit, summary

    policy_path = Path(args.policy) if args.policy else path / POLICY_FILE
    try:
        policy = load_policy(policy_path)
    except PolicyError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    findings = audit(registry, path, policy, today)
    for finding in findings:
        print(f"{finding.severity}: {finding}")
    print(summary(findings, policy_path, policy))
    return 1 if any(f.severity == "error" for f in findings) else 0


def _history(args: argparse.Namespace, path: Path, registry: Registry, today: date) -> int:
    from triagebot.commands import output
    from triagebot.tools.history import render_text

    community = registry.community(args.slug)
    if community is None:
        print(output.unknown_community(registry, args.slug, path), file=sys.stderr)
        return 1
    sys.stdout.write(render_text(registry, community, today))
    return 0
