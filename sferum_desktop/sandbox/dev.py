"""The sandbox control surface `/sandbox/dev`: roster events, links, tokens, SMS, truth, faults.

Unauthenticated on purpose (the sandbox listens on loopback only unless told otherwise);
the client's own code never calls it except the demo menu and tests.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Connection, select

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.auth import issue_session
from sferum_desktop.sandbox.common import (
    EshError,
    SandboxState,
    error_responses,
    get_state,
    iso,
    normalize_phone,
)
from sferum_desktop.sandbox.db import DB_NAME, create_database, read_meta
from sferum_desktop.sandbox.faults import Faults, current_faults, set_faults

log = logging.getLogger("sferum_desktop.sandbox.dev")

router = APIRouter(tags=["sandbox control"])


class PersonBody(BaseModel):
    person_id: str = Field(min_length=1)


class TokensBody(BaseModel):
    """`{username}` or `{person_id}`."""

    username: str | None = None
    person_id: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> TokensBody:
        if not (self.username or self.person_id):
            raise ValueError("username or person_id is required")
        return self


class ResetBody(BaseModel):
    dataset: Literal["demo", "school", "district"] = "demo"
    seed: int = 1


def _bad_request(message: str) -> EshError:
    return EshError(400, "bad_request", message)


@router.post("/roster", responses=error_responses(400, 404))
async def roster_event(
    request: Request, event: Annotated[dict[str, Any], Body(examples=[{"op": "block"}])]
) -> dict[str, Any]:
    """Apply a roster event in ESh (enroll, transfer, expel, hire, dismiss, …)."""
    from sferum_desktop.sandbox.roster_events import apply_roster_event

    try:
        return apply_roster_event(get_state(request), event)
    except (ValueError, LookupError) as error:
        raise _bad_request(f"Событие не применено: {error}") from error


@router.post("/link", responses=error_responses(400, 404))
async def link(request: Request, body: PersonBody) -> dict[str, Any]:
    """The person links their ESh account to a VK ID educational profile (made if needed)."""
    from sferum_desktop.sandbox.links import link_person

    return link_person(get_state(request), body.person_id)


@router.post("/unlink", responses=error_responses(400, 404))
async def unlink(request: Request, body: PersonBody) -> dict[str, Any]:
    """The person unlinks their ESh account from Sferum."""
    from sferum_desktop.sandbox.links import unlink_person

    return unlink_person(get_state(request), body.person_id)


def _vk_user_id(conn: Connection, person_id: str) -> int | None:
    """The VK ID account with an educational profile that belongs to a person, if any."""
    linked = conn.execute(
        select(m.links.c.vk_user_id).where(
            m.links.c.person_id == person_id, m.links.c.vk_user_id.is_not(None)
        )
    ).scalar()
    if linked is not None:
        return int(linked)
    by_phone = conn.execute(
        select(m.vk_accounts.c.user_id)
        .join(m.users, m.users.c.phone == m.vk_accounts.c.phone)
        .join(m.edu_profiles, m.edu_profiles.c.vk_user_id == m.vk_accounts.c.user_id)
        .where(m.users.c.sourced_id == person_id)
    ).scalar()
    return None if by_phone is None else int(by_phone)


@router.post("/tokens", responses=error_responses(404))
async def tokens(request: Request, body: TokensBody) -> dict[str, Any]:
    """ESh session tokens and VK ID tokens (null without an educational profile) of a person."""
    from sferum_desktop.sandbox.links import issue_vk_tokens

    state = get_state(request)
    with state.engine.connect() as conn:
        if body.username:
            person_id = conn.execute(
                select(m.accounts.c.person_id).where(m.accounts.c.username == body.username)
            ).scalar()
        else:
            person_id = conn.execute(
                select(m.users.c.sourced_id).where(m.users.c.sourced_id == body.person_id)
            ).scalar()
        if person_id is None:
            raise EshError(404, "not_found", "Нет такой учётной записи.")
        vk_user_id = _vk_user_id(conn, person_id)
    vkid = None if vk_user_id is None else issue_vk_tokens(state, vk_user_id)
    return {"person_id": person_id, "esh": issue_session(state, person_id), "vkid": vkid}


@router.get("/sms", responses=error_responses(400))
async def sms(request: Request, phone: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    """The SMS messages the sandbox "sent" to a phone (or to anyone), newest first."""
    query = select(
        m.sms_inbox.c.phone, m.sms_inbox.c.code, m.sms_inbox.c.text, m.sms_inbox.c.sent_at
    ).order_by(m.sms_inbox.c.id.desc())
    normalized = None
    if phone is not None:
        normalized = normalize_phone(phone)
        if normalized is None:
            raise _bad_request("Некорректный номер телефона.")
        query = query.where(m.sms_inbox.c.phone == normalized)
    else:
        query = query.limit(100)
    with get_state(request).engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [
        {"phone": r.phone, "code": r.code, "text": r.text, "sent_at": iso(r.sent_at)} for r in rows
    ]
    return {"phone": normalized, "items": items}


@router.get("/captcha", responses=error_responses(404))
async def captcha(request: Request, sid: Annotated[str, Query(min_length=1)]) -> dict[str, Any]:
    """The answer of a pending Sferum captcha (error 14), as a person would read it."""
    from sferum_desktop.sandbox.sferum import captcha_key

    key = captcha_key(get_state(request), sid)
    if key is None:
        raise EshError(404, "not_found", "Нет такой капчи.")
    return {"sid": sid, "key": key}


@router.get("/state", responses=error_responses(400))
async def truth(request: Request, school: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    """The truth: registry chats with members, Sferum chats with member ids, links."""
    state = get_state(request)
    if state.dataset == "district" and not school:
        raise _bad_request("Для набора district укажите школу: ?school=<id>.")
    with state.engine.connect() as conn:
        return {
            "dataset": state.dataset,
            "seed": state.seed,
            "school": school,
            "registry": _registry(conn, school),
            "sferum": _sferum(conn, school),
            "links": _links(conn, school),
        }


def _registry(conn: Connection, school: str | None) -> list[dict[str, Any]]:
    chats = select(m.chats).order_by(m.chats.c.id)
    members = select(m.chat_members).order_by(m.chat_members.c.chat_id, m.chat_members.c.person_id)
    if school:
        chats = chats.where(m.chats.c.school_id == school)
        members = members.where(
            m.chat_members.c.chat_id.in_(select(m.chats.c.id).where(m.chats.c.school_id == school))
        )
    by_chat: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in conn.execute(members):
        by_chat[r.chat_id].append(
            {
                "person_id": r.person_id,
                "role_in_chat": r.role_in_chat,
                "source": r.source,
                "excluded": r.excluded,
            }
        )
    return [
        {
            "id": c.id,
            "school_id": c.school_id,
            "name": c.name,
            "type": c.type,
            "class_id": c.class_id,
            "group_id": c.group_id,
            "subject": c.subject,
            "admin_person_id": c.admin_person_id,
            "sferum_chat_id": c.sferum_chat_id,
            "status": c.status,
            "version": c.version,
            "members": by_chat.get(c.id, []),
        }
        for c in conn.execute(chats)
    ]


def _sferum(conn: Connection, school: str | None) -> list[dict[str, Any]]:
    chats = select(m.sferum_chats).order_by(m.sferum_chats.c.chat_id)
    members = select(m.sferum_chat_members.c.chat_id, m.sferum_chat_members.c.member_id).order_by(
        m.sferum_chat_members.c.chat_id, m.sferum_chat_members.c.member_id
    )
    if school:
        chats = chats.where(m.sferum_chats.c.org_id == school)
        members = members.where(
            m.sferum_chat_members.c.chat_id.in_(
                select(m.sferum_chats.c.chat_id).where(m.sferum_chats.c.org_id == school)
            )
        )
    by_chat: dict[int, list[int]] = defaultdict(list)
    for r in conn.execute(members):
        by_chat[r.chat_id].append(r.member_id)
    return [
        {
            "chat_id": c.chat_id,
            "title": c.title,
            "admin_id": c.admin_id,
            "org_id": c.org_id,
            "deleted": c.deleted_at is not None,
            "member_ids": by_chat.get(c.chat_id, []),
        }
        for c in conn.execute(chats)
    ]


def _links(conn: Connection, school: str | None) -> list[dict[str, Any]]:
    query = select(m.links).order_by(m.links.c.person_id)
    if school:
        query = query.where(
            m.links.c.person_id.in_(
                select(m.user_roles.c.user_id).where(m.user_roles.c.org_id == school)
            )
        )
    return [
        {
            "person_id": r.person_id,
            "vk_user_id": r.vk_user_id,
            "status": r.status,
            "updated_at": iso(r.updated_at),
        }
        for r in conn.execute(query)
    ]


@router.get("/faults", response_model=Faults)
async def get_faults(request: Request) -> Faults:
    """The faults in force (defaults filled in)."""
    return current_faults(get_state(request))


@router.put("/faults", response_model=Faults)
async def put_faults(request: Request, faults: Faults) -> Faults:
    """Replace the faults in force; `{}` clears them all. They survive a restart."""
    state = get_state(request)
    set_faults(state, faults)
    return current_faults(state)


@router.post("/reset")
async def reset(request: Request, body: ResetBody) -> dict[str, Any]:
    """Start over: a freshly built dataset, no faults, no sessions."""
    state = get_state(request)
    state.engine.dispose()
    state.engine = create_database(state.data_dir / DB_NAME, body.dataset, body.seed)
    state.dataset, state.seed = body.dataset, body.seed
    state.ephemeral.clear()
    set_faults(state, Faults())
    log.info("reset to dataset %s, seed %s", body.dataset, body.seed)
    return {"dataset": body.dataset, "seed": body.seed, "accounts": _accounts(state)}


def _accounts(state: SandboxState) -> list[dict[str, Any]]:
    accounts: list[dict[str, Any]] = read_meta(state.engine).get("accounts") or []
    return accounts


@router.get("/accounts")
async def accounts(request: Request) -> list[dict[str, Any]]:
    """The dataset's sign-in accounts (role, username, password, person_id, full_name)."""
    return _accounts(get_state(request))
