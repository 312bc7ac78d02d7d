"""``fusionviewer experiments``: the quick report's structure, determinism, parsers, errors."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from harvard_data import SHARED, harvard_pair_paths, read_gray_u8
from fusionviewer.cli import main
from fusionviewer.experiments import Config, run_experiments
from fusionviewer.experiments.data import parse_baselines
from fusionviewer.experiments.exp_convergence import extract_series
from fusionviewer.experiments.exp_noise import disturb
from fusionviewer.experiments.fusing import cnn_status

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("1. Tables 1 and 2", "2. Comparison", "3. Block size", "4. Disturbance",
            "5. Convergence", "6. Multi-image fusion", "7. Speed")


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory, harvard):
    """One tiny quick run (one val pair per task) through the CLI, shared by the tests below."""
    out = tmp_path_factory.mktemp("experiments") / "report"
    rc = main(["experiments", "--out", str(out), "--quick", "--pairs", "1", "--no-progress",
               "--data", str(harvard)])
    assert rc == 0
    return out


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_has_every_section_and_a_closing_note(quick_report):
    text = (quick_report / "report.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    for want in SECTIONS:
        assert any(h.startswith(want) for h in heads), f"missing section {want}: {heads}"
    assert heads[-1].startswith("Closing note")
    closing = text.split("## Closing note", 1)[1]
    assert closing.count("\n- ") >= 3
    assert "gray protocol" in text.lower() or "Gray protocol" in text


def test_figures_exist_and_are_png(quick_report):
    text = (quick_report / "report.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 6
    for name in images:
        data = (quick_report / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name


def test_csv_columns_and_finite_numbers(quick_report):
    comparison = _csv(quick_report / "comparison_per_pair.csv")
    assert {"task", "pair", "method", "time_ms", "Qabf", "VIF", "MI", "SSIM", "CClow", "EN",
            "QW", "QE", "Q0", "MI_fun", "MI_mri"} <= set(comparison[0])
    assert {r["task"] for r in comparison} == {"ct-mri", "pet-mri", "spect-mri"}
    assert {"average", "laplacian", "gff"} <= {r["method"] for r in comparison}
    noise = _csv(quick_report / "noise_per_pair.csv")
    assert {"level", "method", "Qabf", "VIF"} <= set(noise[0])
    assert {r["level"] for r in noise} == {"gauss:0", "gauss:10", "sp:0.01"}
    tables = _csv(quick_report / "table1_table2.csv")
    assert {"task", "test", "pair", "EN", "MI", "Q0", "QE", "QW", "Qabf", "time_s"} <= set(tables[0])
    for rows in (comparison, noise, tables):
        for r in rows:
            for k, v in r.items():
                if k in ("task", "pair", "method", "level", "target_s") or v == "":
                    continue
                assert math.isfinite(float(v)), (k, v)


def test_json_and_cnn_rows(quick_report):
    summary = json.loads((quick_report / "comparison_summary.json").read_text())
    assert set(summary["summary"]) == {"ct-mri", "pet-mri", "spect-mri"}
    # the published rows come from baselines_val.md beside the data folder
    assert summary["published"]["ct-mri"]["IFCNN"]["Qabf"] > 0
    speed = json.loads((quick_report / "speed.json").read_text())
    assert all(v > 0 for v in speed["ms_per_256_pair"].values())
    ok, _ = cnn_status("cpu")
    methods = {r["method"] for r in _csv(quick_report / "comparison_per_pair.csv")}
    assert ("cnn" in methods) == ok
    if ok:  # with weights, the block-size study and the batch timings ran
        rows = _csv(quick_report / "blocksize_per_pair.csv")
        ran = {r["i"] for r in rows}
        assert {"6", "8", "whole"} <= ran <= {"4", "6", "8", "whole"}
        assert speed["ms_per_slice_by_batch"]["cnn@cpu"]


def test_same_seed_same_numbers(quick_report, tmp_path, harvard):
    def noise_rows(out):
        return [{k: v for k, v in r.items() if k != "time_ms"}
                for r in _csv(out / "noise_per_pair.csv")]

    # the disturbance study again, same settings as the CLI run (seed 0): identical numbers
    run_experiments(Config(out=tmp_path, data=harvard, quick=True, pairs=1, seed=0), only=(4,))
    again = noise_rows(tmp_path)
    assert again == noise_rows(quick_report) and len(again) > 0


def test_disturbances():
    rng = np.random.default_rng(0)
    img = np.full((128, 128), 100.0)
    assert np.array_equal(disturb(img, "gauss:0", rng), img)
    noisy = disturb(img, "gauss:10", rng)
    assert abs(np.std(noisy - img) - 10) < 0.5 and np.array_equal(noisy, np.rint(noisy))
    sp = disturb(img, "sp:0.01", rng)
    changed = sp != img
    assert 0.007 < changed.mean() < 0.013
    assert set(np.unique(sp[changed])) <= {0.0, 255.0}


def test_parse_baselines_reads_the_published_rows():
    rows = parse_baselines(SHARED / "docs" / "baselines_val.md")
    assert set(rows) == {"ct-mri", "pet-mri", "spect-mri"}
    for task in rows:
        assert set(rows[task]) == {"IFCNN", "DenseFuse"}
        assert 0 < rows[task]["IFCNN"]["Qabf"] < 1 and rows[task]["DenseFuse"]["ms/pair"] > 0
        # every column is read, the bold (best-in-column) cells included
        assert len(rows[task]["IFCNN"]) == len(rows[task]["DenseFuse"]) == 16


def test_training_log_formats():
    records = [{"iteration": i, "loss": 1.0 / (i + 1), "val_Qabf": 0.5} for i in range(5)]
    xkey, series = extract_series({"config": {}, "log": records})
    assert xkey == "iteration" and series["loss"][1][-1] == pytest.approx(0.2)
    assert series["val_Qabf"][0] == [0, 1, 2, 3, 4]
    xkey, series = extract_series({"iterations": [0, 10, 20], "loss": [3, 2, 1],
                                   "val_metric": [None, 0.4, 0.5]})
    assert xkey == "iterations" and series["val_metric"] == ([10, 20], [0.4, 0.5])
    assert extract_series({"loss": 1.0}) == ("", {})


def test_missing_data_and_nonempty_output(tmp_path, capsys):
    rc = main(["experiments", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 2 and "manifest.csv" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    rc = main(["experiments", "--out", str(tmp_path / "full"), "--data", str(tmp_path)])
    assert rc == 2 and "not empty" in capsys.readouterr().err


def test_targets_follow_the_teacher_named_in_the_training_log(harvard, monkeypatch):
    from fusionviewer.experiments import targets
    from fusionviewer.experiments.data import Pair as ExpPair

    a, b = (read_gray_u8(p)[64:192, 64:192] for p in harvard_pair_paths("pet-mri", "25055.png"))
    monkeypatch.setattr(targets, "training_log", lambda: {"teacher": "optimised"})
    maker = targets.TargetMaker(steps=3)
    assert "optimised_teacher.optimise_pair" in maker.note and "3 steps" in maker.note
    pair = ExpPair("pet-mri", "25055.png", 25, 55, "val")
    t = maker.get(pair, a.astype(float), b.astype(float))
    assert t.shape == a.shape and np.array_equal(t, np.rint(t)) and 0 <= t.min() <= t.max() <= 255
    monkeypatch.setattr(targets, "training_log", lambda: {"lambdas": {"pet-mri": 7}})
    select = targets.TargetMaker()
    assert "teacher.best_target" in select.note and "pet-mri 7" in select.note
