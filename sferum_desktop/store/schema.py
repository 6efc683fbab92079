"""The store's tables as SQLAlchemy Core objects, for queries (the DDL is in `db.MIGRATIONS`)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, Text

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

roster_records = Table(
    "roster_records",
    metadata,
    Column("collection", Text, primary_key=True),
    Column("sourced_id", Text, primary_key=True),
    Column("data", Text, nullable=False),
)

links = Table(
    "links",
    metadata,
    Column("person_id", Text, primary_key=True),
    Column("vk_user_id", Integer),
    Column("status", Text, nullable=False),
    Column("updated_at", Text),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("summary", Text),
)

journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("op_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("chat_key", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("result", Text),
    Column("error_code", Text),
    Column("error", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("action", Text, nullable=False),
    Column("school_id", Text),
    Column("chat_key", Text),
    Column("chat_name", Text),
    Column("chat_id", Integer),
    Column("sferum_chat_id", Integer),
    Column("person_id", Text),
    Column("person_name", Text),
    Column("vk_user_id", Integer),
    Column("reason", Text, nullable=False),
    Column("event", Text),
    Column("actor", Text, nullable=False),
    Column("details", Text),
)

roster_events = Table(
    "roster_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("at", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("person_id", Text, nullable=False),
    Column("person_name", Text),
    Column("data", Text, nullable=False),
)
