"""OAuth 2.1 helpers shared by the ESIA and VK ID sign-ins: PKCE (RFC 7636), state, redirects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from sferum_desktop.api.errors import ESH, ApiError, Service

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def new_code_verifier(length: int = 64) -> str:
    """A fresh PKCE code verifier: `length` (43–128) unreserved characters from a CSPRNG."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters")
    # token_urlsafe yields ~1.3 characters per byte from the unreserved alphabet.
    return secrets.token_urlsafe(length)[:length]


def code_challenge_s256(verifier: str) -> str:
    """The S256 code challenge of a verifier: BASE64URL(SHA256(verifier)) without padding."""
    if not _VERIFIER.match(verifier):
        raise ValueError("not a valid PKCE code verifier")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    """An unguessable `state` value that ties a redirect to the request that caused it."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class PkceRequest:
    """One authorization attempt's secrets; the repr hides them."""

    verifier: str = field(default_factory=new_code_verifier, repr=False)
    state: str = field(default_factory=new_state, repr=False)
    method: str = "S256"

    @property
    def challenge(self) -> str:
        return code_challenge_s256(self.verifier)


class AuthorizationFailed(ApiError):
    """The authorization redirect reported an error, or its `state` did not match."""

    default_message = "Вход не выполнен. Попробуйте войти ещё раз."


def parse_redirect(url: str, expected_state: str, *, service: Service = ESH) -> str:
    """The authorization `code` of a redirect URL, after checking its `state` (anti-CSRF).

    Raises `AuthorizationFailed` for an `error=` redirect, a missing code or a foreign state.
    """
    query = parse_qs(urlsplit(url).query)
    state = (query.get("state") or [""])[0]
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise AuthorizationFailed(service=service, reason="the redirect's state does not match")
    error = (query.get("error") or [""])[0]
    if error:
        descriptions = query.get("error_description")
        description = descriptions[0] if descriptions else None
        raise AuthorizationFailed(description, service=service, code=error, reason=error)
    code = (query.get("code") or [""])[0]
    if not code:
        raise AuthorizationFailed(service=service, reason="the redirect carries no code")
    return code
