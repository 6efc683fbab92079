"""`snapshot_from_roster`: OneRoster records as the ESh client reads them → the domain snapshot."""

from __future__ import annotations

from datetime import date
from typing import Any

from sferum_desktop.api import esh_models
from sferum_desktop.api.oneroster import (
    Enrollment,
    Org,
    RosterClass,
    RosterSnapshot,
    User,
    parse_record,
)
from sferum_desktop.domain import Role
from sferum_desktop.sync.snapshot import snapshot_from_roster

TODAY = date(2026, 11, 29)
STAMP = "2026-09-01T00:00:00Z"


def rec(**fields: Any) -> dict[str, Any]:
    return {"status": "active", "dateLastModified": STAMP, **fields}


def user(
    uid: str, *roles: tuple[str, str, str], agents: tuple[str, ...] = (), **extra: Any
) -> User:
    """roles: (role, org, roleType[, endDate])."""
    role_list = []
    for role in roles:
        item: dict[str, Any] = {"role": role[0], "org": {"sourcedId": role[1]}, "roleType": role[2]}
        if len(role) > 3:
            item["endDate"] = role[3]
        role_list.append(item)
    data = rec(
        sourcedId=uid,
        enabledUser="true",
        givenName="Имя",
        familyName=uid.capitalize(),
        roles=role_list,
        agents=[{"sourcedId": a} for a in agents],
    )
    data.update(extra)
    return parse_record(User, data)


def klass(cid: str, title: str, kind: str = "homeroom", **extra: Any) -> RosterClass:
    return parse_record(
        RosterClass,
        rec(sourcedId=cid, title=title, classType=kind, school={"sourcedId": "sch"}, **extra),
    )


def enrol(eid: str, uid: str, cid: str, role: str, **extra: Any) -> Enrollment:
    return parse_record(
        Enrollment,
        rec(
            sourcedId=eid,
            user={"sourcedId": uid},
            **{"class": {"sourcedId": cid}},
            school={"sourcedId": "sch"},
            role=role,
            **extra,
        ),
    )


def roster() -> RosterSnapshot:
    orgs = [
        parse_record(Org, rec(sourcedId="dist", name="Управление", type="district")),
        parse_record(
            Org, rec(sourcedId="sch", name="Школа", type="school", parent={"sourcedId": "dist"})
        ),
        parse_record(
            Org, rec(sourcedId="old", name="Закрыта", type="school", status="tobedeleted")
        ),
    ]
    users = [
        user("director", ("administrator", "sch", "primary"), ("teacher", "sch", "secondary")),
        user("pavlova", ("teacher", "sch", "primary"), ("administrator", "sch", "secondary")),
        user("gone", ("teacher", "sch", "primary", "2026-10-01")),  # dismissed
        user("methodist", ("teacher", "dist", "primary")),
        user("kid", ("student", "sch", "primary"), agents=("mum",)),
        user("kid2", ("student", "sch", "primary")),
        user("mum", ("parent", "sch", "primary"), agents=("kid", "kid2")),
        user("blocked", ("student", "sch", "primary"), enabledUser="false"),
        user("deleted", ("student", "sch", "primary"), status="tobedeleted"),
    ]
    classes = [
        klass("c1", "1А"),
        klass("g1", "1А - Русский язык", "scheduled", subjects=["Русский язык"],
              metadata={"homeroom": {"sourcedId": "c1"}}),
        klass("g2", "1А - Английский язык (1 группа)", "scheduled", subjects=["Английский язык"],
              metadata={"homeroom": "c1"}),
        klass("g3", "Кружок", "scheduled"),  # no homeroom: not a teaching group of a class
    ]  # fmt: skip
    enrollments = [
        enrol("e1", "kid", "c1", "student"),
        enrol("e2", "kid", "g1", "student"),
        enrol("e3", "kid2", "c1", "student", status="tobedeleted"),  # expelled
        enrol("e4", "blocked", "c1", "student"),
        enrol("e5", "pavlova", "c1", "teacher", primary="true"),
        enrol("e6", "director", "c1", "teacher"),  # teaches in the homeroom, not its teacher
        enrol("e7", "pavlova", "g1", "teacher"),
        enrol("e8", "kid", "g2", "student", endDate="2026-10-01"),  # left the subgroup
        enrol("e9", "deleted", "c1", "student"),
    ]
    return RosterSnapshot(orgs=orgs, classes=classes, users=users, enrollments=enrollments)


def test_schools_people_and_staff() -> None:
    links = [
        esh_models.Link(person_id="pavlova", vk_user_id=7, status="linked", updated_at=STAMP),
        esh_models.Link(person_id="kid", vk_user_id=None, status="unlinked", updated_at=STAMP),
    ]
    snap = snapshot_from_roster(roster(), links, today=TODAY)
    assert snap.schools == {"sch"}
    assert "deleted" not in snap.people
    assert snap.people["blocked"].blocked and not snap.people["kid"].blocked
    assert snap.people["pavlova"].roles == {Role.TEACHER, Role.ADMIN}
    assert snap.people["gone"].roles == frozenset()
    assert snap.staff == {"sch": {"director", "pavlova"}}
    assert snap.district_staff == {"sch": {"methodist"}}
    # A teacher holding the administrator role is taken for the Sferum administrator first.
    assert snap.sferum_admins == {"sch": ("pavlova", "director")}
    assert snap.links == {"pavlova": 7}


def test_classes_groups_and_enrolments() -> None:
    snap = snapshot_from_roster(roster(), today=TODAY)
    assert set(snap.classes) == {"c1"}
    assert set(snap.groups) == {"g1", "g2"}
    assert snap.groups["g1"].subgroup is None
    assert snap.groups["g1"].chat_name == "1А - Русский язык"
    assert snap.groups["g2"].subgroup == "1 группа"
    assert snap.groups["g2"].subject == "Английский язык"
    assert snap.class_students == {"c1": {"kid", "blocked"}}
    assert snap.group_students == {"g1": {"kid"}}
    assert snap.class_teachers == {"c1": {"pavlova"}}
    assert snap.group_teachers == {"g1": {"pavlova"}}


def test_guardianships_from_either_side() -> None:
    snap = snapshot_from_roster(roster(), today=TODAY)
    assert snap.guardians == {"kid": {"mum"}, "kid2": {"mum"}}
    assert snap.children == {"mum": {"kid", "kid2"}}
    assert snap.parents_in_class("c1") == {"mum"}


def test_school_filter_and_admin_override() -> None:
    snap = snapshot_from_roster(
        roster(), today=TODAY, school_ids=["sch"], sferum_admins={"sch": ["director"]}
    )
    assert snap.sferum_admins == {"sch": ("director",)}
    assert snapshot_from_roster(roster(), today=TODAY, school_ids=["other"]).schools == frozenset()
