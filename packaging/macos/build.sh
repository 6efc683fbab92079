#!/usr/bin/env bash
# Builds Sferum Desktop for macOS: dist/Sferum Desktop.app and
# dist/sferum-desktop-<version>-macos-<arch>.dmg (arch: arm64 or x86_64, the build machine's).
#
#   packaging/macos/build.sh [--skip-bundle]
#
# 1. creates (or reuses) the virtual environment build/venv-macos and installs the project with
#    its "package" extra (PyInstaller);
# 2. `python packaging/build.py bundle`: translations, icons (build/icons/sferum-desktop.icns)
#    and PyInstaller with packaging/sferum-desktop.spec -> dist/Sferum Desktop.app
#    (--skip-bundle: reuse the .app of an earlier run);
# 3. with MACOS_SIGN_IDENTITY: signs every piece of code inside out (no `codesign --deep`):
#    loose libraries, then nested bundles (QtWebEngineProcess.app with its entitlements, the
#    .framework bundles), then the app itself; hardened runtime and secure timestamps;
# 4. with MACOS_NOTARY_PROFILE as well: notarizes the app (xcrun notarytool) and staples it;
# 5. makes the .dmg (drag to Applications); signs, notarizes and staples it likewise.
#
# Environment:
#   PYTHON                 the Python to create the venv with (default python3; use the
#                          python.org installer's: Homebrew's targets only the running macOS)
#   MACOS_SIGN_IDENTITY    "Developer ID Application: Name (TEAMID)" (or its SHA-1) in the
#                          keychain; unset: the app keeps PyInstaller's ad-hoc signature
#   MACOS_NOTARY_PROFILE   a notarytool keychain profile, made once with
#                          `xcrun notarytool store-credentials PROFILE --apple-id ... --team-id ...`
#
# macOS ships bash 3.2: no associative arrays, no mapfile here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

APP_NAME="Sferum Desktop"
APP="$ROOT/dist/$APP_NAME.app"
MAIN_EXE="$APP/Contents/MacOS/sferum-desktop"
VENV="$ROOT/build/venv-macos"
PY="$VENV/bin/python"
WORK="$ROOT/build/macos"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
WEBENGINE_ENTITLEMENTS="$WORK/entitlements-webengine.plist"
SIGN_IDENTITY="${MACOS_SIGN_IDENTITY:-}"
NOTARY_PROFILE="${MACOS_NOTARY_PROFILE:-}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

SKIP_BUNDLE=0
for arg in "$@"; do
    case "$arg" in
        --skip-bundle) SKIP_BUNDLE=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done

[ "$(uname -s)" = Darwin ] || die "this builds the macOS app: run it on macOS"
if [ -n "$NOTARY_PROFILE" ] && [ -z "$SIGN_IDENTITY" ]; then
    die "MACOS_NOTARY_PROFILE needs MACOS_SIGN_IDENTITY: only signed code can be notarized"
fi
for tool in codesign hdiutil ditto xcrun; do
    command -v "$tool" >/dev/null || die "$tool not found: install the Xcode command line tools (xcode-select --install)"
done

# --- 1. the virtual environment -------------------------------------------------------------------

if [ ! -x "$PY" ]; then
    BASE_PYTHON="${PYTHON:-python3}"
    "$BASE_PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "$BASE_PYTHON is not Python 3.11 or later: install it from python.org or set PYTHON"
    say "virtual environment: $VENV"
    "$BASE_PYTHON" -m venv "$VENV"
fi
"$PY" -m pip install --disable-pip-version-check --upgrade pip
"$PY" -m pip install --disable-pip-version-check -e '.[package]'

VERSION="$("$PY" packaging/build.py version)"
ARCH="$(uname -m)"
DMG="$ROOT/dist/sferum-desktop-$VERSION-macos-$ARCH.dmg"
say "Sferum Desktop $VERSION ($ARCH)"

# --- 2. the app bundle ----------------------------------------------------------------------------

if [ "$SKIP_BUNDLE" = 0 ]; then
    # PyInstaller ad-hoc signs the .app (codesign --deep) and by default only warns when that
    # fails; a bundle it cannot sign would not start on Apple silicon, so stop there instead.
    PYINSTALLER_STRICT_BUNDLE_CODESIGN_ERROR=1 "$PY" packaging/build.py bundle
fi
[ -x "$MAIN_EXE" ] || die "missing $MAIN_EXE (run without --skip-bundle)"
# Smoke test: the frozen program starts and reports the version being packaged.
reported="$("$MAIN_EXE" --version)"
[ "$reported" = "sferum-desktop $VERSION" ] || die "sferum-desktop --version said '$reported'"

mkdir -p "$WORK"

# --- 3. code signing, inside out ------------------------------------------------------------------

sign() {  # sign [codesign options] PATH: Developer ID, hardened runtime, secure timestamp
    codesign --force --timestamp --options runtime --sign "$SIGN_IDENTITY" "$@"
}

# Paths below Contents/ that are not inside a nested bundle (.app, .framework): a nested
# bundle's code is sealed when the bundle itself is signed.
outside_nested_bundles() {
    case "${1#"$APP/Contents/"}" in
        *.app/*|*.framework/*) return 1 ;;
        *) return 0 ;;
    esac
}

if [ -n "$SIGN_IDENTITY" ]; then
    say "signing with: $SIGN_IDENTITY"
    # Finder metadata and resource forks make codesign refuse the bundle.
    xattr -cr "$APP"

    # QtWebEngineProcess runs Chromium's renderer (V8): it needs one more exception.
    cp "$ENTITLEMENTS" "$WEBENGINE_ENTITLEMENTS"
    /usr/libexec/PlistBuddy -c \
        'Add :com.apple.security.cs.disable-executable-page-protection bool true' \
        "$WEBENGINE_ENTITLEMENTS"

    # a) Loose Mach-O files: Python's extension modules, dylibs, Qt plugins. Symbolic links (the
    #    cross-links PyInstaller makes between Contents/Frameworks and Contents/Resources) are
    #    skipped by -type f. The main executable is signed with the app, at the end.
    count=0
    while IFS= read -r -d '' file; do
        [ "$file" = "$MAIN_EXE" ] && continue
        outside_nested_bundles "$file" || continue
        case "$(file -b "$file")" in
            Mach-O*)
                # codesign reports every file on stderr; show it only when it fails.
                if ! out="$(sign "$file" 2>&1)"; then
                    printf '%s\n' "$out" >&2
                    die "codesign failed: $file"
                fi
                count=$((count + 1)) ;;
        esac
    done < <(find "$APP/Contents" -type f -print0)
    say "signed $count libraries"

    # b) Nested bundles, deepest first, so that a helper app is signed before the framework
    #    that holds it (QtWebEngineCore.framework/Versions/A/Helpers/QtWebEngineProcess.app).
    #    find does not follow symbolic links: each bundle is reached by its real path only.
    while IFS= read -r bundle; do
        case "$bundle" in
            *.app)
                say "signing ${bundle#"$APP/"} (entitlements: QtWebEngine)"
                sign --entitlements "$WEBENGINE_ENTITLEMENTS" "$bundle" ;;
            *)
                sign "$bundle" ;;
        esac
    done < <(find "$APP/Contents" -type d \( -name '*.app' -o -name '*.framework' \) \
                | awk -F/ '{ print NF "\t" $0 }' | sort -rn -k1,1 | cut -f2-)

    # c) The app: seals Contents/Resources and signs the main executable with the entitlements.
    sign --entitlements "$ENTITLEMENTS" "$APP"
    # (--deep is right for verifying: it checks every nested signature; it is wrong only for
    # signing, where it would give the helper the app's entitlements.)
    codesign --verify --deep --strict --verbose=2 "$APP"
else
    say "MACOS_SIGN_IDENTITY not set: the app keeps PyInstaller's ad-hoc signature (not for distribution)"
fi

# --- 4. notarization ------------------------------------------------------------------------------

notarize() {  # notarize FILE (a .zip or a .dmg): submit, wait, fail with Apple's log if refused
    local out status id
    say "notarizing $(basename "$1") (this takes minutes)"
    out="$(xcrun notarytool submit "$1" --keychain-profile "$NOTARY_PROFILE" --wait \
            --output-format json)" || true
    status="$(printf '%s' "$out" | "$PY" -c 'import json, sys; print(json.load(sys.stdin).get("status", ""))' 2>/dev/null || true)"
    id="$(printf '%s' "$out" | "$PY" -c 'import json, sys; print(json.load(sys.stdin).get("id", ""))' 2>/dev/null || true)"
    if [ "$status" != "Accepted" ]; then
        printf '%s\n' "$out" >&2
        if [ -n "$id" ]; then
            xcrun notarytool log "$id" --keychain-profile "$NOTARY_PROFILE" >&2 || true
        fi
        die "notarization of $(basename "$1") ended with status '${status:-unknown}'"
    fi
}

if [ -n "$NOTARY_PROFILE" ]; then
    ZIP="$WORK/sferum-desktop-$VERSION-macos-$ARCH.zip"
    rm -f "$ZIP"
    ditto -c -k --sequesterRsrc --keepParent "$APP" "$ZIP"
    notarize "$ZIP"
    xcrun stapler staple "$APP"
    xcrun stapler validate "$APP"
    spctl --assess --type execute --verbose=2 "$APP"
fi

# --- 5. the disk image ----------------------------------------------------------------------------

STAGE="$WORK/dmg"
rm -rf "$STAGE"
mkdir -p "$STAGE"
ditto "$APP" "$STAGE/$APP_NAME.app"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "$APP_NAME" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
rm -rf "$STAGE"

if [ -n "$SIGN_IDENTITY" ]; then
    codesign --force --timestamp --sign "$SIGN_IDENTITY" "$DMG"
fi
if [ -n "$NOTARY_PROFILE" ]; then
    notarize "$DMG"
    xcrun stapler staple "$DMG"
    spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
fi

say "disk image: $DMG ($(du -h "$DMG" | cut -f1))"
printf '%s\n' "$DMG"
