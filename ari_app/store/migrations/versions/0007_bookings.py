"""calls that became appointments: the scheduler's booking events, their links to calls, and
each call's opportunity class

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ari_app.store.models import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("patient_external_id", sa.String(64), nullable=False),
        sa.Column("happened_at", UtcDateTime(), nullable=False),
        sa.Column("appointment_at", UtcDateTime(), nullable=True),
        sa.Column("doctor", sa.String(200), nullable=True),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("branch", sa.String(64), nullable=True),
        sa.Column("admin", sa.String(64), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_booking_events_booking_id", "booking_events", ["booking_id"])
    op.create_index("ix_booking_events_patient_external_id", "booking_events", ["patient_external_id"])
    op.create_index("ix_booking_events_happened_at", "booking_events", ["happened_at"])
    op.create_table(
        "call_links",
        sa.Column(
            "booking_event_id",
            sa.Integer(),
            sa.ForeignKey("booking_events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("distance_seconds", sa.Float(), nullable=False),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_call_links_call_id", "call_links", ["call_id"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("opportunity", sa.String(8), nullable=True))
        batch.add_column(sa.Column("opportunity_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("opportunity_chosen", sa.String(8), nullable=True))
        batch.add_column(sa.Column("opportunity_chosen_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for column in ("opportunity_chosen_by", "opportunity_chosen", "opportunity_reason", "opportunity"):
            batch.drop_column(column)
    op.drop_table("call_links")
    op.drop_table("booking_events")
