"""The main window: the start page, the «Сферум» tab, the menus, «Выйти».

Staff see the prominent «Привязать аккаунт к Сферум» on the start page until they are
linked; students and parents find «Авторизация в Сферум» in the menu (as the guide says).
Other sections (the «Сферум» registry with its «Чаты» tab, issue 5) are added through
`add_tab`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ESH, ApiError, SessionExpired
from sferum_desktop.api.esh_models import Me
from sferum_desktop.auth.session import AuthSession, SferumOverview
from sferum_desktop.ui import settings
from sferum_desktop.ui.about import AboutDialog
from sferum_desktop.ui.common import Banner, alive, error_message, heading
from sferum_desktop.ui.demo import DemoHints, DemoTools
from sferum_desktop.ui.registry_tab import RegistrySection, open_cache
from sferum_desktop.ui.sferum_tab import SferumTab
from sferum_desktop.ui.sync_tab import SyncTab

if TYPE_CHECKING:
    from sferum_desktop.ui.linking import LinkingDialog

log = logging.getLogger("sferum_desktop.ui.main_window")

_ROLE_NAMES = {  # translated where shown (context StartPage)
    "teacher": QT_TRANSLATE_NOOP("StartPage", "Учитель"),
    "admin": QT_TRANSLATE_NOOP("StartPage", "Администратор Сферума школы"),
    "student": QT_TRANSLATE_NOOP("StartPage", "Ученик"),
    "parent": QT_TRANSLATE_NOOP("StartPage", "Родитель"),
}


class StartPage(QWidget):
    """The start page: who is signed in, and the step that comes next."""

    linkRequested = Signal()
    openSferum = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        self.greeting = heading("", 6)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setObjectName("details")
        layout.addWidget(self.greeting)
        layout.addWidget(self.details)
        layout.addSpacing(18)

        # The «desktop shortcut» of the guide: large, with an icon, impossible to miss.
        self.link_tile = QToolButton()
        self.link_tile.setObjectName("linkTile")
        self.link_tile.setText(self.tr("Привязать аккаунт к Сферум"))
        self.link_tile.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.link_tile.setIcon(
            QIcon.fromTheme("insert-link", _icon(self, QStyle.StandardPixmap.SP_CommandLink))
        )
        self.link_tile.setIconSize(QSize(48, 48))
        self.link_tile.setMinimumSize(QSize(260, 120))
        self.link_tile.setStyleSheet(
            "QToolButton#linkTile { background: #1f6fd1; color: white; font-size: 12pt;"
            " font-weight: bold; border-radius: 10px; padding: 12px; }"
            "QToolButton#linkTile:hover { background: #195cb0; }"
        )
        self.link_tile.clicked.connect(self.linkRequested)
        self.link_hint = QLabel(
            self.tr(
                "Перед началом работы в мессенджере нужно однократно связать свой аккаунт ЭШ "
                "с учебным профилем VK ID."
            )
        )
        self.link_hint.setWordWrap(True)
        tile_row = QHBoxLayout()
        tile_row.addWidget(self.link_tile)
        tile_row.addStretch(1)

        self.status = QLabel()
        self.status.setObjectName("linkStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.linkActivated.connect(lambda _link: self.openSferum.emit())

        layout.addWidget(self.link_hint)
        layout.addSpacing(8)
        layout.addLayout(tile_row)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def show_person(self, me: Me, *, has_sferum: bool) -> None:
        """Fill the page for this person and their link status."""
        first = " ".join(p for p in (me.given_name, me.middle_name) if p) or me.full_name
        self.greeting.setText(self.tr("Здравствуйте, %1!").replace("%1", first))
        roles = ", ".join(self.tr(str(_ROLE_NAMES[r])) for r in me.roles if r in _ROLE_NAMES)
        schools = ", ".join(school.name for school in me.schools)
        lines = [me.full_name]
        if roles:
            lines.append(roles)
        if schools:
            lines.append(schools)
        self.details.setText("\n".join(lines))
        linked = me.link.linked
        staff_unlinked = me.is_staff and not linked
        self.link_tile.setVisible(staff_unlinked)
        self.link_hint.setVisible(staff_unlinked)
        if linked and has_sferum:
            text = self.tr(
                "Аккаунт ЭШ связан с учебным профилем Сферума. Ваши чаты и видеоконференции — "
                'на вкладке <a href="#sferum">«Сферум»</a>.'
            )
        elif linked:
            text = self.tr(
                "Аккаунт ЭШ связан с учебным профилем Сферума. Чтобы видеть чаты на этом "
                'компьютере, войдите через VK ID на вкладке <a href="#sferum">«Сферум»</a>.'
            )
        elif staff_unlinked:
            text = ""
        else:
            text = self.tr(
                "Чтобы общаться в чатах Сферума, выберите в меню «Сферум» пункт "
                "«Авторизация в Сферум»."
            )
        self.status.setText(text)
        self.status.setVisible(bool(text))


def _icon(widget: QWidget, pixmap: QStyle.StandardPixmap) -> QIcon:
    return widget.style().standardIcon(pixmap)


class MainWindow(QMainWindow):
    """The signed-in window; `signOutRequested` asks the app to sign out."""

    signOutRequested = Signal()

    def __init__(
        self,
        session: AuthSession,
        *,
        demo: DemoTools | None = None,
        demo_hints: DemoHints | None = None,
        auto_refresh: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.demo = demo
        self.demo_hints = demo_hints
        self.linking: LinkingDialog | None = None
        self.setObjectName("mainWindow")
        self.setWindowTitle(self.tr("Sferum Desktop — ЭШ"))
        self.resize(1100, 720)

        self.banner = Banner(self)
        self.banner.retry.connect(self.reload_person)
        self.start_page = StartPage()
        self.start_page.linkRequested.connect(self.open_linking)
        self.start_page.openSferum.connect(self.show_sferum)
        self.sferum_tab = SferumTab(session, auto_refresh=auto_refresh)
        self.sferum_tab.signInRequested.connect(self.open_linking)
        self.sferum_tab.on_refreshed = self._sferum_refreshed

        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.start_page, self.tr("Главная"))
        self.tabs.addTab(self.sferum_tab, self.tr("Сферум"))
        self.registry = RegistrySection(session.esh, session.me, open_cache(session.profile.key))
        self.add_tab(self.registry, self.tr("Реестр «Сферум»"), staff_only=True)
        self.sync_tab = SyncTab(session)
        self.add_tab(self.sync_tab, self.tr("Синхронизация"), staff_only=True)
        self.registry.chats.apply_saved = self.sync_tab.apply_saved_chat
        self.tabs.currentChanged.connect(self._tab_changed)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.person_label = QLabel()
        self.person_label.setObjectName("person")
        self.statusBar().addPermanentWidget(self.person_label)
        if session.profile.demo:
            self.statusBar().showMessage(self.tr("Учебная среда: данные вымышлены"))

        self._build_menus()
        self.update_person()

    # --- menus ------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        account = self.menuBar().addMenu(self.tr("Учётная запись"))
        self.sign_out_action = QAction(self.tr("Выйти"), self)
        self.sign_out_action.setObjectName("signOut")
        self.sign_out_action.setShortcut(QKeySequence(self.tr("Ctrl+Shift+Q")))
        self.sign_out_action.triggered.connect(self.request_sign_out)
        account.addAction(self.sign_out_action)

        self.sferum_menu = self.menuBar().addMenu(self.tr("Сферум"))
        self.authorize_action = QAction(self.tr("Авторизация в Сферум"), self)
        self.authorize_action.setObjectName("authorizeSferum")
        self.authorize_action.triggered.connect(self.open_linking)
        self.sferum_menu.addAction(self.authorize_action)
        self.open_sferum_action = QAction(self.tr("Чаты и видеоконференции"), self)
        self.open_sferum_action.triggered.connect(self.show_sferum)
        self.sferum_menu.addAction(self.open_sferum_action)
        self.refresh_action = QAction(self.tr("Обновить"), self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.triggered.connect(self.sferum_tab.refresh)
        self.sferum_menu.addAction(self.refresh_action)

        help_menu = self.menuBar().addMenu(self.tr("Справка"))
        about = QAction(self.tr("О программе"), self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def add_tab(self, widget: QWidget, title: str, *, staff_only: bool = False) -> int:
        """Add a section (e.g. the «Сферум» registry with «Чаты»); hidden for non-staff."""
        index = self.tabs.addTab(widget, title)
        me = self.session.me
        if staff_only and (me is None or not me.is_staff):
            self.tabs.setTabVisible(index, False)
        return index

    # --- the person -------------------------------------------------------------------------

    def update_person(self) -> None:
        """Show the signed-in person, their link, and what they can do."""
        me = self.session.me
        if me is None:
            return
        self.start_page.show_person(me, has_sferum=self.session.has_sferum)
        self.person_label.setText(me.full_name)
        # Students and parents link from the menu; staff from the start page's shortcut.
        self.authorize_action.setVisible(not me.is_staff or me.link.linked)
        self.sferum_tab.update_state()

    def show_sferum(self) -> None:
        self.tabs.setCurrentWidget(self.sferum_tab)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.sferum_tab and not self.sferum_tab.loaded_once:
            self.sferum_tab.refresh()

    def _sferum_refreshed(self, overview: SferumOverview) -> None:
        unread = overview.unread
        title = self.tr("Сферум") + (f" ({unread})" if unread else "")
        self.tabs.setTabText(self.tabs.indexOf(self.sferum_tab), title)

    @asyncSlot()
    async def reload_person(self) -> None:
        """Ask ESh again who is signed in (after network trouble)."""
        try:
            await self.session.reload_me()
        except SessionExpired as exc:
            if exc.service != ESH and alive(self):
                self.banner.show_message(error_message(exc))
            return
        except ApiError as exc:
            if alive(self):
                self.banner.show_message(error_message(exc))
            return
        if not alive(self):
            return
        self.banner.clear()
        self.update_person()

    # --- linking ------------------------------------------------------------------------------

    def open_linking(self) -> None:
        """«Привязать аккаунт к Сферум» / «Авторизация в Сферум»: the VK ID window."""
        from sferum_desktop.ui.linking import LinkingDialog  # QtWebEngine loads at use

        if self.linking is not None:
            self.linking.raise_()
            self.linking.activateWindow()
            return
        me = self.session.me
        title = (
            self.tr("Привязать аккаунт к Сферум")
            if me is not None and me.is_staff
            else self.tr("Авторизация в Сферум")
        )
        try:
            dialog = LinkingDialog(
                self.session, title=title, demo=self.demo, demo_hints=self.demo_hints, parent=self
            )
        except ApiError as exc:
            self.banner.show_message(error_message(exc))
            return
        dialog.linked.connect(self._linked)
        dialog.finished.connect(self._linking_closed)
        self.linking = dialog
        dialog.open()

    def _linked(self, me: Me) -> None:
        log.info("the account is linked")
        self.update_person()
        self.sferum_tab.banner.clear()
        self.sferum_tab.refresh()

    def _linking_closed(self, _result: int) -> None:
        dialog, self.linking = self.linking, None
        if dialog is not None:
            dialog.deleteLater()
        if self.session.has_sferum and self.session.me and self.session.me.link.linked:
            self.show_sferum()

    def sferum_ended(self, message: str) -> None:
        """The VK ID tokens were refused: the «Сферум» tab asks to sign in again."""
        self.sferum_tab.sferum_ended(message)
        self.update_person()

    # --- sign-out and closing ---------------------------------------------------------------

    def request_sign_out(self) -> None:
        self.sign_out_action.setEnabled(False)
        self.sferum_tab.stop()
        self.signOutRequested.emit()

    def _about(self) -> None:
        """«О программе»: the version and the bundled components' licences (not modal-blocking)."""
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def showEvent(self, event: QShowEvent) -> None:
        geometry = settings.MAIN_GEOMETRY.get()
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = settings.MAIN_STATE.get()
        if not state.isEmpty():
            self.restoreState(state)
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        settings.MAIN_GEOMETRY.set(self.saveGeometry())
        settings.MAIN_STATE.set(self.saveState())
        self.sferum_tab.stop()
        self.sync_tab.shutdown()
        if self.linking is not None:
            self.linking.reject()
        super().closeEvent(event)
