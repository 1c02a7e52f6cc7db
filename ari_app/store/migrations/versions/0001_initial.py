"""calls, call legs and recordings

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ari_app.store.models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("channel_id", sa.String(64), nullable=False, unique=True),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("caller_e164", sa.String(20)),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("did", sa.String(32), nullable=False),
        sa.Column("branch", sa.String(64)),
        sa.Column("ad_channel", sa.String(64)),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("answered_at", UtcDateTime()),
        sa.Column("ended_at", UtcDateTime()),
        sa.Column("wait_seconds", sa.Float()),
        sa.Column("talk_seconds", sa.Float()),
        sa.Column("outcome", sa.String(16)),
        sa.Column("admin", sa.String(64)),
        sa.Column("hangup_side", sa.String(16)),
        sa.Column("end_cause", sa.Integer()),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])
    op.create_index("ix_calls_caller_e164", "calls", ["caller_e164"])
    op.create_index("ix_calls_branch_started", "calls", ["branch", "started_at"])
    op.create_table(
        "call_legs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("admin", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("dialed_at", UtcDateTime()),
        sa.Column("ringing_at", UtcDateTime()),
        sa.Column("answered_at", UtcDateTime()),
        sa.Column("ended_at", UtcDateTime()),
        sa.Column("result", sa.String(16)),
        sa.Column("cause", sa.Integer()),
    )
    op.create_index("ix_call_legs_call_id", "call_legs", ["call_id"])
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("path", sa.String(512)),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("bytes", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_recordings_call_id", "recordings", ["call_id"])


def downgrade() -> None:
    op.drop_table("recordings")
    op.drop_table("call_legs")
    op.drop_table("calls")
