"""The sandbox's generated datasets: shapes, the seed's demo school, determinism."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.datasets import (
    DATASETS,
    PATH_PHONES,
    VK_CLIENT_ID,
    Account,
    _populate,
    populate,
)
from sferum_desktop.sandbox.names import (
    FEMALE_NAMES,
    MALE_NAMES,
    SURNAMES,
    patronymic,
    surname_for,
    translit,
)

CYRILLIC = re.compile(r"^[А-ЯЁ][а-яё]+(-[А-ЯЁ][а-яё]+)?$")
SEED_CHATS = [
    ("Учительская", "staff", 13),
    ("3 А", "class", 3),
    ("3 А Родители", "parents", 3),
    ("2 А", "class", 3),
    ("2 А Родители", "parents", 3),
    ("1 А", "class", 5),
    ("1 А Родители", "parents", 3),
]


def empty(path: Path) -> Engine:
    """A new sandbox database with the schema and no rows."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")  # the insert order must respect them
        dbapi_connection.execute("PRAGMA synchronous=OFF")  # no fsync per CREATE TABLE

    m.metadata.create_all(engine)
    return engine


def build(path: Path, dataset: str, seed: int = 1, **options: Any) -> Engine:
    engine = empty(path)
    if options:
        _populate(engine, dataset, seed, **options)
    else:
        populate(engine, dataset, seed)
    return engine


def dump(engine: Engine) -> list[str]:
    """Every row of every table as SQL text, in a stable order."""
    path = engine.url.database
    assert path
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def rows(engine: Engine, table: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table)))


def meta(engine: Engine) -> dict[str, Any]:
    return {r.key: r.value for r in rows(engine, m.meta)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = build(tmp_path_factory.mktemp("demo") / "db.sqlite3", "demo")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = build(tmp_path_factory.mktemp("school") / "db.sqlite3", "school")
    yield engine
    engine.dispose()


class People:
    """The roster of one database, indexed for the assertions below."""

    def __init__(self, engine: Engine) -> None:
        self.users = {u.sourced_id: u for u in rows(engine, m.users)}
        self.by_name = {
            f"{u.family_name} {u.given_name} {u.middle_name}": u for u in self.users.values()
        }
        self.roles: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for r in rows(engine, m.user_roles):
            self.roles[r.user_id].add((r.role, r.org_id))
        self.classes = {c.sourced_id: c for c in rows(engine, m.classes)}
        self.enrollments = rows(engine, m.enrollments)
        self.by_class: dict[str, list[Any]] = defaultdict(list)
        for e in self.enrollments:
            self.by_class[e.class_id].append(e)
        self.guardians = rows(engine, m.guardians)
        self.links = {link.person_id: link for link in rows(engine, m.links)}
        self.orgs = {o.sourced_id: o for o in rows(engine, m.orgs)}

    def id(self, name: str) -> str:
        return str(self.by_name[name].sourced_id)

    def with_role(self, *roles: str) -> set[str]:
        return {pid for pid, rs in self.roles.items() if any(r in roles for r, _ in rs)}

    def members(self, class_id: str, role: str) -> set[str]:
        return {e.user_id for e in self.by_class[class_id] if e.role == role}

    def class_by_title(self, title: str) -> Any:
        (found,) = [c for c in self.classes.values() if c.title == title]
        return found


# --- every dataset -----------------------------------------------------------------------------


def test_unknown_dataset_raises(tmp_path: Path) -> None:
    engine = empty(tmp_path / "db.sqlite3")
    with pytest.raises(ValueError, match="unknown dataset"):
        populate(engine, "city")
    assert rows(engine, m.users) == []
    assert DATASETS == ("demo", "school", "district")


def test_name_pools_are_large_and_decline() -> None:
    assert len(set(SURNAMES)) >= 150
    assert len({n for n, _, _ in MALE_NAMES}) >= 60
    assert len(set(FEMALE_NAMES)) >= 60
    assert surname_for("Павлов", "female") == "Павлова"
    assert surname_for("Островский", "female") == "Островская"
    assert surname_for("Толстой", "female") == "Толстая"
    assert surname_for("Шевченко", "female") == "Шевченко"
    assert patronymic("Андрей", "male") == "Андреевич"
    assert patronymic("Илья", "female") == "Ильинична"
    assert translit("Щербакова") == "shcherbakova"


@pytest.mark.parametrize("dataset", ["demo", "school"])
def test_meta_and_accounts(dataset: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(dataset)
    info = meta(engine)
    assert info["dataset"] == dataset
    assert info["seed"] == 1
    assert info["schema_version"] == m.SCHEMA_VERSION
    accounts = [Account(**a) for a in info["accounts"]]
    assert [a.role for a in accounts] == ["admin", "teacher", "student", "parent"]
    stored = {a.username: a for a in rows(engine, m.accounts)}
    users = {u.sourced_id: u for u in rows(engine, m.users)}
    for account in accounts:
        row = stored[account.username]
        assert row.person_id == account.person_id
        assert (
            row.password_sha256
            == hashlib.sha256((row.salt + account.password).encode()).hexdigest()
        )
        user = users[account.person_id]
        assert user.username == account.username
        assert account.full_name == f"{user.family_name} {user.given_name} {user.middle_name}"
        assert user.enabled_user
    (client,) = rows(engine, m.vk_clients)
    assert (client.client_id, client.name) == (VK_CLIENT_ID, "ЭлЖур")
    assert "http://127.0.0.1/vkid/callback" in client.redirect_uris


@pytest.mark.parametrize("dataset", ["demo", "school"])
def test_vk_logins_cover_the_three_paths(dataset: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(dataset)
    logins = meta(engine)["vk_logins"]
    assert [login["path"] for login in logins] == [1, 2, 3]
    vk = {a.phone: a for a in rows(engine, m.vk_accounts)}
    profiles = {p.vk_user_id for p in rows(engine, m.edu_profiles)}
    linked = {link.person_id for link in rows(engine, m.links) if link.status == "linked"}
    users = {u.sourced_id: u for u in rows(engine, m.users)}
    for login in logins:
        person = users[login["person_id"]]
        assert person.phone == login["phone"] == PATH_PHONES[login["path"]]
        assert login["who"] == f"{person.family_name} {person.given_name} {person.middle_name}"
        assert person.sourced_id not in linked
        assert not person.birth_date.year > 2008  # an adult
        if login["path"] == 3:
            assert login["phone"] not in vk and login["password"] is None
            continue
        account = vk[login["phone"]]
        assert account.user_id == login["vk_user_id"]
        digest = hashlib.sha256((account.salt + login["password"]).encode()).hexdigest()
        assert account.password_sha256 == digest
        assert (account.user_id in profiles) == (login["path"] == 1) == login["has_edu_profile"]


@pytest.mark.parametrize("dataset", ["demo", "school"])
def test_roster_is_consistent(dataset: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(dataset)
    people = People(engine)
    students = people.with_role("student")
    parents = people.with_role("parent", "guardian")
    staff = people.with_role("teacher", "administrator")
    assert students and parents and staff
    # Each student: exactly one active homeroom, in their school.
    homerooms = Counter(
        e.user_id
        for e in people.enrollments
        if e.role == "student"
        and e.status == "active"
        and people.classes[e.class_id].class_type == "homeroom"
    )
    assert set(homerooms) == students and set(homerooms.values()) == {1}
    # Every class has a class teacher; groups belong to a homeroom of the same school and grade.
    for klass in people.classes.values():
        teachers = {
            (e.user_id, e.primary) for e in people.by_class[klass.sourced_id] if e.role == "teacher"
        }
        assert teachers, klass.title
        assert all(pid in staff for pid, _ in teachers)
        if klass.class_type == "homeroom":
            assert re.fullmatch(r"(1[01]|[1-9])[АБВГДЕ]", klass.title)
            assert any(primary for _, primary in teachers)
            assert klass.grades == [f"{int(klass.title[:-1]):02d}"] and klass.subjects == []
        else:
            home = people.classes[klass.homeroom_id]
            assert klass.title.startswith(f"{home.title} - {klass.subjects[0]}")
            assert (klass.school_id, klass.grades) == (home.school_id, home.grades)
            assert klass.course_id
            # A group's students are students of its homeroom.
            assert people.members(klass.sourced_id, "student") <= people.members(
                home.sourced_id, "student"
            )
    # Guardianship links existing students to people with a parent or guardian role.
    for g in people.guardians:
        assert g.student_id in students
        assert g.parent_id in parents
    # Realistic names: Cyrillic ФИО, gendered patronymics and surnames.
    for user in people.users.values():
        for part in (user.family_name, user.given_name, user.middle_name):
            assert CYRILLIC.match(part), part
        if user.sex == "male":
            assert user.middle_name.endswith("ич")
            assert not user.family_name.endswith(("ова", "ева", "ёва", "ина", "ская", "цкая"))
        else:
            assert user.middle_name.endswith("на")
            assert not user.family_name.endswith(("ов", "ев", "ёв", "ин", "ский", "цкий"))
    # Unique usernames and phones in the fake +7 199 range.
    assert len({u.username for u in people.users.values()}) == len(people.users)
    phones = [u.phone for u in people.users.values()]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"\+7199\d{7}", p) for p in phones)


@pytest.mark.parametrize("dataset", ["demo", "school"])
def test_children_are_named_after_their_fathers(
    dataset: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(dataset)
    people = People(engine)
    checked = 0
    for g in people.guardians:
        child, adult = people.users[g.student_id], people.users[g.parent_id]
        if adult.sex == "male" and surname_for(adult.family_name, child.sex) == child.family_name:
            assert child.middle_name == patronymic(adult.given_name, child.sex)
            checked += 1
    assert checked


@pytest.mark.parametrize("dataset", ["demo", "school"])
def test_vk_id_matches_the_roster(dataset: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(dataset)
    people = People(engine)
    vk = {a.user_id: a for a in rows(engine, m.vk_accounts)}
    profiles = {p.vk_user_id: p for p in rows(engine, m.edu_profiles)}
    assert min(vk) == 100_000_001 and min(p.id for p in profiles.values()) == 200_000_001
    for link in people.links.values():
        assert link.status == "linked"
        person = people.users[link.person_id]
        account, profile = vk[link.vk_user_id], profiles[link.vk_user_id]
        assert account.phone == person.phone
        assert (profile.last_name, profile.first_name, profile.middle_name) == (
            person.family_name,
            person.given_name,
            person.middle_name,
        )
        assert profile.birthday == person.birth_date
        assert profile.sex == (1 if person.sex == "female" else 2)
        assert people.orgs[profile.org_id].type == "school"
        roles = {r for r, _ in people.roles[link.person_id]}
        expected = {
            "teacher": "teacher",
            "administrator": "admin",
            "student": "student",
            "parent": "parent",
        }
        assert {expected.get(r, "parent") for r in roles} == set(profile.roles)


# --- demo ----------------------------------------------------------------------------------------


def test_demo_registry_is_the_seeds(demo: Engine) -> None:
    people = People(demo)
    pavlova = people.id("Павлова Елена Владимировна")
    chats = sorted(rows(demo, m.chats), key=lambda c: c.id)
    members: dict[int, list[Any]] = defaultdict(list)
    for member in rows(demo, m.chat_members):
        members[member.chat_id].append(member)
    assert [(c.name, c.type, len(members[c.id])) for c in chats] == SEED_CHATS
    for chat in chats:
        assert chat.admin_person_id == pavlova
        assert chat.version == 1 and chat.status == "active"
        assert all(x.source == "rule" and not x.excluded for x in members[chat.id])
        if chat.type != "staff":
            assert people.classes[chat.class_id].title == chat.name.split(" Родители")[0].replace(
                " ", ""
            )
    # Class chat = students + class teacher; parents chat = parents + class teacher.
    for chat in chats:
        roles = Counter(x.role_in_chat for x in members[chat.id])
        if chat.type == "staff":
            assert roles == {"staff": 13}
            assert {x.person_id for x in members[chat.id]} == people.with_role(
                "teacher", "administrator"
            )
        elif chat.type == "class":
            kids = people.members(chat.class_id, "student")
            assert {x.person_id for x in members[chat.id] if x.role_in_chat == "student"} == kids
            assert roles["staff"] == 1
        else:
            kids = people.members(chat.class_id, "student")
            theirs = {g.parent_id for g in people.guardians if g.student_id in kids}
            assert {x.person_id for x in members[chat.id] if x.role_in_chat == "parent"} == theirs
            assert roles["staff"] == 1
    # Some members linked, some pending.
    every = [x.person_id for ms in members.values() for x in ms]
    assert any(p in people.links for p in every) and any(p not in people.links for p in every)


def test_demo_sferum_side_mirrors_linked_members(demo: Engine) -> None:
    people = People(demo)
    chats = rows(demo, m.chats)
    registry: dict[int, set[str]] = defaultdict(set)
    for member in rows(demo, m.chat_members):
        registry[member.chat_id].add(member.person_id)
    sferum = {c.chat_id: c for c in rows(demo, m.sferum_chats)}
    sferum_members: dict[int, dict[int, bool]] = defaultdict(dict)
    for member in rows(demo, m.sferum_chat_members):
        sferum_members[member.chat_id][member.member_id] = member.is_admin
    vk_of = {pid: link.vk_user_id for pid, link in people.links.items()}
    pavlova_vk = vk_of[people.id("Павлова Елена Владимировна")]
    messages = Counter(msg.chat_id for msg in rows(demo, m.sferum_messages))
    for chat in chats:
        mirror = sferum[chat.sferum_chat_id]
        assert (mirror.title, mirror.admin_id, mirror.org_id) == (
            chat.name,
            pavlova_vk,
            chat.school_id,
        )
        expected = {
            vk_of[p] for p in registry[chat.id] if p in vk_of and people.users[p].enabled_user
        }
        # The creator of a Sferum chat is always in it, as its administrator, even where the
        # registry's rules do not list her (2 А, 3 А and their parents chats).
        assert set(sferum_members[mirror.chat_id]) == expected | {pavlova_vk}
        assert {v for v, admin in sferum_members[mirror.chat_id].items() if admin} == {pavlova_vk}
        assert messages[mirror.chat_id] >= 1
    assert sferum_members[1][pavlova_vk] is True


def test_demo_pavlova_and_the_worked_example(demo: Engine) -> None:
    people = People(demo)
    school = next(o for o in people.orgs.values() if o.type == "school")
    pavlova = people.id("Павлова Елена Владимировна")
    assert people.roles[pavlova] == {
        ("teacher", school.sourced_id),
        ("administrator", school.sourced_id),
    }
    assert pavlova in people.links
    assert people.by_name["Павлова Елена Владимировна"].username == "pavlova"
    one_a = people.class_by_title("1А")
    names = ["Артемов Павел Андреевич", "Леонидов Павел Петрович", "Фролова Анна Викторовна"]
    vavilova = people.id("Вавилова Мария Александровна")
    assert people.members(one_a.sourced_id, "student") == {*map(people.id, names), vavilova}
    assert any(
        e.user_id == pavlova and e.primary
        for e in people.enrollments
        if e.class_id == one_a.sourced_id
    )
    group = people.class_by_title("1А - Русский язык")
    assert group.class_type == "scheduled" and group.homeroom_id == one_a.sourced_id
    assert group.subjects == ["Русский язык"]
    assert people.members(group.sourced_id, "teacher") == {pavlova}
    assert people.members(group.sourced_id, "student") == set(map(people.id, names))
    assert not any(people.id(n) in people.links for n in [*names, "Вавилова Мария Александровна"])
    staff = people.with_role("teacher", "administrator")
    assert len(staff) == 13
    assert [c.title for c in people.classes.values() if c.class_type == "homeroom"] == [
        "1А",
        "2А",
        "3А",
    ]


def test_demo_accounts(demo: Engine) -> None:
    accounts = {a["role"]: a for a in meta(demo)["accounts"]}
    assert accounts["admin"]["username"] == "pavlova"
    assert accounts["admin"]["full_name"] == "Павлова Елена Владимировна"
    assert accounts["student"]["full_name"] == "Артемов Павел Андреевич"
    assert {a["password"] for a in accounts.values()} == {"demo"}
    people = People(demo)
    parents_of_artemov = {
        g.parent_id for g in people.guardians if g.student_id == accounts["student"]["person_id"]
    }
    assert accounts["parent"]["person_id"] in parents_of_artemov
    assert accounts["teacher"]["person_id"] in people.with_role("teacher")
    assert accounts["teacher"]["person_id"] != accounts["admin"]["person_id"]


# --- school --------------------------------------------------------------------------------------


def test_school_size_and_shape(school: Engine) -> None:
    people = People(school)
    schools = [o for o in people.orgs.values() if o.type == "school"]
    (district,) = [o for o in people.orgs.values() if o.type == "district"]
    assert len(schools) == 1 and schools[0].parent_id == district.sourced_id
    assert 850 <= len(people.with_role("student")) <= 950
    assert 1250 <= len(people.with_role("parent", "guardian")) <= 1550
    staff = {
        p
        for p, rs in people.roles.items()
        if any(r in ("teacher", "administrator") and o != district.sourced_id for r, o in rs)
    }
    assert 70 <= len(staff) <= 90
    homerooms = [c for c in people.classes.values() if c.class_type == "homeroom"]
    parallels = Counter(int(c.title[:-1]) for c in homerooms)
    assert set(parallels) == set(range(1, 12)) and all(2 <= n <= 4 for n in parallels.values())
    groups = [c for c in people.classes.values() if c.class_type == "scheduled"]
    assert any(c.title.endswith("(1 группа)") for c in groups)
    assert any(c.title.endswith("(2 группа)") for c in groups)
    subjects = {c.subjects[0] for c in groups}
    assert {
        "Русский язык",
        "Литературное чтение",
        "Математика",
        "Физика",
        "Химия",
        "Английский язык",
    } <= subjects
    # The district administrator.
    assert any(("administrator", district.sourced_id) in rs for rs in people.roles.values())
    # Empty registry, no Sferum chats.
    assert rows(school, m.chats) == [] and rows(school, m.sferum_chats) == []
    # A few blocked; siblings share parents; some students without parents.
    blocked = [u for u in people.users.values() if not u.enabled_user]
    assert 1 <= len(blocked) <= 20
    children = Counter(g.parent_id for g in people.guardians)
    assert any(n >= 2 for n in children.values())
    with_parents = {g.student_id for g in people.guardians}
    assert people.with_role("student") - with_parents


def test_school_is_about_half_linked(school: Engine) -> None:
    people = People(school)
    share = len(people.links) / len(people.users)
    assert 0.4 <= share <= 0.6
    for role in ("student", "parent", "teacher"):
        group = people.with_role(role)
        assert 0.25 <= len(group & set(people.links)) / len(group) <= 0.8, role


def test_school_accounts_are_related(school: Engine) -> None:
    accounts = {a["role"]: a for a in meta(school)["accounts"]}
    assert [accounts[r]["username"] for r in ("admin", "teacher", "student", "parent")] == [
        "admin",
        "teacher",
        "student",
        "parent",
    ]
    assert {a["password"] for a in accounts.values()} == {"sandbox"}
    people = People(school)
    for account in accounts.values():
        assert account["person_id"] in people.links
    admin_roles = {r for r, _ in people.roles[accounts["admin"]["person_id"]]}
    assert admin_roles == {"teacher", "administrator"}
    student = accounts["student"]["person_id"]
    assert (student, accounts["parent"]["person_id"]) in {
        (g.student_id, g.parent_id) for g in people.guardians
    }
    homeroom = next(
        e.class_id
        for e in people.enrollments
        if e.user_id == student and people.classes[e.class_id].class_type == "homeroom"
    )
    assert (accounts["teacher"]["person_id"], True) in {
        (e.user_id, e.primary) for e in people.enrollments if e.class_id == homeroom
    }
    (school_admin,) = meta(school)["school_admins"]
    assert school_admin["username"] == "admin"


# --- determinism and the fast insert path ------------------------------------------------------


def test_demo_is_deterministic(demo: Engine, tmp_path: Path) -> None:
    again = build(tmp_path / "again.sqlite3", "demo")
    assert dump(again) == dump(demo)
    assert meta(again)["accounts"] == meta(demo)["accounts"]
    other = build(tmp_path / "other.sqlite3", "demo", seed=2)
    assert dump(other) != dump(demo)


def test_school_differs_by_seed(school: Engine, tmp_path: Path) -> None:
    other = build(tmp_path / "other.sqlite3", "school", seed=2)
    assert People(other).by_name.keys() != People(school).by_name.keys()


@pytest.mark.parametrize("dataset", ["demo", "school"])
def test_rebuild_with_core_inserts_is_identical(
    dataset: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Same dataset and seed give the same rows, and the SQLite fast path stores exactly what
    plain `conn.execute(table.insert(), rows)` stores."""
    engine: Engine = request.getfixturevalue(dataset)
    core = build(tmp_path / "core.sqlite3", dataset, fast=False)
    assert dump(core) == dump(engine)


def test_small_district(tmp_path: Path) -> None:
    """The `district` code path at 2 schools (the full 100 are timed by bench/, not here)."""
    engine = build(tmp_path / "district.sqlite3", "district", schools=2)
    people = People(engine)
    info = meta(engine)
    (district,) = [o for o in people.orgs.values() if o.type == "district"]
    schools = [o for o in people.orgs.values() if o.type == "school"]
    assert len(schools) == 2 and all(s.parent_id == district.sourced_id for s in schools)
    assert 1800 <= len(people.with_role("student")) <= 2200
    admin = next(a for a in info["accounts"] if a["role"] == "admin")
    assert admin["username"] == "admin"
    assert people.roles[admin["person_id"]] == {("administrator", district.sourced_id)}
    assert [a["school_id"] for a in info["school_admins"]] == sorted(s.sourced_id for s in schools)
    logins = {a.username for a in rows(engine, m.accounts)}
    assert {a["username"] for a in info["school_admins"]} <= logins
    groups = Counter(c.homeroom_id for c in people.classes.values() if c.class_type == "scheduled")
    assert set(groups.values()) <= {3, 4}
