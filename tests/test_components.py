"""The bundled components and their licences, read from the installed metadata (no Qt)."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from sferum_desktop import __version__, components
from sferum_desktop.components import (
    marker_applies,
    normalize,
    parse_requirement,
    runtime_distributions,
)

ROOT = Path(__file__).resolve().parent.parent


def names(values: list[str]) -> set[str]:
    return {normalize(v) for v in values}


def test_runtime_distributions_follow_the_requirements() -> None:
    found = names(components.runtime_distributions())
    for needed in ("httpx", "PySide6-Essentials", "PySide6-Addons", "shiboken6", "qasync"):
        assert normalize(needed) in found, needed
    assert "httpcore" in found  # httpx's own requirement
    for test_only in ("pytest", "pytest-qt", "hypothesis", "mypy", "ruff", "vk-api"):
        assert normalize(test_only) not in found, test_only
    assert "sferum-desktop" not in found


def test_without_the_apps_metadata_the_pyproject_list_stands_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = metadata.distribution

    def distribution(name: str) -> metadata.Distribution:
        if normalize(name) == "sferum-desktop":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)
    found = names(components.runtime_distributions())
    assert {"httpx", "pyside6-essentials", "httpcore"} <= found
    assert "pytest" not in found


def test_the_fallback_list_is_pyprojects_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0] for d in project["dependencies"]]
    assert names(list(components.FALLBACK_REQUIREMENTS)) == names(declared)


def test_requirements_are_parsed() -> None:
    assert parse_requirement('pytest>=8; extra == "test"') == (
        "pytest",
        frozenset(),
        'extra == "test"',
    )
    assert parse_requirement("uvicorn[standard, Foo_Bar]>=0.29") == (
        "uvicorn",
        frozenset({"standard", "foo-bar"}),
        "",
    )


@pytest.mark.parametrize(
    ("marker", "extra", "expected"),
    [
        ('extra == "test"', "", False),
        ('extra == "test"', "test", True),
        ("extra == 'Test_Extra'", "test-extra", True),
        ('sys_platform == "win32" and extra == "socks"', "", False),
        ('python_version < "3.11"', "", False),  # packaging evaluates it
        ('sys_platform == "linux" or sys_platform == "darwin"', "", sys.platform != "win32"),
    ],
)
def test_markers_are_evaluated_with_packaging(marker: str, extra: str, expected: bool) -> None:
    pytest.importorskip("packaging.markers")
    assert marker_applies(marker, extra) is expected


def test_without_packaging_only_extras_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A requirement for another platform is taken as applying: it is not installed, so the
    walk skips it anyway (checked below with the real metadata)."""
    monkeypatch.setitem(sys.modules, "packaging.markers", None)  # import fails
    assert marker_applies('extra == "test"') is False
    assert marker_applies('extra == "test"', "test") is True
    assert marker_applies('python_version < "3.11"') is True
    assert marker_applies('sys_platform == "win32"') is True
    without = runtime_distributions()
    monkeypatch.delitem(sys.modules, "packaging.markers")
    assert names(without) == names(runtime_distributions())


def test_bundled_components_have_versions_and_licences() -> None:
    listed = components.bundled_components("6.9.9", "130.0")
    by_name = {normalize(c.name): c for c in listed}
    assert [c.name for c in listed[:3]] == ["Sferum Desktop", "Python", "Qt"]
    app = listed[0]
    assert (app.version, app.license) == (__version__, "GPL-3.0-or-later")
    python = by_name["python"]
    assert python.version == ".".join(map(str, sys.version_info[:3]))
    assert python.license == "PSF-2.0"
    qt = by_name["qt"]
    assert qt.version == "6.9.9" and "LGPL-3.0" in qt.license
    assert {p.name for p in qt.license_files} == {"LGPL-3.0.txt", "GPL-3.0.txt"}
    chromium = next(c for c in listed if c.name.startswith("Chromium"))
    assert chromium.version == "130.0" and "BSD-3-Clause" in chromium.license
    assert chromium.url == "https://doc.qt.io/qt-6/qtwebengine-licensing.html"
    assert "BSD" in by_name["httpx"].license
    assert by_name["httpx"].license_files  # from the dist-info's licenses/ folder
    for qt_for_python in ("pyside6-essentials", "pyside6-addons", "shiboken6"):
        component = by_name[qt_for_python]
        assert "LGPL-3.0" in component.license
        assert {p.name for p in component.license_files} == {"LGPL-3.0.txt", "GPL-3.0.txt"}
    for component in listed:
        assert component.license.strip(), component
        for path in component.license_files:
            assert path.is_file(), (component.name, path)
    assert len(by_name) == len(listed)  # each once


def test_licence_words_come_from_metadata_in_order() -> None:
    class Fake(metadata.Distribution):
        def __init__(self, fields: dict[str, list[str]]) -> None:
            self.fields = fields

        def read_text(self, filename: str) -> str | None:
            if filename != "METADATA":
                return None
            lines = [f"{key}: {value}" for key, values in self.fields.items() for value in values]
            return "\n".join(["Metadata-Version: 2.4", "Name: fake", "Version: 1", *lines]) + "\n"

        def locate_file(self, path: str | Path) -> Path:  # type: ignore[override]
            return Path(path)

    classifier = "License :: OSI Approved :: MIT License"
    cases = [
        ({"License-Expression": ["Apache-2.0"], "License": ["BSD"]}, "Apache-2.0"),
        ({"License": ["BSD-3-Clause"], "Classifier": [classifier]}, "BSD-3-Clause"),
        ({"License": ["x" * 200], "Classifier": [classifier]}, "MIT License"),
        ({}, components.UNKNOWN_LICENSE),
    ]
    for fields, expected in cases:
        assert components.license_of(Fake(fields)) == expected
    home = Fake({"Project-URL": ["Docs, https://d.example", "Source, https://s.example"]})
    assert components.url_of(home) == "https://s.example"
    assert components.url_of(Fake({"Home-page": ["https://h.example"]})) == "https://h.example"
