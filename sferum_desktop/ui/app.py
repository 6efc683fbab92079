"""The desktop app's bootstrap: one QApplication, one qasync loop, logging, the excepthook.

`main()` sets the organization and application names before anything reads settings,
installs the translators, the rotating log in the user's log folder (tokens and codes are
masked on the way out), and one excepthook that logs the trace and shows a readable
Russian message. `AppController` then runs the app: the sign-in window (or a remembered
session), the main window, sign-out, the return to sign-in when a session ends, and with
`--demo` the sandbox in its own process, stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from PySide6.QtCore import (
    QCoreApplication,
    QLibraryInfo,
    QLocale,
    QMessageLogContext,
    QObject,
    Qt,
    QTimer,
    QtMsgType,
    QTranslator,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from sferum_desktop import __version__, paths
from sferum_desktop.api.errors import ApiError
from sferum_desktop.auth import profiles as profiles_mod
from sferum_desktop.auth.profiles import DEMO_NAME, ProfileSet, demo_profile
from sferum_desktop.auth.session import (
    AuthSession,
    LinkChanged,
    SessionEnded,
    SessionEvent,
    SferumSignInNeeded,
)
from sferum_desktop.auth.vault import Vault, VaultStatus
from sferum_desktop.ui import settings
from sferum_desktop.ui.common import alive, error_message
from sferum_desktop.ui.demo import DemoSandbox, DemoTools
from sferum_desktop.ui.main_window import MainWindow
from sferum_desktop.ui.signin import SignInWindow

log = logging.getLogger("sferum_desktop.ui.app")

LOG_FILE: Final = "sferum-desktop.log"
TRANSLATIONS_DIR: Final = paths.resources_dir() / "translations"

# --- logging ----------------------------------------------------------------------------------

_SECRET_PATTERNS: Final = (
    # key=value in URLs and forms: the OAuth secrets and anything named like a token
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|token|code|code_verifier|state|"
            r"password|device_id|captcha_key)=([^&\s\"'<>]+)"
        ),
        r"\1=***",
    ),
    # the same in JSON
    (
        re.compile(
            r"(?i)\"(access_token|refresh_token|id_token|token|code|code_verifier|password)\"\s*:"
            r"\s*\"[^\"]*\""
        ),
        r'"\1": "***"',
    ),
    (re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer ***"),
    # token shapes of ESh and VK ID, wherever they appear
    (re.compile(r"\b(esh-(?:at|rt)\.|vk2\.[ar]\.)[A-Za-z0-9_-]+"), r"\1***"),
)


def redact(text: str) -> str:
    """`text` with tokens, codes and passwords masked (defence in depth for the log)."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that masks secrets in the whole record, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: int = logging.INFO) -> Path:
    """The rotating log in the user's log folder; returns its path."""
    directory = paths.log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOG_FILE
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(handler)
    logging.getLogger("sferum_desktop").setLevel(level)
    # httpx logs every request URL at INFO; qasync is chatty at DEBUG.
    for noisy in ("httpx", "httpcore", "qasync", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's own messages go to the log (and never to a dialog)."""
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }.get(kind, logging.WARNING)
    logging.getLogger("sferum_desktop.qt").log(level, "%s (%s)", message, context.category)


# --- the excepthook ---------------------------------------------------------------------------


class ExceptionReporter(QObject):
    """The one app-wide excepthook: log the trace, show a readable message, carry on."""

    raised = Signal(object)

    def __init__(self, log_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.box: QMessageBox | None = None
        self.raised.connect(self._show)  # queued when raised from another thread

    def install(self) -> None:
        sys.excepthook = self.hook
        threading.excepthook = self._thread_hook

    def hook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QCoreApplication.quit()
            return
        log.critical("unhandled exception", exc_info=(exc_type, exc, tb))
        self.raised.emit(exc)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.hook(args.exc_type, args.exc_value, args.exc_traceback)

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The asyncio loop's exception handler: the same treatment."""
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.hook(type(exc), exc, exc.__traceback__)
        else:
            log.error("asyncio: %s", context.get("message"))

    def _show(self, exc: BaseException) -> None:
        if self.box is not None and self.box.isVisible():
            return  # one at a time: the log has them all
        text = QCoreApplication.translate(
            "SferumDesktop", "В программе произошла непредвиденная ошибка."
        )
        if isinstance(exc, ApiError):
            text = error_message(exc)
        details = QCoreApplication.translate(
            "SferumDesktop",
            "Если ошибка повторяется, сообщите в техническую поддержку и приложите журнал: %1",
        ).replace("%1", str(self.log_path or paths.log_dir()))
        box = QMessageBox(
            QMessageBox.Icon.Critical, QCoreApplication.translate("SferumDesktop", "Ошибка"), text
        )
        box.setInformativeText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("errorBox")
        self.box = box
        box.finished.connect(self._closed)
        box.open()  # not exec(): the event loop keeps running

    def _closed(self, *_: object) -> None:
        self.box = None


# --- the application --------------------------------------------------------------------------


def configure_application(app: QCoreApplication) -> None:
    """Names first (settings depend on them), then the translators."""
    QCoreApplication.setOrganizationName(settings.ORGANIZATION)
    QCoreApplication.setApplicationName(settings.APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    install_translators(app, settings.LANGUAGE.get())


def install_translators(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Qt's own texts (standard buttons) and, for another language, the app's .qm."""
    installed = []
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt_translator = QTranslator(app)
    if qt_translator.load(QLocale(language), "qtbase", "_", qt_dir):
        app.installTranslator(qt_translator)
        installed.append(qt_translator)
    if language != "ru":  # Russian is the source language: nothing to load
        own = QTranslator(app)
        if own.load(f"sferum_desktop_{language}", str(TRANSLATIONS_DIR)):
            app.installTranslator(own)
            installed.append(own)
    return installed


def create_application(argv: Sequence[str]) -> QApplication:
    """The one QApplication, ready for QtWebEngine (loaded later, when a sign-in needs it)."""
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    QCoreApplication.setOrganizationName(settings.ORGANIZATION)
    QCoreApplication.setApplicationName(settings.APPLICATION)
    app = QApplication(list(argv))
    configure_application(app)
    # The desktop file's name: Wayland and X11 match the window to it (and to its icon).
    QGuiApplication.setDesktopFileName("sferum-desktop")
    icon = paths.resources_dir() / "icons" / "sferum-desktop.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


class AppController(QObject):
    """Runs the app: sign-in ⇄ main window, sessions, the demo sandbox, shutdown."""

    def __init__(
        self,
        profiles: ProfileSet,
        *,
        vault: Vault | None = None,
        demo: bool = False,
        profile_name: str | None = None,
        auto_refresh: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.vault = vault or Vault()
        self._vault_notice: str | None = None
        self.vault_status_changed(self.vault.status, initial=True)
        self.demo = demo
        self.profile_name = profile_name
        self.auto_refresh = auto_refresh
        self.session: AuthSession | None = None
        self.sandbox: DemoSandbox | None = None
        self.demo_tools: DemoTools | None = None
        self.main_window: MainWindow | None = None
        self._closing: set[asyncio.Task[Any]] = set()
        self._quit = asyncio.Event()
        selected = DEMO_NAME if demo else profile_name
        self.signin = SignInWindow(profiles, self.session_for, selected=selected)
        self.signin.signedIn.connect(self.show_main)
        self.signin.profileSelected.connect(self._profile_selected)
        self.vault.on_status = self.vault_status_changed
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.setQuitOnLastWindowClosed(False)
        app.lastWindowClosed.connect(self.quit)

    # --- start and stop -----------------------------------------------------------------------

    async def start(self) -> None:
        """Show the first window; start the demo sandbox; resume a remembered session."""
        self.signin.show()
        notices = [n for n in (self.profiles.problem, self._vault_notice) if n]
        if not any(not p.demo for p in self.profiles.profiles) and not self.demo:
            notices.insert(
                0,
                QCoreApplication.translate(
                    "SferumDesktop",
                    "Серверы вашего региона ещё не настроены (файл профилей: %1; общий для "
                    "всех пользователей компьютера: %2). Пока доступна учебная среда «Демо».",
                )
                .replace("%1", str(profiles_mod.profiles_path()))
                .replace("%2", str(profiles_mod.site_profiles_path())),
            )
        if notices:
            self.signin.show_notice("\n\n".join(notices))
        chosen = self.profiles.get(self.signin.profile_name)
        wants_demo = self.demo or (chosen is not None and chosen.demo and not chosen.ready)
        if wants_demo and not await self.start_demo():
            return
        await self.resume()

    async def run(self) -> int:
        """Start, then wait for the last window to close, then clean up."""
        await self.start()
        await self._quit.wait()
        await self.shutdown()
        return 0

    def quit(self) -> None:
        self._quit.set()

    def _profile_selected(self, name: str) -> None:
        """«Демо» chosen on the sign-in window: its sandbox starts now, if not yet."""
        profile = self.profiles.get(name)
        if profile is not None and profile.demo and not profile.ready and self.sandbox is None:
            task = asyncio.ensure_future(self.start_demo())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def start_demo(self) -> bool:
        """Start the sandbox and point «Демо» at it; whether it came up."""
        if self.sandbox is not None:  # already starting or running
            return self.sandbox.url is not None
        sandbox = self.sandbox = DemoSandbox(paths.demo_sandbox_dir(), self)
        sandbox.start()
        try:
            url = await sandbox.wait_ready()
        except ApiError as exc:
            self.signin.show_error(exc.user_message)
            return False
        self.profiles = self.profiles.with_profile(demo_profile(url))
        self.demo_tools = DemoTools(url)
        self.signin.set_profiles(self.profiles, DEMO_NAME)
        # The banner (accounts, VK ID logins) follows READY line by line.
        sandbox.hintsChanged.connect(self._demo_hints_changed)
        self._demo_hints_changed()
        return True

    def _demo_hints_changed(self) -> None:
        if self.sandbox is not None and alive(self.signin):
            self.signin.set_demo_hints(self.sandbox.hints)

    async def resume(self) -> None:
        """Sign in with the remembered session of the chosen profile, when there is one."""
        if not settings.REMEMBER_SESSION.get():
            return
        session = self.session_for(self.signin.profile_name)
        if session is None:
            return
        result = await session.restore()
        if result.me is not None:
            self.show_main(session)
        elif result.message:
            self.signin.show_notice(result.message)

    async def shutdown(self) -> None:
        """Close windows and connections; stop the demo sandbox."""
        # Deleted through the event loop, on this thread: never by a garbage collection that
        # may run on a worker thread.
        if self.main_window is not None:
            self.main_window.close()
            self.main_window.deleteLater()
            self.main_window = None
        self.signin.close()
        self.signin.deleteLater()
        if self.session is not None:
            await self.session.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self.demo_tools is not None:
            await self.demo_tools.aclose()
        if self.sandbox is not None:
            await self.sandbox.stop()

    # --- sessions -----------------------------------------------------------------------------

    def session_for(self, name: str) -> AuthSession | None:
        """The session object for a profile (None when it is not usable yet)."""
        profile = self.profiles.get(name)
        if profile is None or not profile.ready:
            return None
        if self.session is not None and self.session.profile == profile:
            return self.session
        if self.session is not None:
            self._close_later(self.session)
        self.session = AuthSession(profile, self.vault, on_event=self._session_event)
        return self.session

    def _close_later(self, session: AuthSession) -> None:
        task = asyncio.ensure_future(session.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _session_event(self, event: SessionEvent) -> None:
        # Handled after the call that caused it has unwound.
        QTimer.singleShot(0, lambda: self._handle_event(event))

    def _handle_event(self, event: SessionEvent) -> None:
        if isinstance(event, SessionEnded):
            self.back_to_sign_in(event.message)
        elif isinstance(event, SferumSignInNeeded) and self.main_window is not None:
            self.main_window.sferum_ended(event.message)
        elif isinstance(event, LinkChanged) and self.main_window is not None:
            self.main_window.update_person()

    def vault_status_changed(self, status: VaultStatus, *, initial: bool = False) -> None:
        """No keyring: say so (sign-in works, but is not remembered)."""
        if status.persistent:
            return
        self._vault_notice = QCoreApplication.translate(
            "SferumDesktop",
            "В системе нет доступного хранилища паролей (связки ключей), поэтому вход не "
            "будет запомнен: после закрытия программы войдите снова.",
        )
        if not initial:
            if self.main_window is not None:
                self.main_window.banner.show_message(self._vault_notice, retry=False)
            else:
                self.signin.show_notice(self._vault_notice)

    # --- windows ------------------------------------------------------------------------------

    def show_main(self, session: AuthSession) -> None:
        """Signed in: the main window replaces the sign-in window."""
        if self.main_window is not None:
            self.main_window.close()
            self.main_window.deleteLater()
        window = MainWindow(
            session,
            demo=self.demo_tools if session.profile.demo else None,
            demo_hints=self.sandbox.hints if self.sandbox and session.profile.demo else None,
            auto_refresh=self.auto_refresh,
        )
        window.signOutRequested.connect(self.sign_out)
        self.main_window = window
        window.show()
        if self._vault_notice:
            window.banner.show_message(self._vault_notice, retry=False)
        self.signin.hide()
        self.signin.clear_messages()
        if session.has_sferum:
            window.show_sferum()

    def back_to_sign_in(self, message: str | None = None) -> None:
        """The session is over: the sign-in window again, with the reason."""
        self.signin.show()
        self.signin.raise_()
        if message:
            self.signin.show_notice(message)
        window, self.main_window = self.main_window, None
        if window is not None:
            window.close()
            window.deleteLater()

    def sign_out(self) -> None:
        """«Выйти»: end the session everywhere, wipe its secrets, back to sign-in."""
        task = asyncio.ensure_future(self._sign_out())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _sign_out(self) -> None:
        session = self.session
        if session is None:
            return
        told = await session.sign_out()
        message = QCoreApplication.translate(
            "SferumDesktop", "Вы вышли. Данные входа удалены с этого компьютера."
        )
        if not told:
            message += " " + QCoreApplication.translate(
                "SferumDesktop",
                "Сервер не удалось уведомить: сеанс на сервере завершится по истечении срока.",
            )
        self.back_to_sign_in(message)


# --- main ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sferum-desktop", add_help=True)
    parser.add_argument("--demo", action="store_true", help="run against a local demo sandbox")
    parser.add_argument("--profile", metavar="NAME", help="a server profile from profiles.toml")
    # The packaged build's self-check (ui/smoke.py); not for people, so not in --help.
    parser.add_argument(
        "--smoke-test", nargs="?", const="full", choices=("full", "window"), help=argparse.SUPPRESS
    )
    return parser


async def _run(controller: AppController, smoke: str | None) -> int:
    """The app until it quits; with `--smoke-test`, driven by the smoke driver meanwhile."""
    if smoke is None:
        return await controller.run()
    from sferum_desktop.ui.smoke import SmokeDriver

    driver = SmokeDriver(controller, smoke)
    task = asyncio.ensure_future(driver.run())
    code = await controller.run()
    if not task.done():
        task.cancel()
        driver.failed = driver.failed or "the app quit before the smoke run ended"
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return 1 if driver.failed else code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop app; the process exit code."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    with contextlib.suppress(OSError):
        profiles_mod.write_example()
    profiles = profiles_mod.load_profiles()
    if args.profile and profiles.get(args.profile) is None:
        names = ", ".join(profiles.names())
        print(
            f"sferum-desktop: нет профиля «{args.profile}» (есть: {names}); профили задаются в "
            f"{profiles_mod.profiles_path()}",
            file=sys.stderr,
        )
        return 2
    if args.profile == DEMO_NAME:
        args.demo = True
    log_path = setup_logging()
    log.info("Sferum Desktop %s starting", __version__)

    import qasync  # after the arguments: `--help` needs no Qt event loop

    app = create_application([sys.argv[0]])
    qInstallMessageHandler(_qt_message)
    reporter = ExceptionReporter(log_path, app)
    reporter.install()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(reporter.loop_handler)
    controller = AppController(profiles, demo=args.demo, profile_name=args.profile)
    # SIGINT/SIGTERM close the app properly (the demo sandbox too). Python runs signal
    # handlers only when it gets control, so a timer hands it control now and then.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: controller.quit())
    wakeup = QTimer(app)
    wakeup.start(500)
    wakeup.timeout.connect(lambda: None)
    try:
        with loop:
            code: int = loop.run_until_complete(_run(controller, args.smoke_test))
            return code
    except Exception:
        log.critical("the app stopped on an error:\n%s", traceback.format_exc())
        return 1
    finally:
        if controller.sandbox is not None:
            controller.sandbox.kill_now()
        log.info("Sferum Desktop stopped")
