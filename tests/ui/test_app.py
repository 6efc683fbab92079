"""The app's bootstrap: the log masks secrets, the excepthook, settings, translations, CLI."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from conftest import Sandbox
from PySide6.QtCore import QByteArray, QCoreApplication, QTranslator
from PySide6.QtWidgets import QApplication, QMessageBox

from sferum_desktop.__main__ import main as launcher
from sferum_desktop.api.errors import ESH, NetworkError
from sferum_desktop.auth.profiles import ProfileSet, demo_profile
from sferum_desktop.auth.session import AuthSession
from sferum_desktop.auth.vault import Vault
from sferum_desktop.ui import settings
from sferum_desktop.ui.app import TRANSLATIONS_DIR, ExceptionReporter, RedactingFormatter, redact
from sferum_desktop.ui.main_window import MainWindow
from sferum_desktop.ui.signin import SignInWindow
from ui.helpers import MemoryKeyring, Runner, until


def test_secrets_are_masked_in_the_log() -> None:
    line = (
        "GET http://127.0.0.1/vkid/callback?code=abc123&state=xyz&device_id=d1 "
        'Authorization: Bearer esh-at.SECRET {"refresh_token": "esh-rt.SECRET2", '
        '"password": "demo"} vk2.a.ABCDEF and code_verifier=v3r'
    )
    masked = redact(line)
    for secret in ("abc123", "xyz", "d1", "SECRET", "SECRET2", "ABCDEF", "v3r", '"demo"'):
        assert secret not in masked, secret
    assert "code=***" in masked and "Bearer ***" in masked and "vk2.a.***" in masked


def test_the_formatter_masks_tracebacks_too() -> None:
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError("access_token=vk2.a.LEAK")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "LEAK" not in formatter.format(record)


@pytest.fixture
def reporter(app: QApplication, tmp_path: Path) -> Iterator[ExceptionReporter]:
    item = ExceptionReporter(tmp_path / "app.log")
    yield item
    if item.box is not None:
        item.box.close()


def test_the_excepthook_logs_the_trace_and_shows_a_readable_message(
    qtbot: Any, reporter: ExceptionReporter, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        with caplog.at_level(logging.CRITICAL, logger="sferum_desktop.ui.app"):
            reporter.hook(type(exc), exc, exc.__traceback__)
    assert "RuntimeError: boom" in caplog.text  # the trace is in the log
    until(qtbot, lambda: reporter.box is not None and reporter.box.isVisible())
    box = reporter.box
    assert box is not None
    assert box.text() == "В программе произошла непредвиденная ошибка."
    assert "журнал" in box.informativeText() and "boom" not in box.text()
    assert not box.isModal() or box.windowModality() != box.windowModality().ApplicationModal
    # A second error while the first is shown adds no second dialog.
    reporter.hook(RuntimeError, RuntimeError("again"), None)
    assert len([w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]) == 1


def test_an_api_error_escaping_is_shown_in_its_own_words(
    qtbot: Any, reporter: ExceptionReporter
) -> None:
    error = NetworkError(service=ESH, maybe_processed=False)
    reporter.hook(NetworkError, error, None)
    until(qtbot, lambda: reporter.box is not None)
    assert reporter.box is not None
    assert reporter.box.text().startswith("Сервер ЭШ недоступен.")


def test_settings_are_declared_once_with_types_and_defaults(app: QApplication) -> None:
    keys = [s.key for s in settings.ALL]
    assert len(keys) == len(set(keys))
    store = settings.qsettings()
    assert store.fileName().endswith("sferum-desktop/settings.ini")
    for setting in settings.ALL:
        assert isinstance(setting.default, setting.type)
        assert setting.get(store) == setting.default and setting.doc
    settings.REMEMBER_SESSION.set(False)
    settings.SFERUM_REFRESH_S.set(90)
    assert settings.REMEMBER_SESSION.get() is False
    assert settings.SFERUM_REFRESH_S.get() == 90
    with pytest.raises(TypeError):
        settings.SFERUM_REFRESH_S.set("90")  # type: ignore[arg-type]
    assert QCoreApplication.organizationName() == "sferum-desktop"


def test_window_geometry_is_remembered(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    session = AuthSession(demo_profile(sandbox.url), Vault(memory_keyring), proactive=False)
    run(session.sign_in("pavlova", "demo"))
    window = MainWindow(session, auto_refresh=False)
    qtbot.addWidget(window)
    window.resize(700, 500)
    window.show()
    window.close()
    saved = settings.MAIN_GEOMETRY.get()
    assert not saved.isEmpty()
    again = MainWindow(session, auto_refresh=False)
    qtbot.addWidget(again)
    again.show()
    assert (again.size().width(), again.size().height()) == (700, 500)
    again.close()
    run(session.aclose())


def test_main_window_has_room_for_more_sections(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox, memory_keyring: MemoryKeyring
) -> None:
    from PySide6.QtWidgets import QWidget

    for username, visible in (("pavlova", True), ("artemov.pa", False)):
        session = AuthSession(demo_profile(sandbox.url), Vault(memory_keyring), proactive=False)
        run(session.sign_in(username, "demo"))
        window = MainWindow(session, auto_refresh=False)
        qtbot.addWidget(window)
        index = window.add_tab(QWidget(), "Реестр «Сферум»", staff_only=True)
        assert window.tabs.tabText(index) == "Реестр «Сферум»"
        assert window.tabs.isTabVisible(index) is visible
        assert [window.tabs.tabText(i) for i in range(2)] == ["Главная", "Сферум"]
        run(session.aclose())


def test_ui_text_goes_through_qt_translation(qtbot: Any, app: QApplication, tmp_path: Path) -> None:
    source = TRANSLATIONS_DIR / "sferum_desktop_en.ts"
    text = source.read_text(encoding="utf-8")
    assert "<source>ВОЙТИ</source>" in text and "<source>Вход в ЭШ</source>" in text
    # Translate two strings and compile the file as a build would.
    for russian, english in (("ВОЙТИ", "SIGN IN"), ("Вход в ЭШ", "Sign in to ESh")):
        text = text.replace(
            f'<source>{russian}</source>\n        <translation type="unfinished"></translation>',
            f"<source>{russian}</source>\n        <translation>{english}</translation>",
        )
    ts = tmp_path / "sferum_desktop_en.ts"
    ts.write_text(text, encoding="utf-8")
    lrelease = Path(sys.executable).with_name("pyside6-lrelease")
    subprocess.run([str(lrelease), "-silent", str(ts)], check=True, timeout=120)
    translator = QTranslator()
    assert translator.load("sferum_desktop_en", str(tmp_path))
    app.installTranslator(translator)
    try:
        window = SignInWindow(ProfileSet((demo_profile("http://127.0.0.1:9"),)), lambda _: None)
        qtbot.addWidget(window)
        assert window.sign_in_button.text() == "SIGN IN"
        assert window.windowTitle() == "Sign in to ESh"
        assert window.username_label.text() == "Имя пользователя"  # untranslated: the source
    finally:
        app.removeTranslator(translator)


def _messages(ts: Path) -> set[tuple[str, str]]:
    """(context, source text) of every message of a .ts file."""
    root = ElementTree.parse(ts).getroot()  # noqa: S314 (our own file)
    return {
        (context.findtext("name") or "", message.findtext("source") or "")
        for context in root.iter("context")
        for message in context.iter("message")
    }


def test_the_translation_template_is_up_to_date(tmp_path: Path) -> None:
    """Every text of the UI is in the .ts (run `./scripts/dev translations` when this fails)."""
    lupdate = Path(sys.executable).with_name("pyside6-lupdate")
    fresh = tmp_path / "fresh.ts"
    ui = sorted(
        str(p) for p in (Path(__file__).resolve().parents[2] / "sferum_desktop" / "ui").glob("*.py")
    )
    subprocess.run(
        [str(lupdate), *ui, "-source-language", "ru_RU", "-no-obsolete", "-ts", str(fresh)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = _messages(TRANSLATIONS_DIR / "sferum_desktop_en.ts")
    current = _messages(fresh)
    assert not current - committed, f"missing from the .ts: {sorted(current - committed)[:10]}"
    assert not committed - current, f"obsolete in the .ts: {sorted(committed - current)[:10]}"


def test_the_launcher_refuses_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher(["--profile", "Нет такого"]) == 2
    err = capsys.readouterr().err
    assert "нет профиля «Нет такого»" in err and "profiles.toml" in err


def test_headless_commands_do_not_load_qt() -> None:
    code = (
        "import sys; from sferum_desktop.__main__ import main; main(['--version']);"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_keyring_missing_is_said_on_the_sign_in_window(
    qtbot: Any, qloop: Any, run: Runner, sandbox: Sandbox
) -> None:
    from keyring.backends import fail

    from sferum_desktop.ui.app import AppController

    controller = AppController(
        ProfileSet((demo_profile(sandbox.url),)), vault=Vault(fail.Keyring())
    )
    run(controller.start())
    assert "хранилища паролей" in controller.signin.notice.text()
    run(controller.shutdown())


def test_geometry_setting_type() -> None:
    assert settings.MAIN_GEOMETRY.type is QByteArray
