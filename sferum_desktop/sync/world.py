"""What a sync knows when it plans: the roster now and as last synced, the events between
them, the registry and the Sferum chats as read — and the facts the audit log needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sferum_desktop.api.errors import ApiError
from sferum_desktop.domain import (
    ChatKey,
    CreateRegistryChat,
    CreateSferumChat,
    EventIndex,
    Operation,
    RegistryChat,
    RegistryState,
    RosterEvent,
    RosterSnapshot,
    SferumState,
)
from sferum_desktop.store import AuditEntry
from sferum_desktop.sync.remote import RegistryView
from sferum_desktop.sync.roster_cache import RosterCache, RosterChanges


@dataclass(eq=False)
class World:
    """The inputs of a plan, and what the apply and the audit log look up in them."""

    snapshot: RosterSnapshot
    baseline: RosterSnapshot | None  # the roster as last synced (None: the first sync)
    events: list[RosterEvent]
    index: EventIndex
    registry: RegistryState
    sferum: SferumState
    view: RegistryView
    cache: RosterCache  # the roster now, to become the baseline once the plan is applied
    changes: RosterChanges  # what the fetch changed against the baseline
    unreadable: Mapping[int, ApiError] = field(default_factory=dict)  # Sferum chat -> why
    person_id: str | None = None  # the signed-in account

    def chat_name(self, key: ChatKey) -> str | None:
        item = self.registry.get(key)
        return item.chat.name if item is not None else None

    def person_name(self, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        person = self.snapshot.people.get(person_id)
        if person is None and self.baseline is not None:
            person = self.baseline.people.get(person_id)
        return person.full_name if person is not None else None

    def event_for(self, op: Operation) -> dict[str, Any] | None:
        """The roster event behind an operation (the first of its reason), for the audit log."""
        reason = op.reason
        person = getattr(op, "person_id", None)
        if person is None or not reason.is_roster_event:
            return None
        for event in (*self.index.of_person(person), *self.index.of_children(person)):
            if event.kind is reason:
                return dict(event.as_dict())
        return None

    def with_sferum_chat(self, key: ChatKey, sferum_chat_id: int | None) -> None:
        """Note that a registry chat's Sferum chat is now (or no longer) this one."""
        item = self.registry.get(key)
        if item is None:
            return
        chat = replace(item.chat, sferum_chat_id=sferum_chat_id)
        self.registry = self.registry.replace({key: RegistryChat(chat, item.members)})

    def audit_entry(
        self,
        op: Operation,
        *,
        actor: str,
        run_id: int | None,
        chat_id: int | None = None,
        sferum_chat_id: int | None = None,
        chat_name: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """The audit log's line for an operation that took effect."""
        key = op.chat_key
        item = self.registry.get(key)
        if chat_name is None:
            if item is not None:
                chat_name = item.chat.name
            elif isinstance(op, CreateRegistryChat):
                chat_name = op.chat.name
            elif isinstance(op, CreateSferumChat):
                chat_name = op.title
        if chat_id is None and item is not None:
            chat_id = item.chat.id
        if sferum_chat_id is None:
            sferum_chat_id = getattr(op, "sferum_chat_id", None)
            if sferum_chat_id is None and item is not None:
                sferum_chat_id = item.chat.sferum_chat_id
        person = getattr(op, "person_id", None)
        return AuditEntry(
            action=op.kind,
            reason=op.reason.value,
            actor=actor,
            school_id=key.school_id,
            chat_key=str(key),
            chat_name=chat_name,
            chat_id=chat_id,
            sferum_chat_id=sferum_chat_id,
            person_id=person,
            person_name=self.person_name(person),
            vk_user_id=getattr(op, "vk_user_id", None),
            event=self.event_for(op),
            details=details,
            run_id=run_id,
        )
