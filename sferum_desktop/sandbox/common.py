"""What every part of the sandbox shares: its state, ESh errors, time, the signed-in person."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, and_, or_, select

from sferum_desktop.sandbox import models as m

ACCESS_TOKEN_TTL_S = 15 * 60
REFRESH_TOKEN_TTL_S = 30 * 24 * 3600


@dataclass
class SandboxState:
    """The running sandbox: its database, dataset and injected faults."""

    engine: Engine
    data_dir: Path
    dataset: str
    seed: int
    faults: dict[str, Any] = field(default_factory=dict)
    # Per run, never persisted: the RNG of the fault draws (re-seeded whenever the faults are
    # set) and small scratch state such as pending password resets. A reset clears both.
    fault_rng: random.Random = field(default_factory=random.Random)
    ephemeral: dict[str, Any] = field(default_factory=dict)

    @property
    def access_token_ttl_s(self) -> int:
        return int(self.faults.get("access_token_ttl_s") or ACCESS_TOKEN_TTL_S)


def get_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


class EshError(Exception):
    """An ESh API error: HTTP status + `{"error", "message", "details"}`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "message": self.message, "details": self.details},
            status_code=self.status,
            headers=self.headers,
        )


class ErrorBody(BaseModel):
    """The body of every ESh error, for the OpenAPI document."""

    error: str
    message: str
    details: dict[str, Any] = {}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: these statuses answer an ESh error body."""
    return {status: {"model": ErrorBody} for status in statuses}


def utcnow() -> datetime:
    """Naive UTC now, as the schema stores times."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as OneRoster and the registry answer times."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_date(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    """An opaque bearer token; only its SHA-256 is ever stored."""
    return f"{prefix}.{secrets.token_urlsafe(32)}"


def password_digest(salt: str, password: str) -> str:
    """How `accounts` and `vk_accounts` store a password: sha256(salt + password)."""
    return sha256(salt + password)


def password_matches(salt: str | None, digest: str | None, password: str) -> bool:
    """Constant-time check of a password against its stored salted digest."""
    if not salt or not digest:
        return False
    return hmac.compare_digest(password_digest(salt, password), digest)


_NON_DIGITS = re.compile(r"\D")


def normalize_phone(text: str) -> str | None:
    """A Russian phone as stored (`+79991112233`) from what a person types, or None."""
    digits = _NON_DIGITS.sub("", text or "")
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] == "9":
        return "+7" + digits
    return None


def vk_request_params(method: str, params: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """VK's `request_params` echo of a call: method, oauth, then its parameters (no token)."""
    echoed = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    echoed += [{"key": k, "value": v} for k, v in params if k != "access_token"]
    return echoed


def vk_error(code: int, message: str, request_params: list[dict[str, str]]) -> dict[str, Any]:
    """A VK API error body (Sferum answers it with HTTP 200)."""
    return {"error": {"error_code": code, "error_msg": message, "request_params": request_params}}


def full_name(family: str, given: str, middle: str | None) -> str:
    """«Фамилия Имя Отчество», as ESh shows people."""
    return " ".join(part for part in (family, given, middle) if part)


# OneRoster role -> ESh role in /me and permissions.
ESH_ROLE = {
    "teacher": "teacher",
    "administrator": "admin",
    "student": "student",
    "parent": "parent",
    "guardian": "parent",
}


@dataclass(frozen=True)
class Principal:
    """The person behind a valid access token, with the roles active today."""

    person_id: str
    session_id: str
    roles: frozenset[str]  # ESh roles: teacher, admin, student, parent
    # org ids where each ESh role is held; a district org covers its schools (see school_ids)
    role_orgs: dict[str, frozenset[str]]
    school_ids: frozenset[str]  # schools the person belongs to in any active role

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & {"teacher", "admin"})

    def staff_school_ids(self, state: SandboxState) -> frozenset[str]:
        """Schools whose roster this person may read (staff roles; district roles expand)."""
        orgs = self.role_orgs.get("teacher", frozenset()) | self.role_orgs.get("admin", frozenset())
        return expand_schools(state.engine, orgs)

    def admin_school_ids(self, state: SandboxState) -> frozenset[str]:
        return expand_schools(state.engine, self.role_orgs.get("admin", frozenset()))


def expand_schools(engine: Engine, org_ids: frozenset[str]) -> frozenset[str]:
    """The schools among `org_ids`, plus the schools of any district among them."""
    if not org_ids:
        return frozenset()
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.orgs.c.sourced_id).where(
                m.orgs.c.type == "school",
                or_(m.orgs.c.sourced_id.in_(org_ids), m.orgs.c.parent_id.in_(org_ids)),
            )
        )
        return frozenset(r[0] for r in rows)


def active_roles(
    engine: Engine, person_id: str, today: date | None = None
) -> list[tuple[str, str]]:
    """(OneRoster role, org id) pairs of a person's roles that have not ended."""
    today = today or utcnow().date()
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.user_roles.c.role, m.user_roles.c.org_id).where(
                m.user_roles.c.user_id == person_id,
                or_(m.user_roles.c.end_date.is_(None), m.user_roles.c.end_date >= today),
                or_(m.user_roles.c.begin_date.is_(None), m.user_roles.c.begin_date <= today),
            )
        )
        return [(r[0], r[1]) for r in rows]


def principal_for(engine: Engine, person_id: str, session_id: str) -> Principal:
    role_orgs: dict[str, set[str]] = {}
    for role, org in active_roles(engine, person_id):
        role_orgs.setdefault(ESH_ROLE.get(role, role), set()).add(org)
    all_orgs = frozenset(o for orgs in role_orgs.values() for o in orgs)
    return Principal(
        person_id=person_id,
        session_id=session_id,
        roles=frozenset(role_orgs),
        role_orgs={k: frozenset(v) for k, v in role_orgs.items()},
        school_ids=expand_schools(engine, all_orgs),
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise EshError(401, "unauthorized", "Требуется вход в ЭШ.")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the person behind the request's ESh access token, or 401."""
    state = get_state(request)
    token = bearer_token(request)
    now = utcnow()
    with state.engine.connect() as conn:
        row = conn.execute(
            select(
                m.esh_tokens.c.expires_at,
                m.esh_sessions.c.id,
                m.esh_sessions.c.person_id,
                m.esh_sessions.c.revoked_at,
                m.users.c.enabled_user,
            )
            .select_from(
                m.esh_tokens.join(
                    m.esh_sessions, m.esh_tokens.c.session_id == m.esh_sessions.c.id
                ).join(m.users, m.users.c.sourced_id == m.esh_sessions.c.person_id)
            )
            .where(
                and_(m.esh_tokens.c.token_sha256 == sha256(token), m.esh_tokens.c.kind == "access")
            )
        ).first()
    if row is None or row.revoked_at is not None:
        raise EshError(401, "invalid_token", "Сеанс недействителен. Войдите в ЭШ снова.")
    if row.expires_at <= now:
        raise EshError(401, "token_expired", "Срок действия сеанса истёк.")
    if not row.enabled_user:
        # Blocking in ESh takes effect at once, not when the access token runs out.
        raise EshError(403, "forbidden", "Учётная запись заблокирована в ЭШ.")
    return principal_for(state.engine, row.person_id, row.id)
