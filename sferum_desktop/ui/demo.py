"""`--demo`: the sandbox in its own process, and the hints a first-time user needs.

The sandbox runs as `python -m sferum_desktop sandbox --dataset demo --port 0 --data
<user data>/demo-sandbox` (the client never imports it). A `QProcess` reads its output as it
arrives, so the window stays responsive while it starts; the `SANDBOX READY <url>` line points
the «Демо» profile at it, the lines after it (the demo accounts and the VK ID logins of the
guide's three paths) become the hints shown on the sign-in and VK ID windows. The sandbox
is stopped when the app exits.

`DemoTools` reads the SMS codes the sandbox «sends» (its `/sandbox/dev/sms`), so that someone
trying the demo can finish a VK ID sign-in without a phone. It is the only client code that
calls `/sandbox/dev` (the demo menu, as `spec/sandbox.md` allows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from sferum_desktop.api.errors import ApiError

log = logging.getLogger("sferum_desktop.ui.demo")

_READY: Final = re.compile(r"^SANDBOX READY (http://\S+)$")
_ACCOUNT: Final = re.compile(r"^\s+(admin|teacher|student|parent)\s+(\S+) / (\S+)\s+(.+?)\s*$")
_VK_LOGIN: Final = re.compile(
    r"^\s+вариант (\d): (\+\d+) / (.+?)\s{2,}(.+?)(?:\s+\(ЭШ: (\S+)\))?\s*$"
)
START_TIMEOUT_S: Final = 180.0


@dataclass(frozen=True)
class DemoAccount:
    """An ESh account the sandbox printed: role, user name, password, full name."""

    role: str
    username: str
    password: str
    full_name: str


@dataclass(frozen=True)
class DemoVkLogin:
    """A VK ID login of one of the guide's three paths (password None: path 3)."""

    path: int
    phone: str
    password: str | None
    full_name: str
    esh_username: str | None


@dataclass(frozen=True)
class DemoHints:
    """What the sandbox printed after READY, parsed."""

    accounts: tuple[DemoAccount, ...] = ()
    vk_logins: tuple[DemoVkLogin, ...] = ()


def parse_banner(lines: list[str]) -> DemoHints:
    """The accounts and VK ID logins from the sandbox's start-up banner."""
    accounts = []
    logins = []
    for line in lines:
        if match := _VK_LOGIN.match(line):
            path, phone, password, who, username = match.groups()
            logins.append(
                DemoVkLogin(int(path), phone, None if " " in password else password, who, username)
            )
        elif match := _ACCOUNT.match(line):
            accounts.append(DemoAccount(*match.groups()))
    return DemoHints(tuple(accounts), tuple(logins))


def format_phone(phone: str) -> str:
    """+71991111111 → +7 199 111-11-11, as the VK ID page shows phones."""
    digits = phone.removeprefix("+7")
    if len(digits) != 10 or not digits.isdigit():
        return phone
    return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


class SandboxStartFailed(ApiError):
    """The demo sandbox did not start."""

    default_message = "Не удалось запустить учебную среду. Подробности — в журнале программы."


class DemoSandbox(QObject):
    """The sandbox process of `--demo`: start, wait for READY without blocking, stop."""

    ready = Signal(str)
    failed = Signal(str)
    hintsChanged = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.url: str | None = None
        self.banner: list[str] = []
        self._buffer = b""
        self._ready: asyncio.Future[str] | None = None
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.readyReadStandardError.connect(self._read_errors)
        self.process.errorOccurred.connect(self._error)
        self.process.finished.connect(self._finished)

    @property
    def hints(self) -> DemoHints:
        return parse_banner(self.banner)

    def command(self) -> tuple[str, list[str]]:
        """The program and arguments that run the sandbox (also from a frozen build)."""
        args = ["sandbox", "--dataset", "demo", "--port", "0", "--data", str(self.data_dir)]
        if getattr(sys, "frozen", False):
            # On Windows the GUI executable has no console, so no stdout to print READY on:
            # its console twin of the same bundle runs the sandbox (QProcess starts it
            # without a console window, as the GUI has none).
            console_twin = Path(sys.executable).with_name("sferum-desktop-cli.exe")
            if sys.platform == "win32" and console_twin.is_file():
                return str(console_twin), args
            return sys.executable, args
        return sys.executable, ["-m", "sferum_desktop", *args]

    def start(self) -> None:
        """Start the process; `ready` (the base URL) or `failed` follows."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        program, args = self.command()
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        self.process.setProcessEnvironment(env)
        self._ready = asyncio.get_event_loop().create_future()
        log.info("starting the demo sandbox")
        self.process.start(program, args)

    async def wait_ready(self, timeout: float = START_TIMEOUT_S) -> str:
        """The sandbox's base URL once it accepts requests."""
        if self._ready is None:
            raise RuntimeError("the sandbox was not started")
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except TimeoutError:
            raise SandboxStartFailed(reason="the sandbox did not print READY in time") from None

    def _read_output(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if self.url is None:
                match = _READY.match(line.strip())
                if match:
                    self.url = match.group(1)
                    log.info("the demo sandbox is ready")
                    if self._ready is not None and not self._ready.done():
                        self._ready.set_result(self.url)
                    self.ready.emit(self.url)
            else:
                self.banner.append(line)
                self.hintsChanged.emit()

    def _read_errors(self) -> None:
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                log.info("sandbox: %s", line.strip())

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._fail(f"the sandbox could not be started ({error.name})")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        log.info("the demo sandbox exited (code %s)", code)
        if self.url is None:
            self._fail(f"the sandbox exited with code {code} before it was ready")

    def _fail(self, reason: str) -> None:
        log.error("%s", reason)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(SandboxStartFailed(reason=reason))
            self._ready.exception()  # retrieved here too: no "never retrieved" warning
        self.failed.emit(SandboxStartFailed.default_message)

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the sandbox (SIGTERM lets it close its database), killing it if it lingers."""
        if not self.running:
            return
        done = asyncio.get_event_loop().create_future()

        def finished(*_: object) -> None:
            if not done.done():
                done.set_result(None)

        self.process.finished.connect(finished)
        self.process.terminate()
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            log.warning("the demo sandbox did not stop in time; killing it")
            self.process.kill()
            self.process.waitForFinished(2000)
        log.info("the demo sandbox stopped")

    def kill_now(self) -> None:
        """Last resort at exit when the event loop is gone: do not leave the process behind."""
        if self.running:
            self.process.terminate()
            if not self.process.waitForFinished(5000):
                self.process.kill()
                self.process.waitForFinished(2000)


@dataclass(frozen=True)
class DemoSms:
    """The latest SMS the sandbox «sent»."""

    phone: str
    code: str
    text: str


class DemoTools:
    """The sandbox's control surface, for the demo's hints (SMS codes)."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=10.0)

    async def latest_sms(self) -> DemoSms | None:
        """The newest SMS to any phone, or None (also when the sandbox does not answer)."""
        try:
            answer = await self._http.get("/sandbox/dev/sms")
            answer.raise_for_status()
            items = answer.json().get("items") or []
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        if not items:
            return None
        item = items[0]
        return DemoSms(str(item.get("phone")), str(item.get("code")), str(item.get("text")))

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._http.aclose()
