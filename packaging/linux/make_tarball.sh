#!/usr/bin/env bash
# Pack the Linux bundle into dist/FusionViewer-<version>-linux-x86_64.tar.gz with install.sh,
# the .desktop entry, the NIfTI MIME type and the icons. Builds the bundle first if missing.
#     bash packaging/linux/make_tarball.sh [--bundle DIR] [--out DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/packaging/linux
BUNDLE=$ROOT/dist/FusionViewer
OUT=$ROOT/dist
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) BUNDLE=$(cd "$2" && pwd); shift 2 ;;
    --out) mkdir -p "$2"; OUT=$(cd "$2" && pwd); shift 2 ;;
    *) echo "make_tarball.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$BUNDLE/FusionViewer" ] || bash "$ROOT/packaging/build.sh"

# `FusionViewer --version` prints "fusionviewer X.Y.Z"
VERSION=$("$BUNDLE/FusionViewer" --version | awk '{print $NF}')
[ -n "$VERSION" ] || { echo "make_tarball.sh: could not read the version" >&2; exit 1; }
NAME=FusionViewer-$VERSION-linux-$(uname -m)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/$NAME/icons"
cp -a "$BUNDLE" "$STAGE/$NAME/FusionViewer"
cp "$HERE/install.sh" "$HERE/fusionviewer.desktop" "$HERE/fusionviewer-mime.xml" "$STAGE/$NAME/"
cp "$ROOT"/resources/icons/fusionviewer-*.png "$STAGE/$NAME/icons/"
chmod +x "$STAGE/$NAME/install.sh"
tar -C "$STAGE" -czf "$OUT/$NAME.tar.gz" "$NAME"
echo "$OUT/$NAME.tar.gz ($(du -h "$OUT/$NAME.tar.gz" | cut -f1))"
