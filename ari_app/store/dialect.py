"""What SQLite and PostgreSQL say differently in the set-based queries: a time as an exact
integer, text ordered by code point, and the planner's settings for a bulk statement.

SQLite keeps a ``UtcDateTime`` as text (``YYYY-MM-DD HH:MM:SS.ffffff``, the format SQLAlchemy
always writes, microseconds included); PostgreSQL as a timestamp. Comparing windows and distances
in integer microseconds since the epoch keeps them exact on both (``julianday`` is a float that
loses the microseconds), and a distance divided by 10**6 at the end is the same double Python's
``timedelta.total_seconds()`` gives."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class epoch_micros(FunctionElement[int]):
    """Microseconds since 1970-01-01 UTC of a ``UtcDateTime`` column, as an integer."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_micros, "sqlite")
def _epoch_micros_sqlite(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    at = compiler.process(element.clauses, **kw)
    # The seconds from the text without its fraction (SQLite reads a fraction as milliseconds,
    # rounding .9995 up to the next second), the six digits after the dot as the microseconds.
    return f"(unixepoch(substr({at}, 1, 19)) * 1000000 + CAST(substr({at}, 21, 6) AS INTEGER))"


@compiles(epoch_micros, "postgresql")
def _epoch_micros_postgresql(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT gives an exact numeric (PostgreSQL 14 and later).
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"


class by_code_point(FunctionElement[str]):
    """Text ordered as Python orders ``str`` (by code point), not by the database's locale."""

    type = String()
    inherit_cache = True


@compiles(by_code_point, "sqlite")
def _by_code_point_sqlite(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)  # BINARY, SQLite's default: UTF-8 bytes


@compiles(by_code_point, "postgresql")
def _by_code_point_postgresql(element: by_code_point, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


async def plan_for_bulk(conn: AsyncConnection) -> None:
    """Settings of this transaction for statements that join a week of rows to tables of millions.

    PostgreSQL: no JIT (a relink week's statement spent ~10 s compiling for ~1 s of work), and
    random page reads priced as the cached reads they are here (``random_page_cost`` 1.1
    instead of 4), so that the week's rows probe the indexes instead of hashing whole tables
    of patients and numbers. SQLite: the file read through mmap, a page without a read() call
    each (one week's statement at 1 M: 1.4-1.5 s without, 0.7 s with; it stays on the pooled
    connection, as harmless there)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL jit = off"))
        await conn.execute(text("SET LOCAL random_page_cost = 1.1"))
        # asyncpg prepares every statement: after five runs PostgreSQL may switch to a generic
        # plan that ignores the span's bounds.
        await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    elif conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("PRAGMA mmap_size = 4294967296")
