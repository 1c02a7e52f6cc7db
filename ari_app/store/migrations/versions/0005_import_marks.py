"""a records file's import position carries the hash of the bytes just before it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A file cut short or rewritten in place and grown again past the position would otherwise
    # be read from the middle of a record. Nullable: positions saved before carry none.
    op.add_column("import_positions", sa.Column("mark", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_positions") as batch:
        batch.drop_column("mark")
