"""Alembic environment.

At runtime ``Database.migrate()`` hands in an open connection. From the ``alembic`` command line
(``alembic.ini`` at the repository root) the URL comes from ``-x url=...``, else ``$DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context

from ari_app.store import accounts, bookings, people  # noqa: F401  (their tables join the metadata)
from ari_app.store.models import Base


def _run(connection: Any) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_from_cli() -> None:
    from logging.config import fileConfig

    from ari_app.store.db import Database

    if context.config.config_file_name:
        fileConfig(context.config.config_file_name)
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("give the database: alembic -x url=sqlite:///data/calls.db ... or $DATABASE_URL")

    async def go() -> None:
        db = Database(url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(_run)
        finally:
            await db.dispose()

    asyncio.run(go())


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
else:
    _run_from_cli()
