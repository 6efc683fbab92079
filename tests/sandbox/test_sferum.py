"""The sandbox's Sferum API (`/sferum`): VK API conventions, every method and error code,
`execute`, the rate limit, flood control and captcha — over real HTTP against the demo school,
plus a standard VK API client library (vk_api) pointed at the sandbox."""

from __future__ import annotations

import sqlite3
import struct
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sferum_desktop.sandbox import vkscript
from sferum_desktop.sandbox.common import sha256
from sferum_desktop.sandbox.links import DEFAULT_VK_CLIENT_ID

V = "5.199"
PEER = 2_000_000_000
DEMO_CHATS = {"Учительская", "3 А", "3 А Родители", "2 А", "2 А Родители", "1 А", "1 А Родители"}


class Vk:
    """A VK API client of one sandbox account, speaking form-encoded POSTs.

    The Sferum limit is 3 requests per second per token, so it takes a fresh token whenever
    the current one made 3 calls in the last second; the rate-limit tests pin one token.
    """

    def __init__(self, sandbox: Any, username: str) -> None:
        self.sandbox = sandbox
        self.username = username
        self._token = ""
        self._sent: deque[float] = deque()
        self.user_id = int(self.new_token()["user_id"])

    def tokens(self) -> dict[str, Any]:
        """Newly minted VK ID tokens of the account (`access_token`, `user_id`, ...)."""
        vkid = self.sandbox.tokens(self.username)["vkid"]
        assert vkid is not None, f"{self.username} has no educational profile"
        return dict(vkid)

    def spare_token(self) -> str:
        """A new access token that this client itself does not use."""
        return str(self.tokens()["access_token"])

    def new_token(self) -> dict[str, Any]:
        """Switch this client to newly minted tokens; return them."""
        vkid = self.tokens()
        self._token, self._sent = str(vkid["access_token"]), deque()
        return vkid

    @property
    def token(self) -> str:
        now = time.monotonic()
        while self._sent and self._sent[0] < now - 1.2:
            self._sent.popleft()
        if len(self._sent) >= 3:
            self.new_token()
        self._sent.append(now)
        return self._token

    def raw(self, method: str, *, token: str | None = None, **params: Any) -> dict[str, Any]:
        """The decoded answer of one call (HTTP 200 always)."""
        data = {"v": V, "access_token": token or self.token, **params}
        answer = httpx.post(f"{self.sandbox.url}/sferum/method/{method}", data=data, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = answer.json()
        return body

    def __call__(self, method: str, **params: Any) -> Any:
        body = self.raw(method, **params)
        assert "error" not in body, body
        return body["response"]

    def error(self, method: str, **params: Any) -> dict[str, Any]:
        body = self.raw(method, **params)
        assert set(body) == {"error"}, body
        error: dict[str, Any] = body["error"]
        return error


def code(error: dict[str, Any]) -> int:
    """The VK error code of an error object."""
    return int(error["error_code"])


def program(*calls: str) -> str:
    """`return [call, call, ...];`"""
    return "return [" + ", ".join(calls) + "];"


@pytest.fixture
def people(sandbox: Any) -> dict[str, Vk]:
    """Clients of the demo accounts that have an educational profile.

    admin: Павлова (school Sferum admin and teacher, admin of the seven chats); teacher:
    Смирнова (class teacher of 2 А, a member of its chats, not their admin); parent: Артемова
    (a profile in the school, not linked, in no Sferum chat)."""
    accounts = sandbox.accounts()
    assert accounts["admin"]["username"] == "pavlova"
    return {
        role: Vk(sandbox, accounts[role]["username"]) for role in ("admin", "teacher", "parent")
    }


def truth(sandbox: Any) -> dict[int, dict[str, Any]]:
    """The sandbox's Sferum chats (`/sandbox/dev/state`) by chat_id: title, admin, member ids."""
    return {c["chat_id"]: c for c in sandbox.dev("GET", "state")["sferum"]}


def chat_ids(sandbox: Any) -> dict[str, int]:
    """The Sferum chats that are not deleted: title -> chat_id."""
    return {c["title"]: i for i, c in truth(sandbox).items() if not c["deleted"]}


def conversations(vk: Vk) -> dict[str, int]:
    """The caller's chats as `messages.getConversations` lists them: title -> chat_id."""
    items = vk("messages.getConversations", count=200)["items"]
    return {
        item["conversation"]["chat_settings"]["title"]: item["conversation"]["peer"]["local_id"]
        for item in items
    }


def db_time(moment: datetime) -> str:
    """A UTC moment as the sandbox's schema stores it (SQLAlchemy's SQLite DATETIME)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def db(sandbox: Any) -> closing[sqlite3.Connection]:
    """The sandbox's own database, for the few facts and set-ups the API does not offer."""
    return closing(sqlite3.connect(sandbox.data_dir / "sandbox.sqlite3", timeout=30))


def vk_account_without_profile(sandbox: Any) -> int:
    """A VK ID account of the demo with no educational profile (the school psychologist)."""
    with db(sandbox) as conn:
        row = conn.execute(
            "SELECT user_id FROM vk_accounts WHERE user_id NOT IN"
            " (SELECT vk_user_id FROM edu_profiles) ORDER BY user_id LIMIT 1"
        ).fetchone()
    assert row is not None
    return int(row[0])


def mint_token(sandbox: Any, vk_user_id: int, scope: str, expires_in_s: int) -> str:
    """A VK ID access token written straight into the sandbox (odd scopes, expired ones)."""
    token = f"vk2.a.test-{time.monotonic_ns()}"
    expires = db_time(datetime.now(UTC) + timedelta(seconds=expires_in_s))
    with db(sandbox) as conn, conn:
        conn.execute(
            "INSERT INTO vk_tokens (token_sha256, kind, vk_user_id, client_id, scope, grant_id,"
            " expires_at) VALUES (?, 'access', ?, ?, ?, ?, ?)",
            (
                sha256(token),
                vk_user_id,
                DEFAULT_VK_CLIENT_ID,
                scope,
                f"test-{token}",
                expires,
            ),
        )
    return token


# --- conventions: version, token, method, parameters --------------------------------------------


def test_version_token_and_unknown_method_errors(sandbox: Any, people: dict[str, Vk]) -> None:
    url = f"{sandbox.url}/sferum/method/users.get"
    token = people["admin"].spare_token()

    no_version = httpx.post(url, data={"access_token": token}).json()["error"]
    assert code(no_version) == 8 and "v is required" in no_version["error_msg"]
    old = httpx.post(url, data={"access_token": token, "v": "5.131"}).json()["error"]
    assert code(old) == 8 and "versions below 5.199" in old["error_msg"]
    assert "error" not in httpx.post(url, data={"access_token": token, "v": "5.200"}).json()

    no_token = httpx.post(url, data={"v": V}).json()["error"]
    assert no_token["error_msg"] == "User authorization failed: no access_token passed."
    assert code(no_token) == 5
    bad = httpx.post(url, data={"v": V, "access_token": "vk2.a.nonsense"}).json()["error"]
    assert code(bad) == 5 and "invalid access_token" in bad["error_msg"]

    unknown = httpx.post(
        f"{sandbox.url}/sferum/method/messages.send", data={"v": V, "access_token": token}
    ).json()["error"]
    assert (code(unknown), unknown["error_msg"]) == (3, "Unknown method passed")

    # JSON bodies carry no parameters: the call has no `v`.
    as_json = httpx.post(url, json={"v": V, "access_token": token}).json()["error"]
    assert code(as_json) == 8


def test_token_in_header_or_query_and_request_params_echo(
    sandbox: Any, people: dict[str, Vk]
) -> None:
    admin = people["admin"]
    token = admin.spare_token()
    url = f"{sandbox.url}/sferum/method/users.get"
    by_header = httpx.get(url, params={"v": V}, headers={"Authorization": f"Bearer {token}"})
    assert by_header.json()["response"][0]["id"] == admin.user_id
    by_query = httpx.get(url, params={"v": V, "access_token": token, "user_ids": admin.user_id})
    assert by_query.json()["response"][0]["id"] == admin.user_id

    error = admin.error("messages.getChat", chat_id="abc")
    assert code(error) == 100
    assert error["error_msg"] == (
        "One of the parameters specified was missing or invalid: chat_id not integer"
    )
    echoed = {(p["key"], p["value"]) for p in error["request_params"]}
    assert echoed == {("method", "messages.getChat"), ("oauth", "1"), ("v", V), ("chat_id", "abc")}
    missing = admin.error("messages.getChat")
    assert missing["error_msg"].endswith("chat_id is undefined")


def test_expired_and_revoked_tokens_are_error_5(sandbox: Any, people: dict[str, Vk]) -> None:
    admin = people["admin"]
    expired = mint_token(sandbox, admin.user_id, "vkid.personal_info messages", -5)
    error = admin.error("users.get", token=expired)
    assert (code(error), error["error_msg"]) == (
        5,
        "User authorization failed: access_token has expired.",
    )
    token = admin.spare_token()
    assert admin.raw("users.get", token=token)["response"]
    logout = httpx.post(
        f"{sandbox.url}/vkid/oauth2/logout",
        params={"client_id": DEFAULT_VK_CLIENT_ID},
        data={"access_token": token},
    )
    assert logout.status_code == 200, logout.text
    error = admin.error("users.get", token=token)
    assert (code(error), error["error_msg"]) == (5, "User authorization failed: invalid session.")


# --- methods --------------------------------------------------------------------------------------


def test_users_get_with_educational_profiles(people: dict[str, Vk]) -> None:
    admin, parent = people["admin"], people["parent"]
    me, other = admin(
        "users.get", user_ids=f"{admin.user_id},{parent.user_id}", fields="edu_profile"
    )
    assert me["id"] == admin.user_id and (me["first_name"], me["last_name"]) == ("Елена", "Павлова")
    profile = me["edu_profile"]
    assert profile["middle_name"] == "Владимировна"
    assert {"teacher", "admin"} <= set(profile["roles"])
    assert profile["organizations"][0]["id"] == "org-001"
    assert "birthday" in profile  # one's own personal data only
    assert other["id"] == parent.user_id and "birthday" not in other["edu_profile"]
    assert other["edu_profile"]["roles"] == ["parent"]
    # No user_ids: the caller; no fields: no profile.
    assert admin("users.get") == [{k: v for k, v in me.items() if k != "edu_profile"}]
    assert code(admin.error("users.get", user_ids="1,x")) == 100


def test_demo_chats_in_get_conversations(sandbox: Any, people: dict[str, Vk]) -> None:
    admin = people["admin"]
    chats = truth(sandbox)
    assert {c["title"] for c in chats.values()} == DEMO_CHATS
    assert all(c["admin_id"] == admin.user_id and c["org_id"] == "org-001" for c in chats.values())
    mine = {i for i, c in chats.items() if admin.user_id in c["member_ids"]}
    assert {chats[i]["title"] for i in mine} >= {"Учительская", "1 А", "1 А Родители"}
    answer = admin("messages.getConversations", count=200)
    assert answer["count"] == len(mine)
    assert {item["conversation"]["peer"]["local_id"] for item in answer["items"]} == mine
    dates = []
    for item in answer["items"]:
        conversation, last = item["conversation"], item["last_message"]
        chat_id = conversation["peer"]["local_id"]
        assert conversation["peer"] == {"id": PEER + chat_id, "type": "chat", "local_id": chat_id}
        settings = conversation["chat_settings"]
        assert settings["owner_id"] == admin.user_id
        assert settings["members_count"] == len(chats[chat_id]["member_ids"])
        assert last["peer_id"] == PEER + chat_id and last["text"]
        assert isinstance(conversation["unread_count"], int)
        dates.append(last["date"])
    assert dates == sorted(dates, reverse=True)  # newest first
    by_title = {i["conversation"]["chat_settings"]["title"]: i for i in answer["items"]}
    # A parent answered Павлова's last message in «1 А Родители»: one unread for her.
    assert by_title["1 А Родители"]["conversation"]["unread_count"] == 1
    assert by_title["1 А Родители"]["last_message"]["text"] == "Спасибо, будем."
    assert by_title["1 А"]["conversation"]["unread_count"] == 0  # her own message last
    page = admin("messages.getConversations", offset=1, count=2)
    assert page["count"] == len(mine) and page["items"] == answer["items"][1:3]
    # Смирнова is in «Учительская», «2 А» and «2 А Родители».
    assert {"Учительская", "2 А", "2 А Родители"} <= set(conversations(people["teacher"]))
    assert conversations(people["parent"]) == {}


def test_create_chat_edit_and_read_it(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher, parent = people["admin"], people["teacher"], people["parent"]
    chat_id = admin(
        "messages.createChat", user_ids=f"{teacher.user_id},{parent.user_id}", title="Кружок"
    )
    assert isinstance(chat_id, int) and chat_id > 7
    chat = admin("messages.getChat", chat_id=chat_id)
    assert chat == {
        "type": "chat",
        "id": chat_id,
        "title": "Кружок",
        "admin_id": admin.user_id,
        "members_count": 3,
        "users": [admin.user_id, teacher.user_id, parent.user_id],
    }
    made = truth(sandbox)[chat_id]
    assert made["org_id"] == "org-001" and made["admin_id"] == admin.user_id

    assert admin("messages.editChat", chat_id=chat_id, title="Кружок рисования") == 1
    assert parent("messages.getChat", chat_id=chat_id)["title"] == "Кружок рисования"
    assert code(teacher.error("messages.editChat", chat_id=chat_id, title="Моё")) == 925
    assert code(admin.error("messages.editChat", chat_id=chat_id)) == 100  # no title

    many = admin("messages.getChat", chat_ids=f"1,{chat_id}")
    assert [c["id"] for c in many] == [1, chat_id]
    conversation = conversations(parent)
    assert conversation == {"Кружок рисования": chat_id}
    item = parent("messages.getConversations")["items"][0]
    assert item["last_message"]["action"] == {"type": "chat_create", "text": "Кружок рисования"}


def test_create_chat_needs_a_teacher_or_admin_and_the_messages_scope(
    sandbox: Any, people: dict[str, Vk]
) -> None:
    admin, parent = people["admin"], people["parent"]
    denied = parent.error("messages.createChat", title="Родители", user_ids=admin.user_id)
    assert code(denied) == 15 and denied["error_msg"].startswith("Access denied")
    no_scope = mint_token(sandbox, admin.user_id, "vkid.personal_info", 600)
    error = admin.error("messages.createChat", title="Без прав", token=no_scope)
    assert (code(error), error["error_msg"]) == (15, "Access denied: no access to call this method")
    assert admin.raw("users.get", token=no_scope)["response"]  # users.get needs no scope
    assert code(admin.error("messages.createChat", user_ids=parent.user_id)) == 100  # no title


def test_members_of_another_organization_are_error_1019(
    sandbox: Any, people: dict[str, Vk]
) -> None:
    admin = people["admin"]
    outsider = vk_account_without_profile(sandbox)
    error = admin.error("messages.createChat", title="Чужие", user_ids=outsider)
    assert code(error) == 1019
    assert code(admin.error("messages.addChatUser", chat_id=1, user_id=outsider)) == 1019
    assert code(admin.error("messages.addChatUser", chat_id=1, user_id=999_999_999)) == 1019


def test_add_and_remove_chat_users(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher, parent = people["admin"], people["teacher"], people["parent"]
    chats = chat_ids(sandbox)
    parents_1a, class_2a = chats["1 А Родители"], chats["2 А"]

    assert admin("messages.addChatUser", chat_id=parents_1a, user_id=parent.user_id) == 1
    assert admin("messages.addChatUser", chat_id=parents_1a, user_id=parent.user_id) == 1
    members = admin("messages.getConversationMembers", peer_id=PEER + parents_1a, count=200)
    added = [i for i in members["items"] if i["member_id"] == parent.user_id]
    assert added and added[0]["invited_by"] == admin.user_id and not added[0]["is_admin"]
    assert parent("messages.getChat", chat_id=parents_1a)["id"] == parents_1a

    # Смирнова is a member of «2 А» but not its admin.
    assert (
        code(teacher.error("messages.addChatUser", chat_id=class_2a, user_id=parent.user_id)) == 925
    )
    assert (
        code(teacher.error("messages.removeChatUser", chat_id=class_2a, member_id=admin.user_id))
        == 925
    )
    assert code(admin.error("messages.addChatUser", chat_id=9999, user_id=parent.user_id)) == 927
    assert code(admin.error("messages.addChatUser", chat_id=parents_1a)) == 100

    assert admin("messages.removeChatUser", chat_id=parents_1a, member_id=parent.user_id) == 1
    error = admin.error("messages.removeChatUser", chat_id=parents_1a, member_id=parent.user_id)
    assert (code(error), error["error_msg"]) == (935, "User not found in chat")
    assert code(parent.error("messages.getChat", chat_id=parents_1a)) == 917
    # Anyone may leave a chat.
    assert teacher("messages.removeChatUser", chat_id=class_2a, member_id=teacher.user_id) == 1
    assert code(teacher.error("messages.getChat", chat_id=class_2a)) == 917
    chats = truth(sandbox)
    assert teacher.user_id not in chats[class_2a]["member_ids"]
    assert parent.user_id not in chats[parents_1a]["member_ids"]


def test_reading_a_chat_needs_membership(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher = people["admin"], people["teacher"]
    class_1a = chat_ids(sandbox)["1 А"]
    for method, params in (
        ("messages.getChat", {"chat_id": class_1a}),
        ("messages.getChat", {"chat_ids": f"{class_1a}"}),
        ("messages.getConversationMembers", {"peer_id": PEER + class_1a}),
        ("calls.start", {"peer_id": PEER + class_1a}),
    ):
        error = teacher.error(method, **params)
        assert (code(error), error["error_msg"]) == (917, "You don't have access to this chat")
    assert code(admin.error("messages.getChat", chat_id=4242)) == 927


def test_conversation_members_pages(sandbox: Any, people: dict[str, Vk]) -> None:
    admin = people["admin"]
    staff_room = chat_ids(sandbox)["Учительская"]
    everyone = admin("messages.getConversationMembers", peer_id=PEER + staff_room, count=200)
    member_ids = truth(sandbox)[staff_room]["member_ids"]
    assert everyone["count"] == len(member_ids) > 3
    assert sorted(i["member_id"] for i in everyone["items"]) == sorted(member_ids)
    assert {p["id"] for p in everyone["profiles"]} == set(member_ids)
    me = next(i for i in everyone["items"] if i["member_id"] == admin.user_id)
    assert me["is_admin"] and me["is_owner"]
    assert set(me) >= {"member_id", "invited_by", "join_date", "is_admin"}
    page = admin("messages.getConversationMembers", peer_id=PEER + staff_room, offset=1, count=2)
    assert page["count"] == everyone["count"] and page["items"] == everyone["items"][1:3]
    too_many = admin.error("messages.getConversationMembers", peer_id=PEER + staff_room, count=201)
    assert code(too_many) == 100 and "count should be less or equal to 200" in too_many["error_msg"]
    assert code(admin.error("messages.getConversationMembers", peer_id=admin.user_id)) == 100


def test_invite_link_and_delete_chat(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher = people["admin"], people["teacher"]
    chat_id = admin("messages.createChat", user_ids=teacher.user_id, title="Временный")
    link = admin("messages.getInviteLink", peer_id=PEER + chat_id)["link"]
    assert link.startswith("https://vk.me/join/")
    assert admin("messages.getInviteLink", peer_id=PEER + chat_id)["link"] == link
    fresh = admin("messages.getInviteLink", peer_id=PEER + chat_id, reset=1)["link"]
    assert fresh != link and fresh.startswith("https://vk.me/join/")
    assert code(teacher.error("messages.getInviteLink", peer_id=PEER + chat_id)) == 925

    call = teacher("calls.start", peer_id=PEER + chat_id, name="Совещание")
    assert code(teacher.error("messages.deleteChat", chat_id=chat_id)) == 925
    assert admin("messages.deleteChat", chat_id=chat_id) == 1
    assert code(admin.error("messages.getChat", chat_id=chat_id)) == 927
    assert code(admin.error("messages.deleteChat", chat_id=chat_id)) == 927
    assert call["call_id"] not in {c["call_id"] for c in admin("calls.getActive")["items"]}
    assert "Временный" not in conversations(admin)
    assert truth(sandbox)[chat_id]["deleted"]


def test_calls_start_and_get_active(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher, parent = people["admin"], people["teacher"], people["parent"]
    staff_room = chat_ids(sandbox)["Учительская"]
    started = admin("calls.start", peer_id=PEER + staff_room, name="Педсовет")
    assert set(started) == {"call_id", "join_link"}
    assert started["join_link"].startswith("https://vk.com/call/join/")
    active = teacher("calls.getActive")
    assert active["count"] == 1
    assert active["items"][0] == {
        "call_id": started["call_id"],
        "peer_id": PEER + staff_room,
        "name": "Педсовет",
        "join_link": started["join_link"],
        "started_by": admin.user_id,
        "started_at": active["items"][0]["started_at"],
    }
    assert parent("calls.getActive") == {"count": 0, "items": []}  # not in the staff room
    assert teacher("calls.start", peer_id=PEER + staff_room)["call_id"]  # named after the chat
    names = {c["name"] for c in admin("calls.getActive")["items"]}
    assert names == {"Педсовет", "Учительская"}
    assert admin("calls.forceFinish", call_id=started["call_id"]) == 1
    assert {c["name"] for c in teacher("calls.getActive")["items"]} == {"Учительская"}


# --- limits ---------------------------------------------------------------------------------------


def test_member_limit_is_error_103(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher, parent = people["admin"], people["teacher"], people["parent"]
    sandbox.faults(chat_member_limit=2)
    error = admin.error(
        "messages.createChat", user_ids=f"{teacher.user_id},{parent.user_id}", title="Много"
    )
    assert (code(error), error["error_msg"]) == (103, "Out of limits")
    chat_id = admin("messages.createChat", user_ids=teacher.user_id, title="Двое")
    assert code(admin.error("messages.addChatUser", chat_id=chat_id, user_id=parent.user_id)) == 103
    assert admin("messages.addChatUser", chat_id=chat_id, user_id=teacher.user_id) == 1  # member


def test_default_member_limit_is_2000_and_bulk_adds_go_through_execute(
    sandbox: Any, people: dict[str, Vk]
) -> None:
    admin, teacher = people["admin"], people["teacher"]
    chat_id = admin("messages.createChat", user_ids=teacher.user_id, title="Вся школа")
    # 1999 more profiles of the school, made straight in the database (the demo has ~30); 1997
    # of them join the chat there too, which makes 1999 members with Павлова and Смирнова.
    now = db_time(datetime.now(UTC))
    first = 700_000_000
    with db(sandbox) as conn, conn:
        conn.executemany(
            "INSERT INTO vk_accounts (user_id, phone, first_name, last_name, created_at)"
            " VALUES (?, ?, 'Ученик', 'Тестовый', ?)",
            [(first + i, f"+7198{i:07d}", now) for i in range(1999)],
        )
        conn.executemany(
            "INSERT INTO edu_profiles (id, vk_user_id, first_name, last_name, birthday, sex,"
            " org_id, roles, created_at) VALUES (?, ?, 'Ученик', 'Тестовый', '2015-01-01', 2,"
            " 'org-001', '[\"student\"]', ?)",
            [(first + i, first + i, now) for i in range(1999)],
        )
        conn.executemany(
            "INSERT INTO sferum_chat_members (chat_id, member_id, invited_by, join_date, is_admin)"
            " VALUES (?, ?, ?, 0, 0)",
            [(chat_id, first + i, admin.user_id) for i in range(1997)],
        )
    assert admin("messages.getChat", chat_id=chat_id)["members_count"] == 1999
    adds = program(
        *(
            f'API.messages.addChatUser({{"chat_id": {chat_id}, "user_id": {first + i}}})'
            for i in (1997, 1998)
        )
    )
    answer = admin.raw("execute", code=adds)
    assert answer["response"] == [1, False]
    assert answer["execute_errors"] == [
        {"method": "messages.addChatUser", "error_code": 103, "error_msg": "Out of limits"}
    ]
    assert admin("messages.getChat", chat_id=chat_id)["members_count"] == 2000


def test_flood_control_is_error_9(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, teacher, parent = people["admin"], people["teacher"], people["parent"]
    sandbox.faults(flood_chats_per_hour=2, flood_member_changes_per_hour=2)
    token = admin.spare_token()
    first = admin.raw("messages.createChat", token=token, title="Первый")["response"]
    assert "response" in admin.raw("messages.createChat", token=token, title="Второй")
    error = admin.raw("messages.createChat", token=token, title="Третий")["error"]
    assert (code(error), error["error_msg"]) == (9, "Flood control")
    assert "response" in admin.raw("messages.createChat", title="Другой токен")  # per token

    add = f'API.messages.addChatUser({{"chat_id": {first}, "user_id": %d}})'
    changes = program(
        add % parent.user_id,
        add % parent.user_id,  # already a member: no change, not counted
        f'API.messages.removeChatUser({{"chat_id": {first}, "member_id": {parent.user_id}}})',
        add % teacher.user_id,
    )
    answer = admin.raw("execute", code=changes, token=admin.spare_token())
    assert answer["response"] == [1, 1, 1, False]
    assert answer["execute_errors"] == [
        {"method": "messages.addChatUser", "error_code": 9, "error_msg": "Flood control"}
    ]


def _at_once(vk: Vk, calls: list[tuple[str, dict[str, Any]]], token: str) -> list[dict[str, Any]]:
    """The answers of calls sent together with one token (so they arrive within a second)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(vk.raw, method, token=token, **params) for method, params in calls]
        return [future.result() for future in futures]


def test_rate_limit_three_requests_per_second_per_token(people: dict[str, Vk]) -> None:
    admin = people["admin"]
    token = admin.spare_token()
    answers = _at_once(admin, [("users.get", {})] * 4, token)
    answered = time.monotonic()  # every call of the burst arrived before this
    refused = [a["error"] for a in answers if "error" in a]
    assert len(refused) == 1 and code(refused[0]) == 6
    assert refused[0]["error_msg"] == "Too many requests per second"
    # Another token of the same person has its own budget.
    assert "response" in admin.raw("users.get", token=admin.spare_token())
    # The window slides: a second after the burst the token may call again.
    time.sleep(max(0.0, answered + 1.05 - time.monotonic()))
    assert "response" in admin.raw("users.get", token=token)

    # Spaced at (a little under) 3 per second, a token never hits the limit.
    spaced = admin.spare_token()
    start = time.monotonic()
    for n in range(5):
        time.sleep(max(0.0, start + n * 0.37 - time.monotonic()))
        assert "response" in admin.raw("users.get", token=spaced), n


def test_execute_counts_as_one_request(people: dict[str, Vk]) -> None:
    admin = people["admin"]
    calls = program(*["API.users.get()"] * 25)
    answers = _at_once(admin, [("execute", {"code": calls})] * 3, admin.spare_token())
    assert [len(a["response"]) for a in answers] == [25, 25, 25]
    token = admin.spare_token()
    answers = _at_once(admin, [("execute", {"code": calls})] * 3 + [("users.get", {})], token)
    assert sorted(code(a["error"]) for a in answers if "error" in a) == [6]


# --- execute --------------------------------------------------------------------------------------


def test_execute_mixed_successes_and_failures(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, parent = people["admin"], people["parent"]
    chats = chat_ids(sandbox)
    parents_1a, class_1a = chats["1 А Родители"], chats["1 А"]
    mixed = program(
        f'API.messages.addChatUser({{"chat_id": {parents_1a}, "user_id": {parent.user_id}}})',
        f"API.messages.removeChatUser({{chat_id: {class_1a}, member_id: {parent.user_id}}})",
        f'API.users.get({{"user_ids": [{admin.user_id}, {parent.user_id}], "fields": "sex"}})',
        'API.messages.getChat({"chat_id": 4242})',
        "API.messages.nothing({})",
    )
    answer = admin.raw("execute", code=mixed)
    assert set(answer) == {"response", "execute_errors"}
    added, removed, users, chat, unknown = answer["response"]
    assert added == 1 and removed is False and chat is False and unknown is False
    assert [u["id"] for u in users] == [admin.user_id, parent.user_id]
    assert answer["execute_errors"] == [
        {
            "method": "messages.removeChatUser",
            "error_code": 935,
            "error_msg": "User not found in chat",
        },
        {"method": "messages.getChat", "error_code": 927, "error_msg": "Chat does not exist"},
        {"method": "messages.nothing", "error_code": 3, "error_msg": "Unknown method passed"},
    ]
    # One call, not an array; no failure, no execute_errors.
    single = admin.raw(
        "execute", code=f'return API.messages.getChat({{"chat_id": {chats["1 А"]}}});'
    )
    assert set(single) == {"response"} and single["response"]["title"] == "1 А"
    failed = admin.raw("execute", code='return API.messages.getChat({"chat_id": 4242});')
    assert failed["response"] is False and failed["execute_errors"][0]["error_code"] == 927


def test_execute_compile_and_runtime_errors(people: dict[str, Vk]) -> None:
    admin = people["admin"]
    for source in (
        'return API.users.get({"user_ids": 1}',
        "var a = API.users.get(); return a;",
        'return API.users.get({"user_ids": foo});',
        "return API.users.get({'user_ids': 1});",
        "return API.get();",
        "return [API.users.get()] + 1;",
    ):
        error = admin.error("execute", code=source)
        assert code(error) == 12, source
        assert error["error_msg"].startswith("Unable to compile code"), source
    assert admin.error("execute")["error_msg"].endswith("code is undefined")
    too_many = program(*["API.users.get()"] * 26)
    error = admin.error("execute", code=too_many)
    assert (code(error), error["error_msg"]) == (
        13,
        "Runtime error occurred during code invocation: Too many API calls",
    )


def test_vkscript_parser_subset() -> None:
    program = vkscript.parse(
        'return {"a": [API.users.get({"user_ids": [1, 2], "x": null, "ok": true}), 1.5], '
        'b: API.messages.getChat({chat_id: 3, "n": {"k": "в \\"кавычках\\""}})};'
    )
    assert [c.method for c in program.calls] == ["users.get", "messages.getChat"]
    assert vkscript.call_params(program.calls[0]) == [("user_ids", "1,2"), ("ok", "1")]
    assert vkscript.call_params(program.calls[1]) == [
        ("chat_id", "3"),
        ("n", '{"k":"в \\"кавычках\\""}'),
    ]
    results = iter(["U", "C"])
    assert vkscript.evaluate(program.expression, lambda _call: next(results)) == {
        "a": ["U", 1.5],
        "b": "C",
    }
    for bad in ("return API.users.get(1);", "return", "return [1,];", "return 1; return 2;"):
        with pytest.raises(vkscript.CompileError):
            vkscript.parse(bad)
    with pytest.raises(vkscript.CompileError):
        vkscript.parse("return " + "[" * 100 + "]" * 100 + ";")


# --- captcha --------------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, checking its signature and header chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    crc = struct.unpack(">I", data[29:33])[0]
    assert crc == zlib.crc32(data[12:29]) & 0xFFFFFFFF
    return width, height


def test_captcha_round_trip(sandbox: Any, people: dict[str, Vk]) -> None:
    admin, parent = people["admin"], people["parent"]
    parents_1a = chat_ids(sandbox)["1 А Родители"]
    sandbox.faults(captcha_rate=1.0, seed=7)
    params = {"chat_id": parents_1a, "user_id": parent.user_id}

    error = admin.error("messages.addChatUser", **params)
    assert (code(error), error["error_msg"]) == (14, "Captcha needed")
    sid, image_url = error["captcha_sid"], error["captcha_img"]
    assert image_url.startswith(sandbox.url + "/sferum/captcha/")
    image = httpx.get(image_url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert _png_size(image.content) == (130, 50)
    key = sandbox.dev("GET", "captcha", params={"sid": sid})["key"]

    # A wrong answer: error 14 again with a new captcha; the old one is spent.
    wrong = admin.error("messages.addChatUser", captcha_sid=sid, captcha_key="nope", **params)
    assert code(wrong) == 14 and wrong["captcha_sid"] != sid
    again = admin.error("messages.addChatUser", captcha_sid=sid, captcha_key=key, **params)
    assert code(again) == 14
    assert httpx.get(image_url).status_code == 404

    sid = again["captcha_sid"]
    key = sandbox.dev("GET", "captcha", params={"sid": sid})["key"]
    assert admin("messages.addChatUser", captcha_sid=sid, captcha_key=key, **params) == 1
    sandbox.faults()
    assert parent.user_id in admin("messages.getChat", chat_id=parents_1a)["users"]


# --- a standard VK API client library -------------------------------------------------------------


def test_vk_api_library_with_only_the_host_changed(sandbox: Any, people: dict[str, Vk]) -> None:
    vk_api = pytest.importorskip("vk_api")
    import requests
    from requests.adapters import HTTPAdapter
    from vk_api.requests_pool import VkRequestsPool

    class SandboxHost(HTTPAdapter):
        """Sends what vk_api addresses to the VK API host to the sandbox's /sferum instead."""

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            request.url = request.url.replace("https://api.vk.ru/", f"{sandbox.url}/sferum/", 1)
            return super().send(request, *args, **kwargs)

    admin, parent = people["admin"], people["parent"]
    solved: list[str] = []

    def captcha_handler(captcha: Any) -> Any:
        key = sandbox.dev("GET", "captcha", params={"sid": captcha.sid})["key"]
        solved.append(captcha.get_url())
        return captcha.try_again(key)

    with requests.Session() as http:
        http.mount("https://api.vk.ru/", SandboxHost())
        session = vk_api.VkApi(
            token=admin.spare_token(),
            api_version=V,
            session=http,
            captcha_handler=captcha_handler,
        )
        api = session.get_api()
        me = api.users.get(fields="edu_profile")[0]
        assert (
            me["id"] == admin.user_id and me["edu_profile"]["organizations"][0]["id"] == "org-001"
        )
        chat_id = api.messages.createChat(user_ids=parent.user_id, title="Из vk_api")
        assert api.messages.getChat(chat_id=chat_id)["members_count"] == 2
        with pytest.raises(vk_api.exceptions.ApiError) as failure:
            api.messages.removeChatUser(chat_id=chat_id, member_id=999_999_999)
        assert failure.value.code == 935

        with VkRequestsPool(session) as pool:
            chat = pool.method("messages.getChat", {"chat_id": chat_id})
            missing = pool.method("messages.getChat", {"chat_id": 4242})
            users = pool.method("users.get", {"user_ids": parent.user_id})
        assert chat.result["title"] == "Из vk_api" and users.result[0]["id"] == parent.user_id
        assert not missing.ok and missing.error["error_code"] == 927

        sandbox.faults(captcha_rate=1.0, seed=3)
        assert api.messages.editChat(chat_id=chat_id, title="С капчей") == 1
        assert solved and solved[0].startswith(f"{sandbox.url}/sferum/captcha/")
        sandbox.faults()
        assert api.messages.getChat(chat_id=chat_id)["title"] == "С капчей"
