"""Writing a result: the output format, the destination check (``fusionviewer.io.guard``, the
one output guard) before any work, and the writers.

Every writer of the app goes through here or through the guard itself: fused images, batch
outputs, screenshots, transforms, CSV tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import InputError
from ..image import Image
from ..io.guard import atomic_path, check_destination
from .options import FORMATS

_FILE_SUFFIXES = (".png", ".nii", ".nii.gz")


def output_format(out: str | Path, fmt: str | None = None) -> str:
    """The export format: ``fmt`` if given, else from the suffix (.png, .nii[.gz]; none = DICOM)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"unknown output format '{fmt}' (choose from {', '.join(FORMATS)})")
        return fmt
    name = Path(out).name.lower()
    if name.endswith(".png"):
        return "png"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if Path(out).suffix == "" or Path(out).is_dir():
        return "dicom"
    raise InputError(f"cannot tell the output format from the suffix '{Path(out).suffix}' "
                     "(use .png, .nii, .nii.gz, a folder, or --format)", str(out))


def protected(sources: Iterable[Image | str | Path]) -> tuple[list[str], list[str]]:
    """(paths never written, series folders never written into) of loaded Images or paths."""
    from ..io.export import protected_paths

    images = [s for s in sources if isinstance(s, Image)]
    paths, series = protected_paths(images)
    return paths + [str(s) for s in sources if not isinstance(s, Image)], series


def check_output(out: str | Path, fmt: str | None = None, force: bool = False,
                 sources: Iterable[Image | str | Path] = (), *,
                 expected_bytes: int | None = None) -> str:
    """Fail early (InputError) on a destination the export would refuse; returns its format."""
    out = Path(out)
    fmt = output_format(out, fmt)
    paths, series = protected(sources)
    is_folder = fmt == "dicom" or not out.name.lower().endswith(_FILE_SUFFIXES)
    if not is_folder and out.is_dir():
        raise InputError("output is a folder; give a file name", str(out))
    check_destination(out, force=force, sources=paths, series_folders=series,
                      expected_bytes=expected_bytes, folder=is_folder)
    return fmt


def export_result(result: Any, out: str | Path, fmt: str | None = None,
                  force: bool = False, anonymise: bool = False) -> list[Path]:
    """Write the fused image as PNG, NIfTI or a DICOM series folder; returns the written paths
    (``anonymise``: DICOM without patient identity, io/anonymise.py)."""
    from ..io import export

    out = Path(out)
    fmt = check_output(out, fmt, force, result.inputs)
    if fmt == "png":
        if out.suffix.lower() == ".png" or result.fused.is_2d:
            path = out if out.suffix.lower() == ".png" else out.with_suffix(".png")
            export.write_png(result.fused, path, force=force)
            return [path]
        return list(export.write_png_slices(result.fused, out, force=force))
    if fmt == "nifti":
        path = out if out.name.lower().endswith((".nii", ".nii.gz")) else Path(f"{out}.nii.gz")
        export.write_nifti(result.fused, path, force=force, description=series_description(result))
        return [path]
    return list(export.write_dicom_series(result.fused, out, sources=result.inputs,
                                          description=series_description(result),
                                          derivation=result.description, force=force,
                                          anonymise=anonymise))


def series_description(result: Any) -> str:
    """Method and registration decision in a few words (NIfTI's 80-byte descrip, DICOM
    SeriesDescription); the whole line goes to DerivationDescription."""
    decision = getattr(result, "decision", None)
    reg = f"; {decision.short()}" if decision is not None else ""
    return f"FusionViewer {result.method} fusion{reg}"


def resampled_folders(result_or_n: Any, out: str | Path, fixed_index: int = 0) -> dict[int, Path]:
    """Source index -> folder of its resampled series: ``out`` for one moving source, else
    ``out/source_K`` (1-based K)."""
    n = result_or_n if isinstance(result_or_n, int) else len(result_or_n.originals)
    movers = [k for k in range(n) if k != fixed_index]
    out = Path(out)
    return {k: out if len(movers) == 1 else out / f"source_{k + 1}" for k in movers}


def export_resampled(result: Any, out: str | Path, force: bool = False) -> list[Path]:
    """Each moving source on the fixed grid in its original units (``result.originals``) as its
    own DICOM series in the fixed source's frame and study, for fusion in a PACS viewer."""
    from ..io import export

    k0 = result.options.fixed_index if result.options is not None else 0
    fixed = result.inputs[k0]
    written: list[Path] = []
    how = result.decision.short() if getattr(result, "decision", None) else "resampled"
    for k, folder in resampled_folders(result, out, k0).items():
        image = result.originals[k]
        check_output(folder, "dicom", force, result.inputs)
        description = (f"{image.modality} resampled onto source {k0 + 1} ({fixed.modality}) "
                       f"grid, {how}")
        derivation = (f"source {k + 1} ({image.modality}) on the grid and frame of reference "
                      f"of source {k0 + 1}, original units; {result.description}")
        written += export.write_dicom_series(image, folder, sources=[fixed, result.inputs[k]],
                                             description=description, derivation=derivation,
                                             force=force)
    return written


def write_text(path: str | Path, text: str, *, force: bool = False,
               sources: Sequence[Image | str | Path] = ()) -> Path:
    """Write a text file (CSV, JSON) through the guard, atomically."""
    path = Path(path)
    paths, series = protected(sources)
    check_destination(path, force=force, sources=paths, series_folders=series)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
