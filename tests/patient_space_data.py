"""Test volumes in patient space built with SimpleITK from the real CT of shared/data/real3d.

``real_ct(spacing)``: the real porcine-head CT resampled to ``spacing`` mm (LPS, identity
direction); ``layout(img, name)``: the same physical volume stored another way (RAS, flipped,
sagittal, coronal, oblique); ``spect_ct_pair(folder)``: a same-Frame-of-Reference SPECT/CT
DICOM pair (CT from the real CT, SPECT with a hot spot on a tilted 4.8 mm grid).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from harvard_data import SHARED

REAL3D = SHARED / "data" / "real3d" / "mridir-porcine-head"
REAL_CT, REAL_MR = REAL3D / "CT", REAL3D / "MR_T2"
# DICOMOrient codes: axis letters of the storage's x, y, z (ITK's "from" convention).
LAYOUTS = {"RAS": "RAS", "flipped": "LPI", "sagittal": "PIR", "coronal": "LIP"}
HOT_SPOT_MM = (-10.0, 5.0, -95.0)  # inside the real CT's head


def _read_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def resample_iso(img: sitk.Image, spacing: float, outside: float = 0.0) -> sitk.Image:
    """``img`` (float32) smoothed and resampled to isotropic ``spacing`` mm over its extent."""
    img = sitk.Cast(img, sitk.sitkFloat32)
    size = [int(round(n * s / spacing)) for n, s in zip(img.GetSize(), img.GetSpacing())]
    # sigma of half the new spacing against aliasing
    smooth = sitk.SmoothingRecursiveGaussian(img, spacing / 2.0)
    return sitk.Resample(smooth, size, sitk.Transform(), sitk.sitkLinear, img.GetOrigin(),
                         (spacing,) * 3, img.GetDirection(), outside, sitk.sitkFloat32)


def read_series(folder: Path) -> tuple[sitk.Image, dict]:
    """A real series read by SimpleITK and its first file's header (pydicom, no pixels)."""
    import pydicom

    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(folder))
    reader.SetFileNames(names)
    return reader.Execute(), pydicom.dcmread(names[0], stop_before_pixels=True)


@lru_cache(maxsize=4)
def real_ct(spacing: float = 4.0) -> sitk.Image:
    """The real CT (HU, float32) resampled to isotropic ``spacing`` mm over its own extent."""
    return resample_iso(_read_series(REAL_CT), spacing, -1000.0)


def activity(points_mm: np.ndarray, ct: sitk.Image | None = None) -> np.ndarray:
    """A smooth activity (counts) at physical points [n, 3]: 40 in the head (CT > -300 HU,
    blurred) plus a Gaussian hot spot of 8000 (sigma 8 mm) at HOT_SPOT_MM."""
    ct = ct if ct is not None else real_ct(4.0)
    body = sitk.SmoothingRecursiveGaussian(sitk.Cast(ct > -300, sitk.sitkFloat32), 4.0)
    interp = _sample(body, points_mm)
    d2 = ((points_mm - np.asarray(HOT_SPOT_MM)) ** 2).sum(axis=1)
    return 40.0 * interp + 8000.0 * np.exp(-d2 / (2 * 8.0 ** 2))


def _sample(img: sitk.Image, points_mm: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``img`` at physical points [n, 3] (0 outside)."""
    from scipy.ndimage import map_coordinates

    d = np.reshape(img.GetDirection(), (3, 3)) * np.asarray(img.GetSpacing())
    index = np.linalg.solve(d, (points_mm - np.asarray(img.GetOrigin())).T)  # [3, n]: x, y, z
    arr = sitk.GetArrayFromImage(img).astype(np.float64)
    return map_coordinates(arr, index[::-1], order=1, mode="constant", cval=0.0)


def grid_points(size, spacing, origin, direction) -> np.ndarray:
    """Physical centres [n, 3] of a grid's voxels in numpy order (z, y, x)."""
    nx, ny, nz = size
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    idx = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(np.float64)
    d = np.reshape(direction, (3, 3)) * np.asarray(spacing)
    return np.asarray(origin) + idx @ d.T


def tilted_direction(degrees_x: float = 5.0, degrees_z: float = 3.0) -> tuple[float, ...]:
    """A right-handed direction slightly rotated about x then z (an oblique acquisition)."""
    ax, az = np.radians(degrees_x), np.radians(degrees_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return tuple((rz @ rx).ravel())


def covering_grid(img: sitk.Image, spacing: float, direction, margin: float = 0.0):
    """(size, origin) of a grid with ``direction`` and ``spacing`` covering ``img``'s extent."""
    size, sp = np.array(img.GetSize()), np.array(img.GetSpacing())
    corners = np.array([[a, b, c] for a in (0, size[0] - 1) for b in (0, size[1] - 1)
                        for c in (0, size[2] - 1)], dtype=float)
    d0 = np.reshape(img.GetDirection(), (3, 3)) * sp
    pts = np.asarray(img.GetOrigin()) + corners @ d0.T
    d = np.reshape(direction, (3, 3))
    local = pts @ d  # coordinates along the new axes
    lo, hi = local.min(axis=0) - margin, local.max(axis=0) + margin
    n = np.ceil((hi - lo) / spacing).astype(int) + 1
    return tuple(int(v) for v in n), tuple(d @ lo)


def layout(img: sitk.Image, name: str) -> sitk.Image:
    """The same physical volume stored as ``name``: LPS (as is), RAS, flipped, sagittal, coronal
    (exact: DICOMOrient) or oblique (resampled, 2 mm, tilted 5 deg about x and 3 about z)."""
    if name == "LPS":
        return img
    if name in LAYOUTS:
        return sitk.DICOMOrient(img, LAYOUTS[name])
    if name == "oblique":
        direction = tilted_direction()
        size, origin = covering_grid(img, 2.0, direction, margin=4.0)
        return sitk.Resample(img, size, sitk.Transform(), sitk.sitkLinear, origin, (2.0,) * 3,
                             direction, 0.0, sitk.sitkFloat32)
    raise ValueError(name)


def activity_image(ct: sitk.Image) -> sitk.Image:
    """The activity sampled on ``ct``'s grid (float32 counts)."""
    pts = grid_points(ct.GetSize(), ct.GetSpacing(), ct.GetOrigin(), ct.GetDirection())
    arr = activity(pts, ct).reshape(ct.GetSize()[::-1]).astype(np.float32)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(ct)
    return out


def write_sitk_series(img: sitk.Image, folder: Path, **kwargs) -> list[Path]:
    """Write a right-handed sitk volume as a DICOM series with its own geometry (write_series)."""
    from fusionviewer.io.synthetic import write_series

    d = np.reshape(img.GetDirection(), (3, 3))
    assert np.allclose(np.cross(d[:, 0], d[:, 1]), d[:, 2], atol=1e-6), "left-handed layout"
    sx, sy, sz = img.GetSpacing()
    return write_series(sitk.GetArrayFromImage(img), folder, pixel_spacing=(sy, sx),
                        slice_spacing=sz, origin=img.GetOrigin(),
                        orientation=tuple(d[:, 0]) + tuple(d[:, 1]), **kwargs)


def spect_ct_pair(folder: Path, *, flip_xy: bool = False, ct_spacing: float = 4.0,
                  spect_size: tuple[int, int, int] = (64, 64, 50)) -> tuple[Path, Path]:
    """A SPECT/CT pair of one study and one Frame of Reference as DICOM folders (CT, NM).

    CT: the real CT at ``ct_spacing`` mm, int16 HU. SPECT: ``activity`` on a 4.8 mm grid tilted
    5 deg about x and 3 about z, centred on the CT, uint16 counts; ``flip_xy`` stores it with
    its x and y axes reversed (the same physical volume).
    """
    ct = real_ct(ct_spacing)
    for_uid, study = "1.2.826.0.1.3680043.8.498.1001", "1.2.826.0.1.3680043.8.498.1002"
    ct_dir, nm_dir = folder / "CT", folder / "NM"
    hu = sitk.GetImageFromArray(np.rint(sitk.GetArrayFromImage(ct)).astype(np.int16))
    hu.CopyInformation(ct)
    write_sitk_series(hu, ct_dir, modality="CT", frame_of_reference_uid=for_uid,
                      study_uid=study, window=(40, 400), series_number=1, description="CT")
    direction = np.reshape(tilted_direction(), (3, 3))
    if flip_xy:
        direction = direction @ np.diag([-1.0, -1.0, 1.0])
    size = np.array(spect_size)
    centre = np.asarray(ct.TransformContinuousIndexToPhysicalPoint(
        [(n - 1) / 2.0 for n in ct.GetSize()]))
    origin = centre - (direction * 4.8) @ ((size - 1) / 2.0)
    pts = grid_points(tuple(size), (4.8,) * 3, origin, direction.ravel())
    counts = np.rint(activity(pts, ct)).astype(np.uint16).reshape(tuple(size[::-1]))
    nm = sitk.GetImageFromArray(counts)
    nm.SetSpacing((4.8,) * 3)
    nm.SetOrigin(tuple(origin))
    nm.SetDirection(tuple(direction.ravel()))
    write_sitk_series(nm, nm_dir, modality="NM", frame_of_reference_uid=for_uid,
                      study_uid=study, series_number=2, description="SPECT")
    return ct_dir, nm_dir
