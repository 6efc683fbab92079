"""The plan's shape: order, determinism, Sferum chats, owners, strays, summary, serialization,
scope (archived chats, other schools) and delta planning."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from domain_world import (
    MATH_3A,
    RUS_1A,
    SCHOOL,
    World,
    empty_state,
    rule_member,
    seed_school,
    subject_chat,
    synced,
)

from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    Chat,
    ChatKey,
    ChatStatus,
    ChatType,
    CreateRegistryChat,
    CreateSferumChat,
    EventIndex,
    MemberRole,
    MemberSource,
    Plan,
    Reason,
    RegistryChat,
    RegistryState,
    RemoveRegistryMember,
    RemoveSferumMember,
    Role,
    SferumState,
    apply_in_memory,
    derive_events,
    operation_from_dict,
    plan,
    summary,
    touched_chats,
)
from sferum_desktop.domain.plan import OPERATION_TYPES, operation_order

STAFF, STUDENT = MemberRole.STAFF, MemberRole.STUDENT
CLASS_1A, PARENTS_1A = ChatKey.klass(SCHOOL, "cls-1a"), ChatKey.parents(SCHOOL, "cls-1a")
STAFF_CHAT = ChatKey.staff(SCHOOL)


def test_operations_come_in_phases_each_sorted_by_chat_and_person() -> None:
    world = seed_school()
    state = synced(world)
    state.add_chat(subject_chat(world, RUS_1A))
    world.transfer("kirillova", "cls-3a")
    world.klass("cls-4a", "4А")
    result = plan(world.snapshot(), state.registry, state.sferum)
    phases = [type(op) for op in result.operations]
    order = [
        CreateRegistryChat,
        RemoveRegistryMember,
        AddRegistryMember,
        CreateSferumChat,
        RemoveSferumMember,
        AddSferumMember,
    ]
    assert phases == sorted(phases, key=order.index)
    assert list(result.operations) == sorted(result.operations, key=operation_order)
    # Registry chats before their members, Sferum chats before their members.
    first = {type(op): i for i, op in reversed(list(enumerate(result.operations)))}
    assert first[CreateRegistryChat] < first[AddRegistryMember]
    assert first[CreateSferumChat] < first[AddSferumMember]


def test_plans_are_deterministic_whatever_order_the_roster_came_in() -> None:
    world = seed_school()
    shuffled = world.copy()
    rng = random.Random(7)
    items = list(shuffled.people.items())
    rng.shuffle(items)
    shuffled.people = dict(items)
    classes = list(shuffled.classes.items())
    rng.shuffle(classes)
    shuffled.classes = dict(classes)
    a = plan(world.snapshot(), empty_state().registry, empty_state().sferum)
    b = plan(shuffled.snapshot(), empty_state().registry, empty_state().sferum)
    assert a.operations == b.operations and a.pending == b.pending


def test_registry_chat_without_sferum_chat_gets_one_then_its_members() -> None:
    world = seed_school()
    chat = Chat(7, SCHOOL, "Учительская", ChatType.STAFF, admin_person_id="pavlova")
    members = [
        replace(rule_member(p, STAFF), chat_id=7)
        for p in world.people
        if (SCHOOL, p) in world.staff
    ]
    registry = RegistryState.of([RegistryChat.of(chat, members)])
    result = plan(world.snapshot(), registry, SferumState(), only_chats=[STAFF_CHAT])
    assert [type(op) for op in result.operations][:1] == [CreateSferumChat]
    create = result.operations[0]
    assert isinstance(create, CreateSferumChat)
    assert (create.title, create.chat_id, create.admin_vk_user_id) == ("Учительская", 7, 100)
    adds = [op for op in result.operations if isinstance(op, AddSferumMember)]
    assert {op.sferum_chat_id for op in adds} == {None}  # known once the chat is made
    assert len(adds) == 9  # the 9 linked staff members
    registry, sferum = apply_in_memory(result, registry, SferumState())
    sferum_id = registry.chats[STAFF_CHAT].chat.sferum_chat_id
    assert sferum_id is not None and len(sferum.members_of(sferum_id)) == 9


def test_owner_is_never_removed_and_strays_are() -> None:
    world = seed_school()
    state = synced(world)
    sferum_id = state.chat(CLASS_1A).chat.sferum_chat_id
    assert sferum_id is not None
    owner = state.owner(CLASS_1A)
    assert owner == 100
    # Someone added by hand in Sferum (not in the registry), and a linked person not in it.
    members = dict(state.sferum.members)
    members[sferum_id] = members[sferum_id] | {999, 301}
    state.sferum = SferumState(members, state.sferum.owners)
    world.unassign("pavlova", "cls-1a")  # the owner is no longer a registry member
    result = plan(world.snapshot(), state.registry, state.sferum)
    removals = {
        (op.vk_user_id, op.person_id, op.reason)
        for op in result.operations
        if isinstance(op, RemoveSferumMember) and op.chat_key == CLASS_1A
    }
    assert removals == {(999, None, Reason.UNLINKED), (301, "frolov_v", Reason.RULE)}
    assert (
        RemoveRegistryMember(CLASS_1A, "pavlova", Reason.UNASSIGNED, state.chat(CLASS_1A).chat.id)
        in result.operations
    )


def test_known_sferum_chat_missing_from_sferum_state_is_filled() -> None:
    world = seed_school()
    state = synced(world)
    sferum_id = state.chat(CLASS_1A).chat.sferum_chat_id
    assert sferum_id is not None
    members = dict(state.sferum.members)
    del members[sferum_id]
    result = plan(world.snapshot(), state.registry, SferumState(members, state.sferum.owners))
    assert [(type(op), op.sferum_chat_id) for op in result.operations] == [
        (AddSferumMember, sferum_id)
    ]


def test_summary_has_the_cli_json_shape() -> None:
    world = seed_school()
    result = plan(world.snapshot(), empty_state().registry, empty_state().sferum)
    counts = summary(result)
    assert set(counts) == {"create_chats", "add", "remove", "pending", "held"}
    assert counts["create_chats"] == 14  # 7 registry chats and their 7 Sferum chats
    assert counts["remove"] == 0 and counts["held"] == 0
    registry_adds = sum(isinstance(op, AddRegistryMember) for op in result.operations)
    sferum_adds = sum(isinstance(op, AddSferumMember) for op in result.operations)
    assert counts["add"] == registry_adds + sferum_adds
    unlinked = {p for p in world.people if p not in world.links}
    assert counts["pending"] == len(unlinked)
    detailed = summary(result, detailed=True)
    assert detailed["add_registry_member"] == registry_adds
    assert detailed["pending_memberships"] == len(result.pending)
    assert Plan().summary() == dict.fromkeys(counts, 0)


def test_by_chat_groups_the_plan_for_the_view() -> None:
    world = seed_school()
    result = plan(world.snapshot(), empty_state().registry, empty_state().sferum)
    grouped = result.by_chat()
    assert list(grouped) == sorted(grouped)
    class_1a = grouped[CLASS_1A]
    assert class_1a.count(AddRegistryMember) == 5
    assert class_1a.count(AddSferumMember) == 1  # only Павлова is linked
    assert set(class_1a.pending) == {"artemov", "leonidov", "frolova", "vavilova"}


@pytest.mark.parametrize("op_type", OPERATION_TYPES)
def test_operations_serialize_for_the_journal(op_type: type) -> None:
    world = seed_school()
    state = synced(world)
    state.add_chat(subject_chat(world, MATH_3A, "morozova"))
    world.transfer("kirillova", "cls-3a")
    world.klass("cls-4a", "4А")
    world.unlink("frolov_v")
    result = plan(world.snapshot(), state.registry, state.sferum)
    ops = [op for op in result.operations if isinstance(op, op_type)]
    assert ops, op_type
    for op in ops:
        data = op.as_dict()
        assert data["op"] == op.kind
        assert operation_from_dict(data) == op
        assert op.op_id.startswith(f"{op.kind}:{op.chat_key}")
    assert len({op.op_id for op in ops}) == len(ops)


# --- scope --------------------------------------------------------------------------------------


def test_archived_chats_and_other_schools_chats_are_left_alone() -> None:
    world = seed_school()
    state = synced(world)
    archived = replace(state.chat(CLASS_1A).chat, status=ChatStatus.ARCHIVED)
    state.edit(CLASS_1A, RegistryChat(archived, state.chat(CLASS_1A).members))
    other = Chat(50, "org-999", "Учительская", ChatType.STAFF)
    state.registry = RegistryState.of(
        [*state.registry.chats.values(), RegistryChat.of(other, [rule_member("x", STAFF)])]
    )
    world.expel("artemov")
    result = plan(world.snapshot(), state.registry, state.sferum)
    touched = {op.chat_key for op in result.operations}
    assert CLASS_1A not in touched  # archived: as it is, and not created anew
    assert ChatKey.staff("org-999") not in touched
    assert touched == {PARENTS_1A}


def test_duplicate_registry_chats_are_both_kept_in_step() -> None:
    world = seed_school()
    state = synced(world)
    dup = replace(state.chat(CLASS_1A).chat, id=77, sferum_chat_id=None)
    state.registry = RegistryState.of([*state.registry.chats.values(), RegistryChat.of(dup)])
    dup_key = ChatKey(SCHOOL, ChatType.CLASS, "cls-1a#77")
    assert state.registry.get(dup_key) is not None
    result = state.sync(world.snapshot())
    assert {op.chat_key for op in result.operations} == {dup_key}
    assert state.members(dup_key) == state.members(CLASS_1A)


# --- delta planning -----------------------------------------------------------------------------


def test_delta_plan_of_touched_chats_equals_the_full_plan() -> None:
    world = seed_school()
    state = synced(world)
    state.add_chat(subject_chat(world, MATH_3A, "morozova"))
    state.sync(world.snapshot())
    old = world.snapshot()
    world.transfer("kirillova", "cls-3a", (MATH_3A,))
    world.expel("frolova")
    world.person("nova", "Новая", "Анна", Role.TEACHER)
    world.hire("nova")
    world.link("nova", 170)
    world.link("leonidov", 202)
    world.block("gromov")
    world.klass("cls-4a", "4А")
    new = world.snapshot()
    events = derive_events(old, new)
    people = {e.person_id for e in events}
    keys = touched_chats(old, new, state.registry, people)
    index = EventIndex.of(events, old, new)
    full = plan(new, state.registry, state.sferum, events=index)
    delta = plan(new, state.registry, state.sferum, only_chats=keys, events=index)
    assert delta.operations == full.operations
    assert delta.held == full.held
    assert keys == touched_chats(old, new, state.registry)  # people found by comparing


def test_delta_plan_of_no_chats_is_empty() -> None:
    world = seed_school()
    state = synced(world)
    assert plan(world.snapshot(), state.registry, state.sferum, only_chats=()).is_empty


def test_rule_members_of_a_new_automatic_chat_in_a_school_without_staff_chat_admin() -> None:
    world = World()
    world.klass("c1", "1А")
    result = plan(world.snapshot(), empty_state().registry, empty_state().sferum)
    created = [op for op in result.operations if isinstance(op, CreateRegistryChat)]
    assert {op.chat.admin_person_id for op in created} == {None}
    sferum = [op for op in result.operations if isinstance(op, CreateSferumChat)]
    assert {op.admin_vk_user_id for op in sferum} == {None}


def test_delta_includes_the_parents_manual_chats_when_their_last_child_leaves() -> None:
    world = seed_school()
    state = synced(world)
    custom = state.add_chat(
        Chat(None, SCHOOL, "Совет родителей", ChatType.CUSTOM, admin_person_id="orlova"),
        replace(rule_member("frolov_v", MemberRole.PARENT), source=MemberSource.MANUAL),
    )
    state.sync(world.snapshot())
    old = world.snapshot()
    world.expel("frolova")
    world.expel("frolov_m")
    new = world.snapshot()
    keys = touched_chats(old, new, state.registry, ["frolova", "frolov_m"])  # the delta's ids
    assert custom in keys
    delta = plan(new, state.registry, state.sferum, only_chats=keys)
    assert delta.operations == plan(new, state.registry, state.sferum).operations
