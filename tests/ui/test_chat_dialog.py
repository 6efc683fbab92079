"""The chat dialog against the sandbox: the worked example, «Внимание!», the picker, a custom
chat, validation at its field, and the 412 conflict path (reload and overwrite)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Sandbox
from PySide6.QtWidgets import QMessageBox

from sferum_desktop.auth.session import AuthSession
from sferum_desktop.ui.chat_dialog import ChatDialog
from sferum_desktop.ui.person_picker import ROLE_PARENT
from sferum_desktop.ui.registry_model import Column
from sferum_desktop.ui.registry_tab import ChatsTab
from ui.helpers import MemoryKeyring, Runner, until
from ui.test_registry_tab import make_tab, names, signed_in, wait_dialog

WARNING_HEAD = (
    "Следующие пользователи не связали аккаунт со Сферумом и не будут добавлены в качестве "
    "участника в чате Сферума:"
)
WARNING_TAIL = "Пользователи будут автоматически добавлены в чат Сферума после связывания аккаунта."


@pytest.fixture
def session(
    qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> Iterator[AuthSession]:
    s = signed_in(run, sandbox, memory_keyring, "pavlova")
    yield s
    run(s.aclose())


@pytest.fixture
def tab(qtbot: Any, session: AuthSession) -> ChatsTab:
    return make_tab(qtbot, session, None)


def open_new(qtbot: Any, tab: ChatsTab) -> ChatDialog:
    tab.add_chat()
    return wait_dialog(qtbot, tab)


def test_subject_chat_worked_example(qtbot: Any, run: Runner, tab: ChatsTab) -> None:
    dialog = open_new(qtbot, tab)
    assert dialog.windowTitle() == "Чат школы в сферум: Добавление"
    assert dialog.name_edit.isReadOnly() and dialog.group_combo.isEnabled()
    assert [dialog.tabs.tabText(i) for i in range(3)] == ["Сотрудники", "Ученики", "Родители"]
    dialog.select_group("Русский язык / 1А")
    assert dialog.name_edit.text() == "1А - Русский язык"
    staff = dialog.members["staff"].names()
    students = dialog.members["student"].names()
    assert len(staff) == 1 and staff[0].startswith("Павлова")
    assert [n.split()[0] for n in students] == ["Артемов", "Леонидов", "Фролова"]
    table = dialog.members["student"].table
    headers = [table.horizontalHeaderItem(c).text() for c in range(1, 3)]
    assert headers == ["Ф.И.О.", "Заблокирован"]
    assert table.item(0, 2).text() in ("Да", "Нет")

    dialog.save_button.click()  # first: the «Внимание!» block lists the unlinked
    until(qtbot, dialog.warning.isVisible)
    assert dialog.warning_title.text() == "Внимание!"
    body = dialog.warning_text.text()
    assert body.startswith(WARNING_HEAD) and body.endswith(WARNING_TAIL)
    for student in students:
        assert f" {student}" in body
    assert staff[0] not in body  # Павлова is linked
    with qtbot.waitSignal(dialog.finished, timeout=60_000):
        dialog.save_button.click()  # confirmed: saved
    assert dialog.chat is not None
    until(qtbot, lambda: "1А - Русский язык" in names(tab))
    m = tab.model
    row = names(tab).index("1А - Русский язык")
    assert m.data(m.index(row, Column.MEMBERS)) in (4, "4")
    assert m.data(m.index(row, Column.TYPE)) == "Предмет"

    # Edit: the type, name and group are read-only; removing a rule member excludes them.
    chat = dialog.chat
    tab.view.select_chat_ids([chat.id])
    tab.edit_chat()
    edit = wait_dialog(qtbot, tab)
    until(qtbot, lambda: edit.members_loaded)
    assert edit.windowTitle() == "Чат школы в сферум: Редактирование"
    assert not edit.type_combo.isEnabled() and edit.name_edit.isReadOnly()
    assert not edit.group_combo.isEnabled()
    assert edit.group_combo.currentText() == "Русский язык / 1А"
    assert edit.members["student"].names() == students
    frolova = students[2]
    edit.members["student"].check_names([frolova])
    edit.members["student"].remove_button.click()
    edit.save_button.click()
    until(qtbot, edit.warning.isVisible)
    with qtbot.waitSignal(edit.finished, timeout=60_000):
        edit.save_button.click()
    everyone = run(tab.esh.list_members(chat.id, include_excluded=True))
    assert [m.excluded for m in everyone if m.full_name == frolova] == [True]
    until(qtbot, lambda: m.data(m.index(m.row_of(chat.id), Column.MEMBERS)) in (3, "3"))


def test_custom_chat_picker_and_validation(qtbot: Any, tab: ChatsTab) -> None:
    dialog = open_new(qtbot, tab)
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData("custom"))
    assert not dialog.name_edit.isReadOnly() and not dialog.group_combo.isEnabled()
    dialog.save_button.click()
    until(qtbot, dialog.errors["name"].isVisible)
    assert dialog.errors["name"].text() == "Введите наименование чата."
    dialog.name_edit.setText("x" * 200 + " ")
    dialog.members[ROLE_PARENT].add_button.click()
    until(qtbot, lambda: dialog.picker is not None and dialog.picker.isVisible())
    picker = dialog.picker
    assert picker is not None
    assert not picker.role_filter.isEnabled()
    picker.search.setText("а")
    shown = picker.model.rowCount()
    assert shown > 0
    first = picker.model.candidate(0).full_name
    picker.select_names([first])
    picker.accept()
    assert dialog.members[ROLE_PARENT].names() == [first]
    dialog.members[ROLE_PARENT].check_names([first])
    dialog.members[ROLE_PARENT].remove_button.click()
    assert dialog.members[ROLE_PARENT].names() == []
    dialog.name_edit.setText("Кружок «Юный химик»")
    with qtbot.waitSignal(dialog.finished, timeout=60_000):
        dialog.save_button.click()
    until(qtbot, lambda: "Кружок «Юный химик»" in names(tab))


def test_conflict_overwrite_and_reload(
    qtbot: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring, tab: ChatsTab
) -> None:
    chat = run(tab.esh.create_chat(type="custom", name="Шахматный клуб"))
    tab.refresh()
    until(qtbot, lambda: "Шахматный клуб" in names(tab) and not tab.loading)
    other = signed_in(run, sandbox, memory_keyring, "pavlova")
    try:
        for choice in ("Перезаписать", "Загрузить заново"):
            tab.view.select_chat_ids([chat.id])
            tab.edit_chat()
            dialog = wait_dialog(qtbot, tab)
            assert dialog.windowTitle() == "Чат школы в сферум: Редактирование"
            until(qtbot, lambda d=dialog: d.members_loaded)
            current = run(other.esh.get_chat(chat.id))
            theirs = f"Их название {choice}"
            run(other.esh.update_chat(chat.id, current.version, name=theirs))
            mine = f"Моё название {choice}"
            dialog.name_edit.setText(mine)
            dialog.warned = tuple(dialog.unlinked())
            dialog.save_button.click()
            until(qtbot, lambda d=dialog: d.conflict_box is not None and d.conflict_box.isVisible())
            box: QMessageBox = dialog.conflict_box
            assert theirs in box.text() and "было" in box.text()
            if choice == "Перезаписать":
                with qtbot.waitSignal(dialog.finished, timeout=60_000):
                    next(b for b in box.buttons() if b.text() == choice).click()
                assert run(other.esh.get_chat(chat.id)).name == mine
                until(qtbot, lambda m=mine: m in names(tab))
            else:
                next(b for b in box.buttons() if b.text() == choice).click()
                until(qtbot, lambda d=dialog, t=theirs: d.name_edit.text() == t)
                assert run(other.esh.get_chat(chat.id)).name == theirs
                dialog.reject()
    finally:
        run(other.aclose())


def test_validation_errors_shown_at_their_field(
    qtbot: Any, tab: ChatsTab, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sferum_desktop.api.errors import ESH, ValidationFailed

    async def refuse(**_kw: Any) -> Any:
        raise ValidationFailed(
            service=ESH, endpoint="POST /chats", fields={"name": "Такое имя уже занято."}
        )

    monkeypatch.setattr(tab.esh, "create_chat", refuse)
    dialog = open_new(qtbot, tab)
    dialog.type_combo.setCurrentIndex(dialog.type_combo.findData("custom"))
    dialog.name_edit.setText("Совет класса")
    dialog.save_button.click()
    until(qtbot, dialog.errors["name"].isVisible)
    assert dialog.errors["name"].text() == "Такое имя уже занято."
    assert dialog.isVisible() and dialog.save_button.isEnabled()
    dialog.reject()
