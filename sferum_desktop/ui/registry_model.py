"""The «Чаты» registry table: a model over compact column storage, filtered and sorted there.

Like Anki's browser table (STYLE.md), rows live in plain column lists indexed by a storage
index, and the view sees `_visible`, storage indices in display order; nothing goes through
`QSortFilterProxyModel.lessThan`/`filterAcceptsRow` per row. Sorting is a permutation of storage
indices by precomputed keys; the search matches one casefolded haystack per row («ё» as «е»),
narrows within an earlier result while the user types and reuses earlier results as they
delete. Filtering and sorting are layout changes that carry the selection and the current row
along; reloads reset; single-chat changes are row inserts, moves, removals or one ranged
`dataChanged` with its roles.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import IntEnum
from itertools import accumulate, compress, repeat
from operator import and_, attrgetter, itemgetter, methodcaller
from typing import TYPE_CHECKING, Any, Final

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QByteArray,
    QCoreApplication,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from sferum_desktop.domain.chats import ChatType
from sferum_desktop.domain.naming import PARENTS_SUFFIX, ClassTitle, InvalidClassTitle

if TYPE_CHECKING:
    from sferum_desktop.api.esh_models import Chat as EshChat

    ChatLike = EshChat | Mapping[str, Any]
    ModelIndex = QModelIndex | QPersistentModelIndex

_CONTEXT: Final = "ChatRegistryModel"

# What a registry chat item carries that the table needs (esh-api.md), in storage order.
_FIELDS: Final = (
    "id",
    "name",
    "type",
    "class_id",
    "group_id",
    "subject",
    "admin_person_id",
    "admin_name",
    "member_count",
    "linked_member_count",
    "sferum_chat_id",
    "status",
    "version",
)

_CODES: Final[dict[str, str]] = {t.value: t.value for t in ChatType}
_STATUSES: Final[dict[str, str]] = {"active": "active", "archived": "archived"}
_AUTOMATIC: Final = frozenset(t.value for t in ChatType if t.is_automatic)

_DISPLAY: Final = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP: Final = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT: Final = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND: Final = int(Qt.ItemDataRole.ForegroundRole)
_USER: Final = int(Qt.ItemDataRole.UserRole)
_RIGHT: Final = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

_DIGITS: Final = re.compile(r"\d+")
# PySide6 emits a signal's overload with arguments only when it is picked by its signature.
_LAYOUT_SIGNATURE: Final = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")


class Column(IntEnum):
    """The registry's columns: the seed's six, then linked/total members."""

    NAME = 0  # «Наименование чата»
    TYPE = 1  # «Тип»
    CLASS = 2  # «Класс»
    SUBJECT = 3  # «Предмет»
    MEMBERS = 4  # «Количество участников»
    ADMIN = 5  # «Администратор чата»
    LINKED = 6  # «Связаны»: members linked to Sferum / all members


_NUMERIC: Final = frozenset((Column.MEMBERS, Column.LINKED))
_FLAGS: Final = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
_COLUMN_COUNT: Final = len(Column)


class ChatRole(IntEnum):
    """Named data roles: the same value for every column of a row."""

    ID = _USER + 1
    VERSION = _USER + 2
    TYPE = _USER + 3  # the API's code: staff | class | parents | subject | custom
    CLASS_ID = _USER + 4
    CLASS_TITLE = _USER + 5  # «3А», also for parents chats whose «Класс» cell is blank
    GROUP_ID = _USER + 6
    ADMIN_PERSON_ID = _USER + 7
    STATUS = _USER + 8  # active | archived
    SFERUM_CHAT_ID = _USER + 9
    IS_AUTOMATIC = _USER + 10
    MEMBER_COUNT = _USER + 11
    LINKED_COUNT = _USER + 12


# Which storage column answers each named role (IS_AUTOMATIC is derived from the type).
_ROLE_FIELDS: Final[dict[int, str]] = {
    ChatRole.ID: "ids",
    ChatRole.VERSION: "versions",
    ChatRole.TYPE: "types",
    ChatRole.CLASS_ID: "class_ids",
    ChatRole.CLASS_TITLE: "class_titles",
    ChatRole.GROUP_ID: "group_ids",
    ChatRole.ADMIN_PERSON_ID: "admin_ids",
    ChatRole.STATUS: "statuses",
    ChatRole.SFERUM_CHAT_ID: "sferum_ids",
    ChatRole.MEMBER_COUNT: "members",
    ChatRole.LINKED_COUNT: "linked",
}
_ROLE_NAMES: Final[dict[int, bytes]] = {
    ChatRole.ID: b"chatId",
    ChatRole.VERSION: b"version",
    ChatRole.TYPE: b"chatType",
    ChatRole.CLASS_ID: b"classId",
    ChatRole.CLASS_TITLE: b"classTitle",
    ChatRole.GROUP_ID: b"groupId",
    ChatRole.ADMIN_PERSON_ID: b"adminPersonId",
    ChatRole.STATUS: b"status",
    ChatRole.SFERUM_CHAT_ID: b"sferumChatId",
    ChatRole.IS_AUTOMATIC: b"isAutomatic",
    ChatRole.MEMBER_COUNT: b"memberCount",
    ChatRole.LINKED_COUNT: b"linkedCount",
}
_HANDLED: Final = frozenset({_DISPLAY, _TOOLTIP, _ALIGNMENT, _FOREGROUND, *ChatRole})
# The roles a change of each field touches, for `dataChanged`'s role list.
_SHOWN: Final = (_DISPLAY, _TOOLTIP)
_FIELD_ROLES: Final[dict[str, tuple[int, ...]]] = {
    "id": (ChatRole.ID,),
    "name": _SHOWN,
    "type": (*_SHOWN, ChatRole.TYPE, ChatRole.IS_AUTOMATIC),
    "class_id": (*_SHOWN, ChatRole.CLASS_ID, ChatRole.CLASS_TITLE),
    "group_id": (ChatRole.GROUP_ID,),
    "subject": _SHOWN,
    "admin_person_id": (ChatRole.ADMIN_PERSON_ID,),
    "admin_name": _SHOWN,
    "member_count": (*_SHOWN, ChatRole.MEMBER_COUNT),
    "linked_member_count": (*_SHOWN, ChatRole.LINKED_COUNT),
    "sferum_chat_id": (ChatRole.SFERUM_CHAT_ID,),
    "status": (*_SHOWN, _FOREGROUND, ChatRole.STATUS),
    "version": (ChatRole.VERSION,),
}


def fold(text: str) -> str:
    """Casefold for matching and sorting, with «ё» read as «е» as Russian readers do."""
    return text.casefold().replace("ё", "е")


def _pad_number(match: re.Match[str]) -> str:
    """A run of digits padded so that it compares by value."""
    return match.group().zfill(10)


def natural_key(text: str) -> str:
    """A sort key where «2А» < «10А»: folded, with every run of digits zero-padded."""
    return _DIGITS.sub(_pad_number, fold(text))


def _linked_key(linked: int, total: int) -> int:
    """«9 / 13» sorts by the linked count, then by the total."""
    return linked << 32 | total


def _none_to(values: list[Any], default: Any) -> list[Any]:
    """The list with None replaced (the API and a cache may leave optional fields empty)."""
    if None not in values:
        return values
    return [default if v is None else v for v in values]


def _read_one(chat: ChatLike) -> tuple[Any, ...]:
    """One chat's fields in `_FIELDS` order, from an API `Chat` or a mapping."""
    if isinstance(chat, Mapping):
        values = tuple(chat.get(f) for f in _FIELDS)
    else:
        values = tuple(getattr(chat, f, None) for f in _FIELDS)
    if not isinstance(values[0], int) or not values[1] or not values[2]:
        raise ValueError(f"a registry chat needs an id, a name and a type: {chat!r}")
    return values


def _read_column(chats: Sequence[ChatLike], field: str, mapping: bool) -> list[Any]:
    """One field of every chat in a single C-level pass (a mapping may leave a field out)."""
    if not mapping:
        return list(map(attrgetter(field), chats))
    try:
        return list(map(itemgetter(field), chats))  # type: ignore[arg-type]
    except KeyError:
        return list(map(methodcaller("get", field), chats))


def _read_columns(chats: Sequence[ChatLike]) -> list[list[Any]]:
    """The chats' fields as one list per field of `_FIELDS`, from API `Chat`s or mappings."""
    if not chats:
        return [[] for _ in _FIELDS]
    mapping = isinstance(chats[0], Mapping)
    try:
        return [_read_column(chats, field, mapping) for field in _FIELDS]
    except (AttributeError, TypeError):  # a mixed list: row by row
        return [list(column) for column in zip(*map(_read_one, chats), strict=True)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic collector off during a bulk build that allocates only acyclic objects."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _title_from_name(chat_type: str, name: str) -> str:
    """The class of an automatic or subject chat read off its name, when ESh gave no title."""
    head = name
    if chat_type == ChatType.PARENTS and name.endswith(PARENTS_SUFFIX):
        head = name[: -len(PARENTS_SUFFIX)]
    elif chat_type == ChatType.SUBJECT:
        head = name.split(" - ", 1)[0]
    try:
        return ClassTitle.parse(head).compact
    except InvalidClassTitle:
        return ""


class _Columns:
    """Column lists of the registry rows, indexed by storage index."""

    __slots__ = (
        "admin_ids",
        "admin_names",
        "class_ids",
        "class_titles",
        "group_ids",
        "hay",
        "ids",
        "linked",
        "members",
        "names",
        "sferum_ids",
        "statuses",
        "subjects",
        "types",
        "versions",
    )

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.names: list[str] = []
        self.types: list[str] = []
        self.class_ids: list[str | None] = []
        self.class_titles: list[str] = []
        self.group_ids: list[str | None] = []
        self.subjects: list[str] = []
        self.admin_ids: list[str | None] = []
        self.admin_names: list[str] = []
        self.members: list[int] = []
        self.linked: list[int] = []
        self.sferum_ids: list[int | None] = []
        self.statuses: list[str] = []
        self.versions: list[int] = []
        self.hay: list[str] = []  # fold("name\nadmin\nsubject\nclass"): what the search matches

    @classmethod
    def build(cls, chats: Sequence[ChatLike], titles: Mapping[str, str]) -> _Columns:
        """Read chats into columns, in C-level passes but for the rows needing a fallback."""
        c = cls()
        (ids, names, types, class_ids, group_ids, subjects, admin_ids, admin_names, members,
         linked, sferum_ids, statuses, versions) = _read_columns(chats)  # fmt: skip
        if None in ids or None in names or "" in names or None in types or "" in types:
            bad = next(
                chat
                for chat, values in zip(chats, zip(ids, names, types, strict=True), strict=True)
                if not all(v is not None and v != "" for v in values)
            )
            raise ValueError(f"a registry chat needs an id, a name and a type: {bad!r}")
        if not ids:
            return c
        c.ids, c.names, c.class_ids, c.group_ids = ids, names, class_ids, group_ids
        c.admin_ids, c.sferum_ids = admin_ids, sferum_ids
        # One shared str per known code, also turning ChatType members into plain str.
        c.types = list(map(_CODES.get, types, types))
        c.statuses = list(map(_STATUSES.get, statuses, statuses))
        c.subjects = _none_to(subjects, "")
        c.admin_names = _none_to(admin_names, "")
        c.members = _none_to(members, 0)
        c.linked = _none_to(linked, 0)
        c.versions = _none_to(versions, 0)
        c.class_titles = list(map(titles.get, class_ids, repeat("")))
        if unknown := set(class_ids).difference(titles, (None,)):
            for s in compress(range(len(ids)), map(unknown.__contains__, class_ids)):
                c.class_titles[s] = _title_from_name(c.types[s], names[s])
        joined = map("\n".join, zip(names, c.admin_names, c.subjects, c.class_titles, strict=True))
        c.hay = list(map(methodcaller("replace", "ё", "е"), map(str.casefold, joined)))
        return c

    def compact(self, keep: list[bool]) -> None:
        """Drop the rows whose `keep` is False, in place."""
        for name in self.__slots__:
            values = getattr(self, name)
            values[:] = compress(values, keep)

    def append(self, row: tuple[Any, ...], title: str) -> None:
        """Add one read row at the end of storage."""
        for name in self.__slots__:
            getattr(self, name).append(None)
        self.set(len(self.ids) - 1, row, title)

    def set(self, s: int, row: tuple[Any, ...], title: str) -> None:
        """Overwrite storage row `s` with a read row."""
        (chat_id, name, chat_type, class_id, group_id, subject, admin_id, admin_name, members,
         linked, sferum_id, status, version) = row  # fmt: skip
        self.ids[s] = chat_id
        self.names[s] = name
        self.types[s] = _CODES.get(chat_type, str(chat_type))
        self.class_ids[s] = class_id
        self.class_titles[s] = title
        self.group_ids[s] = group_id
        self.subjects[s] = subject or ""
        self.admin_ids[s] = admin_id
        self.admin_names[s] = admin_name or ""
        self.members[s] = members or 0
        self.linked[s] = linked or 0
        self.sferum_ids[s] = sferum_id
        self.statuses[s] = _STATUSES.get(status, str(status))
        self.versions[s] = version or 0
        self.hay[s] = fold("\n".join((name, self.admin_names[s], self.subjects[s], title)))

    def row(self, s: int) -> tuple[Any, ...]:
        """Storage row `s` in `_FIELDS` order (normalised as stored)."""
        return (
            self.ids[s], self.names[s], self.types[s], self.class_ids[s], self.group_ids[s],
            self.subjects[s] or None, self.admin_ids[s], self.admin_names[s] or None,
            self.members[s], self.linked[s], self.sferum_ids[s], self.statuses[s], self.versions[s],
        )  # fmt: skip


class ChatRegistryModel(QAbstractTableModel):
    """The registry's chats as a flat table; filter and sort run on the column storage."""

    counts_changed = Signal(int, int)  # visible rows, all rows: for the footer

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._c = _Columns()
        self._index: dict[int, int] = {}  # chat id → storage index
        self._titles: dict[str, str] = {}  # class id → «3А»
        self._order: list[int] = []  # all storage indices in display order
        self._visible: list[int] = []  # those that pass the filter, in display order
        self._sort_column = -1  # -1: the registry's own order (creation, as ESh lists it)
        self._descending = False
        self._keys: dict[int, list[Any]] = {}  # sort keys per column, by storage index
        self._name_order: list[int] | None = None  # storage indices by name: ties' base order
        self._needle = ""
        self._types: frozenset[str] | None = None
        self._classes: frozenset[str] | None = None
        # Search results by folded text for the current types, classes, order and rows; the
        # list shown is one of them, so anything that changes rows or order clears this first.
        self._results: dict[str, list[int]] = {}
        self._headers: list[str] = []
        self._type_labels: dict[str, str] = {}
        self.retranslate()

    # --- texts

    def retranslate(self) -> None:
        """(Re)load the translated header and type labels."""
        tr = QCoreApplication.translate
        self._headers = [
            tr(_CONTEXT, "Наименование чата"),
            tr(_CONTEXT, "Тип"),
            tr(_CONTEXT, "Класс"),
            tr(_CONTEXT, "Предмет"),
            tr(_CONTEXT, "Количество участников"),
            tr(_CONTEXT, "Администратор чата"),
            tr(_CONTEXT, "Связаны"),
        ]
        self._type_labels = {
            ChatType.STAFF.value: tr(_CONTEXT, "Учительский чат"),
            ChatType.CLASS.value: tr(_CONTEXT, "Классный чат"),
            ChatType.PARENTS.value: tr(_CONTEXT, "Родительский чат"),
            ChatType.SUBJECT.value: tr(_CONTEXT, "Предмет"),
            ChatType.CUSTOM.value: tr(_CONTEXT, "Другой"),
        }
        self._keys.pop(Column.TYPE, None)
        if self._sort_column == Column.TYPE:
            self._resort()  # the labels are what the type column sorts by
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, _COLUMN_COUNT - 1)
        if self._visible:
            last = self.index(len(self._visible) - 1, _COLUMN_COUNT - 1)
            self.dataChanged.emit(self.index(0, 0), last, [_DISPLAY, _TOOLTIP])

    def type_labels(self) -> dict[str, str]:
        """The chat types' labels by API code, in the order a type filter lists them."""
        return dict(self._type_labels)

    def footer_text(self) -> str:
        """«Показано записей 1 - N из M» (N shown after filtering, M in the registry)."""
        shown, total = len(self._visible), len(self._c.ids)
        if not shown:
            text = QCoreApplication.translate(_CONTEXT, "Показано записей 0 из {total}")
            return text.format(total=_count(total))
        text = QCoreApplication.translate(_CONTEXT, "Показано записей 1 - {shown} из {total}")
        return text.format(shown=_count(shown), total=_count(total))

    # --- Qt model interface

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _COLUMN_COUNT

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Selectable, never editable in place (the dialog edits)."""
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _COLUMN_COUNT:
            return super().headerData(section, orientation, role)
        role = int(role)
        if role == _DISPLAY:
            return self._headers[section]
        if role == _TOOLTIP and section == Column.LINKED:
            return QCoreApplication.translate(
                _CONTEXT, "Связали аккаунт со Сферумом / всего участников"
            )
        if role == _ALIGNMENT and section in _NUMERIC:
            return _RIGHT
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names.update({role: QByteArray(name) for role, name in _ROLE_NAMES.items()})
        return names

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        """A cell's value for a role; None for the roles not handled."""
        # Asked for 7 roles per visible cell and paint: font, decoration, check state and
        # background are not answered here, so they leave first.
        if role not in _HANDLED:
            return None
        row = index.row()
        if not 0 <= row < len(self._visible):
            return None
        if role == _DISPLAY:
            return self._display(index.column(), self._visible[row])
        if role == _ALIGNMENT:
            return _RIGHT if index.column() in _NUMERIC else None
        s = self._visible[row]
        c = self._c
        if role == _FOREGROUND:
            if c.statuses[s] != "archived":
                return None
            return QGuiApplication.palette().brush(
                QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text
            )
        if role == _TOOLTIP:
            return self._tooltip(index.column(), s)
        if role == ChatRole.IS_AUTOMATIC:
            return c.types[s] in _AUTOMATIC
        return getattr(c, _ROLE_FIELDS[role])[s]

    def _display(self, column: int, s: int) -> Any:
        """What a cell shows: text, or a number for «Количество участников»."""
        c = self._c
        if column == Column.NAME:
            return c.names[s]
        if column == Column.TYPE:
            code = c.types[s]
            return self._type_labels.get(code, code)
        if column == Column.CLASS:
            return self._class_text(s)
        if column == Column.SUBJECT:
            return c.subjects[s]
        if column == Column.MEMBERS:
            return c.members[s]
        if column == Column.ADMIN:
            return c.admin_names[s]
        if column == Column.LINKED:
            return f"{c.linked[s]} / {c.members[s]}"
        return None

    def _class_text(self, s: int) -> str:
        """«3А»; «-» for the staff chat and blank for a parents chat, as the seed's table."""
        code = self._c.types[s]
        if code == ChatType.STAFF:
            return "-"
        if code == ChatType.PARENTS:
            return ""
        return self._c.class_titles[s]

    def _tooltip(self, column: int, s: int) -> str | None:
        """A cell's tooltip where it adds something."""
        c = self._c
        tr = QCoreApplication.translate
        if column == Column.NAME:
            if c.statuses[s] == "archived":
                return tr(_CONTEXT, "{name} (архивный чат)").format(name=c.names[s])
            return c.names[s]
        if column == Column.CLASS and c.class_titles[s]:
            return tr(_CONTEXT, "Класс {title}").format(title=c.class_titles[s])
        if column == Column.LINKED:
            text = tr(_CONTEXT, "Связали аккаунт со Сферумом: {linked} из {total}")
            return text.format(linked=c.linked[s], total=c.members[s])
        if column in (Column.SUBJECT, Column.ADMIN):
            return self._display(column, s) or None
        return None

    # --- loading and changes

    def set_rows(
        self, chats: Sequence[ChatLike], class_titles: Mapping[str, str] | None = None
    ) -> None:
        """Replace every row (a reload); keeps the current sort and filter."""
        titles = self._titles if class_titles is None else dict(class_titles)
        with _gc_paused():  # 100 000 rows of new strings and lists, none in a cycle
            columns = _Columns.build(chats, titles)  # may raise: before the reset begins
            index = dict(zip(columns.ids, range(len(columns.ids)), strict=True))
            if len(index) != len(columns.ids):
                # The last item of an id wins (a later page of a listing is the newer one).
                columns.compact([index[chat_id] == s for s, chat_id in enumerate(columns.ids)])
                index = dict(zip(columns.ids, range(len(columns.ids)), strict=True))
        self._titles = titles
        self.beginResetModel()
        self._c, self._index = columns, index
        self._keys.clear()
        self._name_order = None
        self._results.clear()
        self._order = self._sorted_order()
        self._visible = self._scan(self._needle)
        self._remember(self._needle, self._visible)
        self.endResetModel()
        self.counts_changed.emit(self.visible_count, self.total_count)

    def upsert(self, chat: ChatLike, class_title: str | None = None) -> None:
        """Add a chat or update it in place, with row-level signals (a save, a delete undone)."""
        row = _read_one(chat)
        class_id = row[3]
        if class_title is not None and class_id:
            self._titles[class_id] = class_title
        title = self._titles.get(class_id, "") if class_id else ""
        if class_id and not title:
            title = _title_from_name(_CODES.get(row[2], str(row[2])), row[1])
        s = self._index.get(row[0])
        before = (self.visible_count, self.total_count)
        self._results.clear()
        if s is None:
            self._insert(row, title)
        else:
            self._update(s, row, title)
        if before != (self.visible_count, self.total_count):
            self.counts_changed.emit(self.visible_count, self.total_count)

    def _insert(self, row: tuple[Any, ...], title: str) -> None:
        """Append a new chat to storage and show it at its sorted place if it passes."""
        s = len(self._c.ids)
        self._c.append(row, title)
        self._index[row[0]] = s
        self._update_keys(s, appended=True)
        self._name_order = None
        self._order.insert(self._position(self._order, s), s)
        if self._matches(s):
            at = self._position(self._visible, s)
            self.beginInsertRows(QModelIndex(), at, at)
            self._visible.insert(at, s)
            self.endInsertRows()

    def _update(self, s: int, row: tuple[Any, ...], title: str) -> None:
        """Overwrite a chat; its row moves, leaves, appears or reports what changed."""
        old = self._c.row(s)
        old_title = self._c.class_titles[s]
        self._c.set(s, row, title)
        new = self._c.row(s)
        if old == new and old_title == title:
            return
        touched = {r for f, a, b in zip(_FIELDS, old, new, strict=True) if a != b
                   for r in _FIELD_ROLES[f]}  # fmt: skip
        if old_title != title:
            touched.update((*_SHOWN, ChatRole.CLASS_TITLE))
        roles = sorted(touched)
        self._update_keys(s)
        self._name_order = None
        self._order.remove(s)
        self._order.insert(self._position(self._order, s), s)
        was = _find(self._visible, s)
        now_matches = self._matches(s)
        if was >= 0 and not now_matches:
            self.beginRemoveRows(QModelIndex(), was, was)
            del self._visible[was]
            self.endRemoveRows()
        elif was < 0 and now_matches:
            at = self._position(self._visible, s)
            self.beginInsertRows(QModelIndex(), at, at)
            self._visible.insert(at, s)
            self.endInsertRows()
        elif was >= 0:
            at = self._position(self._visible, s, skip=was)
            if at != was:
                # beginMoveRows counts the destination before the move takes the row out.
                self.beginMoveRows(QModelIndex(), was, was, QModelIndex(), at + (at > was))
                del self._visible[was]
                self._visible.insert(at, s)
                self.endMoveRows()
            self.dataChanged.emit(self.index(at, 0), self.index(at, _COLUMN_COUNT - 1), roles)

    def remove(self, chat_ids: Iterable[int]) -> None:
        """Drop chats by id, one `rowsRemoved` per run of adjacent visible rows."""
        doomed = {self._index[i] for i in chat_ids if i in self._index}
        if not doomed:
            return
        self._results.clear()
        rows = list(compress(range(len(self._visible)), map(doomed.__contains__, self._visible)))
        runs = _runs(rows)
        if len(runs) > 64:  # scattered across a big table: one layout change is cheaper
            kept = [s for s in self._visible if s not in doomed]
            self._relayout(kept, QAbstractItemModel.LayoutChangeHint.NoLayoutChangeHint)
        else:
            for first, last in reversed(runs):
                self.beginRemoveRows(QModelIndex(), first, last)
                del self._visible[first : last + 1]
                self.endRemoveRows()
        keep = [True] * len(self._c.ids)
        for s in doomed:
            keep[s] = False
        self._compact(keep)
        self.counts_changed.emit(self.visible_count, self.total_count)

    def _compact(self, keep: list[bool]) -> None:
        """Close the storage gaps of dropped rows, renumbering every storage index."""
        new_index = list(accumulate(keep, initial=-1))[1:]  # valid where keep[s]
        self._c.compact(keep)
        for key, values in self._keys.items():
            if values is not self._c.members:
                self._keys[key] = list(compress(values, keep))
        self._order = list(map(new_index.__getitem__, filter(keep.__getitem__, self._order)))
        self._visible = list(map(new_index.__getitem__, filter(keep.__getitem__, self._visible)))
        self._index = dict(zip(self._c.ids, range(len(self._c.ids)), strict=True))
        self._name_order = None

    # --- filtering

    @property
    def visible_count(self) -> int:
        """Rows shown after filtering."""
        return len(self._visible)

    @property
    def total_count(self) -> int:
        """Rows in the registry."""
        return len(self._c.ids)

    @property
    def filter_text(self) -> str:
        """The search text as matched (folded, spaces collapsed)."""
        return self._needle

    def set_filter(
        self,
        text: str = "",
        types: Collection[str] | None = None,
        class_ids: Collection[str] | None = None,
    ) -> None:
        """Show the chats whose name, administrator, subject or class contains `text`.

        `types` (API codes) and `class_ids` narrow further, None or empty meaning all; a class
        filter leaves out the chats of no class (the staff room, custom chats). Typing
        narrows: a text containing an earlier one is searched for within that one's result
        (when it is small), and deleting back to an earlier text reuses its result.
        """
        needle = fold(" ".join(text.split()))
        types_set = frozenset(map(str, types)) if types else None
        classes_set = frozenset(class_ids) if class_ids else None
        if (types_set, classes_set) != (self._types, self._classes):
            self._results.clear()
        elif needle == self._needle:
            return
        self._needle, self._types, self._classes = needle, types_set, classes_set
        visible = self._results.get(needle)
        if visible is None:
            visible = self._search(needle)
            self._remember(needle, visible)
        if visible != self._visible:
            self._relayout(visible, QAbstractItemModel.LayoutChangeHint.NoLayoutChangeHint)
            self.counts_changed.emit(self.visible_count, self.total_count)

    def _search(self, needle: str) -> list[int]:
        """The rows passing the filter, from the smallest remembered superset if it is small."""
        base: list[int] | None = None
        for text, rows in self._results.items():
            if text in needle and (base is None or len(rows) < len(base)):
                base = rows
        # Reading a few rows scattered over memory beats one sequential pass over all.
        if base is not None and len(base) * 3 < len(self._c.ids):
            hay = self._c.hay
            return [s for s in base if needle in hay[s]]
        return self._scan(needle)

    def _scan(self, needle: str) -> list[int]:
        """The rows passing the filter: one sequential pass per condition, then the order."""
        c = self._c
        masks: list[list[bool]] = []
        if self._types is not None:
            masks.append(list(map(self._types.__contains__, c.types)))
        if self._classes is not None:
            masks.append(list(map(self._classes.__contains__, c.class_ids)))
        if needle:
            masks.append([needle in h for h in c.hay])
        if not masks:
            return list(self._order)
        mask = masks[0]
        for other in masks[1:]:
            mask = list(map(and_, mask, other))
        if self._sort_column < 0:  # ESh's order is the storage order
            return list(compress(range(len(mask)), mask))
        return list(compress(self._order, map(mask.__getitem__, self._order)))

    def _remember(self, needle: str, rows: list[int]) -> None:
        """Keep a search result for deleting back to it, within a bounded number of rows."""
        self._results[needle] = rows
        budget = 4 * len(self._c.ids) + 16
        while len(self._results) > 1 and (
            len(self._results) > 32 or sum(map(len, self._results.values())) > budget
        ):
            del self._results[next(iter(self._results))]

    def _matches(self, s: int) -> bool:
        """Whether storage row `s` passes the current filter."""
        c = self._c
        return (
            (self._types is None or c.types[s] in self._types)
            and (self._classes is None or c.class_ids[s] in self._classes)
            and self._needle in c.hay[s]
        )

    def classes(self) -> list[tuple[str, str]]:
        """(class id, «3А») of the classes that have chats, in natural order: the class filter."""
        pairs = dict(zip(self._c.class_ids, self._c.class_titles, strict=True))
        found = [(cid, title) for cid, title in pairs.items() if cid is not None]
        return sorted(found, key=lambda pair: (natural_key(pair[1]), pair[0]))

    # --- sorting

    @property
    def sort_column(self) -> int:
        """The column sorted by, -1 for the registry's own order."""
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        """The current sort direction."""
        if self._descending:
            return Qt.SortOrder.DescendingOrder
        return Qt.SortOrder.AscendingOrder

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column (numbers numerically, texts naturally); -1 restores ESh's order.

        Stable: rows with equal keys stay ordered by name, then by the registry's order.
        """
        column = int(column) if 0 <= int(column) < _COLUMN_COUNT else -1
        descending = column >= 0 and order == Qt.SortOrder.DescendingOrder
        if (column, descending) == (self._sort_column, self._descending):
            return
        self._sort_column, self._descending = column, descending
        self._resort()

    def _resort(self) -> None:
        """Put the rows in the current sort's order, keeping the filter and the selection."""
        self._results.clear()
        new_order = self._sorted_order()
        if len(self._visible) == len(new_order):
            visible = list(new_order)
        else:
            shown = set(self._visible)
            visible = list(compress(new_order, map(shown.__contains__, new_order)))
        self._relayout(visible, QAbstractItemModel.LayoutChangeHint.VerticalSortHint, new_order)
        self._remember(self._needle, visible)

    def _sorted_order(self) -> list[int]:
        """All storage indices in the current sort's order."""
        n = len(self._c.ids)
        if self._sort_column < 0:
            return list(range(n))
        keys = self._sort_keys(self._sort_column)
        base: Iterable[int] = range(n) if self._sort_column == Column.NAME else self._by_name()
        return sorted(base, key=keys.__getitem__, reverse=self._descending)

    def _by_name(self) -> list[int]:
        """Storage indices by name: the base order that keeps equal keys by name."""
        if self._name_order is None:
            names = self._sort_keys(Column.NAME)
            self._name_order = sorted(range(len(names)), key=names.__getitem__)
        return self._name_order

    def _sort_keys(self, column: int) -> list[Any]:
        """Sort keys of a column by storage index, computed on first use and kept up to date."""
        if column == Column.MEMBERS:
            return self._c.members
        keys = self._keys.get(column)
        if keys is None:
            keys = self._keys[column] = list(
                map(self._key_function(column), range(len(self._c.ids)))
            )
        return keys

    def _key_function(self, column: int) -> Callable[[int], Any]:
        """How to compute one storage row's sort key in a column."""
        c = self._c
        if column == Column.NAME:
            return lambda s: natural_key(c.names[s])
        if column == Column.TYPE:
            labels = {code: fold(label) for code, label in self._type_labels.items()}
            return lambda s: labels.get(c.types[s]) or fold(c.types[s])
        if column == Column.CLASS:
            return lambda s: natural_key(self._class_text(s))
        if column == Column.SUBJECT:
            return lambda s: natural_key(c.subjects[s])
        if column == Column.ADMIN:
            return lambda s: natural_key(c.admin_names[s])
        if column == Column.LINKED:
            return lambda s: _linked_key(c.linked[s], c.members[s])
        return lambda s: c.members[s]

    def _update_keys(self, s: int, appended: bool = False) -> None:
        """Recompute a row's keys in every column whose keys are kept."""
        for column, keys in self._keys.items():
            key = self._key_function(column)(s)
            if appended:
                keys.append(key)
            else:
                keys[s] = key

    def _precedes(self, a: int, b: int) -> bool:
        """Whether storage row `a` comes before `b` in the current sort (a total order)."""
        column = self._sort_column
        if column >= 0:
            keys = self._sort_keys(column)
            ka, kb = keys[a], keys[b]
            if ka != kb:
                return bool(ka > kb) if self._descending else bool(ka < kb)
            if column != Column.NAME:
                names = self._sort_keys(Column.NAME)
                if names[a] != names[b]:
                    return bool(names[a] < names[b])
        return a < b

    def _position(self, rows: list[int], s: int, skip: int = -1) -> int:
        """Where `s` goes in the sorted `rows` (read as if `rows[skip]` were absent)."""
        lo, hi = 0, len(rows) - (skip >= 0)
        while lo < hi:
            mid = (lo + hi) // 2
            other = rows[mid + (0 <= skip <= mid)]
            if self._precedes(other, s):
                lo = mid + 1
            else:
                hi = mid
        return lo

    # --- layout changes that keep the selection and the current row

    def _relayout(
        self,
        visible: list[int],
        hint: QAbstractItemModel.LayoutChangeHint,
        order: list[int] | None = None,
    ) -> None:
        """Show `visible` instead, moving persistent indices (selection, current row) along."""
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], hint)  # type: ignore[index]
        persistent = self.persistentIndexList()
        old = self._visible
        self._visible = visible
        if order is not None:
            self._order = order
        if persistent:
            targets = [old[p.row()] for p in persistent]
            wanted = set(targets)  # the view's few (current, hover) or a selection's rows
            if len(wanted) > len(visible) // 4:
                where = dict(zip(visible, range(len(visible)), strict=True))
            else:  # one C-level pass over the rows shown, however many indices there are
                found = compress(range(len(visible)), map(wanted.__contains__, visible))
                where = {visible[r]: r for r in found}
            rows = [where.get(s, -1) for s in targets]
            moved = [
                self.index(r, p.column()) if r >= 0 else QModelIndex()
                for r, p in zip(rows, persistent, strict=True)
            ]
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged[_LAYOUT_SIGNATURE].emit([], hint)  # type: ignore[index]

    # --- ids and rows

    def chat_id(self, row: int) -> int:
        """The chat id shown in a row."""
        return self._c.ids[self._visible[row]]

    def chat_ids(self, rows: Iterable[int]) -> list[int]:
        """The chat ids shown in rows, in the given order."""
        ids, visible = self._c.ids, self._visible
        return [ids[visible[r]] for r in rows]

    def row_of(self, chat_id: int) -> int:
        """The row showing a chat, -1 when it is filtered out or unknown."""
        s = self._index.get(chat_id)
        return -1 if s is None else _find(self._visible, s)

    def rows_of(self, chat_ids: Iterable[int]) -> list[int]:
        """The rows showing these chats (filtered-out ones left out), ascending."""
        wanted = {self._index[i] for i in chat_ids if i in self._index}
        return list(compress(range(len(self._visible)), map(wanted.__contains__, self._visible)))


def _find(rows: list[int], s: int) -> int:
    """The position of `s` in `rows`, -1 if absent."""
    try:
        return rows.index(s)
    except ValueError:
        return -1


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Ascending rows grouped into (first, last) runs of adjacent rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def _count(n: int) -> str:
    """A count as Russian typography writes it: «13», «1000», «100 000» (no-break space)."""
    return f"{n:,}".replace(",", "\u00a0") if n >= 10_000 else str(n)


class ChatRegistryView(QTableView):
    """The registry table: compact fixed-height rows, interactive columns, sorting, multi-select."""

    _WIDTHS: Final = {  # in average characters; interactive, remembered by the window later
        Column.NAME: 30,
        Column.TYPE: 17,
        Column.CLASS: 7,
        Column.SUBJECT: 18,
        Column.MEMBERS: 12,
        Column.ADMIN: 30,
        Column.LINKED: 9,
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = self.verticalHeader()
        rows.setVisible(False)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        columns = self.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        columns.setHighlightSections(False)
        columns.setSortIndicatorShown(True)
        columns.setSortIndicatorClearable(True)  # a third click returns to ESh's order
        columns.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        """Attach a model, then size the columns and enable sorting by header clicks."""
        super().setModel(model)
        if model is None:
            return
        header = self.horizontalHeader()
        metrics = self.fontMetrics()
        char = metrics.averageCharWidth()
        for column, chars in self._WIDTHS.items():
            if column < model.columnCount():
                label = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
                # Room for the label and the sort arrow, never measured over the rows.
                wide = max(chars * char, metrics.horizontalAdvance(label) + 3 * char)
                header.resizeSection(column, wide)
        self.setSortingEnabled(True)

    def registry_model(self) -> ChatRegistryModel:
        """The attached registry model (through a proxy is not supported)."""
        model = self.model()
        assert isinstance(model, ChatRegistryModel), "ChatRegistryView needs a ChatRegistryModel"
        return model

    def selected_rows(self) -> list[int]:
        """Selected rows, ascending, read from the selection's ranges (fast on select-all)."""
        rows: set[int] = set()
        for selected in self.selectionModel().selection():  # type: ignore[attr-defined]
            rows.update(range(selected.top(), selected.bottom() + 1))
        return sorted(rows)

    def selected_chat_ids(self) -> list[int]:
        """Ids of the selected chats, in display order."""
        return self.registry_model().chat_ids(self.selected_rows())

    def select_chat_ids(self, chat_ids: Iterable[int]) -> None:
        """Select these chats (those shown), e.g. to restore a selection after a reload."""
        model = self.registry_model()
        selection = QItemSelection()
        last = model.columnCount() - 1
        for first, end in _runs(model.rows_of(chat_ids)):
            selection.select(model.index(first, 0), model.index(end, last))
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.selectionModel().select(selection, flags)
