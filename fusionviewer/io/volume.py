"""NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) and NRRD loading through SimpleITK."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..image import Image, Provenance
from ._common import check_voxel_count

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr")


def is_volume_path(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


def read_volume(path: str | Path, *, modality: str = "OT") -> Image:
    """Load a 2-D/3-D gray or RGB volume with its geometry; 4-D data raises InputError."""
    import SimpleITK as sitk

    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputError("not a readable NIfTI/MetaImage/NRRD image (unknown format or corrupt "
                         "header)", str(path)) from None
    size = list(reader.GetSize())
    dim = reader.GetDimension()
    comps = reader.GetNumberOfComponents()
    if dim > 3 and any(s > 1 for s in size[3:]):
        raise InputError(f"{dim}-D data of size {tuple(size)} is not supported (2-D or 3-D only; "
                         "extract one time point/volume first)", str(path))
    if comps not in (1, 3, 4):
        raise InputError(f"{comps} components per voxel are not supported (gray or RGB only)",
                         str(path))
    check_voxel_count(int(np.prod(size)) * comps, path)
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "read failed"
        raise InputError(f"corrupt or truncated image data ({msg[:200]})", str(path)) from None
    if dim > 3:  # a 4-D file with a single time point: drop the trailing axis
        img = sitk.Extract(img, size[:3] + [0] * (dim - 3), [0] * dim)
    if comps == 4:  # RGBA: drop alpha
        img = sitk.Compose([sitk.VectorIndexSelectionCast(img, i) for i in range(3)])
    if "complex" in img.GetPixelIDTypeAsString():
        raise InputError("complex-valued images are not supported", str(path))
    image = Image.from_sitk(img, modality=modality,
                            provenance=Provenance(source_paths=(str(path),)))
    image.check_finite(str(path))
    return image
