"""Entities, chat types, naming and membership rules: pure Python, no I/O, no Qt."""

from sferum_desktop.domain.chats import (
    Chat,
    ChatStatus,
    ChatType,
    Link,
    LinkStatus,
    MemberRole,
    MemberSource,
    RegistryMember,
)
from sferum_desktop.domain.naming import (
    STAFF_CHAT_NAME,
    ClassTitle,
    InvalidClassTitle,
    automatic_chat_name,
    class_chat_name,
    parents_chat_name,
    subject_chat_name,
)
from sferum_desktop.domain.people import Person, Role
from sferum_desktop.domain.school import SchoolClass, TeachingGroup

__all__ = [
    "STAFF_CHAT_NAME",
    "Chat",
    "ChatStatus",
    "ChatType",
    "ClassTitle",
    "InvalidClassTitle",
    "Link",
    "LinkStatus",
    "MemberRole",
    "MemberSource",
    "Person",
    "RegistryMember",
    "Role",
    "SchoolClass",
    "TeachingGroup",
    "automatic_chat_name",
    "class_chat_name",
    "parents_chat_name",
    "subject_chat_name",
]
