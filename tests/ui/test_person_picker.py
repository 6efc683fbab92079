"""The person picker's model: Qt's model tester, search, filters by class and role."""

from __future__ import annotations

from typing import Any

from sferum_desktop.ui.person_picker import Candidate, CandidateModel, PersonPicker

PEOPLE = [
    Candidate("p1", "Павлова Елена Владимировна", "staff", ("1А",), linked=True),
    Candidate("s1", "Артемов Павел Андреевич", "student", ("1А",)),
    Candidate("s2", "Фёдоров Илья Ильич", "student", ("2А",)),
    Candidate("r1", "Артемова Ольга Петровна", "parent", ("1А",)),
]


def test_model_passes_qt_model_tester(qtmodeltester: Any) -> None:
    model = CandidateModel(PEOPLE)
    qtmodeltester.check(model)
    model.set_filter("артем", None, None)
    qtmodeltester.check(model)
    assert model.rowCount() == 2


def test_search_and_filters(qtbot: Any, app: Any) -> None:
    picker = PersonPicker(PEOPLE)
    qtbot.addWidget(picker)
    picker.search.setText("федоров")  # «ё» found as «е»
    assert [picker.model.candidate(r).person_id for r in range(picker.model.rowCount())] == ["s2"]
    picker.search.clear()
    picker.role_filter.setCurrentIndex(picker.role_filter.findText("Ученики"))
    picker.class_filter.setCurrentIndex(picker.class_filter.findText("1А"))
    assert picker.model.rowCount() == 1 and picker.model.candidate(0).person_id == "s1"
    picker.role_filter.setCurrentIndex(0)
    picker.select_names(["Артемов Павел Андреевич", "Артемова Ольга Петровна"])
    assert [c.person_id for c in picker.chosen()] == ["s1", "r1"]
