"""calls the dialplan's fallback took: who handled a call; how far each record file is imported

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ari_app.store.models import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "app" for the calls the app handled, "fallback" for those the dialplan took while it was down.
    # A column with a constant default: SQLite adds it in place, no table rebuild.
    op.add_column(
        "calls", sa.Column("handled_by", sa.String(16), nullable=False, server_default=sa.text("'app'"))
    )
    op.create_table(
        "import_positions",
        sa.Column("source", sa.String(512), primary_key=True),  # the file, and which one (inode)
        sa.Column("position", sa.BigInteger(), nullable=False),  # bytes read and imported
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("import_positions")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("handled_by")
