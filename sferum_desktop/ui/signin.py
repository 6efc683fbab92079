"""The «Вход в ЭШ» window: user name and password, «Забыли пароль?», «Войти через госуслуги».

Laid out as the guide shows it (`seed`, `spec/ui.md`), plus the server profile choice. The
sign-in runs on the event loop: «ВОЙТИ» is disabled while it runs, and every refusal ends as
a sentence in the error line (wrong password; too many attempts, with the wait in minutes;
server unreachable). «Войти через госуслуги» opens the ESIA page in an embedded web view
whose redirect is caught inside the view (`ui.webauth`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ApiError
from sferum_desktop.auth.profiles import ProfileSet
from sferum_desktop.auth.session import AuthSession, OAuthRequest
from sferum_desktop.ui import settings
from sferum_desktop.ui.common import alive, error_message, heading, open_external
from sferum_desktop.ui.demo import DemoHints

log = logging.getLogger("sferum_desktop.ui.signin")

SessionFactory = Callable[[str], AuthSession | None]

_ROLE_NAMES = {  # translated where shown (context SignInWindow)
    "admin": QT_TRANSLATE_NOOP("SignInWindow", "администратор"),
    "teacher": QT_TRANSLATE_NOOP("SignInWindow", "учитель"),
    "student": QT_TRANSLATE_NOOP("SignInWindow", "ученик"),
    "parent": QT_TRANSLATE_NOOP("SignInWindow", "родитель"),
}


def _initials(full_name: str) -> str:
    """«Никитина Светлана Геннадьевна» → «Никитина С. Г.»."""
    family, *rest = full_name.split()
    return " ".join([family, *(f"{name[0]}." for name in rest)])


class EsiaDialog(QDialog):
    """«Войти через госуслуги»: the ESIA page in a web view; emits the caught redirect."""

    redirectCaught = Signal(str)

    def __init__(self, request: OAuthRequest, session: AuthSession, parent: QWidget) -> None:
        super().__init__(parent)
        from sferum_desktop.ui.webauth import AuthWebView  # QtWebEngine loads at use

        self.setWindowTitle(self.tr("Войти через госуслуги"))
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(560, 680)
        self.web = AuthWebView(request.is_redirect, self, ca_bundle=session.profile.ca_bundle)
        self.web.redirectCaught.connect(self._caught)
        self.waiting = QLabel(self.tr("Выполняется вход…"))
        self.waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.web)
        self.stack.addWidget(self.waiting)
        cancel = QPushButton(self.tr("Отмена"))
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self.web.open(request.url)

    def _caught(self, url: str) -> None:
        self.stack.setCurrentWidget(self.waiting)
        self.redirectCaught.emit(url)

    def done(self, result: int) -> None:
        self.web.stop()
        super().done(result)


class SignInWindow(QWidget):
    """«Вход в ЭШ»; `signedIn` carries the session once someone has signed in."""

    signedIn = Signal(object)  # AuthSession
    profileSelected = Signal(str)  # the person chose another server profile

    def __init__(
        self,
        profiles: ProfileSet,
        session_for: SessionFactory,
        *,
        selected: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.session_for = session_for
        self._busy = False
        self._esia: EsiaDialog | None = None
        self._esia_request: OAuthRequest | None = None
        self._hints = DemoHints()
        self.setWindowTitle(self.tr("Вход в ЭШ"))
        self.setObjectName("signInWindow")
        self.setFixedWidth(470)
        self._build()
        self.set_profiles(profiles, selected)

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = heading(self.tr("Вход в ЭШ"), 8)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.profile_label = QLabel(self.tr("Сервер"))
        self.profile_box = QComboBox()
        self.profile_box.setObjectName("profile")
        self.profile_label.setBuddy(self.profile_box)
        self.profile_box.currentIndexChanged.connect(self._profile_changed)
        self.profile_box.activated.connect(
            lambda _index: self.profileSelected.emit(self.profile_name)
        )

        self.username_label = QLabel(self.tr("Имя пользователя"))
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setPlaceholderText(self.tr("Имя пользователя"))
        self.username_label.setBuddy(self.username)

        self.password_label = QLabel(self.tr("Пароль"))
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setPlaceholderText(self.tr("Пароль"))
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_label.setBuddy(self.password)

        self.forgot = QLabel(f'<a href="#reset">{self.tr("Забыли пароль?")}</a>')
        self.forgot.setObjectName("forgot")
        self.forgot.setTextFormat(Qt.TextFormat.RichText)
        self.forgot.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.forgot.linkActivated.connect(self._forgot)
        forgot_row = QHBoxLayout()
        forgot_row.addStretch(1)
        forgot_row.addWidget(self.forgot)

        self.sign_in_button = QPushButton(self.tr("ВОЙТИ"))
        self.sign_in_button.setObjectName("signIn")
        self.sign_in_button.setDefault(True)
        self.sign_in_button.setMinimumHeight(38)
        self.sign_in_button.setStyleSheet(
            "QPushButton#signIn { background: #1f6fd1; color: white; font-weight: bold;"
            " border-radius: 4px; padding: 6px 18px; }"
            "QPushButton#signIn:disabled { background: #9db8dc; }"
        )
        self.sign_in_button.clicked.connect(self.sign_in)
        self.username.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self.sign_in_button.click)

        self.esia_button = QPushButton(self.tr("Войти через госуслуги"))
        self.esia_button.setObjectName("esia")
        self.esia_button.setMinimumHeight(34)
        self.esia_button.clicked.connect(self.sign_in_with_esia)

        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b0152d;")
        self.error.hide()

        self.notice = QLabel()
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #2c5282;")
        self.notice.hide()

        self.demo_box = QFrame()
        self.demo_box.setObjectName("demoBox")
        self.demo_box.setStyleSheet(
            "#demoBox { background: #f3f6fa; border: 1px solid #d5dde8; border-radius: 6px; }"
        )
        self.demo_text = QLabel()
        self.demo_text.setObjectName("demoText")
        self.demo_text.setWordWrap(True)
        self.demo_text.setTextFormat(Qt.TextFormat.RichText)
        self.demo_text.linkActivated.connect(self._fill_account)
        demo_layout = QVBoxLayout(self.demo_box)
        demo_layout.addWidget(self.demo_text)
        self.demo_box.hide()

        form = QVBoxLayout()
        form.setSpacing(6)
        form.addWidget(self.title)
        form.addSpacing(10)
        form.addWidget(self.profile_label)
        form.addWidget(self.profile_box)
        form.addSpacing(4)
        form.addWidget(self.username_label)
        form.addWidget(self.username)
        form.addWidget(self.password_label)
        form.addWidget(self.password)
        form.addLayout(forgot_row)
        form.addSpacing(4)
        form.addWidget(self.sign_in_button)
        form.addSpacing(6)
        form.addWidget(self.esia_button)
        form.addWidget(self.error)
        form.addWidget(self.notice)
        form.addSpacing(6)
        form.addWidget(self.demo_box)
        form.addStretch(1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(28, 20, 28, 20)
        layout.addLayout(form)

    # --- profiles -------------------------------------------------------------------------

    @property
    def esia_dialog(self) -> EsiaDialog | None:
        """The «Войти через госуслуги» window while it is open."""
        return self._esia

    def set_profiles(self, profiles: ProfileSet, selected: str | None = None) -> None:
        """Show these profiles; keep or select one (`selected`, the last used, the default)."""
        current = selected or self.profile_box.currentText() or settings.LAST_PROFILE.get()
        self.profiles = profiles
        self.profile_box.blockSignals(True)
        self.profile_box.clear()
        self.profile_box.addItems(profiles.names())
        names = profiles.names()
        choice = current if current in names else (profiles.default or names[0])
        self.profile_box.setCurrentIndex(names.index(choice))
        self.profile_box.blockSignals(False)
        self._profile_changed()

    def set_demo_hints(self, hints: DemoHints) -> None:
        """The demo accounts to offer while «Демо» is chosen."""
        self._hints = hints
        self._profile_changed()

    @property
    def profile_name(self) -> str:
        return self.profile_box.currentText()

    def _profile_changed(self, *_: Any) -> None:
        profile = self.profiles.get(self.profile_name)
        ready = profile is not None and profile.ready
        self._update_buttons()
        if profile is not None and profile.demo:
            self.demo_text.setText(self._demo_html(ready))
            self.demo_box.show()
        else:
            self.demo_box.hide()
        self._fit()

    def _demo_html(self, ready: bool) -> str:
        if not ready:
            return self.tr("Учебная среда запускается…")
        lines = [
            "<b>" + self.tr("Учебная среда") + "</b> — "
            + self.tr("данные вымышлены. Пароль у всех учётных записей: demo.")
        ]  # fmt: skip
        accounts = [
            f'<a href="{a.username}">{a.username}</a> ({self._role_name(a.role)})'
            for a in self._hints.accounts
        ]
        if accounts:
            lines.append(self.tr("Учётные записи ЭШ:") + " " + ", ".join(accounts) + ".")
        unlinked = [
            f'<a href="{v.esh_username}">{v.esh_username}</a> ({_initials(v.full_name)})'
            for v in self._hints.vk_logins
            if v.esh_username
        ]
        if unlinked:
            lines.append(self.tr("Ещё не привязаны к Сферуму:") + " " + ", ".join(unlinked) + ".")
        return "<br>".join(lines)

    def _role_name(self, role: str) -> str:
        return self.tr(str(_ROLE_NAMES[role])) if role in _ROLE_NAMES else role

    def _fill_account(self, username: str) -> None:
        """A demo account was clicked: fill in its user name and the demo password."""
        self.username.setText(username)
        self.password.setText("demo")
        self.sign_in_button.setFocus()

    def _update_buttons(self) -> None:
        profile = self.profiles.get(self.profile_name)
        usable = profile is not None and profile.ready and not self._busy
        self.sign_in_button.setEnabled(usable)
        self.esia_button.setEnabled(usable)
        self.forgot.setEnabled(profile is not None and profile.ready)
        self.profile_box.setEnabled(not self._busy)
        self.username.setEnabled(not self._busy)
        self.password.setEnabled(not self._busy)

    # --- messages -------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        self.notice.hide()
        self.error.setText(text)
        self.error.show()
        self._fit()

    def show_notice(self, text: str) -> None:
        """A neutral message (signed out, session expired, keyring missing)."""
        self.error.hide()
        self.notice.setText(text)
        self.notice.show()
        self._fit()

    def clear_messages(self) -> None:
        self.error.hide()
        self.notice.hide()
        self._fit()

    def _fit(self) -> None:
        """Grow (or shrink) to the messages shown: never cut a sentence off."""
        QTimer.singleShot(0, self._adjust)

    def _adjust(self) -> None:
        if not alive(self):
            return
        # Word-wrapped labels report their height for the width they will have.
        for label in (self.error, self.notice, self.demo_text):
            width = label.width() if label.width() > 50 else self.width() - 80
            label.setMinimumHeight(label.heightForWidth(width) if label.isVisibleTo(self) else 0)
        self.adjustSize()

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.sign_in_button.setText(self.tr("Вход…") if busy else self.tr("ВОЙТИ"))
        self._update_buttons()

    # --- actions ----------------------------------------------------------------------------

    @asyncSlot()
    async def sign_in(self) -> None:
        """«ВОЙТИ»: sign in with the user name and password."""
        if self._busy:
            return
        username = self.username.text().strip()
        password = self.password.text()
        if not username or not password:
            self.show_error(self.tr("Введите имя пользователя и пароль."))
            (self.username if not username else self.password).setFocus()
            return
        session = self.session_for(self.profile_name)
        if session is None:
            return
        self.clear_messages()
        self._set_busy(True)
        try:
            await session.sign_in(username, password)
        except ApiError as exc:
            log.info("sign-in refused: %s", type(exc).__name__)
            if alive(self):
                self.show_error(error_message(exc))
                self.password.selectAll()
                self.password.setFocus()
            return
        finally:
            if alive(self):
                self._set_busy(False)
        if not alive(self):
            return
        self.password.clear()
        self._signed_in(session)

    def _signed_in(self, session: AuthSession) -> None:
        settings.LAST_PROFILE.set(self.profile_name)
        self.signedIn.emit(session)

    def _forgot(self, _link: str) -> None:
        """«Забыли пароль?»: ESh's reset page in the system browser."""
        session = self.session_for(self.profile_name)
        if session is not None:
            open_external(session.password_reset_url())

    def sign_in_with_esia(self) -> None:
        """«Войти через госуслуги»: the ESIA page in a window of its own (not blocking)."""
        session = self.session_for(self.profile_name)
        if session is None or self._busy:
            return
        self.clear_messages()
        self._esia_request = request = session.begin_esia()
        dialog = self._esia = EsiaDialog(request, session, self)
        dialog.redirectCaught.connect(lambda url: self._finish_esia(session, request, url))
        dialog.finished.connect(self._esia_closed)
        self._set_busy(True)
        dialog.open()

    def _esia_closed(self, _result: int) -> None:
        dialog, self._esia = self._esia, None
        if dialog is not None:
            dialog.deleteLater()
        if self._esia_request is not None:  # closed without a redirect
            self._esia_request = None
            self._set_busy(False)

    @asyncSlot()
    async def _finish_esia(self, session: AuthSession, request: OAuthRequest, url: str) -> None:
        self._esia_request = None
        try:
            await session.finish_esia(request, url)
            if not alive(self):
                return
        except ApiError as exc:
            if not alive(self):
                return
            log.info("ESIA sign-in refused: %s", type(exc).__name__)
            if self._esia is not None:
                self._esia.reject()
            self._set_busy(False)
            self.show_error(error_message(exc))
            return
        if self._esia is not None:
            self._esia.accept()
        self._set_busy(False)
        self._signed_in(session)

    # --- window ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        geometry = settings.SIGNIN_GEOMETRY.get()
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        super().showEvent(event)
        self.username.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        settings.SIGNIN_GEOMETRY.set(self.saveGeometry())
        super().closeEvent(event)
