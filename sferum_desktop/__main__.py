"""The `sferum-desktop` launcher: routes to the sandbox server, the headless CLI or the GUI.

It is the only module that may reach both the client and the sandbox, and it does so
lazily, so `sferum-desktop --version` and the headless commands never load Qt.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sferum_desktop import __version__

_USAGE = """\
usage: sferum-desktop [--version] [--demo] [--profile NAME]
       sferum-desktop sandbox [--host H] [--port N] [--data DIR] [--dataset NAME] [--seed N]

commands:
  sandbox    the local server that emulates ESh, VK ID and Sferum
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch on the first argument; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"sferum-desktop {__version__}")
        return 0
    if args[:1] in (["-h"], ["--help"]):
        print(_USAGE, end="")
        return 0
    if args[:1] == ["sandbox"]:
        from sferum_desktop.sandbox.server import main as sandbox_main

        return sandbox_main(args[1:])
    if args[:1] == ["--demo"] and len(args) == 1:
        # Until the desktop window lands, the demo is the sandbox with the demo school.
        from sferum_desktop.sandbox.server import main as sandbox_main

        return sandbox_main(["--dataset", "demo"])
    print(_USAGE, end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
