"""`--smoke-test`: the app drives its own real windows once, for the packaged build's check.

The frozen bundle cannot be reached by a test's Python, so the app walks the first steps
itself, through the same widgets and slots a person uses, and prints one line per step on
stdout (`SMOKE <step> <seconds since start>`): the sign-in window shows; «Войти через
госуслуги» opens the ESIA page in the embedded browser (QtWebEngine: its helper process,
resources and locales must all be in the bundle); the demo account signs in with its password
and the main window shows; «О программе» lists the bundled components; the app quits. Any
step that does not happen in time prints `SMOKE FAILED <step>: <why>` on stderr and the exit
code is 1. `packaging/smoke.py` runs it on the frozen build; `--smoke-test=window` stops after
the first step (the start-up benchmark).

It is loaded only with the flag and never touches anything the person has not: the demo
sandbox's accounts only.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from sferum_desktop.ui.app import AppController

log = logging.getLogger("sferum_desktop.ui.smoke")

STEP_TIMEOUT_S: Final = 120.0
_POLL_S: Final = 0.05


class SmokeFailed(Exception):
    """A step of the smoke run did not happen."""


class SmokeDriver:
    """Walks the demo app through sign-in, the web view, the main window and quit."""

    def __init__(self, controller: AppController, mode: str = "full") -> None:
        self.controller = controller
        self.mode = mode
        self.started = time.monotonic()
        self.failed: str | None = None

    def report(self, step: str, detail: str = "") -> None:
        elapsed = time.monotonic() - self.started
        print(f"SMOKE {step} {elapsed:.3f}{' ' + detail if detail else ''}", flush=True)

    async def wait_for(
        self, step: str, condition: Callable[[], object], timeout: float = STEP_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SmokeFailed(f"{step}: not done within {timeout:.0f} s")
            await asyncio.sleep(_POLL_S)

    async def run(self) -> None:
        """All the steps; the app quits at the end, whatever happened."""
        try:
            await self._steps()
        except SmokeFailed as exc:
            self.failed = str(exc)
        except Exception as exc:  # the report must say what broke
            log.exception("smoke run failed")
            self.failed = f"{type(exc).__name__}: {exc}"
        if self.failed:
            print(f"SMOKE FAILED {self.failed}", file=sys.stderr, flush=True)
        self.controller.quit()

    async def _steps(self) -> None:
        controller = self.controller
        signin = controller.signin
        await self.wait_for("signin-window", signin.isVisible)
        status = controller.vault.status
        self.report("signin-window", f"keyring={status.backend} persistent={status.persistent}")
        if self.mode == "window":
            return

        # The demo sandbox is up and «Демо» is chosen: its accounts are listed.
        def demo_ready() -> bool:
            sandbox = controller.sandbox
            return bool(sandbox and sandbox.url and sandbox.hints.accounts)

        await self.wait_for("demo-sandbox", demo_ready)
        self.report("demo-sandbox")

        # «Войти через госуслуги»: the ESIA page in the real web view, then «Отмена».
        await self.wait_for("esia-button", signin.esia_button.isEnabled)
        signin.esia_button.click()
        await self.wait_for("esia-dialog", lambda: signin.esia_dialog is not None)
        dialog = signin.esia_dialog
        assert dialog is not None
        loaded: asyncio.Future[bool] = asyncio.get_event_loop().create_future()

        def finished(ok: bool) -> None:
            if not loaded.done():
                loaded.set_result(ok)

        dialog.web.view.loadFinished.connect(finished)
        try:
            ok = await asyncio.wait_for(loaded, STEP_TIMEOUT_S)
        except TimeoutError:
            raise SmokeFailed("web-view: the ESIA page did not load") from None
        title = dialog.web.view.page().title()
        if not ok or not title:
            raise SmokeFailed(f"web-view: the ESIA page failed (ok={ok}, title={title!r})")
        self.report("web-view", f"title={title!r}")
        dialog.reject()
        await self.wait_for("esia-closed", lambda: signin.esia_dialog is None)

        # The demo account signs in with its password.
        account = next(a for a in controller.sandbox.hints.accounts if a.role == "admin")  # type: ignore[union-attr]
        signin.username.setText(account.username)
        signin.password.setText(account.password)
        signin.sign_in_button.click()
        await self.wait_for(
            "main-window",
            lambda: controller.main_window is not None and controller.main_window.isVisible(),
        )
        self.report("main-window")

        # «О программе» lists the bundled components (their metadata is in the bundle).
        window = controller.main_window
        assert window is not None
        window._about()

        def about_shown() -> bool:
            from sferum_desktop.ui.about import AboutDialog

            return any(
                isinstance(w, AboutDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
            )

        await self.wait_for("about", about_shown)
        self.report("about")
        self.report("done")
