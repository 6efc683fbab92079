"""packaging/*.py are scripts, not a package (the name `packaging` is PyPI's): load by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


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
def deb_script() -> ModuleType:
    return load("deb")


@pytest.fixture(scope="session")
def smoke_script() -> ModuleType:
    return load("smoke")
