"""Options and helpers shared by the ``fuse``, ``batch`` and ``demo`` sub-commands."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..fusion import DEFAULT_METHOD, available_methods
from ..pipeline import BLOCK_SIZES, DEVICES, FORMATS, INITS, REGISTRATIONS, FusionOptions
from ..pipeline.options import DEFAULT_REGISTRATION


def add_fusion_options(parser: argparse.ArgumentParser) -> None:
    """The options common to ``fuse`` and ``batch``."""
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (.png, .nii, .nii.gz) or folder (DICOM series)")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=available_methods(),
                        help="fusion method (default: %(default)s; without usable CNN weights "
                             "it falls back to gff with a notice)")
    parser.add_argument("--register", default=DEFAULT_REGISTRATION, choices=list(REGISTRATIONS),
                        help="how the sources come onto the fixed grid (default: %(default)s: "
                             "identity in patient coordinates when the DICOM sources share one "
                             "Frame of Reference or carry none, rigid when their Frames differ; "
                             "none: identity; rigid/affine: always register)")
    parser.add_argument("--fixed", type=int, default=1, metavar="K",
                        help="1-based index of the fixed (reference) source (default: 1)")
    parser.add_argument("--init", default="search", choices=list(INITS),
                        help="registration initialisation (default: %(default)s)")
    parser.add_argument("--modality", metavar="M1,M2",
                        help="modality hint per source, comma-separated (CT, MR, PET, SPECT, "
                             "OT); an empty entry keeps the file's own")
    parser.add_argument("--format", choices=FORMATS, dest="format",
                        help="output format (default: from the output suffix)")
    parser.add_argument("--block-size", type=int, metavar="N", choices=BLOCK_SIZES,
                        help="CNN tile size in pixels, one of "
                             f"{', '.join(map(str, BLOCK_SIZES))} (default: whole slices)")
    parser.add_argument("--device", default="auto", choices=list(DEVICES),
                        help="CNN device (default: %(default)s)")
    parser.add_argument("--metrics", action="store_true",
                        help="also compute fusion-quality metrics")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_modalities(text: str | None, sources: list[str]) -> list[str | None] | None:
    """'CT,MR' -> ['CT', 'MR'] (None when not given); one entry per source, each checked."""
    if text is None:
        return None
    values = [v.strip() or None for v in text.split(",")]
    if len(values) != len(sources):
        raise InputError(f"--modality has {len(values)} entries for {len(sources)} sources "
                         "(give one per source, comma-separated)")
    from ..image import canonical_modality

    for value, source in zip(values, sources):
        if value:
            try:
                canonical_modality(value)
            except InputError as exc:
                raise InputError(f"--modality: {exc}", source) from None
    return values


def options_from_args(args: argparse.Namespace, sources: list[str]) -> FusionOptions:
    """Checked FusionOptions from parsed arguments (``--fixed`` is 1-based on the command line);
    raises InputError before anything is loaded."""
    series = getattr(args, "series", None)
    options = FusionOptions(
        method=args.method, register=args.register, fixed_index=args.fixed - 1, init=args.init,
        block_size=args.block_size, device=args.device,
        modalities=parse_modalities(args.modality, sources),
        series_uids=[v.strip() or None for v in series.split(",")] if series else None)
    options.validate(len(sources))
    return options


def print_decision(result) -> None:
    """The one line saying which registration the fusion used and why (stderr)."""
    if getattr(result, "decision", None) is not None:
        print(f"fusionviewer: {result.decision.line()}", file=sys.stderr)


class ProgressBar:
    """A tqdm bar on stderr driven by ``progress(stage, fraction)`` callbacks."""

    def __init__(self, enabled: bool = True, desc: str = "starting", unit: str = "%"):
        from tqdm import tqdm

        self._bar = tqdm(total=100, desc=desc, unit=unit, file=sys.stderr, disable=not enabled,
                         bar_format="{desc:<12} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        self._last = 0

    def __call__(self, stage: str, fraction: float) -> None:
        value = int(round(100 * fraction))
        self._bar.set_description_str(stage, refresh=False)
        if value > self._last:
            self._bar.update(value - self._last)
            self._last = value

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
