"""Alembic's environment for triagebot: migrations run on the connection the store hands over
(`config.attributes["connection"]`), never on a URL of their own, so they share its engine
settings (SQLite pragmas, PostgreSQL pool) and its transaction."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
