"""ESh sign-in: password login with lockout, refresh rotation, logout, /me, ESIA, password reset.

Sessions live in `esh_sessions`; each holds access and refresh tokens (`esh_tokens`, SHA-256
only). A refresh token is single use; presenting a spent one revokes its whole session.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, delete, func, insert, select, update

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.common import (
    REFRESH_TOKEN_TTL_S,
    EshError,
    Principal,
    SandboxState,
    bearer_token,
    current_principal,
    error_responses,
    full_name,
    get_state,
    new_token,
    normalize_phone,
    password_digest,
    password_matches,
    principal_for,
    sha256,
    utcnow,
)
from sferum_desktop.sandbox.pages import error_block, page, render

log = logging.getLogger("sferum_desktop.sandbox.auth")

router = APIRouter(tags=["ESh: sign-in"])

LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=5)
ESIA_CLIENT_ID = "sferum-desktop"
ESIA_SERVICE = "Sferum Desktop"
ESIA_CODE_TTL = timedelta(minutes=10)
RESET_CODE_TTL = timedelta(minutes=10)
RESET_MAX_ATTEMPTS = 5
MIN_PASSWORD_LENGTH = 8
ROLE_ORDER = ("teacher", "admin", "student", "parent")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")

INVALID_CREDENTIALS = "Неверное имя пользователя или пароль."
BLOCKED = "Учётная запись заблокирована. Обратитесь к администратору школы."
BAD_SESSION = "Сеанс недействителен. Войдите в ЭШ снова."
BAD_GRANT = "Код входа через Госуслуги недействителен или устарел. Войдите снова."


# --- shapes ---------------------------------------------------------------------------------


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=200)


class RefreshBody(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=500)


class EsiaTokenBody(BaseModel):
    code: str = Field(min_length=1, max_length=500)
    code_verifier: str = Field(min_length=1, max_length=500)
    redirect_uri: str = Field(min_length=1, max_length=2000)


class School(BaseModel):
    id: str
    name: str


class LinkStatus(BaseModel):
    status: Literal["linked", "unlinked"]
    vk_user_id: int | None


class Me(BaseModel):
    """The signed-in person (`GET /esh/api/v1/me`, and `person` of a sign-in)."""

    id: str
    username: str | None
    full_name: str
    given_name: str
    family_name: str
    middle_name: str | None
    roles: list[Literal["teacher", "admin", "student", "parent"]]
    schools: list[School]
    link: LinkStatus


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int


class SignIn(Tokens):
    person: Me


# --- sessions -------------------------------------------------------------------------------


def _issue_pair(conn: Connection, state: SandboxState, session_id: str, now: datetime) -> dict:
    ttl = state.access_token_ttl_s
    access, refresh = new_token("esh-at"), new_token("esh-rt")
    conn.execute(
        insert(m.esh_tokens),
        [
            {
                "token_sha256": sha256(access),
                "session_id": session_id,
                "kind": "access",
                "expires_at": now + timedelta(seconds=ttl),
            },
            {
                "token_sha256": sha256(refresh),
                "session_id": session_id,
                "kind": "refresh",
                "expires_at": now + timedelta(seconds=REFRESH_TOKEN_TTL_S),
            },
        ],
    )
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": ttl,
    }


def issue_session(state: SandboxState, person_id: str) -> dict[str, Any]:
    """A new ESh session for `person_id`: access and refresh tokens, type and lifetime."""
    now = utcnow()
    session_id = secrets.token_urlsafe(16)
    with state.engine.begin() as conn:
        conn.execute(
            insert(m.esh_sessions).values(id=session_id, person_id=person_id, created_at=now)
        )
        tokens = _issue_pair(conn, state, session_id, now)
    log.info("session %s opened for %s", session_id, person_id)
    return tokens


def _revoke(conn: Connection, reason: str, where: Any) -> None:
    """Revoke the open sessions matching `where` (all their tokens stop working)."""
    conn.execute(
        update(m.esh_sessions)
        .where(where, m.esh_sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


def me(state: SandboxState, person_id: str) -> dict[str, Any]:
    """The Me shape of a person: names, active ESh roles, schools, VK link."""
    principal = principal_for(state.engine, person_id, "")
    with state.engine.connect() as conn:
        user = conn.execute(select(m.users).where(m.users.c.sourced_id == person_id)).one()
        username = conn.execute(
            select(func.min(m.accounts.c.username)).where(m.accounts.c.person_id == person_id)
        ).scalar()
        schools = conn.execute(
            select(m.orgs.c.sourced_id, m.orgs.c.name)
            .where(m.orgs.c.sourced_id.in_(principal.school_ids))
            .order_by(m.orgs.c.name, m.orgs.c.sourced_id)
        ).all()
        link = conn.execute(
            select(m.links.c.status, m.links.c.vk_user_id).where(m.links.c.person_id == person_id)
        ).first()
    linked = link is not None and link.status == "linked"
    return {
        "id": person_id,
        "username": username,
        "full_name": full_name(user.family_name, user.given_name, user.middle_name),
        "given_name": user.given_name,
        "family_name": user.family_name,
        "middle_name": user.middle_name,
        "roles": [role for role in ROLE_ORDER if role in principal.roles],
        "schools": [{"id": s.sourced_id, "name": s.name} for s in schools],
        "link": {
            "status": "linked" if linked else "unlinked",
            "vk_user_id": link.vk_user_id if linked else None,
        },
    }


def _sign_in_answer(state: SandboxState, person_id: str) -> dict[str, Any]:
    return {**issue_session(state, person_id), "person": me(state, person_id)}


# --- passwords and lockout ------------------------------------------------------------------


@dataclass(frozen=True)
class _Account:
    username: str
    person_id: str
    password_sha256: str
    salt: str
    phone: str | None
    enabled: bool


def _find_account(conn: Connection, login: str) -> _Account | None:
    """The account of an ESh username (any case) or of the person with that phone."""
    query = select(
        m.accounts.c.username,
        m.accounts.c.person_id,
        m.accounts.c.password_sha256,
        m.accounts.c.salt,
        m.users.c.phone,
        m.users.c.enabled_user,
        m.users.c.status,
    ).join(m.users, m.users.c.sourced_id == m.accounts.c.person_id)
    login = login.strip()
    row = conn.execute(
        query.where(func.lower(m.accounts.c.username) == login.lower()).limit(1)
    ).first()
    phone = normalize_phone(login) if row is None else None
    if phone:
        row = conn.execute(
            query.where(m.users.c.phone == phone).order_by(m.accounts.c.username).limit(1)
        ).first()
    if row is None:
        return None
    return _Account(
        username=row.username,
        person_id=row.person_id,
        password_sha256=row.password_sha256,
        salt=row.salt,
        phone=row.phone,
        enabled=bool(row.enabled_user) and row.status == "active",
    )


def _lockout_left(conn: Connection, username: str, now: datetime) -> int:
    """Seconds until `username` may try again (0: not locked)."""
    recent = (
        conn.execute(
            select(m.login_failures.c.at)
            .where(
                m.login_failures.c.username == username,
                m.login_failures.c.at > now - LOCKOUT_WINDOW,
            )
            .order_by(m.login_failures.c.at.desc())
            .limit(LOCKOUT_FAILURES)
        )
        .scalars()
        .all()
    )
    if len(recent) < LOCKOUT_FAILURES:
        return 0
    # Locked until the oldest of the last five failures leaves the window.
    return max(1, math.ceil((recent[-1] + LOCKOUT_WINDOW - now).total_seconds()))


def lockout_error(retry_after: int) -> EshError:
    """429 `too_many_attempts` with `details.retry_after` and a `Retry-After` header."""
    minutes = max(1, math.ceil(retry_after / 60))
    return EshError(
        429,
        "too_many_attempts",
        f"Слишком много попыток входа. Повторите через {minutes} мин.",
        {"retry_after": retry_after},
        {"Retry-After": str(retry_after)},
    )


def authenticate(state: SandboxState, login: str, password: str) -> str:
    """The person id behind `login` (ESh username or phone) and `password`, or an EshError.

    Five failures in five minutes lock the username out (even the right password then gets
    429); a success clears its failures.
    """
    now = utcnow()
    with state.engine.begin() as conn:
        account = _find_account(conn, login)
        key = account.username.lower() if account else login.strip().lower()
        retry_after = _lockout_left(conn, key, now)
        if retry_after:
            failure: EshError | None = lockout_error(retry_after)
        elif account is None or not password_matches(
            account.salt, account.password_sha256, password
        ):
            conn.execute(insert(m.login_failures).values(username=key, at=now))
            failure = EshError(401, "invalid_credentials", INVALID_CREDENTIALS)
        elif not account.enabled:
            failure = EshError(403, "forbidden", BLOCKED)
        else:
            conn.execute(delete(m.login_failures).where(m.login_failures.c.username == key))
            failure = None
    if failure is not None:
        log.info("sign-in refused for %r: %s", key, failure.error)
        raise failure
    assert account is not None
    return account.person_id


# --- password sign-in, refresh, logout, me -------------------------------------------------


@router.post(
    "/esh/api/v1/auth/login",
    response_model=SignIn,
    responses=error_responses(400, 401, 403, 422, 429),
    summary="Sign in with ESh username and password",
)
async def login(body: LoginBody, request: Request) -> dict[str, Any]:
    """`{access_token, refresh_token, token_type, expires_in, person}`."""
    state = get_state(request)
    person_id = authenticate(state, body.username, body.password)
    return _sign_in_answer(state, person_id)


@router.post(
    "/esh/api/v1/auth/refresh",
    response_model=SignIn,
    responses=error_responses(400, 401, 403, 422),
    summary="Exchange a refresh token for a new pair (rotation, reuse detection)",
)
async def refresh(body: RefreshBody, request: Request) -> dict[str, Any]:
    """A new token pair in the same session; a spent refresh token revokes the session."""
    state = get_state(request)
    now = utcnow()
    with state.engine.begin() as conn:
        row = conn.execute(
            select(
                m.esh_tokens.c.session_id,
                m.esh_tokens.c.expires_at,
                m.esh_tokens.c.used_at,
                m.esh_sessions.c.person_id,
                m.esh_sessions.c.revoked_at,
                m.users.c.enabled_user,
            )
            .join(m.esh_sessions, m.esh_sessions.c.id == m.esh_tokens.c.session_id)
            .join(m.users, m.users.c.sourced_id == m.esh_sessions.c.person_id)
            .where(
                m.esh_tokens.c.token_sha256 == sha256(body.refresh_token),
                m.esh_tokens.c.kind == "refresh",
            )
        ).first()
        failure: EshError | None = None
        if row is None:
            failure = EshError(401, "invalid_token", BAD_SESSION)
        elif row.used_at is not None:
            _revoke(conn, "refresh_reuse", m.esh_sessions.c.id == row.session_id)
            log.warning("spent refresh token of session %s presented again", row.session_id)
            failure = EshError(
                401,
                "refresh_reused",
                "Сеанс завершён из соображений безопасности. Войдите в ЭШ снова.",
            )
        elif row.revoked_at is not None:
            failure = EshError(401, "invalid_token", BAD_SESSION)
        elif row.expires_at <= now:
            failure = EshError(401, "token_expired", "Срок действия сеанса истёк. Войдите снова.")
        elif not row.enabled_user:
            failure = EshError(403, "forbidden", BLOCKED)
        else:
            spent = conn.execute(
                update(m.esh_tokens)
                .where(
                    m.esh_tokens.c.token_sha256 == sha256(body.refresh_token),
                    m.esh_tokens.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            assert spent.rowcount == 1
            tokens = _issue_pair(conn, state, row.session_id, now)
    if failure is not None:
        raise failure
    assert row is not None
    return {**tokens, "person": me(state, row.person_id)}


@router.post(
    "/esh/api/v1/auth/logout",
    status_code=204,
    response_class=Response,
    responses=error_responses(401),
    summary="Revoke the session of the bearer token",
)
async def logout(request: Request) -> Response:
    """Revoke the session; an expired access token may still end its session."""
    state = get_state(request)
    token = bearer_token(request)
    with state.engine.begin() as conn:
        session_id = conn.execute(
            select(m.esh_tokens.c.session_id).where(
                m.esh_tokens.c.token_sha256 == sha256(token), m.esh_tokens.c.kind == "access"
            )
        ).scalar()
        if session_id is not None:
            _revoke(conn, "logout", m.esh_sessions.c.id == session_id)
    if session_id is None:
        raise EshError(401, "invalid_token", BAD_SESSION)
    log.info("session %s closed", session_id)
    return Response(status_code=204)


@router.get(
    "/esh/api/v1/me",
    response_model=Me,
    responses=error_responses(401),
    summary="The signed-in person",
)
async def get_me(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> dict[str, Any]:
    """Id, names, roles, schools and VK link of the bearer's person."""
    return me(get_state(request), principal.person_id)


# --- ESIA («Войти через госуслуги») --------------------------------------------------------


def _loopback(uri: str) -> bool:
    """Whether `uri` is a loopback redirect (RFC 8252 §7.3): http, 127.0.0.1/localhost/::1."""
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname in LOOPBACK_HOSTS
        and not parts.username
        and not parts.fragment
    )


def _with_query(uri: str, **params: str | None) -> str:
    """`uri` with `params` (those not None) added to its query."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _esia_error_page(message: str) -> HTMLResponse:
    return page(
        "gosuslugi.html",
        "Ошибка входа — Госуслуги",
        render("esia_error.html", message=message),
        status_code=400,
    )


@dataclass(frozen=True)
class _EsiaRequest:
    """An authorization request, as the page receives it and carries it through its form."""

    client_id: str
    redirect_uri: str
    state: str | None
    code_challenge: str
    code_challenge_method: str

    def problem(self) -> HTMLResponse | RedirectResponse | None:
        """The answer to a bad request, or None when it is fine."""
        if self.client_id != ESIA_CLIENT_ID:
            return _esia_error_page("Неизвестная информационная система: вход для неё не разрешён.")
        if not _loopback(self.redirect_uri):
            return _esia_error_page("Адрес возврата не разрешён для этой информационной системы.")
        if (
            not _PKCE_VALUE.match(self.code_challenge)
            or self.code_challenge_method.upper() != "S256"
        ):
            return self.redirect(
                error="invalid_request",
                error_description="code_challenge and code_challenge_method=S256 are required",
            )
        return None

    def redirect(self, **params: str) -> RedirectResponse:
        """303 back to the client with `params` and the request's state."""
        return RedirectResponse(
            _with_query(self.redirect_uri, **params, state=self.state), status_code=303
        )

    def login_page(self, login: str = "", error: str | None = None) -> HTMLResponse:
        content = render(
            "esia_login.html",
            service=ESIA_SERVICE,
            error=error_block(error),
            client_id=self.client_id,
            redirect_uri=self.redirect_uri,
            state=self.state,
            code_challenge=self.code_challenge,
            code_challenge_method=self.code_challenge_method,
            login=login,
        )
        return page("gosuslugi.html", "Вход в Госуслуги", content)


@router.get(
    "/esh/esia/authorize",
    response_class=HTMLResponse,
    summary="«Войти через госуслуги»: the emulated Госуслуги sign-in page",
)
async def esia_authorize(
    client_id: str = "",
    redirect_uri: str = "",
    state: str | None = None,
    code_challenge: str = "",
    code_challenge_method: str = "",
) -> Any:
    """The sign-in form; a bad client or redirect gets an error page, missing PKCE a redirect."""
    esia = _EsiaRequest(client_id, redirect_uri, state, code_challenge, code_challenge_method)
    return esia.problem() or esia.login_page()


@router.post(
    "/esh/esia/authorize",
    response_class=HTMLResponse,
    summary="The Госуслуги form's submission: redirects with code and state",
)
async def esia_sign_in(
    request: Request,
    *,
    client_id: Annotated[str, Form()] = "",
    redirect_uri: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
    code_challenge: Annotated[str, Form()] = "",
    code_challenge_method: Annotated[str, Form()] = "",
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Any:
    """Check the ESh username (or phone) and password, then 303 to `redirect_uri?code&state`."""
    esia = _EsiaRequest(
        client_id, redirect_uri, state or None, code_challenge, code_challenge_method
    )
    problem = esia.problem()
    if problem is not None:
        return problem
    sandbox = get_state(request)
    try:
        person_id = authenticate(sandbox, login, password)
    except EshError as error:
        return esia.login_page(
            login, "Неверный логин или пароль." if error.status == 401 else error.message
        )
    code = secrets.token_urlsafe(32)
    with sandbox.engine.begin() as conn:
        conn.execute(
            insert(m.esia_codes).values(
                code_sha256=sha256(code),
                person_id=person_id,
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
                expires_at=utcnow() + ESIA_CODE_TTL,
            )
        )
    return esia.redirect(code=code)


def pkce_challenge(verifier: str) -> str:
    """base64url(SHA-256(verifier)) without padding (RFC 7636 S256)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@router.post(
    "/esh/api/v1/auth/esia/token",
    response_model=SignIn,
    responses=error_responses(400, 422),
    summary="Exchange the Госуслуги code (PKCE S256) for an ESh session",
)
async def esia_token(body: EsiaTokenBody, request: Request) -> dict[str, Any]:
    """Same answer as login; the code is single use (spent by any attempt) and lives 10 min."""
    state = get_state(request)
    now = utcnow()
    code_sha = sha256(body.code)
    with state.engine.begin() as conn:
        row = conn.execute(
            select(m.esia_codes).where(m.esia_codes.c.code_sha256 == code_sha)
        ).first()
        if row is not None and row.used_at is None:
            conn.execute(
                update(m.esia_codes)
                .where(m.esia_codes.c.code_sha256 == code_sha)
                .values(used_at=now)
            )
    valid = (
        row is not None
        and row.used_at is None
        and row.expires_at > now
        and row.redirect_uri == body.redirect_uri
        and _PKCE_VALUE.match(body.code_verifier) is not None
        and secrets.compare_digest(pkce_challenge(body.code_verifier), row.code_challenge)
    )
    if not valid:
        raise EshError(400, "invalid_grant", BAD_GRANT)
    assert row is not None
    return _sign_in_answer(state, row.person_id)


# --- password reset («Забыли пароль?») -----------------------------------------------------


@dataclass
class _PendingReset:
    phone: str
    code_sha256: str
    expires_at: datetime
    attempts: int = 0


def _pending_resets(state: SandboxState) -> dict[str, _PendingReset]:
    resets: dict[str, _PendingReset] = state.ephemeral.setdefault("password_resets", {})
    return resets


def _masked(phone: str) -> str:
    """`+7 *** ***-**-33`: enough for a person to recognise their phone."""
    return f"+7 *** ***-**-{phone[-2:]}"


def _reset_page(name: str, error: str | None = None, **values: str) -> HTMLResponse:
    content = render(name, error=error_block(error), min_length=str(MIN_PASSWORD_LENGTH), **values)
    return page("esh.html", "Восстановление пароля", content)


@router.get(
    "/esh/password-reset",
    response_class=HTMLResponse,
    summary="«Забыли пароль?»: the password reset page",
)
async def password_reset_page() -> HTMLResponse:
    """Step one: the username form."""
    return _reset_page("reset_request.html", username="")


@router.post(
    "/esh/password-reset",
    response_class=HTMLResponse,
    summary="The password reset form's submissions (request a code; confirm it)",
)
async def password_reset(
    request: Request,
    *,
    step: Annotated[str, Form()] = "request",
    username: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Username → SMS code to the person's phone → code and new password → changed."""
    state = get_state(request)
    with state.engine.connect() as conn:
        account = _find_account(conn, username) if username.strip() else None
    if account is None:
        return _reset_page(
            "reset_request.html", "Пользователь с таким именем не найден.", username=username
        )
    if step != "confirm":
        return _send_reset_code(state, account)
    return _confirm_reset(state, account, code.strip(), password, password2)


def _send_reset_code(state: SandboxState, account: _Account) -> HTMLResponse:
    if not account.phone:
        return _reset_page(
            "reset_request.html",
            "В учётной записи не указан телефон. Обратитесь к администратору школы.",
            username=account.username,
        )
    code = f"{secrets.randbelow(10**6):06d}"
    now = utcnow()
    with state.engine.begin() as conn:
        conn.execute(
            insert(m.sms_inbox).values(
                phone=account.phone,
                code=code,
                text=f"Код для восстановления пароля ЭШ: {code}. Никому не сообщайте его.",
                sent_at=now,
            )
        )
    _pending_resets(state)[account.username] = _PendingReset(
        account.phone, sha256(code), now + RESET_CODE_TTL
    )
    log.info("password reset code sent for %r", account.username)
    return _reset_page(
        "reset_confirm.html", username=account.username, phone=_masked(account.phone)
    )


def _confirm_reset(
    state: SandboxState, account: _Account, code: str, password: str, password2: str
) -> HTMLResponse:
    resets = _pending_resets(state)
    pending = resets.get(account.username)
    if pending is None or pending.expires_at <= utcnow():
        resets.pop(account.username, None)
        return _reset_page(
            "reset_request.html",
            "Код устарел или не запрашивался. Запросите новый код.",
            username=account.username,
        )

    def again(error: str) -> HTMLResponse:
        return _reset_page(
            "reset_confirm.html", error, username=account.username, phone=_masked(pending.phone)
        )

    if not secrets.compare_digest(sha256(code), pending.code_sha256):
        pending.attempts += 1
        if pending.attempts >= RESET_MAX_ATTEMPTS:
            del resets[account.username]
            return _reset_page(
                "reset_request.html",
                "Слишком много неверных кодов. Запросите новый код.",
                username=account.username,
            )
        return again("Неверный код из СМС.")
    if len(password) < MIN_PASSWORD_LENGTH:
        return again(f"Пароль должен содержать не менее {MIN_PASSWORD_LENGTH} символов.")
    if password != password2:
        return again("Пароли не совпадают.")
    salt = secrets.token_hex(8)
    with state.engine.begin() as conn:
        conn.execute(
            update(m.accounts)
            .where(m.accounts.c.username == account.username)
            .values(salt=salt, password_sha256=password_digest(salt, password))
        )
        conn.execute(
            delete(m.login_failures).where(m.login_failures.c.username == account.username.lower())
        )
        _revoke(conn, "password_reset", m.esh_sessions.c.person_id == account.person_id)
    del resets[account.username]
    log.info("password of %r changed through the reset page", account.username)
    return _reset_page("reset_done.html")
