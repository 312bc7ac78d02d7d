"""``fusionviewer register FIXED MOVING -o OUT``: resample MOVING onto FIXED after registration."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError
from ..pipeline.options import INITS, REGISTRATIONS

OUTPUT_SUFFIXES = (".png", ".nii", ".nii.gz")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "register", help="register one image onto another (rigid or affine)",
        description="Register MOVING onto FIXED (Mattes mutual information, multi-resolution) "
                    "and write MOVING resampled onto FIXED's grid. The output suffix picks the "
                    "format: .png, .nii or .nii.gz.")
    parser.add_argument("fixed", metavar="FIXED", help="reference image (file or DICOM folder)")
    parser.add_argument("moving", metavar="MOVING", help="image to move onto FIXED")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file: .png, .nii or .nii.gz")
    parser.add_argument("--transform", "--register", default="rigid",
                        choices=[k for k in REGISTRATIONS if k != "none"],
                        help="transform model (default: %(default)s; deformable = B-spline "
                             "on top of affine)")
    parser.add_argument("--init", default="search", choices=list(INITS),
                        help="search: 24 axis-aligned orientations from the image centres and "
                             "the centres of mass; geometry / moments: one start, centres "
                             "aligned (default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print the quality report as JSON on stdout")
    parser.add_argument("--save-transform", metavar="T.tfm",
                        help="also write the FIXED->MOVING transform as an ITK .tfm file")
    parser.add_argument("--modality", metavar="M1,M2",
                        help="modality hints for FIXED and MOVING, comma-separated (CT, MR, PET, "
                             "SPECT, OT); an empty entry keeps the file's own")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _output_format(path: str) -> str:
    name = path.lower()
    for suffix in OUTPUT_SUFFIXES:
        if name.endswith(suffix):
            return "png" if suffix == ".png" else "nifti"
    raise InputError(f"unsupported output suffix (expected one of {', '.join(OUTPUT_SUFFIXES)})",
                     path)


def _modalities(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    values = [v.strip() or None for v in text.split(",")]
    if len(values) != 2:
        raise InputError(f"--modality needs two comma-separated entries (FIXED,MOVING), got "
                         f"'{text}'")
    return values[0], values[1]


def run(args: argparse.Namespace) -> int:
    from ..io import load_image
    from ..io.guard import check_destination
    from ..io.export import write_nifti, write_png
    from ..registration import register as register_images, save_transform
    from ._common import ProgressBar

    fmt = _output_format(args.output)
    sources = [args.fixed, args.moving]
    # Fail on clobbering before the (slow) registration.
    check_destination(Path(args.output), force=args.force, sources=sources)
    if args.save_transform:
        if not args.save_transform.lower().endswith(".tfm"):
            raise InputError("transform files must end in .tfm", args.save_transform)
        check_destination(Path(args.save_transform), force=args.force,
                          sources=sources + [args.output])
    fixed_hint, moving_hint = _modalities(args.modality)
    fixed = load_image(args.fixed, modality=fixed_hint)
    moving = load_image(args.moving, modality=moving_hint)
    with ProgressBar(enabled=not args.no_progress, desc="register") as bar:
        result = register_images(fixed, moving, transform=args.transform, init=args.init,
                                 progress=bar, cancel=args.cancel)
    if fmt == "png":
        written = write_png(result.image, args.output, force=args.force)
    else:
        written = write_nifti(result.image, args.output, force=args.force)
    rep = result.report
    print_registration_warning(rep, args.moving, args.fixed)
    if args.save_transform:
        saved = save_transform(result.transform, args.save_transform)
    if args.json:
        print(json.dumps({"output": str(written),
                          "transform_file": str(saved) if args.save_transform else None,
                          "report": rep.to_dict()}, indent=2))
        return 0
    print(f"wrote {written} ({rep.transform}, Mattes MI {result.metric_value:.4f}, "
          f"{result.iterations} iterations)")
    print(f"registration {rep.summary()}")
    if args.save_transform:
        print(f"wrote {saved}")
    return 0


def print_registration_warning(report, moving: str, fixed: str) -> None:
    """A ``warning:`` line on stderr for a doubtful or failed registration (and its notes)."""
    if report is None:
        return
    for note in report.notes:
        if "rejected" in note:
            print(f"warning: {Path(moving).name}: {note}", file=sys.stderr)
    if report.verdict != "good":
        print(f"warning: registration of {Path(moving).name} onto {Path(fixed).name} is "
              f"{report.verdict}: {'; '.join(report.reasons)}", file=sys.stderr)
