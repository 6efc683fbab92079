"""Retrying transient faults with capped exponential backoff and full jitter, shared by clients.

What is transient: the service unreachable or the connection cut (`NetworkError`), HTTP 5xx
(`ServerError`), an explicit rate limit (`RateLimited`, honouring its `Retry-After` up to a
bound) and, for idempotent calls only, an answer that could not be read
(`MalformedResponse`: a proxy that truncated or mangled the body). Every other refusal
(4xx) is final and is raised at once.

Whether a failed request may be sent again also depends on what it does (`Safety`):

- `Safety.IDEMPOTENT` — reads, and writes whose repetition changes nothing (adding members
  who are already members, `PUT`, unlinking, conditional writes under `If-Match`, whose
  repetition at worst fails its precondition and lets the caller see why): retried on every
  transient fault.
- `Safety.UNSAFE` — a repetition could do the work twice or burn a single-use secret
  (sign-in, token refresh, exchanging an authorization code, creating a chat): retried only
  when the server provably did not process the first attempt: the connection was never
  made, it answered 503 (refused before doing anything) or 429 (rate limit: not processed).
  A cut answer, a read timeout or a 500/502/504 may hide a processed request, so the
  failure is raised with `maybe_processed=True` semantics for the caller to reconcile.

Attempts see whether an earlier one may have been processed (`Attempt.maybe_processed_before`),
so a conditional write can recognise its own earlier success in a 412 or 404.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sferum_desktop.api.errors import (
    ApiError,
    MalformedResponse,
    NetworkError,
    RateLimited,
    ServerError,
)

T = TypeVar("T")

_log = logging.getLogger("sferum_desktop.api.retry")


class Safety(enum.Enum):
    """Whether repeating a request that may have been processed is harmless."""

    IDEMPOTENT = "idempotent"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient faults (`attempts` counts the first try)."""

    attempts: int = 4
    base_delay: float = 0.5  # seconds; the n-th retry waits up to base_delay * 2**(n-1) ...
    max_delay: float = 8.0  # ... but never more than this (before jitter)
    max_retry_after: float = 30.0  # a longer `Retry-After` is not waited for: raise instead
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry: int) -> float:
        """Full-jitter delay before the `retry`-th retry (1-based), as AWS recommends."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        return self.rng.uniform(0.0, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Attempt:
    """One try of a call: its 1-based number and whether an earlier try may have landed."""

    number: int
    maybe_processed_before: bool


def transient(exc: ApiError, safety: Safety) -> tuple[bool, bool]:
    """(may this failure be retried, may the failed request have been processed)."""
    if isinstance(exc, NetworkError):
        return True, exc.maybe_processed
    if isinstance(exc, RateLimited):
        return True, False
    if isinstance(exc, ServerError):
        # 503 means "not handled now": the request was refused before any work was done.
        return True, exc.status != 503
    if isinstance(exc, MalformedResponse):
        # The server answered, so it processed the request: only a read may be repeated.
        return safety is Safety.IDEMPOTENT, True
    return False, False


async def call_with_retries(
    op: Callable[[Attempt], Awaitable[T]],
    *,
    policy: RetryPolicy,
    safety: Safety,
    what: str,
    logger: logging.Logger = _log,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Run `op` until it succeeds, fails for good, or the policy's attempts are spent.

    `what` names the call in logs ("POST /esh/api/v1/auth/login"); it must hold no secret
    and no personal data.
    """
    maybe_processed = False
    for number in range(1, policy.attempts + 1):
        try:
            return await op(Attempt(number, maybe_processed))
        except ApiError as exc:
            retryable, processed = transient(exc, safety)
            if not retryable or number >= policy.attempts:
                raise
            if safety is Safety.UNSAFE and processed:
                logger.warning(
                    "%s: %s may have been processed; not repeating a non-idempotent call",
                    what,
                    _label(exc),
                )
                raise
            maybe_processed = maybe_processed or processed
            delay = policy.backoff(number)
            retry_after = getattr(exc, "retry_after", None)
            if isinstance(exc, RateLimited) and retry_after is not None:
                if retry_after > policy.max_retry_after:
                    raise
                delay = max(delay, retry_after)
            logger.warning(
                "%s: %s; retry %d of %d in %.2f s",
                what,
                _label(exc),
                number,
                policy.attempts - 1,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _label(exc: ApiError) -> str:
    """A log-safe name of a failure: its class, status and code, never its text."""
    parts = [type(exc).__name__]
    if exc.status is not None:
        parts.append(str(exc.status))
    if exc.code:
        parts.append(exc.code)
    return " ".join(parts)
