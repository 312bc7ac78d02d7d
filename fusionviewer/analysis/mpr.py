"""Three-plane views in patient orientation (radiological convention) and MIP, plain numpy.

A volume [z, y, x] with a direction matrix is viewed as a *canonical* array indexed
[s, p, l]: axes towards the patient's Superior, Posterior and Left (LPS, DICOM's patient
coordinates), by transposing and flipping the nearest patient axis (an oblique volume is shown
on its nearest axes). Planes, (rows, columns) as shown on screen:

- axial: rows anterior -> posterior, columns patient's right -> left (radiological);
- coronal: rows superior -> inferior, columns right -> left (radiological);
- sagittal: rows superior -> inferior, columns anterior -> posterior.

Pixel sizes are returned in mm (column width, row height) so a view can keep the aspect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLANES = ("axial", "coronal", "sagittal")
# edge letters (left, right, top, bottom) of each plane on screen
EDGE_LETTERS = {"axial": ("R", "L", "A", "P"), "coronal": ("R", "L", "S", "I"),
                "sagittal": ("A", "P", "S", "I")}
# canonical axis held constant by each plane (0 = S, 1 = P, 2 = L)
NORMAL_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


@dataclass(frozen=True)
class Orientation:
    """How array axes (z, y, x) map onto canonical axes (S, P, L)."""

    perm: tuple[int, int, int]      # canonical axis c takes array axis perm[c]
    flip: tuple[bool, bool, bool]   # canonical axis c runs against array axis perm[c]

    @staticmethod
    def of(direction) -> "Orientation":
        """From a SimpleITK direction (9 floats: columns are the x, y, z axes in LPS)."""
        d = np.reshape(np.asarray(direction, dtype=float), (3, 3))
        perm, flip, used = [0, 0, 0], [False, False, False], set()
        # array axis a (x=2, y=1, z=0 in [z, y, x]) has LPS direction d[:, i] with i = 2 - a
        order = sorted(range(3), key=lambda i: -np.max(np.abs(d[:, i])))
        for i in order:
            col = d[:, i]
            lps = max((j for j in range(3) if j not in used), key=lambda j: abs(col[j]))
            used.add(lps)
            c = 2 - lps          # canonical index: S = 0 (LPS z), P = 1 (y), L = 2 (x)
            perm[c] = 2 - i      # array axis index in [z, y, x]
            flip[c] = bool(col[lps] < 0)
        return Orientation(tuple(perm), tuple(flip))


def canonical(array: np.ndarray, orient: Orientation) -> np.ndarray:
    """A [s, p, l] view (no copy) of a [z, y, x(, c)] array."""
    axes = list(orient.perm) + list(range(3, array.ndim))
    view = np.transpose(array, axes)
    for c in range(3):
        if orient.flip[c]:
            view = np.flip(view, axis=c)
    return view


def canonical_spacing(spacing, orient: Orientation) -> tuple[float, float, float]:
    """(s, p, l) voxel sizes in mm from the image's (x, y, z) spacing."""
    zyx = (float(spacing[2]), float(spacing[1]), float(spacing[0]))
    return tuple(zyx[a] for a in orient.perm)


def plane_image(canon: np.ndarray, plane: str, index: int) -> np.ndarray:
    """The 2-D (rows, columns[, c]) slice of a canonical array at ``index`` along the plane's
    normal, oriented as on screen (see module docstring)."""
    n = canon.shape[NORMAL_AXIS[plane]]
    index = int(min(max(index, 0), n - 1))
    if plane == "axial":
        return canon[index]                        # rows P (A at top), cols L (R at left)
    if plane == "coronal":
        return canon[::-1, index]                  # rows S at top, cols L
    return canon[::-1, :, index]                   # rows S at top, cols P (A at left)


def plane_pixel_mm(cspacing: tuple[float, float, float], plane: str) -> tuple[float, float]:
    """(column width, row height) in mm of a plane's pixels."""
    s, p, l = cspacing
    return {"axial": (l, p), "coronal": (l, s), "sagittal": (p, s)}[plane]


def plane_to_canonical(plane: str, index: float, col: float, row: float,
                       shape: tuple[int, int, int]) -> tuple[float, float, float]:
    """Canonical continuous (s, p, l) voxel coordinates of a point (col, row) on a plane."""
    ns = shape[0]
    if plane == "axial":
        return (index, row, col)
    if plane == "coronal":
        return (ns - row, index, col)
    return (ns - row, col, index)


def canonical_to_plane(plane: str, spl: tuple[float, float, float],
                       shape: tuple[int, int, int]) -> tuple[float, float, float]:
    """(index along the normal, col, row) of a canonical point on a plane."""
    s, p, l = spl
    ns = shape[0]
    if plane == "axial":
        return (s, l, p)
    if plane == "coronal":
        return (p, l, ns - s)
    return (l, p, ns - s)


def canonical_to_array(spl, shape_zyx, orient: Orientation) -> tuple[float, float, float]:
    """Continuous array (z, y, x) coordinates (voxel edges at integers) of a canonical point."""
    out = [0.0, 0.0, 0.0]
    for c in range(3):
        a = orient.perm[c]
        v = float(spl[c])
        out[a] = shape_zyx[a] - v if orient.flip[c] else v
    return tuple(out)


def array_to_canonical(zyx, shape_zyx, orient: Orientation) -> tuple[float, float, float]:
    """Canonical (s, p, l) of a continuous array (z, y, x) point."""
    out = [0.0, 0.0, 0.0]
    for c in range(3):
        a = orient.perm[c]
        v = float(zyx[a])
        out[c] = shape_zyx[a] - v if orient.flip[c] else v
    return tuple(out)


def array_to_patient(zyx, origin, spacing, direction) -> np.ndarray:
    """Patient (LPS, mm) coordinates of a continuous array point (voxel centres at +0.5)."""
    d = np.reshape(np.asarray(direction, dtype=float), (3, 3))
    ijk = np.array([zyx[2] - 0.5, zyx[1] - 0.5, zyx[0] - 0.5])
    return np.asarray(origin, float) + d @ (ijk * np.asarray(spacing, float))


def patient_to_array(point, origin, spacing, direction) -> tuple[float, float, float]:
    """Continuous array (z, y, x) of a patient point (inverse of ``array_to_patient``)."""
    d = np.reshape(np.asarray(direction, dtype=float), (3, 3))
    ijk = np.linalg.solve(d, np.asarray(point, float) - np.asarray(origin, float))
    ijk = ijk / np.asarray(spacing, float) + 0.5
    return (float(ijk[2]), float(ijk[1]), float(ijk[0]))


def mip(canon: np.ndarray, angle_deg: float = 0.0, max_size: int = 256) -> np.ndarray:
    """Coronal maximum intensity projection (rows S -> I, columns R -> L at 0 degrees) of a gray
    canonical volume rotated by ``angle_deg`` about the S axis; in-plane downsampled (by
    striding) to at most ``max_size`` voxels a side for speed."""
    vol = np.asarray(canon)
    step = max(1, int(np.ceil(max(vol.shape[1], vol.shape[2]) / max_size)))
    vol = vol[:, ::step, ::step]
    if angle_deg % 360:
        from scipy.ndimage import rotate

        vol = rotate(vol.astype(np.float32), angle_deg, axes=(1, 2), reshape=False, order=1,
                     mode="constant", cval=float(vol.min()))
    return np.asarray(vol.max(axis=1))[::-1]
