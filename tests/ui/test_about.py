"""«О программе»: the version, the components with their licences, Qt's LGPL terms, the menu."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Sandbox
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel

from sferum_desktop import __version__
from sferum_desktop.auth.profiles import demo_profile
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.auth.vault import Vault
from sferum_desktop.ui.about import AboutDialog, icon_path
from sferum_desktop.ui.main_window import MainWindow
from ui.helpers import MemoryKeyring, Runner, until


@pytest.fixture
def dialog(qtbot: Any, app: QApplication) -> Iterator[AboutDialog]:
    about = AboutDialog()
    qtbot.addWidget(about)
    about.show()
    yield about
    about.close()


def rows(dialog: AboutDialog) -> dict[str, tuple[str, str]]:
    table = dialog.table
    return {
        table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
        for r in range(table.rowCount())
    }


def test_the_dialog_shows_the_one_version(dialog: AboutDialog) -> None:
    assert dialog.objectName() == "aboutDialog"
    assert dialog.windowTitle() == "О программе"
    assert dialog.version_label.text() == f"Версия {__version__}"
    assert rows(dialog)["Sferum Desktop"] == (__version__, "GPL-3.0-or-later")
    own = dialog.findChild(QLabel, "ownLicense")
    assert own is not None and "GPL-3.0-or-later" in own.text()
    icon = dialog.findChild(QLabel, "appIcon")
    assert icon_path().is_file()
    assert icon is not None and not icon.pixmap().isNull()


def test_components_are_listed_with_their_licences(dialog: AboutDialog) -> None:
    listed = rows(dialog)
    assert listed["Qt"][1].startswith("LGPL-3.0")
    assert listed["Qt"][0] == dialog.qt_version
    assert "BSD" in listed["httpx"][1]
    assert "LGPL-3.0" in listed["PySide6-Essentials"][1]
    assert any(name.startswith("Chromium") for name in listed)
    assert "pytest" not in listed  # a test tool, not a part of the program
    notice = dialog.lgpl_notice.text()
    assert "GNU LGPL" in notice and "https://download.qt.io/official_releases/qt/" in notice
    assert "https://code.qt.io/cgit/pyside/pyside-setup.git/" in notice


def test_selecting_a_component_shows_its_licence_text(dialog: AboutDialog) -> None:
    dialog.select("Qt")
    text = dialog.license_text.toPlainText()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text
    assert "GNU GENERAL PUBLIC LICENSE" in text
    assert dialog.license_text.isReadOnly()
    dialog.select("httpx")
    assert "Copyright" in dialog.license_text.toPlainText()
    assert "httpx" in dialog.license_title.text()
    chromium = next(c.name for c in dialog.components if c.name.startswith("Chromium"))
    dialog.select(chromium)
    assert "qtwebengine-licensing" in dialog.license_text.toPlainText()


def test_copy_puts_the_versions_on_the_clipboard(qtbot: Any, dialog: AboutDialog) -> None:
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    assert f"Sferum Desktop {__version__}" in copied
    assert f"Qt {dialog.qt_version}" in copied and "Python " in copied and "ОС: " in copied
    assert dialog.copy_button.text() == "Сведения скопированы"


def test_the_help_menu_opens_it(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    session = AuthSession(demo_profile(sandbox.url), Vault(memory_keyring), proactive=False)
    run(session.sign_in("pavlova", "demo"))
    window = MainWindow(session, auto_refresh=False)
    qtbot.addWidget(window)
    window.show()
    action = next(
        a
        for menu in window.menuBar().actions()
        if menu.menu() is not None
        for a in menu.menu().actions()
        if a.text() == "О программе"
    )
    action.trigger()  # returns at once: open(), not a blocking exec()
    until(qtbot, lambda: window.findChild(AboutDialog, "aboutDialog") is not None)
    about = window.findChild(AboutDialog, "aboutDialog")
    assert about is not None
    until(qtbot, about.isVisible)
    about.close()
    window.close()
    run(session.aclose())
