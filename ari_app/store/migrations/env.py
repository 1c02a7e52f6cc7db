"""Alembic environment: run with a connection handed in by Database.migrate()."""

from __future__ import annotations

from alembic import context

from ari_app.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `ari-app migrate` (Database.migrate)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
