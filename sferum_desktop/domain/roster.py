"""A roster snapshot: who is where in the schools, as immutable plain data with fast lookups.

The snapshot holds the facts the membership rules need and nothing else. Its primary facts
are maps from a container (a school, class or teaching group, a student) to the people in it;
the inverse maps (a student's classes, a teacher's groups, a parent's children, a person's
employers) are built once when the snapshot is made. Everything is keyed by ESh ids (str) and
held in dicts of frozensets, so that a district roster (100 000 students, 150 000 parents,
420 000 enrolments) fits in a few hundred megabytes and is read in O(1) per lookup.

`RosterSnapshot.evolve` makes the next snapshot from a roster delta by copying the maps and
patching only the entries that changed, so that a delta sync does not rebuild the indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sferum_desktop.domain.chats import Link
from sferum_desktop.domain.people import Person
from sferum_desktop.domain.school import SchoolClass, TeachingGroup

PersonSet = frozenset[str]
Relation = Mapping[str, PersonSet]  # container id -> ids in it (or a person -> ids of theirs)

EMPTY: PersonSet = frozenset()

# The primary relations (container -> members), with the name of the inverse each one has.
_RELATIONS: dict[str, str] = {
    "staff": "employers",  # school -> employed staff      | person -> schools employing them
    "class_students": "student_classes",  # class -> students | student -> classes
    "class_teachers": "teacher_classes",  # class -> class teachers | teacher -> classes
    "group_students": "student_groups",  # group -> students | student -> groups
    "group_teachers": "teacher_groups",  # group -> teachers | teacher -> groups
    "guardians": "children",  # student -> parents/guardians | parent -> children
}


def _invert(relation: Relation) -> dict[str, PersonSet]:
    """{container: members} -> {member: containers}, in one pass."""
    acc: dict[str, list[str]] = {}
    for container, members in relation.items():
        for member in members:
            found = acc.get(member)
            if found is None:
                acc[member] = [container]
            else:
                found.append(container)
    return {member: frozenset(containers) for member, containers in acc.items()}


def _patch_inverse(
    inverse: Mapping[str, PersonSet], before: Relation, changes: Mapping[str, PersonSet | None]
) -> dict[str, PersonSet]:
    """The inverse of `before` patched with `changes` (container -> new members, None = gone)."""
    patched = dict(inverse)
    for container, after in changes.items():
        old = before.get(container, EMPTY)
        new = after if after is not None else EMPTY
        for member in old - new:
            rest = patched.get(member, EMPTY) - {container}
            if rest:
                patched[member] = rest
            else:
                patched.pop(member, None)
        for member in new - old:
            patched[member] = patched.get(member, EMPTY) | {container}
    return patched


def _patched(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied; a value of None (or an empty set) removes the key."""
    result = dict(base)
    for key, value in changes.items():
        if value is None or (isinstance(value, frozenset) and not value):
            result.pop(key, None)
        else:
            result[key] = value
    return result


def _group_by(items: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    acc: dict[str, list[str]] = {}
    for key, value in items:
        acc.setdefault(key, []).append(value)
    return {key: tuple(sorted(values)) for key, values in acc.items()}


@dataclass(frozen=True, slots=True, eq=False)
class RosterSnapshot:
    """One or several schools' roster as of one moment: people, classes, groups and relations.

    Maps are read-only by contract (typed `Mapping`); values are frozensets of person ids.
    Build one with `RosterSnapshot.build` from flat relations, or directly from the maps.
    """

    schools: frozenset[str]
    people: Mapping[str, Person]
    classes: Mapping[str, SchoolClass]  # active homerooms
    groups: Mapping[str, TeachingGroup]  # active teaching groups
    staff: Relation = field(default_factory=dict)  # school -> employed (teacher/admin role)
    # school -> staff of its district: they belong to the school (may be added by hand), but
    # are not employed by it, so not in its staff chat.
    district_staff: Relation = field(default_factory=dict)
    class_students: Relation = field(default_factory=dict)
    class_teachers: Relation = field(default_factory=dict)  # the class teacher(s) (primary)
    group_students: Relation = field(default_factory=dict)
    group_teachers: Relation = field(default_factory=dict)
    guardians: Relation = field(default_factory=dict)  # student -> parents and guardians
    links: Mapping[str, int] = field(default_factory=dict)  # person -> VK user id, when linked
    sferum_admins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # school -> ids

    # Built once from the above.
    employers: Relation = field(init=False, repr=False)
    student_classes: Relation = field(init=False, repr=False)
    teacher_classes: Relation = field(init=False, repr=False)
    student_groups: Relation = field(init=False, repr=False)
    teacher_groups: Relation = field(init=False, repr=False)
    children: Relation = field(init=False, repr=False)
    vk_people: Mapping[int, str] = field(init=False, repr=False)  # VK user id -> person
    classes_by_school: Mapping[str, tuple[str, ...]] = field(init=False, repr=False)
    groups_by_class: Mapping[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for relation, inverse in _RELATIONS.items():
            object.__setattr__(self, inverse, _invert(getattr(self, relation)))
        object.__setattr__(self, "vk_people", {vk: p for p, vk in self.links.items()})
        self._index_classes()

    def _index_classes(self) -> None:
        object.__setattr__(
            self,
            "classes_by_school",
            _group_by((c.school_id, c.id) for c in self.classes.values()),
        )
        object.__setattr__(
            self,
            "groups_by_class",
            _group_by((g.class_id, g.id) for g in self.groups.values()),
        )

    # --- building -----------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        schools: Iterable[str],
        people: Iterable[Person],
        classes: Iterable[SchoolClass] = (),
        groups: Iterable[TeachingGroup] = (),
        staff: Iterable[tuple[str, str]] = (),
        district_staff: Iterable[tuple[str, str]] = (),
        enrolments: Iterable[tuple[str, str]] = (),
        teaching: Iterable[tuple[str, str]] = (),
        guardianships: Iterable[tuple[str, str]] = (),
        links: Iterable[Link] | Mapping[str, int] = (),
        sferum_admins: Mapping[str, Iterable[str]] | None = None,
    ) -> RosterSnapshot:
        """A snapshot from flat relations, as a roster lists them.

        `staff`/`district_staff`: (school id, person id); `enrolments`: (student, class or
        group id); `teaching`: (teacher, group id), or (teacher, class id) for a class
        teacher; `guardianships`: (parent, student); `links`: ESh links (only the linked count)
        or a ready {person: VK id} map. Pairs naming an unknown class or group are dropped.
        """
        class_map = {c.id: c for c in classes}
        group_map = {g.id: g for g in groups}

        def relation(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
            acc: dict[str, set[str]] = {}
            for container, member in pairs:
                acc.setdefault(container, set()).add(member)
            return acc

        class_students: dict[str, set[str]] = {}
        group_students: dict[str, set[str]] = {}
        for student, target in enrolments:
            if target in class_map:
                class_students.setdefault(target, set()).add(student)
            elif target in group_map:
                group_students.setdefault(target, set()).add(student)
        class_teachers: dict[str, set[str]] = {}
        group_teachers: dict[str, set[str]] = {}
        for teacher, target in teaching:
            if target in class_map:
                class_teachers.setdefault(target, set()).add(teacher)
            elif target in group_map:
                group_teachers.setdefault(target, set()).add(teacher)
        if isinstance(links, Mapping):
            link_map = dict(links)
        else:
            link_map = {
                link.person_id: link.vk_user_id
                for link in links
                if link.is_linked and link.vk_user_id is not None
            }

        def frozen(acc: Mapping[str, set[str]]) -> dict[str, PersonSet]:
            return {key: frozenset(values) for key, values in acc.items() if values}

        return cls(
            schools=frozenset(schools),
            people={p.id: p for p in people},
            classes=class_map,
            groups=group_map,
            staff=frozen(relation(staff)),
            district_staff=frozen(relation(district_staff)),
            class_students=frozen(class_students),
            class_teachers=frozen(class_teachers),
            group_students=frozen(group_students),
            group_teachers=frozen(group_teachers),
            guardians=frozen(relation((student, parent) for parent, student in guardianships)),
            links=link_map,
            sferum_admins={
                school: tuple(ids) for school, ids in (sferum_admins or {}).items() if ids
            },
        )

    def evolve(
        self,
        *,
        schools: Iterable[str] | None = None,
        people: Mapping[str, Person | None] | None = None,
        classes: Mapping[str, SchoolClass | None] | None = None,
        groups: Mapping[str, TeachingGroup | None] | None = None,
        staff: Mapping[str, PersonSet | None] | None = None,
        district_staff: Mapping[str, PersonSet | None] | None = None,
        class_students: Mapping[str, PersonSet | None] | None = None,
        class_teachers: Mapping[str, PersonSet | None] | None = None,
        group_students: Mapping[str, PersonSet | None] | None = None,
        group_teachers: Mapping[str, PersonSet | None] | None = None,
        guardians: Mapping[str, PersonSet | None] | None = None,
        links: Mapping[str, int | None] | None = None,
        sferum_admins: Mapping[str, tuple[str, ...] | None] | None = None,
    ) -> RosterSnapshot:
        """The next snapshot: these entries replaced (None or an empty set removes one).

        Maps that do not change are shared with this snapshot; the inverse indexes are patched
        for the changed entries only, so a delta of a few records costs a few dict copies.
        """
        new = object.__new__(RosterSnapshot)
        given: dict[str, Mapping[str, Any] | None] = {
            "people": people,
            "classes": classes,
            "groups": groups,
            "district_staff": district_staff,
            "links": links,
            "sferum_admins": sferum_admins,
        }
        for name, changes in given.items():
            current = getattr(self, name)
            object.__setattr__(new, name, _patched(current, changes) if changes else current)
        object.__setattr__(new, "schools", self.schools if schools is None else frozenset(schools))
        relations: dict[str, Mapping[str, PersonSet | None] | None] = {
            "staff": staff,
            "class_students": class_students,
            "class_teachers": class_teachers,
            "group_students": group_students,
            "group_teachers": group_teachers,
            "guardians": guardians,
        }
        for relation, inverse in _RELATIONS.items():
            changes = relations[relation]
            before: Relation = getattr(self, relation)
            if changes:
                object.__setattr__(new, relation, _patched(before, changes))
                object.__setattr__(
                    new, inverse, _patch_inverse(getattr(self, inverse), before, changes)
                )
            else:
                object.__setattr__(new, relation, before)
                object.__setattr__(new, inverse, getattr(self, inverse))
        if links:
            vk_people = dict(self.vk_people)
            for person_id in links:
                old_vk = self.links.get(person_id)
                if old_vk is not None and vk_people.get(old_vk) == person_id:
                    del vk_people[old_vk]
            for person_id in links:
                new_vk = new.links.get(person_id)
                if new_vk is not None:
                    vk_people[new_vk] = person_id
            object.__setattr__(new, "vk_people", vk_people)
        else:
            object.__setattr__(new, "vk_people", self.vk_people)
        if classes or groups:
            new._index_classes()
        else:
            object.__setattr__(new, "classes_by_school", self.classes_by_school)
            object.__setattr__(new, "groups_by_class", self.groups_by_class)
        return new

    # --- lookups ------------------------------------------------------------------------------

    def is_blocked(self, person_id: str) -> bool:
        """«Заблокирован = Да» in ESh (an unknown person counts as not blocked)."""
        person = self.people.get(person_id)
        return person is not None and person.blocked

    def vk_user_id(self, person_id: str) -> int | None:
        """The VK user id the person linked, or None while they have not linked."""
        return self.links.get(person_id)

    def school_of_class(self, class_id: str) -> str | None:
        klass = self.classes.get(class_id)
        return klass.school_id if klass is not None else None

    def is_employed(self, school_id: str, person_id: str) -> bool:
        """Employed by the school itself (a teacher or administrator role there)."""
        return person_id in self.staff.get(school_id, EMPTY)

    def is_staff_of(self, school_id: str, person_id: str) -> bool:
        """Staff of the school or of its district."""
        return self.is_employed(school_id, person_id) or person_id in self.district_staff.get(
            school_id, EMPTY
        )

    def is_student_of(self, school_id: str, person_id: str) -> bool:
        """Enrolled in a class of the school."""
        return any(
            self.school_of_class(c) == school_id for c in self.student_classes.get(person_id, ())
        )

    def is_parent_of(self, school_id: str, person_id: str) -> bool:
        """A parent or guardian of a student enrolled in the school."""
        return any(self.is_student_of(school_id, c) for c in self.children.get(person_id, ()))

    def belongs(self, school_id: str, person_id: str) -> bool:
        """Whether the person is of the school today: staff, student or a student's parent."""
        return (
            self.is_staff_of(school_id, person_id)
            or self.is_student_of(school_id, person_id)
            or self.is_parent_of(school_id, person_id)
        )

    def students_of_class(self, class_id: str) -> PersonSet:
        return self.class_students.get(class_id, EMPTY)

    def parents_in_class(self, class_id: str) -> PersonSet:
        """Parents and guardians of the students enrolled in the class."""
        guardians = self.guardians
        parents: set[str] = set()
        for student in self.class_students.get(class_id, EMPTY):
            parents.update(guardians.get(student, EMPTY))
        return frozenset(parents)

    @property
    def counts(self) -> dict[str, int]:
        """Sizes, for logs and benchmarks."""
        return {
            "schools": len(self.schools),
            "people": len(self.people),
            "classes": len(self.classes),
            "groups": len(self.groups),
            "staff": sum(len(s) for s in self.staff.values()),
            "students": len(self.student_classes),
            "parents": len(self.children),
            "enrolments": sum(len(s) for s in self.class_students.values())
            + sum(len(s) for s in self.group_students.values()),
            "linked": len(self.links),
        }
