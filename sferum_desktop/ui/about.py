"""«О программе»: the version, the bundled components with their licences, and Qt's LGPL terms.

The component list comes from `sferum_desktop.components` (metadata, no Qt); this dialog
adds the runtime versions of Qt and Chromium and the words. Licence texts open inside the
dialog: no browser is needed to read them.
"""

from __future__ import annotations

import html
import logging
import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import QSize, QSysInfo, Qt, qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sferum_desktop import __version__, components, paths
from sferum_desktop.components import Component
from sferum_desktop.ui.common import heading

log = logging.getLogger("sferum_desktop.ui.about")

ICON_SIZE = 64


def icon_path() -> Path:
    """The app's icon (SVG) among the resources."""
    return paths.resources_dir() / "icons" / "sferum-desktop.svg"


def chromium_version() -> str:
    """The Chromium inside Qt WebEngine ('' when Qt WebEngine is not there)."""
    try:
        from PySide6.QtWebEngineCore import qWebEngineChromiumVersion
    except ImportError:
        return ""
    return str(qWebEngineChromiumVersion())


def read_license(component: Component) -> str:
    """The licence texts of a component, one after another, each under its file name."""
    parts = []
    for path in component.license_files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.warning("cannot read the licence file %s: %s", path, exc)
            continue
        if len(component.license_files) > 1:
            text = f"===== {path.name} =====\n\n{text}"
        parts.append(text.rstrip())
    return "\n\n".join(parts)


class AboutDialog(QDialog):
    """The app's version, what it is built from, and under which licences."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(self.tr("О программе"))
        self.qt_version = qVersion()
        self.pyside_version = PySide6.__version__
        self.python_version = platform.python_version()
        self.components = components.bundled_components(self.qt_version, chromium_version())

        icon = QLabel()
        icon.setObjectName("appIcon")
        if icon_path().is_file():
            pixmap = QIcon(str(icon_path())).pixmap(
                QSize(ICON_SIZE, ICON_SIZE), self.devicePixelRatioF()
            )
            icon.setPixmap(pixmap)
        icon.setFixedSize(ICON_SIZE, ICON_SIZE)

        self.version_label = QLabel(self.tr("Версия %1").replace("%1", __version__))
        self.version_label.setObjectName("version")
        self.version_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        what = QLabel(self.tr("Чаты Сферума школы по данным электронной школы (ЭШ)."))
        what.setWordWrap(True)
        built = QLabel(
            self.tr("Qt %1 · PySide6 %2 · Python %3")
            .replace("%1", self.qt_version)
            .replace("%2", self.pyside_version)
            .replace("%3", self.python_version)
        )
        built.setObjectName("builtWith")
        built.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        own = QLabel(
            self.tr(
                "Лицензия программы: GNU GPL версии 3 или более поздней (%1). Программа "
                "распространяется без каких-либо гарантий."
            ).replace("%1", components.APP_LICENSE)
        )
        own.setObjectName("ownLicense")
        own.setWordWrap(True)

        header_text = QVBoxLayout()
        header_text.setSpacing(2)
        header_text.addWidget(heading("Sferum Desktop"))
        header_text.addWidget(self.version_label)
        header_text.addWidget(what)
        header_text.addWidget(built)
        header_text.addWidget(own)
        header = QHBoxLayout()
        header.setSpacing(16)
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(header_text, 1)

        self.lgpl_notice = QLabel(self._lgpl_notice())
        self.lgpl_notice.setObjectName("lgplNotice")
        self.lgpl_notice.setWordWrap(True)
        self.lgpl_notice.setTextFormat(Qt.TextFormat.RichText)
        self.lgpl_notice.setOpenExternalLinks(True)
        self.lgpl_notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        self.table = self._table()
        self.license_title = QLabel()
        self.license_title.setObjectName("licenseTitle")
        self.license_title.setWordWrap(True)
        self.license_title.setOpenExternalLinks(True)
        self.license_title.setTextFormat(Qt.TextFormat.RichText)
        self.license_text = QPlainTextEdit()
        self.license_text.setObjectName("licenseText")
        self.license_text.setReadOnly(True)
        self.license_text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.license_title)
        details_layout.addWidget(self.license_text, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(details)
        splitter.setSizes([260, 240])

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton(self.tr("Скопировать сведения"))
        self.copy_button.setObjectName("copyInfo")
        self.copy_button.setToolTip(
            self.tr("Версии программы, Qt, Python и системы — для обращения в поддержку")
        )
        self.copy_button.clicked.connect(self.copy_info)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addSpacing(6)
        layout.addWidget(self.lgpl_notice)
        layout.addSpacing(6)
        components_title = QLabel(self.tr("Компоненты в составе программы:"))
        layout.addWidget(components_title)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.resize(860, 760)

        self.table.itemSelectionChanged.connect(self._show_license)
        self.table.selectRow(0)

    def _lgpl_notice(self) -> str:
        def link(url: str) -> str:
            return f'<a href="{html.escape(url)}">{html.escape(url)}</a>'

        text = self.tr(
            "Qt и Qt for Python (PySide6, shiboken6) используются по лицензии GNU LGPL "
            "версии 3. Они входят в программу без изменений, отдельными динамическими "
            "библиотеками в её папке (без статической компоновки), поэтому их можно заменить "
            "своей сборкой той же версии. Исходный код Qt: %1, PySide6: %2. Исходный код "
            "самой программы распространяется вместе с ней или по запросу на условиях GNU GPL "
            "версии 3 или более поздней. Полные тексты GNU LGPL v3 и GNU GPL v3 — в строке "
            "«Qt» списка ниже."
        )
        return text.replace("%1", link(components.QT_SOURCE_URL)).replace(
            "%2", link(components.PYSIDE_SOURCE_URL)
        )

    def _table(self) -> QTableWidget:
        table = QTableWidget(len(self.components), 3)
        table.setObjectName("components")
        table.setHorizontalHeaderLabels(
            [self.tr("Компонент"), self.tr("Версия"), self.tr("Лицензия")]
        )
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.setWordWrap(False)
        for row, component in enumerate(self.components):
            table.setItem(row, 0, QTableWidgetItem(component.name))
            table.setItem(row, 1, QTableWidgetItem(component.version))
            table.setItem(row, 2, QTableWidgetItem(self.license_name(component)))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        return table

    def license_name(self, component: Component) -> str:
        if component.license == components.UNKNOWN_LICENSE:
            return self.tr("см. текст лицензии")
        return component.license

    def select(self, name: str) -> None:
        """Select a component by name (its licence text shows below the list)."""
        for row, component in enumerate(self.components):
            if component.name == name:
                self.table.selectRow(row)
                return
        raise KeyError(name)

    def _show_license(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        component = self.components[rows[0].row()]
        title = (
            f"<b>{html.escape(component.name)}</b> — {html.escape(self.license_name(component))}"
        )
        if component.url:
            url = html.escape(component.url)
            title += f' · <a href="{url}">{url}</a>'
        self.license_title.setText(title)
        text = read_license(component)
        if not text:
            text = self.tr(
                "Текст лицензии этого компонента не входит в поставку. Условия: %1"
            ).replace("%1", component.url or component.license)
        self.license_text.setPlainText(text)

    def info_text(self) -> str:
        """The versions a support request needs, as plain text."""
        return "\n".join(
            [
                f"Sferum Desktop {__version__}",
                f"Qt {self.qt_version}, PySide6 {self.pyside_version}, "
                f"Python {self.python_version}",
                self.tr("ОС: %1 (%2)")
                .replace("%1", QSysInfo.prettyProductName())
                .replace("%2", QSysInfo.currentCpuArchitecture()),
            ]
        )

    def copy_info(self) -> None:
        """«Скопировать сведения»: the versions to the clipboard."""
        QGuiApplication.clipboard().setText(self.info_text())
        self.copy_button.setText(self.tr("Сведения скопированы"))
