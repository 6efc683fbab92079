"""The frozen app's entry point: the same launcher as the `sferum-desktop` console script."""

import sys

from sferum_desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
