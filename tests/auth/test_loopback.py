"""The loopback listener of «Войти через браузер» (RFC 8252)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sferum_desktop.auth.loopback import ListenerClosed, LoopbackReceiver


async def test_it_takes_one_redirect_and_says_to_go_back() -> None:
    receiver = LoopbackReceiver("/vkid/callback")
    redirect_uri = await receiver.start()
    assert redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith("/vkid/callback")
    async with httpx.AsyncClient() as client:
        other = await client.get(redirect_uri.replace("/vkid/callback", "/favicon.ico"))
        assert other.status_code == 404
        answer = await client.get(f"{redirect_uri}?code=abc&state=xyz")
    assert answer.status_code == 200
    assert "Можно вернуться в приложение" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert await asyncio.wait_for(receiver.wait(), 5) == f"{redirect_uri}?code=abc&state=xyz"
    await receiver.close()


async def test_closing_ends_the_wait() -> None:
    receiver = LoopbackReceiver()
    await receiver.start()
    waiting = asyncio.ensure_future(receiver.wait())
    await asyncio.sleep(0)
    await receiver.close()
    with pytest.raises(ListenerClosed):
        await waiting
