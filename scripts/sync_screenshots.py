"""A screenshot of the «Синхронизация» tab with a plan shown (issue 6), for docs/screenshots.

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/sync_screenshots.py OUT

Starts a demo sandbox in a private folder, signs in as the demo teacher (Павлова, linked to
Sferum), enrols a student into 2А and expels the students of 1А (a held mass removal), then
presses «Проверить» and captures the main window with `QWidget.grab()`.
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


async def drive(out: Path, url: str, sandbox: Any) -> None:
    import keyring
    from memory_keyring import MemoryKeyring

    from sferum_desktop.api.tokens import BearerTokens
    from sferum_desktop.auth.profiles import demo_profile
    from sferum_desktop.auth.session import AuthSession
    from sferum_desktop.auth.vault import Vault
    from sferum_desktop.ui.main_window import MainWindow

    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    vault = Vault(backend)
    minted = sandbox.tokens("pavlova")
    vk = minted["vkid"]
    tokens = BearerTokens.issued(vk["access_token"], vk["refresh_token"], vk["expires_in"])
    data = {
        "tokens": tokens.to_dict(),
        "device_id": "screenshots",
        "user_id": vk["user_id"],
        "person_id": minted["person_id"],
    }
    await vault.save("demo", "vkid", data)
    session = AuthSession(demo_profile(url), vault, proactive=False)
    await session.sign_in("pavlova", "demo")
    window = MainWindow(session, auto_refresh=False)
    window.resize(1280, 720)
    window.show()
    tab = window.sync_tab
    window.tabs.setCurrentWidget(tab)
    # The first sync of a fresh store (as the automatic mode runs it): the roster it read
    # becomes the baseline, so the next plan names the roster events behind its changes.
    done: list[object] = []
    tab.applied.connect(done.append)
    tab.auto_sync()
    await until(lambda: bool(done))
    sandbox.dev(
        "POST",
        "roster",
        json={
            "op": "enroll",
            "class_id": "cls-000002",
            "student": {"given_name": "Иван", "family_name": "Новиков"},
            "parents": [{}],
        },
    )
    state = sandbox.dev("GET", "state")
    class_1a = next(c for c in state["registry"] if c["name"] == "1 А")
    for member in class_1a["members"]:
        if member["role_in_chat"] == "student" and not member["excluded"]:
            sandbox.dev("POST", "roster", json={"op": "expel", "student_id": member["person_id"]})
    tab.report = None
    tab.check()
    await until(lambda: tab.report is not None and not tab.busy)
    await asyncio.sleep(0.8)
    window.grab().save(str(out / "12-sync.png"))
    await session.aclose()
    window.close()


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
        qasync.run(drive(out, sandbox.url, sandbox))
        del app
    finally:
        sandbox.stop()
    for name in ("12-sync",):
        print(f"saved {out / name}.png", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
