"""Small pieces the ESh roster, registry, links and roster events share.

Query parameters (paging, times, their OpenAPI entries), IN-lists bound as one JSON array, an
atomic write transaction for SQLite, the audit record, a Unicode-aware case folding for
searches, and when a role or enrollment is in force.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, Connection, String, bindparam, func, insert, or_, select

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.common import EshError, SandboxState, utcnow

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def parse_paging(
    request: Request, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT
) -> tuple[int, int]:
    """`limit` and `offset` from the query; a bad or too large value is 400, never clamped."""
    values = []
    for name, default, low in (("limit", default_limit, 1), ("offset", 0, 0)):
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise EshError(
                400, "bad_request", f"Параметр {name} должен быть целым числом.", {"param": name}
            ) from None
        if value < low:
            raise EshError(
                400, "bad_request", f"Параметр {name} не может быть меньше {low}.", {"param": name}
            )
        values.append(value)
    if values[0] > max_limit:
        raise EshError(
            400,
            "bad_request",
            f"Параметр limit не может быть больше {max_limit}.",
            {"param": "limit", "max": max_limit},
        )
    return values[0], values[1]


def query_parameter(name: str, description: str) -> dict[str, Any]:
    """An optional string query parameter for a route's OpenAPI `openapi_extra`."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


def parse_datetime(raw: str, name: str) -> datetime:
    """An ISO 8601 moment as naive UTC (the schema's convention); 400 when unreadable."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise EshError(
            400,
            "bad_request",
            f"Значение «{raw}» для {name} не является датой и временем ISO 8601.",
            {"param": name},
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def in_ids(column: Any, ids: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN ids` with the ids bound as one JSON array: 10 000 binds compile slowly."""
    each = func.json_each(bindparam(None, json.dumps(list(ids)), type_=String))
    return column.in_(select(each.table_valued("value").c.value))  # type: ignore[no-any-return]


@contextmanager
def write_transaction(state: SandboxState) -> Iterator[Connection]:
    """A transaction holding SQLite's write lock from its start, so check-then-write is atomic."""
    with state.engine.begin() as conn:
        # pysqlite opens its transaction lazily at the first write; take the lock now instead,
        # unless the engine already began one.
        if not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def audit(
    conn: Connection,
    author_person_id: str | None,
    action: str,
    chat_id: int | None = None,
    *,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Record a registry or link write with its author and time (ESh keeps every change)."""
    conn.execute(
        insert(m.esh_audit).values(
            at=at or utcnow(),
            author_person_id=author_person_id,
            action=action,
            chat_id=chat_id,
            details=details or {},
        )
    )


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


def casefold(conn: Connection, expression: Any) -> ColumnElement[str]:
    """`expression` case-folded by Python, since SQLite's lower() knows only ASCII letters."""
    raw = conn.connection.driver_connection
    raw.create_function("esh_casefold", 1, _casefold, deterministic=True)  # type: ignore[union-attr]
    return func.esh_casefold(expression)


def active_role(today: date | None = None) -> ColumnElement[bool]:
    """A `user_roles` row in force today (as `common.active_roles` counts them)."""
    today = today or utcnow().date()
    ur = m.user_roles
    return or_(ur.c.end_date.is_(None), ur.c.end_date >= today) & or_(
        ur.c.begin_date.is_(None), ur.c.begin_date <= today
    )


def ended_on(today: date | None = None) -> date:
    """The `endDate` that ends a role or enrollment now: yesterday, its last full day."""
    return (today or utcnow().date()) - timedelta(days=1)
