"""The sandbox's SQLite file: open it, read its meta, create and populate it atomically."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, insert, select
from sqlalchemy.exc import DatabaseError

from sferum_desktop.sandbox import models as m

log = logging.getLogger("sferum_desktop.sandbox.db")

DB_NAME = "sandbox.sqlite3"
DATASETS = ("demo", "school", "district")


def open_engine(path: Path, *, bulk: bool = False) -> Engine:
    """A SQLAlchemy engine on `path`: WAL, a busy timeout, usable from the server's threads.

    `bulk` trades durability for speed while a fresh file is populated (it is renamed into
    place only once complete, so a crash there loses nothing).
    """
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={'OFF' if bulk else 'NORMAL'}")
        cursor.close()

    return engine


def read_meta(engine: Engine) -> dict[str, Any]:
    """Every `sandbox_meta` key; empty when the file has no sandbox schema."""
    try:
        with engine.connect() as conn:
            return {row.key: row.value for row in conn.execute(select(m.meta))}
    except DatabaseError:
        return {}


def write_meta(engine: Engine, key: str, value: Any) -> None:
    """Store one `sandbox_meta` key (replacing its old value)."""
    with engine.begin() as conn:
        conn.execute(delete(m.meta).where(m.meta.c.key == key))
        conn.execute(insert(m.meta).values(key=key, value=value))


def matches(meta: dict[str, Any], dataset: str, seed: int) -> bool:
    """Whether a database holds `dataset` for `seed` in the current schema."""
    return (
        meta.get("dataset") == dataset
        and meta.get("seed") == seed
        and meta.get("schema_version") == m.SCHEMA_VERSION
    )


def _remove(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        name.unlink(missing_ok=True)


def create_database(path: Path, dataset: str, seed: int) -> Engine:
    """Build `dataset` for `seed` in a new file that replaces `path` once complete."""
    from sferum_desktop.sandbox.datasets import populate  # heavy; only when building

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    _remove(building)
    engine = open_engine(building, bulk=True)
    try:
        m.metadata.create_all(engine)
        populate(engine, dataset, seed)
    finally:
        engine.dispose()  # the last connection to close checkpoints the WAL into the file
    _remove(path)
    os.replace(building, path)
    _remove(building)
    log.info("built dataset %s (seed %s) in %.2f s", dataset, seed, time.perf_counter() - started)
    return open_engine(path)


def open_or_create(path: Path, dataset: str, seed: int) -> Engine:
    """The database at `path` if it holds `dataset`/`seed`, else a freshly built one."""
    if path.exists():
        engine = open_engine(path)
        if matches(read_meta(engine), dataset, seed):
            return engine
        engine.dispose()
        log.info("%s holds another dataset or schema; rebuilding it", path)
    return create_database(path, dataset, seed)
