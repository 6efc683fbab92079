"""Sessions against the sandbox: remembered sign-in, refreshes, their failures, sign-out."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Sandbox
from memory_keyring import MemoryKeyring

from sferum_desktop import paths
from sferum_desktop.api.errors import SessionExpired
from sferum_desktop.api.tokens import BearerTokens
from sferum_desktop.api.vkid import InvalidToken, RefreshRejected
from sferum_desktop.auth.profiles import demo_profile
from sferum_desktop.auth.session import (
    RESTORE_EXPIRED_MESSAGE,
    SESSION_ENDED_MESSAGE,
    SFERUM_ENDED_MESSAGE,
    AuthSession,
    SessionEnded,
    SessionEvent,
    SferumNotSignedIn,
    SferumSignInNeeded,
)
from sferum_desktop.auth.vault import Vault

FAR = datetime.now(UTC) + timedelta(hours=5)


class Events(list[SessionEvent]):
    def __call__(self, event: SessionEvent) -> None:
        self.append(event)


def new_session(sandbox: Sandbox, vault: Vault, **kw: Any) -> tuple[AuthSession, Events]:
    events = Events()
    kw.setdefault("proactive", False)
    return AuthSession(demo_profile(sandbox.url), vault, on_event=events, **kw), events


async def remember_vk(sandbox: Sandbox, vault: Vault, username: str, **changes: Any) -> Any:
    """Put a person's VK ID tokens in the vault, as an earlier «Авторизация в Сферум» would."""
    minted = sandbox.tokens(username)
    vk = minted["vkid"]
    tokens = BearerTokens.issued(vk["access_token"], vk["refresh_token"], vk["expires_in"])
    tokens = replace(tokens, **changes)
    await vault.save(
        "demo",
        "vkid",
        {
            "tokens": tokens.to_dict(),
            "device_id": "test-device",
            "user_id": vk["user_id"],
            "person_id": minted["person_id"],
        },
    )
    return vk


async def test_a_remembered_session_signs_in_without_the_password(
    sandbox: Sandbox, vault: Vault, keyring_backend: MemoryKeyring
) -> None:
    first, _ = new_session(sandbox, vault)
    me = await first.sign_in("pavlova", "demo")
    assert keyring_backend.names() == {"demo/esh"}
    await first.aclose()

    second, events = new_session(sandbox, vault)
    result = await second.restore()
    assert result.me is not None and result.me.id == me.id and result.message is None
    assert second.signed_in and not events
    await second.aclose()


async def test_an_ended_remembered_session_is_dropped(sandbox: Sandbox, vault: Vault) -> None:
    first, _ = new_session(sandbox, vault)
    await first.sign_in("pavlova", "demo")
    tokens = first.esh.tokens
    assert tokens is not None
    async with httpx.AsyncClient(base_url=sandbox.url) as http:  # ended elsewhere
        await http.post(
            "/esh/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
    await first.aclose()
    second, events = new_session(sandbox, vault)
    result = await second.restore()
    assert result.me is None and result.message == RESTORE_EXPIRED_MESSAGE
    assert await vault.load("demo", "esh") is None
    assert not events  # no "session ended" while restoring: the sign-in window says it
    await second.aclose()


async def test_tokens_are_refreshed_before_they_expire(sandbox: Sandbox, vault: Vault) -> None:
    sandbox.faults(access_token_ttl_s=2)
    session, events = new_session(sandbox, vault, proactive=True)
    await session.sign_in("pavlova", "demo")
    first = await vault.load("demo", "esh")
    deadline = time.monotonic() + 30
    while session.esh.refresh_count < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert session.esh.refresh_count >= 2  # every ~1.8 s, without any call asking
    assert await vault.load("demo", "esh") != first  # the keyring follows
    assert (await session.reload_me()).username == "pavlova"
    assert not events
    await session.aclose()


async def test_a_refused_access_token_is_refreshed_once(sandbox: Sandbox, vault: Vault) -> None:
    sandbox.faults(access_token_ttl_s=1)
    session, events = new_session(sandbox, vault)
    await session.sign_in("pavlova", "demo")
    tokens = session.esh.tokens
    assert tokens is not None
    # The client believes its token is fresh; ESh says it expired: 401 → one refresh.
    await session.esh.set_tokens(replace(tokens, expires_at=FAR, lifetime_s=18_000))
    await asyncio.sleep(1.5)
    results = await asyncio.gather(*(session.reload_me() for _ in range(5)))
    assert {me.username for me in results} == {"pavlova"}
    assert session.esh.refresh_count == 1  # one refresh in flight for all five calls
    assert not events
    await session.aclose()


async def test_a_failed_refresh_ends_the_session_with_an_event(
    sandbox: Sandbox, vault: Vault
) -> None:
    session, events = new_session(sandbox, vault)
    await session.sign_in("pavlova", "demo")
    tokens = session.esh.tokens
    assert tokens is not None and tokens.refresh_token
    async with httpx.AsyncClient(base_url=sandbox.url) as http:  # the refresh token is spent
        spent = await http.post(
            "/esh/api/v1/auth/refresh", json={"refresh_token": tokens.refresh_token}
        )
        assert spent.status_code == 200
    with pytest.raises(SessionExpired):
        await session.refresh_all()
    assert events == [SessionEnded(SESSION_ENDED_MESSAGE)]
    assert not session.signed_in
    assert await vault.load("demo", "esh") is None
    await session.aclose()


async def test_sferum_error_5_refreshes_the_vk_token_once(
    sandbox: Sandbox, vault: Vault, keyring_backend: MemoryKeyring
) -> None:
    sandbox.faults(access_token_ttl_s=1)
    await remember_vk(sandbox, vault, "pavlova", expires_at=FAR, lifetime_s=18_000)
    sandbox.clear_faults()
    session, events = new_session(sandbox, vault)
    await session.sign_in("pavlova", "demo")
    assert session.has_sferum
    stored = await vault.load("demo", "vkid")
    await asyncio.sleep(1.5)  # the VK ID access token has expired at the server
    overview = await session.sferum_overview()
    assert [chat.title for chat in overview.chats][-1] == "Учительская"
    assert session.refresh_count == 1
    assert await vault.load("demo", "vkid") != stored
    assert not events
    await session.aclose()


async def test_refused_vk_tokens_ask_for_a_sferum_sign_in(sandbox: Sandbox, vault: Vault) -> None:
    vk = await remember_vk(sandbox, vault, "pavlova", expires_at=FAR, lifetime_s=18_000)
    async with httpx.AsyncClient(base_url=sandbox.url) as http:  # ended at VK ID
        await http.post(
            "/vkid/oauth2/logout",
            data={"client_id": "51900001", "access_token": vk["access_token"]},
        )
    session, events = new_session(sandbox, vault)
    await session.sign_in("pavlova", "demo")
    with pytest.raises(RefreshRejected):
        await session.sferum_overview()
    assert events == [SferumSignInNeeded(SFERUM_ENDED_MESSAGE)]
    assert not session.has_sferum and session.signed_in
    assert await vault.load("demo", "vkid") is None
    with pytest.raises(SferumNotSignedIn):
        await session.sferum_overview()
    await session.aclose()


async def test_someone_elses_vk_tokens_are_not_used(sandbox: Sandbox, vault: Vault) -> None:
    vk = await remember_vk(sandbox, vault, "pavlova")
    session, _ = new_session(sandbox, vault)
    await session.sign_in("smirnova.oi", "demo")
    assert not session.has_sferum
    assert await vault.load("demo", "vkid") is None
    with pytest.raises(InvalidToken):  # and they were ended at VK ID
        await session.vkid.user_info(vk["access_token"])
    await session.aclose()


async def test_sign_out_ends_everything_and_wipes_the_keyring(
    sandbox: Sandbox, vault: Vault, keyring_backend: MemoryKeyring
) -> None:
    vk = await remember_vk(sandbox, vault, "pavlova")
    session, events = new_session(sandbox, vault)
    await session.sign_in("pavlova", "demo")
    tokens = session.esh.tokens
    assert tokens is not None and session.has_sferum
    cache = paths.profile_cache_dir("demo")
    cache.mkdir(parents=True)
    (cache / "people.json").write_text("[]")
    assert keyring_backend.names() == {"demo/esh", "demo/vkid"}

    assert await session.sign_out() is True
    assert keyring_backend.items == {}
    assert not cache.exists()
    assert not session.signed_in and not session.has_sferum
    assert not events
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        me = await http.get(
            "/esh/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
        assert me.status_code == 401
    with pytest.raises(InvalidToken):
        await session.vkid.user_info(vk["access_token"])
    await session.aclose()


async def test_sign_out_without_the_server_still_wipes(
    sandbox: Sandbox, vault: Vault, keyring_backend: MemoryKeyring
) -> None:
    session, _ = new_session(sandbox, vault)
    await session.sign_in("pavlova", "demo")
    sandbox.faults(error_rate=1.0)
    assert await session.sign_out() is False
    assert keyring_backend.items == {}
    await session.aclose()
