"""Per-source contribution shares and residual maps from each method's own weights."""

from __future__ import annotations

import numpy as np
import pytest

from fusionviewer.analysis.contribution import (contribution_rgb, contribution_shares,
                                                residual)
from fusionviewer.fusion import get_method


def _pair():
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    a = (0.5 + 0.4 * np.sin(xx * 40)).astype(np.float32)  # fine texture everywhere
    b = np.zeros((64, 64), np.float32)
    b[16:48, 16:48] = 0.9                                  # a flat bright block
    return np.stack([a, b])


def test_average_is_equal_everywhere():
    shares = contribution_shares("average", _pair())
    np.testing.assert_allclose(shares, 0.5, atol=1e-6)


@pytest.mark.parametrize("method", ["laplacian", "gff", "cnn"])
def test_shares_sum_to_one_and_follow_detail(method):
    stack = _pair()
    shares = contribution_shares(method, stack)
    assert shares.shape == stack.shape
    np.testing.assert_allclose(shares.sum(axis=0), 1.0, atol=1e-5)
    assert shares.min() >= 0
    # outside the block only A has detail: A dominates there
    assert shares[0, 2:14, 2:14].mean() > 0.6


def test_cnn_weights_reproduce_the_fusion():
    """The exposed weights are the model's own: weights x bands rebuild its output exactly."""
    import torch

    from fusionviewer.analysis.contribution import method_components
    from fusionviewer.fusion.inference import load_model

    stack = _pair()
    weights, bands = method_components("cnn", stack)
    model = load_model(device="cpu")
    fused_bands = [torch.from_numpy((w * b).sum(axis=0, keepdims=True)[None])
                   for w, b in zip(weights, bands)]
    rebuilt = model.pyramid.reconstruct(fused_bands).clamp(0, 1)[0, 0].numpy()
    fused = get_method("cnn")(list(stack), device="cpu")
    np.testing.assert_allclose(rebuilt, fused, atol=2e-6)


def test_residual_shows_lost_detail():
    stack = _pair()
    fused = stack.mean(axis=0)
    kept = residual(stack[0], stack[0])
    assert np.abs(kept).max() < 0.05  # the fused image equal to the source: nothing lost
    lost = residual(stack[0], stack[1])  # a fused image without A's texture
    assert np.abs(lost[2:14, 2:14]).mean() > 5 * np.abs(residual(stack[0], fused)[2:14, 2:14]).mean() or \
        np.abs(lost[2:14, 2:14]).mean() > 0.1


def test_contribution_rgb_is_coloured_by_share():
    shares = np.zeros((2, 4, 4), np.float32)
    shares[0, :, :2] = 1
    shares[1, :, 2:] = 1
    rgb = contribution_rgb(np.ones((4, 4), np.float32), shares)
    assert rgb[0, 0, 2] > rgb[0, 0, 0] and rgb[0, 3, 0] > rgb[0, 3, 2]  # A blue, B orange
