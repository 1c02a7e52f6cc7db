"""who calls: patients and their numbers, staff and contractors, call comments; calls carry
the caller as the directories knew them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ari_app.store.models import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    _patients()
    _contacts()
    _comments()
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("caller_kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("patient_cards", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("in_statistics", sa.Boolean(), nullable=False, server_default=sa.true()))


def _patients() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(64), nullable=False, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("branch", sa.String(64), nullable=True),
        sa.Column("guardian_external_id", sa.String(64), nullable=True),
        sa.Column("guardian_name", sa.String(200), nullable=True),
        sa.Column("family_id", sa.String(64), nullable=True),
        sa.Column("balance", MONEY, nullable=False),
        sa.Column("treatment_sum", MONEY, nullable=False),
        sa.Column("family_sum", MONEY, nullable=False),
        sa.Column("insurance_sum", MONEY, nullable=False),
        sa.Column("policy_number", sa.String(64), nullable=True),
        sa.Column("policy_from", sa.Date(), nullable=True),
        sa.Column("policy_to", sa.Date(), nullable=True),
        sa.Column("policy_active", sa.Boolean(), nullable=False),
        sa.Column("card_comment", sa.Text(), nullable=True),
        sa.Column("visits_completed", sa.Integer(), nullable=False),
        sa.Column("visits_no_show", sa.Integer(), nullable=False),
        sa.Column("visits_cancelled", sa.Integer(), nullable=False),
        sa.Column("last_visit", sa.Date(), nullable=True),
        sa.Column("open_tasks", sa.JSON(), nullable=False),
        sa.Column("waiting_list", sa.JSON(), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_patients_family_id", "patients", ["family_id"])
    op.create_table(
        "patient_phones",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "patient_id", sa.Integer(), sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("number_e164", sa.String(20), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.UniqueConstraint("patient_id", "number_e164", name="uq_patient_phones_patient_number"),
    )
    op.create_index("ix_patient_phones_patient_id", "patient_phones", ["patient_id"])
    op.create_index("ix_patient_phones_e164", "patient_phones", ["number_e164"])


def _contacts() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("kind", "external_id", name="uq_contacts_kind_external"),
    )
    op.create_table(
        "contact_phones",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("number_e164", sa.String(20), nullable=False),
        sa.UniqueConstraint("contact_id", "number_e164", name="uq_contact_phones_contact_number"),
    )
    op.create_index("ix_contact_phones_contact_id", "contact_phones", ["contact_id"])
    op.create_index("ix_contact_phones_e164", "contact_phones", ["number_e164"])


def _comments() -> None:
    def comment_columns() -> list[sa.Column[object]]:
        return [
            sa.Column("caller_type", sa.String(24), nullable=False),
            sa.Column("topic", sa.String(64), nullable=False),
            sa.Column("patient_id", sa.Integer(), nullable=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("author", sa.String(64), nullable=False),
            sa.Column("written_at", UtcDateTime(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
        ]

    call_fk = sa.ForeignKey("calls.id", ondelete="CASCADE")
    op.create_table(
        "call_comments", sa.Column("call_id", sa.String(36), call_fk, primary_key=True), *comment_columns()
    )
    op.create_table(
        "call_comment_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        *comment_columns(),
        sa.UniqueConstraint("call_id", "version", name="uq_call_comment_versions"),
    )
    op.create_index("ix_call_comment_versions_call_id", "call_comment_versions", ["call_id"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for column in ("in_statistics", "patient_cards", "patient_id", "caller_kind"):
            batch.drop_column(column)
    for table in (
        "call_comment_versions",
        "call_comments",
        "contact_phones",
        "contacts",
        "patient_phones",
        "patients",
    ):
        op.drop_table(table)
