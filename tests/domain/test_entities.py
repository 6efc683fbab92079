"""Entities: people, classes, groups, chats, members, links."""

from datetime import datetime

import pytest

from sferum_desktop.domain import (
    Chat,
    ChatType,
    Link,
    LinkStatus,
    MemberRole,
    MemberSource,
    Person,
    RegistryMember,
    Role,
    SchoolClass,
    TeachingGroup,
)

PAVLOVA = Person("usr-1", "Павлова", "Елена", "Владимировна", frozenset({Role.TEACHER, Role.ADMIN}))


def test_person_names() -> None:
    assert PAVLOVA.full_name == "Павлова Елена Владимировна"
    assert PAVLOVA.short_name == "Павлова Е. В."
    assert PAVLOVA.is_staff
    no_patronymic = Person("usr-2", "Smith", "John")
    assert no_patronymic.full_name == "Smith John"
    assert no_patronymic.short_name == "Smith J."
    assert not no_patronymic.is_staff


@pytest.mark.parametrize(
    ("oneroster", "role"),
    [
        ("student", Role.STUDENT),
        ("teacher", Role.TEACHER),
        ("administrator", Role.ADMIN),
        ("parent", Role.PARENT),
        ("guardian", Role.PARENT),
        ("aide", None),
    ],
)
def test_roles_from_oneroster(oneroster: str, role: Role | None) -> None:
    assert Role.from_oneroster(oneroster) is role


def test_member_role_per_person_role() -> None:
    assert MemberRole.for_role(Role.TEACHER) is MemberRole.STAFF
    assert MemberRole.for_role(Role.ADMIN) is MemberRole.STAFF
    assert MemberRole.for_role(Role.STUDENT) is MemberRole.STUDENT
    assert MemberRole.for_role(Role.PARENT) is MemberRole.PARENT


def test_class_and_group() -> None:
    klass = SchoolClass("cls-1", "org-1", "1А")
    assert klass.grade == 1
    group = TeachingGroup("grp-1", "org-1", "cls-1", "1А", "Русский язык")
    assert group.chat_name == "1А - Русский язык"
    assert group.label == "Русский язык / 1А"
    sub = TeachingGroup("grp-2", "org-1", "cls-1", "1А", "Английский язык", "2 группа")
    assert sub.chat_name == "1А - Английский язык (2 группа)"
    assert sub.label == "Английский язык (2 группа) / 1А"


def test_chat_types() -> None:
    assert {t for t in ChatType if t.is_automatic} == {
        ChatType.STAFF,
        ChatType.CLASS,
        ChatType.PARENTS,
    }
    assert not ChatType.CUSTOM.has_rule_members
    assert ChatType.SUBJECT.has_rule_members


def test_chat_invariants() -> None:
    chat = Chat(1, "org-1", "3 А", ChatType.CLASS, class_id="cls-3")
    assert chat.is_automatic and not chat.in_sferum
    with pytest.raises(ValueError, match="name"):
        Chat(None, "org-1", " ", ChatType.CUSTOM)
    with pytest.raises(ValueError, match="class"):
        Chat(None, "org-1", "3 А", ChatType.CLASS)
    with pytest.raises(ValueError, match="group"):
        Chat(None, "org-1", "1А - Русский язык", ChatType.SUBJECT)
    with pytest.raises(ValueError, match="no class"):
        Chat(None, "org-1", "Учительская", ChatType.STAFF, class_id="cls-1")


def test_member_states() -> None:
    base = dict(chat_id=1, person_id="usr-9", role_in_chat=MemberRole.STUDENT)
    pending = RegistryMember(**base, source=MemberSource.RULE)
    assert pending.is_pending and not pending.belongs_in_sferum
    linked = RegistryMember(**base, source=MemberSource.RULE, linked=True, vk_user_id=7)
    assert linked.belongs_in_sferum and not linked.is_pending
    blocked = RegistryMember(
        **base, source=MemberSource.RULE, linked=True, vk_user_id=7, blocked=True
    )
    assert blocked.is_active and not blocked.belongs_in_sferum
    excluded = RegistryMember(
        **base, source=MemberSource.RULE, linked=True, vk_user_id=7, excluded=True
    )
    assert not excluded.is_active and not excluded.belongs_in_sferum and not excluded.is_pending


def test_links() -> None:
    assert Link("usr-1", 7, LinkStatus.LINKED, datetime(2026, 11, 29)).is_linked
    assert not Link("usr-1", None, LinkStatus.LINKED).is_linked
    assert not Link("usr-1", 7, LinkStatus.UNLINKED).is_linked
