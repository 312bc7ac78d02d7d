"""``fusionviewer fuse SRC1 SRC2 [SRC3 ...] -o OUT``: fuse registered (or registrable) sources."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InputError
from ..pipeline import FusionJob, check_output, export_result, measure
from ..pipeline.export import export_resampled, resampled_folders
from ._common import ProgressBar, add_fusion_options, options_from_args, print_decision


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "fuse", help="fuse two or more images into one",
        description="Fuse two or more images (PNG/JPEG/TIFF, NIfTI, MHA, NRRD, DICOM file or "
                    "series folder). The output suffix picks the format: .png, .nii/.nii.gz, or "
                    "a folder with --format dicom.")
    parser.add_argument("sources", nargs="+", metavar="SRC", help="source images (two or more)")
    parser.add_argument("--export-resampled", metavar="DIR",
                        help="also write each moving source, resampled (registered) onto the "
                             "fixed grid in its original units, as a DICOM series in the fixed "
                             "source's frame of reference and study (DIR, or DIR/source_K for "
                             "several); a PACS viewer can then fuse it itself")
    parser.add_argument("--series", metavar="UID1,UID2",
                        help="SeriesInstanceUID per source for folders holding several series")
    parser.add_argument("--explain", metavar="DIR",
                        help="also write what each source contributed (share maps from the "
                             "method's own weights) and what detail the fusion lost (residuals) "
                             "into DIR, as NIfTI + PNG")
    add_fusion_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if len(args.sources) < 2:
        raise InputError(f"fusion needs at least two sources, got {len(args.sources)}",
                         args.sources[0] if args.sources else None)
    options = options_from_args(args, args.sources)  # fail before any work
    fmt = check_output(args.output, args.format, args.force, args.sources)
    explain_dir = getattr(args, "explain", None)
    if explain_dir:
        from ..io.guard import check_destination

        check_destination(explain_dir, force=args.force, sources=args.sources, folder=True)
    if args.export_resampled:
        for folder in resampled_folders(len(args.sources), args.export_resampled,
                                        options.fixed_index).values():
            check_output(folder, "dicom", args.force, args.sources)
    with ProgressBar(enabled=not args.no_progress) as bar:
        result = FusionJob(args.sources, options).run(progress=bar, cancel=args.cancel)
    print_decision(result)
    metrics = measure(result, cancel=args.cancel) if args.metrics else None  # a failure here leaves no output
    written = export_result(result, args.output, args.format, force=args.force)
    if explain_dir:
        from ..analysis.explain import explain_result
        from ..io.explain import write_explain

        explained = explain_result(result, cancel=args.cancel)
        files = write_explain(result, explained, explain_dir, force=args.force)
        print(f"wrote {len(files)} explanation file(s) to {explain_dir}")
    notices = list(result.notices)
    if fmt == "png" and len(written) == 1 and result.fused.num_slices > 1:
        notices.append(f"the result has {result.fused.num_slices} slices; the PNG holds the "
                       "middle one (give a folder name with --format png for every slice, or "
                       "use .nii.gz / --format dicom)")
    for notice in notices:
        print(f"fusionviewer: notice: {notice}", file=sys.stderr)
    from .register import print_registration_warning

    fixed = args.sources[options.fixed_index]
    for k, reg in enumerate(result.registrations):
        if reg is not None:
            print_registration_warning(reg.report, args.sources[k], fixed)
    shown = written[0] if len(written) == 1 and fmt != "dicom" else args.output
    print(f"wrote {shown} ({result.method}, {len(written)} file(s))")
    if args.export_resampled:
        more = export_resampled(result, args.export_resampled, force=args.force)
        print(f"wrote {args.export_resampled} (resampled moving source(s), {len(more)} file(s))")
    if metrics is not None:
        print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0
