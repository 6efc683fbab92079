"""Builds Sferum Desktop's packages: the frozen app (PyInstaller, onedir) and the Linux .deb.

    python packaging/build.py version        the version (from sferum_desktop.__version__ only)
    python packaging/build.py translations   resources/translations/*.ts -> build/translations/*.qm
    python packaging/build.py icons          resources/icons/sferum-desktop.svg -> build/icons/
                                             (PNGs, a multi-size .ico, an .icns)
    python packaging/build.py bundle         translations, icons, then PyInstaller:
                                             dist/sferum-desktop/
    python packaging/build.py deb            dist/sferum-desktop/ into
                                             dist/sferum-desktop_<version>_<arch>.deb
    python packaging/build.py all            bundle and deb (what `make package` runs)

Run it with the project's virtual environment (`make package` sets that up). The Windows and
macOS installers use the same `bundle` step: packaging/windows/ and packaging/macos/.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = ROOT / "build"
DIST = ROOT / "dist"
NAME = "sferum-desktop"
ICON_SVG = ROOT / "resources" / "icons" / f"{NAME}.svg"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# .icns entry types whose payload is a PNG of the given pixel size.
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)  # fmt: skip

sys.path.insert(0, str(ROOT))


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def version() -> str:
    """sferum_desktop.__version__, read without importing the package's dependencies."""
    text = (ROOT / "sferum_desktop" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("error: no __version__ in sferum_desktop/__init__.py")
    return match.group(1)


def deb_version(v: str) -> str:
    """A PEP 440 version as Debian orders it: 1.2.0rc1 -> 1.2.0~rc1, 1.2.0.dev3 -> 1.2.0~~dev3.

    `~` sorts before anything, `~~` before `~`: dev < a < b < rc < the release, as in PEP 440.
    """
    v = re.sub(r"\.?dev(\d+)", r"~~dev\1", v)
    return re.sub(r"(?<!~)(a|b|rc)(\d+)", r"~\1\2", v).replace("+", "+local.")


# --- translations and icons ----------------------------------------------------------------------


def translations() -> Path:
    """Compile every .ts with Qt's lrelease into build/translations/."""
    out = BUILD / "translations"
    out.mkdir(parents=True, exist_ok=True)
    lrelease = shutil.which("pyside6-lrelease", path=str(Path(sys.executable).parent))
    if lrelease is None:
        raise SystemExit("error: pyside6-lrelease not found beside this Python (install PySide6)")
    for ts in sorted((ROOT / "resources" / "translations").glob("*.ts")):
        qm = out / ts.with_suffix(".qm").name
        subprocess.run([lrelease, "-silent", str(ts), "-qm", str(qm)], check=True)
    return out


def _render_pngs(sizes: set[int]) -> dict[int, bytes]:
    """The icon rendered by Qt's SVG renderer at each size, as PNG bytes."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(ICON_SVG))
    if not renderer.isValid():
        raise SystemExit(f"error: {ICON_SVG} is not a valid SVG")
    pngs = {}
    for size in sorted(sizes):
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        pngs[size] = bytes(data.data())
    return pngs


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding PNG images (Windows Vista and later read PNG entries)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, images = io.BytesIO(), io.BytesIO()
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256
        entries.write(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset))
        images.write(data)
        offset += len(data)
    return header + entries.getvalue() + images.getvalue()


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns whose entries are PNGs (macOS 10.7 and later)."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def icons() -> Path:
    """PNGs for Linux, the .ico for Windows and the .icns for macOS, from the one SVG."""
    out = BUILD / "icons"
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES}
    pngs = _render_pngs(wanted)
    for size in PNG_SIZES:
        (out / f"{NAME}-{size}.png").write_bytes(pngs[size])
    (out / f"{NAME}.ico").write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    (out / f"{NAME}.icns").write_bytes(icns_bytes(pngs))
    shutil.copy2(ICON_SVG, out / f"{NAME}.svg")
    return out


# --- the frozen app -------------------------------------------------------------------------------


def bundle() -> Path:
    """The onedir bundle in dist/sferum-desktop/ (dist/Sferum Desktop.app on macOS too)."""
    translations()
    icons()
    say(f"PyInstaller: Sferum Desktop {version()}")
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", str(ROOT / "packaging" / f"{NAME}.spec"),
            "--noconfirm", "--clean", "--log-level", "WARN",
            "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"),
        ],
        check=True,
        cwd=ROOT,
    )  # fmt: skip
    out = DIST / NAME
    say(f"bundle: {out} ({dir_size(out) / 2**20:.0f} MiB) in {time.monotonic() - started:.0f} s")
    return out


def load_sibling(name: str) -> ModuleType:
    """packaging/<name>.py as a module (packaging/ is not a package: its name is PyPI's)."""
    if f"sferum_packaging_{name}" in sys.modules:
        return sys.modules[f"sferum_packaging_{name}"]
    spec = importlib.util.spec_from_file_location(f"sferum_packaging_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command", choices=("version", "translations", "icons", "bundle", "deb", "all")
    )
    args = parser.parse_args(argv)
    if args.command == "version":
        print(version())
        return 0
    if args.command == "translations":
        print(translations())
    elif args.command == "icons":
        print(icons())
    elif args.command == "bundle":
        print(bundle())
    else:
        deb = load_sibling("deb")
        if args.command == "all":
            bundle()
        print(deb.build_deb(DIST / NAME, deb_version(version()), DIST))
    return 0


if __name__ == "__main__":
    sys.exit(main())
