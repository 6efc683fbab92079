"""The Linux .deb of Sferum Desktop, built from the PyInstaller bundle with dpkg-deb.

Layout of the package:

    /opt/sferum-desktop/                         the onedir bundle (Qt as separate libraries)
    /usr/bin/sferum-desktop                      -> ../../opt/sferum-desktop/sferum-desktop
    /usr/share/applications/sferum-desktop.desktop
    /usr/share/icons/hicolor/<N>x<N>/apps/sferum-desktop.png, scalable/apps/sferum-desktop.svg
    /usr/share/metainfo/ru.sferum_desktop.metainfo.xml
    /usr/lib/systemd/system/sferum-desktop-sync.{service,timer}   (installed, not enabled)
    /usr/lib/sysusers.d/sferum-desktop.conf      the sferum-sync system user of the service
    /usr/share/doc/sferum-desktop/               copyright, README.md, sync.env.example

`Depends` is worked out from the bundle itself: every shared library that an ELF file of the
bundle needs and the bundle does not carry is looked up in the system's library cache and
mapped to its Debian package (as dpkg-shlibdeps would, without needing a debian/ tree).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "sferum-desktop"
# To be set once the project has a public home and a support address (then also Homepage).
MAINTAINER = "Sferum Desktop developers <sferum-desktop@localhost>"
HOMEPAGE = ""
# Needed whatever the ELF scan finds: the system's CA certificates (the ESh, VK ID and Sferum
# servers are reached over TLS).
EXTRA_DEPENDS = ("ca-certificates",)
# A Secret Service for the sign-in to be remembered (without one it lasts until the app closes).
RECOMMENDS = ("gnome-keyring | kwalletmanager | keepassxc", "fonts-dejavu-core | fonts-liberation2")
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)

DESKTOP_ENTRY = """\
[Desktop Entry]
Type=Application
Version=1.4
Name=Sferum Desktop
GenericName=Chats of Sferum from the e-school
GenericName[ru]=Чаты Сферума из ЭШ
Comment=Manage the school's Sferum chats from the electronic school system
Comment[ru]=Чаты и видеовстречи Сферума школы из электронной школы (ЭШ)
Exec=sferum-desktop
Icon=sferum-desktop
Terminal=false
Categories=Education;
Keywords=Sferum;ESh;school;chat;Сферум;ЭШ;школа;чат;
StartupNotify=true
StartupWMClass=sferum-desktop
Actions=demo;

[Desktop Action demo]
Name=Demo environment
Name[ru]=Учебная среда «Демо»
Exec=sferum-desktop --demo
"""

METAINFO = """\
<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>ru.sferum_desktop</id>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>GPL-3.0-or-later</project_license>
  <name>Sferum Desktop</name>
  <summary>Manage the school's Sferum chats from the electronic school system</summary>
  <summary xml:lang="ru">Чаты Сферума школы из электронной школы (ЭШ)</summary>
  <description>
    <p>Teachers link their ESh account to a Sferum educational profile through VK ID, see
    their chats and video conferences and create subject chats; the school's Sferum
    administrator manages the chats registry, and the automatic mode keeps class, parent,
    staff and subject chats in step with the roster.</p>
  </description>
  <launchable type="desktop-id">sferum-desktop.desktop</launchable>
  <categories><category>Education</category></categories>
  <releases><release version="{version}" date="{date}"/></releases>
</component>
"""

SYSUSERS = """\
# The system user of sferum-desktop-sync.service (the automatic sync); see packaging/README.md.
u sferum-sync - "Sferum Desktop sync" /var/lib/sferum-desktop-sync /usr/sbin/nologin
"""

POSTINST = """\
#!/bin/sh
# Sferum Desktop: register the menu entry and icons; create the sync service's user.
# Works under `dpkg --root` too: every step is skipped or pointed at $DPKG_ROOT.
set -e
if [ "$1" = "configure" ]; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} sferum-desktop.conf || true
    fi
    if [ -z "$DPKG_ROOT" ]; then
        if command -v update-desktop-database >/dev/null 2>&1; then
            update-desktop-database -q /usr/share/applications || true
        fi
        if command -v gtk-update-icon-cache >/dev/null 2>&1; then
            gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
        fi
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload >/dev/null 2>&1 || true
        fi
    fi
fi
exit 0
"""

PRERM = """\
#!/bin/sh
# Sferum Desktop: stop the sync timer before the program goes away (it stays enabled on upgrade).
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
    systemctl disable --now sferum-desktop-sync.timer >/dev/null 2>&1 || true
fi
exit 0
"""

POSTRM = """\
#!/bin/sh
# Sferum Desktop: refresh the menu and icon caches. User data in home folders is kept.
set -e
# QtWebEngine makes an empty resources/locales folder in the bundle when it may (run as root):
# take such empty folders away with the package, nothing else.
if [ "$1" = "remove" ] || [ "$1" = "purge" ]; then
    if [ -d "$DPKG_ROOT/opt/sferum-desktop" ]; then
        find "$DPKG_ROOT/opt/sferum-desktop" -depth -type d -empty -delete 2>/dev/null || true
    fi
fi
if [ -z "$DPKG_ROOT" ]; then
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q /usr/share/applications || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload >/dev/null 2>&1 || true
    fi
fi
exit 0
"""

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sferum-desktop
Source: {source}

Files: *
Copyright: Sferum Desktop developers
License: GPL-3.0-or-later
 On Debian systems, the full text is in /usr/share/common-licenses/GPL-3.

Files: opt/sferum-desktop/_internal/PySide6/* opt/sferum-desktop/_internal/shiboken6/*
Copyright: The Qt Company Ltd. and other contributors
License: LGPL-3.0-only
 Qt and Qt for Python (PySide6) are dynamically linked, separate shared libraries in
 /opt/sferum-desktop/_internal/PySide6/Qt/lib: they may be replaced with another build of
 the same version. Sources: https://download.qt.io/official_releases/qt/ and
 https://code.qt.io/cgit/pyside/pyside-setup.git/. The full text is in
 /usr/share/common-licenses/LGPL-3 and in
 /opt/sferum-desktop/_internal/resources/licenses/LGPL-3.0.txt.

Files: opt/sferum-desktop/_internal/*.dist-info/*
Comment: The Python packages bundled with the program; each one's licence is in its
 dist-info folder, and the program lists them all under «Справка → О программе».
"""


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


# --- Depends from the ELF files -------------------------------------------------------------------

_NEEDED = re.compile(r"^\s*NEEDED\s+(\S+)", re.MULTILINE)


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def needed_libraries(bundle: Path) -> set[str]:
    """The sonames the bundle's ELF files need and the bundle itself does not carry."""
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    carried = {p.name for p in bundle.rglob("*") if p.is_file() or p.is_symlink()}
    needed: set[str] = set()
    for start in range(0, len(files), 200):
        chunk = files[start : start + 200]
        out = subprocess.run(
            ["objdump", "-p", *map(str, chunk)], check=False, capture_output=True, text=True
        ).stdout
        needed.update(_NEEDED.findall(out))
    return {soname for soname in needed if soname not in carried}


def library_cache() -> dict[str, list[str]]:
    """soname -> paths, from `ldconfig -p`."""
    out = subprocess.run(
        ["/sbin/ldconfig", "-p"], check=True, capture_output=True, text=True
    ).stdout
    arch_tag = {"amd64": "x86-64", "arm64": "AArch64"}.get(architecture(), "")
    cache: dict[str, list[str]] = {}
    for line in out.splitlines()[1:]:
        match = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if match and (not arch_tag or arch_tag in match.group(2)):
            cache.setdefault(match.group(1), []).append(match.group(3))
    return cache


def owning_package(path: str) -> str | None:
    """The Debian package that ships `path` (resolving /lib -> /usr/lib and symlinks)."""
    candidates = [path, os.path.realpath(path)]
    candidates += [c.replace("/usr/lib/", "/lib/", 1) for c in candidates if c.startswith("/usr/")]
    candidates += [c.replace("/lib/", "/usr/lib/", 1) for c in candidates if c.startswith("/lib/")]
    for candidate in dict.fromkeys(candidates):
        result = subprocess.run(
            ["dpkg-query", "-S", candidate], check=False, capture_output=True, text=True
        )
        if result.returncode == 0:
            package = result.stdout.split(":", 1)[0].strip()
            return package.split(",")[0].strip()
    return None


def depends(bundle: Path) -> tuple[list[str], list[str]]:
    """(Debian packages the bundle needs, sonames no installed package provides)."""
    cache = library_cache()
    packages: set[str] = set()
    unresolved = []
    for soname in sorted(needed_libraries(bundle)):
        paths = cache.get(soname)
        package = next((p for p in map(owning_package, paths or []) if p), None)
        if package is None:
            unresolved.append(soname)
        else:
            packages.add(package)
    return sorted(packages | set(EXTRA_DEPENDS)), unresolved


# --- the package -------------------------------------------------------------------------------


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    path.chmod(mode)


def stage(bundle: Path, version: str, root: Path) -> None:
    """The package's file tree under `root` (without DEBIAN/)."""
    if root.exists():
        shutil.rmtree(root)
    opt = root / "opt" / NAME
    shutil.copytree(bundle, opt, symlinks=True)
    for path in [opt, *opt.rglob("*")]:  # no group/other write bits, whatever the umask was
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o755)
    usr_bin = root / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / NAME).symlink_to(Path("..", "..", "opt", NAME, NAME))
    share = root / "usr" / "share"
    _write(share / "applications" / f"{NAME}.desktop", DESKTOP_ENTRY)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    _write(share / "metainfo" / "ru.sferum_desktop.metainfo.xml",
           METAINFO.format(version=version, date=date))  # fmt: skip
    icons = ROOT / "build" / "icons"
    for size in ICON_SIZES:
        png = icons / f"{NAME}-{size}.png"
        _write(share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{NAME}.png",
               png.read_bytes())  # fmt: skip
    _write(share / "icons" / "hicolor" / "scalable" / "apps" / f"{NAME}.svg",
           (ROOT / "resources" / "icons" / f"{NAME}.svg").read_bytes())  # fmt: skip
    systemd = ROOT / "packaging" / "systemd"
    for unit in ("sferum-desktop-sync.service", "sferum-desktop-sync.timer"):
        _write(root / "usr" / "lib" / "systemd" / "system" / unit, (systemd / unit).read_bytes())
    _write(root / "usr" / "lib" / "sysusers.d" / f"{NAME}.conf", SYSUSERS)
    doc = share / "doc" / NAME
    source = HOMEPAGE or "distributed with the program (no public repository yet)"
    _write(doc / "copyright", COPYRIGHT.format(source=source))
    _write(doc / "README.md", (ROOT / "packaging" / "README.md").read_bytes())
    _write(doc / "examples" / "sync.env.example", (systemd / "sync.env.example").read_bytes())
    changelog = (
        f"{NAME} ({version}) unstable; urgency=medium\n\n"
        f"  * Release {version}.\n\n"
        f" -- {MAINTAINER}  {datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
    )
    _write(doc / "changelog.Debian.gz", gzip.compress(changelog.encode(), mtime=0))


def control(root: Path, version: str, arch: str, needs: list[str]) -> str:
    installed_kib = sum(
        (p.lstat().st_size + 1023) // 1024 for p in root.rglob("*") if not p.is_dir()
    )
    return (
        f"Package: {NAME}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(needs)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        "Section: education\n"
        "Priority: optional\n"
        + (f"Homepage: {HOMEPAGE}\n" if HOMEPAGE else "")
        + "Description: school's Sferum chats from the electronic school system (ESh)\n"
        " Sferum Desktop lets school staff manage their school's Sferum chats from the\n"
        " electronic school system: teachers link their account to a Sferum educational\n"
        " profile through VK ID, see their chats and video conferences and create subject\n"
        " chats; the school's Sferum administrator manages the chats registry, and the\n"
        " automatic mode (sferum-desktop-sync.timer) keeps class, parent, staff and\n"
        " subject chats in step with the roster.\n"
    )


def build_deb(bundle: Path, version: str, dist: Path) -> Path:
    """Stage, describe and pack the .deb of `version` (a Debian version); returns its path."""
    if not (bundle / NAME).is_file():
        raise SystemExit(f"error: no bundle at {bundle}: run `python packaging/build.py bundle`")
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("error: dpkg-deb is missing (a Debian or Ubuntu system is needed)")
    arch = architecture()
    root = ROOT / "build" / "deb" / "root"
    say(f".deb: staging {NAME} {version} ({arch})")
    stage(bundle, version, root)
    needs, unresolved = depends(bundle)
    if unresolved:
        # Libraries of optional Qt plugins (e.g. a platform this machine lacks) that no
        # installed package provides: the plugin is skipped at run time where they are absent.
        say("no installed package provides (left out of Depends): " + ", ".join(unresolved))
    debian = root / "DEBIAN"
    _write(debian / "control", control(root, version, arch, needs))
    _write(debian / "postinst", POSTINST, 0o755)
    _write(debian / "prerm", PRERM, 0o755)
    _write(debian / "postrm", POSTRM, 0o755)
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / f"{NAME}_{version}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    say(f".deb: {out.name} ({out.stat().st_size / 2**20:.1f} MiB); Depends: {', '.join(needs)}")
    return out
