"""ESh roster: the IMS OneRoster 1.2 rostering REST binding (read-only subset).

Mounted at `/esh/ims/oneroster/rostering/v1p2`. Every collection is scoped to the schools
where the signed-in person holds a staff role (a district role covers its schools), and every
page is built with a handful of set-based queries, so the `district` dataset pages fast.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    String,
    Table,
    and_,
    exists,
    func,
    not_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnClause

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.common import (
    EshError,
    Principal,
    SandboxState,
    current_principal,
    error_responses,
    get_state,
)
from sferum_desktop.sandbox.esh_helpers import (
    in_ids,
    parse_datetime,
    parse_paging,
    query_parameter,
)

router = APIRouter(tags=["ESh: roster (OneRoster 1.2)"])
StateDep = Annotated[SandboxState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
PREFIX = "/esh/ims/oneroster/rostering/v1p2"  # where app.py mounts the router, for hrefs

# --- the signed-in person's scope -------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a staff member may read: schools, the orgs shown, and whether that is everything."""

    schools: frozenset[str]
    orgs: frozenset[str]  # schools, the person's own staff orgs and the schools' parents
    everything: bool  # `orgs` is every org there is: scoping filters can be skipped


def roster_scope(state: SandboxState, principal: Principal, conn: Connection) -> Scope:
    """The scope of a staff member; students and parents get 403."""
    if not principal.is_staff:
        raise EshError(403, "forbidden", "Состав школы доступен только сотрудникам.")
    schools = principal.staff_school_ids(state)
    own = principal.role_orgs.get("teacher", frozenset()) | principal.role_orgs.get(
        "admin", frozenset()
    )
    all_orgs = {
        r.sourced_id: r.parent_id
        for r in conn.execute(select(m.orgs.c.sourced_id, m.orgs.c.parent_id))
    }
    parents = {all_orgs[s] for s in schools if all_orgs.get(s)}
    orgs = frozenset(schools | own | parents)
    return Scope(schools=schools, orgs=orgs, everything=orgs >= set(all_orgs))


# --- filter, sort, fields ---------------------------------------------------------------------

_TERM = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.]*)\s*(>=|<=|!=|=|>|<|~)\s*'((?:[^']|'')*)'\s*")
_JOIN = re.compile(r"AND(?=\s)", re.IGNORECASE)

Condition = Callable[["Context", str, Any], ColumnElement[bool]]


@dataclass(frozen=True)
class Field:
    """A filterable (and maybe sortable) OneRoster field: how to read its value, how to test it."""

    kind: str  # str | datetime | date | bool
    column: ColumnClause[Any] | None = None  # sortable and compared directly
    condition: Condition | None = None  # a custom test, e.g. an EXISTS over roles


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    """`column op value`; `~` is "contains"."""
    if op == "~":
        return column.contains(str(value), autoescape=True)  # type: ignore[no-any-return]
    return _OPERATORS[op](column, value)  # type: ignore[no-any-return]


def _typed(kind: str, raw: str, name: str) -> Any:
    if kind == "datetime":
        return parse_datetime(raw, name)
    if kind == "date":
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            raise EshError(
                400,
                "bad_request",
                f"Значение «{raw}» для {name} не является датой.",
                {"field": name},
            ) from None
    if kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise EshError(
                400, "bad_request", f"Поле {name} принимает 'true' или 'false'.", {"field": name}
            )
        return raw.lower() == "true"
    return raw


def parse_filter(
    raw: str, fields: dict[str, Field], ctx: Context
) -> tuple[list[ColumnElement[bool]], set[str]]:
    """OneRoster `filter`: `field op 'value'` terms joined by ` AND `; 400 on anything else."""
    conditions: list[ColumnElement[bool]] = []
    names: set[str] = set()
    pos = 0
    while True:
        match = _TERM.match(raw, pos)
        if match is None:
            raise EshError(
                400,
                "bad_request",
                "Не удалось разобрать filter: ожидается поле, оператор "
                "(=, !=, >, >=, <, <=, ~) и значение в апострофах, условия через AND.",
                {"filter": raw, "position": pos},
            )
        name, op, value = match.group(1), match.group(2), match.group(3).replace("''", "'")
        spec = fields.get(name)
        if spec is None:
            raise EshError(
                400,
                "bad_request",
                f"Фильтр по полю {name} не поддерживается.",
                {"field": name, "supported": sorted(fields)},
            )
        typed = _typed(spec.kind, value, name)
        if spec.kind == "bool" and op not in ("=", "!="):
            raise EshError(
                400, "bad_request", f"Для поля {name} допустимы только = и !=.", {"field": name}
            )
        if spec.kind != "str" and op == "~":
            raise EshError(
                400,
                "bad_request",
                "Оператор ~ применим только к текстовым полям.",
                {"field": name},
            )
        if spec.condition is not None:
            conditions.append(spec.condition(ctx, op, typed))
        else:
            conditions.append(_compare(spec.column, op, typed))
        names.add(name)
        pos = match.end()
        if pos == len(raw):
            return conditions, names
        joiner = _JOIN.match(raw, pos)
        if joiner is None:
            raise EshError(
                400,
                "bad_request",
                "Условия filter соединяются только через AND.",
                {"filter": raw, "position": pos},
            )
        pos = joiner.end()


def _json_list_condition(column: Any) -> Condition:
    """A test on a JSON list column (`subjects`, `grades`): = any element, ~ any contains it."""

    def condition(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
        each = func.json_each(column).table_valued("value")
        if op == "=":
            return exists().select_from(each).where(each.c.value == value)
        if op == "!=":
            return not_(exists().select_from(each).where(each.c.value == value))
        if op == "~":
            return exists().select_from(each).where(each.c.value.contains(value, autoescape=True))
        raise EshError(400, "bad_request", "Для списков допустимы только =, != и ~.")

    return condition


# --- collections ------------------------------------------------------------------------------


@dataclass
class Context:
    """One request's reading context: scope, hrefs, the connection."""

    conn: Connection
    scope: Scope
    base: str  # absolute URL of the rostering base, for hrefs

    @property
    def role_orgs(self) -> frozenset[str] | None:
        """The orgs whose roles count for this reader (None: every org, no filter needed)."""
        return None if self.scope.everything else self.scope.orgs

    def ref(self, kind: str, path: str, sourced_id: str | None) -> dict[str, str] | None:
        """A OneRoster GUIDRef `{href, sourcedId, type}`."""
        if sourced_id is None:
            return None
        return {"href": f"{self.base}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


Builder = Callable[[Context, Sequence[Any], set[str] | None], list[dict[str, Any]]]
ScopeFilter = Callable[[Context], ColumnElement[bool] | None]


@dataclass(frozen=True)
class Collection:
    """A OneRoster collection: its table, fields, scoping and record builder."""

    name: str  # the wrapper of a page: "users"
    single: str  # the wrapper of one record: "user"
    table: Table
    fields: dict[str, Field]
    scope: ScopeFilter
    build: Builder
    record_fields: tuple[str, ...] = field(default=())  # the names `fields=` may select

    @property
    def key(self) -> Any:
        return self.table.c.sourced_id


def _common_fields(table: Table) -> dict[str, Field]:
    return {
        "sourcedId": Field("str", table.c.sourced_id),
        "status": Field("str", table.c.status),
        "dateLastModified": Field("datetime", table.c.date_last_modified),
    }


def as_text(column: Any) -> Any:
    """A column as OneRoster's text: times as ISO 8601 UTC with milliseconds, dates as ISO.

    SQLite formats them itself, which spares parsing and re-formatting them in Python for
    every record of a 10 000-record page.
    """
    if isinstance(column.type, DateTime):
        # Stored as "YYYY-MM-DD HH:MM:SS.ffffff"; cutting (not rounding, as strftime's %f
        # does) to milliseconds keeps a delta cursor from ever passing a later change.
        text = type_coerce(column, String)
        return (func.substr(text, 1, 10) + "T" + func.substr(text, 12, 12) + "Z").label(column.name)
    if isinstance(column.type, Date):
        return type_coerce(column, String).label(column.name)
    return column


def _record_columns(table: Table) -> list[Any]:
    return [as_text(column) for column in table.columns]


def _base(row: Any) -> dict[str, Any]:
    return {
        "sourcedId": row.sourced_id,
        "status": row.status,
        "dateLastModified": row.date_last_modified,
    }


# orgs


def _build_orgs(ctx: Context, rows: Sequence[Any], wanted: set[str] | None) -> list[dict[str, Any]]:
    children: dict[str, list[str]] = {}
    if wanted is None or "children" in wanted:
        ids = [r.sourced_id for r in rows]
        for child in ctx.conn.execute(
            select(m.orgs.c.sourced_id, m.orgs.c.parent_id)
            .where(in_ids(m.orgs.c.parent_id, ids), m.orgs.c.status == "active")
            .order_by(m.orgs.c.sourced_id)
        ).all():
            children.setdefault(child.parent_id, []).append(child.sourced_id)
    return [
        {
            **_base(r),
            "name": r.name,
            "type": r.type,
            "identifier": r.identifier,
            "parent": ctx.ref("org", "orgs", r.parent_id),
            "children": [ctx.ref("org", "orgs", c) for c in children.get(r.sourced_id, [])],
        }
        for r in rows
    ]


def _scope_orgs(ctx: Context) -> ColumnElement[bool] | None:
    return None if ctx.scope.everything else m.orgs.c.sourced_id.in_(ctx.scope.orgs)


ORGS = Collection(
    name="orgs",
    single="org",
    table=m.orgs,
    fields={
        **_common_fields(m.orgs),
        "name": Field("str", m.orgs.c.name),
        "type": Field("str", m.orgs.c.type),
        "identifier": Field("str", m.orgs.c.identifier),
        "parent.sourcedId": Field("str", m.orgs.c.parent_id),
    },
    scope=_scope_orgs,
    build=_build_orgs,
    record_fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "name",
        "type",
        "identifier",
        "parent",
        "children",
    ),
)

# academicSessions


def _build_sessions(
    ctx: Context, rows: Sequence[Any], wanted: set[str] | None
) -> list[dict[str, Any]]:
    return [
        {
            **_base(r),
            "title": r.title,
            "type": r.type,
            "startDate": r.start_date,
            "endDate": r.end_date,
            "schoolYear": r.school_year,
            "org": ctx.ref("org", "orgs", r.org_id),
        }
        for r in rows
    ]


def _scope_sessions(ctx: Context) -> ColumnElement[bool] | None:
    if ctx.scope.everything:
        return None
    t = m.academic_sessions
    return t.c.org_id.is_(None) | t.c.org_id.in_(ctx.scope.orgs)


SESSIONS = Collection(
    name="academicSessions",
    single="academicSession",
    table=m.academic_sessions,
    fields={
        **_common_fields(m.academic_sessions),
        "title": Field("str", m.academic_sessions.c.title),
        "type": Field("str", m.academic_sessions.c.type),
        "startDate": Field("date", m.academic_sessions.c.start_date),
        "endDate": Field("date", m.academic_sessions.c.end_date),
        "schoolYear": Field("str", m.academic_sessions.c.school_year),
        "org.sourcedId": Field("str", m.academic_sessions.c.org_id),
    },
    scope=_scope_sessions,
    build=_build_sessions,
    record_fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "schoolYear",
        "org",
    ),
)

# courses


def _build_courses(
    ctx: Context, rows: Sequence[Any], wanted: set[str] | None
) -> list[dict[str, Any]]:
    return [
        {
            **_base(r),
            "title": r.title,
            "grades": list(r.grades or []),
            "subjects": list(r.subjects or []),
            "org": ctx.ref("org", "orgs", r.org_id),
        }
        for r in rows
    ]


def _scope_courses(ctx: Context) -> ColumnElement[bool] | None:
    return None if ctx.scope.everything else m.courses.c.org_id.in_(ctx.scope.orgs)


COURSES = Collection(
    name="courses",
    single="course",
    table=m.courses,
    fields={
        **_common_fields(m.courses),
        "title": Field("str", m.courses.c.title),
        "org.sourcedId": Field("str", m.courses.c.org_id),
        "subjects": Field("str", condition=_json_list_condition(m.courses.c.subjects)),
        "grades": Field("str", condition=_json_list_condition(m.courses.c.grades)),
    },
    scope=_scope_courses,
    build=_build_courses,
    record_fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "subjects",
        "org",
    ),
)

# classes


def _build_classes(
    ctx: Context, rows: Sequence[Any], wanted: set[str] | None
) -> list[dict[str, Any]]:
    records = []
    for r in rows:
        record = {
            **_base(r),
            "title": r.title,
            "classCode": r.class_code,
            "classType": r.class_type,
            "course": ctx.ref("course", "courses", r.course_id),
            "school": ctx.ref("org", "orgs", r.school_id),
            "subjects": list(r.subjects or []),
            "grades": list(r.grades or []),
            "terms": [ctx.ref("academicSession", "academicSessions", r.term_id)]
            if r.term_id
            else [],
        }
        if r.homeroom_id is not None:
            record["metadata"] = {"homeroom": r.homeroom_id}
        records.append(record)
    return records


def _scope_classes(ctx: Context) -> ColumnElement[bool] | None:
    return None if ctx.scope.everything else m.classes.c.school_id.in_(ctx.scope.schools)


CLASSES = Collection(
    name="classes",
    single="class",
    table=m.classes,
    fields={
        **_common_fields(m.classes),
        "title": Field("str", m.classes.c.title),
        "classCode": Field("str", m.classes.c.class_code),
        "classType": Field("str", m.classes.c.class_type),
        "course.sourcedId": Field("str", m.classes.c.course_id),
        "school.sourcedId": Field("str", m.classes.c.school_id),
        "metadata.homeroom": Field("str", m.classes.c.homeroom_id),
        "subjects": Field("str", condition=_json_list_condition(m.classes.c.subjects)),
        "grades": Field("str", condition=_json_list_condition(m.classes.c.grades)),
    },
    scope=_scope_classes,
    build=_build_classes,
    record_fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "classCode",
        "classType",
        "course",
        "school",
        "subjects",
        "grades",
        "terms",
        "metadata",
    ),
)

# enrollments


def _build_enrollments(
    ctx: Context, rows: Sequence[Any], wanted: set[str] | None
) -> list[dict[str, Any]]:
    return [
        {
            **_base(r),
            "user": ctx.ref("user", "users", r.user_id),
            "class": ctx.ref("class", "classes", r.class_id),
            "school": ctx.ref("org", "orgs", r.school_id),
            "role": r.role,
            "primary": bool(r.primary),
            "beginDate": r.begin_date,
            "endDate": r.end_date,
        }
        for r in rows
    ]


def _scope_enrollments(ctx: Context) -> ColumnElement[bool] | None:
    return None if ctx.scope.everything else m.enrollments.c.school_id.in_(ctx.scope.schools)


ENROLLMENTS = Collection(
    name="enrollments",
    single="enrollment",
    table=m.enrollments,
    fields={
        **_common_fields(m.enrollments),
        "role": Field("str", m.enrollments.c.role),
        "primary": Field("bool", m.enrollments.c.primary),
        "beginDate": Field("date", m.enrollments.c.begin_date),
        "endDate": Field("date", m.enrollments.c.end_date),
        "user.sourcedId": Field("str", m.enrollments.c.user_id),
        "class.sourcedId": Field("str", m.enrollments.c.class_id),
        "school.sourcedId": Field("str", m.enrollments.c.school_id),
    },
    scope=_scope_enrollments,
    build=_build_enrollments,
    record_fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "user",
        "class",
        "school",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
)

# users


def _build_users(
    ctx: Context, rows: Sequence[Any], wanted: set[str] | None
) -> list[dict[str, Any]]:
    """Users with their roles and agents: one IN-query for the page's roles, two for agents."""
    ids = [r.sourced_id for r in rows]
    roles: dict[str, list[dict[str, Any]]] = {}
    agents: dict[str, list[str]] = {}
    ur = m.user_roles
    if ids and (wanted is None or "roles" in wanted):
        stmt = select(
            ur.c.user_id,
            ur.c.role_type,
            ur.c.role,
            ur.c.org_id,
            as_text(ur.c.begin_date),
            as_text(ur.c.end_date),
        ).where(in_ids(ur.c.user_id, ids))
        if not ctx.scope.everything:
            stmt = stmt.where(ur.c.org_id.in_(ctx.scope.orgs))
        for r in ctx.conn.execute(stmt.order_by(ur.c.user_id, ur.c.id)).all():
            roles.setdefault(r.user_id, []).append(
                {
                    "roleType": r.role_type,
                    "role": r.role,
                    "org": ctx.ref("org", "orgs", r.org_id),
                    "beginDate": r.begin_date,
                    "endDate": r.end_date,
                }
            )
    if ids and (wanted is None or "agents" in wanted):
        g = m.guardians
        for own, other in ((g.c.student_id, g.c.parent_id), (g.c.parent_id, g.c.student_id)):
            for r in ctx.conn.execute(
                select(own, other)
                .where(in_ids(own, ids), g.c.status == "active")
                .order_by(own, other)
            ).all():
                agents.setdefault(r[0], []).append(r[1])
    user_ref = f"{ctx.base}/users/"
    return [
        {
            "sourcedId": r.sourced_id,
            "status": r.status,
            "dateLastModified": r.date_last_modified,
            "enabledUser": "true" if r.enabled_user else "false",
            "givenName": r.given_name,
            "familyName": r.family_name,
            "middleName": r.middle_name,
            "username": r.username,
            "email": r.email,
            "roles": roles.get(r.sourced_id, []),
            "agents": [
                {"href": user_ref + a, "sourcedId": a, "type": "user"}
                for a in agents.get(r.sourced_id, ())
            ],
        }
        for r in rows
    ]


def _users_with_role(org_ids: frozenset[str] | None, role: Any = None) -> ColumnElement[bool]:
    """Users holding a role (any, or those matching `role`) in one of `org_ids` (None: any)."""
    ur = m.user_roles
    sub = select(ur.c.user_id)
    if org_ids is not None:
        sub = sub.where(ur.c.org_id.in_(org_ids))
    if role is not None:
        sub = sub.where(role)
    return m.users.c.sourced_id.in_(sub)


def _scope_users(ctx: Context) -> ColumnElement[bool] | None:
    return None if ctx.scope.everything else _users_with_role(ctx.scope.orgs)


def _role_condition(ctx: Context, op: str, value: Any) -> ColumnElement[bool]:
    """`role='teacher'`: the user holds that role (ended or not) in an org of the scope."""
    if op == "!=":
        return not_(_users_with_role(ctx.role_orgs, m.user_roles.c.role == value))
    return _users_with_role(ctx.role_orgs, _compare(m.user_roles.c.role, op, value))


USERS = Collection(
    name="users",
    single="user",
    table=m.users,
    fields={
        **_common_fields(m.users),
        "enabledUser": Field("bool", m.users.c.enabled_user),
        "givenName": Field("str", m.users.c.given_name),
        "familyName": Field("str", m.users.c.family_name),
        "middleName": Field("str", m.users.c.middle_name),
        "username": Field("str", m.users.c.username),
        "email": Field("str", m.users.c.email),
        "role": Field("str", condition=_role_condition),
    },
    scope=_scope_users,
    build=_build_users,
    record_fields=(
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "givenName",
        "familyName",
        "middleName",
        "username",
        "email",
        "roles",
        "agents",
    ),
)

# --- serving a collection ---------------------------------------------------------------------


def _context(
    request: Request, state: SandboxState, principal: Principal, conn: Connection
) -> Context:
    base = str(request.base_url).rstrip("/") + PREFIX
    return Context(conn=conn, scope=roster_scope(state, principal, conn), base=base)


def _fields_param(request: Request, collection: Collection) -> set[str] | None:
    raw = request.query_params.get("fields")
    if not raw:
        return None
    wanted = {f.strip() for f in raw.split(",") if f.strip()}
    unknown = wanted - set(collection.record_fields)
    if unknown:
        raise EshError(
            400,
            "bad_request",
            f"Неизвестные поля в fields: {', '.join(sorted(unknown))}.",
            {"fields": sorted(unknown), "supported": list(collection.record_fields)},
        )
    return wanted


def _order(request: Request, collection: Collection) -> list[Any]:
    name = request.query_params.get("sort") or "sourcedId"
    spec = collection.fields.get(name)
    if spec is None or spec.column is None:
        sortable = sorted(k for k, v in collection.fields.items() if v.column is not None)
        raise EshError(
            400,
            "bad_request",
            f"Сортировка по полю {name} не поддерживается.",
            {"sort": name, "supported": sortable},
        )
    direction = (request.query_params.get("orderBy") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise EshError(
            400, "bad_request", "orderBy принимает asc или desc.", {"orderBy": direction}
        )
    columns = [spec.column.desc() if direction == "desc" else spec.column.asc()]
    if spec.column is not collection.key:
        columns.append(collection.key.desc() if direction == "desc" else collection.key.asc())
    return columns


def _link_header(request: Request, limit: int, offset: int, total: int) -> str:
    """RFC 8288 `Link` with first/prev/next/last pages, as OneRoster asks."""

    def url(at: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=at))

    last = max(0, (total - 1) // limit * limit)
    links = [f'<{url(0)}>; rel="first"']
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>; rel="prev"')
    if offset + limit < total:
        links.append(f'<{url(offset + limit)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return ", ".join(links)


def _select(records: list[dict[str, Any]], wanted: set[str] | None) -> list[dict[str, Any]]:
    if wanted is None:
        return records
    return [{k: v for k, v in r.items() if k in wanted} for r in records]


def list_collection(
    request: Request,
    state: SandboxState,
    principal: Principal,
    collection: Collection,
    *,
    extra: Callable[[Context], list[ColumnElement[bool]]] | None = None,
    school_id: str | None = None,
) -> JSONResponse:
    """A page of a collection: one count, one page query, and the builder's IN-queries."""
    limit, offset = parse_paging(request)
    wanted = _fields_param(request, collection)
    order = _order(request, collection)
    with state.engine.connect() as conn:
        ctx = _context(request, state, principal, conn)
        if school_id is not None and school_id not in ctx.scope.schools:
            raise EshError(404, "not_found", "Школа не найдена.", {"sourcedId": school_id})
        conditions = extra(ctx) if extra is not None else []
        raw_filter = request.query_params.get("filter")
        names: set[str] = set()
        if raw_filter:
            parsed, names = parse_filter(raw_filter, collection.fields, ctx)
            conditions.extend(parsed)
        # Without a delta filter only active records; a delta also reports tombstones.
        if "status" not in names and "dateLastModified" not in names:
            conditions.append(collection.table.c.status == "active")
        scoped = collection.scope(ctx)
        if scoped is not None:
            conditions.append(scoped)
        where = and_(true(), *conditions)
        total = conn.execute(
            select(func.count()).select_from(collection.table).where(where)
        ).scalar_one()
        rows = conn.execute(
            select(*_record_columns(collection.table))
            .where(where)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        ).all()
        records = _select(collection.build(ctx, rows, wanted), wanted)
    headers = {"X-Total-Count": str(total), "Link": _link_header(request, limit, offset, total)}
    return JSONResponse({collection.name: records}, headers=headers)


def read_record(
    request: Request,
    state: SandboxState,
    principal: Principal,
    collection: Collection,
    sourced_id: str,
) -> JSONResponse:
    """One record in the caller's scope (tombstones too); 404 outside it."""
    wanted = _fields_param(request, collection)
    with state.engine.connect() as conn:
        ctx = _context(request, state, principal, conn)
        conditions = [collection.key == sourced_id]
        scoped = collection.scope(ctx)
        if scoped is not None:
            conditions.append(scoped)
        rows = conn.execute(select(*_record_columns(collection.table)).where(*conditions)).all()
        if not rows:
            raise EshError(
                404,
                "not_found",
                "Запись не найдена.",
                {"collection": collection.name, "sourcedId": sourced_id},
            )
        record = _select(collection.build(ctx, rows, wanted), wanted)[0]
    return JSONResponse({collection.single: record})


# --- routes -----------------------------------------------------------------------------------


_LIST_PARAMETERS = {
    "parameters": [
        query_parameter("limit", "Records per page, 1–10 000 (default 100); more is 400."),
        query_parameter("offset", "Records to skip (default 0)."),
        query_parameter(
            "filter",
            "`field op 'value'` terms joined by ` AND `; ops = != > >= < <= ~. "
            "With a dateLastModified term the answer includes tombstones.",
        ),
        query_parameter("sort", "The field to sort by (default sourcedId)."),
        query_parameter("orderBy", "asc (default) or desc."),
        query_parameter("fields", "Comma-separated top-level fields to return."),
    ]
}
_RECORD_PARAMETERS = {"parameters": _LIST_PARAMETERS["parameters"][-1:]}
_LIST_ERRORS = error_responses(400, 401, 403)
_RECORD_ERRORS = error_responses(400, 401, 403, 404)


def _collection_route(collection: Collection) -> Callable[..., JSONResponse]:
    """The route that pages through one collection."""

    def endpoint(
        request: Request,
        state: StateDep,
        principal: PrincipalDep,
    ) -> JSONResponse:
        return list_collection(request, state, principal, collection)

    endpoint.__name__ = f"list_{collection.name}"
    endpoint.__doc__ = (
        f'`{{"{collection.name}": [...]}}` in the caller\'s scope, a page at a time; without a '
        "dateLastModified filter only active records, with it tombstones too."
    )
    return endpoint


def _record_route(collection: Collection) -> Callable[..., JSONResponse]:
    """The route that reads one record of a collection."""

    def endpoint(
        sourced_id: str,
        request: Request,
        state: StateDep,
        principal: PrincipalDep,
    ) -> JSONResponse:
        return read_record(request, state, principal, collection, sourced_id)

    endpoint.__name__ = f"get_{collection.single}"
    endpoint.__doc__ = (
        f"One {collection.single} by sourcedId (tombstones too); 404 outside the scope."
    )
    return endpoint


for _collection in (ORGS, SESSIONS, COURSES, CLASSES, ENROLLMENTS, USERS):
    router.add_api_route(
        f"/{_collection.name}",
        _collection_route(_collection),
        methods=["GET"],
        responses=_LIST_ERRORS,
        openapi_extra=_LIST_PARAMETERS,
    )
for _collection in (ORGS, SESSIONS, COURSES, CLASSES, ENROLLMENTS, USERS):
    router.add_api_route(
        f"/{_collection.name}/{{sourced_id}}",
        _record_route(_collection),
        methods=["GET"],
        responses=_RECORD_ERRORS,
        openapi_extra=_RECORD_PARAMETERS,
    )


def _holding(role: str, school_id: str | None = None) -> Callable[[Context], list[Any]]:
    """Extra conditions: users holding `role` in `school_id` (or anywhere in the scope)."""

    def extra(ctx: Context) -> list[Any]:
        orgs = frozenset({school_id}) if school_id is not None else ctx.role_orgs
        return [_users_with_role(orgs, m.user_roles.c.role == role)]

    return extra


@router.get("/schools", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS)
def list_schools(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """OneRoster getAllSchools: the orgs of type school in the caller's scope."""
    return list_collection(
        request, state, principal, ORGS, extra=lambda ctx: [m.orgs.c.type == "school"]
    )


@router.get("/students", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS)
def list_students(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """OneRoster getAllStudents: users with a student role in the caller's scope."""
    return list_collection(request, state, principal, USERS, extra=_holding("student"))


@router.get("/teachers", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS)
def list_teachers(request: Request, state: StateDep, principal: PrincipalDep) -> JSONResponse:
    """OneRoster getAllTeachers: users with a teacher role in the caller's scope."""
    return list_collection(request, state, principal, USERS, extra=_holding("teacher"))


@router.get("/schools/{school_id}/classes", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS)
def list_school_classes(
    school_id: str, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """OneRoster getClassesForSchool."""
    return list_collection(
        request,
        state,
        principal,
        CLASSES,
        extra=lambda ctx: [m.classes.c.school_id == school_id],
        school_id=school_id,
    )


@router.get(
    "/schools/{school_id}/enrollments", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS
)
def list_school_enrollments(
    school_id: str, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """OneRoster getEnrollmentsForSchool."""
    return list_collection(
        request,
        state,
        principal,
        ENROLLMENTS,
        extra=lambda ctx: [m.enrollments.c.school_id == school_id],
        school_id=school_id,
    )


@router.get("/schools/{school_id}/students", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS)
def list_school_students(
    school_id: str, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """OneRoster getStudentsForSchool."""
    return list_collection(
        request, state, principal, USERS, extra=_holding("student", school_id), school_id=school_id
    )


@router.get("/schools/{school_id}/teachers", responses=_LIST_ERRORS, openapi_extra=_LIST_PARAMETERS)
def list_school_teachers(
    school_id: str, request: Request, state: StateDep, principal: PrincipalDep
) -> JSONResponse:
    """OneRoster getTeachersForSchool."""
    return list_collection(
        request, state, principal, USERS, extra=_holding("teacher", school_id), school_id=school_id
    )
