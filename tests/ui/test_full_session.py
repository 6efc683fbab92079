"""A whole session through the app's controller — sign-in, linking in the web view, the
«Сферум» tab, refresh, sign-out — and then no token may be found in any file the app wrote."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox
from PySide6.QtCore import Qt

from sferum_desktop.auth.profiles import DEMO_NAME, ProfileSet
from sferum_desktop.ui.app import AppController, setup_logging
from ui.helpers import (
    TIMEOUT_MS,
    MemoryKeyring,
    PageDriver,
    Runner,
    demo_profile_for,
    latest_sms_code,
    until,
    vk_logins,
)


@pytest.fixture
def app_log(user_dirs: dict[str, Path]) -> Iterator[Path]:
    """The app's rotating log, at DEBUG, in the test's private log folder."""
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    path = setup_logging(logging.DEBUG)
    yield path
    for handler in root.handlers:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def secrets_in(keyring: MemoryKeyring) -> set[str]:
    """Every token value the app ever put in the keyring."""
    found: set[str] = set()
    for entry in keyring.ever:
        tokens = json.loads(entry)["tokens"]
        found.update(v for k, v in tokens.items() if k.endswith("_token") and v)
    return found


def test_full_session_leaves_no_token_on_disk(
    qtbot: Any,
    *,
    qloop: Any,
    run: Runner,
    sandbox: Sandbox,
    memory_keyring: MemoryKeyring,
    user_dirs: dict[str, Path],
    app_log: Path,
) -> None:
    login = vk_logins(sandbox)[1]  # Артемова, a parent with a VK ID educational profile
    controller = AppController(ProfileSet((demo_profile_for(sandbox),)), profile_name=DEMO_NAME)
    run(controller.start())
    signin = controller.signin
    assert signin.isVisible() and signin.profile_name == DEMO_NAME

    # «Вход в ЭШ»
    qtbot.keyClicks(signin.username, login["username"])
    qtbot.keyClicks(signin.password, "demo")
    qtbot.mouseClick(signin.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: controller.main_window is not None)
    window = controller.main_window
    assert window is not None and not signin.isVisible()

    # «Авторизация в Сферум»: VK ID in the view, path 1 of the guide
    window.authorize_action.trigger()
    until(qtbot, lambda: window.linking is not None)
    dialog = window.linking
    assert dialog is not None
    codes: list[str] = []
    dialog.web.redirectCaught.connect(lambda url: codes.append(url.split("code=")[1][:20]))
    page = PageDriver(qtbot, dialog.web.view)
    page.wait_for("Вход в VK ID")
    page.press("Продолжить", phone=login["phone"])
    page.wait_for("Введите пароль")
    page.press("Продолжить", password=login["password"])
    page.wait_for("Введите код из СМС")
    page.press("Продолжить", code=latest_sms_code(sandbox, login["phone"]))
    page.wait_for("Продолжить в учебном профиле")
    page.press("Продолжить в учебном профиле")
    page.wait_for("Роль")
    page.press("Продолжить")
    until(qtbot, lambda: dialog.pages.currentWidget() is dialog.profile_page)
    with qtbot.waitSignal(dialog.linked, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.profile_page.continue_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: window.linking is None)

    # Павлова (the chats' administrator) adds her to «1 А Родители» and starts a call there.
    admin = sandbox.tokens("pavlova")["vkid"]["access_token"]
    me_vk = controller.session.vk_tokens if controller.session else None
    assert me_vk is not None
    for method, data in (
        ("messages.addChatUser", {"chat_id": 7, "user_id": login["vk_user_id"]}),
        ("calls.start", {"peer_id": 2_000_000_007}),
    ):
        answer = httpx.post(
            f"{sandbox.url}/sferum/method/{method}",
            data={"v": "5.199", **data},
            headers={"Authorization": f"Bearer {admin}"},
        ).json()
        assert "response" in answer, answer

    # The «Сферум» tab
    tab = window.sferum_tab
    assert window.tabs.currentWidget() is tab
    until(qtbot, lambda: tab.loaded_once and not tab.busy)
    run(tab.refresh())  # an async slot gives its task back
    assert tab.chats.rowCount() == 1 and tab.calls.rowCount() == 1
    assert tab.chats.row_at(0).title == "1 А Родители"

    # Refresh every token (ESh and VK ID), as the session does before they expire
    session = controller.session
    assert session is not None
    run(session.refresh_all())
    run(tab.refresh())
    assert tab.status.text().startswith("Обновлено") and not tab.banner.isVisible()

    # «Выйти»
    window.sign_out_action.trigger()
    until(qtbot, lambda: controller.main_window is None and signin.isVisible())
    assert signin.notice.text().startswith("Вы вышли.")
    assert memory_keyring.items == {}
    run(controller.shutdown())

    # Not one token, nor a code, in any file under config, data, cache and logs.
    secrets = secrets_in(memory_keyring) | set(codes)
    assert len(secrets) >= 6  # ESh and VK ID pairs, refreshed, and the code
    files = [p for p in user_dirs["HOME"].rglob("*") if p.is_file()]
    assert app_log in files and app_log.stat().st_size > 0
    assert any(p.name == "settings.ini" for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a token in {path}"


def test_a_remembered_session_opens_without_the_password(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    profiles = ProfileSet((demo_profile_for(sandbox),))
    first = AppController(profiles, profile_name=DEMO_NAME)
    run(first.start())
    qtbot.keyClicks(first.signin.username, "pavlova")
    qtbot.keyClicks(first.signin.password, "demo")
    qtbot.mouseClick(first.signin.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: first.main_window is not None)
    run(first.shutdown())  # the app closes; the session stays in the keyring

    again = AppController(profiles, profile_name=DEMO_NAME)
    run(again.start())
    assert again.main_window is not None and again.main_window.isVisible()
    assert not again.signin.isVisible()
    assert again.main_window.person_label.text() == "Павлова Елена Владимировна"
    run(again.shutdown())


def test_a_refused_refresh_returns_to_sign_in_with_a_message(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    controller = AppController(ProfileSet((demo_profile_for(sandbox),)), profile_name=DEMO_NAME)
    run(controller.start())
    qtbot.keyClicks(controller.signin.username, "pavlova")
    qtbot.keyClicks(controller.signin.password, "demo")
    qtbot.mouseClick(controller.signin.sign_in_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: controller.main_window is not None)
    session = controller.session
    assert session is not None and session.esh.tokens is not None
    # Someone spends the refresh token (a copied keyring, say): ESh revokes the session.
    spent = httpx.post(
        f"{sandbox.url}/esh/api/v1/auth/refresh",
        json={"refresh_token": session.esh.tokens.refresh_token},
    )
    assert spent.status_code == 200
    task = asyncio.ensure_future(session.refresh_all())
    until(qtbot, task.done)
    until(qtbot, lambda: controller.main_window is None and controller.signin.isVisible())
    assert controller.signin.notice.text() == (
        "Сеанс работы в ЭШ истёк или был прерван. Войдите снова, чтобы продолжить."
    )
    assert memory_keyring.items == {}
    assert isinstance(task.exception(), Exception)
    run(controller.shutdown())
