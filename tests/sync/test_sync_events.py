"""Acceptance: from the demo school, each roster event followed by `sferum-desktop sync --json`
(the real CLI, a subprocess) leaves the registry and the Sferum chats exactly as
membership-rules.md says.

Each test makes the event(s) in the sandbox's ESh, syncs, and compares the sandbox's truth
before and after: the difference must be exactly the one the rules call for (hand-written
here), the Sferum side must follow the registry (checked independently of the planner:
linked, unblocked members and the chat's owner), and a second sync must have nothing to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Sandbox
from sync_support import (
    ARTEMOV,
    BELOVA,
    CLASS_1A,
    CLASS_2A,
    FROLOV_M,
    FROLOV_V,
    FROLOVA,
    KIRILLOVA,
    KIRILLOVA_YU,
    MOROZOVA,
    PAVLOVA,
    SCHOOL,
    SOKOLOV,
    SOLOVYOVA,
    STAFF_ROOM,
    VK,
    Cli,
    State,
    check_sferum_follows_registry,
    diff,
    read_state,
)

from sferum_desktop.store import Store

NOTHING = {"create_chats": 0, "add": 0, "remove": 0}


@pytest.fixture
def cli(sandbox: Sandbox, tmp_path: Path) -> Cli:
    """`sferum-desktop sync` as the demo's admin (Павлова), with fresh folders."""
    return Cli(sandbox, tmp_path / "home")


def roster(cli: Cli, op: str, **fields: Any) -> dict[str, Any]:
    answer: dict[str, Any] = cli.sandbox.dev("POST", "roster", json={"op": op, **fields})
    return answer


def link(cli: Cli, person_id: str) -> int:
    answer = cli.sandbox.dev("POST", "link", json={"person_id": person_id})
    vk: int = answer["vk_user_id"]
    return vk


def sync_and_compare(
    cli: Cli,
    before: State,
    expected: dict[str, Any],
    *,
    blocked: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Sync, check the change is exactly `expected`, and that a second sync is a no-op."""
    run = cli.run("--json")
    assert run.code == 0, run.stdout + run.stderr
    report = run.report
    after = read_state(cli.sandbox)
    assert diff(before, after) == expected
    check_sferum_follows_registry(after, blocked)
    assert report["failed"] == []
    again = cli.run("--json")
    assert again.code == 0, again.stderr
    plan = again.report["plan"]
    assert {k: plan[k] for k in NOTHING} == NOTHING, again.report
    assert again.report["applied"] == NOTHING
    return report


def test_the_demo_is_in_step_and_a_sync_changes_nothing(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    check_sferum_follows_registry(before)
    report = sync_and_compare(cli, before, {})
    assert report["plan"]["pending"] > 0  # the unlinked members of the seed's chats


def test_enrolment_adds_the_student_and_parents_then_linking_adds_them_to_sferum(
    cli: Cli,
) -> None:
    before = read_state(cli.sandbox)
    made = roster(
        cli,
        "enroll",
        class_id=CLASS_2A,
        student={"given_name": "Иван", "family_name": "Новиков"},
        parents=[{}],
    )
    student, parent = made["student_id"], made["parent_ids"][0]
    report = sync_and_compare(
        cli,
        before,
        {
            "registry": {
                "2 А": {"+": {student: "student"}},
                "2 А Родители": {"+": {parent: "parent"}},
            }
        },
    )
    assert report["plan"]["add"] == 2 and report["applied"]["add"] == 2

    # Pending until they link; then the next sync adds them to the Sferum chats.
    before = read_state(cli.sandbox)
    vk_student, vk_parent = link(cli, student), link(cli, parent)
    sync_and_compare(
        cli,
        before,
        {"sferum": {"2 А": {"+": {vk_student}}, "2 А Родители": {"+": {vk_parent}}}},
    )


def test_transfer_is_a_leave_and_a_join_for_the_student_and_the_parents(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    roster(cli, "transfer", student_id=FROLOV_M, class_id=CLASS_2A)
    sync_and_compare(
        cli,
        before,
        {
            "registry": {
                "3 А": {"-": {FROLOV_M}},
                "2 А": {"+": {FROLOV_M: "student"}},
                "3 А Родители": {"-": {FROLOV_V}},
                "2 А Родители": {"+": {FROLOV_V: "parent"}},
            },
            "sferum": {
                "3 А": {"-": {VK[FROLOV_M]}},
                "2 А": {"+": {VK[FROLOV_M]}},
                "3 А Родители": {"-": {VK[FROLOV_V]}},
                "2 А Родители": {"+": {VK[FROLOV_V]}},
            },
        },
    )


def test_expulsion_removes_the_student_and_parents_who_have_no_other_child_there(
    cli: Cli,
) -> None:
    before = read_state(cli.sandbox)
    # Кириллова (linked) and her mother (linked) leave 2А; Фролова leaves 1А, and her father
    # leaves «1 А Родители» — but stays in «3 А Родители», where his son still is.
    roster(cli, "expel", student_id=KIRILLOVA)
    roster(cli, "expel", student_id=FROLOVA)
    sync_and_compare(
        cli,
        before,
        {
            "registry": {
                "2 А": {"-": {KIRILLOVA}},
                "2 А Родители": {"-": {KIRILLOVA_YU}},
                "1 А": {"-": {FROLOVA}},
                "1 А Родители": {"-": {FROLOV_V}},
            },
            "sferum": {
                "2 А": {"-": {VK[KIRILLOVA]}},
                "2 А Родители": {"-": {VK[KIRILLOVA_YU]}},
                "1 А Родители": {"-": {VK[FROLOV_V]}},
            },
        },
    )


def test_a_parent_stays_while_another_child_is_in_the_class(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    roster(cli, "add_guardian", student_id=ARTEMOV, parent_id=FROLOV_V)  # a second child in 1А
    roster(cli, "expel", student_id=FROLOVA)
    sync_and_compare(cli, before, {"registry": {"1 А": {"-": {FROLOVA}}}})


def test_hiring_adds_to_the_staff_room(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    hired = roster(
        cli,
        "hire",
        school_id=SCHOOL,
        role="teacher",
        person={"given_name": "Олег", "family_name": "Сидоров"},
    )
    roster(cli, "hire", school_id=SCHOOL, role="teacher", person_id=KIRILLOVA_YU)  # linked
    sync_and_compare(
        cli,
        before,
        {
            "registry": {STAFF_ROOM: {"+": {hired["person_id"]: "staff", KIRILLOVA_YU: "staff"}}},
            "sferum": {STAFF_ROOM: {"+": {VK[KIRILLOVA_YU]}}},
        },
    )


def test_dismissal_removes_from_every_chat_of_the_school(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    roster(cli, "dismiss", person_id=MOROZOVA)  # the class teacher of 3А
    sync_and_compare(
        cli,
        before,
        {
            "registry": {
                STAFF_ROOM: {"-": {MOROZOVA}},
                "3 А": {"-": {MOROZOVA}},
                "3 А Родители": {"-": {MOROZOVA}},
            },
            "sferum": {
                STAFF_ROOM: {"-": {VK[MOROZOVA]}},
                "3 А": {"-": {VK[MOROZOVA]}},
                "3 А Родители": {"-": {VK[MOROZOVA]}},
            },
        },
    )


def test_a_blocked_person_stays_in_the_registry_and_leaves_sferum_until_unblocked(
    cli: Cli,
) -> None:
    before = read_state(cli.sandbox)
    roster(cli, "block", person_id=FROLOV_M)
    sync_and_compare(cli, before, {"sferum": {"3 А": {"-": {VK[FROLOV_M]}}}}, blocked=(FROLOV_M,))
    before = read_state(cli.sandbox)
    roster(cli, "unblock", person_id=FROLOV_M)
    sync_and_compare(cli, before, {"sferum": {"3 А": {"+": {VK[FROLOV_M]}}}})


def test_linking_adds_and_unlinking_removes_from_sferum_only(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    vk = link(cli, SOKOLOV)
    cli.sandbox.dev("POST", "unlink", json={"person_id": FROLOV_V})
    sync_and_compare(
        cli,
        before,
        {
            "sferum": {
                "2 А": {"+": {vk}},
                "1 А Родители": {"-": {VK[FROLOV_V]}},
                "3 А Родители": {"-": {VK[FROLOV_V]}},
            }
        },
    )


def test_teacher_assignment_and_unassignment(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    roster(cli, "assign_teacher", person_id=BELOVA, class_id=CLASS_1A, primary=True)
    sync_and_compare(
        cli,
        before,
        {
            "registry": {
                "1 А": {"+": {BELOVA: "staff"}},
                "1 А Родители": {"+": {BELOVA: "staff"}},
            },
            "sferum": {"1 А": {"+": {VK[BELOVA]}}, "1 А Родители": {"+": {VK[BELOVA]}}},
        },
    )
    # Павлова leaves the registry chats of 1А; she made their Sferum chats and owns them,
    # so she stays their administrator there.
    before = read_state(cli.sandbox)
    roster(cli, "unassign_teacher", person_id=PAVLOVA, class_id=CLASS_1A)
    sync_and_compare(
        cli,
        before,
        {"registry": {"1 А": {"-": {PAVLOVA}}, "1 А Родители": {"-": {PAVLOVA}}}},
    )


def test_guardians_added_and_removed(cli: Cli) -> None:
    before = read_state(cli.sandbox)
    roster(cli, "add_guardian", student_id=SOLOVYOVA, parent_id=KIRILLOVA_YU)
    roster(cli, "remove_guardian", student_id=FROLOV_M, parent_id=FROLOV_V)
    sync_and_compare(
        cli,
        before,
        {
            "registry": {"3 А Родители": {"+": {KIRILLOVA_YU: "parent"}, "-": {FROLOV_V}}},
            "sferum": {"3 А Родители": {"+": {VK[KIRILLOVA_YU]}, "-": {VK[FROLOV_V]}}},
        },
    )


def test_the_audit_log_says_what_changed_and_which_event_caused_it(cli: Cli) -> None:
    assert cli.run("--json").code == 0  # the roster as last synced: the events' baseline
    roster(cli, "expel", student_id=KIRILLOVA)
    vk = link(cli, SOKOLOV)
    run = cli.run("--json")
    assert run.code == 0, run.stderr
    assert run.report["events"] == {"expelled": 1, "linked": 1}
    with Store.open(cli.store_path()) as store:
        audit = store.audit()
        events = store.roster_events()
    lines = {(a.action, a.chat_name, a.person_id): a for a in audit}
    removal = lines[("remove_registry_member", "2 А", KIRILLOVA)]
    assert removal.reason == "expelled"
    assert removal.event is not None and removal.event["kind"] == "expelled"
    assert removal.person_name == "Кириллова София Дмитриевна"
    assert removal.actor == "sync" and removal.chat_id is not None
    parent_out = lines[("remove_sferum_member", "2 А Родители", KIRILLOVA_YU)]
    assert parent_out.reason == "expelled" and parent_out.vk_user_id == VK[KIRILLOVA_YU]
    assert parent_out.event is not None and parent_out.event["person_id"] == KIRILLOVA
    joined = lines[("add_sferum_member", "2 А", SOKOLOV)]
    assert joined.reason == "linked" and joined.vk_user_id == vk
    assert len(audit) == 5  # 2 registry + 2 Sferum removals, 1 Sferum addition
    assert {(e.kind, e.person_id) for e in events} == {
        ("expelled", KIRILLOVA),
        ("linked", SOKOLOV),
    }
