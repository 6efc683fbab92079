"""Typed errors of the API clients (ESh, VK ID, Sferum), each with a Russian message for the UI.

Every failure a client can meet ends as an `ApiError` subclass: the server's refusals
(mapped from its error code), transport faults (`NetworkError`) and answers the client
cannot understand (`MalformedResponse`). Nothing from httpx or pydantic leaks out, so the
UI catches one family and shows `user_message`.

Secrets never enter these objects: the server's own `message` and `details` are kept (they
are meant for the user), the request is named by its method and path without the query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class Service:
    """How a remote service is named in messages, e.g. «Сервер ЭШ»."""

    key: str  # "esh", "vkid", "sferum": for logs and `ApiError.service`
    server: str  # the subject of a Russian sentence: «Сервер ЭШ», «Сервер Сферума»


ESH = Service("esh", "Сервер ЭШ")
VKID = Service("vkid", "Сервер VK ID")
SFERUM = Service("sferum", "Сервер Сферума")


class ApiError(Exception):
    """A call to a remote service failed; `user_message` is safe to show as is."""

    # A default for `user_message` when the server sent no message; `{server}` is filled in.
    default_message: ClassVar[str] = "{server} не смог выполнить запрос. Повторите попытку позже."

    def __init__(
        self,
        message: str | None = None,
        *,
        service: Service = ESH,
        endpoint: str | None = None,
        status: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        self.service = service
        self.endpoint = endpoint  # "GET /esh/api/v1/me": method and path, never the query
        self.status = status
        self.code = code
        self.message = message  # the server's Russian text, when it sent one
        self.details: dict[str, Any] = dict(details or {})
        self.reason = reason  # an English note for logs and developers (what went wrong)
        super().__init__(self._describe())

    @property
    def user_message(self) -> str:
        """Russian text for the user: the server's own message, else a sensible default."""
        return self.message or self.default_message.format(server=self.service.server)

    def _describe(self) -> str:
        parts = [self.endpoint or self.service.key]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        text = " ".join(parts)
        note = self.reason or self.message
        return f"{text}: {note}" if note else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r})"


# --- transport and protocol -----------------------------------------------------------------


class NetworkError(ApiError):
    """The service could not be reached, the connection broke, or it did not answer in time.

    `maybe_processed` tells whether the request may have reached the server (a cut answer or
    a read timeout) as opposed to provably not (the connection was never made). Retrying
    decisions for non-idempotent calls depend on it.
    """

    default_message = "{server} недоступен. Проверьте подключение к сети."

    def __init__(self, message: str | None = None, *, maybe_processed: bool, **kw: Any) -> None:
        self.maybe_processed = maybe_processed
        super().__init__(message, **kw)


class NetworkTimeout(NetworkError):
    """The service did not answer in time."""

    default_message = "{server} не ответил вовремя. Повторите попытку позже."


class ConnectionLost(NetworkError):
    """The connection broke while the answer was on its way."""

    default_message = "Связь с сервером прервалась. Повторите попытку."


class CertificateError(ApiError):
    """The server's TLS certificate could not be verified: configuration, not retried."""

    default_message = (
        "Не удалось проверить сертификат: {server} не подтвердил свою подлинность. Проверьте "
        "адрес сервера и файл сертификатов (CA) в настройках подключения."
    )


class MalformedResponse(ApiError):
    """The answer was not what the protocol promises (bad JSON, wrong shape, odd status)."""

    default_message = (
        "{server} прислал непонятный ответ. Повторите попытку позже или обратитесь "
        "в техническую поддержку."
    )


ProtocolError = MalformedResponse


# --- the server said no ---------------------------------------------------------------------


class ServerError(ApiError):
    """The service failed on its side (HTTP 5xx)."""

    default_message = "{server} временно не работает. Повторите попытку позже."


class RateLimited(ApiError):
    """Too many requests: wait `retry_after` seconds (None when the server did not say)."""

    default_message = "Слишком много запросов. Повторите попытку чуть позже."

    def __init__(self, message: str | None = None, *, retry_after: float | None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class BadRequest(ApiError):
    """The service rejected the request as malformed (HTTP 400); `fields` says where, if known."""

    default_message = "{server} отклонил запрос."

    def __init__(
        self, message: str | None = None, *, fields: Mapping[str, str] | None = None, **kw: Any
    ) -> None:
        self.fields: dict[str, str] = dict(fields or {})
        super().__init__(message, **kw)


class InvalidGrant(BadRequest):
    """An authorization code or PKCE verifier was not accepted (OAuth `invalid_grant`)."""

    default_message = "Вход не завершён: код подтверждения устарел. Войдите ещё раз."


class Unauthorized(ApiError):
    """The request needs a valid sign-in (HTTP 401)."""

    default_message = "Требуется вход. Войдите снова."


class InvalidCredentials(Unauthorized):
    """Wrong username or password."""

    default_message = "Неверный логин или пароль."


class SessionExpired(Unauthorized):
    """The session cannot be continued (refresh failed or was revoked): sign in again."""

    default_message = "Сеанс истёк. Войдите снова."


class RefreshReused(SessionExpired):
    """A spent refresh token was presented again; the server revoked the whole session."""

    default_message = "Сеанс прерван из соображений безопасности. Войдите снова."


class TooManyAttempts(ApiError):
    """Sign-in is locked for a while after repeated failures; `retry_after` in seconds."""

    default_message = "Слишком много неудачных попыток входа. Повторите попытку позже."

    def __init__(self, message: str | None = None, *, retry_after: float | None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class Forbidden(ApiError):
    """The signed-in person may not do this (HTTP 403)."""

    default_message = "Недостаточно прав для этого действия."


class NotFound(ApiError):
    """No such record (HTTP 404); it may have been deleted meanwhile."""

    default_message = "Запись не найдена: возможно, её уже удалили."


class Conflict(ApiError):
    """The action contradicts the current state (HTTP 409); `code` tells which rule."""

    default_message = "Действие противоречит текущему состоянию данных."


class PreconditionFailed(ApiError):
    """A conditional write found the record changed (HTTP 412) or lacked its condition (428)."""

    default_message = "Данные изменил другой пользователь. Обновите их и повторите."


class ValidationFailed(ApiError):
    """The input was refused field by field (HTTP 422); `fields` maps a field to its message."""

    default_message = "Проверьте введённые данные."

    def __init__(
        self, message: str | None = None, *, fields: Mapping[str, str] | None = None, **kw: Any
    ) -> None:
        self.fields: dict[str, str] = dict(fields or {})
        super().__init__(message, **kw)


def retry_after_seconds(headers: Mapping[str, str], details: Mapping[str, Any]) -> float | None:
    """The wait a server asks for, from `details.retry_after` or a `Retry-After` header."""
    value = details.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    header = headers.get("retry-after")
    if header is None:
        return None
    header = header.strip()
    try:
        seconds = float(header)
    except ValueError:
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    return seconds if seconds >= 0 else None
