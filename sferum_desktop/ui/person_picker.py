"""The person picker: search by name, filters by class and role, multi-select; quick on big rosters.

Rows live in plain lists with one casefolded haystack each; filtering is a list scan that a
model reset shows (no proxy model, no per-row Python calls from Qt beyond `data`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from sferum_desktop.domain.roster import RosterSnapshot

ROLE_STAFF: Final = "staff"
ROLE_STUDENT: Final = "student"
ROLE_PARENT: Final = "parent"


@dataclass(frozen=True)
class Candidate:
    """A person the picker offers: id, «Ф.И.О.», role in a chat, class titles."""

    person_id: str
    full_name: str
    role: str  # staff | student | parent
    classes: tuple[str, ...] = ()
    blocked: bool = False
    linked: bool = False


def candidates(roster: RosterSnapshot, school_id: str | None = None) -> list[Candidate]:
    """Everyone of the school(s) once per role, sorted by name: staff, students, parents."""
    schools = [school_id] if school_id else sorted(roster.schools)
    titles = {cid: c.title for cid, c in roster.classes.items()}
    found: dict[tuple[str, str], Candidate] = {}

    def add(person_id: str, role: str, classes: Sequence[str]) -> None:
        person = roster.people.get(person_id)
        if person is None or (person_id, role) in found:
            return
        found[(person_id, role)] = Candidate(
            person_id,
            person.full_name,
            role,
            tuple(sorted({titles[c] for c in classes if c in titles})),
            person.blocked,
            person_id in roster.links,
        )

    for school in schools:
        for person_id in roster.staff.get(school, ()):
            add(person_id, ROLE_STAFF, list(roster.teacher_classes.get(person_id, ())))
        for class_id in roster.classes_by_school.get(school, ()):
            for student in roster.class_students.get(class_id, ()):
                add(student, ROLE_STUDENT, [class_id])
                for parent in roster.guardians.get(student, ()):
                    add(parent, ROLE_PARENT, [class_id])
    return sorted(found.values(), key=lambda c: (c.full_name.casefold(), c.role))


def _fold(text: str) -> str:
    return text.casefold().replace("ё", "е")


class CandidateModel(QAbstractTableModel):
    """The picker's rows: «Ф.И.О.», role, classes; `set_filter` narrows by a list scan."""

    def __init__(self, people: Sequence[Candidate], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._all = list(people)
        self._hay = [
            f"{c.full_name} {' '.join(c.classes)}".casefold().replace("ё", "е") for c in people
        ]
        self._rows = list(range(len(people)))
        self._roles = {
            ROLE_STAFF: self.tr("Сотрудник"),
            ROLE_STUDENT: self.tr("Ученик"),
            ROLE_PARENT: self.tr("Родитель"),
        }
        self._headers = [self.tr("Ф.И.О."), self.tr("Роль"), self.tr("Класс")]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        person = self._all[self._rows[index.row()]]
        if index.column() == 0:
            return person.full_name
        if index.column() == 1:
            return self._roles.get(person.role, person.role)
        return ", ".join(person.classes)

    def candidate(self, row: int) -> Candidate:
        """The person shown in `row`."""
        return self._all[self._rows[row]]

    def class_titles(self) -> list[str]:
        """Every class title among the people, for the class filter."""
        return sorted({t for c in self._all for t in c.classes}, key=lambda t: (len(t), t))

    def set_filter(self, text: str, class_title: str | None, role: str | None) -> None:
        """Show the people whose name contains `text`, of that class and role (None: any)."""
        needle = _fold(" ".join(text.split()))
        rows = [
            i
            for i, hay in enumerate(self._hay)
            if needle in hay
            and (role is None or self._all[i].role == role)
            and (class_title is None or class_title in self._all[i].classes)
        ]
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()


class PersonPicker(QDialog):
    """«Выбор участников»: pick one or many people; `chosen()` after `exec()`."""

    def __init__(
        self,
        people: Sequence[Candidate],
        *,
        role: str | None = None,
        lock_role: bool = False,
        single: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("personPicker")
        self.setWindowTitle(self.tr("Выбор участников"))
        self.resize(640, 480)
        self.model = CandidateModel(people, self)
        self.search = QLineEdit()
        self.search.setObjectName("pickerSearch")
        self.search.setPlaceholderText(self.tr("Поиск по Ф.И.О."))
        self.search.setClearButtonEnabled(True)
        self.class_filter = QComboBox()
        self.class_filter.addItem(self.tr("Все классы"), None)
        for title in self.model.class_titles():
            self.class_filter.addItem(title, title)
        self.role_filter = QComboBox()
        self.role_filter.addItem(self.tr("Все роли"), None)
        for code, label in (
            (ROLE_STAFF, self.tr("Сотрудники")),
            (ROLE_STUDENT, self.tr("Ученики")),
            (ROLE_PARENT, self.tr("Родители")),
        ):
            self.role_filter.addItem(label, code)
        if role is not None:
            self.role_filter.setCurrentIndex(max(0, self.role_filter.findData(role)))
        self.role_filter.setEnabled(not lock_role)
        self.table = QTableView()
        self.table.setObjectName("pickerTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(
            QAbstractItemView.SelectionMode.SingleSelection
            if single
            else QAbstractItemView.SelectionMode.ExtendedSelection
        )
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self.accept)
        buttons = QDialogButtonBox()
        self.ok_button = buttons.addButton(
            self.tr("Выбрать"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        buttons.addButton(self.tr("Отмена"), QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(QLabel(self.tr("Класс:")))
        filters.addWidget(self.class_filter)
        filters.addWidget(QLabel(self.tr("Роль:")))
        filters.addWidget(self.role_filter)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self._refilter)
        self.class_filter.currentIndexChanged.connect(self._refilter)
        self.role_filter.currentIndexChanged.connect(self._refilter)
        QShortcut(QKeySequence.StandardKey.Find, self, self.search.setFocus)
        self._refilter()
        self.search.setFocus()

    def _refilter(self) -> None:
        self.model.set_filter(
            self.search.text(), self.class_filter.currentData(), self.role_filter.currentData()
        )

    def select_names(self, names: Sequence[str]) -> None:
        """Select the shown people with these names (tests, keyboard-free automation)."""
        selection = self.table.selectionModel()
        for row in range(self.model.rowCount()):
            if self.model.candidate(row).full_name in names:
                selection.select(
                    self.model.index(row, 0),
                    selection.SelectionFlag.Select | selection.SelectionFlag.Rows,
                )

    def chosen(self) -> list[Candidate]:
        """The selected people, in the table's order."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.candidate(r) for r in rows]
