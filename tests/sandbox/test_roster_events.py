"""Roster events (`POST /sandbox/dev/roster`) and what the OneRoster answers show after them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from esh_http import (
    ARTEMOV,
    ARTEMOVA,
    CLASS_1A,
    CLASS_2A,
    CLASS_3A,
    FROLOV_FATHER,
    FROLOV_MAKSIM,
    FROLOVA,
    GROUP_1A_RUSSIAN,
    GROUP_2A_RUSSIAN,
    MOROZOVA,
    REGISTRY,
    ROSTER,
    SCHOOL,
    Clients,
    error_of,
    moment_before,
    raw_event,
    roster_event,
)


@pytest.fixture
def esh(sandbox: Any) -> Iterator[Clients]:
    clients = Clients(sandbox)
    yield clients
    clients.close()


@pytest.fixture
def admin(esh: Clients) -> httpx.Client:
    return esh("admin")


def user(client: httpx.Client, person_id: str) -> dict[str, Any]:
    answer = client.get(f"{ROSTER}/users/{person_id}")
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()["user"]
    return record


def enrollments(client: httpx.Client, filter_: str) -> list[dict[str, Any]]:
    answer = client.get(f"{ROSTER}/enrollments", params={"filter": filter_, "limit": 1000})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["enrollments"]
    return found


def active_classes(client: httpx.Client, person_id: str, role: str = "student") -> set[str]:
    found = enrollments(client, f"user.sourcedId='{person_id}' AND role='{role}'")
    return {e["class"]["sourcedId"] for e in found}


def roles_today(record: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["role"], r["org"]["sourcedId"]) for r in record["roles"] if r["endDate"] is None}


def agents(record: dict[str, Any]) -> set[str]:
    return {a["sourcedId"] for a in record["agents"]}


def groups_of(client: httpx.Client, class_id: str) -> list[dict[str, Any]]:
    answer = client.get(
        f"{ROSTER}/classes", params={"filter": f"metadata.homeroom='{class_id}'", "limit": 100}
    )
    found: list[dict[str, Any]] = answer.json()["classes"]
    return found


# --- students -----------------------------------------------------------------------------------


def test_enroll_a_new_student_with_a_new_parent(sandbox: Any, admin: httpx.Client) -> None:
    since = moment_before()
    answer = roster_event(
        sandbox,
        op="enroll",
        class_id=CLASS_2A,
        student={"given_name": "Алиса", "family_name": "Воронцова"},
        parents=[
            {},
            {"given_name": "Ирина", "family_name": "Воронцова", "middle_name": "Олеговна"},
        ],
    )
    assert answer["ok"] is True and answer["op"] == "enroll"
    student_id = answer["student_id"]
    record = user(admin, student_id)
    assert (record["familyName"], record["givenName"]) == ("Воронцова", "Алиса")
    # a generated patronymic agrees with her sex (Ивановна, Никитична, Ильинична)
    assert record["middleName"].endswith(("вна", "чна"))
    assert roles_today(record) == {("student", SCHOOL)}
    assert agents(record) == set(answer["parent_ids"]) and len(answer["parent_ids"]) == 2
    generated = user(admin, answer["parent_ids"][0])
    assert generated["familyName"] in ("Воронцов", "Воронцова")  # the family's surname
    assert roles_today(generated) == {("parent", SCHOOL)}
    assert agents(generated) == {student_id}
    # The homeroom and one group per subject of 2А.
    groups = groups_of(admin, CLASS_2A)
    subjects = {tuple(g["subjects"]) for g in groups}
    assert active_classes(admin, student_id) == {CLASS_2A} | {g["sourcedId"] for g in groups}
    assert len(answer["enrollment_ids"]) == 1 + len(subjects)
    # A delta shows the new people and enrollments.
    changed = admin.get(f"{ROSTER}/users", params={"filter": f"dateLastModified>'{since}'"}).json()[
        "users"
    ]
    assert {u["sourcedId"] for u in changed} == {student_id, *answer["parent_ids"]}


def test_enroll_picks_the_whole_class_group_over_an_individual_one(
    sandbox: Any, admin: httpx.Client
) -> None:
    answer = roster_event(sandbox, op="enroll", class_id=CLASS_1A)
    classes = active_classes(admin, answer["student_id"])
    assert GROUP_1A_RUSSIAN in classes
    assert "cls-000005" not in classes  # «1А - Русский язык (индивидуальное обучение)»


def test_enroll_refuses_a_student_already_in_a_class(sandbox: Any) -> None:
    answer = raw_event(sandbox, op="enroll", class_id=CLASS_2A, student_id=ARTEMOV)
    assert answer.status_code == 400 and error_of(answer) == "bad_request"


def test_transfer_moves_every_enrollment_and_keeps_the_parents(
    sandbox: Any, admin: httpx.Client
) -> None:
    old = active_classes(admin, ARTEMOV)
    answer = roster_event(sandbox, op="transfer", student_id=ARTEMOV, class_id=CLASS_3A)
    assert answer["from_class_ids"] == [CLASS_1A]
    new = active_classes(admin, ARTEMOV)
    assert CLASS_3A in new and not (new & old)
    tombstones = enrollments(admin, f"user.sourcedId='{ARTEMOV}' AND status='tobedeleted'")
    assert {e["class"]["sourcedId"] for e in tombstones} == old
    assert all(e["endDate"] for e in tombstones)
    assert roles_today(user(admin, ARTEMOV)) == {("student", SCHOOL)}
    assert roles_today(user(admin, ARTEMOVA)) == {("parent", SCHOOL)}


def test_expel_tombstones_everything_and_ends_the_roles(sandbox: Any, admin: httpx.Client) -> None:
    roster_event(sandbox, op="expel", student_id=ARTEMOV)
    assert active_classes(admin, ARTEMOV) == set()
    record = user(admin, ARTEMOV)
    assert roles_today(record) == set()
    assert record["status"] == "active"  # the person stays; the role ended
    # Артемова has no other child in the school: her parent role ends too.
    assert roles_today(user(admin, ARTEMOVA)) == set()
    # Фролов has two children; expelling one keeps him a parent of the school.
    roster_event(sandbox, op="expel", student_id=FROLOVA)
    assert roles_today(user(admin, FROLOV_FATHER)) == {("parent", SCHOOL)}
    again = raw_event(sandbox, op="expel", student_id=ARTEMOV)
    assert again.status_code == 400


def test_expel_then_enroll_again(sandbox: Any, admin: httpx.Client) -> None:
    roster_event(sandbox, op="expel", student_id=FROLOV_MAKSIM)
    roster_event(sandbox, op="enroll", class_id=CLASS_3A, student_id=FROLOV_MAKSIM)
    assert CLASS_3A in active_classes(admin, FROLOV_MAKSIM)
    assert ("student", SCHOOL) in roles_today(user(admin, FROLOV_MAKSIM))


# --- staff --------------------------------------------------------------------------------------


def test_hire_and_dismiss(sandbox: Any, admin: httpx.Client) -> None:
    since = moment_before()
    hired = roster_event(
        sandbox, op="hire", school_id=SCHOOL, role="teacher", person={"family_name": "Лаптев"}
    )
    teacher_id = hired["person_id"]
    record = user(admin, teacher_id)
    assert record["familyName"] == "Лаптев" and record["middleName"].endswith("ич")
    assert roles_today(record) == {("teacher", SCHOOL)}
    teachers = admin.get(
        f"{ROSTER}/users",
        params={"filter": f"role='teacher' AND dateLastModified>'{since}'"},
    ).json()["users"]
    assert [t["sourcedId"] for t in teachers] == [teacher_id]
    roster_event(sandbox, op="assign_teacher", person_id=teacher_id, class_id=GROUP_2A_RUSSIAN)
    assert active_classes(admin, teacher_id, "teacher") == {GROUP_2A_RUSSIAN}
    twice = raw_event(sandbox, op="hire", school_id=SCHOOL, role="teacher", person_id=teacher_id)
    assert twice.status_code == 400

    dismissed = roster_event(sandbox, op="dismiss", person_id=teacher_id)
    assert dismissed["school_ids"] == [SCHOOL] and len(dismissed["tombstone_ids"]) == 1
    record = user(admin, teacher_id)
    assert roles_today(record) == set()
    assert record["roles"][0]["endDate"] is not None
    assert active_classes(admin, teacher_id, "teacher") == set()
    assert raw_event(sandbox, op="dismiss", person_id=teacher_id).status_code == 400


def test_hire_an_existing_person_as_administrator(sandbox: Any, admin: httpx.Client) -> None:
    roster_event(sandbox, op="hire", school_id=SCHOOL, role="administrator", person_id=MOROZOVA)
    assert roles_today(user(admin, MOROZOVA)) == {
        ("teacher", SCHOOL),
        ("administrator", SCHOOL),
    }


def test_dismissing_the_admin_ends_their_registry_rights(sandbox: Any, esh: Clients) -> None:
    roster_event(sandbox, op="dismiss", person_id=esh.person_id("admin"), school_id=SCHOOL)
    client = esh("admin")
    assert client.get(f"{ROSTER}/users").status_code == 403
    assert client.post(f"{REGISTRY}/chats", json={"type": "staff"}).status_code == 403


def test_assign_and_unassign_a_teacher(sandbox: Any, admin: httpx.Client) -> None:
    since = moment_before()
    made = roster_event(
        sandbox, op="assign_teacher", person_id=MOROZOVA, class_id=CLASS_2A, primary=True
    )
    found = enrollments(admin, f"class.sourcedId='{CLASS_2A}' AND role='teacher'")
    mine = next(e for e in found if e["user"]["sourcedId"] == MOROZOVA)
    assert mine["sourcedId"] == made["enrollment_id"] and mine["primary"] is True
    assert (
        raw_event(
            sandbox, op="assign_teacher", person_id=MOROZOVA, class_id=CLASS_2A, primary=True
        ).status_code
        == 400
    )
    roster_event(sandbox, op="unassign_teacher", person_id=MOROZOVA, class_id=CLASS_2A)
    delta = enrollments(admin, f"dateLastModified>'{since}'")
    assert [(e["sourcedId"], e["status"]) for e in delta] == [
        (made["enrollment_id"], "tobedeleted")
    ]
    assert (
        raw_event(sandbox, op="unassign_teacher", person_id=MOROZOVA, class_id=CLASS_2A).status_code
        == 400
    )
    # A student cannot be assigned as a teacher: not employed in the school.
    assert (
        raw_event(sandbox, op="assign_teacher", person_id=ARTEMOV, class_id=CLASS_2A).status_code
        == 400
    )


# --- guardians and blocking ---------------------------------------------------------------------


def test_add_and_remove_a_guardian(sandbox: Any, admin: httpx.Client) -> None:
    since = moment_before()
    added = roster_event(sandbox, op="add_guardian", student_id=ARTEMOV, parent={"sex": "male"})
    father = added["parent_id"]
    assert agents(user(admin, ARTEMOV)) == {ARTEMOVA, father}
    record = user(admin, father)
    assert record["familyName"] == "Артемов"
    assert roles_today(record) == {("parent", SCHOOL)}
    # An existing person, and the same link twice.
    roster_event(sandbox, op="add_guardian", student_id=ARTEMOV, parent_id=FROLOV_FATHER)
    twice = raw_event(sandbox, op="add_guardian", student_id=ARTEMOV, parent_id=FROLOV_FATHER)
    assert twice.status_code == 400

    roster_event(sandbox, op="remove_guardian", student_id=ARTEMOV, parent_id=father)
    assert agents(user(admin, ARTEMOV)) == {ARTEMOVA, FROLOV_FATHER}
    assert agents(user(admin, father)) == set()
    assert roles_today(user(admin, father)) == set()
    changed = admin.get(f"{ROSTER}/users", params={"filter": f"dateLastModified>'{since}'"}).json()[
        "users"
    ]
    assert {ARTEMOV, father, FROLOV_FATHER} <= {u["sourcedId"] for u in changed}
    missing = raw_event(sandbox, op="remove_guardian", student_id=ARTEMOV, parent_id=father)
    assert missing.status_code == 404 and error_of(missing) == "not_found"


def test_block_and_unblock(sandbox: Any, admin: httpx.Client) -> None:
    since = moment_before()
    roster_event(sandbox, op="block", person_id=FROLOVA)
    assert user(admin, FROLOVA)["enabledUser"] == "false"
    blocked = admin.get(f"{ROSTER}/users", params={"filter": "enabledUser='false'"}).json()
    assert [u["sourcedId"] for u in blocked["users"]] == [FROLOVA]
    roster_event(sandbox, op="unblock", person_id=FROLOVA)
    record = user(admin, FROLOVA)
    assert record["enabledUser"] == "true" and record["dateLastModified"] > since


def test_roster_events_never_touch_the_registry(sandbox: Any, admin: httpx.Client) -> None:
    before = admin.get(f"{REGISTRY}/chats").json()
    roster_event(sandbox, op="expel", student_id=ARTEMOV)
    roster_event(sandbox, op="enroll", class_id=CLASS_2A)
    assert admin.get(f"{REGISTRY}/chats").json() == before


# --- bad events ---------------------------------------------------------------------------------


BAD_EVENTS = [
    ({"op": "teleport"}, 400),
    ({}, 400),
    ({"op": "enroll"}, 400),
    ({"op": "enroll", "class_id": "cls-nope"}, 404),
    ({"op": "enroll", "class_id": GROUP_1A_RUSSIAN}, 400),  # a group is not a class
    ({"op": "enroll", "class_id": CLASS_2A, "student_id": "usr-nobody"}, 404),
    ({"op": "enroll", "class_id": CLASS_2A, "parents": "мама"}, 400),
    ({"op": "transfer", "student_id": ARTEMOV, "class_id": CLASS_1A}, 400),
    ({"op": "transfer", "student_id": ARTEMOVA, "class_id": CLASS_2A}, 400),
    ({"op": "hire", "school_id": SCHOOL, "role": "janitor"}, 400),
    ({"op": "hire", "school_id": "org-000", "role": "teacher"}, 400),  # the district
    ({"op": "hire", "school_id": "org-nope", "role": "teacher"}, 404),
    ({"op": "dismiss", "person_id": ARTEMOV}, 400),
    ({"op": "assign_teacher", "person_id": MOROZOVA, "class_id": CLASS_3A}, 400),
    ({"op": "add_guardian", "student_id": ARTEMOVA}, 400),  # not a student
    ({"op": "add_guardian", "student_id": ARTEMOV, "parent": {"given_name": 7}}, 400),
    ({"op": "block", "person_id": "usr-nobody"}, 404),
    ({"op": "block", "person_id": 17}, 400),
]


def test_bad_events_are_refused_and_change_nothing(sandbox: Any, admin: httpx.Client) -> None:
    def counts() -> list[str]:
        return [
            admin.get(f"{ROSTER}/{c}", params={"limit": 1}).headers["X-Total-Count"]
            for c in ("users", "enrollments")
        ]

    before = counts()
    for event, status in BAD_EVENTS:
        answer = raw_event(sandbox, **event)
        assert answer.status_code == status, (event, answer.text)
        assert error_of(answer) == ("not_found" if status == 404 else "bad_request"), event
    assert counts() == before
