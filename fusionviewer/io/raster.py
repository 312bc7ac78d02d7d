"""PNG / JPEG / TIFF / BMP via Pillow: gray (8- or 16-bit) or RGB; multi-page TIFF as slices."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..image import Image, Provenance
from ._common import check_voxel_count, one_line

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def _frame_array(frame, path: Path) -> np.ndarray:
    """One Pillow frame as uint8/uint16/int32/float32 gray [y, x] or uint8 RGB [y, x, 3]."""
    mode = frame.mode
    if mode in ("L", "RGB"):
        return np.asarray(frame)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(frame).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(frame)
        if arr.min(initial=0) >= 0 and arr.max(initial=0) <= 65535:
            return arr.astype(np.uint16)  # 16-bit PNGs open as mode I in some Pillow versions
        return arr.astype(np.int32)
    if mode == "F":
        return np.asarray(frame, dtype=np.float32)
    if mode in ("1", "LA", "La"):
        return np.asarray(frame.convert("L"))
    if mode in ("RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "P", "PA", "LAB", "HSV"):
        rgb = np.asarray(frame.convert("RGB"))
        if mode in ("P", "PA") and (rgb == rgb[..., :1]).all():
            return np.ascontiguousarray(rgb[..., 0])  # a gray palette stays gray
        return rgb
    raise InputError(f"unsupported raster pixel mode {mode}", str(path))


def read_raster(path: str | Path, *, modality: str = "OT") -> Image:
    """Load a PNG/JPEG/TIFF/BMP; values as stored (8-bit 0..255, 16-bit kept), spacing 1 mm."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # Our own voxel limit applies below; Pillow still refuses > 2 * MAX_IMAGE_PIXELS.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            # Pillow reads from an in-memory copy: a corrupt chunk length then cannot make it
            # allocate more than the file holds.
            with PILImage.open(io.BytesIO(path.read_bytes())) as im:
                n_frames = getattr(im, "n_frames", 1)
                check_voxel_count(im.width * im.height * n_frames * len(im.getbands()), path)
                slices = []
                for k in range(n_frames):
                    im.seek(k)
                    im.load()
                    slices.append(_frame_array(im, path))
    except InputError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise InputError(f"image too large ({one_line(exc)})", str(path)) from None
    except UnidentifiedImageError as exc:
        raise InputError(f"not a readable image ({exc.__class__.__name__})", str(path)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"corrupt or truncated image file ({one_line(exc)})",
                         str(path)) from None
    if len({s.shape for s in slices}) != 1 or len({s.dtype for s in slices}) != 1:
        raise InputError("pages of the file differ in size or pixel type", str(path))
    arr = np.stack(slices)
    image = Image(arr, modality=modality,
                  provenance=Provenance(source_paths=(str(path),)))
    image.check_finite(str(path))
    return image
