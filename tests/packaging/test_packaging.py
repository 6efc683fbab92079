"""The packaging scripts' own logic: version, icons, the .deb's metadata, the smoke mode.

The frozen build itself is checked by `packaging/smoke.py` (after `make package`, also at the
end of `scripts/dev test`); here the parts that need no build, and the app's `--smoke-test`
mode from source, so that the driver the frozen check relies on cannot rot unnoticed.
"""

from __future__ import annotations

import configparser
import importlib.util
import itertools
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import sferum_desktop

ROOT = Path(__file__).resolve().parents[2]
# packaging/*.py are scripts, not a package (the name `packaging` is PyPI's): load them by
# path. (No conftest.py here: the suite imports the top one as `conftest`.)
PACKAGING = ROOT / "packaging"


def load(name: str) -> ModuleType:
    module_name = f"sferum_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_script() -> ModuleType:
    return load("build")


@pytest.fixture(scope="session")
def deb_script(build_script: ModuleType) -> ModuleType:
    return build_script.load_sibling("deb")


@pytest.fixture(scope="session")
def smoke_script(build_script: ModuleType) -> ModuleType:
    return build_script.load_sibling("smoke")


def test_version_comes_from_the_package(build_script: ModuleType) -> None:
    assert build_script.version() == sferum_desktop.__version__
    out = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"), "version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == sferum_desktop.__version__


@pytest.mark.parametrize(
    ("pep440", "debian"),
    [
        ("0.1.0", "0.1.0"),
        ("1.2.0rc1", "1.2.0~rc1"),
        ("1.2.0b2", "1.2.0~b2"),
        ("1.2.0.dev3", "1.2.0~~dev3"),
        ("1.2.0+school5", "1.2.0+local.school5"),
    ],
)
def test_debian_version(build_script: ModuleType, pep440: str, debian: str) -> None:
    assert build_script.deb_version(pep440) == debian


def test_debian_versions_order_as_pep440(build_script: ModuleType) -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    ordered = ["1.2.0.dev3", "1.2.0b2", "1.2.0rc1", "1.2.0", "1.2.1"]
    debian = [build_script.deb_version(v) for v in ordered]
    for lower, higher in itertools.pairwise(debian):
        subprocess.run(["dpkg", "--compare-versions", lower, "lt", higher], check=True)


def test_icons_render_into_every_format(
    build_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: object
) -> None:
    from PySide6.QtGui import QImage

    monkeypatch.setattr(build_script, "BUILD", tmp_path)
    out = build_script.icons()
    for size in build_script.PNG_SIZES:
        image = QImage(str(out / f"sferum-desktop-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        # drawn, not empty: the centre pixel is opaque
        assert image.pixelColor(size // 2, size // 2).alpha() == 255

    ico = (out / "sferum-desktop.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, len(build_script.ICO_SIZES))
    sizes = []
    for index in range(count):
        width, _h, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * index : 22 + 16 * index]
        )
        assert ico[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + length <= len(ico)
        sizes.append(width or 256)
    assert sizes == sorted(build_script.ICO_SIZES)
    assert not QImage(str(out / "sferum-desktop.ico")).isNull()  # Qt's own ICO reader

    icns = (out / "sferum-desktop.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    position, kinds = 8, []
    while position < len(icns):
        kind, length = (
            icns[position : position + 4],
            struct.unpack(">I", icns[position + 4 : position + 8])[0],
        )
        assert icns[position + 8 : position + 16] == b"\x89PNG\r\n\x1a\n"
        kinds.append(kind)
        position += length
    assert position == len(icns)
    assert kinds == [kind for kind, _ in build_script.ICNS_TYPES]


def test_desktop_entry(deb_script: ModuleType, tmp_path: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(deb_script.DESKTOP_ENTRY)
    main = entry["Desktop Entry"]
    assert main["Exec"] == "sferum-desktop"
    assert main["Icon"] == "sferum-desktop"
    assert main["StartupWMClass"] == "sferum-desktop"
    assert entry["Desktop Action demo"]["Exec"] == "sferum-desktop --demo"
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (scripts/dev installs it)")
    path = tmp_path / "sferum-desktop.desktop"
    path.write_text(deb_script.DESKTOP_ENTRY, encoding="utf-8")
    out = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_control_file(deb_script: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "file").write_bytes(b"x" * 5000)
    control = deb_script.control(tmp_path, "1.2.0~rc1", "amd64", ["libc6", "libegl1"])
    fields = dict(
        line.split(": ", 1) for line in control.splitlines() if line and not line.startswith(" ")
    )
    assert fields["Package"] == "sferum-desktop"
    assert fields["Version"] == "1.2.0~rc1"
    assert fields["Depends"] == "libc6, libegl1"
    assert fields["Installed-Size"] == "5"
    assert control.endswith("\n")
    # every continuation line of the description is indented
    description = control.split("Description: ", 1)[1].splitlines()[1:]
    assert description and all(line.startswith(" ") for line in description)


def test_depends_maps_libraries_to_packages(deb_script: ModuleType, tmp_path: Path) -> None:
    """A bundle that needs libz (not carried) and carries its own libfoo: Depends has zlib."""
    if shutil.which("dpkg-query") is None or shutil.which("objdump") is None:
        pytest.skip("needs dpkg-query and objdump (Debian)")
    import zlib

    extension = Path(zlib.__file__) if hasattr(zlib, "__file__") else None
    binary = Path(sys.executable).resolve()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copy2(binary, bundle / "python")
    if extension is not None:
        shutil.copy2(extension, bundle / extension.name)
    needs, unresolved = deb_script.depends(bundle)
    assert "libc6" in needs
    assert "ca-certificates" in needs
    assert unresolved == [] or all(name.startswith("lib") for name in unresolved)


@pytest.mark.slow
def test_smoke_mode_from_source(smoke_script: ModuleType, tmp_path: Path) -> None:
    """`--demo --smoke-test` walks sign-in, the web view, the main window and quits, cleanly."""
    env = smoke_script.smoke_env(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    steps = smoke_script.run_app(
        [sys.executable, "-m", "sferum_desktop", "--demo", "--smoke-test"], env, timeout=180
    )
    assert list(steps) == list(smoke_script.STEPS)
    assert steps["signin-window"] < steps["main-window"] < steps["done"]


def test_smoke_check_fails_on_missing_steps_and_stray_stderr(
    smoke_script: ModuleType, tmp_path: Path
) -> None:
    """The checker itself: a run that stops early and writes to stderr is a failure."""
    env = smoke_script.smoke_env(tmp_path)
    script = (
        "import sys\n"
        "print('SMOKE signin-window 0.1', flush=True)\n"
        "print('[1:2:1129/151853.016769:ERROR:../dbus/bus.cc:408] Failed to connect to the "
        "bus: no', file=sys.stderr)\n"
        "print('Traceback: something broke', file=sys.stderr)\n"
    )
    with pytest.raises(smoke_script.SmokeError) as failure:
        smoke_script.run_app([sys.executable, "-c", script], env, timeout=30)
    message = str(failure.value)
    assert "steps not reached: demo-sandbox" in message
    assert "Traceback: something broke" in message
    assert "dbus" not in message  # the one expected line is not reported


# --- the recipes that cannot be built here agree with the spec and the repository -------------


def _spec_text() -> str:
    return (PACKAGING / "sferum-desktop.spec").read_text(encoding="utf-8")


def test_windows_installer_matches_the_spec_and_the_repository() -> None:
    spec = _spec_text()
    iss = (PACKAGING / "windows" / "sferum-desktop.iss").read_text(encoding="utf-8")
    # the two executables the spec makes on Windows, by the names the installer expects
    assert 'NAME = "sferum-desktop"' in spec and 'name=f"{NAME}-cli", console=True' in spec
    assert '#define AppExeName "sferum-desktop.exe"' in iss
    assert '#define AppCliName "sferum-desktop-cli.exe"' in iss
    assert "dist\\sferum-desktop\\*" in iss
    # every file the installer takes from the repository exists (paths from the repo root)
    sources = re.findall(r'^(?:Source|LicenseFile|SetupIconFile)[:=]\s*"?([^";\r\n]+)', iss, re.M)
    assert sources
    for source in (s.strip() for s in sources):
        if source.startswith(("dist\\", "build\\")):
            continue  # made by the build
        assert (ROOT / source.replace("\\", "/")).is_file(), source
    # the version is never written into the installer
    assert re.search(r"AppVersion=\{#AppVersion\}", iss)
    assert not re.search(r"AppVersion=\d", iss)
    task = (PACKAGING / "windows" / "sferum-desktop-sync.xml").read_text(encoding="utf-8")
    assert "sferum-desktop-cli.exe" in task


def test_macos_recipe_matches_the_spec() -> None:
    spec = _spec_text()
    build = (PACKAGING / "macos" / "build.sh").read_text(encoding="utf-8")
    assert 'name="Sferum Desktop.app"' in spec
    assert "Sferum Desktop.app" in build
    assert "Contents/MacOS/sferum-desktop" in build
    assert "packaging/build.py bundle" in build and "packaging/build.py version" in build
    assert '"CFBundleShortVersionString": VERSION' in spec
    assert (PACKAGING / "macos" / "entitlements.plist").is_file()
    subprocess.run(["bash", "-n", str(PACKAGING / "macos" / "build.sh")], check=True)


def test_linux_package_takes_the_service_units_it_documents(deb_script: ModuleType) -> None:
    for unit in ("sferum-desktop-sync.service", "sferum-desktop-sync.timer", "sync.env.example"):
        assert (PACKAGING / "systemd" / unit).is_file()
    service = (PACKAGING / "systemd" / "sferum-desktop-sync.service").read_text(encoding="utf-8")
    # the unit runs the command the .deb puts on PATH, as the user sysusers.d creates
    assert "ExecStart=/usr/bin/sferum-desktop sync" in service
    assert "User=sferum-sync" in service
    assert deb_script.SYSUSERS.split("\nu ", 1)[1].startswith("sferum-sync ")
    assert "usr/bin" in deb_script.__doc__


def test_the_log_check_lets_through_only_the_expected_warnings(
    smoke_script: ModuleType, tmp_path: Path
) -> None:
    log = tmp_path / "sferum-desktop.log"
    stamp = "2026-11-29 15:22:40,400"
    expected = (
        f"{stamp} INFO sferum_desktop.ui.app: Sferum Desktop 0.1.0 starting\n"
        f"{stamp} WARNING sferum_desktop.qt: This plugin does not support propagateSizeHints()"
        " (default)\n"
        f"{stamp} WARNING sferum_desktop.qt: Failed to create RHI for backend: OpenGL (default)\n"
        f"{stamp} WARNING sferum_desktop.auth.vault: no usable keyring (x): secrets in memory\n"
    )
    log.write_text(expected, encoding="utf-8")
    smoke_script.check_log(log, keyring=False)
    with pytest.raises(smoke_script.SmokeError, match="no usable keyring"):
        smoke_script.check_log(log, keyring=True)  # a keyring was there: the app must find it
    log.write_text(
        expected
        + f"{stamp} WARNING sferum_desktop.qt: Qt WebEngine resources not found at /x (default)\n"
        + f"{stamp} CRITICAL sferum_desktop.ui.app: unhandled exception\n"
        + "Traceback (most recent call last):\n  ValueError: boom\n"
        + f"{stamp} INFO sferum_desktop.ui.app: Sferum Desktop stopped\n",
        encoding="utf-8",
    )
    with pytest.raises(smoke_script.SmokeError) as failure:
        smoke_script.check_log(log, keyring=False)
    message = str(failure.value)
    assert "resources not found" in message and "ValueError: boom" in message
    assert "propagateSizeHints" not in message and "stopped" not in message
