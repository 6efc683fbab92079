"""Bearer tokens and their single-flight refresh, shared by the ESh and VK ID clients.

`TokenKeeper` holds a session's current tokens, refreshes them shortly before they expire
(proactively) or when the server says they have (reactively), and makes sure that only one
refresh is ever in flight: refresh tokens rotate and are single use, so two concurrent
refreshes with the same token would make the server revoke the whole session.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sferum_desktop.api.errors import ESH, NetworkError, ServerError, Service, SessionExpired

_log = logging.getLogger("sferum_desktop.api.tokens")

# Refresh this long before expiry, at most, and at most this share of the token's lifetime,
# so a 15-minute token is renewed a minute early and a 1-second test token just in time.
_MAX_MARGIN_S = 60.0
_MARGIN_SHARE = 0.1


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BearerTokens:
    """An access token with its refresh token and expiry; the repr never shows the secrets."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime  # aware, UTC
    lifetime_s: float = 900.0  # the server's `expires_in` when they were issued

    @classmethod
    def issued(
        cls,
        access_token: str,
        refresh_token: str | None,
        expires_in: float,
        *,
        now: datetime | None = None,
    ) -> BearerTokens:
        """Tokens just received with `expires_in` seconds to live."""
        moment = now or _utcnow()
        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=moment + timedelta(seconds=expires_in),
            lifetime_s=float(expires_in),
        )

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be an aware datetime")

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.expires_at - (now or _utcnow())).total_seconds()

    def needs_refresh(self, now: datetime | None = None) -> bool:
        """Whether the access token expires within its refresh margin."""
        return self.refresh_due_in(now) <= 0

    def refresh_due_in(self, now: datetime | None = None) -> float:
        """Seconds until the token enters its refresh margin (<= 0: refresh now).

        The auth layer sleeps this long to refresh proactively, before any call needs it.
        """
        margin = min(_MAX_MARGIN_S, max(0.0, self.lifetime_s) * _MARGIN_SHARE)
        return self.seconds_left(now) - margin

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.seconds_left(now) <= 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the keyring (the only place these may be stored)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
            "lifetime_s": self.lifetime_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BearerTokens:
        """The inverse of `to_dict`."""
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=None if data.get("refresh_token") is None else str(data["refresh_token"]),
            expires_at=datetime.fromisoformat(str(data["expires_at"])).astimezone(UTC),
            lifetime_s=float(data.get("lifetime_s", 900.0)),
        )


TokensCallback = Callable[[BearerTokens | None], object]
Refresher = Callable[[BearerTokens], Awaitable[BearerTokens]]


class TokenKeeper:
    """The current tokens of one session, refreshed single-flight; reports every change.

    `refresh(tokens)` performs the refresh call and returns the new tokens; it raises
    `SessionExpired` when the session is over, after which the keeper forgets the tokens
    and reports `None`. `on_change` (sync or async) is called with the new tokens after
    every sign-in and refresh, and with `None` when the session ends, so the auth layer
    can keep the keyring in step. Changes are reported in order, one at a time.
    """

    def __init__(
        self,
        refresh: Refresher,
        *,
        tokens: BearerTokens | None = None,
        on_change: TokensCallback | None = None,
        service: Service = ESH,
        logger: logging.Logger = _log,
    ) -> None:
        self._refresh = refresh
        self._tokens = tokens
        self._on_change = on_change
        self._service = service
        self._log = logger
        self._lock = asyncio.Lock()
        self.refresh_count = 0  # refresh calls made; tests and diagnostics read it

    @property
    def tokens(self) -> BearerTokens | None:
        return self._tokens

    async def replace(self, tokens: BearerTokens | None, *, notify: bool = True) -> None:
        """Install new tokens (after a sign-in) or none (after a sign-out)."""
        async with self._lock:
            self._tokens = tokens
            if notify:
                await self._notify(tokens)

    async def current(self) -> BearerTokens:
        """Usable tokens: refreshed first when they are about to expire."""
        tokens = self._tokens
        if tokens is None:
            raise SessionExpired(service=self._service, reason="not signed in")
        if not tokens.needs_refresh() or tokens.refresh_token is None:
            return tokens
        try:
            return await self.refreshed(tokens)
        except (NetworkError, ServerError):
            if tokens.is_expired():
                raise
            # The old access token still works for a moment: use it, refresh next time.
            self._log.warning("early token refresh failed; using the current token")
            return tokens

    async def refreshed(self, stale: BearerTokens) -> BearerTokens:
        """Tokens newer than `stale`: refreshed now, or by whoever refreshed meanwhile."""
        async with self._lock:
            tokens = self._tokens
            if tokens is None:
                raise SessionExpired(service=self._service, reason="the session has ended")
            if tokens is not stale:
                return tokens  # another task refreshed while this one waited
            if tokens.refresh_token is None:
                raise SessionExpired(service=self._service, reason="no refresh token")
            self.refresh_count += 1
            try:
                fresh = await self._refresh(tokens)
            except SessionExpired:
                self._tokens = None
                await self._notify(None)
                raise
            self._tokens = fresh
            await self._notify(fresh)
            return fresh

    async def _notify(self, tokens: BearerTokens | None) -> None:
        if self._on_change is None:
            return
        try:
            result = self._on_change(tokens)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a failing keyring must not fail the call that refreshed
            self._log.exception("the tokens-changed callback failed")
