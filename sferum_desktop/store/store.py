"""The local store of the automatic sync: the roster as last synced, the journal, the audit log.

- **Roster cache** — the OneRoster records (as JSON, only the fields the rules need), the ESh
  links and the delta cursors (one per roster collection, and `links`), so that a sync
  fetches only what changed since the last one. It is the *baseline* the roster events of the
  next sync are derived from.
- **Journal** — every operation of a plan, written before it is sent (`pending`), marked
  `sent` just before its request goes out, and `done` or `failed` when the answer is in, with
  its `op_id`, payload and result (the id of a chat it made). A restart finds what a crashed
  run left `pending` or `sent` and resumes from there.
- **Audit log** — every change made: when, what, which chat, who, and why (the operation's
  reason and the roster event behind it), and the roster events themselves.

Blocking SQLite calls: the async sync engine runs them in a worker thread. Secrets (tokens)
are never given to the store, and no personal data beyond names (no birth dates, phones or
e-mail addresses).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from sferum_desktop import paths
from sferum_desktop.store import schema as t
from sferum_desktop.store.db import create_store_engine

log = logging.getLogger("sferum_desktop.store")

_CHUNK: Final = 500  # rows per IN (...) list


def default_store_path(profile_key: str) -> Path:
    """The store of one server profile, in the user's data folder."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile_key)
    return paths.data_dir() / "sync" / f"{safe}.sqlite3"


def utcnow() -> str:
    """Now, as the store writes moments: ISO 8601 UTC with microseconds."""
    return datetime.now(UTC).isoformat()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- rows -----------------------------------------------------------------------------------


class JournalState(StrEnum):
    PENDING = "pending"  # planned, not sent yet
    SENT = "sent"  # its request went out (or is about to): it may have taken effect
    DONE = "done"  # the server confirmed it (or a restart found its end reached)
    FAILED = "failed"  # refused, given up, interrupted or cancelled (`error_code` says which)


OPEN_STATES: Final = (JournalState.PENDING, JournalState.SENT)


@dataclass(frozen=True, slots=True)
class NewJournalEntry:
    """An operation about to be journaled: its stable id, kind, chat and JSON payload."""

    op_id: str
    kind: str
    chat_key: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    run_id: int
    op_id: str
    kind: str
    chat_key: str
    payload: dict[str, Any]
    state: JournalState
    attempts: int
    result: dict[str, Any] | None
    error_code: str | None
    error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A journal entry's new state (with a result or an error)."""

    entry_id: int
    state: JournalState
    result: Mapping[str, Any] | None = None
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change in the audit log: what was done, to which chat and whom, and why."""

    action: str  # the operation kind: add_sferum_member, create_registry_chat, ...
    reason: str  # domain.Reason value: enrolled, expelled, linked, rule, manual, ...
    actor: str  # "sync" (the automatic mode) or "user:<person id>" (applied from the app)
    school_id: str | None = None
    chat_key: str | None = None
    chat_name: str | None = None
    chat_id: int | None = None
    sferum_chat_id: int | None = None
    person_id: str | None = None
    person_name: str | None = None
    vk_user_id: int | None = None
    event: Mapping[str, Any] | None = None  # the roster event behind it, when there is one
    details: Mapping[str, Any] | None = None
    run_id: int | None = None
    at: str = field(default_factory=utcnow)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RosterEventRow:
    """A roster event as the audit log keeps it."""

    kind: str
    person_id: str
    data: Mapping[str, Any]
    person_name: str | None = None
    run_id: int | None = None
    at: str = field(default_factory=utcnow)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class LinkRow:
    person_id: str
    vk_user_id: int | None
    status: str
    updated_at: str | None


@dataclass(frozen=True, slots=True)
class RosterData:
    """The cached roster: JSON records by collection and id, the links, the cursors."""

    records: dict[str, dict[str, str]]
    links: list[LinkRow]
    cursors: dict[str, str]

    @property
    def empty(self) -> bool:
        return not self.records and not self.cursors


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    kind: str
    actor: str
    status: str
    started_at: str
    finished_at: str | None
    summary: dict[str, Any] | None


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        run_id=row.run_id,
        op_id=row.op_id,
        kind=row.kind,
        chat_key=row.chat_key,
        payload=json.loads(row.payload),
        state=JournalState(row.state),
        attempts=row.attempts,
        result=_loads(row.result),
        error_code=row.error_code,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _audit_values(entry: AuditEntry, run_id: int | None) -> dict[str, Any]:
    return {
        "at": entry.at,
        "run_id": entry.run_id if entry.run_id is not None else run_id,
        "action": entry.action,
        "school_id": entry.school_id,
        "chat_key": entry.chat_key,
        "chat_name": entry.chat_name,
        "chat_id": entry.chat_id,
        "sferum_chat_id": entry.sferum_chat_id,
        "person_id": entry.person_id,
        "person_name": entry.person_name,
        "vk_user_id": entry.vk_user_id,
        "reason": entry.reason,
        "event": _dumps(dict(entry.event)) if entry.event is not None else None,
        "actor": entry.actor,
        "details": _dumps(dict(entry.details)) if entry.details is not None else None,
    }


def _audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        run_id=row.run_id,
        action=row.action,
        school_id=row.school_id,
        chat_key=row.chat_key,
        chat_name=row.chat_name,
        chat_id=row.chat_id,
        sferum_chat_id=row.sferum_chat_id,
        person_id=row.person_id,
        person_name=row.person_name,
        vk_user_id=row.vk_user_id,
        reason=row.reason,
        event=_loads(row.event),
        actor=row.actor,
        details=_loads(row.details),
    )


# --- the store ------------------------------------------------------------------------------


class Store:
    """The sync's SQLite store at `path`; open with `Store.open(path)`, close with `close()`."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self._engine = engine
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating and migrating as needed) the store file, private to its owner."""
        return cls(create_store_engine(path), path)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path.name!r})"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            yield conn

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._tx() as conn:
            value: str | None = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == key)
            ).scalar()
            return value

    def set_meta(self, values: Mapping[str, str | None]) -> None:
        """Set (None: delete) metadata entries."""
        with self._tx() as conn:
            for key, value in values.items():
                if value is None:
                    conn.execute(delete(t.meta).where(t.meta.c.key == key))
                else:
                    conn.execute(
                        insert(t.meta).prefix_with("OR REPLACE").values(key=key, value=value)
                    )

    # --- roster cache -----------------------------------------------------------------------

    def load_roster(self) -> RosterData:
        """The roster as last synced (empty when there is none)."""
        with self._tx() as conn:
            records: dict[str, dict[str, str]] = {}
            for collection, sourced_id, data in conn.execute(
                select(
                    t.roster_records.c.collection,
                    t.roster_records.c.sourced_id,
                    t.roster_records.c.data,
                )
            ):
                records.setdefault(collection, {})[sourced_id] = data
            links = [
                LinkRow(r.person_id, r.vk_user_id, r.status, r.updated_at)
                for r in conn.execute(select(t.links))
            ]
            cursors = {r.name: r.value for r in conn.execute(select(t.cursors))}
        return RosterData(records, links, cursors)

    def save_roster(
        self,
        *,
        replace: bool,
        upserts: Mapping[str, Mapping[str, str]],
        deletes: Mapping[str, Iterable[str]] | None = None,
        links: Sequence[LinkRow] = (),
        cursors: Mapping[str, str] | None = None,
        events: Sequence[RosterEventRow] = (),
        run_id: int | None = None,
    ) -> None:
        """Make this the roster as last synced, in one transaction.

        `replace=True` drops the cached roster first (a full fetch); otherwise `upserts`
        and `deletes` (tombstones) patch it (a delta). Links are upserted by person, cursors
        replaced by name; `events` (the roster events this baseline brings) are logged.
        """
        rr = t.roster_records
        with self._tx() as conn:
            if replace:
                conn.execute(delete(rr))
                conn.execute(delete(t.links))
                conn.execute(delete(t.cursors))
            rows = [
                {"collection": collection, "sourced_id": sid, "data": data}
                for collection, items in upserts.items()
                for sid, data in items.items()
            ]
            if rows:
                conn.execute(insert(rr).prefix_with("OR REPLACE"), rows)
            for collection, ids in (deletes or {}).items():
                for part in _chunks(list(ids)):
                    conn.execute(
                        delete(rr).where(rr.c.collection == collection, rr.c.sourced_id.in_(part))
                    )
            if links:
                conn.execute(
                    insert(t.links).prefix_with("OR REPLACE"),
                    [
                        {
                            "person_id": link.person_id,
                            "vk_user_id": link.vk_user_id,
                            "status": link.status,
                            "updated_at": link.updated_at,
                        }
                        for link in links
                    ],
                )
            if cursors:
                conn.execute(
                    insert(t.cursors).prefix_with("OR REPLACE"),
                    [{"name": n, "value": v} for n, v in cursors.items()],
                )
            if events:
                conn.execute(
                    insert(t.roster_events),
                    [
                        {
                            "run_id": e.run_id if e.run_id is not None else run_id,
                            "at": e.at,
                            "kind": e.kind,
                            "person_id": e.person_id,
                            "person_name": e.person_name,
                            "data": _dumps(dict(e.data)),
                        }
                        for e in events
                    ],
                )

    def clear_roster(self) -> None:
        """Forget the cached roster (the next sync fetches everything)."""
        self.save_roster(replace=True, upserts={})

    # --- runs -------------------------------------------------------------------------------

    def start_run(self, kind: str, actor: str) -> int:
        with self._tx() as conn:
            result = conn.execute(
                insert(t.runs).values(kind=kind, actor=actor, status="running", started_at=utcnow())
            )
            run_id = result.inserted_primary_key
            assert run_id is not None
            return int(run_id[0])

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any] | None) -> None:
        with self._tx() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    summary=_dumps(dict(summary)) if summary is not None else None,
                )
            )

    def interrupt_stale_runs(self, current: int) -> int:
        """Runs still `running` other than `current` were cut short (a crash): say so."""
        with self._tx() as conn:
            result = conn.execute(
                update(t.runs)
                .where(t.runs.c.status == "running", t.runs.c.id != current)
                .values(status="interrupted", finished_at=utcnow())
            )
            return int(result.rowcount or 0)

    def runs(self, limit: int = 50) -> list[RunRow]:
        with self._tx() as conn:
            rows = conn.execute(select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)).all()
        return [
            RunRow(r.id, r.kind, r.actor, r.status, r.started_at, r.finished_at, _loads(r.summary))
            for r in rows
        ]

    # --- journal ----------------------------------------------------------------------------

    def journal_add(self, run_id: int, entries: Sequence[NewJournalEntry]) -> list[int]:
        """Journal operations as `pending`, in one transaction; their entry ids, in order."""
        if not entries:
            return []
        now = utcnow()
        j = t.journal
        with self._tx() as conn:
            first = conn.execute(select(func.coalesce(func.max(j.c.id), 0))).scalar_one()
            conn.execute(
                insert(j),
                [
                    {
                        "id": first + i + 1,
                        "run_id": run_id,
                        "op_id": e.op_id,
                        "kind": e.kind,
                        "chat_key": e.chat_key,
                        "payload": _dumps(dict(e.payload)),
                        "state": JournalState.PENDING.value,
                        "attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, e in enumerate(entries)
                ],
            )
        return [first + i + 1 for i in range(len(entries))]

    def journal_mark_sent(self, entry_ids: Sequence[int]) -> None:
        """These operations' request is about to go out: `sent`, one more attempt."""
        if not entry_ids:
            return
        j = t.journal
        now = utcnow()
        with self._tx() as conn:
            for part in _chunks(list(entry_ids)):
                conn.execute(
                    update(j)
                    .where(j.c.id.in_(part))
                    .values(
                        state=JournalState.SENT.value, attempts=j.c.attempts + 1, updated_at=now
                    )
                )

    def journal_set_result(self, entry_id: int, result: Mapping[str, Any]) -> None:
        """Record what a `sent` operation produced (the id of the chat it made), still open."""
        with self._tx() as conn:
            conn.execute(
                update(t.journal)
                .where(t.journal.c.id == entry_id)
                .values(result=_dumps(dict(result)), updated_at=utcnow())
            )

    def journal_set_results(self, results: Mapping[int, Mapping[str, Any]]) -> None:
        """`journal_set_result` for several entries, in one transaction."""
        if not results:
            return
        now = utcnow()
        with self._tx() as conn:
            for entry_id, result in results.items():
                conn.execute(
                    update(t.journal)
                    .where(t.journal.c.id == entry_id)
                    .values(result=_dumps(dict(result)), updated_at=now)
                )

    def journal_update(
        self,
        outcomes: Sequence[Outcome],
        audit: Sequence[AuditEntry] = (),
        run_id: int | None = None,
    ) -> None:
        """Close (or re-state) entries and log the changes they made, in one transaction."""
        if not outcomes and not audit:
            return
        j = t.journal
        now = utcnow()
        with self._tx() as conn:
            for outcome in outcomes:
                values: dict[str, Any] = {"state": outcome.state.value, "updated_at": now}
                if outcome.result is not None:
                    values["result"] = _dumps(dict(outcome.result))
                if outcome.state is JournalState.FAILED or outcome.error_code is not None:
                    values["error_code"] = outcome.error_code
                    values["error"] = outcome.error
                conn.execute(update(j).where(j.c.id == outcome.entry_id).values(**values))
            if audit:
                conn.execute(insert(t.audit), [_audit_values(a, run_id) for a in audit])

    def journal_open(self, *, exclude_run: int | None = None) -> list[JournalEntry]:
        """Entries left `pending` or `sent` (by a run that crashed), oldest first."""
        j = t.journal
        stmt = select(j).where(j.c.state.in_([s.value for s in OPEN_STATES])).order_by(j.c.id)
        if exclude_run is not None:
            stmt = stmt.where(j.c.run_id != exclude_run)
        with self._tx() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def journal(
        self,
        *,
        run_id: int | None = None,
        op_id: str | None = None,
        states: Iterable[JournalState] | None = None,
        kind: str | None = None,
    ) -> list[JournalEntry]:
        """Journal entries, oldest first, filtered."""
        j = t.journal
        conditions = []
        if run_id is not None:
            conditions.append(j.c.run_id == run_id)
        if op_id is not None:
            conditions.append(j.c.op_id == op_id)
        if states is not None:
            conditions.append(j.c.state.in_([s.value for s in states]))
        if kind is not None:
            conditions.append(j.c.kind == kind)
        stmt = select(j).order_by(j.c.id)
        if conditions:
            stmt = stmt.where(and_(*conditions))
        with self._tx() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def journal_counts(self, run_id: int) -> dict[str, int]:
        j = t.journal
        with self._tx() as conn:
            rows = conn.execute(
                select(j.c.state, func.count()).where(j.c.run_id == run_id).group_by(j.c.state)
            ).all()
        return {state: count for state, count in rows}

    def prune_journal(self, before: datetime) -> int:
        """Drop closed entries last touched before `before` (the audit log keeps the changes)."""
        j = t.journal
        with self._tx() as conn:
            result = conn.execute(
                delete(j).where(
                    j.c.state.in_([JournalState.DONE.value, JournalState.FAILED.value]),
                    j.c.updated_at < before.astimezone(UTC).isoformat(),
                )
            )
            return int(result.rowcount or 0)

    # --- audit ------------------------------------------------------------------------------

    def audit_add(self, entries: Sequence[AuditEntry], run_id: int | None = None) -> None:
        if not entries:
            return
        with self._tx() as conn:
            conn.execute(insert(t.audit), [_audit_values(a, run_id) for a in entries])

    def audit(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        chat_key: str | None = None,
        person_id: str | None = None,
        actions: Iterable[str] | None = None,
        reasons: Iterable[str] | None = None,
        run_id: int | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[AuditEntry]:
        """The audit log, filtered (as the «Журнал изменений» view asks), newest first."""
        a = t.audit
        conditions = []
        if since is not None:
            conditions.append(a.c.at >= since.astimezone(UTC).isoformat())
        if until is not None:
            conditions.append(a.c.at < until.astimezone(UTC).isoformat())
        if chat_key is not None:
            conditions.append(a.c.chat_key == chat_key)
        if person_id is not None:
            conditions.append(a.c.person_id == person_id)
        if actions is not None:
            conditions.append(a.c.action.in_(list(actions)))
        if reasons is not None:
            conditions.append(a.c.reason.in_(list(reasons)))
        if run_id is not None:
            conditions.append(a.c.run_id == run_id)
        if text:
            pattern = f"%{text}%"
            conditions.append(a.c.chat_name.like(pattern) | a.c.person_name.like(pattern))
        order = a.c.id.desc() if newest_first else a.c.id
        stmt = select(a).order_by(order).offset(offset)
        if conditions:
            stmt = stmt.where(and_(*conditions))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as conn:
            return [_audit_entry(r) for r in conn.execute(stmt)]

    def roster_events(
        self, *, run_id: int | None = None, limit: int | None = None
    ) -> list[RosterEventRow]:
        e = t.roster_events
        stmt = select(e).order_by(e.c.id.desc())
        if run_id is not None:
            stmt = stmt.where(e.c.run_id == run_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._tx() as conn:
            return [
                RosterEventRow(
                    kind=r.kind,
                    person_id=r.person_id,
                    data=json.loads(r.data),
                    person_name=r.person_name,
                    run_id=r.run_id,
                    at=r.at,
                    id=r.id,
                )
                for r in conn.execute(stmt)
            ]
