"""routing facts: recording notice, topic, hold, transfers; callback tasks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ari_app.store.models import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("number_e164", sa.String(20)),
        sa.Column("branch", sa.String(64)),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_call_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_callback_tasks_e164_status", "callback_tasks", ["number_e164", "status"])
    op.create_index("ix_callback_tasks_number_status", "callback_tasks", ["number", "status"])
    op.create_index("ix_callback_tasks_due_at", "callback_tasks", ["due_at"])
    op.create_table(
        "call_transfers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("from_admin", sa.String(64), nullable=False),
        sa.Column("to", sa.String(80), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("call_id", "at", name="uq_call_transfers_call_at"),
    )
    op.create_index("ix_call_transfers_call_id", "call_transfers", ["call_id"])
    # Plain ADD COLUMNs, no table rebuild: on SQLite a rebuild drops "calls", and with foreign
    # keys on that deletes its legs and recordings. So calls.callback_task_id has no FOREIGN KEY
    # (SQLite cannot add one to an existing table); the store sets it only to a task it has just
    # found or created in the same transaction, and never deletes tasks.
    op.add_column(
        "calls", sa.Column("notice_played", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("calls", sa.Column("topic", sa.String(64)))
    op.add_column("calls", sa.Column("queued_at", UtcDateTime()))
    op.add_column("calls", sa.Column("transfers", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.add_column("calls", sa.Column("callback_task_id", sa.String(36)))
    op.create_index("ix_calls_callback_task_id", "calls", ["callback_task_id"])


def downgrade() -> None:
    op.drop_index("ix_calls_callback_task_id", table_name="calls")
    for column in ("callback_task_id", "transfers", "queued_at", "topic", "notice_played"):
        op.drop_column("calls", column)  # SQLite 3.35+: ALTER TABLE DROP COLUMN, no rebuild
    op.drop_table("call_transfers")
    op.drop_table("callback_tasks")
