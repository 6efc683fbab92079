"""Write the sandbox's OpenAPI document to docs/openapi.json (`--check`: only compare)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    """The document the sandbox serves at /openapi.json (built without a database)."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import create_engine

    from sferum_desktop.sandbox.app import create_app
    from sferum_desktop.sandbox.common import SandboxState

    state = SandboxState(engine=create_engine("sqlite://"), data_dir=ROOT, dataset="demo", seed=1)
    return create_app(state).openapi()


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json differs")
    args = parser.parse_args(argv)
    text = dumps(document())
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run scripts/export_openapi.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
