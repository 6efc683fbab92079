"""The «Вход в ЭШ» window against the sandbox: success, refusals, «Забыли пароль?», ESIA."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from conftest import Sandbox
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from sferum_desktop.auth.profiles import ProfileSet, ServerProfile, demo_profile
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.auth.vault import Vault
from sferum_desktop.ui.signin import SignInWindow
from ui.helpers import TIMEOUT_MS, MemoryKeyring, PageDriver, Runner, UrlCatcher, until


class Harness:
    """A sign-in window over one profile, with the sessions it made."""

    def __init__(self, qtbot: Any, profile: ServerProfile, keyring: MemoryKeyring) -> None:
        self.vault = Vault(keyring)
        self.sessions: dict[str, AuthSession] = {}
        self.profile = profile
        self.window = SignInWindow(ProfileSet((profile,)), self.session_for)
        qtbot.addWidget(self.window)
        self.window.show()
        self.signed_in: list[AuthSession] = []
        self.window.signedIn.connect(self.signed_in.append)

    def session_for(self, name: str) -> AuthSession | None:
        if name not in self.sessions:
            self.sessions[name] = AuthSession(self.profile, self.vault, proactive=False)
        return self.sessions[name]

    def type(self, qtbot: Any, username: str, password: str) -> None:
        self.window.username.clear()
        self.window.password.clear()
        qtbot.keyClicks(self.window.username, username)
        qtbot.keyClicks(self.window.password, password)

    def close(self, run: Runner) -> None:
        for session in self.sessions.values():
            run(session.aclose())


@pytest.fixture
def harness(
    qtbot: Any, qloop: Any, sandbox: Sandbox, memory_keyring: MemoryKeyring, run: Runner
) -> Any:
    h = Harness(qtbot, demo_profile(sandbox.url), memory_keyring)
    yield h
    h.close(run)


def test_the_window_shows_the_guides_labels(harness: Harness) -> None:
    window = harness.window
    assert window.windowTitle() == "Вход в ЭШ"
    assert window.title.text() == "Вход в ЭШ"
    assert window.username_label.text() == "Имя пользователя"
    assert window.password_label.text() == "Пароль"
    assert "Забыли пароль?" in window.forgot.text()
    assert window.sign_in_button.text() == "ВОЙТИ"
    assert window.esia_button.text() == "Войти через госуслуги"
    assert window.profile_box.currentText() == "Демо"
    assert window.password.echoMode() == window.password.EchoMode.Password


def test_sign_in_success_disables_the_button_meanwhile(
    qtbot: Any, harness: Harness, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    sandbox.faults(latency_ms=700)  # long enough to see the button disabled
    harness.type(qtbot, "pavlova", "demo")
    with qtbot.waitSignal(harness.window.signedIn, timeout=TIMEOUT_MS):
        qtbot.mouseClick(harness.window.sign_in_button, Qt.MouseButton.LeftButton)
        until(qtbot, lambda: not harness.window.sign_in_button.isEnabled())
        assert harness.window.sign_in_button.text() == "Вход…"
        assert not harness.window.username.isEnabled()
    assert harness.window.sign_in_button.isEnabled()
    session = harness.signed_in[0]
    assert session.me is not None and session.me.full_name == "Павлова Елена Владимировна"
    assert not harness.window.password.text()  # not kept in the window
    # The session is in the keyring (and only there).
    (name,) = [user for (_svc, user) in memory_keyring.items]
    assert name == "demo/esh"


def test_wrong_password(qtbot: Any, harness: Harness) -> None:
    harness.type(qtbot, "pavlova", "not-the-password")
    qtbot.mouseClick(harness.window.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, harness.window.error.isVisible)
    assert harness.window.error.text() == "Неверное имя пользователя или пароль."
    assert harness.window.sign_in_button.isEnabled()
    assert not harness.signed_in


def test_too_many_attempts_says_how_long_to_wait(qtbot: Any, harness: Harness) -> None:
    for _ in range(5):
        harness.type(qtbot, "smirnova.oi", "wrong")
        harness.window.clear_messages()
        qtbot.mouseClick(harness.window.sign_in_button, Qt.MouseButton.LeftButton)
        until(qtbot, harness.window.error.isVisible)
        assert harness.window.error.text() == "Неверное имя пользователя или пароль."
    harness.type(qtbot, "smirnova.oi", "demo")  # even the right password waits now
    harness.window.clear_messages()
    qtbot.mouseClick(harness.window.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: "Слишком много" in harness.window.error.text())
    assert harness.window.error.text() == (
        "Слишком много неудачных попыток входа. Повторите попытку через 5 мин."
    )
    assert not harness.signed_in


def test_unreachable_server(
    qtbot: Any, qloop: Any, memory_keyring: MemoryKeyring, run: Runner
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    h = Harness(qtbot, demo_profile(f"http://127.0.0.1:{port}"), memory_keyring)
    h.type(qtbot, "pavlova", "demo")
    qtbot.mouseClick(h.window.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, h.window.error.isVisible)
    assert h.window.error.text() == (
        "Сервер ЭШ недоступен. Проверьте подключение к интернету и повторите попытку."
    )
    assert h.window.sign_in_button.isEnabled()
    h.close(run)


def test_empty_fields_are_asked_for(qtbot: Any, harness: Harness) -> None:
    qtbot.mouseClick(harness.window.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, harness.window.error.isVisible)
    assert harness.window.error.text() == "Введите имя пользователя и пароль."


def test_forgot_password_opens_the_reset_page_in_the_system_browser(
    qtbot: Any, harness: Harness, browser: UrlCatcher, sandbox: Sandbox
) -> None:
    harness.window.forgot.linkActivated.emit("#reset")
    assert browser.urls == [f"{sandbox.url}/esh/password-reset"]


def test_sign_in_through_gosuslugi_in_the_web_view(
    qtbot: Any, harness: Harness, app: QApplication
) -> None:
    window = harness.window
    qtbot.mouseClick(window.esia_button, Qt.MouseButton.LeftButton)
    dialog = window._esia
    assert dialog is not None and dialog.windowTitle() == "Войти через госуслуги"
    assert not window.sign_in_button.isEnabled()  # one sign-in at a time
    page = PageDriver(qtbot, dialog.web.view)
    page.wait_for("Вход в Госуслуги")
    page.press("Войти", login="pavlova", password="wrong")
    page.wait_for("Неверный логин или пароль.")
    with qtbot.waitSignal(window.signedIn, timeout=TIMEOUT_MS):
        page.press("Войти", login="pavlova", password="demo")
    session = harness.signed_in[0]
    assert session.me is not None and session.me.username == "pavlova"
    # The redirect was caught: the view never showed the loopback address.
    assert not dialog.web.view.url().toString().startswith("http://127.0.0.1/esia")
