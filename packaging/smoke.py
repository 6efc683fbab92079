"""Smoke test of the packaged build: the frozen app, then the .deb in a scratch root.

    python packaging/smoke.py [--bundle dist/sferum-desktop] [--deb dist/sferum-desktop_*.deb]

1. The frozen app starts offscreen with `--demo --smoke-test`, in an empty home folder: the
   sign-in window shows, the ESIA page loads in the embedded browser (QtWebEngine), the demo
   account signs in with its password, the main window and «О программе» show, the app quits
   with code 0 (sferum_desktop/ui/smoke.py walks the steps). Any stderr line that is not on
   the short list below fails the test.
2. The frozen sandbox server starts, a student is expelled through its test API, and the
   frozen `sync --dry-run --json`, then `sync --json` (what the systemd service runs) plan and
   apply the removal, with exit code 0 and nothing on stderr.
3. The .deb is installed into a scratch root with `dpkg --root`; `sferum-desktop --version`
   and the same `--demo --smoke-test` walk run from it (through the /usr/bin link); the
   desktop entry, icons and service units are in place; `dpkg --root --purge` leaves nothing.

With `dbus-run-session` and `gnome-keyring-daemon` installed, step 1 runs inside a private
D-Bus session with an unlocked keyring, and the app must find it.

Exit code 0 when everything held; otherwise 1, with what failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
NAME = "sferum-desktop"
STEPS = ("signin-window", "demo-sandbox", "web-view", "main-window", "about", "done")
TIMEOUT_S = 240.0

# stderr lines that are expected, each with the reason.
EXPECTED_STDERR = (
    # Chromium (inside QtWebEngine) looks for the D-Bus *system* bus, which a container or CI
    # machine does not run; a desktop does. Nothing of the app needs it.
    re.compile(
        r"^\[\d+:\d+:\d+/\d+\.\d+:ERROR:.*dbus/bus\.cc:\d+\] Failed to connect to the bus: "
    ),
    # dbus-daemon of the private session (below) may not raise its file limit in a container.
    re.compile(r"^dbus-daemon\[\d+\]: .*Failed to set fd limit"),
)


def with_keyring(command: list[str]) -> tuple[list[str], bool]:
    """The command inside a private D-Bus session with an unlocked GNOME keyring, if possible.

    Then the smoke run also proves that the frozen app finds the OS keyring (the Secret
    Service backend, loaded through entry points that must be in the bundle) and keeps the
    session there. Without those programs the run goes on with the in-memory fallback.
    """
    if not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")):
        return command, False
    start = (
        "printf smoke | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
        'exec "$@"'
    )
    return ["dbus-run-session", "--", "sh", "-c", start, "sh", *command], True


def _build_module() -> ModuleType:
    """packaging/build.py (packaging/ is not a package: its name is PyPI's)."""
    if "sferum_packaging_build" in sys.modules:  # loaded by build.py's load_sibling
        return sys.modules["sferum_packaging_build"]
    path = Path(__file__).resolve().parent / "build.py"
    spec = importlib.util.spec_from_file_location("sferum_packaging_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_build = _build_module()
deb_version, version = _build.deb_version, _build.version


class SmokeError(Exception):
    pass


def smoke_env(home: Path) -> dict[str, str]:
    """A clean environment: an empty home, offscreen Qt, QtWebEngine without its sandbox.

    The Chromium sandbox cannot start as root (CI runs as root): tests only, never the app.
    """
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "QTWEBENGINE_DISABLE_SANDBOX": "1",
        "QTWEBENGINE_CHROMIUM_FLAGS": "--disable-gpu",
    }
    (home / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    return env


def run_app(
    command: list[str],
    env: dict[str, str],
    timeout: float = TIMEOUT_S,
    details: dict[str, str] | None = None,
) -> dict[str, float]:
    """Run the app's smoke mode; the seconds of each step it reported. Raises SmokeError.

    `details`, when given, receives what each step said besides its time.
    """
    started = time.monotonic()
    steps: dict[str, float] = {}
    unexpected: list[str] = []
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ, "out")
        selector.register(process.stderr, selectors.EVENT_READ, "err")
        open_streams = 2
        try:
            while open_streams:
                remaining = timeout - (time.monotonic() - started)
                if remaining <= 0:
                    raise SmokeError(f"no end within {timeout:.0f} s; steps so far: {list(steps)}")
                for key, _ in selector.select(remaining):
                    line = key.fileobj.readline()  # type: ignore[union-attr]
                    if not line:
                        selector.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    line = line.rstrip("\n")
                    if key.data == "out":
                        match = re.match(r"^SMOKE (\S+) \S+ ?(.*)$", line)
                        if match:
                            step = match.group(1)
                            steps[step] = time.monotonic() - started
                            if details is not None:
                                details[step] = match.group(2)
                            print(f"    {step:<14} {steps[step]:6.2f} s", flush=True)
                    elif line.strip() and not any(p.search(line) for p in EXPECTED_STDERR):
                        unexpected.append(line)
            code = process.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
        finally:
            selector.close()
            if process.poll() is None:
                process.kill()
                process.wait()
    problems = []
    if code != 0:
        problems.append(f"exit code {code}")
    missing = [step for step in STEPS if step not in steps]
    if missing:
        problems.append(f"steps not reached: {', '.join(missing)}")
    if unexpected:
        problems.append("unexpected stderr:\n      " + "\n      ".join(unexpected[:40]))
    if problems:
        raise SmokeError("; ".join(problems))
    return steps


def smoke_bundle(bundle: Path) -> None:
    executable = bundle / NAME
    if not executable.is_file():
        raise SmokeError(f"no frozen app at {executable}: run `make package` first")
    with tempfile.TemporaryDirectory(prefix="sferum-smoke-") as tmp:
        env = smoke_env(Path(tmp))
        out = subprocess.run(
            [str(executable), "--version"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode != 0 or out.stdout.strip() != f"{NAME} {version()}" or out.stderr:
            raise SmokeError(f"--version: {out.returncode} {out.stdout!r} {out.stderr!r}")
        command, keyring = with_keyring([str(executable), "--demo", "--smoke-test"])
        details: dict[str, str] = {}
        log = app_log(Path(tmp))
        try:
            run_app(command, env, details=details)
            said = details.get("signin-window", "")
            print(f"    {said}", flush=True)
            if keyring and "persistent=True" not in said:
                raise SmokeError(f"the OS keyring was not found: {said}")
        except SmokeError as exc:
            tail = (
                log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
                if log.is_file()
                else ["(no log)"]
            )
            raise SmokeError(
                f"{exc}\n    the app's log ends with:\n      " + "\n      ".join(tail)
            ) from None
        check_log(log, keyring=keyring)


def app_log(home: Path) -> Path:
    """The app's log file under a home folder (platformdirs' user log folder on Linux)."""
    return home / ".local" / "state" / NAME / "log" / f"{NAME}.log"


# Warnings the app's log may hold after a smoke run, each with the reason. Qt's own messages
# go to the log (not to stderr), so the log is checked as strictly as stderr.
EXPECTED_LOG = (
    # The offscreen platform has no window manager to pass size hints to or raise windows.
    re.compile(r"sferum_desktop\.qt: This plugin does not support (propagateSizeHints|raise)\(\)"),
    # QtWebEngine offscreen: no OpenGL, so it probes it and falls back to software rendering.
    re.compile(r"sferum_desktop\.qt: (QRhiGles2: Failed to create (temporary )?context|"
               r"Failed to create RHI for backend: OpenGL|GPUInfo not initialized)"),
)  # fmt: skip
NO_KEYRING = re.compile(r"sferum_desktop\.auth\.vault: no usable keyring")
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (\w+) ")


def check_log(log: Path, *, keyring: bool) -> None:
    """Every WARNING or worse in the app's log is an expected one; raises SmokeError."""
    if not log.is_file():
        raise SmokeError(f"the app wrote no log at {log}")
    unexpected: list[str] = []
    keep = False  # a traceback's lines follow their record
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _RECORD.match(line)
        if match is None:
            if keep:
                unexpected.append("  " + line)
            continue
        keep = match.group(1) in ("WARNING", "ERROR", "CRITICAL") and not (
            any(p.search(line) for p in EXPECTED_LOG) or (not keyring and NO_KEYRING.search(line))
        )
        if keep:
            unexpected.append(line)
    if unexpected:
        raise SmokeError(
            "unexpected lines in the app's log:\n      " + "\n      ".join(unexpected[:30])
        )


def smoke_headless(bundle: Path) -> None:
    """The frozen sandbox server, and `sync` (the automatic mode's service) against it."""
    executable = bundle / NAME
    with tempfile.TemporaryDirectory(prefix="sferum-headless-") as tmp:
        home = Path(tmp)
        env = smoke_env(home)
        command = [str(executable), "sandbox", "--dataset", "demo", "--port", "0"]
        with subprocess.Popen(
            [*command, "--data", str(home / "sandbox")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as server:
            assert server.stdout is not None
            try:
                url = _wait_ready(server.stdout)
                tokens = _post(url, "tokens", {"username": "pavlova"})
                # A roster event, so that the real run has something to apply: a student of
                # 1 А (Артёмов) is expelled, and leaves the class chat and its Sferum chat.
                _post(url, "roster", {"op": "expel", "student_id": "usr-000014"})
                env.update(
                    {
                        "SFERUM_DESKTOP_ESH_URL": url,
                        "SFERUM_DESKTOP_VKID_URL": f"{url}/vkid",
                        "SFERUM_DESKTOP_SFERUM_URL": f"{url}/sferum",
                        "SFERUM_DESKTOP_ESH_TOKEN": tokens["esh"]["access_token"],
                        "SFERUM_DESKTOP_SFERUM_TOKEN": tokens["vkid"]["access_token"],
                        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                    }
                )
                for args in (["--dry-run", "--json"], ["--json"]):
                    run = subprocess.run(
                        [str(executable), "sync", *args],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=300,
                        check=False,
                    )
                    report = json.loads(run.stdout) if run.stdout.strip() else {}
                    changed = sum(report.get("applied", {}).values())
                    dry = "--dry-run" in args
                    if (
                        run.returncode != 0
                        or run.stderr.strip()
                        or report.get("plan", {}).get("remove", 0) < 1
                        or (changed == 0) is not dry
                    ):
                        raise SmokeError(
                            f"sync {' '.join(args)}: exit {run.returncode}, "
                            f"stdout {run.stdout[:300]!r}, stderr {run.stderr[-600:]!r}"
                        )
                    print(
                        f"    sync {' '.join(args)}: plan {report['plan']}, "
                        f"applied {report['applied']}",
                        flush=True,
                    )
            finally:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


def _post(url: str, path: str, body: dict[str, object]) -> Any:
    """A call to the sandbox's /sandbox/dev API (the test's side door, never the app's)."""
    request = urllib.request.Request(  # noqa: S310 (our own loopback sandbox)
        f"{url}/sandbox/dev/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.load(answer)


def _wait_ready(stream: IO[str], timeout: float = 60.0) -> str:
    """The sandbox's URL from its READY line."""
    deadline = time.monotonic() + timeout
    lines = []
    for line in stream:
        lines.append(line.rstrip())
        if line.startswith("SANDBOX READY "):
            # Keep reading its output so that a full pipe never blocks the server.
            threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
            return line.split()[-1]
        if time.monotonic() > deadline:
            break
    raise SmokeError("the frozen sandbox did not start:\n      " + "\n      ".join(lines[-20:]))


def dpkg(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # --force-script-chrootless: the maintainer scripts run on the host with DPKG_ROOT set
    # (they are written for it); --force-depends: the scratch root has no other packages.
    command = [
        "dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends",
        "--force-not-root", f"--log={root}/dpkg.log", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False)


def smoke_deb(deb: Path) -> None:
    if shutil.which("dpkg") is None:
        raise SmokeError("dpkg is missing: the .deb check needs a Debian-like system")
    with tempfile.TemporaryDirectory(prefix="sferum-deb-") as tmp:
        root = Path(tmp) / "root"
        for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
            (root / folder).mkdir(parents=True)
        (root / "var/lib/dpkg/status").touch()
        result = dpkg(root, "--install", str(deb))
        if result.returncode != 0:
            raise SmokeError(f"dpkg --install failed:\n{result.stdout}{result.stderr}")
        command = root / "usr" / "bin" / NAME
        home = Path(tmp) / "home"
        out = subprocess.run(
            [str(command), "--version"],
            env=smoke_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode != 0 or out.stdout.strip() != f"{NAME} {version()}":
            raise SmokeError(f"installed --version: {out.returncode} {out.stdout!r} {out.stderr!r}")
        print(f"    installed: {out.stdout.strip()}", flush=True)
        # The installed copy runs too (through the /usr/bin link), QtWebEngine included.
        run_app([str(command), "--demo", "--smoke-test"], smoke_env(home))
        check_log(app_log(home), keyring=False)
        for path in (
            f"usr/share/applications/{NAME}.desktop",
            f"usr/share/icons/hicolor/256x256/apps/{NAME}.png",
            f"usr/share/icons/hicolor/scalable/apps/{NAME}.svg",
            "usr/lib/systemd/system/sferum-desktop-sync.service",
            "usr/lib/systemd/system/sferum-desktop-sync.timer",
            f"usr/share/doc/{NAME}/copyright",
            f"opt/{NAME}/_internal/PySide6/Qt/libexec/QtWebEngineProcess",
        ):
            if not (root / path).exists():
                raise SmokeError(f"the package did not install {path}")
        status = dpkg(root, "--status", NAME)
        if f"Version: {deb_version(version())}" not in status.stdout:
            raise SmokeError(f"dpkg --status: {status.stdout}{status.stderr}")
        if shutil.which("desktop-file-validate"):
            check = subprocess.run(
                ["desktop-file-validate", str(root / f"usr/share/applications/{NAME}.desktop")],
                capture_output=True,
                text=True,
                check=False,
            )
            if check.returncode != 0 or check.stdout.strip():
                raise SmokeError(f"desktop-file-validate: {check.stdout}{check.stderr}")
        result = dpkg(root, "--purge", NAME)
        left = [str(p.relative_to(root)) for p in (root / "usr").rglob("*") if not p.is_dir()]
        if (root / "opt" / NAME).exists():
            left.append(f"opt/{NAME}")
        if result.returncode != 0 or left:
            raise SmokeError(f"dpkg --purge: {result.returncode} left {left}: {result.stderr}")
        print(f"    removed: nothing left in opt/{NAME} and usr/", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/smoke.py", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / NAME)
    parser.add_argument("--deb", type=Path, default=None)
    args = parser.parse_args(argv)
    deb = args.deb or next(iter(sorted((ROOT / "dist").glob(f"{NAME}_*.deb"))), None)
    failures = 0
    for title, check, target in (
        ("frozen app: --demo sign-in, web view, main window, quit", smoke_bundle, args.bundle),
        ("frozen app, headless: the sandbox server, then sync", smoke_headless, args.bundle),
        (".deb: install into a scratch root, --version, run, remove", smoke_deb, deb),
    ):
        print(f"==> smoke: {title}", flush=True)
        started = time.monotonic()
        try:
            if target is None:
                raise SmokeError("no .deb in dist/: run `make package` first")
            check(target)
        except (SmokeError, subprocess.TimeoutExpired) as exc:
            failures += 1
            print(f"    FAILED: {exc}", flush=True)
        else:
            print(f"    ok ({time.monotonic() - started:.1f} s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
