"""The membership rules of membership-rules.md: the desired registry, as pure functions.

- Automatic chats: per school «Учительская»; per active class «3 А» and «3 А Родители».
- Rule members per chat type: staff chat — every employed staff member; class chat — the
  class's students and class teacher(s); parents chat — the parents/guardians of the class's
  students and the class teacher(s); subject chat — the group's students and teacher(s);
  custom chat — none.
- Manual members stay until removed by hand or until the person leaves the school in the
  capacity they were added in (a staff member dismissed, a student expelled, a parent whose
  last child left): then they are removed everywhere.
- Exclusions (rule members removed by hand) are not added back by the rules.
- Blocked people stay in the registry; they are kept out of Sferum by the planner.

The desired registry is a function of the roster snapshot and of the current registry (which
holds the manual members and exclusions, the hand-made subject and custom chats, and the
admins of existing chats) — nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from sferum_desktop.domain.chats import Chat, ChatStatus, ChatType, MemberRole, MemberSource
from sferum_desktop.domain.events import changed_people
from sferum_desktop.domain.naming import (
    STAFF_CHAT_NAME,
    InvalidClassTitle,
    class_chat_name,
    parents_chat_name,
)
from sferum_desktop.domain.registry import ChatKey, RegistryChat, RegistryState
from sferum_desktop.domain.roster import EMPTY, RosterSnapshot

_STAFF, _STUDENT, _PARENT = MemberRole.STAFF, MemberRole.STUDENT, MemberRole.PARENT


# --- automatic chats ----------------------------------------------------------------------------


def automatic_chat_keys(snapshot: RosterSnapshot, school_id: str | None = None) -> list[ChatKey]:
    """The automatic chats the roster calls for: each school's staff chat, and a class chat and
    a parents chat per active class; sorted."""
    schools = sorted(snapshot.schools) if school_id is None else [school_id]
    keys: list[ChatKey] = []
    for school in schools:
        keys.append(ChatKey.staff(school))
        for class_id in snapshot.classes_by_school.get(school, ()):
            keys.append(ChatKey.klass(school, class_id))
            keys.append(ChatKey.parents(school, class_id))
    keys.sort()
    return keys


def school_admin(snapshot: RosterSnapshot, registry: RegistryState, school_id: str) -> str | None:
    """Who administers a new automatic chat of the school: the admin of its staff chat while
    still on the staff, else the school's Sferum administrator (a linked one first)."""
    staff_chat = registry.get(ChatKey.staff(school_id))
    if staff_chat is not None:
        admin = staff_chat.chat.admin_person_id
        if admin is not None and snapshot.is_staff_of(school_id, admin):
            return admin
    admins = snapshot.sferum_admins.get(school_id, ())
    for admin in admins:
        if admin in snapshot.links and not snapshot.is_blocked(admin):
            return admin
    return admins[0] if admins else None


def automatic_chat(
    snapshot: RosterSnapshot, key: ChatKey, admin_person_id: str | None = None
) -> Chat | None:
    """The registry chat to create for an automatic key, or None when the roster has no such
    school or class (or the class title cannot name a chat)."""
    if key.school_id not in snapshot.schools:
        return None
    if key.type is ChatType.STAFF:
        return Chat(
            None, key.school_id, STAFF_CHAT_NAME, ChatType.STAFF, admin_person_id=admin_person_id
        )
    if key.type not in (ChatType.CLASS, ChatType.PARENTS):
        return None
    klass = snapshot.classes.get(key.ref)
    if klass is None or klass.school_id != key.school_id:
        return None
    try:
        name = (
            class_chat_name(klass.title)
            if key.type is ChatType.CLASS
            else parents_chat_name(klass.title)
        )
    except InvalidClassTitle:
        return None
    return Chat(
        None, key.school_id, name, key.type, class_id=klass.id, admin_person_id=admin_person_id
    )


# --- rule members -------------------------------------------------------------------------------


def rule_members(snapshot: RosterSnapshot, chat: Chat) -> dict[str, MemberRole]:
    """The chat's members by rule, with the tab each is on (staff before student before parent
    when a person qualifies twice, e.g. a class teacher who is also a parent in the class)."""
    kind = chat.type
    members: dict[str, MemberRole] = {}
    if kind is ChatType.STAFF:
        return dict.fromkeys(snapshot.staff.get(chat.school_id, EMPTY), _STAFF)
    if kind is ChatType.CLASS or kind is ChatType.PARENTS:
        class_id = chat.class_id
        if class_id is None or snapshot.school_of_class(class_id) != chat.school_id:
            return members
        members = dict.fromkeys(snapshot.class_teachers.get(class_id, EMPTY), _STAFF)
        students = snapshot.class_students.get(class_id, EMPTY)
        if kind is ChatType.CLASS:
            for student in students:
                members.setdefault(student, _STUDENT)
        else:
            guardians = snapshot.guardians
            for student in students:
                for parent in guardians.get(student, EMPTY):
                    members.setdefault(parent, _PARENT)
        return members
    if kind is ChatType.SUBJECT:
        group_id = chat.group_id
        group = snapshot.groups.get(group_id) if group_id is not None else None
        if group is None or group.school_id != chat.school_id:
            return members
        members = dict.fromkeys(snapshot.group_teachers.get(group.id, EMPTY), _STAFF)
        for student in snapshot.group_students.get(group.id, EMPTY):
            members.setdefault(student, _STUDENT)
        return members
    return members  # custom: manual members only


def keeps_manual(
    snapshot: RosterSnapshot, school_id: str, person_id: str, role: MemberRole
) -> bool:
    """Whether a member added by hand stays: until they leave the school in the capacity they
    were added in (dismissed staff, an expelled student, a parent with no child left)."""
    if role is _STAFF:
        return snapshot.is_staff_of(school_id, person_id)
    if role is _STUDENT:
        return snapshot.is_student_of(school_id, person_id)
    return snapshot.is_parent_of(school_id, person_id)


# --- the desired registry -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class DesiredChat:
    """What one registry chat should be: the chat (existing or to create) and its members.

    `members` are the active members after the rules (person -> tab); exclusions are not in
    it, and stay exclusions. `rules` are the rule members before exclusions.
    """

    key: ChatKey
    chat: Chat
    current: RegistryChat | None
    members: Mapping[str, MemberRole]
    rules: Mapping[str, MemberRole]

    @property
    def exists(self) -> bool:
        return self.current is not None

    def is_rule_member(self, person_id: str) -> bool:
        return person_id in self.rules


def desired_chat(
    snapshot: RosterSnapshot, chat: Chat, current: RegistryChat | None, key: ChatKey
) -> DesiredChat:
    """The desired state of one chat: rule members (less exclusions) and the manual members
    who still belong to the school."""
    rules = rule_members(snapshot, chat)
    members: dict[str, MemberRole] = {}
    if current is None:
        members = dict(rules)
    else:
        existing = current.members
        for person_id, role in rules.items():
            member = existing.get(person_id)
            if member is None:
                members[person_id] = role
            elif not member.excluded:
                members[person_id] = member.role_in_chat
        school = chat.school_id
        for person_id, member in existing.items():
            if (
                member.source is MemberSource.MANUAL
                and not member.excluded
                and person_id not in rules
                and keeps_manual(snapshot, school, person_id, member.role_in_chat)
            ):
                members[person_id] = member.role_in_chat
    return DesiredChat(key, chat, current, members, rules)


def _in_scope(snapshot: RosterSnapshot, item: RegistryChat) -> bool:
    """Registry chats the planner keeps: active chats of the snapshot's schools. Archived chats
    and other schools' chats are left as they are."""
    return item.chat.status is ChatStatus.ACTIVE and item.chat.school_id in snapshot.schools


def desired_registry(
    snapshot: RosterSnapshot,
    registry: RegistryState,
    only_chats: Collection[ChatKey] | None = None,
) -> dict[ChatKey, DesiredChat]:
    """The desired state of every chat (or of `only_chats`), sorted by key: the registry's
    active chats of the snapshot's schools, and the automatic chats still to create."""
    if only_chats is None:
        keys: set[ChatKey] = set(registry.chats)
        keys.update(automatic_chat_keys(snapshot))
    else:
        keys = set(only_chats)
    admins: dict[str, str | None] = {}
    desired: dict[ChatKey, DesiredChat] = {}
    for key in sorted(keys):
        current = registry.get(key)
        if current is not None:
            if _in_scope(snapshot, current):
                desired[key] = desired_chat(snapshot, current.chat, current, key)
            continue
        if not key.type.is_automatic:
            continue  # subject and custom chats are made by people, not by the rules
        if key.school_id not in admins:
            admins[key.school_id] = school_admin(snapshot, registry, key.school_id)
        chat = automatic_chat(snapshot, key, admins[key.school_id])
        if chat is not None:
            desired[key] = desired_chat(snapshot, chat, None, key)
    return desired


# --- which chats a roster change touches --------------------------------------------------------


def rule_chat_keys(snapshot: RosterSnapshot, person_id: str) -> Iterator[ChatKey]:
    """Every chat the person is (or would be) a rule member of in this snapshot."""
    for school in snapshot.employers.get(person_id, EMPTY):
        yield ChatKey.staff(school)
    for relation in (snapshot.student_classes, snapshot.teacher_classes):
        for class_id in relation.get(person_id, EMPTY):
            class_school = snapshot.school_of_class(class_id)
            if class_school is not None:
                yield ChatKey.klass(class_school, class_id)
                yield ChatKey.parents(class_school, class_id)
    for relation in (snapshot.student_groups, snapshot.teacher_groups):
        for group_id in relation.get(person_id, EMPTY):
            group = snapshot.groups.get(group_id)
            if group is not None:
                yield ChatKey.subject(group.school_id, group_id)
    for child in snapshot.children.get(person_id, EMPTY):
        for class_id in snapshot.student_classes.get(child, EMPTY):
            child_school = snapshot.school_of_class(class_id)
            if child_school is not None:
                yield ChatKey.parents(child_school, class_id)


def touched_chats(
    old: RosterSnapshot,
    new: RosterSnapshot,
    registry: RegistryState,
    people: Iterable[str] | None = None,
) -> frozenset[ChatKey]:
    """The chats whose desired state may differ between two snapshots: the chats of everyone
    whose facts changed (`people`, or all found by comparing), before and after, with their
    and their parents' registry memberships; and the chats of classes, groups and schools
    that came or went. `people` must name everyone a roster delta touched (a group move
    without a class change has no event, but changes chats).

    Planning only these (`plan(..., only_chats=...)`) gives the same operations as planning
    everything, when the registry was in step with `old`.
    """
    if people is None:
        people = changed_people(old, new)
    keys: set[ChatKey] = set()
    for person_id in people:
        keys.update(rule_chat_keys(old, person_id))
        keys.update(rule_chat_keys(new, person_id))
        keys.update(registry.chats_of_person(person_id))
        # A parent belongs to a school through their children: a child's move can end the
        # parent's manual memberships anywhere in the school.
        for parent in old.guardians.get(person_id, EMPTY) | new.guardians.get(person_id, EMPTY):
            keys.update(registry.chats_of_person(parent))
    if old.classes is not new.classes:
        for class_id in old.classes.keys() ^ new.classes.keys() | {
            c for c, k in new.classes.items() if old.classes.get(c) not in (None, k)
        }:
            klass = new.classes.get(class_id) or old.classes.get(class_id)
            assert klass is not None
            keys.add(ChatKey.klass(klass.school_id, class_id))
            keys.add(ChatKey.parents(klass.school_id, class_id))
    if old.groups is not new.groups:
        for group_id in old.groups.keys() ^ new.groups.keys() | {
            g for g, k in new.groups.items() if old.groups.get(g) not in (None, k)
        }:
            group = new.groups.get(group_id) or old.groups.get(group_id)
            assert group is not None
            keys.add(ChatKey.subject(group.school_id, group_id))
    for school in old.schools ^ new.schools:
        keys.add(ChatKey.staff(school))
        keys.update(k for k in registry.chats if k.school_id == school)
        for snapshot in (old, new):
            for class_id in snapshot.classes_by_school.get(school, ()):
                keys.add(ChatKey.klass(school, class_id))
                keys.add(ChatKey.parents(school, class_id))
    # Registry chats keyed `<ref>#<id>` (duplicates) follow their natural key.
    for key in registry.duplicate_keys():
        if key._replace(ref=key.ref.split("#", 1)[0]) in keys:
            keys.add(key)
    return frozenset(keys)
