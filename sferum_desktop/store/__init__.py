"""The local SQLite store: the roster as last synced, the sync journal, the audit log."""

from sferum_desktop.store.db import SCHEMA_VERSION, StoreError, file_modes
from sferum_desktop.store.lock import LockBusy, RunLock
from sferum_desktop.store.store import (
    OPEN_STATES,
    AuditEntry,
    JournalEntry,
    JournalState,
    LinkRow,
    NewJournalEntry,
    Outcome,
    RosterData,
    RosterEventRow,
    RunRow,
    Store,
    default_store_path,
    utcnow,
)

__all__ = [
    "OPEN_STATES",
    "SCHEMA_VERSION",
    "AuditEntry",
    "JournalEntry",
    "JournalState",
    "LinkRow",
    "LockBusy",
    "NewJournalEntry",
    "Outcome",
    "RosterData",
    "RosterEventRow",
    "RunLock",
    "RunRow",
    "Store",
    "StoreError",
    "default_store_path",
    "file_modes",
    "utcnow",
]
