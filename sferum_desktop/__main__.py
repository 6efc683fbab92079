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
       sferum-desktop sync [--profile NAME] [--school ID] [--dry-run] [--watch SECONDS]
                           [--json] [--confirm-held]

  (no command)     the desktop app; --demo: against a demo sandbox it starts itself,
                   --profile NAME: a server profile from profiles.toml

commands:
  sandbox    the local server that emulates ESh, VK ID and Sferum
  sync       the automatic membership sync, headless (no Qt)
"""

_GUI_FLAGS = frozenset({"--demo", "--profile", "--smoke-test"})


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
    if args[:1] == ["sync"]:
        from sferum_desktop.cli import main as cli_main

        return cli_main(args)
    if not args or args[0].split("=", 1)[0] in _GUI_FLAGS:
        from sferum_desktop.ui.app import main as gui_main  # Qt loads only here

        return gui_main(args)
    print(_USAGE, end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
