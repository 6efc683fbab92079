"""Secrets in the OS keyring only (Secret Service, macOS Keychain, Windows Credential Locker).

The ESh session and the VK ID tokens are kept as JSON entries of the service
`sferum-desktop`, one per server profile and kind (`<profile key>/esh`, `<profile key>/vkid`).
When the system has no usable keyring (a bare Linux without a Secret Service, or only a
backend that writes plain or weakly protected files), the vault says so and keeps the secrets
in memory for this run: signing in works, remembering the session does not. A keyring that
fails later (locked, the D-Bus service gone) is treated the same way from then on.

Keyring calls may block (D-Bus, an unlock prompt), so every call runs in a worker thread,
one at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail

log = logging.getLogger("sferum_desktop.auth.vault")

SERVICE: Final = "sferum-desktop"
KINDS: Final = ("esh", "vkid")

NO_KEYRING_MESSAGE: Final = (
    "В системе нет хранилища паролей (связки ключей), поэтому вход не будет запомнен: "
    "после закрытия программы войдите снова."
)
KEYRING_FAILED_MESSAGE: Final = (
    "Хранилище паролей (связка ключей) недоступно, поэтому вход не будет запомнен: "
    "после закрытия программы войдите снова."
)


@dataclass(frozen=True)
class VaultStatus:
    """Whether secrets survive this run; `message` (Russian) explains when they do not."""

    persistent: bool
    backend: str
    message: str | None = None


def _backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def assess_backend(backend: KeyringBackend) -> VaultStatus:
    """Whether a keyring backend keeps secrets safely (never a plain or obfuscated file)."""
    name = _backend_name(backend)
    if isinstance(backend, fail.Keyring):
        return VaultStatus(False, name, NO_KEYRING_MESSAGE)
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return VaultStatus(False, name, NO_KEYRING_MESSAGE)
    module = type(backend).__module__
    if module.startswith("keyrings.alt") or module == "keyring.backends.null":
        # keyrings.alt's file backends store secrets in a file (plain, base64 or behind a
        # terminal password prompt): not what the product promises.
        return VaultStatus(False, name, NO_KEYRING_MESSAGE)
    return VaultStatus(True, name)


class Vault:
    """JSON secrets per server profile in the OS keyring, or in memory when there is none."""

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        service: str = SERVICE,
        on_status: Callable[[VaultStatus], object] | None = None,
    ) -> None:
        self._backend = backend if backend is not None else keyring.get_keyring()
        self.service = service
        self.status = assess_backend(self._backend)
        self._keyring_usable = self.status.persistent  # as assessed at start
        self.on_status = on_status
        self._memory: dict[str, str] = {}
        self._lock = asyncio.Lock()
        if not self.status.persistent:
            log.warning("no usable keyring (%s): secrets stay in memory", self.status.backend)

    @staticmethod
    def entry(profile_key: str, kind: str) -> str:
        """The keyring user name of one secret."""
        if kind not in KINDS:
            raise ValueError(f"unknown secret kind {kind!r}")
        return f"{profile_key}/{kind}"

    async def save(self, profile_key: str, kind: str, data: dict[str, Any]) -> None:
        """Store `data` (JSON-ready, secrets inside) for the profile."""
        name = self.entry(profile_key, kind)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._lock:
            if self.status.persistent:
                try:
                    await asyncio.to_thread(self._backend.set_password, self.service, name, text)
                    self._memory.pop(name, None)
                    return
                except Exception as exc:  # the keyring broke: fall back for the session
                    self._degrade(exc)
            self._memory[name] = text

    async def load(self, profile_key: str, kind: str) -> dict[str, Any] | None:
        """The stored data, or None (also for an entry that is not valid JSON)."""
        name = self.entry(profile_key, kind)
        async with self._lock:
            text = self._memory.get(name)
            if text is None and self.status.persistent:
                try:
                    text = await asyncio.to_thread(self._backend.get_password, self.service, name)
                except Exception as exc:
                    self._degrade(exc)
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            log.warning("a keyring entry is not valid JSON; ignoring it")
            return None
        return data if isinstance(data, dict) else None

    async def delete(self, profile_key: str, kind: str) -> None:
        """Forget one secret (absent is fine)."""
        name = self.entry(profile_key, kind)
        async with self._lock:
            self._memory.pop(name, None)
            if not self._keyring_usable:
                return
            # Even after a failure, try: an entry written before it must not outlive sign-out.
            try:
                await asyncio.to_thread(self._backend.delete_password, self.service, name)
            except keyring.errors.PasswordDeleteError:
                pass  # nothing stored
            except Exception as exc:
                if self.status.persistent:
                    self._degrade(exc)
                else:
                    log.warning("could not remove a keyring entry (%s)", type(exc).__name__)

    async def wipe(self, profile_key: str) -> None:
        """Forget every secret of the profile (sign-out)."""
        for kind in KINDS:
            await self.delete(profile_key, kind)
        log.info("keyring entries of the profile removed")

    def _degrade(self, exc: Exception) -> None:
        """The keyring failed at run time: keep secrets in memory from now on, and say so."""
        log.warning("the keyring failed (%s); secrets stay in memory", type(exc).__name__)
        self.status = VaultStatus(False, self.status.backend, KEYRING_FAILED_MESSAGE)
        if self.on_status is not None:
            self.on_status(self.status)
