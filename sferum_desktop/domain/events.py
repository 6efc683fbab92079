"""Roster events — enrolled, expelled, transferred, hired, dismissed, blocked, linked … —
derived by comparing two roster snapshots, for the audit log and the reasons of operations.

`derive_events(old, new)` compares everything; given `people` (the ids a roster delta
touched) it compares only those, in time proportional to the delta, not to the roster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sferum_desktop.domain.roster import EMPTY, RosterSnapshot


class Reason(StrEnum):
    """Why an operation is in a plan: a roster event, a link, a hand edit, or just the rules."""

    ENROLLED = "enrolled"  # зачисление
    EXPELLED = "expelled"  # отчисление
    TRANSFERRED = "transferred"  # перевод
    HIRED = "hired"  # трудоустройство
    DISMISSED = "dismissed"  # увольнение
    ASSIGNED = "assigned"  # a teacher given a group, or made class teacher (ours)
    UNASSIGNED = "unassigned"  # … and taken off it (ours)
    GUARDIAN_ADDED = "guardian_added"  # a parent/guardian recorded for a student (ours)
    GUARDIAN_REMOVED = "guardian_removed"
    BLOCKED = "blocked"  # «Заблокирован = Да»
    UNBLOCKED = "unblocked"
    LINKED = "linked"  # the person linked their ESh account to Sferum
    UNLINKED = "unlinked"
    MANUAL = "manual"  # a hand edit (an exclusion)
    RULE = "rule"  # the membership rules, with no particular event behind it

    @property
    def is_roster_event(self) -> bool:
        return self not in (Reason.MANUAL, Reason.RULE)


# Events of one person are listed in this order: the weightiest cause first, since an
# operation takes the reason of the first event that explains it.
_ORDER = {reason: i for i, reason in enumerate(Reason)}
_ORDER[Reason.DISMISSED] = -3
_ORDER[Reason.EXPELLED] = -2
_ORDER[Reason.TRANSFERRED] = -1


@dataclass(frozen=True, slots=True)
class RosterEvent:
    """One change of the roster seen between two snapshots.

    `school_id`/`class_id` are where the person went (enrolled, transferred, hired, assigned
    as class teacher) or where they left (expelled, dismissed, unassigned); a transfer also
    names where it came from. `group_id` is the teaching group of an (un)assignment,
    `student_id` the child of a guardian event, `vk_user_id` the profile (un)linked.
    """

    kind: Reason
    person_id: str
    school_id: str | None = None
    class_id: str | None = None
    from_school_id: str | None = None
    from_class_id: str | None = None
    group_id: str | None = None
    student_id: str | None = None
    vk_user_id: int | None = None

    @property
    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (
            self.person_id,
            _ORDER[self.kind],
            self.class_id or self.group_id or "",
            self.school_id or "",
            self.student_id or "",
        )

    def as_dict(self) -> dict[str, str | int]:
        """The event as JSON-ready fields (no None), for the audit log."""
        fields: dict[str, str | int | None] = {
            "kind": self.kind.value,
            "person_id": self.person_id,
            "school_id": self.school_id,
            "class_id": self.class_id,
            "from_school_id": self.from_school_id,
            "from_class_id": self.from_class_id,
            "group_id": self.group_id,
            "student_id": self.student_id,
            "vk_user_id": self.vk_user_id,
        }
        return {k: v for k, v in fields.items() if v is not None}


def _changed_keys(old: Mapping[str, object], new: Mapping[str, object]) -> set[str]:
    if old is new:
        return set()
    changed = {k for k, v in new.items() if old.get(k) != v}
    changed.update(k for k in old if k not in new)
    return changed


def changed_people(old: RosterSnapshot, new: RosterSnapshot) -> set[str]:
    """Everyone whose roster facts differ between the two snapshots (a full comparison)."""
    people: set[str] = set()
    for name in (
        "employers",
        "student_classes",
        "teacher_classes",
        "student_groups",
        "teacher_groups",
        "guardians",
        "children",
        "links",
    ):
        people |= _changed_keys(getattr(old, name), getattr(new, name))
    if old.people is not new.people:
        people |= {
            pid
            for pid, person in new.people.items()
            if (before := old.people.get(pid)) is not None and before.blocked != person.blocked
        }
    people |= {
        pid
        for school in old.district_staff.keys() | new.district_staff.keys()
        for pid in old.district_staff.get(school, EMPTY) ^ new.district_staff.get(school, EMPTY)
    }
    return people


def _person_events(old: RosterSnapshot, new: RosterSnapshot, pid: str) -> list[RosterEvent]:
    events: list[RosterEvent] = []

    # Students: a class left and one joined is a transfer; only left, an expulsion.
    before = old.student_classes.get(pid, EMPTY)
    after = new.student_classes.get(pid, EMPTY)
    if before != after:
        left = sorted(before - after)
        joined = sorted(after - before)
        for i in range(max(len(left), len(joined))):
            src = left[i] if i < len(left) else None
            dst = joined[i] if i < len(joined) else None
            src_school = old.school_of_class(src) if src else None
            dst_school = new.school_of_class(dst) if dst else None
            if src and dst:
                events.append(
                    RosterEvent(
                        Reason.TRANSFERRED,
                        pid,
                        school_id=dst_school,
                        class_id=dst,
                        from_school_id=src_school,
                        from_class_id=src,
                    )
                )
            elif dst:
                events.append(RosterEvent(Reason.ENROLLED, pid, school_id=dst_school, class_id=dst))
            elif src:
                events.append(RosterEvent(Reason.EXPELLED, pid, school_id=src_school, class_id=src))

    # Staff: employment per school.
    before = old.employers.get(pid, EMPTY)
    after = new.employers.get(pid, EMPTY)
    events.extend(RosterEvent(Reason.HIRED, pid, school_id=s) for s in sorted(after - before))
    events.extend(RosterEvent(Reason.DISMISSED, pid, school_id=s) for s in sorted(before - after))

    # Teachers: groups taught, classes led (ours).
    for relation, is_group in (("teacher_groups", True), ("teacher_classes", False)):
        before = getattr(old, relation).get(pid, EMPTY)
        after = getattr(new, relation).get(pid, EMPTY)
        for kind, snapshot, ids in (
            (Reason.ASSIGNED, new, after - before),
            (Reason.UNASSIGNED, old, before - after),
        ):
            for ref in sorted(ids):
                if is_group:
                    group = snapshot.groups.get(ref)
                    school = group.school_id if group is not None else None
                    events.append(RosterEvent(kind, pid, school_id=school, group_id=ref))
                else:
                    school = snapshot.school_of_class(ref)
                    events.append(RosterEvent(kind, pid, school_id=school, class_id=ref))

    # Blocking and links.
    was, now = old.people.get(pid), new.people.get(pid)
    if was is not None and now is not None and was.blocked != now.blocked:
        events.append(RosterEvent(Reason.BLOCKED if now.blocked else Reason.UNBLOCKED, pid))
    vk_before, vk_after = old.links.get(pid), new.links.get(pid)
    if vk_before != vk_after:
        if vk_before is not None:
            events.append(RosterEvent(Reason.UNLINKED, pid, vk_user_id=vk_before))
        if vk_after is not None:
            events.append(RosterEvent(Reason.LINKED, pid, vk_user_id=vk_after))
    return events


def _guardian_events(
    old: RosterSnapshot, new: RosterSnapshot, people: Iterable[str]
) -> set[RosterEvent]:
    """Guardianships gained and lost, seen from either side; keyed by the parent."""
    pairs_before: set[tuple[str, str]] = set()
    pairs_after: set[tuple[str, str]] = set()
    for pid in people:
        for snapshot, pairs in ((old, pairs_before), (new, pairs_after)):
            pairs.update((parent, pid) for parent in snapshot.guardians.get(pid, EMPTY))
            pairs.update((pid, child) for child in snapshot.children.get(pid, EMPTY))
    events = {
        RosterEvent(Reason.GUARDIAN_ADDED, parent, student_id=child)
        for parent, child in pairs_after - pairs_before
    }
    events |= {
        RosterEvent(Reason.GUARDIAN_REMOVED, parent, student_id=child)
        for parent, child in pairs_before - pairs_after
    }
    return events


def derive_events(
    old: RosterSnapshot, new: RosterSnapshot, people: Iterable[str] | None = None
) -> list[RosterEvent]:
    """The roster events between two snapshots, sorted by person, weightiest first.

    With `people` only their facts are compared (a roster delta names who it touched);
    without, everyone's.
    """
    ids = changed_people(old, new) if people is None else set(people)
    events: set[RosterEvent] = set()
    for pid in ids:
        events.update(_person_events(old, new, pid))
    events |= _guardian_events(old, new, ids)
    return sorted(events, key=lambda e: e.sort_key)


@dataclass(frozen=True, slots=True)
class EventIndex:
    """Events by the person they concern, and student events by the students' parents, so a
    plan can say why each operation is there."""

    by_person: Mapping[str, tuple[RosterEvent, ...]] = field(default_factory=dict)
    by_parent: Mapping[str, tuple[RosterEvent, ...]] = field(default_factory=dict)
    vk_owner: Mapping[int, str] = field(default_factory=dict)  # unlinked VK id -> person

    @classmethod
    def of(
        cls, events: Iterable[RosterEvent], old: RosterSnapshot, new: RosterSnapshot
    ) -> EventIndex:
        by_person: dict[str, list[RosterEvent]] = {}
        by_parent: dict[str, list[RosterEvent]] = {}
        vk_owner: dict[int, str] = {}
        for event in sorted(events, key=lambda e: e.sort_key):
            by_person.setdefault(event.person_id, []).append(event)
            if event.kind in (Reason.ENROLLED, Reason.EXPELLED, Reason.TRANSFERRED):
                parents = old.guardians.get(event.person_id, EMPTY) | new.guardians.get(
                    event.person_id, EMPTY
                )
                for parent in parents:
                    by_parent.setdefault(parent, []).append(event)
            if event.kind is Reason.UNLINKED and event.vk_user_id is not None:
                vk_owner[event.vk_user_id] = event.person_id
        return cls(
            {p: tuple(e) for p, e in by_person.items()},
            {p: tuple(e) for p, e in by_parent.items()},
            vk_owner,
        )

    def of_person(self, person_id: str) -> tuple[RosterEvent, ...]:
        return self.by_person.get(person_id, ())

    def of_children(self, parent_id: str) -> tuple[RosterEvent, ...]:
        return self.by_parent.get(parent_id, ())


NO_EVENTS = EventIndex()
