"""Classical fusion methods: N inputs, 2-D/3-D, range, exact small cases, order independence."""

from __future__ import annotations

import numpy as np
import pytest

from fusionviewer.errors import Cancelled
from fusionviewer.fusion import available_methods, get_method
from fusionviewer.fusion.classical import (fuse_average, fuse_gff, fuse_laplacian,
                                           laplacian_pyramid, reconstruct_pyramid)
from fusionviewer.progress import CancelToken

from harvard_data import harvard_pair_paths, harvard_rows, read_gray_u8

CLASSICAL = ["average", "laplacian", "gff"]


@pytest.fixture
def real_pair(harvard):
    a, b = harvard_pair_paths("ct-mri", "2010.png")
    return read_gray_u8(a) / np.float32(255), read_gray_u8(b) / np.float32(255)


@pytest.fixture
def pet_pair(harvard):
    mri, pet = harvard_pair_paths("pet-mri", harvard_rows("pet-mri", "val")[0]["name"])
    return read_gray_u8(mri) / np.float32(255), read_gray_u8(pet) / np.float32(255)


def test_registry_lists_all_methods():
    assert available_methods() == ["average", "laplacian", "gff", "cnn"]
    for name in available_methods():
        assert callable(get_method(name))
    assert get_method("GFF") is get_method("gff")
    with pytest.raises(ValueError, match="unknown fusion method"):
        get_method("wavelet")


@pytest.mark.parametrize("name", CLASSICAL)
def test_n_inputs_shape_dtype_range(name, real_pair):
    a, b = real_pair
    c = np.clip(1.0 - a, 0, 1).astype(np.float32)
    out = get_method(name)([a, b, c])
    assert out.shape == a.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # a three-input fusion differs from fusing only the first two
    assert not np.allclose(out, get_method(name)([a, b]), atol=1e-3)


@pytest.mark.parametrize("name", CLASSICAL)
def test_volume_is_fused_slice_by_slice(name, real_pair):
    a, b = real_pair
    vol_a = np.stack([a, b, a[::-1]])
    vol_b = np.stack([b, a, b[:, ::-1]])
    out = get_method(name)([vol_a, vol_b])
    assert out.shape == vol_a.shape
    for z in range(3):
        np.testing.assert_allclose(out[z], get_method(name)([vol_a[z], vol_b[z]]), atol=1e-6)


@pytest.mark.parametrize("name", CLASSICAL)
def test_range_on_extreme_inputs(name):
    rng = np.random.default_rng(0)
    imgs = [(rng.random((40, 37)) > 0.5).astype(np.float32) for _ in range(3)]
    out = get_method(name)(imgs)
    assert out.shape == (40, 37)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_average_pixel_exact_and_order_independent(real_pair):
    a = np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32)
    b = np.array([[1.0, 1.0], [0.0, 0.75]], dtype=np.float32)
    c = np.array([[0.5, 0.0], [1.0, 0.5]], dtype=np.float32)
    expected = np.array([[0.5, 2 / 3], [0.5, 0.5]], dtype=np.float32)
    np.testing.assert_allclose(fuse_average([a, b, c]), expected, atol=1e-7)
    x, y = real_pair
    assert np.array_equal(fuse_average([x, y]), fuse_average([y, x]))


@pytest.mark.parametrize("fuse", [fuse_laplacian, fuse_gff])
def test_constant_images_give_their_mean(fuse):
    # no detail anywhere: Laplacian keeps the averaged residual; GFF's saliency is 0 for both
    # inputs (a tie), which is shared equally, so both return the mean exactly
    a = np.full((32, 32), 0.2, dtype=np.float32)
    b = np.full((32, 32), 0.6, dtype=np.float32)
    np.testing.assert_allclose(fuse([a, b]), 0.4, atol=1e-6)


@pytest.mark.parametrize("name", CLASSICAL)
def test_identical_inputs_are_reproduced(name, real_pair):
    a, _ = real_pair
    np.testing.assert_allclose(get_method(name)([a, a, a]), a, atol=1e-5)


def test_pyramid_reconstructs_exactly(real_pair):
    a, _ = real_pair
    bands = laplacian_pyramid(a.astype(np.float64), 4)
    assert [b.shape for b in bands] == [(256, 256), (128, 128), (64, 64), (32, 32), (16, 16)]
    np.testing.assert_allclose(reconstruct_pyramid(bands), a, atol=1e-10)
    odd = np.random.default_rng(1).random((37, 53))
    np.testing.assert_allclose(reconstruct_pyramid(laplacian_pyramid(odd, 4)), odd, atol=1e-10)


def test_laplacian_keeps_the_larger_detail():
    # a bright square in one image, a dark line in the other, on the same flat background
    a = np.full((64, 64), 0.5, dtype=np.float32)
    b = a.copy()
    a[20:30, 20:30] = 1.0
    b[45, 5:60] = 0.0
    out = fuse_laplacian([a, b])
    avg = fuse_average([a, b])
    # both features survive at (nearly) full contrast; averaging halves them
    assert out[25, 25] > 0.9 and avg[25, 25] == pytest.approx(0.75)
    assert out[45, 30] < 0.1 and avg[45, 30] == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["laplacian", "gff"])
def test_order_independence_on_real_images(name, real_pair):
    a, b = real_pair
    np.testing.assert_allclose(get_method(name)([a, b]), get_method(name)([b, a]), atol=1e-6)


def test_detail_methods_keep_more_edges_than_average(pet_pair):
    def spatial_frequency(x):
        return np.sqrt(np.mean(np.diff(x, axis=0) ** 2) + np.mean(np.diff(x, axis=1) ** 2))

    mri, pet = pet_pair
    sf_avg = spatial_frequency(fuse_average([mri, pet]))
    assert spatial_frequency(fuse_laplacian([mri, pet])) > 1.3 * sf_avg
    assert spatial_frequency(fuse_gff([mri, pet])) > 1.3 * sf_avg


def test_gff_default_parameters_are_the_papers():
    import inspect

    params = inspect.signature(fuse_gff).parameters
    assert (params["mean_radius"].default, params["saliency_radius"].default) == (15, 5)
    assert params["saliency_sigma"].default == 5.0
    assert (params["r1"].default, params["eps1"].default) == (45, 0.3)
    assert (params["r2"].default, params["eps2"].default) == (7, 1e-6)


@pytest.mark.parametrize("name", CLASSICAL)
def test_progress_per_slice_and_cancel(name):
    vol = [np.random.default_rng(k).random((4, 24, 24)).astype(np.float32) for k in range(2)]
    calls = []
    get_method(name)(vol, progress=lambda stage, f: calls.append((stage, f)))
    assert calls[-1] == ("fusing", 1.0)
    assert [f for _, f in calls] == [0.0, 0.25, 0.5, 0.75, 1.0]
    token = CancelToken()
    token.set()
    with pytest.raises(Cancelled):
        get_method(name)(vol, cancel=token)


@pytest.mark.parametrize("name", CLASSICAL)
def test_bad_arguments(name):
    a = np.zeros((8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="at least two"):
        get_method(name)([a])
    with pytest.raises(ValueError, match="differ in shape"):
        get_method(name)([a, np.zeros((8, 9), dtype=np.float32)])
