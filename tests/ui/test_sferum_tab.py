"""The «Сферум» tab: chats and video conferences from Sferum, background refresh, the banner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Sandbox
from PySide6.QtCore import QModelIndex, Qt

from sferum_desktop.api.tokens import BearerTokens
from sferum_desktop.auth.session import AuthSession, CallSummary, ChatSummary
from sferum_desktop.auth.vault import Vault
from sferum_desktop.ui import settings
from sferum_desktop.ui.main_window import MainWindow
from sferum_desktop.ui.sferum_tab import CallsModel, ChatsModel
from ui.helpers import MemoryKeyring, Runner, UrlCatcher, demo_profile_for, until


def remember_vk(run: Runner, vault: Vault, sandbox: Sandbox, username: str) -> dict[str, Any]:
    """VK ID tokens in the vault, as an earlier «Авторизация в Сферум» left them."""
    minted = sandbox.tokens(username)
    vk = minted["vkid"]
    tokens = BearerTokens.issued(vk["access_token"], vk["refresh_token"], vk["expires_in"])
    data = {
        "tokens": tokens.to_dict(),
        "device_id": "test-device",
        "user_id": vk["user_id"],
        "person_id": minted["person_id"],
    }
    run(vault.save("demo", "vkid", data))
    return vk


@pytest.fixture
def window(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> Iterator[MainWindow]:
    vault = Vault(memory_keyring)
    remember_vk(run, vault, sandbox, "pavlova")
    session = AuthSession(demo_profile_for(sandbox), vault, proactive=False)
    run(session.sign_in("pavlova", "demo"))
    main = MainWindow(session)
    qtbot.addWidget(main)
    main.show()
    yield main
    main.close()
    run(session.aclose())


def test_chats_with_last_message_and_unread_count(qtbot: Any, window: MainWindow) -> None:
    tab = window.sferum_tab
    assert window.tabs.tabText(window.tabs.indexOf(tab)).startswith("Сферум")
    assert window.start_page.link_tile.isHidden()  # Павлова is linked
    window.show_sferum()
    until(qtbot, lambda: tab.loaded_once)
    model = tab.chats
    names = [model.data(model.index(row, ChatsModel.NAME)) for row in range(model.rowCount())]
    assert sorted(names) == sorted(
        ["Учительская", "3 А", "3 А Родители", "2 А", "2 А Родители", "1 А", "1 А Родители"]
    )
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Чат", "Последнее сообщение", "Время", "Непрочитанные"]
    first = tab.chats.row_at(0)
    assert first.last_message and model.data(model.index(0, ChatsModel.LAST)).endswith(
        first.last_message
    )
    unread = [tab.chats.row_at(row).unread for row in range(model.rowCount())]
    assert any(unread)
    bold = model.data(model.index(unread.index(max(unread)), 0), Qt.ItemDataRole.FontRole)
    assert bold is not None and bold.bold()
    assert tab.timer.isActive()  # refreshed in the background
    assert tab.timer.interval() == settings.SFERUM_REFRESH_S.get() * 1000
    total = sum(unread)
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == f"Сферум ({total})"


def test_models_pass_qt_model_tester(qtbot: Any, qtmodeltester: Any, window: MainWindow) -> None:
    tab = window.sferum_tab
    tab.refresh()
    until(qtbot, lambda: tab.loaded_once)
    qtmodeltester.check(tab.chats)
    qtmodeltester.check(tab.calls)
    assert tab.chats.data(QModelIndex()) is None


def test_a_conference_can_be_joined(
    qtbot: Any, window: MainWindow, sandbox: Sandbox, browser: UrlCatcher
) -> None:
    tab = window.sferum_tab
    window.show_sferum()
    until(qtbot, lambda: tab.loaded_once)
    assert tab.no_calls.isVisible() and not tab.join_button.isEnabled()
    # Смирнова starts a call in «Учительская», where Павлова is a member.
    token = sandbox.tokens("smirnova.oi")["vkid"]["access_token"]
    started = httpx.post(
        f"{sandbox.url}/sferum/method/calls.start",
        data={"v": "5.199", "peer_id": 2_000_000_001},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["response"]
    tab.timer.timeout.emit()  # the background refresh
    until(qtbot, lambda: tab.calls.rowCount() == 1)
    assert tab.calls.row_at(0).name == "Учительская"
    tab.calls_view.selectRow(0)
    assert tab.join_button.isEnabled() and tab.join_button.text() == "Присоединиться"
    qtbot.mouseClick(tab.join_button, Qt.MouseButton.LeftButton)
    assert browser.urls == [started["join_link"]]


def test_network_trouble_shows_a_banner_with_retry(
    qtbot: Any, window: MainWindow, sandbox: Sandbox
) -> None:
    tab = window.sferum_tab
    window.show_sferum()
    until(qtbot, lambda: tab.loaded_once)
    rows = tab.chats.rowCount()
    sandbox.faults(error_rate=1.0)
    tab.refresh()
    until(qtbot, tab.banner.isVisible)
    assert "Сервер Сферума временно не работает" in tab.banner.label.text()
    assert tab.banner.retry_button.text() == "Повторить"
    assert tab.chats.rowCount() == rows  # the last data stays
    sandbox.clear_faults()
    qtbot.mouseClick(tab.banner.retry_button, Qt.MouseButton.LeftButton)
    until(qtbot, lambda: not tab.banner.isVisible())
    assert tab.status.text().startswith("Обновлено в")


def test_the_tab_models_pass_qt_model_tester(qtmodeltester: Any) -> None:
    now = datetime.now(UTC)
    chats = ChatsModel()
    qtmodeltester.check(chats)
    chats.set_rows(
        [
            ChatSummary(1, "1А - Класс", "Завтра экскурсия", now, 2),
            ChatSummary(2, "1А - Родители", "Спасибо", now - timedelta(days=3), 0, outgoing=True),
        ]
    )
    qtmodeltester.check(chats)
    assert chats.rowCount() == 2 and chats.columnCount() == 4
    assert chats.data(chats.index(0, ChatsModel.NAME), Qt.ItemDataRole.FontRole).bold()
    assert chats.data(chats.index(1, ChatsModel.NAME), Qt.ItemDataRole.FontRole) is None
    assert chats.data(chats.index(1, ChatsModel.LAST)) == "Вы: Спасибо"
    assert chats.headerData(0, Qt.Orientation.Horizontal) == "Чат"
    calls = CallsModel()
    calls.set_rows([CallSummary("c1", "Урок", "https://vk.com/call/join/x", now)])
    qtmodeltester.check(calls)
    assert calls.row_at(0).name == "Урок"
    assert calls.data(calls.index(0, 0), CallsModel.JoinLinkRole) == "https://vk.com/call/join/x"
    assert calls.headerData(1, Qt.Orientation.Horizontal) == "Начата"
