"""Where conversation threads live: a SQLite file (the default) or PostgreSQL, for several
agent replicas on one database (``CORECOVER_CHECKPOINT_URL=postgresql://user:pass@host/db``).

Both are LangGraph's own checkpointers (``langgraph-checkpoint-sqlite``, and
``langgraph-checkpoint-postgres`` on a psycopg connection pool: ``pip install 'corecover[postgres]'``).
A database that cannot be reached, at start or in the middle of a request, is a
``StoreUnavailable`` whose message names the URL with its password masked; the server answers
it with 503 and ``Retry-After``.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("corecover.store")

SETUP_LOCK = 0x636F7265   # advisory lock key: replicas starting together create the tables once
CONNECT_TIMEOUT = 10      # seconds to reach the database at start before giving up
CHECKOUT_TIMEOUT = 5      # seconds a request waits for a connection (then 503, Retry-After)


class StoreUnavailable(RuntimeError):
    """The thread database cannot be reached or failed; nothing of the turn was written."""


class ThreadNotFound(LookupError):
    """No such thread for this user (another user's thread is answered the same way)."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"no thread {thread_id!r}")
        self.thread_id = thread_id


def is_postgres(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("postgres", "postgresql")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (safe for logs and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def store_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "the database failed" (psycopg's only when it is loaded)."""
    errors: list[type[BaseException]] = [sqlite3.OperationalError, sqlite3.DatabaseError]
    psycopg, pool = sys.modules.get("psycopg"), sys.modules.get("psycopg_pool")  # never imported for SQLite
    if psycopg is not None:
        errors += [psycopg.OperationalError, psycopg.InterfaceError]
    if pool is not None:
        errors.append(pool.PoolTimeout)
    return tuple(errors)


def unavailable(exc: BaseException, where: str) -> StoreUnavailable:
    """A one-line ``StoreUnavailable`` for a database error (first line of the driver's message)."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreUnavailable(f"the thread database {where} is unavailable: {reason}")


@asynccontextmanager
async def open_saver(url: str | None, sqlite_path: Path, pool_size: int = 8) -> AsyncIterator[Any]:
    """A ready LangGraph checkpointer: Postgres when ``url`` is a postgresql:// URL, else SQLite."""
    if is_postgres(url):
        async with _postgres(url, pool_size) as saver:
            yield saver
        return
    if url:
        raise ValueError(f"CORECOVER_CHECKPOINT_URL must be a postgresql:// URL, not {mask_url(url)!r} "
                         "(leave it unset for SQLite at CORECOVER_CHECKPOINT_DB)")
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(str(sqlite_path))
    except sqlite3.Error as exc:
        raise unavailable(exc, str(sqlite_path)) from exc
    try:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()


@asynccontextmanager
async def _postgres(url: str, pool_size: int) -> AsyncIterator[Any]:
    try:
        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError as exc:
        raise StoreUnavailable(f"{mask_url(url)} needs the Postgres checkpointer: "
                               "pip install 'corecover[postgres]'") from exc
    where = mask_url(url)
    try:  # one direct connection first: its error says why (refused, auth, no such database)
        probe = await psycopg.AsyncConnection.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
    except psycopg.Error as exc:
        raise unavailable(exc, where) from exc
    # LangGraph's saver needs autocommit and dict rows; prepare_threshold=0 keeps it safe behind
    # transaction-mode poolers (PgBouncer); check= replaces connections a restarted server dropped
    pool = AsyncConnectionPool(url, min_size=1, max_size=max(2, pool_size), open=False,
                               timeout=CHECKOUT_TIMEOUT, name="corecover-threads",
                               check=AsyncConnectionPool.check_connection,
                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    try:
        async with probe:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            saver = AsyncPostgresSaver(pool)
            await _lock(probe)
            try:
                await saver.setup()
            finally:
                await probe.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
    except store_errors() as exc:
        await pool.close()
        raise unavailable(exc, where) from exc
    log.info("threads in PostgreSQL at %s", where)
    try:
        yield saver
    finally:
        await pool.close()


async def _lock(conn: Any, timeout: float = 300) -> None:
    """Take the set-up lock, polling: a replica blocked in ``pg_advisory_lock`` would hold a
    transaction open, which the other's ``CREATE INDEX CONCURRENTLY`` waits for (a deadlock)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not (await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK,))).fetchone())[0]:
        if asyncio.get_running_loop().time() > deadline:
            raise StoreUnavailable(f"another replica has been creating the thread tables for {timeout:.0f} s")
        await asyncio.sleep(0.2)
