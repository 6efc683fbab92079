"""The current state the planner compares against: registry chats with members, Sferum chats.

Both are plain immutable data. A registry chat is addressed by its `ChatKey`, a natural key
that exists before the registry gives the chat an id (an automatic chat about to be created
is keyed by its class), so plans stay stable and diffable from one run to the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from sferum_desktop.domain.chats import Chat, ChatStatus, ChatType, RegistryMember


class ChatKey(NamedTuple):
    """A registry chat's natural key: (school, type, what it is the chat of).

    `ref` is the school id of the staff chat, the class id of a class or parents chat, the
    group id of a subject chat, and `#<registry id>` for a custom chat. Keys sort by school,
    then type, then ref, which is the order plans list their operations in.
    """

    school_id: str
    type: ChatType
    ref: str

    @classmethod
    def staff(cls, school_id: str) -> ChatKey:
        return cls(school_id, ChatType.STAFF, school_id)

    @classmethod
    def klass(cls, school_id: str, class_id: str) -> ChatKey:
        return cls(school_id, ChatType.CLASS, class_id)

    @classmethod
    def parents(cls, school_id: str, class_id: str) -> ChatKey:
        return cls(school_id, ChatType.PARENTS, class_id)

    @classmethod
    def subject(cls, school_id: str, group_id: str) -> ChatKey:
        return cls(school_id, ChatType.SUBJECT, group_id)

    def __str__(self) -> str:
        return f"{self.school_id}/{self.type.value}/{self.ref}"


def chat_key(chat: Chat) -> ChatKey:
    """The natural key of a registry chat."""
    if chat.type is ChatType.STAFF:
        return ChatKey.staff(chat.school_id)
    if chat.type in (ChatType.CLASS, ChatType.PARENTS):
        assert chat.class_id is not None  # Chat checks it
        return ChatKey(chat.school_id, chat.type, chat.class_id)
    if chat.type is ChatType.SUBJECT:
        assert chat.group_id is not None
        return ChatKey.subject(chat.school_id, chat.group_id)
    if chat.id is None:
        raise ValueError("a custom chat is keyed by its registry id, and this one has none")
    return ChatKey(chat.school_id, ChatType.CUSTOM, f"#{chat.id}")


@dataclass(frozen=True, slots=True, eq=False)
class RegistryChat:
    """A registry chat and its members by person id (exclusions included)."""

    chat: Chat
    members: Mapping[str, RegistryMember] = field(default_factory=dict)

    @classmethod
    def of(cls, chat: Chat, members: Iterable[RegistryMember] = ()) -> RegistryChat:
        return cls(chat, {m.person_id: m for m in members})

    @property
    def active_members(self) -> frozenset[str]:
        """Members counted in the chat: everyone but the exclusions."""
        return frozenset(p for p, m in self.members.items() if not m.excluded)

    @property
    def excluded(self) -> frozenset[str]:
        return frozenset(p for p, m in self.members.items() if m.excluded)


@dataclass(frozen=True, slots=True, eq=False)
class RegistryState:
    """The ESh Sferum registry as last read: its chats by key.

    `RegistryState.of(chats)` keys them; should the registry hold two chats with one natural
    key (two class chats of a class), the one with the lower id keeps the key and the other is
    keyed `<ref>#<id>`, so neither is lost. The person index and totals are built on first use.
    """

    chats: Mapping[ChatKey, RegistryChat] = field(default_factory=dict)
    _cache: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, chats: Iterable[RegistryChat]) -> RegistryState:
        keyed: dict[ChatKey, RegistryChat] = {}
        for item in sorted(chats, key=lambda c: (c.chat.id is None, c.chat.id or 0)):
            key = chat_key(item.chat)
            if key in keyed:
                key = key._replace(ref=f"{key.ref}#{item.chat.id}")
            keyed[key] = item
        return cls(keyed)

    def get(self, key: ChatKey) -> RegistryChat | None:
        return self.chats.get(key)

    def __len__(self) -> int:
        return len(self.chats)

    def chats_of_person(self, person_id: str) -> frozenset[ChatKey]:
        """The chats that list the person (exclusions included)."""
        index = self._person_index()
        return index.get(person_id, frozenset())

    def _person_index(self) -> dict[str, frozenset[ChatKey]]:
        index = self._cache.get("persons")
        if index is None:
            acc: dict[str, list[ChatKey]] = {}
            for key, item in self.chats.items():
                for person_id in item.members:
                    found = acc.get(person_id)
                    if found is None:
                        acc[person_id] = [key]
                    else:
                        found.append(key)
            index = {p: frozenset(keys) for p, keys in acc.items()}
            self._cache["persons"] = index
        assert isinstance(index, dict)
        return index

    def duplicate_keys(self) -> tuple[ChatKey, ...]:
        """Keys `<ref>#<id>` of second chats sharing a natural key (see `of`)."""
        found = self._cache.get("duplicates")
        if found is None:
            found = tuple(k for k in self.chats if "#" in k.ref and not k.ref.startswith("#"))
            self._cache["duplicates"] = found
        assert isinstance(found, tuple)
        return found

    @property
    def active_memberships(self) -> int:
        """How many (chat, person) memberships the active chats count, exclusions aside."""
        total = self._cache.get("active")
        if total is None:
            total = sum(
                1
                for item in self.chats.values()
                if item.chat.status is ChatStatus.ACTIVE
                for m in item.members.values()
                if not m.excluded
            )
            self._cache["active"] = total
        assert isinstance(total, int)
        return total

    def replace(self, updates: Mapping[ChatKey, RegistryChat | None]) -> RegistryState:
        """A new state with these chats replaced (None drops one).

        The person index, if built, is patched for the changed chats rather than rebuilt.
        """
        chats = dict(self.chats)
        old_index = self._cache.get("persons")
        index = dict(old_index) if isinstance(old_index, dict) else None
        for key, item in updates.items():
            before = chats.get(key)
            if item is None:
                chats.pop(key, None)
            else:
                chats[key] = item
            if index is not None:
                old = set(before.members) if before is not None else set()
                new = set(item.members) if item is not None else set()
                for person_id in old - new:
                    rest = index.get(person_id, frozenset()) - {key}
                    if rest:
                        index[person_id] = rest
                    else:
                        index.pop(person_id, None)
                for person_id in new - old:
                    index[person_id] = index.get(person_id, frozenset()) | {key}
        state = RegistryState(chats)
        if index is not None:
            state._cache["persons"] = index
        duplicates = self._cache.get("duplicates")
        if isinstance(duplicates, tuple) and all("#" not in k.ref[1:] for k in updates):
            state._cache["duplicates"] = duplicates  # no duplicate came or went
        return state


@dataclass(frozen=True, slots=True, eq=False)
class SferumState:
    """The Sferum chats as last read: members (VK user ids) and the owner of each chat."""

    members: Mapping[int, frozenset[int]] = field(default_factory=dict)
    owners: Mapping[int, int] = field(default_factory=dict)  # chat id -> its admin's VK id
    _cache: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def members_of(self, chat_id: int) -> frozenset[int]:
        return self.members.get(chat_id, frozenset())

    def owner_of(self, chat_id: int) -> int | None:
        return self.owners.get(chat_id)

    @property
    def memberships(self) -> int:
        """All (chat, member) pairs, owners aside."""
        total = self._cache.get("total")
        if total is None:
            total = sum(
                len(ids) - (1 if self.owners.get(chat) in ids else 0)
                for chat, ids in self.members.items()
            )
            self._cache["total"] = total
        return total
