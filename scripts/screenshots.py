"""Screenshots of the demo, step by step, for docs/screenshots (run under Xvfb).

    Xvfb :99 -screen 0 1366x768x24 &    # optionally a window manager: DISPLAY=:99 openbox &
    DISPLAY=:99 QTWEBENGINE_DISABLE_SANDBOX=1 .venv/bin/python scripts/screenshots.py OUT_DIR

It runs the real app (`--demo`: its own sandbox) with a private HOME, and drives it through its
own objects, as a first-time user would: sign in as the demo teacher who is not linked yet,
«Привязать аккаунт к Сферум», VK ID (path 2 of the guide, the SMS code from the demo panel),
«Проверьте свои личные данные», «Продолжить», then the «Сферум» tab. Each step is captured
with ImageMagick's `import -window root` (the whole virtual screen, as a user would see it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def shoot(directory: Path, name: str) -> None:
    """The whole X screen to `<directory>/<name>.png`."""
    path = directory / f"{name}.png"
    subprocess.run(["import", "-window", "root", str(path)], check=True)  # noqa: S603, S607
    print(f"saved {path}", flush=True)


async def settle(seconds: float = 0.8) -> None:
    """Let Qt paint (the loop keeps running meanwhile)."""
    await asyncio.sleep(seconds)


async def until(predicate: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.1)


async def js(view: Any, script: str) -> Any:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    view.page().runJavaScript(script, 0, lambda value: future.done() or future.set_result(value))
    return await future


async def wait_text(view: Any, text: str) -> None:
    deadline = time.monotonic() + 120
    while text not in (await js(view, "document.body ? document.body.innerText : ''") or ""):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page never showed {text!r}")
        await asyncio.sleep(0.2)


PRESS = """(function (label, fields) {
  const button = [...document.querySelectorAll('button')]
    .find(b => b.textContent.trim() === label);
  const form = button.form;
  for (const [name, value] of Object.entries(fields)) {
    for (const el of form.querySelectorAll('[name="' + name + '"]')) {
      if (el.type === 'radio') el.checked = (el.value === value); else el.value = value;
    }
  }
  return button;
})"""


async def fill(view: Any, button: str, **fields: str) -> None:
    await js(view, f"{PRESS}({json.dumps(button)}, {json.dumps(fields)}); 'ok'")


async def press(view: Any, button: str, **fields: str) -> None:
    await js(view, f"{PRESS}({json.dumps(button)}, {json.dumps(fields)}).click(); 'ok'")


async def drive(controller: Any, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    signin = controller.signin
    await until(lambda: controller.sandbox is not None and controller.sandbox.url)
    await until(lambda: "nikitina.sg" in signin.demo_text.text())
    signin.username.setFocus()
    QTest.keyClicks(signin.username, "nikitina.sg")
    QTest.keyClicks(signin.password, "demo")
    await settle()
    shoot(out, "01-sign-in")

    QTest.mouseClick(signin.sign_in_button, Qt.MouseButton.LeftButton)
    await until(lambda: controller.main_window is not None)
    window = controller.main_window
    await settle()
    shoot(out, "02-start-page")

    QTest.mouseClick(window.start_page.link_tile, Qt.MouseButton.LeftButton)
    await until(lambda: window.linking is not None)
    dialog = window.linking
    view = dialog.web.view
    await wait_text(view, "Вход в VK ID")
    await fill(view, "Продолжить", phone="+7 199 222-22-22")
    await settle()
    shoot(out, "03-vk-id-in-the-view")
    await press(view, "Продолжить", phone="+7 199 222-22-22")
    await wait_text(view, "Введите пароль")
    await press(view, "Продолжить", password="demo")  # noqa: S106 (the demo's password)
    await wait_text(view, "Введите код из СМС")
    await until(lambda: dialog.demo_panel is not None and "<b" in dialog.demo_panel.text())
    code = dialog.demo_panel.text().split("'>")[-1].split("<")[0]
    await fill(view, "Продолжить", code=code)
    await settle(1.5)
    shoot(out, "04-vk-id-sms-code")
    await press(view, "Продолжить", code=code)
    await wait_text(view, "Создать учебный профиль")
    await press(view, "Создать учебный профиль")
    await wait_text(view, "Информация о себе")
    await fill(view, "Продолжить", middle_name="Геннадьевна", birthday="25.07.1987", sex="female")
    await settle()
    shoot(out, "05-vk-id-about-yourself")
    await press(view, "Продолжить")
    await until(lambda: dialog.pages.currentWidget() is dialog.profile_page)
    await settle()
    shoot(out, "06-check-personal-data")

    QTest.mouseClick(dialog.profile_page.continue_button, Qt.MouseButton.LeftButton)
    await until(lambda: dialog.pages.currentWidget() is dialog.end_page)
    await settle()
    shoot(out, "07-linked")
    QTest.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    await until(lambda: window.linking is None)

    # The school's Sferum administrator adds the new teacher to «Учительская» and a colleague
    # starts a video call there, so the tab has something to show.
    base = controller.sandbox.url
    async with httpx.AsyncClient(base_url=base) as http:
        tokens = (await http.post("/sandbox/dev/tokens", json={"username": "pavlova"})).json()
        admin = tokens["vkid"]["access_token"]
        me = controller.session.vk_tokens
        info = await http.post(
            "/vkid/oauth2/user_info",
            params={"client_id": "51900001"},
            data={"access_token": me.access_token},
        )
        user_id = info.json()["user"]["user_id"]
        for method, data in (
            ("messages.addChatUser", {"chat_id": 1, "user_id": user_id}),
            ("calls.start", {"peer_id": 2_000_000_001, "name": "Педсовет"}),
        ):
            await http.post(
                f"/sferum/method/{method}",
                data={"v": "5.199", **data},
                headers={"Authorization": f"Bearer {admin}"},
            )
    await window.sferum_tab.refresh()
    await until(lambda: window.sferum_tab.chats.rowCount() > 0)
    window.sferum_tab.calls_view.selectRow(0)
    await settle()
    shoot(out, "08-sferum-tab")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").resolve()
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

    import qasync

    from sferum_desktop.auth.profiles import load_profiles
    from sferum_desktop.ui.app import AppController, create_application, setup_logging

    setup_logging()
    app = create_application([sys.argv[0]])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(load_profiles(), demo=True)

    async def run() -> None:
        try:
            await controller.start()
            await drive(controller, out)
        finally:
            await controller.shutdown()

    with loop:
        loop.run_until_complete(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
