"""Classes and teaching groups of a school."""

from __future__ import annotations

from dataclasses import dataclass

from sferum_desktop.domain.naming import ClassTitle, subject_chat_name


@dataclass(frozen=True, slots=True)
class SchoolClass:
    """A homeroom class such as «3А»."""

    id: str
    school_id: str
    title: str

    @property
    def parsed_title(self) -> ClassTitle:
        return ClassTitle.parse(self.title)

    @property
    def grade(self) -> int:
        return self.parsed_title.grade


@dataclass(frozen=True, slots=True)
class TeachingGroup:
    """A teaching group: a class's subject, or a subgroup of it («Английский язык (1 группа)»)."""

    id: str
    school_id: str
    class_id: str
    class_title: str
    subject: str
    subgroup: str | None = None  # «1 группа»; None for the whole class

    @property
    def chat_name(self) -> str:
        """The name of this group's subject chat, generated and not editable."""
        return subject_chat_name(self.class_title, self.subject, self.subgroup)

    @property
    def label(self) -> str:
        """«Русский язык / 1А», as the dialog's «Предмет/Группа (Класс)» field shows it."""
        subject = f"{self.subject} ({self.subgroup})" if self.subgroup else self.subject
        return f"{subject} / {self.class_title}"
