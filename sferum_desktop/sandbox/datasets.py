"""The sandbox's deterministic datasets: `demo`, `school` and `district`.

`populate(engine, dataset, seed)` fills an empty sandbox database (after
`models.metadata.create_all`) with a roster in OneRoster shapes, ESh accounts, VK ID accounts
and educational profiles, account links, and for `demo` the seed's Sferum registry and the
matching Sferum chats. The same dataset and seed always give the same rows: all randomness
comes from one `random.Random(seed)`, every record is dated 2026-09-01T00:00:00 UTC, and ids
are counters («org-001», «usr-000123», «cls-000045», «enr-0001234»).

Rows are built as plain dicts and inserted with executemany, school by school, in one
transaction, so that the 100-school `district` builds in well under a minute.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Index, Table, func, select
from sqlalchemy.schema import CreateIndex, DropIndex

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.names import (
    ADULT_FEMALE,
    ADULT_MALE,
    CHILD_FEMALE,
    CHILD_MALE,
    ELDER_MALE,
    SURNAMES,
    patronymic,
    surname_for,
    translit,
)

DATASETS = ("demo", "school", "district")

BASE_TS = datetime(2026, 9, 1)  # every generated record's dateLastModified / created_at
BASE_UNIX = int(BASE_TS.replace(tzinfo=UTC).timestamp())
YEAR_START = date(2026, 9, 1)
YEAR_END = date(2027, 5, 31)
SESSION_ID = "ses-2027"
SESSION_TITLE = "2026/2027 учебный год"

VK_CLIENT_ID = "51900001"
VK_CLIENT_NAME = "ЭлЖур"
VK_REDIRECT_URIS = ["http://127.0.0.1/vkid/callback", "http://localhost/vkid/callback"]
FIRST_VK_USER_ID = 100_000_001
FIRST_EDU_PROFILE_ID = 200_000_001

# The phones of the three VK ID sign-in paths of the seed (see `vk_logins` in sandbox_meta).
PATH_PHONES = {1: "+71991111111", 2: "+71992222222", 3: "+71993333333"}

LETTERS = "АБВГДЕ"


@dataclass(frozen=True)
class Account:
    """A sign-in account printed at the sandbox's start."""

    role: str  # "admin" | "teacher" | "student" | "parent"
    username: str
    password: str
    person_id: str
    full_name: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# --- curriculum ------------------------------------------------------------------------------

RUS = "Русский язык"
LIT_READING = "Литературное чтение"
MATH = "Математика"
WORLD = "Окружающий мир"
ENGLISH = "Английский язык"
ART = "Изобразительное искусство"
MUSIC = "Музыка"
TECH = "Технология"
PE = "Физическая культура"
ORKSE = "Основы религиозных культур и светской этики"
LIT = "Литература"
HISTORY = "История"
SOCIAL = "Обществознание"
GEO = "География"
BIO = "Биология"
ALGEBRA = "Алгебра"
GEOMETRY = "Геометрия"
PROB = "Вероятность и статистика"
INF = "Информатика"
PHYS = "Физика"
CHEM = "Химия"
OBZR = "Основы безопасности и защиты Родины"

_PRIMARY_2_3 = (
    (RUS, 5), (LIT_READING, 4), (MATH, 4), (WORLD, 2), (ENGLISH, 2),
    (ART, 1), (MUSIC, 1), (TECH, 1), (PE, 2),
)  # fmt: skip
_SENIOR = (
    (RUS, 2), (LIT, 3), (ENGLISH, 3), (ALGEBRA, 3), (GEOMETRY, 2), (PROB, 1), (INF, 1),
    (HISTORY, 2), (SOCIAL, 2), (GEO, 1), (BIO, 1), (PHYS, 2), (CHEM, 1), (OBZR, 1), (PE, 2),
)  # fmt: skip

# Weekly hours by grade, after the federal basic curriculum (ФОП).
CURRICULUM: dict[int, tuple[tuple[str, int], ...]] = {
    1: ((RUS, 5), (LIT_READING, 4), (MATH, 4), (WORLD, 2), (ART, 1), (MUSIC, 1), (TECH, 1),
        (PE, 2)),
    2: _PRIMARY_2_3,
    3: _PRIMARY_2_3,
    4: ((RUS, 5), (LIT_READING, 3), (MATH, 4), (WORLD, 2), (ENGLISH, 2), (ORKSE, 1), (ART, 1),
        (MUSIC, 1), (TECH, 1), (PE, 2)),
    5: ((RUS, 5), (LIT, 3), (ENGLISH, 3), (MATH, 5), (HISTORY, 2), (GEO, 1), (BIO, 1), (ART, 1),
        (MUSIC, 1), (TECH, 2), (PE, 2)),
    6: ((RUS, 6), (LIT, 3), (ENGLISH, 3), (MATH, 5), (HISTORY, 2), (SOCIAL, 1), (GEO, 1),
        (BIO, 1), (ART, 1), (MUSIC, 1), (TECH, 2), (PE, 2)),
    7: ((RUS, 4), (LIT, 2), (ENGLISH, 3), (ALGEBRA, 3), (GEOMETRY, 2), (PROB, 1), (INF, 1),
        (HISTORY, 2), (SOCIAL, 1), (GEO, 2), (BIO, 1), (PHYS, 2), (ART, 1), (MUSIC, 1),
        (TECH, 2), (PE, 2)),
    8: ((RUS, 3), (LIT, 2), (ENGLISH, 3), (ALGEBRA, 3), (GEOMETRY, 2), (PROB, 1), (INF, 1),
        (HISTORY, 2), (SOCIAL, 1), (GEO, 2), (BIO, 2), (PHYS, 2), (CHEM, 2), (MUSIC, 1),
        (TECH, 1), (OBZR, 1), (PE, 2)),
    9: ((RUS, 3), (LIT, 3), (ENGLISH, 3), (ALGEBRA, 3), (GEOMETRY, 2), (PROB, 1), (INF, 1),
        (HISTORY, 2), (SOCIAL, 1), (GEO, 2), (BIO, 2), (PHYS, 3), (CHEM, 2), (OBZR, 1), (PE, 2)),
    10: _SENIOR,
    11: _SENIOR,
}  # fmt: skip

# Subjects taught in two subgroups («5А - Английский язык (1 группа)»): subject -> grades.
SPLIT_GRADES: dict[str, range] = {ENGLISH: range(2, 12), INF: range(7, 12), TECH: range(5, 9)}
SPLIT_MIN_STUDENTS = 16
SUBGROUPS = ("1 группа", "2 группа")

# Who teaches what from grade 5 (and the primary specialists): subject -> specialty.
SPECIALTY: dict[str, str] = {
    RUS: "rus", LIT: "rus", MATH: "math", ALGEBRA: "math", GEOMETRY: "math", PROB: "math",
    ENGLISH: "eng", HISTORY: "hist", SOCIAL: "hist", GEO: "geo", BIO: "bio", PHYS: "phys",
    CHEM: "chem", INF: "inf", ART: "art", MUSIC: "music", TECH: "tech", PE: "pe", OBZR: "obzr",
}  # fmt: skip
PRIMARY_SPECIALISTS = frozenset({ENGLISH, MUSIC, PE})  # the rest of grades 1–4: class teacher
TEACHER_HOURS = 17  # weekly load used to size each subject's staff

# The `district` dataset materializes only these groups per class (3–4 groups per class).
DISTRICT_SUBJECTS = frozenset({RUS, MATH, ALGEBRA, ENGLISH})
DISTRICT_SUBJECTS_GRADE_1 = frozenset({RUS, MATH, LIT_READING})

# Staff without teaching groups, to round the staff out to a real school's size.
_OTHER_STAFF = 4

# --- helpers ---------------------------------------------------------------------------------


def _hash(salt: str, password: str) -> str:
    return hashlib.sha256((salt + password).encode("utf-8")).hexdigest()


def _full_name(row: dict[str, Any]) -> str:
    return " ".join(p for p in (row["family_name"], row["given_name"], row["middle_name"]) if p)


@dataclass
class _Klass:
    """A homeroom being generated."""

    id: str
    school_id: str
    title: str
    grade: int
    size: int
    students: list[dict[str, Any]] = field(default_factory=list)
    class_teachers: list[str] = field(default_factory=list)


@dataclass(eq=False)
class _Staff:
    row: dict[str, Any]
    base: str  # masculine surname, for a family she or he heads
    specialty: str  # "primary", "admin", "other" or a SPECIALTY value
    hired: date = YEAR_START
    homerooms: int = 0
    is_parent: bool = False


@dataclass
class _School:
    """A generated school, kept until its rows are flushed."""

    id: str
    name: str
    classes: list[_Klass]
    staff: list[_Staff]
    sferum_admin: _Staff | None = None
    parents: list[dict[str, Any]] = field(default_factory=list)
    students: list[dict[str, Any]] = field(default_factory=list)


_Prepared = tuple[str, list[tuple[str, Any, bool]], Any]


class _Writer:
    """SQLite fast path for `flush`: what `conn.execute(table.insert(), rows)` stores, without
    SQLAlchemy's per-row parameter handling (most of the `district` build time otherwise).

    The INSERT is compiled from the Table, values go through the dialect's own bind processors
    (memoized: most values repeat), and the driver runs executemany on plain tuples.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        self.statements: dict[tuple[str, tuple[str, ...]], _Prepared] = {}

    def prepare(self, table: Table, keys: tuple[str, ...]) -> _Prepared:
        """The INSERT of the columns in `keys` (as Core uses the first row's keys)."""
        prepared = self.statements.get((table.name, keys))
        if prepared is None:
            columns = [c for c in table.columns if c.key in keys]
            quote = self.dialect.identifier_preparer
            names = ", ".join(quote.format_column(c) for c in columns)
            marks = ", ".join("?" for _ in columns)
            table_name = quote.format_table(table)  # identifiers of our own schema, quoted
            sql = f"INSERT INTO {table_name} ({names}) VALUES ({marks})"  # noqa: S608
            converters = []
            for column in columns:
                impl = column.type.dialect_impl(self.dialect)
                process = impl.bind_processor(self.dialect)
                if process is not None:
                    converters.append((column.key, process, isinstance(impl, JSON)))
            getter = itemgetter(*(c.key for c in columns))
            prepared = self.statements[(table.name, keys)] = (sql, converters, getter)
        return prepared

    def insert(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert `rows` (converted in place)."""
        sql, converters, getter = self.prepare(table, tuple(rows[0]))
        for key, process, is_json in converters:
            memo: dict[Any, Any] = {}
            if is_json:  # lists of strings repeat (["01"], ["student"]); the rest is rare
                for row in rows:
                    value = row[key]
                    if isinstance(value, list) and all(isinstance(v, str) for v in value):
                        token = tuple(value)
                        done = memo.get(token)
                        if done is None:
                            done = memo[token] = process(value)
                        row[key] = done
                    else:
                        row[key] = process(value)
                continue
            # Dates, times, booleans: one column holds one type, so the value is the key.
            get = memo.get
            for row in rows:
                value = row[key]
                done = get(value, memo)
                if done is memo:
                    done = memo[value] = process(value)
                row[key] = done
        conn.exec_driver_sql(sql, list(map(getter, rows)))


# Insert order: referenced tables first.
_ORDER: tuple[Table, ...] = (
    m.orgs, m.academic_sessions, m.courses, m.users, m.user_roles, m.guardians, m.classes,
    m.enrollments, m.accounts, m.vk_clients, m.vk_accounts, m.edu_profiles, m.links, m.chats,
    m.chat_members, m.sferum_chats, m.sferum_chat_members, m.sferum_messages, m.meta,
)  # fmt: skip


class _Builder:
    """Accumulates rows for every table; `flush` writes and forgets them."""

    def __init__(self, seed: int, password: str, writer: _Writer | None = None) -> None:
        self.rng = random.Random(seed)
        self.writer = writer
        self.password = password  # of every ESh and VK ID account the dataset makes
        self.rows: dict[Table, list[dict[str, Any]]] = {t: [] for t in _ORDER}
        self.counts: dict[str, int] = {t.name: 0 for t in _ORDER}
        self.n_user = 0
        self.n_class = 0
        self.n_course = 0
        self.n_enrollment = 0
        self.n_role = 0
        self.n_vk = 0
        self.n_edu = 0
        self.n_phone = 0
        self.usernames: dict[str, int] = {}
        self.reserved = {"admin", "teacher", "student", "parent", "district", "pavlova"}
        self.edu_by_person: dict[str, dict[str, Any]] = {}
        self.vk_by_person: dict[str, int] = {}
        self.linked: set[str] = set()
        self.courses: dict[tuple[str, str, int], str] = {}

    # --- rows ---

    def add(self, table: Table, row: dict[str, Any]) -> dict[str, Any]:
        self.rows[table].append(row)
        return row

    def flush(self, conn: Connection) -> None:
        for table in _ORDER:
            rows = self.rows[table]
            if rows:
                if self.writer is not None:
                    self.writer.insert(conn, table, rows)
                else:
                    conn.execute(table.insert(), rows)
                self.counts[table.name] += len(rows)
                rows.clear()

    # --- values ---

    def salt(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def day(self, first: date, last: date) -> date:
        start = first.toordinal()
        return date.fromordinal(start + int(self.rng.random() * (last.toordinal() - start + 1)))

    def pick(self, items: Sequence[str]) -> str:
        """`rng.choice`, at a third of its cost (names are drawn a million times)."""
        return items[int(self.rng.random() * len(items))]

    def phone(self) -> str:
        """A unique phone in the fake +7 199 range; never one of PATH_PHONES."""
        while True:
            self.n_phone += 1
            number = f"+7199{(self.n_phone * 7_919_777 + 3_141_592) % 10_000_000:07d}"
            if number not in PATH_PHONES.values():
                return number

    def username(self, family: str, given: str, middle: str | None) -> str:
        base = f"{translit(family)}.{translit(given[0])}{translit(middle[0]) if middle else ''}"
        count = self.usernames.get(base, 0) + 1
        self.usernames[base] = count
        return base if count == 1 else f"{base}{count}"

    # --- records ---

    def org(
        self, sourced_id: str, name: str, kind: str, identifier: str, parent_id: str | None
    ) -> None:
        self.add(m.orgs, {
            "sourced_id": sourced_id, "status": "active", "date_last_modified": BASE_TS,
            "name": name, "type": kind, "identifier": identifier, "parent_id": parent_id,
        })  # fmt: skip

    def session(self, org_id: str) -> None:
        self.add(m.academic_sessions, {
            "sourced_id": SESSION_ID, "status": "active", "date_last_modified": BASE_TS,
            "title": SESSION_TITLE, "type": "schoolYear", "start_date": YEAR_START,
            "end_date": YEAR_END, "school_year": "2027", "org_id": org_id,
        })  # fmt: skip

    def person(
        self,
        base: str,
        given: str,
        middle: str | None,
        sex: str,
        birth: date,
        *,
        username: str | None = None,
        phone: str | None = None,
        email_domain: str | None = None,
    ) -> dict[str, Any]:
        self.n_user += 1
        family = surname_for(base, sex)
        login = username or self.username(family, given, middle)
        return self.add(m.users, {
            "sourced_id": f"usr-{self.n_user:06d}", "status": "active",
            "date_last_modified": BASE_TS, "enabled_user": True, "given_name": given,
            "family_name": family, "middle_name": middle, "username": login,
            "email": f"{login}@{email_domain}" if email_domain else None,
            "phone": phone or self.phone(), "birth_date": birth, "sex": sex,
        })  # fmt: skip

    def role(
        self,
        person: dict[str, Any],
        role: str,
        org_id: str,
        *,
        primary: bool = True,
        begin: date = YEAR_START,
    ) -> None:
        self.n_role += 1
        self.add(m.user_roles, {
            "id": self.n_role, "user_id": person["sourced_id"],
            "role_type": "primary" if primary else "secondary", "role": role, "org_id": org_id,
            "begin_date": begin, "end_date": None,
        })  # fmt: skip

    def guardian(self, student: dict[str, Any], parent: dict[str, Any]) -> None:
        self.add(m.guardians, {
            "student_id": student["sourced_id"], "parent_id": parent["sourced_id"],
            "status": "active", "date_last_modified": BASE_TS,
        })  # fmt: skip

    def homeroom(self, school_id: str, grade: int, letter: str, size: int = 0) -> _Klass:
        self.n_class += 1
        klass = _Klass(f"cls-{self.n_class:06d}", school_id, f"{grade}{letter}", grade, size)
        self.add(m.classes, {
            "sourced_id": klass.id, "status": "active", "date_last_modified": BASE_TS,
            "title": klass.title, "class_code": klass.title, "class_type": "homeroom",
            "course_id": None, "school_id": school_id, "subjects": [],
            "grades": [f"{grade:02d}"], "homeroom_id": None, "term_id": SESSION_ID,
        })  # fmt: skip
        return klass

    def course(self, school_id: str, subject: str, grade: int) -> str:
        key = (school_id, subject, grade)
        course_id = self.courses.get(key)
        if course_id is None:
            self.n_course += 1
            course_id = self.courses[key] = f"crs-{self.n_course:06d}"
            self.add(m.courses, {
                "sourced_id": course_id, "status": "active", "date_last_modified": BASE_TS,
                "title": f"{subject}, {grade} класс", "org_id": school_id,
                "subjects": [subject], "grades": [f"{grade:02d}"],
            })  # fmt: skip
        return course_id

    def group(
        self,
        klass: _Klass,
        subject: str,
        subgroup: str | None,
        students: Iterable[dict[str, Any]],
        teachers: Iterable[dict[str, Any]],
    ) -> str:
        """A scheduled class («1А - Русский язык (1 группа)») with its enrollments."""
        self.n_class += 1
        group_id = f"cls-{self.n_class:06d}"
        title = f"{klass.title} - {subject}" + (f" ({subgroup})" if subgroup else "")
        self.add(m.classes, {
            "sourced_id": group_id, "status": "active", "date_last_modified": BASE_TS,
            "title": title, "class_code": None, "class_type": "scheduled",
            "course_id": self.course(klass.school_id, subject, klass.grade),
            "school_id": klass.school_id, "subjects": [subject],
            "grades": [f"{klass.grade:02d}"], "homeroom_id": klass.id, "term_id": SESSION_ID,
        })  # fmt: skip
        for teacher in teachers:
            self.enroll(teacher, group_id, klass.school_id, "teacher")
        for student in students:
            self.enroll(student, group_id, klass.school_id, "student")
        return group_id

    def enroll(
        self,
        person: dict[str, Any],
        class_id: str,
        school_id: str,
        role: str,
        primary: bool = False,
    ) -> None:
        self.n_enrollment += 1
        self.add(m.enrollments, {
            "sourced_id": f"enr-{self.n_enrollment:07d}", "status": "active",
            "date_last_modified": BASE_TS, "user_id": person["sourced_id"], "class_id": class_id,
            "school_id": school_id, "role": role, "primary": primary, "begin_date": YEAR_START,
            "end_date": None,
        })  # fmt: skip

    def account(self, person: dict[str, Any], username: str | None = None) -> None:
        salt = self.salt()
        self.add(m.accounts, {
            "username": username or person["username"], "person_id": person["sourced_id"],
            "password_sha256": _hash(salt, self.password), "salt": salt,
        })  # fmt: skip

    def vk(
        self,
        person: dict[str, Any],
        state: str,
        org_id: str | None = None,
        roles: Sequence[str] = (),
    ) -> int:
        """VK ID for `person`: state "account" (no educational profile), "profile" (a profile,
        not linked in ESh) or "linked" (a profile linked to the ESh account). Whatever of it
        the person already has is kept."""
        pid = person["sourced_id"]
        vk_id = self.vk_by_person.get(pid)
        if vk_id is None:
            self.n_vk += 1
            vk_id = self.vk_by_person[pid] = FIRST_VK_USER_ID + self.n_vk - 1
            salt = self.salt()
            self.add(m.vk_accounts, {
                "user_id": vk_id, "phone": person["phone"],
                "password_sha256": _hash(salt, self.password), "salt": salt,
                "first_name": person["given_name"], "last_name": person["family_name"],
                "created_at": BASE_TS,
            })  # fmt: skip
        if state in ("profile", "linked") and pid not in self.edu_by_person:
            self.n_edu += 1
            self.edu_by_person[pid] = self.add(m.edu_profiles, {
                "id": FIRST_EDU_PROFILE_ID + self.n_edu - 1, "vk_user_id": vk_id,
                "first_name": person["given_name"], "last_name": person["family_name"],
                "middle_name": person["middle_name"], "birthday": person["birth_date"],
                "sex": 1 if person["sex"] == "female" else 2, "org_id": org_id,
                "roles": list(roles), "created_at": BASE_TS,
            })  # fmt: skip
        if state == "linked" and pid not in self.linked:
            self.linked.add(pid)
            self.add(m.links, {
                "person_id": pid, "vk_user_id": vk_id, "status": "linked", "updated_at": BASE_TS,
            })  # fmt: skip
        return vk_id

    def meta(self, key: str, value: Any) -> None:
        self.add(m.meta, {"key": key, "value": value})


def _vk_login(
    path: int, person: dict[str, Any], password: str | None, vk_user_id: int | None
) -> dict[str, Any]:
    return {
        "path": path,
        "phone": person["phone"],
        "password": password,
        "has_vk_account": vk_user_id is not None,
        "has_edu_profile": path == 1,
        "who": _full_name(person),
        "username": person.get("username"),  # their ESh account, for the demo's hints
        "person_id": person["sourced_id"],
        "vk_user_id": vk_user_id,
    }


# --- demo ------------------------------------------------------------------------------------

DEMO_PASSWORD = "demo"  # noqa: S105 (the sandbox's published demo password)
DEMO_DISTRICT = "Управление образования администрации городского округа Новоозёрск"
DEMO_SCHOOL = "МБОУ «Школа № 1»"

# (surname (masculine), name, patronymic, sex, class teacher of, specialty, VK state)
_DEMO_STAFF = (
    ("Павлов", "Елена", "Владимировна", "female", "1А", "primary", "linked"),
    ("Смирнов", "Ольга", "Игоревна", "female", "2А", "primary", "linked"),
    ("Морозов", "Татьяна", "Алексеевна", "female", "3А", "primary", "linked"),
    ("Белов", "Анастасия", "Павловна", "female", None, "eng", "linked"),
    ("Зайцев", "Игорь", "Николаевич", "male", None, "music", "linked"),
    ("Громов", "Сергей", "Иванович", "male", None, "pe", "linked"),
    ("Кузнецов", "Андрей", "Викторович", "male", None, "other", "linked"),  # директор
    ("Орлов", "Марина", "Юрьевна", "female", None, "other", "linked"),  # завуч
    ("Никитин", "Светлана", "Геннадьевна", "female", None, "other", "account"),  # психолог
    ("Ковалёв", "Ирина", "Сергеевна", "female", None, "other", None),  # логопед
    ("Тихонов", "Дмитрий", "Олегович", "male", None, "other", "linked"),  # педагог-организатор
    ("Егоров", "Наталья", "Андреевна", "female", None, "other", None),  # библиотекарь
    ("Соболев", "Алексей", "Михайлович", "male", None, "other", None),  # социальный педагог
)
# (class, surname, name, patronymic, sex, VK state)
_DEMO_STUDENTS = (
    ("1А", "Артемов", "Павел", "Андреевич", "male", None),
    ("1А", "Леонидов", "Павел", "Петрович", "male", None),
    ("1А", "Фролов", "Анна", "Викторовна", "female", None),
    ("1А", "Вавилов", "Мария", "Александровна", "female", None),
    ("2А", "Кириллов", "София", "Дмитриевна", "female", "linked"),
    ("2А", "Соколов", "Михаил", "Олегович", "male", None),
    ("3А", "Фролов", "Максим", "Викторович", "male", "linked"),
    ("3А", "Соловьёв", "Дарья", "Игоревна", "female", None),
)
# (surname, name, patronymic, sex, role, children (indexes in _DEMO_STUDENTS), VK state)
_DEMO_PARENTS = (
    ("Артемов", "Наталья", "Сергеевна", "female", "parent", (0,), "profile"),  # path 1
    ("Фролов", "Виктор", "Андреевич", "male", "parent", (2, 6), "linked"),
    ("Кириллов", "Юлия", "Андреевна", "female", "parent", (4,), "linked"),
    ("Соколов", "Олег", "Николаевич", "male", "parent", (5,), None),  # path 3
    ("Лебедев", "Галина", "Петровна", "female", "guardian", (7,), None),  # бабушка
)
# Sferum messages per chat: ((author list, index), seconds after 2026-09-01 00:00 UTC, text).
_DEMO_MESSAGES: dict[str, tuple[tuple[tuple[str, int], int, str], ...]] = {
    "Учительская": (
        (("staff", 0), 8 * 3600, "Коллеги, добрый день! Педсовет в пятницу в 15:00, кабинет 21."),
        (("staff", 6), 8 * 3600 + 900, "Спасибо, Елена Владимировна. Прошу всех быть."),
    ),
    "1 А": ((("staff", 0), 9 * 3600, "Ребята, завтра берём цветные карандаши и альбом."),),
    "1 А Родители": (
        (("staff", 0), 10 * 3600, "Уважаемые родители! Родительское собрание в среду в 18:00."),
        (("parent", 1), 10 * 3600 + 600, "Спасибо, будем."),
    ),
    "2 А": ((("staff", 1), 9 * 3600, "Не забудьте завтра дневники!"),),
    "2 А Родители": (
        (("staff", 1), 11 * 3600, "Напоминаю про сменную обувь и форму на физкультуру."),
    ),
    "3 А": (
        (("staff", 2), 9 * 3600, "Завтра экскурсия в краеведческий музей, сбор в 9:00 у школы."),
    ),
    "3 А Родители": (
        (("staff", 2), 12 * 3600, "Просьба до четверга подписать согласия на экскурсию."),
    ),
}


def _demo(b: _Builder) -> tuple[list[Account], list[dict[str, Any]]]:
    district_id, school_id = "org-000", "org-001"
    b.org(district_id, DEMO_DISTRICT, "district", "6600000000", None)
    b.org(school_id, DEMO_SCHOOL, "school", "6600000001", district_id)
    b.session(district_id)
    domain = "school1.esh.example"

    staff: list[dict[str, Any]] = []
    specialty: dict[str, list[dict[str, Any]]] = {}
    class_teacher: dict[str, dict[str, Any]] = {}
    for i, (base, given, middle, sex, homeroom, spec, _state) in enumerate(_DEMO_STAFF):
        person = b.person(
            base, given, middle, sex, b.day(date(1968, 1, 1), date(1996, 12, 31)),
            username="pavlova" if i == 0 else None, email_domain=domain,
        )  # fmt: skip
        hired = b.day(date(max(person["birth_date"].year + 22, 1992), 1, 1), date(2026, 8, 31))
        b.role(person, "teacher", school_id, begin=hired)
        if i == 0:  # the school's Sferum administrator
            b.role(person, "administrator", school_id, primary=False, begin=date(2021, 9, 1))
        staff.append(person)
        specialty.setdefault(spec, []).append(person)
        if homeroom:
            class_teacher[homeroom] = person

    classes = {title: b.homeroom(school_id, int(title[0]), "А") for title in ("1А", "2А", "3А")}
    students: list[dict[str, Any]] = []
    for title, base, given, middle, sex, _state in _DEMO_STUDENTS:
        grade = int(title[0])
        birth = b.day(date(2018 - grade + 1, 9, 1), date(2019 - grade + 1, 8, 31))
        person = b.person(base, given, middle, sex, birth)
        b.role(person, "student", school_id)
        classes[title].students.append(person)
        students.append(person)

    parents: list[dict[str, Any]] = []
    for base, given, middle, sex, role, children, _state in _DEMO_PARENTS:
        oldest = min(students[c]["birth_date"].year for c in children)
        years = (oldest - 45, oldest - 50) if role == "guardian" else (oldest - 40, oldest - 24)
        person = b.person(
            base, given, middle, sex, b.day(date(min(years), 1, 1), date(max(years), 12, 31))
        )
        b.role(person, role, school_id)
        for child in children:
            b.guardian(students[child], person)
        parents.append(person)

    # Homerooms and teaching groups.
    for title, klass in classes.items():
        teacher = class_teacher[title]
        klass.class_teachers.append(teacher["sourced_id"])
        b.enroll(teacher, klass.id, school_id, "teacher", primary=True)
        for student in klass.students:
            b.enroll(student, klass.id, school_id, "student")
        for subject, _hours in CURRICULUM[klass.grade]:
            if subject in PRIMARY_SPECIALISTS:
                teachers = specialty[SPECIALTY[subject]][:1]
            else:
                teachers = [teacher]
            if title == "1А" and subject == RUS:
                # The seed's worked example: «1А - Русский язык» has Артемов, Леонидов, Фролова;
                # Вавилова is taught individually.
                b.group(klass, subject, None, klass.students[:3], teachers)
                b.group(klass, subject, "индивидуальное обучение", klass.students[3:], teachers)
            else:
                b.group(klass, subject, None, klass.students, teachers)

    # ESh accounts: everyone (the printed ones are among them).
    for person in staff + students + parents:
        b.account(person)

    # VK ID and links; the three sign-in path people get the seed's phones first.
    path_people = {1: parents[0], 2: staff[8], 3: parents[3]}
    for path, person in path_people.items():
        person["phone"] = PATH_PHONES[path]
    vk_ids: dict[str, int] = {}
    for person, (*_, state) in zip(staff, _DEMO_STAFF, strict=True):
        if state:
            roles = ["teacher", "admin"] if person["username"] == "pavlova" else ["teacher"]
            vk_ids[person["sourced_id"]] = b.vk(person, state, school_id, roles)
    for person, (*_, state) in zip(students, _DEMO_STUDENTS, strict=True):
        if state:
            vk_ids[person["sourced_id"]] = b.vk(person, state, school_id, ["student"])
    for person, (*_, state) in zip(parents, _DEMO_PARENTS, strict=True):
        if state:
            vk_ids[person["sourced_id"]] = b.vk(person, state, school_id, ["parent"])
    vk_logins = [
        _vk_login(path, p, DEMO_PASSWORD if path < 3 else None, vk_ids.get(p["sourced_id"]))
        for path, p in path_people.items()
    ]

    # The registry: the seed's seven chats, administrator Павлова, members by the rules.
    admin = staff[0]
    chats: list[tuple[str, str, _Klass | None, list[tuple[dict[str, Any], str]]]] = [
        ("Учительская", "staff", None, [(p, "staff") for p in staff])
    ]
    for title in ("3А", "2А", "1А"):
        klass = classes[title]
        teacher = class_teacher[title]
        spaced = f"{klass.grade} А"
        kids = [(p, "student") for p in klass.students]
        chats.append((spaced, "class", klass, [(teacher, "staff"), *kids]))
        their_parents: list[tuple[dict[str, Any], str]] = []
        for parent, row in zip(parents, _DEMO_PARENTS, strict=True):
            if any(students[c] in klass.students for c in row[5]):
                their_parents.append((parent, "parent"))
        chats.append((f"{spaced} Родители", "parents", klass, [(teacher, "staff"), *their_parents]))

    admin_vk = vk_ids[admin["sourced_id"]]
    message_id = 0
    blocked = {p["sourced_id"] for p in staff + students + parents if not p["enabled_user"]}
    for chat_id, (name, kind, home, members) in enumerate(chats, start=1):
        b.add(m.chats, {
            "id": chat_id, "school_id": school_id, "name": name, "type": kind,
            "class_id": home.id if home else None, "group_id": None, "subject": None,
            "admin_person_id": admin["sourced_id"], "sferum_chat_id": chat_id,
            "status": "active", "version": 1, "created_at": BASE_TS, "updated_at": BASE_TS,
            "created_by": admin["sourced_id"],
        })  # fmt: skip
        b.add(m.sferum_chats, {
            "chat_id": chat_id, "title": name, "admin_id": admin_vk, "org_id": school_id,
            "created_at": BASE_TS, "deleted_at": None,
        })  # fmt: skip
        for person, role_in_chat in members:
            pid = person["sourced_id"]
            b.add(m.chat_members, {
                "chat_id": chat_id, "person_id": pid, "role_in_chat": role_in_chat,
                "source": "rule", "excluded": False, "added_at": BASE_TS, "added_by": None,
            })  # fmt: skip
            if pid in b.linked and pid not in blocked:
                b.add(m.sferum_chat_members, {
                    "chat_id": chat_id, "member_id": vk_ids[pid], "invited_by": admin_vk,
                    "join_date": BASE_UNIX, "is_admin": pid == admin["sourced_id"],
                })  # fmt: skip
        if not any(person["sourced_id"] == admin["sourced_id"] for person, _ in members):
            # In VK the creator of a chat is always in it, as its administrator.
            b.add(m.sferum_chat_members, {
                "chat_id": chat_id, "member_id": admin_vk, "invited_by": admin_vk,
                "join_date": BASE_UNIX, "is_admin": True,
            })  # fmt: skip
        for (group, index), offset, text in _DEMO_MESSAGES[name]:
            who = (staff if group == "staff" else parents)[index]
            message_id += 1
            b.add(m.sferum_messages, {
                "id": message_id, "chat_id": chat_id, "from_id": vk_ids[who["sourced_id"]],
                "date": BASE_UNIX + offset, "text": text,
            })  # fmt: skip
    accounts = [
        Account("admin", admin["username"], DEMO_PASSWORD, admin["sourced_id"], _full_name(admin)),
        Account("teacher", staff[1]["username"], DEMO_PASSWORD, staff[1]["sourced_id"],
                _full_name(staff[1])),
        Account("student", students[0]["username"], DEMO_PASSWORD, students[0]["sourced_id"],
                _full_name(students[0])),
        Account("parent", parents[0]["username"], DEMO_PASSWORD, parents[0]["sourced_id"],
                _full_name(parents[0])),
    ]  # fmt: skip
    return accounts, vk_logins


# --- school and district ---------------------------------------------------------------------

SANDBOX_PASSWORD = "sandbox"  # noqa: S105 (printed at the sandbox's start)
SCHOOL_KINDS = (
    ("МБОУ «Средняя общеобразовательная школа № {n}»", 10),
    ("МАОУ «Средняя общеобразовательная школа № {n}»", 3),
    ("МБОУ «Гимназия № {n}»", 2),
    ("МАОУ «Лицей № {n}»", 2),
    ("МБОУ «Средняя общеобразовательная школа № {n} с углублённым изучением отдельных "
     "предметов»", 1),
)  # fmt: skip
DISTRICT_NAME = "Управление образования администрации городского округа Северозёрск"

# Probability that a person has linked ESh to a Sferum profile.
LINK_STAFF = 0.7
LINK_PARENT = 0.5
LINK_STUDENT = {1: 0.25, 2: 0.3, 3: 0.35, 4: 0.4, 5: 0.5, 6: 0.55, 7: 0.6, 8: 0.6, 9: 0.65,
                10: 0.7, 11: 0.7}  # fmt: skip
# Of the unlinked: VK ID without an educational profile, or with one not yet linked.
VK_ONLY = 0.12
VK_PROFILE = 0.05
BLOCKED = 0.003


def _class_sizes(rng: random.Random, count: int, students: int) -> list[int]:
    """`count` class sizes that add up to `students`, varied by a few pupils."""
    base, rest = divmod(students, count)
    sizes = [base + (1 if i < rest else 0) for i in range(count)]
    for i in range(count):
        j = rng.randrange(count)
        d = rng.randint(0, 3)
        if sizes[j] - d >= 12 and sizes[i] + d <= 34:
            sizes[i] += d
            sizes[j] -= d
    return sizes


def _plan(
    rng: random.Random, students: int, parallels: Sequence[int]
) -> list[tuple[int, str, int]]:
    """(grade, letter, size) of every class of a school with `parallels[g - 1]` classes."""
    cells = [(g, LETTERS[i]) for g in range(1, 12) for i in range(parallels[g - 1])]
    sizes = _class_sizes(rng, len(cells), students)
    return [(g, letter, size) for (g, letter), size in zip(cells, sizes, strict=True)]


class _Generator:
    """`school` and `district`: schools of generated staff, families, classes and groups."""

    def __init__(self, b: _Builder, district_id: str, full: bool, staff_ratio: float) -> None:
        self.b = b
        self.staff_ratio = staff_ratio  # staff per student, other staff making up the rest
        self.rng = b.rng
        self.district_id = district_id
        self.full = full  # every subject's groups (`school`), or a few per class (`district`)

    # --- people ---

    def adult(
        self,
        sex: str,
        born: tuple[int, int],
        base: str | None = None,
        email_domain: str | None = None,
        given: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        pick = self.b.pick
        base = base or pick(SURNAMES)
        given = given or pick(ADULT_MALE if sex == "male" else ADULT_FEMALE)
        middle = patronymic(pick(ELDER_MALE), sex)
        birth = self.b.day(date(born[0], 1, 1), date(born[1], 12, 31))
        return self.b.person(base, given, middle, sex, birth, email_domain=email_domain), base

    def link(self, person: dict[str, Any], school_id: str, roles: list[str], p: float) -> None:
        """Link `person` with probability `p`; otherwise perhaps give them VK ID only."""
        draw = self.rng.random()
        if draw < p:
            self.b.vk(person, "linked", school_id, roles)
            return
        draw = (draw - p) / (1 - p)
        if draw < VK_ONLY:
            self.b.vk(person, "account")
        elif draw < VK_ONLY + VK_PROFILE:
            self.b.vk(person, "profile", school_id, roles)

    # --- a school ---

    def school(self, org_id: str, name: str, plan: list[tuple[int, str, int]]) -> _School:
        b, rng = self.b, self.rng
        b.org(org_id, name, "school", f"66{rng.randrange(10**8):08d}", self.district_id)
        domain = f"s{org_id[4:]}.esh.example"
        classes = [b.homeroom(org_id, grade, letter, size) for grade, letter, size in plan]

        # Teaching units: (class, subject, subgroup, hours, specialty) for the whole curriculum.
        units: list[tuple[_Klass, str, str | None, int, str]] = []
        for klass in classes:
            for subject, hours in CURRICULUM[klass.grade]:
                if klass.grade <= 4 and subject not in PRIMARY_SPECIALISTS:
                    units.append((klass, subject, None, hours, "primary"))
                elif klass.grade in SPLIT_GRADES.get(subject, ()) and (
                    klass.size >= SPLIT_MIN_STUDENTS
                ):
                    for part in SUBGROUPS:
                        units.append((klass, subject, part, hours, SPECIALTY[subject]))
                else:
                    units.append((klass, subject, None, hours, SPECIALTY[subject]))
        hours_by: dict[str, int] = {}
        for *_, hours, spec in units:
            if spec != "primary":
                hours_by[spec] = hours_by.get(spec, 0) + hours

        # Staff: director, primary class teachers, subject teachers, other staff.
        staff: list[_Staff] = []

        def hire(spec: str) -> _Staff:
            men = 0.35 if spec in ("pe", "inf", "obzr") else 0.12
            sex = "male" if rng.random() < men else "female"
            person, base = self.adult(sex, (1962, 2002), email_domain=domain)
            earliest = max(person["birth_date"].year + 22, 1985)
            member = _Staff(person, base, spec, b.day(date(earliest, 1, 1), date(2026, 8, 31)))
            staff.append(member)
            return member

        director = hire("admin")
        primary = [hire("primary") for klass in classes if klass.grade <= 4]
        by_spec: dict[str, list[_Staff]] = {}
        for spec in sorted(hours_by):
            count = max(1, round(hours_by[spec] / TEACHER_HOURS))
            by_spec[spec] = [hire(spec) for _ in range(count)]
        n_target = round(sum(k.size for k in classes) * self.staff_ratio)
        for _ in range(max(_OTHER_STAFF, n_target - len(staff))):
            hire("other")
        sferum_admin = by_spec["inf"][0] if "inf" in by_spec else director
        for member in staff:
            row, hired = member.row, member.hired
            if member is director:
                b.role(row, "administrator", org_id, begin=hired)
                b.role(row, "teacher", org_id, primary=False, begin=hired)
            else:
                b.role(row, "teacher", org_id, begin=hired)
                if member is sferum_admin:
                    b.role(row, "administrator", org_id, primary=False, begin=date(2022, 9, 1))

        # Who teaches each unit.
        teacher_of: dict[int, _Staff] = {}
        for klass, teacher in zip((k for k in classes if k.grade <= 4), primary, strict=True):
            klass.class_teachers.append(teacher.row["sourced_id"])
            teacher.homerooms += 1
        primary_of = {k.id: t for k, t in zip((k for k in classes if k.grade <= 4), primary,
                                               strict=True)}  # fmt: skip
        done: dict[str, int] = {}
        previous: tuple[str, str] | None = None
        for i, (klass, subject, subgroup, hours, spec) in enumerate(units):
            if spec == "primary":
                teacher_of[i] = primary_of[klass.id]
                continue
            pool = by_spec[spec]
            share = hours_by[spec] / len(pool)
            index = min(len(pool) - 1, int(done.get(spec, 0) / share))
            if subgroup == SUBGROUPS[1] and previous == (klass.id, subject) and len(pool) > 1:
                first = teacher_of[i - 1]
                if pool[index] is first:
                    index = (index + 1) % len(pool)
            teacher_of[i] = pool[index]
            done[spec] = done.get(spec, 0) + hours
            previous = (klass.id, subject)

        # Class teachers of grades 5–11: one of the class's teachers with no class yet.
        teachers_of_class: dict[str, list[_Staff]] = {}
        for i, (klass, *_rest) in enumerate(units):
            teachers_of_class.setdefault(klass.id, []).append(teacher_of[i])
        for klass in classes:
            if klass.grade <= 4:
                continue
            candidates = [t for t in teachers_of_class[klass.id] if t.homerooms == 0]
            if not candidates:
                candidates = [t for s in sorted(by_spec) for t in by_spec[s] if t.homerooms == 0]
            if not candidates:
                candidates = [t for s in sorted(by_spec) for t in by_spec[s]]
            chosen = rng.choice(candidates)
            chosen.homerooms += 1
            klass.class_teachers.append(chosen.row["sourced_id"])

        school = _School(org_id, name, classes, staff, sferum_admin)
        self.families(school)

        # Homeroom enrollments, then the teaching groups.
        staff_row = {s.row["sourced_id"]: s.row for s in staff}
        for klass in classes:
            for teacher_id in klass.class_teachers:
                b.enroll(staff_row[teacher_id], klass.id, org_id, "teacher", primary=True)
            for student in klass.students:
                b.enroll(student, klass.id, org_id, "student")
        halves: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        for i, (klass, subject, subgroup, _hours, _spec) in enumerate(units):
            if not self.full:
                wanted = DISTRICT_SUBJECTS_GRADE_1 if klass.grade == 1 else DISTRICT_SUBJECTS
                if subject not in wanted:
                    continue
            students: Sequence[dict[str, Any]] = klass.students
            if subgroup is not None:
                split = halves.get(f"{klass.id}/{subject}")
                if split is None:
                    shuffled = list(klass.students)
                    rng.shuffle(shuffled)
                    half = (len(shuffled) + 1) // 2
                    split = halves[f"{klass.id}/{subject}"] = (
                        sorted(shuffled[:half], key=_by_name),
                        sorted(shuffled[half:], key=_by_name),
                    )
                students = split[SUBGROUPS.index(subgroup)]
            b.group(klass, subject, subgroup, students, [teacher_of[i].row])

        # Links and VK ID.
        for member in staff:
            roles = ["teacher", "admin"] if member in (director, sferum_admin) else ["teacher"]
            self.link(member.row, org_id, roles, LINK_STAFF)
        for klass in classes:
            for student in klass.students:
                self.link(student, org_id, ["student"], LINK_STUDENT[klass.grade])
        for parent in school.parents:
            self.link(parent, org_id, ["parent"], LINK_PARENT)
        for member in staff:
            edu = b.edu_by_person.get(member.row["sourced_id"])
            if edu is not None and member.is_parent:
                edu["roles"] = [*edu["roles"], "parent"]

        # A few blocked people («Заблокирован»).
        others = [s.row for s in staff if s not in (director, sferum_admin)]
        for people in (school.students, school.parents, others):
            count = int(len(people) * BLOCKED + self.rng.random())
            for person in self.rng.sample(people, count):
                person["enabled_user"] = False
        return school

    def families(self, school: _School) -> None:
        """Students in families: siblings share parents; some parents are absent."""
        b, rng = self.b, self.rng
        seats = [klass for klass in school.classes for _ in range(klass.size)]
        rng.shuffle(seats)
        staff_mothers = [
            s for s in school.staff if s.row["sex"] == "female" and s.specialty != "admin"
        ]
        rng.shuffle(staff_mothers)
        staff_mothers = staff_mothers[: max(1, len(staff_mothers) // 20)]
        at = 0
        while at < len(seats):
            draw = rng.random()
            n_children = 1 if draw < 0.87 else 2 if draw < 0.98 else 3
            mine = seats[at : at + n_children]
            at += n_children
            eldest = 2019 - max(klass.grade for klass in mine)  # the eldest child's birth year
            draw = rng.random()
            has_mother = draw < 0.80 or 0.94 <= draw < 0.97
            has_father = draw < 0.94
            has_granny = 0.97 <= draw < 0.985
            staff_mother: _Staff | None = None
            if has_mother and staff_mothers and rng.random() < 0.04:
                for candidate in staff_mothers:
                    if 22 <= eldest - candidate.row["birth_date"].year <= 42:
                        staff_mother = candidate
                        staff_mothers.remove(candidate)
                        break
            base = staff_mother.base if staff_mother else b.pick(SURNAMES)
            father_name = b.pick(ADULT_MALE)
            kids: list[dict[str, Any]] = []
            for klass in mine:
                sex = "male" if rng.random() < 0.51 else "female"
                given = b.pick(CHILD_MALE if sex == "male" else CHILD_FEMALE)
                g = klass.grade
                birth = b.day(date(2019 - g, 9, 1), date(2020 - g, 8, 31))
                kid = b.person(base, given, patronymic(father_name, sex), sex, birth)
                b.role(kid, "student", school.id)
                klass.students.append(kid)
                school.students.append(kid)
                kids.append(kid)
            adults: list[tuple[dict[str, Any], str]] = []
            if staff_mother is not None:
                staff_mother.is_parent = True
                b.role(staff_mother.row, "parent", school.id, primary=False)
                adults.append((staff_mother.row, "staff"))
            elif has_mother:
                own = b.pick(SURNAMES) if rng.random() < 0.08 else base
                mother, _ = self.adult("female", (eldest - 40, eldest - 21), own)
                adults.append((mother, "parent"))
            if has_father:
                father, _ = self.adult("male", (eldest - 45, eldest - 22), base, None, father_name)
                adults.append((father, "parent"))
            if has_granny:
                granny, _ = self.adult("female", (eldest - 70, eldest - 45))
                adults.append((granny, "guardian"))
            for adult, role in adults:
                if role != "staff":
                    b.role(adult, role, school.id)
                    school.parents.append(adult)
                for kid in kids:
                    b.guardian(kid, adult)


def _by_name(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["family_name"], row["given_name"], row["middle_name"] or "")


def _district_admin(b: _Builder, district_id: str, username: str) -> dict[str, Any]:
    person = b.person(
        "Ларионов", "Вадим", "Евгеньевич", "male", date(1974, 3, 14), username=username,
        email_domain="uo.esh.example",
    )  # fmt: skip
    b.role(person, "administrator", district_id, begin=date(2015, 9, 1))
    b.account(person)
    return person


def _pick_accounts(
    b: _Builder, school: _School, admin_username: str
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The printed teacher, student, parent (and school admin) among the first school's people,
    and the three VK ID sign-in path people."""
    linked = b.linked
    staff_ids = {s.row["sourced_id"] for s in school.staff}
    enabled = [p for p in school.parents if p["enabled_user"] and p["sourced_id"] not in staff_ids]
    kids_of: dict[str, list[str]] = {}
    for row in b.rows[m.guardians]:
        kids_of.setdefault(row["student_id"], []).append(row["parent_id"])
    parent_by_id = {p["sourced_id"]: p for p in enabled}
    staff_by_id = {s.row["sourced_id"]: s for s in school.staff}

    picked: dict[str, dict[str, Any]] = {}
    admin = school.sferum_admin
    assert admin is not None
    picked["admin"] = admin.row
    for klass in sorted(school.classes, key=lambda k: (k.grade not in (5, 6, 7), k.grade)):
        teacher = staff_by_id[klass.class_teachers[0]]
        if teacher is admin or not teacher.row["enabled_user"]:
            continue
        for student in klass.students:
            if student["sourced_id"] not in linked or not student["enabled_user"]:
                continue
            parents = [
                parent_by_id[p] for p in kids_of.get(student["sourced_id"], [])
                if p in parent_by_id and p in linked
            ]  # fmt: skip
            if parents:
                picked.update(teacher=teacher.row, student=student, parent=parents[0])
                break
        if "teacher" in picked:
            break
    for role, person in picked.items():
        b.vk(person, "linked", school.id, _edu_roles(role))  # (they are, nearly always)
    for role, username in (("admin", admin_username), ("teacher", "teacher"),
                           ("student", "student"), ("parent", "parent")):  # fmt: skip
        if username:
            picked[role]["username"] = username
        b.account(picked[role])

    # VK ID sign-in paths: unlinked adults with no VK ID account yet.
    taken = {p["sourced_id"] for p in picked.values()}
    free = [
        p for p in enabled
        if p["sourced_id"] not in b.vk_by_person and p["sourced_id"] not in taken
    ]  # fmt: skip
    logins: list[dict[str, Any]] = []
    for path in (1, 2, 3):
        person = free[path * 7]
        person["phone"] = PATH_PHONES[path]
        state = {1: "profile", 2: "account", 3: None}[path]
        vk_id = b.vk(person, state, school.id, ["parent"]) if state else None
        logins.append(_vk_login(path, person, SANDBOX_PASSWORD if state else None, vk_id))
    return picked, logins


def _edu_roles(role: str) -> list[str]:
    return {"admin": ["teacher", "admin"], "teacher": ["teacher"]}.get(role, [role])


_Result = tuple[list[Account], list[dict[str, Any]], dict[str, Any]]


def _school_admin(school: _School) -> dict[str, str]:
    admin = school.sferum_admin
    assert admin is not None
    return {
        "school_id": school.id,
        "username": admin.row["username"],
        "password": SANDBOX_PASSWORD,
        "person_id": admin.row["sourced_id"],
        "full_name": _full_name(admin.row),
    }


def _school_dataset(b: _Builder, conn: Connection) -> _Result:
    rng = b.rng
    district_id = "org-000"
    b.org(district_id, DISTRICT_NAME, "district", "6600000000", None)
    b.session(district_id)
    _district_admin(b, district_id, "district")
    gen = _Generator(b, district_id, full=True, staff_ratio=80 / 900)
    parallels = [rng.choice((3, 4)) if g <= 9 else 2 for g in range(1, 12)]
    school = gen.school("org-001", "МБОУ «Средняя общеобразовательная школа № 12»",
                        _plan(rng, 900, parallels))  # fmt: skip
    picked, logins = _pick_accounts(b, school, "admin")
    for member in school.staff:  # every staff member can sign in (cheap at this size)
        if member.row is not picked["admin"] and member.row is not picked["teacher"]:
            b.account(member.row)
    accounts = [
        Account(role, p["username"], SANDBOX_PASSWORD, p["sourced_id"], _full_name(p))
        for role, p in picked.items()
    ]
    extra = {"school_admins": [_school_admin(school)]}
    b.flush(conn)
    return accounts, logins, extra


def _district_dataset(b: _Builder, conn: Connection, schools: int = 100) -> _Result:
    rng = b.rng
    district_id = "org-000"
    b.org(district_id, DISTRICT_NAME, "district", "6600000000", None)
    b.session(district_id)
    admin = _district_admin(b, district_id, "admin")
    gen = _Generator(b, district_id, full=False, staff_ratio=0.08)
    numbers = sorted(rng.sample(range(1, 180), schools))
    kinds = [k for k, w in SCHOOL_KINDS for _ in range(w)]
    weights = [rng.uniform(0.45, 1.55) for _ in numbers]
    total = sum(weights)
    accounts: list[Account] = []
    logins: list[dict[str, Any]] = []
    school_admins: list[dict[str, str]] = []
    for i, (number, weight) in enumerate(zip(numbers, weights, strict=True)):
        students = round(1000 * schools * weight / total)
        per_grade = max(1, min(len(LETTERS), round(students / 26 / 10.5)))
        parallels = [per_grade] * 9 + [max(1, per_grade - 1)] * 2
        name = rng.choice(kinds).format(n=number)
        school = gen.school(f"org-{i + 1:03d}", name, _plan(rng, students, parallels))
        if i == 0:
            picked, logins = _pick_accounts(b, school, "")
            picked["admin"] = admin
            accounts = [
                Account(role, p["username"], SANDBOX_PASSWORD, p["sourced_id"], _full_name(p))
                for role, p in picked.items()
            ]
        else:
            assert school.sferum_admin is not None
            b.account(school.sferum_admin.row)
        school_admins.append(_school_admin(school))
        b.flush(conn)
    return accounts, logins, {"school_admins": school_admins}


# --- entry point -----------------------------------------------------------------------------


def populate(engine: Engine, dataset: str, seed: int = 1) -> list[Account]:
    """Fill the empty sandbox database behind `engine` with `dataset` for `seed`.

    Returns the accounts to print (admin, teacher, student, parent); they are also stored in
    `sandbox_meta` under `accounts`, next to `dataset`, `seed`, `schema_version`, `vk_logins`
    (and for `school`/`district`, `school_admins`: each school's Sferum administrator's
    account, which can sign in with the same password).
    """
    return _populate(engine, dataset, seed)


def _populate(
    engine: Engine, dataset: str, seed: int, *, fast: bool = True, schools: int = 100
) -> list[Account]:
    """`populate`; tests compare `fast` with plain Core inserts and build a small district."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    sqlite = engine.dialect.name == "sqlite"
    writer = _Writer(engine) if fast and sqlite else None
    b = _Builder(seed, DEMO_PASSWORD if dataset == "demo" else SANDBOX_PASSWORD, writer)
    with engine.connect() as conn:
        cache_size = None
        if sqlite:
            cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-131072")  # 128 MiB while loading
            conn.commit()
        try:
            with conn.begin():
                b.add(m.vk_clients, {
                    "client_id": VK_CLIENT_ID, "name": VK_CLIENT_NAME,
                    "redirect_uris": VK_REDIRECT_URIS,
                })  # fmt: skip
                b.flush(conn)  # the transaction is open from here on, DDL included
                indexes = _bulk_indexes() if writer is not None and dataset == "district" else []
                for index in indexes:  # built once at the end: faster than row by row
                    conn.execute(DropIndex(index, if_exists=True))
                if dataset == "demo":
                    accounts, vk_logins = _demo(b)
                    extra: dict[str, Any] = {}
                elif dataset == "school":
                    accounts, vk_logins, extra = _school_dataset(b, conn)
                else:
                    accounts, vk_logins, extra = _district_dataset(b, conn, schools)
                b.meta("dataset", dataset)
                b.meta("seed", seed)
                b.meta("schema_version", m.SCHEMA_VERSION)
                b.meta("accounts", [a.as_dict() for a in accounts])
                b.meta("vk_logins", vk_logins)
                for key, value in extra.items():
                    b.meta(key, value)
                b.flush(conn)
                for index in indexes:
                    conn.execute(CreateIndex(index, if_not_exists=True))
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size or -2000)}")
                conn.commit()
    return accounts


def _bulk_indexes() -> list[Index]:
    """The secondary indexes of the tables a big dataset fills (unique constraints stay)."""
    big = {t.name for t in (m.users, m.user_roles, m.guardians, m.classes, m.enrollments,
                            m.vk_accounts, m.edu_profiles, m.links)}  # fmt: skip
    return [i for t in m.metadata.sorted_tables if t.name in big for i in sorted(
        t.indexes, key=lambda i: str(i.name))]  # fmt: skip


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table (for reports and benchmarks)."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in m.metadata.sorted_tables
        }


__all__ = ["DATASETS", "Account", "counts", "populate"]
