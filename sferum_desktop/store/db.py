"""The SQLite file behind the store: created private (0600), WAL, versioned by migrations.

The schema is versioned in a `schema_version` table; `MIGRATIONS` lists, per version, the DDL
that brings the previous version to it. Opening a store applies the missing migrations in one
transaction (SQLite's DDL is transactional), so a store is either at the old version or at the
new one, never between; a store written by a newer program is refused rather than guessed at.

Transactions begin `IMMEDIATE` (the write lock is taken at `BEGIN`): the sync journal must be
on disk before the call it describes is sent, and a deferred transaction could fail to upgrade
to a writer half-way. `synchronous=FULL` makes a committed journal entry survive a power cut,
not only a killed process.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger("sferum_desktop.store.db")

# version -> the statements that bring version - 1 to it.
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            """CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
            # The roster as last synced: OneRoster records as JSON (only the fields the rules
            # need: no e-mail, username, phone or birth date), one row per record.
            """CREATE TABLE roster_records (
                collection TEXT NOT NULL,
                sourced_id TEXT NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (collection, sourced_id)
            ) WITHOUT ROWID""",
            """CREATE TABLE links (
                person_id TEXT PRIMARY KEY,
                vk_user_id INTEGER,
                status TEXT NOT NULL,
                updated_at TEXT
            )""",
            # Where the next delta starts: one per roster collection, and `links`.
            """CREATE TABLE cursors (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                actor TEXT NOT NULL,
                status TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                summary TEXT
            )""",
            """CREATE TABLE journal (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs (id),
                op_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                chat_key TEXT NOT NULL,
                payload TEXT NOT NULL,
                state TEXT NOT NULL
                    CHECK (state IN ('pending', 'sent', 'done', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                result TEXT,
                error_code TEXT,
                error TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX journal_open ON journal (state) WHERE state IN ('pending', 'sent')",
            "CREATE INDEX journal_op ON journal (op_id)",
            "CREATE INDEX journal_run ON journal (run_id)",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                run_id INTEGER REFERENCES runs (id),
                action TEXT NOT NULL,
                school_id TEXT,
                chat_key TEXT,
                chat_name TEXT,
                chat_id INTEGER,
                sferum_chat_id INTEGER,
                person_id TEXT,
                person_name TEXT,
                vk_user_id INTEGER,
                reason TEXT NOT NULL,
                event TEXT,
                actor TEXT NOT NULL,
                details TEXT
            )""",
            "CREATE INDEX audit_at ON audit (at)",
            "CREATE INDEX audit_chat ON audit (chat_key)",
            "CREATE INDEX audit_person ON audit (person_id)",
            """CREATE TABLE roster_events (
                id INTEGER PRIMARY KEY,
                run_id INTEGER REFERENCES runs (id),
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                person_id TEXT NOT NULL,
                person_name TEXT,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX roster_events_at ON roster_events (at)",
        ),
    ),
)
SCHEMA_VERSION: Final = MIGRATIONS[-1][0]


class StoreError(Exception):
    """The store cannot be used (a newer schema, a broken file); `user_message` is Russian."""

    def __init__(self, user_message: str, reason: str) -> None:
        self.user_message = user_message
        super().__init__(reason)


def _private_file(path: Path) -> None:
    """Create the file (and its folder) readable by its owner only, before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    _chmod_private(path)


def _chmod_private(path: Path) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            path.chmod(0o600)
    except FileNotFoundError:
        pass


def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    # pysqlite's own transaction handling would skip BEGIN before DDL; SQLAlchemy's
    # `begin` event below emits it instead (the recipe of SQLAlchemy's SQLite notes).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_store_engine(path: Path) -> Engine:
    """A SQLAlchemy engine on a private SQLite file at `path`, migrated to `SCHEMA_VERSION`."""
    _private_file(path)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    try:
        with engine.begin() as conn:
            migrate(conn)
    except BaseException:
        engine.dispose()
        raise
    # SQLite gives the -wal and -shm files the database file's mode; make sure of it.
    for suffix in ("-wal", "-shm"):
        _chmod_private(path.with_name(path.name + suffix))
    return engine


def schema_version(conn: Connection) -> int:
    """The version the store's schema is at (0: empty)."""
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    found = conn.exec_driver_sql("SELECT max(version) FROM schema_version").scalar()
    return int(found or 0)


def migrate(
    conn: Connection,
    migrations: Sequence[tuple[int, Sequence[str]]] = MIGRATIONS,
) -> int:
    """Apply the migrations newer than the store's version, in the caller's transaction."""
    current = schema_version(conn)
    latest = migrations[-1][0] if migrations else 0
    if current > latest:
        raise StoreError(
            "Локальная база синхронизации создана более новой версией программы. "
            "Обновите Sferum Desktop.",
            f"schema version {current} is newer than this program's {latest}",
        )
    for version, statements in migrations:
        if version <= current:
            continue
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO schema_version (version) VALUES (?)", (version,))
        log.info("store schema migrated to version %d", version)
        current = version
    return current


def file_modes(path: Path) -> dict[str, int]:
    """The permission bits of the store's files that exist (for checks and tests)."""
    modes: dict[str, Any] = {}
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            modes[candidate.name] = stat.S_IMODE(candidate.stat().st_mode)
    return modes
