"""The VK ID client against the real sandbox: a sign-in driven over HTTP to get a code, the
code exchange with PKCE, code reuse, refresh rotation and reuse, user info, logout, revoke.

The seed's three paths through the HTML pages are the sandbox's own tests
(tests/sandbox/test_vkid.py); here one path (a VK account with an educational profile) is
walked with plain form posts, only to obtain a real authorization code for the client.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import Sandbox

from sferum_desktop.api.errors import ConnectionLost, InvalidGrant, ServerError, SessionExpired
from sferum_desktop.api.pkce import AuthorizationFailed, PkceRequest
from sferum_desktop.api.retry import RetryPolicy
from sferum_desktop.api.sferum import SferumClient
from sferum_desktop.api.vkid import (
    InvalidClient,
    InvalidRequest,
    InvalidToken,
    RefreshRejected,
    SignInCancelled,
    SignInRequest,
    VkIdClient,
    VkIdTokens,
    validate_redirect,
)

CLIENT_ID = "51900001"  # «ЭлЖур», the demo dataset's VK ID application
REDIRECT = "http://127.0.0.1:53682/vkid/callback"  # loopback: any port matches (RFC 8252)
PATH_1 = ("+71991111111", "demo")  # the seed's path 1: a VK account with an edu profile
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2)
_FLOW = re.compile(r'name="flow" value="([^"]+)"')


@pytest.fixture
async def vkid(sandbox: Sandbox) -> AsyncIterator[VkIdClient]:
    async with VkIdClient(f"{sandbox.url}/vkid", CLIENT_ID, retry=FAST_RETRY) as client:
        yield client


async def sign_in(sandbox: Sandbox, request: SignInRequest, *, cancel: bool = False) -> str:
    """Walk path 1 through the pages like a browser; returns the redirect URL it ends on."""
    phone, password = PATH_1
    async with httpx.AsyncClient(base_url=sandbox.url) as web:
        page = await web.get(request.url)
        assert page.status_code == 200, page.text
        match = _FLOW.search(page.text)
        assert match is not None
        flow = match.group(1)

        async def step(action: str, **fields: str) -> httpx.Response:
            return await web.post(f"/vkid/auth/{action}", data={"flow": flow, **fields})

        if cancel:
            answer = await step("cancel")
        else:
            await step("phone", phone=phone)
            await step("password", password=password)
            inbox = sandbox.dev("GET", "sms", params={"phone": phone})
            await step("code", code=inbox["items"][0]["code"])
            await step("choose")
            answer = await step("finish")
    assert answer.status_code == 303
    return answer.headers["location"]


def dev_tokens(sandbox: Sandbox, username: str = "pavlova") -> dict[str, Any]:
    vkid = sandbox.tokens(username)["vkid"]
    assert vkid is not None
    return dict(vkid)


async def test_sign_in_exchange_and_user_info(sandbox: Sandbox, vkid: VkIdClient) -> None:
    request = vkid.begin_sign_in(REDIRECT)
    redirect = await sign_in(sandbox, request)
    tokens = await vkid.finish_sign_in(request, redirect)
    assert tokens.token_type == "Bearer" and tokens.expires_in == 3600
    assert tokens.scopes == {"vkid.personal_info", "messages"} and tokens.id_token
    assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)
    user = await vkid.user_info(tokens.access_token)
    assert user.user_id == tokens.user_id and user.phone == "+7 *** ***-**-11"
    assert user.edu_profile is not None and user.edu_profile.roles == ["parent"]
    assert user.edu_profile.full_name == "Артемова Наталья Сергеевна"
    assert user.edu_profile.organizations[0].name
    async with SferumClient(f"{sandbox.url}/sferum", tokens.access_token) as sferum:
        (me,) = await sferum.users_get()  # the access token is the Sferum API token
    assert me.id == tokens.user_id
    bearer = tokens.bearer()
    assert bearer.refresh_token == tokens.refresh_token and bearer.seconds_left() > 3500


async def test_pkce_failure_and_code_reuse(sandbox: Sandbox, vkid: VkIdClient) -> None:
    request = vkid.begin_sign_in(REDIRECT)
    found = validate_redirect(await sign_in(sandbox, request), request.pkce.state)
    other = PkceRequest()
    with pytest.raises(InvalidGrant) as wrong:  # a verifier of another attempt
        await vkid.exchange_code(found.code, other.verifier, found.device_id, REDIRECT, found.state)
    assert wrong.value.code == "invalid_grant" and wrong.value.status == 400
    with pytest.raises(InvalidRequest):  # not a verifier at all
        await vkid.exchange_code(found.code, "short", found.device_id, REDIRECT, found.state)
    first = await vkid.exchange_code(
        found.code, request.pkce.verifier, found.device_id, REDIRECT, found.state
    )
    with pytest.raises(InvalidGrant):  # single use: the second presentation fails ...
        await vkid.exchange_code(
            found.code, request.pkce.verifier, found.device_id, REDIRECT, found.state
        )
    with pytest.raises(InvalidToken):  # ... and revokes what the first one got
        await vkid.user_info(first.access_token)


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_grant(
    sandbox: Sandbox, vkid: VkIdClient
) -> None:
    dev = dev_tokens(sandbox)
    fresh = await vkid.refresh(dev["refresh_token"], "device-1", "state-1")
    assert fresh.state == "state-1" and fresh.user_id == dev["user_id"]
    assert fresh.refresh_token != dev["refresh_token"]
    user = await vkid.user_info(fresh.access_token)
    assert user.edu_profile is not None and set(user.edu_profile.roles) == {"teacher", "admin"}
    with pytest.raises(RefreshRejected) as reused:
        await vkid.refresh(dev["refresh_token"], "device-1")
    assert isinstance(reused.value, SessionExpired)  # TokenKeeper forgets the session
    with pytest.raises(InvalidToken):
        await vkid.user_info(fresh.access_token)
    with pytest.raises(RefreshRejected):
        await vkid.refresh(fresh.refresh_token, "device-1")


async def test_refresher_plugs_into_the_token_keeper(sandbox: Sandbox, vkid: VkIdClient) -> None:
    dev = dev_tokens(sandbox)
    stale = VkIdTokens(**{**dev, "token_type": "Bearer"}).bearer()
    fresh = await vkid.refresher("device-1")(stale)
    assert fresh.access_token != stale.access_token and fresh.seconds_left() > 3500


async def test_logout_ends_one_session_revoke_ends_them_all(
    sandbox: Sandbox, vkid: VkIdClient
) -> None:
    one, two, three = dev_tokens(sandbox), dev_tokens(sandbox), dev_tokens(sandbox)
    await vkid.logout(one["access_token"])
    with pytest.raises(InvalidToken):
        await vkid.user_info(one["access_token"])
    with pytest.raises(RefreshRejected):
        await vkid.refresh(one["refresh_token"], "device-1")
    await vkid.logout(one["access_token"])  # idempotent
    assert (await vkid.user_info(two["access_token"])).user_id == two["user_id"]
    await vkid.revoke(two["access_token"])
    for tokens in (two, three):
        with pytest.raises(InvalidToken):
            await vkid.user_info(tokens["access_token"])
    await vkid.logout("vk2.a.unknown")  # an unknown token counts as ended


async def test_refusals_before_and_on_the_redirect(sandbox: Sandbox, vkid: VkIdClient) -> None:
    async with VkIdClient(f"{sandbox.url}/vkid", "424242") as stranger:
        with pytest.raises(InvalidClient):
            await stranger.user_info("vk2.a.x")
    pkce = PkceRequest()
    no_pkce = vkid.authorize_url(None, REDIRECT, pkce.state, pkce.challenge).replace(
        "code_challenge=", "no_challenge="
    )
    async with httpx.AsyncClient() as web:
        answer = await web.get(no_pkce)
    assert answer.status_code in (302, 303)
    with pytest.raises(AuthorizationFailed) as refused:
        validate_redirect(answer.headers["location"], pkce.state, redirect_uri=REDIRECT)
    assert refused.value.code == "invalid_request"
    request = vkid.begin_sign_in(REDIRECT)
    cancelled = await sign_in(sandbox, request, cancel=True)
    with pytest.raises(SignInCancelled):
        await vkid.finish_sign_in(request, cancelled)
    with pytest.raises(AuthorizationFailed, match="state"):
        await vkid.finish_sign_in(vkid.begin_sign_in(REDIRECT), await sign_in(sandbox, request))


async def test_a_code_exchange_is_not_repeated_once_vkid_may_have_processed_it(
    sandbox: Sandbox, vkid: VkIdClient
) -> None:
    request = vkid.begin_sign_in(REDIRECT)
    found = validate_redirect(await sign_in(sandbox, request), request.pkce.state)
    args = (found.code, request.pkce.verifier, found.device_id, REDIRECT, found.state)
    sandbox.faults(disconnect_rate=1, seed=1)
    with pytest.raises(ConnectionLost) as lost:
        await vkid.exchange_code(*args)
    assert lost.value.maybe_processed
    sandbox.clear_faults()
    with pytest.raises(InvalidGrant):  # the lost answer had spent the code
        await vkid.exchange_code(*args)


async def test_transient_token_endpoint_faults(sandbox: Sandbox, vkid: VkIdClient) -> None:
    dev = dev_tokens(sandbox)
    sandbox.faults(rate_limit_rps=1)
    first = await vkid.refresh(dev["refresh_token"], "device-1")
    second = await vkid.refresh(first.refresh_token, "device-1")  # slow_down, then retried
    assert second.user_id == dev["user_id"]
    sandbox.faults(error_rate=1, seed=1)
    with pytest.raises(ServerError) as down:
        await vkid.refresh(second.refresh_token, "device-1")
    assert down.value.status == 503
    sandbox.clear_faults()
    third = await vkid.refresh(second.refresh_token, "device-1")  # 503: it was not spent
    assert third.user_id == dev["user_id"]
