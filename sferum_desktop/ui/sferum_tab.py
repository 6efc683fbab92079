"""The «Сферум» tab: the person's chats and the video conferences they can join.

After linking, «Во вкладке отображаются доступные вам чаты и видеоконференции» (the guide):
chats from Sferum's `messages.getConversations` (name, last message, unread count) and calls
from `calls.getActive` («Присоединиться» opens the join link). A `QTimer` refreshes both in
the background; network trouble shows a banner with «Повторить», not a dialog.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTime,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ESH, ApiError, NetworkError, ServerError, SessionExpired
from sferum_desktop.auth.session import (
    AuthSession,
    CallSummary,
    ChatSummary,
    SferumNotSignedIn,
    SferumOverview,
)
from sferum_desktop.ui import settings
from sferum_desktop.ui.common import Banner, alive, error_message, heading, open_external

log = logging.getLogger("sferum_desktop.ui.sferum_tab")

AnyIndex = QModelIndex | QPersistentModelIndex
RowT = TypeVar("RowT")


def _when(moment: datetime | None) -> str:
    """A message time: «14:05» today, «28.11.2026» before."""
    if moment is None:
        return ""
    local = moment.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return local.strftime("%H:%M")
    return local.strftime("%d.%m.%Y")


class _RowsModel(QAbstractTableModel, Generic[RowT]):
    """A small read-only table of rows replaced as a whole (the two lists of the tab)."""

    def __init__(self, headers: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RowT] = []
        self._headers = headers

    def set_rows(self, rows: list[RowT]) -> None:
        """Replace the rows (one reset: the list is small and wholly re-read)."""
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> RowT:
        return self._rows[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._headers)
        ):
            return self._headers[section]
        return None


class ChatsModel(_RowsModel[ChatSummary]):
    """The person's chats: «Чат», «Последнее сообщение», «Время», «Непрочитанные»."""

    ChatIdRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 1
    UnreadRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 2
    NAME, LAST, WHEN, UNREAD = range(4)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__([], parent)
        self._headers = [
            self.tr("Чат"),
            self.tr("Последнее сообщение"),
            self.tr("Время"),
            self.tr("Непрочитанные"),
        ]
        self._bold = QFont()  # unread chats; made once, not on every data() call
        self._bold.setBold(True)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        chat = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.NAME:
                return chat.title
            if column == self.LAST:
                prefix = self.tr("Вы: ") if chat.outgoing else ""
                return prefix + chat.last_message
            if column == self.WHEN:
                return _when(chat.last_date)
            if column == self.UNREAD:
                return str(chat.unread) if chat.unread else ""
        elif role == Qt.ItemDataRole.ToolTipRole and column == self.LAST:
            return chat.last_message or None
        elif role == Qt.ItemDataRole.FontRole and chat.unread:
            return self._bold
        elif role == Qt.ItemDataRole.TextAlignmentRole and column in (self.WHEN, self.UNREAD):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == self.ChatIdRole:
            return chat.chat_id
        elif role == self.UnreadRole:
            return chat.unread
        return None


class CallsModel(_RowsModel[CallSummary]):
    """The video conferences the person can join: «Видеоконференция», «Начата»."""

    JoinLinkRole: ClassVar[int] = Qt.ItemDataRole.UserRole + 1
    NAME, STARTED = range(2)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__([], parent)
        self._headers = [self.tr("Видеоконференция"), self.tr("Начата")]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        call = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == self.NAME:
                return call.name
            if index.column() == self.STARTED:
                return _when(call.started_at)
        elif role == self.JoinLinkRole:
            return call.join_link
        return None


class SferumTab(QWidget):
    """The «Сферум» tab; `signInRequested` asks for a VK ID sign-in (no Sferum tokens)."""

    signInRequested = Signal()

    def __init__(
        self, session: AuthSession, parent: QWidget | None = None, *, auto_refresh: bool = True
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("sferumTab")
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.loaded_once = False
        self.overview: SferumOverview | None = None
        self.on_refreshed: Callable[[SferumOverview], object] | None = None

        self.banner = Banner(self)
        self.banner.retry.connect(self.refresh)

        # Page 0: no Sferum sign-in on this computer yet.
        self.sign_in_page = QWidget()
        sign_in_layout = QVBoxLayout(self.sign_in_page)
        sign_in_layout.addStretch(1)
        self.sign_in_text = QLabel(
            self.tr("Чтобы видеть свои чаты и видеоконференции, войдите в Сферум через VK ID.")
        )
        self.sign_in_text.setWordWrap(True)
        self.sign_in_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sign_in_button = QPushButton(self.tr("Войти через VK ID"))
        self.sign_in_button.setObjectName("sferumSignIn")
        self.sign_in_button.clicked.connect(self.signInRequested)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.sign_in_button)
        row.addStretch(1)
        sign_in_layout.addWidget(self.sign_in_text)
        sign_in_layout.addLayout(row)
        sign_in_layout.addStretch(2)

        # Page 1: the chats and calls.
        self.chats = ChatsModel(self)
        self.chats_view = QTableView()
        self.chats_view.setObjectName("chats")
        self.chats_view.setModel(self.chats)
        self._style_table(self.chats_view)
        header = self.chats_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(ChatsModel.LAST, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(ChatsModel.NAME, 220)
        header.resizeSection(ChatsModel.WHEN, 90)
        header.resizeSection(ChatsModel.UNREAD, 120)
        saved = settings.CHATS_HEADER.get()
        if not saved.isEmpty():
            header.restoreState(saved)
        header.sectionResized.connect(self._save_header)

        self.calls = CallsModel(self)
        self.calls_view = QTableView()
        self.calls_view.setObjectName("calls")
        self.calls_view.setModel(self.calls)
        self._style_table(self.calls_view)
        self.calls_view.horizontalHeader().setSectionResizeMode(
            CallsModel.NAME, QHeaderView.ResizeMode.Stretch
        )
        self.calls_view.horizontalHeader().resizeSection(CallsModel.STARTED, 120)
        self.calls_view.doubleClicked.connect(self.join_selected)
        self.calls_view.selectionModel().selectionChanged.connect(self._update_join)
        self.join_button = QPushButton(self.tr("Присоединиться"))
        self.join_button.setObjectName("join")
        self.join_button.setEnabled(False)
        self.join_button.clicked.connect(self.join_selected)
        self.no_calls = QLabel(
            self.tr("Сейчас нет видеоконференций, к которым можно присоединиться.")
        )
        self.no_calls.setWordWrap(True)

        chats_box = QGroupBox(self.tr("Чаты"))
        chats_layout = QVBoxLayout(chats_box)
        chats_layout.addWidget(self.chats_view)
        calls_box = QGroupBox(self.tr("Видеоконференции"))
        calls_layout = QVBoxLayout(calls_box)
        calls_layout.addWidget(self.no_calls)
        calls_layout.addWidget(self.calls_view)
        join_row = QHBoxLayout()
        join_row.addStretch(1)
        join_row.addWidget(self.join_button)
        calls_layout.addLayout(join_row)

        self.status = QLabel()
        self.status.setObjectName("sferumStatus")
        self.refresh_button = QPushButton(self.tr("Обновить"))
        self.refresh_button.setObjectName("refresh")
        self.refresh_button.clicked.connect(self.refresh)
        footer = QHBoxLayout()
        footer.addWidget(self.status, 1)
        footer.addWidget(self.refresh_button)

        self.content_page = QWidget()
        content = QVBoxLayout(self.content_page)
        content.setContentsMargins(0, 0, 0, 0)
        content.addWidget(chats_box, 3)
        content.addWidget(calls_box, 2)
        content.addLayout(footer)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.sign_in_page)
        self.pages.addWidget(self.content_page)

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Сферум"), 4))
        layout.addWidget(self.banner)
        layout.addWidget(self.pages, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(max(10, settings.SFERUM_REFRESH_S.get()) * 1000)
        self.timer.timeout.connect(self.refresh)
        self.auto_refresh = auto_refresh
        self.update_state()

    @staticmethod
    def _style_table(view: QTableView) -> None:
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().hide()
        view.setWordWrap(False)
        view.setAlternatingRowColors(True)

    def _save_header(self, *_: object) -> None:
        settings.CHATS_HEADER.set(self.chats_view.horizontalHeader().saveState())

    def update_state(self) -> None:
        """Show the chats when Sferum tokens are at hand, else the VK ID sign-in prompt."""
        if self.session.has_sferum:
            self.pages.setCurrentWidget(self.content_page)
            if self.auto_refresh and not self.timer.isActive():
                self.timer.start()
        else:
            self.pages.setCurrentWidget(self.sign_in_page)
            self.timer.stop()
            self.chats.set_rows([])
            self.calls.set_rows([])
        self._show_calls()

    def sferum_ended(self, message: str) -> None:
        """The VK ID tokens were refused: ask for a sign-in again."""
        self.update_state()
        self.banner.show_message(message)

    @asyncSlot()
    async def refresh(self) -> None:
        """Fetch the chats and calls again (the button is disabled meanwhile)."""
        if self.busy:
            self._again = True  # asked again meanwhile (F5, a new link): one more round
            return
        if not self.session.has_sferum:
            self.update_state()
            return
        self._task = asyncio.current_task()
        self.refresh_button.setEnabled(False)
        self.status.setText(self.tr("Обновление…"))
        try:
            overview = await self.session.sferum_overview()
            if not alive(self):
                return
        except SferumNotSignedIn:
            self.update_state()
            return
        except SessionExpired as exc:
            if exc.service == ESH:
                return  # the app returns to sign-in
            self.sferum_ended(error_message(exc))
            return
        except (NetworkError, ServerError) as exc:
            log.info("Sferum refresh failed: %s", type(exc).__name__)
            self.banner.show_message(
                error_message(exc) + " " + self.tr("Показаны данные последнего обновления.")
            )
            self.status.setText(self.tr("Нет связи с сервером Сферума."))
            return
        except ApiError as exc:
            log.info("Sferum refresh refused: %s", type(exc).__name__)
            self.banner.show_message(error_message(exc))
            self.status.setText("")
            return
        finally:
            if alive(self):
                self._task = None
                self.refresh_button.setEnabled(True)
        self.banner.clear()
        self.overview = overview
        self.loaded_once = True
        self.chats.set_rows(overview.chats)
        self.calls.set_rows(overview.calls)
        self._show_calls()
        self.status.setText(
            self.tr("Обновлено в %1").replace("%1", QTime.currentTime().toString("HH:mm"))
        )
        if self.on_refreshed is not None:
            self.on_refreshed(overview)
        if self._again:
            self._again = False
            QTimer.singleShot(0, self.refresh)

    @property
    def busy(self) -> bool:
        """Whether a refresh is running."""
        return self._task is not None and not self._task.done()

    def _show_calls(self) -> None:
        has_calls = self.calls.rowCount() > 0
        self.no_calls.setVisible(not has_calls)
        self.calls_view.setVisible(has_calls)
        self._update_join()

    def _update_join(self, *_: object) -> None:
        self.join_button.setEnabled(bool(self.calls_view.selectionModel().selectedRows()))

    def join_selected(self, *_: object) -> None:
        """«Присоединиться»: the conference's join link in the system browser."""
        rows = self.calls_view.selectionModel().selectedRows()
        if rows:
            open_external(self.calls.row_at(rows[0].row()).join_link)

    def stop(self) -> None:
        """Stop the background refresh (signing out, closing)."""
        self.timer.stop()
        self._again = False
        if self._task is not None and not self._task.done():
            self._task.cancel()
