"""``fusionviewer view SRC1 SRC2 [...]``: open the desktop app with these images and fuse them."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "view", help="open the desktop app with images loaded and fused",
        description="Open the desktop app with two or more images loaded (files or DICOM "
                    "folders) and start the fusion.")
    parser.add_argument("sources_to_view", nargs="+", metavar="SRC",
                        help="images or DICOM folders (two or more)")
    parser.add_argument("--screenshot", metavar="PNG", default=argparse.SUPPRESS,
                        help="save a screenshot once fusion and metrics are done, then exit")
    parser.add_argument("--layout", choices=("side-by-side", "mpr"), default="side-by-side",
                        help="views: stored slices side by side (default), or axial/coronal/"
                             "sagittal of every image with a linked crosshair and a MIP (mpr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..gui.app import run_app  # imported lazily: Qt only when the app opens

    return run_app(args)
