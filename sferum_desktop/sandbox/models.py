"""The sandbox's SQLite schema (SQLAlchemy Core tables).

One database holds the truth of all three emulated services: the ESh roster (OneRoster 1.2
shapes), the ESh Sferum registry, ESh sessions, VK ID accounts and educational profiles, and
Sferum chats. Core tables (not ORM classes) keep the `district` dataset's bulk inserts fast.

Conventions:
- OneRoster records carry `sourced_id` (text), `status` ("active" / "tobedeleted") and
  `date_last_modified` (UTC datetime); a deletion is a tombstone, never a row removal, so a
  delta query can report it.
- Times are naive UTC datetimes.
- Secrets (passwords, tokens) are stored only as SHA-256 hex digests.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

SCHEMA_VERSION = 1

# --- sandbox bookkeeping -------------------------------------------------------------------

meta = Table(
    "sandbox_meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", JSON, nullable=False),  # dataset, seed, schema_version, faults, ...
)

# --- ESh roster: OneRoster 1.2 --------------------------------------------------------------

orgs = Table(
    "orgs",
    metadata,
    Column("sourced_id", String, primary_key=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False, index=True),
    Column("name", String, nullable=False),  # «МБОУ СОШ № 12»
    Column("type", String, nullable=False),  # "district" | "school"
    Column("identifier", String),  # ИНН / school code
    Column("parent_id", String, ForeignKey("orgs.sourced_id")),
)

academic_sessions = Table(
    "academic_sessions",
    metadata,
    Column("sourced_id", String, primary_key=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False, index=True),
    Column("title", String, nullable=False),  # «2026/2027 учебный год»
    Column("type", String, nullable=False),  # "schoolYear" | "term"
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("school_year", String, nullable=False),  # "2027"
    Column("org_id", String, ForeignKey("orgs.sourced_id")),
)

courses = Table(
    "courses",
    metadata,
    Column("sourced_id", String, primary_key=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False, index=True),
    Column("title", String, nullable=False),  # «Русский язык, 1 класс»
    Column("org_id", String, ForeignKey("orgs.sourced_id"), nullable=False, index=True),
    Column("subjects", JSON, nullable=False, default=list),  # ["Русский язык"]
    Column("grades", JSON, nullable=False, default=list),  # ["01"]
)

users = Table(
    "users",
    metadata,
    Column("sourced_id", String, primary_key=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False, index=True),
    Column("enabled_user", Boolean, nullable=False, default=True),  # False = «Заблокирован»
    Column("given_name", String, nullable=False),
    Column("family_name", String, nullable=False),
    Column("middle_name", String),
    Column("username", String, unique=True),
    Column("email", String),
    Column("phone", String),  # the person's phone, also their VK ID login if they have one
    Column("birth_date", Date),
    Column("sex", String),  # "male" | "female"
)

# A user's roles: the OneRoster `roles` array. Employment is a teacher/administrator role in
# a school org; dismissal sets end_date (the role is kept for history).
user_roles = Table(
    "user_roles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String, ForeignKey("users.sourced_id"), nullable=False, index=True),
    Column("role_type", String, nullable=False),  # "primary" | "secondary"
    Column("role", String, nullable=False),  # student|teacher|administrator|parent|guardian
    Column("org_id", String, ForeignKey("orgs.sourced_id"), nullable=False, index=True),
    Column("begin_date", Date),
    Column("end_date", Date),
)

# Guardianship: a student's parents (OneRoster `agents`, both directions derive from it).
guardians = Table(
    "guardians",
    metadata,
    Column("student_id", String, ForeignKey("users.sourced_id"), primary_key=True),
    Column("parent_id", String, ForeignKey("users.sourced_id"), primary_key=True, index=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False),
)

classes = Table(
    "classes",
    metadata,
    Column("sourced_id", String, primary_key=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False, index=True),
    Column("title", String, nullable=False),  # "3А" (homeroom) or "1А - Русский язык"
    Column("class_code", String),
    Column("class_type", String, nullable=False),  # "homeroom" | "scheduled"
    Column("course_id", String, ForeignKey("courses.sourced_id")),
    Column("school_id", String, ForeignKey("orgs.sourced_id"), nullable=False, index=True),
    Column("subjects", JSON, nullable=False, default=list),  # ["Русский язык"]
    Column("grades", JSON, nullable=False, default=list),  # ["03"]
    Column("homeroom_id", String, ForeignKey("classes.sourced_id"), index=True),  # scheduled
    Column("term_id", String, ForeignKey("academic_sessions.sourced_id")),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("sourced_id", String, primary_key=True),
    Column("status", String, nullable=False, default="active"),
    Column("date_last_modified", DateTime, nullable=False, index=True),
    Column("user_id", String, ForeignKey("users.sourced_id"), nullable=False, index=True),
    Column("class_id", String, ForeignKey("classes.sourced_id"), nullable=False, index=True),
    Column("school_id", String, ForeignKey("orgs.sourced_id"), nullable=False, index=True),
    Column("role", String, nullable=False),  # "student" | "teacher"
    Column("primary", Boolean, nullable=False, default=False),  # class teacher of a homeroom
    Column("begin_date", Date),
    Column("end_date", Date),
)

# --- ESh accounts and sessions --------------------------------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("username", String, primary_key=True),
    Column("person_id", String, ForeignKey("users.sourced_id"), nullable=False, index=True),
    Column("password_sha256", String, nullable=False),  # sha256(salt + password)
    Column("salt", String, nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String, nullable=False, index=True),
    Column("at", DateTime, nullable=False),
)

esh_sessions = Table(
    "esh_sessions",
    metadata,
    Column("id", String, primary_key=True),
    Column("person_id", String, ForeignKey("users.sourced_id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("revoked_reason", String),  # "logout" | "refresh_reuse" | ...
)

esh_tokens = Table(
    "esh_tokens",
    metadata,
    Column("token_sha256", String, primary_key=True),
    Column("session_id", String, ForeignKey("esh_sessions.id"), nullable=False, index=True),
    Column("kind", String, nullable=False),  # "access" | "refresh"
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),  # a refresh token is single use
)

esia_codes = Table(
    "esia_codes",
    metadata,
    Column("code_sha256", String, primary_key=True),
    Column("person_id", String, ForeignKey("users.sourced_id"), nullable=False),
    Column("client_id", String, nullable=False),
    Column("redirect_uri", String, nullable=False),
    Column("code_challenge", String, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
)

# --- ESh Sferum registry --------------------------------------------------------------------

chats = Table(
    "chats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String, ForeignKey("orgs.sourced_id"), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("type", String, nullable=False),  # staff|class|parents|subject|custom
    Column("class_id", String, ForeignKey("classes.sourced_id"), index=True),  # homeroom
    Column("group_id", String, ForeignKey("classes.sourced_id")),  # scheduled (subject)
    Column("subject", String),
    Column("admin_person_id", String, ForeignKey("users.sourced_id")),
    Column("sferum_chat_id", Integer),
    Column("status", String, nullable=False, default="active"),  # active | archived
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("created_by", String),
)

chat_members = Table(
    "chat_members",
    metadata,
    Column("chat_id", Integer, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", String, ForeignKey("users.sourced_id"), primary_key=True, index=True),
    Column("role_in_chat", String, nullable=False),  # staff | student | parent
    Column("source", String, nullable=False),  # rule | manual
    Column("excluded", Boolean, nullable=False, default=False),
    Column("added_at", DateTime, nullable=False),
    Column("added_by", String),
)

links = Table(
    "links",
    metadata,
    Column("person_id", String, ForeignKey("users.sourced_id"), primary_key=True),
    Column("vk_user_id", Integer, index=True),
    Column("status", String, nullable=False),  # linked | unlinked
    Column("updated_at", DateTime, nullable=False, index=True),
)

# Every write to the registry or the links, with its author and time.
esh_audit = Table(
    "esh_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("author_person_id", String),  # None for the sandbox's own roster events
    Column("action", String, nullable=False),  # chat.create, members.add, link.create, ...
    Column("chat_id", Integer),
    Column("details", JSON, nullable=False, default=dict),
)

# --- VK ID ----------------------------------------------------------------------------------

vk_accounts = Table(
    "vk_accounts",
    metadata,
    Column("user_id", Integer, primary_key=True),
    Column("phone", String, nullable=False, unique=True),  # "+79991112233"
    Column("password_sha256", String),  # None: the account has no password set
    Column("salt", String),
    Column("first_name", String, nullable=False),
    Column("last_name", String, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

edu_profiles = Table(
    "edu_profiles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("vk_user_id", Integer, ForeignKey("vk_accounts.user_id"), nullable=False, unique=True),
    Column("first_name", String, nullable=False),
    Column("last_name", String, nullable=False),
    Column("middle_name", String),
    Column("birthday", Date, nullable=False),
    Column("sex", Integer, nullable=False),  # VK convention: 1 female, 2 male
    Column("org_id", String, ForeignKey("orgs.sourced_id")),  # the school
    Column("roles", JSON, nullable=False, default=list),  # ["teacher", "admin", "student", ...]
    Column("created_at", DateTime, nullable=False),
)

vk_clients = Table(
    "vk_clients",
    metadata,
    Column("client_id", String, primary_key=True),
    Column("name", String, nullable=False),  # «ЭлЖур», «Sferum Desktop»
    Column("redirect_uris", JSON, nullable=False, default=list),
)

vk_codes = Table(
    "vk_codes",
    metadata,
    Column("code_sha256", String, primary_key=True),
    Column("vk_user_id", Integer, nullable=False),
    Column("client_id", String, nullable=False),
    Column("redirect_uri", String, nullable=False),
    Column("code_challenge", String, nullable=False),
    Column("scope", String, nullable=False),
    Column("device_id", String, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
)

vk_tokens = Table(
    "vk_tokens",
    metadata,
    Column("token_sha256", String, primary_key=True),
    Column("kind", String, nullable=False),  # "access" | "refresh"
    Column("vk_user_id", Integer, nullable=False, index=True),
    Column("client_id", String, nullable=False),
    Column("scope", String, nullable=False),
    Column("device_id", String),
    Column("grant_id", String, nullable=False, index=True),  # the code or refresh chain
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),  # refresh tokens are single use
    Column("revoked_at", DateTime),
)

sms_inbox = Table(
    "sms_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String, nullable=False, index=True),
    Column("code", String, nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", DateTime, nullable=False),
)

# --- Sferum ---------------------------------------------------------------------------------

sferum_chats = Table(
    "sferum_chats",
    metadata,
    Column("chat_id", Integer, primary_key=True, autoincrement=True),
    Column("title", String, nullable=False),
    Column("admin_id", Integer, nullable=False),  # VK user id of the creator
    Column("org_id", String, ForeignKey("orgs.sourced_id")),
    Column("created_at", DateTime, nullable=False),
    Column("deleted_at", DateTime),
)

sferum_chat_members = Table(
    "sferum_chat_members",
    metadata,
    Column("chat_id", Integer, ForeignKey("sferum_chats.chat_id"), primary_key=True),
    Column("member_id", Integer, primary_key=True, index=True),
    Column("invited_by", Integer, nullable=False),
    Column("join_date", Integer, nullable=False),  # unix time, as VK returns it
    Column("is_admin", Boolean, nullable=False, default=False),
)

sferum_messages = Table(
    "sferum_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", Integer, ForeignKey("sferum_chats.chat_id"), nullable=False, index=True),
    Column("from_id", Integer, nullable=False),
    Column("date", Integer, nullable=False),
    Column("text", Text, nullable=False),
)

sferum_calls = Table(
    "sferum_calls",
    metadata,
    Column("call_id", String, primary_key=True),
    Column("chat_id", Integer, ForeignKey("sferum_chats.chat_id")),
    Column("name", String, nullable=False),
    Column("join_link", String, nullable=False),
    Column("started_by", Integer, nullable=False),
    Column("started_at", Integer, nullable=False),
    Column("ended_at", Integer),
)

Index("ix_enrollments_class_role", enrollments.c.class_id, enrollments.c.role)
Index("ix_user_roles_org_role", user_roles.c.org_id, user_roles.c.role)
