"""Small pieces shared by the windows: error wording, the network banner, external links."""

from __future__ import annotations

import logging
import math

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from sferum_desktop.api.errors import (
    ESH,
    SFERUM,
    VKID,
    ApiError,
    CertificateError,
    InvalidCredentials,
    NetworkError,
    ServerError,
    TooManyAttempts,
)

log = logging.getLogger("sferum_desktop.ui")


def alive(obj: QObject) -> bool:
    """Whether a Qt object still exists: a coroutine may resume after its window is gone."""
    return shiboken6.isValid(obj)


def server_name(exc: ApiError) -> str:
    """«Сервер ЭШ», «Сервер VK ID», «Сервер Сферума» in the current language."""
    if exc.service == VKID:
        return QCoreApplication.translate("SferumDesktop", "Сервер VK ID")
    if exc.service == SFERUM:
        return QCoreApplication.translate("SferumDesktop", "Сервер Сферума")
    return QCoreApplication.translate("SferumDesktop", "Сервер ЭШ")


def error_message(exc: ApiError) -> str:
    """The words a teacher reads for a failed call: what happened and what to do."""
    if isinstance(exc, InvalidCredentials):
        return QCoreApplication.translate("SferumDesktop", "Неверное имя пользователя или пароль.")
    if isinstance(exc, TooManyAttempts):
        minutes = max(1, math.ceil((exc.retry_after or 300) / 60))
        return QCoreApplication.translate(
            "SferumDesktop",
            "Слишком много неудачных попыток входа. Повторите попытку через %n мин.",
            None,
            minutes,
        )
    if isinstance(exc, CertificateError):
        return exc.user_message
    if isinstance(exc, NetworkError):
        if exc.service == ESH:
            return QCoreApplication.translate(
                "SferumDesktop",
                "Сервер ЭШ недоступен. Проверьте подключение к интернету и повторите попытку.",
            )
        return QCoreApplication.translate(
            "SferumDesktop", "%1 недоступен. Проверьте подключение к интернету и повторите попытку."
        ).replace("%1", server_name(exc))
    if isinstance(exc, ServerError):
        return QCoreApplication.translate(
            "SferumDesktop", "%1 временно не работает. Повторите попытку позже."
        ).replace("%1", server_name(exc))
    return exc.user_message


def open_external(url: str) -> bool:
    """Open a page in the system browser (QDesktopServices: honours the desktop's choice)."""
    ok = QDesktopServices.openUrl(QUrl(url))
    if not ok:
        log.warning("the system browser could not be started")
    return ok


def heading(text: str, size_delta: int = 6) -> QLabel:
    """A bold title label, larger than the body text."""
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSize(font.pointSize() + size_delta)
    font.setBold(True)
    label.setFont(font)
    label.setWordWrap(True)
    return label


class Banner(QFrame):
    """A strip above the content for trouble («Нет связи…») with a «Повторить» button."""

    retry = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#banner { background: #fdecee; border: 1px solid #f3b8c0; border-radius: 6px; }"
            "#banner QLabel { color: #7a1020; }"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.retry_button = QPushButton(self.tr("Повторить"))
        self.retry_button.clicked.connect(self.retry)
        layout.addWidget(self.retry_button)
        self.hide()

    def show_message(self, text: str, *, retry: bool = True) -> None:
        """Show `text`; `retry=False` for a notice that no retry can cure."""
        self.label.setText(text)
        self.retry_button.setVisible(retry)
        self.show()

    def clear(self) -> None:
        self.label.clear()
        self.hide()
