"""Links between ESh people and VK ID educational profiles, and VK ID tokens minted for tests.

ESh stores one link per person (`links`); a link is what lets the client put a registry member
into the Sferum chat. `POST /links` checks a VK ID access token the way ESh would ask VK ID;
`link_person` plays a person who links their account elsewhere (the control surface).
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.common import (
    ESH_ROLE,
    EshError,
    SandboxState,
    iso,
    new_token,
    sha256,
    utcnow,
)
from sferum_desktop.sandbox.esh_helpers import active_role, audit, write_transaction

VK_ACCESS_TTL_S = 3600
VK_REFRESH_TTL_S = 180 * 24 * 3600
DEFAULT_VK_SCOPE = "vkid.personal_info messages"
DEFAULT_VK_CLIENT_ID = "51900001"


def link_item(row: Any) -> dict[str, Any]:
    """The `/links` item: `person_id, vk_user_id, status, updated_at`."""
    return {
        "person_id": row.person_id,
        "vk_user_id": row.vk_user_id,
        "status": row.status,
        "updated_at": iso(row.updated_at),
    }


def vk_user_for_token(conn: Connection, token: str) -> int:
    """The VK user behind a VK ID access token with an educational profile; 400 otherwise."""
    now = utcnow()
    t = m.vk_tokens
    row = conn.execute(
        select(t.c.vk_user_id, t.c.expires_at, t.c.revoked_at).where(
            t.c.token_sha256 == sha256(token), t.c.kind == "access"
        )
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise EshError(
            400,
            "invalid_vk_token",
            "VK ID не подтвердил вход. Войдите в VK ID ещё раз.",
        )
    has_profile = conn.execute(
        select(m.edu_profiles.c.id).where(m.edu_profiles.c.vk_user_id == row.vk_user_id)
    ).first()
    if has_profile is None:
        raise EshError(
            400,
            "invalid_vk_token",
            "У этого аккаунта VK ID нет учебного профиля. Создайте его и повторите.",
        )
    return int(row.vk_user_id)


def _person(conn: Connection, person_id: str) -> Any:
    person = conn.execute(select(m.users).where(m.users.c.sourced_id == person_id)).first()
    if person is None:
        raise EshError(404, "not_found", "Пользователь не найден.", {"person_id": person_id})
    return person


def save_link(
    conn: Connection, person_id: str, vk_user_id: int, author: str | None, via: str
) -> dict[str, Any]:
    """Link `person_id` to `vk_user_id` (409 when that profile is another person's) and audit."""
    owner = conn.execute(
        select(m.links.c.person_id).where(
            m.links.c.vk_user_id == vk_user_id,
            m.links.c.status == "linked",
            m.links.c.person_id != person_id,
        )
    ).first()
    if owner is not None:
        raise EshError(
            409,
            "already_linked",
            "Этот учебный профиль Сферума уже связан с другим пользователем ЭШ.",
        )
    now = utcnow()
    current = conn.execute(select(m.links).where(m.links.c.person_id == person_id)).first()
    if current is not None and current.status == "linked" and current.vk_user_id == vk_user_id:
        return link_item(current)
    values = {"vk_user_id": vk_user_id, "status": "linked", "updated_at": now}
    if current is None:
        conn.execute(insert(m.links).values(person_id=person_id, **values))
    else:
        conn.execute(update(m.links).where(m.links.c.person_id == person_id).values(**values))
    audit(
        conn,
        author,
        "link.create",
        details={"person_id": person_id, "vk_user_id": vk_user_id, "via": via},
        at=now,
    )
    return {"person_id": person_id, **values, "updated_at": iso(now)}


def link_with_token(state: SandboxState, person_id: str, vk_access_token: str) -> dict[str, Any]:
    """`POST /links`: the signed-in person links the profile behind a VK ID access token."""
    with write_transaction(state) as conn:
        vk_user_id = vk_user_for_token(conn, vk_access_token)
        return save_link(conn, person_id, vk_user_id, person_id, "vk_id")


def unlink_person(state: SandboxState, person_id: str, author: str | None = None) -> dict[str, Any]:
    """End a person's link; the row stays (with its VK user) so the client can drop them."""
    with write_transaction(state) as conn:
        _person(conn, person_id)
        current = conn.execute(select(m.links).where(m.links.c.person_id == person_id)).first()
        if current is None:
            return {
                "person_id": person_id,
                "vk_user_id": None,
                "status": "unlinked",
                "updated_at": None,
            }
        if current.status == "unlinked":
            return link_item(current)
        now = utcnow()
        conn.execute(
            update(m.links)
            .where(m.links.c.person_id == person_id)
            .values(status="unlinked", updated_at=now)
        )
        audit(
            conn,
            author,
            "link.delete",
            details={"person_id": person_id, "vk_user_id": current.vk_user_id},
            at=now,
        )
        return {
            "person_id": person_id,
            "vk_user_id": current.vk_user_id,
            "status": "unlinked",
            "updated_at": iso(now),
        }


# --- the control surface: a person links their account elsewhere -----------------------------


def _free_phone(conn: Connection, rng: random.Random) -> str:
    """A fake Russian phone in the +7 199 range nobody uses, not taken by a VK account."""
    while True:
        phone = f"+7199{rng.randrange(10**7):07d}"
        taken = conn.execute(
            select(m.vk_accounts.c.user_id).where(m.vk_accounts.c.phone == phone)
        ).first()
        if taken is None:
            return phone


def _sex(person: Any) -> int:
    """VK's sex code (1 female, 2 male) from ESh, or from the patronymic when ESh has none."""
    if person.sex in ("female", "male"):
        return 1 if person.sex == "female" else 2
    middle = (person.middle_name or "").lower()
    return 1 if middle.endswith(("вна", "чна", "кызы")) else 2


def _roles_and_school(conn: Connection, person_id: str) -> tuple[list[str], str | None]:
    """The person's ESh roles today and their first school, for the educational profile."""
    ur = m.user_roles
    rows = conn.execute(
        select(ur.c.role, ur.c.org_id, m.orgs.c.type)
        .select_from(ur.join(m.orgs, m.orgs.c.sourced_id == ur.c.org_id))
        .where(ur.c.user_id == person_id, active_role())
        .order_by(ur.c.id)
    ).all()
    roles: list[str] = []
    for r in rows:
        role = ESH_ROLE.get(r.role, r.role)
        if role not in roles:
            roles.append(role)
    school = next((r.org_id for r in rows if r.type == "school"), rows[0].org_id if rows else None)
    return roles, school


def _birthday(person: Any, roles: list[str], today: date) -> date:
    if person.birth_date is not None:
        return person.birth_date  # type: ignore[no-any-return]
    years = 11 if roles == ["student"] else 40
    return today - timedelta(days=int(years * 365.25))


def _vk_account_for(conn: Connection, person: Any, now: datetime) -> tuple[int, bool]:
    """The person's VK ID account (their old link, or the one on their phone), or a new one."""
    old = conn.execute(
        select(m.links.c.vk_user_id).where(
            m.links.c.person_id == person.sourced_id, m.links.c.vk_user_id.is_not(None)
        )
    ).first()
    if old is not None:
        return int(old.vk_user_id), False
    if person.phone:
        own = conn.execute(
            select(m.vk_accounts.c.user_id).where(m.vk_accounts.c.phone == person.phone)
        ).first()
        if own is not None:
            return int(own.user_id), False
    rng = random.Random(uuid.uuid4().int)
    phone = person.phone or _free_phone(conn, rng)
    user_id = (conn.execute(select(func.max(m.vk_accounts.c.user_id))).scalar() or 500_000_000) + 1
    conn.execute(
        insert(m.vk_accounts).values(
            user_id=user_id,
            phone=phone,
            first_name=person.given_name,
            last_name=person.family_name,
            created_at=now,
        )
    )
    return user_id, True


def link_person(state: SandboxState, person_id: str) -> dict[str, Any]:
    """The person links their account elsewhere: VK ID account and profile made if needed."""
    with write_transaction(state) as conn:
        person = _person(conn, person_id)
        now = utcnow()
        vk_user_id, created_account = _vk_account_for(conn, person, now)
        profile = conn.execute(
            select(m.edu_profiles.c.id).where(m.edu_profiles.c.vk_user_id == vk_user_id)
        ).first()
        if profile is None:
            roles, school = _roles_and_school(conn, person_id)
            conn.execute(
                insert(m.edu_profiles).values(
                    vk_user_id=vk_user_id,
                    first_name=person.given_name,
                    last_name=person.family_name,
                    middle_name=person.middle_name,
                    birthday=_birthday(person, roles, now.date()),
                    sex=_sex(person),
                    org_id=school,
                    roles=roles,
                    created_at=now,
                )
            )
        link = save_link(conn, person_id, vk_user_id, None, "sandbox")
        return {
            **link,
            "created_vk_account": created_account,
            "created_edu_profile": profile is None,
        }


def mint_vk_tokens(
    conn: Connection,
    vk_user_id: int,
    scope: str,
    client_id: str,
    *,
    grant_id: str | None = None,
    device_id: str | None = None,
    access_ttl_s: int = VK_ACCESS_TTL_S,
) -> tuple[str, str]:
    """Store a VK ID access + refresh token pair of one grant; returns (access, refresh).

    Shared with the VK ID token endpoint (`vkid.py`), which passes the grant (its code's
    digest, kept through refresh rotations), the device and the access lifetime in force.
    """
    now = utcnow()
    grant_id = grant_id or uuid.uuid4().hex
    access, refresh = new_token("vk2.a"), new_token("vk2.r")
    for token, kind, ttl in (
        (access, "access", access_ttl_s),
        (refresh, "refresh", VK_REFRESH_TTL_S),
    ):
        conn.execute(
            insert(m.vk_tokens).values(
                token_sha256=sha256(token),
                kind=kind,
                vk_user_id=vk_user_id,
                client_id=client_id,
                scope=scope,
                device_id=device_id,
                grant_id=grant_id,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
    return access, refresh


def issue_vk_tokens(
    state: SandboxState,
    vk_user_id: int,
    scope: str = DEFAULT_VK_SCOPE,
    client_id: str = DEFAULT_VK_CLIENT_ID,
) -> dict[str, Any] | None:
    """Mint a VK ID access (1 h) and refresh (180 d) token pair; None without an edu profile."""
    with write_transaction(state) as conn:
        profile = conn.execute(
            select(m.edu_profiles.c.id).where(m.edu_profiles.c.vk_user_id == vk_user_id)
        ).first()
        if profile is None:
            return None
        ttl = int(state.faults.get("access_token_ttl_s") or VK_ACCESS_TTL_S)
        access, refresh = mint_vk_tokens(conn, vk_user_id, scope, client_id, access_ttl_s=ttl)
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": ttl,
        "user_id": vk_user_id,
    }
