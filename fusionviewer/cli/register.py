"""``fusionviewer register FIXED MOVING -o OUT``: resample MOVING onto FIXED after registration."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError

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
    parser.add_argument("--transform", default="rigid", choices=("rigid", "affine"),
                        help="transform model (default: %(default)s)")
    parser.add_argument("--init", default="geometry", choices=("geometry", "moments"),
                        help="centred initialisation by image centres or centres of mass "
                             "(default: %(default)s)")
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
    print(f"wrote {written} ({args.transform}, Mattes MI {result.metric_value:.4f}, "
          f"{result.iterations} iterations)")
    if args.save_transform:
        print(f"wrote {save_transform(result.transform, args.save_transform)}")
    return 0
