"""Injected faults: latency, server errors, cut connections, garbled bodies, rate limits.

They apply to `/esh`, `/sferum` and the VK ID token endpoint (`POST /vkid/oauth2/auth`),
never to `/sandbox/dev` or `/openapi.json`, so a test can always reach the control surface.
Each request draws each fault independently from `state.fault_rng`, which `faults.seed`
makes repeatable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field

from sferum_desktop.sandbox.common import (
    ACCESS_TOKEN_TTL_S,
    SandboxState,
    sha256,
    vk_error,
    vk_request_params,
)
from sferum_desktop.sandbox.db import write_meta

log = logging.getLogger("sferum_desktop.sandbox.faults")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The faults this middleware applies (the others are read by the services themselves).
_MIDDLEWARE_KEYS = (
    "latency_ms",
    "jitter_ms",
    "error_rate",
    "disconnect_rate",
    "malformed_rate",
    "rate_limit_rps",
)
_GARBAGE = b"\n<html><body><h1>502 Bad Gateway</h1></body></html>\n"


class Faults(BaseModel):
    """The faults `PUT /sandbox/dev/faults` sets; `{}` clears them all."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=120_000, description="added to every answer")
    jitter_ms: int = Field(0, ge=0, le=120_000, description="plus a uniform draw in [0, jitter]")
    error_rate: float = Field(0.0, ge=0, le=1, description="ESh 503 / Sferum HTTP 500")
    disconnect_rate: float = Field(0.0, ge=0, le=1, description="cut mid-answer")
    malformed_rate: float = Field(0.0, ge=0, le=1, description="HTTP 200, body not JSON")
    rate_limit_rps: int = Field(0, ge=0, le=10_000, description="per token or IP; 0 = none")
    captcha_rate: float = Field(0.0, ge=0, le=1, description="Sferum captcha (error 14)")
    access_token_ttl_s: int = Field(ACCESS_TOKEN_TTL_S, ge=1, le=30 * 24 * 3600)
    seed: int | None = Field(None, description="makes the fault draws repeatable")
    # Sferum's thresholds (sferum.LIMITS); unset: the service's own default.
    chat_member_limit: int | None = Field(None, ge=1, description="members per Sferum chat")
    flood_chats_per_hour: int | None = Field(None, ge=1, description="createChat per token")
    flood_member_changes_per_hour: int | None = Field(
        None, ge=1, description="addChatUser/removeChatUser per token"
    )


def current_faults(state: SandboxState) -> Faults:
    """The faults in force, with every default filled in."""
    return Faults.model_validate(state.faults)


def set_faults(state: SandboxState, faults: Faults, *, persist: bool = True) -> None:
    """Put `faults` in force (only the non-default ones are kept) and re-seed the draws."""
    state.faults = faults.model_dump(exclude_defaults=True)
    state.fault_rng = random.Random(faults.seed)
    if persist:
        write_meta(state.engine, "faults", state.faults)
    if state.faults:
        log.info("faults in force: %s", state.faults)


class InjectedDisconnect(ConnectionAbortedError):
    """Raised after half an answer so that the server drops the connection."""


class _QuietInjectedDisconnect(logging.Filter):
    """Keep uvicorn from logging a traceback for every connection cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDisconnect))


_quiet = _QuietInjectedDisconnect()


def _family(scope: Scope) -> str | None:
    """Which emulated service a request is for, when faults apply to it."""
    path: str = scope.get("path", "")
    for family in ("esh", "sferum"):
        if path == f"/{family}" or path.startswith(f"/{family}/"):
            return family
    if path == "/vkid/oauth2/auth" and scope.get("method") == "POST":
        return "vkid"
    return None


async def _buffer_body(receive: Receive) -> tuple[Receive, bytes]:
    """Read the whole request body and give back a `receive` that replays it."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay, body


def _params(scope: Scope, body: bytes) -> list[tuple[str, str]]:
    """Query and form-encoded body parameters of a request."""
    params = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    headers = dict(scope.get("headers") or [])
    if body and b"application/x-www-form-urlencoded" in headers.get(b"content-type", b""):
        params += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return params


def _client_key(scope: Scope, params: list[tuple[str, str]]) -> str:
    """Whom a rate limit counts: the bearer token, else `access_token`, else the client IP."""
    headers = dict(scope.get("headers") or [])
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "t:" + sha256(token.strip())
    for key, value in params:
        if key == "access_token" and value:
            return "t:" + sha256(value)
    client = scope.get("client") or ("?", 0)
    return f"ip:{client[0]}"


async def _answer(
    send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> None:
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


class FaultsMiddleware:
    """Pure ASGI middleware applying `state.faults` to the emulated services' requests."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state
        # (family, client key) -> monotonic times of the requests let through in the last second
        self._windows: dict[tuple[str, str], deque[float]] = {}
        uvicorn_log = logging.getLogger("uvicorn.error")
        if _quiet not in uvicorn_log.filters:
            uvicorn_log.addFilter(_quiet)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.state.faults
        active = scope["type"] == "http" and any(faults.get(key) for key in _MIDDLEWARE_KEYS)
        family = _family(scope) if active else None
        if family is None:
            await self.app(scope, receive, send)
            return

        params: list[tuple[str, str]] = []
        if family in ("sferum", "vkid"):
            receive, body = await _buffer_body(receive)
            params = _params(scope, body)
        else:
            params = _params(scope, b"")
        rps = int(faults.get("rate_limit_rps") or 0)
        if rps:
            retry_after = self._throttle(family, _client_key(scope, params), rps)
            if retry_after:
                await self._rate_limited(send, family, scope, params, retry_after)
                return

        rng = self.state.fault_rng
        delay = faults.get("latency_ms", 0) + rng.uniform(0, faults.get("jitter_ms", 0))
        error, disconnect, malformed = (
            rng.random() < faults.get(name, 0.0)
            for name in ("error_rate", "disconnect_rate", "malformed_rate")
        )
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if error:
            await self._server_error(send, family)
            return
        if not (disconnect or malformed):
            await self.app(scope, receive, send)
            return

        # Let the request take effect, then lose or garble its answer, as a flaky proxy would.
        start, answer = await self._capture(scope, receive)
        if disconnect:
            await self._cut(send, start, answer)
        else:
            await _answer(send, 200, answer[: len(answer) // 2] + _GARBAGE, "application/json")

    def _throttle(self, family: str, key: str, rps: int) -> float:
        """Seconds until `key` may call again, or 0 (and the call is counted)."""
        now = time.monotonic()
        if len(self._windows) > 4096:
            self._windows = {k: w for k, w in self._windows.items() if w and w[-1] > now - 1}
        window = self._windows.setdefault((family, key), deque())
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= rps:
            return window[0] + 1 - now
        window.append(now)
        return 0.0

    async def _rate_limited(
        self,
        send: Send,
        family: str,
        scope: Scope,
        params: list[tuple[str, str]],
        retry_after: float,
    ) -> None:
        seconds = max(1, math.ceil(retry_after))
        if family == "sferum":
            method = scope["path"].rpartition("/")[2]
            body = vk_error(6, "Too many requests per second", vk_request_params(method, params))
            await _answer(send, 200, _json(body), "application/json; charset=utf-8")
        elif family == "vkid":
            state = dict(params).get("state")
            body = {"error": "slow_down", "error_description": "Too many requests", "state": state}
            await _answer(send, 429, _json(body), "application/json", {"Retry-After": str(seconds)})
        else:
            body = {
                "error": "rate_limited",
                "message": "Слишком много запросов. Повторите попытку через несколько секунд.",
                "details": {"retry_after": seconds},
            }
            await _answer(
                send,
                429,
                _json(body),
                "application/json; charset=utf-8",
                {"Retry-After": str(seconds)},
            )

    async def _server_error(self, send: Send, family: str) -> None:
        if family == "sferum":
            await _answer(send, 500, b"Internal Server Error", "text/plain; charset=utf-8")
        elif family == "vkid":
            body = {
                "error": "temporarily_unavailable",
                "error_description": "Service temporarily unavailable",
            }
            await _answer(send, 503, _json(body), "application/json")
        else:
            body = {
                "error": "unavailable",
                "message": "Сервис ЭШ временно недоступен. Повторите попытку позже.",
                "details": {},
            }
            await _answer(send, 503, _json(body), "application/json; charset=utf-8")

    async def _capture(self, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
        """Run the request through the app, keeping its answer instead of sending it."""
        start: Message = {"type": "http.response.start", "status": 500, "headers": []}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        return start, b"".join(chunks)

    async def _cut(self, send: Send, start: Message, answer: bytes) -> None:
        """Promise the whole answer, send half of it, then drop the connection."""
        status = start.get("status", 200)
        if status in (204, 304) or len(answer) < 2:
            status, answer = 200, answer + _GARBAGE  # a bodiless answer has nothing to cut
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": answer[: len(answer) // 2], "more_body": True}
        )
        raise InjectedDisconnect("sandbox fault: connection cut mid-answer")
