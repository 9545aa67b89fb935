"""The schema of triagebot before migrations (what `create_all` made until issue 12).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "triagebot_cursor",
        sa.Column("rule", sa.String(), primary_key=True),
        _when("since", nullable=False),
    )
    op.create_table(
        "triagebot_bug",
        sa.Column("bug_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rule", sa.String(), primary_key=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("community", sa.String(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        _when("intent_at"),
        _when("done_at"),
        _when("updated_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("needinfo", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "state IN ('seen', 'intent', 'done', 'failed')", name="ck_triagebot_bug_state"
        ),
    )
    op.create_index("ix_triagebot_bug_state", "triagebot_bug", ["state", "rule"])
    op.create_table(
        "triagebot_poll",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rule", sa.String(), nullable=False),
        _when("started_at", nullable=False),
        _when("finished_at"),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("searched", sa.Integer(), nullable=False),
        sa.Column("acted", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "triagebot_reload_problem",
        sa.Column("source", sa.String(), primary_key=True),
        _when("reported_at", nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
    )
    op.create_table(
        "triagebot_check",
        sa.Column("key", sa.String(), primary_key=True),
        _when("passed_at", nullable=False),
    )


def downgrade() -> None:
    for table in (
        "triagebot_check",
        "triagebot_reload_problem",
        "triagebot_poll",
        "triagebot_bug",
        "triagebot_cursor",
    ):
        op.drop_table(table)
