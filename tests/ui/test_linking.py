"""Linking to Sferum through VK ID inside the real QWebEngineView, against the sandbox.

The guide's three paths end to end (the forms filled with runJavaScript, the SMS code read
from the sandbox's inbox), then «Проверьте свои личные данные» and «Продолжить»; plus the
refusals: a foreign `state`, a reused code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Sandbox
from PySide6.QtCore import Qt

from sferum_desktop.api.errors import InvalidGrant
from sferum_desktop.api.vkid import InvalidToken
from sferum_desktop.auth.loopback import LoopbackReceiver
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.auth.vault import Vault
from sferum_desktop.ui.linking import LinkingDialog
from sferum_desktop.ui.main_window import MainWindow
from ui.helpers import (
    TIMEOUT_MS,
    MemoryKeyring,
    PageDriver,
    Runner,
    UrlCatcher,
    demo_profile_for,
    latest_sms_code,
    until,
    vk_logins,
)


class Signed:
    """A signed-in session of the sandbox and its main window."""

    def __init__(self, qtbot: Any, run: Runner, sandbox: Sandbox, keyring: MemoryKeyring) -> None:
        self.qtbot = qtbot
        self.run = run
        self.sandbox = sandbox
        self.keyring = keyring
        self.sessions: list[AuthSession] = []
        self.windows: list[MainWindow] = []

    def __call__(self, username: str) -> MainWindow:
        session = AuthSession(demo_profile_for(self.sandbox), Vault(self.keyring), proactive=False)
        self.sessions.append(session)
        self.run(session.sign_in(username, "demo"))
        window = MainWindow(session, auto_refresh=False)
        self.qtbot.addWidget(window)
        window.show()
        self.windows.append(window)
        return window

    def close(self) -> None:
        for window in self.windows:
            window.close()
        for session in self.sessions:
            self.run(session.aclose())


@pytest.fixture
def signed(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> Iterator[Signed]:
    helper = Signed(qtbot, run, sandbox, memory_keyring)
    yield helper
    helper.close()


def open_dialog(qtbot: Any, window: MainWindow) -> tuple[LinkingDialog, PageDriver]:
    until(qtbot, lambda: window.linking is not None)
    dialog = window.linking
    assert dialog is not None
    return dialog, PageDriver(qtbot, dialog.web.view)


def sign_in_to_vk(page: PageDriver, sandbox: Sandbox, login: dict[str, Any]) -> None:
    """The start shared by the paths: phone, password when there is one, the SMS code."""
    body = page.wait_for("Вход в VK ID")
    assert "С сервисом «ЭлЖур» можно связать свой учебный профиль" in body
    assert "Нажимая на «Продолжить», вы принимаете пользовательское соглашение" in body
    digits = login["phone"][2:]
    page.press("Продолжить", phone=f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}")
    if login["password"]:
        assert "Забыли или не установили пароль?" in page.wait_for("Введите пароль")
        page.press("Продолжить", password=login["password"])
    page.wait_for("Введите код из СМС")
    page.press("Продолжить", code=latest_sms_code(sandbox, login["phone"]))


def check_profile_and_link(
    qtbot: Any,
    dialog: LinkingDialog,
    sandbox: Sandbox,
    login: dict[str, Any],
    expect: dict[str, str],
) -> None:
    """Our «Проверьте свои личные данные» page, then «Продолжить» links in ESh."""
    until(qtbot, lambda: dialog.pages.currentWidget() is dialog.profile_page)
    fields = dialog.profile_page.fields
    for name, value in expect.items():
        assert fields[name] == value, (name, fields)
    assert fields["Организация"] == "МБОУ «Школа № 1»"
    with qtbot.waitSignal(dialog.linked, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.profile_page.continue_button, Qt.MouseButton.LeftButton)
    assert dialog.end_title.text() == "Аккаунт привязан к Сферуму"
    links = {link["person_id"]: link for link in sandbox.dev("GET", "state")["links"]}
    assert links[login["person_id"]]["status"] == "linked"


def test_path1_vk_account_with_an_educational_profile(
    qtbot: Any, signed: Signed, sandbox: Sandbox, memory_keyring: MemoryKeyring, run: Runner
) -> None:
    login = vk_logins(sandbox)[1]
    window = signed(login["username"])  # Артемова, a parent: the menu item
    assert window.authorize_action.isVisible() or window.authorize_action.text()
    assert window.authorize_action.text() == "Авторизация в Сферум"
    assert not window.start_page.link_tile.isVisibleTo(window)
    window.authorize_action.trigger()
    dialog, page = open_dialog(qtbot, window)
    assert dialog.windowTitle() == "Авторизация в Сферум"
    page.wait_for("Вход в VK ID")  # the first page has loaded (and is not loading any more)

    # The redirect is caught inside the view and never loaded: point it at a real listener
    # and check that nothing ever arrives there.
    receiver = LoopbackReceiver("/vkid/callback")
    redirect_uri = run(receiver.start())
    dialog.flow.restart(redirect_uri)
    dialog.web.set_redirect_test(dialog.flow.is_redirect)
    caught: list[str] = []
    dialog.web.redirectCaught.connect(caught.append)
    # The new page looks like the first one: wait for its own load to end, or the form could
    # be filled on the first page just as it is being replaced.
    with qtbot.waitSignal(dialog.web.view.loadFinished, timeout=TIMEOUT_MS, check_params_cb=bool):
        dialog.web.open(dialog.flow.url)

    sign_in_to_vk(page, sandbox, login)
    page.wait_for("Продолжить в учебном профиле")
    page.press("Продолжить в учебном профиле")
    assert "Проверьте свои личные данные" in page.wait_for("Роль")
    page.press("Продолжить")
    family, given, middle = login["who"].split()
    check_profile_and_link(
        qtbot,
        dialog,
        sandbox,
        login,
        {"Фамилия": family, "Имя": given, "Отчество": middle, "Роли": "Родитель"},
    )
    assert caught and caught[0].startswith(redirect_uri + "?")
    assert receiver._result is not None and not receiver._result.done()  # never loaded
    run(receiver.close())
    # The VK ID tokens are in the keyring, next to the ESh session.
    assert {user for (_svc, user) in memory_keyring.items} == {"demo/esh", "demo/vkid"}
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: window.linking is None)
    assert window.tabs.currentWidget() is window.sferum_tab
    assert window.sferum_tab.pages.currentWidget() is window.sferum_tab.content_page


def test_path2_vk_account_without_an_educational_profile(
    qtbot: Any, signed: Signed, sandbox: Sandbox
) -> None:
    login = vk_logins(sandbox)[2]
    window = signed(login["username"])  # Никитина, a teacher: the start page's shortcut
    tile = window.start_page.link_tile
    assert tile.isVisibleTo(window) and tile.text() == "Привязать аккаунт к Сферум"
    assert not window.authorize_action.isVisible()
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    dialog, page = open_dialog(qtbot, window)
    assert dialog.windowTitle() == "Привязать аккаунт к Сферум"
    sign_in_to_vk(page, sandbox, login)
    page.wait_for("Создать учебный профиль")
    page.press("Создать учебный профиль")
    body = page.wait_for("Информация о себе")
    for label in ("Имя", "Фамилия", "Отчество", "Дата рождения", "Пол"):
        assert label in body
    page.press("Продолжить", middle_name="Геннадьевна", birthday="25.07.1987", sex="female")
    family, given, middle = login["who"].split()
    check_profile_and_link(
        qtbot,
        dialog,
        sandbox,
        login,
        {
            "Фамилия": family,
            "Имя": given,
            "Отчество": middle,
            "Дата рождения": "25.07.1987",
            "Пол": "Женский",
            "Роли": "Учитель",
        },
    )
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: not tile.isVisibleTo(window))  # linked: no more shortcut


def test_path3_no_vk_account(qtbot: Any, signed: Signed, sandbox: Sandbox) -> None:
    login = vk_logins(sandbox)[3]
    assert login["password"] is None
    window = signed(login["username"])  # Соколов, a parent
    window.authorize_action.trigger()
    dialog, page = open_dialog(qtbot, window)
    sign_in_to_vk(page, sandbox, login)
    body = page.wait_for("Информация о себе")
    assert "Поле отчество не является обязательным к заполнению" in body
    family, given, _middle = login["who"].split()
    page.press(
        "Продолжить",
        first_name=given,
        last_name=family,
        middle_name="",
        birthday="03.03.1980",
        sex="male",
    )
    page.wait_for("Создать учебный профиль")
    page.press("Создать учебный профиль")
    page.wait_for("Учебный профиль создан")
    page.press("Продолжить")
    check_profile_and_link(
        qtbot,
        dialog,
        sandbox,
        login,
        {"Фамилия": family, "Имя": given, "Отчество": "", "Пол": "Мужской", "Роли": "Родитель"},
    )


def test_a_foreign_state_is_refused_without_exchanging_anything(
    qtbot: Any, signed: Signed, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    window = signed("artemova.ns")
    window.authorize_action.trigger()
    dialog, page = open_dialog(qtbot, window)
    page.wait_for("Вход в VK ID")
    forged = "http://127.0.0.1/vkid/callback?code=stolen&state=forged&device_id=d&type=code_v2"
    page.js(f"window.location.href = {forged!r}; 'ok'")
    until(qtbot, lambda: dialog.pages.currentWidget() is dialog.end_page)
    assert dialog.end_title.text() == "Вход в VK ID не выполнен"
    assert dialog.end_text.text() == "Вход не выполнен. Попробуйте войти ещё раз."
    assert "demo/vkid" not in {user for (_svc, user) in memory_keyring.items}
    # «Начать заново»: a new sign-in in the view, with new secrets.
    old_state = dialog.flow.request.pkce.state
    qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: dialog.pages.currentWidget() is dialog.web_page)
    assert dialog.flow.request.pkce.state != old_state
    page.wait_for("Вход в VK ID")


def test_a_reused_code_is_refused_and_ends_its_tokens(
    qtbot: Any, signed: Signed, sandbox: Sandbox, run: Runner
) -> None:
    login = vk_logins(sandbox)[1]
    window = signed(login["username"])
    window.authorize_action.trigger()
    dialog, page = open_dialog(qtbot, window)
    caught: list[str] = []
    dialog.web.redirectCaught.connect(caught.append)
    request = dialog.flow.request
    sign_in_to_vk(page, sandbox, login)
    page.wait_for("Продолжить в учебном профиле")
    page.press("Продолжить в учебном профиле")
    page.wait_for("Роль")
    page.press("Продолжить")
    until(qtbot, lambda: dialog.pages.currentWidget() is dialog.profile_page)
    (url,) = caught
    # The flow takes one redirect only...
    with pytest.raises(Exception, match="second redirect"):
        run(dialog.flow.complete(url))
    # ...and VK ID refuses the code a second time, revoking what it gave for it.
    session = window.session
    with pytest.raises(InvalidGrant):
        run(session.vkid.finish_sign_in(request, url))
    tokens = dialog.flow._tokens
    assert tokens is not None
    with pytest.raises(InvalidToken):
        run(session.vkid.user_info(tokens.access_token))
    # So «Продолжить» cannot link with them, and says so.
    qtbot.mouseClick(dialog.profile_page.continue_button, Qt.MouseButton.LeftButton)
    until(qtbot, dialog.profile_page.error.isVisible)
    assert dialog.profile_page.error.text()
    links = {link["person_id"]: link for link in sandbox.dev("GET", "state")["links"]}
    assert links.get(login["person_id"], {}).get("status") != "linked"


def test_sign_in_through_the_system_browser_and_a_loopback_redirect(
    qtbot: Any, signed: Signed, sandbox: Sandbox, browser: UrlCatcher
) -> None:
    """«Войти через браузер» (RFC 8252): a plain web view stands in for the system browser."""
    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineWidgets import QWebEngineView

    login = vk_logins(sandbox)[1]
    window = signed(login["username"])
    window.authorize_action.trigger()
    dialog, _embedded = open_dialog(qtbot, window)
    qtbot.mouseClick(dialog.browser_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: browser.urls)
    (url,) = browser.urls
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url  # a loopback port of ours
    assert dialog.pages.currentWidget() is dialog.wait_page
    assert "Можно вернуться в приложение" in dialog.wait_text.text()

    system_browser = QWebEngineView()  # the «system browser»: nothing caught, it loads all
    qtbot.addWidget(system_browser)
    system_browser.setUrl(QUrl(url))
    page = PageDriver(qtbot, system_browser)
    sign_in_to_vk(page, sandbox, login)
    page.wait_for("Продолжить в учебном профиле")
    page.press("Продолжить в учебном профиле")
    page.wait_for("Роль")
    page.press("Продолжить")
    page.wait_for("Можно вернуться в приложение")  # served by the app's loopback listener
    family, given, middle = login["who"].split()
    check_profile_and_link(
        qtbot, dialog, sandbox, login, {"Фамилия": family, "Имя": given, "Отчество": middle}
    )
