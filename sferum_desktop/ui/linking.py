"""«Привязать аккаунт к Сферум» / «Авторизация в Сферум»: VK ID, then the profile check.

1. VK ID's pages in an embedded web view (PKCE; the redirect is caught inside the view and
   never loaded; `state` checked; the code exchanged at once) — or, with «Войти через
   браузер», in the system browser with a loopback redirect (RFC 8252);
2. «Проверьте свои личные данные»: our own page with the educational profile (ФИО, дата
   рождения, пол, организация, роли) that Sferum will show;
3. «Продолжить» links the ESh account (`POST /links`); the VK ID tokens go to the keyring.

The window is not modal to the app's loop: it is opened with `open()` and reports through
`linked`. Closing it before the end ends the VK ID tokens it obtained.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from sferum_desktop.api.errors import ApiError
from sferum_desktop.api.esh_models import Me
from sferum_desktop.api.vkid import EduProfile, VkIdUser
from sferum_desktop.auth.loopback import ListenerClosed
from sferum_desktop.auth.session import AuthSession, LinkingFlow
from sferum_desktop.ui import settings
from sferum_desktop.ui.common import alive, error_message, heading, open_external
from sferum_desktop.ui.demo import DemoHints, DemoTools, format_phone

log = logging.getLogger("sferum_desktop.ui.linking")

# Marked for translation here, translated where shown (context ProfilePage).
_ROLES = {
    "teacher": QT_TRANSLATE_NOOP("ProfilePage", "Учитель"),
    "admin": QT_TRANSLATE_NOOP("ProfilePage", "Администратор"),
    "student": QT_TRANSLATE_NOOP("ProfilePage", "Ученик"),
    "parent": QT_TRANSLATE_NOOP("ProfilePage", "Родитель"),
}
_SEX = {
    1: QT_TRANSLATE_NOOP("ProfilePage", "Женский"),
    2: QT_TRANSLATE_NOOP("ProfilePage", "Мужской"),
}


def _value(text: str | None) -> QLabel:
    label = QLabel(text or "—")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ProfilePage(QWidget):
    """«Проверьте свои личные данные»: the educational profile before it is linked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("profilePage")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 16)
        layout.addWidget(heading(self.tr("Проверьте свои личные данные"), 6))
        hint = QLabel(
            self.tr(
                "Эти данные учебного профиля будут отображаться на платформе Сферум. "
                "Если всё верно, нажмите «Продолжить»."
            )
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(8)
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(18)
        self.form.setVerticalSpacing(8)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(self.form)
        self.warning = QLabel()
        self.warning.setObjectName("profileWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #8a5a00;")
        self.warning.hide()
        layout.addSpacing(8)
        layout.addWidget(self.warning)
        self.error = QLabel()
        self.error.setObjectName("profileError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b0152d;")
        self.error.hide()
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.continue_button = QPushButton(self.tr("Продолжить"))
        self.continue_button.setObjectName("continue")
        self.continue_button.setDefault(True)
        self.continue_button.setMinimumHeight(36)
        self.cancel_button = QPushButton(self.tr("Отмена"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.continue_button)
        layout.addLayout(buttons)
        self.fields: dict[str, str] = {}

    def show_profile(self, user: VkIdUser, me: Me | None) -> None:
        """Fill the form from the VK ID educational profile; warn about mismatches."""
        edu = user.edu_profile
        assert edu is not None
        while self.form.rowCount():
            self.form.removeRow(0)
        organizations = ", ".join(org.name for org in edu.organizations if org.name)
        roles = ", ".join(
            self.tr(str(_ROLES[role])) if role in _ROLES else role for role in edu.roles
        )
        self.fields = {
            self.tr("Фамилия"): edu.last_name,
            self.tr("Имя"): edu.first_name,
            self.tr("Отчество"): edu.middle_name or "",
            self.tr("Дата рождения"): edu.birthday.strftime("%d.%m.%Y") if edu.birthday else "",
            self.tr("Пол"): self.tr(str(_SEX[edu.sex])) if edu.sex in _SEX else "",
            self.tr("Организация"): organizations or self.tr("не указана"),
            self.tr("Роли"): roles or self.tr("не указаны"),
        }
        for name, text in self.fields.items():
            self.form.addRow(QLabel(f"<b>{name}</b>"), _value(text))
        self.warning.setText(_mismatch(edu, me))
        self.warning.setVisible(bool(self.warning.text()))
        self.error.hide()
        self.continue_button.setEnabled(True)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


def _mismatch(edu: EduProfile, me: Me | None) -> str:
    """A caution when the profile does not look like the signed-in ESh person's."""
    if me is None:
        return ""
    notes = []
    if (
        me.family_name
        and me.given_name
        and (edu.last_name.casefold(), edu.first_name.casefold())
        != (me.family_name.casefold(), me.given_name.casefold())
    ):
        notes.append(
            QCoreApplication.translate(
                "ProfilePage", "ФИО в учебном профиле отличается от ФИО в ЭШ (%1)."
            ).replace("%1", me.full_name)
        )
    schools = {school.id for school in me.schools}
    if schools and not any(edu.in_organization(school) for school in schools):
        notes.append(
            QCoreApplication.translate(
                "ProfilePage", "Организация профиля не совпадает с вашей школой в ЭШ."
            )
        )
    return " ".join(notes)


class LinkingDialog(QDialog):
    """The VK ID sign-in and linking window; `linked` carries the updated person."""

    linked = Signal(object)  # Me

    def __init__(
        self,
        session: AuthSession,
        *,
        title: str,
        demo: DemoTools | None = None,
        demo_hints: DemoHints | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        from sferum_desktop.ui.webauth import AuthWebView  # QtWebEngine loads at use

        self.session = session
        self.flow: LinkingFlow = session.begin_linking()
        self.demo = demo
        self._finished_flow = False
        self._via_browser = False
        self.setObjectName("linkingDialog")
        self.setWindowTitle(title)
        self.resize(900 if demo else 620, 700)

        # Page: VK ID in the web view, with «Войти через браузер».
        self.web = AuthWebView(self.flow.is_redirect, self, ca_bundle=session.profile.ca_bundle)
        self.web.redirectCaught.connect(self.redirect_caught)
        self.browser_button = QPushButton(self.tr("Войти через браузер"))
        self.browser_button.setObjectName("browser")
        self.browser_button.setToolTip(
            self.tr("Открыть вход VK ID в системном браузере, если здесь он не открывается")
        )
        self.browser_button.clicked.connect(self.sign_in_in_browser)
        web_page = QWidget()
        web_layout = QVBoxLayout(web_page)
        web_layout.setContentsMargins(0, 0, 0, 0)
        web_layout.addWidget(self.web, 1)

        # Page: waiting (exchanging the code, or the system browser).
        self.wait_page = QWidget()
        wait_layout = QVBoxLayout(self.wait_page)
        wait_layout.addStretch(1)
        self.wait_text = QLabel()
        self.wait_text.setObjectName("waitText")
        self.wait_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.wait_text.setWordWrap(True)
        wait_layout.addWidget(self.wait_text)
        self.back_button = QPushButton(self.tr("Вернуться ко входу в окне"))
        self.back_button.clicked.connect(self.back_to_embedded)
        back_row = QHBoxLayout()
        back_row.addStretch(1)
        back_row.addWidget(self.back_button)
        back_row.addStretch(1)
        wait_layout.addLayout(back_row)
        wait_layout.addStretch(2)

        # Page: «Проверьте свои личные данные».
        self.profile_page = ProfilePage()
        self.profile_page.continue_button.clicked.connect(self.confirm)
        self.profile_page.cancel_button.clicked.connect(self.reject)

        # Page: done, or failed.
        self.end_page = QWidget()
        self.end_page.setObjectName("endPage")
        end_layout = QVBoxLayout(self.end_page)
        end_layout.setContentsMargins(32, 32, 32, 16)
        self.end_title = heading("", 6)
        self.end_text = QLabel()
        self.end_text.setObjectName("endText")
        self.end_text.setWordWrap(True)
        self.retry_button = QPushButton(self.tr("Начать заново"))
        self.retry_button.setObjectName("retry")
        self.retry_button.clicked.connect(self.start_over)
        self.close_button = QPushButton(self.tr("Готово"))
        self.close_button.setObjectName("done")
        self.close_button.clicked.connect(self.accept)
        end_layout.addWidget(self.end_title)
        end_layout.addWidget(self.end_text)
        end_layout.addStretch(1)
        end_buttons = QHBoxLayout()
        end_buttons.addStretch(1)
        end_buttons.addWidget(self.retry_button)
        end_buttons.addWidget(self.close_button)
        end_layout.addLayout(end_buttons)

        self.pages = QStackedWidget()
        for page in (web_page, self.wait_page, self.profile_page, self.end_page):
            self.pages.addWidget(page)
        self.web_page = web_page

        bottom = QHBoxLayout()
        bottom.addWidget(self.browser_button)
        bottom.addStretch(1)
        self.cancel_button = QPushButton(self.tr("Отмена"))
        self.cancel_button.clicked.connect(self.reject)
        bottom.addWidget(self.cancel_button)

        self.bottom_bar = QWidget()
        self.bottom_bar.setLayout(bottom)
        bottom.setContentsMargins(0, 0, 0, 0)
        self.pages.currentChanged.connect(self._page_changed)
        main = QVBoxLayout()
        main.addWidget(self.pages, 1)
        main.addWidget(self.bottom_bar)
        outer = QHBoxLayout(self)
        outer.addLayout(main, 1)
        self.demo_panel: QLabel | None = None
        self._sms_timer: QTimer | None = None
        if demo is not None:
            outer.addWidget(self._demo_panel(demo_hints or DemoHints()))

        geometry = settings.LINKING_GEOMETRY.get()
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        self.web.open(self.flow.url)

    # --- demo -------------------------------------------------------------------------------

    def _demo_panel(self, hints: DemoHints) -> QFrame:
        """The sandbox's VK ID logins and its latest SMS code, for a demo without a phone."""
        frame = QFrame()
        frame.setObjectName("demoPanel")
        frame.setFixedWidth(270)
        frame.setStyleSheet(
            "#demoPanel { background: #f3f6fa; border: 1px solid #d5dde8; border-radius: 6px; }"
        )
        layout = QVBoxLayout(frame)
        layout.addWidget(heading(self.tr("Учебная среда"), 2))
        lines = [self.tr("Номера VK ID из руководства:")]
        for login in hints.vk_logins:
            password = login.password or self.tr("без пароля")
            lines.append(
                f"<b>{self.tr('Вариант')} {login.path}</b>: {format_phone(login.phone)}<br>"
                f"{self.tr('пароль')}: {password}<br><small>{login.full_name}</small>"
            )
        text = QLabel("<br><br>".join(lines))
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
        layout.addSpacing(10)
        self.demo_panel = QLabel(self.tr("СМС пока не было."))
        self.demo_panel.setObjectName("demoSms")
        self.demo_panel.setWordWrap(True)
        self.demo_panel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.demo_panel)
        layout.addStretch(1)
        self._sms_timer = QTimer(self)
        self._sms_timer.setInterval(1500)
        self._sms_timer.timeout.connect(self._poll_sms)
        self._sms_timer.start()
        return frame

    @asyncSlot()
    async def _poll_sms(self) -> None:
        if self.demo is None or self.demo_panel is None:
            return
        sms = await self.demo.latest_sms()
        if sms is not None and alive(self) and self.demo_panel is not None:
            self.demo_panel.setText(
                self.tr("Последнее СМС на %1:").replace("%1", format_phone(sms.phone))
                + f"<br><b style='font-size:16pt'>{sms.code}</b>"
            )

    # --- the flow -------------------------------------------------------------------------

    @asyncSlot(str)
    async def redirect_caught(self, url: str) -> None:
        """The web view caught VK ID's redirect: check it and exchange the code at once."""
        self._show_wait(self.tr("Проверяем вход в VK ID…"), back=False)
        await self._complete(self.flow.complete(url))

    @asyncSlot()
    async def sign_in_in_browser(self) -> None:
        """«Войти через браузер»: VK ID in the system browser, redirect to a loopback port."""
        self._via_browser = True
        self.web.stop()
        self._show_wait(
            self.tr(
                "Войдите в VK ID в открывшемся окне браузера. После входа браузер покажет "
                "«Можно вернуться в приложение» — тогда вернитесь сюда."
            ),
            back=True,
        )
        await self._complete(self.flow.complete_in_browser(open_external))

    @asyncSlot()
    async def back_to_embedded(self) -> None:
        """Leave the browser sign-in and sign in in the window again."""
        await self.flow.cancel_browser()

    async def _complete(self, completion: Coroutine[Any, Any, VkIdUser]) -> None:
        try:
            user = await completion
        except ListenerClosed:
            # The browser sign-in was left: start again in the embedded view.
            if alive(self):
                self._restart_embedded()
            return
        except ApiError as exc:
            log.info("VK ID sign-in failed: %s", type(exc).__name__)
            if not alive(self):
                return
            self._show_end(self.tr("Вход в VK ID не выполнен"), error_message(exc), ok=False)
            return
        if not alive(self):
            return
        self.browser_button.setEnabled(False)
        self.profile_page.show_profile(user, self.session.me)
        self.pages.setCurrentWidget(self.profile_page)
        if self._via_browser:  # the browser is in front: come back to the person
            self.raise_()
            self.activateWindow()

    @asyncSlot()
    async def confirm(self) -> None:
        """«Продолжить»: link the ESh account to this profile."""
        button = self.profile_page.continue_button
        button.setEnabled(False)
        try:
            me = await self.flow.confirm()
        except ApiError as exc:
            log.info("linking refused: %s", type(exc).__name__)
            if alive(self):
                self.profile_page.show_error(error_message(exc))
                button.setEnabled(True)
            return
        self._finished_flow = True
        if not alive(self):
            return
        self._show_end(
            self.tr("Аккаунт привязан к Сферуму"),
            self.tr(
                "Аккаунт ЭШ связан с учебным профилем VK ID. Чаты и видеоконференции — "
                "на вкладке «Сферум»."
            ),
            ok=True,
        )
        self.linked.emit(me)

    def _page_changed(self, _index: int) -> None:
        """The pages of our own carry their buttons; the bar is for the VK ID pages."""
        page = self.pages.currentWidget()
        self.bottom_bar.setVisible(page is self.web_page or page is self.wait_page)

    def _show_wait(self, text: str, *, back: bool) -> None:
        self.wait_text.setText(text)
        self.back_button.setVisible(back)
        self.pages.setCurrentWidget(self.wait_page)

    def _show_end(self, title: str, text: str, *, ok: bool) -> None:
        self.end_title.setText(title)
        self.end_text.setText(text)
        self.retry_button.setVisible(not ok)
        self.close_button.setText(self.tr("Готово") if ok else self.tr("Закрыть"))
        self.cancel_button.setVisible(not ok)
        self.browser_button.setVisible(not ok)
        self.pages.setCurrentWidget(self.end_page)

    def start_over(self) -> None:
        """«Начать заново»: a new VK ID sign-in with fresh PKCE secrets."""
        old = self.flow
        self.flow = self.session.begin_linking()
        self._abandon(old)
        self._restart_embedded()

    def _restart_embedded(self) -> None:
        self._via_browser = False
        if self.flow.completing:  # a flow takes one redirect: make a new one
            self.start_over()
            return
        self.flow.restart()
        self.web.set_redirect_test(self.flow.is_redirect)
        self.browser_button.setEnabled(True)
        self.browser_button.setVisible(True)
        self.cancel_button.setVisible(True)
        self.pages.setCurrentWidget(self.web_page)
        self.web.open(self.flow.url)

    def _abandon(self, flow: LinkingFlow) -> None:
        task = asyncio.ensure_future(flow.abandon())
        task.add_done_callback(_log_failure)

    # --- closing ----------------------------------------------------------------------------

    def done(self, result: int) -> None:
        if self._sms_timer is not None:
            self._sms_timer.stop()
        self.demo_panel = None
        self.web.stop()
        settings.LINKING_GEOMETRY.set(self.saveGeometry())
        if not self._finished_flow:
            self._abandon(self.flow)
        super().done(result)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("ending an abandoned VK ID sign-in failed: %s", type(task.exception()).__name__)
