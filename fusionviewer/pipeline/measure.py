"""Fusion-quality metrics of a result, with the one functional-source rule every front end uses.

The functional source (the reference of CClow and of the "functional" per-source terms):
1. the user's choice where given (``functional=k``);
2. else the first PET or SPECT (NM) source;
3. else the first colour source (a colour-coded functional map, as the Harvard PET/SPECT PNGs);
4. else the first CT (docs/metrics.md: "the functional or CT source", the CT-MRI protocol);
5. else none: with two MR (or unknown) sources CClow is not reported.
Per-source MI keys are named by modality when the modalities differ (MI_CT, MI_MR), else by
letter (MI_A, MI_B). Values are on the 0..255 scale of docs/metrics.md, without alias keys.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError
from ..image import Image
from ..progress import ProgressCallback, check_cancel, report

FUNCTIONAL_MODALITIES = ("PT", "NM")


def functional_index(images: Sequence[Image], choice: int | None = None) -> int | None:
    """Index of the functional source by the rule above (``choice`` wins), or None."""
    if choice is not None:
        if not 0 <= choice < len(images):
            raise InputError(f"functional source {choice + 1} out of range 1..{len(images)}")
        return choice
    for wanted in (lambda im: im.modality in FUNCTIONAL_MODALITIES, lambda im: im.is_color,
                   lambda im: im.modality == "CT"):
        for i, image in enumerate(images):
            if wanted(image):
                return i
    return None


def source_names(images: Sequence[Image]) -> list[str]:
    """Labels of the per-source metrics: modalities when they differ, else A, B, C, ..."""
    names = [im.modality for im in images]
    if len(set(names)) == len(names) and "OT" not in names:
        return names
    return [chr(ord("A") + i) for i in range(len(images))]


def _scored(result: Any, functional: int | None):
    from ..metrics import to_display_u8

    # The rule reads the sources as loaded: their modality and colour survive normalization.
    inputs = result.inputs or result.sources
    fun = functional_index(inputs, functional)
    fused = to_display_u8(result.fused_gray)
    sources = [to_display_u8(s.luminance()) for s in result.sources]
    return fused, sources, fun, source_names(inputs)


def measure(result: Any, slice: int | None = None, *, functional: int | None = None,
            progress: ProgressCallback | None = None, cancel=None) -> dict[str, float]:
    """Metrics of a FusionResult: of slice ``slice``, or (None) of the one slice / the mean over
    the slices with signal of a volume (see ``metrics.evaluate_volume``)."""
    from ..metrics import compute_metrics, evaluate_volume

    fused, sources, fun, names = _scored(result, functional)
    if slice is not None and not 0 <= slice < fused.shape[0]:
        raise InputError(f"slice {slice} out of range 0..{fused.shape[0] - 1}")
    if slice is not None or fused.shape[0] == 1:
        k = slice or 0
        check_cancel(cancel)
        report(progress, "measuring", 0.0)
        values = compute_metrics(fused[k], [s[k] for s in sources], functional=fun, names=names)
        report(progress, "measuring", 1.0)
    else:
        values = evaluate_volume(fused, sources, functional=fun, names=names, progress=progress,
                                 cancel=cancel)["mean"]
    return {k: float(v) for k, v in values.items()}


def measure_volume(result: Any, *, functional: int | None = None,
                   progress: ProgressCallback | None = None, cancel=None) -> dict:
    """Per-slice metrics of a FusionResult and their mean: ``metrics.evaluate_volume``'s dict
    ("per_slice", "mean", "slices_with_signal", "num_slices")."""
    from ..metrics import evaluate_volume

    fused, sources, fun, names = _scored(result, functional)
    return evaluate_volume(fused, sources, functional=fun, names=names, progress=progress,
                           cancel=cancel)
