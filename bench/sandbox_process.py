"""The sandbox as a child process for the benchmarks (they run from `bench/` as scripts)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sandbox(data_dir: Path, dataset: str, seed: int = 1) -> Iterator[str]:
    """Run the sandbox; yield its base URL once it prints READY, stop it afterwards."""
    command = [sys.executable, "-m", "sferum_desktop", "sandbox", "--port", "0"]
    command += ["--data", str(data_dir), "--dataset", dataset, "--seed", str(seed)]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8"
    )
    assert process.stdout is not None
    url = None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip())
        if line.startswith("SANDBOX READY "):
            url = line.split()[-1]
            break
    if url is None:
        process.wait()
        raise SystemExit("the sandbox did not start:\n" + "\n".join(lines[-30:]))
    # Keep reading its output so that a full pipe never blocks the server.
    drain = threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True)
    drain.start()
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        drain.join(timeout=5)
        process.stdout.close()
