"""Roster events in ESh: enrolment, transfer, expulsion, hiring, dismissal and the rest.

The control surface (`POST /sandbox/dev/roster`) calls `apply_roster_event`, so a demo or a
test can make the roster change the way a school's ESh does. Records are never deleted: an
ended role gets an `endDate`, an ended enrollment or guardianship becomes a tombstone, and
every record touched gets `dateLastModified = now`, so a OneRoster delta reports it. The
registry is never touched: keeping chats in step is the client's automatic mode.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox import names
from sferum_desktop.sandbox.common import EshError, SandboxState, utcnow
from sferum_desktop.sandbox.esh_helpers import active_role, ended_on, write_transaction

STAFF_ROLES = ("teacher", "administrator")
PARENT_ROLES = ("parent", "guardian")


@dataclass
class _Event:
    """One event's transaction, clock and random names."""

    conn: Connection
    now: datetime
    rng: random.Random

    @property
    def today(self) -> date:
        return self.now.date()


def _bad(message: str, **details: Any) -> EshError:
    return EshError(400, "bad_request", message, details)


def _text(event: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = event.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"Не указано поле {name} (строка).", field=name)
    return value.strip()


# --- reading ----------------------------------------------------------------------------------


def _user(ev: _Event, person_id: str) -> Any:
    row = ev.conn.execute(select(m.users).where(m.users.c.sourced_id == person_id)).first()
    if row is None:
        raise EshError(404, "not_found", f"Пользователь {person_id} не найден.", {"id": person_id})
    return row


def _class(ev: _Event, class_id: str, class_type: str | None = None) -> Any:
    row = ev.conn.execute(select(m.classes).where(m.classes.c.sourced_id == class_id)).first()
    if row is None:
        raise EshError(404, "not_found", f"Класс {class_id} не найден.", {"id": class_id})
    if row.status != "active":
        raise _bad(f"Класс {row.title} удалён.", class_id=class_id)
    if class_type is not None and row.class_type != class_type:
        raise _bad(f"{row.title} — не класс, а группа обучения.", class_id=class_id)
    return row


def _school(ev: _Event, school_id: str) -> Any:
    row = ev.conn.execute(select(m.orgs).where(m.orgs.c.sourced_id == school_id)).first()
    if row is None:
        raise EshError(404, "not_found", f"Школа {school_id} не найдена.", {"id": school_id})
    if row.type != "school" or row.status != "active":
        raise _bad(f"{row.name} — не действующая школа.", school_id=school_id)
    return row


def _active_roles(ev: _Event, person_id: str, roles: Iterable[str]) -> list[Any]:
    ur = m.user_roles
    return ev.conn.execute(
        select(ur).where(
            ur.c.user_id == person_id, ur.c.role.in_(tuple(roles)), active_role(ev.today)
        )
    ).all()


def _sex(person: Any) -> str:
    if person.sex in ("male", "female"):
        return str(person.sex)
    middle = (person.middle_name or "").lower()
    return "female" if middle.endswith(("вна", "чна", "кызы")) else "male"


def _guess_sex(given: str, family: str, middle: str) -> str | None:
    """ "male"/"female" from whichever name tells it (patronymic, given name, surname), or None."""
    if middle.strip():
        return "female" if middle.strip().endswith(("вна", "чна", "кызы")) else "male"
    if given.strip():
        female = given.strip() in names.FEMALE_NAMES or given.strip().endswith(("а", "я"))
        return "female" if female and given.strip() not in ("Илья", "Никита", "Савва") else "male"
    family = family.strip()
    if family.endswith(("ова", "ева", "ёва", "ина", "ына", "ая")):
        return "female"
    if family.endswith(("ов", "ев", "ёв", "ин", "ын", "ий", "ой")):
        return "male"
    return None


def _masculine(surname: str, sex: str) -> str:
    """The masculine form of a surname (names.surname_for goes the other way)."""
    if sex == "male":
        return surname
    for feminine, masculine in (("ская", "ский"), ("цкая", "цкий"), ("ая", "ой")):
        if surname.endswith(feminine):
            return surname[: -len(feminine)] + masculine
    if surname.endswith(("ова", "ева", "ёва", "ина", "ына")):
        return surname[:-1]
    return surname


# --- writing ----------------------------------------------------------------------------------


def _touch(ev: _Event, person_ids: Iterable[str]) -> None:
    """`dateLastModified = now` on the user records whose roles or agents changed."""
    ids = sorted(set(person_ids))
    if ids:
        ev.conn.execute(
            update(m.users).where(m.users.c.sourced_id.in_(ids)).values(date_last_modified=ev.now)
        )


def _username(ev: _Event, family: str, given: str) -> str:
    base = f"{names.translit(family)}.{names.translit(given)[:1]}".replace(" ", "")
    while True:
        candidate = f"{base}{ev.rng.randrange(100, 10_000)}"
        taken = ev.conn.execute(
            select(m.users.c.sourced_id).where(m.users.c.username == candidate)
        ).first()
        if taken is None:
            return candidate


def _birth_date(ev: _Event, age_from: int, age_to: int) -> date:
    """A birthday for someone `age_from`..`age_to` years old on 1 September this school year."""
    year = ev.today.year if ev.today.month >= 9 else ev.today.year - 1
    september = date(year, 9, 1)
    oldest = september.replace(year=year - age_to - 1) + timedelta(days=1)
    youngest = september.replace(year=year - age_from)
    return oldest + timedelta(days=ev.rng.randrange((youngest - oldest).days + 1))


def _new_person(
    ev: _Event,
    spec: Any,
    *,
    child: bool,
    family_base: str | None = None,
    ages: tuple[int, int] = (25, 60),
) -> str:
    """A new ESh user from `{given_name, family_name, middle_name?, sex?}`, the gaps generated."""
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise _bad("Описание человека должно быть объектом {given_name, family_name, ...}.")
    for key in ("given_name", "family_name", "middle_name", "sex", "email", "phone"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise _bad(f"Поле {key} должно быть строкой.", field=key)
    given = (spec.get("given_name") or "").strip()
    sex = spec.get("sex")
    if sex not in ("male", "female"):
        sex = _guess_sex(given, spec.get("family_name") or "", spec.get("middle_name") or "")
    if sex is None:
        sex = ev.rng.choice(("male", "female"))
    if not given:
        pool = (
            (names.CHILD_MALE if child else names.ADULT_MALE)
            if sex == "male"
            else (names.CHILD_FEMALE if child else names.ADULT_FEMALE)
        )
        given = ev.rng.choice(pool)
    family = (spec.get("family_name") or "").strip() or names.surname_for(
        family_base or ev.rng.choice(names.SURNAMES), sex
    )
    middle = spec.get("middle_name")
    if middle is None:
        father = ev.rng.choice(names.ADULT_MALE if child else names.ELDER_MALE)
        middle = names.patronymic(father, sex) if father in names.PATRONYMICS else None
    person_id = str(uuid.uuid4())
    ev.conn.execute(
        insert(m.users).values(
            sourced_id=person_id,
            status="active",
            date_last_modified=ev.now,
            enabled_user=True,
            given_name=given,
            family_name=family,
            middle_name=(middle or "").strip() or None,
            username=_username(ev, family, given),
            email=spec.get("email"),
            phone=spec.get("phone"),
            birth_date=_birth_date(ev, *ages),
            sex=sex,
        )
    )
    return person_id


def _add_role(ev: _Event, person_id: str, role: str, org_id: str) -> bool:
    """Give a role in an org unless it is already held today; whether one was added."""
    ur = m.user_roles
    held = ev.conn.execute(
        select(ur.c.role, ur.c.org_id).where(ur.c.user_id == person_id, active_role(ev.today))
    ).all()
    if any(r.role == role and r.org_id == org_id for r in held):
        return False
    ev.conn.execute(
        insert(ur).values(
            user_id=person_id,
            role_type="secondary" if held else "primary",
            role=role,
            org_id=org_id,
            begin_date=ev.today,
            end_date=None,
        )
    )
    return True


def _end_roles(ev: _Event, rows: Iterable[Any]) -> list[str]:
    """End roles (their last day is yesterday, so they are out of force today); the orgs."""
    ids = [r.id for r in rows]
    if ids:
        ev.conn.execute(
            update(m.user_roles)
            .where(m.user_roles.c.id.in_(ids))
            .values(end_date=ended_on(ev.today))
        )
    return [r.org_id for r in rows]


def _tombstone(ev: _Event, condition: Any) -> list[str]:
    """Turn the active enrollments matching `condition` into tombstones; their ids."""
    e = m.enrollments
    ids = [
        r[0]
        for r in ev.conn.execute(select(e.c.sourced_id).where(condition, e.c.status == "active"))
    ]
    if ids:
        ev.conn.execute(
            update(e)
            .where(e.c.sourced_id.in_(ids))
            .values(status="tobedeleted", end_date=ended_on(ev.today), date_last_modified=ev.now)
        )
    return ids


def _enroll_row(ev: _Event, user_id: str, cls: Any, role: str, primary: bool = False) -> str:
    enrollment_id = str(uuid.uuid4())
    ev.conn.execute(
        insert(m.enrollments).values(
            sourced_id=enrollment_id,
            status="active",
            date_last_modified=ev.now,
            user_id=user_id,
            class_id=cls.sourced_id,
            school_id=cls.school_id,
            role=role,
            primary=primary,
            begin_date=ev.today,
            end_date=None,
        )
    )
    return enrollment_id


def _enroll_student(ev: _Event, student_id: str, homeroom: Any) -> list[str]:
    """Enroll in the class and in one group per subject: the whole-class group if there is one
    (it has all the class's students, or the plain «3А - Предмет» title), else the smallest."""
    e, c = m.enrollments, m.classes
    groups = ev.conn.execute(
        select(c)
        .where(c.c.homeroom_id == homeroom.sourced_id, c.c.status == "active")
        .order_by(c.c.sourced_id)
    ).all()
    sizes = dict(
        ev.conn.execute(
            select(e.c.class_id, func.count())
            .where(
                e.c.class_id.in_([homeroom.sourced_id, *(g.sourced_id for g in groups)]),
                e.c.role == "student",
                e.c.status == "active",
            )
            .group_by(e.c.class_id)
        ).all()
    )
    class_size = sizes.get(homeroom.sourced_id, 0)
    by_subject: dict[tuple[str, ...], list[Any]] = {}
    for group in groups:
        key = tuple(group.subjects or []) or (group.course_id or group.sourced_id,)
        by_subject.setdefault(key, []).append(group)

    def preference(group: Any) -> tuple[bool, bool, int, str]:
        size = sizes.get(group.sourced_id, 0)
        whole = class_size > 0 and size >= class_size
        plain = group.title == f"{homeroom.title} - {', '.join(group.subjects or [])}"
        return (not whole, not plain, size, group.sourced_id)

    chosen = [min(options, key=preference) for options in by_subject.values()]
    ids = [_enroll_row(ev, student_id, homeroom, "student")]
    ids += [_enroll_row(ev, student_id, g, "student") for g in chosen]
    return ids


def _student_homerooms(ev: _Event, student_id: str) -> list[Any]:
    e, c = m.enrollments, m.classes
    return ev.conn.execute(
        select(c)
        .select_from(e.join(c, c.c.sourced_id == e.c.class_id))
        .where(
            e.c.user_id == student_id,
            e.c.role == "student",
            e.c.status == "active",
            c.c.class_type == "homeroom",
        )
    ).all()


def _parents_of(ev: _Event, student_id: str) -> list[str]:
    g = m.guardians
    return [
        r[0]
        for r in ev.conn.execute(
            select(g.c.parent_id).where(g.c.student_id == student_id, g.c.status == "active")
        )
    ]


def _refresh_parent_roles(ev: _Event, parent_ids: Iterable[str]) -> list[str]:
    """Give parents a role in every school their children attend and end the others."""
    e, g, ur = m.enrollments, m.guardians, m.user_roles
    changed: list[str] = []
    for parent_id in sorted(set(parent_ids)):
        needed = {
            r[0]
            for r in ev.conn.execute(
                select(e.c.school_id)
                .select_from(g.join(e, e.c.user_id == g.c.student_id))
                .where(
                    g.c.parent_id == parent_id,
                    g.c.status == "active",
                    e.c.role == "student",
                    e.c.status == "active",
                )
            )
        }
        held = ev.conn.execute(
            select(ur)
            .select_from(ur.join(m.orgs, m.orgs.c.sourced_id == ur.c.org_id))
            .where(
                ur.c.user_id == parent_id,
                ur.c.role.in_(PARENT_ROLES),
                m.orgs.c.type == "school",
                active_role(ev.today),
            )
        ).all()
        stale = [r for r in held if r.org_id not in needed]
        added = [
            s
            for s in sorted(needed - {r.org_id for r in held})
            if _add_role(ev, parent_id, "parent", s)
        ]
        if stale or added:
            _end_roles(ev, stale)
            changed.append(parent_id)
    _touch(ev, changed)
    return changed


# --- the events -------------------------------------------------------------------------------


def _enroll(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    homeroom = _class(ev, _text(event, "class_id") or "", "homeroom")
    student_id = _text(event, "student_id", required=False)
    if student_id is not None:
        _user(ev, student_id)
        current = _student_homerooms(ev, student_id)
        if current:
            raise _bad(
                f"Ученик уже зачислен в класс {current[0].title}; для перевода — transfer.",
                class_id=current[0].sourced_id,
            )
    else:
        grade = next((int(g) for g in homeroom.grades or [] if str(g).isdigit()), 1)
        student_id = _new_person(ev, event.get("student"), child=True, ages=(6 + grade, 6 + grade))
    parents = event.get("parents") or []
    if not isinstance(parents, list):
        raise _bad("parents — список родителей.", field="parents")
    _add_role(ev, student_id, "student", homeroom.school_id)
    enrollment_ids = _enroll_student(ev, student_id, homeroom)
    student = _user(ev, student_id)
    parent_ids = [_guardian(ev, student, spec) for spec in parents]
    _refresh_parent_roles(ev, _parents_of(ev, student_id))
    _touch(ev, [student_id])
    return {"student_id": student_id, "enrollment_ids": enrollment_ids, "parent_ids": parent_ids}


def _guardian(ev: _Event, student: Any, spec: Any) -> str:
    """Make `spec` ({parent_id} or a new person) a guardian of `student`; the parent's id."""
    if isinstance(spec, dict) and spec.get("parent_id") is not None:
        parent_id = _text(spec, "parent_id") or ""
        if parent_id == student.sourced_id:
            raise _bad("Ученик не может быть своим родителем.")
        _user(ev, parent_id)
    else:
        base = _masculine(student.family_name, _sex(student))
        parent_id = _new_person(ev, spec, child=False, family_base=base)
    g = m.guardians
    row = ev.conn.execute(
        select(g.c.status).where(g.c.student_id == student.sourced_id, g.c.parent_id == parent_id)
    ).first()
    if row is not None and row.status == "active":
        raise _bad("Этот родитель уже связан с учеником.", parent_id=parent_id)
    values = {"status": "active", "date_last_modified": ev.now}
    if row is None:
        ev.conn.execute(
            insert(g).values(student_id=student.sourced_id, parent_id=parent_id, **values)
        )
    else:
        ev.conn.execute(
            update(g)
            .where(g.c.student_id == student.sourced_id, g.c.parent_id == parent_id)
            .values(**values)
        )
    _touch(ev, [student.sourced_id, parent_id])
    return parent_id


def _transfer(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    student_id = _text(event, "student_id") or ""
    _user(ev, student_id)
    target = _class(ev, _text(event, "class_id") or "", "homeroom")
    current = _student_homerooms(ev, student_id)
    if not current:
        raise _bad("Ученик не зачислен ни в один класс; используйте enroll.", student_id=student_id)
    if any(c.sourced_id == target.sourced_id for c in current):
        raise _bad(f"Ученик уже в классе {target.title}.", class_id=target.sourced_id)
    e, c = m.enrollments, m.classes
    old_ids = [h.sourced_id for h in current]
    old_schools = {h.school_id for h in current} - {target.school_id}
    groups = select(c.c.sourced_id).where(c.c.homeroom_id.in_(old_ids))
    scope = or_(e.c.class_id.in_(old_ids), e.c.class_id.in_(groups))
    if old_schools:
        scope = or_(scope, e.c.school_id.in_(old_schools))
    tombstones = _tombstone(ev, and_(e.c.user_id == student_id, e.c.role == "student", scope))
    if old_schools:
        _end_roles(
            ev, [r for r in _active_roles(ev, student_id, ("student",)) if r.org_id in old_schools]
        )
    _add_role(ev, student_id, "student", target.school_id)
    enrollment_ids = _enroll_student(ev, student_id, target)
    _refresh_parent_roles(ev, _parents_of(ev, student_id))
    _touch(ev, [student_id])
    return {
        "student_id": student_id,
        "from_class_ids": old_ids,
        "enrollment_ids": enrollment_ids,
        "tombstone_ids": tombstones,
    }


def _expel(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    student_id = _text(event, "student_id") or ""
    _user(ev, student_id)
    e = m.enrollments
    tombstones = _tombstone(ev, and_(e.c.user_id == student_id, e.c.role == "student"))
    ended = _end_roles(ev, _active_roles(ev, student_id, ("student",)))
    if not tombstones and not ended:
        raise _bad("Ученик не зачислен ни в одну школу.", student_id=student_id)
    _refresh_parent_roles(ev, _parents_of(ev, student_id))
    _touch(ev, [student_id])
    return {"student_id": student_id, "tombstone_ids": tombstones, "ended_role_orgs": ended}


def _hire(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    school = _school(ev, _text(event, "school_id") or "")
    role = _text(event, "role")
    if role not in STAFF_ROLES:
        raise _bad("role: teacher или administrator.", field="role")
    person_id = _text(event, "person_id", required=False)
    if person_id is not None:
        _user(ev, person_id)
    else:
        person_id = _new_person(ev, event.get("person"), child=False, ages=(23, 60))
    if not _add_role(ev, person_id, role, school.sourced_id):
        raise _bad(f"Сотрудник уже работает в школе в роли {role}.", person_id=person_id)
    _touch(ev, [person_id])
    return {"person_id": person_id, "school_id": school.sourced_id, "role": role}


def _dismiss(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    person_id = _text(event, "person_id") or ""
    _user(ev, person_id)
    school_id = _text(event, "school_id", required=False)
    roles = [
        r
        for r in _active_roles(ev, person_id, STAFF_ROLES)
        if school_id is None or r.org_id == school_id
    ]
    if not roles:
        raise _bad("Сотрудник не работает в этой школе.", person_id=person_id)
    orgs = sorted(set(_end_roles(ev, roles)))
    e = m.enrollments
    tombstones = _tombstone(
        ev, and_(e.c.user_id == person_id, e.c.role == "teacher", e.c.school_id.in_(orgs))
    )
    _touch(ev, [person_id])
    return {"person_id": person_id, "school_ids": orgs, "tombstone_ids": tombstones}


def _teacher_enrollment(ev: _Event, person_id: str, class_id: str) -> Any:
    e = m.enrollments
    return ev.conn.execute(
        select(e).where(
            e.c.user_id == person_id,
            e.c.class_id == class_id,
            e.c.role == "teacher",
            e.c.status == "active",
        )
    ).first()


def _assign_teacher(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    person_id = _text(event, "person_id") or ""
    _user(ev, person_id)
    cls = _class(ev, _text(event, "class_id") or "")
    primary = event.get("primary")
    if primary is not None and not isinstance(primary, bool):
        raise _bad("primary — true или false.", field="primary")
    parent = ev.conn.execute(
        select(m.orgs.c.parent_id).where(m.orgs.c.sourced_id == cls.school_id)
    ).scalar()
    if not any(
        r.org_id in (cls.school_id, parent) for r in _active_roles(ev, person_id, STAFF_ROLES)
    ):
        raise _bad("Учитель не работает в школе этого класса; сначала hire.", person_id=person_id)
    current = _teacher_enrollment(ev, person_id, cls.sourced_id)
    if current is not None:
        if primary is None or bool(current.primary) == primary:
            raise _bad(f"Учитель уже назначен в {cls.title}.", enrollment_id=current.sourced_id)
        ev.conn.execute(
            update(m.enrollments)
            .where(m.enrollments.c.sourced_id == current.sourced_id)
            .values(primary=primary, date_last_modified=ev.now)
        )
        return {"person_id": person_id, "enrollment_id": current.sourced_id}
    enrollment_id = _enroll_row(ev, person_id, cls, "teacher", bool(primary))
    return {"person_id": person_id, "enrollment_id": enrollment_id}


def _unassign_teacher(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    person_id = _text(event, "person_id") or ""
    _user(ev, person_id)
    cls = _class(ev, _text(event, "class_id") or "")
    e = m.enrollments
    tombstones = _tombstone(
        ev, and_(e.c.user_id == person_id, e.c.class_id == cls.sourced_id, e.c.role == "teacher")
    )
    if not tombstones:
        raise _bad(f"Учитель не назначен в {cls.title}.", person_id=person_id)
    return {"person_id": person_id, "tombstone_ids": tombstones}


def _add_guardian(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    student = _user(ev, _text(event, "student_id") or "")
    has_student_role = ev.conn.execute(
        select(m.user_roles.c.id).where(
            m.user_roles.c.user_id == student.sourced_id, m.user_roles.c.role == "student"
        )
    ).first()
    if has_student_role is None:
        raise _bad("Родителя можно добавить только ученику.", student_id=student.sourced_id)
    parent_id = _text(event, "parent_id", required=False)
    spec = {"parent_id": parent_id} if parent_id is not None else event.get("parent")
    parent_id = _guardian(ev, student, spec)
    _refresh_parent_roles(ev, [parent_id])
    return {"student_id": student.sourced_id, "parent_id": parent_id}


def _remove_guardian(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
    student_id = _text(event, "student_id") or ""
    parent_id = _text(event, "parent_id") or ""
    _user(ev, student_id)
    _user(ev, parent_id)
    g = m.guardians
    result = ev.conn.execute(
        update(g)
        .where(g.c.student_id == student_id, g.c.parent_id == parent_id, g.c.status == "active")
        .values(status="tobedeleted", date_last_modified=ev.now)
    )
    if result.rowcount == 0:
        raise EshError(
            404,
            "not_found",
            "Этот родитель не связан с учеником.",
            {"student_id": student_id, "parent_id": parent_id},
        )
    _touch(ev, [student_id, parent_id])
    _refresh_parent_roles(ev, [parent_id])
    return {"student_id": student_id, "parent_id": parent_id}


def _blocking(enabled: bool) -> Callable[[_Event, dict[str, Any]], dict[str, Any]]:
    def handler(ev: _Event, event: dict[str, Any]) -> dict[str, Any]:
        person_id = _text(event, "person_id") or ""
        _user(ev, person_id)
        ev.conn.execute(
            update(m.users)
            .where(m.users.c.sourced_id == person_id)
            .values(enabled_user=enabled, date_last_modified=ev.now)
        )
        return {"person_id": person_id, "enabled_user": enabled}

    return handler


_HANDLERS: dict[str, Callable[[_Event, dict[str, Any]], dict[str, Any]]] = {
    "enroll": _enroll,
    "transfer": _transfer,
    "expel": _expel,
    "hire": _hire,
    "dismiss": _dismiss,
    "assign_teacher": _assign_teacher,
    "unassign_teacher": _unassign_teacher,
    "add_guardian": _add_guardian,
    "remove_guardian": _remove_guardian,
    "block": _blocking(False),
    "unblock": _blocking(True),
}


def apply_roster_event(state: SandboxState, event: dict[str, Any]) -> dict[str, Any]:
    """Apply one roster event `{op, ...}` atomically; `{"ok": true, "op", ...ids made}`."""
    if not isinstance(event, dict):
        raise _bad("Событие — JSON-объект {op, ...}.")
    op = event.get("op")
    handler = _HANDLERS.get(op) if isinstance(op, str) else None
    if handler is None:
        raise _bad(f"Неизвестное событие: {op}.", ops=sorted(_HANDLERS))
    with write_transaction(state) as conn:
        result = handler(_Event(conn, utcnow(), random.Random(uuid.uuid4().int)), event)
    return {"ok": True, "op": op, **result}
