"""The domain's roster snapshot built from the OneRoster records the ESh client fetched.

A thin adapter: it decides only what OneRoster leaves to the reader — which records are in
force today, which side of a guardianship is the parent, which teacher enrolment makes a
class teacher, how a teaching group names its subgroup — and hands plain data to
`domain.RosterSnapshot`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from sferum_desktop.api import esh_models
from sferum_desktop.api.oneroster import Enrollment, Org, RosterClass, User, UserRole
from sferum_desktop.api.oneroster import RosterSnapshot as RosterRecords
from sferum_desktop.domain import Link, Person, Role, RosterSnapshot, SchoolClass, TeachingGroup

STAFF_ROLES = frozenset({"teacher", "administrator"})
PARENT_ROLES = frozenset({"parent", "guardian"})
_TRAILING_BRACKETS = re.compile(r"\(([^()]+)\)\s*$")


def _in_force(begin: date | None, end: date | None, today: date) -> bool:
    return (begin is None or begin <= today) and (end is None or end >= today)


def _role_active(role: UserRole, today: date) -> bool:
    return _in_force(role.begin_date, role.end_date, today)


def _enrolled(enrollment: Enrollment, today: date) -> bool:
    return not enrollment.is_deleted and _in_force(
        enrollment.begin_date, enrollment.end_date, today
    )


def _person(user: User, today: date) -> Person:
    roles = {Role.from_oneroster(r.role) for r in user.roles if _role_active(r, today)}
    return Person(
        user.sourced_id,
        user.family_name,
        user.given_name,
        user.middle_name,
        frozenset(r for r in roles if r is not None),
        blocked=not user.enabled_user,
    )


def _subgroup(group: RosterClass, homeroom_title: str, subject: str) -> str | None:
    """«1 группа» of «5А - Английский язык (1 группа)»; None for a whole-class group."""
    title = group.title.strip()
    plain = f"{homeroom_title} - {subject}"
    if title == plain:
        return None
    match = _TRAILING_BRACKETS.search(title)
    return match.group(1).strip() if match else None


def _group_subject(group: RosterClass, homeroom_title: str) -> str:
    if group.subjects:
        return group.subjects[0]
    title = group.title
    prefix = f"{homeroom_title} - "
    if title.startswith(prefix):
        title = _TRAILING_BRACKETS.sub("", title[len(prefix) :]).strip()
    return title or group.title


def _links(links: Iterable[esh_models.Link | Link] | Mapping[str, int]) -> dict[str, int]:
    if isinstance(links, Mapping):
        return dict(links)
    result: dict[str, int] = {}
    for link in links:
        if link.status == "linked" and link.vk_user_id is not None:
            result[link.person_id] = link.vk_user_id
    return result


def _admin_order(user: User, school_id: str) -> tuple[int, str]:
    """Sort key of a school's administrators: one who holds the role beside another main role
    (a teacher made the Sferum administrator) before one whose main role it is (a director)."""
    secondary = any(
        r.role == "administrator" and r.org_id == school_id and r.role_type == "secondary"
        for r in user.roles
    )
    return (0 if secondary else 1, user.sourced_id)


def _ordered_admins(users: Iterable[User], school_id: str) -> list[str]:
    return [u.sourced_id for u in sorted(users, key=lambda u: _admin_order(u, school_id))]


def snapshot_from_roster(
    records: RosterRecords,
    links: Iterable[esh_models.Link | Link] | Mapping[str, int] = (),
    *,
    school_ids: Iterable[str] | None = None,
    today: date | None = None,
    sferum_admins: Mapping[str, Iterable[str]] | None = None,
) -> RosterSnapshot:
    """The domain snapshot of the fetched roster (tombstones and ended records left out).

    - schools: the active `school` orgs (or only `school_ids`);
    - staff: active `teacher`/`administrator` roles in the school; those held in the school's
      district make district staff (they may be added by hand, not in the staff chat);
    - Sferum administrators: active `administrator` roles in the school, a teacher given the
      role first (override with `sferum_admins`);
    - classes: `homeroom` classes; teaching groups: `scheduled` classes with
      `metadata.homeroom`, the subgroup read from the title's brackets;
    - enrolments in force today: students in classes and groups; teachers in groups; a
      `primary` teacher of a homeroom is its class teacher;
    - guardianships from `agents`, seen from either side; links: ESh's `linked` ones.
    """
    today = today or datetime.now(UTC).date()
    orgs: dict[str, Org] = {o.sourced_id: o for o in records.orgs if not o.is_deleted}
    wanted = set(school_ids) if school_ids is not None else None
    schools = {
        org_id
        for org_id, org in orgs.items()
        if org.type == "school" and (wanted is None or org_id in wanted)
    }
    schools_of_district: dict[str, set[str]] = {}
    for school in schools:
        parent = orgs[school].parent_id
        if parent is not None:
            schools_of_district.setdefault(parent, set()).add(school)

    users = {u.sourced_id: u for u in records.users if not u.is_deleted}
    people = [_person(u, today) for u in users.values()]
    staff: set[tuple[str, str]] = set()
    district_staff: set[tuple[str, str]] = set()
    admins: dict[str, dict[str, User]] = {}
    guardianships: set[tuple[str, str]] = set()
    for user in users.values():
        is_student = any(r.role == "student" for r in user.roles)
        for role in user.roles:
            if role.role not in STAFF_ROLES or not _role_active(role, today):
                continue
            if role.org_id in schools:
                staff.add((role.org_id, user.sourced_id))
                if role.role == "administrator":
                    admins.setdefault(role.org_id, {})[user.sourced_id] = user
            for school in schools_of_district.get(role.org_id, ()):
                district_staff.add((school, user.sourced_id))
        for agent in user.agents:
            if agent not in users:
                continue
            # A student's agents are their parents; anyone else's are their children.
            guardianships.add((agent, user.sourced_id) if is_student else (user.sourced_id, agent))

    homerooms = {
        c.sourced_id: c
        for c in records.classes
        if not c.is_deleted and c.class_type == "homeroom" and c.school_id in schools
    }
    classes = [SchoolClass(c.sourced_id, c.school_id, c.title) for c in homerooms.values()]
    groups: list[TeachingGroup] = []
    for c in records.classes:
        if c.is_deleted or c.class_type != "scheduled" or c.school_id not in schools:
            continue
        homeroom = homerooms.get(c.homeroom_id or "")
        if homeroom is None:
            continue  # a group of no class this snapshot knows: no subject chat can follow it
        subject = _group_subject(c, homeroom.title)
        groups.append(
            TeachingGroup(
                c.sourced_id,
                c.school_id,
                homeroom.sourced_id,
                homeroom.title,
                subject,
                _subgroup(c, homeroom.title, subject),
            )
        )
    group_ids = {g.id for g in groups}

    enrolments: list[tuple[str, str]] = []
    teaching: list[tuple[str, str]] = []
    for e in records.enrollments:
        if e.user_id not in users or not _enrolled(e, today):
            continue
        if e.role == "student" and (e.class_id in homerooms or e.class_id in group_ids):
            enrolments.append((e.user_id, e.class_id))
        elif e.role == "teacher" and (
            e.class_id in group_ids or (e.class_id in homerooms and e.primary)
        ):
            teaching.append((e.user_id, e.class_id))

    if sferum_admins is None:
        sferum_admins = {
            school: _ordered_admins(found.values(), school) for school, found in admins.items()
        }
    return RosterSnapshot.build(
        schools=schools,
        people=people,
        classes=classes,
        groups=groups,
        staff=staff,
        district_staff=district_staff - staff,
        enrolments=enrolments,
        teaching=teaching,
        guardianships=guardianships,
        links=_links(links),
        sferum_admins=sferum_admins,
    )
