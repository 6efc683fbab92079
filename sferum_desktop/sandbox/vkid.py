"""VK ID (id.vk.com): OAuth 2.1 with PKCE, its sign-in pages and its `oauth2` token API.

Mounted at `/vkid`. The pages reproduce the seed's three sign-in paths («Вход в VK ID»):
1. a VK account with an educational profile: phone → password → SMS code → «Продолжить в
   учебном профиле» → «Проверьте свои личные данные» → «Продолжить»;
2. a VK account without one: phone → password → SMS code → «Создать учебный профиль» →
   «Информация о себе» → «Продолжить»;
3. no VK account: phone → SMS code → «Информация о себе» → «Продолжить» → «Создать учебный
   профиль» → «Продолжить».
Every page is a plain POST form (no JavaScript). The sign-in in progress (a *flow*) lives in
memory (`state.ephemeral`), keyed by an unguessable id in a hidden field, which also makes
it the forms' anti-CSRF token. SMS codes go to the `sms_inbox` table, never to a phone.

The token API follows VK ID field for field: `POST /oauth2/auth` (authorization_code with
PKCE S256, refresh_token with rotation), `/oauth2/user_info`, `/oauth2/logout`,
`/oauth2/revoke`. Like the official vkid-web-sdk, they take their parameters from the query
string or the form-encoded body (the body wins). Codes and tokens are stored as SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection, func, insert, select, update
from starlette.concurrency import run_in_threadpool

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.common import (
    SandboxState,
    get_state,
    normalize_phone,
    password_digest,
    password_matches,
    sha256,
    utcnow,
)
from sferum_desktop.sandbox.esh_helpers import write_transaction
from sferum_desktop.sandbox.links import _roles_and_school, mint_vk_tokens
from sferum_desktop.sandbox.pages import Markup, render

log = logging.getLogger("sferum_desktop.sandbox.vkid")

router = APIRouter()
PREFIX = "/vkid"  # where app.py mounts the router; the templates' form actions use it

CODE_TTL_S = 10 * 60
ACCESS_TOKEN_TTL_S = 3600  # VK ID's; the sandbox fault `access_token_ttl_s` overrides it
FLOW_IDLE_TTL_S = 30 * 60
SMS_CODE_TTL_S = 10 * 60
MAX_ATTEMPTS = 5  # wrong passwords, and separately wrong SMS codes, before a flow ends
MAX_SMS_PER_FLOW = 5
MAX_FLOWS = 10_000
MIN_PASSWORD_LENGTH = 6
DEFAULT_SCOPE = "vkid.personal_info"
KNOWN_SCOPES = ("vkid.personal_info", "messages")
# Not a secret: the sandbox signs `id_token` with HS256 and this published key.
ID_TOKEN_KEY = b"sferum-desktop-sandbox-vkid"

_VERIFIER = re.compile(r"[A-Za-z0-9_-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"[A-Za-zА-Яа-яЁё]+(?:[ '’-][A-Za-zА-Яа-яЁё]+)*")
_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

ROLE_NAMES = {
    "teacher": "Учитель",
    "admin": "Администратор",
    "student": "Ученик",
    "parent": "Родитель",
}
SCOPE_DATA = {
    "vkid.personal_info": (
        "Имя, фамилия и фото профиля",
        "Номер телефона (частично скрытый)",
        "Учебный профиль: ФИО, дата рождения, пол, организация и роль",
    ),
    "messages": ("Доступ к сообщениям и звонкам учебного профиля",),
}
RESTART = "Вернитесь в приложение и начните вход заново."

_flows_lock = threading.Lock()


# --- sign-in flows --------------------------------------------------------------------------


@dataclass
class Flow:
    """One sign-in in progress: the authorization request and how far the person got."""

    id: str
    client_id: str
    client_name: str
    redirect_uri: str
    state: str
    code_challenge: str
    scope: str
    device_id: str
    touched: float = field(default_factory=time.monotonic)
    step: str = "phone"
    phone: str | None = None
    vk_user_id: int | None = None
    sms_sha256: str | None = None
    sms_expires: float = 0.0
    sms_sent: int = 0
    password_failures: int = 0
    sms_failures: int = 0
    about: dict[str, Any] | None = None  # path 3: the form, until «Создать учебный профиль»
    message: str | None = None  # why the flow ended
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def _flows(state: SandboxState) -> dict[str, Flow]:
    """The flows in progress (a sandbox reset clears `ephemeral`, and with it the flows)."""
    flows: dict[str, Flow] = state.ephemeral.setdefault("vkid_flows", {})
    return flows


def _new_flow(sandbox: SandboxState, **request: str) -> Flow:
    """Start a flow, forgetting idle ones."""
    flows = _flows(sandbox)
    now = time.monotonic()
    with _flows_lock:
        for key in [k for k, f in flows.items() if now - f.touched > FLOW_IDLE_TTL_S]:
            del flows[key]
        while len(flows) >= MAX_FLOWS:
            del flows[min(flows, key=lambda k: flows[k].touched)]
        flow = Flow(id=secrets.token_urlsafe(24), device_id=secrets.token_urlsafe(32), **request)
        flows[flow.id] = flow
    return flow


def _find_flow(state: SandboxState, flow_id: str) -> Flow | None:
    """The live flow with that id, or None (unknown or idle too long)."""
    flow = _flows(state).get(flow_id or "")
    if flow is None or time.monotonic() - flow.touched > FLOW_IDLE_TTL_S:
        return None
    flow.touched = time.monotonic()
    return flow


def _end(flow: Flow, message: str) -> None:
    """Stop a flow for good; only «Вернуться» (an access_denied redirect) is left."""
    flow.step = "ended"
    flow.message = message


# --- small helpers --------------------------------------------------------------------------


def _with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` appended to its query (None values left out)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def redirect_allowed(redirect_uri: str, registered: list[str]) -> bool:
    """Whether `redirect_uri` is registered: exactly, or a loopback URI with any port.

    RFC 8252 §7.3: for `http` loopback redirect URIs the port is not compared.
    """
    if not redirect_uri or "#" in redirect_uri:
        return False
    if redirect_uri in registered:
        return True
    try:
        wanted = urlsplit(redirect_uri)
        _ = wanted.port  # a malformed port raises
    except ValueError:
        return False
    if wanted.scheme != "http" or wanted.hostname is None:
        return False
    for uri in registered:
        have = urlsplit(uri)
        if (
            have.scheme == "http"
            and have.hostname in _LOOPBACK_HOSTS
            and have.hostname == wanted.hostname
            and have.path == wanted.path
            and have.query == wanted.query
            and not have.username
            and not wanted.username
        ):
            return True
    return False


def _scope(raw: str | None) -> str:
    """The granted scope: the known ones asked for, in order; the default when none is."""
    asked = (raw or "").replace(",", " ").split()
    granted = [s for s in KNOWN_SCOPES if s in asked]
    return " ".join(granted) if granted else DEFAULT_SCOPE


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _phone_input(text: str) -> str | None:
    """A phone as stored (`+79991112233`) from what was typed (also 10 digits without +7)."""
    phone = normalize_phone(text)
    digits = re.sub(r"\D", "", text or "")
    if phone is None and len(digits) == 10:
        phone = "+7" + digits
    return phone


def _phone_shown(phone: str) -> str:
    """`+79991112233` as `+7 999 111-22-33`."""
    d = phone[2:]
    return f"+7 {d[0:3]} {d[3:6]}-{d[6:8]}-{d[8:10]}" if len(d) == 10 else phone


def masked_phone(phone: str | None) -> str:
    """VK ID's masked phone: `+7 *** ***-**-33`."""
    if not phone:
        return ""
    return f"+7 *** ***-**-{phone[-2:]}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def id_token(vk_user_id: int, client_id: str, ttl_s: int) -> str:
    """A JWT like VK ID's `id_token` (HS256 with the sandbox's published key)."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {
        "iss": "VK",
        "sub": vk_user_id,
        "app": int(client_id) if client_id.isdigit() else client_id,
        "iat": now,
        "exp": now + ttl_s,
        "jti": secrets.token_hex(8),
    }
    signing = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    signature = hmac.new(ID_TOKEN_KEY, signing.encode("ascii"), hashlib.sha256).digest()
    return f"{signing}.{_b64url(signature)}"


def _avatar_png(seed: int, size: int = 64) -> bytes:
    """A plain coloured square PNG: the default avatar of a sandbox VK account."""
    palette = ((0x3F, 0x8A, 0xE0), (0x4B, 0xB3, 0x4B), (0xE6, 0x46, 0x46), (0xFF, 0xA0, 0x00))
    r, g, b = palette[seed % len(palette)]
    row = b"\x00" + bytes((r, g, b)) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


# --- the VK ID database ---------------------------------------------------------------------


def _client(state: SandboxState, client_id: str) -> Any:
    """The registered client (`vk_clients` row) or None."""
    if not client_id:
        return None
    with state.engine.connect() as conn:
        return conn.execute(
            select(m.vk_clients).where(m.vk_clients.c.client_id == client_id)
        ).first()


def _account_by_phone(conn: Connection, phone: str) -> Any:
    return conn.execute(select(m.vk_accounts).where(m.vk_accounts.c.phone == phone)).first()


def _account(conn: Connection, vk_user_id: int) -> Any:
    return conn.execute(select(m.vk_accounts).where(m.vk_accounts.c.user_id == vk_user_id)).first()


def _profile(conn: Connection, vk_user_id: int) -> Any:
    return conn.execute(
        select(m.edu_profiles).where(m.edu_profiles.c.vk_user_id == vk_user_id)
    ).first()


def _org_name(conn: Connection, org_id: str | None) -> str | None:
    if not org_id:
        return None
    return conn.execute(select(m.orgs.c.name).where(m.orgs.c.sourced_id == org_id)).scalar()


def esh_affiliation(conn: Connection, phone: str) -> tuple[str | None, list[str]]:
    """The school and ESh roles of the ESh person with this phone, or (None, []).

    The same rule as a profile made by `/sandbox/dev/link` (`links._roles_and_school`).
    """
    person_id = conn.execute(
        select(m.users.c.sourced_id)
        .where(m.users.c.phone == phone, m.users.c.status == "active")
        .order_by(m.users.c.sourced_id)
        .limit(1)
    ).scalar()
    if person_id is None:
        return None, []
    roles, school = _roles_and_school(conn, person_id)
    return school, roles


def _next_id(conn: Connection, column: Any, first: int) -> int:
    """The next free id of `column` (inside a write transaction, so no one takes it first)."""
    current = conn.execute(select(func.max(column))).scalar()
    return max(int(current or 0) + 1, first)


def _create_account(state: SandboxState, phone: str, about: dict[str, Any]) -> int:
    """A new VK account (no password set) for a phone; returns its user id."""
    with write_transaction(state) as conn:
        existing = _account_by_phone(conn, phone)
        if existing is not None:
            return int(existing.user_id)
        user_id = _next_id(conn, m.vk_accounts.c.user_id, 100_000_001)
        conn.execute(
            insert(m.vk_accounts).values(
                user_id=user_id,
                phone=phone,
                password_sha256=None,
                salt=None,
                first_name=about["first_name"],
                last_name=about["last_name"],
                created_at=utcnow(),
            )
        )
    return user_id


def _create_profile(state: SandboxState, vk_user_id: int, phone: str, about: dict[str, Any]) -> int:
    """The educational profile of a VK account, in the school the phone's ESh person is in."""
    with write_transaction(state) as conn:
        existing = _profile(conn, vk_user_id)
        if existing is not None:
            return int(existing.id)
        org_id, roles = esh_affiliation(conn, phone)
        profile_id = _next_id(conn, m.edu_profiles.c.id, 200_000_001)
        conn.execute(
            insert(m.edu_profiles).values(
                id=profile_id,
                vk_user_id=vk_user_id,
                first_name=about["first_name"],
                last_name=about["last_name"],
                middle_name=about["middle_name"] or None,
                birthday=about["birthday"],
                sex=about["sex"],
                org_id=org_id,
                roles=roles,
                created_at=utcnow(),
            )
        )
    return profile_id


def _send_sms(state: SandboxState, phone: str, purpose: str) -> str:
    """Put a fresh 6-digit code in the SMS inbox of `phone`; returns its SHA-256."""
    code = f"{secrets.randbelow(10**6):06d}"
    if purpose == "reset":
        text = f"VK ID: {code} — код для сброса пароля. Никому не сообщайте его."
    else:
        text = f"VK ID: {code} — код для входа. Никому не сообщайте его."
    with state.engine.begin() as conn:
        conn.execute(
            insert(m.sms_inbox).values(phone=phone, code=code, text=text, sent_at=utcnow())
        )
    return sha256(code)


def revoke_grant(conn: Connection, grant_id: str) -> int:
    """Revoke every live token of a grant (a code and its refresh chain)."""
    result = conn.execute(
        update(m.vk_tokens)
        .where(m.vk_tokens.c.grant_id == grant_id, m.vk_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


# --- pages ----------------------------------------------------------------------------------

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'"
    ),
}


def _html(title: str, content: Markup, status_code: int = 200) -> HTMLResponse:
    """A whole VK ID page."""
    body = render("vkid.html", title=title, content=content)
    return HTMLResponse(body, status_code=status_code, headers=_PAGE_HEADERS)


def _box(css: str, message: str | None) -> Markup:
    """A message box above a form: `error` (red) or `ok` (green); nothing without a message."""
    if not message:
        return Markup("")
    role = "alert" if css == "error" else "status"
    return Markup(f'<div class="{css}" role="{role}">{html.escape(message)}</div>')


def error_page(message: str, hint: str = RESTART, status_code: int = 400) -> HTMLResponse:
    """The page of a request that cannot go back to the client: no redirect."""
    content = render("vkid_error.html", message=message, hint=hint)
    return _html("Ошибка авторизации", content, status_code)


def _intro(flow: Flow) -> Markup:
    return render("vkid_intro.html", client=flow.client_name)


def _cancel(flow: Flow) -> Markup:
    """The small «Отмена» form under every step: back to the client with access_denied."""
    return Markup(
        f'<form method="post" action="{PREFIX}/auth/cancel" class="cancel">'
        f'<input type="hidden" name="flow" value="{html.escape(flow.id)}">'
        '<button type="submit" class="link">Отмена</button></form>'
    )


def _profile_values(state: SandboxState, vk_user_id: int) -> dict[str, str]:
    """The educational profile as the pages show it."""
    with state.engine.connect() as conn:
        profile = _profile(conn, vk_user_id)
        organization = _org_name(conn, profile.org_id) if profile else None
    if profile is None:
        return {}
    return {
        "full_name": " ".join(
            p for p in (profile.last_name, profile.first_name, profile.middle_name) if p
        ),
        "last_name": profile.last_name,
        "first_name": profile.first_name,
        "middle_name": profile.middle_name or "—",
        "birthday": profile.birthday.strftime("%d.%m.%Y"),
        "sex": "Женский" if profile.sex == 1 else "Мужской",
        "organization": organization or "Организация не указана",
        "roles": ", ".join(ROLE_NAMES.get(r, r) for r in profile.roles or []) or "—",
    }


def _about_page(
    flow: Flow, values: Mapping[str, str], errors: Mapping[str, str], message: str | None
) -> Markup:
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name", "middle_name", "birthday"):
        fields[name] = values.get(name, "")
        fields[f"{name}_class"] = "invalid" if name in errors else ""
        fields[f"{name}_error"] = _field_error(name, errors.get(name))
    sex = values.get("sex", "")
    fields["male_checked"] = Markup("checked") if sex == "male" else Markup("")
    fields["female_checked"] = Markup("checked") if sex == "female" else Markup("")
    fields["sex_error"] = _field_error("sex", errors.get("sex"))
    return render(
        "vkid_about.html",
        intro=_intro(flow),
        cancel=_cancel(flow),
        flow=flow.id,
        error=_box("error", message),
        **fields,
    )


def _field_error(name: str, message: str | None) -> Markup:
    """The red message under a form field."""
    if not message:
        return Markup("")
    return Markup(
        f'<div class="field-error" id="{name}-error" role="alert">{html.escape(message)}</div>'
    )


def _page(
    state: SandboxState,
    flow: Flow,
    *,
    error: str | None = None,
    notice: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page of the flow's current step."""
    common: dict[str, Any] = {"intro": _intro(flow), "cancel": _cancel(flow), "flow": flow.id}
    phone = _phone_shown(flow.phone) if flow.phone else ""
    step = flow.step
    if step == "ended":
        content = render(
            "vkid_ended.html", message=flow.message, flow=flow.id, client=flow.client_name
        )
        return _html("Вход прерван", content, status_code)
    if step == "phone":
        shared = Markup(
            "\n".join(
                f"<li>{html.escape(item)}</li>"
                for scope in flow.scope.split()
                for item in SCOPE_DATA.get(scope, ())
            )
        )
        value = (values or {}).get("phone", "")
        content = render(
            "vkid_phone.html", error=_box("error", error), phone=value, shared=shared, **common
        )
        return _html("Вход в VK ID", content, status_code)
    if step == "password":
        content = render(
            "vkid_password.html",
            phone=phone,
            notice=_box("ok", notice),
            error=_box("error", error),
            **common,
        )
        return _html("Вход в VK ID", content, status_code)
    if step in ("code", "reset_code"):
        reset = step == "reset_code"
        content = render(
            "vkid_code.html",
            heading="Сброс пароля" if reset else "Введите код из СМС",
            action=f"{PREFIX}/auth/reset/code" if reset else f"{PREFIX}/auth/code",
            phone=phone,
            notice=_box("ok", notice),
            error=_box("error", error),
            **common,
        )
        return _html("Код из СМС", content, status_code)
    if step == "reset_password":
        content = render(
            "vkid_new_password.html",
            phone=phone,
            min_length=str(MIN_PASSWORD_LENGTH),
            error=_box("error", error),
            **common,
        )
        return _html("Новый пароль", content, status_code)
    if step == "about":
        content = _about_page(flow, values or {}, errors or {}, error)
        return _html("Информация о себе", content, status_code)
    if step == "offer":
        return _html("Учебный профиль", render("vkid_offer.html", **common), status_code)
    if step == "create":
        return _html("Учебный профиль", render("vkid_create.html", **common), status_code)
    assert flow.vk_user_id is not None
    profile = _profile_values(state, flow.vk_user_id)
    if step == "choose":
        content = render(
            "vkid_choose.html",
            full_name=profile["full_name"],
            organization=profile["organization"],
            **common,
        )
        return _html("Учебный профиль", content, status_code)
    if step == "check":
        heading, hint = (
            "Проверьте свои личные данные",
            "Эти данные будут отображаться на платформе Сферум.",
        )
    else:  # "created"
        heading, hint = (
            "Учебный профиль создан",
            "Проверьте свои личные данные: они будут отображаться на платформе Сферум.",
        )
    profile.pop("full_name")
    content = render("vkid_profile.html", heading=heading, hint=hint, **profile, **common)
    return _html(heading, content, status_code)


# --- the authorization request --------------------------------------------------------------


def _q(description: str) -> Any:
    return Query(description=description)


@router.get(
    "/authorize",
    response_class=HTMLResponse,
    responses={
        302: {"description": "Back to `redirect_uri` with `error=invalid_request&state`"},
        400: {"description": "Unknown client or unregistered redirect_uri: a page, no redirect"},
    },
)
async def authorize(
    request: Request,
    *,
    response_type: Annotated[str | None, _q("`code`")] = None,
    client_id: Annotated[str | None, _q("the app's id")] = None,
    redirect_uri: Annotated[str | None, _q("registered; loopback URIs match any port")] = None,
    state: Annotated[str | None, _q("echoed on the redirect")] = None,
    code_challenge: Annotated[str | None, _q("base64url(SHA-256(code_verifier))")] = None,
    code_challenge_method: Annotated[str | None, _q("`s256`")] = None,
    scope: Annotated[str | None, _q("space separated; default `vkid.personal_info`")] = None,
    prompt: Annotated[str | None, _q("accepted, ignored")] = None,
    lang_id: Annotated[str | None, _q("accepted, ignored: the pages are Russian")] = None,
) -> Response:
    """Start a sign-in: check the client and its redirect URI, then show «Вход в VK ID»."""
    sandbox = get_state(request)
    client = await run_in_threadpool(_client, sandbox, client_id or "")
    if client is None:
        return error_page(
            "Приложение не найдено: неизвестный идентификатор приложения (client_id)."
        )
    if not redirect_uri or not redirect_allowed(redirect_uri, list(client.redirect_uris or [])):
        return error_page(
            f"Адрес возврата (redirect_uri) не зарегистрирован для приложения «{client.name}»."
        )
    back_to = redirect_uri

    def refuse(description: str) -> RedirectResponse:
        params = {"error": "invalid_request", "error_description": description, "state": state}
        return RedirectResponse(
            _with_query(back_to, params), status_code=302, headers={"Cache-Control": "no-store"}
        )

    if response_type != "code":
        return refuse("response_type must be code")
    if not code_challenge or not code_challenge_method:
        return refuse("code_challenge and code_challenge_method are required (PKCE)")
    if code_challenge_method.lower() != "s256":
        return refuse("code_challenge_method must be s256")
    if not _CHALLENGE.fullmatch(code_challenge):
        return refuse("code_challenge must be base64url(SHA-256(code_verifier)) without padding")
    if not state:
        return refuse("state is required")
    flow = _new_flow(
        sandbox,
        client_id=client.client_id,
        client_name=client.name,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=code_challenge,
        scope=_scope(scope),
    )
    return _page(sandbox, flow)


# --- the sign-in steps ----------------------------------------------------------------------


def _check_sms(flow: Flow, typed: str) -> str | None:
    """None when `typed` is the flow's current SMS code, else the message to show."""
    code = re.sub(r"\s", "", typed or "")
    if not code:
        return "Введите код из СМС."
    if flow.sms_sha256 is None or time.monotonic() > flow.sms_expires:
        return "Срок действия кода истёк. Нажмите «Отправить код ещё раз»."
    if hmac.compare_digest(sha256(code), flow.sms_sha256):
        flow.sms_sha256 = None
        return None
    flow.sms_failures += 1
    left = MAX_ATTEMPTS - flow.sms_failures
    if left <= 0:
        _end(flow, f"Слишком много неверных попыток ввода кода из СМС. {RESTART}")
        return "ended"
    return f"Неверный код. Осталось попыток: {left}."


def _sms(state: SandboxState, flow: Flow, purpose: str) -> None:
    assert flow.phone is not None
    flow.sms_sha256 = _send_sms(state, flow.phone, purpose)
    flow.sms_expires = time.monotonic() + SMS_CODE_TTL_S
    flow.sms_sent += 1


def _step_phone(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    typed = form.get("phone", "").strip()
    if not typed:
        return _page(state, flow, error="Введите номер телефона.")
    phone = _phone_input(typed)
    if phone is None:
        return _page(
            state,
            flow,
            error="Неверный номер телефона. Введите его в формате +7 999 111-22-33.",
            values={"phone": typed},
        )
    with state.engine.connect() as conn:
        account = _account_by_phone(conn, phone)
    flow.phone = phone
    if account is not None:
        flow.vk_user_id = int(account.user_id)
        flow.step = "password"
    else:
        flow.vk_user_id = None
        _sms(state, flow, "login")
        flow.step = "code"
    return _page(state, flow)


def _step_password(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    password = form.get("password", "")
    if not password:
        return _page(state, flow, error="Введите пароль.")
    assert flow.vk_user_id is not None
    with state.engine.connect() as conn:
        account = _account(conn, flow.vk_user_id)
    if account is not None and password_matches(account.salt, account.password_sha256, password):
        _sms(state, flow, "login")
        flow.step = "code"
        return _page(state, flow)
    flow.password_failures += 1
    left = MAX_ATTEMPTS - flow.password_failures
    if left <= 0:
        _end(flow, f"Слишком много неверных попыток ввода пароля. {RESTART}")
        return _page(state, flow)
    return _page(state, flow, error=f"Неверный пароль. Осталось попыток: {left}.")


def _step_reset(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    if flow.sms_sent >= MAX_SMS_PER_FLOW:
        return _page(state, flow, error=f"Вы запросили слишком много кодов. {RESTART}")
    _sms(state, flow, "reset")
    flow.step = "reset_code"
    return _page(state, flow)


def _step_reset_code(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    problem = _check_sms(flow, form.get("code", ""))
    if problem is not None:
        return _page(state, flow, error=problem)
    flow.step = "reset_password"
    return _page(state, flow)


def _step_reset_password(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    password, again = form.get("password", ""), form.get("password2", "")
    if len(password) < MIN_PASSWORD_LENGTH:
        return _page(
            state, flow, error=f"Пароль должен быть не короче {MIN_PASSWORD_LENGTH} символов."
        )
    if password != again:
        return _page(state, flow, error="Пароли не совпадают.")
    assert flow.vk_user_id is not None
    salt = secrets.token_hex(8)
    with state.engine.begin() as conn:
        conn.execute(
            update(m.vk_accounts)
            .where(m.vk_accounts.c.user_id == flow.vk_user_id)
            .values(salt=salt, password_sha256=password_digest(salt, password))
        )
    flow.password_failures = 0
    flow.step = "password"
    return _page(state, flow, notice="Пароль изменён. Войдите с новым паролем.")


def _step_code(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    problem = _check_sms(flow, form.get("code", ""))
    if problem is not None:
        return _page(state, flow, error=problem)
    if flow.vk_user_id is None:
        flow.step = "about"
        return _page(state, flow)
    with state.engine.connect() as conn:
        has_profile = _profile(conn, flow.vk_user_id) is not None
    flow.step = "choose" if has_profile else "offer"
    return _page(state, flow)


def _step_resend(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    if flow.sms_sent >= MAX_SMS_PER_FLOW:
        return _page(state, flow, error=f"Вы запросили слишком много кодов. {RESTART}")
    _sms(state, flow, "reset" if flow.step == "reset_code" else "login")
    return _page(state, flow, notice="Мы отправили новый код.")


def _step_choose(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    flow.step = "check"
    return _page(state, flow)


def _step_new(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    assert flow.vk_user_id is not None
    with state.engine.connect() as conn:
        account = _account(conn, flow.vk_user_id)
    flow.step = "about"
    values = {"first_name": account.first_name, "last_name": account.last_name} if account else {}
    return _page(state, flow, values=values)


def validate_about(form: Mapping[str, str], today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """The «Информация о себе» form: (clean values, Russian messages by field)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, required, missing in (
        ("first_name", True, "Введите имя."),
        ("last_name", True, "Введите фамилию."),
        ("middle_name", False, ""),
    ):
        value = " ".join(form.get(name, "").split())
        clean[name] = value
        if not value:
            if required:
                errors[name] = missing
        elif len(value) > 50:
            errors[name] = "Не больше 50 символов."
        elif not _NAME.fullmatch(value):
            errors[name] = "Используйте только буквы, пробел, дефис или апостроф."
    raw = form.get("birthday", "").strip()
    match = _DATE.fullmatch(raw)
    if not raw:
        errors["birthday"] = "Введите дату рождения."
    elif match is None:
        errors["birthday"] = "Введите дату в формате ДД.ММ.ГГГГ, например 25.07.1987."
    else:
        try:
            birthday = date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            errors["birthday"] = "Такой даты нет. Проверьте день и месяц."
        else:
            if birthday > today:
                errors["birthday"] = "Дата рождения не может быть в будущем."
            elif birthday.year < 1900:
                errors["birthday"] = "Проверьте год рождения."
            else:
                clean["birthday"] = birthday
    sex = form.get("sex", "")
    if sex not in ("male", "female"):
        errors["sex"] = "Укажите пол."
    else:
        clean["sex"] = 2 if sex == "male" else 1
    return clean, errors


def _step_about(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    clean, errors = validate_about(form, utcnow().date())
    if errors:
        values = {
            k: form.get(k, "")
            for k in ("first_name", "last_name", "middle_name", "birthday", "sex")
        }
        return _page(
            state,
            flow,
            error="Проверьте, правильно ли заполнены поля.",
            values=values,
            errors=errors,
            status_code=422,
        )
    assert flow.phone is not None
    if flow.vk_user_id is not None:  # path 2: the profile now, then back to the client
        _create_profile(state, flow.vk_user_id, flow.phone, clean)
        return _finish(state, flow)
    flow.vk_user_id = _create_account(state, flow.phone, clean)  # path 3: the VK account first
    flow.about = clean
    flow.step = "create"
    return _page(state, flow)


def _step_create(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    assert flow.vk_user_id is not None and flow.phone is not None and flow.about is not None
    _create_profile(state, flow.vk_user_id, flow.phone, flow.about)
    flow.step = "created"
    return _page(state, flow)


def _finish(state: SandboxState, flow: Flow) -> Response:
    """Issue the authorization code and send the browser back to the client."""
    assert flow.vk_user_id is not None
    code = secrets.token_urlsafe(48)
    with state.engine.begin() as conn:
        conn.execute(
            insert(m.vk_codes).values(
                code_sha256=sha256(code),
                vk_user_id=flow.vk_user_id,
                client_id=flow.client_id,
                redirect_uri=flow.redirect_uri,
                code_challenge=flow.code_challenge,
                scope=flow.scope,
                device_id=flow.device_id,
                expires_at=utcnow() + timedelta(seconds=CODE_TTL_S),
            )
        )
    _flows(state).pop(flow.id, None)
    log.info("VK ID sign-in finished for client %s", flow.client_id)
    params = {"code": code, "state": flow.state, "device_id": flow.device_id, "type": "code_v2"}
    return RedirectResponse(
        _with_query(flow.redirect_uri, params),
        status_code=303,
        headers={"Cache-Control": "no-store"},
    )


def _step_finish(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    return _finish(state, flow)


def _step_cancel(state: SandboxState, flow: Flow, form: Mapping[str, str]) -> Response:
    _flows(state).pop(flow.id, None)
    params = {
        "error": "access_denied",
        "error_description": "the user cancelled the sign-in"
        if flow.step != "ended"
        else "sign-in aborted after too many attempts",
        "state": flow.state,
    }
    return RedirectResponse(_with_query(flow.redirect_uri, params), status_code=303)


Step = Callable[[SandboxState, Flow, Mapping[str, str]], Response]

# action -> (the steps it is valid in, its handler)
_ACTIONS: dict[str, tuple[frozenset[str], Step]] = {
    "phone": (frozenset({"phone"}), _step_phone),
    "password": (frozenset({"password"}), _step_password),
    "reset": (frozenset({"password"}), _step_reset),
    "reset/code": (frozenset({"reset_code"}), _step_reset_code),
    "reset/password": (frozenset({"reset_password"}), _step_reset_password),
    "code": (frozenset({"code"}), _step_code),
    "resend": (frozenset({"code", "reset_code"}), _step_resend),
    "choose": (frozenset({"choose"}), _step_choose),
    "new": (frozenset({"offer"}), _step_new),
    "about": (frozenset({"about"}), _step_about),
    "create": (frozenset({"create"}), _step_create),
    "finish": (frozenset({"check", "created"}), _step_finish),
}


def _run_step(state: SandboxState, action: str, form: Mapping[str, str]) -> Response:
    flow = _find_flow(state, form.get("flow", ""))
    if flow is None:
        return error_page("Сеанс входа истёк или не найден.")
    with flow.lock:
        if action == "cancel":
            return _step_cancel(state, flow, form)
        allowed, handler = _ACTIONS[action]
        if flow.step not in allowed:  # a stale page (Back button, double submit): show where we are
            return _page(state, flow)
        return handler(state, flow, form)


async def _form(request: Request) -> dict[str, str]:
    """A request's form-encoded text fields."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _step_route(action: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        form = await _form(request)
        return await run_in_threadpool(_run_step, get_state(request), action, form)

    endpoint.__name__ = f"vkid_step_{action.replace('/', '_')}"
    endpoint.__doc__ = f"Sign-in step «{action}» (a POST form of the VK ID pages)."
    return endpoint


for _action in (*_ACTIONS, "cancel"):
    router.add_api_route(
        f"/auth/{_action}", _step_route(_action), methods=["POST"], include_in_schema=False
    )


# --- the token API --------------------------------------------------------------------------


class OAuthError(Exception):
    """A VK ID `oauth2` error: `{error, error_description[, state]}` with its HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_json(payload: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status_code, headers=_NO_STORE)


def _oauth_error(error: OAuthError, state: str | None, *, with_state: bool) -> JSONResponse:
    payload: dict[str, Any] = {"error": error.error, "error_description": error.description}
    if with_state:
        payload["state"] = state
    return _oauth_json(payload, error.status)


async def _params(request: Request) -> dict[str, str]:
    """The query parameters, overridden by the form-encoded body, as VK ID reads them."""
    params = {k: v for k, v in request.query_params.items()}
    form = await request.form()
    params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _require(params: Mapping[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise OAuthError("invalid_request", f"{name} is required")


def _known_client(state: SandboxState, params: Mapping[str, str]) -> str:
    """The request's `client_id` when registered; invalid_request / invalid_client otherwise."""
    _require(params, "client_id")
    client_id = params["client_id"]
    if _client(state, client_id) is None:
        raise OAuthError("invalid_client", "client_id is unknown", 401)
    return client_id


def _access_ttl_s(state: SandboxState) -> int:
    """VK ID's access token lifetime, unless the sandbox fault `access_token_ttl_s` is set."""
    return int(state.faults.get("access_token_ttl_s") or ACCESS_TOKEN_TTL_S)


def _token_set(
    state: SandboxState, tokens: tuple[str, str], vk_user_id: int, client_id: str, scope: str
) -> dict[str, Any]:
    """The token endpoint's answer, in VK ID's field order."""
    access, refresh = tokens
    ttl = _access_ttl_s(state)
    return {
        "access_token": access,
        "refresh_token": refresh,
        "id_token": id_token(vk_user_id, client_id, ttl),
        "token_type": "Bearer",
        "expires_in": ttl,
        "user_id": vk_user_id,
        "state": None,  # filled in by the caller
        "scope": scope,
    }


def _exchange_code(
    state: SandboxState, client_id: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """grant_type=authorization_code: a single-use code and its PKCE verifier → tokens."""
    _require(params, "code", "code_verifier", "redirect_uri", "device_id")
    verifier = params["code_verifier"]
    if not _VERIFIER.fullmatch(verifier):
        raise OAuthError(
            "invalid_request",
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '_' and '-'",
        )
    digest = sha256(params["code"])
    c = m.vk_codes
    now = utcnow()
    problem: str | None = None
    with write_transaction(state) as conn:
        row = conn.execute(select(c).where(c.c.code_sha256 == digest)).first()
        if row is None or row.client_id != client_id:
            problem = "code is invalid"
        elif row.used_at is not None:
            revoke_grant(conn, digest)
            problem = "code has already been used; the tokens issued for it are revoked"
        elif row.expires_at <= now:
            problem = "code has expired"
        elif row.redirect_uri != params["redirect_uri"]:
            problem = "redirect_uri does not match the authorization request"
        elif row.device_id != params["device_id"]:
            problem = "device_id does not match the one the code was issued for"
        elif not hmac.compare_digest(s256(verifier), row.code_challenge):
            problem = "code_verifier does not match code_challenge"
        else:
            conn.execute(update(c).where(c.c.code_sha256 == digest).values(used_at=now))
            access, refresh = mint_vk_tokens(
                conn,
                row.vk_user_id,
                row.scope,
                client_id,
                device_id=row.device_id,
                grant_id=digest,
                access_ttl_s=_access_ttl_s(state),
            )
    if problem is not None:
        raise OAuthError("invalid_grant", problem)
    return _token_set(state, (access, refresh), int(row.vk_user_id), client_id, row.scope)


def _refresh(state: SandboxState, client_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """grant_type=refresh_token: rotate a single-use refresh token into a new token set."""
    _require(params, "refresh_token", "device_id")
    digest = sha256(params["refresh_token"])
    t = m.vk_tokens
    now = utcnow()
    problem: str | None = None
    with write_transaction(state) as conn:
        row = conn.execute(
            select(t).where(t.c.token_sha256 == digest, t.c.kind == "refresh")
        ).first()
        if row is None or row.client_id != client_id:
            problem = "refresh_token is invalid"
        elif row.revoked_at is not None:
            problem = "refresh_token has been revoked"
        elif row.used_at is not None:
            revoke_grant(conn, row.grant_id)
            problem = "refresh_token has already been used; every token of its grant is revoked"
        elif row.device_id is not None and row.device_id != params["device_id"]:
            problem = "device_id does not match the one the token was issued for"
        elif row.expires_at <= now:
            problem = "refresh_token has expired"
        else:
            conn.execute(update(t).where(t.c.token_sha256 == digest).values(used_at=now))
            access, refresh = mint_vk_tokens(
                conn,
                row.vk_user_id,
                row.scope,
                client_id,
                device_id=row.device_id or params["device_id"],
                grant_id=row.grant_id,
                access_ttl_s=_access_ttl_s(state),
            )
    if problem is not None:
        raise OAuthError("invalid_grant", problem)
    return _token_set(state, (access, refresh), int(row.vk_user_id), client_id, row.scope)


def token_endpoint(state: SandboxState, params: Mapping[str, str]) -> JSONResponse:
    """`POST /oauth2/auth` on already merged parameters."""
    state_param = params.get("state")
    try:
        client_id = _known_client(state, params)
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            payload = _exchange_code(state, client_id, params)
        elif grant_type == "refresh_token":
            payload = _refresh(state, client_id, params)
        elif not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        else:
            raise OAuthError(
                "invalid_request", "grant_type must be authorization_code or refresh_token"
            )
    except OAuthError as error:
        return _oauth_error(error, state_param, with_state=True)
    payload["state"] = state_param
    return _oauth_json(payload)


def _form_body(fields: dict[str, str]) -> dict[str, Any]:
    """OpenAPI of a form-encoded body (each field may come in the query string instead)."""
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    schema = {"type": "object", "properties": properties}
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


_ERRORS = {
    400: {"description": "`{error, error_description[, state]}`: invalid_request, invalid_grant"},
    401: {"description": "`{error, error_description}`: invalid_client, invalid_token"},
}


@router.post(
    "/oauth2/auth",
    responses={**_ERRORS, 429: {"description": "slow_down (the sandbox's rate fault)"}},
    openapi_extra=_form_body(
        {
            "grant_type": "`authorization_code` or `refresh_token`",
            "code": "authorization_code: the code of the redirect",
            "code_verifier": "authorization_code: the PKCE verifier (43–128 of A-Z a-z 0-9 _ -)",
            "redirect_uri": "authorization_code: as in the authorization request",
            "refresh_token": "refresh_token: the current refresh token (single use)",
            "client_id": "the app's id",
            "device_id": "the `device_id` of the redirect",
            "state": "echoed in the answer",
        }
    ),
)
async def oauth2_auth(request: Request) -> JSONResponse:
    """Exchange a code (PKCE) or rotate a refresh token: `{access_token, refresh_token, …}`."""
    params = await _params(request)
    return await run_in_threadpool(token_endpoint, get_state(request), params)


def _access_row(conn: Connection, token: str, client_id: str) -> Any:
    """The live access token row; invalid_token (401) when unknown, foreign, revoked or expired."""
    t = m.vk_tokens
    row = conn.execute(
        select(t).where(t.c.token_sha256 == sha256(token), t.c.kind == "access")
    ).first()
    if row is None or row.client_id != client_id:
        raise OAuthError("invalid_token", "access_token is invalid", 401)
    if row.revoked_at is not None:
        raise OAuthError("invalid_token", "access_token has been revoked", 401)
    if row.expires_at <= utcnow():
        raise OAuthError("invalid_token", "access_token has expired", 401)
    return row


def user_info(state: SandboxState, params: Mapping[str, str], base_url: str) -> dict[str, Any]:
    """The VK user and their educational profile behind an access token."""
    client_id = _known_client(state, params)
    _require(params, "access_token")
    with state.engine.connect() as conn:
        token = _access_row(conn, params["access_token"], client_id)
        account = _account(conn, token.vk_user_id)
        profile = _profile(conn, token.vk_user_id)
        org_name = _org_name(conn, profile.org_id) if profile is not None else None
    if account is None:
        raise OAuthError("invalid_token", "the VK ID account of this token no longer exists", 401)
    edu: dict[str, Any] | None = None
    if profile is not None:
        edu = {
            "id": profile.id,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "middle_name": profile.middle_name,
            "birthday": profile.birthday.strftime("%d.%m.%Y"),
            "sex": profile.sex,
            "roles": list(profile.roles or []),
            "organizations": ([{"id": profile.org_id, "name": org_name}] if profile.org_id else []),
        }
    return {
        "user": {
            "user_id": str(account.user_id),
            "first_name": account.first_name,
            "last_name": account.last_name,
            "avatar": f"{base_url}{PREFIX}/avatar/{account.user_id}.png",
            "phone": masked_phone(account.phone),
            "edu_profile": edu,
        }
    }


@router.post(
    "/oauth2/user_info",
    responses=_ERRORS,
    openapi_extra=_form_body({"client_id": "the app's id", "access_token": "the access token"}),
)
async def oauth2_user_info(request: Request) -> JSONResponse:
    """`{user: {user_id, first_name, last_name, avatar, phone (masked), edu_profile}}`."""
    params = await _params(request)
    base_url = str(request.base_url).rstrip("/")
    try:
        payload = await run_in_threadpool(user_info, get_state(request), params, base_url)
    except OAuthError as error:
        return _oauth_error(error, None, with_state=False)
    return _oauth_json(payload)


def end_tokens(
    state: SandboxState, params: Mapping[str, str], *, whole_app: bool
) -> dict[str, int]:
    """Logout (the token's grant) or revoke (every token of the user for this client)."""
    client_id = _known_client(state, params)
    token = params.get("access_token") or params.get("token") or ""
    if not token:
        raise OAuthError("invalid_request", "access_token is required")
    t = m.vk_tokens
    with write_transaction(state) as conn:
        row = conn.execute(select(t).where(t.c.token_sha256 == sha256(token))).first()
        if row is None or row.client_id != client_id:
            raise OAuthError("invalid_token", "access_token is invalid", 401)
        if whole_app:
            conn.execute(
                update(t)
                .where(
                    t.c.vk_user_id == row.vk_user_id,
                    t.c.client_id == client_id,
                    t.c.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
        else:
            revoke_grant(conn, row.grant_id)
    return {"response": 1}


async def _end_tokens(request: Request, *, whole_app: bool) -> JSONResponse:
    params = await _params(request)
    try:
        payload = await run_in_threadpool(
            lambda: end_tokens(get_state(request), params, whole_app=whole_app)
        )
    except OAuthError as error:
        return _oauth_error(error, None, with_state=False)
    return _oauth_json(payload)


@router.post(
    "/oauth2/logout",
    responses=_ERRORS,
    openapi_extra=_form_body({"client_id": "the app's id", "access_token": "the access token"}),
)
async def oauth2_logout(request: Request) -> JSONResponse:
    """End the session of an access token: it and its refresh chain stop working."""
    return await _end_tokens(request, whole_app=False)


@router.post(
    "/oauth2/revoke",
    responses=_ERRORS,
    openapi_extra=_form_body(
        {
            "client_id": "the app's id",
            "access_token": "a token of the app",
            "token": "the same, RFC 7009",
        }
    ),
)
async def oauth2_revoke(request: Request) -> JSONResponse:
    """Revoke the app's access: every token of that user for this client stops working."""
    return await _end_tokens(request, whole_app=True)


@router.get("/avatar/{user_id}.png", include_in_schema=False)
async def avatar(user_id: int) -> Response:
    """The default avatar of a sandbox VK account (the `avatar` URL of user_info)."""
    return Response(
        _avatar_png(user_id), media_type="image/png", headers={"Cache-Control": "max-age=86400"}
    )
