"""Auth test fixtures: private user folders and an in-memory keyring."""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_keyring import MemoryKeyring

from sferum_desktop.auth.vault import Vault


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private HOME and XDG folders: platformdirs never points at the real ones."""
    home = tmp_path / "home"
    for name, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    # the machine-wide config folder too (platformdirs: the first of XDG_CONFIG_DIRS)
    (home / "etc-xdg").mkdir()
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(home / "etc-xdg"))
    for name in ("SFERUM_DESKTOP_ESH_URL", "SFERUM_DESKTOP_VKID_URL", "SFERUM_DESKTOP_SFERUM_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def vault(keyring_backend: MemoryKeyring) -> Vault:
    return Vault(keyring_backend)
