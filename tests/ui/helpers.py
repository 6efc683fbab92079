"""Helpers of the UI tests: run coroutines, drive web pages, read the sandbox's demo data."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from memory_keyring import MemoryKeyring
from PySide6.QtCore import QObject, QUrl, Slot

__all__ = [
    "TIMEOUT_MS",
    "MemoryKeyring",
    "PageDriver",
    "Runner",
    "UrlCatcher",
    "demo_profile_for",
    "latest_sms_code",
    "until",
    "vk_logins",
]

T = TypeVar("T")

# Generous: the CI machine has two cores shared with other test runs.
TIMEOUT_MS = 60_000


class Runner:
    """Runs a coroutine on the qasync loop to its end while Qt keeps processing events."""

    def __init__(self, qtbot: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.qtbot = qtbot
        self.loop = loop

    def __call__(self, awaitable: Awaitable[T], timeout: int = TIMEOUT_MS) -> T:
        task = asyncio.ensure_future(awaitable, loop=self.loop)
        self.qtbot.waitUntil(task.done, timeout=timeout)
        return task.result()


class UrlCatcher(QObject):
    """Takes the URLs QDesktopServices would open in the system browser."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


# --- the sandbox's demo data -------------------------------------------------------------------


def vk_logins(sandbox: Any) -> dict[int, dict[str, Any]]:
    """The demo dataset's VK ID logins of the guide's three paths, by path number."""
    with sqlite3.connect(Path(sandbox.data_dir) / "sandbox.sqlite3") as conn:
        (raw,) = conn.execute("SELECT value FROM sandbox_meta WHERE key = 'vk_logins'").fetchone()
    return {login["path"]: login for login in json.loads(raw)}


def demo_profile_for(sandbox: Any) -> Any:
    from sferum_desktop.auth.profiles import demo_profile

    return demo_profile(sandbox.url)


# --- driving a web page ------------------------------------------------------------------------


_PRESS_JS = """function (label, fields) {
  const button = [...document.querySelectorAll('button')]
    .find(b => b.textContent.trim() === label);
  if (!button) return 'no button';
  const form = button.form;
  for (const [name, value] of Object.entries(fields)) {
    for (const el of form.querySelectorAll('[name="' + name + '"]')) {
      if (el.type === 'radio') el.checked = (el.value === value);
      else el.value = value;
    }
  }
  button.click();
  return 'ok';
}"""


class PageDriver:
    """Reads and fills a QWebEngineView's page with `runJavaScript`, waiting as it goes."""

    def __init__(self, qtbot: Any, view: Any) -> None:
        self.qtbot = qtbot
        self.view = view

    def js(self, script: str) -> Any:
        box: dict[str, Any] = {}
        self.view.page().runJavaScript(script, 0, lambda value: box.setdefault("v", value))
        self.qtbot.waitUntil(lambda: "v" in box, timeout=TIMEOUT_MS)
        return box["v"]

    def text(self) -> str:
        return self.js("document.body ? document.body.innerText : ''") or ""

    def wait_for(self, text: str, timeout: float = 90.0) -> str:
        """Wait until the page shows `text`; the page's text."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.text()
            # Not while a navigation is on its way: the text may still be the old page's.
            if text in body and not self.view.page().isLoading():
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {text!r}; it shows:\n{body}")
            self.qtbot.wait(100)

    def press(self, button: str, **fields: str) -> None:
        """Fill `fields` of the form holding the button labelled `button`, then press it."""
        script = f"({_PRESS_JS})({json.dumps(button)}, {json.dumps(fields)})"
        assert self.js(script) == "ok", f"no button {button!r} on:\n{self.text()}"


def latest_sms_code(sandbox: Any, phone: str) -> str:
    items = sandbox.dev("GET", "sms", params={"phone": phone})["items"]
    assert items, f"no SMS to {phone}"
    return str(items[0]["code"])


def until(qtbot: Any, predicate: Callable[[], Any], timeout: int = TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: bool(predicate()), timeout=timeout)
