"""NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) and NRRD loading through SimpleITK."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..image import Image, Provenance, checked_direction
from ._common import check_voxel_count, one_line, quiet_native
from ._declared import check_volume_size, precheck_header

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr")


def is_volume_path(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


def read_volume(path: str | Path, *, modality: str = "OT") -> Image:
    """Load a 2-D/3-D gray or RGB volume with its geometry; 4-D data raises InputError."""
    import SimpleITK as sitk

    path = Path(path)
    precheck_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        with quiet_native() as captured:
            reader.ReadImageInformation()
    except RuntimeError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        text = captured.text() or (lines[-1] if lines else "")
        detail = f" ({one_line(text)})" if text else ""
        raise InputError("not a readable NIfTI/MetaImage/NRRD image (unknown format or corrupt "
                         f"header){detail}", str(path)) from None
    size = list(reader.GetSize())
    dim = reader.GetDimension()
    comps = reader.GetNumberOfComponents()
    if dim < 2 or min(size) < 1:
        raise InputError(f"header declares an empty or {dim}-D image of size {tuple(size)} "
                         "(2-D or 3-D only)", str(path))
    if dim > 3 and any(s > 1 for s in size[3:]):
        raise InputError(f"{dim}-D data of size {tuple(size)} is not supported (2-D or 3-D only; "
                         "extract one time point/volume first)", str(path))
    if comps not in (1, 3, 4):
        raise InputError(f"{comps} components per voxel are not supported (gray or RGB only)",
                         str(path))
    check_voxel_count(int(np.prod(size)) * comps, path)
    check_volume_size(path, size, comps, sitk.GetPixelIDValueAsString(reader.GetPixelID()))
    n = min(dim, 3)
    direction = np.reshape(reader.GetDirection(), (dim, dim))[:n, :n]
    checked_direction(reader.GetSpacing()[:n], reader.GetOrigin()[:n], direction.ravel(),
                      str(path))
    img = _nifti_via_nibabel(path, reader) if path.name.lower().endswith((".nii", ".nii.gz")) \
        else None
    if img is None:
        try:
            with quiet_native() as captured:
                img = reader.Execute()
        except RuntimeError as exc:
            lines = str(exc).strip().splitlines()
            msg = one_line(captured.text() or (lines[-1] if lines else "read failed"))
            raise InputError(f"corrupt or truncated image data ({msg})", str(path)) from None
    if img.GetDimension() > 3:  # a 4-D file with a single time point: drop the trailing axis
        img = sitk.Extract(img, size[:3] + [0] * (dim - 3), [0] * dim)
    if comps == 4:  # RGBA: drop alpha
        img = sitk.Compose([sitk.VectorIndexSelectionCast(img, i) for i in range(3)])
    if "complex" in img.GetPixelIDTypeAsString():
        raise InputError("complex-valued images are not supported", str(path))
    image = Image.from_sitk(img, modality=modality,
                            provenance=Provenance(source_paths=(str(path),)))
    image.check_finite(str(path))
    return image


def _nifti_via_nibabel(path: Path, reader):
    """NIfTI voxels read by nibabel on SimpleITK's geometry, or None for RGB (SimpleITK reads it).

    SimpleITK's NIfTI reader silently turns NaN into 0 and zero-fills truncated files; nibabel
    keeps NaN (so they can be refused) and raises on short data.
    """
    import nibabel as nib
    import SimpleITK as sitk

    try:
        with quiet_native():
            nii = nib.load(str(path))
            _check_pixdim(nii.header, path)
            data = np.asanyarray(nii.dataobj)
    except InputError:
        raise
    except Exception as exc:  # nibabel raises ValueError, EOFError, OSError, zlib errors...
        raise InputError(f"corrupt or truncated image data ({exc.__class__.__name__}: "
                         f"{one_line(exc)})", str(path)) from None
    if data.dtype.fields is not None:
        return None
    if data.dtype == np.float64 and nii.get_data_dtype() != np.float64:
        with np.errstate(over="ignore"):  # overflow gives inf, refused by check_finite
            data = data.astype(np.float32)  # scaled integers: float32 as SimpleITK gives them
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    size = list(reader.GetSize())
    if data.ndim not in (2, 3) or data.size == 0 or list(data.shape) != size[:data.ndim]:
        raise InputError(f"corrupt header: voxel data of shape {data.shape} does not match the "
                         f"image size {tuple(size)}", str(path))
    try:
        img = sitk.GetImageFromArray(np.ascontiguousarray(data.T))
        dim, full = img.GetDimension(), reader.GetDimension()
        img.SetSpacing(reader.GetSpacing()[:dim])
        img.SetOrigin(reader.GetOrigin()[:dim])
        d = np.reshape(reader.GetDirection(), (full, full))[:dim, :dim]
        img.SetDirection(tuple(d.ravel()))
    except RuntimeError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise InputError(f"corrupt header ({one_line(lines[-1] if lines else exc)})",
                         str(path)) from None
    return img


def _check_pixdim(header, path: Path) -> None:
    """InputError if pixdim (voxel size, mm) of an axis of over one voxel is not positive."""
    # SimpleITK and nibabel silently turn 0 into 1 mm: re-read the header unchecked.
    from nibabel.openers import ImageOpener

    with ImageOpener(str(path)) as fh:
        header = type(header).from_fileobj(fh, check=False)
    shape = header.get_data_shape()[:3]
    pixdim = [float(v) for v in header["pixdim"][1:1 + len(shape)]]
    bad = [n > 1 and not (np.isfinite(v) and v > 0) for n, v in zip(shape, pixdim)]
    if any(bad):
        raise InputError(f"voxel size (pixdim) {' x '.join(f'{v:g}' for v in pixdim)} mm is not "
                         "positive", str(path))
