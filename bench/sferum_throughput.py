"""Benchmark: Sferum member changes through `execute` batching vs one call per operation.

Starts `sferum-desktop sandbox --dataset school` (or uses `--url` of a running one), takes a
VK ID token of the dataset's admin from `/sandbox/dev/tokens`, creates chats and performs
`--ops` real `messages.addChatUser` operations (2 000 by default: people of the admin's
school, each added once per chat; as many chats as the school's linked people require)
through `SferumClient.batch` — 25 operations per `execute`, 3 requests per second per token.
Then, in the same run and with a fresh token, the baseline: `--baseline-ops` (60) adds, one
API call each, through the same client.

Prints operations/s of both, their ratio, and the batch figure against the bound of the rules
(25 operations × 3 requests/s = 75 operations/s); plus error 6 answers met and the limiter's
pacing. Prints figures; asserts nothing.

    .venv/bin/python bench/sferum_throughput.py [--url URL] [--dataset school|demo]
        [--ops 2000] [--baseline-ops 60] [--runs 3] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from sandbox_process import sandbox  # bench/ is on sys.path when run as a script

from sferum_desktop.api.sferum import MAX_EXECUTE_CALLS, MethodCall, SferumClient

RPS = 3  # Sferum's limit per token
BOUND = MAX_EXECUTE_CALLS * RPS  # 75 operations/s


@dataclass
class Figures:
    """One run's measurements."""

    batch_ops: int
    batch_s: float
    batch_requests: int
    batch_errors: Counter[str]
    baseline_ops: int
    baseline_s: float
    rate_limited: int
    penalties: int

    @property
    def batch_rate(self) -> float:
        return self.batch_ops / self.batch_s

    @property
    def baseline_rate(self) -> float:
        return self.baseline_ops / self.baseline_s


def admin_token(dev: httpx.Client) -> tuple[str, int]:
    """A fresh VK ID access token of the dataset's admin, and their VK user id."""
    accounts = {a["role"]: a for a in dev.get("/sandbox/dev/accounts").raise_for_status().json()}
    answer = dev.post("/sandbox/dev/tokens", json={"username": accounts["admin"]["username"]})
    vkid = answer.raise_for_status().json()["vkid"]
    if vkid is None:
        raise SystemExit("the dataset's admin has no VK ID educational profile")
    return str(vkid["access_token"]), int(vkid["user_id"])


async def school_people(vk: SferumClient, dev: httpx.Client, me: int, wanted: int) -> list[int]:
    """VK ids of linked people of the admin's school (people are linked when too few)."""
    state = dev.get("/sandbox/dev/state").raise_for_status().json()
    linked = [link["vk_user_id"] for link in state["links"] if link["status"] == "linked"]
    (profile,) = await vk.users_get()
    assert profile.edu_profile is not None
    org = profile.edu_profile.organizations[0].id
    people: list[int] = []
    for start in range(0, len(linked), 1000):
        for user in await vk.users_get(linked[start : start + 1000]):
            if user.id != me and user.edu_profile and user.edu_profile.in_organization(org):
                people.append(user.id)
    if len(people) < wanted:
        # A small dataset (demo): link the rest of the registry's people, if any.
        linked_people = {link["person_id"] for link in state["links"]}
        persons = {m["person_id"] for chat in state["registry"] for m in chat["members"]}
        for person_id in sorted(persons - linked_people):
            answer = dev.post("/sandbox/dev/link", json={"person_id": person_id}).json()
            if answer.get("vk_user_id"):
                people.append(int(answer["vk_user_id"]))
    return sorted(set(people))


async def one_run(url: str, ops: int, baseline_ops: int, concurrency: int, run: int) -> Figures:
    """Batch `ops` adds, then the one-call-per-operation baseline of `baseline_ops` adds."""
    with httpx.Client(base_url=url, timeout=120) as dev:
        token, me = admin_token(dev)
        baseline_token, _ = admin_token(dev)
        async with SferumClient(f"{url}/sferum", token) as vk:
            people = await school_people(vk, dev, me, min(ops, 1999))
            if not people:
                raise SystemExit("no linked people in the admin's school")
            per_chat = min(len(people), 1999)  # a chat holds at most 2 000 members
            chats = [
                await vk.create_chat(f"Бенчмарк {run}.{n}")
                for n in range(math.ceil(ops / per_chat))
            ]
            calls = [
                MethodCall.add_chat_user(chats[n // per_chat], people[n % per_chat])
                for n in range(ops)
            ]
            await asyncio.sleep(1.1)  # start the measurement on an empty rate window
            before = vk.stats.requests
            started = time.perf_counter()
            results = await vk.batch(calls, concurrency=concurrency)
            batch_s = time.perf_counter() - started
            batch_requests = vk.stats.requests - before
            errors = Counter(type(r.error).__name__ for r in results if r.error is not None)
            rate_limited = vk.stats.rate_limited
            penalties = vk.limiter.for_token(token).stats.penalties
            baseline_chat = await vk.create_chat(f"Бенчмарк {run} (по одному)")

        async with SferumClient(f"{url}/sferum", baseline_token) as one:
            subset = people[:baseline_ops] or people
            started = time.perf_counter()
            for n in range(baseline_ops):
                await one.add_chat_user(baseline_chat, subset[n % len(subset)])
            baseline_s = time.perf_counter() - started
            rate_limited += one.stats.rate_limited

        state = dev.get("/sandbox/dev/state").raise_for_status().json()
        sizes = {c["chat_id"]: len(c["member_ids"]) for c in state["sferum"]}
        added = sum(sizes[c] - 1 for c in chats)
        if added != ops - sum(errors.values()):
            print(f"  warning: the chats gained {added} members for {ops} operations")
    return Figures(
        batch_ops=ops,
        batch_s=batch_s,
        batch_requests=batch_requests,
        batch_errors=errors,
        baseline_ops=baseline_ops,
        baseline_s=baseline_s,
        rate_limited=rate_limited,
        penalties=penalties,
    )


def report(run: int, f: Figures) -> None:
    print(f"run {run}:")
    print(
        f"  batched:  {f.batch_ops} ops in {f.batch_s:.2f} s = {f.batch_rate:.1f} ops/s "
        f"({f.batch_requests} requests, {f.batch_requests / f.batch_s:.2f} requests/s)"
    )
    print(
        f"  baseline: {f.baseline_ops} ops in {f.baseline_s:.2f} s = "
        f"{f.baseline_rate:.2f} ops/s (one call per operation)"
    )
    print(
        f"  batched/baseline = {f.batch_rate / f.baseline_rate:.1f}x; "
        f"batched/bound ({BOUND} ops/s) = {f.batch_rate / BOUND:.1%}"
    )
    failed = ", ".join(f"{k} {v}" for k, v in f.batch_errors.items()) or "none"
    print(f"  failed operations: {failed}; error 6 met: {f.rate_limited}")


async def main_async(url: str, args: argparse.Namespace) -> None:
    runs = []
    for run in range(1, args.runs + 1):
        figures = await one_run(url, args.ops, args.baseline_ops, args.concurrency, run)
        report(run, figures)
        runs.append(figures)
    if len(runs) > 1:
        batch = statistics.median(f.batch_rate for f in runs)
        base = statistics.median(f.baseline_rate for f in runs)
        print(f"median of {len(runs)} runs:")
        print(f"  batched {batch:.1f} ops/s, baseline {base:.2f} ops/s, ratio {batch / base:.1f}x")
        print(f"  batched/bound ({BOUND} ops/s) = {batch / BOUND:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running sandbox (default: start one)")
    parser.add_argument("--data", type=Path, help="the started sandbox's data folder")
    parser.add_argument("--dataset", default="school", choices=["school", "demo"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--baseline-ops", type=int, default=60)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1, help="execute requests in flight")
    args = parser.parse_args()
    print(f"Sferum batching: {args.ops} addChatUser operations, 25 per execute, {RPS} requests/s")
    if args.url:
        asyncio.run(main_async(args.url.rstrip("/"), args))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp)
        with sandbox(data, args.dataset, args.seed) as url:
            asyncio.run(main_async(url, args))


if __name__ == "__main__":
    main()
