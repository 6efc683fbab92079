"""Every user setting of the desktop app, declared once with its type and default.

The settings live in `settings.ini` in the user's config folder (`paths.config_dir()`), next to
`profiles.toml`. They hold preferences and window geometry only: never a token, a password
or a person's data (the last server profile's *name* is kept, the user name is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from PySide6.QtCore import QByteArray, QSettings

from sferum_desktop import paths

T = TypeVar("T", bool, int, str, QByteArray)

ORGANIZATION = "sferum-desktop"
APPLICATION = "sferum-desktop"
SETTINGS_FILE = "settings.ini"


def qsettings() -> QSettings:
    """The app's settings store (an INI file in the user's config folder)."""
    return QSettings(str(paths.config_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: its key, type and default; read and written through `qsettings()`."""

    key: str
    type: type[T]
    default: T
    doc: str

    def get(self, store: QSettings | None = None) -> T:
        """The stored value, or the default when absent or of the wrong type."""
        store = store or qsettings()
        value = store.value(self.key, self.default)
        if self.type is bool:
            if isinstance(value, str):  # INI files give strings back
                return cast(T, value.strip().lower() in ("true", "1", "yes"))
            return cast(T, bool(value))
        if self.type is int:
            try:
                return cast(T, int(cast(str, value)))
            except (TypeError, ValueError):
                return self.default
        if isinstance(value, self.type):
            return value
        return self.default

    def set(self, value: T, store: QSettings | None = None) -> None:
        """Store `value` (written to disk by Qt in the background)."""
        if not isinstance(value, self.type):
            raise TypeError(f"{self.key} takes {self.type.__name__}")
        (store or qsettings()).setValue(self.key, value)

    def reset(self, store: QSettings | None = None) -> None:
        (store or qsettings()).remove(self.key)


LAST_PROFILE = Setting("session/last_profile", str, "", "The server profile chosen last time")
REMEMBER_SESSION = Setting(
    "session/remember", bool, True, "Resume the remembered session at start (keyring)"
)
LANGUAGE = Setting("ui/language", str, "ru", "Interface language (ru: the built-in texts)")
SIGNIN_GEOMETRY = Setting(
    "windows/signin_geometry", QByteArray, QByteArray(), "The sign-in window's geometry"
)
MAIN_GEOMETRY = Setting(
    "windows/main_geometry", QByteArray, QByteArray(), "The main window's geometry"
)
MAIN_STATE = Setting("windows/main_state", QByteArray, QByteArray(), "Toolbars and docks")
LINKING_GEOMETRY = Setting(
    "windows/linking_geometry", QByteArray, QByteArray(), "The VK ID window's geometry"
)
CHATS_HEADER = Setting(
    "sferum/chats_header", QByteArray, QByteArray(), "Column widths of the «Сферум» chats"
)
SFERUM_REFRESH_S = Setting(
    "sferum/refresh_seconds", int, 60, "How often the «Сферум» tab refreshes in the background"
)
AUTO_SYNC = Setting(
    "sync/automatic",
    bool,
    False,
    "The automatic mode of «Синхронизация» is on (while the app runs)",
)
AUTO_SYNC_MINUTES = Setting("sync/interval_minutes", int, 60, "How often the automatic mode syncs")

ALL: tuple[Setting[bool] | Setting[int] | Setting[str] | Setting[QByteArray], ...] = (
    LAST_PROFILE,
    REMEMBER_SESSION,
    LANGUAGE,
    SIGNIN_GEOMETRY,
    MAIN_GEOMETRY,
    MAIN_STATE,
    LINKING_GEOMETRY,
    CHATS_HEADER,
    SFERUM_REFRESH_S,
    AUTO_SYNC,
    AUTO_SYNC_MINUTES,
)
