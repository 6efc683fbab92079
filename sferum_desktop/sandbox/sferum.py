"""Sferum: the VK API methods the client uses, with VK's conventions, under `/sferum`.

`POST|GET /sferum/method/<name>` takes form-encoded or query parameters, `v` (5.199 or later)
and a VK ID access token (`access_token` or `Authorization: Bearer`), and answers HTTP 200
with `{"response": ...}` or `{"error": {"error_code", "error_msg", "request_params"}}`.
Each token may make 3 requests per second (error 6); `execute` runs up to 25 calls of the
VKScript subset in `vkscript` as one request. Flood control (error 9), captcha (error 14) and
the member limit (error 103) have sandbox thresholds that `state.faults` can change; the
decisions beyond `spec/sferum-api.md` are in `docs/esh-api-details.md`, «Sferum in the
sandbox».
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection, Select, and_, delete, func, insert, select
from starlette.concurrency import run_in_threadpool

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox import vkscript
from sferum_desktop.sandbox.common import (
    SandboxState,
    get_state,
    sha256,
    utcnow,
    vk_error,
    vk_request_params,
)
from sferum_desktop.sandbox.esh_helpers import write_transaction

log = logging.getLogger("sferum_desktop.sandbox.sferum")

router = APIRouter()

MIN_VERSION = (5, 199)
CHAT_PEER_BASE = 2_000_000_000
RATE_LIMIT_RPS = 3  # requests per second per token, as VK allows a user token
MAX_EXECUTE_CALLS = 25
MAX_PAGE = 200  # `count` of the paged methods
MAX_USER_IDS = 1000  # users.get, messages.createChat
# Sandbox thresholds, each overridable by the `state.faults` key of the same name.
LIMITS = {
    "chat_member_limit": 2000,  # members of one chat (error 103 beyond)
    "flood_chats_per_hour": 300,  # messages.createChat per token (error 9 beyond)
    "flood_member_changes_per_hour": 10_000,  # addChatUser/removeChatUser per token (error 9)
}
FLOOD_PERIOD_S = 3600.0
CAPTCHA_TTL_S = 600.0
CAPTCHA_MAX_PENDING = 10_000
MANAGER_ROLES = frozenset({"teacher", "admin"})

_UNKNOWN_METHOD = "Unknown method passed"
_NO_SCOPE = "Access denied: no access to call this method"
_NOT_MANAGER = (
    "Access denied: only teachers and administrators of the chat's organization "
    "can create chats and change their members"
)
_NOT_IN_ORG = "Access denied: the user is not a member of the chat's organization"
_NO_CHAT_ACCESS = "You don't have access to this chat"
_NOT_CHAT_ADMIN = "You are not admin of this chat"
_NO_CHAT = "Chat does not exist"
_NOT_IN_CHAT = "User not found in chat"
_VERSION_NOTE = (
    'Version param should be passed as "v". "version" param is invalid and not supported.'
)


class VkApiError(Exception):
    """A VK API error: its code, VK's message and extra fields of the error object."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.extra = extra

    def body(self, request_params: list[dict[str, str]]) -> dict[str, Any]:
        """The `{"error": ...}` answer of a failed call."""
        answer = vk_error(self.code, self.message, request_params)
        answer["error"].update(self.extra)
        return answer


def bad_param(text: str) -> VkApiError:
    """Error 100 with VK's wording."""
    return VkApiError(100, f"One of the parameters specified was missing or invalid: {text}")


# --- parameters -------------------------------------------------------------------------------


class Params:
    """A call's string parameters, with VK's validation messages."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.values = dict(pairs)

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string parameter; missing or empty is None (or error 100 when required)."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_param(f"{name} is undefined")
            return None
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer parameter within [minimum, maximum]."""
        raw = self.text(name, required=required)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise bad_param(f"{name} not integer") from None
        if minimum is not None and value < minimum:
            raise bad_param(f"{name} should be greater or equal to {minimum}")
        if maximum is not None and value > maximum:
            raise bad_param(f"{name} should be less or equal to {maximum}")
        return value

    def required_int(self, name: str, *, minimum: int = 1) -> int:
        """A required positive (or at least `minimum`) integer."""
        value = self.integer(name, required=True, minimum=minimum)
        assert value is not None
        return value

    def ids(self, name: str, *, required: bool = False, limit: int = MAX_USER_IDS) -> list[int]:
        """A comma-separated list of positive ids, in order, without repeats."""
        raw = self.text(name, required=required)
        if raw is None:
            return []
        ids: dict[int, None] = {}  # ordered, without repeats
        for item in raw.split(","):
            part = item.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) <= 0:
                raise bad_param(f"{name} should be a comma-separated list of positive numbers")
            ids[int(part)] = None
        if len(ids) > limit:
            raise bad_param(f"{name} should contain at most {limit} ids")
        return list(ids)

    def flag(self, name: str) -> bool:
        """A VK flag: 1/0 (also true/false)."""
        raw = (self.text(name) or "0").strip().lower()
        if raw in ("1", "true"):
            return True
        if raw in ("0", "false"):
            return False
        raise bad_param(f"{name} should be 0 or 1")

    def chat_peer(self, name: str = "peer_id") -> int:
        """The chat id of a chat peer (2000000000 + chat_id)."""
        peer = self.required_int(name)
        if peer <= CHAT_PEER_BASE:
            raise bad_param(f"{name} should be a chat peer (2000000000 + chat_id)")
        return peer - CHAT_PEER_BASE

    def page(self, default_count: int = 20) -> tuple[int, int]:
        """`offset` and `count` (at most 200)."""
        offset = self.integer("offset", default=0, minimum=0)
        count = self.integer("count", default=default_count, minimum=0, maximum=MAX_PAGE)
        assert offset is not None and count is not None
        return offset, count


# --- per-run scratch state: rate windows, flood counters, captchas ------------------------------


@dataclass
class _Captcha:
    """A pending captcha: its answer and when it was made (monotonic seconds)."""

    key: str
    created: float


@dataclass
class Runtime:
    """Sferum's scratch state for one sandbox run (kept in `state.ephemeral`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rate: dict[str, deque[float]] = field(default_factory=dict)
    flood_windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    captchas: dict[str, _Captcha] = field(default_factory=dict)

    def throttle(self, token_key: str, now: float) -> None:
        """Count a request of a token; error 6 when it made 3 in the last second."""
        with self.lock:
            if len(self.rate) > 4096:
                self.rate = {k: w for k, w in self.rate.items() if w and w[-1] > now - 1}
            window = self.rate.setdefault(token_key, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= RATE_LIMIT_RPS:
                raise VkApiError(6, "Too many requests per second")
            window.append(now)

    def flood(self, token_key: str, kind: str, limit: int, now: float) -> None:
        """Count an action of `kind`; error 9 when the token did `limit` in the flood period."""
        with self.lock:
            window = self.flood_windows.setdefault((token_key, kind), deque())
            while window and window[0] <= now - FLOOD_PERIOD_S:
                window.popleft()
            if len(window) >= limit:
                raise VkApiError(9, "Flood control")
            window.append(now)

    def new_captcha(self, state: SandboxState) -> str:
        """Make a captcha; return its sid."""
        rng = state.fault_rng
        with self.lock:
            now = time.monotonic()
            for sid in [s for s, c in self.captchas.items() if c.created < now - CAPTCHA_TTL_S]:
                del self.captchas[sid]
            while len(self.captchas) >= CAPTCHA_MAX_PENDING:
                del self.captchas[next(iter(self.captchas))]
            sid = str(rng.randrange(10**11, 10**12))
            while sid in self.captchas:
                sid = str(rng.randrange(10**11, 10**12))
            key = "".join(rng.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))
            self.captchas[sid] = _Captcha(key, now)
            return sid

    def captcha_key(self, sid: str) -> str | None:
        """The expected answer of a pending captcha."""
        with self.lock:
            captcha = self.captchas.get(sid)
            if captcha is None or captcha.created < time.monotonic() - CAPTCHA_TTL_S:
                return None
            return captcha.key

    def solve_captcha(self, sid: str, key: str) -> bool:
        """Whether `key` answers captcha `sid`; a captcha takes one answer, right or wrong."""
        expected = self.captcha_key(sid)
        with self.lock:
            self.captchas.pop(sid, None)
        return expected is not None and secrets.compare_digest(
            key.strip().lower().encode(), expected.encode()
        )


def runtime(state: SandboxState) -> Runtime:
    """The sandbox run's Sferum scratch state (a reset of the sandbox starts a new one)."""
    found = state.ephemeral.setdefault("sferum", Runtime())
    assert isinstance(found, Runtime)
    return found


def captcha_key(state: SandboxState, sid: str) -> str | None:
    """The answer of a pending captcha, for `GET /sandbox/dev/captcha?sid=`."""
    return runtime(state).captcha_key(sid)


def limit(state: SandboxState, name: str) -> int:
    """A sandbox threshold: the `state.faults` key of that name, else the default."""
    value = state.faults.get(name)
    return int(value) if value else LIMITS[name]


# --- the caller ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The VK user behind a valid access token, with their educational profile."""

    user_id: int
    token_key: str  # sha256 of the token: what the rate limit and flood control count
    scopes: frozenset[str]
    org_id: str | None
    roles: frozenset[str]

    def manages(self, org_id: str | None) -> bool:
        """Whether the profile is a teacher or admin of `org_id`."""
        return org_id is not None and self.org_id == org_id and bool(self.roles & MANAGER_ROLES)


def authenticate(state: SandboxState, token: str | None) -> Caller:
    """The caller behind an access token, or error 5 as VK words it."""
    if not token:
        raise VkApiError(5, "User authorization failed: no access_token passed.")
    key = sha256(token)
    with state.engine.connect() as conn:
        row = conn.execute(
            select(
                m.vk_tokens.c.vk_user_id,
                m.vk_tokens.c.scope,
                m.vk_tokens.c.expires_at,
                m.vk_tokens.c.revoked_at,
            ).where(m.vk_tokens.c.token_sha256 == key, m.vk_tokens.c.kind == "access")
        ).first()
        if row is None:
            raise VkApiError(5, "User authorization failed: invalid access_token (4).")
        if row.revoked_at is not None:
            raise VkApiError(5, "User authorization failed: invalid session.")
        if row.expires_at <= utcnow():
            raise VkApiError(5, "User authorization failed: access_token has expired.")
        profile = conn.execute(
            select(m.edu_profiles.c.org_id, m.edu_profiles.c.roles).where(
                m.edu_profiles.c.vk_user_id == row.vk_user_id
            )
        ).first()
    return Caller(
        user_id=row.vk_user_id,
        token_key=key,
        scopes=frozenset(s for s in re.split(r"[\s,]+", row.scope or "") if s),
        org_id=profile.org_id if profile else None,
        roles=frozenset(profile.roles or ()) if profile else frozenset(),
    )


# --- the methods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """What a method runs with."""

    state: SandboxState
    caller: Caller
    params: Params


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Method:
    """A registered method: its handler and the token scope it needs."""

    handler: Handler
    scope: str | None  # the token scope the method needs


METHODS: dict[str, Method] = {}


def method(name: str, scope: str | None = "messages") -> Callable[[Handler], Handler]:
    """Register a VK API method (`scope`: what the token must grant, else error 15)."""

    def register(handler: Handler) -> Handler:
        METHODS[name] = Method(handler, scope)
        return handler

    return register


def run_method(state: SandboxState, caller: Caller, name: str, params: Params) -> Any:
    """Run one method call as `caller`: its answer, or a `VkApiError`."""
    found = METHODS.get(name)
    if found is None:
        raise VkApiError(3, _UNKNOWN_METHOD)
    if found.scope is not None and found.scope not in caller.scopes:
        raise VkApiError(15, _NO_SCOPE)
    return found.handler(Call(state, caller, params))


def _now_unix() -> int:
    """Unix time now, as VK answers dates."""
    return int(time.time())


def _unix(moment: datetime) -> int:
    """Unix time of a naive UTC datetime, as VK answers dates."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def _pairs(conn: Connection, statement: Select[Any]) -> dict[Any, Any]:
    """The first two columns of a two-column query as a dict."""
    return {row[0]: row[1] for row in conn.execute(statement)}


def _chat(conn: Connection, chat_id: int) -> Any:
    """The chat's row; error 927 when there is no such chat (or it was deleted)."""
    row = conn.execute(
        select(m.sferum_chats).where(
            m.sferum_chats.c.chat_id == chat_id, m.sferum_chats.c.deleted_at.is_(None)
        )
    ).first()
    if row is None:
        raise VkApiError(927, _NO_CHAT)
    return row


def _membership(conn: Connection, chat_id: int, user_id: int) -> Any:
    """The member row of `user_id` in the chat, or None."""
    return conn.execute(
        select(m.sferum_chat_members).where(
            m.sferum_chat_members.c.chat_id == chat_id,
            m.sferum_chat_members.c.member_id == user_id,
        )
    ).first()


def _readable_chat(conn: Connection, call: Call, chat_id: int) -> Any:
    """A chat the caller may read: 927 when missing, 917 when not a member."""
    chat = _chat(conn, chat_id)
    if _membership(conn, chat_id, call.caller.user_id) is None:
        raise VkApiError(917, _NO_CHAT_ACCESS)
    return chat


def _admin_chat(conn: Connection, call: Call, chat_id: int) -> Any:
    """A chat the caller administers: 927 when missing, 925 when not its admin."""
    chat = _chat(conn, chat_id)
    member = _membership(conn, chat_id, call.caller.user_id)
    if chat.admin_id != call.caller.user_id and not (member is not None and member.is_admin):
        raise VkApiError(925, _NOT_CHAT_ADMIN)
    return chat


def _require_manager(call: Call, org_id: str | None) -> None:
    """Error 15 unless the caller is a teacher or admin of the organization."""
    if not call.caller.manages(org_id):
        raise VkApiError(15, _NOT_MANAGER)


def _in_org(conn: Connection, user_ids: Sequence[int], org_id: str | None) -> None:
    """Error 1019 unless every user has an educational profile in the organization."""
    if not user_ids:
        return
    found = set(
        conn.execute(
            select(m.edu_profiles.c.vk_user_id).where(
                m.edu_profiles.c.vk_user_id.in_(user_ids), m.edu_profiles.c.org_id == org_id
            )
        ).scalars()
    )
    if org_id is None or any(user_id not in found for user_id in user_ids):
        raise VkApiError(1019, _NOT_IN_ORG)


def _members_count(conn: Connection, chat_id: int) -> int:
    """How many members a chat has."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(m.sferum_chat_members)
            .where(m.sferum_chat_members.c.chat_id == chat_id)
        ).scalar_one()
    )


def _flood(call: Call, kind: str) -> None:
    """Flood control of the caller's token for chat creations or member changes (error 9)."""
    runtime(call.state).flood(
        call.caller.token_key, kind, limit(call.state, kind), time.monotonic()
    )


def _profiles(conn: Connection, user_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Names shown for VK users: the educational profile's, else the VK ID account's."""
    if not user_ids:
        return {}
    people: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
        select(
            m.vk_accounts.c.user_id, m.vk_accounts.c.first_name, m.vk_accounts.c.last_name
        ).where(m.vk_accounts.c.user_id.in_(user_ids))
    ):
        people[row.user_id] = {
            "id": row.user_id,
            "first_name": row.first_name,
            "last_name": row.last_name,
        }
    for row in conn.execute(
        select(m.edu_profiles).where(m.edu_profiles.c.vk_user_id.in_(user_ids))
    ):
        person = people.setdefault(row.vk_user_id, {"id": row.vk_user_id})
        person.update(first_name=row.first_name, last_name=row.last_name, _edu=row)
    return people


@method("users.get", scope=None)
def users_get(call: Call) -> list[dict[str, Any]]:
    """Profiles of `user_ids` (the caller by default); `fields=edu_profile,sex`."""
    user_ids = call.params.ids("user_ids") or [call.caller.user_id]
    fields = {f.strip() for f in (call.params.text("fields") or "").split(",")}
    with call.state.engine.connect() as conn:
        people = _profiles(conn, user_ids)
        org_ids = {p["_edu"].org_id for p in people.values() if "_edu" in p}
        org_names = _pairs(
            conn, select(m.orgs.c.sourced_id, m.orgs.c.name).where(m.orgs.c.sourced_id.in_(org_ids))
        )
    answer = []
    for user_id in user_ids:
        person = people.get(user_id)
        if person is None:
            continue
        edu = person.pop("_edu", None)
        item = {**person, "can_access_closed": True, "is_closed": False}
        if "sex" in fields:
            item["sex"] = edu.sex if edu is not None else 0
        if "edu_profile" in fields and edu is not None:
            profile: dict[str, Any] = {
                "id": edu.id,
                "first_name": edu.first_name,
                "last_name": edu.last_name,
                "middle_name": edu.middle_name,
                "roles": list(edu.roles or []),
                "organizations": (
                    [{"id": edu.org_id, "name": org_names.get(edu.org_id, "")}]
                    if edu.org_id
                    else []
                ),
            }
            if user_id == call.caller.user_id:  # personal data only for oneself
                profile["birthday"] = edu.birthday.strftime("%d.%m.%Y") if edu.birthday else None
                profile["sex"] = edu.sex
            item["edu_profile"] = profile
        answer.append(item)
    return answer


@method("messages.createChat")
def create_chat(call: Call) -> int:
    """A chat of the caller's organization with `user_ids`; the caller is its admin."""
    title = call.params.text("title", required=True)
    user_ids = [u for u in call.params.ids("user_ids") if u != call.caller.user_id]
    _require_manager(call, call.caller.org_id)
    with write_transaction(call.state) as conn:
        _in_org(conn, user_ids, call.caller.org_id)
        if len(user_ids) + 1 > limit(call.state, "chat_member_limit"):
            raise VkApiError(103, "Out of limits")
        _flood(call, "flood_chats_per_hour")
        chat_id = conn.execute(
            m.sferum_chats.insert()
            .values(
                title=title,
                admin_id=call.caller.user_id,
                org_id=call.caller.org_id,
                created_at=utcnow(),
            )
            .returning(m.sferum_chats.c.chat_id)
        ).scalar_one()
        joined = _now_unix()
        conn.execute(
            m.sferum_chat_members.insert(),
            [
                {
                    "chat_id": chat_id,
                    "member_id": member,
                    "invited_by": call.caller.user_id,
                    "join_date": joined,
                    "is_admin": member == call.caller.user_id,
                }
                for member in [call.caller.user_id, *user_ids]
            ],
        )
    log.info("chat %s created with %d members", chat_id, len(user_ids) + 1)
    return int(chat_id)


@method("messages.editChat")
def edit_chat(call: Call) -> int:
    """Rename a chat (its admin only)."""
    chat_id = call.params.required_int("chat_id")
    title = call.params.text("title", required=True)
    with write_transaction(call.state) as conn:
        _admin_chat(conn, call, chat_id)
        conn.execute(
            m.sferum_chats.update().where(m.sferum_chats.c.chat_id == chat_id).values(title=title)
        )
    return 1


@method("messages.addChatUser")
def add_chat_user(call: Call) -> int:
    """Add a member of the chat's organization (1 also when already a member)."""
    chat_id = call.params.required_int("chat_id")
    user_id = call.params.required_int("user_id")
    with write_transaction(call.state) as conn:
        chat = _admin_chat(conn, call, chat_id)
        _require_manager(call, chat.org_id)
        _in_org(conn, [user_id], chat.org_id)
        if _membership(conn, chat_id, user_id) is not None:
            return 1
        if _members_count(conn, chat_id) >= limit(call.state, "chat_member_limit"):
            raise VkApiError(103, "Out of limits")
        _flood(call, "flood_member_changes_per_hour")
        conn.execute(
            m.sferum_chat_members.insert().values(
                chat_id=chat_id,
                member_id=user_id,
                invited_by=call.caller.user_id,
                join_date=_now_unix(),
                is_admin=False,
            )
        )
    return 1


@method("messages.removeChatUser")
def remove_chat_user(call: Call) -> int:
    """Remove a member (the admin removes anyone; anyone may leave); 935 when not a member."""
    chat_id = call.params.required_int("chat_id")
    if call.params.text("member_id") is None and call.params.text("user_id") is not None:
        member_id = call.params.required_int("user_id")  # VK's older name of the parameter
    else:
        member_id = call.params.required_int("member_id")
    with write_transaction(call.state) as conn:
        if member_id == call.caller.user_id:
            _chat(conn, chat_id)
        else:
            chat = _admin_chat(conn, call, chat_id)
            _require_manager(call, chat.org_id)
        if _membership(conn, chat_id, member_id) is None:
            raise VkApiError(935, _NOT_IN_CHAT)
        _flood(call, "flood_member_changes_per_hour")
        conn.execute(
            m.sferum_chat_members.delete().where(
                m.sferum_chat_members.c.chat_id == chat_id,
                m.sferum_chat_members.c.member_id == member_id,
            )
        )
    return 1


def _chat_info(conn: Connection, chat: Any) -> dict[str, Any]:
    """A chat as `messages.getChat` answers it."""
    members = list(
        conn.execute(
            select(m.sferum_chat_members.c.member_id)
            .where(m.sferum_chat_members.c.chat_id == chat.chat_id)
            .order_by(m.sferum_chat_members.c.join_date, m.sferum_chat_members.c.member_id)
        ).scalars()
    )
    return {
        "type": "chat",
        "id": chat.chat_id,
        "title": chat.title,
        "admin_id": chat.admin_id,
        "members_count": len(members),
        "users": members,
    }


@method("messages.getChat")
def get_chat(call: Call) -> dict[str, Any] | list[dict[str, Any]]:
    """One chat (`chat_id`) or a list (`chat_ids`): id, title, admin_id, members_count, users."""
    many = call.params.text("chat_ids") is not None
    chat_ids = call.params.ids("chat_ids") if many else [call.params.required_int("chat_id")]
    with call.state.engine.connect() as conn:
        chats = [_chat_info(conn, _readable_chat(conn, call, chat_id)) for chat_id in chat_ids]
    return chats if many else chats[0]


@method("messages.getConversationMembers")
def get_conversation_members(call: Call) -> dict[str, Any]:
    """A page of a chat's members, with their profiles."""
    chat_id = call.params.chat_peer()
    offset, count = call.params.page()
    members = m.sferum_chat_members
    with call.state.engine.connect() as conn:
        chat = _readable_chat(conn, call, chat_id)
        total = _members_count(conn, chat_id)
        rows = conn.execute(
            select(members)
            .where(members.c.chat_id == chat_id)
            .order_by(members.c.join_date, members.c.member_id)
            .offset(offset)
            .limit(count)
        ).all()
        people = _profiles(conn, [row.member_id for row in rows])
    items = [
        {
            "member_id": row.member_id,
            "invited_by": row.invited_by,
            "join_date": row.join_date,
            "is_admin": bool(row.is_admin or row.member_id == chat.admin_id),
            "is_owner": row.member_id == chat.admin_id,
            "can_kick": row.member_id != chat.admin_id,
        }
        for row in rows
    ]
    profiles = [
        {k: v for k, v in people[row.member_id].items() if not k.startswith("_")}
        for row in rows
        if row.member_id in people
    ]
    return {"count": total, "items": items, "profiles": profiles, "groups": []}


def _message(row: Any, caller_id: int) -> dict[str, Any]:
    """A message as `last_message` of `messages.getConversations`."""
    return {
        "id": row.id,
        "date": row.date,
        "from_id": row.from_id,
        "peer_id": CHAT_PEER_BASE + row.chat_id,
        "text": row.text,
        "out": int(row.from_id == caller_id),
        "attachments": [],
        "fwd_messages": [],
    }


@method("messages.getConversations")
def get_conversations(call: Call) -> dict[str, Any]:
    """The caller's chats, newest first, each with its last message and unread count."""
    offset, count = call.params.page()
    me = call.caller.user_id
    chats, members, messages = m.sferum_chats, m.sferum_chat_members, m.sferum_messages
    with call.state.engine.connect() as conn:
        rows = conn.execute(
            select(chats, members.c.join_date)
            .join(members, members.c.chat_id == chats.c.chat_id)
            .where(members.c.member_id == me, chats.c.deleted_at.is_(None))
        ).all()
        chat_ids = [row.chat_id for row in rows]
        counts = _pairs(
            conn,
            select(members.c.chat_id, func.count())
            .where(members.c.chat_id.in_(chat_ids))
            .group_by(members.c.chat_id),
        )
        admins: dict[int, list[int]] = {}
        for chat_id, member_id in conn.execute(
            select(members.c.chat_id, members.c.member_id).where(
                members.c.chat_id.in_(chat_ids), members.c.is_admin.is_(True)
            )
        ):
            admins.setdefault(chat_id, []).append(member_id)
        last_ids = (
            select(func.max(messages.c.id))
            .where(messages.c.chat_id.in_(chat_ids))
            .group_by(messages.c.chat_id)
        )
        last = {
            row.chat_id: row
            for row in conn.execute(select(messages).where(messages.c.id.in_(last_ids)))
        }
        # Unread: messages of others since the caller joined and since the caller last wrote
        # there (writing in a chat marks it read; the sandbox keeps no other read marks).
        mine = messages.alias("mine")
        last_own = (
            select(func.coalesce(func.max(mine.c.id), 0))
            .where(mine.c.chat_id == messages.c.chat_id, mine.c.from_id == me)
            .scalar_subquery()
        )
        unread = _pairs(
            conn,
            select(messages.c.chat_id, func.count())
            .join(
                members,
                and_(members.c.chat_id == messages.c.chat_id, members.c.member_id == me),
            )
            .where(
                messages.c.chat_id.in_(chat_ids),
                messages.c.from_id != me,
                messages.c.date >= members.c.join_date,
                messages.c.id > last_own,
            )
            .group_by(messages.c.chat_id),
        )
    items = []
    for row in rows:
        message = last.get(row.chat_id)
        last_message = (
            _message(message, me)
            if message is not None
            else {  # a chat without messages shows its creation, as VK's service message does
                "id": 0,
                "date": _unix(row.created_at),
                "from_id": row.admin_id,
                "peer_id": CHAT_PEER_BASE + row.chat_id,
                "text": "",
                "out": int(row.admin_id == me),
                "action": {"type": "chat_create", "text": row.title},
                "attachments": [],
                "fwd_messages": [],
            }
        )
        items.append(
            {
                "conversation": {
                    "peer": {
                        "id": CHAT_PEER_BASE + row.chat_id,
                        "type": "chat",
                        "local_id": row.chat_id,
                    },
                    "last_message_id": last_message["id"],
                    "unread_count": int(unread.get(row.chat_id, 0)),
                    "can_write": {"allowed": True},
                    "chat_settings": {
                        "title": row.title,
                        "members_count": int(counts.get(row.chat_id, 0)),
                        "owner_id": row.admin_id,
                        "admin_ids": sorted(admins.get(row.chat_id, [])),
                        "state": "in",
                    },
                },
                "last_message": last_message,
            }
        )
    items.sort(key=lambda item: (item["last_message"]["date"], item["conversation"]["peer"]["id"]))
    items.reverse()
    return {
        "count": len(items),
        "unread_count": sum(1 for item in items if item["conversation"]["unread_count"]),
        "items": items[offset : offset + count],
    }


_INVITE_LINKS = "sferum_invite_links"  # sandbox_meta key: {chat_id: link}


@method("messages.getInviteLink")
def get_invite_link(call: Call) -> dict[str, str]:
    """The chat's invitation link (its admin only); `reset=1` makes a new one."""
    chat_id = call.params.chat_peer()
    reset = call.params.flag("reset")
    with write_transaction(call.state) as conn:
        _admin_chat(conn, call, chat_id)
        stored = conn.execute(select(m.meta.c.value).where(m.meta.c.key == _INVITE_LINKS)).first()
        links: dict[str, str] = dict(stored.value) if stored else {}
        link = links.get(str(chat_id))
        if link is None or reset:
            link = f"https://vk.me/join/{secrets.token_urlsafe(24)}"
            links[str(chat_id)] = link
            conn.execute(delete(m.meta).where(m.meta.c.key == _INVITE_LINKS))
            conn.execute(insert(m.meta).values(key=_INVITE_LINKS, value=links))
    return {"link": link}


@method("messages.deleteChat")
def delete_chat(call: Call) -> int:
    """Delete a chat (sandbox; its admin only) and end its calls."""
    chat_id = call.params.required_int("chat_id")
    with write_transaction(call.state) as conn:
        _admin_chat(conn, call, chat_id)
        conn.execute(
            m.sferum_chats.update()
            .where(m.sferum_chats.c.chat_id == chat_id)
            .values(deleted_at=utcnow())
        )
        conn.execute(
            m.sferum_calls.update()
            .where(m.sferum_calls.c.chat_id == chat_id, m.sferum_calls.c.ended_at.is_(None))
            .values(ended_at=_now_unix())
        )
    return 1


def _call_item(row: Any) -> dict[str, Any]:
    """A call as `calls.getActive` lists it."""
    return {
        "call_id": row.call_id,
        "peer_id": CHAT_PEER_BASE + row.chat_id if row.chat_id else None,
        "name": row.name,
        "join_link": row.join_link,
        "started_by": row.started_by,
        "started_at": row.started_at,
    }


@method("calls.start")
def start_call(call: Call) -> dict[str, str]:
    """A video call (in a chat the caller is a member of, when `peer_id` is given)."""
    chat_id = call.params.chat_peer() if call.params.text("peer_id") is not None else None
    name = call.params.text("name")
    with write_transaction(call.state) as conn:
        if chat_id is not None:
            chat = _readable_chat(conn, call, chat_id)
            name = name or chat.title
        call_id = str(uuid.uuid4())
        join_link = f"https://vk.com/call/join/{secrets.token_urlsafe(32)}"
        conn.execute(
            m.sferum_calls.insert().values(
                call_id=call_id,
                chat_id=chat_id,
                name=name or "Звонок",
                join_link=join_link,
                started_by=call.caller.user_id,
                started_at=_now_unix(),
            )
        )
    return {"call_id": call_id, "join_link": join_link}


@method("calls.getActive")
def get_active_calls(call: Call) -> dict[str, Any]:
    """Calls the caller can join (sandbox): not ended, in their chats or started by them."""
    calls, members = m.sferum_calls, m.sferum_chat_members
    my_chats = select(members.c.chat_id).where(members.c.member_id == call.caller.user_id)
    with call.state.engine.connect() as conn:
        rows = conn.execute(
            select(calls)
            .where(
                calls.c.ended_at.is_(None),
                calls.c.chat_id.in_(my_chats)
                | (calls.c.chat_id.is_(None) & (calls.c.started_by == call.caller.user_id)),
            )
            .order_by(calls.c.started_at.desc(), calls.c.call_id)
        ).all()
    return {"count": len(rows), "items": [_call_item(row) for row in rows]}


@method("calls.forceFinish")
def finish_call(call: Call) -> int:
    """End a call (the one who started it, or the admin of its chat)."""
    call_id = call.params.text("call_id", required=True)
    with write_transaction(call.state) as conn:
        row = conn.execute(
            select(m.sferum_calls).where(
                m.sferum_calls.c.call_id == call_id, m.sferum_calls.c.ended_at.is_(None)
            )
        ).first()
        if row is None:
            raise bad_param("call_id is invalid")
        if row.started_by != call.caller.user_id:
            if row.chat_id is None:
                raise VkApiError(15, "Access denied: the call was started by another user")
            _admin_chat(conn, call, row.chat_id)
        conn.execute(
            m.sferum_calls.update()
            .where(m.sferum_calls.c.call_id == call_id)
            .values(ended_at=_now_unix())
        )
    return 1


# --- execute ---------------------------------------------------------------------------------


def execute(state: SandboxState, caller: Caller, params: Params) -> dict[str, Any]:
    """Run a VKScript program: each failed call is `false` and an `execute_errors` entry."""
    code = params.text("code", required=True)
    assert code is not None
    try:
        program = vkscript.parse(code)
    except vkscript.CompileError as exc:
        raise VkApiError(12, f"Unable to compile code: {exc}") from None
    if len(program.calls) > MAX_EXECUTE_CALLS:
        raise VkApiError(13, "Runtime error occurred during code invocation: Too many API calls")
    errors: list[dict[str, Any]] = []

    def run(api_call: vkscript.ApiCall) -> Any:
        """One call of the program: its answer, or `false` and an `execute_errors` entry."""
        try:
            return run_method(
                state, caller, api_call.method, Params(vkscript.call_params(api_call))
            )
        except VkApiError as exc:
            errors.append(
                {"method": api_call.method, "error_code": exc.code, "error_msg": exc.message}
            )
            return False

    answer: dict[str, Any] = {"response": vkscript.evaluate(program.expression, run)}
    if errors:
        answer["execute_errors"] = errors
    return answer


# --- the HTTP surface -----------------------------------------------------------------------


def _check_version(params: Params) -> None:
    """Error 8 when `v` is missing or older than 5.199."""
    raw = params.text("v")
    if raw is None or not re.fullmatch(r"\d+(\.\d+)?", raw.strip()):
        raise VkApiError(8, f"Invalid request: v is required. {_VERSION_NOTE}")
    major, _, minor = raw.strip().partition(".")
    if (int(major), int(minor or 0)) < MIN_VERSION:
        raise VkApiError(
            8,
            f"Invalid request: versions below {MIN_VERSION[0]}.{MIN_VERSION[1]} are deprecated. "
            f"{_VERSION_NOTE}",
        )


def _captcha_gate(state: SandboxState, params: Params, image_url: Callable[[str], str]) -> None:
    """Error 14 when a captcha is drawn, or when the captcha answer given is wrong."""
    rt = runtime(state)
    sid = params.text("captcha_sid")
    if sid is not None:
        if rt.solve_captcha(sid, params.text("captcha_key") or ""):
            return
    else:
        rate = float(state.faults.get("captcha_rate") or 0.0)
        if rate <= 0 or state.fault_rng.random() >= rate:
            return
    new_sid = rt.new_captcha(state)
    raise VkApiError(
        14,
        "Captcha needed",
        captcha_sid=new_sid,
        captcha_img=image_url(new_sid),
        captcha_ts=round(time.time(), 3),
    )


def handle(
    state: SandboxState,
    name: str,
    pairs: list[tuple[str, str]],
    *,
    header_token: str | None,
    arrived: float,
    image_url: Callable[[str], str],
) -> dict[str, Any]:
    """Answer one `/sferum/method/<name>` request (VK's checks in VK's order)."""
    params = Params(pairs)
    try:
        _check_version(params)
        if name != "execute" and name not in METHODS:
            raise VkApiError(3, _UNKNOWN_METHOD)
        caller = authenticate(state, params.text("access_token") or header_token)
        runtime(state).throttle(caller.token_key, arrived)
        _captcha_gate(state, params, image_url)
        if name == "execute":
            return execute(state, caller, params)
        return {"response": run_method(state, caller, name, params)}
    except VkApiError as exc:
        log.debug("%s: error %s", name, exc.code)
        return exc.body(vk_request_params(name, pairs))


@router.get("/method/{name}", operation_id="sferum_method_get")
@router.post("/method/{name}", operation_id="sferum_method_post")
async def call_method(name: str, request: Request) -> JSONResponse:
    """A VK API method call: query or form parameters, HTTP 200 either way."""
    arrived = time.monotonic()
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        form = await request.form()
        pairs += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    header_token = token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def image_url(sid: str) -> str:
        return str(request.url_for("sferum_captcha_image", sid=sid))

    answer = await run_in_threadpool(
        handle,
        get_state(request),
        name,
        pairs,
        header_token=header_token,
        arrived=arrived,
        image_url=image_url,
    )
    return JSONResponse(answer)


@router.get("/captcha/{sid}.png", name="sferum_captcha_image")
def captcha_image(sid: str, request: Request) -> Response:
    """The picture of a pending captcha's code (130x50 PNG, as VK's)."""
    key = captcha_key(get_state(request), sid)
    if key is None:
        return Response(status_code=404)
    return Response(
        render_captcha(key, seed=int(sid) if sid.isdigit() else 0), media_type="image/png"
    )


# --- captcha pictures ------------------------------------------------------------------------

CAPTCHA_ALPHABET = "23456789"  # no 0/1, which look like letters in a hurry
CAPTCHA_LENGTH = 5
_GLYPHS = {  # 5x7 bitmaps, one string of five bits per row
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}
_WIDTH, _HEIGHT, _SCALE = 130, 50, 4


def render_captcha(key: str, seed: int = 0) -> bytes:
    """A grayscale PNG of `key`: scaled 5x7 glyphs with a little jitter and noise."""
    rng = random.Random(seed)
    pixels = [bytearray([236] * _WIDTH) for _ in range(_HEIGHT)]
    for _ in range(120):  # speckles
        pixels[rng.randrange(_HEIGHT)][rng.randrange(_WIDTH)] = rng.randrange(120, 200)
    step = 6 * _SCALE
    left = (_WIDTH - step * len(key) + _SCALE) // 2
    for index, char in enumerate(key):
        glyph = _GLYPHS[char]
        x0 = left + index * step + rng.randint(-1, 1)
        y0 = (_HEIGHT - 7 * _SCALE) // 2 + rng.randint(-5, 5)
        ink = rng.randrange(20, 90)
        for gy, row in enumerate(glyph):
            for gx, bit in enumerate(row):
                if bit == "1":
                    for dy in range(_SCALE):
                        for dx in range(_SCALE):
                            x, y = x0 + gx * _SCALE + dx, y0 + gy * _SCALE + dy
                            if 0 <= x < _WIDTH and 0 <= y < _HEIGHT:
                                pixels[y][x] = ink
    y = rng.randrange(10, _HEIGHT - 10)
    for x in range(_WIDTH):  # a wavy strike-through line
        y = max(1, min(_HEIGHT - 2, y + rng.choice((-1, 0, 0, 1))))
        pixels[y][x] = 90
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    return _png(_WIDTH, _HEIGHT, raw)


def _png(width: int, height: int, raw: bytes) -> bytes:
    """An 8-bit grayscale PNG from filtered scanlines."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
