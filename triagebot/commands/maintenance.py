"""Operator commands on the database alone (no request to Bugzilla): `retry` a bug the bot
gave up on, `db upgrade` to apply the schema migrations by hand."""

from __future__ import annotations

import argparse
import sys

from triagebot.files.config import Config
from triagebot.state import migrate
from triagebot.state.store import Store


def retry_command(args: argparse.Namespace, config: Config) -> int:
    with Store(config.database_url) as store:
        revived = store.retry(args.bug, args.rule)
    if not revived:
        where = f" under rule {args.rule}" if args.rule else ""
        print(f"bug {args.bug} was not given up{where}: nothing to retry", file=sys.stderr)
        return 1
    for record in revived:
        print(
            f"bug {record.bug_id} (rule {record.rule}) is back in the queue: the next poll "
            f"writes on it (it last failed with: {record.last_error})"
        )
    return 0


def db_command(config: Config) -> int:
    """Opening the store applies the migrations; say what was done."""
    with Store(config.database_url, migrate=False) as store:
        was = migrate.current(store.engine)
        migrate.upgrade(store.engine)
        now = migrate.current(store.engine)
    if was == now:
        print(f"database already at revision {now} (the newest)")
    else:
        print(f"database upgraded from revision {was or 'none'} to {now}")
    return 0
