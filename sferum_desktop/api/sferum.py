"""The async Sferum API client: VK API methods for chats, members and calls, with `execute`.

Sferum follows the VK API conventions (`spec/sferum-api.md`): `POST <base>/method/<name>`
with form-encoded parameters and `v=5.199`, the token in `Authorization: Bearer`, and every
answer HTTP 200 with `{"response": ...}` or `{"error": {error_code, error_msg, ...}}`.
`base_url` is `https://api.vk.com` for the real service, `<sandbox>/sferum` for the sandbox.

What a call goes through, in order:

1. the per-token rate limiter (`api.ratelimit`): 3 requests per sliding second, with a small
   margin, so normal use never meets error 6; if error 6 arrives anyway, the limiter is
   penalised (a whole window's wait and a wider margin) and the call is sent again: error 6
   is a refusal before any work, so this is safe for every method (`stats.rate_limited`);
2. transient faults (HTTP 5xx, cut connections, timeouts, unreadable answers) are retried with
   capped exponential backoff and full jitter (`api.retry`), but a non-idempotent method
   (`messages.createChat`, `calls.start`, or an `execute` holding one) only when the server
   provably did not get it;
3. error 5 (token expired or revoked) calls `on_token_expired` once — a single refresh in
   flight for all concurrent calls — and repeats the call once with the new token;
4. error 9 (flood control) waits per `FloodPolicy` (bounded) and then surfaces;
5. error 14 (captcha) asks `captcha_handler` for the key when one is set, else raises
   `CaptchaNeeded`, whose `solve(key)` repeats the call with the answer.

Every error code of the spec has its `SferumError` subclass with a Russian `user_message`;
VK's English text is kept in `reason`. No token appears in an error, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sferum_desktop.api.errors import (
    SFERUM,
    ApiError,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from sferum_desktop.api.ratelimit import PerTokenLimiter
from sferum_desktop.api.retry import Attempt, RetryPolicy, Safety, call_with_retries
from sferum_desktop.api.transport import (
    DEFAULT_TIMEOUT,
    Verify,
    new_http_client,
    shape_error,
    transport_error,
)
from sferum_desktop.api.vkid import EduProfile

__all__ = [
    "API_VERSION",
    "CHAT_PEER_BASE",
    "AccessDenied",
    "ActiveCall",
    "ActiveCalls",
    "CallStarted",
    "CaptchaNeeded",
    "ChatInfo",
    "ChatNotFound",
    "Conversation",
    "ConversationMember",
    "ConversationMembers",
    "Conversations",
    "FloodControl",
    "FloodPolicy",
    "InvalidParameter",
    "MethodCall",
    "NoChatAccess",
    "NotChatAdmin",
    "NotInOrganization",
    "NotSent",
    "OutOfLimits",
    "Result",
    "SferumClient",
    "SferumError",
    "SferumStats",
    "TokenInvalid",
    "TooManyRequests",
    "UserNotInChat",
    "UserProfile",
    "vkscript",
]

log = logging.getLogger("sferum_desktop.api.sferum")

API_VERSION: Final = "5.199"
CHAT_PEER_BASE: Final = 2_000_000_000
MAX_EXECUTE_CALLS: Final = 25
MAX_EXECUTE_CODE: Final = 60_000  # characters of VKScript per execute (the sandbox takes 65 536)
MAX_PAGE: Final = 200
DEFAULT_RETRY: Final = RetryPolicy()
# Methods whose repetition would do the work twice (a second chat, a second call).
NON_IDEMPOTENT: Final = frozenset({"messages.createChat", "calls.start"})
_METHOD_NAME: Final = re.compile(r"^[a-z]+\.[A-Za-z]+$|^execute$")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# --- errors ---------------------------------------------------------------------------------


class SferumError(ApiError):
    """The Sferum API refused a call with a VK error code (`error_code`; `reason`: VK's text)."""

    default_message = "Сферум не смог выполнить действие. Повторите попытку позже."
    error_codes: ClassVar[tuple[int, ...]] = ()

    def __init__(
        self,
        message: str | None = None,
        *,
        error_code: int,
        request_params: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> None:
        self.error_code = error_code
        # What VK echoed of the call (never the token); for diagnostics, not for messages.
        self.request_params: dict[str, str] = dict(request_params or {})
        kw.setdefault("service", SFERUM)
        kw.setdefault("code", str(error_code))
        super().__init__(message, **kw)


class TokenInvalid(SferumError, Unauthorized):
    """Error 5: the access token is invalid, expired or revoked."""

    default_message = "Вход в Сферум истёк. Войдите через VK ID ещё раз."
    error_codes = (5,)


class TooManyRequests(SferumError, RateLimited):
    """Error 6: more than 3 requests per second with this token."""

    default_message = "Слишком много запросов к Сферуму. Повторите попытку чуть позже."
    error_codes = (6,)

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = 1.0, **kw: Any
    ) -> None:
        super().__init__(message, retry_after=retry_after, **kw)


class FloodControl(SferumError):
    """Error 9: too many chat creations or member changes in a period; try again later."""

    default_message = (
        "Сферум временно ограничил создание чатов и изменение участников. Повторите позже."
    )
    error_codes = (9,)


class CaptchaNeeded(SferumError):
    """Error 14: show `captcha_img` (a picture URL), then `await solve(key)` with what was typed.

    `solve` repeats the very call with `captcha_sid` and `captcha_key` and returns what that
    call returns; a wrong key raises a new `CaptchaNeeded`.
    """

    default_message = "Сферум просит подтвердить, что вы не робот: введите код с картинки."
    error_codes = (14,)

    def __init__(
        self,
        message: str | None = None,
        *,
        captcha_sid: str,
        captcha_img: str,
        captcha_ts: float | None = None,
        **kw: Any,
    ) -> None:
        self.captcha_sid = captcha_sid
        self.captcha_img = captcha_img
        self.captcha_ts = captcha_ts
        self._retry: Callable[[str], Awaitable[Any]] | None = None
        super().__init__(message, **kw)

    @property
    def can_solve(self) -> bool:
        """Whether `solve` can repeat the call (not for an `execute` batch: use a handler)."""
        return self._retry is not None

    async def solve(self, key: str) -> Any:
        """Repeat the call that met the captcha, with its answer."""
        if self._retry is None:
            raise RuntimeError("this captcha cannot be answered here; use captcha_handler")
        return await self._retry(key)


class AccessDenied(SferumError, Forbidden):
    """Error 15: the token or the profile may not do this (scope, role)."""

    default_message = "Нет прав для этого действия в Сферуме."
    error_codes = (15,)


class InvalidParameter(SferumError, BadRequest):
    """Error 100: a parameter is missing or invalid."""

    default_message = "Сферум отклонил запрос: неверный параметр."
    error_codes = (100,)


class OutOfLimits(SferumError):
    """Error 103: out of limits (a chat holds at most 2 000 members)."""

    default_message = "Превышен лимит Сферума: в чате может быть не больше 2 000 участников."
    error_codes = (103,)


class NoChatAccess(SferumError, Forbidden):
    """Error 917: not a member of the chat."""

    default_message = "Нет доступа к этому чату Сферума."
    error_codes = (917,)


class NotChatAdmin(SferumError, Forbidden):
    """Error 925: only the chat's administrator may do this."""

    default_message = "Это может сделать только администратор чата."
    error_codes = (925,)


class ChatNotFound(SferumError, NotFound):
    """Error 927: the chat does not exist (or was deleted)."""

    default_message = "Чат Сферума не найден: возможно, его удалили."
    error_codes = (927,)


class UserNotInChat(SferumError, NotFound):
    """Error 935: the user is not a member of the chat."""

    default_message = "Пользователь не состоит в этом чате."
    error_codes = (935,)


class NotInOrganization(SferumError, Forbidden):
    """Error 1019: the user's educational profile is not in the chat's organization."""

    default_message = "Пользователь не состоит в организации (школе) этого чата в Сферуме."
    error_codes = (1019,)


class NotSent(ApiError):
    """A batched call that was not sent because an earlier request of the batch failed."""

    default_message = "Действие не выполнено: предыдущий запрос к Сферуму завершился ошибкой."

    def __init__(self, cause: ApiError) -> None:
        self.cause = cause
        super().__init__(
            service=SFERUM, reason=f"not sent after {type(cause).__name__}", code="not_sent"
        )


_ERROR_CLASSES: Final[dict[int, type[SferumError]]] = {
    code: cls
    for cls in (
        TokenInvalid,
        TooManyRequests,
        FloodControl,
        CaptchaNeeded,
        AccessDenied,
        InvalidParameter,
        OutOfLimits,
        NoChatAccess,
        NotChatAdmin,
        ChatNotFound,
        UserNotInChat,
        NotInOrganization,
    )
    for code in cls.error_codes
}


def sferum_error(
    error: Mapping[str, Any],
    *,
    endpoint: str | None = None,
    request_params: Mapping[str, str] | None = None,
) -> SferumError:
    """The typed error of a VK error object (`{error_code, error_msg, ...}`)."""
    raw_code = error.get("error_code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else 0
    text = error.get("error_msg")
    common: dict[str, Any] = {
        "error_code": code,
        "endpoint": endpoint,
        "reason": str(text) if text else f"error {code}",
        "request_params": request_params,
    }
    cls = _ERROR_CLASSES.get(code, SferumError)
    if cls is CaptchaNeeded:
        sid, img = error.get("captcha_sid"), error.get("captcha_img")
        if sid is None or not isinstance(img, str):
            return SferumError(**{**common, "reason": "error 14 without captcha_sid/captcha_img"})
        ts = error.get("captcha_ts")
        return CaptchaNeeded(
            captcha_sid=str(sid),
            captcha_img=img,
            captcha_ts=float(ts) if isinstance(ts, int | float) else None,
            **common,
        )
    return cls(**common)


# --- answers --------------------------------------------------------------------------------


class SferumModel(BaseModel):
    """Base of Sferum answers: unknown fields ignored, required ones enforced."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class UserProfile(SferumModel):
    """`users.get`: a VK user with the names of their educational profile."""

    id: int
    first_name: str = ""
    last_name: str = ""
    sex: int | None = None
    edu_profile: EduProfile | None = None


class ChatInfo(SferumModel):
    """`messages.getChat`: a chat, its administrator and member ids."""

    id: int
    title: str
    admin_id: int
    members_count: int
    users: list[int] = Field(default_factory=list)


class ConversationMember(SferumModel):
    """A member of a chat (`messages.getConversationMembers`)."""

    member_id: int
    invited_by: int | None = None
    join_date: datetime | None = None
    is_admin: bool = False
    is_owner: bool = False
    can_kick: bool | None = None


class ConversationMembers(SferumModel):
    """Members of a chat with their profiles; `count` is the server's total."""

    count: int
    items: list[ConversationMember]
    profiles: list[UserProfile] = Field(default_factory=list)

    @property
    def member_ids(self) -> list[int]:
        return [item.member_id for item in self.items]


class Peer(SferumModel):
    """A conversation's peer: a chat is 2000000000 + its `local_id`."""

    id: int
    type: str
    local_id: int | None = None


class ChatSettings(SferumModel):
    """A chat's settings in `getConversations`."""

    title: str = ""
    members_count: int | None = None
    owner_id: int | None = None
    admin_ids: list[int] = Field(default_factory=list)
    state: str | None = None


class ConversationInfo(SferumModel):
    """The conversation part of a `getConversations` item."""

    peer: Peer
    last_message_id: int | None = None
    unread_count: int = 0
    chat_settings: ChatSettings | None = None


class Message(SferumModel):
    """A message (the last one of a conversation)."""

    id: int
    date: datetime
    from_id: int
    peer_id: int
    text: str = ""
    out: int = 0
    action: dict[str, Any] | None = None


class Conversation(SferumModel):
    """One of the caller's conversations with its last message."""

    conversation: ConversationInfo
    last_message: Message | None = None

    @property
    def chat_id(self) -> int | None:
        """The chat's id, when this conversation is a chat."""
        peer = self.conversation.peer
        if peer.type != "chat":
            return None
        return peer.local_id if peer.local_id is not None else peer.id - CHAT_PEER_BASE

    @property
    def title(self) -> str:
        settings = self.conversation.chat_settings
        return settings.title if settings else ""

    @property
    def unread_count(self) -> int:
        return self.conversation.unread_count


class Conversations(SferumModel):
    """A page of `messages.getConversations`, newest first."""

    count: int
    unread_count: int = 0
    items: list[Conversation]


class CallStarted(SferumModel):
    """`calls.start`: the new call and its join link."""

    call_id: str
    join_link: str


class ActiveCall(SferumModel):
    """A call the caller can join (`calls.getActive`)."""

    call_id: str
    peer_id: int | None = None
    name: str = ""
    join_link: str
    started_by: int | None = None
    started_at: datetime | None = None

    @property
    def chat_id(self) -> int | None:
        return self.peer_id - CHAT_PEER_BASE if self.peer_id else None


class ActiveCalls(SferumModel):
    """`calls.getActive`."""

    count: int
    items: list[ActiveCall]


class _InviteLink(SferumModel):
    link: str


_INT = TypeAdapter(int)
_USERS = TypeAdapter(list[UserProfile])
_CHATS = TypeAdapter(list[ChatInfo])


# --- batches --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MethodCall:
    """One API call to run inside `execute`: a method name and its parameters."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _METHOD_NAME.match(self.method) or self.method == "execute":
            raise ValueError(f"not a VK API method name: {self.method!r}")

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice does no more harm than sending it once."""
        return self.method not in NON_IDEMPOTENT

    @classmethod
    def add_chat_user(cls, chat_id: int, user_id: int) -> MethodCall:
        return cls("messages.addChatUser", {"chat_id": chat_id, "user_id": user_id})

    @classmethod
    def remove_chat_user(cls, chat_id: int, member_id: int) -> MethodCall:
        return cls("messages.removeChatUser", {"chat_id": chat_id, "member_id": member_id})

    @classmethod
    def edit_chat(cls, chat_id: int, title: str) -> MethodCall:
        return cls("messages.editChat", {"chat_id": chat_id, "title": title})

    @classmethod
    def create_chat(cls, title: str, user_ids: Sequence[int] = ()) -> MethodCall:
        return cls("messages.createChat", {"title": title, "user_ids": list(user_ids)})

    @classmethod
    def get_chat(cls, chat_id: int) -> MethodCall:
        return cls("messages.getChat", {"chat_id": chat_id})


@dataclass(frozen=True, eq=False)
class Result:
    """The outcome of one batched call: its `value`, or the typed `error` it met."""

    call: MethodCall
    value: Any = None
    error: ApiError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Any:
        """The value, or the error raised."""
        if self.error is not None:
            raise self.error
        return self.value


def _script_value(value: Any) -> Any:
    """A parameter as a JSON literal of VKScript (lists as VK's comma-separated form)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(_script_value(v)) for v in value)
    return value


def vkscript(calls: Sequence[MethodCall]) -> str:
    """The `execute` code running `calls` in order: `return [API.m({...}), ...];`.

    Arguments are written with `json.dumps` (ASCII only), so any title or text is a correctly
    quoted and escaped string literal and cannot change the code around it.
    """
    parts = []
    for call in calls:
        args = {k: _script_value(v) for k, v in call.params.items() if v is not None}
        parts.append(f"API.{call.method}({json.dumps(args, ensure_ascii=True)})")
    return "return [" + ",".join(parts) + "];"


def _chunks(calls: Sequence[MethodCall], size: int) -> Iterator[tuple[int, list[MethodCall]]]:
    """Consecutive runs of at most `size` calls whose code stays under the length limit."""
    start = 0
    while start < len(calls):
        end = start + 1
        while end < len(calls) and end - start < size:
            if len(vkscript(calls[start : end + 1])) > MAX_EXECUTE_CODE:
                break
            end += 1
        yield start, list(calls[start:end])
        start = end


def map_execute(
    calls: Sequence[MethodCall], body: Mapping[str, Any], endpoint: str
) -> list[Result]:
    """Per-call results of an `execute` answer: a `false` is the next `execute_errors` entry.

    VK lists `execute_errors` in the order the calls failed, and calls run in order, so the
    n-th `false` belongs to the n-th error. Each pairing is checked against the error's
    `method`; from the first mismatch or missing error on, failed calls are
    `MalformedResponse` rather than a guess.
    """
    response = body.get("response")
    if not isinstance(response, list) or len(response) != len(calls):
        raise MalformedResponse(
            service=SFERUM, endpoint=endpoint, reason="execute did not answer one value per call"
        )
    raw_errors = body.get("execute_errors") or []
    errors = (
        [e for e in raw_errors if isinstance(e, Mapping)] if isinstance(raw_errors, list) else []
    )
    results: list[Result] = []
    next_error = 0
    aligned = True  # once a pairing fails, no later one can be trusted
    for call, value in zip(calls, response, strict=True):
        if value is not False:
            results.append(Result(call, value=value))
            continue
        error = errors[next_error] if next_error < len(errors) else None
        if error is None or error.get("method") not in (None, call.method):
            aligned = False
        if not aligned or error is None:
            results.append(
                Result(
                    call,
                    error=MalformedResponse(
                        service=SFERUM,
                        endpoint=endpoint,
                        reason=f"execute_errors do not line up with the failed {call.method}",
                    ),
                )
            )
            continue
        next_error += 1
        params = {k: str(v) for k, v in call.params.items() if v is not None}
        where = f"{endpoint} [{call.method}]"
        results.append(
            Result(call, error=sferum_error(error, endpoint=where, request_params=params))
        )
    return results


# --- the client -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FloodPolicy:
    """How long to wait on error 9 before surfacing it: `retries` waits, doubling, bounded."""

    retries: int = 1
    delay: float = 5.0
    max_delay: float = 60.0

    def wait(self, retry: int) -> float:
        """The wait before the `retry`-th repetition (1-based)."""
        return float(min(self.max_delay, self.delay * 2.0 ** (retry - 1)))


@dataclass
class SferumStats:
    """What a client did; tests, benchmarks and diagnostics read it."""

    requests: int = 0  # HTTP requests sent
    rate_limited: int = 0  # error 6 answers (the limiter should keep this at 0)
    flood_waits: int = 0  # error 9 answers waited out
    captchas: int = 0  # error 14 answers
    token_refreshes: int = 0  # on_token_expired calls
    executes: int = 0  # execute requests
    batched_calls: int = 0  # calls sent inside them


TokenProvider = Callable[[], Awaitable[str]]
CaptchaHandler = Callable[[CaptchaNeeded], Awaitable[str | None]]


def _param(value: Any) -> str | None:
    """A parameter as VK takes it in a form: lists comma-separated, flags 1/0, None left out."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(text for v in value if (text := _param(v)) is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _form(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: text for k, v in params.items() if (text := _param(v)) is not None}


class SferumClient:
    """The Sferum API for one access token over one pooled connection; `async with` or `aclose()`.

    `on_token_expired` is called (once for all concurrent calls) when the API says the token
    is no longer valid; it returns a fresh access token (the auth layer plugs in a VK ID
    refresh). `captcha_handler` gets a `CaptchaNeeded` and returns the typed key, or None to
    give up. Share `limiter` between clients that use the same tokens.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        on_token_expired: TokenProvider | None = None,
        captcha_handler: CaptchaHandler | None = None,
        limiter: PerTokenLimiter | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        flood: FloodPolicy | None = None,
        max_rate_retries: int = 5,
        version: str = API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Verify = True,
        proxy: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.version = version
        self.retry = retry
        self.flood = flood or FloodPolicy()
        self.max_rate_retries = max_rate_retries
        self.limiter = limiter or PerTokenLimiter()
        self.stats = SferumStats()
        self.on_token_expired = on_token_expired
        self.captcha_handler = captcha_handler
        self._token = access_token
        self._sleep = sleep
        self._refresh_lock = asyncio.Lock()
        self._path = httpx.URL(self.base_url).path.rstrip("/")
        self._http = new_http_client(
            self.base_url, transport=transport, verify=verify, proxy=proxy, timeout=timeout
        )

    async def __aenter__(self) -> SferumClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"SferumClient({self.base_url!r})"

    def set_token(self, access_token: str) -> None:
        """Use another access token from now on (after a sign-in or a refresh elsewhere)."""
        if access_token != self._token:
            self.limiter.forget(self._token)
            self._token = access_token

    # --- generic calls ------------------------------------------------------------------------

    async def call(self, method: str, /, **params: Any) -> Any:
        """Call any API method; returns its `response`. Lists are sent comma-separated."""
        safety = Safety.UNSAFE if method in NON_IDEMPOTENT else Safety.IDEMPOTENT
        return await self._invoke(method, params, lambda raw: raw, safety=safety)

    async def batch(self, calls: Iterable[MethodCall], *, concurrency: int = 1) -> list[Result]:
        """Run calls through `execute`, 25 per request; one `Result` per call, in order.

        A failed call is its typed error (VK's `false` + `execute_errors`). When a whole
        request fails (after the retries above), its calls carry that error and calls not
        yet sent become `NotSent`: a `NetworkError` with `maybe_processed` means those calls
        may or may not have run, so the caller reconciles by reading the chat back.
        `concurrency` > 1 keeps several requests in flight (order across requests is then
        not guaranteed; the rate limit still holds).
        """
        todo = list(calls)
        results: list[Result | None] = [None] * len(todo)
        chunks = list(_chunks(todo, MAX_EXECUTE_CALLS))
        failure: list[ApiError] = []
        queue = iter(chunks)

        async def worker() -> None:
            for start, chunk in queue:
                if failure:
                    mapped = [Result(c, error=NotSent(failure[0])) for c in chunk]
                else:
                    try:
                        mapped = await self._execute_chunk(chunk)
                    except ApiError as exc:
                        failure.append(exc)
                        mapped = [Result(c, error=exc) for c in chunk]
                results[start : start + len(chunk)] = mapped

        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(chunks))))))
        return [r for r in results if r is not None]

    async def _execute_chunk(self, chunk: list[MethodCall]) -> list[Result]:
        code = vkscript(chunk)
        safety = Safety.IDEMPOTENT if all(c.idempotent for c in chunk) else Safety.UNSAFE
        endpoint = f"POST {self._path}/method/execute"
        body = await self._request("execute", {"code": code}, safety=safety)
        self.stats.executes += 1
        self.stats.batched_calls += len(chunk)
        return map_execute(chunk, body, endpoint)

    # --- typed methods ------------------------------------------------------------------------

    async def users_get(
        self, user_ids: Sequence[int] | None = None, fields: Sequence[str] = ("edu_profile",)
    ) -> list[UserProfile]:
        """Profiles (the caller when `user_ids` is empty); unknown ids are left out."""
        return await self._invoke(
            "users.get",
            {"user_ids": list(user_ids) if user_ids else None, "fields": list(fields) or None},
            _USERS.validate_python,
        )

    async def create_chat(self, title: str, user_ids: Sequence[int] = ()) -> int:
        """Create a chat of the caller's school with these members; returns its `chat_id`.

        Not idempotent: a repeat would make a second chat with the same title. So it is sent
        again only when the server provably did not get it (no connection, HTTP 503, error 6,
        9, 5 or 14, which VK checks before doing anything). After a cut answer, a read
        timeout or a 500/502/504 the chat may exist; the `NetworkError`/`ServerError` is
        raised instead of guessing, and the sync reconciles: it reads the caller's chats back
        (`get_conversations`) and finds the chat by its title (and the registry's
        `sferum_chat_id`) before it would create it again.
        """
        chat_id = await self._invoke(
            "messages.createChat",
            {"title": title, "user_ids": list(user_ids) or None},
            _INT.validate_python,
            safety=Safety.UNSAFE,
        )
        log.info("Sferum chat %d created", chat_id)
        return int(chat_id)

    async def edit_chat(self, chat_id: int, title: str) -> None:
        """Rename a chat (its administrator only)."""
        await self._invoke("messages.editChat", {"chat_id": chat_id, "title": title}, _one)

    async def add_chat_user(self, chat_id: int, user_id: int) -> None:
        """Add a member of the chat's school (no-op for a member; 1019 outside the school)."""
        await self._invoke("messages.addChatUser", {"chat_id": chat_id, "user_id": user_id}, _one)

    async def remove_chat_user(self, chat_id: int, member_id: int) -> None:
        """Remove a member (`UserNotInChat` when they are not one: already done for a sync)."""
        await self._invoke(
            "messages.removeChatUser", {"chat_id": chat_id, "member_id": member_id}, _one
        )

    async def get_chat(self, chat_id: int) -> ChatInfo:
        """A chat: title, administrator, member ids."""
        return await self._invoke("messages.getChat", {"chat_id": chat_id}, ChatInfo.model_validate)

    async def get_chats(self, chat_ids: Sequence[int]) -> list[ChatInfo]:
        """Several chats in one request."""
        if not chat_ids:
            return []
        return await self._invoke(
            "messages.getChat",
            {"chat_ids": list(chat_ids)},
            _CHATS.validate_python,
        )

    async def get_conversation_members_page(
        self, chat_id: int, *, offset: int = 0, count: int = MAX_PAGE
    ) -> ConversationMembers:
        """One page (at most 200) of a chat's members, ordered by join date."""
        if not 1 <= count <= MAX_PAGE:
            raise ValueError(f"count must be within 1..{MAX_PAGE}")
        return await self._invoke(
            "messages.getConversationMembers",
            {"peer_id": CHAT_PEER_BASE + chat_id, "offset": offset, "count": count},
            ConversationMembers.model_validate,
        )

    async def get_conversation_members(
        self, chat_id: int, *, page_size: int = MAX_PAGE
    ) -> ConversationMembers:
        """Every member of a chat: the first page, then all the others in batched `execute`s.

        A member who joins or leaves while the pages are read can shift the pages; members are
        kept once each, and the sync reads again before acting on a difference.
        """
        first = await self.get_conversation_members_page(chat_id, count=page_size)
        items = list(first.items)
        profiles = list(first.profiles)
        if first.items:
            peer = CHAT_PEER_BASE + chat_id
            calls = [
                MethodCall(
                    "messages.getConversationMembers",
                    {"peer_id": peer, "offset": offset, "count": page_size},
                )
                for offset in range(len(first.items), first.count, page_size)
            ]
            for result in await self.batch(calls):
                page = _validated(ConversationMembers, result.unwrap(), "getConversationMembers")
                items.extend(page.items)
                profiles.extend(page.profiles)
        unique = list({item.member_id: item for item in items}.values())  # once each, in order
        people = list({person.id: person for person in profiles}.values())
        return ConversationMembers(count=first.count, items=unique, profiles=people)

    async def get_conversations(self, *, offset: int = 0, count: int = MAX_PAGE) -> Conversations:
        """A page of the caller's conversations, newest first, with unread counts."""
        return await self._invoke(
            "messages.getConversations",
            {"offset": offset, "count": count},
            Conversations.model_validate,
        )

    async def get_invite_link(self, chat_id: int, *, reset: bool = False) -> str:
        """The chat's invitation link (its administrator only); `reset` makes a new one."""
        answer = await self._invoke(
            "messages.getInviteLink",
            {"peer_id": CHAT_PEER_BASE + chat_id, "reset": reset or None},
            _InviteLink.model_validate,
        )
        return answer.link

    async def delete_chat(self, chat_id: int) -> None:
        """Delete a chat (its administrator only); a repeat finds it gone (`ChatNotFound`)."""
        await self._invoke("messages.deleteChat", {"chat_id": chat_id}, _one)
        log.info("Sferum chat %d deleted", chat_id)

    async def calls_start(self, chat_id: int | None = None, name: str | None = None) -> CallStarted:
        """Start a video call (in a chat, when given; named after it by default).

        Not idempotent (a repeat starts a second call), so repeated only when the server
        provably did not get it.
        """
        return await self._invoke(
            "calls.start",
            {"peer_id": CHAT_PEER_BASE + chat_id if chat_id else None, "name": name},
            CallStarted.model_validate,
            safety=Safety.UNSAFE,
        )

    async def calls_get_active(self) -> ActiveCalls:
        """Calls the caller can join."""
        return await self._invoke("calls.getActive", {}, ActiveCalls.model_validate)

    async def captcha_image(self, captcha: CaptchaNeeded) -> bytes:
        """The captcha picture, for the dialog that asks for its code."""
        try:
            response = await self._http.get(captcha.captcha_img)
        except httpx.TransportError as exc:
            raise transport_error(exc, service=SFERUM, endpoint="GET captcha") from None
        if response.status_code != 200:
            raise ServerError(service=SFERUM, endpoint="GET captcha", status=response.status_code)
        return response.content

    # --- the request core ---------------------------------------------------------------------

    async def _invoke(
        self,
        method: str,
        params: Mapping[str, Any],
        parse: Callable[[Any], T],
        *,
        safety: Safety = Safety.IDEMPOTENT,
        captcha: tuple[str, str] | None = None,
    ) -> T:
        """Call a method and parse its `response`; a captcha can be answered via `solve`."""
        endpoint = f"POST {self._path}/method/{method}"
        try:
            body = await self._request(method, params, safety=safety, captcha=captcha)
        except CaptchaNeeded as exc:

            async def retry(key: str, sid: str = exc.captcha_sid) -> T:
                return await self._invoke(method, params, parse, safety=safety, captcha=(sid, key))

            exc._retry = retry
            raise
        if "response" not in body:
            raise MalformedResponse(service=SFERUM, endpoint=endpoint, reason="no response")
        try:
            return parse(body["response"])
        except ValidationError as exc:
            raise shape_error(exc, service=SFERUM, endpoint=endpoint, status=200) from None

    async def _request(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        safety: Safety,
        captcha: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API call's answer body, through token refresh, flood waits and captcha."""
        if not _METHOD_NAME.match(method):
            raise ValueError(f"not a VK API method name: {method!r}")
        form = _form(params)
        form["v"] = self.version
        refreshed = False
        floods = 0
        captchas = 0
        what = f"POST {self._path}/method/{method}"
        while True:
            token = self._token
            sent = dict(form)
            if captcha is not None:
                sent["captcha_sid"], sent["captcha_key"] = captcha

            async def attempt(_: Attempt, sent: dict[str, str] = sent, token: str = token) -> Any:
                return await self._attempt(method, sent, token)

            try:
                return await call_with_retries(
                    attempt,
                    policy=self.retry,
                    safety=safety,
                    what=what,
                    logger=log,
                    sleep=self._sleep,
                )
            except TokenInvalid:
                # Error 5 comes before any work, so even createChat may be sent again.
                if self.on_token_expired is None or refreshed:
                    raise
                await self._refresh_token(token)
                refreshed = True
            except FloodControl:
                if floods >= self.flood.retries:
                    raise
                floods += 1
                self.stats.flood_waits += 1
                delay = self.flood.wait(floods)
                log.warning("%s: flood control; waiting %.0f s", what, delay)
                await self._sleep(delay)
            except CaptchaNeeded as exc:
                self.stats.captchas += 1
                if self.captcha_handler is None or captchas >= 3:
                    raise
                captchas += 1
                key = await self.captcha_handler(exc)
                if not key:
                    raise
                captcha = (exc.captcha_sid, key)

    async def _attempt(self, method: str, form: dict[str, str], token: str) -> dict[str, Any]:
        """One try: wait for the rate limiter, send; on error 6 penalise it and send again."""
        limiter = self.limiter.for_token(token)
        for retry in range(self.max_rate_retries + 1):
            try:
                async with limiter.slot():
                    return await self._send_once(method, form, token)
            except TooManyRequests:
                self.stats.rate_limited += 1
                limiter.penalize()
                log.warning(
                    "%s: error 6 despite the limiter (window now %.2f s)", method, limiter.window
                )
                if retry >= self.max_rate_retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, method: str, form: dict[str, str], token: str) -> dict[str, Any]:
        """One HTTP exchange mapped to its body or a typed error."""
        endpoint = f"POST {self._path}/method/{method}"
        self.stats.requests += 1
        try:
            response = await self._http.post(
                f"/method/{method}", data=form, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, service=SFERUM, endpoint=endpoint) from None
        status = response.status_code
        if status >= 500:
            raise ServerError(service=SFERUM, endpoint=endpoint, status=status)
        if status == 429:
            raise RateLimited(service=SFERUM, endpoint=endpoint, status=status, retry_after=1.0)
        if status != 200:
            raise ApiError(
                service=SFERUM, endpoint=endpoint, status=status, reason=f"HTTP {status}"
            )
        try:
            body = response.json()
        except ValueError:
            raise MalformedResponse(
                service=SFERUM, endpoint=endpoint, status=status, reason="the answer is not JSON"
            ) from None
        if not isinstance(body, dict) or not ("response" in body or "error" in body):
            raise MalformedResponse(
                service=SFERUM,
                endpoint=endpoint,
                status=status,
                reason="the answer has neither response nor error",
            )
        error = body.get("error")
        if error is not None:
            if not isinstance(error, Mapping):
                raise MalformedResponse(
                    service=SFERUM, endpoint=endpoint, status=status, reason="error not an object"
                )
            raise sferum_error(
                error,
                endpoint=endpoint,
                request_params=_request_params(error.get("request_params")),
            )
        return body

    async def _refresh_token(self, stale: str) -> None:
        """A new token from `on_token_expired`, one refresh for all calls that met error 5."""
        assert self.on_token_expired is not None
        async with self._refresh_lock:
            if self._token != stale:
                return  # another call refreshed while this one waited
            self.stats.token_refreshes += 1
            log.info("Sferum token refused (error 5); asking for a new one")
            fresh = await self.on_token_expired()
            self.set_token(fresh)


def _one(raw: Any) -> None:
    """Methods that answer 1 on success."""
    _INT.validate_python(raw)


def _validated(model: type[M], raw: Any, what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise shape_error(exc, service=SFERUM, endpoint=what, status=200) from None


def _request_params(raw: Any) -> dict[str, str]:
    """VK's echo `[{key, value}]` of a call's parameters, without anything secret."""
    if not isinstance(raw, list):
        return {}
    params: dict[str, str] = {}
    for item in raw:
        if isinstance(item, Mapping) and "key" in item:
            key = str(item["key"])
            if key not in ("access_token", "captcha_key"):
                params[key] = str(item.get("value", ""))
    return params
