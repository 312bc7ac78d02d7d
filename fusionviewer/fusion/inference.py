"""Run the bundled fusion CNN: device choice, batching, block-wise (tiled) processing.

``fuse_cnn(images)`` fuses N >= 2 registered gray float arrays in [0, 1], 2-D ``(H, W)`` or 3-D
``(Z, H, W)`` (slice-wise, several slices per forward pass). With ``block_size = 2**i`` each slice
is cut into blocks that are processed with a halo of real neighbouring pixels and blended with
feathered weights, so the result matches the whole-image run (the per-source global features
are always taken from the whole slice).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelError
from . import check_block_size
from ..progress import ProgressCallback, check_cancel, report

HALO = 64  # pixels of context around each block; a multiple of 2**levels keeps grids aligned
_MODEL_CACHE: dict = {}


def select_device(device: str = "auto") -> str:
    """'cuda', 'mps' or 'cpu': the first available in that order for 'auto', else as asked."""
    import torch

    name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    base = name.split(":")[0]
    if base == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested but no CUDA GPU is available")
    if base == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError("device 'mps' requested but Apple MPS is not available")
    if base not in ("cuda", "mps", "cpu"):
        raise InputError(f"unknown device '{device}' (use auto, cuda, mps or cpu)")
    return name


def load_model(weights: str | Path | None = None, device: str = "cpu"):
    """The verified network on ``device`` (cached per weights file and device)."""
    from .weights import build_model, default_weights_path, load_checkpoint, sha256_file

    path = Path(weights) if weights is not None else default_weights_path()
    try:
        key = (str(path.resolve()), device, path.stat().st_mtime_ns)
    except OSError:
        raise ModelError(f"{path}: CNN weights file not found") from None
    if key not in _MODEL_CACHE:
        model = build_model(load_checkpoint(path))
        model = model.to(device)
        if device.startswith("cuda"):
            import torch

            model = model.to(memory_format=torch.channels_last).half()
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = model
        model.sha256 = sha256_file(path)
    return _MODEL_CACHE[key]


def _check_inputs(images) -> np.ndarray:
    if len(images) < 2:
        raise InputError(f"fusion needs at least 2 images, got {len(images)}")
    arrays = [np.asarray(im, dtype=np.float32) for im in images]
    shape = arrays[0].shape
    if arrays[0].ndim not in (2, 3):
        raise InputError(f"images must be 2-D or 3-D, got shape {shape}")
    for k, a in enumerate(arrays[1:], start=2):
        if a.shape != shape:
            raise InputError(f"image {k} has shape {a.shape}, image 1 has {shape}")
    stack = np.stack(arrays, axis=-3 if arrays[0].ndim == 3 else 0)  # (Z?, N, H, W)
    if not np.isfinite(stack).all():
        raise InputError("input images contain NaN or infinite values")
    return stack


def _tiles(length: int, block: int) -> list[int]:
    return list(range(0, max(length - block, 0) + 1, block)) + (
        [length - block] if length > block and (length - block) % block else [])


def _feather(h: int, w: int, top: int, left: int, bh: int, bw: int, halo: int) -> np.ndarray:
    """Blend weight of one processed window: 1 on its block, ramping down across the halo."""
    def ramp(n, start, size):
        idx = np.arange(n, dtype=np.float32)
        d = np.maximum(np.maximum(start - idx, idx - (start + size - 1)), 0)
        return np.clip(1.0 - d / (halo / 2 + 1), 1e-3, 1.0)
    return ramp(h, top, bh)[:, None] * ramp(w, left, bw)[None, :]


def _input_tensor(model, batch: np.ndarray, device: str):
    """``batch`` as the model's input: on ``device``, in the model's dtype (fp16 on CUDA),
    channels-last on CUDA."""
    import torch

    x = torch.from_numpy(batch).to(device, dtype=next(model.parameters()).dtype)
    if device.startswith("cuda"):
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _run_batch(model, batch: np.ndarray, device: str, context=None) -> np.ndarray:
    import torch

    with torch.inference_mode():
        x = _input_tensor(model, batch, device)
        if context is not None:
            context = context.to(x.dtype)
        y = model(x, context)
        return y[:, 0].float().cpu().numpy()


def _fuse_tiled(model, slice_stack: np.ndarray, block: int, device: str, batch_size: int,
                cancel) -> np.ndarray:
    """Fuse one (N, H, W) slice block by block with halos and feathered blending."""
    import torch

    n, h, w = slice_stack.shape
    with torch.inference_mode():
        context = model.context(_input_tensor(model, np.ascontiguousarray(slice_stack[None]),
                                              device))
    align = 2 ** model.levels
    acc = np.zeros((h, w), np.float64)
    wsum = np.zeros((h, w), np.float64)
    windows = []
    for top in _tiles(h, min(block, h)):
        for left in _tiles(w, min(block, w)):
            bh, bw = min(block, h), min(block, w)
            y0 = max(0, (top - HALO) // align * align)
            x0 = max(0, (left - HALO) // align * align)
            y1, x1 = min(h, top + bh + HALO), min(w, left + bw + HALO)
            windows.append((y0, y1, x0, x1, top, left, bh, bw))
    # windows differ in size only at the borders: group equal sizes into one forward pass
    groups: dict[tuple[int, int], list] = {}
    for win in windows:
        groups.setdefault((win[1] - win[0], win[3] - win[2]), []).append(win)
    for (wh, ww), wins in groups.items():
        for i in range(0, len(wins), batch_size):
            check_cancel(cancel)
            part = wins[i:i + batch_size]
            batch = np.stack([slice_stack[:, y0:y1, x0:x1] for y0, y1, x0, x1, *_ in part])
            ctx = context.expand(len(part), -1, -1)
            out = _run_batch(model, batch, device, ctx)
            for o, (y0, y1, x0, x1, top, left, bh, bw) in zip(out, part):
                fw = _feather(wh, ww, top - y0, left - x0, bh, bw, HALO)
                acc[y0:y1, x0:x1] += fw * o
                wsum[y0:y1, x0:x1] += fw
    return (acc / wsum).astype(np.float32)


def _default_batch(device: str, h: int, w: int) -> int:
    per = max(1, (256 * 256) // max(1, h * w))
    return (64 if device.startswith("cuda") else 8) * per


def fuse_cnn(images, *, progress: ProgressCallback | None = None, cancel=None,
             block_size: int | None = None, device: str = "auto",
             batch_size: int | None = None, weights: str | Path | None = None) -> np.ndarray:
    """Fuse N >= 2 gray float arrays in [0, 1] with the bundled CNN (float32 [0, 1], same shape).

    ``block_size``: None (whole slices) or one of ``BLOCK_SIZES`` (tiles with halo, blended).
    ``device``: 'auto' (CUDA, then MPS, then CPU), 'cuda', 'mps' or 'cpu'. On CPU torch uses
    ``torch.get_num_threads()`` threads (set ``FUSIONVIEWER_THREADS`` to override).
    ``batch_size``: slices (or tiles) per forward pass. Raises ModelError for bad weights.
    """
    import torch

    check_block_size(block_size)
    stack = _check_inputs(images)
    volume = stack.ndim == 4
    slices = stack if volume else stack[None]  # (Z, N, H, W)
    threads = os.environ.get("FUSIONVIEWER_THREADS")
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    dev = select_device(device)
    model = load_model(weights, dev)
    z, n, h, w = slices.shape
    bs = int(batch_size) if batch_size else _default_batch(dev, h, w)
    if bs < 1:
        raise InputError(f"batch size must be positive, got {batch_size}")
    out = np.empty((z, h, w), np.float32)
    report(progress, "fusing", 0.0)
    if block_size is None or block_size >= max(h, w):
        for i in range(0, z, bs):
            check_cancel(cancel)
            out[i:i + bs] = _run_batch(model, np.ascontiguousarray(slices[i:i + bs]), dev)
            report(progress, "fusing", min(z, i + bs) / z)
    else:
        for i in range(z):
            check_cancel(cancel)
            out[i] = _fuse_tiled(model, slices[i], int(block_size), dev, bs, cancel)
            report(progress, "fusing", (i + 1) / z)
    np.clip(out, 0.0, 1.0, out=out)
    return out if volume else out[0]
