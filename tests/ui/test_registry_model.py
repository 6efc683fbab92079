"""The «Чаты» registry table model: the seed's table, filters, sorting, changes, roles, footer."""

from __future__ import annotations

import random
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyleOptionViewItem
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sferum_desktop.api.esh_models import Chat as EshChat
from sferum_desktop.domain.chats import ChatType
from sferum_desktop.ui.registry_model import (
    ChatRegistryModel,
    ChatRegistryView,
    ChatRole,
    Column,
    fold,
    natural_key,
)

PAVLOVA = "Павлова Елена Владимировна"
CLASS_TITLES = {"cls-3": "3А", "cls-2": "2А", "cls-1": "1А"}

# The registry table of sferum-esh-guide.ru.txt, cell for cell (its blank cells are empty).
SEED_HEADER = "Наименование чата\tТип\tКласс\tПредмет\tКоличество участников\tАдминистратор чата"
SEED_TABLE = """\
Учительская\tУчительский чат\t-\t\t13\tПавлова Елена Владимировна
3 А\tКлассный чат\t3А\t\t3\tПавлова Елена Владимировна
3 А Родители\tРодительский чат\t\t\t3\tПавлова Елена Владимировна
2 А\tКлассный чат\t2А\t\t3\tПавлова Елена Владимировна
2 А Родители\tРодительский чат\t\t\t3\tПавлова Елена Владимировна
1 А\tКлассный чат\t1А\t\t5\tПавлова Елена Владимировна
1 А Родители\tРодительский чат\t\t\t3\tПавлова Елена Владимировна"""
SEED_FOOTER = "Показано записей 1 - 7 из 7"


def chat(chat_id: int, name: str, chat_type: str, **fields: Any) -> dict[str, Any]:
    """A registry chat item as the API (or a cache) gives it."""
    item: dict[str, Any] = {
        "id": chat_id,
        "name": name,
        "type": chat_type,
        "school_id": "org-001",
        "class_id": None,
        "group_id": None,
        "subject": None,
        "admin_person_id": "usr-000001",
        "admin_name": PAVLOVA,
        "member_count": 3,
        "linked_member_count": 0,
        "sferum_chat_id": chat_id,
        "status": "active",
        "version": 1,
        "updated_at": "2024-09-01T08:00:00Z",
    }
    item.update(fields)
    return item


def seed_chats() -> list[dict[str, Any]]:
    """The seed's seven chats in ESh's order."""
    return [
        chat(1, "Учительская", "staff", member_count=13, linked_member_count=9),
        chat(2, "3 А", "class", class_id="cls-3", linked_member_count=2),
        chat(3, "3 А Родители", "parents", class_id="cls-3", linked_member_count=1),
        chat(4, "2 А", "class", class_id="cls-2", linked_member_count=3),
        chat(5, "2 А Родители", "parents", class_id="cls-2"),
        chat(6, "1 А", "class", class_id="cls-1", member_count=5, linked_member_count=4),
        chat(7, "1 А Родители", "parents", class_id="cls-1"),
    ]


def more_chats() -> list[dict[str, Any]]:
    """Chats beyond the seed: subject and custom ones, a tenth grade, ё in names."""
    return [
        chat(8, "10 А", "class", class_id="cls-10", member_count=28, admin_name="Фёдорова Анна"),
        chat(
            9,
            "1А - Русский язык",
            "subject",
            class_id="cls-1",
            group_id="grp-1",
            subject="Русский язык",
            member_count=6,
            linked_member_count=6,
        ),
        chat(10, "Ёлочка: новогодний концерт", "custom", member_count=40, admin_name="Ершов Пётр"),
        chat(11, "Совет старшеклассников", "custom", member_count=12, status="archived"),
    ]


def texts(model: ChatRegistryModel, column: int) -> list[str]:
    """A column's display texts, top to bottom."""
    return [str(model.data(model.index(r, column))) for r in range(model.rowCount())]


def ids(model: ChatRegistryModel) -> list[int]:
    """The chat ids shown, top to bottom."""
    return [model.chat_id(r) for r in range(model.rowCount())]


@pytest.fixture
def model(qtmodeltester: ModelTester) -> ChatRegistryModel:
    """The seed's registry, watched by Qt's model tester for the whole test."""
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows(seed_chats(), CLASS_TITLES)
    return registry


@pytest.fixture
def big(qtmodeltester: ModelTester) -> ChatRegistryModel:
    """The seed's chats plus subject, custom and 10th-grade ones."""
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows(seed_chats() + more_chats(), {**CLASS_TITLES, "cls-10": "10А"})
    return registry


@pytest.fixture
def view(qtbot: QtBot, big: ChatRegistryModel) -> ChatRegistryView:
    """A shown registry view over `big`."""
    table = ChatRegistryView()
    qtbot.addWidget(table)
    table.setModel(big)
    table.resize(1100, 400)
    table.show()
    qtbot.waitExposed(table)
    return table


# --- the seed's table


def test_seed_rows_display_as_the_seed_table(model: ChatRegistryModel) -> None:
    header = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert "\t".join(header[:6]) == SEED_HEADER
    assert header[6] == "Связаны"
    shown = ["\t".join(str(model.data(model.index(r, c))) for c in range(6)) for r in range(7)]
    assert "\n".join(shown) == SEED_TABLE
    assert model.footer_text() == SEED_FOOTER


def test_linked_column_and_numbers(model: ChatRegistryModel) -> None:
    assert texts(model, Column.LINKED)[:2] == ["9 / 13", "2 / 3"]
    assert model.data(model.index(0, Column.MEMBERS)) == 13  # a number, not text
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    assert model.data(model.index(0, Column.MEMBERS), Qt.ItemDataRole.TextAlignmentRole) == right
    assert model.data(model.index(0, Column.LINKED), Qt.ItemDataRole.TextAlignmentRole) == right
    assert model.data(model.index(0, Column.NAME), Qt.ItemDataRole.TextAlignmentRole) is None
    tip = model.data(model.index(0, Column.LINKED), Qt.ItemDataRole.ToolTipRole)
    assert tip == "Связали аккаунт со Сферумом: 9 из 13"


def test_the_view_draws_numbers_right_aligned(view: ChatRegistryView) -> None:
    option = QStyleOptionViewItem()
    view.itemDelegate().initStyleOption(option, view.model().index(0, Column.MEMBERS))
    assert option.displayAlignment & Qt.AlignmentFlag.AlignRight
    assert option.text == "13"


def test_api_models_and_enum_types_load_alike(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    models = [EshChat.model_validate(c) for c in seed_chats()]
    registry.set_rows(models, CLASS_TITLES)
    assert (
        "\n".join(
            "\t".join(str(registry.data(registry.index(r, c))) for c in range(6)) for r in range(7)
        )
        == SEED_TABLE
    )
    registry.upsert({**seed_chats()[0], "type": ChatType.STAFF, "version": 2})
    assert registry.data(registry.index(0, 0), ChatRole.TYPE) == "staff"
    assert type(registry.data(registry.index(0, 0), ChatRole.TYPE)) is str


def test_class_titles_fall_back_to_the_chat_names(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows(seed_chats() + more_chats()[:2])  # no roster titles yet
    assert texts(registry, Column.CLASS) == ["-", "3А", "", "2А", "", "1А", "", "10А", "1А"]
    titles = [registry.data(registry.index(r, 0), ChatRole.CLASS_TITLE) for r in range(9)]
    assert titles == ["", "3А", "3А", "2А", "2А", "1А", "1А", "10А", "1А"]


def test_incomplete_items_are_refused(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    with pytest.raises(ValueError, match="an id, a name and a type"):
        registry.set_rows([*seed_chats(), chat(99, "", "custom")])
    broken = seed_chats()
    del broken[2]["name"]
    with pytest.raises(ValueError, match="an id, a name and a type"):
        registry.set_rows(broken)
    assert registry.total_count == 0


def test_duplicate_ids_keep_the_last_item(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows([*seed_chats(), chat(2, "3 А (новое имя)", "class", class_id="cls-3")])
    assert registry.total_count == 7
    assert texts(registry, Column.NAME)[-1] == "3 А (новое имя)"
    assert registry.row_of(2) == 6
    registry.sort(Column.NAME)
    registry.set_filter("а")
    registry.set_rows([*seed_chats(), chat(1, "Учительская (новая)", "staff")])  # a reload
    assert registry.total_count == 7
    assert texts(registry, Column.NAME)[-1] == "Учительская (новая)"


def test_empty_registry(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    assert registry.footer_text() == "Показано записей 0 из 0"
    registry.set_rows([])
    registry.set_filter("что-нибудь")
    registry.sort(Column.NAME)
    assert (registry.rowCount(), registry.total_count) == (0, 0)


# --- named roles


def test_named_roles(big: ChatRegistryModel) -> None:
    subject = big.index(big.row_of(9), Column.ADMIN)
    assert big.data(subject, ChatRole.ID) == 9
    assert big.data(subject, ChatRole.VERSION) == 1
    assert big.data(subject, ChatRole.TYPE) == "subject"
    assert big.data(subject, ChatRole.CLASS_ID) == "cls-1"
    assert big.data(subject, ChatRole.CLASS_TITLE) == "1А"
    assert big.data(subject, ChatRole.GROUP_ID) == "grp-1"
    assert big.data(subject, ChatRole.ADMIN_PERSON_ID) == "usr-000001"
    assert big.data(subject, ChatRole.STATUS) == "active"
    assert big.data(subject, ChatRole.SFERUM_CHAT_ID) == 9
    assert big.data(subject, ChatRole.IS_AUTOMATIC) is False
    assert big.data(subject, ChatRole.MEMBER_COUNT) == 6
    assert big.data(subject, ChatRole.LINKED_COUNT) == 6
    staff = big.index(0, Column.NAME)
    assert big.data(staff, ChatRole.IS_AUTOMATIC) is True
    assert big.data(staff, ChatRole.CLASS_ID) is None
    assert big.data(staff, Qt.ItemDataRole.UserRole) is None  # unnamed user role
    assert big.data(staff, Qt.ItemDataRole.DecorationRole) is None
    assert big.data(staff, Qt.ItemDataRole.EditRole) is None
    names = big.roleNames()
    assert bytes(names[ChatRole.ID].data()) == b"chatId"
    assert bytes(names[Qt.ItemDataRole.DisplayRole].data()) == b"display"


def test_archived_chats_are_greyed_and_say_so(big: ChatRegistryModel) -> None:
    archived = big.index(big.row_of(11), Column.NAME)
    assert big.data(archived, Qt.ItemDataRole.ForegroundRole) is not None
    assert big.data(archived, Qt.ItemDataRole.ToolTipRole).endswith("(архивный чат)")
    assert big.data(big.index(0, Column.NAME), Qt.ItemDataRole.ForegroundRole) is None


def test_parents_chat_tooltip_names_its_class(model: ChatRegistryModel) -> None:
    tip = model.data(model.index(2, Column.CLASS), Qt.ItemDataRole.ToolTipRole)
    assert tip == "Класс 3А"


def test_flags_and_headers(model: ChatRegistryModel) -> None:
    flags = model.flags(model.index(0, 0))
    assert flags & Qt.ItemFlag.ItemIsSelectable
    assert not flags & Qt.ItemFlag.ItemIsEditable
    tip = model.headerData(Column.LINKED, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "Сферум" in tip
    assert model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.DecorationRole) is None
    assert model.type_labels() == {
        "staff": "Учительский чат",
        "class": "Классный чат",
        "parents": "Родительский чат",
        "subject": "Предмет",
        "custom": "Другой",
    }


# --- filters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("учительская", [1]),
        ("УЧИТЕЛЬСКАЯ", [1]),
        ("  3   а ", [2, 3]),  # spaces collapse
        ("3а", [2, 3]),  # the class title matches its parents chat too
        ("родители", [3, 5, 7]),
        ("русский", [9]),  # the subject
        ("павлова ЕЛЕНА", [1, 2, 3, 4, 5, 6, 7, 9, 11]),  # the administrator
        ("федорова", [8]),  # «ё» typed as «е»
        ("фёдорова", [8]),
        ("ЁЛОЧКА", [10]),
        ("елочка", [10]),
        ("пётр", [10]),
        ("10а", [8]),
        ("нет такого", []),
    ],
)
def test_search_text(big: ChatRegistryModel, text: str, expected: list[int]) -> None:
    big.set_filter(text)
    assert ids(big) == expected


def test_type_and_class_filters(big: ChatRegistryModel) -> None:
    big.set_filter(types=["parents"])
    assert ids(big) == [3, 5, 7]
    big.set_filter(types={ChatType.CLASS, ChatType.STAFF})
    assert ids(big) == [1, 2, 4, 6, 8]
    big.set_filter(class_ids=["cls-1"])
    assert ids(big) == [6, 7, 9]  # class, parents and subject chats of 1А
    big.set_filter("род", types=["parents"], class_ids=["cls-1", "cls-3"])
    assert ids(big) == [3, 7]
    assert big.footer_text() == "Показано записей 1 - 2 из 11"
    big.set_filter("", types=[], class_ids=[])
    assert big.visible_count == big.total_count == 11


def test_typing_narrows_and_deleting_widens_like_a_full_scan(big: ChatRegistryModel) -> None:
    hay = {
        chat_id: fold(" ".join(str(v) for v in texts_of(big, chat_id))) for chat_id in range(1, 12)
    }
    query = "павлова елена"
    states = [query[:i] for i in range(len(query) + 1)]
    for text in states + states[::-1] + ["а", "ав", "в", "ов", "дов"]:
        big.set_filter(text)
        needle = fold(" ".join(text.split()))
        expected = [i for i in range(1, 12) if needle in hay[i]]
        assert ids(big) == expected, text


def texts_of(model: ChatRegistryModel, chat_id: int) -> list[str]:
    """What the search covers of one chat: name, administrator, subject, class title."""
    index = model.index(model.row_of(chat_id), 0)
    row = index.row()
    return [
        model.data(model.index(row, Column.NAME)),
        model.data(model.index(row, Column.ADMIN)),
        model.data(model.index(row, Column.SUBJECT)),
        model.data(index, ChatRole.CLASS_TITLE),
    ]


def test_filtering_random_registry_matches_brute_force(qtmodeltester: ModelTester) -> None:
    rng = random.Random(5)
    words = ["Ёж", "еж", "Математика", "3А", "3 А", "Павлова", "ПАВЛОВА", "Фёдор", "Родители"]
    items = [
        chat(
            i,
            f"{rng.choice(words)} {rng.choice(words)}",
            rng.choice(["custom", "staff"]),
            admin_name=rng.choice([*words, None]),
            member_count=rng.randrange(50),
        )
        for i in range(1, 301)
    ]
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows(items)
    registry.sort(Column.MEMBERS, Qt.SortOrder.DescendingOrder)
    for _ in range(60):
        text = rng.choice(["", "е", "ёж", "ЕЖ ", "павл", "павлова", "3 а", "фе", "родит", "zz"])
        types = rng.choice([None, ["custom"], ["staff", "custom"]])
        registry.set_filter(text, types)
        needle = fold(" ".join(text.split()))
        expected = {
            c["id"]
            for c in items
            if needle in fold(f"{c['name']}\n{c['admin_name'] or ''}")
            and (types is None or c["type"] in types)
        }
        shown = ids(registry)
        assert set(shown) == expected
        counts = [registry.data(registry.index(r, Column.MEMBERS)) for r in range(len(shown))]
        assert counts == sorted(counts, reverse=True)


def test_counts_changed_and_footer(qtbot: QtBot, big: ChatRegistryModel) -> None:
    with qtbot.waitSignal(big.counts_changed) as blocker:
        big.set_filter("родители")
    assert blocker.args == [3, 11]
    assert big.footer_text() == "Показано записей 1 - 3 из 11"
    big.set_filter("нет такого")
    assert big.footer_text() == "Показано записей 0 из 11"


def test_footer_groups_big_numbers(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows([chat(i, f"Чат {i}", "custom") for i in range(1, 12_346)])
    assert registry.footer_text() == "Показано записей 1 - 12\u00a0345 из 12\u00a0345"
    registry.set_filter("чат 12345")
    assert registry.footer_text() == "Показано записей 1 - 1 из 12\u00a0345"


# --- sorting


def test_sort_by_every_column(big: ChatRegistryModel) -> None:
    big.sort(Column.NAME)
    assert texts(big, Column.NAME)[:5] == [
        "1 А",
        "1 А Родители",
        "1А - Русский язык",
        "2 А",
        "2 А Родители",
    ]
    assert texts(big, Column.NAME)[-3:] == [
        "Ёлочка: новогодний концерт",
        "Совет старшеклассников",
        "Учительская",
    ]
    big.sort(Column.TYPE)
    assert texts(big, Column.TYPE) == (
        ["Другой"] * 2 + ["Классный чат"] * 4 + ["Предмет"] + ["Родительский чат"] * 3
        + ["Учительский чат"]
    )  # fmt: skip
    assert ids(big)[2:6] == [6, 4, 2, 8]  # ties ordered by name: «1 А», «2 А», «3 А», «10 А»
    big.sort(Column.CLASS)
    assert texts(big, Column.CLASS) == ["", "", "", "", "", "-", "1А", "1А", "2А", "3А", "10А"]
    big.sort(Column.CLASS, Qt.SortOrder.DescendingOrder)
    assert texts(big, Column.CLASS)[:6] == ["10А", "3А", "2А", "1А", "1А", "-"]
    assert ids(big)[3:5] == [6, 9]  # equal classes stay by name even descending
    big.sort(Column.SUBJECT, Qt.SortOrder.DescendingOrder)
    assert texts(big, Column.SUBJECT)[0] == "Русский язык"
    big.sort(Column.MEMBERS)
    counts = [big.data(big.index(r, Column.MEMBERS)) for r in range(11)]
    assert counts == [3, 3, 3, 3, 3, 5, 6, 12, 13, 28, 40]  # numeric, not «12» < «3»
    big.sort(Column.MEMBERS, Qt.SortOrder.DescendingOrder)
    assert ids(big)[:3] == [10, 8, 1]
    big.sort(Column.ADMIN)
    assert texts(big, Column.ADMIN)[:2] == ["Ершов Пётр", "Павлова Елена Владимировна"]
    big.sort(Column.LINKED, Qt.SortOrder.DescendingOrder)
    assert texts(big, Column.LINKED)[:4] == ["9 / 13", "6 / 6", "4 / 5", "3 / 3"]
    big.sort(-1)
    assert ids(big) == list(range(1, 12))  # ESh's own order back


def test_natural_order_of_class_titles() -> None:
    titles = ["10А", "2Б", "1А", "11А", "2А", "-", ""]
    assert sorted(titles, key=natural_key) == ["", "-", "1А", "2А", "2Б", "10А", "11А"]
    assert natural_key("Ёж") == natural_key("еж")


def test_sort_keeps_the_filter_and_the_filter_keeps_the_sort(big: ChatRegistryModel) -> None:
    big.set_filter("родители")
    big.sort(Column.NAME, Qt.SortOrder.DescendingOrder)
    assert ids(big) == [3, 5, 7]
    big.set_filter("")
    assert ids(big)[:3] == [1, 11, 10]
    big.set_filter("а родители")
    assert ids(big) == [3, 5, 7]


def test_reload_keeps_sort_and_filter(big: ChatRegistryModel) -> None:
    big.sort(Column.MEMBERS, Qt.SortOrder.DescendingOrder)
    big.set_filter("а")
    big.set_rows(seed_chats(), CLASS_TITLES)
    assert ids(big) == [1, 6, 7, 4, 5, 2, 3]  # 13, 5, then the threes by name
    assert big.sort_column == Column.MEMBERS
    assert big.sort_order == Qt.SortOrder.DescendingOrder


def test_header_clicks_sort_through_the_model(qtbot: QtBot, view: ChatRegistryView) -> None:
    registry = view.registry_model()
    header = view.horizontalHeader()
    assert header.sortIndicatorSection() == -1  # ESh's order until the user sorts
    assert ids(registry) == list(range(1, 12))
    view.sortByColumn(Column.MEMBERS, Qt.SortOrder.AscendingOrder)
    assert registry.sort_column == Column.MEMBERS
    x = header.sectionViewportPosition(Column.NAME) + 5
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert registry.sort_column == Column.NAME
    assert header.sortIndicatorSection() == Column.NAME
    assert texts(registry, Column.NAME)[0] == "1 А"


# --- changes


def test_upsert_inserts_at_the_sorted_place(qtbot: QtBot, big: ChatRegistryModel) -> None:
    big.sort(Column.NAME)
    inserted: list[tuple[int, int]] = []
    big.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    with qtbot.waitSignal(big.counts_changed) as blocker:
        big.upsert(chat(12, "2 Б", "class", class_id="cls-2b"), class_title="2Б")
    assert inserted == [(5, 5)]
    assert texts(big, Column.NAME)[4:7] == ["2 А Родители", "2 Б", "3 А"]
    assert texts(big, Column.CLASS)[5] == "2Б"
    assert blocker.args == [12, 12]


def test_upsert_of_a_filtered_out_chat_changes_only_the_total(big: ChatRegistryModel) -> None:
    big.set_filter("родители")
    inserted: list[int] = []
    big.rowsInserted.connect(lambda *_: inserted.append(1))
    big.upsert(chat(12, "Кружок", "custom"))
    assert inserted == []
    assert big.footer_text() == "Показано записей 1 - 3 из 12"


def test_upsert_updates_with_one_ranged_data_changed(big: ChatRegistryModel) -> None:
    changes: list[tuple[int, int, int, int, list[int]]] = []
    big.dataChanged.connect(
        lambda tl, br, roles: changes.append((tl.row(), tl.column(), br.row(), br.column(), roles))
    )
    big.upsert({**seed_chats()[1], "version": 2})
    assert changes == [(1, 0, 1, 6, [ChatRole.VERSION])]
    changes.clear()
    big.upsert({**seed_chats()[1], "version": 3, "member_count": 4})
    assert changes == [
        (
            1,
            0,
            1,
            6,
            sorted(
                [
                    Qt.ItemDataRole.DisplayRole,
                    Qt.ItemDataRole.ToolTipRole,
                    ChatRole.VERSION,
                    ChatRole.MEMBER_COUNT,
                ]
            ),
        )
    ]
    assert big.data(big.index(1, Column.MEMBERS)) == 4
    changes.clear()
    big.upsert({**seed_chats()[1], "version": 3, "member_count": 4})
    assert changes == []  # nothing changed, nothing said


def test_upsert_moves_a_row_whose_sort_key_changed(qtbot: QtBot, view: ChatRegistryView) -> None:
    registry = view.registry_model()
    registry.sort(Column.MEMBERS, Qt.SortOrder.DescendingOrder)
    view.select_chat_ids([2])
    moves: list[tuple[int, int]] = []
    registry.rowsMoved.connect(lambda _p, start, _e, _d, dest: moves.append((start, dest)))
    row = registry.row_of(2)
    registry.upsert({**seed_chats()[1], "member_count": 100, "version": 2})
    assert moves == [(row, 0)]
    assert ids(registry)[0] == 2
    assert view.selected_chat_ids() == [2]  # the selection follows the row
    registry.upsert({**seed_chats()[1], "member_count": 1, "version": 3})
    assert ids(registry)[-1] == 2
    assert moves[-1] == (0, 11)
    assert view.selected_chat_ids() == [2]


def test_upsert_that_leaves_the_filter_removes_the_row(big: ChatRegistryModel) -> None:
    big.set_filter("3 а")
    removed: list[tuple[int, int]] = []
    big.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    big.upsert({**seed_chats()[1], "name": "3 А класс", "version": 2})
    assert ids(big) == [2, 3]
    big.upsert({**seed_chats()[1], "name": "Третий «А»", "class_id": "cls-x", "version": 3})
    assert removed == [(0, 0)]
    assert ids(big) == [3]
    big.upsert({**seed_chats()[1], "name": "3 А", "class_id": "cls-3", "version": 4})
    assert ids(big) == [2, 3]


def test_remove_emits_runs_and_compacts(qtbot: QtBot, view: ChatRegistryView) -> None:
    registry = view.registry_model()
    view.select_chat_ids([6, 10])
    removed: list[tuple[int, int]] = []
    registry.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    with qtbot.waitSignal(registry.counts_changed) as blocker:
        registry.remove([2, 3, 4, 9, 404])
    assert removed == [(8, 8), (1, 3)]  # bottom first, adjacent rows together
    assert blocker.args == [7, 7]
    assert ids(registry) == [1, 5, 6, 7, 8, 10, 11]
    assert view.selected_chat_ids() == [6, 10]
    registry.sort(Column.NAME)
    registry.upsert(chat(12, "0 Ж", "custom"))
    assert ids(registry)[0] == 12
    assert registry.row_of(9) == -1
    registry.remove([])
    assert registry.total_count == 8


def test_remove_of_many_scattered_rows(qtmodeltester: ModelTester) -> None:
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    registry.set_rows([chat(i, f"Чат {i}", "custom") for i in range(1, 1001)])
    registry.remove(range(1, 1001, 2))  # 500 runs: one layout change instead
    assert ids(registry) == list(range(2, 1001, 2))
    assert registry.footer_text() == "Показано записей 1 - 500 из 500"


def test_model_tester_through_every_change(qtmodeltester: ModelTester) -> None:
    """The Python tester too, which checks persistent indices across layout changes."""
    registry = ChatRegistryModel()
    qtmodeltester.check(registry, force_py=True)
    registry.set_rows(seed_chats() + more_chats(), CLASS_TITLES)
    registry.set_filter("а")
    registry.sort(Column.CLASS, Qt.SortOrder.DescendingOrder)
    registry.set_filter("а родители")
    registry.upsert(chat(12, "4 А Родители", "parents", class_id="cls-4"))
    registry.upsert({**seed_chats()[2], "name": "3 А Родители (архив)", "status": "archived"})
    registry.remove([3, 12])
    registry.set_filter("")
    registry.sort(-1)
    assert registry.total_count == 10


# --- the view


def test_view_set_up(view: ChatRegistryView) -> None:
    assert view.selectionBehavior() == QAbstractItemView.SelectionBehavior.SelectRows
    assert view.selectionMode() == QAbstractItemView.SelectionMode.ExtendedSelection
    assert view.isSortingEnabled()
    header = view.horizontalHeader()
    modes = {header.sectionResizeMode(c) for c in range(header.count())}
    assert modes == {QHeaderView.ResizeMode.Interactive}
    assert view.verticalHeader().sectionResizeMode(0) == QHeaderView.ResizeMode.Fixed
    assert not view.verticalHeader().isVisible()
    assert all(header.sectionSize(c) > 40 for c in range(header.count()))


def test_selection_survives_filtering_and_sorting(view: ChatRegistryView) -> None:
    registry = view.registry_model()
    view.select_chat_ids([3, 5, 9])
    current = registry.index(registry.row_of(5), 0)
    view.selectionModel().setCurrentIndex(current, QItemSelectionModel.SelectionFlag.NoUpdate)
    assert view.selected_chat_ids() == [3, 5, 9]
    registry.set_filter("родители")
    assert view.selected_chat_ids() == [3, 5]
    registry.sort(Column.NAME)
    assert view.selected_chat_ids() == [5, 3]  # display order
    assert registry.chat_id(view.currentIndex().row()) == 5
    registry.set_filter("")
    assert sorted(view.selected_chat_ids()) == [3, 5]
    view.selectAll()
    assert len(view.selected_chat_ids()) == 11
    registry.set_filter("а р")
    assert view.selected_chat_ids() == [7, 5, 3]


def test_persistent_indices_follow_their_chats(big: ChatRegistryModel) -> None:
    kept = [
        QPersistentModelIndex(big.index(big.row_of(i), 1)) for i in (2, 3, 5, 9, 10, 11, 1, 4, 6)
    ]
    big.sort(Column.MEMBERS, Qt.SortOrder.DescendingOrder)
    big.set_filter("родители")
    assert [p.isValid() for p in kept] == [False, True, True] + [False] * 6
    assert [big.data(QModelIndex(p), ChatRole.ID) for p in kept[1:3]] == [3, 5]


def test_remembered_results_are_forgotten_when_rows_or_order_change(
    big: ChatRegistryModel,
) -> None:
    for text in ("р", "ро", "род", "роди", "родит", "роди", "род"):  # typing, then deleting
        big.set_filter(text)
    assert ids(big) == [3, 5, 7]
    big.upsert(chat(12, "Родительский комитет", "custom"))
    assert ids(big) == [3, 5, 7, 12]
    big.set_filter("роди")
    assert ids(big) == [3, 5, 7, 12]  # not the result remembered before the upsert
    big.sort(Column.NAME, Qt.SortOrder.DescendingOrder)
    big.set_filter("род")
    assert ids(big) == [12, 3, 5, 7]  # in the new order
    big.remove([12])
    big.set_filter("роди")
    assert ids(big) == [3, 5, 7]
    big.set_filter("роди", types=["class"])
    assert ids(big) == []
    big.set_filter("роди")
    assert ids(big) == [3, 5, 7]


def test_retranslate_keeps_a_type_sort(big: ChatRegistryModel) -> None:
    big.sort(Column.TYPE)
    before = ids(big)
    big.retranslate()
    assert ids(big) == before
    assert big.headerData(Column.TYPE, Qt.Orientation.Horizontal) == "Тип"


def sort_key(item: dict[str, Any], column: int) -> Any:
    """What the model sorts a brute-force item by in these columns."""
    if column == Column.MEMBERS:
        return item["member_count"]
    return natural_key(item["name"] if column == Column.NAME else item["admin_name"])


def test_random_changes_keep_filter_and_sort_exact(qtmodeltester: ModelTester) -> None:
    """Upserts, removes, sorts and searches in any mix agree with a brute-force recount."""
    rng = random.Random(7)
    words = ["Ёж", "еж", "Матем", "3А", "Павлова", "Фёдор", "Род", "10 Б", "2 Б"]
    registry = ChatRegistryModel()
    qtmodeltester.check(registry)
    items: dict[int, dict[str, Any]] = {}  # in storage order, as the model keeps it

    def random_chat(chat_id: int) -> dict[str, Any]:
        return chat(
            chat_id,
            f"{rng.choice(words)} {rng.choice(words)}",
            rng.choice(["custom", "staff"]),
            admin_name=rng.choice(words),
            member_count=rng.randrange(6),
            version=rng.randrange(100),
        )

    for chat_id in range(1, 41):
        items[chat_id] = random_chat(chat_id)
    registry.set_rows(list(items.values()))
    column, descending = -1, False
    text = ""
    for _ in range(250):
        action = rng.random()
        if action < 0.3:
            chat_id = rng.randrange(1, 60)
            items[chat_id] = random_chat(chat_id)
            registry.upsert(items[chat_id])
        elif action < 0.4:
            doomed = rng.sample(range(1, 60), rng.randrange(1, 6))
            registry.remove(doomed)
            for chat_id in doomed:
                items.pop(chat_id, None)
        elif action < 0.55:
            column = rng.choice([-1, Column.NAME, Column.MEMBERS, Column.ADMIN])
            descending = rng.random() < 0.5
            order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
            registry.sort(column, order)
        else:
            text = rng.choice(["", "е", "ёж", "ж", "павл", "3а", "3", "род", "фе", "б"])
            registry.set_filter(text)
        position = {chat_id: i for i, chat_id in enumerate(items)}
        needle = fold(text)
        shown = [c for c in items.values() if needle in fold(f"{c['name']}\n{c['admin_name']}\n\n")]
        shown.sort(key=lambda c: position[c["id"]])
        if column >= 0:
            shown.sort(key=lambda c: natural_key(c["name"]))
            shown.sort(key=lambda c, k=column: sort_key(c, k), reverse=descending)
        assert ids(registry) == [c["id"] for c in shown]
        assert registry.total_count == len(items)
