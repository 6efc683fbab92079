"""The ESh roster (OneRoster 1.2 rostering subset) over real HTTP against the demo school."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from esh_http import (
    ARTEMOV,
    ARTEMOVA,
    CLASS_1A,
    GROUP_1A_RUSSIAN,
    ROSTER,
    SCHOOL,
    Clients,
    error_of,
    moment_before,
    roster_event,
)


@pytest.fixture
def esh(sandbox: Any) -> Iterator[Clients]:
    clients = Clients(sandbox)
    yield clients
    clients.close()


def all_pages(client: Any, collection: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every record of a collection, page by page, checking the headers on the way."""
    records: list[dict[str, Any]] = []
    offset, total = 0, None
    while True:
        answer = client.get(
            f"{ROSTER}/{collection}", params={"limit": limit, "offset": offset, **params}
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()[collection]
        count = int(answer.headers["X-Total-Count"])
        assert total in (None, count)
        total = count
        records += page
        offset += limit
        links = answer.headers["Link"]
        assert 'rel="first"' in links and 'rel="last"' in links
        if offset >= total:
            assert 'rel="next"' not in links
            break
        assert len(page) == limit
        assert 'rel="next"' in links and f"offset={offset}" in links
    assert len(records) == total
    return records


# --- paging, shapes -----------------------------------------------------------------------------


def test_users_page_by_page_cover_everyone_once_in_sourced_id_order(esh: Clients) -> None:
    admin = esh("admin")
    users = all_pages(admin, "users", limit=7)
    ids = [u["sourcedId"] for u in users]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {"Павлова", "Артемов", "Артемова"} <= {u["familyName"] for u in users}
    assert all(u["status"] == "active" for u in users)


def test_default_limit_is_100_and_the_maximum_is_10000(esh: Clients) -> None:
    admin = esh("admin")
    answer = admin.get(f"{ROSTER}/enrollments")
    assert answer.status_code == 200
    assert len(answer.json()["enrollments"]) == min(100, int(answer.headers["X-Total-Count"]))
    assert admin.get(f"{ROSTER}/enrollments", params={"limit": 10_000}).status_code == 200
    too_many = admin.get(f"{ROSTER}/enrollments", params={"limit": 10_001})
    assert too_many.status_code == 400 and error_of(too_many) == "bad_request"


def test_a_user_record_has_the_oneroster_fields_and_no_personal_data(esh: Clients) -> None:
    admin = esh("admin")
    answer = admin.get(f"{ROSTER}/users/{esh.person_id('admin')}")
    assert answer.status_code == 200
    user = answer.json()["user"]
    assert set(user) == {
        "sourcedId", "status", "dateLastModified", "enabledUser", "givenName", "familyName",
        "middleName", "username", "email", "roles", "agents",
    }  # fmt: skip
    assert (user["familyName"], user["givenName"], user["middleName"]) == (
        "Павлова",
        "Елена",
        "Владимировна",
    )
    assert user["enabledUser"] == "true"
    assert user["dateLastModified"].endswith("Z") and len(user["dateLastModified"]) == 24
    roles = {(r["role"], r["org"]["sourcedId"]) for r in user["roles"]}
    assert roles == {("teacher", SCHOOL), ("administrator", SCHOOL)}
    role = user["roles"][0]
    assert set(role) == {"roleType", "role", "org", "beginDate", "endDate"}
    assert role["org"]["type"] == "org" and role["org"]["href"].endswith(f"/orgs/{SCHOOL}")


def test_agents_link_students_and_parents_both_ways(esh: Clients) -> None:
    admin = esh("admin")
    student = admin.get(f"{ROSTER}/users/{ARTEMOV}").json()["user"]
    parent = admin.get(f"{ROSTER}/users/{ARTEMOVA}").json()["user"]
    assert [a["sourcedId"] for a in student["agents"]] == [ARTEMOVA]
    assert [a["sourcedId"] for a in parent["agents"]] == [ARTEMOV]
    assert student["agents"][0]["type"] == "user"
    assert parent["roles"][0]["role"] == "parent"


def test_classes_enrollments_orgs_courses_and_sessions_shapes(esh: Clients) -> None:
    admin = esh("admin")
    group = admin.get(f"{ROSTER}/classes/{GROUP_1A_RUSSIAN}").json()["class"]
    assert group["classType"] == "scheduled"
    assert group["metadata"] == {"homeroom": CLASS_1A}
    assert group["subjects"] == ["Русский язык"]
    assert group["school"]["sourcedId"] == SCHOOL and group["course"]["type"] == "course"
    homeroom = admin.get(f"{ROSTER}/classes/{CLASS_1A}").json()["class"]
    assert homeroom["title"] == "1А" and "metadata" not in homeroom

    enrollments = admin.get(
        f"{ROSTER}/enrollments", params={"filter": f"class.sourcedId='{CLASS_1A}'"}
    ).json()["enrollments"]
    teacher = [e for e in enrollments if e["role"] == "teacher"]
    assert [e["user"]["sourcedId"] for e in teacher] == [esh.person_id("admin")]
    assert teacher[0]["primary"] is True  # JSON boolean, as OneRoster 1.2 has it
    assert {e["primary"] for e in enrollments if e["role"] == "student"} == {False}
    assert set(enrollments[0]) == {
        "sourcedId", "status", "dateLastModified", "user", "class", "school", "role", "primary",
        "beginDate", "endDate",
    }  # fmt: skip

    school = admin.get(f"{ROSTER}/orgs/{SCHOOL}").json()["org"]
    assert school["type"] == "school" and school["parent"]["sourcedId"] == "org-000"
    schools = admin.get(f"{ROSTER}/schools").json()["orgs"]
    assert [s["sourcedId"] for s in schools] == [SCHOOL]
    courses = admin.get(f"{ROSTER}/courses").json()["courses"]
    assert courses and all(c["org"]["sourcedId"] == SCHOOL for c in courses)
    sessions = admin.get(f"{ROSTER}/academicSessions").json()["academicSessions"]
    assert sessions and {"title", "type", "startDate", "endDate", "schoolYear"} <= set(sessions[0])


def test_unknown_records_are_404(esh: Clients) -> None:
    admin = esh("admin")
    for path in ("users/nobody", "classes/nothing", "orgs/nowhere"):
        answer = admin.get(f"{ROSTER}/{path}")
        assert answer.status_code == 404 and error_of(answer) == "not_found"


# --- filter, sort, fields -----------------------------------------------------------------------


def test_filters_on_role_class_type_and_text(esh: Clients) -> None:
    admin = esh("admin")
    everyone = all_pages(admin, "users", limit=100)
    teachers = all_pages(admin, "users", limit=100, filter="role='teacher'")
    expected = [u for u in everyone if any(r["role"] == "teacher" for r in u["roles"])]
    assert teachers == expected and len(teachers) > 1
    others = all_pages(admin, "users", limit=100, filter="role!='teacher'")
    assert len(others) + len(teachers) == len(everyone)
    homerooms = admin.get(
        f"{ROSTER}/classes", params={"filter": "classType='homeroom'", "sort": "title"}
    ).json()["classes"]
    assert [c["title"] for c in homerooms] == ["1А", "2А", "3А"]
    groups_1a = admin.get(
        f"{ROSTER}/classes",
        params={"filter": f"classType='scheduled' AND metadata.homeroom='{CLASS_1A}'"},
    ).json()["classes"]
    assert groups_1a and all(g["title"].startswith("1А - ") for g in groups_1a)
    russian = admin.get(f"{ROSTER}/classes", params={"filter": "subjects='Русский язык'"})
    assert len(russian.json()["classes"]) == 4  # 1А (and its individual group), 2А, 3А
    found = admin.get(f"{ROSTER}/users", params={"filter": "familyName~'Артем'"}).json()["users"]
    assert {u["familyName"] for u in found} == {"Артемов", "Артемова"}
    blocked = admin.get(f"{ROSTER}/users", params={"filter": "enabledUser='false'"})
    assert blocked.json()["users"] == []


def test_sort_order_by_and_fields(esh: Clients) -> None:
    admin = esh("admin")
    answer = admin.get(
        f"{ROSTER}/users",
        params={"sort": "familyName", "orderBy": "desc", "fields": "sourcedId,familyName"},
    )
    users = answer.json()["users"]
    names = [u["familyName"] for u in users]
    assert names == sorted(names, reverse=True)
    assert all(set(u) == {"sourcedId", "familyName"} for u in users)


BAD_PARAMETERS = [
    {"filter": "shoeSize='42'"},  # unknown field
    {"filter": "status='active"},  # unterminated value
    {"filter": "status=active"},  # value without quotes
    {"filter": "status='active' OR role='teacher'"},  # only AND joins terms
    {"filter": "dateLastModified>'yesterday'"},
    {"filter": "enabledUser~'tr'"},
    {"sort": "password"},
    {"orderBy": "sideways"},
    {"fields": "sourcedId,birthDate"},
    {"limit": "many"},
    {"limit": "0"},
    {"offset": "-1"},
]


def test_bad_parameters_are_400(esh: Clients) -> None:
    admin = esh("admin")
    for params in BAD_PARAMETERS:
        answer = admin.get(f"{ROSTER}/users", params=params)
        assert answer.status_code == 400, params
        assert error_of(answer) == "bad_request", params


# --- access -------------------------------------------------------------------------------------


def test_students_and_parents_are_forbidden(esh: Clients) -> None:
    for who in ("student", "parent"):
        client = esh(who)
        for path in ("users", "classes", "enrollments", f"users/{esh.person_id(who)}"):
            answer = client.get(f"{ROSTER}/{path}")
            assert answer.status_code == 403, (who, path)
            assert error_of(answer) == "forbidden"


def test_without_a_token_it_is_401(sandbox: Any) -> None:
    import httpx

    with httpx.Client(base_url=sandbox.url, timeout=10) as anonymous:
        assert anonymous.get(f"{ROSTER}/users").status_code == 401


def test_a_teacher_reads_the_roster_of_their_school(esh: Clients) -> None:
    teacher = esh("teacher")
    answer = teacher.get(f"{ROSTER}/users", params={"limit": 1})
    everyone = esh("admin").get(f"{ROSTER}/users", params={"limit": 1})
    assert answer.status_code == 200
    assert answer.headers["X-Total-Count"] == everyone.headers["X-Total-Count"]
    other = teacher.get(f"{ROSTER}/schools/org-999/classes")
    assert other.status_code == 404
    classes = teacher.get(f"{ROSTER}/schools/{SCHOOL}/classes", params={"limit": 1})
    all_classes = teacher.get(f"{ROSTER}/classes", params={"limit": 1})
    assert classes.headers["X-Total-Count"] == all_classes.headers["X-Total-Count"]
    students = teacher.get(f"{ROSTER}/schools/{SCHOOL}/students").json()["users"]
    assert ARTEMOV in {s["sourcedId"] for s in students}
    assert all(r["role"] == "student" for s in students for r in s["roles"])


def test_a_dismissed_teacher_loses_the_roster(sandbox: Any, esh: Clients) -> None:
    teacher = esh("teacher")
    assert teacher.get(f"{ROSTER}/users").status_code == 200
    roster_event(sandbox, op="dismiss", person_id=esh.person_id("teacher"))
    assert esh("teacher").get(f"{ROSTER}/users").status_code == 403


# --- deltas -------------------------------------------------------------------------------------


def test_a_delta_reports_changes_and_tombstones_after_an_expulsion(
    sandbox: Any, esh: Clients
) -> None:
    admin = esh("admin")
    since = moment_before()
    delta = {"filter": f"dateLastModified>'{since}'"}
    assert admin.get(f"{ROSTER}/enrollments", params=delta).json()["enrollments"] == []

    roster_event(sandbox, op="expel", student_id=ARTEMOV)

    changed = admin.get(f"{ROSTER}/enrollments", params=delta).json()["enrollments"]
    assert changed and {e["user"]["sourcedId"] for e in changed} == {ARTEMOV}
    assert {e["status"] for e in changed} == {"tobedeleted"}
    # Without the delta filter the tombstones are not listed.
    current = admin.get(
        f"{ROSTER}/enrollments", params={"filter": f"user.sourcedId='{ARTEMOV}'"}
    ).json()["enrollments"]
    assert current == []
    # An explicit status filter wins.
    gone = admin.get(
        f"{ROSTER}/enrollments",
        params={"filter": f"user.sourcedId='{ARTEMOV}' AND status='tobedeleted'"},
    ).json()["enrollments"]
    assert len(gone) == len(changed)
    users = admin.get(f"{ROSTER}/users", params=delta).json()["users"]
    student = next(u for u in users if u["sourcedId"] == ARTEMOV)
    assert student["roles"][0]["endDate"] is not None


def test_a_delta_after_a_transfer_has_old_tombstones_and_new_enrollments(
    sandbox: Any, esh: Clients
) -> None:
    admin = esh("admin")
    since = moment_before()
    answer = roster_event(sandbox, op="transfer", student_id=ARTEMOV, class_id="cls-000002")
    changed = admin.get(
        f"{ROSTER}/enrollments", params={"filter": f"dateLastModified>'{since}'", "limit": 100}
    ).json()["enrollments"]
    by_status: dict[str, set[str]] = {}
    for e in changed:
        by_status.setdefault(e["status"], set()).add(e["class"]["sourcedId"])
    assert CLASS_1A in by_status["tobedeleted"]
    assert "cls-000002" in by_status["active"]
    assert {e["sourcedId"] for e in changed if e["status"] == "active"} == set(
        answer["enrollment_ids"]
    )
