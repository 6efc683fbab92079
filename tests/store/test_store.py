"""The sync's local store: a private file, versioned schema, the journal, the audit log, the
roster cache, and the run lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from sferum_desktop.store import (
    SCHEMA_VERSION,
    AuditEntry,
    JournalState,
    LinkRow,
    LockBusy,
    NewJournalEntry,
    Outcome,
    RosterEventRow,
    RunLock,
    Store,
    StoreError,
    file_modes,
)
from sferum_desktop.store.db import migrate, schema_version
from sferum_desktop.store.schema import metadata


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data" / "sync" / "store.sqlite3")
    yield opened
    opened.close()


def entry(op_id: str, kind: str = "add_sferum_member", chat: str = "s/class/c1") -> NewJournalEntry:
    return NewJournalEntry(op_id, kind, chat, {"op": kind, "n": op_id})


def test_the_file_is_private_to_its_owner(store: Store) -> None:
    store.set_meta({"k": "v"})  # make SQLite write its WAL
    modes = file_modes(store.path)
    assert set(modes) >= {store.path.name, store.path.name + "-wal"}
    assert all(mode == 0o600 for mode in modes.values()), modes
    assert store.path.parent.stat().st_mode & 0o777 == 0o700


def test_the_schema_is_migrated_once_and_matches_the_table_objects(store: Store) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        for table in metadata.sorted_tables:
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table.name})")}
            assert columns == {c.name for c in table.columns}, table.name
    store.close()
    again = Store.open(store.path)  # reopening migrates nothing
    with closing(sqlite3.connect(again.path)) as db:
        assert db.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
    again.close()


def test_the_migration_runner_applies_what_is_missing_atomically(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    steps = [(1, ["CREATE TABLE a (x INTEGER)"]), (2, ["CREATE TABLE b (y INTEGER)"])]
    with engine.begin() as conn:
        assert migrate(conn, steps[:1]) == 1
    with engine.begin() as conn:
        assert migrate(conn, steps) == 2
        assert schema_version(conn) == 2
    broken = [*steps, (3, ["CREATE TABLE c (z INTEGER)", "NOT SQL"])]
    with pytest.raises(Exception), engine.begin() as conn:  # noqa: B017
        conn.exec_driver_sql("BEGIN")
        migrate(conn, broken)
    with engine.begin() as conn:
        assert schema_version(conn) == 2
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
        assert "c" not in tables
    engine.dispose()


def test_a_store_from_a_newer_program_is_refused(store: Store) -> None:
    store.close()
    with closing(sqlite3.connect(store.path)) as db:
        db.execute("INSERT INTO schema_version VALUES (99)")
        db.commit()
    with pytest.raises(StoreError) as caught:
        Store.open(store.path)
    assert "новой версией" in caught.value.user_message


def test_the_journal_lifecycle(store: Store) -> None:
    crashed = store.start_run("sync", "sync")
    ids = store.journal_add(crashed, [entry("a"), entry("b"), entry("c", "create_sferum_chat")])
    assert [e.state for e in store.journal(run_id=crashed)] == [JournalState.PENDING] * 3
    store.journal_mark_sent(ids[1:])
    store.journal_set_result(ids[2], {"sferum_chat_id": 41})
    store.journal_update(
        [Outcome(ids[1], JournalState.DONE)],
        [AuditEntry("add_sferum_member", "linked", "sync", person_id="p1", vk_user_id=7)],
        crashed,
    )
    current = store.start_run("sync", "sync")
    assert store.interrupt_stale_runs(current) == 1
    left = store.journal_open(exclude_run=current)
    assert [(e.op_id, e.state, e.attempts) for e in left] == [
        ("a", JournalState.PENDING, 0),
        ("c", JournalState.SENT, 1),
    ]
    assert left[1].result == {"sferum_chat_id": 41}
    assert left[1].payload == {"op": "create_sferum_chat", "n": "c"}
    store.journal_update([Outcome(ids[0], JournalState.FAILED, error_code="x", error="why")])
    assert store.journal_counts(crashed) == {"done": 1, "failed": 1, "sent": 1}
    assert [e.op_id for e in store.journal(op_id="c")] == ["c"]
    assert store.runs()[1].status == "interrupted"
    audit = store.audit()
    assert audit[0].run_id == crashed and audit[0].vk_user_id == 7
    # Closed entries are pruned after a while; open ones never.
    assert store.prune_journal(datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert [e.op_id for e in store.journal()] == ["c"]


def test_audit_filters(store: Store) -> None:
    run = store.start_run("sync", "sync")
    enrolled = AuditEntry(
        "add_registry_member",
        "enrolled",
        "sync",
        chat_key="s/class/c1",
        chat_name="1 А",
        person_id="p1",
        person_name="Иванов Иван",
        event={"kind": "enrolled", "person_id": "p1"},
        at="2026-11-01T10:00:00+00:00",
    )
    blocked = AuditEntry(
        "remove_sferum_member",
        "blocked",
        "user:u1",
        chat_key="s/class/c2",
        chat_name="2 А",
        person_id="p2",
        person_name="Петров Пётр",
        at="2026-11-02T10:00:00+00:00",
    )
    store.audit_add([enrolled, blocked], run)
    assert [a.person_id for a in store.audit()] == ["p2", "p1"]
    assert [a.person_id for a in store.audit(newest_first=False)] == ["p1", "p2"]
    assert [a.person_id for a in store.audit(chat_key="s/class/c1")] == ["p1"]
    assert [a.person_id for a in store.audit(actions=["remove_sferum_member"])] == ["p2"]
    assert [a.person_id for a in store.audit(reasons=["enrolled"])] == ["p1"]
    assert [a.person_id for a in store.audit(text="Петров")] == ["p2"]
    since = datetime(2026, 11, 2, tzinfo=UTC)
    assert [a.person_id for a in store.audit(since=since)] == ["p2"]
    assert [a.person_id for a in store.audit(until=since)] == ["p1"]
    assert store.audit(person_id="p1")[0].event == {"kind": "enrolled", "person_id": "p1"}
    assert len(store.audit(limit=1)) == 1 and store.audit(limit=1, offset=1)[0].person_id == "p1"


def test_the_roster_cache(store: Store) -> None:
    assert store.load_roster().empty
    store.save_roster(
        replace=True,
        upserts={"users": {"u1": '{"a":1}', "u2": '{"a":2}'}, "orgs": {"o1": "{}"}},
        links=[LinkRow("u1", 7, "linked", "2026-11-01T00:00:00+00:00")],
        cursors={"roster:users": "2026-11-01T00:00:00+00:00", "links": "x"},
    )
    store.save_roster(
        replace=False,
        upserts={"users": {"u1": '{"a":3}', "u3": "{}"}},
        deletes={"users": ["u2"]},
        links=[LinkRow("u1", 7, "unlinked", None), LinkRow("u3", 8, "linked", None)],
        cursors={"links": "y"},
        events=[RosterEventRow("expelled", "u2", {"kind": "expelled"}, person_name="Б")],
    )
    data = store.load_roster()
    assert data.records == {"users": {"u1": '{"a":3}', "u3": "{}"}, "orgs": {"o1": "{}"}}
    assert {link.person_id: link.status for link in data.links} == {
        "u1": "unlinked",
        "u3": "linked",
    }
    assert data.cursors == {"roster:users": "2026-11-01T00:00:00+00:00", "links": "y"}
    assert [(e.kind, e.person_name) for e in store.roster_events()] == [("expelled", "Б")]
    store.clear_roster()
    assert store.load_roster().empty
    store.set_meta({"a": "1"})
    store.set_meta({"a": None, "b": "2"})
    assert (store.get_meta("a"), store.get_meta("b")) == (None, "2")


def test_the_run_lock_is_exclusive_and_dies_with_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "sync.lock"
    lock = RunLock(path)
    lock.acquire()
    with pytest.raises(LockBusy):
        RunLock(path).acquire(timeout=0.2, poll=0.05)
    lock.release()
    with RunLock(path):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from sferum_desktop.store import RunLock;"
            f"RunLock(Path({str(path)!r})).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy):
            RunLock(path).acquire()
        holder.kill()  # SIGKILL: the system drops its lock
        holder.wait()
        started = time.monotonic()
        RunLock(path).acquire(timeout=5)
        assert time.monotonic() - started < 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert os.path.exists(path)
