"""The database: async engine and sessions, Alembic migrations run in code, a health ping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ari_app.private_files import private_dir, private_file, tighten_if_present

log = structlog.get_logger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x61726961  # PostgreSQL advisory lock key held while migrating ("aria")


class StoreUnavailable(RuntimeError):
    """The database refused or dropped the connection, or would not let us log in.

    ``reason`` is the driver's or the server's own words (``database "x" does not exist``);
    ``login_refused`` tells a wrong database name, user or password from an outage. Neither
    the message nor the reason ever holds a password.
    """

    def __init__(self, url: str, cause: BaseException) -> None:
        self.url = url
        self.reason = outage_reason(cause)
        self.login_refused = _login_refused(_sqlstate(cause) or "")
        super().__init__(f"database {url} unavailable: {self.reason}")


# The lookup engine's pool (who is calling): a fixed set of connections, opened once and kept.
# With overflow, a burst of calls opened extra connections, and a lookup that timed out while
# one was being opened (a new thread and sqlite3 connection, or a server login) left it
# half-made: neither pooled nor closed, kept until a full garbage collection, which a process
# tuned for short pauses rarely runs (about 12 KB per call, without end). Waiting for a pooled
# connection instead is cancelled cleanly.
LOOKUP_POOL: dict[str, Any] = {"pool_size": 10, "max_overflow": 0}

# The server is there but cannot take a connection now: starting up, shutting down, full.
NOT_NOW = frozenset({"57P01", "57P02", "57P03", "53300"})


def _login_refused(state: str) -> bool:
    """PostgreSQL answers but will not serve us: SQLSTATE class 28 (no such role, wrong
    password, pg_hba.conf) or 3D000 (no such database)."""
    return state.startswith("28") or state == "3D000"


def async_url(url: str) -> str:
    """Map plain URLs to the async drivers: postgresql:// -> asyncpg, sqlite:/// -> aiosqlite."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


async def until_available(
    read: Callable[[], Awaitable[T]], what: str, *, initial: float = 0.2, maximum: float = 5.0
) -> T:
    """``read()``'s result once the database answers: an outage is waited out with backoff."""
    delay = initial
    while True:
        try:
            return await read()
        except StoreUnavailable as exc:
            # Said once: the app's database probe reports the outage and its end (OutageLog).
            level = log.warning if delay == initial else log.debug
            level("waiting_for_database", what=what, reason=exc.reason, retry_in=round(delay, 2))
            await asyncio.sleep(delay)
            delay = min(delay * 2, maximum)


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        self.display_url = safe_url(self.url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                _private_sqlite(Path(parsed.database))
            kwargs["connect_args"] = {"timeout": 15}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=5)
            kwargs["connect_args"] = {"timeout": 5, "command_timeout": 15}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.lookup_engine = self._lookups(kwargs)
        self._reads: set[asyncio.Future[Any]] = set()  # reads running on after their caller left

    def _lookups(self, kwargs: dict[str, Any]) -> AsyncEngine:
        """For one-statement reads on a call's path (who is calling): no BEGIN and ROLLBACK
        around them, and on PostgreSQL no ping before each (a round trip as long as the read).
        A connection the server dropped fails one read, which the caller survives, and is
        replaced; the engine connects only once a read needs it.

        A SQLite file gets an engine of its own too: every call into the SQLite driver is a hop
        to its thread, and borrowing the store's connections in autocommit added five to the
        read's four (setting and resetting the isolation level, a ROLLBACK)."""
        if self.is_sqlite:
            if make_url(self.url).database in (None, "", ":memory:"):  # one database per connection
                return self.engine.execution_options(isolation_level="AUTOCOMMIT")
            engine = create_async_engine(
                self.url, isolation_level="AUTOCOMMIT", skip_autocommit_rollback=True, **kwargs, **LOOKUP_POOL
            )
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            return engine
        small = {**kwargs, **LOOKUP_POOL, "pool_pre_ping": False, "pool_timeout": 1}
        return create_async_engine(self.url, isolation_level="AUTOCOMMIT", **small)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def read(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``query`` on a connection of the lookup engine, for a read its caller may give up on
        (a timeout): the read runs to its end on its own (shielded), and its connection goes
        back to the pool. Cancelled half-way (opening the connection, or in the driver), the
        connection was neither pooled nor closed: left, with its thread and sqlite3 connection
        or its server login, to a full garbage collection."""
        task = asyncio.ensure_future(self._read(query))
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)
        task.add_done_callback(_settle_read)
        return await asyncio.shield(task)

    async def _read(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self.lookup_engine.connect() as conn:
            return await query(conn)

    @contextmanager
    def unavailable_on_connection_errors(self) -> Iterator[None]:
        """A refused or dropped connection surfaces as ``StoreUnavailable``; SQL errors pass."""
        try:
            yield
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(self.display_url, exc) from None
            raise

    @asynccontextmanager
    async def guarded_session(self) -> AsyncIterator[AsyncSession]:
        """A short session whose connection errors surface as ``StoreUnavailable``."""
        with self.unavailable_on_connection_errors():
            async with self.session() as s:
                yield s

    async def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (a no-op when it is there)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))

        def upgrade(sync_conn: Any) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, "head")

        # Two processes may migrate at once (the service starting while ``ari-app users add``
        # or an import runs): each waits for the other's migration, then finds nothing to do.
        try:
            if self.is_sqlite:
                async with self.engine.connect() as conn:
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, at once
                    try:
                        await conn.run_sync(upgrade)
                    except BaseException:
                        await conn.exec_driver_sql("ROLLBACK")
                        raise
                    await conn.exec_driver_sql("COMMIT")
            else:
                async with self.engine.begin() as conn:
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                    await conn.run_sync(upgrade)
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(self.display_url, exc) from None
            raise

    async def ping(self, timeout: float = 2.0) -> bool:
        return await self.probe(timeout) is None

    async def probe(self, timeout: float = 2.0) -> StoreUnavailable | None:
        """None when the database answers; otherwise why it does not."""
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return StoreUnavailable(self.display_url, exc)
        return None

    async def dispose(self) -> None:
        await asyncio.gather(*self._reads, return_exceptions=True)
        if self.lookup_engine.sync_engine.pool is not self.engine.sync_engine.pool:
            await self.lookup_engine.dispose()
        await self.engine.dispose()


def _settle_read(read: asyncio.Future[Any]) -> None:
    """A read whose caller left: its error is nobody's to report (the caller logged its timeout)."""
    if not read.cancelled():
        read.exception()


def _is_connection_error(exc: BaseException) -> bool:
    """Refused, dropped or timed-out connections (incl. an exhausted pool), and a server that
    will not let us log in (wrong database, user or password), not SQL errors.

    A login the server refuses counts as an outage on purpose: facts wait in the spool until
    the URL or the server is fixed, rather than being set aside as refused one by one.
    """
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    # OSError covers refused sockets and asyncpg's connect timeout (TimeoutError is an OSError).
    if isinstance(exc, (OSError, OperationalError, InterfaceError, PoolTimeout)):
        return True
    state = _sqlstate(exc) or ""
    if _login_refused(state) or state in NOT_NOW or state.startswith("08"):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind ``exc`` (SQLAlchemy wraps asyncpg's error), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            return state
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return None


def outage_reason(exc: BaseException) -> str:
    """Why the database cannot be used, in the driver's words, without SQL or parameters."""
    orig = getattr(exc, "orig", None)
    cause = orig if isinstance(orig, BaseException) else exc
    if isinstance(cause, TimeoutError):
        return "timed out"
    words = str(cause).split("\n", 1)[0].strip()[:200]
    if _sqlstate(exc) is not None and words:
        return words  # the server's message says it all: database "x" does not exist
    return f"{type(cause).__name__}: {words}" if words else type(cause).__name__


def _private_sqlite(path: Path) -> None:
    """Make the database file 0600 before SQLite first opens it: SQLite gives the -wal, -shm and
    -journal files it creates the database file's mode, so they are private too."""
    private_dir(path.parent, tighten=False)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):  # left by a run before files were made private
        tighten_if_present(path.with_name(path.name + suffix))


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    # The wait first: switching a new file to WAL takes a lock another connection may hold (two
    # processes opening a new database at once), and without a busy timeout that fails at once.
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
