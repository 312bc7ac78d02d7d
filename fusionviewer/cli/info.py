"""``fusionviewer info PATH [--json]``: what a file or folder holds (modality, size, series)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info", help="describe an image file or DICOM folder",
        description="Print what PATH holds: format, modality, size (x, y, z), spacing (mm), "
                    "value range, display window and, for DICOM folders, the series found.")
    parser.add_argument("path", metavar="PATH", help="image file or DICOM folder")
    parser.add_argument("--series", metavar="UID",
                        help="SeriesInstanceUID to describe in a folder of several series")
    parser.add_argument("--modality", metavar="M",
                        help="modality hint for files without one (CT, MR, PET, SPECT, OT)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)


def _fmt(values) -> str:
    return " x ".join(f"{v:g}" for v in values)


def format_info(info: dict) -> str:
    """The text form of ``describe(path)``."""
    lines = [f"path:      {info['path']}", f"format:    {info['format']}"]
    if "modality" in info:
        z = info["size"][2]
        lines += [
            f"modality:  {info['modality']}",
            f"size:      {_fmt(info['size'])} voxels ({'2-D' if z == 1 else '3-D'}"
            f"{', RGB' if info['color'] else ''}, {info['dtype']})",
            f"spacing:   {_fmt(info['spacing'])} mm",
            f"origin:    {_fmt(info['origin'])} mm",
            f"values:    {info['min']:g} .. {info['max']:g}",
        ]
        if info.get("window"):
            lines.append(f"window:    center {info['window'][0]:g}, width {info['window'][1]:g}")
        if info.get("notes"):
            lines.append(f"notes:     {info['notes']}")
    series = info.get("series") or []
    if series:
        lines.append(f"series:    {len(series)}")
        for s in series:
            desc = f" '{s['description']}'" if s["description"] else ""
            lines.append(f"  {s['uid']}  {s['modality']}{desc}  {s['num_instances']} file(s), "
                         f"{s['columns']}x{s['rows']}x{s['num_frames']}  {s['patient']}")
        if "modality" not in info:
            lines.append("  (several series: choose one with --series UID)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..io import describe

    info = describe(args.path, series_uid=args.series, modality=args.modality)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
