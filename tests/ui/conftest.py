"""UI test fixtures: private user folders, an in-memory keyring, the qasync loop, page helpers.

QtWebEngine's Chromium sandbox cannot run as root (the CI container): it is disabled here, in
the tests only. The app sets `AA_ShareOpenGLContexts` before its QApplication; so do the tests,
before pytest-qt makes one.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from memory_keyring import MemoryKeyring
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication

from ui.helpers import Runner, UrlCatcher

os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
# --disable-gpu: no GPU probing (Vulkan, GBM) in a container without a GPU.
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Private HOME and XDG folders, so platformdirs (and the app) never touch the real ones."""
    home = tmp_path / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_STATE_HOME": home / ".local" / "state",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    for name in ("SFERUM_DESKTOP_ESH_URL", "SFERUM_DESKTOP_VKID_URL", "SFERUM_DESKTOP_SFERUM_URL"):
        monkeypatch.delenv(name, raising=False)
    return dirs


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The process-wide keyring replaced by an in-memory one."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def app(qapp: QApplication) -> QApplication:
    """The test QApplication with the app's names and translators."""
    from sferum_desktop.ui.app import configure_application

    configure_application(qapp)
    return qapp


@pytest.fixture(scope="session")
def _session_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """One qasync loop for the run (qasync cannot replace a loop on a running app)."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.events._set_running_loop(loop)
    for task in asyncio.all_tasks(loop):
        task.cancel()
    qapp.processEvents()
    loop.stop()  # qasync: marks it stopped (the app keeps running for pytest-qt)
    loop.close()  # shuts its thread executor down
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def qloop(app: QApplication, _session_loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """The qasync loop on the running test app: coroutines progress while qtbot waits.

    Tasks a test leaves behind are cancelled and run to their end afterwards.
    """
    asyncio.set_event_loop(_session_loop)
    asyncio.events._set_running_loop(_session_loop)
    before = set(asyncio.all_tasks(_session_loop))
    yield _session_loop
    pending = [t for t in asyncio.all_tasks(_session_loop) if not t.done() and t not in before]
    for task in pending:
        task.cancel()
    deadline = time.monotonic() + 10
    while any(not t.done() for t in pending) and time.monotonic() < deadline:
        app.processEvents()
    # Other tests (pytest-asyncio's) must not find this loop running.
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def run(qtbot: Any, qloop: asyncio.AbstractEventLoop) -> Runner:
    return Runner(qtbot, qloop)


@pytest.fixture
def browser(app: QApplication) -> Iterator[UrlCatcher]:
    """The «system browser»: URLs opened through QDesktopServices land here."""
    catcher = UrlCatcher()
    for scheme in ("http", "https"):
        QDesktopServices.setUrlHandler(scheme, catcher, "open")
    yield catcher
    for scheme in ("http", "https"):
        QDesktopServices.unsetUrlHandler(scheme)
