"""The «Чаты» registry tab against the sandbox: seed rows, search and filters, shortcuts,
automatic chats, export read back, opening offline from the cache."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Sandbox
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from sferum_desktop.api.esh import EshClient
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.auth.vault import Vault
from sferum_desktop.store.registry_cache import RegistryCache
from sferum_desktop.ui.chat_dialog import ChatDialog
from sferum_desktop.ui.registry_model import ChatRole, Column
from sferum_desktop.ui.registry_tab import ChatsTab
from ui.helpers import MemoryKeyring, Runner, demo_profile_for, until

SEED_NAMES = ["Учительская", "3 А", "3 А Родители", "2 А", "2 А Родители", "1 А", "1 А Родители"]
HEADERS = [
    "Наименование чата",
    "Тип",
    "Класс",
    "Предмет",
    "Количество участников",
    "Администратор чата",
    "Связаны",
]


def signed_in(run: Runner, sandbox: Sandbox, keyring: MemoryKeyring, username: str) -> AuthSession:
    session = AuthSession(demo_profile_for(sandbox), Vault(keyring), proactive=False)
    run(session.sign_in(username, "demo"))
    return session


def make_tab(qtbot: Any, session: AuthSession, cache: RegistryCache | None) -> ChatsTab:
    tab = ChatsTab(session.esh, session.me, cache)
    qtbot.addWidget(tab)
    tab.resize(1000, 600)
    tab.show()
    until(qtbot, lambda: tab.loaded_once)
    return tab


def press_box(qtbot: Any, tab: ChatsTab, label: str) -> str:
    """Wait for the tab's message box, press `label`; the box's text."""
    until(qtbot, lambda: tab.last_box is not None and tab.last_box.isVisible())
    box = tab.last_box
    assert box is not None
    text = box.text()
    button = next(b for b in box.buttons() if b.text() == label)
    button.click()
    return text


@pytest.fixture
def session(
    qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> Iterator[AuthSession]:
    s = signed_in(run, sandbox, memory_keyring, "pavlova")
    yield s
    run(s.aclose())


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[RegistryCache]:
    c = RegistryCache(tmp_path / "registry.sqlite3")
    yield c
    c.close()


def names(tab: ChatsTab) -> list[str]:
    m = tab.model
    return [m.data(m.index(r, Column.NAME)) for r in range(m.rowCount())]


def test_seed_registry_search_and_filters(
    qtbot: Any, session: AuthSession, cache: RegistryCache
) -> None:
    tab = make_tab(qtbot, session, cache)
    m = tab.model
    assert names(tab) == SEED_NAMES
    assert [m.headerData(c, Qt.Orientation.Horizontal) for c in range(m.columnCount())] == HEADERS
    assert tab.footer.text() == "Показано записей 1 - 7 из 7"
    toolbar = [a.text() for a in tab.toolbar.actions()[:4]]
    assert toolbar == ["Добавить", "Изменить", "Удалить", "Обновить"]
    row = names(tab).index("3 А Родители")
    assert m.data(m.index(row, Column.TYPE)) == "Родительский чат"
    assert m.data(m.index(row, Column.CLASS)) in ("", "3А")
    assert "/" in m.data(m.index(row, Column.LINKED))

    tab.search.setText("родители")  # filter as you type
    assert sorted(names(tab)) == sorted(["3 А Родители", "2 А Родители", "1 А Родители"])
    assert tab.footer.text() == "Показано записей 1 - 3 из 7"
    tab.search.clear()
    tab.type_filter.setCurrentIndex(tab.type_filter.findText("Классный чат"))
    assert sorted(names(tab)) == ["1 А", "2 А", "3 А"]
    tab.type_filter.setCurrentIndex(0)
    tab.class_filter.setCurrentIndex(tab.class_filter.findText("2А"))
    assert sorted(names(tab)) == ["2 А", "2 А Родители"]
    tab.class_filter.setCurrentIndex(0)
    assert tab.footer.text() == "Показано записей 1 - 7 из 7"
    # The cache holds what was shown.
    assert [c["name"] for c in cache.load()[0]] == SEED_NAMES


def test_shortcuts_and_context_menu(qtbot: Any, session: AuthSession) -> None:
    tab = make_tab(qtbot, session, None)
    tab.activateWindow()
    tab.view.setFocus()
    until(qtbot, tab.view.hasFocus)
    qtbot.keyClick(tab.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    until(qtbot, tab.search.hasFocus)
    # F5 refreshes (the loaded signal comes back)
    with qtbot.waitSignal(tab.loaded, timeout=60_000):
        qtbot.keyClick(tab.search, Qt.Key.Key_F5)
    tab.view.setFocus()
    tab.view.select_chat_ids([tab.model.chat_id(0)])
    # Automatic chats: Delete is disabled and says why
    assert not tab.delete_action.isEnabled()
    assert "автоматически" in tab.delete_action.toolTip()
    qtbot.keyClick(tab.view, Qt.Key.Key_F2)
    dialog = wait_dialog(qtbot, tab)
    assert dialog.windowTitle() == "Чат школы в сферум: Редактирование"
    assert not dialog.type_combo.isEnabled()
    dialog.reject()
    until(qtbot, lambda: tab.current_dialog() is None)
    focus_view(qtbot, tab)
    qtbot.keyClick(tab.view, Qt.Key.Key_Return)  # Enter edits too
    dialog = wait_dialog(qtbot, tab)
    assert dialog.windowTitle() == "Чат школы в сферум: Редактирование"
    dialog.reject()
    until(qtbot, lambda: tab.current_dialog() is None)
    focus_view(qtbot, tab)
    qtbot.keyClick(tab.view, Qt.Key.Key_Insert)
    dialog = wait_dialog(qtbot, tab)
    assert dialog.windowTitle() == "Чат школы в сферум: Добавление"
    types = [dialog.type_combo.itemText(i) for i in range(dialog.type_combo.count())]
    assert types == ["Предмет", "Другой"]
    dialog.reject()
    menu = [a.text() for a in tab.context_actions()]
    assert menu[:4] == ["Добавить", "Изменить", "Удалить", "Обновить"]
    # Multi-select, then Delete on a custom chat asks first (and «Отмена» keeps it)
    chat = qtbot_run(qtbot, session.esh.create_chat(type="custom", name="Кружок робототехники"))
    tab.refresh()
    until(qtbot, lambda: "Кружок робототехники" in names(tab) and not tab.loading)
    tab.view.select_chat_ids([chat.id])
    until(qtbot, lambda: tab.current_dialog() is None)
    focus_view(qtbot, tab)
    assert tab.delete_action.isEnabled()
    qtbot.keyClick(tab.view, Qt.Key.Key_Delete)
    text = press_box(qtbot, tab, "Отмена")
    assert "Кружок робототехники" in text
    assert "Кружок робототехники" in names(tab)
    tab.last_box = None
    focus_view(qtbot, tab)
    qtbot.keyClick(tab.view, Qt.Key.Key_Delete)
    press_box(qtbot, tab, "Удалить")
    until(qtbot, lambda: "Кружок робототехники" not in names(tab))
    assert tab.results == ["«Кружок робототехники»: удалён"]


def focus_view(qtbot: Any, tab: ChatsTab) -> None:
    """The tab's window active and its table focused (a closed dialog may leave neither)."""
    tab.activateWindow()
    tab.view.setFocus()
    until(qtbot, lambda: tab.isActiveWindow() and tab.view.hasFocus())


def wait_dialog(qtbot: Any, tab: ChatsTab) -> ChatDialog:
    until(qtbot, tab.current_dialog)
    dialog = tab.current_dialog()
    assert dialog is not None
    return dialog


def qtbot_run(qtbot: Any, awaitable: Any) -> Any:
    import asyncio

    task = asyncio.ensure_future(awaitable)
    qtbot.waitUntil(task.done, timeout=60_000)
    return task.result()


def test_automatic_chat_delete_refused_by_server(
    qtbot: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    admin = signed_in(run, sandbox, memory_keyring, sandbox.accounts()["admin"]["username"])
    try:
        tab = make_tab(qtbot, admin, None)
        chat_id = tab.model.chat_id(names(tab).index("2 А"))
        assert tab.model.data(tab.model.index(0, 0), ChatRole.IS_AUTOMATIC)
        tab.delete_chats([chat_id])
        press_box(qtbot, tab, "Удалить")
        until(qtbot, lambda: bool(tab.results))
        assert tab.results[0].startswith("«2 А»: не удалён — автоматический чат")
        assert "2 А" in names(tab)
        press_box(qtbot, tab, "Закрыть")
    finally:
        run(admin.aclose())


def test_export_csv_and_xlsx_read_back(qtbot: Any, session: AuthSession, tmp_path: Path) -> None:
    tab = make_tab(qtbot, session, None)
    csv_path = tmp_path / "chats.csv"
    assert tab.export_to(csv_path) == 7
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == HEADERS
    assert [r[0] for r in rows[1:]] == SEED_NAMES
    selection = [tab.model.chat_id(1), tab.model.chat_id(2)]
    xlsx_path = tmp_path / "chats.xlsx"
    assert tab.export_to(xlsx_path, selection) == 2
    from openpyxl import load_workbook

    book = load_workbook(xlsx_path, read_only=True)
    sheet = book["Чаты"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    book.close()
    assert values[0] == HEADERS
    assert [v[0] for v in values[1:]] == ["3 А", "3 А Родители"]
    assert isinstance(values[1][Column.MEMBERS], int)


def test_opens_offline_from_the_cache(
    qtbot: Any, qloop: Any, run: Runner, session: AuthSession, cache: RegistryCache
) -> None:
    first = make_tab(qtbot, session, cache)
    assert first.model.rowCount() == 7
    first.close()
    offline = EshClient("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        run(offline.set_tokens(session.esh.tokens))
        tab = ChatsTab(offline, session.me, cache)
        qtbot.addWidget(tab)
        assert names(tab) == SEED_NAMES  # at once, before any answer
        assert tab.footer.text() == "Показано записей 1 - 7 из 7"
        with qtbot.waitSignal(tab.loaded, timeout=60_000):
            tab.show()
        assert tab.banner.isVisible()
        assert "недоступен" in tab.banner.label.text()
        assert tab.banner.retry_button.isVisible()
        assert names(tab) == SEED_NAMES
        QApplication.processEvents()
    finally:
        run(offline.aclose())


def test_bulk_change_of_the_administrator(
    qtbot: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    admin = signed_in(run, sandbox, memory_keyring, sandbox.accounts()["admin"]["username"])
    try:
        tab = make_tab(qtbot, admin, None)
        ids = [tab.model.chat_id(names(tab).index(n)) for n in ("1 А", "2 А")]
        tab.view.select_chat_ids(ids)
        assert tab.admin_action.isEnabled()
        tab.admin_action.trigger()
        until(qtbot, lambda: tab.picker is not None and tab.picker.isVisible())
        picker = tab.picker
        assert picker is not None and not picker.role_filter.isEnabled()
        person = picker.model.candidate(0)
        picker.select_names([person.full_name])
        picker.accept()
        until(qtbot, lambda: len(tab.results) == 2)
        assert all(r.endswith(f"администратор {person.full_name}") for r in tab.results)
        m = tab.model
        for chat_id in ids:
            assert m.data(m.index(m.row_of(chat_id), Column.ADMIN)) == person.full_name
        press_box(qtbot, tab, "Закрыть")
    finally:
        run(admin.aclose())


def test_cache_is_in_the_profile_folder_and_sign_out_wipes_it(
    qtbot: Any, run: Runner, session: AuthSession
) -> None:
    from sferum_desktop.store.registry_cache import default_path
    from sferum_desktop.ui.main_window import MainWindow

    window = MainWindow(session, auto_refresh=False)
    qtbot.addWidget(window)
    window.show()
    index = window.tabs.indexOf(window.registry)
    assert window.tabs.isTabVisible(index)
    window.tabs.setCurrentIndex(index)
    tab = window.registry.chats
    until(qtbot, lambda: tab.loaded_once)
    path = default_path(session.profile.key)
    assert tab.cache is not None and tab.cache.path == path
    assert path.exists() and oct(path.stat().st_mode & 0o777) == oct(0o600)
    window.close()
    run(session.sign_out())
    assert not path.exists()
