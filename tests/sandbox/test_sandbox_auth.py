"""ESh sign-in in the sandbox: password login and lockout, refresh rotation, logout, /me, ESIA,
password reset — all over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

LOGIN = "/esh/api/v1/auth/login"
REFRESH = "/esh/api/v1/auth/refresh"
LOGOUT = "/esh/api/v1/auth/logout"
ME = "/esh/api/v1/me"
ESIA = "/esh/esia/authorize"
ESIA_TOKEN = "/esh/api/v1/auth/esia/token"
RESET = "/esh/password-reset"
CALLBACK = "http://127.0.0.1:53682/esia/callback"


@pytest.fixture
def esh(sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        yield client


@pytest.fixture
def accounts(sandbox: Any) -> dict[str, Any]:
    return sandbox.accounts()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(esh: httpx.Client, account: dict[str, Any]) -> dict[str, Any]:
    answer = esh.post(
        LOGIN, json={"username": account["username"], "password": account["password"]}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- password sign-in -------------------------------------------------------------------------


def test_login_answers_tokens_and_the_person(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    admin = accounts["admin"]
    body = login(esh, admin)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] and body["refresh_token"]
    assert body["person"]["id"] == admin["person_id"]
    assert body["person"]["full_name"] == admin["full_name"]
    me = esh.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == body["person"]


def test_wrong_password_is_invalid_credentials(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    answer = esh.post(LOGIN, json={"username": accounts["teacher"]["username"], "password": "nope"})
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "invalid_credentials",
        "message": "Неверное имя пользователя или пароль.",
        "details": {},
    }
    unknown = esh.post(LOGIN, json={"username": "nobody.at.all", "password": "x"})
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_credentials"


def test_five_failures_lock_the_username_out(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    teacher = accounts["teacher"]
    wrong = {"username": teacher["username"], "password": "wrong"}
    for _ in range(5):
        assert esh.post(LOGIN, json=wrong).status_code == 401
    locked = esh.post(LOGIN, json=wrong)
    assert locked.status_code == 429
    body = locked.json()
    assert body["error"] == "too_many_attempts"
    assert 290 <= body["details"]["retry_after"] <= 300
    assert locked.headers["Retry-After"] == str(body["details"]["retry_after"])
    assert body["message"] == "Слишком много попыток входа. Повторите через 5 мин."
    # Even the right password is refused while locked out.
    right = esh.post(LOGIN, json={"username": teacher["username"], "password": teacher["password"]})
    assert right.status_code == 429
    assert right.json()["error"] == "too_many_attempts"
    # Other usernames are not affected.
    login(esh, accounts["admin"])


def test_a_success_clears_the_failures(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    student = accounts["student"]
    wrong = {"username": student["username"], "password": "wrong"}
    for _ in range(4):
        assert esh.post(LOGIN, json=wrong).status_code == 401
    login(esh, student)
    for _ in range(4):
        assert esh.post(LOGIN, json=wrong).status_code == 401
    login(esh, student)


def test_malformed_and_invalid_bodies(esh: httpx.Client) -> None:
    broken = esh.post(LOGIN, content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["error"] == "bad_request"
    missing = esh.post(LOGIN, json={"username": "pavlova"})
    assert missing.status_code == 422
    assert missing.json()["error"] == "validation"
    assert missing.json()["details"]["fields"] == {"password": "Обязательное поле."}
    assert esh.get(ME).json()["error"] == "unauthorized"
    unknown = esh.get("/esh/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"


# --- refresh, logout, expiry ------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_session(
    esh: httpx.Client, accounts: dict[str, Any]
) -> None:
    first = login(esh, accounts["teacher"])
    second = esh.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["person"]["id"] == accounts["teacher"]["person_id"]
    assert esh.get(ME, headers=bearer(pair["access_token"])).status_code == 200

    reused = esh.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"] == "refresh_reused"
    # The whole session is gone: both access tokens and the newest refresh token.
    for token in (first["access_token"], pair["access_token"]):
        answer = esh.get(ME, headers=bearer(token))
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_token"
    newest = esh.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert newest.status_code == 401
    assert newest.json()["error"] == "invalid_token"
    # Another session of the same person is untouched.
    login(esh, accounts["teacher"])


def test_unknown_refresh_token(esh: httpx.Client) -> None:
    answer = esh.post(REFRESH, json={"refresh_token": "esh-rt.made-up"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


def test_logout_revokes_the_session(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    body = login(esh, accounts["parent"])
    answer = esh.post(LOGOUT, headers=bearer(body["access_token"]))
    assert answer.status_code == 204
    assert answer.content == b""
    assert esh.get(ME, headers=bearer(body["access_token"])).json()["error"] == "invalid_token"
    refreshed = esh.post(REFRESH, json={"refresh_token": body["refresh_token"]})
    assert refreshed.json()["error"] == "invalid_token"
    assert esh.post(LOGOUT).status_code == 401


def test_blocking_takes_effect_on_a_live_session(
    sandbox: Any, esh: httpx.Client, accounts: dict[str, Any]
) -> None:
    teacher = accounts["teacher"]
    body = login(esh, teacher)
    assert esh.get(ME, headers=bearer(body["access_token"])).status_code == 200
    sandbox.dev("POST", "roster", json={"op": "block", "person_id": teacher["person_id"]})
    blocked = esh.get(ME, headers=bearer(body["access_token"]))
    assert blocked.status_code == 403
    assert blocked.json()["error"] == "forbidden"
    sandbox.dev("POST", "roster", json={"op": "unblock", "person_id": teacher["person_id"]})
    assert esh.get(ME, headers=bearer(body["access_token"])).status_code == 200


def test_access_token_expires_after_the_configured_ttl(
    sandbox: Any, esh: httpx.Client, accounts: dict[str, Any]
) -> None:
    sandbox.faults(access_token_ttl_s=1)
    body = login(esh, accounts["admin"])
    assert body["expires_in"] == 1
    assert esh.get(ME, headers=bearer(body["access_token"])).status_code == 200
    time.sleep(1.2)
    expired = esh.get(ME, headers=bearer(body["access_token"]))
    assert expired.status_code == 401
    assert expired.json()["error"] == "token_expired"
    # The refresh token (30 days) still gets a new pair.
    pair = esh.post(REFRESH, json={"refresh_token": body["refresh_token"]}).json()
    assert esh.get(ME, headers=bearer(pair["access_token"])).status_code == 200


# --- /me --------------------------------------------------------------------------------------


def test_me_shape_for_each_role(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    expected_roles = {
        "admin": {"admin", "teacher"},
        "teacher": {"teacher"},
        "student": {"student"},
        "parent": {"parent"},
    }
    for role, account in accounts.items():
        me = esh.get(ME, headers=bearer(login(esh, account)["access_token"])).json()
        assert set(me) == {
            "id", "username", "full_name", "given_name", "family_name", "middle_name",
            "roles", "schools", "link",
        }  # fmt: skip
        assert me["id"] == account["person_id"]
        assert me["username"] == account["username"]
        assert me["full_name"] == account["full_name"]
        assert me["full_name"].split()[:2] == [me["family_name"], me["given_name"]]
        assert expected_roles[role] <= set(me["roles"]), (role, me["roles"])
        if role != "admin":
            assert "admin" not in me["roles"]
        assert me["schools"] and all(set(s) == {"id", "name"} for s in me["schools"])
        assert me["link"]["status"] in ("linked", "unlinked")
        assert (me["link"]["vk_user_id"] is not None) == (me["link"]["status"] == "linked")


def test_me_follows_the_link(sandbox: Any, esh: httpx.Client, accounts: dict[str, Any]) -> None:
    student = accounts["student"]
    token = login(esh, student)["access_token"]
    sandbox.dev("POST", "unlink", json={"person_id": student["person_id"]})
    assert esh.get(ME, headers=bearer(token)).json()["link"] == {
        "status": "unlinked",
        "vk_user_id": None,
    }
    sandbox.dev("POST", "link", json={"person_id": student["person_id"]})
    link = esh.get(ME, headers=bearer(token)).json()["link"]
    assert link["status"] == "linked"
    assert isinstance(link["vk_user_id"], int)


# --- ESIA («Войти через госуслуги») -----------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": "sferum-desktop",
        "redirect_uri": CALLBACK,
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


def esia_code(esh: httpx.Client, login_name: str, password: str, challenge: str) -> dict[str, str]:
    """Drive the Госуслуги page like a browser; the redirect's query (code, state)."""
    params = authorize_params(challenge)
    page = esh.get(ESIA, params=params)
    assert page.status_code == 200
    form = hidden_fields(page.text)
    assert form == params
    answer = esh.post(ESIA, data={**form, "login": login_name, "password": password})
    assert answer.status_code in (302, 303), answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["state"] == params["state"]
    return query


def test_esia_page_looks_like_gosuslugi(esh: httpx.Client) -> None:
    page = esh.get(ESIA, params=authorize_params(pkce()[1]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for text in ("Вход в Госуслуги", "Телефон / Email / СНИЛС", "Пароль", "Войти"):
        assert text in page.text
    assert '<form method="post"' in page.text


def test_esia_flow_with_code_exchange(esh: httpx.Client, accounts: dict[str, Any]) -> None:
    teacher = accounts["teacher"]
    verifier, challenge = pkce()
    query = esia_code(esh, teacher["username"], teacher["password"], challenge)
    exchange = {"code": query["code"], "code_verifier": verifier, "redirect_uri": CALLBACK}
    answer = esh.post(ESIA_TOKEN, json=exchange)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["person"]["id"] == teacher["person_id"]
    assert esh.get(ME, headers=bearer(body["access_token"])).status_code == 200
    # A code is single use.
    again = esh.post(ESIA_TOKEN, json=exchange)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_esia_rejects_a_wrong_verifier_or_redirect(
    esh: httpx.Client, accounts: dict[str, Any]
) -> None:
    admin = accounts["admin"]
    verifier, challenge = pkce()
    code = esia_code(esh, admin["username"], admin["password"], challenge)["code"]
    wrong = esh.post(
        ESIA_TOKEN,
        json={"code": code, "code_verifier": pkce()[0], "redirect_uri": CALLBACK},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    verifier, challenge = pkce()
    code = esia_code(esh, admin["username"], admin["password"], challenge)["code"]
    other = esh.post(
        ESIA_TOKEN,
        json={"code": code, "code_verifier": verifier, "redirect_uri": CALLBACK + "x"},
    )
    assert other.json()["error"] == "invalid_grant"
    unknown = esh.post(
        ESIA_TOKEN, json={"code": "made-up", "code_verifier": verifier, "redirect_uri": CALLBACK}
    )
    assert unknown.json()["error"] == "invalid_grant"


def test_esia_wrong_password_shows_the_form_again(
    esh: httpx.Client, accounts: dict[str, Any]
) -> None:
    params = authorize_params(pkce()[1])
    answer = esh.post(
        ESIA, data={**params, "login": accounts["admin"]["username"], "password": "x"}
    )
    assert answer.status_code == 200
    assert "Location" not in answer.headers
    assert "Неверный логин или пароль." in answer.text
    assert hidden_fields(answer.text) == params


def test_esia_unknown_client_or_foreign_redirect_is_an_error_page(esh: httpx.Client) -> None:
    challenge = pkce()[1]
    for params in (
        authorize_params(challenge, client_id="someone-else"),
        authorize_params(challenge, redirect_uri="https://evil.example/cb"),
        authorize_params(challenge, redirect_uri="http://192.168.1.5:8080/cb"),
    ):
        answer = esh.get(ESIA, params=params)
        assert answer.status_code == 400
        assert "Location" not in answer.headers
        assert "Ошибка входа" in answer.text
    # Any loopback port and localhost are fine (RFC 8252).
    for uri in ("http://localhost:1/x", "http://127.0.0.1:65000/"):
        assert (
            esh.get(ESIA, params=authorize_params(challenge, redirect_uri=uri)).status_code == 200
        )


def test_esia_without_pkce_redirects_with_invalid_request(esh: httpx.Client) -> None:
    params = authorize_params("")
    del params["code_challenge"]
    answer = esh.get(ESIA, params=params)
    assert answer.status_code in (302, 303)
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == [params["state"]]
    assert "code" not in query
    plain = esh.get(ESIA, params=authorize_params(pkce()[1], code_challenge_method="plain"))
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]


def test_esia_accepts_the_persons_phone(
    sandbox: Any, esh: httpx.Client, accounts: dict[str, Any]
) -> None:
    # The path-1 VK ID login of the demo is a parent's phone; the parent signs in with it.
    parent = accounts["parent"]
    phone = _phone_of(sandbox, esh, parent["username"])
    verifier, challenge = pkce()
    code = esia_code(esh, phone.replace("+7", "8 "), parent["password"], challenge)["code"]
    answer = esh.post(
        ESIA_TOKEN, json={"code": code, "code_verifier": verifier, "redirect_uri": CALLBACK}
    )
    assert answer.json()["person"]["id"] == parent["person_id"]


# --- password reset ---------------------------------------------------------------------------


def _phone_of(sandbox: Any, esh: httpx.Client, username: str) -> str:
    """The phone a reset code goes to (found through the SMS it receives)."""
    esh.post(RESET, data={"step": "request", "username": username})
    return str(sandbox.dev("GET", "sms")["items"][0]["phone"])


def test_password_reset_flow(sandbox: Any, esh: httpx.Client, accounts: dict[str, Any]) -> None:
    teacher = accounts["teacher"]
    old_session = login(esh, teacher)
    page = esh.get(RESET)
    assert page.status_code == 200
    assert "Восстановление пароля" in page.text and "Имя пользователя" in page.text

    unknown = esh.post(RESET, data={"step": "request", "username": "nobody.at.all"})
    assert "Пользователь с таким именем не найден." in unknown.text

    asked = esh.post(RESET, data={"step": "request", "username": teacher["username"]})
    assert asked.status_code == 200
    assert "Код из СМС" in asked.text
    sms = sandbox.dev("GET", "sms")["items"][0]
    assert sms["phone"][-2:] in asked.text
    assert sandbox.dev("GET", "sms", params={"phone": sms["phone"]})["items"][0] == sms
    code = sms["code"]
    assert re.fullmatch(r"\d{6}", code) and code in sms["text"]

    def confirm(code: str, password: str, password2: str | None = None) -> httpx.Response:
        return esh.post(
            RESET,
            data={
                "step": "confirm",
                "username": teacher["username"],
                "code": code,
                "password": password,
                "password2": password if password2 is None else password2,
            },
        )

    wrong_code = "000000" if code != "000000" else "111111"
    assert "Неверный код из СМС." in confirm(wrong_code, "new-password-1").text
    assert "не менее 8 символов" in confirm(code, "short").text
    assert "Пароли не совпадают." in confirm(code, "new-password-1", "new-password-2").text
    done = confirm(code, "new-password-1")
    assert "Пароль изменён." in done.text

    assert esh.post(LOGIN, json={**teacher, "password": teacher["password"]}).status_code == 401
    login(esh, {**teacher, "password": "new-password-1"})
    # Sessions opened with the old password are closed; the code is spent.
    assert esh.get(ME, headers=bearer(old_session["access_token"])).status_code == 401
    assert "Запросите новый код." in confirm(code, "new-password-2").text
