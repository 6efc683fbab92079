"""The «Синхронизация» tab against the sandbox: a roster event planned and applied, a held
plan that waits for confirmation, the audit log, and a saved chat applied at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Sandbox
from PySide6.QtWidgets import QMessageBox
from sync.sync_support import fresh_sferum

from sferum_desktop import paths
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.auth.vault import Vault
from sferum_desktop.store.lock import RunLock
from sferum_desktop.sync.report import SyncReport
from sferum_desktop.ui import settings
from sferum_desktop.ui.main_window import MainWindow
from sferum_desktop.ui.sync_tab import SyncTab, duration_text
from ui.helpers import MemoryKeyring, Runner, demo_profile_for, until
from ui.test_registry_tab import wait_dialog
from ui.test_sferum_tab import remember_vk

CLASS_1A = "cls-000001"
PAVLOVA_VK = 100000001
LONG = 90_000


@pytest.fixture
def window(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> Iterator[MainWindow]:
    vault = Vault(memory_keyring)
    remember_vk(run, vault, sandbox, "pavlova")
    session = AuthSession(demo_profile_for(sandbox), vault, proactive=False)
    run(session.sign_in("pavlova", "demo"))
    main = MainWindow(session, auto_refresh=False)
    qtbot.addWidget(main)
    main.resize(1100, 720)
    main.show()
    yield main
    main.close()
    run(session.aclose())


def state(sandbox: Sandbox) -> dict[str, Any]:
    raw: dict[str, Any] = sandbox.dev("GET", "state")
    return raw


def registry_chat(sandbox: Sandbox, name: str) -> dict[str, Any]:
    return next(
        c for c in state(sandbox)["registry"] if c["name"] == name and c["status"] == "active"
    )


def check(qtbot: Any, tab: SyncTab) -> SyncReport:
    with qtbot.waitSignal(tab.planned, timeout=LONG) as blocker:
        tab.check_button.click()
    report: SyncReport = blocker.args[0]
    return report


def apply(qtbot: Any, tab: SyncTab) -> SyncReport:
    with qtbot.waitSignal(tab.applied, timeout=LONG) as blocker:
        tab.apply_button.click()
    report: SyncReport = blocker.args[0]
    return report


def texts(item: Any) -> list[str]:
    """An item's texts and all its descendants'."""
    out = [item.text(0)]
    for i in range(item.childCount()):
        out.extend(texts(item.child(i)))
    return out


def test_enrolment_planned_applied_and_logged(
    qtbot: Any, sandbox: Sandbox, window: MainWindow, tmp_path: Path
) -> None:
    tab = window.sync_tab
    assert window.tabs.isTabVisible(window.tabs.indexOf(tab))
    assert window.tabs.tabText(window.tabs.indexOf(tab)) == "Синхронизация"
    made = sandbox.dev(
        "POST",
        "roster",
        json={
            "op": "enroll",
            "class_id": CLASS_1A,
            "student": {"given_name": "Иван", "family_name": "Новиков"},
        },
    )
    student = made["student_id"]
    report = check(qtbot, tab)
    assert report.error is None and report.plan is not None
    item = tab.chat_item("1 А")
    assert item is not None
    lines = texts(item)
    assert "+ добавить" in lines
    assert any(line.startswith("Новиков Иван") for line in lines)
    assert "добавить:" in tab.summary.text() and "ожидают привязки:" in tab.summary.text()
    assert tab.apply_button.isEnabled()

    report = apply(qtbot, tab)
    assert report.ok, report.as_json()
    members = {m["person_id"] for m in registry_chat(sandbox, "1 А")["members"]}
    assert student in members
    assert "Готово" in tab.summary.text()

    tab.tabs.setCurrentWidget(tab.audit)
    until(qtbot, lambda: any(e.person_id == student for e in tab.audit.entries), LONG)
    tab.audit.search.setText("Новиков")
    shown = tab.audit.visible_entries()
    assert shown and all(e.person_id == student for e in shown)
    row = tab.audit.row(shown[0])
    assert row[1] == "добавлен в реестр" and row[2] == "1 А"
    assert tab.audit.export_to(tmp_path / "journal.csv") == len(shown)
    assert "Новиков" in (tmp_path / "journal.csv").read_text(encoding="utf-8-sig")
    assert tab.audit.export_to(tmp_path / "journal.xlsx") == len(shown)


def test_held_plan_needs_confirmation(qtbot: Any, sandbox: Sandbox, window: MainWindow) -> None:
    tab = window.sync_tab
    assert apply_first(qtbot, tab).ok
    students = [
        m["person_id"]
        for m in registry_chat(sandbox, "1 А")["members"]
        if m["role_in_chat"] == "student" and not m["excluded"]
    ]
    assert len(students) >= 3
    for student in students:
        sandbox.dev("POST", "roster", json={"op": "expel", "student_id": student})
    report = check(qtbot, tab)
    assert report.plan is not None and report.plan.held
    item = tab.chat_item("1 А")
    assert item is not None and "задержано" in texts(item)
    assert "задержано: 0" not in tab.summary.text()

    tab.apply_button.click()  # refused: nothing applied
    until(qtbot, lambda: tab.confirm_box is not None and tab.confirm_box.isVisible())
    box = tab.confirm_box
    assert box is not None and "превышает порог" in box.text()
    next(b for b in box.buttons() if b.text() == "Отмена").click()
    until(qtbot, lambda: "нужно подтверждение" in tab.summary.text())
    assert {m["person_id"] for m in registry_chat(sandbox, "1 А")["members"]} >= set(students)

    with qtbot.waitSignal(tab.applied, timeout=LONG) as blocker:
        tab.apply_button.click()
        until(qtbot, lambda: tab.confirm_box is not None and tab.confirm_box.isVisible())
        box = tab.confirm_box
        assert box is not None
        next(
            b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole
        ).click()
    assert blocker.args[0].ok
    left = {m["person_id"] for m in registry_chat(sandbox, "1 А")["members"]}
    assert not left & set(students)


def test_a_confirmation_holds_only_for_the_plan_that_was_shown(
    qtbot: Any, sandbox: Sandbox, window: MainWindow
) -> None:
    tab = window.sync_tab
    assert apply_first(qtbot, tab).ok
    students = [
        m["person_id"]
        for m in registry_chat(sandbox, "1 А")["members"]
        if m["role_in_chat"] == "student" and not m["excluded"]
    ]
    for student in students[:-1]:
        sandbox.dev("POST", "roster", json={"op": "expel", "student_id": student})
    report = check(qtbot, tab)
    assert report.plan is not None and report.plan.held
    # Between «Проверить» and «Применить» the roster changes: one more student leaves.
    sandbox.dev("POST", "roster", json={"op": "expel", "student_id": students[-1]})

    def confirm() -> None:
        until(qtbot, lambda: tab.confirm_box is not None and tab.confirm_box.isVisible())
        box = tab.confirm_box
        assert box is not None
        next(
            b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole
        ).click()

    with qtbot.waitSignal(tab.applied, timeout=LONG) as blocker:
        tab.apply_button.click()
        confirm()
    assert blocker.args[0].held  # the confirmed plan is not the one there is now
    assert not blocker.args[0].applied  # nothing at all, as for any plan with a hold
    assert "План изменился после проверки" in tab.summary.text()
    assert {m["person_id"] for m in registry_chat(sandbox, "1 А")["members"]} >= set(students)
    # Checked and confirmed again, the removals go.
    check(qtbot, tab)
    with qtbot.waitSignal(tab.applied, timeout=LONG) as blocker:
        tab.apply_button.click()
        confirm()
    assert blocker.args[0].ok and not blocker.args[0].held
    left = {m["person_id"] for m in registry_chat(sandbox, "1 А")["members"]}
    assert not left & set(students)


def apply_first(qtbot: Any, tab: SyncTab) -> SyncReport:
    """The first sync of a fresh store (the seed's pending and rule changes)."""
    check(qtbot, tab)
    if not tab.apply_button.isEnabled():
        return tab.report or SyncReport()
    return apply(qtbot, tab)


def test_saving_a_subject_chat_makes_its_sferum_chat(
    qtbot: Any, sandbox: Sandbox, window: MainWindow
) -> None:
    chats = window.registry.chats
    window.tabs.setCurrentWidget(window.registry)
    until(qtbot, lambda: chats.loaded_once, LONG)
    chats.add_chat()
    dialog = wait_dialog(qtbot, chats)
    dialog.select_group("Русский язык / 1А")
    dialog.save_button.click()  # the «Внимание!» block first
    until(qtbot, dialog.warning.isVisible)
    with qtbot.waitSignal(dialog.finished, timeout=LONG):
        dialog.save_button.click()
    sferum = {c["title"]: c for c in state(sandbox)["sferum"] if not c["deleted"]}
    assert "1А - Русский язык" in sferum
    assert sferum["1А - Русский язык"]["member_ids"] == [PAVLOVA_VK]
    assert registry_chat(sandbox, "1А - Русский язык")["sferum_chat_id"] is not None
    assert "есть в Сферуме" in window.sync_tab.last_notice


def test_duration_text() -> None:
    assert duration_text(None) == ""
    assert duration_text(5.2) == "≈ 5 с"
    assert duration_text(65) == "≈ 1 мин 5 с"


def test_captcha_shows_the_picture_and_retries(
    qtbot: Any, sandbox: Sandbox, window: MainWindow
) -> None:
    tab = window.sync_tab
    sandbox.faults(captcha_rate=1.0, seed=1)
    solved: list[str] = []

    def solve_if_asked() -> bool:
        dialog = tab.captcha_dialog
        if dialog is not None and dialog.isVisible() and not dialog.image.pixmap().isNull():
            sid = dialog.captcha.captcha_sid
            key = sandbox.dev("GET", "captcha", params={"sid": sid})["key"]
            dialog.code.setText(key)
            solved.append(sid)
            dialog.accept()
        return bool(solved)

    with qtbot.waitSignal(tab.planned, timeout=LONG) as blocker:
        tab.check_button.click()
        until(qtbot, solve_if_asked, LONG)
        sandbox.clear_faults()
    report: SyncReport = blocker.args[0]
    assert report.error is None and report.stop is None, report.as_json()
    assert tab.tree.topLevelItemCount() > 0


def test_error_banner_and_retry(qtbot: Any, window: MainWindow) -> None:
    """Another sync holds the store (the service): the banner says so; «Повторить» works."""
    tab = window.sync_tab
    config = paths.config_dir()
    config.mkdir(parents=True, exist_ok=True)
    (config / "sync.toml").write_text("[sync]\nlock_timeout_s = 0\n", encoding="utf-8")
    lock = RunLock(tab.store.path.with_name(tab.store.path.name + ".lock"))
    lock.acquire()
    try:
        report = check(qtbot, tab)
    finally:
        lock.release()
    assert report.error is not None
    assert not tab.banner.isHidden() and not tab.banner.retry_button.isHidden()
    assert "уже выполняется" in tab.banner.label.text()
    with qtbot.waitSignal(tab.planned, timeout=LONG) as blocker:
        tab.banner.retry_button.click()
    assert blocker.args[0].error is None
    assert tab.banner.isHidden()
    assert tab.tree.topLevelItemCount() > 0


def test_automatic_mode_notifies(qtbot: Any, window: MainWindow) -> None:
    tab = window.sync_tab
    tab.auto_check.setChecked(True)
    assert tab.timer.isActive() and tab.timer.interval() == 60 * 60_000
    with qtbot.waitSignal(tab.applied, timeout=LONG):
        tab.auto_sync()
    assert tab.last_notice.startswith("Синхронизация")
    assert window.statusBar().currentMessage() == tab.last_notice
    tab.auto_check.setChecked(False)
    assert not tab.timer.isActive()


def test_automatic_mode_is_remembered(qtbot: Any, window: MainWindow) -> None:
    tab = window.sync_tab
    assert not tab.auto_check.isChecked() and not tab.timer.isActive()  # off at first
    tab.interval.setValue(15)
    tab.auto_check.setChecked(True)
    assert settings.AUTO_SYNC.get() is True and settings.AUTO_SYNC_MINUTES.get() == 15
    again = SyncTab(tab.session)  # the next start of the app
    qtbot.addWidget(again)
    try:
        assert again.auto_check.isChecked() and again.interval.value() == 15
        assert again.timer.isActive() and again.timer.interval() == 15 * 60_000
        again.auto_check.setChecked(False)
        assert settings.AUTO_SYNC.get() is False and not again.timer.isActive()
    finally:
        again.shutdown()
    tab.auto_check.setChecked(False)


def test_cancel_finishes_the_batch_in_flight(
    qtbot: Any, sandbox: Sandbox, window: MainWindow
) -> None:
    tab = window.sync_tab
    fresh_sferum(sandbox)
    report = check(qtbot, tab)
    assert report.plan is not None and len(report.plan.operations) > 60
    with qtbot.waitSignal(tab.applied, timeout=LONG) as blocker:
        tab.apply_button.click()
        until(qtbot, lambda: tab.progress.maximum() > 0 and tab.progress.value() >= 1)
        assert "из" in tab.progress_label.text()
        assert tab.cancel_button.isEnabled()
        tab.cancel_button.click()
    report = blocker.args[0]
    assert report.cancelled and report.not_applied
    assert "Отменено" in tab.summary.text()
    # Nothing half-done: every Sferum chat made is in the registry.
    raw = state(sandbox)
    known = {c["sferum_chat_id"] for c in raw["registry"] if c["sferum_chat_id"]}
    assert {c["chat_id"] for c in raw["sferum"] if not c["deleted"]} <= known


def test_the_tab_is_for_staff_only(
    qtbot: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    username = sandbox.accounts()["student"]["username"]
    session = AuthSession(demo_profile_for(sandbox), Vault(memory_keyring), proactive=False)
    run(session.sign_in(username, "demo"))
    main = MainWindow(session, auto_refresh=False)
    qtbot.addWidget(main)
    try:
        assert not main.tabs.isTabVisible(main.tabs.indexOf(main.sync_tab))
    finally:
        main.close()
        run(session.aclose())
