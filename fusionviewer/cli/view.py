"""``fusionviewer view SRC1 SRC2 [...]``: open the desktop app with these images and fuse them.

Before Qt starts, ``run`` checks what can be checked without a window, so that the app never
waits for an answer nobody can give (offscreen or ``--screenshot``): the ``--screenshot``
destination (``check_screenshot_target``), the number of sources, and the DICOM series of each
folder (``--series UID``, one per source).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError

NO_SERIES = ("", "-")  # a --series entry for a source that needs none


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "view", help="open the desktop app with images loaded and fused",
        description="Open the desktop app with two or more images loaded (files or DICOM "
                    "folders) and start the fusion. One source opens the app showing it.")
    parser.add_argument("sources_to_view", nargs="+", metavar="SRC",
                        help="images or DICOM folders (two or more to fuse)")
    parser.add_argument("--screenshot", metavar="PNG", default=argparse.SUPPRESS,
                        help="save a screenshot once fusion and metrics are done, then exit "
                             "(works without a display)")
    parser.add_argument("--series", metavar="UID", action="append",
                        help="SeriesInstanceUID to load from a DICOM folder holding several "
                             "series; repeat it once per source, in order ('-' for a source "
                             "that needs none; UID1,UID2 works too). One folder with several "
                             "--series opens that folder once per series")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing --screenshot file")
    parser.add_argument("--layout", choices=("side-by-side", "mpr"), default="side-by-side",
                        help="views: stored slices side by side (default), or axial/coronal/"
                             "sagittal of every image with a linked crosshair and a MIP (mpr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sources = [str(p) for p in args.sources_to_view]
    screenshot = getattr(args, "screenshot", None)
    if screenshot:  # first of all: nothing is loaded when the output is unusable
        args.screenshot = str(check_screenshot_target(screenshot, sources, args.force))
        args.screenshot_checked = True
    sources, uids = series_per_source(sources, args.series)
    headless = bool(screenshot) or _offscreen()
    for src, uid in zip(sources, uids):  # a folder of several series: list them first
        _check_series(src, uid, headless)
    if headless and len(sources) < 2:
        how = "--screenshot" if screenshot else "offscreen (QT_QPA_PLATFORM)"
        raise InputError(
            f"view {how} needs two or more sources to fuse, got {len(sources)} "
            f"({', '.join(sources)}); add the image to fuse it with (for a folder holding "
            "several series: the folder once per series, each with its --series UID), or open "
            "it without --screenshot in a window to look at it alone")
    args.sources_to_view = sources
    args.series_uids = uids

    from ..gui.app import run_app  # imported lazily: Qt only when the app opens

    return run_app(args)


# --- the screenshot destination -------------------------------------------------------------------

def check_screenshot_target(out: str | Path, sources: list[str], force: bool) -> Path:
    """The screenshot's destination through the one output guard (InputError naming ``out``):
    never over a source or into a source folder, an existing file only with ``force``."""
    from ..io.guard import check_destination

    if Path(out).is_dir():
        raise InputError("is a folder; give a file name for the screenshot", str(out))
    return check_destination(out, force=force, sources=[s for s in sources if Path(s).exists()])


# --- DICOM series ------------------------------------------------------------------------------

def series_per_source(sources: list[str], values: list[str] | None
                      ) -> tuple[list[str], list[str | None]]:
    """The sources and one series UID (or None) each, from the repeated ``--series`` values."""
    uids: list[str | None] = []
    for value in values or []:
        uids += [None if v.strip() in NO_SERIES else v.strip() for v in value.split(",")]
    if not uids:
        return sources, [None] * len(sources)
    if len(sources) == 1 and len(uids) > 1:  # one folder holding the series to fuse
        sources = sources * len(uids)
    if len(uids) != len(sources):
        raise InputError(f"{len(uids)} --series values for {len(sources)} sources (give one "
                         "per source, in order; '-' for a source that needs none)")
    return sources, uids


def series_help(path: str, series: list) -> str:
    """The error for a folder of several series where nobody can pick one (no dialog)."""
    lines = "\n".join(f"  {s.line() if hasattr(s, 'line') else s.uid}" for s in series)
    return (f"{path}: holds {len(series)} series; choose one with --series UID (one --series "
            f"per source, in order; '-' for a source that needs none; to fuse two series of "
            f"this folder: view FOLDER --series UID1 --series UID2):\n{lines}")


def _check_series(src: str, uid: str | None, headless: bool) -> None:
    path = Path(src)
    if not path.is_dir():
        if uid is not None:
            raise InputError(f"--series {uid} given, but this is not a DICOM folder "
                             "(use '-' for it)", src)
        return
    if uid is None and not headless:
        return  # the window asks which series to load
    from ..io import list_series

    series = list_series(path)
    if uid is not None:
        if uid not in {s.uid for s in series}:
            found = "; ".join(s.line() for s in series) or "no DICOM series"
            raise InputError(f"series {uid} not found; the folder holds: {found}", src)
    elif len(series) > 1:
        raise InputError(series_help(src, series))


def _offscreen() -> bool:
    """True when Qt is told to render without a screen, so no dialog can be answered."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    return platform in ("offscreen", "minimal")
