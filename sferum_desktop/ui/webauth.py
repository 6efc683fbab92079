"""The embedded browser for OAuth sign-ins (VK ID, Госуслуги) that catches the redirect.

The redirect URI (a loopback address) is never loaded: the page refuses the navigation in
`acceptNavigationRequest` (which also sees server redirects), and a request interceptor
blocks any request to it that would slip through. Either way the URL, with its `code` and
`state`, goes to `redirectCaught` once. Each view has its own off-the-record profile, so
cookies, cache and form data of the sign-in stay in memory and vanish with the window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtNetwork import QSslCertificate, QSslConfiguration
from PySide6.QtWebEngineCore import (
    QWebEngineCertificateError,
    QWebEnginePage,
    QWebEngineProfile,
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

log = logging.getLogger("sferum_desktop.ui.webauth")

RedirectTest = Callable[[str], bool]


class RedirectInterceptor(QWebEngineUrlRequestInterceptor):
    """Blocks every request to the redirect URI and reports it (the safety net)."""

    caught = Signal(str)

    def __init__(self, is_redirect: RedirectTest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.is_redirect = is_redirect

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:
        url = info.requestUrl().toString(QUrl.ComponentFormattingOption.FullyEncoded)
        if self.is_redirect(url):
            info.block(True)
            self.caught.emit(url)


class RedirectCatchingPage(QWebEnginePage):
    """A page that refuses to navigate to the redirect URI and hands the URL over instead."""

    caught = Signal(str)

    def __init__(
        self,
        profile: QWebEngineProfile,
        is_redirect: RedirectTest,
        parent: QObject | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        super().__init__(profile, parent)
        self.is_redirect = is_redirect
        self._extra_ca = _load_ca(ca_bundle)
        self.certificateError.connect(self._on_certificate_error)

    def acceptNavigationRequest(
        self, url: QUrl | str, kind: QWebEnginePage.NavigationType, is_main_frame: bool
    ) -> bool:
        url = QUrl(url)
        text = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
        if self.is_redirect(text):
            self.caught.emit(text)
            return False
        return super().acceptNavigationRequest(url, kind, is_main_frame)

    def javaScriptConsoleMessage(
        self,
        level: QWebEnginePage.JavaScriptConsoleMessageLevel,
        message: str,
        line: int,
        source: str,
    ) -> None:
        # The default prints the page's messages with their URL, which may carry a code.
        log.debug("page console message at level %s", level)

    def _on_certificate_error(self, error: QWebEngineCertificateError) -> None:
        """Accept a chain that verifies against the profile's CA bundle (Минцифры), only."""
        if self._extra_ca and error.type() in (
            QWebEngineCertificateError.Type.CertificateAuthorityInvalid,
        ):
            chain = error.certificateChain()
            host = error.url().host()
            if chain and not QSslCertificate.verify(chain, host):
                log.info("certificate accepted: it chains to the profile's CA bundle")
                error.acceptCertificate()
                return
        log.warning("certificate error on a sign-in page: %s", error.type().name)
        error.rejectCertificate()


def _load_ca(ca_bundle: Path | None) -> list[QSslCertificate]:
    """The bundle's certificates, added to Qt's default CAs so `verify` can use them."""
    if ca_bundle is None:
        return []
    certificates = QSslCertificate.fromPath(str(ca_bundle))
    if certificates:
        config = QSslConfiguration.defaultConfiguration()
        config.addCaCertificates(certificates)
        QSslConfiguration.setDefaultConfiguration(config)
    return certificates


class AuthWebView(QWidget):
    """A web view for one sign-in; `redirectCaught` fires once with the redirect URL."""

    redirectCaught = Signal(str)

    def __init__(
        self,
        is_redirect: RedirectTest,
        parent: QWidget | None = None,
        *,
        ca_bundle: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self._done = False
        # Children are deleted in the order they were added, and a profile must outlive its
        # pages (Qt warns otherwise): so the view first, then the page, then the profile.
        self.view = QWebEngineView(self)
        # No storage name: an off-the-record profile, nothing written to disk.
        self.profile = QWebEngineProfile()
        self.profile.setHttpAcceptLanguage("ru-RU,ru")
        self.interceptor = RedirectInterceptor(is_redirect, self.profile)
        self.profile.setUrlRequestInterceptor(self.interceptor)
        self.page = RedirectCatchingPage(self.profile, is_redirect, self, ca_bundle)
        self.profile.setParent(self)
        self.view.setPage(self.page)
        self.progress = QProgressBar(self)
        self.progress.setMaximumHeight(3)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 100)
        self.status = QLabel(self)
        self.status.setObjectName("webStatus")
        self.status.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self.page.caught.connect(self._caught)
        self.interceptor.caught.connect(self._caught)
        self.view.loadProgress.connect(self.progress.setValue)
        self.view.loadStarted.connect(self.progress.show)
        self.view.loadFinished.connect(self._load_finished)

    def set_redirect_test(self, is_redirect: RedirectTest) -> None:
        """Catch another redirect URI (a new attempt with fresh PKCE secrets)."""
        self.page.is_redirect = is_redirect
        self.interceptor.is_redirect = is_redirect
        self._done = False

    def open(self, url: str) -> None:
        """Load the sign-in page."""
        self._done = False
        self.status.hide()
        self.view.setUrl(QUrl(url))

    def _caught(self, url: str) -> None:
        if self._done:
            return
        self._done = True
        log.info("sign-in redirect caught inside the view")
        # Called from inside Chromium's navigation handling: touching the page here (stop,
        # load) crashes it, so everything else happens once control is back in Qt's loop.
        QTimer.singleShot(0, lambda: self.redirectCaught.emit(url))

    def _load_finished(self, ok: bool) -> None:
        self.progress.hide()
        if not ok and not self._done:
            self.status.setText(
                self.tr("Страница входа не загрузилась. Проверьте подключение к интернету.")
            )
            self.status.show()

    def stop(self) -> None:
        """Stop loading (the window is closing or the sign-in moved on)."""
        self.view.stop()
