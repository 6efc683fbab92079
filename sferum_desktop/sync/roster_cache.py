"""The roster as last synced, in memory: OneRoster records by id, ESh links, delta cursors.

A delta (`RosterDelta`: changed records and tombstones) patches a copy of it, so the sync can
make the next snapshot without fetching the roster again, and keep the old one until the new
one is confirmed (the roster events of a sync are the difference between the two).

Records go to the store as JSON with only the fields the membership rules read: a user's
e-mail, username and identifier are dropped (ESh sends no birth dates or phones; should a
server send them, they are not among the fields kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import TypeAdapter

from sferum_desktop.api import esh_models
from sferum_desktop.api.oneroster import (
    COLLECTIONS,
    CollectionName,
    RosterRecord,
    RosterSnapshot,
    parse_record,
)
from sferum_desktop.store import LinkRow, RosterData

LINKS_CURSOR: Final = "links"
# Links are listed oldest change first and `updated_after` is exclusive; starting a little
# before the newest change seen re-reads a few rows rather than missing one written meanwhile.
_LINKS_OVERLAP: Final = timedelta(seconds=5)

# Fields a record keeps in the store (Python names); the rest is not needed by the rules.
_DROPPED: Final[dict[str, set[str]]] = {
    "users": {"email", "username", "identifier"},
}
_ADAPTERS: Final[dict[str, TypeAdapter[Any]]] = {
    name: TypeAdapter(model) for name, model in COLLECTIONS.items()
}


def cursor_name(collection: str) -> str:
    return f"roster:{collection}"


def dump_record(collection: str, record: RosterRecord) -> str:
    """A record as the JSON the store keeps (OneRoster names, only the needed fields)."""
    data = _ADAPTERS[collection].dump_python(
        record, mode="json", by_alias=True, exclude=_DROPPED.get(collection)
    )
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def load_record(collection: str, text: str) -> RosterRecord:
    record: RosterRecord = parse_record(COLLECTIONS[collection], json.loads(text))  # type: ignore[index]
    return record


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


@dataclass(frozen=True, slots=True)
class RosterChanges:
    """What one fetch changed: records (and tombstones) by collection, links by person."""

    upserts: dict[str, dict[str, RosterRecord]] = field(default_factory=dict)
    deletes: dict[str, set[str]] = field(default_factory=dict)
    links: dict[str, esh_models.Link] = field(default_factory=dict)
    full: bool = False

    @property
    def count(self) -> int:
        return (
            sum(len(v) for v in self.upserts.values())
            + sum(len(v) for v in self.deletes.values())
            + len(self.links)
        )

    def touched_people(self) -> set[str]:
        """The people a delta names: changed users, the users of changed enrolments, links."""
        people = set(self.links)
        for record in self.upserts.get("users", {}).values():
            people.add(record.sourced_id)
        people.update(self.deletes.get("users", ()))
        return people


@dataclass(frozen=True, slots=True, eq=False)
class RosterCache:
    """Records by collection and id, links by person, and where the next deltas start."""

    records: Mapping[str, Mapping[str, RosterRecord]]
    links: Mapping[str, esh_models.Link]
    cursor: datetime | None  # the roster delta cursor (the same for every collection)
    links_cursor: datetime | None

    @classmethod
    def empty(cls) -> RosterCache:
        return cls({name: {} for name in COLLECTIONS}, {}, None, None)

    @property
    def is_empty(self) -> bool:
        return self.cursor is None

    # --- the store --------------------------------------------------------------------------

    @classmethod
    def from_store(cls, data: RosterData) -> RosterCache:
        if data.empty:
            return cls.empty()
        records: dict[str, dict[str, RosterRecord]] = {}
        for name in COLLECTIONS:
            items = data.records.get(name, {})
            records[name] = {sid: load_record(name, text) for sid, text in items.items()}
        links = {
            row.person_id: esh_models.Link(
                person_id=row.person_id,
                vk_user_id=row.vk_user_id,
                status=row.status,
                updated_at=_moment(row.updated_at) or datetime(1970, 1, 1, tzinfo=UTC),
            )
            for row in data.links
        }
        cursors = [_moment(data.cursors.get(cursor_name(name))) for name in COLLECTIONS]
        known = [c for c in cursors if c is not None]
        # The collections move together (a delta is applied whole); should they differ, the
        # earliest is the safe place to start from.
        cursor = min(known) if len(known) == len(cursors) else None
        return cls(records, links, cursor, _moment(data.cursors.get(LINKS_CURSOR)))

    def cursors(self) -> dict[str, str]:
        """The cursors as the store keeps them (name -> ISO moment)."""
        values: dict[str, str] = {}
        if self.cursor is not None:
            for name in COLLECTIONS:
                values[cursor_name(name)] = self.cursor.astimezone(UTC).isoformat()
        if self.links_cursor is not None:
            values[LINKS_CURSOR] = self.links_cursor.astimezone(UTC).isoformat()
        return values

    @staticmethod
    def link_rows(links: Iterable[esh_models.Link]) -> list[LinkRow]:
        return [
            LinkRow(link.person_id, link.vk_user_id, link.status, _iso(link.updated_at))
            for link in links
        ]

    # --- applying fetches -------------------------------------------------------------------

    def with_roster(self, fetched: RosterSnapshot) -> tuple[RosterCache, RosterChanges]:
        """This cache with a fetch applied: a full snapshot replaces it, a delta patches it."""
        if not fetched.is_delta:
            records: dict[str, dict[str, RosterRecord]] = {}
            for name in COLLECTIONS:
                records[name] = {
                    r.sourced_id: r for r in fetched.collection(name) if not r.is_deleted
                }
            changes = RosterChanges(upserts=records, full=True)
            cache = RosterCache(records, self.links, fetched.cursor, self.links_cursor)
            return cache, changes
        upserts: dict[str, dict[str, RosterRecord]] = {}
        deletes: dict[str, set[str]] = {}
        patched: dict[str, Mapping[str, RosterRecord]] = dict(self.records)
        for name in COLLECTIONS:
            changed = fetched.collection(name)
            if not changed:
                continue
            current = dict(self.records.get(name, {}))
            for record in changed:
                if record.is_deleted:
                    if current.pop(record.sourced_id, None) is not None:
                        deletes.setdefault(name, set()).add(record.sourced_id)
                else:
                    current[record.sourced_id] = record
                    upserts.setdefault(name, {})[record.sourced_id] = record
            patched[name] = current
        cursor = fetched.cursor or self.cursor
        changes = RosterChanges(upserts=upserts, deletes=deletes)
        return RosterCache(patched, self.links, cursor, self.links_cursor), changes

    def with_links(
        self, fetched: Iterable[esh_models.Link], *, full: bool
    ) -> tuple[RosterCache, dict[str, esh_models.Link]]:
        """This cache with links applied (all of them, or those changed since the cursor)."""
        fetched = list(fetched)
        links = {} if full else dict(self.links)
        changed: dict[str, esh_models.Link] = {}
        for link in fetched:
            before = self.links.get(link.person_id)
            links[link.person_id] = link
            if before != link:
                changed[link.person_id] = link
        newest = max((link.updated_at for link in fetched), default=None)
        cursor = self.links_cursor
        if newest is not None:
            candidate = newest - _LINKS_OVERLAP
            cursor = candidate if cursor is None else max(cursor, candidate)
        return RosterCache(self.records, links, self.cursor, cursor), changed

    # --- reading ----------------------------------------------------------------------------

    def records_snapshot(self) -> RosterSnapshot:
        """The cached records as the client's `RosterSnapshot` (for `snapshot_from_roster`)."""
        lists: dict[str, list[Any]] = {
            name: list(self.records.get(name, {}).values()) for name in COLLECTIONS
        }
        return RosterSnapshot(
            orgs=lists["orgs"],
            academic_sessions=lists["academicSessions"],
            courses=lists["courses"],
            classes=lists["classes"],
            users=lists["users"],
            enrollments=lists["enrollments"],
            cursor=self.cursor,
        )

    def dumped(
        self, changes: RosterChanges
    ) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
        """The store's upserts and deletes for these changes."""
        upserts = {
            name: {sid: dump_record(name, record) for sid, record in items.items()}
            for name, items in changes.upserts.items()
        }
        return upserts, dict(changes.deletes)


def collection_names() -> tuple[CollectionName, ...]:
    return tuple(COLLECTIONS)
