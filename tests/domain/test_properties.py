"""Invariants of the rules and the planner over random small schools (hypothesis).

A scenario is a random roster (`old`), a registry and Sferum synced from it (perhaps only in
part, as after a crash), hand edits (subject and custom chats, manual members, exclusions,
strangers added in Sferum), then random roster events (`new`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain_world import State, World, manual_member, subject_chat, synced
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_events import assert_same_snapshot, evolve_to

from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    Chat,
    ChatKey,
    ChatStatus,
    ChatType,
    EventIndex,
    MemberRole,
    MemberSource,
    Operation,
    RegistryState,
    RemoveRegistryMember,
    RemoveSferumMember,
    Role,
    RosterSnapshot,
    SferumState,
    apply_in_memory,
    changed_people,
    derive_events,
    keeps_manual,
    plan,
    rule_members,
    touched_chats,
)

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LETTERS = "АБВ"


# --- random schools -----------------------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> World:
    schools = [f"s{i}" for i in range(draw(st.integers(1, 2)))]
    w = World(schools=schools)
    vk = iter(range(1000, 100_000))
    classes: list[str] = []
    for school in schools:
        for j in range(draw(st.integers(0, 3))):
            classes.append(w.klass(f"{school}c{j}", f"{j + 1}{LETTERS[j % 3]}", school))
    staff = [f"t{i}" for i in range(draw(st.integers(0, 5)))]
    for pid in staff:
        w.person(
            pid, "Учитель", pid, Role.TEACHER, blocked=draw(st.booleans()) and draw(st.booleans())
        )
        for school in draw(st.sets(st.sampled_from(schools), min_size=1)):
            w.hire(pid, school)
    students = [f"k{i}" for i in range(draw(st.integers(0, 10)))]
    for pid in students:
        w.person(pid, "Ученик", pid, Role.STUDENT, blocked=draw(st.integers(0, 9)) == 0)
        if classes and draw(st.integers(0, 5)):
            w.enrol(pid, draw(st.sampled_from(classes)))
    for class_id in classes:
        school = w.classes[class_id].school_id
        local_staff = [t for t in staff if (school, t) in w.staff]
        if local_staff:
            for teacher in draw(st.sets(st.sampled_from(local_staff), max_size=2)):
                w.assign(teacher, class_id)
        kids = [s for s, c in w.homeroom.items() if c == class_id]
        for g in range(draw(st.integers(0, 2))):
            group = w.group(f"{class_id}g{g}", class_id, ("Математика", "Русский язык")[g])
            if kids:
                for kid in draw(st.sets(st.sampled_from(kids))):
                    w.in_group.add((kid, group.id))
            if local_staff:
                for teacher in draw(st.sets(st.sampled_from(local_staff), max_size=2)):
                    w.assign(teacher, group.id)
    parents = [f"p{i}" for i in range(draw(st.integers(0, 7)))]
    for pid in parents:
        w.person(pid, "Родитель", pid, Role.PARENT, blocked=draw(st.integers(0, 9)) == 0)
        if students:
            for child in draw(st.sets(st.sampled_from(students), max_size=3)):
                w.guard.add((pid, child))
    if staff and parents and draw(st.booleans()):
        # A teacher who is also a parent.
        w.guard.add((staff[0], draw(st.sampled_from(students)) if students else "nobody"))
    for pid in w.people:
        if draw(st.integers(0, 2)):
            w.link(pid, next(vk))
    for school in schools:
        local_staff = sorted(t for s, t in w.staff if s == school)
        if local_staff:
            w.admins[school] = [draw(st.sampled_from(local_staff))]
    return w


def roster_event(draw: st.DrawFn, w: World) -> None:
    """One random roster event applied to the world."""
    students = sorted(p for p, x in w.people.items() if Role.STUDENT in x.roles)
    staff = sorted(p for p, x in w.people.items() if Role.TEACHER in x.roles)
    classes = sorted(w.classes)
    groups = sorted(w.groups)
    kind = draw(st.sampled_from([
        "enrol", "expel", "transfer", "hire", "dismiss", "assign", "unassign", "block",
        "unblock", "link", "unlink", "guardian", "unguardian", "new_student", "drop_class",
    ]))  # fmt: skip
    people = sorted(w.people)
    if kind in ("enrol", "transfer") and students and classes:
        kid = draw(st.sampled_from(students))
        target = draw(st.sampled_from(classes))
        own = tuple(g for g in groups if w.groups[g].class_id == target)
        joined = tuple(draw(st.sets(st.sampled_from(own)))) if own else ()
        w.transfer(kid, target, joined)
    elif kind == "new_student" and classes:
        pid = f"n{len(w.people)}"
        w.person(pid, "Новый", pid, Role.STUDENT)
        w.enrol(pid, draw(st.sampled_from(classes)))
        parent = f"np{len(w.people)}"
        w.person(parent, "Родитель", parent, Role.PARENT)
        w.guard.add((parent, pid))
        if draw(st.booleans()):
            w.link(parent, 200_000 + len(w.people))
    elif kind == "expel" and students:
        w.expel(draw(st.sampled_from(students)))
    elif kind == "hire" and people:
        w.hire(draw(st.sampled_from(people)), draw(st.sampled_from(w.schools)))
    elif kind == "dismiss" and staff:
        w.dismiss(draw(st.sampled_from(staff)), draw(st.sampled_from(w.schools)))
    elif kind == "assign" and staff and (groups or classes):
        w.assign(draw(st.sampled_from(staff)), draw(st.sampled_from(groups + classes)))
    elif kind == "unassign" and w.teaches:
        w.unassign(*draw(st.sampled_from(sorted(w.teaches))))
    elif kind in ("block", "unblock") and people:
        w.block(draw(st.sampled_from(people)), blocked=kind == "block")
    elif kind == "link" and people:
        w.link(
            draw(st.sampled_from(people)), 300_000 + draw(st.integers(0, 50)) * 100 + len(w.links)
        )
    elif kind == "unlink" and w.links:
        w.unlink(draw(st.sampled_from(sorted(w.links))))
    elif kind == "guardian" and people and students:
        w.guard.add((draw(st.sampled_from(people)), draw(st.sampled_from(students))))
    elif kind == "unguardian" and w.guard:
        w.guard.discard(draw(st.sampled_from(sorted(w.guard))))
    elif kind == "drop_class" and classes:
        dropped = draw(st.sampled_from(classes))
        for kid in [k for k, c in w.homeroom.items() if c == dropped]:
            w.expel(kid)
    # Links stay one-to-one, as ESh keeps them (409 already_linked).
    seen: dict[int, str] = {}
    for pid, vk in sorted(w.links.items()):
        if vk in seen:
            del w.links[pid]
        else:
            seen[vk] = pid


def hand_edit(draw: st.DrawFn, w: World, state: State) -> None:
    """One random edit made by hand in the registry, or in Sferum directly."""
    kind = draw(st.sampled_from(["subject", "custom", "manual", "exclude", "stray", "archive"]))
    keys = sorted(state.registry.chats)
    snapshot = w.snapshot()
    school_people = {
        school: sorted(p for p in w.people if snapshot.belongs(school, p)) for school in w.schools
    }
    if kind == "subject" and w.groups:
        group = draw(st.sampled_from(sorted(w.groups)))
        if state.registry.get(ChatKey.subject(w.groups[group].school_id, group)) is None:
            chat = replace(subject_chat(w, group), admin_person_id=None)
            if draw(st.booleans()):
                rules = rule_members(snapshot, replace(chat, id=0))
                members = [
                    replace(manual_member(p, r), source=MemberSource.RULE) for p, r in rules.items()
                ]
                state.add_chat(chat, *members)
            else:
                state.add_chat(chat)
    elif kind == "custom":
        school = draw(st.sampled_from(w.schools))
        chat = Chat(None, school, "Кружок", ChatType.CUSTOM)
        people = school_people[school]
        chosen = draw(st.sets(st.sampled_from(people), max_size=3)) if people else set()
        state.add_chat(
            chat, *(manual_member(p, MemberRole.for_role(min(w.people[p].roles))) for p in chosen)
        )
    elif kind == "manual" and keys:
        key = draw(st.sampled_from(keys))
        people = school_people.get(key.school_id, [])
        if people:
            pid = draw(st.sampled_from(people))
            state.add_manual(key, pid, draw(st.sampled_from(list(MemberRole))))
    elif kind == "exclude" and keys:
        key = draw(st.sampled_from(keys))
        members = sorted(state.members(key))
        if members:
            state.remove_by_hand(key, draw(st.sampled_from(members)))
    elif kind == "stray" and keys:
        key = draw(st.sampled_from(keys))
        sferum_id = state.chat(key).chat.sferum_chat_id
        if sferum_id is not None:
            members = dict(state.sferum.members)
            members[sferum_id] = members.get(sferum_id, frozenset()) | {draw(st.integers(1, 5))}
            state.sferum = SferumState(members, state.sferum.owners)
    elif kind == "archive" and keys:
        key = draw(st.sampled_from(keys))
        item = state.chat(key)
        state.edit(key, replace(item, chat=replace(item.chat, status=ChatStatus.ARCHIVED)))


@dataclass
class Scenario:
    old: World
    new: World
    state: State


@st.composite
def scenarios(draw: st.DrawFn, in_step: bool = False) -> Scenario:
    old = draw(worlds())
    state = State(RegistryState(), SferumState())
    first = plan(old.snapshot(), state.registry, state.sferum, confirm_held=True)
    if in_step:
        state.registry, state.sferum = apply_in_memory(first, state.registry, state.sferum)
    else:
        # Perhaps only part of it applied, as when a sync was killed.
        cut = draw(st.integers(0, len(first.operations)))
        state.registry, state.sferum = apply_in_memory(
            first.operations[:cut], state.registry, state.sferum
        )
    for _ in range(draw(st.integers(0, 4))):
        hand_edit(draw, old, state)
    if in_step:
        state.sync(old.snapshot())
    new = old.copy()
    for _ in range(draw(st.integers(0, 4))):
        roster_event(draw, new)
    return Scenario(old, new, state)


# --- helpers ------------------------------------------------------------------------------------


def in_scope(snapshot: RosterSnapshot, registry: RegistryState) -> list[ChatKey]:
    return [
        key
        for key, item in registry.chats.items()
        if item.chat.status is ChatStatus.ACTIVE and item.chat.school_id in snapshot.schools
    ]


def state_view(registry: RegistryState, sferum: SferumState) -> object:
    return (
        {
            key: (
                item.chat,
                {p: (m.role_in_chat, m.source, m.excluded) for p, m in item.members.items()},
            )
            for key, item in registry.chats.items()
        },
        {k: v for k, v in sferum.members.items()},
        dict(sferum.owners),
    )


def op_facts(ops: tuple[Operation, ...]) -> set[tuple[str, ChatKey, object]]:
    facts: set[tuple[str, ChatKey, object]] = set()
    for op in ops:
        if isinstance(op, (AddRegistryMember, RemoveRegistryMember)):
            facts.add((op.kind, op.chat_key, op.person_id))
        elif isinstance(op, (AddSferumMember, RemoveSferumMember)):
            facts.add((op.kind, op.chat_key, op.vk_user_id))
        else:
            facts.add((op.kind, op.chat_key, None))
    return facts


# --- the invariants -----------------------------------------------------------------------------


@SETTINGS
@given(scenarios())
def test_a_plan_applied_then_planned_again_is_empty(s: Scenario) -> None:
    """(a) Convergence in one step."""
    snapshot = s.new.snapshot()
    result = plan(snapshot, s.state.registry, s.state.sferum, confirm_held=True)
    registry, sferum = apply_in_memory(result, s.state.registry, s.state.sferum)
    again = plan(snapshot, registry, sferum)
    assert again.operations == () and again.held == ()


@SETTINGS
@given(scenarios())
def test_applying_the_same_plan_twice_changes_nothing_more(s: Scenario) -> None:
    """(e) Idempotence."""
    snapshot = s.new.snapshot()
    result = plan(snapshot, s.state.registry, s.state.sferum, confirm_held=True)
    once = apply_in_memory(result, s.state.registry, s.state.sferum)
    twice = apply_in_memory(result, *once)
    assert state_view(*twice) == state_view(*once)


@SETTINGS
@given(scenarios())
def test_everyone_in_a_chat_has_a_basis_and_every_rule_member_is_there(s: Scenario) -> None:
    """(b) Nobody is in a chat without a basis (a rule, or a manual add still valid); and
    every rule member is in unless excluded."""
    snapshot = s.new.snapshot()
    result = plan(snapshot, s.state.registry, s.state.sferum, confirm_held=True)
    registry, _ = apply_in_memory(result, s.state.registry, s.state.sferum)
    for key in in_scope(snapshot, registry):
        item = registry.chats[key]
        rules = rule_members(snapshot, item.chat)
        for pid, member in item.members.items():
            if member.excluded:
                continue
            assert pid in rules or (
                member.source is MemberSource.MANUAL
                and keeps_manual(snapshot, key.school_id, pid, member.role_in_chat)
            ), (key, pid)
        for pid in rules:
            assert pid in item.members, (key, pid)  # as a member, or as an exclusion
    # Every automatic chat the roster calls for exists.
    for school in snapshot.schools:
        assert registry.get(ChatKey.staff(school)) is not None
        for class_id in snapshot.classes_by_school.get(school, ()):
            assert registry.get(ChatKey.klass(school, class_id)) is not None
            assert registry.get(ChatKey.parents(school, class_id)) is not None


@SETTINGS
@given(scenarios())
def test_parents_follow_their_children(s: Scenario) -> None:
    """(c) A parents chat holds (by rule) exactly the parents of the class's students."""
    snapshot = s.new.snapshot()
    result = plan(snapshot, s.state.registry, s.state.sferum, confirm_held=True)
    registry, _ = apply_in_memory(result, s.state.registry, s.state.sferum)
    for key in in_scope(snapshot, registry):
        if key.type is not ChatType.PARENTS:
            continue
        item = registry.chats[key]
        class_id = key.ref
        parents = snapshot.parents_in_class(class_id) if class_id in snapshot.classes else set()
        teachers = snapshot.class_teachers.get(class_id, frozenset())
        for pid, member in item.members.items():
            if member.excluded or member.source is MemberSource.MANUAL:
                continue
            has_child_here = any(
                class_id in snapshot.student_classes.get(c, ())
                for c in snapshot.children.get(pid, ())
            )
            assert has_child_here or pid in teachers, (key, pid)
        for pid in parents:
            assert pid in item.members, (key, pid)


@SETTINGS
@given(scenarios())
def test_sferum_holds_only_linked_unblocked_active_members_and_the_owner(s: Scenario) -> None:
    """(f) Sferum membership = registry members linked, unblocked, not excluded (+ owner)."""
    snapshot = s.new.snapshot()
    result = plan(snapshot, s.state.registry, s.state.sferum, confirm_held=True)
    registry, sferum = apply_in_memory(result, s.state.registry, s.state.sferum)
    for key in in_scope(snapshot, registry):
        item = registry.chats[key]
        sferum_id = item.chat.sferum_chat_id
        assert sferum_id is not None, key
        expected = {
            snapshot.links[p]
            for p, m in item.members.items()
            if not m.excluded and p in snapshot.links and not snapshot.is_blocked(p)
        }
        actual = sferum.members_of(sferum_id)
        owner = sferum.owner_of(sferum_id)
        assert actual - {owner} == expected - {owner}, key
        # Pending: the active members who are not linked.
        pending = {p for k, p in result.pending if k == key}
        assert pending == {
            p for p, m in item.members.items() if not m.excluded and p not in snapshot.links
        }


@SETTINGS
@given(scenarios(in_step=True))
def test_delta_plan_equals_full_plan(s: Scenario) -> None:
    """Planning only the touched chats gives the full plan, when the registry was in step."""
    old, new = s.old.snapshot(), s.new.snapshot()
    assert plan(old, s.state.registry, s.state.sferum, confirm_held=True).operations == ()
    events = derive_events(old, new)
    index = EventIndex.of(events, old, new)
    keys = touched_chats(old, new, s.state.registry, changed_people(old, new))
    full = plan(new, s.state.registry, s.state.sferum, events=index, confirm_held=True)
    delta = plan(
        new, s.state.registry, s.state.sferum, events=index, confirm_held=True, only_chats=keys
    )
    assert delta.operations == full.operations
    assert delta.pending == tuple(p for p in full.pending if p.chat_key in keys)


@st.composite
def transfers(draw: st.DrawFn) -> tuple[World, World, World]:
    """A world, the same after one student's transfer, and after only their expulsion."""
    w = draw(worlds())
    movable = [k for k, c in w.homeroom.items() if any(o != c for o in w.classes)]
    if not movable:
        w.klass("xc", "9Б", w.schools[0])
        w.person("mover", "Переводов", "Пётр", Role.STUDENT)
        w.enrol("mover", "xc")
        w.klass("yc", "9В", w.schools[0])
        movable = ["mover"]
    kid = draw(st.sampled_from(sorted(movable)))
    target = draw(st.sampled_from(sorted(c for c in w.classes if c != w.homeroom[kid])))
    own = sorted(g for g in w.groups if w.groups[g].class_id == target)
    joined = tuple(draw(st.sets(st.sampled_from(own)))) if own else ()
    moved, expelled = w.copy(), w.copy()
    moved.transfer(kid, target, joined)
    expelled.expel(kid)
    return w, moved, expelled


@SETTINGS
@given(transfers())
def test_a_transfer_is_a_leave_plus_a_join(worlds_: tuple[World, World, World]) -> None:
    """(d) Transfer = the expulsion's removals + the enrolment's adds, nothing else."""
    before, moved, expelled = worlds_
    state = synced(before)
    # Subject chats for every group, so that group moves show too.
    for group in sorted(before.groups):
        state.add_chat(subject_chat(before, group))
    state.sync(before.snapshot())

    transfer = plan(moved.snapshot(), state.registry, state.sferum, confirm_held=True)
    leave = plan(expelled.snapshot(), state.registry, state.sferum, confirm_held=True)
    registry, sferum = apply_in_memory(leave, state.registry, state.sferum)
    join = plan(moved.snapshot(), registry, sferum, confirm_held=True)

    assert all(
        isinstance(op, (RemoveRegistryMember, RemoveSferumMember)) for op in leave.operations
    )
    assert all(isinstance(op, (AddRegistryMember, AddSferumMember)) for op in join.operations)
    assert op_facts(transfer.operations) == op_facts(leave.operations) | op_facts(join.operations)
    # And the result is the same either way.
    direct = apply_in_memory(transfer, state.registry, state.sferum)
    assert state_view(*direct) == state_view(*apply_in_memory(join, registry, sferum))


@SETTINGS
@given(worlds(), st.data())
def test_evolve_equals_build(world: World, data: st.DataObject) -> None:
    old = world.snapshot()
    new_world = world.copy()
    for _ in range(data.draw(st.integers(0, 5))):
        roster_event(data.draw, new_world)
    new = new_world.snapshot()
    assert_same_snapshot(evolve_to(old, new), new)
    # And the events of the people who changed are all the events.
    people = {e.person_id for e in derive_events(old, new)}
    assert derive_events(old, new, people) == derive_events(old, new)
