"""The packaged build: bundle and .deb sizes, and the time to the sign-in window, frozen vs source.

    .venv/bin/python bench/package_startup.py [--runs 5]

Run `make package` first. Each start is timed from the spawn of the process to the moment the
sign-in window is shown (`--smoke-test=window` prints `SMOKE signin-window` on the first show
and quits). The frozen app and the app from source (`python -m sferum_desktop`) start in
turns, `--runs` times each, after one warm-up start each (not counted; it fills the OS file
cache, which a person's second start also has); the medians and their ratio are printed. Each
variant has its own empty home folder, so settings and profiles are those of a first start.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "sferum-desktop"


def environment(home: Path) -> dict[str, str]:
    (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
    }


def time_to_window(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to the `SMOKE signin-window` line."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own build and interpreter)
        [*command, "--smoke-test=window"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    shown = None
    for line in process.stdout:
        if line.startswith("SMOKE signin-window"):
            shown = time.perf_counter() - started
    code = process.wait(timeout=120)
    if shown is None or code != 0:
        raise SystemExit(f"{command[0]}: no sign-in window (exit code {code})")
    return shown


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bundle = ROOT / "dist" / NAME
    debs = sorted((ROOT / "dist").glob(f"{NAME}_*.deb"))
    if not (bundle / NAME).is_file() or not debs:
        raise SystemExit("run `make package` first")
    qt_lib = bundle / "_internal" / "PySide6" / "Qt" / "lib"
    print(f"bundle            {size(bundle) / 2**20:8.1f} MiB  ({bundle.relative_to(ROOT)})")
    print(f"  of which Qt lib {size(qt_lib) / 2**20:8.1f} MiB")
    print(f".deb              {size(debs[-1]) / 2**20:8.1f} MiB  ({debs[-1].name})")

    variants = {
        "frozen": [str(bundle / NAME)],
        "source": [sys.executable, "-m", "sferum_desktop"],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="sferum-bench-") as tmp:
        homes = {name: Path(tmp) / name for name in variants}
        for name, command in variants.items():
            first = time_to_window(command, environment(homes[name]))
            print(f"{name:<6} first start (warm-up, not counted): {first:.3f} s")
        for _ in range(args.runs):
            for name, command in variants.items():
                times[name].append(time_to_window(command, environment(homes[name])))
    for name, values in times.items():
        print(
            f"{name:<6} to sign-in window: median {statistics.median(values):.3f} s "
            f"(runs: {', '.join(f'{v:.3f}' for v in values)})"
        )
    ratio = statistics.median(times["frozen"]) / statistics.median(times["source"])
    print(f"frozen / source: ×{ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
