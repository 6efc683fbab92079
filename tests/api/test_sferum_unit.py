"""Unit tests of the Sferum and VK ID clients' machinery: the rate limiter, backoff, error and
`execute` mapping, on a fake clock or a scripted transport.

`httpx.MockTransport` is used here only to script exact failures (error 6 after the limiter,
a cut answer to createChat, a 503 of VK ID); the contracts with the real sandbox are
tests/api/test_sferum_client.py and tests/api/test_vkid_client.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sferum_desktop.api.errors import (
    ApiError,
    ConnectionLost,
    InvalidGrant,
    MalformedResponse,
    ServerError,
)
from sferum_desktop.api.pkce import AuthorizationFailed
from sferum_desktop.api.ratelimit import PerTokenLimiter, SlidingWindowLimiter, token_key
from sferum_desktop.api.retry import RetryPolicy
from sferum_desktop.api.sferum import (
    AccessDenied,
    CaptchaNeeded,
    ChatNotFound,
    FloodControl,
    FloodPolicy,
    InvalidParameter,
    MethodCall,
    NoChatAccess,
    NotChatAdmin,
    NotInOrganization,
    NotSent,
    OutOfLimits,
    SferumClient,
    SferumError,
    TokenInvalid,
    TooManyRequests,
    UserNotInChat,
    map_execute,
    sferum_error,
    vkscript,
)
from sferum_desktop.api.vkid import (
    InvalidClient,
    InvalidRequest,
    InvalidToken,
    RefreshRejected,
    SignInCancelled,
    SlowDown,
    VkIdClient,
    is_redirect,
    validate_redirect,
)
from sferum_desktop.sandbox import vkscript as sandbox_vkscript

TOKEN = "vk2.a.SECRET-TOKEN-VALUE"
Handler = Callable[[httpx.Request], httpx.Response]


# --- the limiter on a fake clock --------------------------------------------------------------


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


def fake_limiter(t: FakeTime, **kw: Any) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(clock=t.clock, sleep=t.sleep, **kw)


async def test_limiter_lets_three_through_then_spaces_by_the_window() -> None:
    t = FakeTime()
    limiter = fake_limiter(t, margin=0.02, arrival_cap=0.06, min_gap=0.0)
    times = []
    for _ in range(7):
        async with limiter.slot():
            times.append(t.now)
            t.now += 0.01  # each answer takes 10 ms: the anchor is its answer time
    assert times[:3] == [1000.0, 1000.01, 1000.02]
    for i in range(3, 7):
        assert times[i] == pytest.approx(times[i - 3] + 0.01 + 1.02)
    assert limiter.stats.acquired == 7 and limiter.stats.penalties == 0


async def test_slow_answers_are_anchored_at_start_plus_the_arrival_cap() -> None:
    t = FakeTime()
    limiter = fake_limiter(t, margin=0.02, arrival_cap=0.06, min_gap=0.0)
    times = []
    for _ in range(4):
        async with limiter.slot():
            times.append(t.now)
            t.now += 0.2  # a slow execute: it arrived long before it answered
    # The fourth waits for the first's start + cap + window, not for its answer + window.
    assert times[3] == pytest.approx(times[0] + 0.06 + 1.02)
    assert limiter.ceiling_rps() == pytest.approx(3 / 1.08)


async def test_consecutive_requests_keep_a_minimum_gap() -> None:
    t = FakeTime()
    limiter = fake_limiter(t, margin=0.02, arrival_cap=0.06, min_gap=0.1)
    times = []
    for _ in range(4):
        async with limiter.slot():
            times.append(t.now)
            t.now += 0.01
    assert times[:3] == pytest.approx([1000.0, 1000.1, 1000.2])
    assert times[3] == pytest.approx(1000.01 + 1.02)  # the window, not the gap, decides


async def test_penalty_waits_a_whole_window_widens_and_later_relaxes_the_margin() -> None:
    t = FakeTime()
    limiter = fake_limiter(t, margin=0.02, margin_step=0.05, relax_after=6)
    slot = await limiter.acquire()
    limiter.finish(slot)
    limiter.penalize()
    assert limiter.margin == pytest.approx(0.07)
    assert limiter.delay() == pytest.approx(1.07)
    before = t.now
    await limiter.acquire()
    assert t.now - before == pytest.approx(1.07)
    for _ in range(6):
        limiter.finish(await limiter.acquire())
    assert limiter.margin == pytest.approx(0.02)
    assert limiter.stats.penalties == 1


async def test_waiters_are_served_in_order_and_a_cancelled_one_gives_up_its_turn() -> None:
    limiter = SlidingWindowLimiter(rate=2, period=0.15, margin=0.0, arrival_cap=0.0, min_gap=0.0)
    order: list[int] = []

    async def one(n: int) -> None:
        async with limiter.slot():
            order.append(n)

    tasks = [asyncio.create_task(one(n)) for n in range(6)]
    await asyncio.sleep(0.05)
    tasks[3].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 1, 2, 4, 5]


async def test_a_real_burst_never_puts_more_than_rate_in_a_window() -> None:
    limiter = SlidingWindowLimiter(rate=3, period=0.2, margin=0.0, arrival_cap=0.0, min_gap=0.0)
    starts: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            starts.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(12)))
    starts.sort()
    for i in range(3, len(starts)):
        assert starts[i] - starts[i - 3] >= 0.2 - 1e-3
    assert starts[-1] - starts[0] < 0.2 * 3 + 0.15  # and it is not slower than it must be


def test_limiters_are_per_token_and_keep_no_token() -> None:
    limiters = PerTokenLimiter()
    assert limiters.for_token("a") is limiters.for_token("a")
    assert limiters.for_token("a") is not limiters.for_token("b")
    assert "a" not in limiters._limiters and token_key("a") in limiters._limiters
    limiters.forget("a")
    assert token_key("a") not in limiters._limiters


# --- VKScript and the execute mapping --------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=60),
    st.lists(st.integers(min_value=1, max_value=2**40), max_size=5),
)
def test_vkscript_arguments_survive_any_text(title: str, ids: list[int]) -> None:
    calls = [
        MethodCall.create_chat(title, ids),
        MethodCall.edit_chat(7, title + '"); return API.messages.deleteChat({"chat_id": 7}); //'),
        MethodCall("messages.getChat", {"chat_id": 1, "none": None, "flag": True}),
    ]
    program = sandbox_vkscript.parse(vkscript(calls))
    assert [c.method for c in program.calls] == [c.method for c in calls]
    args = [dict(sandbox_vkscript.call_params(c)) for c in program.calls]
    assert args[0] == {"title": title, "user_ids": ",".join(map(str, ids))}
    assert args[1]["title"].startswith(title) and len(program.calls) == 3
    assert args[2] == {"chat_id": "1", "flag": "1"}
    assert vkscript(calls).isascii()


def test_method_names_are_checked() -> None:
    with pytest.raises(ValueError, match="method name"):
        MethodCall("messages.getChat({}),API.messages.deleteChat")
    with pytest.raises(ValueError, match="method name"):
        MethodCall("execute")


def test_failed_calls_map_to_their_operations_in_order() -> None:
    calls = [
        MethodCall.add_chat_user(1, 10),
        MethodCall.get_chat(99),
        MethodCall.add_chat_user(1, 11),
        MethodCall.remove_chat_user(1, 12),
        MethodCall.edit_chat(1, "x"),
    ]
    body = {
        "response": [1, False, 1, False, 1],
        "execute_errors": [
            {"method": "messages.getChat", "error_code": 927, "error_msg": "Chat does not exist"},
            {"method": "messages.removeChatUser", "error_code": 935, "error_msg": "not in chat"},
        ],
    }
    results = map_execute(calls, body, "POST /method/execute")
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert isinstance(results[1].error, ChatNotFound) and results[1].call is calls[1]
    assert isinstance(results[3].error, UserNotInChat)
    assert results[3].error.request_params == {"chat_id": "1", "member_id": "12"}
    assert results[0].unwrap() == 1
    with pytest.raises(ChatNotFound):
        results[1].unwrap()


def test_errors_that_do_not_line_up_are_malformed_not_misattributed() -> None:
    calls = [MethodCall.get_chat(1), MethodCall.add_chat_user(1, 2)]
    body = {
        "response": [False, False],
        "execute_errors": [{"method": "messages.addChatUser", "error_code": 1019}],
    }
    results = map_execute(calls, body, "e")
    assert all(isinstance(r.error, MalformedResponse) for r in results)
    with pytest.raises(MalformedResponse, match="one value per call"):
        map_execute(calls, {"response": [1]}, "e")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (5, TokenInvalid),
        (6, TooManyRequests),
        (9, FloodControl),
        (15, AccessDenied),
        (100, InvalidParameter),
        (103, OutOfLimits),
        (917, NoChatAccess),
        (925, NotChatAdmin),
        (927, ChatNotFound),
        (935, UserNotInChat),
        (1019, NotInOrganization),
        (3, SferumError),
        (12345, SferumError),
    ],
)
def test_every_error_code_has_its_type_and_a_russian_message(
    code: int, kind: type[SferumError]
) -> None:
    error = sferum_error(
        {
            "error_code": code,
            "error_msg": "VK text",
            "request_params": [{"key": "access_token", "value": TOKEN}],
        },
        endpoint="POST /method/x",
    )
    assert type(error) is kind and error.error_code == code and error.code == str(code)
    assert any("а" <= ch <= "я" for ch in error.user_message)
    assert error.reason == "VK text"


def test_captcha_error_carries_what_the_dialog_needs() -> None:
    error = sferum_error(
        {
            "error_code": 14,
            "error_msg": "Captcha needed",
            "captcha_sid": 123456789012,
            "captcha_img": "https://api.vk.com/captcha.php?sid=123456789012",
            "captcha_ts": 1.5,
        }
    )
    assert isinstance(error, CaptchaNeeded)
    assert error.captcha_sid == "123456789012" and error.captcha_img.endswith("123456789012")
    assert not error.can_solve


# --- the Sferum client on a scripted transport -----------------------------------------------


def vk_ok(response: Any) -> httpx.Response:
    return httpx.Response(200, json={"response": response})


def vk_error(code: int, msg: str = "text", **extra: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"error": {"error_code": code, "error_msg": msg, "request_params": [], **extra}}
    )


class Script:
    """A transport answering from steps (a response, an exception, or a function)."""

    def __init__(self, *steps: httpx.Response | Exception | Handler) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def form(self, n: int) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[n].content.decode()).items()}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def sferum(script: Script, **kw: Any) -> tuple[SferumClient, Sleeps]:
    sleeps = Sleeps()
    limiter = PerTokenLimiter(
        lambda: SlidingWindowLimiter(rate=3, period=0.05, margin=0.0, min_gap=0.0)
    )
    client = SferumClient(
        "http://vk.test/sferum",
        TOKEN,
        transport=httpx.MockTransport(script),
        limiter=limiter,
        retry=kw.pop(
            "retry",
            RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, rng=random.Random(1)),
        ),
        flood=kw.pop("flood", FloodPolicy(retries=1, delay=30.0)),
        sleep=sleeps,
        **kw,
    )
    return client, sleeps


async def test_a_call_is_a_form_post_with_version_and_bearer_token() -> None:
    script = Script(vk_ok({"id": 1, "title": "3 А", "admin_id": 5, "members_count": 2}))
    client, _ = sferum(script)
    async with client:
        chat = await client.get_chat(1)
    request = script.requests[0]
    assert chat.title == "3 А"
    assert request.method == "POST" and request.url.path == "/sferum/method/messages.getChat"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert script.form(0) == {"chat_id": "1", "v": "5.199"}


async def test_error_6_penalises_the_limiter_and_repeats_even_create_chat() -> None:
    script = Script(vk_error(6, "Too many requests per second"), vk_ok(42))
    client, sleeps = sferum(script)
    async with client:
        assert await client.create_chat("Чат", [2, 3]) == 42
    assert client.stats.rate_limited == 1 and len(script.requests) == 2
    assert client.limiter.for_token(TOKEN).stats.penalties == 1
    assert not sleeps.delays  # the limiter did the waiting, not the retry backoff
    assert script.form(1)["user_ids"] == "2,3"


async def test_create_chat_is_not_repeated_after_a_cut_answer_but_a_read_is() -> None:
    script = Script(httpx.ReadError("cut"), vk_ok(1))
    client, _ = sferum(script)
    async with client:
        with pytest.raises(ConnectionLost) as caught:
            await client.create_chat("Чат")
        assert caught.value.maybe_processed
        assert len(script.requests) == 1
        script.steps = [httpx.ReadError("cut"), vk_ok(1)]
        await client.edit_chat(1, "Новое")
    assert len(script.requests) == 3


async def test_server_errors_are_retried_with_backoff_except_for_create_chat() -> None:
    script = Script(httpx.Response(500, text="Internal Server Error"), vk_ok(7))
    client, sleeps = sferum(script)
    async with client:
        with pytest.raises(ServerError):
            await client.create_chat("Чат")
        script.steps = [httpx.Response(502), httpx.Response(500), vk_ok(1)]
        await client.add_chat_user(1, 2)
    assert len(script.requests) == 4 and len(sleeps.delays) == 2
    assert all(0 <= d <= 0.02 for d in sleeps.delays)


async def test_error_5_refreshes_once_for_concurrent_calls_then_repeats() -> None:
    fresh = "vk2.a.FRESH"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == f"Bearer {fresh}":
            return vk_ok(1)
        return vk_error(5, "User authorization failed: access_token has expired.")

    refreshes = 0

    async def on_expired() -> str:
        nonlocal refreshes
        refreshes += 1
        await asyncio.sleep(0.01)
        return fresh

    client, _ = sferum(Script(answer), on_token_expired=on_expired)
    async with client:
        await asyncio.gather(*(client.add_chat_user(1, n) for n in range(3)))
    assert refreshes == 1 and client.stats.token_refreshes == 1


async def test_error_5_without_a_refresh_or_twice_is_raised() -> None:
    client, _ = sferum(Script(vk_error(5, "invalid session")))
    async with client:
        with pytest.raises(TokenInvalid):
            await client.get_chat(1)

    async def stale() -> str:
        return "vk2.a.ALSO-BAD"

    script = Script(vk_error(5, "invalid session"))
    client, _ = sferum(script, on_token_expired=stale)
    async with client:
        with pytest.raises(TokenInvalid):
            await client.get_chat(1)
    assert len(script.requests) == 2


async def test_flood_control_waits_a_bounded_time_then_surfaces() -> None:
    script = Script(vk_error(9, "Flood control"))
    client, sleeps = sferum(script, flood=FloodPolicy(retries=2, delay=30.0, max_delay=45.0))
    async with client:
        with pytest.raises(FloodControl):
            await client.add_chat_user(1, 2)
    assert sleeps.delays == [30.0, 45.0] and len(script.requests) == 3
    assert client.stats.flood_waits == 2


async def test_captcha_handler_answers_and_the_call_goes_on() -> None:
    script = Script(
        vk_error(14, "Captcha needed", captcha_sid="111", captcha_img="http://vk.test/c.png"),
        vk_ok({"id": 1, "title": "t", "admin_id": 1, "members_count": 1}),
    )
    asked: list[str] = []

    async def handler(captcha: CaptchaNeeded) -> str:
        asked.append(captcha.captcha_sid)
        return "12345"

    client, _ = sferum(script, captcha_handler=handler)
    async with client:
        await client.get_chat(1)
    assert asked == ["111"]
    assert script.form(1)["captcha_sid"] == "111" and script.form(1)["captcha_key"] == "12345"


async def test_captcha_without_handler_is_solved_through_the_error() -> None:
    script = Script(
        vk_error(14, "Captcha needed", captcha_sid="111", captcha_img="http://vk.test/c.png"),
        vk_ok(77),
    )
    client, _ = sferum(script)
    async with client:
        with pytest.raises(CaptchaNeeded) as caught:
            await client.create_chat("Чат")
        assert caught.value.can_solve
        assert await caught.value.solve("54321") == 77
    assert script.form(1)["captcha_key"] == "54321" and script.form(1)["title"] == "Чат"


async def test_a_failed_batch_request_marks_its_calls_and_the_rest_not_sent() -> None:
    calls = [MethodCall.add_chat_user(1, n) for n in range(1, 61)]
    script = Script(vk_ok([1] * 25), vk_error(15, "Access denied"), vk_ok([1] * 10))
    client, _ = sferum(script)
    async with client:
        results = await client.batch(calls)
    assert len(script.requests) == 2 and len(results) == 60
    assert all(r.ok for r in results[:25])
    assert all(isinstance(r.error, AccessDenied) for r in results[25:50])
    assert all(isinstance(r.error, NotSent) for r in results[50:])
    code = script.form(0)["code"]
    assert code.count("API.messages.addChatUser(") == 25


async def test_answers_that_are_not_vk_json_are_malformed() -> None:
    script = Script(httpx.Response(200, content=b'{"response": [1, 2<html>'))
    client, _ = sferum(script, retry=RetryPolicy(attempts=1))
    async with client:
        with pytest.raises(MalformedResponse):
            await client.get_chat(1)
        script.steps = [vk_ok({"id": "not a number"})]
        with pytest.raises(MalformedResponse, match="wrong shape"):
            await client.get_chat(1)


async def test_no_token_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        vk_error(6),
        httpx.ReadError(f"cut {TOKEN}"),
        httpx.Response(500, text=TOKEN),
        vk_error(
            100, "bad", request_params=[{"key": "access_token", "value": TOKEN}, {"key": "v"}]
        ),
    )
    client, _ = sferum(script)
    async with client:
        with pytest.raises(ApiError) as caught:
            await client.get_chat(1)
    for text in (str(caught.value), repr(caught.value), caplog.text, repr(client)):
        assert TOKEN not in text
    assert "access_token" not in caught.value.details
    assert isinstance(caught.value, InvalidParameter)


# --- the VK ID client on a scripted transport -------------------------------------------------

TOKENS = {
    "access_token": TOKEN,
    "refresh_token": "vk2.r.SECRET",
    "id_token": "x.y.z",
    "token_type": "Bearer",
    "expires_in": 3600,
    "user_id": 7,
    "state": "st",
    "scope": "vkid.personal_info messages",
}


def vkid(script: Script, attempts: int = 3) -> tuple[VkIdClient, Sleeps]:
    sleeps = Sleeps()
    client = VkIdClient(
        "http://id.test/vkid",
        "51900001",
        transport=httpx.MockTransport(script),
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.02),
        sleep=sleeps,
    )
    return client, sleeps


def oauth_error(status: int, error: str, **headers: str) -> httpx.Response:
    body = {"error": error, "error_description": "why", "state": "st"}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (oauth_error(400, "invalid_request"), InvalidRequest),
        (oauth_error(401, "invalid_client"), InvalidClient),
        (oauth_error(400, "invalid_grant"), InvalidGrant),
        (oauth_error(401, "invalid_token"), InvalidToken),
        (httpx.Response(400, text="<html>"), ApiError),
    ],
)
async def test_vkid_errors_are_typed(answer: httpx.Response, kind: type[ApiError]) -> None:
    script = Script(answer)
    client, _ = vkid(script)
    async with client:
        with pytest.raises(kind) as caught:
            await client.exchange_code("code", "v" * 43, "dev", "http://127.0.0.1/cb", "st")
    assert type(caught.value) is kind and len(script.requests) == 1
    assert caught.value.service.key == "vkid"


async def test_refresh_invalid_grant_ends_the_session() -> None:
    client, _ = vkid(Script(oauth_error(400, "invalid_grant")))
    async with client:
        with pytest.raises(RefreshRejected):
            await client.refresh("vk2.r.old", "dev", "st")


async def test_code_exchange_is_repeated_only_when_vkid_provably_did_not_process_it() -> None:
    script = Script(
        oauth_error(429, "slow_down", **{"Retry-After": "1"}),
        oauth_error(503, "temporarily_unavailable"),
        httpx.Response(200, json=TOKENS),
    )
    client, sleeps = vkid(script)
    async with client:
        tokens = await client.exchange_code("code", "v" * 43, "dev", "http://127.0.0.1/cb", "st")
        assert tokens.user_id == 7 and "messages" in tokens.scopes
        assert sleeps.delays[0] >= 1.0
        for lost in (httpx.Response(500), httpx.ReadError("cut"), httpx.ReadTimeout("slow")):
            script.steps = [lost, httpx.Response(200, json=TOKENS)]
            with pytest.raises((ServerError, ConnectionLost, ApiError)):
                await client.exchange_code("code", "v" * 43, "dev", "http://127.0.0.1/cb", "st")
    assert len(script.requests) == 3 + 3  # one try each for the three lost answers
    assert TOKEN not in repr(tokens) and "SECRET" not in repr(tokens)


async def test_slow_down_is_a_rate_limit_and_a_mismatched_state_is_refused() -> None:
    script = Script(oauth_error(429, "slow_down", **{"Retry-After": "5"}))
    client, _ = vkid(script, attempts=1)
    async with client:
        with pytest.raises(SlowDown) as caught:
            await client.refresh("vk2.r.x", "dev", "st")
        assert caught.value.retry_after == 5
        script.steps = [httpx.Response(200, json={**TOKENS, "state": "other"})]
        with pytest.raises(MalformedResponse, match="state"):
            await client.refresh("vk2.r.x", "dev", "st")


def test_redirect_validation() -> None:
    base = "http://127.0.0.1:5000/vkid/callback"
    good = validate_redirect(
        f"{base}?code=c&state=s&device_id=d&type=code_v2", "s", redirect_uri=base
    )
    assert (good.code, good.device_id, good.type) == ("c", "d", "code_v2")
    assert "c" not in repr(good).replace("code_v2", "").replace("AuthorizationCode", "")
    with pytest.raises(AuthorizationFailed, match="state"):
        validate_redirect(f"{base}?code=c&state=evil&device_id=d", "s")
    with pytest.raises(SignInCancelled):
        validate_redirect(f"{base}?error=access_denied&state=s", "s")
    with pytest.raises(AuthorizationFailed) as failed:
        validate_redirect(f"{base}?error=invalid_request&error_description=x&state=s", "s")
    assert failed.value.code == "invalid_request"
    with pytest.raises(AuthorizationFailed, match="device_id"):
        validate_redirect(f"{base}?code=c&state=s", "s")
    with pytest.raises(AuthorizationFailed, match="redirect"):
        validate_redirect(
            "http://evil.test/vkid/callback?code=c&state=s&device_id=d", "s", redirect_uri=base
        )
    assert is_redirect(f"{base}?x=1", base) and not is_redirect(
        "http://127.0.0.1:5001/vkid/callback", base
    )


def test_authorize_url_carries_pkce_and_scope() -> None:
    client = VkIdClient("http://id.test/vkid", "51900001")
    request = client.begin_sign_in("http://127.0.0.1:5000/cb")
    query = parse_qs(request.url.split("?", 1)[1])
    assert request.url.startswith("http://id.test/vkid/authorize?")
    assert query["code_challenge"] == [request.pkce.challenge]
    assert query["code_challenge_method"] == ["s256"] and query["state"] == [request.pkce.state]
    assert query["scope"] == ["vkid.personal_info messages"] and query["client_id"] == ["51900001"]
    assert request.pkce.verifier not in repr(request) and request.pkce.verifier not in request.url
    assert json.dumps(query)  # plain strings only
    asyncio.run(client.aclose())
