"""Schema migrations (Alembic), applied when the store opens a database.

Every schema change from issue 12 on is a revision in `migrations/versions/`, so an operator's
database upgrades in place, on SQLite (Alembic's batch mode rebuilds a table where SQLite
cannot ALTER it) and on PostgreSQL. A database made before migrations existed (the
tables, no `alembic_version`) is stamped with the baseline revision, which is exactly that
schema, then upgraded. Replicas starting together on PostgreSQL queue on an advisory lock; on
SQLite, one that loses the race finds the work done and checks again.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

BASELINE = "0001"  # the schema `create_all` made before migrations
_PG_LOCK = 0x7472_6961_6765  # "triage": one advisory lock for every triagebot upgrade
_ATTEMPTS = 3


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


@cache
def head() -> str:
    """The newest revision this version of triagebot knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision; None for an empty database or one from before migrations."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str | None:
    """Bring the database to `head()`; returns the revision it was at (None: none). Cheap
    when it is there already: one SELECT."""
    was = current(engine)
    if was == head():
        return was
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return _upgrade(engine)
        except DBAPIError:
            if current(engine) == head():
                return was  # another process did it meanwhile
            if attempt == _ATTEMPTS:
                raise
            log.info("database upgrade raced with another process; checking again")
    raise AssertionError("unreachable")


def _upgrade(engine: Engine) -> str | None:
    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        was = MigrationContext.configure(conn).get_current_revision()
        if was == head():
            return was
        config.attributes["connection"] = conn
        if was is None and inspect(conn).has_table("triagebot_bug"):
            log.info("database from before migrations: stamping it %s", BASELINE)
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        log.info("database upgraded from %s to %s", was or "nothing", head())
        return was
