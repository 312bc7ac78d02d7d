"""Differentiable metric terms (fusionviewer.training.losses) against the reported metrics, their
gradients, and a short training run with them that raises the metric objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harvard_data import harvard_pair_paths, read_gray_u8
from fusionviewer.errors import InputError
from fusionviewer.training import losses, scoring, teacher
from fusionviewer.training.data import list_pairs
from fusionviewer.training.train import TrainConfig, metric_loss, train


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x, np.float64))[None, None]


@pytest.mark.parametrize("task,name", [("pet-mri", "25055.png"), ("ct-mri", "2018.png")])
def test_torch_metrics_match_the_reported_ones(harvard, task, name):
    a, b = (read_gray_u8(p).astype(np.float64) for p in harvard_pair_paths(task, name))
    fun = 0 if task == "ct-mri" else 1
    f = np.rint(teacher.gff_biased(a, b, fun, 2.0, 2.0))
    ref = scoring.score_stack(f[None], a, b, (a, b)[fun])
    ft, at, bt = _t(f), _t(a), _t(b)
    assert losses.qabf(ft, [at, bt]).item() == pytest.approx(ref["Qabf"][0], abs=2e-3)
    vif = losses.vifp(at, ft) + losses.vifp(bt, ft)
    assert vif.item() == pytest.approx(ref["VIF"][0], abs=2e-3)
    assert (losses.ssim(at, ft) + losses.ssim(bt, ft)).item() == pytest.approx(ref["SSIM"][0],
                                                                            abs=1e-9)
    assert losses.cclow(ft, (at, bt)[fun]).item() == pytest.approx(ref["CClow"][0], abs=1e-6)
    mi = losses.mutual_info(at, ft) + losses.mutual_info(bt, ft)
    assert mi.item() == pytest.approx(ref["MI"][0], abs=1e-9)


def test_metric_loss_gradients_are_finite_on_flat_and_black_images():
    torch.manual_seed(0)
    clean = torch.zeros(3, 2, 64, 64)
    clean[0, 0, 16:48, 16:48] = 0.8  # a bright square on black, the other source black
    clean[1] = 0.5  # both sources flat
    clean[2] = torch.rand(2, 64, 64)
    pred = (clean.mean(dim=1, keepdim=True) + 0.01 * torch.randn(3, 1, 64, 64)).clamp(0, 1)
    pred.requires_grad_(True)
    cfg = TrainConfig(metric_weight=1.0, mi_weight=0.5)
    loss = metric_loss(pred, clean, torch.tensor([0, 1, 1]), cfg)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0


def test_short_metric_training_raises_the_objective(harvard):
    pairs = [p for p in list_pairs(split="train") if p.task == "pet-mri"][:4]
    recs = []
    for p in pairs:
        a, b = read_gray_u8(p.path_a), read_gray_u8(p.path_b)
        recs.append({"pair": p, "a": a, "b": b, "choice": "average",
                     "target": np.rint((a.astype(float) + b) / 2).astype(np.uint8)})
    cfg = TrainConfig(iterations=30, batch_size=2, crop=128, lr=1e-2, threads=1, noise_prob=0.0,
                      sup_weight=0.1, metric_weight=1.0, mi_weight=0.5,
                      model={"levels": 3, "width": 8, "act_scale": 64.0})
    _, info = train(recs, cfg, log=None)
    assert all(np.isfinite(info["loss"]))
    assert np.mean(info["loss"][-8:]) < np.mean(info["loss"][:8]) - 0.02


def test_metric_training_rejects_crops_too_small_for_vif():
    with pytest.raises(InputError, match="too small"):
        train([], TrainConfig(crop=32, metric_weight=1.0), log=None)


def test_optimised_teacher_raises_the_objective_and_keeps_the_functional_signal(harvard):
    from fusionviewer.training.optimised_teacher import optimise_pair

    a, b = (read_gray_u8(p) for p in harvard_pair_paths("pet-mri", "25055.png"))
    a, b = a[64:192, 64:192], b[64:192, 64:192]
    target, hist = optimise_pair(a, b, 1, steps=25)
    assert target.dtype == np.uint8 and target.shape == a.shape
    assert hist[-1] > hist[0] + 0.05
    sc = scoring.score_stack(target[None].astype(float), a.astype(float), b.astype(float),
                             b.astype(float))
    assert sc["CClow"][0] > 0.8
    # a convex combination of the sources' bands: its mean lies between theirs (within rounding
    # and clipping), no stretching
    means = sorted([float(a.mean()), float(b.mean())])
    assert means[0] - 3 <= float(target.mean()) <= means[1] + 3


def test_optimised_teacher_batch_scores_each_pair_as_alone(harvard):
    from fusionviewer.training.optimised_teacher import optimise_batch, optimise_pair

    pet = [read_gray_u8(p)[80:176, 80:176] for p in harvard_pair_paths("pet-mri", "25055.png")]
    ct = [read_gray_u8(p)[80:176, 80:176] for p in harvard_pair_paths("ct-mri", "20006.png")]
    targets, hist = optimise_batch(np.stack([ct[0], pet[0]]), np.stack([ct[1], pet[1]]),
                                   np.array([0, 1]), steps=6)
    assert targets.shape == (2, 96, 96) and hist.shape == (6, 2)
    for k, (a, b, fun) in enumerate([(ct[0], ct[1], 0), (pet[0], pet[1], 1)]):
        alone, h = optimise_pair(a, b, fun, steps=6)
        # the first objective (same start maps) is the pair's own, whatever its batch-mates
        assert h[0] == pytest.approx(hist[0, k], abs=1e-4)
        # later steps only agree in value: Adam turns rounding-level gradients of flat areas
        # into full steps, so targets differ by a few grey levels, not the objective
        assert h[-1] == pytest.approx(hist[-1, k], rel=0.05)
        assert np.abs(alone.astype(int) - targets[k]).mean() < 4


def test_prepared_sources_give_the_same_objective_and_gradient(harvard):
    a, b = (torch.from_numpy(read_gray_u8(p)[64:192, 64:192].astype(np.float32))[None, None]
            for p in harvard_pair_paths("spect-mri", "29014.png"))
    f = (0.3 * a + 0.7 * b + 5.0).clamp(0, 255).requires_grad_(True)
    plain = losses.metric_score(f, [a, b]) - losses.cclow(f, b)
    (g_plain,) = torch.autograd.grad(plain.sum(), f)
    prepared = (losses.metric_score(f, [a, b], prepared=losses.prepare_sources([a, b]))
                - losses.cclow(f, b, losses.cclow_reference(b)))
    (g_prep,) = torch.autograd.grad(prepared.sum(), f)
    assert float(prepared.detach()) == pytest.approx(float(plain.detach()), abs=1e-5)
    assert torch.allclose(g_prep, g_plain, atol=1e-6)
    assert float(g_plain.abs().sum()) > 0


def test_matrix_filters_match_convolutions_on_non_square_batches():
    from scipy.ndimage import gaussian_filter

    x = torch.rand(2, 3, 40, 57, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = losses._gauss_kernel(9, torch.float64, "cpu")
    conv = torch.nn.functional.conv2d
    ref = conv(conv(x, w.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3),
               w.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    assert torch.allclose(losses._valid(x, w), ref, atol=1e-12)
    box = torch.nn.functional.avg_pool2d(x, 7, 1) * 49.0
    assert torch.allclose(losses._box7(x), box, atol=1e-12)
    blur = np.stack([[gaussian_filter(c, 4.0, mode="reflect") for c in img] for img in x.numpy()])
    assert np.allclose(losses._gauss_blur4(x).numpy(), blur, atol=1e-12)


def test_metric_score_shares_the_fused_side_and_matches_per_source_terms():
    g = torch.Generator().manual_seed(1)
    a, b = (torch.rand(2, 1, 64, 80, generator=g, dtype=torch.float64) * 255 for _ in range(2))
    f = ((a + b) / 2).requires_grad_(True)
    got = losses.metric_score(f, [a, b], qabf_weight=0.0, vif_weight=1.0, ssim_weight=2.0,
                              mi_weight=0.0)
    want = (losses.vifp(a, f) + losses.vifp(b, f)
            + 2.0 * (losses.ssim(a, f) + losses.ssim(b, f)))
    assert torch.allclose(got, want, atol=1e-10)
    prepared = losses.prepare_sources([a, b])
    again = losses.metric_score(f, [a, b], qabf_weight=0.0, ssim_weight=2.0, mi_weight=0.0,
                                prepared=prepared)
    assert torch.allclose(again, want, atol=1e-10)
