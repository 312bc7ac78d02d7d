"""Write ``fuse --explain DIR``: per-source contribution shares and residuals as NIfTI (the
fused grid) and PNG (middle slice), all through the output guard (one atomic folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..image import Normalization
from .export import write_nifti, write_png
from .guard import atomic_folder, check_destination

SLOTS = "ABCDEFGH"
UNIT = Normalization("identity", 0.0, 1.0, "[0, 1]")
RESIDUAL_PNG_MAX = 0.25  # |residual| shown 0..0.25 of the [0, 1] range in the PNGs


def write_explain(result, explained: dict, folder: str | Path, *, force: bool = False,
                  sources=()) -> list[Path]:
    """contribution.png (fused coloured by share), contribution_<slot>.nii.gz (share 0..1),
    residual_<slot>.nii.gz (signed, [0, 1] units) and residual_<slot>.png (|r| 0..0.25)."""
    from .export import protected_paths

    folder = Path(folder)
    paths, series = protected_paths([*result.inputs, *sources])
    check_destination(folder, force=force, sources=paths, series_folders=series, folder=True)
    fused = result.fused
    mid = fused.num_slices // 2
    names: list[str] = []
    with atomic_folder(folder, stale=lambda p: p.name.startswith(("contribution", "residual"))
                       ) as tmp:
        def image(arr):
            return fused.with_array(np.asarray(arr, np.float32), window=None, normalization=UNIT)

        write_png(image(explained["rgb"]), tmp / "contribution.png", slice_index=mid, force=True)
        names.append("contribution.png")
        for i in range(explained["shares"].shape[0]):
            s = SLOTS[i]
            write_nifti(image(explained["shares"][i]), tmp / f"contribution_{s}.nii.gz",
                        force=True)
            write_nifti(image(explained["residuals"][i]), tmp / f"residual_{s}.nii.gz",
                        force=True)
            shown = np.clip(np.abs(explained["residuals"][i]) / RESIDUAL_PNG_MAX, 0, 1)
            write_png(image(shown), tmp / f"residual_{s}.png", slice_index=mid, force=True)
            names += [f"contribution_{s}.nii.gz", f"residual_{s}.nii.gz", f"residual_{s}.png"]
    return [folder / n for n in names]
