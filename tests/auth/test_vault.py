"""The keyring vault: OS keyring only, memory when there is none, never a plain file."""

from __future__ import annotations

from pathlib import Path

import keyring.errors
from keyring.backends import chainer, fail
from memory_keyring import MemoryKeyring

from sferum_desktop.auth.vault import (
    KEYRING_FAILED_MESSAGE,
    NO_KEYRING_MESSAGE,
    Vault,
    VaultStatus,
    assess_backend,
)


async def test_secrets_go_to_the_keyring(keyring_backend: MemoryKeyring, vault: Vault) -> None:
    assert vault.status.persistent and vault.status.message is None
    await vault.save("demo", "esh", {"tokens": {"access_token": "a"}})
    assert keyring_backend.items == {
        ("sferum-desktop", "demo/esh"): '{"tokens":{"access_token":"a"}}'
    }
    assert await vault.load("demo", "esh") == {"tokens": {"access_token": "a"}}
    assert await vault.load("demo", "vkid") is None
    await vault.save("demo", "vkid", {"x": 1})
    await vault.wipe("demo")
    assert keyring_backend.items == {}
    await vault.wipe("demo")  # nothing left: fine


async def test_without_a_keyring_secrets_stay_in_memory(user_dirs: Path) -> None:
    for backend in (fail.Keyring(), chainer.ChainerBackend()):
        if isinstance(backend, chainer.ChainerBackend) and backend.backends:
            continue  # a chainer with backends is a usable keyring
        vault = Vault(backend)
        assert not vault.status.persistent
        assert vault.status.message == NO_KEYRING_MESSAGE
        await vault.save("demo", "esh", {"tokens": "secret-token-xyz"})
        assert await vault.load("demo", "esh") == {"tokens": "secret-token-xyz"}
        await vault.wipe("demo")
        assert await vault.load("demo", "esh") is None
    written = [p for p in user_dirs.rglob("*") if p.is_file()]
    assert not any("secret-token-xyz" in p.read_text(errors="ignore") for p in written)


def test_file_backends_are_not_a_keyring() -> None:
    class PlaintextKeyring(MemoryKeyring):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    status = assess_backend(PlaintextKeyring())
    assert not status.persistent and status.message == NO_KEYRING_MESSAGE


class BrokenKeyring(MemoryKeyring):
    """A keyring that stops working (locked, its D-Bus service gone)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


async def test_a_failing_keyring_degrades_to_memory_and_says_so() -> None:
    seen: list[VaultStatus] = []
    vault = Vault(BrokenKeyring(), on_status=seen.append)
    assert vault.status.persistent
    await vault.save("demo", "esh", {"a": 1})
    assert await vault.load("demo", "esh") == {"a": 1}
    assert not vault.status.persistent
    assert [s.message for s in seen] == [KEYRING_FAILED_MESSAGE]


async def test_a_corrupt_entry_is_ignored(keyring_backend: MemoryKeyring, vault: Vault) -> None:
    keyring_backend.items[("sferum-desktop", "demo/esh")] = "not json"
    assert await vault.load("demo", "esh") is None
