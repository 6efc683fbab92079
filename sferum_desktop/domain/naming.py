"""How chats are named (membership-rules.md).

«3 А», «3 А Родители», «Учительская», «1А - Русский язык».
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sferum_desktop.domain.chats import ChatType

STAFF_CHAT_NAME = "Учительская"
PARENTS_SUFFIX = "Родители"

_CLASS_TITLE = re.compile(r"^\s*(\d{1,2})\s*[-–—]?\s*([A-Za-zА-Яа-яЁё]+(?:[ -][А-Яа-яЁё]+)*)\s*$")


class InvalidClassTitle(ValueError):
    """A class title that is not «number + letter(s)», such as «3А» or «10 Б»."""


@dataclass(frozen=True, slots=True)
class ClassTitle:
    """A homeroom title split into grade and letter, whatever spacing ESh used."""

    grade: int
    letter: str

    @classmethod
    def parse(cls, title: str) -> ClassTitle:
        match = _CLASS_TITLE.match(title)
        if match is None:
            raise InvalidClassTitle(f"not a class title: {title!r}")
        grade = int(match.group(1))
        if not 0 <= grade <= 12:
            raise InvalidClassTitle(f"grade out of range in class title: {title!r}")
        letter = match.group(2)
        # A one-letter parallel is written in capitals («3А»); a named one keeps its case.
        if len(letter) == 1:
            letter = letter.upper()
        return cls(grade, letter)

    @property
    def compact(self) -> str:
        """«3А»: how ESh writes the class, and how subject chat names start."""
        return f"{self.grade}{self.letter}"

    @property
    def spaced(self) -> str:
        """«3 А»: how the automatic chats are named."""
        return f"{self.grade} {self.letter}"


def class_chat_name(class_title: str) -> str:
    """The class chat of «3А» is «3 А»."""
    return ClassTitle.parse(class_title).spaced


def parents_chat_name(class_title: str) -> str:
    """The parents chat of «3А» is «3 А Родители»."""
    return f"{ClassTitle.parse(class_title).spaced} {PARENTS_SUFFIX}"


def subject_chat_name(class_title: str, subject: str, subgroup: str | None = None) -> str:
    """The subject chat of «Русский язык / 1А» is «1А - Русский язык» (a subgroup in brackets)."""
    subject = " ".join(subject.split())
    if not subject:
        raise ValueError("a subject chat needs a subject")
    name = f"{ClassTitle.parse(class_title).compact} - {subject}"
    if subgroup and subgroup.strip():
        name += f" ({' '.join(subgroup.split())})"
    return name


def automatic_chat_name(chat_type: ChatType, class_title: str | None = None) -> str:
    """The default name of an automatic chat of the given type."""
    if chat_type is ChatType.STAFF:
        return STAFF_CHAT_NAME
    if class_title is None:
        raise ValueError(f"a {chat_type.value} chat needs its class")
    if chat_type is ChatType.CLASS:
        return class_chat_name(class_title)
    if chat_type is ChatType.PARENTS:
        return parents_chat_name(class_title)
    raise ValueError(f"{chat_type.value} chats are not created automatically")
