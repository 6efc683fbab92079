"""The naming rules of membership-rules.md."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sferum_desktop.domain import (
    STAFF_CHAT_NAME,
    ChatType,
    ClassTitle,
    InvalidClassTitle,
    automatic_chat_name,
    class_chat_name,
    parents_chat_name,
    subject_chat_name,
)


@pytest.mark.parametrize(
    ("title", "chat", "parents"),
    [
        ("3А", "3 А", "3 А Родители"),
        ("1А", "1 А", "1 А Родители"),
        ("10Б", "10 Б", "10 Б Родители"),
        ("3 А", "3 А", "3 А Родители"),
        ("11-В", "11 В", "11 В Родители"),
        ("2а", "2 А", "2 А Родители"),
        (" 5Г ", "5 Г", "5 Г Родители"),
    ],
)
def test_class_and_parents_chat_names(title: str, chat: str, parents: str) -> None:
    assert class_chat_name(title) == chat
    assert parents_chat_name(title) == parents


def test_staff_chat_is_uchitelskaya() -> None:
    assert STAFF_CHAT_NAME == "Учительская"
    assert automatic_chat_name(ChatType.STAFF) == "Учительская"


def test_subject_chat_name_of_the_worked_example() -> None:
    assert subject_chat_name("1А", "Русский язык") == "1А - Русский язык"
    assert subject_chat_name("1 А", "  Русский   язык ") == "1А - Русский язык"


def test_subject_chat_name_of_a_subgroup() -> None:
    assert (
        subject_chat_name("5Б", "Английский язык", "1 группа") == "5Б - Английский язык (1 группа)"
    )


def test_subject_chat_name_needs_a_subject() -> None:
    with pytest.raises(ValueError, match="subject"):
        subject_chat_name("1А", "  ")


@pytest.mark.parametrize("title", ["", "А", "3", "класс", "123А", "3А!", "13А"])
def test_bad_class_titles_are_rejected(title: str) -> None:
    with pytest.raises(InvalidClassTitle):
        ClassTitle.parse(title)


def test_named_parallel_keeps_its_case() -> None:
    assert class_chat_name("5 Кадетский") == "5 Кадетский"


def test_automatic_names_need_the_class() -> None:
    assert automatic_chat_name(ChatType.CLASS, "3А") == "3 А"
    assert automatic_chat_name(ChatType.PARENTS, "3А") == "3 А Родители"
    with pytest.raises(ValueError, match="class"):
        automatic_chat_name(ChatType.CLASS)
    with pytest.raises(ValueError, match="not created automatically"):
        automatic_chat_name(ChatType.SUBJECT, "3А")


@given(
    grade=st.integers(min_value=1, max_value=11),
    letter=st.sampled_from("АБВГДЕЖЗИКЛМН"),
    space=st.sampled_from(["", " ", "-"]),
)
def test_any_spelling_of_a_class_names_the_same_chats(grade: int, letter: str, space: str) -> None:
    title = f"{grade}{space}{letter}"
    parsed = ClassTitle.parse(title)
    assert (parsed.grade, parsed.letter) == (grade, letter)
    assert class_chat_name(title) == f"{grade} {letter}"
    assert ClassTitle.parse(parsed.spaced) == ClassTitle.parse(parsed.compact) == parsed
