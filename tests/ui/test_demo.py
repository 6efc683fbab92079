"""`--demo`: the sandbox in its own process, its hints, its SMS inbox; stopped on exit."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox
from PySide6.QtCore import QProcess

from sferum_desktop import paths
from sferum_desktop.auth.profiles import DEMO_NAME, load_profiles
from sferum_desktop.ui.app import AppController
from sferum_desktop.ui.demo import DemoSandbox, DemoTools, format_phone, parse_banner
from ui.helpers import MemoryKeyring, Runner, latest_sms_code, until

BANNER = """\
Набор данных: demo (seed 1)
Учётные записи ЭШ (роль, имя пользователя / пароль, ФИО):
  admin    pavlova / demo  Павлова Елена Владимировна
  parent   artemova.ns / demo  Артемова Наталья Сергеевна
Вход в VK ID (вариант из руководства: телефон / пароль, чей):
  вариант 1: +71991111111 / demo  Артемова Наталья Сергеевна  (ЭШ: artemova.ns)
  вариант 3: +71993333333 / без пароля  Соколов Олег Николаевич
""".splitlines()


def test_the_banner_is_parsed() -> None:
    hints = parse_banner(BANNER)
    assert [(a.role, a.username, a.password) for a in hints.accounts] == [
        ("admin", "pavlova", "demo"),
        ("parent", "artemova.ns", "demo"),
    ]
    first, third = hints.vk_logins
    assert (first.path, first.phone, first.password, first.esh_username) == (
        1,
        "+71991111111",
        "demo",
        "artemova.ns",
    )
    assert first.full_name == "Артемова Наталья Сергеевна"
    assert (third.password, third.esh_username) == (None, None)
    assert format_phone("+71991111111") == "+7 199 111-11-11"


@pytest.mark.parametrize("flag", [True, False], ids=["--demo", "no-profiles-configured"])
def test_demo_starts_the_sandbox_and_stops_it_on_exit(
    qtbot: Any, qloop: Any, run: Runner, memory_keyring: MemoryKeyring, flag: bool
) -> None:
    controller = AppController(load_profiles(env={}), demo=flag)
    run(controller.start(), timeout=180_000)
    if not flag:  # without --demo and without profiles.toml: «Демо», and a word about it
        assert "Серверы вашего региона ещё не настроены" in controller.signin.notice.text()
    sandbox = controller.sandbox
    assert sandbox is not None and sandbox.running and sandbox.url
    signin = controller.signin
    profile = controller.profiles.get(DEMO_NAME)
    assert profile is not None and profile.esh_url == sandbox.url
    assert signin.profile_name == DEMO_NAME and signin.sign_in_button.isEnabled()
    assert paths.demo_sandbox_dir().joinpath("sandbox.sqlite3").exists()
    # The accounts it printed become clickable hints on the sign-in window.
    until(qtbot, lambda: "pavlova" in signin.demo_text.text())
    assert "nikitina.sg" in signin.demo_text.text()  # not linked yet: the staff path
    signin.demo_text.linkActivated.emit("nikitina.sg")
    assert (signin.username.text(), signin.password.text()) == ("nikitina.sg", "demo")
    run(controller.shutdown())
    assert sandbox.process.state() == QProcess.ProcessState.NotRunning


def test_demo_tools_read_the_sms_inbox(qloop: Any, run: Runner, sandbox: Sandbox) -> None:
    tools = DemoTools(sandbox.url)
    assert run(tools.latest_sms()) is None
    # Start a VK ID sign-in on path 3's phone: the sandbox «sends» a code.
    with httpx.Client(base_url=sandbox.url) as http:
        page = http.get(
            "/vkid/authorize",
            params={
                "response_type": "code",
                "client_id": "51900001",
                "redirect_uri": "http://127.0.0.1/vkid/callback",
                "state": "s" * 16,
                "code_challenge": "c" * 43,
                "code_challenge_method": "s256",
            },
        )
        flow = re.search(r'name="flow" value="([^"]+)"', page.text)
        assert flow is not None
        http.post("/vkid/auth/phone", data={"flow": flow.group(1), "phone": "+71993333333"})
    sms = run(tools.latest_sms())
    assert sms is not None and sms.phone == "+71993333333"
    assert sms.code == latest_sms_code(sandbox, "+71993333333")
    run(tools.aclose())


@pytest.mark.parametrize(
    ("platform", "frozen", "expected"),
    [
        ("linux", False, "python"),  # from source: this interpreter, -m sferum_desktop
        ("linux", True, "sferum-desktop"),  # the frozen app runs itself with `sandbox`
        ("win32", True, "sferum-desktop-cli.exe"),  # the GUI .exe has no stdout: its twin
    ],
)
def test_the_sandbox_command_in_every_build(
    qapp: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    platform: str,
    frozen: bool,
    expected: str,
) -> None:
    if frozen:
        executable = tmp_path / ("sferum-desktop.exe" if platform == "win32" else "sferum-desktop")
        executable.touch()
        (tmp_path / "sferum-desktop-cli.exe").touch()
        monkeypatch.setattr(sys, "executable", str(executable))
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    program, args = DemoSandbox(tmp_path / "data").command()
    assert Path(program).name.startswith(expected)
    assert args[-6:] == ["--dataset", "demo", "--port", "0", "--data", str(tmp_path / "data")]
    assert ("-m" in args) is not frozen
