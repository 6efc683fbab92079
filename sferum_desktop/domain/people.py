"""People of a school and their roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """A person's role in ESh, as `/me` and the registry name it."""

    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"  # the school's Sferum administrator
    PARENT = "parent"

    @property
    def is_staff(self) -> bool:
        return self in (Role.TEACHER, Role.ADMIN)

    @classmethod
    def from_oneroster(cls, role: str) -> Role | None:
        """Map a OneRoster role to ours; None for roles the product does not use."""
        return _ONEROSTER.get(role)


_ONEROSTER = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    "administrator": Role.ADMIN,
    "parent": Role.PARENT,
    "guardian": Role.PARENT,
}


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in the roster: a student, parent or staff member.

    Only what the screens need is kept: no birth dates, no phones.
    """

    id: str
    family_name: str
    given_name: str
    middle_name: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    blocked: bool = False  # «Заблокирован» in ESh

    @property
    def full_name(self) -> str:
        """«Фамилия Имя Отчество», the seed's «Ф.И.О.» column."""
        return " ".join(p for p in (self.family_name, self.given_name, self.middle_name) if p)

    @property
    def short_name(self) -> str:
        """«Фамилия И. О.», as the seed writes names in running text."""
        initials = " ".join(f"{p[0]}." for p in (self.given_name, self.middle_name) if p)
        return f"{self.family_name} {initials}".strip()

    @property
    def is_staff(self) -> bool:
        return any(role.is_staff for role in self.roles)
