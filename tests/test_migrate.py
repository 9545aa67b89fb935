"""Schema migrations: a database of today's (0.1.0) schema upgrades in place, with its records;
a fresh one is created by the migrations and matches the models; `triagebot db upgrade`."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from triagebot.commands.cli import main
from triagebot.state import migrate
from triagebot.state.store import Intent, Owner, Store

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "store-0.1.0.sql"
RULE = "community-it"


def _schema_differences(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return [
            d
            for d in compare_metadata(context, SQLModel.metadata)
            if "triagebot_" in repr(d)  # other modules' tables are not the store's
        ]


def test_a_fresh_database_is_made_by_the_migrations_and_matches_the_models(
    database_url: str,
) -> None:
    with Store(database_url) as store:
        assert migrate.current(store.engine) == migrate.head()
        assert _schema_differences(store) == []


def test_a_sqlite_file_from_0_1_0_upgrades_in_place_and_keeps_its_records(tmp_path: Path) -> None:
    path = tmp_path / "triagebot.db"
    with sqlite3.connect(path) as conn:  # exactly what triagebot 0.1.0 left on disk
        conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    t = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    with Store(f"sqlite:///{path}", now=lambda: t) as store:
        assert migrate.current(store.engine) == migrate.head()
        assert _schema_differences(store) == []
        records = store.records(RULE, [1, 2, 3, 4])
        assert (records[1].state, records[1].comment_id) == ("done", 41)
        assert (records[2].state, records[2].ref, records[2].needinfo) == (
            "intent",
            "bbbb",
            "n@example.org",
        )
        assert records[3].state == "failed" and records[3].failures == 0
        assert records[4].outcome == "skipped"
        assert store.get_cursor(RULE) == t
        assert len(store.recent_polls()) == 1
        # what the new schema allows works on the upgraded file
        assert store.default_start(RULE, t - timedelta(days=7)) == t - timedelta(days=7)
        owner = Owner("token", "host-a", 42)
        lease = store.acquire_lease(RULE, owner, timedelta(minutes=5))
        store.begin_writes(RULE, [Intent(5, "eeee", "unknown", None, "comment")], lease=lease)
        state = store.mark_failed(
            RULE, 3, "refused", write_may_have_landed=False, permanent=True, max_attempts=1
        )
        assert state == "gave-up"


def test_db_upgrade_says_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "triagebot.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    config = tmp_path / "triagebot.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{path}"\n', encoding="utf-8")
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)

    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert capsys.readouterr().out == (
        f"database upgraded from revision none to {migrate.head()}\n"
    )
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert capsys.readouterr().out == (
        f"database already at revision {migrate.head()} (the newest)\n"
    )
