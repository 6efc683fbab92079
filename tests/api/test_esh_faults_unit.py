"""Unit tests of EshClient's error mapping and retry decisions on a scripted transport.

`httpx.MockTransport` is used here only to script exact failures (a 502 page, a cut
connection, a Retry-After); the contract with the real sandbox is tests/api/test_esh_client.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sferum_desktop.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    ConnectionLost,
    Forbidden,
    InvalidCredentials,
    MalformedResponse,
    NetworkError,
    NetworkTimeout,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    TooManyAttempts,
    ValidationFailed,
)
from sferum_desktop.api.esh import EshClient, VersionConflict
from sferum_desktop.api.retry import RetryPolicy
from sferum_desktop.api.tokens import BearerTokens

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]

ME = {
    "id": "p1",
    "username": "pavlova",
    "full_name": "Павлова Елена Владимировна",
    "roles": ["teacher", "admin"],
    "schools": [{"id": "s1", "name": "Школа"}],
    "link": {"status": "linked", "vk_user_id": 42},
}
CHAT = {
    "id": 7,
    "name": "3 А",
    "type": "class",
    "class_id": "c3a",
    "group_id": None,
    "subject": None,
    "admin_person_id": "p1",
    "admin_name": "Павлова Елена Владимировна",
    "member_count": 3,
    "linked_member_count": 1,
    "sferum_chat_id": None,
    "status": "active",
    "version": 5,
    "updated_at": "2026-11-29T10:00:00.000Z",
}


def error(status: int, code: str, message: str = "Текст", **details: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "message": message, "details": details})


def token_answer(n: int) -> dict[str, Any]:
    return {
        "access_token": f"access-{n}",
        "refresh_token": f"refresh-{n}",
        "token_type": "Bearer",
        "expires_in": 900,
        "person": ME,
    }


class Script:
    """A transport that answers from a list of steps and records what it was asked."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    script: Script,
    *,
    tokens: BearerTokens | None = None,
    attempts: int = 4,
    on_tokens_changed: Any = None,
) -> tuple[EshClient, Sleeps]:
    sleeps = Sleeps()
    client = EshClient(
        "http://esh.test",
        transport=httpx.MockTransport(script),
        tokens=tokens,
        on_tokens_changed=on_tokens_changed,
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05, rng=random.Random(1)),
        sleep=sleeps,
    )
    return client, sleeps


def valid_tokens(n: int = 0) -> BearerTokens:
    return BearerTokens.issued(f"access-{n}", f"refresh-{n}", 900)


# --- error mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind", "code"),
    [
        (error(400, "bad_request"), BadRequest, "bad_request"),
        (error(401, "invalid_credentials"), InvalidCredentials, "invalid_credentials"),
        (error(403, "forbidden"), Forbidden, "forbidden"),
        (error(404, "not_found"), NotFound, "not_found"),
        (error(409, "duplicate"), Conflict, "duplicate"),
        (error(409, "automatic_chat"), Conflict, "automatic_chat"),
        (error(428, "precondition_required"), PreconditionFailed, "precondition_required"),
        (error(429, "too_many_attempts", retry_after=240), TooManyAttempts, "too_many_attempts"),
        (httpx.Response(404, text="<html>nope</html>"), NotFound, None),
        (httpx.Response(418, json={"error": "teapot"}), ApiError, "teapot"),
    ],
)
async def test_refusals_map_to_typed_errors(
    answer: httpx.Response, kind: type[ApiError], code: str | None
) -> None:
    script = Script(answer)
    client, sleeps = make_client(script, tokens=valid_tokens())
    async with client:
        with pytest.raises(kind) as caught:
            await client.me()
    assert type(caught.value) is kind
    assert caught.value.code == code
    assert caught.value.status == answer.status_code
    assert caught.value.endpoint == "GET /esh/api/v1/me"
    assert caught.value.user_message
    assert len(script.requests) == 1 and not sleeps.delays  # 4xx are never retried


async def test_lockout_carries_retry_after() -> None:
    script = Script(error(429, "too_many_attempts", "Вход временно заблокирован.", retry_after=240))
    client, _ = make_client(script)
    async with client:
        with pytest.raises(TooManyAttempts) as caught:
            await client.login("u", "p")
    assert caught.value.retry_after == 240
    assert caught.value.user_message == "Вход временно заблокирован."


async def test_validation_and_version_conflict_carry_their_details() -> None:
    script = Script(
        error(422, "validation", "Проверьте поля.", fields={"name": "Укажите название"}),
        error(412, "version_conflict", "Чат изменён.", current={**CHAT, "version": 6}),
        error(412, "version_conflict", "Чат изменён."),
    )
    client, _ = make_client(script, tokens=valid_tokens())
    async with client:
        with pytest.raises(ValidationFailed) as invalid:
            await client.create_chat(type="custom")
        assert invalid.value.fields == {"name": "Укажите название"}
        with pytest.raises(VersionConflict) as conflict:
            await client.update_chat(7, 5, name="Новое")
        assert conflict.value.current.version == 6
        with pytest.raises(MalformedResponse, match=r"details\.current"):
            await client.update_chat(7, 5, name="Новое")


async def test_malformed_and_wrong_shape_answers_name_the_endpoint_not_the_data() -> None:
    leaked = {**token_answer(1), "expires_in": "SECRET-LOOKING-VALUE"}
    script = Script(
        httpx.Response(200, content=b"<html>502 Bad Gateway</html>"),
        httpx.Response(200, json=leaked),
        httpx.Response(302, headers={"Location": "http://portal/"}),
    )
    client, _ = make_client(script, attempts=1)
    async with client:
        with pytest.raises(MalformedResponse) as not_json:
            await client.login("u", "p")
        assert "POST /esh/api/v1/auth/login" in str(not_json.value)
        assert "not valid JSON" in str(not_json.value)
        with pytest.raises(MalformedResponse) as wrong:
            await client.login("u", "p")
        assert "expires_in" in str(wrong.value)
        for text in (str(wrong.value), repr(wrong.value), wrong.value.user_message):
            assert "SECRET" not in text and "access-1" not in text
        assert wrong.value.__cause__ is None and wrong.value.__suppress_context__
        with pytest.raises(MalformedResponse, match="unexpected HTTP status 302"):
            await client.login("u", "p")


# --- retries ----------------------------------------------------------------------------------


async def test_transient_faults_are_retried_with_backoff() -> None:
    script = Script(
        error(503, "unavailable"),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.Response(200, json=ME),
    )
    client, sleeps = make_client(script, tokens=valid_tokens())
    async with client:
        me = await client.me()
    assert me.id == "p1"
    assert len(script.requests) == 4
    assert len(sleeps.delays) == 3
    assert all(0 <= d <= 0.05 for d in sleeps.delays)


async def test_retries_are_bounded_and_end_in_the_last_error() -> None:
    script = Script(httpx.ReadError("cut"))
    client, sleeps = make_client(script, tokens=valid_tokens(), attempts=3)
    async with client:
        with pytest.raises(ConnectionLost) as caught:
            await client.me()
    assert len(script.requests) == 3 and len(sleeps.delays) == 2
    assert caught.value.maybe_processed
    assert caught.value.user_message.startswith("Связь с сервером прервалась")


async def test_rate_limit_honours_retry_after_within_bounds() -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "2"}, json={"error": "rate_limited", "message": "Подождите"}
    )
    script = Script(limited, httpx.Response(200, json=ME))
    client, sleeps = make_client(script, tokens=valid_tokens())
    async with client:
        await client.me()
    assert sleeps.delays == [2.0]

    too_long = httpx.Response(
        429, headers={"Retry-After": "3600"}, json={"error": "rate_limited", "message": "Ждите"}
    )
    script = Script(too_long)
    client, sleeps = make_client(script, tokens=valid_tokens())
    async with client:
        with pytest.raises(RateLimited) as caught:
            await client.me()
    assert caught.value.retry_after == 3600 and not sleeps.delays


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("slow connect"), True),
        (error(503, "unavailable"), True),
        (httpx.Response(429, json={"error": "rate_limited"}), True),
        (httpx.RemoteProtocolError("cut mid-answer"), False),
        (httpx.ReadTimeout("no answer"), False),
        (error(500, "internal"), False),
        (httpx.Response(504, text="gateway timeout"), False),
        (httpx.Response(200, content=b"{not json"), False),
    ],
)
async def test_non_idempotent_calls_repeat_only_when_provably_unprocessed(
    failure: Step, retried: bool
) -> None:
    chat = {**CHAT, "id": 8, "type": "custom", "name": "Кружок"}
    for call in ("login", "create_chat"):
        ok = httpx.Response(200, json=token_answer(1) if call == "login" else chat)
        script = Script(failure, ok)
        client, _ = make_client(script, tokens=valid_tokens())
        async with client:
            if retried:
                if call == "login":
                    await client.login("u", "p")
                else:
                    await client.create_chat(type="custom", name="Кружок")
                assert len(script.requests) == 2
            else:
                with pytest.raises(ApiError) as caught:
                    if call == "login":
                        await client.login("u", "p")
                    else:
                        await client.create_chat(type="custom", name="Кружок")
                assert len(script.requests) == 1
                assert isinstance(caught.value, NetworkError | ServerError | MalformedResponse)


async def test_idempotent_calls_repeat_after_a_cut_answer() -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(200, json=ME))
    client, _ = make_client(script, tokens=valid_tokens())
    async with client:
        await client.me()
    assert len(script.requests) == 2


async def test_conditional_write_recognises_its_own_earlier_success() -> None:
    landed = {**CHAT, "name": "Новое", "version": 6}
    script = Script(
        httpx.RemoteProtocolError("answer lost"),
        error(412, "version_conflict", current=landed),
    )
    client, _ = make_client(script, tokens=valid_tokens())
    async with client:
        chat = await client.update_chat(7, 5, name="Новое")
    assert chat.version == 6
    assert [r.headers["If-Match"] for r in script.requests] == ['"5"', '"5"']

    # A 412 on the first attempt is someone else's change: raised, not swallowed.
    script = Script(error(412, "version_conflict", current=landed))
    client, _ = make_client(script, tokens=valid_tokens())
    async with client:
        with pytest.raises(VersionConflict):
            await client.update_chat(7, 5, name="Новое")

    script = Script(httpx.ReadError("cut"), error(404, "not_found"))
    client, _ = make_client(script, tokens=valid_tokens())
    async with client:
        await client.delete_chat(7, 5)  # the first attempt deleted it


async def test_unreachable_server_is_a_network_error_in_russian() -> None:
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    client, sleeps = make_client(script, tokens=valid_tokens())
    async with client:
        with pytest.raises(NetworkError) as caught:
            await client.me()
    assert caught.value.user_message == "Сервер ЭШ недоступен. Проверьте подключение к сети."
    assert not caught.value.maybe_processed
    assert len(script.requests) == 4 and len(sleeps.delays) == 3


async def test_timeout_has_its_own_message() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    client, _ = make_client(script, tokens=valid_tokens(), attempts=1)
    async with client:
        with pytest.raises(NetworkTimeout) as caught:
            await client.me()
    assert "не ответил вовремя" in caught.value.user_message


# --- tokens -----------------------------------------------------------------------------------


async def test_a_lost_refresh_answer_is_not_repeated() -> None:
    # Repeating a refresh whose answer was lost would present a spent token: session revoked.
    script = Script(error(401, "token_expired"), httpx.RemoteProtocolError("cut"))
    client, _ = make_client(script, tokens=valid_tokens())
    async with client:
        with pytest.raises(ConnectionLost):
            await client.me()
    assert script.paths() == ["GET /esh/api/v1/me", "POST /esh/api/v1/auth/refresh"]
    assert client.tokens is not None  # not known to be dead: the next call tries again
