"""The one image type: voxels + geometry + modality + display window + provenance.

Conventions (those of SimpleITK, so conversion is lossless):
- ``array`` is indexed ``[z, y, x]`` (gray) or ``[z, y, x, c]`` with c = 3 (RGB colour). A 2-D
  image is a volume with one slice (z = 1).
- ``spacing`` and ``origin`` are ``(x, y, z)`` in millimetres; ``direction`` is the row-major 3x3
  direction cosine matrix as 9 floats.
- Values are in the modality's own units (HU for CT, raw counts or 0..255 for 8-bit rasters)
  until normalized; normalized images hold float32 in [0, 1] and carry the ``Normalization``
  that produced them, so export can map back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

IDENTITY_DIRECTION: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

# DICOM modality codes the app knows; anything else is kept but treated as "OT" for defaults.
KNOWN_MODALITIES = ("CT", "MR", "PT", "NM", "OT")
FUNCTIONAL_MODALITIES = ("CT", "PT", "NM")  # the "functional" source of CClow (CT, PET, SPECT)
MODALITY_ALIASES = {
    "CT": "CT", "MR": "MR", "MRI": "MR", "PT": "PT", "PET": "PT", "NM": "NM", "SPECT": "NM",
    "OT": "OT",
}

# ITU-R BT.601 luma, the colour-to-gray conversion of shared/docs/metrics.md.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def canonical_modality(name: str | None) -> str:
    """Map a user/DICOM modality name (CT, MR, MRI, PT, PET, NM, SPECT, OT) to its DICOM code."""
    if not name:
        return "OT"
    code = MODALITY_ALIASES.get(name.strip().upper())
    if code is None:
        raise InputError(f"unknown modality '{name}' (expected one of CT, MR, PET, SPECT, OT)")
    return code


@dataclass(frozen=True)
class Provenance:
    """Where an image came from: files, DICOM identifiers and the attributes export must copy."""

    source_paths: tuple[str, ...] = ()
    series_instance_uid: str | None = None
    study_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uids: tuple[str, ...] = ()  # one per slice, in slice order
    # DICOM keyword -> value for the patient/study module (PatientName, PatientID, PatientBirthDate,
    # PatientSex, StudyDate, StudyTime, StudyID, AccessionNumber, ReferringPhysicianName,
    # StudyDescription) and anything else export needs (SeriesDescription, Manufacturer...).
    attributes: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # free text, e.g. "registered (rigid) onto source 1"


@dataclass(frozen=True)
class Normalization:
    """A linear intensity map ``normalized = clip((value - low) / (high - low), 0, 1)``."""

    kind: str  # "window", "percentile", "fixed" (e.g. 8-bit 0..255), "functional", "identity"
    low: float
    high: float
    note: str = ""  # e.g. "CT brain window 80/40" or "MR percentiles 0.5-99.5"

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Map values to float32 in [0, 1]."""
        scale = self.high - self.low
        if scale <= 0:
            return np.zeros(np.shape(values), dtype=np.float32)
        out = (np.asarray(values, dtype=np.float32) - np.float32(self.low)) / np.float32(scale)
        return np.clip(out, 0.0, 1.0)

    def invert(self, normalized: np.ndarray) -> np.ndarray:
        """Map [0, 1] values back to the original units (float32)."""
        return (np.asarray(normalized, dtype=np.float32) * np.float32(self.high - self.low)
                + np.float32(self.low))


@dataclass(frozen=True)
class Image:
    """A 2-D or 3-D medical image with its geometry; see the module docstring for conventions."""

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = IDENTITY_DIRECTION
    modality: str = "OT"
    window: tuple[float, float] | None = None  # (center, width) in the array's units
    provenance: Provenance = field(default_factory=Provenance)
    normalization: Normalization | None = None  # set once the image has been normalized

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
            raise InputError(f"unsupported image shape {np.shape(self.array)}: expected 2-D, 3-D "
                             "or 3-D RGB data (4-D time series are not supported)")
        if min(arr.shape[:3]) < 1:
            raise InputError(f"empty image of shape {arr.shape}")
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "spacing", tuple(float(v) for v in self.spacing))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))
        object.__setattr__(self, "direction", tuple(float(v) for v in self.direction))
        if len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise ValueError("spacing/origin need 3 values and direction 9")

    # --- shape ---------------------------------------------------------------------------
    @property
    def is_color(self) -> bool:
        return self.array.ndim == 4

    @property
    def shape(self) -> tuple[int, int, int]:
        """(z, y, x) voxel counts, colour channels excluded."""
        z, y, x = self.array.shape[:3]
        return (z, y, x)

    @property
    def num_slices(self) -> int:
        return self.array.shape[0]

    @property
    def is_2d(self) -> bool:
        return self.array.shape[0] == 1

    # --- values --------------------------------------------------------------------------
    def luminance(self) -> np.ndarray:
        """Gray values [z, y, x] as float32; colour images give Y = 0.299 R + 0.587 G + 0.114 B."""
        if not self.is_color:
            return self.array.astype(np.float32, copy=False)
        return (self.array.astype(np.float64) @ LUMA_WEIGHTS).astype(np.float32)

    def slice(self, index: int) -> "Image":
        """One slice as a one-slice image with the matching origin."""
        if not 0 <= index < self.num_slices:
            raise IndexError(f"slice {index} out of range 0..{self.num_slices - 1}")
        d = np.reshape(self.direction, (3, 3))
        origin = np.asarray(self.origin) + d @ np.array([0.0, 0.0, index * self.spacing[2]])
        uids = self.provenance.sop_instance_uids
        prov = dataclasses.replace(self.provenance,
                                   sop_instance_uids=(uids[index],) if len(uids) > index else ())
        return dataclasses.replace(self, array=self.array[index:index + 1],
                                   origin=tuple(origin), provenance=prov)

    def with_array(self, array: np.ndarray, **changes: Any) -> "Image":
        """A copy with new voxels (same geometry unless changed); shape (z, y, x) must match."""
        arr = np.asarray(array)
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        if arr.shape[:3] != self.shape:
            raise ValueError(f"new array shape {arr.shape[:3]} differs from {self.shape}")
        return dataclasses.replace(self, array=arr, **changes)

    def same_grid(self, other: "Image", tol: float = 1e-4) -> bool:
        """True if both images have the same voxel grid (shape, spacing, origin, direction)."""
        return (self.shape == other.shape
                and np.allclose(self.spacing, other.spacing, atol=tol)
                and np.allclose(self.origin, other.origin, atol=tol)
                and np.allclose(self.direction, other.direction, atol=tol))

    def check_finite(self, name: str | None = None) -> None:
        """Raise InputError if any voxel is NaN or infinite."""
        if np.issubdtype(self.array.dtype, np.floating) and not np.isfinite(self.array).all():
            bad = int((~np.isfinite(self.array)).sum())
            raise InputError(f"{bad} voxel(s) are NaN or infinite", name or self._name())

    def _name(self) -> str | None:
        return self.provenance.source_paths[0] if self.provenance.source_paths else None

    # --- SimpleITK -------------------------------------------------------------------------
    def to_sitk(self, luminance: bool = False):
        """A SimpleITK image with this geometry (3-D; vector pixels for colour unless luminance)."""
        import SimpleITK as sitk

        if self.is_color and not luminance:
            img = sitk.GetImageFromArray(self.array, isVector=True)
        else:
            img = sitk.GetImageFromArray(self.luminance() if self.is_color else self.array)
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(self.direction)
        return img

    @classmethod
    def from_sitk(cls, img, **fields: Any) -> "Image":
        """Build an Image from a SimpleITK image (2-D images become one-slice volumes)."""
        import SimpleITK as sitk

        arr = sitk.GetArrayFromImage(img)
        if img.GetDimension() == 2:
            arr = arr[np.newaxis]
            sx, sy = img.GetSpacing()
            ox, oy = img.GetOrigin()
            d = img.GetDirection()
            spacing, origin = (sx, sy, 1.0), (ox, oy, 0.0)
            direction = (d[0], d[1], 0.0, d[2], d[3], 0.0, 0.0, 0.0, 1.0)
        elif img.GetDimension() == 3:
            spacing, origin, direction = img.GetSpacing(), img.GetOrigin(), img.GetDirection()
        else:
            raise InputError(f"{img.GetDimension()}-D data is not supported (2-D or 3-D only)")
        if img.GetNumberOfComponentsPerPixel() not in (1, 3):
            raise InputError(f"{img.GetNumberOfComponentsPerPixel()} components per pixel "
                             "are not supported (gray or RGB only)")
        return cls(array=arr, spacing=spacing, origin=origin, direction=direction, **fields)


# --- geometry sanity -----------------------------------------------------------------------------

ORTHO_TOL = 1e-3  # max |D^T D - I| of rounded scanner headers: re-orthonormalised silently
SKEW_MAX = 0.1  # up to this, re-orthonormalised with a note; beyond, refused


def _fmt(values) -> str:
    return ", ".join(f"{float(v):g}" for v in values)


def checked_direction(spacing, origin, direction, path: str | None) -> tuple[tuple, str]:
    """Check spacing/origin (mm) and direction cosines; (direction re-orthonormalised, note)."""
    spacing = np.asarray(spacing, dtype=np.float64)
    if not (np.isfinite(spacing).all() and (spacing > 0).all()):
        raise InputError(f"spacing {' x '.join(f'{v:g}' for v in spacing)} mm is not positive "
                         "and finite", path)
    if not np.isfinite(np.asarray(origin, dtype=np.float64)).all():
        raise InputError(f"origin ({_fmt(origin)}) mm is not finite", path)
    d = np.asarray(direction, dtype=np.float64)
    n = int(round(np.sqrt(d.size)))
    d = d.reshape(n, n)
    if not np.isfinite(d).all():
        raise InputError(f"direction cosines ({_fmt(d.ravel())}) are not finite", path)
    norms = np.linalg.norm(d, axis=0)
    if norms.min() < 1e-6 or abs(np.linalg.det(d / norms)) < 1e-3:
        raise InputError("direction cosines are degenerate (a zero-length or parallel axis)", path)
    error = float(np.abs(d.T @ d - np.eye(n)).max())
    if error <= 1e-6:
        return tuple(d.ravel()), ""
    if error > SKEW_MAX:
        raise InputError(f"direction cosines are not orthonormal (error {error:.3g} > "
                         f"{SKEW_MAX:g})", path)
    u, _, vt = np.linalg.svd(d)  # the nearest orthonormal matrix (polar decomposition)
    note = f"direction cosines re-orthonormalised (error {error:.2g})" if error > ORTHO_TOL else ""
    return tuple((u @ vt).ravel()), note


def check_geometry(image: Image, path: str | None = None) -> Image:
    """The image if its spacing/origin/direction are usable, re-orthonormalised if slightly off."""
    name = path or image._name()
    direction, note = checked_direction(image.spacing, image.origin, image.direction, name)
    if direction == image.direction:
        return image
    if not note:
        return dataclasses.replace(image, direction=direction)
    prov = image.provenance
    desc = f"{prov.description}; {note}" if prov.description else note
    return dataclasses.replace(image, direction=direction,
                               provenance=dataclasses.replace(prov, description=desc))
