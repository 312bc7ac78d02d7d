"""Training: teacher scoring matches fusionviewer.metrics, a tiny run reduces the loss and is
deterministic, the command writes weights + checksum + log + curve."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harvard_data import harvard_pair_paths, read_gray_u8
from fusionviewer.fusion import weights
from fusionviewer.metrics import compute_metrics
from fusionviewer.training import optimised_teacher, scoring, teacher
from fusionviewer.training.data import list_pairs
from fusionviewer.training.train import TrainConfig, loss_fn, train


def _records(n: int = 3) -> list[dict]:
    pairs = [p for p in list_pairs(split="train") if p.task == "pet-mri"][:n]
    out = []
    for p in pairs:
        a, b = read_gray_u8(p.path_a), read_gray_u8(p.path_b)
        target = teacher.pyramid_rule(a.astype(float), b.astype(float), 1,
                                      teacher.PYRAMID_RULES["lp-fine-max-fun"])
        out.append({"pair": p, "a": a, "b": b, "choice": "lp-fine-max-fun",
                    "target": np.clip(np.rint(target), 0, 255).astype(np.uint8)})
    return out


def test_scoring_matches_the_metrics_module(harvard):
    a, b = (read_gray_u8(p).astype(np.float64) for p in harvard_pair_paths("spect-mri", "10020.png"))
    f = teacher.gff_biased(a, b, 1, 2.0, 2.0)
    fast = scoring.score_stack(f[None], a, b, b)
    ref = compute_metrics(np.rint(f), [a, b], functional=1)
    for key in ("Qabf", "VIF", "SSIM", "MI", "CClow"):
        assert fast[key][0] == pytest.approx(ref[key], abs=1e-9)


def test_teacher_keeps_functional_signal(harvard):
    a, b = (read_gray_u8(p).astype(np.float64) for p in harvard_pair_paths("pet-mri", "25055.png"))
    target, choice, m = teacher.best_target(a, b, 1, lam=40.0)
    assert target.dtype == np.uint8 and target.shape == a.shape
    assert choice in teacher.candidate_names()
    assert m["CClow"] >= 0.9  # a high CClow price picks a functional-faithful candidate
    edgy = {"CClow": 0.5, "Qabf": 0.8, "VIF": 0.9, "SSIM": 1.3, "MI": 2.0}
    faithful = {"CClow": 0.95, "Qabf": 0.5, "VIF": 0.6, "SSIM": 1.3, "MI": 2.0}
    rows = {"edgy": edgy, "faithful": faithful}
    assert teacher.select(rows, 0.0) == "edgy" and teacher.select(rows, 10.0) == "faithful"
    # the price is the smallest that keeps the mean CClow of the picks at the floor
    lam = teacher.calibrate([rows, {"edgy": edgy, "faithful": dict(faithful, CClow=0.6)}], 0.75)
    picks = [teacher.select(r, lam) for r in (rows, {"edgy": edgy, "faithful": faithful})]
    assert picks == ["faithful", "faithful"] and teacher.calibrate([rows], 0.4) == 0.0


def test_tiny_training_run_reduces_loss_and_is_deterministic(harvard):
    recs = _records()
    cfg = TrainConfig(iterations=40, batch_size=2, crop=96, lr=1e-2, threads=1, noise_prob=0.0,
                      sup_weight=1.0, metric_weight=0.0,  # imitation only: the loss is L1
                      model={"levels": 3, "width": 8, "act_scale": 64.0})
    m1, info1 = train(recs, cfg, log=None)
    m2, info2 = train(recs, cfg, log=None)
    assert info1["loss"] == info2["loss"]  # same seed, same losses, bit for bit
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    first, last = np.mean(info1["loss"][:5]), np.mean(info1["loss"][-5:])
    assert last < 0.7 * first
    # the trained net is closer to the targets than the untrained one on a fixed batch
    x = torch.from_numpy(np.stack([np.stack([r["a"], r["b"]]) for r in recs]) / 255).float()
    y = torch.from_numpy(np.stack([r["target"][None] for r in recs]) / 255).float()
    torch.manual_seed(cfg.seed)
    from fusionviewer.fusion.model import PyramidFusionNet

    fresh = PyramidFusionNet(**cfg.model).eval()
    with torch.no_grad():
        assert loss_fn(m1(x), y, 0.5) < 0.7 * loss_fn(fresh(x), y, 0.5)


def test_train_command_writes_weights_checksum_log_and_curve(harvard, tmp_path):
    from fusionviewer.cli import main

    out = tmp_path / "m" / "fusion_cnn.pt"
    rc = main(["train", "--teacher", "select", "--tasks", "ct-mri", "--max-pairs", "2",
               "--pair-stride", "20",
               "--iterations", "3", "--batch-size", "2", "--crop", "64", "--threads", "1",
               "--cache", str(tmp_path / "cache"), "--out", str(out)])
    assert rc == 0
    model = weights.build_model(weights.load_checkpoint(out))  # checksum verified
    log = json.loads((out.parent / "training_log.json").read_text())
    assert len(log["loss"]) == 3 and log["iteration"] == [1, 2, 3]
    assert set(log["teacher_choices"]) == set(log["pairs"]) and len(log["pairs"]) == 2
    assert all(p.startswith("ct-mri/") for p in log["pairs"])
    assert (out.parent / "convergence.png").stat().st_size > 1000
    assert sum(p.numel() for p in model.parameters()) == log["parameters"]
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


def test_train_command_with_the_optimised_teacher_caches_and_reuses_its_targets(harvard, tmp_path):
    from fusionviewer.cli import main

    out = tmp_path / "m" / "fusion_cnn.pt"
    argv = ["train", "--teacher", "optimised", "--teacher-steps", "3", "--tasks", "pet-mri",
            "--max-pairs", "2", "--pair-stride", "20", "--iterations", "2", "--batch-size", "2",
            "--crop", "64", "--threads", "1", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    assert main(argv) == 0
    folder = tmp_path / "cache" / f"{optimised_teacher.VERSION}-3steps" / "pet-mri"
    cached = sorted(folder.glob("*.png"))
    assert len(cached) == 2  # step counts other than the default get their own folder
    log = json.loads((out.parent / "training_log.json").read_text())
    assert log["teacher"] == "optimised" and len(log["pairs"]) == 2
    assert set(log["teacher_choices"].values()) == {"optimised"}
    assert log["teacher_version"] == optimised_teacher.VERSION and log["teacher_steps"] == 3
    assert "0.5 SSIM" in log["teacher_objective"]
    stamps = [p.stat().st_mtime_ns for p in cached]
    first = weights.load_checkpoint(out)["state_dict"]
    assert main(argv) == 0  # second run: targets read from the cache, same weights
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    for k, v in weights.load_checkpoint(out)["state_dict"].items():
        assert torch.equal(v, first[k])


def test_training_defaults_are_the_recipe_of_the_bundled_weights():
    import argparse
    from dataclasses import asdict

    from fusionviewer.paths import model_path
    from fusionviewer.training.command import add_arguments
    from fusionviewer.training.config import TrainConfig

    log = json.loads(model_path("training_log.json").read_text(encoding="utf-8"))
    assert asdict(TrainConfig()) == log["config"]
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args([])
    assert args.teacher == log["teacher"] and args.pair_stride == 2
    assert len(log["pairs"]) == len(list_pairs(split="train")[::2])


def test_train_command_rejects_nonpositive_teacher_options(tmp_path, capsys):
    from fusionviewer.cli import main

    out = tmp_path / "m" / "fusion_cnn.pt"
    for flag in ("--teacher-steps", "--teacher-batch"):
        rc = main(["train", flag, "0", "--cache", str(tmp_path / "cache"), "--out", str(out)])
        assert rc == 2
        assert "must be at least 1" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_optimised_teacher_workers_cache_every_target_and_stop_on_cancel(harvard, tmp_path):
    import threading

    from fusionviewer.errors import Cancelled
    from fusionviewer.training.optimised_teacher import build_optimised_targets, cache_folder

    pairs = [p for p in list_pairs(split="train") if p.task == "spect-mri"][:3]
    seen = []
    recs = build_optimised_targets(pairs, tmp_path, steps=2, workers=2, log=None,
                                   progress=lambda stage, f: seen.append(f))
    root = cache_folder(tmp_path, 2)
    assert sorted(p.name for p in root.rglob("*.png")) == sorted(p.name for p in pairs)
    assert [r["pair"] for r in recs] == pairs and seen[-1] == 1.0
    assert all(r["target"].shape == r["a"].shape for r in recs)

    cancel = threading.Event()
    cancel.set()
    other = [p for p in list_pairs(split="train") if p.task == "pet-mri"][:4]
    with pytest.raises(Cancelled):
        build_optimised_targets(other, tmp_path, steps=2, workers=2, log=None, cancel=cancel)
    assert not list(root.rglob("*.tmp*"))  # nothing half-written


def test_a_cached_target_of_the_wrong_size_is_a_clear_input_error(harvard, tmp_path):
    from PIL import Image

    from fusionviewer.errors import InputError
    from fusionviewer.training.optimised_teacher import build_optimised_targets, cache_folder

    pair = [p for p in list_pairs(split="train") if p.task == "ct-mri"][0]
    bad = cache_folder(tmp_path) / pair.task / pair.name
    bad.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(bad)
    with pytest.raises(InputError, match="delete it to recompute"):
        build_optimised_targets([pair], tmp_path, log=None)
    assert bad.stat().st_size > 0  # the user's cache file is reported, not overwritten


def test_the_optimised_teacher_uses_each_tasks_objective_in_single_task_chunks(harvard, tmp_path,
                                                                             monkeypatch):
    from fusionviewer.training import optimised_teacher as ot

    assert ot.task_objective("ct-mri") == ot.OBJECTIVE
    for task, change in ot.TASK_OBJECTIVE.items():
        assert ot.task_objective(task) == {**ot.OBJECTIVE, **change} != ot.OBJECTIVE
        assert task in ot.objective_text()
    calls = []

    def fake_batch(a, b, fun, **kwargs):
        calls.append(kwargs)
        return np.zeros(a.shape, np.uint8), np.zeros((1, len(a)))

    monkeypatch.setattr(ot, "optimise_batch", fake_batch)
    ct, pet = ([p for p in list_pairs(split="train") if p.task == t][:2]
               for t in ("ct-mri", "pet-mri"))
    mixed = [ct[0], pet[0], ct[1], pet[1]]
    ot.build_optimised_targets(mixed, tmp_path, steps=2, batch=4, log=None)
    assert len(calls) == 2  # one chunk per task, each with its task's weights
    assert sorted(c["ssim_weight"] for c in calls) == sorted(
        ot.task_objective(t)["ssim_weight"] for t in ("ct-mri", "pet-mri"))
