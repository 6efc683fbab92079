"""The «Сферум» registry section with its «Чаты» tab: toolbar, search, filters, table, footer.

The table opens at once from the local cache (`store.registry_cache`) and refreshes from ESh
in the background; when ESh cannot be reached the cached rows stay and a banner offers
«Повторить». Actions: «Добавить» (Insert), «Изменить» (Enter, F2, double click), «Удалить»
(Delete, asks first; automatic chats cannot be deleted), «Обновить» (F5), the same in the
context menu, and for a selection: «Сменить администратора», «Экспорт».
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ApiError, Conflict, NetworkError
from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.esh_models import Chat, Me
from sferum_desktop.domain.roster import RosterSnapshot
from sferum_desktop.store.registry_cache import RegistryCache, default_path
from sferum_desktop.sync.snapshot import snapshot_from_roster
from sferum_desktop.ui.chat_dialog import ApplySaved, ChatDialog, ask
from sferum_desktop.ui.common import Banner, alive, error_message
from sferum_desktop.ui.export import write_table
from sferum_desktop.ui.person_picker import ROLE_STAFF, PersonPicker, candidates
from sferum_desktop.ui.registry_model import ChatRegistryModel, ChatRegistryView, ChatRole, Column

log = logging.getLogger("sferum_desktop.ui.registry_tab")


async def load_roster(esh: EshClient, me: Me | None) -> RosterSnapshot:
    """The roster of the user's schools with ESh's links, for the dialog and the picker."""
    records = await esh.fetch_roster()
    links = [link async for link in esh.list_links()]
    schools = [s.id for s in me.schools] if me and me.schools else None
    return snapshot_from_roster(records, links, school_ids=schools)


def open_cache(profile_key: str) -> RegistryCache | None:
    """The profile's registry cache; None (no cache, a log line) when it cannot be opened."""
    try:
        return RegistryCache(default_path(profile_key))
    except Exception:
        log.exception("the registry cache could not be opened; working without it")
        return None


class ChatsTab(QWidget):
    """«Чаты»: the registry of the school's Sferum chats."""

    loaded = Signal()  # after each finished refresh, successful or not

    def __init__(
        self,
        esh: EshClient,
        me: Me | None,
        cache: RegistryCache | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("chatsTab")
        self.esh, self.me, self.cache = esh, me, cache
        self.loading = False
        self.loaded_once = False
        self.from_cache = False
        self.roster: RosterSnapshot | None = None
        self.dialog: ChatDialog | None = None
        self.apply_saved: ApplySaved | None = None  # set by the «Синхронизация» tab
        self.picker: PersonPicker | None = None
        self.last_box: QMessageBox | None = None
        self.results: list[str] = []

        self.model = ChatRegistryModel(self)
        self.view = ChatRegistryView()
        self.view.setObjectName("registryView")
        self.view.setModel(self.model)
        header = self.view.horizontalHeader()
        pad = 4 * self.view.fontMetrics().averageCharWidth()
        longest = max(
            map(self.view.fontMetrics().horizontalAdvance, self.model.type_labels().values())
        )
        header.resizeSection(Column.TYPE, longest + pad)
        header.resizeSection(Column.ADMIN, header.sectionSize(Column.ADMIN) + 6 * pad)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        self.banner = Banner(self)
        self.banner.retry.connect(self.refresh)

        self.add_action = self._action(self.tr("Добавить"), "add", self.add_chat, "Insert")
        self.edit_action = self._action(self.tr("Изменить"), "edit", self.edit_chat, "F2")
        self.edit_action.setShortcuts(
            [QKeySequence("F2"), QKeySequence("Return"), QKeySequence("Enter")]
        )
        self.delete_action = self._action(self.tr("Удалить"), "delete", self.delete_chats, "Del")
        self.refresh_action = self._action(self.tr("Обновить"), "refresh", self.refresh, None)
        self.admin_action = self._action(
            self.tr("Сменить администратора…"), "changeAdmin", self.change_admin, None
        )
        self.export_selection_action = self._action(
            self.tr("Экспорт выбранных…"), "exportSelection", self.export_selection, None
        )
        self.export_all_action = self._action(
            self.tr("Экспорт реестра…"), "exportAll", self.export_all, None
        )
        for action in (self.edit_action, self.delete_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(action)
        for action in (self.add_action,):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)

        self.toolbar = QToolBar()
        self.toolbar.setObjectName("registryToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.add_action, self.edit_action, self.delete_action, self.refresh_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        for action in (self.admin_action, self.export_selection_action, self.export_all_action):
            self.toolbar.addAction(action)

        self.search = QLineEdit()
        self.search.setObjectName("registrySearch")
        self.search.setPlaceholderText(self.tr("Поиск: наименование, администратор, предмет"))
        self.search.setClearButtonEnabled(True)
        self.find_action = QAction(self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.find_action.triggered.connect(self.focus_search)
        self.addAction(self.find_action)
        self.type_filter = QComboBox()
        self.type_filter.setObjectName("typeFilter")
        self.type_filter.addItem(self.tr("Все типы"), None)
        for code, label in self.model.type_labels().items():
            self.type_filter.addItem(label, code)
        self.class_filter = QComboBox()
        self.class_filter.setObjectName("classFilter")
        self.class_filter.addItem(self.tr("Все классы"), None)
        self.footer = QLabel()
        self.footer.setObjectName("registryFooter")
        self.status = QLabel()
        self.status.setObjectName("registryStatus")

        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(QLabel(self.tr("Тип:")))
        filters.addWidget(self.type_filter)
        filters.addWidget(QLabel(self.tr("Класс:")))
        filters.addWidget(self.class_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.toolbar)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.footer, 1)
        bottom.addWidget(self.status)
        layout.addLayout(bottom)

        self.search.textChanged.connect(self.apply_filter)
        self.type_filter.currentIndexChanged.connect(self.apply_filter)
        self.class_filter.currentIndexChanged.connect(self.apply_filter)
        self.model.counts_changed.connect(self._counts_changed)
        self.view.selectionModel().selectionChanged.connect(self.update_actions)
        self.model.modelReset.connect(self.update_actions)
        self.view.doubleClicked.connect(lambda _index: self.edit_chat())
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        for widget in (self.view, self.search):
            widget.installEventFilter(self)

        self.load_cache()
        self._counts_changed()
        self.update_actions()

    def showEvent(self, event: QShowEvent) -> None:
        """The first time the tab is shown: refresh from ESh in the background."""
        super().showEvent(event)
        if not self.loaded_once and not self.loading:
            self.refresh()

    def _action(self, text: str, name: str, slot: Any, key: str | None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # --- keys, menu, state

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """F5 refreshes the registry where the window's own «Обновить» would be ambiguous."""
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_F5 and not event.modifiers():
                event.accept()
                if event.type() == QEvent.Type.KeyPress:
                    self.refresh()
                return True
        return super().eventFilter(watched, event)

    def focus_search(self) -> None:
        """Ctrl+F: into the search field, its text selected."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def context_actions(self) -> list[QAction]:
        """The context menu's actions, in order."""
        return [
            self.add_action,
            self.edit_action,
            self.delete_action,
            self.refresh_action,
            self.admin_action,
            self.export_selection_action,
            self.export_all_action,
        ]

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for action in self.context_actions():
            menu.addAction(action)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def update_actions(self) -> None:
        """Enable the actions for the selection; explain why automatic chats stay."""
        ids = self.view.selected_chat_ids()
        automatic = [i for i in ids if self._value(i, ChatRole.IS_AUTOMATIC)]
        self.edit_action.setEnabled(len(ids) == 1 and not self.loading)
        self.delete_action.setEnabled(bool(ids) and not automatic and not self.loading)
        if automatic:
            tip = self.tr(
                "Автоматические чаты (учительский, классный, родительский) создаются и удаляются "
                "автоматически; удалить их нельзя."
            )
        else:
            tip = self.tr("Удалить выбранные чаты (Delete)")
        self.delete_action.setToolTip(tip)
        self.admin_action.setEnabled(bool(ids) and not self.loading)
        self.export_selection_action.setEnabled(bool(ids))
        self.refresh_action.setEnabled(not self.loading)
        self.add_action.setEnabled(not self.loading)

    def _value(self, chat_id: int, role: int) -> Any:
        row = self.model.row_of(chat_id)
        return None if row < 0 else self.model.data(self.model.index(row, 0), role)

    def _counts_changed(self, *_args: int) -> None:
        self.footer.setText(self.model.footer_text())
        self.status.setText(self.tr("Обновление…") if self.loading else "")

    def apply_filter(self) -> None:
        """Filter as the user types or picks a type or class."""
        chat_type = self.type_filter.currentData()
        class_id = self.class_filter.currentData()
        self.model.set_filter(
            self.search.text(), [chat_type] if chat_type else None, [class_id] if class_id else None
        )

    def _refill_classes(self) -> None:
        current = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem(self.tr("Все классы"), None)
        for class_id, title in self.model.classes():
            self.class_filter.addItem(title, class_id)
        self.class_filter.setCurrentIndex(max(0, self.class_filter.findData(current)))
        self.class_filter.blockSignals(False)

    # --- loading

    def load_cache(self) -> bool:
        """Show the cached registry at once; False when there is none."""
        if self.cache is None:
            return False
        try:
            chats, titles = self.cache.load()
        except Exception:
            log.exception("the registry cache could not be read")
            return False
        if not chats:
            return False
        self.model.set_rows(chats, titles)
        self._refill_classes()
        self.from_cache = True
        return True

    def _set_loading(self, loading: bool) -> None:
        self.loading = loading
        self.update_actions()
        self._counts_changed()

    @asyncSlot()
    async def refresh(self) -> None:
        """«Обновить» (F5): read the whole registry from ESh in the background."""
        if self.loading:
            return
        self._set_loading(True)
        selected = self.view.selected_chat_ids()
        try:
            chats = [chat async for chat in self.esh.iter_chats(page_size=5000)]
        except ApiError as exc:
            if alive(self):
                self._set_loading(False)
                text = error_message(exc)
                if isinstance(exc, NetworkError) and self.model.total_count:
                    text += " " + self.tr("Показаны сохранённые данные.")
                self.banner.show_message(text, retry=True)
                self.loaded.emit()
            return
        if not alive(self):
            return
        self.banner.clear()
        self.model.set_rows(chats)
        self.view.select_chat_ids(selected)
        self._refill_classes()
        self.from_cache = False
        self.loaded_once = True
        if self.cache is not None:
            try:
                self.cache.save(chats, {cid: title for cid, title in self.model.classes()})
            except Exception:
                log.exception("the registry cache could not be written")
        self._set_loading(False)
        self.loaded.emit()

    async def ensure_roster(self) -> RosterSnapshot | None:
        """The roster (fetched once per tab); None with a banner when it cannot be read."""
        if self.roster is None:
            try:
                self.roster = await load_roster(self.esh, self.me)
            except ApiError as exc:
                if alive(self):
                    self.banner.show_message(error_message(exc), retry=False)
                return None
        return self.roster

    # --- dialog

    @asyncSlot()
    async def add_chat(self) -> None:
        """«Добавить» (Insert): the dialog for a new chat."""
        await self._open_dialog(None)

    @asyncSlot()
    async def edit_chat(self) -> None:
        """«Изменить» (Enter, F2): the dialog for the selected chat, read fresh from ESh."""
        ids = self.view.selected_chat_ids()
        if len(ids) != 1:
            return
        try:
            chat = await self.esh.get_chat(ids[0])
        except ApiError as exc:
            if alive(self):
                self.banner.show_message(error_message(exc), retry=False)
            return
        await self._open_dialog(chat)

    def current_dialog(self) -> ChatDialog | None:
        """The chat dialog while it is open."""
        dialog = self.dialog
        return dialog if dialog is not None and alive(dialog) and dialog.isVisible() else None

    async def _open_dialog(self, chat: Chat | None) -> None:
        if self.dialog is not None and alive(self.dialog) and self.dialog.isVisible():
            self.dialog.raise_()
            return
        roster = await self.ensure_roster()
        if roster is None or not alive(self):
            return
        dialog = ChatDialog(self.esh, roster, self.me, chat, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self.chat_saved)
        dialog.apply_saved = self.apply_saved
        self.dialog = dialog
        dialog.open()

    def chat_saved(self, chat: Chat) -> None:
        """Show a created or edited chat at once, and keep it in the cache."""
        self.model.upsert(chat)
        self._refill_classes()
        self.view.select_chat_ids([chat.id])
        if self.cache is not None:
            self.cache.upsert(chat)

    # --- delete, administrator, export

    def _box(self, text: str, icon: QMessageBox.Icon = QMessageBox.Icon.Question) -> QMessageBox:
        box = QMessageBox(self)
        box.setObjectName("registryBox")
        box.setIcon(icon)
        box.setWindowTitle(self.tr("Чаты"))
        box.setText(text)
        self.last_box = box
        return box

    async def _confirm(self, text: str, yes: str) -> bool:
        box = self._box(text)
        ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Отмена"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(ok)
        return (await ask(box)) is ok

    async def _inform(self, text: str, icon: QMessageBox.Icon) -> None:
        box = self._box(text, icon)
        box.addButton(self.tr("Закрыть"), QMessageBox.ButtonRole.AcceptRole)
        await ask(box)

    def _names(self, ids: Sequence[int]) -> list[str]:
        return [self.model.data(self.model.index(self.model.row_of(i), Column.NAME)) for i in ids]

    @asyncSlot()
    async def delete_chats(self, ids: Sequence[int] | None = None) -> None:
        """«Удалить» (Delete): ask, then delete each chat; a report of what failed and why."""
        ids = list(ids) if ids is not None else self.view.selected_chat_ids()
        if not ids or self.loading:
            return
        names = self._names(ids)
        listed = "\n".join(f" {n}" for n in names[:15]) + ("\n …" if len(names) > 15 else "")
        text = self.tr("Удалить чаты ({0})?\n{1}").format(len(ids), listed)
        if not await self._confirm(text, self.tr("Удалить")):
            return
        self._set_loading(True)
        results: list[str] = []
        deleted: list[int] = []
        for chat_id, name in zip(ids, names, strict=True):
            version = self._value(chat_id, ChatRole.VERSION)
            try:
                await self.esh.delete_chat(chat_id, int(version))
            except Conflict as exc:
                if exc.code == "automatic_chat":
                    why = self.tr(
                        "автоматический чат класса или школы удаляется только вместе с классом "
                        "(школой)"
                    )
                else:
                    why = error_message(exc)
                results.append(self.tr("«{0}»: не удалён — {1}").format(name, why))
            except ApiError as exc:
                results.append(self.tr("«{0}»: не удалён — {1}").format(name, error_message(exc)))
            else:
                deleted.append(chat_id)
                results.append(self.tr("«{0}»: удалён").format(name))
            if not alive(self):
                return
        self.model.remove(deleted)
        if self.cache is not None and deleted:
            self.cache.remove(deleted)
        self._set_loading(False)
        self.results = results
        failed = len(deleted) < len(ids)
        await self._inform(
            "\n".join(results), QMessageBox.Icon.Warning if failed else QMessageBox.Icon.Information
        )

    @asyncSlot()
    async def change_admin(self) -> None:
        """«Сменить администратора…»: pick a staff member, set them on every selected chat."""
        ids = self.view.selected_chat_ids()
        if not ids:
            return
        roster = await self.ensure_roster()
        if roster is None or not alive(self):
            return
        people = [c for c in candidates(roster) if c.role == ROLE_STAFF]
        picker = PersonPicker(people, role=ROLE_STAFF, lock_role=True, single=True, parent=self)
        picker.setWindowTitle(self.tr("Администратор чата"))
        self.picker = picker
        picker.accepted.connect(lambda: self._admin_chosen(ids, picker))
        picker.open()

    @asyncSlot()
    async def _admin_chosen(self, ids: list[int], picker: PersonPicker) -> None:
        chosen = picker.chosen()
        if not chosen:
            return
        person = chosen[0]
        self._set_loading(True)
        results: list[str] = []
        for chat_id, name in zip(ids, self._names(ids), strict=True):
            version = int(self._value(chat_id, ChatRole.VERSION))
            try:
                chat = await self.esh.update_chat(
                    chat_id, version, admin_person_id=person.person_id
                )
            except ApiError as exc:
                if not alive(self):
                    return
                results.append(self.tr("«{0}»: не изменён — {1}").format(name, error_message(exc)))
                continue
            if not alive(self):
                return
            self.model.upsert(chat)
            if self.cache is not None:
                self.cache.upsert(chat)
            results.append(self.tr("«{0}»: администратор {1}").format(name, person.full_name))
        self._set_loading(False)
        self.results = results
        await self._inform("\n".join(results), QMessageBox.Icon.Information)

    def export_rows(self, ids: Sequence[int] | None = None) -> tuple[list[str], list[list[Any]]]:
        """The headers and the rows shown (all shown, or these chats) for export."""
        model = self.model
        headers = [
            str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(model.columnCount())
        ]
        rows = range(model.rowCount()) if ids is None else model.rows_of(ids)
        table: list[list[Any]] = []
        for row in rows:
            values: list[Any] = []
            for column in range(model.columnCount()):
                if column == Column.MEMBERS:
                    values.append(model.data(model.index(row, 0), ChatRole.MEMBER_COUNT))
                else:
                    values.append(model.data(model.index(row, column)) or "")
            table.append(values)
        return headers, table

    def export_to(self, path: Path, ids: Sequence[int] | None = None) -> int:
        """Write the rows to CSV or XLSX by the extension; the number of chats written."""
        headers, rows = self.export_rows(ids)
        write_table(path, headers, rows)
        return len(rows)

    def _ask_path(self) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Экспорт"),
            str(Path.home() / "chats.xlsx"),
            self.tr("Книга Excel (*.xlsx);;CSV для Excel (*.csv)"),
        )
        return Path(name) if name else None

    def export_selection(self) -> None:
        """«Экспорт выбранных…» to CSV or XLSX."""
        path = self._ask_path()
        if path is not None:
            self._export(path, self.view.selected_chat_ids())

    def export_all(self) -> None:
        """«Экспорт реестра…»: every chat shown (after the filters)."""
        path = self._ask_path()
        if path is not None:
            self._export(path, None)

    def _export(self, path: Path, ids: Sequence[int] | None) -> None:
        try:
            count = self.export_to(path, ids)
        except OSError as exc:
            self.banner.show_message(self.tr("Файл не записан: {0}").format(exc), retry=False)
            return
        with contextlib.suppress(RuntimeError):
            self.banner.clear()
        log.info("exported %d chats to %s", count, path.name)


class RegistrySection(QTabWidget):
    """The «Сферум» registry section: for now its one tab, «Чаты»."""

    def __init__(
        self,
        esh: EshClient,
        me: Me | None,
        cache: RegistryCache | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("registrySection")
        self.chats = ChatsTab(esh, me, cache)
        self.addTab(self.chats, self.tr("Чаты"))
