"""CNN inference: N-input order independence, tiling, devices, 3-D volumes, batching, cancel."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import torch

from harvard_data import harvard_pair_paths, harvard_rows, read_gray_u8
from fusionviewer.errors import Cancelled, InputError
from fusionviewer.fusion.inference import fuse_cnn, select_device


def _pair(task: str, k: int = 0, crop: int | None = None) -> list[np.ndarray]:
    name = harvard_rows(task, "val")[k]["name"]
    imgs = [read_gray_u8(p).astype(np.float32) / 255 for p in harvard_pair_paths(task, name)]
    return [im[:crop, :crop] for im in imgs] if crop else imgs


def _sources(n: int) -> list[np.ndarray]:
    """n registered 2-D sources: the PET-MRI and SPECT-MRI pairs of one axial level and more."""
    pool = _pair("pet-mri", 5) + _pair("spect-mri", 3) + _pair("ct-mri", 2)
    return pool[:n]


@pytest.mark.parametrize("n", [2, 3, 5])
def test_result_does_not_depend_on_source_order(harvard, n):
    srcs = _sources(n)
    ref = fuse_cnn(srcs, device="cpu")
    assert ref.shape == srcs[0].shape and ref.dtype == np.float32
    assert 0.0 <= ref.min() and ref.max() <= 1.0
    perms = list(itertools.permutations(range(n)))
    for perm in [perms[-1], perms[len(perms) // 2]]:
        out = fuse_cnn([srcs[i] for i in perm], device="cpu")
        assert np.abs(out - ref).max() < 1e-5
    # every source contributes: dropping the last one changes the result
    assert np.abs(fuse_cnn(srcs[:-1], device="cpu") - ref).max() > 1 / 255 if n > 2 else True


def test_fusion_keeps_both_modalities(harvard):
    mri, pet = _pair("pet-mri", 40)
    f = fuse_cnn([mri, pet], device="cpu")
    # edges of the MRI and the coarse pattern of the PET both survive
    assert np.corrcoef(np.diff(f, axis=1).ravel(), np.diff(mri, axis=1).ravel())[0, 1] > 0.5
    from scipy.ndimage import gaussian_filter

    assert np.corrcoef(gaussian_filter(f, 4).ravel(), gaussian_filter(pet, 4).ravel())[0, 1] > 0.8


@pytest.mark.parametrize("block", [32, 64, 128])
def test_tiled_equals_whole_image(harvard, block):
    srcs = [s[:160, 40:200] for s in _pair("spect-mri", 4)]
    whole = fuse_cnn(srcs, device="cpu")
    tiled = fuse_cnn(srcs, device="cpu", block_size=block, batch_size=4)
    assert np.abs(tiled - whole).max() * 255 <= 1.0


def test_bad_block_size_and_shapes_are_input_errors():
    a = np.zeros((64, 64), np.float32)
    with pytest.raises(InputError, match="power of two"):
        fuse_cnn([a, a], block_size=48, device="cpu")
    with pytest.raises(InputError, match="at least 2"):
        fuse_cnn([a], device="cpu")
    with pytest.raises(InputError, match="shape"):
        fuse_cnn([a, np.zeros((64, 65), np.float32)], device="cpu")
    with pytest.raises(InputError, match="NaN"):
        fuse_cnn([a, np.full((64, 64), np.nan, np.float32)], device="cpu")


def test_device_selection_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert select_device("auto") == "cpu"
    assert select_device("cpu") == "cpu"
    with pytest.raises(InputError, match="cuda"):
        select_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        select_device("tpu")
    a = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    assert fuse_cnn([a, a[::-1]], device="auto").shape == (64, 64)


def test_cuda_is_preferred_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto") == "cuda"


def test_thread_count_is_respected(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("FUSIONVIEWER_THREADS", "1")
    a = np.zeros((64, 64), np.float32)
    try:
        fuse_cnn([a, a], device="cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_volume_equals_slice_by_slice_and_reports_progress(harvard):
    names = [r["name"] for r in harvard_rows("spect-mri", "val")[:5]]
    pairs = [[read_gray_u8(p).astype(np.float32) / 255 for p in harvard_pair_paths("spect-mri", n)]
             for n in names]
    vol_a = np.stack([p[0] for p in pairs])
    vol_b = np.stack([p[1] for p in pairs])
    seen = []
    out = fuse_cnn([vol_a, vol_b], device="cpu", batch_size=2,
                   progress=lambda stage, f: seen.append(f))
    assert out.shape == vol_a.shape
    for k in (0, 4):
        assert np.abs(out[k] - fuse_cnn([vol_a[k], vol_b[k]], device="cpu")).max() < 1e-5
    assert seen[-1] == 1.0 and len(seen) >= 4 and seen == sorted(seen)


def test_cancel_between_batches(harvard):
    vol = np.random.default_rng(1).random((6, 64, 64)).astype(np.float32)
    flag = threading.Event()
    calls = []

    def progress(stage, f):
        calls.append(f)
        if f > 0:
            flag.set()

    with pytest.raises(Cancelled):
        fuse_cnn([vol, vol[::-1]], device="cpu", batch_size=2, progress=progress, cancel=flag)
    assert len(calls) == 2  # the start and one batch, then it stopped


def test_registry_passes_a_weights_file_through(tmp_path):
    """get_method("cnn") honours weights=: a file that fails its checksum is a ModelError."""
    from fusionviewer.errors import ModelError
    from fusionviewer.fusion import get_method

    bad = tmp_path / "fusion_cnn.pt"
    bad.write_bytes(b"not a torch file")
    img = np.zeros((32, 32), dtype=np.float32)
    with pytest.raises(ModelError):
        get_method("cnn")([img, img], weights=bad)


def test_half_precision_model_runs_whole_and_tiled(harvard):
    """The CUDA path runs the model in fp16: inputs and the tile context must follow its dtype
    (a float32 context into an fp16 model once failed on the GPU). Checked with fp16 on CPU."""
    import copy

    from fusionviewer.fusion.inference import _fuse_tiled, _run_batch, load_model

    a, b = _pair("spect-mri", 4)
    stack = np.stack([a, b])
    model = load_model(None, "cpu")
    half = copy.deepcopy(model).half()
    whole32 = _run_batch(model, stack[None], "cpu")[0]
    whole16 = _run_batch(half, stack[None], "cpu")[0]
    tiled16 = _fuse_tiled(half, stack, 64, "cpu", 4, None)
    assert whole16.dtype == np.float32 and tiled16.shape == a.shape
    assert np.abs(whole16 - whole32).max() * 255 < 2.0
    assert np.abs(tiled16 - whole32).max() * 255 < 2.0
