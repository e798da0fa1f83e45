"""Engines and transactions for the metadata DB (SQLite embedded, PostgreSQL in production).

SQLite runs in WAL mode with one writer at a time (``BEGIN IMMEDIATE``);
PostgreSQL pools connections, and bounds every statement and every lock wait
per connection (``statement_timeout``, ``lock_timeout``), so a stuck query or a
held lock becomes an error instead of a request that waits for ever. A lost
connection, a timeout or any other failure of the database driver surfaces as
``Unavailable``. Bound parameters never appear in an error's text
(``hide_parameters``): they may be identifiers of a person.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from vault.errors import SchemaNotCurrent, Unavailable, VaultError
from vault.spans import DB, span

#: driver failures that mean "the database cannot serve this now", not a bug in the request
DB_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.InternalError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
)


#: SQLSTATEs of PostgreSQL for a table or a column the statement names but the schema lacks
_UNDEFINED = frozenset({"42P01", "42703"})  # undefined_table, undefined_column
#: SQLite's words for the same
_SQLITE_UNDEFINED = ("no such table", "no such column", "has no column named")


def schema_missing(exc: BaseException) -> bool:
    """A driver error saying the schema lacks a table or column: ``db upgrade`` not run."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _UNDEFINED:
        return True
    return isinstance(exc, sa_exc.OperationalError) and any(
        words in str(exc.orig) for words in _SQLITE_UNDEFINED
    )


def database_error(exc: BaseException) -> VaultError | None:
    """The error a driver failure means to recvault's callers, or None for a bug of ours.

    A schema without recvault's tables is ``SchemaNotCurrent``; a database that cannot
    serve now (``DB_UNAVAILABLE``) is ``Unavailable``. Neither message quotes the
    driver's text, which holds SQL.
    """
    if schema_missing(exc):
        return SchemaNotCurrent()
    if isinstance(exc, DB_UNAVAILABLE):
        return Unavailable("metadata database unavailable")
    return None


def make_engine(
    url: str, *, statement_timeout: float = 0, lock_timeout: float = 0, connect_timeout: float = 5
) -> Engine:
    """An engine with the pragmas, pool settings and timeouts recvault relies on.

    Timeouts are seconds; 0 leaves the server's default (none). They apply to
    PostgreSQL; SQLite waits for its single writer with ``busy_timeout``.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_pre_ping=True,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let BEGIN below be ours
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        # Writers of this process queue on a lock before BEGIN IMMEDIATE: SQLite's busy
        # handler polls with sleeps of up to 100 ms and is unfair, which gave writers
        # under load a p99 of 10-30x their p50 (docs/benchmarks.md, P10). Other
        # processes are still waited for by busy_timeout.
        _WRITERS[engine] = threading.RLock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the lock at BEGIN (no failed upgrade from read to write);
            # read-only transactions (``read_scope``) read a WAL snapshot beside them.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if connect_timeout and "connect_timeout" not in url:
        connect_args["connect_timeout"] = max(1, round(connect_timeout))
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=10,
        hide_parameters=True,
        connect_args=connect_args,
    )
    settings = [
        (name, round(seconds * 1000))
        for name, seconds in (
            ("statement_timeout", statement_timeout),
            ("lock_timeout", lock_timeout),
        )
        if seconds > 0
    ]
    if settings and engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _pg_timeouts(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for name, millis in settings:
                # set_config, not SET: it takes the value as a bound parameter
                cur.execute("SELECT set_config(%s, %s, false)", (name, f"{millis}ms"))
            cur.close()
            dbapi_conn.commit()

    return engine


#: seconds a SQLite writer waits for the others (busy_timeout waits as long)
SQLITE_WRITER_WAIT = 60.0
#: the in-process writer lock of each SQLite engine (``make_engine``)
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()

#: execution option marking a transaction that only reads (``read_scope``)
READ_ONLY = "recvault_read_only"


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it does not wait for the writer.

    Anything it writes is an error on SQLite (the snapshot cannot be upgraded
    while another transaction writes): use ``session_scope`` for writes.
    """
    with session_scope(engine.execution_options(**{READ_ONLY: True})) as session:
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    writer = None
    if not engine.get_execution_options().get(READ_ONLY, False):
        writer = _WRITERS.get(getattr(engine, "engine", engine))
    if writer is None:
        with _transaction(engine) as session:
            yield session
        return
    if not writer.acquire(timeout=SQLITE_WRITER_WAIT):  # as long as busy_timeout waits
        raise Unavailable("metadata database busy")
    try:
        with _transaction(engine) as session:
            yield session
    finally:
        writer.release()


@contextmanager
def _transaction(engine: Engine) -> Iterator[Session]:
    try:
        with span(DB), Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
        error = database_error(exc)
        if error is None:
            raise
        raise error from exc
