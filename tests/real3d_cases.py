"""The shared real CT and MR (porcine head) downsampled to 4 mm, and copies moved by known
rigid motions (by changing their geometry: exact, no resampling), for known-truth tests."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import SimpleITK as sitk

from harvard_data import SHARED
from fusionviewer.image import Image

REAL3D = SHARED / "data" / "real3d" / "mridir-porcine-head"


@functools.lru_cache(maxsize=None)
def real_volume(name: str, mm: float = 4.0) -> Image:
    """CT or MR_T2 of the shared pair, smoothed and resampled to ``mm`` isotropic (float32)."""
    from fusionviewer.io import load_image

    image = load_image(str(REAL3D / name))
    src = image.to_sitk() if hasattr(image, "to_sitk") else None
    src = sitk.Cast(src, sitk.sitkFloat32)
    sigma = [max(0.0, 0.5 * (mm - s)) for s in src.GetSpacing()]
    src = sitk.SmoothingRecursiveGaussian(src, sigma)
    size = [int(round(n * s / mm)) for n, s in zip(src.GetSize(), src.GetSpacing())]
    out = sitk.Resample(src, size, sitk.Transform(), sitk.sitkLinear, src.GetOrigin(),
                        (mm, mm, mm), src.GetDirection(), float(np.min(image.array)),
                        sitk.sitkFloat32)
    return dataclasses.replace(image, array=sitk.GetArrayFromImage(out), spacing=(mm, mm, mm),
                               origin=out.GetOrigin(), direction=out.GetDirection())


def centre(image: Image) -> np.ndarray:
    """Physical centre (mm) of the image's extent."""
    size = np.asarray(image.shape[::-1], dtype=float)
    d = np.reshape(image.direction, (3, 3))
    return np.asarray(image.origin) + d @ ((size - 1) / 2 * np.asarray(image.spacing))


def moved_copy(image: Image, rotation_deg=(0.0, 0.0, 0.0), shift=(0.0, 0.0, 0.0),
               frame: str | None = "other-session") -> tuple[Image, sitk.Euler3DTransform]:
    """The same voxels placed by the rigid map K (rotation about the image centre, then shift):
    a point p of ``image`` sits at K(p) in the copy. Returns (copy, K): the registration of the
    copy onto ``image`` should find K (fixed -> moving)."""
    c = centre(image)
    known = sitk.Euler3DTransform(tuple(c), *np.deg2rad(rotation_deg), tuple(shift))
    m = np.reshape(known.GetMatrix(), (3, 3))
    direction = m @ np.reshape(image.direction, (3, 3))
    origin = np.asarray(known.TransformPoint(tuple(map(float, image.origin))))
    prov = dataclasses.replace(image.provenance, frame_of_reference_uid=frame)
    return dataclasses.replace(image, origin=tuple(origin), direction=tuple(direction.ravel()),
                               provenance=prov), known


def volume_points(image: Image, step: int = 3) -> np.ndarray:
    """Physical positions (n, 3) of every ``step``-th voxel of the whole volume."""
    z, y, x = np.mgrid[0:image.shape[0]:step, 0:image.shape[1]:step, 0:image.shape[2]:step]
    idx = np.stack([x.ravel(), y.ravel(), z.ravel()], 1).astype(float)
    d = np.reshape(image.direction, (3, 3))
    return (idx * np.asarray(image.spacing)) @ d.T + np.asarray(image.origin)


def mean_error(known: sitk.Transform, found: sitk.Transform, points: np.ndarray) -> float:
    """Mean distance (mm) between points mapped by the true and by the found transform."""
    a = np.array([known.TransformPoint(tuple(p)) for p in points])
    b = np.array([found.TransformPoint(tuple(p)) for p in points])
    return float(np.linalg.norm(a - b, axis=1).mean())
