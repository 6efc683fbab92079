"""The async client of the ESh API: sign-in, the OneRoster roster and the Sferum chat registry.

One `EshClient` holds one `httpx.AsyncClient` and one session (`EshTokens`). Every call:

- sends the access token, refreshing it shortly before it expires, or once when the server
  answers 401 `token_expired`/`invalid_token`, with one refresh in flight at a time
  (`TokenKeeper`), and then repeats the call once; a refresh the server refuses ends the
  session with `SessionExpired` (`RefreshReused` when it revoked the session for reuse);
- retries transient faults with backoff (`RetryPolicy`), but repeats a non-idempotent call
  only when the server provably did not process it (see `sferum_desktop.api.retry`);
- maps every failure to an `ApiError` subclass with a Russian `user_message`, and every
  answer to a validated model; a malformed answer is `MalformedResponse`, never a
  `KeyError` or a pydantic `ValidationError`.

Nothing here logs a token, a password or a person's name: logs name the method and the
path of a call, its status and timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final, Generic, Literal, TypeVar, cast, overload
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from sferum_desktop.api.errors import (
    ESH,
    ApiError,
    BadRequest,
    CertificateError,
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidGrant,
    MalformedResponse,
    NetworkError,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RateLimited,
    RefreshReused,
    ServerError,
    SessionExpired,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
    retry_after_seconds,
)
from sferum_desktop.api.esh_models import (
    Chat,
    ChatPage,
    EshTokens,
    Link,
    LinkPage,
    Me,
    Member,
    MemberPage,
    MembersAdded,
    MembersRemoved,
    Session,
    TokenAnswer,
)
from sferum_desktop.api.oneroster import (
    COLLECTIONS,
    AcademicSession,
    CollectionName,
    Course,
    Enrollment,
    Org,
    RosterClass,
    RosterDelta,
    RosterFilter,
    RosterRecord,
    RosterSnapshot,
    User,
    format_datetime,
)
from sferum_desktop.api.retry import Attempt, RetryPolicy, Safety, call_with_retries
from sferum_desktop.api.tokens import TokenKeeper, TokensCallback
from sferum_desktop.api.transport import Verify, new_http_client, shape_error, transport_error

__all__ = [
    "ApiError",
    "CertificateError",
    "Chat",
    "ChatPage",
    "Conflict",
    "EshClient",
    "EshError",
    "EshTokens",
    "Forbidden",
    "InvalidCredentials",
    "InvalidGrant",
    "Link",
    "MalformedResponse",
    "Me",
    "Member",
    "MembersAdded",
    "MembersRemoved",
    "NetworkError",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RefreshReused",
    "RetryPolicy",
    "RosterFilter",
    "ServerError",
    "Session",
    "SessionExpired",
    "TooManyAttempts",
    "Unauthorized",
    "ValidationFailed",
    "VersionConflict",
]

log = logging.getLogger("sferum_desktop.api.esh")

API: Final = "/esh/api/v1"
ROSTER: Final = "/esh/ims/oneroster/rostering/v1p2"
REGISTRY: Final = f"{API}/sferum"
ESIA_AUTHORIZE: Final = "/esh/esia/authorize"
PASSWORD_RESET: Final = "/esh/password-reset"  # noqa: S105 (a page, not a password)

MAX_ROSTER_PAGE: Final = 10_000
# Longer than the other services: a 10 000-record roster page takes a while to build.
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
DEFAULT_RETRY: Final = RetryPolicy()

# A full roster fetch lists everything changed since this moment (so tombstones included),
# which keeps offset paging stable while ESh changes: rows never leave the listing.
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# The next delta starts this long before the server's clock at the start of a fetch.
_CURSOR_OVERLAP: Final = timedelta(seconds=5)
# Roster pages larger than this are validated in a worker thread, so the event loop (and the
# Qt window on it) stays responsive and can receive the next page meanwhile.
_THREAD_PARSE_BYTES: Final = 256 * 1024

EshError = ApiError  # every failure of an EshClient call is one of these (service ESH)

T = TypeVar("T")
R = TypeVar("R", bound=RosterRecord)


class VersionConflict(PreconditionFailed):
    """Someone else changed the chat (HTTP 412); `current` is the chat as it is now."""

    default_message = "Чат изменил другой пользователь. Обновите данные и повторите."

    def __init__(self, message: str | None = None, *, current: Chat, **kw: Any) -> None:
        self.current = current
        super().__init__(message, **kw)


# --- answers -> errors ----------------------------------------------------------------------

_ERROR_BY_STATUS: Final[dict[int, type[ApiError]]] = {
    400: BadRequest,
    401: SessionExpired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: ValidationFailed,
    428: PreconditionFailed,
    429: RateLimited,
}
_ERROR_BY_CODE: Final[dict[str, type[ApiError]]] = {
    "invalid_grant": InvalidGrant,
    "invalid_credentials": InvalidCredentials,
    "refresh_reused": RefreshReused,
    "too_many_attempts": TooManyAttempts,
}
# 401 codes that a refresh of the access token can cure.
_REFRESHABLE: Final = frozenset({"token_expired", "invalid_token"})


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error: str
    message: str | None = None
    details: dict[str, Any] | None = None


def error_from_response(response: httpx.Response, endpoint: str) -> ApiError:
    """The typed error for a non-success ESh answer (`{"error", "message", "details"}`)."""
    status = response.status_code
    try:
        body: _ErrorBody | None = _ErrorBody.model_validate_json(response.content)
    except ValidationError:
        body = None
    code = body.error if body else None
    message = body.message if body and body.message else None
    details = (body.details or {}) if body else {}
    common: dict[str, Any] = {
        "service": ESH,
        "endpoint": endpoint,
        "status": status,
        "code": code,
        "details": details,
    }
    if body is None and 400 <= status < 500:
        common["reason"] = "the error answer is not ESh's JSON error object"

    if status >= 500:
        return ServerError(message, **common)
    cls = _ERROR_BY_CODE.get(code or "") or _ERROR_BY_STATUS.get(status)
    if cls is None:
        if 400 <= status < 500:
            return ApiError(message, **common)
        return MalformedResponse(
            **{**common, "reason": f"unexpected HTTP status {status}", "code": None}
        )
    if cls in (RateLimited, TooManyAttempts):
        retry_after = retry_after_seconds(response.headers, details)
        return cast(type[RateLimited], cls)(message, retry_after=retry_after, **common)
    if issubclass(cls, ValidationFailed | BadRequest):
        # Both carry `details.fields`: a dotted field path -> its Russian message.
        raw = details.get("fields")
        fields = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        return cls(message, fields=fields, **common)
    if status == 412 and code == "version_conflict":
        try:
            current = Chat.model_validate(details.get("current"))
        except ValidationError:
            return MalformedResponse(
                **{**common, "reason": "a 412 version_conflict without a valid details.current"}
            )
        return VersionConflict(message, current=current, **common)
    return cls(message, **common)


@dataclass
class _Page(Generic[R]):
    """A page of records with what the server said about the whole listing."""

    records: list[R]
    total: int | None
    server_time: datetime | None


def _server_time(response: httpx.Response) -> datetime | None:
    header = response.headers.get("date")
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _total_count(response: httpx.Response, endpoint: str) -> int | None:
    header = response.headers.get("x-total-count")
    if header is None:
        return None
    try:
        total = int(header)
    except ValueError:
        total = -1
    if total < 0:
        raise MalformedResponse(
            service=ESH,
            endpoint=endpoint,
            status=response.status_code,
            reason="X-Total-Count is not a non-negative integer",
        )
    return total


def _page_adapter(name: str, model: type[R]) -> TypeAdapter[Any]:
    """A validator for a OneRoster page body `{"<collection>": [records]}`."""
    page_model = create_model(
        f"{name}_page",
        __config__=ConfigDict(extra="ignore"),
        **{name: (list[model], ...)},  # type: ignore[call-overload,valid-type]
    )
    return TypeAdapter(page_model)


_RECORD_WRAPPERS: dict[str, type[BaseModel]] = {}


def _record_wrapper(key: str, model: type[Any]) -> type[BaseModel]:
    """A model for a single-record answer `{"<key>": record}`."""
    wrapper = _RECORD_WRAPPERS.get(key)
    if wrapper is None:
        wrapper = create_model(
            f"{key}_wrapper", __config__=ConfigDict(extra="ignore"), **{key: (model, ...)}
        )  # type: ignore[call-overload]
        _RECORD_WRAPPERS[key] = wrapper
    return wrapper


_PAGE_ADAPTERS: Final[dict[str, TypeAdapter[Any]]] = {
    name: _page_adapter(name, model) for name, model in COLLECTIONS.items()
}


class EshClient:
    """The ESh API over one shared `httpx.AsyncClient`; use `async with` or call `aclose()`."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Verify = True,
        proxy: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        tokens: EshTokens | None = None,
        on_tokens_changed: TokensCallback | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._sleep = sleep
        self._http = new_http_client(
            self.base_url, transport=transport, verify=verify, proxy=proxy, timeout=timeout
        )
        self._keeper = TokenKeeper(
            self._refresh_call, tokens=tokens, on_change=on_tokens_changed, logger=log
        )

    async def __aenter__(self) -> EshClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (the session stays valid on the server)."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"EshClient({self.base_url!r}, signed_in={self.tokens is not None})"

    @property
    def tokens(self) -> EshTokens | None:
        """The current session's tokens (None when signed out)."""
        return self._keeper.tokens

    @property
    def refresh_count(self) -> int:
        """How many token refreshes this client has made."""
        return self._keeper.refresh_count

    async def set_tokens(self, tokens: EshTokens | None) -> None:
        """Resume a session stored earlier (e.g. from the keyring), without a callback."""
        await self._keeper.replace(tokens, notify=False)

    # --- the request core -------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[httpx.Response, str], Awaitable[T]],
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        safety: Safety = Safety.IDEMPOTENT,
        expect: Sequence[int] = (200,),
        recover: Callable[[ApiError], Awaitable[T]] | None = None,
    ) -> T:
        """Send one API call with auth, retries and error mapping; return `parse(answer)`.

        `recover` may turn a final refusal into a result when an earlier attempt may have been
        processed (a conditional write that finds its own change already made).
        """
        endpoint = f"{method} {path}"
        refreshed = False
        while True:
            tokens = await self._keeper.current() if auth else None
            bearer = tokens.access_token if tokens else None

            async def attempt(state: Attempt, bearer: str | None = bearer) -> T:
                try:
                    return await self._send_once(
                        method=method,
                        path=path,
                        endpoint=endpoint,
                        parse=parse,
                        params=params,
                        json=json,
                        headers=headers,
                        bearer=bearer,
                        expect=expect,
                    )
                except ApiError as exc:
                    if recover is not None and state.maybe_processed_before:
                        return await recover(exc)
                    raise

            try:
                return await call_with_retries(
                    attempt,
                    policy=self.retry,
                    safety=safety,
                    what=endpoint,
                    logger=log,
                    sleep=self._sleep,
                )
            except SessionExpired as exc:
                # A 401 means the call was not processed, so repeating it is safe even when
                # it is not idempotent: refresh once, then try once more.
                if tokens is None or refreshed or exc.code not in _REFRESHABLE:
                    raise
                log.info("%s: access token refused (%s); refreshing", endpoint, exc.code)
                await self._keeper.refreshed(tokens)
                refreshed = True

    async def _send_once(
        self,
        *,
        method: str,
        path: str,
        endpoint: str,
        parse: Callable[[httpx.Response, str], Awaitable[T]],
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        bearer: str | None,
        expect: Sequence[int],
    ) -> T:
        """One HTTP exchange, its failure mapped to an `ApiError`."""
        request_headers = dict(headers or {})
        if bearer is not None:
            request_headers["Authorization"] = f"Bearer {bearer}"
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method, path, params=params, json=json, headers=request_headers
            )
        except httpx.TransportError as exc:
            error = transport_error(exc, service=ESH, endpoint=endpoint)
            log.debug("%s failed: %s", endpoint, type(exc).__name__)
            # Not chained: the transport's own message adds nothing safe to show.
            raise error from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s -> %d in %.0f ms", endpoint, response.status_code, elapsed_ms)
        if response.status_code not in expect:
            raise error_from_response(response, endpoint)
        return await parse(response, endpoint)

    # --- answer parsers ---------------------------------------------------------------------

    @staticmethod
    def _model(model: type[BaseModel]) -> Callable[[httpx.Response, str], Awaitable[Any]]:
        """A parser that validates the whole JSON body as `model`."""

        async def parse(response: httpx.Response, endpoint: str) -> Any:
            try:
                return model.model_validate_json(response.content)
            except ValidationError as exc:
                raise shape_error(
                    exc, service=ESH, endpoint=endpoint, status=response.status_code
                ) from None

        return parse

    @staticmethod
    async def _no_body(response: httpx.Response, endpoint: str) -> None:
        return None

    # --- sign-in ----------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> Session:
        """Sign in with an ESh username and password; the client keeps the new session.

        Retried only when the server provably did not see it (connection refused, 503, 429
        rate_limited): a repeated wrong password would count twice toward the lockout, and
        a repeated right one would leave an orphan session behind.
        """
        answer: TokenAnswer = await self._call(
            "POST",
            f"{API}/auth/login",
            self._model(TokenAnswer),
            json={"username": username, "password": password},
            auth=False,
            safety=Safety.UNSAFE,
        )
        return await self._start_session(answer)

    def esia_authorize_url(
        self, client_id: str, redirect_uri: str, state: str, code_challenge: str
    ) -> str:
        """The «Войти через госуслуги» page to open (PKCE S256; see `api.pkce`)."""
        query = urlencode(
            {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.base_url}{ESIA_AUTHORIZE}?{query}"

    async def esia_exchange(self, code: str, code_verifier: str, redirect_uri: str) -> Session:
        """Finish the ESIA sign-in: trade the redirect's `code` for a session.

        A code is single use, so this is repeated only when it provably did not reach ESh.
        """
        answer: TokenAnswer = await self._call(
            "POST",
            f"{API}/auth/esia/token",
            self._model(TokenAnswer),
            json={"code": code, "code_verifier": code_verifier, "redirect_uri": redirect_uri},
            auth=False,
            safety=Safety.UNSAFE,
        )
        return await self._start_session(answer)

    def password_reset_url(self) -> str:
        """The «Забыли пароль?» page, to open in the system browser."""
        return f"{self.base_url}{PASSWORD_RESET}"

    async def _start_session(self, answer: TokenAnswer) -> Session:
        tokens = EshTokens.issued(answer.access_token, answer.refresh_token, answer.expires_in)
        await self._keeper.replace(tokens)
        me = answer.person if answer.person is not None else await self.me()
        log.info("signed in to ESh (roles: %s)", ",".join(sorted(me.roles)) or "none")
        return Session(tokens=tokens, me=me)

    async def refresh(self) -> EshTokens:
        """Renew the tokens now (normally this happens by itself)."""
        tokens = self._keeper.tokens
        if tokens is None:
            raise SessionExpired(service=ESH, reason="not signed in")
        return await self._keeper.refreshed(tokens)

    async def _refresh_call(self, tokens: EshTokens) -> EshTokens:
        """The refresh request itself; `TokenKeeper` makes sure only one runs at a time.

        Refresh tokens are single use: if the answer is lost after ESh rotated them, sending
        the old one again would revoke the session. So this is repeated only when it provably
        did not reach ESh, and a lost answer surfaces as a `NetworkError`.
        """
        try:
            answer: TokenAnswer = await self._call(
                "POST",
                f"{API}/auth/refresh",
                self._model(TokenAnswer),
                json={"refresh_token": tokens.refresh_token},
                auth=False,
                safety=Safety.UNSAFE,
            )
        except Forbidden as exc:
            # The person was blocked in ESh: the session cannot go on.
            raise SessionExpired(
                exc.message,
                service=ESH,
                endpoint=exc.endpoint,
                status=exc.status,
                code=exc.code,
                details=exc.details,
            ) from None
        log.info("ESh tokens refreshed")
        return EshTokens.issued(answer.access_token, answer.refresh_token, answer.expires_in)

    async def logout(self) -> None:
        """End the session on the server and forget it here, even when the server is not reached.

        ESh takes an expired access token for this, so no refresh is made first. A session
        the server already ended counts as success; a network failure is raised after the
        local tokens were dropped (the UI may say the server was not told).
        """
        tokens = self._keeper.tokens
        if tokens is None:
            return
        try:
            await self._call(
                "POST",
                f"{API}/auth/logout",
                self._no_body,
                auth=False,
                headers={"Authorization": f"Bearer {tokens.access_token}"},
                expect=(200, 204),
            )
        except SessionExpired:
            pass
        finally:
            await self._keeper.replace(None)
            log.info("signed out of ESh")

    async def me(self) -> Me:
        """The signed-in person: name, roles, schools, link status."""
        result: Me = await self._call("GET", f"{API}/me", self._model(Me))
        return result

    # --- roster -------------------------------------------------------------------------------

    async def _roster_page(
        self, name: CollectionName, params: dict[str, str | int]
    ) -> _Page[RosterRecord]:
        path = f"{ROSTER}/{name}"
        adapter = _PAGE_ADAPTERS[name]

        async def parse(response: httpx.Response, endpoint: str) -> _Page[RosterRecord]:
            total = _total_count(response, endpoint)
            content = response.content
            try:
                if len(content) > _THREAD_PARSE_BYTES:
                    page = await asyncio.to_thread(adapter.validate_json, content)
                else:
                    page = adapter.validate_json(content)
            except ValidationError as exc:
                raise shape_error(
                    exc, service=ESH, endpoint=endpoint, status=response.status_code
                ) from None
            return _Page(getattr(page, name), total, _server_time(response))

        result: _Page[RosterRecord] = await self._call("GET", path, parse, params=params)
        return result

    async def _roster_pages(
        self,
        name: CollectionName,
        filter: RosterFilter | None,
        page_size: int,
        sort: str | None,
        order_by: Literal["asc", "desc"] | None,
    ) -> AsyncGenerator[_Page[RosterRecord], None]:
        """Every page of a collection; the next page is requested while this one is used."""
        if not 1 <= page_size <= MAX_ROSTER_PAGE:
            raise ValueError(f"page_size must be within 1..{MAX_ROSTER_PAGE}")
        base: dict[str, str | int] = {"limit": page_size}
        if filter:
            base["filter"] = str(filter)
        if sort:
            base["sort"] = sort
        if order_by:
            base["orderBy"] = order_by

        def fetch(offset: int) -> Awaitable[_Page[RosterRecord]]:
            return self._roster_page(name, {**base, "offset": offset})

        offset = 0
        page = await fetch(0)
        pending: asyncio.Future[_Page[RosterRecord]] | None = None
        try:
            while True:
                count = len(page.records)
                after = offset + count
                if page.total is not None:
                    more = count > 0 and after < page.total
                else:
                    more = count >= page_size
                if more:
                    pending = asyncio.ensure_future(fetch(after))
                yield page
                if pending is None:
                    return
                page = await pending
                pending = None
                offset = after
        finally:
            if pending is not None:
                # Abandoned (the caller stopped early): stop the prefetch, and retrieve its
                # outcome so that a failure of it is not reported as never retrieved.
                pending.cancel()
                pending.add_done_callback(_discard_outcome)

    async def _iter_records(
        self,
        name: CollectionName,
        filter: RosterFilter | None = None,
        *,
        page_size: int = MAX_ROSTER_PAGE,
        sort: str | None = None,
        order_by: Literal["asc", "desc"] | None = None,
    ) -> AsyncGenerator[Any, None]:
        async with contextlib.aclosing(
            self._roster_pages(name, filter, page_size, sort, order_by)
        ) as pages:
            async for page in pages:
                for record in page.records:
                    yield record

    def iter_collection(
        self,
        name: CollectionName,
        filter: RosterFilter | None = None,
        *,
        page_size: int = MAX_ROSTER_PAGE,
        sort: str | None = None,
        order_by: Literal["asc", "desc"] | None = None,
    ) -> AsyncGenerator[RosterRecord, None]:
        """Every record of a OneRoster collection matching `filter`, page by page."""
        return self._iter_records(name, filter, page_size=page_size, sort=sort, order_by=order_by)

    def iter_users(
        self, filter: RosterFilter | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[User, None]:
        """People: students, staff, parents (active ones unless a filter says otherwise)."""
        return self._iter_records("users", filter, page_size=page_size)

    def iter_classes(
        self, filter: RosterFilter | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[RosterClass, None]:
        """Classes (homeroom) and teaching groups (scheduled)."""
        return self._iter_records("classes", filter, page_size=page_size)

    def iter_enrollments(
        self, filter: RosterFilter | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[Enrollment, None]:
        """Who is in which class or group, as student or teacher."""
        return self._iter_records("enrollments", filter, page_size=page_size)

    def iter_orgs(
        self, filter: RosterFilter | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[Org, None]:
        """Schools and districts."""
        return self._iter_records("orgs", filter, page_size=page_size)

    def iter_courses(
        self, filter: RosterFilter | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[Course, None]:
        """Courses (a subject in a grade)."""
        return self._iter_records("courses", filter, page_size=page_size)

    def iter_academic_sessions(
        self, filter: RosterFilter | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[AcademicSession, None]:
        """School years and terms."""
        return self._iter_records("academicSessions", filter, page_size=page_size)

    def changed_since(
        self, collection: CollectionName, since: datetime, *, page_size: int = MAX_ROSTER_PAGE
    ) -> AsyncGenerator[RosterRecord, None]:
        """Records of `collection` changed after `since`, tombstones (`is_deleted`) included."""
        return self._iter_records(
            collection, RosterFilter.changed_since(since), page_size=page_size
        )

    async def get_user(self, sourced_id: str) -> User:
        """One person by id."""
        return await self._roster_record("users", "user", sourced_id, User)

    async def get_class(self, sourced_id: str) -> RosterClass:
        """One class or group by id."""
        return await self._roster_record("classes", "class", sourced_id, RosterClass)

    async def get_org(self, sourced_id: str) -> Org:
        """One school or district by id."""
        return await self._roster_record("orgs", "org", sourced_id, Org)

    async def _roster_record(self, collection: str, key: str, sourced_id: str, model: type[R]) -> R:
        answer = await self._call(
            "GET",
            f"{ROSTER}/{collection}/{_path_id(sourced_id)}",
            self._model(_record_wrapper(key, model)),
        )
        return cast(R, getattr(answer, key))

    @overload
    async def fetch_roster(
        self, since: None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> RosterSnapshot: ...

    @overload
    async def fetch_roster(
        self, since: datetime, *, page_size: int = MAX_ROSTER_PAGE
    ) -> RosterDelta: ...

    async def fetch_roster(
        self, since: datetime | None = None, *, page_size: int = MAX_ROSTER_PAGE
    ) -> RosterSnapshot:
        """The whole readable roster (`since=None`), or what changed after `since` (`RosterDelta`).

        A full fetch lists everything changed since 1970 and drops the tombstones: unlike the
        default active-only listing, rows never leave that listing while the pages are read,
        so a deletion during the fetch cannot shift a live record out of view. A record that
        shows up twice (an insertion moved the page boundary) is kept once.
        """
        if since is not None and since.tzinfo is None:
            raise ValueError("use an aware datetime (UTC) for `since`, not a naive one")
        started_local = datetime.now(UTC)
        result: RosterSnapshot = (
            RosterSnapshot() if since is None else RosterDelta(since=since.astimezone(UTC))
        )
        server_start: datetime | None = None
        query = RosterFilter.changed_since(since or _EPOCH)
        for name in COLLECTIONS:
            target = result.collection(name)
            previous_ids: set[str] = set()
            async with contextlib.aclosing(
                self._roster_pages(name, query, page_size, None, None)
            ) as pages:
                async for page in pages:
                    if server_start is None:
                        server_start = page.server_time
                    ids = {r.sourced_id for r in page.records}
                    fresh = [
                        r
                        for r in page.records
                        if r.sourced_id not in previous_ids and (since or not r.is_deleted)
                    ]
                    target.extend(fresh)
                    previous_ids = ids
        start = server_start or started_local
        result.cursor = start - _CURSOR_OVERLAP
        log.info(
            "roster %s: %d records", "delta" if since is not None else "snapshot", result.total
        )
        return result

    # --- registry: chats ----------------------------------------------------------------------

    async def list_chats(
        self,
        school: str | None = None,
        type: str | None = None,
        q: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> ChatPage:
        """One page of the registry's chats, filtered by school, type and a search text."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if school:
            params["school"] = school
        if type:
            params["type"] = type
        if q:
            params["q"] = q
        result: ChatPage = await self._call(
            "GET", f"{REGISTRY}/chats", self._model(ChatPage), params=params
        )
        return result

    async def iter_chats(
        self,
        school: str | None = None,
        type: str | None = None,
        q: str | None = None,
        *,
        page_size: int = 500,
    ) -> AsyncGenerator[Chat, None]:
        """Every chat matching the filters, page by page."""
        offset = 0
        while True:
            page = await self.list_chats(school, type, q, limit=page_size, offset=offset)
            for chat in page.items:
                yield chat
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def get_chat(self, chat_id: int) -> Chat:
        """One chat with its current `version`."""
        result: Chat = await self._call("GET", _chat_path(chat_id), self._model(Chat))
        return result

    async def create_chat(
        self,
        *,
        type: str,
        name: str | None = None,
        school_id: str | None = None,
        class_id: str | None = None,
        group_id: str | None = None,
        subject: str | None = None,
        admin_person_id: str | None = None,
    ) -> Chat:
        """Create a registry chat (`subject` needs `group_id`, `custom` a `name`).

        Not idempotent, so it is repeated only when ESh provably did not receive it
        (connection refused, 503, 429). After a cut answer or a 500/502/504 the chat may or may
        not exist; the error says so (`NetworkError.maybe_processed`) and is raised instead of
        guessing: a blind repeat could make a second subject or custom chat (ESh rejects
        duplicates with 409 only for the automatic chats), and the sync re-reads the registry
        before its next plan, so it sees a chat that was made and does not make it again.
        """
        body = _drop_none(
            {
                "type": type,
                "name": name,
                "school_id": school_id,
                "class_id": class_id,
                "group_id": group_id,
                "subject": subject,
                "admin_person_id": admin_person_id,
            }
        )
        result: Chat = await self._call(
            "POST",
            f"{REGISTRY}/chats",
            self._model(Chat),
            json=body,
            safety=Safety.UNSAFE,
            expect=(200, 201),
        )
        log.info("chat %d created (type %s)", result.id, result.type)
        return result

    async def update_chat(
        self,
        chat_id: int,
        version: int,
        *,
        name: str | None = None,
        admin_person_id: str | None = None,
        status: str | None = None,
    ) -> Chat:
        """Edit a chat if it is still at `version`; else `VersionConflict` with the current chat.

        Conditional, so safe to repeat: when a repeat meets 412 because the first attempt
        had already landed (the current chat is one version on and shows these very changes),
        that chat is returned as the result.
        """
        changes = _drop_none({"name": name, "admin_person_id": admin_person_id, "status": status})
        if not changes:
            raise ValueError("update_chat needs at least one change")

        async def recover(exc: ApiError) -> Chat:
            if (
                isinstance(exc, VersionConflict)
                and exc.current.version == version + 1
                and all(getattr(exc.current, k) == v for k, v in changes.items())
            ):
                log.info("chat %d: an earlier attempt of this edit had landed", chat_id)
                return exc.current
            raise exc

        result: Chat = await self._call(
            "PATCH",
            _chat_path(chat_id),
            self._model(Chat),
            json=changes,
            headers={"If-Match": f'"{version}"'},
            recover=recover,
        )
        return result

    async def delete_chat(self, chat_id: int, version: int) -> None:
        """Delete a chat if it is still at `version` (automatic chats: 409 `automatic_chat`)."""

        async def recover(exc: ApiError) -> None:
            if isinstance(exc, NotFound):
                return None  # an earlier attempt deleted it
            raise exc

        await self._call(
            "DELETE",
            _chat_path(chat_id),
            self._no_body,
            headers={"If-Match": f'"{version}"'},
            expect=(200, 204),
            recover=recover,
        )
        log.info("chat %d deleted", chat_id)

    async def set_sferum_chat(self, chat_id: int, sferum_chat_id: int) -> Chat:
        """Remember which Sferum chat was made for this registry chat."""
        result: Chat = await self._call(
            "PUT",
            f"{_chat_path(chat_id)}/sferum",
            self._model(Chat),
            json={"sferum_chat_id": sferum_chat_id},
        )
        return result

    # --- registry: members --------------------------------------------------------------------

    async def list_members(self, chat_id: int, *, include_excluded: bool = False) -> list[Member]:
        """A chat's registry members (pending ones included; excluded ones on request)."""
        path = f"{_chat_path(chat_id)}/members"
        params = {"include_excluded": "true" if include_excluded else "false"}
        page: MemberPage = await self._call("GET", path, self._model(MemberPage), params=params)
        if len(page.items) < page.total:
            raise MalformedResponse(
                service=ESH,
                endpoint=f"GET {path}",
                reason=f"{len(page.items)} members listed of {page.total}",
            )
        return page.items

    async def add_members(
        self,
        chat_id: int,
        person_ids: Sequence[str],
        role_in_chat: str,
        source: str = "manual",
        version: int | None = None,
    ) -> MembersAdded:
        """Add people to a chat (idempotent); with `version`, only if the chat is unchanged."""
        headers = {"If-Match": f'"{version}"'} if version is not None else None
        result: MembersAdded = await self._call(
            "POST",
            f"{_chat_path(chat_id)}/members",
            self._model(MembersAdded),
            json={"person_ids": list(person_ids), "role_in_chat": role_in_chat, "source": source},
            headers=headers,
            expect=(200, 201),
        )
        return result

    async def remove_members(
        self,
        chat_id: int,
        person_ids: Sequence[str],
        exclude: bool = False,
        version: int | None = None,
    ) -> MembersRemoved:
        """Remove people from a chat; `exclude=True` keeps rules from adding them back."""
        headers = {"If-Match": f'"{version}"'} if version is not None else None
        result: MembersRemoved = await self._call(
            "DELETE",
            f"{_chat_path(chat_id)}/members",
            self._model(MembersRemoved),
            json={"person_ids": list(person_ids), "exclude": exclude},
            headers=headers,
        )
        return result

    # --- registry: links ----------------------------------------------------------------------

    async def list_links(
        self, updated_after: datetime | None = None, *, page_size: int = 1000
    ) -> AsyncGenerator[Link, None]:
        """ESh ↔ VK ID links (changed after `updated_after`), page by page."""
        offset = 0
        while True:
            params: dict[str, str | int] = {"limit": page_size, "offset": offset}
            if updated_after is not None:
                params["updated_after"] = format_datetime(updated_after)
            page: LinkPage = await self._call(
                "GET", f"{REGISTRY}/links", self._model(LinkPage), params=params
            )
            for item in page.items:
                yield item
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def link(self, vk_access_token: str) -> Link:
        """Link the signed-in person to the VK ID educational profile behind this token.

        Repeated only when ESh provably did not receive it; 409 `already_linked` when the
        profile belongs to someone else.
        """
        result: Link = await self._call(
            "POST",
            f"{REGISTRY}/links",
            self._model(Link),
            json={"vk_access_token": vk_access_token},
            safety=Safety.UNSAFE,
            expect=(200, 201),
        )
        log.info("ESh account linked to a VK ID profile")
        return result

    async def unlink(self) -> Link:
        """Unlink the signed-in person from their VK ID profile (idempotent)."""
        result: Link = await self._call("DELETE", f"{REGISTRY}/links/me", self._model(Link))
        log.info("ESh account unlinked from VK ID")
        return result


def _shape_error(exc: ValidationError, endpoint: str, response: httpx.Response) -> ApiError:
    return shape_error(exc, service=ESH, endpoint=endpoint, status=response.status_code)


def _discard_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _chat_path(chat_id: int) -> str:
    return f"{REGISTRY}/chats/{int(chat_id)}"


def _path_id(value: str) -> str:
    """An id as one path segment: refuse what would change the path."""
    if not value or any(ch in value for ch in "/?#%\\") or value in (".", ".."):
        raise ValueError("not a valid record id")
    return value


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
