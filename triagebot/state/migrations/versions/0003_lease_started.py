"""Issue 18: when the holder of a poll lease started, so that a lease whose holder on this host
is gone is free at once (a pid alone may have been given to another process since).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triagebot_rule") as batch:
        batch.add_column(sa.Column("lease_started", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triagebot_rule") as batch:
        batch.drop_column("lease_started")
