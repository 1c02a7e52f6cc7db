"""an index on the patient a call's comment chose

A booking event's candidate calls include those whose comment chose its patient; without this
index the search read every call in the event's window (a day's calls, ~15 ms of a 20 ms budget
with a year stored) to find the few comments naming one patient.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_call_comments_patient_id", "call_comments", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_call_comments_patient_id", table_name="call_comments")
