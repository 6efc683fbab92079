"""Resuming after a crash: what a killed run left `pending` or `sent` in the journal.

Run after the fresh read of ESh and Sferum, before the new plan:

- a `createChat` whose Sferum chat id was journaled but not yet written to the registry gets
  its `PUT /chats/{id}/sferum` now (after checking that chat still exists with its title);
- a `createChat` left `sent` with no id may or may not have made the chat: the account's
  conversations are searched for an unassigned chat with exactly that title, and one found
  is adopted (its id written to the registry); none found means it was not made, and the
  new plan makes it — so a crash never creates a chat twice;
- any other operation left `sent` is checked against what was just read: its end reached,
  it counts as done (and goes to the audit log, which the crash kept it from), else failed;
  one left `pending` was never sent and is closed as failed. Either way the new plan, made
  from the fresh state, does what is still needed — every other operation is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Final

from sferum_desktop.api.errors import ApiError
from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.sferum import SferumClient
from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    ChatKey,
    CreateRegistryChat,
    CreateSferumChat,
    Operation,
    RemoveRegistryMember,
    RemoveSferumMember,
    operation_from_dict,
)
from sferum_desktop.store import AuditEntry, JournalEntry, JournalState, Outcome
from sferum_desktop.sync.journal import AsyncStore
from sferum_desktop.sync.remote import find_orphan_chats, my_vk_id
from sferum_desktop.sync.world import World

log = logging.getLogger("sferum_desktop.sync.resume")

INTERRUPTED: Final = "interrupted"
NOT_CREATED: Final = "not_created"
SUPERSEDED: Final = "superseded"
ACCOUNT_CHANGED: Final = "account_changed"
_RESUMED: Final = {"resumed": True}


@dataclass
class ResumeResult:
    done: list[Operation] = field(default_factory=list)
    closed: int = 0
    registry_changed: bool = False  # Sferum chat ids were written: read the state again


def _reached(world: World, op: Operation) -> bool:
    """Whether the state just read shows the operation's end."""
    item = world.registry.get(op.chat_key)
    if isinstance(op, CreateRegistryChat):
        return item is not None
    if isinstance(op, AddRegistryMember):
        return item is not None and op.person_id in item.active_members
    if isinstance(op, RemoveRegistryMember):
        return item is not None and op.person_id not in item.active_members
    if isinstance(op, AddSferumMember | RemoveSferumMember):
        chat = op.sferum_chat_id
        if chat is None and item is not None:
            chat = item.chat.sferum_chat_id
        if chat is None or chat not in world.sferum.members:
            return False
        present = op.vk_user_id in world.sferum.members_of(chat)
        return present if isinstance(op, AddSferumMember) else not present
    return False


async def close_open_entries(db: AsyncStore, entries: Collection[JournalEntry], code: str) -> None:
    """Close entries without resuming them (the account or server changed)."""
    await db.call(
        db.store.journal_update,
        [
            Outcome(e.id, JournalState.FAILED, error_code=code, error="Не возобновлено.")
            for e in entries
        ],
    )


async def resume(
    *,
    esh: EshClient,
    sferum: SferumClient,
    db: AsyncStore,
    world: World,
    run_id: int,
    actor: str,
    only_chats: Collection[ChatKey] | None = None,
) -> ResumeResult:
    """Finish or close what crashed runs left open (see the module docstring)."""
    result = ResumeResult()
    entries = await db.call(db.store.journal_open, exclude_run=run_id)
    if only_chats is not None:
        wanted = {str(k) for k in only_chats}
        entries = [e for e in entries if e.chat_key in wanted]
    if not entries:
        return result
    log.info("resuming %d journal entries left open by an interrupted run", len(entries))
    outcomes: list[Outcome] = []
    audit: list[AuditEntry] = []
    searches: list[tuple[JournalEntry, CreateSferumChat, int]] = []
    attaches: list[tuple[JournalEntry, CreateSferumChat, int, int]] = []

    def close(entry: JournalEntry, state: JournalState, code: str | None = None, **kw: Any) -> None:
        message = {
            INTERRUPTED: "Прервано: не отправлено или без ответа.",
            NOT_CREATED: "Прервано до создания чата.",
            SUPERSEDED: "Чат Сферума уже указан в реестре.",
        }.get(code or "")
        outcomes.append(Outcome(entry.id, state, error_code=code, error=message, **kw))

    for entry in entries:
        try:
            op = operation_from_dict(entry.payload)
        except (KeyError, TypeError, ValueError):
            close(entry, JournalState.FAILED, INTERRUPTED)
            continue
        if isinstance(op, CreateSferumChat):
            item = world.registry.get(op.chat_key)
            recorded = (entry.result or {}).get("sferum_chat_id")
            chat_id = (entry.result or {}).get("chat_id") or op.chat_id
            if chat_id is None and item is not None:
                chat_id = item.chat.id
            current = item.chat.sferum_chat_id if item is not None else None
            if isinstance(recorded, int):
                if current == recorded:
                    close(entry, JournalState.DONE)
                    if not (entry.result or {}).get("registry"):
                        audit.append(
                            world.audit_entry(
                                op,
                                actor=actor,
                                run_id=run_id,
                                sferum_chat_id=recorded,
                                details=_RESUMED,
                            )
                        )
                        result.done.append(op)
                elif current is None and isinstance(chat_id, int):
                    attaches.append((entry, op, chat_id, recorded))
                else:
                    close(entry, JournalState.FAILED, SUPERSEDED)
            elif entry.state is JournalState.SENT and current is None and isinstance(chat_id, int):
                searches.append((entry, op, chat_id))
            elif entry.state is JournalState.SENT and current is not None:
                close(entry, JournalState.FAILED, SUPERSEDED)
            else:
                close(entry, JournalState.FAILED, NOT_CREATED)
            continue
        if entry.state is JournalState.SENT and _reached(world, op):
            close(entry, JournalState.DONE)
            audit.append(world.audit_entry(op, actor=actor, run_id=run_id, details=_RESUMED))
            result.done.append(op)
        else:
            close(entry, JournalState.FAILED, INTERRUPTED)

    if attaches:
        # Check the journaled chats still exist with their titles before naming them.
        try:
            found = {c.id: c.title for c in await sferum.get_chats([s for _, _, _, s in attaches])}
        except ApiError as exc:
            log.warning("could not check journaled Sferum chats (%s)", type(exc).__name__)
            found = {}
        for entry, op, chat_id, sferum_chat_id in attaches:
            if found.get(sferum_chat_id) == op.title:
                attached = await _attach(esh, world, chat_id, sferum_chat_id, op)
                if attached:
                    result.registry_changed = True
                    close(entry, JournalState.DONE, result={"sferum_chat_id": sferum_chat_id})
                    audit.append(
                        world.audit_entry(
                            op,
                            actor=actor,
                            run_id=run_id,
                            sferum_chat_id=sferum_chat_id,
                            chat_id=chat_id,
                            details=_RESUMED,
                        )
                    )
                    result.done.append(op)
                # Not written: left open, the next run tries again (the id stays journaled).
            else:
                close(entry, JournalState.FAILED, NOT_CREATED)

    if searches:
        try:
            owner = await my_vk_id(sferum)
            orphans = await find_orphan_chats(
                sferum,
                {op.title for _, op, _ in searches},
                world.view.assigned_sferum_ids(),
                owner,
            )
        except ApiError as exc:
            # Not knowing whether they exist, leave them open for the next run to look again.
            log.warning("could not look for chats made before the crash (%s)", type(exc).__name__)
            orphans = None
        for entry, op, chat_id in searches:
            if orphans is None:
                continue
            candidates = orphans.get(op.title)
            if not candidates:
                close(entry, JournalState.FAILED, NOT_CREATED)
                continue
            sferum_chat_id = candidates.pop(0)
            log.info("adopting Sferum chat %d made before the crash", sferum_chat_id)
            await db.call(db.store.journal_set_result, entry.id, {"sferum_chat_id": sferum_chat_id})
            if await _attach(esh, world, chat_id, sferum_chat_id, op):
                result.registry_changed = True
                close(entry, JournalState.DONE, result={"sferum_chat_id": sferum_chat_id})
                audit.append(
                    world.audit_entry(
                        op,
                        actor=actor,
                        run_id=run_id,
                        sferum_chat_id=sferum_chat_id,
                        chat_id=chat_id,
                        details={**_RESUMED, "adopted": True},
                    )
                )
                result.done.append(op)

    await db.call(db.store.journal_update, outcomes, audit, run_id)
    result.closed = len(outcomes)
    return result


async def _attach(
    esh: EshClient, world: World, chat_id: int, sferum_chat_id: int, op: CreateSferumChat
) -> bool:
    try:
        await esh.set_sferum_chat(chat_id, sferum_chat_id)
    except ApiError as exc:
        log.warning(
            "could not write Sferum chat %d to registry chat %d (%s)",
            sferum_chat_id,
            chat_id,
            type(exc).__name__,
        )
        return False
    world.with_sferum_chat(op.chat_key, sferum_chat_id)
    return True
