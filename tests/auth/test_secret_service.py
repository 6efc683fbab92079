"""The vault against a real Secret Service: gnome-keyring in a private D-Bus session.

The test starts its own `dbus-daemon` (no service activation, so nothing else is started)
and `gnome-keyring-daemon --unlock --components=secrets` with a password on stdin, talks
to it through `keyring`'s SecretService backend, and stops both by their process ids.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sferum_desktop.auth.vault import Vault

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

NEEDED = ("dbus-daemon", "gnome-keyring-daemon", "gdbus")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A running, unlocked gnome-keyring on a private session bus; yields the bus address."""
    missing = [name for name in NEEDED if shutil.which(name) is None]
    if missing:
        pytest.skip(f"no Secret Service to test against: {', '.join(missing)} not installed")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=tmp_path / "bus"), encoding="utf-8")
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    bus.stdout.close()
    assert address.startswith("unix:"), "dbus-daemon did not start"
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": address,
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": os.environ["HOME"],
    }
    keyring_daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(b"test-keyring-password")
        keyring_daemon.stdin.close()
        # Blocks until the daemon owns its bus name (no polling loop here).
        subprocess.run(
            ["gdbus", "wait", "--session", "--timeout", "60", "org.freedesktop.secrets"],
            env=env,
            check=True,
            timeout=90,
        )
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        yield address
    finally:
        _stop(keyring_daemon)
        _stop(bus)


async def test_the_vault_uses_a_real_secret_service(secret_service: str) -> None:
    from keyring.backends import SecretService

    backend = SecretService.Keyring()
    vault = Vault(backend)
    assert vault.status.persistent, vault.status
    await vault.save("demo", "esh", {"tokens": {"access_token": "esh-at.real-keyring"}})
    await vault.save("demo", "vkid", {"tokens": {"access_token": "vk2.a.real-keyring"}})
    # Read back by a separate client: it really is in the Secret Service.
    fresh = SecretService.Keyring()
    assert "esh-at.real-keyring" in (fresh.get_password("sferum-desktop", "demo/esh") or "")
    assert await Vault(fresh).load("demo", "vkid") == {
        "tokens": {"access_token": "vk2.a.real-keyring"}
    }
    await vault.wipe("demo")  # sign-out
    assert fresh.get_password("sferum-desktop", "demo/esh") is None
    assert fresh.get_password("sferum-desktop", "demo/vkid") is None
