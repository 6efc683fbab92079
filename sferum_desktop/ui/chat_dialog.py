"""«Чат школы в сферум: Добавление / Редактирование»: fields by type, members, the warning.

A new chat is «Предмет» (its name generated from the group, its rule members filled from the
roster: teachers under «Сотрудники», students under «Ученики») or «Другой» (named by hand).
Automatic chats (staff, class, parents) are shown read-only as to their type. Saving goes
through the registry API with If-Match; a 412 shows what changed and offers to reload or to
overwrite; 422 messages appear under their field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ApiError, ValidationFailed
from sferum_desktop.api.esh import EshClient, VersionConflict
from sferum_desktop.api.esh_models import Chat, Me
from sferum_desktop.domain.chats import ChatType
from sferum_desktop.domain.roster import RosterSnapshot
from sferum_desktop.domain.school import TeachingGroup
from sferum_desktop.ui.common import alive, error_message
from sferum_desktop.ui.person_picker import (
    ROLE_PARENT,
    ROLE_STAFF,
    ROLE_STUDENT,
    PersonPicker,
    candidates,
)

ROLES: Final = (ROLE_STAFF, ROLE_STUDENT, ROLE_PARENT)


async def ask(box: QMessageBox) -> QPushButton | None:
    """Show a message box window-modally without a nested event loop; the button pressed."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finished(_result: int) -> None:
        if not done.done():
            done.set_result(None)

    box.finished.connect(finished)
    box.open()
    await done
    clicked = box.clickedButton()
    return clicked if isinstance(clicked, QPushButton) else None


@dataclass(frozen=True)
class MemberRow:
    """A person in the dialog's member tables."""

    person_id: str
    full_name: str
    role: str
    blocked: bool = False
    linked: bool = False
    source: str = "manual"  # rule | manual


def is_admin(me: Me | None) -> bool:
    """A school's Sferum administrator (ESh role `admin`)."""
    return me is not None and "admin" in me.roles


def teachable_groups(roster: RosterSnapshot, me: Me | None) -> list[TeachingGroup]:
    """The groups offered for a subject chat: the user's; an administrator's: all the school's."""
    if is_admin(me):
        groups = list(roster.groups.values())
    else:
        mine = roster.teacher_groups.get(me.id, ()) if me else ()
        groups = [roster.groups[g] for g in mine if g in roster.groups]
    return sorted(groups, key=lambda g: (len(g.class_title), g.class_title, g.label))


class MemberTable(QWidget):
    """One tab: «Добавить» «Удалить» «Обновить» and checkbox, «Ф.И.О.», «Заблокирован», link."""

    addRequested = Signal(str)
    refreshRequested = Signal(str)

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.rows: list[MemberRow] = []
        self.add_button = QPushButton(self.tr("Добавить"))
        self.remove_button = QPushButton(self.tr("Удалить"))
        self.refresh_button = QPushButton(self.tr("Обновить"))
        self.add_button.clicked.connect(lambda: self.addRequested.emit(self.role))
        self.remove_button.clicked.connect(self.remove_checked)
        self.refresh_button.clicked.connect(lambda: self.refreshRequested.emit(self.role))
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            ["", self.tr("Ф.И.О."), self.tr("Заблокирован"), self.tr("Связь со Сферумом")]
        )
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)

    def set_rows(self, rows: Sequence[MemberRow]) -> None:
        """Show these members, sorted by name."""
        self.rows = sorted(rows, key=lambda r: r.full_name.casefold())
        self.table.setRowCount(len(self.rows))
        yes, no = self.tr("Да"), self.tr("Нет")
        for i, row in enumerate(self.rows):
            check = QTableWidgetItem()
            check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            check.setCheckState(Qt.CheckState.Unchecked)
            self.table.setItem(i, 0, check)
            self.table.setItem(i, 1, QTableWidgetItem(row.full_name))
            self.table.setItem(i, 2, QTableWidgetItem(yes if row.blocked else no))
            link = self.tr("Связан") if row.linked else self.tr("Не связан")
            self.table.setItem(i, 3, QTableWidgetItem(link))

    def names(self) -> list[str]:
        """The «Ф.И.О.» shown, in order."""
        return [row.full_name for row in self.rows]

    def check_names(self, names: Sequence[str]) -> None:
        """Tick the rows of these people."""
        for i, row in enumerate(self.rows):
            if row.full_name in names:
                item = self.table.item(i, 0)
                assert item is not None
                item.setCheckState(Qt.CheckState.Checked)

    def remove_checked(self) -> None:
        """Drop the ticked rows (or the selected ones when none is ticked)."""
        checked = {
            i
            for i in range(self.table.rowCount())
            if (item := self.table.item(i, 0)) and item.checkState() == Qt.CheckState.Checked
        }
        if not checked:
            checked = {index.row() for index in self.table.selectionModel().selectedRows()}
        self.set_rows([r for i, r in enumerate(self.rows) if i not in checked])


# After a successful save: apply the chat's plan (the «Синхронизация» tab provides it).
ApplySaved = Callable[["ChatDialog", Chat], Awaitable[None]]


class ChatDialog(QDialog):
    """Add or edit one registry chat with its members; `saved` carries the chat as saved."""

    saved = Signal(object)

    def __init__(
        self,
        esh: EshClient,
        roster: RosterSnapshot,
        me: Me | None,
        chat: Chat | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("chatDialog")
        self.esh, self.roster, self.me, self.chat = esh, roster, me, chat
        self.original: dict[str, MemberRow] = {}
        self.members_loaded = chat is None  # an edited chat's members come from ESh
        self.busy = False
        self.warned: tuple[str, ...] | None = None
        self.conflict_box: QMessageBox | None = None
        self.picker: PersonPicker | None = None
        self.apply_saved: ApplySaved | None = None
        title = self.tr("Чат школы в сферум: Добавление")
        if chat is not None:
            title = self.tr("Чат школы в сферум: Редактирование")
        self.setWindowTitle(title)
        self.resize(760, 620)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("chatName")
        self.name_edit.setMaxLength(200)
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("chatType")
        self.group_combo = QComboBox()
        self.group_combo.setObjectName("chatGroup")
        self.errors = {key: self._error_label() for key in ("name", "type", "group_id", "")}
        self.groups = teachable_groups(roster, me)
        self.group_combo.addItem("", None)
        for group in self.groups:
            self.group_combo.addItem(group.label, group.id)

        labels = {t.value: t for t in ChatType}
        self.type_labels = {
            "staff": self.tr("Учительский чат"),
            "class": self.tr("Классный чат"),
            "parents": self.tr("Родительский чат"),
            "subject": self.tr("Предмет"),
            "custom": self.tr("Другой"),
        }
        if chat is None:
            for code in ("subject", "custom"):
                self.type_combo.addItem(self.type_labels[code], code)
        else:
            self.type_combo.addItem(self.type_labels.get(chat.type, chat.type), chat.type)
            self.type_combo.setEnabled(False)
            self.name_edit.setText(chat.name)
            if chat.group_id:
                index = self.group_combo.findData(chat.group_id)
                if index < 0:
                    known = roster.groups.get(chat.group_id)
                    self.group_combo.addItem(known.label if known else chat.name, chat.group_id)
                    index = self.group_combo.count() - 1
                self.group_combo.setCurrentIndex(index)
            automatic = chat.type in labels and labels[chat.type].is_automatic
            self.name_edit.setReadOnly(automatic or chat.type == "subject")

        form = QFormLayout()
        form.addRow(self.tr("Тип чата"), self._with_error(self.type_combo, "type"))
        form.addRow(self.tr("Наименование чата"), self._with_error(self.name_edit, "name"))
        form.addRow(
            self.tr("Предмет/Группа (Класс)"), self._with_error(self.group_combo, "group_id")
        )

        self.tabs = QTabWidget()
        self.members: dict[str, MemberTable] = {}
        for role, label in (
            (ROLE_STAFF, self.tr("Сотрудники")),
            (ROLE_STUDENT, self.tr("Ученики")),
            (ROLE_PARENT, self.tr("Родители")),
        ):
            table = MemberTable(role)
            table.addRequested.connect(self.pick_members)
            table.refreshRequested.connect(self.refresh_members)
            self.members[role] = table
            self.tabs.addTab(table, label)

        self.warning = QFrame()
        self.warning.setObjectName("unlinkedWarning")
        self.warning.setStyleSheet(
            "#unlinkedWarning { background: #fff4e0; border: 1px solid #f0c070;"
            " border-radius: 6px; }"
        )
        warning_layout = QVBoxLayout(self.warning)
        self.warning_title = QLabel(self.tr("Внимание!"))
        bold = QFont(self.warning_title.font())
        bold.setBold(True)
        self.warning_title.setFont(bold)
        self.warning_text = QLabel()
        self.warning_text.setWordWrap(True)
        self.warning_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        warning_layout.addWidget(self.warning_title)
        warning_layout.addWidget(self.warning_text)
        self.warning.hide()

        self.save_button = QPushButton(self.tr("Сохранить"))
        self.save_button.setObjectName("save")
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton(self.tr("Отмена"))
        self.save_button.clicked.connect(self.save)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.errors[""], 1)
        buttons.addStretch(0 if self.errors[""].isVisible() else 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.warning)
        layout.addLayout(buttons)

        self.type_combo.currentIndexChanged.connect(self._type_changed)
        self.group_combo.currentIndexChanged.connect(self._group_changed)
        self._type_changed()
        self.save_button.setEnabled(self.members_loaded)
        if chat is not None:
            self.refresh_members(ROLE_STAFF)

    # --- layout helpers

    def _error_label(self) -> QLabel:
        label = QLabel()
        label.setStyleSheet("color: #b00020;")
        label.setWordWrap(True)
        label.hide()
        return label

    def _with_error(self, field: QWidget, key: str) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(field)
        layout.addWidget(self.errors[key])
        return box

    # --- fields by type

    @property
    def chat_type(self) -> str:
        """The API code of the chosen type."""
        return str(self.type_combo.currentData())

    def _type_changed(self) -> None:
        subject = self.chat_type == "subject"
        self.group_combo.setEnabled(subject and self.chat is None)
        if self.chat is None:
            self.name_edit.setReadOnly(subject)
            if subject:
                self._group_changed()
            else:
                self.name_edit.clear()
                self.group_combo.setCurrentIndex(0)

    def selected_group(self) -> TeachingGroup | None:
        """The group chosen in «Предмет/Группа (Класс)»."""
        group_id = self.group_combo.currentData()
        return self.roster.groups.get(group_id) if group_id else None

    def select_group(self, label: str) -> None:
        """Choose a group by its label («Русский язык / 1А»)."""
        index = self.group_combo.findText(label)
        if index < 0:
            raise LookupError(label)
        self.group_combo.setCurrentIndex(index)

    def _group_changed(self) -> None:
        if self.chat is not None or self.chat_type != "subject":
            return
        group = self.selected_group()
        self.name_edit.setText(group.chat_name if group else "")
        for role in (ROLE_STAFF, ROLE_STUDENT):
            manual = [r for r in self.members[role].rows if r.source == "manual"]
            self.members[role].set_rows(manual + self._rule_rows(role))

    def _row(self, person_id: str, role: str, source: str) -> MemberRow:
        person = self.roster.people.get(person_id)
        name = person.full_name if person else person_id
        blocked = bool(person and person.blocked)
        return MemberRow(person_id, name, role, blocked, person_id in self.roster.links, source)

    def _rule_rows(self, role: str) -> list[MemberRow]:
        group = self.selected_group()
        if group is None or role == ROLE_PARENT:
            return []
        relation = self.roster.group_teachers if role == ROLE_STAFF else self.roster.group_students
        return [self._row(p, role, "rule") for p in relation.get(group.id, ())]

    # --- members

    def pick_members(self, role: str) -> None:
        """«Добавить»: the person picker for this tab's role; the chosen are added."""
        school = self.chat.school_id if self.chat else None
        picker = PersonPicker(
            candidates(self.roster, school), role=role, lock_role=True, parent=self
        )
        picker.setObjectName(f"picker-{role}")
        self.picker = picker

        def chosen() -> None:
            table = self.members[role]
            have = {r.person_id for r in table.rows}
            new = [
                MemberRow(c.person_id, c.full_name, role, c.blocked, c.linked, "manual")
                for c in picker.chosen()
                if c.person_id not in have
            ]
            table.set_rows(table.rows + new)

        picker.accepted.connect(chosen)
        picker.open()

    @asyncSlot(str)
    async def refresh_members(self, _role: str = "") -> None:
        """«Обновить»: the members as ESh has them now (a new chat: the rule members again)."""
        if self.chat is None:
            self._group_changed()
            return
        try:
            items = await self.esh.list_members(self.chat.id)
        except ApiError as exc:
            if alive(self):
                self._show_error("", error_message(exc))
            return
        if not alive(self):
            return
        rows = [
            MemberRow(m.person_id, m.full_name, m.role_in_chat, m.blocked, m.linked, m.source)
            for m in items
        ]
        self.original = {r.person_id + "/" + r.role: r for r in rows}
        for role, table in self.members.items():
            table.set_rows([r for r in rows if r.role == role])
        self.members_loaded = True
        self.save_button.setEnabled(not self.busy)

    def all_members(self) -> list[MemberRow]:
        """Every member in the tabs' order."""
        return [row for role in ROLES for row in self.members[role].rows]

    def unlinked(self) -> list[str]:
        """Names of the members not linked to Sferum, in the tabs' order, each once."""
        names: list[str] = []
        for row in self.all_members():
            if not row.linked and row.full_name not in names:
                names.append(row.full_name)
        return names

    # --- saving

    def _show_error(self, key: str, text: str) -> None:
        label = self.errors.get(key, self.errors[""])
        label.setText(text)
        label.setVisible(bool(text))

    def _clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.hide()

    def warning_body(self, names: Sequence[str]) -> str:
        """The seed's «Внимание!» text with the unlinked members listed."""
        head = self.tr(
            "Следующие пользователи не связали аккаунт со Сферумом и не будут добавлены в "
            "качестве участника в чате Сферума:"
        )
        tail = self.tr(
            "Пользователи будут автоматически добавлены в чат Сферума после связывания аккаунта."
        )
        listed = "\n".join(f" {name}" for name in names)
        return f"{head}\n{listed}\n\n{tail}"

    def _validate(self) -> bool:
        if self.chat is None and self.chat_type == "subject" and self.selected_group() is None:
            self._show_error("group_id", self.tr("Выберите предмет и группу."))
            return False
        if self.chat_type == "custom" and not self.name_edit.text().strip():
            self._show_error("name", self.tr("Введите наименование чата."))
            return False
        return True

    @asyncSlot()
    async def save(self) -> None:
        """«Сохранить»: first the «Внимание!» block if someone is unlinked, then the API."""
        if self.busy:
            return
        self._clear_errors()
        if not self._validate():
            return
        names = tuple(self.unlinked())
        if names and self.warned != names:
            self.warned = names
            self.warning_text.setText(self.warning_body(names))
            self.warning.show()
            return  # the user reads the list, then presses «Сохранить» again
        self._set_busy(True)
        try:
            chat = await self._write()
        except VersionConflict as exc:
            if alive(self):
                self._set_busy(False)
                await self._conflict(exc.current)
            return
        except ValidationFailed as exc:
            if alive(self):
                for field, message in (exc.fields or {"": error_message(exc)}).items():
                    key = field.split(".")[-1]
                    self._show_error(key if key in self.errors else "", message)
                self._set_busy(False)
            return
        except ApiError as exc:
            if alive(self):
                self._show_error("", error_message(exc))
                self._set_busy(False)
            return
        if not alive(self):
            return
        self.chat = chat
        if self.apply_saved is not None:
            await self.apply_saved(self, chat)
            if not alive(self):
                return
        self._set_busy(False)
        self.saved.emit(chat)
        self.accept()

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.save_button.setEnabled(not busy)

    async def _write(self) -> Chat:
        esh = self.esh
        if self.chat is None:
            group = self.selected_group()
            if self.chat_type == "subject":
                assert group is not None
                chat = await esh.create_chat(type="subject", group_id=group.id)
            else:
                chat = await esh.create_chat(type="custom", name=self.name_edit.text().strip())
            self.chat = chat  # a repeat after a failure edits it instead of making another
            self.original = {}
        chat = self.chat
        version = chat.version
        name = self.name_edit.text().strip()
        if chat.type == "custom" and name != chat.name:
            chat = await esh.update_chat(chat.id, version, name=name)
            version = chat.version
        wanted = {r.person_id + "/" + r.role: r for r in self.all_members()}
        gone = [r for key, r in self.original.items() if key not in wanted]
        for rule in (True, False):  # members of a rule stay out: the rule must not re-add them
            ids = sorted({r.person_id for r in gone if (r.source == "rule") == rule})
            if ids:
                removed = await esh.remove_members(chat.id, ids, exclude=rule, version=version)
                version = removed.version
        for role in ROLES:
            for source in ("rule", "manual"):
                ids = [
                    r.person_id
                    for key, r in wanted.items()
                    if key not in self.original and r.role == role and r.source == source
                ]
                if ids:
                    added = await esh.add_members(chat.id, ids, role, source, version=version)
                    version = added.version
        self.original = dict(wanted)
        return await esh.get_chat(chat.id)

    def conflict_text(self, current: Chat) -> str:
        """What changed behind the dialog's back: the chat as it is now on the server."""
        mine = self.chat
        lines = [self.tr("Чат изменил другой пользователь. Сейчас на сервере:")]
        fields = (
            (self.tr("Наименование чата"), "name"),
            (self.tr("Администратор чата"), "admin_name"),
            (self.tr("Количество участников"), "member_count"),
            (self.tr("Статус"), "status"),
        )
        for label, key in fields:
            now = getattr(current, key)
            was = getattr(mine, key) if mine else None
            mark = (
                ""
                if now == was
                else self.tr(" (было: {0})").format(was if was is not None else "—")
            )
            lines.append(f"{label}: {now if now is not None else '—'}{mark}")
        lines.append(
            self.tr(
                "«Загрузить заново» покажет чат как он есть сейчас (ваши изменения будут "
                "потеряны); «Перезаписать» сохранит ваши изменения поверх."
            )
        )
        return "\n".join(lines)

    async def _conflict(self, current: Chat) -> None:
        box = QMessageBox(self)
        box.setObjectName("conflictBox")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(self.tr("Чат изменён"))
        box.setText(self.conflict_text(current))
        reload = box.addButton(self.tr("Загрузить заново"), QMessageBox.ButtonRole.ResetRole)
        overwrite = box.addButton(self.tr("Перезаписать"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Отмена"), QMessageBox.ButtonRole.RejectRole)
        self.conflict_box = box
        clicked = await ask(box)
        self.conflict_box = None
        if not alive(self):
            return
        if clicked is reload:
            self.chat = current
            self.name_edit.setText(current.name)
            self.warned = None
            self.warning.hide()
            await self.refresh_members()
        elif clicked is overwrite and self.chat is not None:
            self.chat = replace_version(self.chat, current)
            self.warned = tuple(self.unlinked())  # already confirmed
            await self.save()


def replace_version(mine: Chat, current: Chat) -> Chat:
    """Our chat at the server's current version: the next write overwrites theirs."""
    return mine.model_copy(update={"version": current.version})


__all__ = ["ChatDialog", "MemberRow", "MemberTable", "ask", "teachable_groups"]
