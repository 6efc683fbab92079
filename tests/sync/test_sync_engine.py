"""`SyncEngine` in-process, as the GUI drives it: applying one chat, progress with the time
left, cancelling, the captcha hook; and the journal's promises — a chat whose creation was
cut short (by a crash or a lost answer) is found and adopted, never made twice; a registry
chat edited meanwhile (412) is read and planned again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Sandbox
from sync_support import (
    ARTEMOV,
    CLASS_2A,
    FROLOV_M,
    FROLOVA,
    LEONIDOV,
    PAVLOVA,
    SOKOLOV_O,
    VK,
    check_sferum_follows_registry,
    diff,
    fresh_sferum,
    read_state,
)

from sferum_desktop.api.errors import ConnectionLost
from sferum_desktop.api.esh import EshClient, VersionConflict
from sferum_desktop.api.esh_models import EshTokens, MembersRemoved
from sferum_desktop.api.retry import RetryPolicy
from sferum_desktop.api.sferum import CaptchaNeeded, MethodCall, Result, SferumClient
from sferum_desktop.domain import CreateSferumChat
from sferum_desktop.store import JournalState, NewJournalEntry, Store
from sferum_desktop.sync.engine import SyncEngine
from sferum_desktop.sync.progress import Phase, Progress

FAST = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2)


@dataclass
class Kit:
    sandbox: Sandbox
    tmp: Path
    esh: EshClient
    sferum: SferumClient
    store: Store

    def engine(self, **kw: Any) -> SyncEngine:
        return SyncEngine(self.esh, self.sferum, self.store, **kw)

    def esh_http(self) -> httpx.Client:
        token = self.sandbox.tokens("pavlova")["esh"]["access_token"]
        return httpx.Client(
            base_url=f"{self.sandbox.url}/esh/api/v1/sferum",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


def clients(
    sandbox: Sandbox,
    sferum_class: type[SferumClient] = SferumClient,
    esh_class: type[EshClient] = EshClient,
    **kw: Any,
) -> tuple[EshClient, SferumClient]:
    issued = sandbox.tokens("pavlova")
    tokens = EshTokens.issued(issued["esh"]["access_token"], issued["esh"]["refresh_token"], 900)
    esh = esh_class(sandbox.url, tokens=tokens, retry=FAST)
    sferum = sferum_class(f"{sandbox.url}/sferum", issued["vkid"]["access_token"], retry=FAST, **kw)
    return esh, sferum


@pytest.fixture
async def kit(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Kit]:
    esh, sferum = clients(sandbox)
    store = Store.open(tmp_path / "sync.sqlite3")
    yield Kit(sandbox, tmp_path, esh, sferum, store)
    store.close()
    await sferum.aclose()
    await esh.aclose()


async def run(engine: SyncEngine, call: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await call()
    finally:
        await engine.aclose()


async def test_saving_a_subject_chat_applies_it_at_once_the_seeds_worked_example(kit: Kit) -> None:
    """membership-rules.md: «1А - Русский язык» gets Павлова and the three students; the
    Sferum chat only Павлова (the students have not linked); Фролова links, and is added."""
    before = read_state(kit.sandbox)
    with kit.esh_http() as esh:
        made = esh.post("/chats", json={"type": "subject", "group_id": "cls-000004"}).json()
    engine = kit.engine(actor=f"user:{PAVLOVA}")
    report = await run(engine, lambda: engine.apply_chat(made["id"]))
    assert report.ok and report.failed == []
    after = read_state(kit.sandbox)
    assert after.registry["1А - Русский язык"] == {
        PAVLOVA: ("staff", "rule"),
        ARTEMOV: ("student", "rule"),
        LEONIDOV: ("student", "rule"),
        FROLOVA: ("student", "rule"),
    }
    assert after.sferum["1А - Русский язык"] == {VK[PAVLOVA]}
    assert {p.person_id for p in report.plan.pending} == {ARTEMOV, LEONIDOV, FROLOVA}
    # Nothing else was touched.
    changed = diff(before, after)
    assert set(changed["registry"]) == set(changed["sferum"]) == {"1А - Русский язык"}

    vk = kit.sandbox.dev("POST", "link", json={"person_id": FROLOVA})["vk_user_id"]
    engine = kit.engine(actor=f"user:{PAVLOVA}")
    report = await run(engine, lambda: engine.apply_chat(made["id"]))
    assert report.ok and [op.kind for op in report.applied] == ["add_sferum_member"]
    assert read_state(kit.sandbox).sferum["1А - Русский язык"] == {VK[PAVLOVA], vk}
    audit = kit.store.audit(chat_key="org-001/subject/cls-000004")
    assert {a.action for a in audit} >= {"create_sferum_chat", "add_registry_member"}
    assert all(a.actor == f"user:{PAVLOVA}" for a in audit)


async def test_progress_eta_and_a_cancel_that_leaves_nothing_half_done(kit: Kit) -> None:
    fresh_sferum(kit.sandbox)
    seen: list[Progress] = []
    engine: SyncEngine

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.phase is Phase.APPLY and progress.done >= 60:
            engine.cancel()

    engine = kit.engine(on_progress=on_progress)
    report = await run(engine, engine.sync)
    assert report.cancelled and report.not_applied and not report.ok
    phases = [p.phase for p in seen]
    assert phases[0] is Phase.FETCH and Phase.PLAN in phases and phases[-1] is Phase.DONE
    applying = [p for p in seen if p.phase is Phase.APPLY]
    assert applying and all(p.total == len(report.plan.operations) for p in applying)
    assert [p.done for p in applying] == sorted(p.done for p in applying)
    assert any(p.eta_s is not None and p.eta_s > 0 for p in applying)
    assert not kit.store.journal_open()
    assert {e.error_code for e in kit.store.journal(states=[JournalState.FAILED])} == {"cancelled"}
    state = read_state(kit.sandbox)
    # Every Sferum chat made is named by its registry chat.
    made = {c["chat_id"] for c in state.raw["sferum"] if not c["deleted"]}
    assert made == {c["sferum_chat_id"] for c in state.raw["registry"] if c["sferum_chat_id"]}

    engine = kit.engine()
    report = await run(engine, engine.sync)
    assert report.ok, report.as_json()
    check_sferum_follows_registry(read_state(kit.sandbox))


async def test_a_captcha_goes_to_the_hook_and_the_sync_goes_on(kit: Kit) -> None:
    fresh_sferum(kit.sandbox)
    kit.sandbox.faults(captcha_rate=0.5, seed=3)
    asked: list[str] = []

    async def hook(captcha: CaptchaNeeded) -> str:
        asked.append(captcha.captcha_sid)
        key: str = kit.sandbox.dev("GET", "captcha", params={"sid": captcha.captcha_sid})["key"]
        return key

    engine = kit.engine(captcha_hook=hook)
    report = await run(engine, engine.sync)
    assert report.ok, report.as_json()
    assert asked
    assert kit.sferum.captcha_handler is None  # the hook was the run's only
    kit.sandbox.clear_faults()
    check_sferum_follows_registry(read_state(kit.sandbox))


async def test_a_creation_cut_short_by_a_crash_is_adopted_not_repeated(kit: Kit) -> None:
    """The journal shows createChat `sent` with no answer (the process died): whether the
    chat was made is found out by its title; with an id journaled, only the registry's PUT
    is left to do; a creation that never landed is made once."""
    fresh_sferum(kit.sandbox)
    engine = kit.engine()
    preview = await run(engine, engine.preview)
    creates = {op.title: op for op in preview.plan.operations if isinstance(op, CreateSferumChat)}
    # A crashed run: three creations sent; «2 А» landed (no id journaled), «3 А» landed
    # and its id was journaled, «1 А» did not land.
    crashed = kit.store.start_run("sync", "sync")
    ops = [creates["2 А"], creates["3 А"], creates["1 А"]]
    ids = kit.store.journal_add(
        crashed, [NewJournalEntry(o.op_id, o.kind, str(o.chat_key), o.as_dict()) for o in ops]
    )
    kit.store.journal_mark_sent(ids)
    landed_2a = await kit.sferum.create_chat("2 А")
    landed_3a = await kit.sferum.create_chat("3 А")
    registry = {c["name"]: c["id"] for c in kit.sandbox.dev("GET", "state")["registry"]}
    kit.store.journal_set_result(ids[1], {"sferum_chat_id": landed_3a, "chat_id": registry["3 А"]})

    engine = kit.engine()
    report = await run(engine, engine.sync)
    assert report.ok, report.as_json()
    assert sorted(op.title for op in report.resumed if isinstance(op, CreateSferumChat)) == [
        "2 А",
        "3 А",
    ]
    state = read_state(kit.sandbox)  # one Sferum chat per title
    assert state.sferum_ids["2 А"] == landed_2a and state.sferum_ids["3 А"] == landed_3a
    check_sferum_follows_registry(state)
    entries = {e.id: e for e in kit.store.journal(run_id=crashed)}
    assert entries[ids[0]].state is JournalState.DONE
    assert entries[ids[0]].result == {"sferum_chat_id": landed_2a}
    assert entries[ids[1]].state is JournalState.DONE
    assert entries[ids[2]].state is JournalState.FAILED
    assert entries[ids[2]].error_code == "not_created"
    adopted = kit.store.audit(actions=["create_sferum_chat"], chat_key=str(creates["2 А"].chat_key))
    assert adopted and adopted[0].details == {"resumed": True, "adopted": True}


class LosingSferum(SferumClient):
    """A client whose first `execute` of createChat calls loses its answer after the server
    carried it out (a connection cut on the way back)."""

    lost = 0

    async def batch(self, calls: Iterable[MethodCall], *, concurrency: int = 1) -> list[Result]:
        calls = list(calls)
        results = await super().batch(calls, concurrency=concurrency)
        if not self.lost and any(c.method == "messages.createChat" for c in calls):
            self.lost += 1
            error = ConnectionLost(maybe_processed=True, reason="test: answer lost")
            return [Result(c, error=error) for c in calls]
        return results


async def test_a_lost_create_answer_is_recovered_by_title_not_by_creating_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    fresh_sferum(sandbox)
    esh, sferum = clients(sandbox, sferum_class=LosingSferum)
    store = Store.open(tmp_path / "sync.sqlite3")
    try:
        engine = SyncEngine(esh, sferum, store)
        report = await run(engine, engine.sync)
        assert report.ok, report.as_json()
        assert isinstance(sferum, LosingSferum) and sferum.lost == 1
        state = read_state(sandbox)  # asserts one Sferum chat per title
        assert len(state.sferum) == 34
        check_sferum_follows_registry(state)
        adopted = [a for a in store.audit(actions=["create_sferum_chat"]) if a.details]
        assert len(adopted) == 25  # the whole lost batch, found by title
    finally:
        store.close()
        await sferum.aclose()
        await esh.aclose()


class BusyEsh(EshClient):
    """An ESh client; before its first member removal someone else edits the same chat."""

    meddle: Callable[[int], None] | None = None
    conflicts = 0

    async def remove_members(
        self, chat_id: int, person_ids: Any, exclude: bool = False, version: int | None = None
    ) -> MembersRemoved:
        meddle, BusyEsh.meddle = BusyEsh.meddle, None
        if meddle is not None:
            meddle(chat_id)
        try:
            return await super().remove_members(chat_id, person_ids, exclude, version)
        except VersionConflict:
            BusyEsh.conflicts += 1
            raise


async def test_a_chat_edited_meanwhile_is_read_and_planned_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.dev(
        "POST", "roster", json={"op": "transfer", "student_id": FROLOV_M, "class_id": CLASS_2A}
    )
    chat_3a = next(c["id"] for c in sandbox.dev("GET", "state")["registry"] if c["name"] == "3 А")

    def meddle(chat_id: int) -> None:
        assert chat_id == chat_3a
        with httpx.Client(base_url=f"{sandbox.url}/esh/api/v1/sferum", timeout=30) as other:
            admin = sandbox.tokens("pavlova")["esh"]["access_token"]
            answer = other.post(
                f"/chats/{chat_id}/members",
                json={"person_ids": [SOKOLOV_O], "role_in_chat": "parent", "source": "manual"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            answer.raise_for_status()

    BusyEsh.meddle = meddle
    esh, sferum = clients(sandbox, esh_class=BusyEsh)
    store = Store.open(tmp_path / "sync.sqlite3")
    try:
        engine = SyncEngine(esh, sferum, store)
        report = await run(engine, engine.sync)
        assert report.ok, report.as_json()
    finally:
        store.close()
        await sferum.aclose()
        await esh.aclose()
    assert BusyEsh.conflicts == 1
    state = read_state(sandbox)
    assert FROLOV_M not in state.registry["3 А"]  # removed after the 412, with the new version
    assert state.registry["3 А"][SOKOLOV_O] == ("parent", "manual")  # the other edit stays
    assert state.registry["2 А"][FROLOV_M] == ("student", "rule")
