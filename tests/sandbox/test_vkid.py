"""VK ID in the sandbox, over real HTTP: the seed's three sign-in paths, then the token API.

The sign-in pages are driven like a browser without JavaScript: each page is parsed with the
standard library's HTML parser, its form filled in and posted. SMS codes are read from the
sandbox's SMS inbox (`/sandbox/dev/sms`). Expiry is tested by ageing a row in the sandbox's
SQLite file, so that no test has to wait.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import Sandbox

CLIENT_ID = "51900001"  # «ЭлЖур», the demo dataset's VK ID client
REDIRECT = "http://127.0.0.1:53682/vkid/callback"  # registered without a port (RFC 8252)
DB_NAME = "sandbox.sqlite3"

INTRO = "С сервисом «ЭлЖур» можно связать свой учебный профиль:"
BULLETS = (
    "VK Мессенджер и VK Звонки можно использовать для учебных коммуникаций",
    "Для этого используйте учебный профиль VK ID",
    "Ваш профиль ВКонтакте никто не увидит",
)
CONSENT = (
    "Нажимая на «Продолжить», вы принимаете пользовательское соглашение и политику "
    "конфиденциальности сервиса"
)
FORGOT = "Забыли или не установили пароль?"


# --- a browser without JavaScript ----------------------------------------------------------


@dataclass
class Form:
    """One `<form>`: where it posts, its fields with their values, its buttons."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[str]] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.chunks: list[str] = []
        self.field_errors: dict[str, str] = {}
        self._form: Form | None = None
        self._button: list[str] | None = None
        self._error_field: str | None = None
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("style", "title", "script"):
            self._hidden += 1
        elif tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            name = a["name"]
            if a.get("type") == "radio":
                self._form.radios.setdefault(name, []).append(a.get("value", ""))
                if "checked" in a:
                    self._form.fields[name] = a.get("value", "")
            else:
                self._form.fields[name] = a.get("value", "")
        elif tag == "button":
            self._button = []
        elif tag == "div" and "field-error" in a.get("class", ""):
            self._error_field = a.get("id", "").removesuffix("-error")
            self.field_errors[self._error_field] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script"):
            self._hidden -= 1
        elif tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None:
            if self._form is not None:
                self._form.buttons.append(" ".join("".join(self._button).split()))
            self._button = None
        elif tag == "div":
            self._error_field = None

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.chunks.append(data)
        if self._button is not None:
            self._button.append(data)
        if self._error_field is not None:
            self.field_errors[self._error_field] += data.strip()


@dataclass
class Page:
    """A parsed HTML answer."""

    response: httpx.Response
    forms: list[Form]
    text: str  # the visible text, whitespace collapsed
    field_errors: dict[str, str]

    @classmethod
    def of(cls, response: httpx.Response) -> Page:
        assert response.headers["content-type"].startswith("text/html"), response.text
        parser = _PageParser()
        parser.feed(response.text)
        text = " ".join(" ".join(parser.chunks).split())
        return cls(response, parser.forms, text, parser.field_errors)

    def form(self, button: str) -> Form:
        """The form with that button (exact label)."""
        for form in self.forms:
            if button in form.buttons:
                return form
        raise AssertionError(f"no «{button}» button on the page: {self.text}")

    def has(self, text: str) -> bool:
        return " ".join(text.split()) in self.text


class Browser:
    """A plain-HTML browser session on the sandbox: GET pages, press form buttons."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.http = httpx.Client(base_url=sandbox.url, follow_redirects=False, timeout=30)

    def get(self, url: str, **params: str) -> httpx.Response:
        return self.http.get(url, params=params)

    def press(self, page: Page, button: str, **fields: str) -> httpx.Response:
        """Fill `fields` into the form holding `button` and submit it."""
        form = page.form(button)
        assert form.method == "post"
        data = {**form.fields, **fields}
        return self.http.post(form.action, data=data)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def browser(sandbox: Sandbox) -> Iterator[Browser]:
    client = Browser(sandbox)
    yield client
    client.close()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        yield client


# --- the protocol --------------------------------------------------------------------------


@dataclass
class Request:
    """One authorization request's secrets, as a client keeps them."""

    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uri: str = REDIRECT

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def params(self, **overrides: str) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "s256",
            "scope": "vkid.personal_info messages",
            "lang_id": "0",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v != ""}


@dataclass
class Callback:
    """The redirect back to the client."""

    code: str
    state: str
    device_id: str
    type: str


def callback(response: httpx.Response, request: Request) -> Callback:
    """The `redirect_uri?code&state&device_id&type=code_v2` redirect of a finished sign-in."""
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(request.redirect_uri + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert set(query) == {"code", "state", "device_id", "type"}, query
    assert query["state"] == request.state
    assert query["type"] == "code_v2"
    return Callback(query["code"], query["state"], query["device_id"], query["type"])


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def exchange(
    api: httpx.Client, back: Callback, request: Request, **overrides: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": back.code,
        "code_verifier": request.verifier,
        "client_id": CLIENT_ID,
        "device_id": back.device_id,
        "redirect_uri": request.redirect_uri,
        "state": request.state,
    }
    data.update(overrides)
    return api.post("/vkid/oauth2/auth", data=data)


def refresh(api: httpx.Client, token: str, device_id: str, state: str = "r1") -> httpx.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": CLIENT_ID,
        "device_id": device_id,
        "state": state,
    }
    return api.post("/vkid/oauth2/auth", data=data)


def user_info(api: httpx.Client, access_token: str) -> httpx.Response:
    return api.post(
        "/vkid/oauth2/user_info",
        params={"client_id": CLIENT_ID},
        data={"access_token": access_token},
    )


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert body["error_description"]
    return body


def last_sms(sandbox: Sandbox, phone: str) -> dict[str, Any]:
    items = sandbox.dev("GET", "sms", params={"phone": phone})["items"]
    assert items, f"no SMS was sent to {phone}"
    newest: dict[str, Any] = items[0]
    return newest


# --- the sandbox's database (the demo logins; ageing codes and tokens) ----------------------


@contextmanager
def database(sandbox: Sandbox) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(sandbox.data_dir / DB_NAME, timeout=30)) as conn, conn:
        yield conn


def vk_logins(sandbox: Sandbox) -> dict[int, dict[str, Any]]:
    """The demo dataset's VK ID logins of the seed's three paths, by path number."""
    with database(sandbox) as conn:
        (raw,) = conn.execute("SELECT value FROM sandbox_meta WHERE key = 'vk_logins'").fetchone()
    return {login["path"]: login for login in json.loads(raw)}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def age(sandbox: Sandbox, table: str, digest_column: str, secret: str) -> None:
    """Make a code or token expire now (its `expires_at` a second ago)."""
    moment = (datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)).isoformat(" ")
    with database(sandbox) as conn:
        changed = conn.execute(
            f"UPDATE {table} SET expires_at = ? WHERE {digest_column} = ?",  # noqa: S608
            (moment, sha(secret)),
        ).rowcount
    assert changed == 1


def expires_at(sandbox: Sandbox, token: str) -> datetime:
    with database(sandbox) as conn:
        (raw,) = conn.execute(
            "SELECT expires_at FROM vk_tokens WHERE token_sha256 = ?", (sha(token),)
        ).fetchone()
    return datetime.fromisoformat(raw)


# --- walking the pages ----------------------------------------------------------------------


def start(browser: Browser, request: Request) -> Page:
    response = browser.get("/vkid/authorize", **request.params())
    assert response.status_code == 200, response.text
    return Page.of(response)


def enter_phone(browser: Browser, page: Page, phone: str) -> Page:
    return Page.of(browser.press(page, "Продолжить", phone=phone))


def enter_sms(browser: Browser, sandbox: Sandbox, page: Page, phone: str) -> httpx.Response:
    return browser.press(page, "Продолжить", code=last_sms(sandbox, phone)["code"])


def sign_in_path1(sandbox: Sandbox, browser: Browser, request: Request) -> Callback:
    """Path 1 from start to the redirect, with the demo password."""
    login = vk_logins(sandbox)[1]
    page = enter_phone(browser, start(browser, request), login["phone"])
    page = Page.of(browser.press(page, "Продолжить", password=login["password"]))
    page = Page.of(enter_sms(browser, sandbox, page, login["phone"]))
    page = Page.of(browser.press(page, "Продолжить в учебном профиле"))
    return callback(browser.press(page, "Продолжить"), request)


def tokens_path1(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> tuple[dict[str, Any], Callback, Request]:
    request = Request()
    back = sign_in_path1(sandbox, browser, request)
    answer = exchange(api, back, request)
    assert answer.status_code == 200, answer.text
    return answer.json(), back, request


ABOUT = {
    "first_name": "Светлана",
    "last_name": "Никитина",
    "middle_name": "Геннадьевна",
    "birthday": "25.07.1987",
    "sex": "female",
}


# --- the three paths of the seed ------------------------------------------------------------


def test_path1_vk_account_with_an_educational_profile(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    login = vk_logins(sandbox)[1]
    assert login["has_edu_profile"]
    request = Request()
    page = start(browser, request)
    for text in ("vk ID", "Вход в VK ID", INTRO, *BULLETS, CONSENT, "Передаваемые данные >"):
        assert page.has(text), text
    assert page.form("Продолжить").fields.keys() >= {"flow", "phone"}

    # the phone as the seed types it
    digits = login["phone"][2:]
    typed = f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    page = enter_phone(browser, page, typed)
    assert page.has("Введите пароль") and FORGOT in page.form(FORGOT).buttons

    page = Page.of(browser.press(page, "Продолжить", password=login["password"]))
    assert page.has("Введите код из СМС")
    sms = last_sms(sandbox, login["phone"])
    assert len(sms["code"]) == 6 and sms["code"] in sms["text"]

    page = Page.of(browser.press(page, "Продолжить", code=sms["code"]))
    assert page.has(login["who"].split()[0])  # the profile's surname on the choice
    page = Page.of(browser.press(page, "Продолжить в учебном профиле"))
    assert page.has("Проверьте свои личные данные")
    for part in login["who"].split():
        assert page.has(part)
    assert page.has("Родитель")

    back = callback(browser.press(page, "Продолжить"), request)
    answer = exchange(api, back, request)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert set(tokens) == {
        "access_token", "refresh_token", "id_token", "token_type", "expires_in", "user_id",
        "state", "scope",
    }  # fmt: skip
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["state"] == request.state
    assert tokens["scope"] == "vkid.personal_info messages"
    assert tokens["user_id"] == login["vk_user_id"]
    _header, payload, _signature = tokens["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == login["vk_user_id"] and claims["iss"] == "VK"

    info = user_info(api, tokens["access_token"])
    assert info.status_code == 200, info.text
    user = info.json()["user"]
    assert user["user_id"] == str(login["vk_user_id"])
    assert user["phone"] == "+7 *** ***-**-" + login["phone"][-2:]
    assert api.get(user["avatar"]).headers["content-type"] == "image/png"
    edu = user["edu_profile"]
    family, given, middle = login["who"].split()
    assert (edu["last_name"], edu["first_name"], edu["middle_name"]) == (family, given, middle)
    assert edu["roles"] == ["parent"]
    assert len(edu["organizations"]) == 1 and edu["organizations"][0]["name"]
    assert len(edu["birthday"]) == 10 and edu["birthday"][2] == "."


def test_path2_vk_account_without_an_educational_profile(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    login = vk_logins(sandbox)[2]
    assert login["has_vk_account"] and not login["has_edu_profile"]
    request = Request()
    page = enter_phone(browser, start(browser, request), login["phone"])
    page = Page.of(browser.press(page, "Продолжить", password=login["password"]))
    page = Page.of(enter_sms(browser, sandbox, page, login["phone"]))
    page = Page.of(browser.press(page, "Создать учебный профиль"))
    assert page.has("Информация о себе")
    for label in ("Имя", "Фамилия", "Отчество", "Дата рождения", "Пол", "Мужской", "Женский"):
        assert page.has(label)
    form = page.form("Продолжить")
    assert form.radios["sex"] == ["male", "female"]
    assert form.fields["first_name"] == login["who"].split()[1]  # filled in from VK ID

    # server-side validation, with the messages at the fields
    response = browser.press(page, "Продолжить", first_name="", birthday="31.02.1987", sex="")
    assert response.status_code == 422
    page = Page.of(response)
    assert page.field_errors == {
        "first_name": "Введите имя.",
        "birthday": "Такой даты нет. Проверьте день и месяц.",
        "sex": "Укажите пол.",
    }
    assert page.form("Продолжить").fields["birthday"] == "31.02.1987"  # kept as typed
    page = Page.of(browser.press(page, "Продолжить", **{**ABOUT, "birthday": "1987-07-25"}))
    assert page.field_errors == {
        "birthday": "Введите дату в формате ДД.ММ.ГГГГ, например 25.07.1987."
    }
    future = (datetime.now(UTC) + timedelta(days=400)).strftime("%d.%m.%Y")
    page = Page.of(browser.press(page, "Продолжить", **{**ABOUT, "birthday": future}))
    assert page.field_errors == {"birthday": "Дата рождения не может быть в будущем."}

    back = callback(browser.press(page, "Продолжить", **ABOUT), request)
    tokens = exchange(api, back, request).json()
    assert tokens["user_id"] == login["vk_user_id"]
    edu = user_info(api, tokens["access_token"]).json()["user"]["edu_profile"]
    assert edu["first_name"] == "Светлана" and edu["middle_name"] == "Геннадьевна"
    assert edu["birthday"] == "25.07.1987" and edu["sex"] == 1
    assert edu["roles"] and set(edu["roles"]) <= {"teacher", "admin"}
    assert len(edu["organizations"]) == 1


def test_path3_no_vk_account(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    login = vk_logins(sandbox)[3]
    assert not login["has_vk_account"]
    request = Request()
    page = enter_phone(browser, start(browser, request), login["phone"])
    assert page.has("Введите код из СМС")  # no password: there is no account yet
    page = Page.of(enter_sms(browser, sandbox, page, login["phone"]))
    assert page.has("Информация о себе")
    assert page.has("Поле отчество не является обязательным к заполнению")
    family, given, _middle = login["who"].split()
    about = {"first_name": given, "last_name": family, "middle_name": "", "birthday": "03.03.1980"}
    page = Page.of(browser.press(page, "Продолжить", **about, sex="male"))
    page = Page.of(browser.press(page, "Создать учебный профиль"))
    assert page.has("Учебный профиль создан") and page.has(family)
    back = callback(browser.press(page, "Продолжить"), request)

    tokens = exchange(api, back, request).json()
    user = user_info(api, tokens["access_token"]).json()["user"]
    assert (user["first_name"], user["last_name"]) == (given, family)
    edu = user["edu_profile"]
    assert edu["middle_name"] is None and edu["sex"] == 2 and edu["birthday"] == "03.03.1980"
    assert edu["roles"] == ["parent"] and len(edu["organizations"]) == 1

    # The account now exists: the next sign-in on that phone asks for a password.
    page = enter_phone(browser, start(browser, Request()), login["phone"])
    assert page.has("Введите пароль")


def test_path3_phone_unknown_to_esh_gets_no_school(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    phone = "+71990000001"
    request = Request(redirect_uri="http://localhost:40001/vkid/callback")
    page = enter_phone(browser, start(browser, request), "8 (199) 000-00-01")
    page = Page.of(enter_sms(browser, sandbox, page, phone))
    page = Page.of(browser.press(page, "Продолжить", **ABOUT))
    page = Page.of(browser.press(page, "Создать учебный профиль"))
    assert page.has("Организация не указана")
    tokens = exchange(api, callback(browser.press(page, "Продолжить"), request), request).json()
    edu = user_info(api, tokens["access_token"]).json()["user"]["edu_profile"]
    assert edu["roles"] == [] and edu["organizations"] == []


# --- passwords, codes, attempts -------------------------------------------------------------


def test_password_reset_by_sms(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    login = vk_logins(sandbox)[1]
    request = Request()
    page = enter_phone(browser, start(browser, request), login["phone"])
    page = Page.of(browser.press(page, FORGOT))
    assert page.has("Сброс пароля")
    assert "сброса пароля" in last_sms(sandbox, login["phone"])["text"]
    page = Page.of(enter_sms(browser, sandbox, page, login["phone"]))
    assert page.has("Новый пароль")
    page = Page.of(
        browser.press(page, "Сохранить пароль", password="новый-пароль", password2="другой")
    )
    assert page.has("Пароли не совпадают.")
    page = Page.of(browser.press(page, "Сохранить пароль", password="123", password2="123"))
    assert page.has("Пароль должен быть не короче 6 символов.")
    page = Page.of(
        browser.press(page, "Сохранить пароль", password="новый-пароль", password2="новый-пароль")
    )
    assert page.has("Пароль изменён. Войдите с новым паролем.")

    page = Page.of(browser.press(page, "Продолжить", password=login["password"]))
    assert page.has("Неверный пароль. Осталось попыток: 4.")
    page = Page.of(browser.press(page, "Продолжить", password="новый-пароль"))
    page = Page.of(enter_sms(browser, sandbox, page, login["phone"]))
    page = Page.of(browser.press(page, "Продолжить в учебном профиле"))
    assert exchange(api, callback(browser.press(page, "Продолжить"), request), request).is_success


def test_wrong_password_five_times_ends_the_flow(sandbox: Sandbox, browser: Browser) -> None:
    login = vk_logins(sandbox)[1]
    request = Request()
    page = enter_phone(browser, start(browser, request), login["phone"])
    for left in (4, 3, 2, 1):
        page = Page.of(browser.press(page, "Продолжить", password="не тот"))
        assert page.has(f"Неверный пароль. Осталось попыток: {left}.")
    page = Page.of(browser.press(page, "Продолжить", password="не тот"))
    assert page.has("Вход прерван")
    assert page.has("Слишком много неверных попыток ввода пароля.")
    assert "Продолжить" not in page.forms[0].buttons
    # no way on; the only button goes back to the client with access_denied
    query = redirect_query(browser.press(page, "Вернуться в «ЭлЖур»"))
    assert query["error"] == "access_denied" and query["state"] == request.state


def test_wrong_sms_code_five_times_ends_the_flow(sandbox: Sandbox, browser: Browser) -> None:
    login = vk_logins(sandbox)[3]
    page = enter_phone(browser, start(browser, Request()), login["phone"])
    right = last_sms(sandbox, login["phone"])["code"]
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    page = Page.of(browser.press(page, "Продолжить", code=""))
    assert page.has("Введите код из СМС.")  # an empty code costs no attempt
    for left in (4, 3, 2, 1):
        page = Page.of(browser.press(page, "Продолжить", code=wrong))
        assert page.has(f"Неверный код. Осталось попыток: {left}.")
    page = Page.of(browser.press(page, "Продолжить", code=wrong))
    assert page.has("Вход прерван") and page.has("Слишком много неверных попыток ввода кода")
    stale = browser.http.post(
        "/vkid/auth/code", data={"flow": page.forms[0].fields["flow"], "code": right}
    )
    assert Page.of(stale).has("Вход прерван")  # the right code is too late now


def test_a_new_code_replaces_the_old_one(sandbox: Sandbox, browser: Browser) -> None:
    login = vk_logins(sandbox)[3]
    page = enter_phone(browser, start(browser, Request()), login["phone"])
    old = last_sms(sandbox, login["phone"])["code"]
    page = Page.of(browser.press(page, "Отправить код ещё раз"))
    assert page.has("Мы отправили новый код.")
    new = last_sms(sandbox, login["phone"])["code"]
    if new != old:  # one chance in a million that they are equal
        page = Page.of(browser.press(page, "Продолжить", code=old))
        assert page.has("Неверный код. Осталось попыток: 4.")
    page = Page.of(browser.press(page, "Продолжить", code=new))
    assert page.has("Информация о себе")


def test_phone_and_input_are_validated_and_escaped(sandbox: Sandbox, browser: Browser) -> None:
    page = start(browser, Request())
    page = enter_phone(browser, page, "<b>12</b>")
    assert page.has("Неверный номер телефона.")
    assert "<b>12</b>" not in page.response.text and "&lt;b&gt;12&lt;/b&gt;" in page.response.text
    assert page.form("Продолжить").fields["phone"] == "<b>12</b>"

    page = enter_phone(browser, page, vk_logins(sandbox)[3]["phone"])
    page = Page.of(enter_sms(browser, sandbox, page, vk_logins(sandbox)[3]["phone"]))
    page = Page.of(browser.press(page, "Продолжить", **{**ABOUT, "last_name": '<script>"x'}))
    assert page.field_errors == {
        "last_name": "Используйте только буквы, пробел, дефис или апостроф."
    }
    assert "<script>" not in page.response.text


def test_stale_or_unknown_flow(sandbox: Sandbox, browser: Browser) -> None:
    page = start(browser, Request())
    response = browser.http.post("/vkid/auth/phone", data={"flow": "nope", "phone": "+79990000000"})
    assert response.status_code == 400 and "location" not in response.headers
    assert Page.of(response).has("Сеанс входа истёк или не найден.")
    # a button of an earlier step (Back, double submit) just shows the current step again
    login = vk_logins(sandbox)[1]
    enter_phone(browser, page, login["phone"])
    again = Page.of(browser.press(page, "Продолжить", phone="+79990000000"))
    assert again.has("Введите пароль")


# --- the authorization request --------------------------------------------------------------


def test_unknown_client_or_redirect_uri_is_an_error_page_without_redirect(
    browser: Browser,
) -> None:
    request = Request()
    cases = {
        "client_id": {"client_id": "424242"},
        "redirect_uri": {"redirect_uri": "http://evil.example/vkid/callback"},
        "path": {"redirect_uri": "http://127.0.0.1:53682/other"},
        "https": {"redirect_uri": "https://127.0.0.1/vkid/callback"},
    }
    for name, overrides in cases.items():
        response = browser.get("/vkid/authorize", **request.params(**overrides))
        assert response.status_code == 400, name
        assert "location" not in response.headers, name
        assert Page.of(response).has("Ошибка авторизации"), name
    # loopback: any port (RFC 8252 §7.3), 127.0.0.1 and localhost both registered
    for uri in ("http://127.0.0.1:1/vkid/callback", "http://localhost:65000/vkid/callback"):
        response = browser.get("/vkid/authorize", **request.params(redirect_uri=uri))
        assert response.status_code == 200 and Page.of(response).has("Вход в VK ID")


def test_missing_or_bad_pkce_redirects_with_invalid_request(browser: Browser) -> None:
    request = Request()
    for overrides in (
        {"code_challenge": ""},
        {"code_challenge_method": ""},
        {"code_challenge_method": "plain"},
        {"code_challenge": "too-short"},
        {"response_type": "token"},
    ):
        response = browser.get("/vkid/authorize", **request.params(**overrides))
        assert response.status_code == 302, overrides
        assert response.headers["location"].startswith(REDIRECT + "?")
        query = redirect_query(response)
        assert query["error"] == "invalid_request" and query["state"] == request.state
        assert "code" not in query
    # S256 in capitals is accepted too
    response = browser.get("/vkid/authorize", **request.params(code_challenge_method="S256"))
    assert response.status_code == 200


def test_cancel_returns_access_denied(browser: Browser) -> None:
    request = Request()
    query = redirect_query(browser.press(start(browser, request), "Отмена"))
    assert query == {
        "error": "access_denied",
        "error_description": "the user cancelled the sign-in",
        "state": request.state,
    }


# --- the token endpoint ---------------------------------------------------------------------


def test_code_exchange_rejections(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    request = Request()
    back = sign_in_path1(sandbox, browser, request)
    state = request.state
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"code_verifier": request.verifier[:42]}, 400, "invalid_request"),  # too short
        ({"code_verifier": "a" * 129}, 400, "invalid_request"),  # too long
        ({"code_verifier": "~" * 43}, 400, "invalid_request"),  # not in A-Z a-z 0-9 _ -
        ({"code_verifier": "b" * 43}, 400, "invalid_grant"),  # not the one of the challenge
        ({"redirect_uri": "http://127.0.0.1:1/vkid/callback"}, 400, "invalid_grant"),
        ({"device_id": "another-device"}, 400, "invalid_grant"),
        ({"code": "not-a-code"}, 400, "invalid_grant"),
        ({"code": ""}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "invalid_request"),
        ({"client_id": "424242"}, 401, "invalid_client"),
        ({"client_id": ""}, 400, "invalid_request"),
    ]
    for overrides, status, error in cases:
        body = assert_error(exchange(api, back, request, **overrides), status, error)
        assert body["state"] == state
    # none of those spent the code
    first = exchange(api, back, request)
    assert first.status_code == 200, first.text


def test_reused_code_is_refused_and_revokes_its_tokens(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    tokens, back, request = tokens_path1(sandbox, browser, api)
    assert user_info(api, tokens["access_token"]).status_code == 200
    body = assert_error(exchange(api, back, request), 400, "invalid_grant")
    assert body["state"] == request.state
    assert_error(user_info(api, tokens["access_token"]), 401, "invalid_token")
    assert_error(refresh(api, tokens["refresh_token"], back.device_id), 400, "invalid_grant")


def test_expired_code(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    request = Request()
    back = sign_in_path1(sandbox, browser, request)
    with database(sandbox) as conn:
        (expires,) = conn.execute(
            "SELECT expires_at FROM vk_codes WHERE code_sha256 = ?", (sha(back.code),)
        ).fetchone()
    lifetime = datetime.fromisoformat(expires) - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(minutes=9) < lifetime <= timedelta(minutes=10)
    age(sandbox, "vk_codes", "code_sha256", back.code)
    body = assert_error(exchange(api, back, request), 400, "invalid_grant")
    assert "expired" in body["error_description"]


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_chain(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    first, back, _request = tokens_path1(sandbox, browser, api)
    lifetime = expires_at(sandbox, first["refresh_token"]) - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(days=179, hours=23) < lifetime <= timedelta(days=180)

    answer = refresh(api, first["refresh_token"], back.device_id, state="s2")
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert second["state"] == "s2" and second["expires_in"] == 3600
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert user_info(api, second["access_token"]).status_code == 200
    assert_error(refresh(api, second["refresh_token"], "other-device"), 400, "invalid_grant")

    # the spent refresh token again: refused, and the whole chain is revoked
    body = assert_error(
        refresh(api, first["refresh_token"], back.device_id, "s3"), 400, "invalid_grant"
    )
    assert body["state"] == "s3"
    assert_error(user_info(api, second["access_token"]), 401, "invalid_token")
    assert_error(refresh(api, second["refresh_token"], back.device_id), 400, "invalid_grant")


def test_expired_refresh_token(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    tokens, back, _request = tokens_path1(sandbox, browser, api)
    age(sandbox, "vk_tokens", "token_sha256", tokens["refresh_token"])
    body = assert_error(refresh(api, tokens["refresh_token"], back.device_id), 400, "invalid_grant")
    assert "expired" in body["error_description"]
    age(sandbox, "vk_tokens", "token_sha256", tokens["access_token"])
    body = assert_error(user_info(api, tokens["access_token"]), 401, "invalid_token")
    assert "expired" in body["error_description"]


def test_parameters_in_the_query_string_as_the_web_sdk_sends_them(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    request = Request()
    back = sign_in_path1(sandbox, browser, request)
    query = {
        "grant_type": "authorization_code",
        "redirect_uri": request.redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": request.verifier,
        "state": request.state,
        "device_id": back.device_id,
    }
    answer = api.post("/vkid/oauth2/auth", params=query, data={"code": back.code})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == request.state


def test_token_endpoint_slow_down_under_the_rate_fault(sandbox: Sandbox, api: httpx.Client) -> None:
    sandbox.faults(rate_limit_rps=1)
    try:
        answers = [
            api.post("/vkid/oauth2/auth", data={"client_id": CLIENT_ID, "state": "st"})
            for _ in range(3)
        ]
    finally:
        sandbox.clear_faults()
    limited = [a for a in answers if a.json()["error"] == "slow_down"]
    assert limited, [a.text for a in answers]
    assert limited[0].json()["state"] == "st"


# --- user_info, logout, revoke --------------------------------------------------------------


def test_user_info_rejections(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    tokens, _back, _request = tokens_path1(sandbox, browser, api)
    assert_error(user_info(api, "vk2.a.unknown"), 401, "invalid_token")
    assert_error(user_info(api, tokens["refresh_token"]), 401, "invalid_token")
    assert_error(user_info(api, ""), 400, "invalid_request")
    foreign = api.post(
        "/vkid/oauth2/user_info", params={"client_id": "424242"}, data={"access_token": "x"}
    )
    assert_error(foreign, 401, "invalid_client")


def test_logout_ends_the_session(sandbox: Sandbox, browser: Browser, api: httpx.Client) -> None:
    tokens, back, _request = tokens_path1(sandbox, browser, api)
    other, _, _ = tokens_path1(sandbox, browser, api)  # a second session of the same person
    answer = api.post(
        "/vkid/oauth2/logout",
        params={"client_id": CLIENT_ID},
        data={"access_token": tokens["access_token"]},
    )
    assert answer.status_code == 200 and answer.json() == {"response": 1}
    assert_error(user_info(api, tokens["access_token"]), 401, "invalid_token")
    assert_error(refresh(api, tokens["refresh_token"], back.device_id), 400, "invalid_grant")
    assert user_info(api, other["access_token"]).status_code == 200  # only that session
    again = api.post(
        "/vkid/oauth2/logout", data={"client_id": CLIENT_ID, "access_token": tokens["access_token"]}
    )
    assert again.json() == {"response": 1}
    unknown = api.post("/vkid/oauth2/logout", data={"client_id": CLIENT_ID, "access_token": "x"})
    assert_error(unknown, 401, "invalid_token")


def test_revoke_ends_every_token_of_the_app(
    sandbox: Sandbox, browser: Browser, api: httpx.Client
) -> None:
    tokens, _back, _request = tokens_path1(sandbox, browser, api)
    other, _, _ = tokens_path1(sandbox, browser, api)
    answer = api.post(
        "/vkid/oauth2/revoke", data={"client_id": CLIENT_ID, "token": tokens["refresh_token"]}
    )
    assert answer.status_code == 200 and answer.json() == {"response": 1}
    for token in (tokens["access_token"], other["access_token"]):
        assert_error(user_info(api, token), 401, "invalid_token")
