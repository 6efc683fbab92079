"""The «О программе» dialog for docs/screenshots, and the app icon as a PNG (run under Xvfb).

    xvfb-run -a .venv/bin/python scripts/about_screenshot.py [OUT_DIR] [--icon ICON_PNG]

Shows the dialog as the app does (its names, translators and window icon), selects «Qt» so
the LGPL text is on view, and saves the dialog's own pixels (`QWidget.grab()`) as
`13-about.png`. With `--icon`, the SVG icon is also rendered at 256 px.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--icon", metavar="PNG", help="also render the app icon to this file")
    args = parser.parse_args()
    # A private HOME: the screenshot must not read (or write) the user's settings.
    home = tempfile.mkdtemp(prefix="sferum-about-")
    os.environ["HOME"] = home
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))

    from PySide6.QtCore import QSize, QTimer
    from PySide6.QtGui import QIcon

    from sferum_desktop.ui.about import AboutDialog, icon_path
    from sferum_desktop.ui.app import create_application

    app = create_application([sys.argv[0]])
    dialog = AboutDialog()
    dialog.select("Qt")
    dialog.show()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def shoot() -> None:
        path = out / "13-about.png"
        dialog.grab().save(str(path))
        print(f"saved {path}", flush=True)
        if args.icon:
            QIcon(str(icon_path())).pixmap(QSize(256, 256)).save(args.icon)
            print(f"saved {args.icon}", flush=True)
        dialog.close()
        app.quit()

    QTimer.singleShot(1500, shoot)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
