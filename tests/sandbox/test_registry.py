"""The ESh Sferum registry (chats, members, links) over real HTTP against the demo school."""

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
    FROLOVA,
    GROUP_1A_RUSSIAN,
    GROUP_2A_RUSSIAN,
    GROUP_3A_RUSSIAN,
    MOROZOVA,
    REGISTRY,
    SCHOOL,
    STUDENTS_1A,
    Clients,
    audit_rows,
    error_of,
    roster_event,
)

CHATS = f"{REGISTRY}/chats"
SEED_CHATS = [
    ("Учительская", "staff", 13),
    ("3 А", "class", 3),
    ("3 А Родители", "parents", 3),
    ("2 А", "class", 3),
    ("2 А Родители", "parents", 3),
    ("1 А", "class", 5),
    ("1 А Родители", "parents", 3),
]


@pytest.fixture
def esh(sandbox: Any) -> Iterator[Clients]:
    clients = Clients(sandbox)
    yield clients
    clients.close()


def chat_by_name(client: httpx.Client, name: str) -> dict[str, Any]:
    items = client.get(CHATS, params={"q": name, "limit": 100}).json()["items"]
    return next(c for c in items if c["name"] == name)


def create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post(CHATS, json=body)


def if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def members(client: httpx.Client, chat_id: int, **params: Any) -> dict[str, dict[str, Any]]:
    answer = client.get(f"{CHATS}/{chat_id}/members", params=params)
    assert answer.status_code == 200, answer.text
    return {m["person_id"]: m for m in answer.json()["items"]}


# --- listing ------------------------------------------------------------------------------------


def test_the_registry_lists_the_seeds_seven_chats(esh: Clients) -> None:
    answer = esh("admin").get(CHATS)
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == 7
    assert [(c["name"], c["type"], c["member_count"]) for c in body["items"]] == SEED_CHATS
    chat = body["items"][1]
    assert set(chat) == {
        "id", "school_id", "name", "type", "class_id", "group_id", "subject", "admin_person_id",
        "admin_name", "member_count", "linked_member_count", "sferum_chat_id", "status",
        "version", "updated_at",
    }  # fmt: skip
    assert {c["admin_name"] for c in body["items"]} == {"Павлова Елена Владимировна"}
    assert chat["class_id"] == "cls-000003" and chat["updated_at"].endswith("Z")
    assert all(0 <= c["linked_member_count"] <= c["member_count"] for c in body["items"])


def test_filters_and_paging(esh: Clients) -> None:
    admin = esh("admin")
    parents = admin.get(CHATS, params={"type": "parents"}).json()
    assert parents["total"] == 3 and {c["type"] for c in parents["items"]} == {"parents"}
    found = admin.get(CHATS, params={"q": "родители"}).json()  # case-insensitive, Cyrillic
    assert found["total"] == 3
    by_admin = admin.get(CHATS, params={"q": "павлова"}).json()
    assert by_admin["total"] == 7
    page = admin.get(CHATS, params={"limit": 2, "offset": 6}).json()
    assert page["total"] == 7 and len(page["items"]) == 1
    assert admin.get(CHATS, params={"school": "org-999"}).json()["total"] == 0
    assert admin.get(CHATS, params={"school": SCHOOL}).json()["total"] == 7
    bad = admin.get(CHATS, params={"type": "party"})
    assert bad.status_code == 400 and error_of(bad) == "bad_request"


def test_students_and_parents_see_only_their_own_chats(esh: Clients) -> None:
    student = esh("student")
    mine = student.get(CHATS).json()
    assert [c["name"] for c in mine["items"]] == ["1 А"]
    staff_chat = chat_by_name(esh("admin"), "Учительская")
    answer = student.get(f"{CHATS}/{staff_chat['id']}")
    assert answer.status_code == 403 and error_of(answer) == "forbidden"
    own = mine["items"][0]
    assert student.get(f"{CHATS}/{own['id']}").status_code == 200
    assert ARTEMOV in members(student, own["id"])
    parent_chats = esh("parent").get(CHATS).json()["items"]
    assert [c["name"] for c in parent_chats] == ["1 А Родители"]


def test_a_chat_answers_its_version_as_etag_and_unknown_is_404(esh: Clients) -> None:
    admin = esh("admin")
    chat = chat_by_name(admin, "2 А")
    answer = admin.get(f"{CHATS}/{chat['id']}")
    assert answer.status_code == 200 and answer.headers["ETag"] == f'"{chat["version"]}"'
    assert answer.json() == chat
    missing = admin.get(f"{CHATS}/99999")
    assert missing.status_code == 404 and error_of(missing) == "not_found"


# --- creating -----------------------------------------------------------------------------------


def test_a_teacher_creates_a_subject_chat_for_their_group(sandbox: Any, esh: Clients) -> None:
    teacher = esh("teacher")  # Смирнова teaches 2А
    answer = create(teacher, type="subject", group_id=GROUP_2A_RUSSIAN)
    assert answer.status_code == 201, answer.text
    chat = answer.json()
    assert chat["name"] == "2А - Русский язык"
    assert chat["subject"] == "Русский язык" and chat["class_id"] == CLASS_2A
    assert chat["group_id"] == GROUP_2A_RUSSIAN and chat["school_id"] == SCHOOL
    assert chat["admin_person_id"] == esh.person_id("teacher")
    assert (chat["version"], chat["member_count"], chat["status"]) == (1, 0, "active")
    assert answer.headers["ETag"] == '"1"'
    [record] = audit_rows(sandbox, "chat.create")
    assert record["author_person_id"] == esh.person_id("teacher")
    assert record["chat_id"] == chat["id"] and record["at"]

    again = create(teacher, type="subject", group_id=GROUP_2A_RUSSIAN)
    assert again.status_code == 409 and error_of(again) == "duplicate"
    assert again.json()["details"]["chat_id"] == chat["id"]


def test_the_seeds_worked_example_subject_chat(esh: Clients) -> None:
    admin = esh("admin")
    chat = create(admin, type="subject", group_id=GROUP_1A_RUSSIAN).json()
    assert chat["name"] == "1А - Русский язык"
    teachers = [esh.person_id("admin")]
    added = admin.post(
        f"{CHATS}/{chat['id']}/members",
        json={"person_ids": teachers, "role_in_chat": "staff", "source": "rule"},
    ).json()
    assert added == {"added": teachers, "version": 2}
    added = admin.post(
        f"{CHATS}/{chat['id']}/members",
        json={"person_ids": list(STUDENTS_1A[:3]), "role_in_chat": "student", "source": "rule"},
    ).json()
    assert added == {"added": list(STUDENTS_1A[:3]), "version": 3}
    item = admin.get(f"{CHATS}/{chat['id']}").json()
    assert (item["member_count"], item["linked_member_count"]) == (4, 1)  # only Павлова linked


BEYOND_RIGHTS = [
    ("teacher", {"type": "subject", "group_id": GROUP_3A_RUSSIAN}),  # not their group
    ("teacher", {"type": "class", "class_id": CLASS_2A}),  # automatic: admins only
    ("teacher", {"type": "staff"}),
    ("teacher", {"type": "custom", "name": "Кружок", "admin_person_id": MOROZOVA}),
    ("student", {"type": "custom", "name": "Наш чат"}),
    ("parent", {"type": "custom", "name": "Родительский комитет"}),
]


def test_creating_beyond_ones_rights_is_403(esh: Clients) -> None:
    clients = {who: esh(who) for who in ("teacher", "student", "parent")}
    for who, body in BEYOND_RIGHTS:
        answer = create(clients[who], **body)
        assert answer.status_code == 403, (who, body, answer.text)
        assert error_of(answer) == "forbidden"
    assert esh("admin").get(CHATS).json()["total"] == 7


def test_a_teacher_creates_a_custom_chat_in_their_school(esh: Clients) -> None:
    answer = create(esh("teacher"), type="custom", name="  Олимпиада по математике  ")
    assert answer.status_code == 201
    assert answer.json()["name"] == "Олимпиада по математике"
    assert answer.json()["type"] == "custom"


INVALID_CHATS = [
    ({}, {"type"}),
    ({"type": "party"}, {"type"}),
    ({"type": "subject"}, {"group_id"}),
    ({"type": "subject", "group_id": "cls-nope"}, {"group_id"}),
    ({"type": "subject", "group_id": GROUP_1A_RUSSIAN, "name": "Свой"}, {"name"}),
    ({"type": "subject", "group_id": GROUP_1A_RUSSIAN, "subject": "Химия"}, {"subject"}),
    ({"type": "class"}, {"class_id"}),
    ({"type": "parents", "class_id": GROUP_1A_RUSSIAN}, {"class_id"}),  # a group, not a class
    ({"type": "custom"}, {"name"}),
    ({"type": "custom", "name": "x" * 201}, {"name"}),
    ({"type": "custom", "name": 5}, {"name"}),
    ({"type": "custom", "name": "Чат", "admin_person_id": ARTEMOV}, {"admin_person_id"}),
    ({"type": "custom", "name": "Чат", "colour": "red"}, {"colour"}),
]


def test_invalid_chats_are_422_with_russian_field_messages(esh: Clients) -> None:
    admin = esh("admin")
    for body, fields in INVALID_CHATS:
        answer = create(admin, **body)
        assert answer.status_code == 422, (body, answer.text)
        assert error_of(answer) == "validation"
        messages = answer.json()["details"]["fields"]
        assert set(messages) == fields, body
        assert all(any("а" <= ch <= "я" for ch in text.lower()) for text in messages.values())
    assert admin.get(CHATS).json()["total"] == 7


def test_a_body_that_is_not_json_is_400(esh: Clients) -> None:
    answer = esh("admin").post(
        CHATS, content=b"{type: staff", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400 and error_of(answer) == "bad_request"


def test_second_automatic_chats_are_duplicates(esh: Clients) -> None:
    admin = esh("admin")
    for body in (
        {"type": "class", "class_id": CLASS_1A},
        {"type": "parents", "class_id": CLASS_1A},
        {"type": "staff"},
    ):
        answer = create(admin, **body)
        assert answer.status_code == 409, body
        assert error_of(answer) == "duplicate"


@pytest.mark.parametrize(
    ("title", "name"),
    [("3А", "3 А"), ("10Б", "10 Б"), ("3 А", "3 А"), ("Подготовительный", "Подготовительный")],
)
def test_class_chat_names_put_a_space_between_number_and_letter(title: str, name: str) -> None:
    from sferum_desktop.sandbox.registry import class_chat_name

    assert class_chat_name(title) == name


# --- editing ------------------------------------------------------------------------------------


def test_patch_needs_if_match_and_the_current_version(sandbox: Any, esh: Clients) -> None:
    admin = esh("admin")
    chat = chat_by_name(admin, "3 А")
    url = f"{CHATS}/{chat['id']}"
    missing = admin.patch(url, json={"name": "3 А класс"})
    assert missing.status_code == 428 and error_of(missing) == "precondition_required"
    changed = admin.patch(url, json={"name": "3 А класс"}, headers=if_match(chat["version"]))
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "3 А класс"
    assert changed.json()["version"] == chat["version"] + 1
    assert changed.headers["ETag"] == f'"{chat["version"] + 1}"'
    assert changed.json()["updated_at"] > chat["updated_at"]
    stale = admin.patch(url, json={"name": "3 А!"}, headers=if_match(chat["version"]))
    assert stale.status_code == 412 and error_of(stale) == "version_conflict"
    assert stale.json()["details"]["current"]["version"] == chat["version"] + 1
    assert stale.json()["details"]["current"]["name"] == "3 А класс"
    unquoted = admin.patch(
        url, json={"status": "archived"}, headers={"If-Match": str(chat["version"] + 1)}
    )
    assert unquoted.status_code == 200 and unquoted.json()["status"] == "archived"
    [record, _] = audit_rows(sandbox, "chat.update")
    assert record["author_person_id"] == esh.person_id("admin")


def test_patch_validation_and_rights(esh: Clients) -> None:
    admin, teacher = esh("admin"), esh("teacher")
    subject = create(teacher, type="subject", group_id=GROUP_2A_RUSSIAN).json()
    url = f"{CHATS}/{subject['id']}"
    rename = teacher.patch(url, json={"name": "Русский"}, headers=if_match(1))
    assert rename.status_code == 422 and set(rename.json()["details"]["fields"]) == {"name"}
    status = teacher.patch(url, json={"status": "deleted"}, headers=if_match(1))
    assert status.status_code == 422
    # The teacher administers the chat and hands it over to a colleague.
    handed = teacher.patch(url, json={"admin_person_id": MOROZOVA}, headers=if_match(1))
    assert handed.status_code == 200 and handed.json()["admin_name"].startswith("Морозова")
    # ... after which it is no longer theirs to edit; the school admin still may.
    again = teacher.patch(url, json={"status": "archived"}, headers=if_match(2))
    assert again.status_code == 403 and error_of(again) == "forbidden"
    assert admin.patch(url, json={"status": "archived"}, headers=if_match(2)).status_code == 200
    seeded = chat_by_name(admin, "2 А")
    denied = teacher.patch(f"{CHATS}/{seeded['id']}", json={"name": "2А"}, headers=if_match(1))
    assert denied.status_code == 403
    student = esh("student").patch(
        f"{CHATS}/{chat_by_name(admin, '1 А')['id']}", json={"name": "x"}, headers=if_match(1)
    )
    assert student.status_code == 403


# --- deleting -----------------------------------------------------------------------------------


def test_automatic_chats_of_an_existing_class_cannot_be_deleted(esh: Clients) -> None:
    admin = esh("admin")
    for name in ("1 А", "1 А Родители", "Учительская"):
        chat = chat_by_name(admin, name)
        answer = admin.delete(f"{CHATS}/{chat['id']}", headers=if_match(chat["version"]))
        assert answer.status_code == 409, name
        assert error_of(answer) == "automatic_chat"


def test_delete_needs_if_match_and_removes_the_chat(sandbox: Any, esh: Clients) -> None:
    teacher = esh("teacher")
    chat = create(teacher, type="custom", name="Экскурсия").json()
    url = f"{CHATS}/{chat['id']}"
    teacher.post(
        f"{url}/members",
        json={"person_ids": ["usr-000018"], "role_in_chat": "student", "source": "manual"},
    )
    missing = teacher.delete(url)
    assert missing.status_code == 428 and error_of(missing) == "precondition_required"
    stale = teacher.delete(url, headers=if_match(1))
    assert stale.status_code == 412 and error_of(stale) == "version_conflict"
    assert esh("student").delete(url, headers=if_match(2)).status_code == 403
    gone = teacher.delete(url, headers={"If-Match": "2"})
    assert gone.status_code == 204 and gone.content == b""
    assert teacher.get(url).status_code == 404
    assert audit_rows(sandbox, "chat.delete")[0]["chat_id"] == chat["id"]


# --- members ------------------------------------------------------------------------------------


def test_adding_members_is_idempotent_and_bumps_the_version(sandbox: Any, esh: Clients) -> None:
    admin = esh("admin")
    chat = chat_by_name(admin, "2 А")
    url = f"{CHATS}/{chat['id']}/members"
    body = {"person_ids": [MOROZOVA], "role_in_chat": "staff", "source": "manual"}
    first = admin.post(url, json=body)
    assert first.status_code == 200 and first.json() == {"added": [MOROZOVA], "version": 2}
    second = admin.post(url, json=body)
    assert second.json() == {"added": [], "version": 2}
    member = members(admin, chat["id"])[MOROZOVA]
    assert member["full_name"] == "Морозова Татьяна Алексеевна"
    assert (member["role_in_chat"], member["source"]) == ("staff", "manual")
    assert member["linked"] is True and isinstance(member["vk_user_id"], int)
    assert member["blocked"] is False and member["excluded"] is False and member["added_at"]
    stale = admin.post(url, json=body, headers=if_match(1))
    assert stale.status_code == 412
    [record] = audit_rows(sandbox, "members.add")
    assert record["author_person_id"] == esh.person_id("admin")


def test_member_validation(esh: Clients) -> None:
    admin = esh("admin")
    url = f"{CHATS}/{chat_by_name(admin, '2 А')['id']}/members"
    for body, field in (
        ({"person_ids": [], "role_in_chat": "staff"}, "person_ids"),
        ({"person_ids": [MOROZOVA], "role_in_chat": "boss"}, "role_in_chat"),
        ({"person_ids": [MOROZOVA], "role_in_chat": "staff", "source": "magic"}, "source"),
        ({"person_ids": ["usr-nobody"], "role_in_chat": "staff"}, "person_ids"),
    ):
        answer = admin.post(url, json=body)
        assert answer.status_code == 422, body
        assert field in answer.json()["details"]["fields"]
    assert admin.post(f"{CHATS}/99999/members", json={}).status_code == 404


def test_exclusions_are_kept_and_only_a_manual_add_lifts_them(esh: Clients) -> None:
    admin = esh("admin")
    chat = chat_by_name(admin, "1 А")
    url = f"{CHATS}/{chat['id']}/members"
    removed = admin.request("DELETE", url, json={"person_ids": [FROLOVA], "exclude": True})
    assert removed.status_code == 200
    assert removed.json() == {"removed": [FROLOVA], "version": chat["version"] + 1}
    assert FROLOVA not in members(admin, chat["id"])
    assert members(admin, chat["id"], include_excluded="true")[FROLOVA]["excluded"] is True
    assert admin.get(f"{CHATS}/{chat['id']}").json()["member_count"] == chat["member_count"] - 1
    rule = {"person_ids": [FROLOVA], "role_in_chat": "student", "source": "rule"}
    assert admin.post(url, json=rule).json()["added"] == []
    manual = {**rule, "source": "manual"}
    assert admin.post(url, json=manual).json()["added"] == [FROLOVA]
    assert members(admin, chat["id"])[FROLOVA]["source"] == "manual"
    plain = admin.request("DELETE", url, json={"person_ids": [FROLOVA, "usr-000099"]})
    assert plain.json()["removed"] == [FROLOVA]
    assert FROLOVA not in members(admin, chat["id"], include_excluded="true")


def test_member_writes_need_the_right_to_edit(esh: Clients) -> None:
    admin, teacher = esh("admin"), esh("teacher")
    chat = chat_by_name(admin, "1 А")
    body = {"person_ids": [MOROZOVA], "role_in_chat": "staff"}
    assert teacher.post(f"{CHATS}/{chat['id']}/members", json=body).status_code == 403
    assert esh("student").post(f"{CHATS}/{chat['id']}/members", json=body).status_code == 403
    own = create(teacher, type="custom", name="Кружок").json()
    assert teacher.post(f"{CHATS}/{own['id']}/members", json=body).status_code == 200


def test_members_show_blocked_and_linked_from_esh(sandbox: Any, esh: Clients) -> None:
    admin = esh("admin")
    chat = chat_by_name(admin, "1 А")
    before = members(admin, chat["id"])[ARTEMOV]
    assert (before["blocked"], before["linked"], before["vk_user_id"]) == (False, False, None)
    roster_event(sandbox, op="block", person_id=ARTEMOV)
    link = sandbox.dev("POST", "link", json={"person_id": ARTEMOV})
    after = members(admin, chat["id"])[ARTEMOV]
    assert (after["blocked"], after["linked"]) == (True, True)
    assert after["vk_user_id"] == link["vk_user_id"]
    item = admin.get(f"{CHATS}/{chat['id']}").json()
    assert item["linked_member_count"] == chat["linked_member_count"] + 1


def test_put_sferum_remembers_the_sferum_chat(esh: Clients) -> None:
    admin = esh("admin")
    chat = create(admin, type="custom", name="Совет школы").json()
    url = f"{CHATS}/{chat['id']}/sferum"
    answer = admin.put(url, json={"sferum_chat_id": 2000000123})
    assert answer.status_code == 200
    assert (answer.json()["sferum_chat_id"], answer.json()["version"]) == (2000000123, 2)
    assert admin.put(url, json={"sferum_chat_id": "abc"}).status_code == 422
    assert admin.put(url, json={"sferum_chat_id": 5}, headers=if_match(1)).status_code == 412
    assert esh("teacher").put(url, json={"sferum_chat_id": 5}).status_code == 403


# --- links --------------------------------------------------------------------------------------


def test_linking_with_a_vk_id_token(sandbox: Any, esh: Clients) -> None:
    parent = esh("parent")  # Артемова: a VK ID educational profile, not linked yet
    token = esh.vk_token("parent")
    answer = parent.post(f"{REGISTRY}/links", json={"vk_access_token": token})
    assert answer.status_code == 201, answer.text
    link = answer.json()
    assert link["person_id"] == ARTEMOVA and link["status"] == "linked"
    assert isinstance(link["vk_user_id"], int) and link["updated_at"].endswith("Z")
    mine = parent.get(f"{REGISTRY}/links").json()
    assert mine["total"] == 1 and mine["items"] == [link]
    assert audit_rows(sandbox, "link.create")[0]["author_person_id"] == ARTEMOVA

    # The same VK ID profile offered by someone else belongs to Артемова.
    thief = esh("student").post(f"{REGISTRY}/links", json={"vk_access_token": token})
    assert thief.status_code == 409 and error_of(thief) == "already_linked"

    unlinked = parent.delete(f"{REGISTRY}/links/me")
    assert unlinked.status_code == 200
    assert unlinked.json()["status"] == "unlinked"
    assert unlinked.json()["vk_user_id"] == link["vk_user_id"]  # kept, to leave Sferum chats


def test_a_token_vk_id_does_not_accept_is_400(esh: Clients) -> None:
    parent = esh("parent")
    forged = parent.post(f"{REGISTRY}/links", json={"vk_access_token": "vk2.a.forged"})
    assert forged.status_code == 400 and error_of(forged) == "invalid_vk_token"
    # A refresh token is not an access token.
    refresh = esh.sandbox.tokens(esh.username("parent"))["vkid"]["refresh_token"]
    wrong_kind = parent.post(f"{REGISTRY}/links", json={"vk_access_token": refresh})
    assert wrong_kind.status_code == 400 and error_of(wrong_kind) == "invalid_vk_token"
    missing = parent.post(f"{REGISTRY}/links", json={})
    assert missing.status_code == 422 and error_of(missing) == "validation"
    assert parent.get(f"{REGISTRY}/links").json()["total"] == 0


def test_links_delta_for_staff(sandbox: Any, esh: Clients) -> None:
    admin = esh("admin")
    everyone = admin.get(f"{REGISTRY}/links", params={"limit": 1000}).json()
    assert everyone["total"] == len(everyone["items"]) > 0
    assert {i["status"] for i in everyone["items"]} == {"linked"}
    latest = max(link["updated_at"] for link in everyone["items"])
    assert admin.get(f"{REGISTRY}/links", params={"updated_after": latest}).json()["total"] == 0
    sandbox.dev("POST", "link", json={"person_id": ARTEMOV})
    sandbox.dev("POST", "unlink", json={"person_id": esh.person_id("teacher")})
    delta = admin.get(f"{REGISTRY}/links", params={"updated_after": latest}).json()
    assert {(i["person_id"], i["status"]) for i in delta["items"]} == {
        (ARTEMOV, "linked"),
        (esh.person_id("teacher"), "unlinked"),
    }
    bad = admin.get(f"{REGISTRY}/links", params={"updated_after": "когда-то"})
    assert bad.status_code == 400
