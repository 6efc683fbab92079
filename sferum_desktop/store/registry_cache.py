"""The local cache of the «Чаты» registry: the table opens from it at once, then refreshes.

SQLite through SQLAlchemy 2 in the profile's cache folder (`paths.profile_cache_dir`, which
sign-out deletes). The schema is versioned: `schema_version` holds the number of migration
steps applied, `_MIGRATIONS` lists them in order. Personal data is kept to what the registry
shows: chat names and the administrator's name; no birth dates, phones or member lists.
The file is created readable by its owner only (0600).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from sferum_desktop import paths

FILE_NAME: Final = "registry-cache.sqlite3"

# The chat fields kept per row: what the registry table needs (esh-api.md's chat item).
FIELDS: Final = (
    "id",
    "name",
    "type",
    "school_id",
    "class_id",
    "group_id",
    "subject",
    "admin_person_id",
    "admin_name",
    "member_count",
    "linked_member_count",
    "sferum_chat_id",
    "status",
    "version",
)

# Migration steps, applied in order; never edit a released step, append a new one.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE chats (id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,"
        " class_id TEXT, group_id TEXT, subject TEXT, admin_person_id TEXT, admin_name TEXT,"
        " member_count INTEGER NOT NULL DEFAULT 0, linked_member_count INTEGER NOT NULL"
        " DEFAULT 0, sferum_chat_id INTEGER, status TEXT NOT NULL, version INTEGER NOT NULL)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    ("ALTER TABLE chats ADD COLUMN school_id TEXT",),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
# Built from the constant field names above, never from input.
_COLUMNS: Final = ", ".join(FIELDS)
_MARKS: Final = ", ".join(f":{name}" for name in FIELDS)
_UPSERT: Final = f"INSERT OR REPLACE INTO chats ({_COLUMNS}) VALUES ({_MARKS})"  # noqa: S608
_SELECT: Final = f"SELECT {_COLUMNS} FROM chats ORDER BY id"  # noqa: S608


def default_path(profile_key: str) -> Path:
    """The cache file of one server profile (inside the folder sign-out wipes)."""
    return paths.profile_cache_dir(profile_key) / FILE_NAME


class RegistryCache:
    """The registry's chats as last read from ESh, with the class titles to show them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Create the file 0600 before SQLite opens it: never readable by others.
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        os.chmod(path, 0o600)
        self._engine: Engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
        with self._engine.begin() as conn:
            self._migrate(conn)

    def close(self) -> None:
        """Release the database file."""
        self._engine.dispose()

    @staticmethod
    def _migrate(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
        current = conn.execute(text("SELECT version FROM schema_version")).scalar()
        if current is None:
            conn.execute(text("INSERT INTO schema_version (version) VALUES (0)"))
            current = 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"registry cache schema {current} is newer than this program")
        for step in _MIGRATIONS[current:]:
            for statement in step:
                conn.execute(text(statement))
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION})

    @property
    def schema_version(self) -> int:
        """The number of migration steps applied to the file."""
        with self._engine.connect() as conn:
            return int(conn.execute(text("SELECT version FROM schema_version")).scalar_one())

    def save(self, chats: Iterable[Any], class_titles: Mapping[str, str] | None = None) -> None:
        """Replace the cached registry with these chats (API models or mappings)."""
        rows = [_row(chat) for chat in chats]
        with self._engine.begin() as conn:
            conn.execute(text("DELETE FROM chats"))
            if rows:
                conn.execute(text(_UPSERT), rows)
            if class_titles is not None:
                conn.execute(
                    text("INSERT OR REPLACE INTO meta (key, value) VALUES ('classes', :v)"),
                    {"v": json.dumps(dict(class_titles), ensure_ascii=False)},
                )

    def upsert(self, chat: Any) -> None:
        """Store one created or edited chat."""
        with self._engine.begin() as conn:
            conn.execute(text(_UPSERT), _row(chat))

    def remove(self, chat_ids: Sequence[int]) -> None:
        """Forget deleted chats."""
        with self._engine.begin() as conn:
            for chat_id in chat_ids:
                conn.execute(text("DELETE FROM chats WHERE id = :id"), {"id": chat_id})

    def load(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The cached chats in ESh's order (by id) and the class titles by class id."""
        with self._engine.connect() as conn:
            result = conn.execute(text(_SELECT))
            chats = [dict(row._mapping) for row in result]
            raw = conn.execute(text("SELECT value FROM meta WHERE key = 'classes'")).scalar()
        return chats, (json.loads(raw) if raw else {})


def _row(chat: Any) -> dict[str, Any]:
    if isinstance(chat, Mapping):
        return {name: chat.get(name) for name in FIELDS}
    return {name: getattr(chat, name, None) for name in FIELDS}
