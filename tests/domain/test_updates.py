"""membership-rules.md «Automatic updates»: each roster event and what it does to the chats."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from domain_world import (
    ENG_2A_1,
    MATH_3A,
    RUS_1A,
    SCHOOL,
    State,
    World,
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
    EventIndex,
    MemberRole,
    Plan,
    Reason,
    RemoveRegistryMember,
    RemoveSferumMember,
    Role,
    derive_events,
)

STAFF, STUDENT, PARENT = MemberRole.STAFF, MemberRole.STUDENT, MemberRole.PARENT
STAFF_CHAT = ChatKey.staff(SCHOOL)
CLASS_1A, PARENTS_1A = ChatKey.klass(SCHOOL, "cls-1a"), ChatKey.parents(SCHOOL, "cls-1a")
CLASS_2A, PARENTS_2A = ChatKey.klass(SCHOOL, "cls-2a"), ChatKey.parents(SCHOOL, "cls-2a")
CLASS_3A, PARENTS_3A = ChatKey.klass(SCHOOL, "cls-3a"), ChatKey.parents(SCHOOL, "cls-3a")
SUBJ_RUS_1A = ChatKey.subject(SCHOOL, RUS_1A)
SUBJ_MATH_3A = ChatKey.subject(SCHOOL, MATH_3A)
SUBJ_ENG_2A = ChatKey.subject(SCHOOL, ENG_2A_1)

Op = tuple[str, ChatKey, str | int | None, Reason]


def school_with_chats() -> tuple[World, State, ChatKey]:
    """The seed's school after a first sync, with three subject chats and a custom chat."""
    world = seed_school()
    state = synced(world)
    for group, admin in ((RUS_1A, "pavlova"), (MATH_3A, "morozova"), (ENG_2A_1, "belova")):
        state.add_chat(subject_chat(world, group, admin))
    custom = state.add_chat(
        Chat(None, SCHOOL, "Школьный театр", ChatType.CUSTOM, admin_person_id="orlova"),
        manual_member("orlova", STAFF),
        manual_member("belova", STAFF),
        manual_member("frolova", STUDENT),
        manual_member("kirillova", STUDENT),
        manual_member("frolov_v", PARENT),
    )
    state.sync(world.snapshot())
    return world, state, custom


def event_sync(world: World, state: State, change: Callable[[World], None]) -> Plan:
    """Apply a roster event to the world, then sync with the derived events as reasons."""
    old = world.snapshot()
    change(world)
    new = world.snapshot()
    events = EventIndex.of(derive_events(old, new), old, new)
    return state.sync(new, events=events)


def registry_ops(result: Plan) -> set[Op]:
    return {
        (type(op).__name__, op.chat_key, op.person_id, op.reason)
        for op in result.operations
        if isinstance(op, (AddRegistryMember, RemoveRegistryMember))
    }


def sferum_ops(result: Plan) -> set[Op]:
    return {
        (type(op).__name__, op.chat_key, op.vk_user_id, op.reason)
        for op in result.operations
        if isinstance(op, (AddSferumMember, RemoveSferumMember))
    }


ADD, REMOVE = "AddRegistryMember", "RemoveRegistryMember"
SF_ADD, SF_REMOVE = "AddSferumMember", "RemoveSferumMember"


# --- зачисление ---------------------------------------------------------------------------------


def test_enrolled_student_joins_class_and_group_chats_and_parents_join_parents_chat() -> None:
    world, state, _ = school_with_chats()

    def enrol(w: World) -> None:
        w.person("novikov", "Новиков", "Иван", Role.STUDENT)
        w.person("novikova", "Новикова", "Ольга", Role.PARENT)
        w.guard.add(("novikova", "novikov"))
        w.link("novikov", 210)
        w.link("novikova", 310)
        w.enrol("novikov", "cls-1a", (RUS_1A,))

    result = event_sync(world, state, enrol)
    e = Reason.ENROLLED
    assert registry_ops(result) == {
        (ADD, CLASS_1A, "novikov", e),
        (ADD, SUBJ_RUS_1A, "novikov", e),
        (ADD, PARENTS_1A, "novikova", e),
    }
    assert sferum_ops(result) == {
        (SF_ADD, CLASS_1A, 210, e),
        (SF_ADD, SUBJ_RUS_1A, 210, e),
        (SF_ADD, PARENTS_1A, 310, e),
    }
    assert state.members(CLASS_1A)["novikov"] is STUDENT
    assert state.members(PARENTS_1A)["novikova"] is PARENT


def test_enrolled_student_of_a_known_parent_does_not_add_the_parent_twice() -> None:
    world, state, _ = school_with_chats()

    def enrol(w: World) -> None:
        w.person("frolov_k", "Фролов", "Кирилл", Role.STUDENT)
        w.guard.add(("frolov_v", "frolov_k"))
        w.enrol("frolov_k", "cls-3a")

    result = event_sync(world, state, enrol)
    assert registry_ops(result) == {(ADD, CLASS_3A, "frolov_k", Reason.ENROLLED)}
    assert sferum_ops(result) == set()  # Кирилл is not linked; his father already there


# --- отчисление ---------------------------------------------------------------------------------


def test_expelled_student_leaves_every_class_and_subject_chat_of_the_school() -> None:
    world, state, _ = school_with_chats()
    result = event_sync(world, state, lambda w: w.expel("frolov_m"))
    x = Reason.EXPELLED
    assert registry_ops(result) == {
        (REMOVE, CLASS_3A, "frolov_m", x),
        (REMOVE, SUBJ_MATH_3A, "frolov_m", x),
        (REMOVE, PARENTS_3A, "frolov_v", x),  # no child of his is left in 3А …
    }
    assert sferum_ops(result) == {
        (SF_REMOVE, CLASS_3A, 206, x),
        (SF_REMOVE, SUBJ_MATH_3A, 206, x),
        (SF_REMOVE, PARENTS_3A, 301, x),
    }
    assert "frolov_v" in state.members(PARENTS_1A)  # … but Анна is still in 1А
    assert "frolov_m" not in state.members(CLASS_3A)


def test_expelled_student_takes_their_parent_out_of_that_class_parents_chat_only() -> None:
    world, state, custom = school_with_chats()
    result = event_sync(world, state, lambda w: w.expel("frolova"))
    x = Reason.EXPELLED
    assert registry_ops(result) == {
        (REMOVE, CLASS_1A, "frolova", x),
        (REMOVE, SUBJ_RUS_1A, "frolova", x),
        (REMOVE, custom, "frolova", x),  # added by hand, but she left the school
        (REMOVE, PARENTS_1A, "frolov_v", x),  # no child of his remains in 1А
    }
    # Фролова was not linked; her father (301) leaves the Sferum chat of «1 А Родители».
    assert sferum_ops(result) == {(SF_REMOVE, PARENTS_1A, 301, x)}
    # Максим is still in 3А: his father stays in «3 А Родители», and in the custom chat (by
    # hand, still a parent of the school).
    assert "frolov_v" in state.members(PARENTS_3A)
    assert "frolov_v" in state.members(custom)


def test_parent_stays_while_another_child_remains_in_the_class() -> None:
    world = seed_school()
    world.person("frolov_k", "Фролов", "Кирилл", Role.STUDENT)
    world.guard.add(("frolov_v", "frolov_k"))
    world.enrol("frolov_k", "cls-1a")
    state = synced(world)
    result = event_sync(world, state, lambda w: w.expel("frolova"))
    assert registry_ops(result) == {(REMOVE, CLASS_1A, "frolova", Reason.EXPELLED)}
    assert "frolov_v" in state.members(PARENTS_1A)
    result = event_sync(world, state, lambda w: w.expel("frolov_k"))
    assert (REMOVE, PARENTS_1A, "frolov_v", Reason.EXPELLED) in registry_ops(result)


# --- перевод ------------------------------------------------------------------------------------


def test_transferred_student_leaves_old_class_chats_and_joins_new_ones_parents_likewise() -> None:
    world, state, custom = school_with_chats()
    result = event_sync(world, state, lambda w: w.transfer("kirillova", "cls-3a", (MATH_3A,)))
    t = Reason.TRANSFERRED
    assert registry_ops(result) == {
        (REMOVE, CLASS_2A, "kirillova", t),
        (REMOVE, SUBJ_ENG_2A, "kirillova", t),
        (REMOVE, PARENTS_2A, "kirillova_y", t),
        (ADD, CLASS_3A, "kirillova", t),
        (ADD, SUBJ_MATH_3A, "kirillova", t),
        (ADD, PARENTS_3A, "kirillova_y", t),
    }
    assert sferum_ops(result) == {
        (SF_REMOVE, CLASS_2A, 204, t),
        (SF_REMOVE, SUBJ_ENG_2A, 204, t),
        (SF_REMOVE, PARENTS_2A, 302, t),
        (SF_ADD, CLASS_3A, 204, t),
        (SF_ADD, SUBJ_MATH_3A, 204, t),
        (SF_ADD, PARENTS_3A, 302, t),
    }
    # A transfer within the school keeps her manual memberships.
    assert "kirillova" in state.members(custom)


def test_transfer_to_another_school_also_ends_manual_memberships() -> None:
    world, state, custom = school_with_chats()
    world.schools.append("org-002")
    world.klass("cls-b5", "5Б", school="org-002")
    state.sync(world.snapshot())
    result = event_sync(world, state, lambda w: w.transfer("kirillova", "cls-b5"))
    t = Reason.TRANSFERRED
    assert (REMOVE, custom, "kirillova", t) in registry_ops(result)
    assert (ADD, ChatKey.klass("org-002", "cls-b5"), "kirillova", t) in registry_ops(result)
    assert (ADD, ChatKey.parents("org-002", "cls-b5"), "kirillova_y", t) in registry_ops(result)


# --- трудоустройство / увольнение ---------------------------------------------------------------


def test_hired_staff_join_the_staff_chat() -> None:
    world, state, _ = school_with_chats()

    def hire(w: World) -> None:
        w.person("volkova", "Волкова", "Ирина", Role.TEACHER)
        w.link("volkova", 150)
        w.hire("volkova")

    result = event_sync(world, state, hire)
    assert registry_ops(result) == {(ADD, STAFF_CHAT, "volkova", Reason.HIRED)}
    assert sferum_ops(result) == {(SF_ADD, STAFF_CHAT, 150, Reason.HIRED)}


def test_dismissed_staff_leave_the_staff_chat_and_every_chat_of_the_school() -> None:
    world, state, custom = school_with_chats()
    state.add_manual(CLASS_2A, "belova", STAFF)  # added by hand to a class chat
    state.sync(world.snapshot())
    result = event_sync(world, state, lambda w: w.dismiss("belova"))
    d = Reason.DISMISSED
    assert registry_ops(result) == {
        (REMOVE, STAFF_CHAT, "belova", d),
        (REMOVE, SUBJ_ENG_2A, "belova", d),
        (REMOVE, CLASS_2A, "belova", d),
        (REMOVE, custom, "belova", d),
    }
    # Белова (103) created the English subject chat: its owner stays in it in Sferum.
    assert sferum_ops(result) == {
        (SF_REMOVE, STAFF_CHAT, 103, d),
        (SF_REMOVE, CLASS_2A, 103, d),
        (SF_REMOVE, custom, 103, d),
    }
    assert state.owner(SUBJ_ENG_2A) == 103 and 103 in state.vk(SUBJ_ENG_2A)


def test_dismissed_class_teacher_leaves_class_and_parents_chats() -> None:
    world, state, _ = school_with_chats()
    result = event_sync(world, state, lambda w: w.dismiss("morozova"))
    removed = {(key, pid) for _, key, pid, _ in registry_ops(result)}
    assert removed == {
        (STAFF_CHAT, "morozova"),
        (CLASS_3A, "morozova"),
        (PARENTS_3A, "morozova"),
        (SUBJ_MATH_3A, "morozova"),
    }
    assert {reason for *_, reason in registry_ops(result)} == {Reason.DISMISSED}


def test_dismissed_staff_member_who_is_a_parent_stays_as_a_parent() -> None:
    world = seed_school()
    world.guard.add(("gromov", "sokolov"))
    state = synced(world)
    result = event_sync(world, state, lambda w: w.dismiss("gromov"))
    assert registry_ops(result) == {(REMOVE, STAFF_CHAT, "gromov", Reason.DISMISSED)}
    assert state.members(PARENTS_2A)["gromov"] is PARENT


# --- a teacher assigned to / removed from a group (ours) ----------------------------------------


def test_teacher_assigned_to_a_group_joins_its_subject_chat() -> None:
    world, state, _ = school_with_chats()
    result = event_sync(world, state, lambda w: w.assign("zaitsev", MATH_3A))
    assert registry_ops(result) == {(ADD, SUBJ_MATH_3A, "zaitsev", Reason.ASSIGNED)}
    assert sferum_ops(result) == {(SF_ADD, SUBJ_MATH_3A, 104, Reason.ASSIGNED)}


def test_teacher_removed_from_a_group_leaves_its_subject_chat() -> None:
    world, state, _ = school_with_chats()
    result = event_sync(world, state, lambda w: w.unassign("pavlova", RUS_1A))
    assert registry_ops(result) == {(REMOVE, SUBJ_RUS_1A, "pavlova", Reason.UNASSIGNED)}
    # Павлова created that chat in Sferum: its owner is not removed from it.
    assert sferum_ops(result) == set()
    assert 100 in state.vk(SUBJ_RUS_1A)


def test_new_class_teacher_joins_class_and_parents_chats() -> None:
    world, state, _ = school_with_chats()
    result = event_sync(world, state, lambda w: w.assign("orlova", "cls-2a"))
    assert registry_ops(result) == {
        (ADD, CLASS_2A, "orlova", Reason.ASSIGNED),
        (ADD, PARENTS_2A, "orlova", Reason.ASSIGNED),
    }


# --- blocked / unblocked (ours) -----------------------------------------------------------------


def test_blocked_person_stays_in_registry_and_leaves_sferum_then_returns() -> None:
    world, state, custom = school_with_chats()
    before = {key: state.members(key) for key in (CLASS_2A, SUBJ_ENG_2A, custom)}
    result = event_sync(world, state, lambda w: w.block("kirillova"))
    assert registry_ops(result) == set()
    b = Reason.BLOCKED
    assert sferum_ops(result) == {
        (SF_REMOVE, CLASS_2A, 204, b),
        (SF_REMOVE, SUBJ_ENG_2A, 204, b),
        (SF_REMOVE, custom, 204, b),
    }
    assert {key: state.members(key) for key in before} == before
    assert result.pending == () or all(p.person_id != "kirillova" for p in result.pending)

    result = event_sync(world, state, lambda w: w.block("kirillova", blocked=False))
    u = Reason.UNBLOCKED
    assert sferum_ops(result) == {
        (SF_ADD, CLASS_2A, 204, u),
        (SF_ADD, SUBJ_ENG_2A, 204, u),
        (SF_ADD, custom, 204, u),
    }


def test_blocked_student_enrolled_is_in_the_registry_but_not_in_sferum() -> None:
    world, state, _ = school_with_chats()

    def enrol(w: World) -> None:
        w.person("blocked_kid", "Блокова", "Вера", Role.STUDENT, blocked=True)
        w.link("blocked_kid", 299)
        w.enrol("blocked_kid", "cls-2a")

    result = event_sync(world, state, enrol)
    assert registry_ops(result) == {(ADD, CLASS_2A, "blocked_kid", Reason.ENROLLED)}
    assert sferum_ops(result) == set()


# --- linked / unlinked --------------------------------------------------------------------------


def test_linking_adds_to_every_sferum_chat_whose_registry_lists_them() -> None:
    world, state, custom = school_with_chats()
    result = event_sync(world, state, lambda w: w.link("frolova", 203))
    assert registry_ops(result) == set()
    li = Reason.LINKED
    assert sferum_ops(result) == {
        (SF_ADD, CLASS_1A, 203, li),
        (SF_ADD, SUBJ_RUS_1A, 203, li),
        (SF_ADD, custom, 203, li),
    }
    assert all(p.person_id != "frolova" for p in result.pending)


def test_unlinking_removes_from_sferum_and_leaves_them_pending() -> None:
    world, state, custom = school_with_chats()
    result = event_sync(world, state, lambda w: w.unlink("frolov_v"))
    assert registry_ops(result) == set()
    un = Reason.UNLINKED
    assert sferum_ops(result) == {
        (SF_REMOVE, PARENTS_1A, 301, un),
        (SF_REMOVE, PARENTS_3A, 301, un),
        (SF_REMOVE, custom, 301, un),
    }
    pending = {p.chat_key for p in result.pending if p.person_id == "frolov_v"}
    assert pending == {PARENTS_1A, PARENTS_3A, custom}
    assert all(
        op.person_id == "frolov_v" for op in result.operations if isinstance(op, RemoveSferumMember)
    )


def test_unlink_reason_without_events_is_read_from_the_state() -> None:
    world, state, _ = school_with_chats()
    world.unlink("frolov_v")
    result = state.sync(world.snapshot())
    assert {op.reason for op in result.operations} == {Reason.UNLINKED}


def test_relinking_to_another_profile_swaps_the_vk_user() -> None:
    world, state, _ = school_with_chats()
    result = event_sync(world, state, lambda w: w.link("kirillova_y", 402))
    assert sferum_ops(result) == {
        (SF_REMOVE, PARENTS_2A, 302, Reason.UNLINKED),
        (SF_ADD, PARENTS_2A, 402, Reason.LINKED),
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda w: w.expel("leonidov"), Reason.EXPELLED),
        (lambda w: w.transfer("leonidov", "cls-2a"), Reason.TRANSFERRED),
        (lambda w: w.dismiss("smirnova"), Reason.DISMISSED),
    ],
)
def test_removal_reasons_are_read_from_the_state_without_events(
    change: Callable[[World], None], reason: Reason
) -> None:
    world, state, _ = school_with_chats()
    change(world)
    result = state.sync(world.snapshot())
    removals = [op for op in result.operations if isinstance(op, RemoveRegistryMember)]
    assert removals and {op.reason for op in removals} == {reason}
