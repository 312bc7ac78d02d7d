"""Patient space: which sources carry geometry, the registration decision, overlap, and
resampling onto the fixed source's grid by patient coordinates (mm, LPS as DICOM and ITK).

Rules (each lives here once):

- **No geometry** (``has_patient_geometry`` False): a raster (PNG, JPEG, TIFF, BMP, GIF: the
  formats hold no origin or direction), or an in-memory one-slice image with the default
  geometry (origin 0, identity direction) and no source file. Such sources are fused pixel by
  pixel as before: their grids must have one size (or be registered).
- **Registration decision** (``decide_registration``) for "auto": rigid when DICOM sources have
  different FrameOfReferenceUIDs; otherwise identity in patient coordinates (all DICOM sources
  share one Frame of Reference, as PET/CT, SPECT/CT and PET/MR of one scanner do, or the sources
  carry no Frame of Reference: NIfTI, MHA, NRRD). "none" is always identity in patient
  coordinates; "rigid"/"affine" always register.
- **Identity** resamples every source onto the fixed grid by its origin, spacing and direction
  (SimpleITK, linear), whatever its storage layout (flipped, permuted, oblique); sources whose
  patient-space boxes do not overlap are refused (``check_overlap``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError
from .image import IDENTITY_DIRECTION, Image

# Raster formats without patient geometry (Pillow's suffixes of io/raster.py).
GEOMETRY_FREE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
IDENTITY, PIXEL_GRID = "identity", "pixel grid"


def has_patient_geometry(image: Image) -> bool:
    """True if the image's origin/spacing/direction place it in patient space (see module doc)."""
    paths = image.provenance.source_paths
    if paths and all(Path(p).suffix.lower() in GEOMETRY_FREE_SUFFIXES for p in paths):
        return False
    if not paths and image.is_2d:
        default = (np.allclose(image.origin, 0.0)
                   and np.allclose(image.direction, IDENTITY_DIRECTION))
        return not default
    return True


@dataclass(frozen=True)
class RegistrationDecision:
    """What the geometry step does: ``transform`` is identity, pixel grid, rigid or affine."""

    requested: str  # the option: auto, none, rigid, affine, deformable
    transform: str
    reason: str
    fixed_index: int = 0
    tag: str = ""  # a few words for short headers (NIfTI descrip): "same FoR", "FoRs differ"...

    @property
    def registers(self) -> bool:
        return self.transform not in (IDENTITY, PIXEL_GRID)

    def text(self) -> str:
        """For DerivationDescription and reports, e.g. 'rigid registration onto source 1 (auto:
        ...)'."""
        how = (f"{self.transform} registration onto source {self.fixed_index + 1}"
               if self.registers else
               "no registration, identity in patient coordinates" if self.transform == IDENTITY
               else "no registration, pixel grids")
        return f"{how} ({self.requested}: {self.reason})"

    def short(self) -> str:
        """E.g. 'auto: identity, same FoR' (for 80-character headers)."""
        return f"{self.requested}: {self.transform}" + (f", {self.tag}" if self.tag else "")

    def line(self) -> str:
        """The one line the CLI prints."""
        return f"registration: {self.text()}"


def frame_of_reference(image: Image) -> str | None:
    """The DICOM FrameOfReferenceUID of a source, None for files without one."""
    return image.provenance.frame_of_reference_uid or None


def decide_registration(images: Sequence[Image], requested: str, fixed_index: int = 0
                        ) -> RegistrationDecision:
    """Which transform brings the sources onto the fixed grid, and why (rules: module doc)."""
    def done(transform: str, reason: str, tag: str) -> RegistrationDecision:
        return RegistrationDecision(requested, transform, reason, fixed_index, tag)

    geometry = [has_patient_geometry(img) for img in images]
    frames = [frame_of_reference(img) for img in images]
    distinct = list(dict.fromkeys(f for f in frames if f))
    if requested in ("rigid", "affine", "deformable"):
        return done(requested, "chosen by the user", "")
    if not all(geometry):
        bad = ", ".join(str(k + 1) for k, g in enumerate(geometry) if not g)
        return done(PIXEL_GRID, f"source(s) {bad} carry no patient geometry (raster images): "
                                "fused pixel by pixel, one grid size needed", "rasters")
    if requested == "none":
        return done(IDENTITY, "chosen by the user", "")
    if len(distinct) > 1:
        listed = ", ".join(f"{k + 1}: {_short(f)}" for k, f in enumerate(frames) if f)
        return done("rigid", f"DICOM Frames of Reference differ ({listed})", "FoRs differ")
    if distinct and all(frames):
        return done(IDENTITY, f"all sources share DICOM Frame of Reference {_short(distinct[0])}",
                    "same FoR")
    if distinct:
        without = ", ".join(str(k + 1) for k, f in enumerate(frames) if not f)
        return done(IDENTITY, f"source(s) {without} carry no Frame of Reference; patient "
                              "coordinates taken as shared", "FoR partly absent")
    return done(IDENTITY, "no source carries a Frame of Reference (NIfTI/MHA/NRRD); patient "
                          "coordinates taken as shared", "no FoR")


def _short(uid: str) -> str:
    return uid if len(uid) <= 24 else f"...{uid[-20:]}"


def patient_box(image: Image) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners (mm) of the axis-aligned patient-space box around every voxel."""
    z, y, x = image.shape
    d = np.reshape(image.direction, (3, 3)) * np.asarray(image.spacing)
    corners = np.array([[i, j, k] for i in (-0.5, x - 0.5) for j in (-0.5, y - 0.5)
                        for k in (-0.5, z - 0.5)])
    points = np.asarray(image.origin) + corners @ d.T
    return points.min(axis=0), points.max(axis=0)


def _box_text(low: np.ndarray, high: np.ndarray) -> str:
    return ", ".join(f"{a} {lo:.0f}..{hi:.0f}" for a, lo, hi in zip("xyz", low, high)) + " mm"


def check_overlap(images: Sequence[Image], fixed_index: int, labels: Sequence[str]) -> None:
    """InputError naming both sources if a source's patient box misses the fixed one's."""
    flo, fhi = patient_box(images[fixed_index])
    for k, img in enumerate(images):
        if k == fixed_index:
            continue
        lo, hi = patient_box(img)
        if np.any(np.minimum(hi, fhi) - np.maximum(lo, flo) <= 0):
            raise InputError(
                f"{labels[k]} and {labels[fixed_index]} do not overlap in patient space "
                f"({_box_text(lo, hi)} vs {_box_text(flo, fhi)}): nothing to fuse; if they are "
                "not in one frame of reference, register them (--register rigid)", labels[k])


def on_fixed_frame(image: Image, fixed: Image) -> Image:
    """The image's provenance moved to the fixed source's Frame of Reference (after resampling)."""
    prov = dataclasses.replace(image.provenance,
                               frame_of_reference_uid=fixed.provenance.frame_of_reference_uid)
    return dataclasses.replace(image, provenance=prov)


def to_fixed_grid(moving: Image, fixed: Image, label: str = "the fixed source") -> Image:
    """``moving`` resampled onto the fixed grid by patient coordinates (identity, linear;
    outside = the moving minimum); as is if already on that grid.

    Gray data other than uint8 comes out as float32 (interpolated counts, Bq/ml or HU are kept,
    not rounded), straight from SimpleITK's resampler with the fixed grid as output parameters;
    uint8 and colour go through ``registration.resample_to`` (rounded back to uint8)."""
    from .registration import resample_to

    if moving.same_grid(fixed):
        return on_fixed_frame(moving, fixed)
    description = f"resampled by patient coordinates onto the grid of {label}"
    if moving.is_color or moving.array.dtype == np.uint8 or (fixed.is_2d and moving.is_2d):
        return on_fixed_frame(resample_to(moving, fixed, None, description=description), fixed)
    import SimpleITK as sitk

    src = moving.to_sitk()
    if src.GetPixelID() not in (sitk.sitkFloat32, sitk.sitkFloat64):
        src = sitk.Cast(src, sitk.sitkFloat32)
    out = sitk.Resample(src, list(fixed.shape[::-1]), sitk.Transform(3, sitk.sitkIdentity),
                        sitk.sitkLinear, fixed.origin, fixed.spacing, fixed.direction,
                        float(np.min(moving.array)), sitk.sitkFloat32)
    prov = moving.provenance
    prov = dataclasses.replace(prov, description="; ".join(
        p for p in (prov.description, description) if p))
    image = dataclasses.replace(moving, array=sitk.GetArrayViewFromImage(out).copy(),
                                spacing=fixed.spacing, origin=fixed.origin,
                                direction=fixed.direction, provenance=prov)
    return on_fixed_frame(image, fixed)
