"""The components Sferum Desktop ships with, their versions and licences (no Qt here).

`runtime_distributions()` walks the installed metadata from `sferum-desktop`'s own
requirements: the packaging spec copies the metadata of each into the bundle, so the frozen
app answers the same. `bundled_components()` is what «О программе» lists. Data only: the
dialog (`ui.about`) writes the user-facing words.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final

from sferum_desktop import __version__, paths

DISTRIBUTION: Final = "sferum-desktop"
APP_NAME: Final = "Sferum Desktop"
APP_LICENSE: Final = "GPL-3.0-or-later"
APP_URL: Final = ""  # no public home yet: the source comes with the program
QT_LICENSE: Final = "LGPL-3.0-only"
QT_URL: Final = "https://www.qt.io/"
QT_SOURCE_URL: Final = "https://download.qt.io/official_releases/qt/"
PYSIDE_SOURCE_URL: Final = "https://code.qt.io/cgit/pyside/pyside-setup.git/"
CHROMIUM_LICENSE: Final = "BSD-3-Clause AND others"
CHROMIUM_URL: Final = "https://doc.qt.io/qt-6/qtwebengine-licensing.html"
# SPDX's word for "the metadata does not say": the dialog shows «см. текст лицензии».
UNKNOWN_LICENSE: Final = "NOASSERTION"

# The distributions of Qt for Python: Qt's licence, with no licence file in their metadata.
QT_FOR_PYTHON: Final = frozenset({"pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6"})

# pyproject's `dependencies`, for when the metadata of `sferum-desktop` itself is missing
# (a bundle built without it); tests keep the two lists equal.
FALLBACK_REQUIREMENTS: Final = (
    "PySide6-Essentials",
    "PySide6-Addons",
    "qasync",
    "httpx",
    "sqlalchemy",
    "keyring",
    "pydantic",
    "platformdirs",
    "fastapi",
    "uvicorn",
    "python-multipart",
    "openpyxl",
)

_LICENSE_FILE_PREFIXES: Final = ("licen", "copying", "notice")


@dataclass(frozen=True)
class Component:
    """One bundled component: what it is, which version, under which licence."""

    name: str
    version: str
    license: str
    url: str = ""
    license_files: tuple[Path, ...] = ()


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it: lowercase, runs of `-_.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- requirements and their markers ------------------------------------------------------------

_REQUIREMENT: Final = re.compile(
    r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?"
)


def parse_requirement(text: str) -> tuple[str, frozenset[str], str]:
    """`name[extras] spec; marker` as (name, extras, marker); the marker may be ''."""
    requirement, _, marker = text.partition(";")
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {text!r}")
    extras = frozenset(normalize(e.strip()) for e in (match.group(2) or "").split(",") if e.strip())
    return match.group(1), extras, marker.strip()


_EXTRA: Final = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]""")


def marker_applies(marker: str, extra: str = "") -> bool:
    """Whether a PEP 508 marker holds here, with `extra` as the requested extra ('' for none).

    `packaging` (pip's and PyInstaller's dependency) decides when it is importable. Without
    it, only the extras are told apart: a requirement of an extra counts for that extra, any
    other is taken to apply. That is enough here, because the walk ships only what is
    installed, and what a marker excludes on this platform is not installed.
    """
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:
        named = {normalize(name) for name in _EXTRA.findall(marker)}
        return normalize(extra) in named if named else True
    return bool(Marker(marker).evaluate({"extra": extra}))


# --- distributions -----------------------------------------------------------------------------


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _walk(seeds: Iterable[tuple[str, frozenset[str]]]) -> list[metadata.Distribution]:
    """The installed distributions reachable from `seeds` (name, extras), each once."""
    found: dict[str, metadata.Distribution] = {}
    wanted: dict[str, set[str]] = {}
    queue = list(seeds)
    while queue:
        name, extras = queue.pop()
        key = normalize(name)
        seen = wanted.setdefault(key, set())
        new_extras = set(extras) - seen
        if key in found and not new_extras:
            continue
        seen.update(extras)
        dist = found.get(key) or _installed(name)
        if dist is None:
            continue  # not installed here (e.g. a platform's own backend): nothing to ship
        first_visit = key not in found
        found[key] = dist
        for text in dist.requires or []:
            child, child_extras, marker = parse_requirement(text)
            # On the first visit the plain requirements; each new extra adds its own.
            extra_set = ({""} if first_visit else set()) | new_extras
            if any(marker_applies(marker, extra) for extra in extra_set):
                queue.append((child, child_extras))
    return sorted(found.values(), key=lambda d: normalize(_name(d)))


def _runtime(dist: metadata.Distribution | None) -> list[metadata.Distribution]:
    if dist is None:
        seeds = [(name, frozenset[str]()) for name in FALLBACK_REQUIREMENTS]
    else:
        seeds = []
        for text in dist.requires or []:
            name, extras, marker = parse_requirement(text)
            if marker_applies(marker):  # `extra == "test"` is false with no extra requested
                seeds.append((name, extras))
    return _walk(seeds)


def runtime_distributions() -> list[str]:
    """The installed distributions the app needs to run, by their metadata names, sorted.

    Starts from `sferum-desktop`'s requirements (without its extras, with this platform's
    markers), or from pyproject's dependency names when that metadata is missing, and follows
    each requirement's own requirements. `sferum-desktop` itself is not in the list.
    """
    return [_name(d) for d in _runtime(_installed(DISTRIBUTION))]


# --- components --------------------------------------------------------------------------------


def _resource_licenses(*names: str) -> tuple[Path, ...]:
    folder = paths.resources_dir() / "licenses"
    return tuple(path for path in (folder / name for name in names) if path.is_file())


def qt_license_files() -> tuple[Path, ...]:
    """The texts Qt's open-source licence needs shown: LGPL-3.0 and the GPL-3.0 it extends."""
    return _resource_licenses("LGPL-3.0.txt", "GPL-3.0.txt")


def _dist_info_dir(dist: metadata.Distribution) -> Path | None:
    for file in dist.files or []:
        if file.name == "METADATA" and file.parent.name.endswith(".dist-info"):
            return Path(str(dist.locate_file(file))).parent
    path = getattr(dist, "_path", None)  # no RECORD: importlib's own folder of the metadata
    return Path(path) if path is not None else None


def license_files(dist: metadata.Distribution) -> tuple[Path, ...]:
    """The licence texts in a distribution's metadata folder that exist on disk."""
    folder = _dist_info_dir(dist)
    if folder is None:
        return ()
    candidates: list[Path] = []
    for entry in dist.metadata.get_all("License-File") or []:
        candidates += [folder / "licenses" / entry, folder / entry]
    if (folder / "licenses").is_dir():
        candidates += sorted(p for p in (folder / "licenses").rglob("*") if p.is_file())
    candidates += sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.lower().startswith(_LICENSE_FILE_PREFIXES)
    )
    unique: dict[Path, None] = {}
    for path in candidates:
        if path.is_file():
            unique.setdefault(path.resolve(), None)
    return tuple(unique)


def _field(meta: metadata.PackageMetadata, name: str) -> str:
    """A metadata field's first value, '' when absent (indexing a missing one is deprecated)."""
    values = meta.get_all(name)
    return str(values[0]) if values else ""


def _name(dist: metadata.Distribution) -> str:
    return _field(dist.metadata, "Name")


def license_of(dist: metadata.Distribution) -> str:
    """The SPDX-ish licence of a distribution: License-Expression, License, or classifiers."""
    meta = dist.metadata
    expression = (_field(meta, "License-Expression") or "").strip()
    if expression:
        return expression
    text = (_field(meta, "License") or "").strip()
    if text and len(text) < 80 and "\n" not in text and text.upper() != "UNKNOWN":
        return text
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.count("::") >= 2
    ]
    return " OR ".join(classifiers) or UNKNOWN_LICENSE


def url_of(dist: metadata.Distribution) -> str:
    """The project's home: Home-page, else the most home-like Project-URL."""
    meta = dist.metadata
    home = (_field(meta, "Home-page") or "").strip()
    if home:
        return home
    links: dict[str, str] = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, link = entry.partition(",")
        links.setdefault(label.strip().lower().replace(" ", "").replace("-", ""), link.strip())
    for label in ("homepage", "home", "source", "sourcecode", "repository", "documentation"):
        if links.get(label):
            return links[label]
    return next(iter(links.values()), "")


def _component(dist: metadata.Distribution) -> Component:
    name = _name(dist) or "?"
    files = license_files(dist)
    if normalize(name) in QT_FOR_PYTHON:
        files = files or qt_license_files()
    return Component(
        name=name.replace("_", "-"),
        version=dist.version,
        license=license_of(dist),
        url=url_of(dist),
        license_files=files,
    )


def python_license_files() -> tuple[Path, ...]:
    """Python's licence: `resources/licenses/Python-LICENSE.txt` (a bundle has no standard
    library folder of its own), else the interpreter's LICENSE.txt, when there is one."""
    folder = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = (folder / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt")
    return _resource_licenses("Python-LICENSE.txt") or tuple(
        path for path in candidates if path.is_file()
    )


def bundled_components(
    qt_version: str | None = None, chromium_version: str | None = None
) -> list[Component]:
    """Sferum Desktop, Python, Qt (with Chromium in Qt WebEngine), then every runtime package.

    The versions of Qt and Chromium come from the caller (this module does not import Qt);
    without them the Qt for Python version stands in for Qt's, and Chromium's is ''.
    """
    own = _installed(DISTRIBUTION)
    dists = _runtime(own)
    if qt_version is None:
        qt_version = next(
            (d.version for d in dists if normalize(_name(d)) in QT_FOR_PYTHON),
            "",
        )
    info = sys.version_info
    components = [
        Component(APP_NAME, __version__, APP_LICENSE, APP_URL, _resource_licenses("GPL-3.0.txt")),
        Component(
            "Python",
            f"{info.major}.{info.minor}.{info.micro}",
            "PSF-2.0",
            "https://www.python.org/",
            python_license_files(),
        ),
        Component("Qt", qt_version, QT_LICENSE, QT_URL, qt_license_files()),
        Component(
            "Chromium (Qt WebEngine)", chromium_version or "", CHROMIUM_LICENSE, CHROMIUM_URL
        ),
    ]
    components += [_component(dist) for dist in dists]
    return components
