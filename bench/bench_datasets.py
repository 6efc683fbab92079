"""How long the sandbox's datasets take to build, how many rows and how big the file.

    .venv/bin/python bench/bench_datasets.py [district] [--runs 3] [--seed 1]

Builds each named dataset (default: all three) into a fresh SQLite file in a temporary
folder, the way the sandbox does (create_all, then populate), and prints the median time of
the runs, the row counts and the file size. A benchmark, not a test: it passes no judgement.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from sferum_desktop.sandbox import models as m
from sferum_desktop.sandbox.datasets import DATASETS, counts, populate


def build(path: Path, dataset: str, seed: int) -> tuple[float, dict[str, int], int]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        m.metadata.create_all(engine)
        started = time.perf_counter()
        populate(engine, dataset, seed)
        elapsed = time.perf_counter() - started
        rows = counts(engine)
    finally:
        engine.dispose()  # checkpoints the WAL into the file
    return elapsed, rows, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for dataset in args.datasets:
        times: list[float] = []
        rows: dict[str, int] = {}
        size = 0
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                elapsed, rows, size = build(
                    Path(folder) / f"{dataset}-{run}.sqlite3", dataset, args.seed
                )
            times.append(elapsed)
        print(
            f"{dataset}: median {statistics.median(times):.2f} s "
            f"(runs: {', '.join(f'{t:.2f}' for t in times)}), file {size / 1e6:.1f} MB"
        )
        for table, count in sorted(rows.items()):
            if count:
                print(f"    {table:22} {count:>9,}")


if __name__ == "__main__":
    main()
