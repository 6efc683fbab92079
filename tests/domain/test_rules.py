"""membership-rules.md «Chat types» and «Two levels of membership», and the worked example."""

from __future__ import annotations

from dataclasses import replace

from domain_world import (
    ENG_2A_1,
    MATH_3A,
    RUS_1A,
    SCHOOL,
    empty_state,
    manual_member,
    seed_school,
    subject_chat,
    synced,
)

from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    Chat,
    ChatKey,
    ChatType,
    CreateRegistryChat,
    CreateSferumChat,
    MemberRole,
    MemberSource,
    Reason,
    Role,
    automatic_chat_keys,
    plan,
    rule_members,
)

STAFF, STUDENT, PARENT = MemberRole.STAFF, MemberRole.STUDENT, MemberRole.PARENT
STAFF_CHAT = ChatKey.staff(SCHOOL)
CLASS_1A = ChatKey.klass(SCHOOL, "cls-1a")
PARENTS_1A = ChatKey.parents(SCHOOL, "cls-1a")
CLASS_3A = ChatKey.klass(SCHOOL, "cls-3a")
PARENTS_3A = ChatKey.parents(SCHOOL, "cls-3a")
ALL_STAFF = {
    "pavlova", "smirnova", "morozova", "belova", "zaitsev", "gromov", "kuznetsov", "orlova",
    "nikitina", "kovaleva", "tikhonov", "egorova", "sobolev",
}  # fmt: skip


# --- the automatic chats ----------------------------------------------------------------------


def test_automatic_chats_one_staff_chat_per_school_and_two_chats_per_class() -> None:
    world = seed_school()
    result = plan(world.snapshot(), empty_state().registry, empty_state().sferum)
    created = {
        op.chat_key: op.chat for op in result.operations if isinstance(op, CreateRegistryChat)
    }
    names = {key: chat.name for key, chat in created.items()}
    assert names == {
        STAFF_CHAT: "Учительская",
        CLASS_1A: "1 А",
        PARENTS_1A: "1 А Родители",
        ChatKey.klass(SCHOOL, "cls-2a"): "2 А",
        ChatKey.parents(SCHOOL, "cls-2a"): "2 А Родители",
        CLASS_3A: "3 А",
        PARENTS_3A: "3 А Родители",
    }
    # The seed's registry: all seven chats administered by Павлова, the Sferum administrator.
    assert {chat.admin_person_id for chat in created.values()} == {"pavlova"}
    assert created[CLASS_1A].type is ChatType.CLASS and created[CLASS_1A].class_id == "cls-1a"
    assert created[PARENTS_1A].type is ChatType.PARENTS
    # Subject and custom chats are made by people, never by the rules.
    assert all(chat.type.is_automatic for chat in created.values())
    # Each new registry chat gets its Sferum chat, made by its administrator.
    sferum = [op for op in result.operations if isinstance(op, CreateSferumChat)]
    assert [op.chat_key for op in sferum] == sorted(created)
    assert {(op.admin_person_id, op.admin_vk_user_id) for op in sferum} == {("pavlova", 100)}


def test_automatic_chat_keys_per_school() -> None:
    world = seed_school()
    world.schools.append("org-002")
    world.klass("cls-b1", "5Б", school="org-002")
    keys = automatic_chat_keys(world.snapshot())
    assert ChatKey.staff("org-002") in keys and ChatKey.klass("org-002", "cls-b1") in keys
    assert len(keys) == 2 + 2 * 4
    assert keys == sorted(keys)


def test_a_second_sync_does_not_make_a_chat_twice() -> None:
    world = seed_school()
    state = synced(world)
    assert len(state.registry) == 7
    again = plan(world.snapshot(), state.registry, state.sferum)
    assert again.is_empty


def test_new_class_gets_its_chats_and_admin_falls_back_to_sferum_admin() -> None:
    world = seed_school()
    state = synced(world)
    world.klass("cls-4a", "4 а")
    result = state.sync(world.snapshot())
    names = {op.chat.name for op in result.operations if isinstance(op, CreateRegistryChat)}
    assert names == {"4 А", "4 А Родители"}
    assert state.chat(ChatKey.klass(SCHOOL, "cls-4a")).chat.admin_person_id == "pavlova"


# --- rule members per type --------------------------------------------------------------------


def test_staff_chat_has_every_employed_staff_member() -> None:
    world = seed_school()
    world.block("sobolev")  # blocked staff are still employed: kept in the registry
    world.district_staff.add((SCHOOL, "methodist"))
    world.person("methodist", "Методистова", "Анна", Role.TEACHER)
    state = synced(world)
    assert state.members(STAFF_CHAT) == dict.fromkeys(ALL_STAFF, STAFF)
    # District staff belong to the school but are not its employees.
    assert "methodist" not in state.members(STAFF_CHAT)


def test_class_chat_has_its_students_and_class_teacher() -> None:
    state = synced(seed_school())
    assert state.members(CLASS_1A) == {
        "pavlova": STAFF,
        "artemov": STUDENT,
        "leonidov": STUDENT,
        "frolova": STUDENT,
        "vavilova": STUDENT,
    }  # the seed's «1 А»: 5 members


def test_two_class_teachers_are_both_members() -> None:
    world = seed_school()
    world.assign("orlova", "cls-1a")
    state = synced(world)
    assert state.members(CLASS_1A)["orlova"] is STAFF
    assert state.members(PARENTS_1A)["orlova"] is STAFF


def test_parents_chat_has_parents_and_guardians_of_its_students_and_class_teacher() -> None:
    state = synced(seed_school())
    assert state.members(PARENTS_1A) == {
        "pavlova": STAFF,
        "artemova_n": PARENT,
        "frolov_v": PARENT,
    }  # the seed's «1 А Родители»: 3 members
    assert state.members(PARENTS_3A) == {
        "morozova": STAFF,
        "frolov_v": PARENT,  # father of children in two classes: in both parents chats
        "lebedeva_g": PARENT,  # a guardian (the grandmother)
    }
    # Students are not in the parents chat, nor parents in the class chat.
    assert "frolova" not in state.members(PARENTS_1A)
    assert "frolov_v" not in state.members(CLASS_1A)


def test_class_teacher_who_is_a_parent_in_the_class_is_on_the_staff_tab() -> None:
    world = seed_school()
    world.guard.add(("pavlova", "leonidov"))
    state = synced(world)
    assert state.members(PARENTS_1A)["pavlova"] is STAFF


def test_subject_chat_has_its_group_students_and_teachers() -> None:
    world = seed_school()
    snapshot = world.snapshot()
    chat = replace(subject_chat(world, MATH_3A, admin="morozova"), id=9)
    assert rule_members(snapshot, chat) == {
        "morozova": STAFF,
        "frolov_m": STUDENT,
        "solovyova": STUDENT,
    }
    subgroup = replace(subject_chat(world, ENG_2A_1, admin="belova"), id=10)
    assert subgroup.name == "2А - Английский язык (1 группа)"
    assert rule_members(snapshot, subgroup) == {"belova": STAFF, "kirillova": STUDENT}


def test_subject_chats_are_not_created_automatically() -> None:
    result = plan(seed_school().snapshot(), empty_state().registry, empty_state().sferum)
    assert not any(op.chat_key.type is ChatType.SUBJECT for op in result.operations)


def test_custom_chat_has_only_manual_members() -> None:
    world = seed_school()
    state = synced(world)
    chat = Chat(None, SCHOOL, "Олимпиада по математике", ChatType.CUSTOM, admin_person_id="orlova")
    key = state.add_chat(chat, manual_member("orlova", STAFF), manual_member("frolov_m", STUDENT))
    assert key == ChatKey(SCHOOL, ChatType.CUSTOM, f"#{state.chat(key).chat.id}")
    assert rule_members(world.snapshot(), state.chat(key).chat) == {}
    result = state.sync(world.snapshot())
    assert not any(isinstance(op, AddRegistryMember) for op in result.operations)
    assert state.members(key) == {"orlova": STAFF, "frolov_m": STUDENT}
    assert state.vk(key) == {107, 206}  # both linked (Орлова 107 is also the creator)


def test_role_in_chat_is_the_tab_of_each_member() -> None:
    state = synced(seed_school())
    roles = {
        state.members(key)[pid]
        for key, pid in ((CLASS_1A, "pavlova"), (CLASS_1A, "artemov"), (PARENTS_1A, "frolov_v"))
    }
    assert roles == {STAFF, STUDENT, PARENT}


# --- two levels of membership -----------------------------------------------------------------


def test_sferum_membership_is_linked_unblocked_registry_members_the_rest_pending() -> None:
    world = seed_school()
    world.block("kirillova_y")  # linked (302) but blocked
    snapshot = world.snapshot()
    result = plan(snapshot, empty_state().registry, empty_state().sferum)
    parents_2a = ChatKey.parents(SCHOOL, "cls-2a")
    adds = {
        op.person_id
        for op in result.operations
        if isinstance(op, AddSferumMember) and op.chat_key == parents_2a
    }
    assert adds == {"smirnova"}  # Кириллова Ю. is blocked, Соколов О. not linked
    pending = {p.person_id for p in result.pending if p.chat_key == parents_2a}
    assert pending == {"sokolov_o"}


def test_pending_member_is_added_once_linked() -> None:
    world = seed_school()
    state = synced(world)
    assert 300 not in state.vk(PARENTS_1A)
    world.link("artemova_n", 300)
    result = state.sync(world.snapshot())
    assert [(type(op), op.chat_key) for op in result.operations] == [(AddSferumMember, PARENTS_1A)]
    assert 300 in state.vk(PARENTS_1A)


# --- the worked example ------------------------------------------------------------------------


def test_worked_example_subject_chat_1a_russian() -> None:
    world = seed_school()
    state = synced(world)
    group = world.groups[RUS_1A]
    assert group.label == "Русский язык / 1А"
    chat = subject_chat(world, RUS_1A)
    assert chat.name == "1А - Русский язык"

    # The dialog fills the tabs with the rule members at once.
    rules = rule_members(world.snapshot(), replace(chat, id=99))
    assert rules == {"pavlova": STAFF, "artemov": STUDENT, "leonidov": STUDENT, "frolova": STUDENT}
    # Вавилова is taught individually: not in this group's chat.
    assert "vavilova" not in rules

    # Saved with no members yet: the sync puts the rule members in.
    key = state.add_chat(chat)
    assert key == ChatKey.subject(SCHOOL, RUS_1A)
    result = state.sync(world.snapshot())
    assert {op.person_id for op in result.operations if isinstance(op, AddRegistryMember)} == {
        "pavlova", "artemov", "leonidov", "frolova",
    }  # fmt: skip
    assert all(
        op.source is MemberSource.RULE
        for op in result.operations
        if isinstance(op, AddRegistryMember)
    )
    # The warning lists the three unlinked students: pending.
    assert set(result.by_chat()[key].pending) == {"artemov", "leonidov", "frolova"}
    assert state.members(key) == rules  # the registry chat has 4 members …
    assert state.vk(key) == {100}  # … and the Sferum chat 1: Павлова
    assert state.owner(key) == 100

    # When Фролова links, the next sync adds her to the Sferum chat, and nothing else.
    world.link("frolova", 203)
    result = state.sync(world.snapshot())
    sferum_id = state.chat(key).chat.sferum_chat_id
    assert [op for op in result.operations if op.chat_key == key] == [
        AddSferumMember(key, "frolova", 203, Reason.RULE, sferum_id)
    ]
    assert state.vk(key) == {100, 203}
    assert len(state.members(key)) == 4


def test_worked_example_with_members_prefilled_by_the_dialog() -> None:
    """Saved with the tabs the dialog filled: the sync has only Sferum to do."""
    world = seed_school()
    state = synced(world)
    rules = rule_members(world.snapshot(), replace(subject_chat(world, RUS_1A), id=99))
    key = state.add_chat(
        subject_chat(world, RUS_1A),
        *(
            replace(manual_member(pid, role), source=MemberSource.RULE)
            for pid, role in rules.items()
        ),
    )
    result = state.sync(world.snapshot())
    kinds = sorted(type(op).__name__ for op in result.operations if op.chat_key == key)
    assert kinds == ["AddSferumMember", "CreateSferumChat"]
    assert state.vk(key) == {100}
