"""Test helpers: a small mutable roster ("world") with the roster events of membership-rules.md,
the seed's demo school, and registry edits made by hand (manual adds, exclusions, subject
chats)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from sferum_desktop.domain import (
    Chat,
    ChatKey,
    ChatType,
    MemberRole,
    MemberSource,
    Person,
    Plan,
    RegistryChat,
    RegistryMember,
    RegistryState,
    Role,
    RosterSnapshot,
    SchoolClass,
    SferumState,
    TeachingGroup,
    Thresholds,
    apply_in_memory,
    plan,
)

SCHOOL = "org-001"


@dataclass
class World:
    """A roster as a school's ESh holds it, changed by roster events."""

    schools: list[str] = field(default_factory=lambda: [SCHOOL])
    people: dict[str, Person] = field(default_factory=dict)
    classes: dict[str, SchoolClass] = field(default_factory=dict)
    groups: dict[str, TeachingGroup] = field(default_factory=dict)
    staff: set[tuple[str, str]] = field(default_factory=set)  # (school, person)
    district_staff: set[tuple[str, str]] = field(default_factory=set)
    homeroom: dict[str, str] = field(default_factory=dict)  # student -> class
    in_group: set[tuple[str, str]] = field(default_factory=set)  # (student, group)
    teaches: set[tuple[str, str]] = field(default_factory=set)  # (teacher, group or class)
    guard: set[tuple[str, str]] = field(default_factory=set)  # (parent, student)
    links: dict[str, int] = field(default_factory=dict)
    admins: dict[str, list[str]] = field(default_factory=dict)

    def copy(self) -> World:
        return copy.deepcopy(self)

    def snapshot(self) -> RosterSnapshot:
        return RosterSnapshot.build(
            schools=self.schools,
            people=self.people.values(),
            classes=self.classes.values(),
            groups=self.groups.values(),
            staff=self.staff,
            district_staff=self.district_staff,
            enrolments=[*((s, c) for s, c in self.homeroom.items()), *self.in_group],
            teaching=self.teaches,
            guardianships=self.guard,
            links=self.links,
            sferum_admins=self.admins,
        )

    # --- people, classes, groups ---

    def person(self, pid: str, family: str, given: str, role: Role, blocked: bool = False) -> str:
        self.people[pid] = Person(pid, family, given, None, frozenset({role}), blocked)
        return pid

    def klass(self, cid: str, title: str, school: str = SCHOOL) -> str:
        self.classes[cid] = SchoolClass(cid, school, title)
        return cid

    def group(
        self, gid: str, class_id: str, subject: str, subgroup: str | None = None
    ) -> TeachingGroup:
        klass = self.classes[class_id]
        group = TeachingGroup(gid, klass.school_id, class_id, klass.title, subject, subgroup)
        self.groups[gid] = group
        return group

    # --- roster events ---

    def enrol(self, student: str, class_id: str, groups: tuple[str, ...] = ()) -> None:
        self.homeroom[student] = class_id
        self.in_group |= {(student, g) for g in groups}

    def expel(self, student: str) -> None:
        self.homeroom.pop(student, None)
        self.in_group = {(s, g) for s, g in self.in_group if s != student}

    def transfer(self, student: str, class_id: str, groups: tuple[str, ...] = ()) -> None:
        self.expel(student)
        self.enrol(student, class_id, groups)

    def hire(self, pid: str, school: str = SCHOOL) -> None:
        self.staff.add((school, pid))

    def dismiss(self, pid: str, school: str = SCHOOL) -> None:
        self.staff.discard((school, pid))
        self.teaches = {
            (t, ref) for t, ref in self.teaches if t != pid or self._school_of(ref) != school
        }

    def _school_of(self, ref: str) -> str:
        if ref in self.classes:
            return self.classes[ref].school_id
        return self.groups[ref].school_id

    def assign(self, teacher: str, ref: str) -> None:
        self.teaches.add((teacher, ref))

    def unassign(self, teacher: str, ref: str) -> None:
        self.teaches.discard((teacher, ref))

    def block(self, pid: str, blocked: bool = True) -> None:
        self.people[pid] = replace(self.people[pid], blocked=blocked)

    def link(self, pid: str, vk: int) -> None:
        self.links[pid] = vk

    def unlink(self, pid: str) -> None:
        self.links.pop(pid, None)


# --- the seed's school ----------------------------------------------------------------------------

# VK ids: staff 100+, students 200+, parents 300+.
RUS_1A = "grp-1a-rus"
RUS_1A_INDIVIDUAL = "grp-1a-rus-ind"
MATH_3A = "grp-3a-math"
ENG_2A_1 = "grp-2a-eng-1"


def seed_school() -> World:
    """The seed's school: three classes, thirteen staff, Павлова the Sferum administrator.

    As in the sandbox's `demo`: Фролов В. А. is the father of Фролова Анна (1А) and Фролов
    Максим (3А); the 1А students are not linked; Павлова teaches «1А - Русский язык».
    """
    w = World()
    staff = [
        ("pavlova", "Павлова", "Елена", True),
        ("smirnova", "Смирнова", "Ольга", True),
        ("morozova", "Морозова", "Татьяна", True),
        ("belova", "Белова", "Анастасия", True),
        ("zaitsev", "Зайцев", "Игорь", True),
        ("gromov", "Громов", "Сергей", True),
        ("kuznetsov", "Кузнецов", "Андрей", True),
        ("orlova", "Орлова", "Марина", True),
        ("nikitina", "Никитина", "Светлана", False),
        ("kovaleva", "Ковалёва", "Ирина", False),
        ("tikhonov", "Тихонов", "Дмитрий", True),
        ("egorova", "Егорова", "Наталья", False),
        ("sobolev", "Соболев", "Алексей", False),
    ]
    for i, (pid, family, given, linked) in enumerate(staff):
        w.person(pid, family, given, Role.TEACHER)
        w.hire(pid)
        if linked:
            w.link(pid, 100 + i)
    w.people["pavlova"] = replace(w.people["pavlova"], roles=frozenset({Role.TEACHER, Role.ADMIN}))
    w.admins[SCHOOL] = ["pavlova"]
    w.klass("cls-1a", "1А")
    w.klass("cls-2a", "2А")
    w.klass("cls-3a", "3А")
    w.assign("pavlova", "cls-1a")
    w.assign("smirnova", "cls-2a")
    w.assign("morozova", "cls-3a")
    w.group(RUS_1A, "cls-1a", "Русский язык")
    w.group(RUS_1A_INDIVIDUAL, "cls-1a", "Русский язык", "индивидуальное обучение")
    w.group(MATH_3A, "cls-3a", "Математика")
    w.group(ENG_2A_1, "cls-2a", "Английский язык", "1 группа")
    w.assign("pavlova", RUS_1A)
    w.assign("pavlova", RUS_1A_INDIVIDUAL)
    w.assign("morozova", MATH_3A)
    w.assign("belova", ENG_2A_1)
    students = [
        ("artemov", "Артемов", "Павел", "cls-1a", None, (RUS_1A,)),
        ("leonidov", "Леонидов", "Павел", "cls-1a", None, (RUS_1A,)),
        ("frolova", "Фролова", "Анна", "cls-1a", None, (RUS_1A,)),
        ("vavilova", "Вавилова", "Мария", "cls-1a", None, (RUS_1A_INDIVIDUAL,)),
        ("kirillova", "Кириллова", "София", "cls-2a", 204, (ENG_2A_1,)),
        ("sokolov", "Соколов", "Михаил", "cls-2a", None, ()),
        ("frolov_m", "Фролов", "Максим", "cls-3a", 206, (MATH_3A,)),
        ("solovyova", "Соловьёва", "Дарья", "cls-3a", None, (MATH_3A,)),
    ]
    for pid, family, given, class_id, vk, groups in students:
        w.person(pid, family, given, Role.STUDENT)
        w.enrol(pid, class_id, groups)
        if vk is not None:
            w.link(pid, vk)
    parents = [
        ("artemova_n", "Артемова", "Наталья", ("artemov",), None),
        ("frolov_v", "Фролов", "Виктор", ("frolova", "frolov_m"), 301),
        ("kirillova_y", "Кириллова", "Юлия", ("kirillova",), 302),
        ("sokolov_o", "Соколов", "Олег", ("sokolov",), None),
        ("lebedeva_g", "Лебедева", "Галина", ("solovyova",), None),
    ]
    for pid, family, given, children, vk in parents:
        w.person(pid, family, given, Role.PARENT)
        w.guard |= {(pid, child) for child in children}
        if vk is not None:
            w.link(pid, vk)
    return w


# --- registry and Sferum ------------------------------------------------------------------------

NO_HOLD = Thresholds(chat_fraction=1, total_fraction=1)


@dataclass
class State:
    """The registry and Sferum as the last sync left them."""

    registry: RegistryState
    sferum: SferumState

    def sync(self, snapshot: RosterSnapshot, **kwargs: object) -> Plan:
        """Plan, apply (confirmed), and return the plan."""
        result = plan(snapshot, self.registry, self.sferum, confirm_held=True, **kwargs)  # type: ignore[arg-type]
        self.registry, self.sferum = apply_in_memory(result, self.registry, self.sferum)
        return result

    def chat(self, key: ChatKey) -> RegistryChat:
        item = self.registry.get(key)
        assert item is not None, f"no registry chat {key}"
        return item

    def members(self, key: ChatKey) -> dict[str, MemberRole]:
        """Active registry members of a chat, by person."""
        return {p: m.role_in_chat for p, m in self.chat(key).members.items() if not m.excluded}

    def vk(self, key: ChatKey) -> frozenset[int]:
        """The Sferum chat's members."""
        sferum_id = self.chat(key).chat.sferum_chat_id
        assert sferum_id is not None
        return self.sferum.members_of(sferum_id)

    def owner(self, key: ChatKey) -> int | None:
        sferum_id = self.chat(key).chat.sferum_chat_id
        assert sferum_id is not None
        return self.sferum.owner_of(sferum_id)

    def edit(self, key: ChatKey, item: RegistryChat) -> None:
        self.registry = self.registry.replace({key: item})

    def add_chat(self, chat: Chat, *members: RegistryMember) -> ChatKey:
        """A chat made by hand (subject or custom), with the members the dialog put in."""
        new_id = 1 + max((c.chat.id or 0 for c in self.registry.chats.values()), default=0)
        chat = replace(chat, id=new_id)
        items = [replace(m, chat_id=new_id) for m in members]
        state = RegistryState.of([*self.registry.chats.values(), RegistryChat.of(chat, items)])
        self.registry = state
        key = next(k for k, c in state.chats.items() if c.chat.id == new_id)
        return key

    def add_manual(self, key: ChatKey, pid: str, role: MemberRole) -> None:
        """«Добавить» in the dialog: a manual member (clears an exclusion)."""
        item = self.chat(key)
        assert item.chat.id is not None
        members = dict(item.members)
        members[pid] = RegistryMember(item.chat.id, pid, role, MemberSource.MANUAL)
        self.edit(key, RegistryChat(item.chat, members))

    def remove_by_hand(self, key: ChatKey, pid: str) -> None:
        """«Удалить» in the dialog: a rule member becomes an exclusion, a manual one goes."""
        item = self.chat(key)
        members = dict(item.members)
        member = members[pid]
        if member.source is MemberSource.RULE:
            members[pid] = replace(member, excluded=True)
        else:
            del members[pid]
        self.edit(key, RegistryChat(item.chat, members))


def empty_state() -> State:
    return State(RegistryState(), SferumState())


def synced(world: World) -> State:
    """The registry and Sferum after a first sync of the world."""
    state = empty_state()
    state.sync(world.snapshot())
    return state


def subject_chat(world: World, group_id: str, admin: str = "pavlova") -> Chat:
    group = world.groups[group_id]
    return Chat(
        None,
        group.school_id,
        group.chat_name,
        ChatType.SUBJECT,
        class_id=group.class_id,
        group_id=group.id,
        subject=group.subject,
        admin_person_id=admin,
    )


def rule_member(pid: str, role: MemberRole) -> RegistryMember:
    return RegistryMember(0, pid, role, MemberSource.RULE)


def manual_member(pid: str, role: MemberRole) -> RegistryMember:
    return RegistryMember(0, pid, role, MemberSource.MANUAL)
