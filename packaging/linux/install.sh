#!/usr/bin/env bash
# Install FusionViewer for the current user (no root): the app into ~/.local/share/fusionviewer,
# a `fusionviewer` command into ~/.local/bin, the menu entry, icons and the NIfTI MIME type into
# ~/.local/share. Run from the unpacked tarball:
#     ./install.sh               install (or update)
#     ./install.sh --associate   also make FusionViewer the default app for DICOM and NIfTI files
#     ./install.sh --uninstall   remove everything this script installed
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
BIN=${FUSIONVIEWER_BIN_DIR:-$HOME/.local/bin}
APPDIR=$DATA/fusionviewer
ICON_SIZES="16 24 32 48 64 128 256 512"
ASSOCIATE=0
UNINSTALL=0
for arg in "$@"; do
  case $arg in
    --associate) ASSOCIATE=1 ;;
    --uninstall) UNINSTALL=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

refresh() {  # let the desktop pick up the changes; each tool is optional
  command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" >/dev/null 2>&1 || true
  command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" >/dev/null 2>&1 || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" >/dev/null 2>&1 || true
}

if [ "$UNINSTALL" = 1 ]; then
  rm -rf "$APPDIR"
  rm -f "$BIN/fusionviewer" "$DATA/applications/fusionviewer.desktop" "$DATA/mime/packages/fusionviewer-mime.xml"
  for n in $ICON_SIZES; do rm -f "$DATA/icons/hicolor/${n}x${n}/apps/fusionviewer.png"; done
  refresh
  echo "FusionViewer removed."
  exit 0
fi

[ -x "$HERE/FusionViewer/FusionViewer" ] || { echo "install.sh: $HERE/FusionViewer/FusionViewer not found" >&2; exit 1; }
mkdir -p "$DATA/applications" "$DATA/mime/packages" "$BIN"
rm -rf "$APPDIR.new"
cp -a "$HERE/FusionViewer" "$APPDIR.new"
rm -rf "$APPDIR"
mv "$APPDIR.new" "$APPDIR"
ln -sfn "$APPDIR/FusionViewer" "$BIN/fusionviewer"

for n in $ICON_SIZES; do
  if [ -f "$HERE/icons/fusionviewer-$n.png" ]; then
    mkdir -p "$DATA/icons/hicolor/${n}x${n}/apps"
    cp "$HERE/icons/fusionviewer-$n.png" "$DATA/icons/hicolor/${n}x${n}/apps/fusionviewer.png"
  fi
done
cp "$HERE/fusionviewer-mime.xml" "$DATA/mime/packages/fusionviewer-mime.xml"
# Exec/TryExec must be absolute: ~/.local/bin is often not on the desktop session's PATH.
sed -e "s|^Exec=.*|Exec=\"$APPDIR/FusionViewer\" %F|" -e "s|^TryExec=.*|TryExec=$APPDIR/FusionViewer|" \
  "$HERE/fusionviewer.desktop" > "$DATA/applications/fusionviewer.desktop"
refresh

if [ "$ASSOCIATE" = 1 ] && command -v xdg-mime >/dev/null; then
  xdg-mime default fusionviewer.desktop application/dicom application/x-nifti
fi
echo "FusionViewer installed in $APPDIR (command: $BIN/fusionviewer, menu: FusionViewer)."
# Qt's X11 plugin needs system libraries the bundle cannot carry (libxcb, libGL, fontconfig...):
# say now which are missing rather than have the menu entry do nothing.
if ! problem=$(FUSIONVIEWER_PLATFORM_CHECK=libs "$APPDIR/FusionViewer" 2>&1 >/dev/null); then
  echo "$problem" >&2
  echo "install.sh: WARNING: FusionViewer will not open a window until these are installed" \
       "(the command line works without them)." >&2
fi
