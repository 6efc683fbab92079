"""OneRoster 1.2 rostering records, filters and snapshots, as the ESh client reads them.

The records keep OneRoster's JSON names as aliases (`sourcedId`, `dateLastModified`, ...)
and Python names in code. References to other records (`{"sourcedId": ...}`) are kept as
the bare id (`Enrollment.user_id`), which is all the sync needs and halves the objects a
district roster makes. Unknown fields are ignored, so a richer OneRoster server still
reads; required ones are enforced, so a broken one fails loudly.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

TOBEDELETED: Final = "tobedeleted"


def _ref_id(value: Any) -> Any:
    """`{"sourcedId": "x", ...}` → "x" (OneRoster GUIDRef); a bare id passes as is."""
    if isinstance(value, dict):
        if "sourcedId" in value:
            return value["sourcedId"]
        if "sourced_id" in value:
            return value["sourced_id"]
        raise ValueError("a reference without sourcedId")
    return value


def _oneroster_bool(value: Any) -> Any:
    """OneRoster booleans travel as "true"/"false"; accept those and real booleans only."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError('expected "true" or "false"')


RefId = Annotated[str, BeforeValidator(_ref_id)]
OneRosterBool = Annotated[bool, BeforeValidator(_oneroster_bool)]


# Records are pydantic dataclasses with slots rather than BaseModels: a district roster holds
# ~700 000 of them, and a BaseModel instance carries a `__dict__` and a fields-set per record
# (~1.35 KB per enrollment against ~0.38 KB here, and validation is ~1.5x faster).
_RECORD_CONFIG = ConfigDict(
    alias_generator=to_camel,
    validate_by_alias=True,
    validate_by_name=True,
    extra="ignore",
)


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class RosterRecord:
    """Fields every OneRoster record has: id, status and last change."""

    sourced_id: str
    status: str  # "active" or "tobedeleted" (a tombstone, reported by delta queries)
    date_last_modified: datetime

    @property
    def is_deleted(self) -> bool:
        """Whether this is a tombstone: the record was deleted in ESh."""
        return self.status == TOBEDELETED


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class Org(RosterRecord):
    """A school or a district (municipal education authority)."""

    name: str
    type: str  # "school", "district", ...
    identifier: str | None = None
    parent_id: RefId | None = Field(None, alias="parent")
    children_ids: list[RefId] = Field(default_factory=list, alias="children")


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class AcademicSession(RosterRecord):
    """A school year or a term."""

    title: str
    type: str  # "schoolYear", "term", ...
    start_date: date
    end_date: date
    school_year: str
    parent_id: RefId | None = Field(None, alias="parent")
    org_id: RefId | None = Field(None, alias="org")


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class Course(RosterRecord):
    """A course: a subject taught in a grade («Русский язык, 1 класс»)."""

    title: str
    course_code: str | None = None
    org_id: RefId = Field(alias="org")
    subjects: list[str] = Field(default_factory=list)
    grades: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class RosterClass(RosterRecord):
    """A class (`homeroom`, «3А») or a teaching group (`scheduled`, «1А - Русский язык»)."""

    title: str
    class_type: str  # "homeroom" | "scheduled"
    class_code: str | None = None
    course_id: RefId | None = Field(None, alias="course")
    school_id: RefId = Field(alias="school")
    subjects: list[str] = Field(default_factory=list)
    grades: list[str] = Field(default_factory=list)
    term_ids: list[RefId] = Field(default_factory=list, alias="terms")
    metadata: dict[str, Any] | None = None

    @property
    def homeroom_id(self) -> str | None:
        """For a teaching group, the class it belongs to (`metadata.homeroom`)."""
        value = (self.metadata or {}).get("homeroom")
        if isinstance(value, dict):
            value = value.get("sourcedId")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class UserRole:
    """One of a person's roles in an org; an ended role (dismissal) keeps its `end_date`."""

    role_type: str  # "primary" | "secondary"
    role: str  # student, teacher, administrator, parent, guardian
    org_id: RefId = Field(alias="org")
    begin_date: date | None = None
    end_date: date | None = None

    def is_active(self, day: date | None = None) -> bool:
        """Whether the role holds on `day` (today by default)."""
        day = day or datetime.now(UTC).date()
        started = self.begin_date is None or self.begin_date <= day
        return started and (self.end_date is None or self.end_date >= day)


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class User(RosterRecord):
    """A person: student, staff member or parent; `enabled_user=False` is «Заблокирован»."""

    enabled_user: OneRosterBool
    given_name: str
    family_name: str
    middle_name: str | None = None
    username: str | None = None
    email: str | None = None
    identifier: str | None = None
    roles: list[UserRole] = Field(default_factory=list)
    agents: list[RefId] = Field(default_factory=list)  # a student's parents; a parent's children

    @property
    def full_name(self) -> str:
        """«Фамилия Имя Отчество», as ESh shows people."""
        return " ".join(p for p in (self.family_name, self.given_name, self.middle_name) if p)


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD_CONFIG)
class Enrollment(RosterRecord):
    """A person in a class or group; `primary` marks the class teacher of a homeroom."""

    user_id: RefId = Field(alias="user")
    class_id: RefId = Field(alias="class")
    school_id: RefId = Field(alias="school")
    role: str  # "student" | "teacher" | ...
    primary: OneRosterBool = False
    begin_date: date | None = None
    end_date: date | None = None


R = TypeVar("R")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def parse_record(model: type[R], data: Any) -> R:
    """Validate one record (a dict from OneRoster JSON, or a cached copy) as `model`."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    result: R = adapter.validate_python(data)
    return result


CollectionName = Literal["orgs", "academicSessions", "courses", "classes", "users", "enrollments"]

# Collection name → record model, in the order a full fetch reads them (small ones first).
COLLECTIONS: Final[dict[CollectionName, type[RosterRecord]]] = {
    "orgs": Org,
    "academicSessions": AcademicSession,
    "courses": Course,
    "classes": RosterClass,
    "users": User,
    "enrollments": Enrollment,
}


# --- filters ----------------------------------------------------------------------------------

_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)?$")
_OPERATORS: Final = ("=", "!=", ">", ">=", "<", "<=", "~")
FilterValue = str | bool | int | datetime | date


def format_datetime(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds, as OneRoster compares `dateLastModified`."""
    if moment.tzinfo is None:
        raise ValueError("use an aware datetime (UTC) in a roster filter, not a naive one")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _format_value(value: FilterValue) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = format_datetime(value)
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, int):
        text = str(value)
    else:
        text = value
    # OneRoster 1.2 defines no escape inside the quotes: refuse what cannot be expressed
    # rather than let a value end the quoted string and inject a clause.
    if "'" in text or any(ord(ch) < 32 for ch in text):
        raise ValueError("a roster filter value cannot contain quotes or control characters")
    return text


@dataclasses.dataclass(frozen=True)
class RosterFilter:
    """A OneRoster `filter` built from checked parts: `field op 'value'` joined by ` AND `.

    `RosterFilter.where("status", "=", "active").and_("dateLastModified", ">", since)`.
    """

    clauses: tuple[str, ...] = ()

    @classmethod
    def where(cls, name: str, op: str, value: FilterValue) -> RosterFilter:
        return cls().and_(name, op, value)

    def and_(self, name: str, op: str, value: FilterValue) -> RosterFilter:
        """This filter with one more clause."""
        if not _FIELD.match(name):
            raise ValueError(f"not a OneRoster field name: {name!r}")
        if op not in _OPERATORS:
            raise ValueError(f"not a OneRoster filter operator: {op!r}")
        return RosterFilter((*self.clauses, f"{name}{op}'{_format_value(value)}'"))

    @classmethod
    def active(cls) -> RosterFilter:
        """Only records that are not tombstones."""
        return cls.where("status", "=", "active")

    @classmethod
    def changed_since(cls, since: datetime) -> RosterFilter:
        """Records (and tombstones) changed after `since`: a delta query."""
        return cls.where("dateLastModified", ">", since)

    def __str__(self) -> str:
        return " AND ".join(self.clauses)

    def __bool__(self) -> bool:
        return bool(self.clauses)


# --- snapshots --------------------------------------------------------------------------------


@dataclasses.dataclass
class RosterSnapshot:
    """The whole roster the signed-in person may read, as of `cursor`.

    Pass `cursor` as `since` to the next `fetch_roster` to get only what changed. It is the
    server's clock when the fetch began, minus a small overlap, so a change made while the
    pages were read is reported again next time rather than missed.
    """

    orgs: list[Org] = dataclasses.field(default_factory=list)
    academic_sessions: list[AcademicSession] = dataclasses.field(default_factory=list)
    courses: list[Course] = dataclasses.field(default_factory=list)
    classes: list[RosterClass] = dataclasses.field(default_factory=list)
    users: list[User] = dataclasses.field(default_factory=list)
    enrollments: list[Enrollment] = dataclasses.field(default_factory=list)
    cursor: datetime | None = None

    def collection(self, name: CollectionName) -> list[Any]:
        """The records of one collection by its OneRoster name."""
        lists: dict[str, list[Any]] = {
            "orgs": self.orgs,
            "academicSessions": self.academic_sessions,
            "courses": self.courses,
            "classes": self.classes,
            "users": self.users,
            "enrollments": self.enrollments,
        }
        return lists[name]

    def records(self) -> Iterator[RosterRecord]:
        for name in COLLECTIONS:
            yield from self.collection(name)

    @property
    def total(self) -> int:
        return sum(len(self.collection(name)) for name in COLLECTIONS)

    @property
    def is_delta(self) -> bool:
        """Whether this holds only changes (a `RosterDelta`), tombstones included."""
        return False


@dataclasses.dataclass
class RosterDelta(RosterSnapshot):
    """What changed after `since`: changed records and tombstones (`is_deleted`)."""

    since: datetime = dataclasses.field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))

    @property
    def is_delta(self) -> bool:
        return True

    def tombstones(self) -> Iterator[RosterRecord]:
        return (r for r in self.records() if r.is_deleted)
