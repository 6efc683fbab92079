"""Reliability (issue 6, item 9), against the real sandbox and the real CLI:

- with faults on (10 % server errors, 5 % cut connections, latency, a rate limit), the first
  sync of the `school` dataset — 4 144 operations: 73 registry chats and their Sferum chats,
  2 654 registry and 1 344 Sferum memberships — converges to the desired state: no duplicate
  chat, none missing, no wrongful removal;
- the sync killed with SIGKILL at random points, in 10 runs, converges on rerun every time,
  without a duplicate Sferum chat (half of the kills aimed at a `createChat` in flight);
- SIGTERM during an apply stops cleanly: the batch in flight journaled, nothing left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import Sandbox
from sync_support import (
    Cli,
    State,
    check_sferum_follows_registry,
    fresh_sferum,
    read_state,
)

from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.esh_models import EshTokens
from sferum_desktop.domain import RegistryState, desired_registry
from sferum_desktop.store import Store
from sferum_desktop.sync.snapshot import snapshot_from_roster

pytestmark = pytest.mark.slow

FAULTS = {
    "error_rate": 0.1,
    "disconnect_rate": 0.05,
    "latency_ms": 20,
    "jitter_ms": 30,
    "rate_limit_rps": 20,
    "seed": 11,
}


def desired_school(sandbox: Sandbox, user: str) -> tuple[dict[str, dict[str, str]], set[str]]:
    """What the rules want the registry to be (chat name -> person -> tab), from the roster,
    and who is blocked in ESh."""

    async def read() -> tuple[dict[str, dict[str, str]], set[str]]:
        issued = sandbox.tokens(user)["esh"]
        tokens = EshTokens.issued(issued["access_token"], issued["refresh_token"], 900)
        async with EshClient(sandbox.url, tokens=tokens) as esh:
            roster = await esh.fetch_roster()
            links = [link async for link in esh.list_links()]
        snapshot = snapshot_from_roster(roster, links)
        wanted = {
            d.chat.name: {p: role.value for p, role in d.members.items()}
            for d in desired_registry(snapshot, RegistryState()).values()
        }
        return wanted, {p.id for p in snapshot.people.values() if p.blocked}

    return asyncio.run(read())


def test_a_4000_operation_sync_under_faults_converges(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.reset("school", 1)
    wanted, blocked = desired_school(sandbox, "admin")
    assert blocked  # the dataset has blocked people: they must stay out of Sferum
    sandbox.faults(**FAULTS)
    cli = Cli(sandbox, tmp_path / "home", user="admin")
    run = cli.run("--json", timeout=300)
    assert run.code == 0, run.stdout + run.stderr[-3000:]
    report = run.report
    total = sum(report["plan"][k] for k in ("create_chats", "add", "remove"))
    assert total >= 2000 and report["plan"]["remove"] == 0
    assert report["applied"] == {k: report["plan"][k] for k in ("create_chats", "add", "remove")}
    assert report["failed"] == []

    again = cli.run("--json", timeout=300)  # faults still on: nothing left to do
    assert again.code == 0, again.stderr[-3000:]
    assert again.report["applied"] == {"create_chats": 0, "add": 0, "remove": 0}

    sandbox.clear_faults()
    state = read_state(sandbox)  # (asserts one registry chat per name, one Sferum chat per title)
    assert len(state.registry) == len(wanted) == 73
    missing = {n: set(w) - set(state.registry[n]) for n, w in wanted.items()}
    extra = {n: set(state.registry[n]) - set(w) for n, w in wanted.items()}
    assert not any(missing.values()) and not any(extra.values())
    assert {n: {p: r for p, (r, _) in m.items()} for n, m in state.registry.items()} == wanted
    check_sferum_follows_registry(state, blocked)
    with Store.open(cli.store_path()) as store:
        actions = Counter(a.action for a in store.audit())
    assert not actions["remove_registry_member"] and not actions["remove_sferum_member"]
    assert actions["create_sferum_chat"] == 73


def _store_file(home: Path) -> Path | None:
    found = list((home / "data" / "sferum-desktop" / "sync").glob("*.sqlite3"))
    return found[0] if found else None


def _create_in_flight(home: Path) -> bool:
    path = _store_file(home)
    if path is None:
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            row = db.execute(
                "SELECT count(*) FROM journal WHERE kind = 'create_sferum_chat' AND state = 'sent'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


def _same(reference: State, state: State) -> None:
    assert state.registry == reference.registry
    assert state.sferum == reference.sferum


def test_sigkill_at_random_points_converges_on_rerun(sandbox: Sandbox, tmp_path: Path) -> None:
    fresh_sferum(sandbox)
    first = Cli(sandbox, tmp_path / "reference")
    assert first.run("--json").code == 0
    reference = read_state(sandbox)
    check_sferum_follows_registry(reference)

    rng = random.Random(2026)
    open_at_kill: list[int] = []
    for trial in range(10):
        sandbox.reset("demo", 1)
        chats = fresh_sferum(sandbox)
        cli = Cli(sandbox, tmp_path / f"trial{trial}")
        process = cli.popen("--json")
        try:
            started = time.monotonic()
            if trial % 2 == 0:
                # Aim at a createChat in flight (or its answer being journaled).
                while process.poll() is None and not _create_in_flight(cli.home):
                    assert time.monotonic() - started < 30
                    time.sleep(0.003)
                time.sleep(rng.uniform(0.0, 0.15))
            else:
                time.sleep(rng.uniform(0.5, 3.0))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        path = _store_file(cli.home)
        if path is not None:
            with Store.open(path) as store:
                open_at_kill.append(len(store.journal_open()))
        rerun = cli.run("--json")
        assert rerun.code == 0, (trial, rerun.stdout, rerun.stderr[-3000:])
        state = read_state(sandbox)  # one Sferum chat per title: no duplicates
        assert len(state.sferum) == chats
        _same(reference, state)
        check_sferum_follows_registry(state)
        with Store.open(cli.store_path()) as store:
            assert not store.journal_open()
    assert sum(1 for n in open_at_kill if n) >= 5  # most kills left work in the journal


def test_sigterm_during_an_apply_finishes_the_batch_and_leaves_nothing_open(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    fresh_sferum(sandbox)
    cli = Cli(sandbox, tmp_path / "home")
    process = cli.popen("--json")
    try:
        started = time.monotonic()
        while process.poll() is None and not _create_in_flight(cli.home):
            assert time.monotonic() - started < 30
            time.sleep(0.003)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        assert process.stdout is not None
        out = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert code == 5  # a single run cut short: a rerun does the rest
    assert '"cancelled":true' in out
    state = read_state(sandbox)
    # Every Sferum chat made was written to the registry before the process ended.
    made = {c["chat_id"] for c in state.raw["sferum"] if not c["deleted"]}
    named = {c["sferum_chat_id"] for c in state.raw["registry"] if c["sferum_chat_id"]}
    assert made == named
    with Store.open(cli.store_path()) as store:
        assert not store.journal_open()
    rerun = cli.run("--json")
    assert rerun.code == 0, rerun.stderr
    check_sferum_follows_registry(read_state(sandbox))
