"""Benchmark: fetch a whole district's roster through EshClient (prints figures, asserts nothing).

Starts `sferum-desktop sandbox --dataset district` (reusing `--data DIR` if given: building the
district takes a while), signs in as the dataset's admin and reads every OneRoster
collection with `EshClient.fetch_roster()`. It prints records/s, the record count, wall time,
the client's peak Python memory (tracemalloc, a separate run because tracing slows Python
down) and the process's peak RSS.

Baseline, in the same run: the same pages fetched with raw httpx and `json.loads`, no
validation and no models. Both read the same server over the same loopback with the same
page size and filter, so the server's and the network's share is common to both and the
ratio is the cost of what the client adds (pydantic validation, record objects, retries,
token handling). A `limit=100` baseline would mostly measure the sandbox's SQLite
`OFFSET` cost (quadratic over ~1.5 M rows), not the client.

    .venv/bin/python bench/roster_fetch.py [--data DIR] [--page-size N] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
from sandbox_process import sandbox  # bench/ is on sys.path when run as a script

from sferum_desktop.api.esh import MAX_ROSTER_PAGE, ROSTER, EshClient
from sferum_desktop.api.oneroster import COLLECTIONS
from sferum_desktop.api.retry import RetryPolicy

_EPOCH_FILTER = "dateLastModified>'1970-01-01T00:00:00.000Z'"  # what fetch_roster() sends


async def raw_fetch(url: str, token: str, page_size: int) -> tuple[int, float]:
    """The baseline: every page with plain httpx + json.loads, kept as dicts."""
    kept: list[Any] = []
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as http:
        for name in COLLECTIONS:
            offset = 0
            while True:
                params: dict[str, str | int] = {
                    "limit": page_size,
                    "offset": offset,
                    "filter": _EPOCH_FILTER,
                }
                answer = await http.get(f"{ROSTER}/{name}", params=params)
                answer.raise_for_status()
                items = json.loads(answer.content)[name]
                kept.extend(items)
                offset += len(items)
                if not items or offset >= int(answer.headers["X-Total-Count"]):
                    break
    elapsed = time.perf_counter() - started
    count = len(kept)
    del kept
    gc.collect()
    return count, elapsed


async def client_fetch(client: EshClient, page_size: int) -> tuple[dict[str, int], float]:
    """The measured run: EshClient.fetch_roster(), records validated into models."""
    started = time.perf_counter()
    snapshot = await client.fetch_roster(page_size=page_size)
    elapsed = time.perf_counter() - started
    counts: dict[str, int] = {name: len(snapshot.collection(name)) for name in COLLECTIONS}
    del snapshot
    gc.collect()
    return counts, elapsed


def rss_mib() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def run(args: argparse.Namespace, url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as dev:
        accounts = {
            a["role"]: a for a in dev.get("/sandbox/dev/accounts").raise_for_status().json()
        }
    admin = accounts["admin"]
    policy = RetryPolicy(attempts=3, base_delay=0.2)
    async with EshClient(url, retry=policy, timeout=httpx.Timeout(300, connect=10)) as client:
        session = await client.login(admin["username"], admin["password"])
        print(f"signed in as the {args.dataset} admin: {session.me.full_name}")
        # A small first read, so connection set-up and first imports are outside the timing.
        async with contextlib.aclosing(client.iter_orgs(page_size=10)) as orgs:
            async for _ in orgs:
                break
        token = session.tokens.access_token

        # The client first, so that the process's peak RSS is the client's own, not the
        # baseline's (ru_maxrss never goes down).
        counts, elapsed = await client_fetch(client, args.page_size)
        total = sum(counts.values())
        rss_after_fetch = rss_mib()
        print(f"client (EshClient.fetch_roster): {total:,} records in {elapsed:.2f} s")

        baseline: tuple[int, float] | None = None
        if not args.skip_baseline:
            baseline = await raw_fetch(url, token, args.page_size)
            print(
                f"baseline (raw httpx + json.loads): {baseline[0]:,} records in {baseline[1]:.2f} s"
            )

        tracemalloc.start()
        await client_fetch(client, args.page_size)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    print()
    print(f"dataset {args.dataset}, page size {args.page_size}")
    for name, count in counts.items():
        print(f"  {name:<17} {count:>10,}")
    print(f"records            {total:>10,}")
    print(f"wall time          {elapsed:>10.2f} s")
    print(f"records/s          {total / elapsed:>10,.0f}")
    print(f"client peak (tracemalloc, second run) {traced_peak / 2**20:,.0f} MiB")
    print(f"process peak RSS (ru_maxrss)        {rss_after_fetch:,.0f} MiB (client run only)")
    if baseline is not None:
        base_count, base_elapsed = baseline
        print(
            f"baseline           {base_count:>10,} records in {base_elapsed:.2f} s "
            f"({base_count / base_elapsed:,.0f} records/s)"
        )
        print(f"client / baseline time ratio  {elapsed / base_elapsed:.2f}x")
        if base_count != total:
            print("  (counts differ: the baseline keeps tombstones, the snapshot drops them)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="sandbox data folder to reuse (kept)")
    parser.add_argument("--dataset", default="district", choices=["demo", "school", "district"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=MAX_ROSTER_PAGE)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sferum-bench-") as scratch:
        data_dir = args.data or Path(scratch)
        print(f"sandbox data in {data_dir} (building {args.dataset} if needed)...", flush=True)
        started = time.perf_counter()
        with sandbox(data_dir, args.dataset, args.seed) as url:
            print(f"sandbox ready in {time.perf_counter() - started:.1f} s at {url}", flush=True)
            asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
