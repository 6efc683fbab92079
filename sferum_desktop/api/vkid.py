"""The async VK ID client: OAuth 2.1 authorization code with PKCE, token rotation, user info.

VK ID (id.vk.com, emulated by the sandbox under `/vkid`) signs a teacher in to their Sferum
educational profile; the access token it issues is the Sferum API token of that profile
(`spec/vkid.md`). The flow:

1. `begin_sign_in()` (or `authorize_url()` with `api.pkce` helpers) gives the page to open in
   the embedded web view, with a fresh PKCE verifier and `state` kept in memory only;
2. the web view watches for navigation to `redirect_uri` (`is_redirect`) and hands the URL to
   `validate_redirect`, which checks `state` in constant time and turns an `error=` redirect
   into a typed error;
3. `exchange_code()` trades the single-use code for tokens at once; `refresh()` rotates them.

Every failure is an `ApiError` (service `VKID`) with a Russian `user_message`; no token,
code or verifier ever appears in an exception, a repr or a log line.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sferum_desktop.api.errors import (
    VKID,
    ApiError,
    BadRequest,
    InvalidGrant,
    MalformedResponse,
    RateLimited,
    ServerError,
    SessionExpired,
    Unauthorized,
    retry_after_seconds,
)
from sferum_desktop.api.pkce import AuthorizationFailed, PkceRequest, new_state, parse_redirect
from sferum_desktop.api.retry import Attempt, RetryPolicy, Safety, call_with_retries
from sferum_desktop.api.tokens import BearerTokens, Refresher
from sferum_desktop.api.transport import (
    DEFAULT_TIMEOUT,
    Verify,
    new_http_client,
    shape_error,
    transport_error,
)

__all__ = [
    "DEFAULT_SCOPE",
    "AuthorizationCode",
    "AuthorizationFailed",
    "EduProfile",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidToken",
    "Organization",
    "RefreshRejected",
    "SignInCancelled",
    "SignInRequest",
    "SlowDown",
    "VkIdClient",
    "VkIdTokens",
    "VkIdUser",
    "is_redirect",
    "validate_redirect",
]

log = logging.getLogger("sferum_desktop.api.vkid")

# The Sferum API needs `messages`; `vkid.personal_info` gives the profile for the link.
DEFAULT_SCOPE: Final = "vkid.personal_info messages"
DEFAULT_RETRY: Final = RetryPolicy()

T = TypeVar("T")


# --- errors ---------------------------------------------------------------------------------


class InvalidRequest(BadRequest):
    """VK ID `invalid_request`: a parameter is missing or malformed (a bug in this client)."""

    default_message = "Сервер VK ID отклонил запрос входа. Попробуйте войти ещё раз."


class InvalidClient(ApiError):
    """VK ID `invalid_client`: the application id is unknown (a configuration problem)."""

    default_message = (
        "VK ID не знает это приложение. Проверьте идентификатор приложения VK ID в настройках."
    )


class RefreshRejected(SessionExpired):
    """VK ID `invalid_grant` on refresh: the refresh token is spent, revoked or expired."""

    default_message = "Вход в Сферум истёк. Войдите через VK ID ещё раз."


class SlowDown(RateLimited):
    """VK ID `slow_down`: too many token requests; wait `retry_after` seconds."""


class InvalidToken(Unauthorized):
    """VK ID `invalid_token`: the access token is unknown, revoked or expired."""

    default_message = "Вход в Сферум истёк. Войдите через VK ID ещё раз."


class SignInCancelled(AuthorizationFailed):
    """The person cancelled the VK ID sign-in (`error=access_denied` on the redirect)."""

    default_message = "Вход через VK ID отменён."


# --- answers --------------------------------------------------------------------------------


class VkIdModel(BaseModel):
    """Base of VK ID answers: unknown fields ignored, required ones enforced."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class VkIdTokens(VkIdModel):
    """The token endpoint's answer; the repr never shows a token."""

    access_token: str = Field(repr=False, min_length=1)
    refresh_token: str = Field(repr=False, min_length=1)
    id_token: str | None = Field(default=None, repr=False)
    token_type: str = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int = Field(gt=0)
    user_id: int
    state: str | None = Field(default=None, repr=False)
    scope: str = ""

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes (`messages` is the one the Sferum API needs)."""
        return frozenset(self.scope.replace(",", " ").split())

    def bearer(self, *, now: datetime | None = None) -> BearerTokens:
        """The tokens with their expiry, as `TokenKeeper` and the keyring keep them."""
        return BearerTokens.issued(self.access_token, self.refresh_token, self.expires_in, now=now)


class Organization(VkIdModel):
    """An organization (school) of an educational profile."""

    id: str
    name: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class EduProfile(VkIdModel):
    """A Sferum educational profile: names, roles and organizations (birthday/sex: own only)."""

    id: int
    first_name: str
    last_name: str
    middle_name: str | None = None
    birthday: date | None = None
    sex: int | None = None  # VK: 1 female, 2 male, 0 not set
    roles: list[str] = Field(default_factory=list)
    organizations: list[Organization] = Field(default_factory=list)

    @field_validator("birthday", mode="before")
    @classmethod
    def _vk_date(cls, value: Any) -> Any:
        """VK writes dates as DD.MM.YYYY."""
        if isinstance(value, str) and value.count(".") == 2:
            day, month, year = value.split(".")
            return date(int(year), int(month), int(day))
        return value or None

    @property
    def full_name(self) -> str:
        """«Фамилия Имя Отчество», as the registry shows people."""
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    def in_organization(self, org_id: str) -> bool:
        """Whether the profile belongs to that organization (a school's sourcedId)."""
        return any(org.id == org_id for org in self.organizations)


class VkIdUser(VkIdModel):
    """`user_info`: the VK ID account and its educational profile (None when it has none)."""

    user_id: int
    first_name: str = ""
    last_name: str = ""
    avatar: str | None = None
    phone: str | None = None  # masked by VK ID: +7 *** ***-**-33
    edu_profile: EduProfile | None = None


class _UserInfoAnswer(VkIdModel):
    user: VkIdUser


class _ErrorBody(VkIdModel):
    error: str
    error_description: str | None = None


# --- the redirect ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationCode:
    """What a successful redirect carries; the repr hides the secrets."""

    code: str = field(repr=False)
    device_id: str = field(repr=False)
    state: str = field(repr=False)
    type: str | None = None  # VK ID answers `code_v2`


def is_redirect(url: str, redirect_uri: str) -> bool:
    """Whether the web view is navigating to `redirect_uri` (scheme, host, port and path)."""
    try:
        got, want = urlsplit(url), urlsplit(redirect_uri)
        return (
            got.scheme.lower() == want.scheme.lower()
            and (got.hostname or "") == (want.hostname or "")
            and got.port == want.port
            and (got.path or "/") == (want.path or "/")
        )
    except ValueError:
        return False


def validate_redirect(
    url: str, expected_state: str, *, redirect_uri: str | None = None
) -> AuthorizationCode:
    """The code of a VK ID redirect after checking it; typed errors for everything else.

    `state` is compared in constant time (anti-CSRF: a foreign redirect must not sign anyone
    in); `error=access_denied` is `SignInCancelled`, other `error=` values and a missing code
    or `device_id` are `AuthorizationFailed`. With `redirect_uri`, a URL elsewhere is refused.
    """
    if redirect_uri is not None and not is_redirect(url, redirect_uri):
        raise AuthorizationFailed(service=VKID, reason="the URL is not the registered redirect")
    try:
        code = parse_redirect(url, expected_state, service=VKID)
    except AuthorizationFailed as exc:
        if exc.code == "access_denied":
            raise SignInCancelled(service=VKID, code=exc.code, reason=exc.reason) from None
        raise
    query = parse_qs(urlsplit(url).query)
    device_id = (query.get("device_id") or [""])[0]
    if not device_id:
        raise AuthorizationFailed(service=VKID, reason="the redirect carries no device_id")
    kinds = query.get("type")
    kind = kinds[0] if kinds else None
    return AuthorizationCode(code=code, device_id=device_id, state=expected_state, type=kind)


@dataclass(frozen=True)
class SignInRequest:
    """One sign-in attempt: the page to open, its redirect URI and its in-memory PKCE secrets."""

    url: str = field(repr=False)
    redirect_uri: str
    pkce: PkceRequest = field(repr=False)


# --- errors from answers --------------------------------------------------------------------

_ERRORS: Final[dict[str, type[ApiError]]] = {
    "invalid_request": InvalidRequest,
    "invalid_client": InvalidClient,
    "invalid_grant": InvalidGrant,
    "invalid_token": InvalidToken,
    "slow_down": SlowDown,
}


def error_from_response(
    response: httpx.Response, endpoint: str, *, refreshing: bool = False
) -> ApiError:
    """The typed error of a VK ID error answer `{error, error_description, state}`."""
    status = response.status_code
    try:
        body: _ErrorBody | None = _ErrorBody.model_validate_json(response.content)
    except ValidationError:
        body = None
    code = body.error if body else None
    reason = body.error_description if body and body.error_description else None
    common: dict[str, Any] = {
        "service": VKID,
        "endpoint": endpoint,
        "status": status,
        "code": code,
        "reason": reason,
    }
    if status >= 500 or code in ("temporarily_unavailable", "server_error"):
        return ServerError(**common)
    if status == 429 or code == "slow_down":
        return SlowDown(retry_after=retry_after_seconds(response.headers, {}), **common)
    if code == "invalid_grant" and refreshing:
        return RefreshRejected(**common)
    cls = _ERRORS.get(code or "")
    if cls is not None:
        return cls(**common)
    if body is None:
        common["reason"] = f"HTTP {status} without VK ID's JSON error object"
        return MalformedResponse(**common) if status < 400 else ApiError(**common)
    if status == 401:
        return InvalidToken(**common)
    return ApiError(**common)


# --- the client -----------------------------------------------------------------------------


class VkIdClient:
    """VK ID's OAuth 2.1 endpoints for one application (`client_id`); `async with` or `aclose()`.

    `base_url` is VK ID's root: `https://id.vk.com` for the real service, `<sandbox>/vkid`
    for the sandbox.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Verify = True,
        proxy: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.retry = retry
        self._sleep = sleep
        self._path = urlsplit(self.base_url).path.rstrip("/")
        self._http = new_http_client(
            self.base_url, transport=transport, verify=verify, proxy=proxy, timeout=timeout
        )

    async def __aenter__(self) -> VkIdClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"VkIdClient({self.base_url!r}, client_id={self.client_id!r})"

    # --- the authorization page -------------------------------------------------------------

    def authorize_url(
        self,
        client_id: str | None,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        *,
        scope: str = DEFAULT_SCOPE,
        prompt: str | None = None,
    ) -> str:
        """The «Вход в VK ID» page for the web view (PKCE S256; `client_id=None`: this app's)."""
        params = {
            "response_type": "code",
            "client_id": client_id or self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "s256",
            "scope": scope,
        }
        if prompt:
            params["prompt"] = prompt
        return f"{self.base_url}/authorize?{urlencode(params)}"

    def begin_sign_in(
        self, redirect_uri: str, *, scope: str = DEFAULT_SCOPE, prompt: str | None = None
    ) -> SignInRequest:
        """A new sign-in attempt with fresh PKCE secrets, kept in memory only."""
        pkce = PkceRequest()
        url = self.authorize_url(
            None, redirect_uri, pkce.state, pkce.challenge, scope=scope, prompt=prompt
        )
        return SignInRequest(url=url, redirect_uri=redirect_uri, pkce=pkce)

    async def finish_sign_in(self, request: SignInRequest, redirect_url: str) -> VkIdTokens:
        """Check the redirect the web view caught and exchange its code at once."""
        found = validate_redirect(
            redirect_url, request.pkce.state, redirect_uri=request.redirect_uri
        )
        return await self.exchange_code(
            found.code, request.pkce.verifier, found.device_id, request.redirect_uri, found.state
        )

    # --- tokens -------------------------------------------------------------------------------

    async def exchange_code(
        self, code: str, code_verifier: str, device_id: str, redirect_uri: str, state: str
    ) -> VkIdTokens:
        """Trade the redirect's code for tokens (`invalid_grant`: spent, expired or PKCE failed).

        A code is single use, and VK ID treats a second presentation as an attack: it answers
        `invalid_grant` *and revokes the tokens already issued for that code*. So a request
        that may have reached VK ID (a cut answer, a read timeout, a 500/502/504) is never
        repeated: that would cost the tokens the lost answer carried. It is repeated only
        when VK ID provably did not process it (no connection, 503, `slow_down`); otherwise
        the error is raised and the person signs in again.
        """
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "client_id": self.client_id,
            "device_id": device_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        tokens = await self._token_call(form, state, refreshing=False)
        log.info("VK ID sign-in completed (scope: %s)", tokens.scope or "-")
        return tokens

    async def refresh(
        self, refresh_token: str, device_id: str, state: str | None = None
    ) -> VkIdTokens:
        """A new token set for a refresh token, which is spent by this (rotation).

        Like a code, a refresh token is single use and its reuse revokes the whole grant, so
        the request is repeated only when VK ID provably did not process it; a lost answer
        surfaces as `NetworkError` (`maybe_processed=True`). `invalid_grant` becomes
        `RefreshRejected`, a `SessionExpired`: the person must sign in again.
        """
        state = state or new_state()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "device_id": device_id,
            "state": state,
        }
        tokens = await self._token_call(form, state, refreshing=True)
        log.info("VK ID tokens refreshed")
        return tokens

    def refresher(self, device_id: str) -> Refresher:
        """A `TokenKeeper` refresh function for this app and device (the auth layer plugs it)."""

        async def refresh(tokens: BearerTokens) -> BearerTokens:
            if tokens.refresh_token is None:
                raise RefreshRejected(service=VKID, reason="no refresh token")
            fresh = await self.refresh(tokens.refresh_token, device_id)
            return fresh.bearer()

        return refresh

    async def _token_call(
        self, form: Mapping[str, str], state: str, *, refreshing: bool
    ) -> VkIdTokens:
        endpoint = f"POST {self._path}/oauth2/auth"

        async def parse(response: httpx.Response) -> VkIdTokens:
            tokens = _validate(VkIdTokens, response, endpoint)
            if tokens.state is not None and not hmac.compare_digest(
                tokens.state.encode(), state.encode()
            ):
                raise MalformedResponse(
                    service=VKID, endpoint=endpoint, reason="the answer's state does not match"
                )
            return tokens

        return await self._call(
            "/oauth2/auth", form, parse, safety=Safety.UNSAFE, refreshing=refreshing
        )

    # --- the account ------------------------------------------------------------------------

    async def user_info(self, access_token: str) -> VkIdUser:
        """The VK ID account and its educational profile (organizations, roles)."""
        endpoint = f"POST {self._path}/oauth2/user_info"

        async def parse(response: httpx.Response) -> VkIdUser:
            return _validate(_UserInfoAnswer, response, endpoint).user

        return await self._call(
            "/oauth2/user_info",
            {"access_token": access_token},
            parse,
            params={"client_id": self.client_id},
        )

    async def logout(self, access_token: str) -> None:
        """End the session of this access token (it and its refresh chain stop working).

        Idempotent: a token VK ID no longer knows (`invalid_token`) counts as ended.
        """
        await self._end("/oauth2/logout", access_token)
        log.info("signed out of VK ID")

    async def revoke(self, access_token: str) -> None:
        """Revoke this app's access for the token's user: every token of theirs stops working."""
        await self._end("/oauth2/revoke", access_token)
        log.info("VK ID access revoked")

    async def _end(self, path: str, access_token: str) -> None:
        async def parse(response: httpx.Response) -> None:
            return None

        try:
            await self._call(
                path, {"client_id": self.client_id, "access_token": access_token}, parse
            )
        except InvalidToken:
            log.info("%s: the token was already ended", path)

    # --- the request core -------------------------------------------------------------------

    async def _call(
        self,
        path: str,
        form: Mapping[str, str],
        parse: Callable[[httpx.Response], Awaitable[T]],
        *,
        params: Mapping[str, str] | None = None,
        safety: Safety = Safety.IDEMPOTENT,
        refreshing: bool = False,
    ) -> T:
        """One form-encoded POST with retries of transient faults and typed errors."""
        endpoint = f"POST {self._path}{path}"

        async def attempt(_: Attempt) -> T:
            try:
                response = await self._http.post(path, data=dict(form), params=params)
            except httpx.TransportError as exc:
                # Not chained: the transport's text adds nothing safe to show.
                raise transport_error(exc, service=VKID, endpoint=endpoint) from None
            log.debug("%s -> %d", endpoint, response.status_code)
            if response.status_code != 200 or _has_error(response):
                raise error_from_response(response, endpoint, refreshing=refreshing)
            return await parse(response)

        return await call_with_retries(
            attempt,
            policy=self.retry,
            safety=safety,
            what=endpoint,
            logger=log,
            sleep=self._sleep,
        )


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], response: httpx.Response, endpoint: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise shape_error(
            exc, service=VKID, endpoint=endpoint, status=response.status_code
        ) from None


def _has_error(response: httpx.Response) -> bool:
    """Whether a 200 answer is an error object nonetheless (`{"error": ...}`)."""
    content = response.content
    if b'"error"' not in content:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body and "access_token" not in body
