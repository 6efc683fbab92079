"""The per-user folders of Sferum Desktop (platformdirs), one source for every layer.

Config holds `profiles.toml` and the UI settings, data the demo sandbox's database, cache
whatever may be rebuilt (one sub-folder per server profile, wiped at sign-out), logs the
rotating log. Secrets never go to any of them: they live in the OS keyring (`auth.vault`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "sferum-desktop"


def config_dir() -> Path:
    """`~/.config/sferum-desktop` on Linux: profiles and settings."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def site_config_dir() -> Path:
    """The machine-wide config folder that IT staff fill for every user of a workstation.

    `/etc/xdg/sferum-desktop` on Linux (the first of `$XDG_CONFIG_DIRS`),
    `C:\\ProgramData\\sferum-desktop` on Windows, `/Library/Application Support/sferum-desktop`
    on macOS. Read only: the app never writes there.
    """
    return Path(platformdirs.site_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """`~/.local/share/sferum-desktop` on Linux: the demo sandbox's database."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """`~/.cache/sferum-desktop` on Linux: data that can be fetched again."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """`~/.local/state/sferum-desktop/log` on Linux: the rotating log."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def profile_cache_dir(profile_key: str) -> Path:
    """The cache of one server profile's signed-in person; sign-out deletes it."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in profile_key)
    return cache_dir() / "profiles" / safe


def demo_sandbox_dir() -> Path:
    """Where `--demo` keeps its sandbox's state between runs."""
    return data_dir() / "demo-sandbox"


def resources_dir() -> Path:
    """The read-only `resources/` folder: translations, icons, licence texts.

    From a checkout it is beside the package; in a PyInstaller bundle it is in the bundle's
    data folder (`sys._MEIPASS`: `_internal/` on Linux and Windows, `Contents/Frameworks/` in
    a macOS .app).
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
