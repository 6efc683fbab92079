"""Reading the current state: the ESh registry (chats and members) and the Sferum chats.

- Registry chats are listed page by page; their members are read concurrently, and only for
  the chats whose `version` changed since the last read (every member write bumps it), so a
  sync in `--watch` mode reads the members of the chats that changed, not of every chat.
- Sferum members are read with `messages.getConversationMembers`, 25 chats to an `execute`
  (one request at the rate limit), more pages for chats above 200 members. A chat that is
  gone (927) is reported as such, so the sync makes it again; one the account may not read
  (917, 925, 15) is left out of the Sferum part of the plan, with a warning.
- `find_orphan_chats` looks for chats the account made but no registry chat names (a create
  whose answer was lost): by exact title, among the account's own conversations.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from sferum_desktop.api import esh_models
from sferum_desktop.api.errors import (
    ApiError,
    MalformedResponse,
    NetworkError,
    RateLimited,
    ServerError,
)
from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.sferum import (
    CHAT_PEER_BASE,
    MAX_EXECUTE_CALLS,
    MAX_PAGE,
    AccessDenied,
    ChatNotFound,
    ConversationMembers,
    MethodCall,
    NoChatAccess,
    NotChatAdmin,
    Result,
    SferumClient,
)
from sferum_desktop.domain import (
    Chat,
    ChatStatus,
    ChatType,
    MemberRole,
    MemberSource,
    RegistryChat,
    RegistryMember,
    SferumState,
)

log = logging.getLogger("sferum_desktop.sync.remote")

T = TypeVar("T")

_READ_ROUNDS: Final = 3  # a batch of reads that failed is tried this many times in all
_MEMBER_READS: Final = 4  # registry member lists read at once
_PATIENCE: Final = 5  # a read that failed for a transient reason is tried this often in all


def transient(error: ApiError) -> bool:
    """A failure that may pass: the network, the server, a rate limit, a garbled answer."""
    return isinstance(error, NetworkError | ServerError | RateLimited | MalformedResponse)


async def patiently(call: Callable[[], Awaitable[T]], *, rounds: int = _PATIENCE) -> T:
    """A read, tried again after transient faults (beyond the client's own few retries)."""
    for attempt in range(rounds):
        try:
            return await call()
        except ApiError as exc:
            if not transient(exc) or attempt >= rounds - 1:
                raise
            delay = random.uniform(0.5, 1.0) * min(8.0, 0.5 * 2**attempt)
            log.info("read failed (%s); again in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# --- the registry ---------------------------------------------------------------------------


def domain_chat(chat: esh_models.Chat) -> Chat | None:
    """The domain's view of a registry chat; None for one it cannot represent (logged)."""
    try:
        kind = ChatType(chat.type)
        return Chat(
            id=chat.id,
            school_id=chat.school_id or "",
            name=chat.name,
            type=kind,
            class_id=chat.class_id
            if kind in (ChatType.CLASS, ChatType.PARENTS, ChatType.SUBJECT)
            else None,
            group_id=chat.group_id if kind is ChatType.SUBJECT else None,
            subject=chat.subject,
            admin_person_id=chat.admin_person_id,
            sferum_chat_id=chat.sferum_chat_id,
            status=ChatStatus(chat.status),
            version=chat.version,
        )
    except ValueError:
        log.warning("registry chat %d is not understood (type %s); left alone", chat.id, chat.type)
        return None


def domain_member(chat_id: int, member: esh_models.Member) -> RegistryMember | None:
    try:
        return RegistryMember(
            chat_id=chat_id,
            person_id=member.person_id,
            role_in_chat=MemberRole(member.role_in_chat),
            source=MemberSource(member.source),
            excluded=member.excluded,
            blocked=member.blocked,
            linked=member.linked,
            vk_user_id=member.vk_user_id,
            added_at=member.added_at,
        )
    except ValueError:
        log.warning("a member of registry chat %d is not understood; left alone", chat_id)
        return None


def registry_chat(
    chat: esh_models.Chat, members: Iterable[esh_models.Member]
) -> RegistryChat | None:
    found = domain_chat(chat)
    if found is None:
        return None
    converted = (domain_member(chat.id, m) for m in members)
    return RegistryChat.of(found, (m for m in converted if m is not None))


@dataclass
class MemberCache:
    """Registry members by chat, valid while the chat's `version` is the one they were read at."""

    entries: dict[int, tuple[int, tuple[esh_models.Member, ...]]] = field(default_factory=dict)

    def get(self, chat: esh_models.Chat) -> tuple[esh_models.Member, ...] | None:
        entry = self.entries.get(chat.id)
        return entry[1] if entry is not None and entry[0] == chat.version else None

    def put(self, chat_id: int, version: int, members: Sequence[esh_models.Member]) -> None:
        self.entries[chat_id] = (version, tuple(members))

    def forget(self, chat_id: int) -> None:
        self.entries.pop(chat_id, None)


@dataclass(frozen=True)
class RegistryView:
    """Every registry chat the account reads (by id), and the members of the relevant ones."""

    chats: dict[int, esh_models.Chat]
    members: dict[int, tuple[esh_models.Member, ...]]

    def assigned_sferum_ids(self) -> set[int]:
        """Sferum chats some registry chat names (any school, any status)."""
        return {c.sferum_chat_id for c in self.chats.values() if c.sferum_chat_id is not None}


async def read_registry(
    esh: EshClient,
    schools: Collection[str],
    cache: MemberCache,
    *,
    only: Collection[int] | None = None,
) -> RegistryView:
    """The registry's chats (all readable ones) and the members of the active chats of
    `schools` (or of the chats `only` names)."""
    chats: dict[int, esh_models.Chat] = {}
    if only is None:

        async def listing() -> list[esh_models.Chat]:
            return [chat async for chat in esh.iter_chats(page_size=500)]

        for chat in await patiently(listing):
            chats[chat.id] = chat
    else:
        for chat_id in only:
            chat = await patiently(functools.partial(esh.get_chat, chat_id))
            chats[chat.id] = chat
    wanted = [
        c
        for c in chats.values()
        if c.status == ChatStatus.ACTIVE.value and (only is not None or c.school_id in schools)
    ]
    members: dict[int, tuple[esh_models.Member, ...]] = {}
    limit = asyncio.Semaphore(_MEMBER_READS)

    async def read(chat: esh_models.Chat) -> None:
        cached = cache.get(chat)
        if cached is not None:
            members[chat.id] = cached
            return
        async with limit:
            found = await patiently(
                functools.partial(esh.list_members, chat.id, include_excluded=True)
            )
        cache.put(chat.id, chat.version, found)
        members[chat.id] = tuple(found)

    await asyncio.gather(*(read(c) for c in wanted))
    return RegistryView(chats, members)


# --- Sferum ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SferumView:
    """Members and owners of the Sferum chats read; those gone; those not readable (why)."""

    state: SferumState
    gone: frozenset[int] = frozenset()
    unreadable: Mapping[int, ApiError] = field(default_factory=dict)


def _members_call(chat_id: int, offset: int) -> MethodCall:
    return MethodCall(
        "messages.getConversationMembers",
        {"peer_id": CHAT_PEER_BASE + chat_id, "offset": offset, "count": MAX_PAGE},
    )


def _is_transient(error: ApiError) -> bool:
    if isinstance(error, NetworkError | ServerError | MalformedResponse):
        return True
    code = getattr(error, "error_code", None)
    return code in (1, 6, 9, 10)


async def _batched(sferum: SferumClient, calls: Sequence[MethodCall]) -> list[Result]:
    """Calls through `execute`, 25 to a request; failed ones tried again up to 3 times."""
    results: list[Result | None] = [None] * len(calls)
    todo = list(range(len(calls)))
    for round_ in range(_READ_ROUNDS):
        retry: list[int] = []
        for start in range(0, len(todo), MAX_EXECUTE_CALLS):
            part = todo[start : start + MAX_EXECUTE_CALLS]
            answers = await sferum.batch([calls[i] for i in part])
            for index, answer in zip(part, answers, strict=True):
                results[index] = answer
                if answer.error is not None and _is_transient(answer.error):
                    retry.append(index)
        if not retry:
            break
        todo = retry
        await asyncio.sleep(0.5 * (round_ + 1))
    return [r for r in results if r is not None]


async def read_sferum(sferum: SferumClient, chat_ids: Iterable[int]) -> SferumView:
    """Members and owners of these Sferum chats (25 chats per `execute`)."""
    ids = sorted(set(chat_ids))
    members: dict[int, set[int]] = {}
    owners: dict[int, int] = {}
    gone: set[int] = set()
    unreadable: dict[int, ApiError] = {}
    pages: list[tuple[int, int]] = [(chat_id, 0) for chat_id in ids]
    while pages:
        answers = await _batched(sferum, [_members_call(c, offset) for c, offset in pages])
        more: list[tuple[int, int]] = []
        for (chat_id, offset), answer in zip(pages, answers, strict=True):
            if chat_id in gone or chat_id in unreadable:
                continue
            error = answer.error
            if error is not None:
                if isinstance(error, ChatNotFound):
                    gone.add(chat_id)
                elif isinstance(error, NoChatAccess | NotChatAdmin | AccessDenied):
                    unreadable[chat_id] = error
                else:
                    unreadable[chat_id] = error
                    log.warning(
                        "Sferum chat %d: members not read (%s)", chat_id, type(error).__name__
                    )
                continue
            try:
                page = ConversationMembers.model_validate(answer.value)
            except ValueError:
                unreadable[chat_id] = MalformedResponse(reason="getConversationMembers answer")
                continue
            found = members.setdefault(chat_id, set())
            for item in page.items:
                found.add(item.member_id)
                if item.is_owner:
                    owners[chat_id] = item.member_id
            if offset == 0:
                more.extend((chat_id, o) for o in range(MAX_PAGE, page.count, MAX_PAGE))
        pages = more
    for chat_id in unreadable:
        members.pop(chat_id, None)
        owners.pop(chat_id, None)
    state = SferumState({c: frozenset(m) for c, m in members.items()}, owners)
    return SferumView(state, frozenset(gone), unreadable)


async def my_vk_id(sferum: SferumClient) -> int | None:
    """The VK user id of the token's owner (who owns the chats it creates)."""
    profiles = await patiently(sferum.users_get)
    return profiles[0].id if profiles else None


async def find_orphan_chats(
    sferum: SferumClient,
    titles: Collection[str],
    assigned: Collection[int],
    owner: int | None,
    *,
    max_pages: int = 100,
) -> dict[str, list[int]]:
    """Chats titled exactly one of `titles`, owned by `owner`, that no registry chat names
    (`assigned`), among the account's conversations; by title, oldest first."""
    wanted = set(titles)
    found: dict[str, list[int]] = {}
    offset = 0
    for _ in range(max_pages):
        page = await patiently(
            functools.partial(sferum.get_conversations, offset=offset, count=MAX_PAGE)
        )
        for item in page.items:
            chat_id = item.chat_id
            settings = item.conversation.chat_settings
            if chat_id is None or chat_id in assigned or settings is None:
                continue
            if settings.title not in wanted:
                continue
            if owner is not None and settings.owner_id not in (None, owner):
                continue
            found.setdefault(settings.title, []).append(chat_id)
        offset += len(page.items)
        if not page.items or offset >= page.count:
            break
    return {title: sorted(ids) for title, ids in found.items()}
