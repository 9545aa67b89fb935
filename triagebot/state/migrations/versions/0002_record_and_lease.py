"""Issue 12: a row per rule (the stored default start; the poll lease: owner, expiry and a
fencing epoch), and poison bugs (state 'gave-up', a count of consecutive permanent failures).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RULE_COLUMNS = (
    ("start", sa.DateTime(timezone=True), None),
    ("lease_owner", sa.String(), None),
    ("lease_host", sa.String(), None),
    ("lease_pid", sa.Integer(), None),
    ("lease_since", sa.DateTime(timezone=True), None),
    ("lease_expires", sa.DateTime(timezone=True), None),
    ("epoch", sa.Integer(), "0"),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("triagebot_rule"):
        op.create_table(
            "triagebot_rule",
            sa.Column("rule", sa.String(), primary_key=True),
            *(
                sa.Column(name, kind, nullable=default is None, server_default=default)
                for name, kind, default in RULE_COLUMNS
            ),
        )
    else:  # made by create_all between the two increments of issue 12: start only
        have = {c["name"] for c in inspector.get_columns("triagebot_rule")}
        with op.batch_alter_table("triagebot_rule") as batch:
            for name, kind, default in RULE_COLUMNS:
                if name not in have:
                    batch.add_column(
                        sa.Column(name, kind, nullable=default is None, server_default=default)
                    )
    with op.batch_alter_table("triagebot_bug") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("ck_triagebot_bug_state", type_="check")
        batch.create_check_constraint(
            "ck_triagebot_bug_state", "state IN ('seen', 'intent', 'done', 'failed', 'gave-up')"
        )


def downgrade() -> None:
    with op.batch_alter_table("triagebot_bug") as batch:
        batch.drop_constraint("ck_triagebot_bug_state", type_="check")
        batch.create_check_constraint(
            "ck_triagebot_bug_state", "state IN ('seen', 'intent', 'done', 'failed')"
        )
        batch.drop_column("failures")
    op.drop_table("triagebot_rule")
