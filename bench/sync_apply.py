"""Benchmark: the sync's apply against the sandbox (issue 6, item 8), and its reliability
figures (item 9).

Starts `sferum-desktop sandbox --dataset school` and measures, with `SyncEngine` in-process
(journal, audit log, retries and all) and the `school` dataset's admin:

1. **the first sync** of the school (73 automatic chats, registry and Sferum members: ~4 100
   operations), for the record;
2. **the baseline**: `--baseline-ops` (~60) Sferum member changes applied one call per
   operation (`batch_size=1`), after linking that many pending people;
3. **the apply**: ~`--ops` (2 000) Sferum member changes — the rest of the pending people link
   (additions) and linked students unlink (removals, a mass removal applied with
   `confirm_held`) — through `execute`, 25 calls a request at the API's 3 requests/s;

and prints operations/s of both against the bound of 75 (25 × 3), the ratio to the bound and
to the baseline, error 6 answers met, requests sent. `--runs` repeats 2–3 (median shown).

Then the reliability figures, with the real CLI as a subprocess:

- the first sync of the school under faults (10 % server errors, 5 % cut connections, latency
  20 + 0–30 ms, an ESh rate limit of 20/s): operations, duplicate chats, missing and wrongful
  memberships (against the rules computed from the roster), removals made, run time;
- 10 runs of a demo school whose 34 Sferum chats are all to be made, each killed with SIGKILL
  (half aimed at a `createChat` in flight, half at a random moment), then rerun: how many
  reruns converged (same state as an uninterrupted run), duplicate Sferum chats, journal
  entries left open.

Prints figures; asserts nothing.

    .venv/bin/python bench/sync_apply.py [--ops 2000] [--baseline-ops 60] [--runs 3]
        [--skip-reliability] [--kills 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sandbox_process import sandbox  # bench/ is on sys.path when run as a script

from sferum_desktop.api.esh import EshClient
from sferum_desktop.api.esh_models import EshTokens
from sferum_desktop.api.sferum import SferumClient
from sferum_desktop.domain import (
    AddSferumMember,
    RegistryState,
    RemoveSferumMember,
    desired_registry,
)
from sferum_desktop.store import Store
from sferum_desktop.sync.engine import SyncEngine
from sferum_desktop.sync.progress import Phase, Progress
from sferum_desktop.sync.snapshot import snapshot_from_roster

RPS = 3
BOUND = 25 * RPS  # operations/s the API allows through execute


# --- the sandbox ------------------------------------------------------------------------------


class Dev:
    """The sandbox's control surface."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=300)

    def __call__(self, method: str, path: str, **kw: Any) -> Any:
        answer = self.http.request(method, f"/sandbox/dev/{path}", **kw)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def reset(self, dataset: str) -> None:
        self("POST", "reset", json={"dataset": dataset, "seed": 1})

    def tokens(self, user: str) -> dict[str, Any]:
        found: dict[str, Any] = self("POST", "tokens", json={"username": user})
        return found


def clients(dev: Dev, user: str) -> tuple[EshClient, SferumClient]:
    issued = dev.tokens(user)
    tokens = EshTokens.issued(issued["esh"]["access_token"], issued["esh"]["refresh_token"], 900)
    esh = EshClient(dev.url, tokens=tokens)
    sferum = SferumClient(f"{dev.url}/sferum", issued["vkid"]["access_token"])
    return esh, sferum


# --- throughput -------------------------------------------------------------------------------


@dataclass
class Applied:
    ops: int
    sferum_ops: int
    seconds: float
    requests: int
    rate_limited: int

    @property
    def per_second(self) -> float:
        return self.sferum_ops / self.seconds if self.seconds else 0.0


async def apply_once(
    dev: Dev, store: Store, *, batch_size: int = 25, workers: int = 2, confirm: bool = False
) -> Applied:
    """One sync through the engine; the apply phase timed from its progress reports."""
    esh, sferum = clients(dev, "admin")
    marks: dict[str, float] = {}

    def on_progress(progress: Progress) -> None:
        if progress.phase is Phase.APPLY:
            marks.setdefault("start", time.perf_counter())
            if progress.done + progress.failed >= progress.total:
                marks["end"] = time.perf_counter()

    engine = SyncEngine(
        esh,
        sferum,
        store,
        on_progress=on_progress,
        batch_size=batch_size,
        sferum_workers=workers,
    )
    try:
        report = await engine.sync(confirm_held=confirm)
    finally:
        await engine.aclose()
        await sferum.aclose()
        await esh.aclose()
    if not report.ok:
        raise SystemExit(f"the sync did not finish: {report.as_json()}")
    assert report.plan is not None
    sferum_ops = sum(
        1 for op in report.plan.operations if isinstance(op, AddSferumMember | RemoveSferumMember)
    )
    return Applied(
        len(report.plan.operations),
        sferum_ops,
        marks.get("end", 0.0) - marks.get("start", 0.0),
        sferum.stats.requests,
        sferum.stats.rate_limited,
    )


def people_to_change(
    dev: Dev, target: int, baseline: int
) -> tuple[list[str], list[str], list[str]]:
    """Pending people to link for the baseline, and pending to link plus linked students and
    parents to unlink for the measured apply, so that it makes about `target` Sferum changes."""
    state = dev("GET", "state")
    linked = {x["person_id"] for x in state["links"] if x["status"] == "linked"}
    memberships: Counter[str] = Counter()
    roles: dict[str, str] = {}
    for chat in state["registry"]:
        for member in chat["members"]:
            if not member["excluded"]:
                memberships[member["person_id"]] += 1
                roles[member["person_id"]] = member["role_in_chat"]
    pending = sorted(p for p in memberships if p not in linked)
    leavers = sorted(
        (p for p in memberships if p in linked and roles[p] in ("student", "parent")),
        key=lambda p: (roles[p] != "student", p),
    )
    first, rest = [], []
    count = 0
    for person in pending:
        if count < baseline:
            first.append(person)
            count += memberships[person]
        else:
            rest.append(person)
    total = sum(memberships[p] for p in rest)
    leaving = []
    for person in leavers:
        if total >= target:
            break
        leaving.append(person)
        total += memberships[person]
    return first, rest, leaving


async def throughput_run(dev: Dev, folder: Path, ops: int, baseline_ops: int) -> dict[str, Any]:
    dev.reset("school")
    with Store.open(folder / "bench.sqlite3") as store:
        started = time.perf_counter()
        first = await apply_once(dev, store)
        first_s = time.perf_counter() - started
        link_first, link_rest, unlink = people_to_change(dev, ops, baseline_ops)
        for person in link_first:
            dev("POST", "link", json={"person_id": person})
        base = await apply_once(dev, store, batch_size=1, workers=1)
        for person in link_rest:
            dev("POST", "link", json={"person_id": person})
        for person in unlink:
            dev("POST", "unlink", json={"person_id": person})
        main = await apply_once(dev, store, confirm=True)
    return {"first": first, "first_s": first_s, "baseline": base, "main": main}


# --- reliability ------------------------------------------------------------------------------


def cli_env(dev: Dev, home: Path, user: str) -> dict[str, str]:
    issued = dev.tokens(user)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_DESKTOP_")}
    env.update(
        {
            "SFERUM_DESKTOP_ESH_URL": dev.url,
            "SFERUM_DESKTOP_VKID_URL": f"{dev.url}/vkid",
            "SFERUM_DESKTOP_SFERUM_URL": f"{dev.url}/sferum",
            "SFERUM_DESKTOP_ESH_TOKEN": issued["esh"]["access_token"],
            "SFERUM_DESKTOP_SFERUM_TOKEN": issued["vkid"]["access_token"],
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
    )
    return env


SYNC = [sys.executable, "-m", "sferum_desktop", "sync", "--json"]


def run_cli(dev: Dev, home: Path, user: str) -> tuple[int, str]:
    done = subprocess.run(  # noqa: S603
        SYNC, env=cli_env(dev, home, user), capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout


def sferum_check(state: dict[str, Any], blocked: set[str]) -> tuple[int, int, int]:
    """Duplicate Sferum chats, missing and extra Sferum memberships (the rules' Sferum side,
    computed from the registry and the links)."""
    chats = [c for c in state["sferum"] if not c["deleted"]]
    titles = Counter((c["org_id"], c["title"]) for c in chats)
    duplicates = sum(n - 1 for n in titles.values())
    links = {x["person_id"]: x["vk_user_id"] for x in state["links"] if x["status"] == "linked"}
    by_id = {c["chat_id"]: c for c in chats}
    missing = extra = 0
    for chat in state["registry"]:
        sferum = by_id.get(chat["sferum_chat_id"])
        if sferum is None:
            missing += 1
            continue
        wanted = {
            links[m["person_id"]]
            for m in chat["members"]
            if not m["excluded"] and m["person_id"] in links and m["person_id"] not in blocked
        } | {sferum["admin_id"]}
        missing += len(wanted - set(sferum["member_ids"]))
        extra += len(set(sferum["member_ids"]) - wanted)
    return duplicates, missing, extra


def desired(dev: Dev) -> tuple[dict[tuple[str, str], set[str]], set[str]]:
    async def read() -> tuple[dict[tuple[str, str], set[str]], set[str]]:
        esh, sferum = clients(dev, "admin")
        await sferum.aclose()
        async with esh:
            roster = await esh.fetch_roster()
            links = [x async for x in esh.list_links()]
        snapshot = snapshot_from_roster(roster, links)
        wanted = {
            (d.chat.school_id, d.chat.name): set(d.members)
            for d in desired_registry(snapshot, RegistryState()).values()
        }
        return wanted, {p.id for p in snapshot.people.values() if p.blocked}

    return asyncio.run(read())


def faults_run(dev: Dev, folder: Path) -> dict[str, Any]:
    dev.reset("school")
    wanted, blocked = desired(dev)
    dev(
        "PUT",
        "faults",
        json={
            "error_rate": 0.1,
            "disconnect_rate": 0.05,
            "latency_ms": 20,
            "jitter_ms": 30,
            "rate_limit_rps": 20,
            "seed": 11,
        },
    )
    started = time.perf_counter()
    code, out = run_cli(dev, folder / "faults", "admin")
    seconds = time.perf_counter() - started
    import json

    report = json.loads(out.splitlines()[-1]) if out.strip() else {}
    dev("PUT", "faults", json={})
    state = dev("GET", "state")
    registry: dict[tuple[str, str], set[str]] = {}
    duplicate_registry = 0
    for chat in state["registry"]:
        key = (chat["school_id"], chat["name"])
        duplicate_registry += key in registry
        registry[key] = {m["person_id"] for m in chat["members"] if not m["excluded"]}
    missing_registry = sum(len(w - registry.get(k, set())) for k, w in wanted.items())
    extra_registry = sum(len(registry.get(k, set()) - w) for k, w in wanted.items())
    dup_sferum, missing_sferum, extra_sferum = sferum_check(state, blocked)
    store = next((folder / "faults" / "data").rglob("*.sqlite3"))
    with Store.open(store) as opened:
        removals = sum(1 for a in opened.audit() if a.action.startswith("remove"))
    plan = report.get("plan", {})
    return {
        "code": code,
        "ops": plan.get("create_chats", 0) + plan.get("add", 0) + plan.get("remove", 0),
        "seconds": seconds,
        "failed": len(report.get("failed", [])),
        "duplicates": duplicate_registry + dup_sferum,
        "missing": missing_registry + missing_sferum,
        "wrongful": extra_registry + extra_sferum + removals,
    }


def fresh_sferum(dev: Dev) -> None:
    """The demo with its Sferum chats gone and a subject chat per group (34 to make)."""
    tokens = dev.tokens("pavlova")
    state = dev("GET", "state")
    headers = {"Authorization": f"Bearer {tokens['esh']['access_token']}"}
    with httpx.Client(base_url=dev.url, headers=headers, timeout=60) as http:
        calls = ",".join(
            f'API.messages.deleteChat({{"chat_id": {c["chat_id"]}}})' for c in state["sferum"]
        )
        http.post(
            "/sferum/method/execute",
            data={"code": f"return [{calls}];", "v": "5.199"},
            headers={"Authorization": f"Bearer {tokens['vkid']['access_token']}"},
        ).raise_for_status()
        for chat in state["registry"]:
            http.put(
                f"/esh/api/v1/sferum/chats/{chat['id']}/sferum", json={"sferum_chat_id": None}
            ).raise_for_status()
        for n in range(4, 31):
            http.post(
                "/esh/api/v1/sferum/chats", json={"type": "subject", "group_id": f"cls-{n:06d}"}
            ).raise_for_status()


def memberships(dev: Dev) -> tuple[dict[str, set[str]], dict[str, set[int]], int]:
    state = dev("GET", "state")
    registry = {
        c["name"]: {m["person_id"] for m in c["members"] if not m["excluded"]}
        for c in state["registry"]
    }
    chats = [c for c in state["sferum"] if not c["deleted"]]
    sferum = {c["title"]: set(c["member_ids"]) for c in chats}
    return registry, sferum, len(chats) - len(sferum)


def _in_flight(home: Path) -> bool:
    found = list((home / "data").rglob("*.sqlite3"))
    if not found:
        return False
    try:
        uri = f"file:{found[0]}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1)) as db:
            row = db.execute(
                "SELECT count(*) FROM journal WHERE kind='create_sferum_chat' AND state='sent'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


def kill_runs(dev: Dev, folder: Path, kills: int) -> dict[str, Any]:
    dev.reset("demo")
    fresh_sferum(dev)
    run_cli(dev, folder / "reference", "pavlova")
    reference = memberships(dev)
    rng = random.Random(2026)
    converged = duplicates = left_open = creates_open = 0
    for trial in range(kills):
        dev.reset("demo")
        fresh_sferum(dev)
        home = folder / f"kill{trial}"
        process = subprocess.Popen(  # noqa: S603
            SYNC,
            env=cli_env(dev, home, "pavlova"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if trial % 2 == 0:
            started = time.monotonic()
            while process.poll() is None and not _in_flight(home):
                if time.monotonic() - started > 30:
                    break
                time.sleep(0.003)
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            time.sleep(rng.uniform(0.5, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        store = next((home / "data").rglob("*.sqlite3"), None)
        if store is not None:
            with Store.open(store) as opened:
                open_entries = opened.journal_open()
            left_open += bool(open_entries)
            creates_open += any(e.kind == "create_sferum_chat" for e in open_entries)
        code, _ = run_cli(dev, home, "pavlova")
        registry, sferum, dups = memberships(dev)
        duplicates += dups
        converged += code == 0 and (registry, sferum) == reference[:2] and dups == 0
    return {
        "runs": kills,
        "converged": converged,
        "duplicates": duplicates,
        "killed_with_work_open": left_open,
        "killed_with_a_create_open": creates_open,
    }


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--baseline-ops", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--skip-reliability", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with sandbox(folder / "sandbox", "school") as url:
            dev = Dev(url)
            runs = []
            for n in range(args.runs):
                run_folder = folder / f"run{n}"
                run_folder.mkdir()
                figures = asyncio.run(throughput_run(dev, run_folder, args.ops, args.baseline_ops))
                runs.append(figures)
                first, base, main_ = figures["first"], figures["baseline"], figures["main"]
                print(
                    f"run {n + 1}: first sync {first.ops} ops in {figures['first_s']:.1f} s; "
                    f"baseline {base.sferum_ops} ops in {base.seconds:.1f} s = "
                    f"{base.per_second:.2f} ops/s; batched {main_.sferum_ops} ops in "
                    f"{main_.seconds:.1f} s = {main_.per_second:.1f} ops/s "
                    f"({main_.per_second / BOUND:.1%} of {BOUND}; "
                    f"{main_.per_second / base.per_second:.1f}x the baseline); requests "
                    f"{main_.requests}, error 6: {main_.rate_limited + base.rate_limited}",
                    flush=True,
                )
            batched = statistics.median(r["main"].per_second for r in runs)
            baseline = statistics.median(r["baseline"].per_second for r in runs)
            print(
                f"median of {len(runs)}: batched {batched:.1f} ops/s = {batched / BOUND:.1%} of "
                f"the bound {BOUND}; baseline {baseline:.2f} ops/s; ratio {batched / baseline:.1f}x"
            )
            if args.skip_reliability:
                return
            faults = faults_run(dev, folder)
            print(
                f"faults: exit {faults['code']}, {faults['ops']} ops in {faults['seconds']:.1f} s,"
                f" failed {faults['failed']}, duplicates {faults['duplicates']}, missing "
                f"{faults['missing']}, wrongful removals/extra {faults['wrongful']}",
                flush=True,
            )
            kills = kill_runs(dev, folder, args.kills)
            print(
                f"SIGKILL: {kills['converged']}/{kills['runs']} reruns converged, duplicates "
                f"{kills['duplicates']}; killed with journal entries open "
                f"{kills['killed_with_work_open']}, with a createChat open "
                f"{kills['killed_with_a_create_open']}"
            )


if __name__ == "__main__":
    main()
