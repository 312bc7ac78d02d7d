"""``fusionviewer evaluate --fused F --sources A B [C ...] [--target R] [--json]``: metrics."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="fusion-quality metrics of a fused image against its sources",
        description="Print every fusion-quality metric (shared spec: EN, SD, SF, AG, EOG, MI, "
                    "SCD, CC, VIF, Qabf, SSIM, PSNR, Q0, QW, QE, CClow, and RMSE, PSNR_R, SSIM_R, "
                    "REL with --target) on the 0..255 scale. Inputs: PNG/JPEG/TIFF, NIfTI/MHA/"
                    "NRRD, DICOM file or folder. Non-8-bit data is mapped to 0..255 (see README). "
                    "Volumes are scored slice by slice and averaged over slices with signal.")
    parser.add_argument("--fused", required=True, metavar="F", help="fused image")
    parser.add_argument("--sources", required=True, nargs="+", metavar="S",
                        help="the source images (two or more), in fusion order")
    parser.add_argument("--target", metavar="R", help="reference image for RMSE/PSNR_R/SSIM_R/REL")
    parser.add_argument("--functional", metavar="K",
                        help="the functional source for CClow: its letter (A, B, ...) or number "
                             "(1, 2, ...); default: the PET/SPECT, else CT, source by modality")
    parser.add_argument("--modalities", nargs="+", metavar="M",
                        help="modality hint per source for files without one (CT, MR, PET, SPECT)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def _functional_index(value: str | None, n: int) -> int | None:
    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        k = int(v) - 1
    elif len(v) == 1 and v.isalpha():
        k = ord(v.upper()) - ord("A")
    else:
        k = -1
    if not 0 <= k < n:
        raise InputError(f"--functional {value}: expected a source letter A..{chr(64 + n)} "
                         f"or number 1..{n}")
    return k


def _load(path: str, modality: str | None = None):
    from ..io import load_image

    image = load_image(path, modality=modality)
    image.check_finite(path)
    return image


def _json_value(v: float):
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def format_table(metrics: dict[str, float], header: list[str]) -> str:
    """Aligned text table: metric, value, unit, better direction, group (aliases folded in)."""
    from ..metrics import ALIASES, metric_info

    aliases: dict[str, list[str]] = {}
    for alias, key in ALIASES.items():
        aliases.setdefault(key, []).append(alias)
    rows = []
    for key, value in metrics.items():
        if key in ALIASES:
            continue
        info = metric_info(key)
        label = key + (f" ({', '.join(aliases[key])})" if key in aliases else "")
        text = f"{value:.6f}" if math.isfinite(value) else ("inf" if value > 0 else "-inf")
        rows.append((label, text, info["unit"], info["better"] or "-", info["group"]))
    widths = [max(len(r[i]) for r in rows + [("metric", "value", "unit", "better", "group")])
              for i in range(5)]
    lines = list(header)
    title = ("metric", "value", "unit", "better", "group")
    for row in [title] + rows:
        lines.append("  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]),
                                row[2].ljust(widths[2]), row[3].ljust(widths[3]), row[4]]).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..metrics import compute_metrics, evaluate_volume
    from ..metrics.scale import to_metric_scale

    if len(args.sources) < 2:
        raise InputError(f"--sources needs at least two images, got {len(args.sources)}")
    hints = args.modalities or []
    if hints and len(hints) != len(args.sources):
        raise InputError(f"--modalities gives {len(hints)} names for {len(args.sources)} sources")
    fused = _load(args.fused)
    sources = [_load(p, hints[i] if hints else None) for i, p in enumerate(args.sources)]
    target = _load(args.target) if args.target else None
    for path, image in list(zip(args.sources, sources)) + [(args.target, target)]:
        if image is not None and image.shape != fused.shape:
            raise InputError(f"size {image.shape[2]}x{image.shape[1]}x{image.shape[0]} (x, y, z) "
                             f"differs from the fused image's {fused.shape[2]}x{fused.shape[1]}x"
                             f"{fused.shape[0]} ({args.fused})", path)
    from ..pipeline import functional_index

    functional = functional_index(sources, _functional_index(args.functional, len(sources)))

    scaled = {}
    for role, path, image in ([("fused", args.fused, fused)]
                              + [(f"source {chr(65 + i)}", p, s)
                                 for i, (p, s) in enumerate(zip(args.sources, sources))]
                              + ([("target", args.target, target)] if target else [])):
        scaled[role] = (path, image, *to_metric_scale(image))
    f = scaled["fused"][2]
    srcs = [scaled[f"source {chr(65 + i)}"][2] for i in range(len(sources))]
    r = scaled["target"][2] if target is not None else None

    result: dict = {"fused": args.fused, "sources": list(args.sources), "target": args.target,
                    "functional_source": None if functional is None else chr(65 + functional),
                    "scale": {role: v[3] for role, v in scaled.items()},
                    "num_slices": fused.num_slices}
    if fused.num_slices == 1:
        metrics = compute_metrics(f[0], [s[0] for s in srcs], None if r is None else r[0],
                                  functional=functional)
    else:
        vol = evaluate_volume(f, srcs, r, functional=functional)
        metrics = vol["mean"]
        result["slices_with_signal"] = vol["slices_with_signal"]
        result["per_slice"] = [{k: _json_value(v) for k, v in m.items()}
                               for m in vol["per_slice"]]
        if not metrics:
            raise InputError("no slice of the fused image has signal (all slices constant)",
                             args.fused)

    if args.json:
        result["metrics"] = {k: _json_value(v) for k, v in metrics.items()}
        result["units"] = {"MI": "nats", "EN": "bits", "PSNR": "dB", "PSNR_R": "dB"}
        print(json.dumps(result, indent=2))
        return 0
    header = [f"fused:    {args.fused} ({result['scale']['fused']})"]
    for i, p in enumerate(args.sources):
        role = f"source {chr(65 + i)}"
        mark = "  [functional]" if functional == i else ""
        header.append(f"{role}: {p} ({sources[i].modality}, {result['scale'][role]}){mark}")
    if target is not None:
        header.append(f"target:   {args.target} ({result['scale']['target']})")
    if fused.num_slices > 1:
        header.append(f"volume:   {fused.num_slices} slices, mean over "
                      f"{len(result['slices_with_signal'])} with signal")
    if functional is None:
        header.append("CClow:    not reported (no functional source: use --functional)")
    header.append("")
    sys.stdout.write(format_table(metrics, header) + "\n")
    return 0
