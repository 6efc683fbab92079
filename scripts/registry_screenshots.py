"""Screenshots of the «Чаты» registry and the chat dialog (issue 5), for docs/screenshots.

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/registry_screenshots.py OUT

Starts a demo sandbox in a private folder, signs in as the demo teacher (Павлова), shows the
main window on the registry tab, then the dialog of a new «Предмет» chat for «Русский язык / 1А»
and its «Внимание!» block. Windows are captured with `QWidget.grab()`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


async def until(predicate: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.1)


async def drive(out: Path, url: str) -> None:
    import keyring
    from memory_keyring import MemoryKeyring

    from sferum_desktop.auth.profiles import demo_profile
    from sferum_desktop.auth.session import AuthSession
    from sferum_desktop.auth.vault import Vault
    from sferum_desktop.ui.main_window import MainWindow

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    session = AuthSession(demo_profile(url), Vault(backend), proactive=False)
    await session.sign_in("pavlova", "demo")
    window = MainWindow(session, auto_refresh=False)
    window.resize(1280, 720)
    window.show()
    window.tabs.setCurrentWidget(window.registry)
    tab = window.registry.chats
    await until(lambda: tab.loaded_once)
    tab.view.select_chat_ids([tab.model.chat_id(0)])
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "09-registry.png"))
    tab.add_chat()
    await until(tab.current_dialog)
    dialog = tab.current_dialog()
    assert dialog is not None
    dialog.select_group("Русский язык / 1А")
    dialog.tabs.setCurrentIndex(1)
    await asyncio.sleep(0.8)
    dialog.grab().save(str(out / "10-chat-dialog.png"))
    dialog.save_button.click()
    await until(dialog.warning.isVisible)
    await asyncio.sleep(0.8)
    dialog.grab().save(str(out / "11-unlinked-warning.png"))
    dialog.reject()
    window.close()
    await session.aclose()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="sferum-shots-"))
    for name, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(home / sub)
    from conftest import start_sandbox

    sandbox = start_sandbox(home / "sandbox")
    try:
        import qasync
        from PySide6.QtWidgets import QApplication

        from sferum_desktop.ui.app import configure_application

        app = QApplication([sys.argv[0]])
        configure_application(app)
        qasync.run(drive(out, sandbox.url))
        del app
    finally:
        sandbox.stop()
    for name in ("09-registry", "10-chat-dialog", "11-unlinked-warning"):
        print(f"saved {out / name}.png", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
