"""Shared fixtures: the sandbox as a real server on a random loopback port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_READY = re.compile(r"^SANDBOX READY (http://127\.0\.0\.1:\d+)$")


@dataclass
class Sandbox:
    """A running sandbox process and a small client for its `/sandbox/dev` control surface."""

    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    drain: threading.Thread | None = None

    def dev(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call `/sandbox/dev/<path>` and return the decoded JSON answer (raises on 4xx/5xx)."""
        with httpx.Client(base_url=self.url, timeout=120) as client:
            answer = client.request(method, f"/sandbox/dev/{path.lstrip('/')}", **kwargs)
            answer.raise_for_status()
            return answer.json() if answer.content else None

    def reset(self, dataset: str = "demo", seed: int = 1) -> Any:
        return self.dev("POST", "reset", json={"dataset": dataset, "seed": seed})

    def faults(self, **faults: Any) -> Any:
        return self.dev("PUT", "faults", json=faults)

    def clear_faults(self) -> Any:
        return self.dev("PUT", "faults", json={})

    def tokens(self, username: str) -> Any:
        return self.dev("POST", "tokens", json={"username": username})

    def accounts(self) -> dict[str, Any]:
        """The dataset's sign-in accounts by role: admin, teacher, student, parent."""
        return {a["role"]: a for a in self.dev("GET", "accounts")}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Let the drain thread reach the end of the output, then close the pipe (an unclosed
        # pipe is a ResourceWarning, which the test settings turn into an error).
        if self.drain is not None:
            self.drain.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_sandbox(data_dir: Path, dataset: str = "demo", seed: int = 1) -> Sandbox:
    """Start `sferum-desktop sandbox` on a free port and wait for its READY line."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sferum_desktop",
            "sandbox",
            "--port",
            "0",
            "--data",
            str(data_dir),
            "--dataset",
            dataset,
            "--seed",
            str(seed),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    assert process.stdout is not None
    lines: list[str] = []
    url = None
    timer = threading.Timer(90, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            match = _READY.match(line.strip())
            if match:
                url = match.group(1)
                break
    finally:
        timer.cancel()
    if url is None:
        process.kill()
        raise RuntimeError("the sandbox did not start:\n" + "\n".join(lines))
    sandbox = Sandbox(url=url, data_dir=data_dir, process=process, output=lines)
    # Keep draining its output so that the pipe never fills and blocks the server.
    sandbox.drain = threading.Thread(
        target=lambda: [sandbox.output.append(x.rstrip("\n")) for x in process.stdout or []],
        daemon=True,
    )
    sandbox.drain.start()
    return sandbox


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One demo sandbox for the whole run; use `sandbox` to get it reset to a clean state."""
    server = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox, reset to the demo dataset with no faults."""
    sandbox_server.reset("demo", 1)
    return sandbox_server
