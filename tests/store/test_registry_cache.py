"""The registry cache: schema versions and migrations, 0600, round trip, wiped with the folder."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from sferum_desktop.store.registry_cache import SCHEMA_VERSION, RegistryCache, default_path

CHAT = {
    "id": 7,
    "name": "1А - Русский язык",
    "type": "subject",
    "class_id": "c1",
    "group_id": "g1",
    "subject": "Русский язык",
    "admin_person_id": "p1",
    "admin_name": "Павлова Ирина Сергеевна",
    "member_count": 4,
    "linked_member_count": 1,
    "status": "active",
    "version": 3,
    "birth_date": "2015-01-01",
}


def test_round_trip_mode_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "profile" / "cache.sqlite3"
    cache = RegistryCache(path)
    cache.save([CHAT], {"c1": "1А"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cache.schema_version == SCHEMA_VERSION
    chats, titles = cache.load()
    assert titles == {"c1": "1А"}
    assert chats[0]["name"] == "1А - Русский язык" and chats[0]["version"] == 3
    assert "birth_date" not in chats[0]
    cache.upsert({**CHAT, "version": 4, "name": "x"})
    cache.upsert({**CHAT, "id": 8})
    assert [c["version"] for c in cache.load()[0]] == [4, 3]
    cache.remove([7])
    assert [c["id"] for c in cache.load()[0]] == [8]
    cache.close()


def test_migrates_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # a file made by the first schema version
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "CREATE TABLE chats (id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,"
            " class_id TEXT, group_id TEXT, subject TEXT, admin_person_id TEXT, admin_name TEXT,"
            " member_count INTEGER NOT NULL DEFAULT 0, linked_member_count INTEGER NOT NULL"
            " DEFAULT 0, sferum_chat_id INTEGER, status TEXT NOT NULL, version INTEGER NOT NULL)"
        )
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute(
            "INSERT INTO chats (id, name, type, status, version)"
            " VALUES (1, 'a', 'custom', 'active', 1)"
        )
    conn.close()
    cache = RegistryCache(path)
    assert cache.schema_version == SCHEMA_VERSION
    chats, _ = cache.load()
    assert chats[0]["school_id"] is None and chats[0]["name"] == "a"
    cache.close()


def test_lives_in_the_profile_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from sferum_desktop import paths

    path = default_path("demo")
    assert path.parent == paths.profile_cache_dir("demo")
