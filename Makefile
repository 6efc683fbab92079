# Build and check the packages. Each target sets the project up first (scripts/dev setup:
# system libraries through apt, .venv), so it works from a clean clone.
.PHONY: package smoke test demo clean

package:  ## dist/sferum-desktop/ (PyInstaller onedir) and dist/sferum-desktop_<version>_<arch>.deb
	bash scripts/dev package

smoke:  ## start the frozen app with --demo, sign in, quit; install the .deb into a scratch root
	bash scripts/dev smoke

test:  ## linters, the test suite, then package and smoke
	bash scripts/dev test

demo:
	bash scripts/dev demo

clean:
	rm -rf build dist
