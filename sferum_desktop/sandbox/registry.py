"""ESh Sferum registry: the school's chats, their members and the account links.

Mounted at `/esh/api/v1/sferum`. Chats carry a `version` for optimistic locking (`ETag` /
`If-Match`); every write bumps it and is written to `esh_audit` with its author and time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from starlette.concurrency import run_in_threadpool

from sferum_desktop.sandbox import links as vk_links
from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.common import (
    EshError,
    Principal,
    SandboxState,
    current_principal,
    error_responses,
    full_name,
    get_state,
    iso,
    utcnow,
)
from sferum_desktop.sandbox.esh_helpers import (
    active_role,
    audit,
    casefold,
    in_ids,
    parse_datetime,
    parse_paging,
    query_parameter,
    write_transaction,
)

router = APIRouter(tags=["ESh: Sferum registry"])
StateDep = Annotated[SandboxState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]

CHAT_TYPES = ("staff", "class", "parents", "subject", "custom")
AUTOMATIC_TYPES = frozenset({"staff", "class", "parents"})
CHAT_STATUSES = ("active", "archived")
ROLES_IN_CHAT = ("staff", "student", "parent")
SOURCES = ("rule", "manual")
NAME_MAX = 200
STAFF_CHAT_NAME = "Учительская"
PARENTS_SUFFIX = " Родители"

_CLASS_TITLE = re.compile(r"^\s*(\d+)\s*(\S.*?)\s*$")


_PAGE = [
    query_parameter("limit", "Items per page, 1–10 000 (default 100)."),
    query_parameter("offset", "Items to skip (default 0)."),
]
_CHATS_QUERY = {
    "parameters": [
        query_parameter("school", "Only this school's chats."),
        query_parameter("type", "staff, class, parents, subject or custom."),
        query_parameter("q", "Part of the chat's name or of its administrator's name (any case)."),
        *_PAGE,
    ]
}
_LINKS_QUERY = {
    "parameters": [
        query_parameter("updated_after", "Only links changed after this ISO moment."),
        *_PAGE,
    ]
}
_MEMBERS_QUERY = {
    "parameters": [
        query_parameter("include_excluded", "true: also the exclusions (default false).")
    ]
}
_IF_MATCH = {
    "parameters": [
        {
            "name": "If-Match",
            "in": "header",
            "schema": {"type": "string"},
            "description": "The chat's version (its ETag).",
        }
    ]
}


def _body(required: tuple[str, ...] = (), **properties: str) -> dict[str, Any]:
    """A JSON request body for the OpenAPI document: property name → JSON type."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            name: {"type": kind}
            if kind != "string[]"
            else {"type": "array", "items": {"type": "string"}}
            for name, kind in properties.items()
        },
    }
    if required:
        schema["required"] = list(required)
    return {"content": {"application/json": {"schema": schema}}, "required": True}


_CREATE_BODY = _body(
    ("type",),
    type="string", school_id="string", name="string", class_id="string", group_id="string",
    subject="string", admin_person_id="string",
)  # fmt: skip
_PATCH_BODY = _body(name="string", admin_person_id="string", status="string")
_ADD_BODY = _body(
    ("person_ids", "role_in_chat"), person_ids="string[]", role_in_chat="string", source="string"
)
_REMOVE_BODY = _body(("person_ids",), person_ids="string[]", exclude="boolean")
_SFERUM_BODY = _body(("sferum_chat_id",), sferum_chat_id="integer")
_LINK_BODY = _body(("vk_access_token",), vk_access_token="string")  # noqa: S106 (a type)

# --- names and small parsers ------------------------------------------------------------------


def class_chat_name(title: str) -> str:
    """«3 А» from the class title «3А»: the number and the letter apart, as the seed shows."""
    match = _CLASS_TITLE.match(title)
    return f"{match.group(1)} {match.group(2)}" if match else title.strip()


def subject_chat_name(homeroom_title: str, subject: str) -> str:
    """«1А - Русский язык»: the group's class and its subject (generated, not editable)."""
    return f"{homeroom_title} - {subject}"


def _if_match(request: Request, required: bool) -> int | None:
    """The version in `If-Match` (quoted or not; `*` = any); 428 when required and missing."""
    raw = request.headers.get("if-match")
    if raw is None or not raw.strip():
        if required:
            raise EshError(
                428,
                "precondition_required",
                "Чат изменяется только с указанием его версии (If-Match).",
            )
        return None
    value = raw.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip().strip('"')
    try:
        return int(value)
    except ValueError:
        raise EshError(
            400,
            "bad_request",
            "Заголовок If-Match должен содержать версию чата.",
            {"if_match": raw},
        ) from None


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is `{}`); 400 when it is not one."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise EshError(400, "bad_request", "Тело запроса не является корректным JSON.") from None
    if not isinstance(body, dict):
        raise EshError(400, "bad_request", "Тело запроса должно быть JSON-объектом.")
    return body


def _validation(fields: dict[str, str]) -> EshError:
    return EshError(422, "validation", "Проверьте заполнение полей.", {"fields": fields})


def _strings(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, str | None]:
    """Optional string fields of a body: stripped, empty as None; 422 for other types."""
    values: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in names:
        value = body.get(name)
        if value is None:
            values[name] = None
        elif isinstance(value, str):
            values[name] = value.strip() or None
        else:
            errors[name] = "Ожидается строка."
    if errors:
        raise _validation(errors)
    return values


def _unknown_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = {k: "Неизвестное поле." for k in body if k not in allowed}
    if unknown:
        raise _validation(unknown)


def _check_name(name: str | None, errors: dict[str, str]) -> None:
    if not name:
        errors["name"] = "Введите наименование чата."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Наименование чата не длиннее {NAME_MAX} символов."


# --- who may do what --------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """The signed-in person's registry rights: staff schools (read) and admin schools (all)."""

    person_id: str
    staff_schools: frozenset[str]
    admin_schools: frozenset[str]

    @classmethod
    def of(cls, state: SandboxState, principal: Principal) -> Access:
        return cls(
            principal.person_id,
            principal.staff_school_ids(state),
            principal.admin_school_ids(state),
        )

    def can_edit(self, chat: Any) -> bool:
        """A school admin edits any chat of the school; a teacher the chats they administer."""
        return chat.school_id in self.admin_schools or (
            chat.admin_person_id == self.person_id and chat.school_id in self.staff_schools
        )

    def member_chats(self) -> Any:
        """The ids of the chats the person is a (non-excluded) member of."""
        cm = m.chat_members
        return select(cm.c.chat_id).where(
            cm.c.person_id == self.person_id, cm.c.excluded == false()
        )

    def visible(self) -> ColumnElement[bool]:
        """Chats the person may read: their schools' as staff, otherwise their own."""
        own = m.chats.c.id.in_(self.member_chats())
        if not self.staff_schools:
            return own
        return or_(m.chats.c.school_id.in_(self.staff_schools), own)


def _forbidden(message: str = "Недостаточно прав для этого действия.") -> EshError:
    return EshError(403, "forbidden", message)


def _chat_row(conn: Connection, chat_id: int) -> Any:
    row = conn.execute(select(m.chats).where(m.chats.c.id == chat_id)).first()
    if row is None:
        raise EshError(404, "not_found", "Чат не найден.", {"chat_id": chat_id})
    return row


def _readable_chat(conn: Connection, access: Access, chat_id: int) -> Any:
    """The chat if the person may read it: 404 when there is none, 403 when not theirs."""
    chat = _chat_row(conn, chat_id)
    if chat.school_id in access.staff_schools:
        return chat
    member = conn.execute(
        select(m.chat_members.c.chat_id).where(
            m.chat_members.c.chat_id == chat_id,
            m.chat_members.c.person_id == access.person_id,
            m.chat_members.c.excluded == false(),
        )
    ).first()
    if member is None:
        raise _forbidden("Этот чат вам недоступен.")
    return chat


def _editable_chat(conn: Connection, access: Access, chat_id: int) -> Any:
    """The chat if the person may change it (school admin or the chat's administrator)."""
    chat = _readable_chat(conn, access, chat_id)
    if not access.can_edit(chat):
        raise _forbidden("Изменять чат может администратор чата или администратор школы.")
    return chat


def _is_school_staff(conn: Connection, person_id: str, school_id: str) -> bool:
    """Whether the person is employed (teacher or administrator) in the school or its district."""
    parent = select(m.orgs.c.parent_id).where(m.orgs.c.sourced_id == school_id).scalar_subquery()
    ur = m.user_roles
    row = conn.execute(
        select(ur.c.id).where(
            ur.c.user_id == person_id,
            ur.c.role.in_(("teacher", "administrator")),
            or_(ur.c.org_id == school_id, ur.c.org_id == parent),
            active_role(),
        )
    ).first()
    return row is not None


# --- chat items -------------------------------------------------------------------------------

_admin = m.users.alias("admin")
_CHATS_WITH_ADMIN = m.chats.outerjoin(_admin, _admin.c.sourced_id == m.chats.c.admin_person_id)


def _chat_select() -> Any:
    return select(
        m.chats, _admin.c.family_name, _admin.c.given_name, _admin.c.middle_name
    ).select_from(_CHATS_WITH_ADMIN)


def _chat_items(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """Chat items with their member counts, counted for the whole page in one grouped query."""
    cm, ln = m.chat_members, m.links
    counts: dict[int, tuple[int, int]] = {}
    ids = [r.id for r in rows]
    if ids:
        for chat_id, total, linked in conn.execute(
            select(cm.c.chat_id, func.count(), func.count(ln.c.person_id))
            .select_from(
                cm.outerjoin(ln, and_(ln.c.person_id == cm.c.person_id, ln.c.status == "linked"))
            )
            .where(in_ids(cm.c.chat_id, ids), cm.c.excluded == false())
            .group_by(cm.c.chat_id)
        ):
            counts[chat_id] = (total, linked)
    return [
        {
            "id": r.id,
            "school_id": r.school_id,
            "name": r.name,
            "type": r.type,
            "class_id": r.class_id,
            "group_id": r.group_id,
            "subject": r.subject,
            "admin_person_id": r.admin_person_id,
            "admin_name": full_name(r.family_name, r.given_name, r.middle_name)
            if r.family_name
            else None,
            "member_count": counts.get(r.id, (0, 0))[0],
            "linked_member_count": counts.get(r.id, (0, 0))[1],
            "sferum_chat_id": r.sferum_chat_id,
            "status": r.status,
            "version": r.version,
            "updated_at": iso(r.updated_at),
        }
        for r in rows
    ]


def _chat_item(conn: Connection, chat_id: int) -> dict[str, Any]:
    rows = conn.execute(_chat_select().where(m.chats.c.id == chat_id)).all()
    if not rows:
        raise EshError(404, "not_found", "Чат не найден.", {"chat_id": chat_id})
    return _chat_items(conn, rows)[0]


def _chat_response(item: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(item, status_code=status_code, headers={"ETag": f'"{item["version"]}"'})


def _conflict(conn: Connection, chat_id: int) -> EshError:
    return EshError(
        412,
        "version_conflict",
        "Чат уже изменил кто-то другой. Обновите данные и повторите.",
        {"current": _chat_item(conn, chat_id)},
    )


def _bump(
    conn: Connection, chat_id: int, expected: int | None, values: dict[str, Any] | None = None
) -> None:
    """Write a chat's new values with `version + 1`, only if it is still at `expected`."""
    stmt = update(m.chats).where(m.chats.c.id == chat_id)
    if expected is not None:
        stmt = stmt.where(m.chats.c.version == expected)
    result = conn.execute(
        stmt.values(**(values or {}), version=m.chats.c.version + 1, updated_at=utcnow())
    )
    if result.rowcount == 0:
        raise _conflict(conn, chat_id)


def _check_version(conn: Connection, chat: Any, expected: int | None) -> None:
    if expected is not None and chat.version != expected:
        raise _conflict(conn, chat.id)


# --- chats ------------------------------------------------------------------------------------


@router.get("/chats", responses=error_responses(400, 401), openapi_extra=_CHATS_QUERY)
def list_chats(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """The registry page `{items, total}`: filters `school`, `type`, `q`; `limit`, `offset`."""
    limit, offset = parse_paging(request)
    params = request.query_params
    chat_type = params.get("type") or None
    if chat_type is not None and chat_type not in CHAT_TYPES:
        raise EshError(
            400, "bad_request", f"Неизвестный тип чата: {chat_type}.", {"types": list(CHAT_TYPES)}
        )
    access = Access.of(state, principal)
    with state.engine.connect() as conn:
        conditions = [access.visible()]
        if params.get("school"):
            conditions.append(m.chats.c.school_id == params["school"])
        if chat_type is not None:
            conditions.append(m.chats.c.type == chat_type)
        query = (params.get("q") or "").strip().casefold()
        if query:
            u = m.users
            name = u.c.family_name + " " + u.c.given_name + " " + func.coalesce(u.c.middle_name, "")
            admins = select(u.c.sourced_id).where(
                u.c.sourced_id.in_(select(m.chats.c.admin_person_id).distinct()),
                casefold(conn, name).contains(query, autoescape=True),
            )
            conditions.append(
                or_(
                    casefold(conn, m.chats.c.name).contains(query, autoescape=True),
                    m.chats.c.admin_person_id.in_(admins),
                )
            )
        # One pass for the matching ids (total and page at once), then the page's details.
        ids = conn.scalars(select(m.chats.c.id).where(*conditions).order_by(m.chats.c.id)).all()
        page = ids[offset : offset + limit]
        rows = (
            conn.execute(
                _chat_select().where(in_ids(m.chats.c.id, page)).order_by(m.chats.c.id)
            ).all()
            if page
            else []
        )
        items = _chat_items(conn, rows)
        total = len(ids)
    return JSONResponse({"items": items, "total": total})


CREATE_FIELDS = ("school_id", "name", "type", "class_id", "group_id", "subject", "admin_person_id")


def _active_class(conn: Connection, class_id: str, class_type: str) -> Any:
    return conn.execute(
        select(m.classes).where(
            m.classes.c.sourced_id == class_id,
            m.classes.c.class_type == class_type,
            m.classes.c.status == "active",
        )
    ).first()


def _teaches(conn: Connection, person_id: str, group_id: str) -> bool:
    e = m.enrollments
    row = conn.execute(
        select(e.c.sourced_id).where(
            e.c.user_id == person_id,
            e.c.class_id == group_id,
            e.c.role == "teacher",
            e.c.status == "active",
        )
    ).first()
    return row is not None


def _duplicate(conn: Connection, school_id: str, chat_type: str, key: str | None) -> None:
    """409 when the chat would be a second automatic chat of its class (or school, or group)."""
    c = m.chats
    if chat_type == "staff":
        condition = and_(c.c.type == "staff", c.c.school_id == school_id)
    elif chat_type in ("class", "parents"):
        condition = and_(c.c.type == chat_type, c.c.class_id == key)
    elif chat_type == "subject":
        condition = and_(c.c.type == "subject", c.c.group_id == key)
    else:
        return
    existing = conn.execute(select(c.c.id, c.c.name).where(condition)).first()
    if existing is not None:
        raise EshError(
            409,
            "duplicate",
            f"Такой чат уже есть: «{existing.name}».",
            {"chat_id": existing.id},
        )


def _create_chat(state: SandboxState, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Validate, authorize and insert a chat; the item of the new chat."""
    _unknown_fields(body, CREATE_FIELDS)
    fields = _strings(body, CREATE_FIELDS)
    chat_type = fields["type"]
    if chat_type not in CHAT_TYPES:
        raise _validation({"type": "Выберите тип чата: staff, class, parents, subject или custom."})
    if not principal.is_staff:
        raise _forbidden("Создавать чаты могут только сотрудники школы.")
    access = Access.of(state, principal)
    errors: dict[str, str] = {}
    with write_transaction(state) as conn:
        homeroom = group = None
        if chat_type in ("class", "parents"):
            if fields["class_id"] is None:
                errors["class_id"] = "Выберите класс."
            else:
                homeroom = _active_class(conn, fields["class_id"], "homeroom")
                if homeroom is None:
                    errors["class_id"] = "Класс не найден."
        elif chat_type == "subject":
            if fields["group_id"] is None:
                errors["group_id"] = "Выберите предмет и группу (класс)."
            else:
                group = _active_class(conn, fields["group_id"], "scheduled")
                if group is None:
                    errors["group_id"] = "Группа обучения не найдена."
        elif chat_type == "custom" and fields["class_id"] is not None:
            homeroom = _active_class(conn, fields["class_id"], "homeroom")
            if homeroom is None:
                errors["class_id"] = "Класс не найден."
        if errors:
            raise _validation(errors)

        anchor = group or homeroom
        school_id = fields["school_id"] or (anchor.school_id if anchor else None)
        if school_id is None:
            if len(access.staff_schools) != 1:
                raise _validation({"school_id": "Укажите школу."})
            school_id = next(iter(access.staff_schools))
        if anchor is not None and anchor.school_id != school_id:
            field = "group_id" if group is not None else "class_id"
            raise _validation({field: "Класс или группа из другой школы."})
        if school_id not in access.staff_schools:
            raise _forbidden("Это не ваша школа.")
        is_admin = school_id in access.admin_schools
        if chat_type in AUTOMATIC_TYPES and not is_admin:
            raise _forbidden("Автоматические чаты создаёт администратор школы.")
        if (
            chat_type == "subject"
            and not is_admin
            and not _teaches(conn, principal.person_id, group.sourced_id)
        ):
            raise _forbidden("Создать предметный чат можно только для своей группы.")

        admin_person_id = fields["admin_person_id"] or principal.person_id
        if admin_person_id != principal.person_id:
            if not is_admin:
                raise _forbidden("Назначить другого администратора чата может администратор школы.")
            if not _is_school_staff(conn, admin_person_id, school_id):
                errors["admin_person_id"] = (
                    "Администратором чата может быть только сотрудник школы."
                )

        subject = fields["subject"]
        class_id: str | None = homeroom.sourced_id if homeroom is not None else None
        if chat_type == "staff":
            name = fields["name"] or STAFF_CHAT_NAME
        elif chat_type == "class":
            name = fields["name"] or class_chat_name(homeroom.title)
        elif chat_type == "parents":
            name = fields["name"] or class_chat_name(homeroom.title) + PARENTS_SUFFIX
        elif chat_type == "subject":
            subjects = list(group.subjects or [])
            if subject is None and subjects:
                subject = subjects[0]
            if subject is None:
                errors["subject"] = "Укажите предмет."
            elif subjects and subject not in subjects:
                errors["subject"] = "В этой группе не изучается такой предмет."
            class_id = group.homeroom_id
            title = group.title
            if group.homeroom_id is not None:
                parent = conn.execute(
                    select(m.classes.c.title).where(m.classes.c.sourced_id == group.homeroom_id)
                ).first()
                title = parent.title if parent is not None else title
            name = subject_chat_name(title, subject or "")
            if group.title.startswith(f"{title} - ") and subject and subject in group.title:
                # A subgroup («1А - Русский язык (индивидуальное обучение)») keeps its own
                # title, so that two groups of one subject never name two chats alike.
                name = group.title
            if fields["name"] is not None and fields["name"] != name:
                errors["name"] = "Наименование предметного чата формируется автоматически."
        else:
            name = fields["name"] or ""
            subject = subject if chat_type == "custom" else None
        _check_name(name, errors)
        if errors:
            raise _validation(errors)

        _duplicate(conn, school_id, chat_type, group.sourced_id if group is not None else class_id)
        now = utcnow()
        chat_id = conn.execute(
            insert(m.chats).values(
                school_id=school_id,
                name=name,
                type=chat_type,
                class_id=class_id,
                group_id=group.sourced_id if group is not None else None,
                subject=subject,
                admin_person_id=admin_person_id,
                status="active",
                version=1,
                created_at=now,
                updated_at=now,
                created_by=principal.person_id,
            )
        ).inserted_primary_key[0]
        audit(
            conn,
            principal.person_id,
            "chat.create",
            chat_id,
            details={"name": name, "type": chat_type, "class_id": class_id, "school_id": school_id},
            at=now,
        )
        return _chat_item(conn, chat_id)


@router.post(
    "/chats",
    status_code=201,
    responses=error_responses(400, 401, 403, 409, 422),
    openapi_extra={"requestBody": _CREATE_BODY},
)
async def create_chat(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Create `{type, school_id?, name?, class_id?, group_id?, subject?, admin_person_id?}`."""
    body = await _json_object(request)
    item = await run_in_threadpool(_create_chat, state, principal, body)
    return _chat_response(item, 201)


@router.get("/chats/{chat_id}", responses=error_responses(401, 403, 404))
def get_chat(chat_id: int, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """One chat with its `ETag: "<version>"`."""
    access = Access.of(state, principal)
    with state.engine.connect() as conn:
        _readable_chat(conn, access, chat_id)
        return _chat_response(_chat_item(conn, chat_id))


PATCH_FIELDS = ("name", "admin_person_id", "status")


def _patch_chat(
    state: SandboxState,
    principal: Principal,
    chat_id: int,
    expected: int | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Check rights, version and fields, then write the change with a version bump."""
    access = Access.of(state, principal)
    with write_transaction(state) as conn:
        chat = _editable_chat(conn, access, chat_id)
        _check_version(conn, chat, expected)
        _unknown_fields(body, PATCH_FIELDS)
        fields = _strings(body, PATCH_FIELDS)
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        if "name" in body:
            if chat.type == "subject":
                if fields["name"] != chat.name:
                    errors["name"] = "Наименование предметного чата формируется автоматически."
            else:
                _check_name(fields["name"], errors)
                values["name"] = fields["name"]
        if "status" in body:
            if fields["status"] not in CHAT_STATUSES:
                errors["status"] = "Состояние чата: active или archived."
            values["status"] = fields["status"]
        if "admin_person_id" in body:
            new_admin = fields["admin_person_id"]
            if new_admin is None or not _is_school_staff(conn, new_admin, chat.school_id):
                errors["admin_person_id"] = (
                    "Администратором чата может быть только сотрудник школы."
                )
            values["admin_person_id"] = new_admin
        if errors:
            raise _validation(errors)
        _bump(conn, chat_id, chat.version, values)
        audit(conn, principal.person_id, "chat.update", chat_id, details={"changes": values})
        return _chat_item(conn, chat_id)


@router.patch(
    "/chats/{chat_id}",
    responses=error_responses(400, 401, 403, 404, 412, 422, 428),
    openapi_extra={**_IF_MATCH, "requestBody": _PATCH_BODY},
)
async def patch_chat(
    chat_id: int, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """Edit `{name?, admin_person_id?, status?}`; `If-Match: <version>` required."""
    expected = _if_match(request, required=True)
    body = await _json_object(request)
    item = await run_in_threadpool(_patch_chat, state, principal, chat_id, expected, body)
    return _chat_response(item)


def _delete_chat(
    state: SandboxState, principal: Principal, chat_id: int, expected: int | None
) -> None:
    """Delete a chat and its members; automatic chats of existing classes stay (409)."""
    access = Access.of(state, principal)
    with write_transaction(state) as conn:
        chat = _editable_chat(conn, access, chat_id)
        if chat.type in AUTOMATIC_TYPES and chat.school_id not in access.admin_schools:
            raise _forbidden("Удалять автоматические чаты может только администратор школы.")
        _check_version(conn, chat, expected)
        if chat.type in ("class", "parents") and chat.class_id is not None:
            alive = _active_class(conn, chat.class_id, "homeroom")
            if alive is not None:
                raise EshError(
                    409,
                    "automatic_chat",
                    f"Чат «{chat.name}» создан автоматически и удаляется только вместе с классом "
                    f"{alive.title}. Его можно перевести в архив.",
                    {"class_id": chat.class_id},
                )
        if chat.type == "staff":
            school = conn.execute(
                select(m.orgs.c.status).where(m.orgs.c.sourced_id == chat.school_id)
            ).first()
            if school is not None and school.status == "active":
                raise EshError(
                    409,
                    "automatic_chat",
                    "Учительский чат создан автоматически и удаляется только вместе со школой.",
                    {"school_id": chat.school_id},
                )
        conn.execute(delete(m.chat_members).where(m.chat_members.c.chat_id == chat_id))
        result = conn.execute(
            delete(m.chats).where(m.chats.c.id == chat_id, m.chats.c.version == chat.version)
        )
        if result.rowcount == 0:
            raise _conflict(conn, chat_id)
        audit(
            conn,
            principal.person_id,
            "chat.delete",
            chat_id,
            details={"name": chat.name, "type": chat.type, "sferum_chat_id": chat.sferum_chat_id},
        )


@router.delete(
    "/chats/{chat_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, 409, 412, 428),
    openapi_extra=_IF_MATCH,
)
async def delete_chat(
    chat_id: int, request: Request, state: StateDep, principal: PrincipalDep
) -> Response:
    """Delete a chat; `If-Match: <version>` required; 409 for an automatic chat of a class."""
    expected = _if_match(request, required=True)
    await run_in_threadpool(_delete_chat, state, principal, chat_id, expected)
    return Response(status_code=204)


# --- members ----------------------------------------------------------------------------------


@router.get(
    "/chats/{chat_id}/members",
    responses=error_responses(401, 403, 404),
    openapi_extra=_MEMBERS_QUERY,
)
def list_members(
    chat_id: int, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """The chat's registry members `{items, total}`; `include_excluded=true` adds exclusions."""
    include_excluded = request.query_params.get("include_excluded", "false").lower() == "true"
    access = Access.of(state, principal)
    cm, u, ln = m.chat_members, m.users, m.links
    with state.engine.connect() as conn:
        _readable_chat(conn, access, chat_id)
        stmt = (
            select(
                cm,
                u.c.family_name,
                u.c.given_name,
                u.c.middle_name,
                u.c.enabled_user,
                ln.c.status.label("link_status"),
                ln.c.vk_user_id,
            )
            .select_from(
                cm.join(u, u.c.sourced_id == cm.c.person_id).outerjoin(
                    ln, ln.c.person_id == cm.c.person_id
                )
            )
            .where(cm.c.chat_id == chat_id)
            .order_by(u.c.family_name, u.c.given_name, u.c.middle_name, cm.c.person_id)
        )
        if not include_excluded:
            stmt = stmt.where(cm.c.excluded == false())
        rows = conn.execute(stmt).all()
    items = [
        {
            "person_id": r.person_id,
            "full_name": full_name(r.family_name, r.given_name, r.middle_name),
            "role_in_chat": r.role_in_chat,
            "source": r.source,
            "excluded": bool(r.excluded),
            "blocked": not r.enabled_user,
            "linked": r.link_status == "linked",
            "vk_user_id": r.vk_user_id if r.link_status == "linked" else None,
            "added_at": iso(r.added_at),
        }
        for r in rows
    ]
    return JSONResponse({"items": items, "total": len(items)})


def _person_ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("person_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise _validation({"person_ids": "Выберите хотя бы одного участника."})
    return list(dict.fromkeys(ids))


def _school_people(conn: Connection, person_ids: list[str], school_id: str) -> set[str]:
    """Which of `person_ids` belong to the school today (any role in it or in its district)."""
    parent = select(m.orgs.c.parent_id).where(m.orgs.c.sourced_id == school_id).scalar_subquery()
    ur = m.user_roles
    rows = conn.execute(
        select(ur.c.user_id)
        .where(
            ur.c.user_id.in_(person_ids),
            or_(ur.c.org_id == school_id, ur.c.org_id == parent),
            active_role(),
        )
        .distinct()
    )
    return {r[0] for r in rows}


def _add_members(
    state: SandboxState,
    principal: Principal,
    chat_id: int,
    expected: int | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Add members idempotently; a manual add clears an exclusion, a rule add respects it."""
    access = Access.of(state, principal)
    with write_transaction(state) as conn:
        chat = _editable_chat(conn, access, chat_id)
        _check_version(conn, chat, expected)
        _unknown_fields(body, ("person_ids", "role_in_chat", "source"))
        person_ids = _person_ids(body)
        role_in_chat = body.get("role_in_chat")
        source = body.get("source", "manual")
        errors: dict[str, str] = {}
        if role_in_chat not in ROLES_IN_CHAT:
            errors["role_in_chat"] = "Роль в чате: staff, student или parent."
        if source not in SOURCES:
            errors["source"] = "Источник: rule или manual."
        strangers = sorted(set(person_ids) - _school_people(conn, person_ids, chat.school_id))
        if strangers:
            errors["person_ids"] = "Не из этой школы: " + ", ".join(strangers) + "."
        if errors:
            raise _validation(errors)
        cm = m.chat_members
        existing = {
            r.person_id: r
            for r in conn.execute(
                select(cm.c.person_id, cm.c.excluded).where(
                    cm.c.chat_id == chat_id, cm.c.person_id.in_(person_ids)
                )
            )
        }
        now = utcnow()
        added: list[str] = []
        revived: list[str] = []
        for person_id in person_ids:
            row = existing.get(person_id)
            if row is None:
                added.append(person_id)
            elif row.excluded and source == "manual":
                revived.append(person_id)
        if added:
            conn.execute(
                insert(cm),
                [
                    {
                        "chat_id": chat_id,
                        "person_id": p,
                        "role_in_chat": role_in_chat,
                        "source": source,
                        "excluded": False,
                        "added_at": now,
                        "added_by": principal.person_id,
                    }
                    for p in added
                ],
            )
        if revived:
            conn.execute(
                update(cm)
                .where(cm.c.chat_id == chat_id, cm.c.person_id.in_(revived))
                .values(
                    excluded=False,
                    source="manual",
                    role_in_chat=role_in_chat,
                    added_at=now,
                    added_by=principal.person_id,
                )
            )
        changed = added + revived
        version = chat.version
        if changed:
            _bump(conn, chat_id, chat.version)
            version += 1
            audit(
                conn,
                principal.person_id,
                "members.add",
                chat_id,
                details={"person_ids": changed, "role_in_chat": role_in_chat, "source": source},
                at=now,
            )
        return {"added": changed, "version": version}


@router.post(
    "/chats/{chat_id}/members",
    responses=error_responses(400, 401, 403, 404, 412, 422),
    openapi_extra={**_IF_MATCH, "requestBody": _ADD_BODY},
)
async def add_members(
    chat_id: int, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """Add `{person_ids, role_in_chat, source}` → `{added, version}`; `If-Match` optional."""
    expected = _if_match(request, required=False)
    body = await _json_object(request)
    answer = await run_in_threadpool(_add_members, state, principal, chat_id, expected, body)
    return JSONResponse(answer)


def _remove_members(
    state: SandboxState,
    principal: Principal,
    chat_id: int,
    expected: int | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Remove members; with `exclude` the rows stay as exclusions the rules respect."""
    access = Access.of(state, principal)
    with write_transaction(state) as conn:
        chat = _editable_chat(conn, access, chat_id)
        _check_version(conn, chat, expected)
        _unknown_fields(body, ("person_ids", "exclude"))
        person_ids = _person_ids(body)
        exclude = body.get("exclude", False)
        if not isinstance(exclude, bool):
            raise _validation({"exclude": "Ожидается true или false."})
        cm = m.chat_members
        removed = [
            r[0]
            for r in conn.execute(
                select(cm.c.person_id).where(
                    cm.c.chat_id == chat_id,
                    cm.c.person_id.in_(person_ids),
                    cm.c.excluded == false(),
                )
            )
        ]
        version = chat.version
        if removed:
            targets = and_(cm.c.chat_id == chat_id, cm.c.person_id.in_(removed))
            if exclude:
                conn.execute(update(cm).where(targets).values(excluded=True))
            else:
                conn.execute(delete(cm).where(targets))
            _bump(conn, chat_id, chat.version)
            version += 1
            audit(
                conn,
                principal.person_id,
                "members.exclude" if exclude else "members.remove",
                chat_id,
                details={"person_ids": removed},
            )
        return {"removed": removed, "version": version}


@router.delete(
    "/chats/{chat_id}/members",
    responses=error_responses(400, 401, 403, 404, 412, 422),
    openapi_extra={**_IF_MATCH, "requestBody": _REMOVE_BODY},
)
async def remove_members(
    chat_id: int, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """Remove `{person_ids, exclude}` → `{removed, version}`; `If-Match` optional."""
    expected = _if_match(request, required=False)
    body = await _json_object(request)
    answer = await run_in_threadpool(_remove_members, state, principal, chat_id, expected, body)
    return JSONResponse(answer)


def _set_sferum_chat(
    state: SandboxState,
    principal: Principal,
    chat_id: int,
    expected: int | None,
    body: dict[str, Any],
) -> dict[str, Any]:
    access = Access.of(state, principal)
    with write_transaction(state) as conn:
        chat = _editable_chat(conn, access, chat_id)
        _check_version(conn, chat, expected)
        _unknown_fields(body, ("sferum_chat_id",))
        if "sferum_chat_id" not in body:
            raise _validation({"sferum_chat_id": "Укажите идентификатор чата Сферума."})
        value = body["sferum_chat_id"]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise _validation(
                {"sferum_chat_id": "Идентификатор чата Сферума — положительное число."}
            )
        _bump(conn, chat_id, chat.version, {"sferum_chat_id": value})
        audit(conn, principal.person_id, "chat.sferum", chat_id, details={"sferum_chat_id": value})
        return _chat_item(conn, chat_id)


@router.put(
    "/chats/{chat_id}/sferum",
    responses=error_responses(400, 401, 403, 404, 412, 422),
    openapi_extra={**_IF_MATCH, "requestBody": _SFERUM_BODY},
)
async def put_sferum_chat(
    chat_id: int, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """Remember `{sferum_chat_id}` (null forgets it) → the chat item; `If-Match` optional."""
    expected = _if_match(request, required=False)
    body = await _json_object(request)
    item = await run_in_threadpool(_set_sferum_chat, state, principal, chat_id, expected, body)
    return _chat_response(item)


# --- links ------------------------------------------------------------------------------------


@router.get("/links", responses=error_responses(400, 401), openapi_extra=_LINKS_QUERY)
def list_links(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Links `{items, total}` oldest change first; `updated_after` makes it a delta."""
    limit, offset = parse_paging(request)
    raw_after = request.query_params.get("updated_after")
    ln = m.links
    conditions: list[ColumnElement[bool]] = []
    if raw_after:
        conditions.append(ln.c.updated_at > parse_datetime(raw_after, "updated_after"))
    schools = principal.staff_school_ids(state)
    own = ln.c.person_id == principal.person_id
    if schools:
        ur = m.user_roles
        people = select(ur.c.user_id).where(ur.c.org_id.in_(schools))
        conditions.append(or_(own, ln.c.person_id.in_(people)))
    else:
        conditions.append(own)
    where = and_(true(), *conditions)
    with state.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(ln).where(where)).scalar_one()
        rows = conn.execute(
            select(ln)
            .where(where)
            .order_by(ln.c.updated_at, ln.c.person_id)
            .limit(limit)
            .offset(offset)
        ).all()
    return JSONResponse({"items": [vk_links.link_item(r) for r in rows], "total": total})


@router.post(
    "/links",
    status_code=201,
    responses=error_responses(400, 401, 409, 422),
    openapi_extra={"requestBody": _LINK_BODY},
)
async def create_link(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Link the signed-in person to the VK ID profile of `{vk_access_token}`."""
    body = await _json_object(request)
    token = body.get("vk_access_token")
    if not isinstance(token, str) or not token.strip():
        raise _validation({"vk_access_token": "Нужен токен доступа VK ID."})
    item = await run_in_threadpool(
        vk_links.link_with_token, state, principal.person_id, token.strip()
    )
    return JSONResponse(item, status_code=201)


@router.delete("/links/me", responses=error_responses(401))
async def delete_my_link(state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """Unlink the signed-in person; the answer says `status: "unlinked"`."""
    item = await run_in_threadpool(
        vk_links.unlink_person, state, principal.person_id, principal.person_id
    )
    return JSONResponse(item)
