"""Pure parts of the sync: settings, the roster cache, progress and its time left, reports
and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sferum_desktop.api import esh_models
from sferum_desktop.api.errors import ServerError
from sferum_desktop.api.oneroster import RosterDelta, RosterSnapshot, User, parse_record
from sferum_desktop.cli import exit_code
from sferum_desktop.domain import (
    AddSferumMember,
    ChatKey,
    Hold,
    HoldScope,
    Plan,
    Reason,
    RemoveRegistryMember,
)
from sferum_desktop.store import LinkRow, RosterData
from sferum_desktop.sync.config import SyncConfigError, parse_config
from sferum_desktop.sync.progress import Phase, Progress, ProgressTracker
from sferum_desktop.sync.report import FailedOperation, SyncReport
from sferum_desktop.sync.roster_cache import RosterCache, dump_record, load_record

STAMP = "2026-09-01T00:00:00Z"
KEY = ChatKey.klass("s", "c1")


def user(uid: str, status: str = "active", **extra: Any) -> User:
    data = {
        "sourcedId": uid,
        "status": status,
        "dateLastModified": STAMP,
        "enabledUser": "true",
        "givenName": "Имя",
        "familyName": "Фамилия",
        "email": f"{uid}@example.org",
        "username": uid,
        "roles": [],
        **extra,
    }
    return parse_record(User, data)


def link(person: str, vk: int, status: str = "linked", minute: int = 0) -> esh_models.Link:
    moment = datetime(2026, 11, 1, 10, minute, tzinfo=UTC)
    return esh_models.Link(person_id=person, vk_user_id=vk, status=status, updated_at=moment)


# --- settings -------------------------------------------------------------------------------


def test_settings_default_and_from_toml() -> None:
    assert parse_config("").thresholds.chat_fraction == 0.2
    config = parse_config(
        "[thresholds]\nchat_fraction = 0.5\nmin_total_removals = 20\n[sync]\nlock_timeout_s = 5\n"
    )
    assert config.thresholds.chat_fraction == 0.5 and config.thresholds.min_total_removals == 20
    assert config.thresholds.total_fraction == 0.2 and config.lock_timeout_s == 5.0


@pytest.mark.parametrize(
    "text",
    [
        "[thresholds]\nchat_fraction = 1.5\n",
        "[thresholds]\nmin_chat_removals = 0\n",
        "[thresholds]\nmin_chat_removals = 2.5\n",
        "[thresholds]\nchat_fraction = 'a'\n",
        "[thresholds]\nnope = 1\n",
        "[other]\n",
        "[sync]\nfull_refresh_hours = 0\n",
        "thresholds = 3\n",
        "[",
    ],
)
def test_bad_settings_are_refused_in_russian(text: str) -> None:
    with pytest.raises(SyncConfigError) as caught:
        parse_config(text)
    assert "sync.toml" in caught.value.user_message


# --- the roster cache -----------------------------------------------------------------------


def test_records_are_stored_without_contact_details() -> None:
    text = dump_record("users", user("u1"))
    assert "example.org" not in text and '"username"' not in text
    back = load_record("users", text)
    assert isinstance(back, User) and back.sourced_id == "u1" and back.email is None


def test_a_full_fetch_replaces_and_a_delta_patches() -> None:
    full = RosterSnapshot(users=[user("u1"), user("u2"), user("gone", "tobedeleted")])
    full.cursor = datetime(2026, 11, 1, tzinfo=UTC)
    cache, changes = RosterCache.empty().with_roster(full)
    assert changes.full and set(cache.records["users"]) == {"u1", "u2"}
    assert cache.cursor == full.cursor

    delta = RosterDelta(users=[user("u2", "tobedeleted"), user("u3")], since=full.cursor)
    delta.cursor = full.cursor + timedelta(hours=1)
    patched, changes = cache.with_roster(delta)
    assert set(patched.records["users"]) == {"u1", "u3"}
    assert set(cache.records["users"]) == {"u1", "u2"}  # the baseline is left as it was
    assert changes.deletes == {"users": {"u2"}} and set(changes.upserts["users"]) == {"u3"}
    assert patched.cursor == delta.cursor and not changes.full


def test_links_and_their_cursor() -> None:
    cache, changed = RosterCache.empty().with_links([link("a", 1, minute=5)], full=True)
    assert set(changed) == {"a"}
    assert cache.links_cursor == datetime(2026, 11, 1, 10, 4, 55, tzinfo=UTC)  # 5 s overlap
    again, changed = cache.with_links([link("a", 1, minute=5), link("b", 2, minute=9)], full=False)
    assert set(changed) == {"b"}  # the overlap re-reads "a": unchanged
    assert set(again.links) == {"a", "b"}


def test_the_cache_round_trips_through_the_store_format() -> None:
    full = RosterSnapshot(users=[user("u1")])
    full.cursor = datetime(2026, 11, 1, tzinfo=UTC)
    cache, changes = RosterCache.empty().with_roster(full)
    cache, _ = cache.with_links([link("u1", 7)], full=True)
    upserts, _ = cache.dumped(changes)
    data = RosterData(upserts, RosterCache.link_rows(cache.links.values()), cache.cursors())
    back = RosterCache.from_store(data)
    assert back.cursor == cache.cursor and back.links_cursor == cache.links_cursor
    assert back.links["u1"].vk_user_id == 7 and set(back.records["users"]) == {"u1"}
    assert RosterCache.from_store(RosterData({}, [], {})).is_empty
    rows = RosterCache.link_rows([link("u1", 7)])
    assert rows == [LinkRow("u1", 7, "linked", "2026-11-01T10:00:00+00:00")]


# --- progress -------------------------------------------------------------------------------


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_counts_and_estimates_the_time_left() -> None:
    clock = Clock()
    seen: list[Progress] = []
    tracker = ProgressTracker(seen.append, clock=clock, min_interval=0)
    ops = [AddSferumMember(KEY, f"p{i}", i, Reason.RULE, 1) for i in range(140)]
    tracker.phase(Phase.FETCH)
    tracker.start_apply(ops)
    assert tracker.eta() == pytest.approx(2.0)  # 140 changes at 70 a second
    clock.now = 2.0
    tracker.finished(ops[:70])  # half done in 2 s: twice as slow as the model
    assert tracker.eta() == pytest.approx(2.0)
    tracker.finished(ops[70:100], failed=True)
    last = seen[-1]
    assert (last.phase, last.done, last.failed, last.total) == (Phase.APPLY, 70, 30, 140)
    assert last.fraction == pytest.approx(100 / 140)
    tracker.finished(ops[100:])
    assert seen[-1].eta_s == 0.0


# --- reports and exit codes -----------------------------------------------------------------


def test_exit_codes() -> None:
    removal = RemoveRegistryMember(KEY, "p1", Reason.EXPELLED, 1)
    held = Plan((), (Hold(HoldScope.CHAT, KEY, 4, 5, 0.2, (removal,)),), ())
    assert exit_code(SyncReport(plan=Plan())) == 0
    assert exit_code(SyncReport(plan=held)) == 4
    assert exit_code(SyncReport(plan=held, confirm_held=True)) == 0
    assert exit_code(SyncReport(plan=Plan(), stop="sign_in")) == 3
    assert exit_code(SyncReport(plan=Plan(), stop="captcha")) == 5
    failed = FailedOperation(removal, "esh:http500", "Сервер ЭШ временно не работает.")
    assert exit_code(SyncReport(plan=Plan(), failed=[failed])) == 5
    assert exit_code(SyncReport(error=ServerError())) == 5
    assert exit_code(SyncReport(plan=Plan(), cancelled=True, not_applied=[removal])) == 5
    data = SyncReport(plan=held, failed=[failed]).as_json()
    assert data["failed"] == [
        {
            "op": "remove_registry_member",
            "op_id": "remove_registry_member:s/class/c1:p1",
            "chat": "s/class/c1",
            "chat_name": None,
            "code": "esh:http500",
            "error": "Сервер ЭШ временно не работает.",
            "person_id": "p1",
        }
    ]
    assert data["holds"][0]["removals"] == 4 and data["plan"]["held"] == 1
