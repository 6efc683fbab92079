"""Roster events derived from two snapshots, and the snapshot itself (build, lookups, evolve)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from domain_world import MATH_3A, RUS_1A, SCHOOL, World, seed_school

from sferum_desktop.domain import (
    EventIndex,
    Link,
    LinkStatus,
    Reason,
    Role,
    RosterEvent,
    RosterSnapshot,
    SchoolClass,
    changed_people,
    derive_events,
)


def events_of(change: Callable[[World], None], world: World | None = None) -> list[RosterEvent]:
    world = world or seed_school()
    old = world.snapshot()
    change(world)
    return derive_events(old, world.snapshot())


def test_enrolled() -> None:
    def enrol(w: World) -> None:
        w.person("new", "Новиков", "Иван", Role.STUDENT)
        w.enrol("new", "cls-2a")

    assert events_of(enrol) == [
        RosterEvent(Reason.ENROLLED, "new", school_id=SCHOOL, class_id="cls-2a")
    ]


def test_expelled() -> None:
    assert events_of(lambda w: w.expel("frolova")) == [
        RosterEvent(Reason.EXPELLED, "frolova", school_id=SCHOOL, class_id="cls-1a")
    ]


def test_transferred() -> None:
    assert events_of(lambda w: w.transfer("frolova", "cls-2a")) == [
        RosterEvent(
            Reason.TRANSFERRED,
            "frolova",
            school_id=SCHOOL,
            class_id="cls-2a",
            from_school_id=SCHOOL,
            from_class_id="cls-1a",
        )
    ]


def test_hired_and_dismissed() -> None:
    assert events_of(lambda w: w.hire("frolov_v")) == [
        RosterEvent(Reason.HIRED, "frolov_v", school_id=SCHOOL)
    ]
    assert events_of(lambda w: w.dismiss("pavlova")) == [
        RosterEvent(Reason.DISMISSED, "pavlova", school_id=SCHOOL),
        RosterEvent(Reason.UNASSIGNED, "pavlova", school_id=SCHOOL, class_id="cls-1a"),
        RosterEvent(Reason.UNASSIGNED, "pavlova", school_id=SCHOOL, group_id="grp-1a-rus"),
        RosterEvent(Reason.UNASSIGNED, "pavlova", school_id=SCHOOL, group_id="grp-1a-rus-ind"),
    ]


def test_assigned_and_unassigned() -> None:
    assert events_of(lambda w: w.assign("gromov", MATH_3A)) == [
        RosterEvent(Reason.ASSIGNED, "gromov", school_id=SCHOOL, group_id=MATH_3A)
    ]
    assert events_of(lambda w: w.unassign("pavlova", RUS_1A)) == [
        RosterEvent(Reason.UNASSIGNED, "pavlova", school_id=SCHOOL, group_id=RUS_1A)
    ]


def test_blocked_and_unblocked() -> None:
    world = seed_school()
    assert events_of(lambda w: w.block("sokolov"), world) == [
        RosterEvent(Reason.BLOCKED, "sokolov")
    ]
    assert events_of(lambda w: w.block("sokolov", blocked=False), world) == [
        RosterEvent(Reason.UNBLOCKED, "sokolov")
    ]


def test_linked_unlinked_and_relinked() -> None:
    assert events_of(lambda w: w.link("sokolov", 205)) == [
        RosterEvent(Reason.LINKED, "sokolov", vk_user_id=205)
    ]
    assert events_of(lambda w: w.unlink("frolov_v")) == [
        RosterEvent(Reason.UNLINKED, "frolov_v", vk_user_id=301)
    ]
    relinked = {(e.kind, e.vk_user_id) for e in events_of(lambda w: w.link("frolov_v", 401))}
    assert relinked == {(Reason.UNLINKED, 301), (Reason.LINKED, 401)}


def test_guardians_added_and_removed() -> None:
    def change(w: World) -> None:
        w.guard.discard(("lebedeva_g", "solovyova"))
        w.guard.add(("artemova_n", "solovyova"))

    assert set(events_of(change)) == {
        RosterEvent(Reason.GUARDIAN_REMOVED, "lebedeva_g", student_id="solovyova"),
        RosterEvent(Reason.GUARDIAN_ADDED, "artemova_n", student_id="solovyova"),
    }


def test_events_of_the_people_a_delta_names_equal_the_full_comparison() -> None:
    world = seed_school()
    old = world.snapshot()
    world.expel("frolova")
    world.transfer("kirillova", "cls-3a")
    world.dismiss("belova")
    world.link("sokolov", 205)
    world.block("egorova")
    world.guard.add(("artemova_n", "leonidov"))
    new = world.snapshot()
    full = derive_events(old, new)
    people = changed_people(old, new)
    assert people == {
        "frolova", "kirillova", "belova", "sokolov", "egorova", "artemova_n", "leonidov",
    }  # fmt: skip
    assert derive_events(old, new, people) == full
    assert derive_events(old, new, ["frolova"]) == [e for e in full if e.person_id == "frolova"]
    assert full == sorted(full, key=lambda e: e.sort_key)


def test_no_change_no_events() -> None:
    world = seed_school()
    assert derive_events(world.snapshot(), world.snapshot()) == []


def test_event_index_lists_student_events_for_their_parents() -> None:
    world = seed_school()
    old = world.snapshot()
    world.expel("frolova")
    world.unlink("kirillova_y")
    new = world.snapshot()
    index = EventIndex.of(derive_events(old, new), old, new)
    assert [e.kind for e in index.of_children("frolov_v")] == [Reason.EXPELLED]
    assert index.vk_owner == {302: "kirillova_y"}
    assert index.of_person("nobody") == ()


def test_event_as_dict_drops_empty_fields() -> None:
    event = RosterEvent(Reason.ENROLLED, "p1", school_id="s1", class_id="c1")
    assert event.as_dict() == {
        "kind": "enrolled",
        "person_id": "p1",
        "school_id": "s1",
        "class_id": "c1",
    }
    assert Reason.ENROLLED.is_roster_event and not Reason.RULE.is_roster_event


# --- the snapshot ---------------------------------------------------------------------------------


def test_snapshot_indexes() -> None:
    snapshot = seed_school().snapshot()
    assert snapshot.student_classes["frolova"] == {"cls-1a"}
    assert snapshot.children["frolov_v"] == {"frolova", "frolov_m"}
    assert snapshot.teacher_groups["pavlova"] == {"grp-1a-rus", "grp-1a-rus-ind"}
    assert snapshot.teacher_classes["pavlova"] == {"cls-1a"}
    assert snapshot.employers["belova"] == {SCHOOL}
    assert snapshot.classes_by_school[SCHOOL] == ("cls-1a", "cls-2a", "cls-3a")
    assert snapshot.groups_by_class["cls-1a"] == ("grp-1a-rus", "grp-1a-rus-ind")
    assert snapshot.vk_people[301] == "frolov_v"
    assert snapshot.parents_in_class("cls-1a") == {"artemova_n", "frolov_v"}
    assert snapshot.belongs(SCHOOL, "lebedeva_g") and not snapshot.belongs("org-2", "pavlova")
    assert snapshot.is_parent_of(SCHOOL, "frolov_v") and not snapshot.is_student_of(
        SCHOOL, "frolov_v"
    )
    counts = snapshot.counts
    assert counts["students"] == 8 and counts["parents"] == 5 and counts["staff"] == 13


def test_build_takes_links_as_esh_reports_them() -> None:
    links = [
        Link("a", 1, LinkStatus.LINKED),
        Link("b", None, LinkStatus.LINKED),
        Link("c", 3, LinkStatus.UNLINKED),
    ]
    snapshot = RosterSnapshot.build(schools=["s"], people=[], links=links)
    assert snapshot.links == {"a": 1}


def test_build_drops_enrolments_in_unknown_classes() -> None:
    snapshot = RosterSnapshot.build(
        schools=["s"],
        people=[],
        classes=[SchoolClass("c", "s", "1А")],
        enrolments=[("p", "c"), ("q", "gone")],
        teaching=[("t", "gone")],
    )
    assert snapshot.class_students == {"c": frozenset({"p"})}
    assert snapshot.teacher_groups == {}


@pytest.mark.parametrize(
    "change",
    [
        lambda w: w.expel("frolova"),
        lambda w: w.transfer("kirillova", "cls-3a", (MATH_3A,)),
        lambda w: w.dismiss("pavlova"),
        lambda w: w.link("sokolov", 205),
        lambda w: w.unlink("frolov_v"),
        lambda w: w.link("frolov_v", 999),
        lambda w: w.block("egorova"),
        lambda w: w.guard.add(("artemova_n", "leonidov")),
        lambda w: w.klass("cls-9", "9Б"),
        lambda w: w.classes.pop("cls-2a"),
    ],
)
def test_evolve_equals_building_from_scratch(change: Callable[[World], None]) -> None:
    world = seed_school()
    old = world.snapshot()
    change(world)
    rebuilt = world.snapshot()
    evolved = evolve_to(old, rebuilt)
    assert_same_snapshot(evolved, rebuilt)


def evolve_to(old: RosterSnapshot, new: RosterSnapshot) -> RosterSnapshot:
    """`old.evolve(...)` with exactly the entries that differ in `new`."""

    def diff(a: object, b: object) -> dict[str, object]:
        assert isinstance(a, dict) and isinstance(b, dict)
        out: dict[str, object] = {k: v for k, v in b.items() if a.get(k) != v}
        out.update({k: None for k in a if k not in b})
        return out

    names = (
        "people", "classes", "groups", "staff", "district_staff", "class_students",
        "class_teachers", "group_students", "group_teachers", "guardians", "links",
        "sferum_admins",
    )  # fmt: skip
    return old.evolve(**{n: diff(getattr(old, n), getattr(new, n)) for n in names})  # type: ignore[arg-type]


SNAPSHOT_MAPS = (
    "people", "classes", "groups", "staff", "district_staff", "class_students",
    "class_teachers", "group_students", "group_teachers", "guardians", "links", "sferum_admins",
    "employers", "student_classes", "teacher_classes", "student_groups", "teacher_groups",
    "children", "vk_people", "classes_by_school", "groups_by_class",
)  # fmt: skip


def assert_same_snapshot(a: RosterSnapshot, b: RosterSnapshot) -> None:
    assert a.schools == b.schools
    for name in SNAPSHOT_MAPS:
        assert dict(getattr(a, name)) == dict(getattr(b, name)), name
