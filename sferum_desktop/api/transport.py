"""HTTP plumbing shared by the VK ID and Sferum clients: the pooled client, transport faults.

Transport failures become `NetworkError`s that say whether the request may have reached the
server (`maybe_processed`), which is what decides if a non-idempotent call may be repeated.
A pydantic failure becomes a `MalformedResponse` that names what was wrong without echoing
the answer (which may hold tokens or personal data).
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import httpx
from pydantic import ValidationError

from sferum_desktop import __version__
from sferum_desktop.api.errors import (
    ApiError,
    CertificateError,
    ConnectionLost,
    MalformedResponse,
    NetworkError,
    NetworkTimeout,
    Service,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

Verify = bool | str | os.PathLike[str] | ssl.SSLContext


def ssl_verify(verify: Verify) -> bool | ssl.SSLContext:
    """httpx's `verify` from a flag, a CA bundle path (a region's own CA) or a context."""
    if isinstance(verify, bool | ssl.SSLContext):
        return verify
    return ssl.create_default_context(cafile=os.fspath(verify))


def new_http_client(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    verify: Verify = True,
    proxy: str | None = None,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
) -> httpx.AsyncClient:
    """The one pooled `httpx.AsyncClient` of a service (STYLE.md: one per service)."""
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        verify=ssl_verify(verify),
        proxy=proxy if transport is None else None,
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": f"sferum-desktop/{__version__}", "Accept": "application/json"},
    )


def transport_error(exc: httpx.TransportError, *, service: Service, endpoint: str) -> ApiError:
    """The typed error of a transport failure; `maybe_processed`: may the request have landed."""
    common: dict[str, Any] = {"service": service, "endpoint": endpoint}
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return NetworkTimeout(maybe_processed=False, reason=name, **common)
    if isinstance(exc, httpx.TimeoutException):
        return NetworkTimeout(maybe_processed=True, reason=name, **common)
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            # Not a NetworkError: retrying cannot help, and the user must fix the settings.
            return CertificateError(reason="TLS certificate verification failed", **common)
        return NetworkError(maybe_processed=False, reason=f"{name}: cannot connect", **common)
    if isinstance(exc, httpx.ProxyError | httpx.UnsupportedProtocol):
        return NetworkError(maybe_processed=False, reason=name, **common)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return ConnectionLost(maybe_processed=True, reason=f"{name}: connection cut", **common)
    return NetworkError(maybe_processed=True, reason=name, **common)


def shape_error(
    exc: ValidationError, *, service: Service, endpoint: str, status: int | None
) -> MalformedResponse:
    """A `MalformedResponse` saying what was wrong with an answer, without its data."""
    problems = exc.errors(include_input=False, include_url=False, include_context=False)
    if any(p["type"] == "json_invalid" for p in problems):
        reason = "the answer is not valid JSON"
    else:
        parts = [f"{'.'.join(str(x) for x in p['loc']) or '<root>'}: {p['msg']}" for p in problems]
        more = f" (and {len(parts) - 3} more)" if len(parts) > 3 else ""
        reason = "the answer has the wrong shape: " + "; ".join(parts[:3]) + more
    return MalformedResponse(service=service, endpoint=endpoint, status=status, reason=reason)
