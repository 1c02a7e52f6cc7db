"""the console's patient search and the numbers admins add to cards

``patient_name_words``: each card's name words, case-folded, so a name is found by word prefixes
through an index on both databases (existing cards' words are filled in here).
``patient_phones.source``: "console" for a number an admin added from a call, which a later
import of the card keeps; the numbers so far came from the directories.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ari_app.people.search import name_words

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column(
        "patient_phones",
        sa.Column("source", sa.String(16), nullable=False, server_default="directory"),
    )
    word = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")
    words = op.create_table(
        "patient_name_words",
        sa.Column("word", word, primary_key=True),
        sa.Column(
            "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_patient_name_words_patient_id", "patient_name_words", ["patient_id"])
    conn = op.get_bind()
    patients = sa.table("patients", sa.column("id", sa.Integer()), sa.column("full_name", sa.String()))
    last = 0
    while True:  # in batches: a clinic's directory may be large
        rows = conn.execute(
            sa.select(patients.c.id, patients.c.full_name)
            .where(patients.c.id > last)
            .order_by(patients.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        found = [{"word": w, "patient_id": r.id} for r in rows for w in name_words(r.full_name)]
        if found:
            op.bulk_insert(words, found)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_patient_name_words_patient_id", table_name="patient_name_words")
    op.drop_table("patient_name_words")
    with op.batch_alter_table("patient_phones") as batch:
        batch.drop_column("source")
