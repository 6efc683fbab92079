"""Chats of the Sferum registry, their members and account links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sferum_desktop.domain.people import Role


class ChatType(StrEnum):
    """The chat types of membership-rules.md; values are the API's codes."""

    STAFF = "staff"  # «Учительский чат»
    CLASS = "class"  # «Классный чат»
    PARENTS = "parents"  # «Родительский чат»
    SUBJECT = "subject"  # «Предмет»
    CUSTOM = "custom"  # «Другой»

    @property
    def is_automatic(self) -> bool:
        """Made and kept by the automatic mode, never created by hand."""
        return self in (ChatType.STAFF, ChatType.CLASS, ChatType.PARENTS)

    @property
    def has_class(self) -> bool:
        return self in (ChatType.CLASS, ChatType.PARENTS)

    @property
    def has_rule_members(self) -> bool:
        """Whether the rules put members in it; a custom chat has only manual ones."""
        return self is not ChatType.CUSTOM


class ChatStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"  # its class was archived at the end of the year


class MemberRole(StrEnum):
    """Which participant tab a member is on: «Сотрудники», «Ученики», «Родители»."""

    STAFF = "staff"
    STUDENT = "student"
    PARENT = "parent"

    @classmethod
    def for_role(cls, role: Role) -> MemberRole:
        if role.is_staff:
            return cls.STAFF
        return cls.STUDENT if role is Role.STUDENT else cls.PARENT


class MemberSource(StrEnum):
    RULE = "rule"  # put there by the membership rules
    MANUAL = "manual"  # added by hand; stays until removed by hand or the person leaves


class LinkStatus(StrEnum):
    LINKED = "linked"
    UNLINKED = "unlinked"


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat of the registry («Чат школы в сферум»)."""

    id: int | None  # None until the registry has it
    school_id: str
    name: str
    type: ChatType
    class_id: str | None = None
    group_id: str | None = None
    subject: str | None = None
    admin_person_id: str | None = None
    sferum_chat_id: int | None = None
    status: ChatStatus = ChatStatus.ACTIVE
    version: int = 0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a chat needs a name")
        if self.type.has_class and not self.class_id:
            raise ValueError(f"a {self.type.value} chat needs its class")
        if self.type is ChatType.SUBJECT and not self.group_id:
            raise ValueError("a subject chat needs its teaching group")
        if self.type in (ChatType.STAFF, ChatType.CUSTOM) and (self.class_id or self.group_id):
            raise ValueError(f"a {self.type.value} chat belongs to no class or group")

    @property
    def is_automatic(self) -> bool:
        return self.type.is_automatic

    @property
    def in_sferum(self) -> bool:
        """Whether the Sferum chat has been made for it."""
        return self.sferum_chat_id is not None


@dataclass(frozen=True, slots=True)
class RegistryMember:
    """A person listed in a registry chat, linked or not."""

    chat_id: int
    person_id: str
    role_in_chat: MemberRole
    source: MemberSource
    excluded: bool = False  # a rule member removed by hand: the rules do not add them back
    blocked: bool = False  # «Заблокирован»: kept in the registry, out of the Sferum chat
    linked: bool = False
    vk_user_id: int | None = None
    added_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        """Counted as a member of the registry chat."""
        return not self.excluded

    @property
    def belongs_in_sferum(self) -> bool:
        """Should be in the Sferum chat: active, linked and not blocked."""
        return self.is_active and self.linked and not self.blocked and self.vk_user_id is not None

    @property
    def is_pending(self) -> bool:
        """In the registry but waiting for the person to link their account."""
        return self.is_active and not self.linked


@dataclass(frozen=True, slots=True)
class Link:
    """An ESh account's link to a VK ID educational profile."""

    person_id: str
    vk_user_id: int | None
    status: LinkStatus
    updated_at: datetime | None = None

    @property
    def is_linked(self) -> bool:
        return self.status is LinkStatus.LINKED and self.vk_user_id is not None
