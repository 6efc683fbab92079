"""The «Синхронизация» tab: the plan by chat, «Применить» with progress, the automatic mode,
the audit log («Журнал»); and applying a chat's plan when its dialog saves it.

Everything runs through `SyncEngine` (sync/engine.py) on the qasync loop: the plan is computed
by a dry run, applied by a full run (held removals only after an explicit confirmation), and
«Отмена» asks the engine to stop at the next batch boundary (nothing is left half-done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QDate, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStyle,
    QSystemTrayIcon,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ApiError
from sferum_desktop.api.sferum import CaptchaNeeded
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.domain import (
    AddRegistryMember,
    AddSferumMember,
    ChatKey,
    CreateRegistryChat,
    CreateSferumChat,
    Operation,
    Plan,
    RemoveRegistryMember,
    RemoveSferumMember,
)
from sferum_desktop.store import AuditEntry, Store, default_store_path
from sferum_desktop.sync.config import SyncConfigError, load_config
from sferum_desktop.sync.engine import SyncEngine
from sferum_desktop.sync.progress import Phase, Progress
from sferum_desktop.sync.report import SyncReport
from sferum_desktop.sync.world import World
from sferum_desktop.ui import settings
from sferum_desktop.ui.common import Banner, alive, error_message
from sferum_desktop.ui.export import write_table

if TYPE_CHECKING:
    from sferum_desktop.api.esh_models import Chat
    from sferum_desktop.ui.chat_dialog import ChatDialog

log = logging.getLogger("sferum_desktop.ui.sync_tab")


def _t(text: str) -> str:
    return QCoreApplication.translate("SyncTab", text)


# Marked for lupdate: the words are translated where they are shown (reason_text, AuditView).
REASONS = {
    "enrolled": QT_TRANSLATE_NOOP("SyncTab", "зачисление"),
    "expelled": QT_TRANSLATE_NOOP("SyncTab", "отчисление"),
    "transferred": QT_TRANSLATE_NOOP("SyncTab", "перевод"),
    "hired": QT_TRANSLATE_NOOP("SyncTab", "трудоустройство"),
    "dismissed": QT_TRANSLATE_NOOP("SyncTab", "увольнение"),
    "assigned": QT_TRANSLATE_NOOP("SyncTab", "назначение"),
    "unassigned": QT_TRANSLATE_NOOP("SyncTab", "снятие с назначения"),
    "guardian_added": QT_TRANSLATE_NOOP("SyncTab", "добавлен представитель"),
    "guardian_removed": QT_TRANSLATE_NOOP("SyncTab", "удалён представитель"),
    "blocked": QT_TRANSLATE_NOOP("SyncTab", "блокировка"),
    "unblocked": QT_TRANSLATE_NOOP("SyncTab", "разблокировка"),
    "linked": QT_TRANSLATE_NOOP("SyncTab", "связывание со Сферумом"),
    "unlinked": QT_TRANSLATE_NOOP("SyncTab", "отвязка от Сферума"),
    "manual": QT_TRANSLATE_NOOP("SyncTab", "ручное изменение"),
    "rule": QT_TRANSLATE_NOOP("SyncTab", "правило состава"),
}
ACTIONS = {
    "create_registry_chat": QT_TRANSLATE_NOOP("AuditView", "создан чат в реестре"),
    "create_sferum_chat": QT_TRANSLATE_NOOP("AuditView", "создан чат в Сферуме"),
    "add_registry_member": QT_TRANSLATE_NOOP("AuditView", "добавлен в реестр"),
    "remove_registry_member": QT_TRANSLATE_NOOP("AuditView", "удалён из реестра"),
    "add_sferum_member": QT_TRANSLATE_NOOP("AuditView", "добавлен в Сферум"),
    "remove_sferum_member": QT_TRANSLATE_NOOP("AuditView", "удалён из Сферума"),
}


def reason_text(reason: str) -> str:
    """A Russian word for a `domain.Reason` value."""
    return _t(REASONS.get(reason, reason))


def duration_text(seconds: float | None) -> str:
    """«≈ 1 мин 5 с» for a time left (empty while unknown)."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    if minutes:
        return _t("≈ %1 мин %2 с").replace("%1", str(minutes)).replace("%2", str(secs))
    return _t("≈ %1 с").replace("%1", str(secs))


def report_error(report: SyncReport) -> str | None:
    """What went wrong in a run, in Russian (None when nothing did)."""
    error = report.error
    if isinstance(error, ApiError):
        return error_message(error)
    if isinstance(error, SyncConfigError):
        return error.user_message
    if error is not None:
        return str(error)
    if report.stop == "sign_in":
        return _t("Войдите в Сферум заново (меню «Сферум» → «Авторизация в Сферум»).")
    if report.stop == "captcha":
        return _t("Сферум попросил код с картинки; синхронизация остановлена.")
    if report.failed:
        first = report.failed[0]
        text = getattr(first, "message", "") or getattr(first, "error", "")
        return (
            _t("Не выполнено операций: %1. %2")
            .replace("%1", str(len(report.failed)))
            .replace("%2", str(text))
        )
    return None


class CaptchaDialog(QDialog):
    """The Sferum captcha: its picture and a field for the code."""

    def __init__(self, captcha: CaptchaNeeded, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("captchaDialog")
        self.captcha = captcha
        self.setWindowTitle(self.tr("Подтвердите, что вы не робот"))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Введите код с картинки:")))
        self.image = QLabel(self.tr("Загрузка картинки…"))
        self.image.setMinimumSize(130, 50)
        layout.addWidget(self.image)
        self.code = QLineEdit()
        self.code.setObjectName("captchaCode")
        layout.addWidget(self.code)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Продолжить"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Отмена"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def set_image(self, data: bytes) -> None:
        """Show the picture's bytes (or say it could not be loaded)."""
        pixmap = QPixmap()
        if data and pixmap.loadFromData(data):
            self.image.setPixmap(pixmap)
        else:
            self.image.setText(self.tr("Картинку не удалось загрузить."))


async def wait_finished(dialog: QDialog) -> int:
    """Open a dialog (window-modal, no nested loop) and wait for its result."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def done(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(done)
    dialog.open()
    return await future


class AuditView(QWidget):
    """«Журнал»: what the sync changed, when, in which chat, and why; filters and export."""

    HEADERS = (
        QT_TRANSLATE_NOOP("AuditView", "Когда"),
        QT_TRANSLATE_NOOP("AuditView", "Действие"),
        QT_TRANSLATE_NOOP("AuditView", "Чат"),
        QT_TRANSLATE_NOOP("AuditView", "Участник"),
        QT_TRANSLATE_NOOP("AuditView", "Причина"),
        QT_TRANSLATE_NOOP("AuditView", "Кто"),
    )

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditView")
        self.store = store
        self.entries: list[AuditEntry] = []
        layout = QVBoxLayout(self)
        filters = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("auditSearch")
        self.search.setPlaceholderText(self.tr("Поиск по чату или участнику"))
        self.search.setClearButtonEnabled(True)
        self.chat_filter = QComboBox()
        self.chat_filter.setObjectName("auditChat")
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.until = QDateEdit(QDate.currentDate())
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd.MM.yyyy")
        self.refresh_button = QPushButton(self.tr("Обновить"))
        self.export_button = QPushButton(self.tr("Экспорт…"))
        filters.addWidget(self.search, 2)
        filters.addWidget(QLabel(self.tr("Чат:")))
        filters.addWidget(self.chat_filter, 1)
        layout.addLayout(filters)
        filters = QHBoxLayout()
        filters.addWidget(QLabel(self.tr("Период: с")))
        filters.addWidget(self.since)
        filters.addWidget(QLabel(self.tr("по")))
        filters.addWidget(self.until)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)
        filters.addWidget(self.export_button)
        layout.addLayout(filters)
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setObjectName("auditTable")
        self.table.setHorizontalHeaderLabels([self.tr(h) for h in self.HEADERS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.footer = QLabel()
        layout.addWidget(self.footer)
        self.search.textChanged.connect(self._fill)
        self.chat_filter.currentIndexChanged.connect(self._fill)
        self.since.dateChanged.connect(self.reload)
        self.until.dateChanged.connect(self.reload)
        self.refresh_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(self.export)

    def _period(self) -> tuple[datetime, datetime]:
        first, last = self.since.date(), self.until.date()
        since = datetime(first.year(), first.month(), first.day()).astimezone(UTC)
        until = datetime(last.year(), last.month(), last.day()).astimezone(UTC)
        return since, until + timedelta(days=1)

    @asyncSlot()
    async def reload(self) -> None:
        """Read the log for the period (the text and chat filters apply as you type)."""
        since, until = self._period()
        try:
            entries = await asyncio.to_thread(self.store.audit, since=since, until=until)
        except Exception as exc:  # the store file is broken or locked: say so, keep going
            log.warning("audit log unreadable: %s", exc)
            if alive(self):
                self.footer.setText(self.tr("Журнал недоступен: %1").replace("%1", str(exc)))
            return
        if not alive(self):
            return
        self.entries = entries
        current = self.chat_filter.currentData()
        self.chat_filter.blockSignals(True)
        self.chat_filter.clear()
        self.chat_filter.addItem(self.tr("Все чаты"), None)
        chats = sorted({(e.chat_name or e.chat_key or "", e.chat_key) for e in entries})
        for name, key in chats:
            self.chat_filter.addItem(name, key)
        index = self.chat_filter.findData(current)
        self.chat_filter.setCurrentIndex(max(0, index))
        self.chat_filter.blockSignals(False)
        self._fill()

    def visible_entries(self) -> list[AuditEntry]:
        """The loaded entries the text and chat filters let through."""
        text = self.search.text().strip().casefold()
        chat = self.chat_filter.currentData()
        shown = []
        for entry in self.entries:
            if chat is not None and entry.chat_key != chat:
                continue
            haystack = " ".join(self.row(entry)).casefold()
            if text and text not in haystack:
                continue
            shown.append(entry)
        return shown

    def row(self, entry: AuditEntry) -> list[str]:
        """An entry's cells: when, what, chat, member, reason (with the event), who."""
        try:
            at = datetime.fromisoformat(entry.at).astimezone().strftime("%d.%m.%Y %H:%M:%S")
        except ValueError:
            at = entry.at
        action = self.tr(ACTIONS.get(entry.action, entry.action))
        member = entry.person_name or entry.person_id or ""
        if not member and entry.vk_user_id is not None:
            member = f"VK {entry.vk_user_id}"
        reason = reason_text(entry.reason)
        event = entry.event or {}
        if event.get("kind") and event.get("kind") != entry.reason:
            reason += f" ({reason_text(str(event['kind']))})"
        actor = entry.actor
        if actor == "sync":
            actor = self.tr("автоматическая синхронизация")
        elif actor.startswith("user:"):
            actor = self.tr("пользователь %1").replace("%1", actor[5:])
        return [at, action, entry.chat_name or entry.chat_key or "", member, reason, actor]

    def _fill(self) -> None:
        shown = self.visible_entries()
        self.table.setRowCount(len(shown))
        for r, entry in enumerate(shown):
            for c, value in enumerate(self.row(entry)):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.footer.setText(
            self.tr("Записей: %1 из %2")
            .replace("%1", str(len(shown)))
            .replace("%2", str(len(self.entries)))
        )

    def export_to(self, path: Path) -> int:
        """Write the shown rows to CSV or XLSX (by extension); how many."""
        rows = [self.row(e) for e in self.visible_entries()]
        write_table(path, [self.tr(h) for h in self.HEADERS], rows)
        return len(rows)

    def export(self) -> None:
        """«Экспорт…»: ask where, then write the rows shown."""
        path, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Экспорт журнала"),
            "journal.xlsx",
            self.tr("Книга Excel (*.xlsx);;CSV (*.csv)"),
        )
        if not path:
            return
        try:
            count = self.export_to(Path(path))
        except OSError as exc:
            self.footer.setText(self.tr("Не удалось сохранить файл: %1").replace("%1", str(exc)))
            return
        self.footer.setText(self.tr("Сохранено записей: %1").replace("%1", str(count)))


class SyncTab(QWidget):
    """«Синхронизация»: «Проверить», «Применить», «Отмена», the automatic mode and «Журнал»."""

    planned = Signal(object)  # the SyncReport of «Проверить»
    applied = Signal(object)  # the SyncReport of «Применить» (or of the automatic mode)

    def __init__(self, session: AuthSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncTab")
        self.session = session
        self.store = Store.open(default_store_path(session.profile.key))
        self.engine: SyncEngine | None = None
        self.report: SyncReport | None = None
        self.busy = False
        self.confirm_box: QMessageBox | None = None
        self.captcha_dialog: CaptchaDialog | None = None
        self.tray: QSystemTrayIcon | None = None
        self.last_notice = ""

        layout = QVBoxLayout(self)
        self.banner = Banner(self)
        self.banner.retry.connect(self._retry)
        layout.addWidget(self.banner)
        self._retry_action: Callable[[], object] = self.check

        buttons = QHBoxLayout()
        self.check_button = QPushButton(self.tr("Проверить"))
        self.check_button.setObjectName("syncCheck")
        self.apply_button = QPushButton(self.tr("Применить"))
        self.apply_button.setObjectName("syncApply")
        self.apply_button.setEnabled(False)
        self.cancel_button = QPushButton(self.tr("Отмена"))
        self.cancel_button.setObjectName("syncCancel")
        self.cancel_button.setEnabled(False)
        self.auto_check = QCheckBox(self.tr("Автоматический режим"))
        self.auto_check.setObjectName("syncAuto")
        self.interval = QSpinBox()
        self.interval.setRange(5, 24 * 60)
        # The automatic mode as it was left (it runs while the app is open).
        self.interval.setValue(settings.AUTO_SYNC_MINUTES.get())
        self.auto_check.setChecked(settings.AUTO_SYNC.get())
        self.interval.setSuffix(self.tr(" мин"))
        self.interval.setPrefix(self.tr("каждые "))
        for button in (self.check_button, self.apply_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.auto_check)
        buttons.addWidget(self.interval)
        layout.addLayout(buttons)

        self.summary = QLabel(self.tr("Нажмите «Проверить», чтобы увидеть, что изменится."))
        self.summary.setObjectName("syncSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setFormat(self.tr("%v из %m"))
        self.progress_label = QLabel()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label)
        layout.addLayout(progress_row)
        self.progress.hide()
        self.progress_label.hide()

        self.tabs = QTabWidget()
        self.tree = QTreeWidget()
        self.tree.setObjectName("syncTree")
        self.tree.setHeaderLabels([self.tr("Чат / участник"), self.tr("Причина")])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tabs.addTab(self.tree, self.tr("План"))
        self.audit = AuditView(self.store)
        self.tabs.addTab(self.audit, self.tr("Журнал"))
        self.tabs.currentChanged.connect(self._tab_changed)
        layout.addWidget(self.tabs, 1)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.auto_sync)
        self.auto_check.toggled.connect(self._auto_toggled)
        self.interval.valueChanged.connect(self._auto_toggled)
        if self.auto_check.isChecked():
            self.timer.start(self.interval.value() * 60_000)
        self.check_button.clicked.connect(self.check)
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button.clicked.connect(self.cancel)

    # --- the engine -------------------------------------------------------------------------

    async def _make_engine(self) -> SyncEngine | None:
        """An engine for one run (None, with the banner saying why, when it cannot run)."""
        if not self.session.has_sferum:
            self.banner.show_message(
                self.tr(
                    "Для синхронизации войдите в Сферум: меню «Сферум» → «Авторизация в Сферум»."
                ),
                retry=False,
            )
            return None
        try:
            config = await asyncio.to_thread(load_config)
            sferum = await self.session.sferum_client()
        except SyncConfigError as exc:
            self.banner.show_message(exc.user_message, retry=False)
            return None
        except ApiError as exc:
            self.banner.show_message(error_message(exc))
            return None
        me = self.session.me
        actor = f"user:{me.id}" if me is not None else "user"
        return SyncEngine(
            self.session.esh,
            sferum,
            self.store,
            config=config,
            actor=actor,
            on_progress=self._on_progress,
            captcha_hook=self.solve_captcha,
        )

    def _set_busy(self, busy: bool, *, applying: bool = False) -> None:
        self.busy = busy
        self.check_button.setEnabled(not busy)
        self.apply_button.setEnabled(not busy and self._can_apply())
        self.cancel_button.setEnabled(busy and applying)
        self.progress.setVisible(busy)
        self.progress_label.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.progress_label.setText(self.tr("Чтение ЭШ и Сферума…"))
        else:
            self.progress_label.clear()

    def _can_apply(self) -> bool:
        # An empty plan may be applied too: the run records the roster it read as synced.
        report = self.report
        return report is not None and report.plan is not None

    def _on_progress(self, progress: Progress) -> None:
        if not alive(self):
            return
        if progress.phase is Phase.APPLY and progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done + progress.failed)
            left = duration_text(progress.eta_s)
            text = self.tr("Выполнено %1 из %2").replace("%1", str(progress.done))
            text = text.replace("%2", str(progress.total))
            if left:
                text += self.tr(", осталось %1").replace("%1", left)
            self.progress_label.setText(text)
        elif progress.phase is Phase.PLAN:
            self.progress_label.setText(self.tr("Составление плана…"))
        elif progress.phase is Phase.RESUME:
            self.progress_label.setText(self.tr("Завершение прерванной синхронизации…"))

    async def _run(
        self,
        *,
        dry_run: bool,
        confirm_held: bool,
        holder: dict[str, World | None] | None = None,
        confirmed: Collection[Operation] | None = None,
    ) -> SyncReport | None:
        """One engine run with the controls locked; the report (None if it could not run)."""
        self._set_busy(True, applying=not dry_run)
        try:
            engine = await self._make_engine()
            if engine is None:
                return None
            self.engine = engine
            try:
                report = await engine.sync(
                    dry_run=dry_run, confirm_held=confirm_held, confirmed=confirmed
                )
                if holder is not None:
                    holder["world"] = engine.world
                return report
            finally:
                self.engine = None
                await engine.aclose()
        finally:
            if alive(self):
                self._set_busy(False)

    # --- «Проверить» ------------------------------------------------------------------------

    @asyncSlot()
    async def check(self) -> None:
        """«Проверить»: compute the plan (nothing is applied) and show it by chat."""
        if self.busy:
            return
        self.banner.clear()
        self._retry_action = self.check
        world_holder: dict[str, World | None] = {}
        report = await self._run(dry_run=True, confirm_held=False, holder=world_holder)
        if report is None or not alive(self):
            return
        if not self._shown_error(report):
            self.report = report
            self.show_plan(report, world_holder.get("world"))
            self.apply_button.setEnabled(self._can_apply())
        self.planned.emit(report)

    def _shown_error(self, report: SyncReport) -> bool:
        """Show a run's error in the banner; whether there was one."""
        text = report_error(report)
        if text is None:
            return False
        self.banner.show_message(text, retry=report.stop != "sign_in")
        return True

    def _retry(self) -> None:
        self.banner.clear()
        self._retry_action()

    def show_plan(self, report: SyncReport, world: World | None) -> None:
        """Fill the tree (chat → added / removed / pending / held) and the summary line."""
        plan = report.plan or Plan()
        self.tree.clear()

        def chat_title(key: ChatKey, ops: tuple[Operation, ...]) -> str:
            name = world.chat_name(key) if world is not None else None
            for op in ops:
                if isinstance(op, CreateRegistryChat):
                    name = name or op.chat.name
                elif isinstance(op, CreateSferumChat):
                    name = name or op.title
            return name or str(key)

        def person(op_or_id: Operation | str) -> str:
            pid = op_or_id if isinstance(op_or_id, str) else getattr(op_or_id, "person_id", None)
            name = world.person_name(pid) if world is not None else None
            if name:
                return name
            vk = getattr(op_or_id, "vk_user_id", None)
            return pid or (f"VK {vk}" if vk is not None else "")

        where = {
            AddRegistryMember: self.tr("в реестре"),
            RemoveRegistryMember: self.tr("в реестре"),
            AddSferumMember: self.tr("в Сферуме"),
            RemoveSferumMember: self.tr("в Сферуме"),
        }
        holds = {hold.chat_key: hold for hold in plan.held}
        for key, chat_plan in plan.by_chat().items():
            title = chat_title(key, (*chat_plan.operations, *chat_plan.held))
            chat_item = QTreeWidgetItem([title, ""])
            chat_item.setData(0, Qt.ItemDataRole.UserRole, str(key))
            font = chat_item.font(0)
            font.setBold(True)
            chat_item.setFont(0, font)
            groups: dict[str, QTreeWidgetItem] = {}

            def group(
                label: str,
                parent: QTreeWidgetItem = chat_item,
                groups: dict[str, QTreeWidgetItem] = groups,
            ) -> QTreeWidgetItem:
                if label not in groups:
                    groups[label] = QTreeWidgetItem(parent, [label, ""])
                return groups[label]

            for op in chat_plan.operations:
                if isinstance(op, CreateRegistryChat):
                    QTreeWidgetItem(group(self.tr("Создать чат")), [self.tr("в реестре"), ""])
                elif isinstance(op, CreateSferumChat):
                    QTreeWidgetItem(group(self.tr("Создать чат")), [self.tr("в Сферуме"), ""])
                elif isinstance(op, AddRegistryMember | AddSferumMember):
                    QTreeWidgetItem(
                        group(self.tr("+ добавить")),
                        [f"{person(op)} ({where[type(op)]})", reason_text(op.reason.value)],
                    )
                else:
                    QTreeWidgetItem(
                        group(self.tr("− удалить")),
                        [f"{person(op)} ({where[type(op)]})", reason_text(op.reason.value)],
                    )
            for pid in chat_plan.pending:
                QTreeWidgetItem(
                    group(self.tr("ожидают привязки")),
                    [person(pid), self.tr("не связал аккаунт со Сферумом")],
                )
            if chat_plan.held:
                hold = holds.get(key) or holds.get(None)
                held_group = group(self.tr("задержано"))
                if hold is not None:
                    held_group.setText(1, hold.message)
                    held_group.setToolTip(1, hold.message)
                for op in chat_plan.held:
                    QTreeWidgetItem(
                        held_group,
                        [
                            f"{person(op)} ({where.get(type(op), '')})",
                            reason_text(op.reason.value),
                        ],
                    )
            counts = [
                f"{label} {groups[label].childCount()}"
                for label in groups
                if label != self.tr("Создать чат")
            ]
            if counts:
                chat_item.setText(1, ", ".join(counts))
            self.tree.addTopLevelItem(chat_item)
            chat_item.setExpanded(bool(chat_plan.operations or chat_plan.held))
            for item in groups.values():
                item.setExpanded(True)
        s = plan.summary()
        text = (
            self.tr(
                "Создать чатов: %1, добавить: %2, удалить: %3, ожидают привязки: %4, задержано: %5"
            )
            .replace("%1", str(s["create_chats"]))
            .replace("%2", str(s["add"]))
            .replace("%3", str(s["remove"]))
            .replace("%4", str(s["pending"]))
            .replace("%5", str(s["held"]))
        )
        if plan.is_empty:
            text += self.tr(". Изменений нет: чаты соответствуют ЭШ.")
        elif plan.held:
            text += self.tr(". Задержанные удаления применяются только после подтверждения.")
        self.summary.setText(text)

    def chat_item(self, name: str) -> QTreeWidgetItem | None:
        """The tree's item of a chat by its shown name (tests, screenshots)."""
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.text(0) == name:
                return item
        return None

    # --- «Применить» and «Отмена» -----------------------------------------------------------

    @asyncSlot()
    async def apply(self) -> None:
        """«Применить»: apply the plan; held removals only once the user confirms them."""
        if self.busy or self.report is None or self.report.plan is None:
            return
        self.banner.clear()
        self._retry_action = self.apply
        confirm = False
        shown = self.report.plan
        if shown.held:
            confirm = await self.confirm_held(shown)
            if not alive(self):
                return
            if not confirm:
                self.summary.setText(
                    self.summary.text() + self.tr(" Применение отменено: нужно подтверждение.")
                )
                return
        # Only the removals the administrator saw are released: if the plan has changed since
        # «Проверить» (a new hold), nothing is applied and they are asked to check again.
        confirmed = frozenset(shown.held_operations) if confirm else None
        report = await self._run(dry_run=False, confirm_held=False, confirmed=confirmed)
        if report is None or not alive(self):
            return
        self._after_apply(report, confirmed=bool(confirmed))

    async def confirm_held(self, plan: Plan) -> bool:
        """Ask whether the held removals may go (a window-modal box, no nested loop)."""
        box = QMessageBox(self)
        box.setObjectName("confirmHeld")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(self.tr("Подтверждение удаления"))
        box.setText(
            self.tr("План удаляет необычно много участников:")
            + "\n\n"
            + "\n".join(hold.message for hold in plan.held)
            + "\n\n"
            + self.tr("Применить эти удаления?")
        )
        yes = box.addButton(self.tr("Удалить и применить"), QMessageBox.ButtonRole.AcceptRole)
        no = box.addButton(self.tr("Отмена"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(no)
        self.confirm_box = box
        try:
            await wait_finished(box)
        finally:
            self.confirm_box = None
        return alive(box) and box.clickedButton() is yes

    def _after_apply(self, report: SyncReport, *, confirmed: bool = False) -> None:
        self.report = None
        self.apply_button.setEnabled(False)
        applied = len(report.applied)
        if self._shown_error(report):
            self.notify(self.tr("Синхронизация не завершена"), report_error(report) or "", True)
        elif report.cancelled:
            text = self.tr("Отменено. Выполнено операций: %1; остальное — при следующем запуске.")
            self.summary.setText(text.replace("%1", str(applied)))
        elif report.held and confirmed:
            self.summary.setText(
                self.tr(
                    "План изменился после проверки: появились другие удаления. Ничего не "
                    "применено — нажмите «Проверить» и подтвердите снова."
                )
            )
        elif report.held:
            self.summary.setText(
                self.tr("План содержит задержанные удаления: нажмите «Проверить» и подтвердите.")
            )
        else:
            text = self.tr("Готово. Выполнено операций: %1.").replace("%1", str(applied))
            self.summary.setText(text)
            self.notify(self.tr("Синхронизация завершена"), text, False)
        self.tree.clear()
        self.audit.reload()
        self.applied.emit(report)

    def cancel(self) -> None:
        """«Отмена»: stop after the batch in flight (it is finished and journaled)."""
        if self.engine is not None:
            self.engine.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText(self.tr("Отмена: завершается текущий пакет…"))

    # --- captcha ----------------------------------------------------------------------------

    async def solve_captcha(self, captcha: CaptchaNeeded) -> str | None:
        """Show Sferum's captcha picture and ask for the code (None: the user gave up)."""
        dialog = CaptchaDialog(captcha, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.captcha_dialog = dialog
        loader = asyncio.ensure_future(self._load_image(dialog, captcha.captcha_img))
        try:
            result = await wait_finished(dialog)
        finally:
            loader.cancel()
            self.captcha_dialog = None
        code = dialog.code.text().strip()
        dialog.deleteLater()
        return code if result == QDialog.DialogCode.Accepted and code else None

    async def _load_image(self, dialog: CaptchaDialog, url: str) -> None:
        data = b""
        try:
            async with httpx.AsyncClient(timeout=20, follow_redirects=True) as client:
                answer = await client.get(url)
                if answer.is_success:
                    data = answer.content
        except httpx.HTTPError as exc:
            log.warning("captcha picture not loaded: %s", exc)
        if alive(dialog):
            dialog.set_image(data)

    # --- the automatic mode -----------------------------------------------------------------

    def _auto_toggled(self) -> None:
        settings.AUTO_SYNC.set(self.auto_check.isChecked())
        settings.AUTO_SYNC_MINUTES.set(self.interval.value())
        if self.auto_check.isChecked():
            self.timer.start(self.interval.value() * 60_000)
        else:
            self.timer.stop()

    @asyncSlot()
    async def auto_sync(self) -> None:
        """One background run of the automatic mode (held removals wait for a person)."""
        if self.busy:
            return
        report = await self._run(dry_run=False, confirm_held=False)
        if report is None or not alive(self):
            return
        error = report_error(report)
        if error is not None:
            self.banner.show_message(error)
            self._retry_action = self.auto_sync
            self.notify(self.tr("Синхронизация не удалась"), error, True)
        elif report.held:
            self.notify(
                self.tr("Синхронизация ждёт подтверждения"),
                self.tr("Удаление многих участников задержано: откройте «Синхронизация»."),
                True,
            )
        else:
            text = self.tr("Выполнено операций: %1.").replace("%1", str(len(report.applied)))
            self.notify(self.tr("Синхронизация завершена"), text, False)
        self.audit.reload()
        self.applied.emit(report)

    def notify(self, title: str, text: str, problem: bool) -> None:
        """A tray notice when there is a tray; the status bar otherwise."""
        self.last_notice = f"{title}: {text}"
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                icon = self.window().windowIcon()
                if icon.isNull():
                    icon = self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload)
                self.tray = QSystemTrayIcon(icon, self)
                self.tray.setToolTip("Sferum Desktop")
            self.tray.show()
            kind = (
                QSystemTrayIcon.MessageIcon.Warning
                if problem
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(title, text, kind)
            return
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(self.last_notice, 15_000)

    # --- saving a chat applies it -----------------------------------------------------------

    async def apply_saved_chat(self, dialog: ChatDialog, chat: Chat) -> None:
        """After the chat dialog saved `chat`: apply its plan now, with progress in the dialog."""
        bar = QProgressBar(dialog)
        bar.setObjectName("applyProgress")
        bar.setRange(0, 0)
        label = QLabel(self.tr("Создание чата в Сферуме…"), dialog)
        layout = dialog.layout()
        if layout is not None:
            layout.addWidget(label)
            layout.addWidget(bar)

        def on_progress(progress: Progress) -> None:
            if not alive(bar):
                return
            if progress.phase is Phase.APPLY and progress.total:
                bar.setRange(0, progress.total)
                bar.setValue(progress.done + progress.failed)
                label.setText(
                    self.tr("Применение в Сферуме: %1 из %2")
                    .replace("%1", str(progress.done))
                    .replace("%2", str(progress.total))
                )

        if not self.session.has_sferum:
            self.notify(
                self.tr("Чат сохранён"),
                self.tr("Чат появится в Сферуме после входа в Сферум и синхронизации."),
                True,
            )
            return
        engine = await self._make_engine()
        if engine is None:
            return
        engine.on_progress = on_progress
        try:
            report = await engine.apply_chat(chat.id)
        except Exception as exc:  # the save stands; the next sync applies the chat
            log.exception("applying the saved chat failed")
            self.notify(self.tr("Чат сохранён, но не применён в Сферуме"), str(exc), True)
            return
        finally:
            await engine.aclose()
        error = report_error(report)
        if error is not None:
            self.notify(self.tr("Чат сохранён, но не применён в Сферуме"), error, True)
        else:
            pending = len({p.person_id for p in report.plan.pending}) if report.plan else 0
            text = self.tr("Чат «%1» есть в Сферуме.").replace("%1", chat.name)
            if pending:
                text += self.tr(" Ожидают привязки: %1.").replace("%1", str(pending))
            self.notify(self.tr("Чат сохранён"), text, False)
        self.audit.reload()

    # --- lifetime ---------------------------------------------------------------------------

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.audit:
            self.audit.reload()

    def shutdown(self) -> None:
        """Stop the timer and any run; close the store."""
        self.timer.stop()
        if self.engine is not None:
            self.engine.cancel()
        if self.tray is not None:
            self.tray.hide()
        with contextlib.suppress(Exception):
            self.store.close()


__all__ = ["AuditView", "CaptchaDialog", "SyncTab", "duration_text", "reason_text"]
