"""The operator's commands: `check` whether the bot can go live, `retry` a bug the bot gave
up on, `db upgrade` to apply the schema migrations by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from triagebot.commands import documents as doc
from triagebot.commands.notices import command_config
from triagebot.commands.reply import Exit, Reply, configuration, usage
from triagebot.commands.router import AddParser, add_command, add_group
from triagebot.core.says import did_you_mean
from triagebot.files.config import ConfigError
from triagebot.service.views import has_state
from triagebot.state import migrate
from triagebot.state.store import Store


def add_parsers(add_parser: AddParser) -> None:
    add_command(
        add_parser,
        "check",
        check_command,
        found="Bugzilla did not answer, and nothing else blocks (a blocker to fix: 2)",
        document="golive",
        help="can the bot go live? every blocker at once, each with its fix",
        description="Everything `once --live` would refuse, found in one run: the "
        "configuration, registry and rules files, example data and placeholder links, the "
        "API key, the bot's login, the rules' products and components on the server, and "
        "the database. Reads only: writes nothing to Bugzilla and creates no database. "
        "One line per blocker.",
    )
    retry = add_command(
        add_parser,
        "retry",
        retry_command,
        found="the bug was not given up: nothing to retry",
        help="put a bug the bot gave up on back in the queue",
        description="A bug whose write Bugzilla refused with the same error [run] "
        "max_attempts times is given up (`status` lists it with its error). Once the cause is "
        "fixed, this puts it back: the next poll writes on it.",
    )
    retry.add_argument("bug", type=int, help="bug number")
    retry.add_argument("--rule", help="only this rule's record (default: every rule)")
    dbsub = add_group(add_parser, "db", "db_command", help="the database schema (migrations)")
    add_command(
        dbsub,
        "upgrade",
        db_command,
        found="never",
        help="apply the schema migrations now (the bot also applies them at start-up)",
        description="Bring an existing database to the newest schema. A SQLite database "
        "that does not exist is not created (the first poll creates it).",
    )


def check_command(args: argparse.Namespace) -> Reply:
    from triagebot.service.golive import UNREACHABLE, blockers

    config = command_config(args)
    found = blockers(config)
    lines = [f"blocker: {b.what}: {b.problem}" for b in found]
    lines.append(
        f"go-live check: {len(found)} blocker{'' if len(found) == 1 else 's'}"
        + ("; fix each, then run it again" if found else ": `once --live` can run")
    )
    document = doc.GoLiveDocument(ok=not found, blockers=found)
    if not found:
        code = Exit.DONE
    elif all(b.what == UNREACHABLE for b in found):
        code = Exit.FOUND  # worth trying again later
    else:
        code = Exit.FIX
    return Reply(code=code, text="\n".join(lines), document=document)


def retry_command(args: argparse.Namespace) -> Reply:
    config = command_config(args)
    if args.rule is not None:
        _known_rule(args.rule, config.rules.path)
    revived = []
    if has_state(config.database.url):
        with Store(config.database.url) as store:
            revived = store.retry(args.bug, args.rule)
    if not revived:
        where = f" under rule {args.rule}" if args.rule else ""
        return Reply(
            code=Exit.FOUND, notes=f"bug {args.bug} was not given up{where}: nothing to retry"
        )
    return Reply(
        text="\n".join(
            f"bug {record.bug_id} (rule {record.rule}) is back in the queue: the next poll "
            f"writes on it (it last failed with: {record.last_error})"
            for record in revived
        )
    )


def _known_rule(name: str, rules_path: Path) -> None:
    """An unknown rule name is a usage error with a did-you-mean, not "nothing to retry"."""
    from triagebot.files.rules import load_rules

    try:
        names = [rule.name for rule in load_rules(rules_path)]
    except ConfigError:
        return  # broken rules files: `status` says so; the name cannot be checked
    if name not in names:
        known = ", ".join(names) or "none"
        raise usage(f"--rule {name}: no such rule{did_you_mean(name, names)} (rules: {known})")


def db_command(args: argparse.Namespace) -> Reply:
    """Applies the migrations to an existing database and says what was done."""
    config = command_config(args)
    if not has_state(config.database.url):
        raise configuration(
            f"{config.database.url}: no database to upgrade (the first poll creates it; "
            "--config FILE names another)"
        )
    with Store(config.database.url, migrate=False) as store:
        was = migrate.current(store.engine)
        migrate.upgrade(store.engine)
        now = migrate.current(store.engine)
    if was == now:
        return Reply(text=f"database already at revision {now} (the newest)")
    return Reply(text=f"database upgraded from revision {was or 'none'} to {now}")
