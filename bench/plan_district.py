"""Benchmark: the sync plan at district scale, from scratch and after 100 roster events.

Builds a deterministic synthetic district in memory — 100 schools, ~100 000 students,
~150 000 parents, ~8 000 staff, ~15 000 teaching groups, ~420 000 enrolments (the shape of the
sandbox's `district` dataset) — and times, with the pure domain functions only:

1. building the `RosterSnapshot` (indexes included);
2. the plan from scratch: empty registry and Sferum (every automatic chat and member);
3. the same with the ~15 000 subject chats already made by teachers but empty (the worst
   case: every chat of the district filled at once);
4. a full re-plan of a registry in step (nothing to do: the cost of checking everything);
5. a delta after 100 roster events (enrolments, transfers, expulsions, hires, dismissals,
   blocks, unblocks, links, unlinks, teacher assignments): the next snapshot made with
   `RosterSnapshot.evolve`, the events derived for the people the delta names, the touched
   chats found, and only those planned — checked equal to the full plan.

Prints median times (of `--runs`, 5 for the cheap steps), operation counts, tracemalloc peaks
and the process's peak RSS. Targets (issue 6): from scratch < 10 s; delta < 0.2 s.

    .venv/bin/python bench/plan_district.py [--schools 100] [--runs 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sferum_desktop.domain import (
    Chat,
    ChatType,
    EventIndex,
    Person,
    Plan,
    RegistryChat,
    RegistryState,
    Role,
    RosterSnapshot,
    SchoolClass,
    SferumState,
    TeachingGroup,
    apply_in_memory,
    derive_events,
    plan,
    touched_chats,
)

T = TypeVar("T")

LETTERS = "АБВГ"
SUBJECTS_GRADE_1 = ("Русский язык", "Математика", "Литературное чтение")
SUBJECTS = ("Русский язык", "Математика", "Английский язык")
SPLIT = "Английский язык"  # taught in two subgroups from grade 2
LINK_STAFF, LINK_STUDENT, LINK_PARENT = 0.7, 0.45, 0.35
BLOCKED = 0.005


# --- a synthetic district -----------------------------------------------------------------------


@dataclass
class District:
    """Flat relations of a district roster, as `RosterSnapshot.build` takes them."""

    schools: list[str] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    classes: list[SchoolClass] = field(default_factory=list)
    groups: list[TeachingGroup] = field(default_factory=list)
    staff: list[tuple[str, str]] = field(default_factory=list)
    enrolments: list[tuple[str, str]] = field(default_factory=list)
    teaching: list[tuple[str, str]] = field(default_factory=list)
    guardianships: list[tuple[str, str]] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    sferum_admins: dict[str, list[str]] = field(default_factory=dict)

    def snapshot(self) -> RosterSnapshot:
        return RosterSnapshot.build(
            schools=self.schools,
            people=self.people,
            classes=self.classes,
            groups=self.groups,
            staff=self.staff,
            enrolments=self.enrolments,
            teaching=self.teaching,
            guardianships=self.guardianships,
            links=self.links,
            sferum_admins=self.sferum_admins,
        )


def make_district(schools: int, seed: int) -> District:
    rng = random.Random(seed)
    d = District()
    vk = iter(range(10_000_000, 99_000_000))
    n_person = 0

    def person(role: Role, link: float) -> str:
        nonlocal n_person
        n_person += 1
        pid = f"u{n_person:07d}"
        d.people.append(
            Person(pid, "Фамилия", "Имя", None, frozenset({role}), rng.random() < BLOCKED)
        )
        if rng.random() < link:
            d.links[pid] = next(vk)
        return pid

    n_group = 0
    for s in range(1, schools + 1):
        school = f"org-{s:03d}"
        d.schools.append(school)
        staff = [person(Role.TEACHER, LINK_STAFF) for _ in range(80)]
        d.staff += [(school, t) for t in staff]
        d.sferum_admins[school] = [staff[0]]
        students_of_school: list[str] = []
        for grade in range(1, 12):
            for letter in LETTERS[: 3 if grade > 9 else 4]:
                class_id = f"{school}-c{grade:02d}{letter}"
                title = f"{grade}{letter}"
                d.classes.append(SchoolClass(class_id, school, title))
                d.teaching.append((rng.choice(staff), class_id))  # the class teacher
                size = rng.randint(22, 28)
                kids = [person(Role.STUDENT, LINK_STUDENT) for _ in range(size)]
                students_of_school += kids
                d.enrolments += [(k, class_id) for k in kids]
                for subject in SUBJECTS_GRADE_1 if grade == 1 else SUBJECTS:
                    parts: list[tuple[str | None, list[str]]] = [(None, kids)]
                    if subject == SPLIT and grade >= 2:
                        half = len(kids) // 2
                        parts = [("1 группа", kids[:half]), ("2 группа", kids[half:])]
                    for subgroup, members in parts:
                        n_group += 1
                        group_id = f"grp-{n_group:06d}"
                        d.groups.append(
                            TeachingGroup(group_id, school, class_id, title, subject, subgroup)
                        )
                        d.teaching.append((rng.choice(staff), group_id))
                        d.enrolments += [(k, group_id) for k in members]
        # Families: one to three children of the school, one or two parents.
        rng.shuffle(students_of_school)
        i = 0
        while i < len(students_of_school):
            size = rng.choices((1, 2, 3), (0.7, 0.25, 0.05))[0]
            children = students_of_school[i : i + size]
            i += size
            for _ in range(2 if rng.random() < 0.97 else 1):
                parent = person(Role.PARENT, LINK_PARENT)
                d.guardianships += [(parent, c) for c in children]
    return d


# --- 100 roster events as a delta ---------------------------------------------------------------


class Delta:
    """Changes to a snapshot's maps, accumulated event by event, for `evolve`."""

    RELATIONS = ("staff", "class_students", "class_teachers", "group_students", "group_teachers")

    def __init__(self, base: RosterSnapshot) -> None:
        self.base = base
        self.changes: dict[str, dict[str, Any]] = {
            name: {} for name in (*self.RELATIONS, "guardians", "people", "links")
        }
        self.people: set[str] = set()  # everyone the delta names (its records' user ids)

    def get(self, relation: str, key: str) -> frozenset[str]:
        found = self.changes[relation].get(key)
        if found is not None or key in self.changes[relation]:
            return found or frozenset()
        value: frozenset[str] = getattr(self.base, relation).get(key, frozenset())
        return value

    def put(self, relation: str, key: str, value: frozenset[str]) -> None:
        self.changes[relation][key] = value

    def add(self, relation: str, key: str, member: str) -> None:
        self.put(relation, key, self.get(relation, key) | {member})
        self.people.add(member)

    def discard(self, relation: str, key: str, member: str) -> None:
        self.put(relation, key, self.get(relation, key) - {member})
        self.people.add(member)

    def apply(self) -> RosterSnapshot:
        return self.base.evolve(**self.changes)  # type: ignore[arg-type]


def make_events(snapshot: RosterSnapshot, count: int, seed: int) -> Delta:
    """`count` roster events of every kind, on random people of the district."""
    rng = random.Random(seed)
    delta = Delta(snapshot)
    students = sorted(snapshot.student_classes)
    staff = sorted(snapshot.employers)
    people = sorted(snapshot.people)
    classes = sorted(snapshot.classes)
    groups_of = snapshot.groups_by_class
    kinds = ["enrol", "transfer", "expel", "hire", "dismiss", "block", "unblock", "link",
             "unlink", "assign"]  # fmt: skip
    n_new = 0
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "enrol":
            n_new += 1
            kid, parent = f"new-s{n_new}", f"new-p{n_new}"
            class_id = rng.choice(classes)
            delta.changes["people"][kid] = Person(
                kid, "Новый", "Ученик", None, frozenset({Role.STUDENT})
            )
            delta.changes["people"][parent] = Person(
                parent, "Новый", "Родитель", None, frozenset({Role.PARENT})
            )
            delta.changes["links"][parent] = 99_000_000 + n_new
            delta.add("class_students", class_id, kid)
            for group_id in groups_of.get(class_id, ()):
                if snapshot.groups[group_id].subgroup in (None, "1 группа"):
                    delta.add("group_students", group_id, kid)
            delta.changes["guardians"][kid] = frozenset({parent})
            delta.people.add(parent)
        elif kind in ("transfer", "expel"):
            kid = rng.choice(students)
            (old_class,) = snapshot.student_classes[kid]
            delta.discard("class_students", old_class, kid)
            for group_id in snapshot.student_groups.get(kid, ()):
                delta.discard("group_students", group_id, kid)
            if kind == "transfer":
                school = snapshot.classes[old_class].school_id
                target = rng.choice(
                    [c for c in snapshot.classes_by_school[school] if c != old_class]
                )
                delta.add("class_students", target, kid)
                for group_id in groups_of.get(target, ()):
                    if snapshot.groups[group_id].subgroup in (None, "2 группа"):
                        delta.add("group_students", group_id, kid)
        elif kind == "hire":
            n_new += 1
            pid = f"new-t{n_new}"
            delta.changes["people"][pid] = Person(
                pid, "Новый", "Учитель", None, frozenset({Role.TEACHER})
            )
            delta.changes["links"][pid] = 98_000_000 + n_new
            delta.add("staff", rng.choice(sorted(snapshot.schools)), pid)
        elif kind == "dismiss":
            pid = rng.choice(staff)
            for school in snapshot.employers[pid]:
                delta.discard("staff", school, pid)
            for group_id in snapshot.teacher_groups.get(pid, ()):
                delta.discard("group_teachers", group_id, pid)
            for class_id in snapshot.teacher_classes.get(pid, ()):
                delta.discard("class_teachers", class_id, pid)
        elif kind in ("block", "unblock"):
            pid = rng.choice(people)
            delta.changes["people"][pid] = replace(snapshot.people[pid], blocked=kind == "block")
            delta.people.add(pid)
        elif kind == "link":
            pid = rng.choice([p for p in rng.sample(people, 50) if p not in snapshot.links])
            delta.changes["links"][pid] = 97_000_000 + i
            delta.people.add(pid)
        elif kind == "unlink":
            pid = rng.choice(sorted(rng.sample(sorted(snapshot.links), 50)))
            delta.changes["links"][pid] = None
            delta.people.add(pid)
        elif kind == "assign":
            group = snapshot.groups[rng.choice(sorted(snapshot.groups))]
            teacher = rng.choice(sorted(snapshot.staff[group.school_id]))
            delta.add("group_teachers", group.id, teacher)
    return delta


# --- measuring ----------------------------------------------------------------------------------


def timed(fn: Callable[[], T], runs: int) -> tuple[T, float, list[float]]:
    """The result of the last run, the median time (s) and all times."""
    times: list[float] = []
    result: T | None = None
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    assert result is not None
    return result, statistics.median(times), times


def traced_peak(fn: Callable[[], object]) -> float:
    """Peak Python memory (MiB) allocated while `fn` runs (tracemalloc; slows it down)."""
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def line(label: str, seconds: float, times: list[float], extra: str = "") -> None:
    spread = ", ".join(f"{t:.3f}" for t in times)
    print(f"  {label:<44} {seconds:8.3f} s   [{spread}] {extra}")


def counts(result: Plan) -> str:
    c = result.summary()
    return (
        f"create_chats={c['create_chats']} add={c['add']} remove={c['remove']} "
        f"pending={c['pending']} held={c['held']} ops={len(result.operations)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="runs of the heavy steps")
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(f"Python {sys.version.split()[0]}, {args.schools} schools, seed {args.seed}")
    start = time.perf_counter()
    district = make_district(args.schools, args.seed)
    print(f"generated the roster in {time.perf_counter() - start:.1f} s")
    snapshot, t, ts = timed(district.snapshot, args.runs)
    build_peak = traced_peak(district.snapshot)
    sizes = snapshot.counts
    print(
        "district: "
        + ", ".join(f"{k} {v:,}" for k, v in sizes.items())
        + f", guardianships {len(district.guardianships):,}"
    )
    del district
    print("\ntimes (median of runs, then each run):")
    line("build RosterSnapshot", t, ts)

    empty = RegistryState(), SferumState()
    scratch, t, ts = timed(lambda: plan(snapshot, *empty), args.runs)
    line("plan from scratch (empty registry, Sferum)", t, ts, counts(scratch))

    # Subject chats made by teachers, still empty, and no Sferum chat for any chat yet.
    next_id = 1
    subject_chats = []
    for i, group in enumerate(sorted(snapshot.groups.values(), key=lambda g: g.id)):
        chat = Chat(
            next_id + i, group.school_id, group.chat_name, ChatType.SUBJECT,
            class_id=group.class_id, group_id=group.id, subject=group.subject,
        )  # fmt: skip
        subject_chats.append(RegistryChat(chat))
    empty_subjects = RegistryState.of([*RegistryState().chats.values(), *subject_chats])
    worst, t, ts = timed(lambda: plan(snapshot, empty_subjects, SferumState()), args.runs)
    line("plan from scratch + 15k empty subject chats", t, ts, counts(worst))

    registry, sferum = apply_in_memory(worst, empty_subjects, SferumState())
    in_step, t, ts = timed(lambda: plan(snapshot, registry, sferum), args.runs)
    line("full re-plan of a registry in step", t, ts, counts(in_step))
    assert in_step.is_empty, "a registry in step must plan nothing"
    memberships = registry.active_memberships
    print(
        f"  (registry: {len(registry):,} chats, {memberships:,} memberships; "
        f"Sferum: {sferum.memberships:,} memberships)"
    )
    registry.chats_of_person("warm-up")  # the person index a long-lived state keeps

    delta = make_events(snapshot, args.events, args.seed)
    new, t_evolve, ts = timed(delta.apply, 5)
    line(f"evolve snapshot by {args.events} events", t_evolve, ts, f"people={len(delta.people)}")

    def delta_plan() -> tuple[Plan, int, int]:
        events = derive_events(snapshot, new, delta.people)
        keys = touched_chats(snapshot, new, registry, delta.people)
        index = EventIndex.of(events, snapshot, new)
        return plan(new, registry, sferum, only_chats=keys, events=index), len(events), len(keys)

    (small, n_events, n_keys), t_delta, ts = timed(delta_plan, 5)
    line("delta plan (events + touched chats + plan)", t_delta, ts, counts(small))
    print(f"  (derived {n_events} roster events; {n_keys} chats touched)")
    line("delta incl. evolving the snapshot", t_evolve + t_delta, [], "")

    full_new, t, ts = timed(lambda: plan(new, registry, sferum), 1)
    same = [op.op_id for op in full_new.operations] == [op.op_id for op in small.operations]
    line("full plan after the events (for comparison)", t, ts, f"equal to delta: {same}")
    assert same, "the delta plan must equal the full plan"

    print("\nmemory:")
    scratch_peak = traced_peak(lambda: plan(snapshot, *empty))
    worst_peak = traced_peak(lambda: plan(snapshot, empty_subjects, SferumState()))
    print(f"  peak traced while building the snapshot      {build_peak:8.1f} MiB")
    print(f"  peak traced while planning from scratch      {scratch_peak:8.1f} MiB")
    print(f"  peak traced, worst case (+ subject chats)    {worst_peak:8.1f} MiB")
    print(f"  process peak RSS (everything above)          {rss_mib():8.1f} MiB")
    print("\ntargets: from scratch < 10 s; delta plan < 0.2 s")


if __name__ == "__main__":
    main()
