"""The pipeline package: each rule once (options, functional source, block size, fallbacks) and
the README example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fusionviewer
from fusionviewer import fusion, pipeline
from fusionviewer.cli import main
from fusionviewer.errors import InputError
from fusionviewer.image import Image
from fusionviewer.pipeline import FusionJob, FusionOptions, functional_index, measure
from harvard_data import harvard_pair_paths, harvard_rows, read_gray_u8

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fusionviewer"


def _pair(task: str) -> tuple[Path, Path]:
    return harvard_pair_paths(task, harvard_rows(task, "val")[0]["name"])


def _img(modality: str, colour: bool = False) -> Image:
    shape = (1, 16, 16, 3) if colour else (1, 16, 16)
    return Image(np.zeros(shape, np.uint8), modality=modality)


@pytest.mark.parametrize("mods, colour, choice, want", [
    (("CT", "PT"), None, None, 1),     # PET over CT: the CLI and the GUI agree on this
    (("PT", "CT"), None, None, 0),
    (("MR", "NM"), None, None, 1),
    (("CT", "MR"), None, None, 0),     # the metric spec's "functional or CT source"
    (("MR", "MR"), None, None, None),  # two anatomical MR sources: no CClow
    (("MR", "OT"), 1, None, 1),        # a colour-coded map (Harvard PET PNG) counts as functional
    (("CT", "PT"), None, 0, 0),        # the user's choice wins
])
def test_functional_source_rule(mods, colour, choice, want):
    images = [_img(m, colour == k) for k, m in enumerate(mods)]
    assert functional_index(images, choice) == want


def test_functional_choice_out_of_range_is_an_input_error():
    with pytest.raises(InputError, match="out of range"):
        functional_index([_img("CT"), _img("MR")], 5)


@pytest.mark.parametrize("size", [2, 8, 48, 2048, 0, -16])
def test_block_size_rule_is_one_table(size):
    with pytest.raises(InputError, match="16, 32, 64, 128, 256, 512, 1024"):
        FusionOptions(block_size=size).validate()
    with pytest.raises(InputError, match="block size"):
        fusion.get_method("cnn")([np.zeros((32, 32), np.float32)] * 2, block_size=size,
                                 device="cpu")


def test_block_size_512_and_1024_fuse_a_256_pair(harvard):
    a, b = (read_gray_u8(p).astype(np.float32) / 255.0 for p in _pair("ct-mri"))
    whole = pipeline.fuse_gray([a[None], b[None]], FusionOptions(device="cpu"))[0]
    for size in (512, 1024):
        fused, method, _ = pipeline.fuse_gray([a[None], b[None]],
                                              FusionOptions(block_size=size, device="cpu"))
        assert method == "cnn"
        np.testing.assert_array_equal(fused, whole)


def test_fuse_block_size_48_fails_before_loading(tmp_path, capsys):
    missing = tmp_path / "does-not-exist.png"
    with pytest.raises(SystemExit) as exc:
        main(["fuse", str(missing), str(missing), "-o", str(tmp_path / "f.png"),
              "--block-size", "48", "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--block-size" in err and "48" in err and "not found" not in err
    assert not (tmp_path / "f.png").exists()


def test_bad_options_fail_before_loading(tmp_path, capsys):
    missing = tmp_path / "does-not-exist.png"
    rc = main(["fuse", str(missing), str(missing), "-o", str(tmp_path / "f.png"),
               "--fixed", "3", "--no-progress"])
    assert rc == 2
    assert "fixed source 3 out of range" in capsys.readouterr().err


def test_gpu_failure_falls_back_to_the_cpu_without_reregistering(monkeypatch, harvard):
    """A CUDA error in the CNN reruns only the fusion on the CPU, with a notice."""
    import fusionviewer.registration as registration

    calls = {"register": 0, "devices": []}
    real_register = registration.register

    def counting_register(*args, **kwargs):
        calls["register"] += 1
        return real_register(*args, **kwargs)

    def flaky_cnn(images, *, device="auto", progress=None, cancel=None, **kwargs):
        calls["devices"].append(device)
        if device != "cpu":
            raise RuntimeError("CUDA error: out of memory\nmore detail")
        return np.mean(np.stack(images), axis=0)

    monkeypatch.setattr(registration, "register", counting_register)
    monkeypatch.setitem(fusion._METHODS, "cnn", flaky_cnn)
    paths = _pair("ct-mri")
    options = FusionOptions(method="cnn", register="rigid", device="cuda",
                            modalities=["CT", "MR"])
    result = FusionJob(paths, options).run()
    assert calls["register"] == 1
    assert calls["devices"] == ["cuda", "cpu"]
    assert result.method == "cnn"
    assert any(n.startswith("GPU failed (CUDA error: out of memory)") for n in result.notices)


def test_classical_methods_reject_cnn_options():
    with pytest.raises(InputError, match="no option block_size"):
        pipeline.fuse_gray([np.zeros((1, 16, 16), np.float32)] * 2,
                           FusionOptions(method="gff", method_options={"block_size": 32}))
    with pytest.raises(InputError, match="unexpected keyword"):
        pipeline.fuse_gray([np.zeros((1, 16, 16), np.float32)] * 2,
                           FusionOptions(method="laplacian", method_options={"levelz": 3}))


def test_measure_has_no_alias_keys_and_a_slice_argument(harvard):
    paths = _pair("pet-mri")
    result = FusionJob(paths, FusionOptions(method="average", modalities=["MR", "PT"])).run()
    whole, first = measure(result), measure(result, 0)
    assert whole == first
    assert not {"ENT", "H", "Entropy", "STD", "GRAD"} & set(whole)
    assert {"MI_MR", "MI_PT", "CClow", "Qabf"} <= set(whole)
    with pytest.raises(InputError, match="slice 1 out of range"):
        measure(result, 1)


def test_cli_fuse_metrics_use_the_same_rule(harvard, tmp_path, capsys):
    """fuse --metrics on CT + PET takes PET as the functional source (as the GUI does)."""
    ct = _pair("ct-mri")[0]
    pet = _pair("pet-mri")[1]
    rc = main(["fuse", str(ct), str(pet), "-o", str(tmp_path / "f.png"), "--modality", "CT,PET",
               "--method", "gff", "--metrics", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    cli = json.loads(out[out.index("{"):])
    result = FusionJob([ct, pet], FusionOptions(method="gff", modalities=["CT", "PT"])).run()
    pet_only = measure(result, functional=1)
    assert cli == pytest.approx(pet_only, rel=1e-12)
    assert cli["CClow"] != pytest.approx(measure(result, functional=0)["CClow"], rel=1e-6)


def test_readme_example_runs(tmp_path, harvard):
    """The README's 10-line example, with the file names pointed at a real pair."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(from fusionviewer\.pipeline import .*?)```", text, re.S)
    assert block, "README has no pipeline example"
    code = block.group(1)
    mri, pet = _pair("pet-mri")
    code = code.replace('"mri.png"', repr(str(mri))).replace('"pet.png"', repr(str(pet)))
    code = code.replace('"fused.png"', repr(str(tmp_path / "fused.png")))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "fused.png").stat().st_size > 1000
    assert 0.0 < float(proc.stdout.strip().splitlines()[-1]) < 1.0


def test_public_api_is_listed():
    for name in ("FusionOptions", "FusionJob", "run_batch", "measure", "export_result"):
        assert name in pipeline.__all__ and hasattr(pipeline, name)
    from fusionviewer import metrics

    for name in ("qabf", "vif", "mutual_information", "compute_metrics", "evaluate_volume"):
        assert name in metrics.__all__ and callable(getattr(metrics, name))


@pytest.mark.parametrize("pattern", [
    r"def functional_index\b", r"def guess_modality\b", r"def demo_pair\b",
    r"^BLOCK_SIZES\s*=", r"^METHOD_LABELS\s*=", r"^REGISTRATIONS\s*=", r"^INITS\s*=",
    r"^DEVICES\s*=", r"^STAGES\s*=", r"def check_destination\b", r"def _renamed\b",
    r"def is_protected\b", r"def check_target\b",
])
def test_each_rule_is_defined_once(pattern):
    """One definition per rule in the package (none for the removed second copies)."""
    hits = [f"{p.relative_to(ROOT)}" for p in PACKAGE.rglob("*.py")
            if re.search(pattern, p.read_text(encoding="utf-8"), re.M)]
    removed = pattern in (r"def _renamed\b", r"def is_protected\b", r"def check_target\b")
    assert len(hits) == (0 if removed else 1), hits


def test_version_attribute():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", fusionviewer.__version__)


def test_result_keeps_original_values_on_the_fixed_grid():
    """originals: the sources in their own units on the fixed grid (not the [0, 1] fusion input)."""
    rng = np.random.default_rng(0)
    ct = Image(rng.uniform(-1000, 1500, (2, 32, 32)).astype(np.float32), modality="CT")
    pet = Image(rng.uniform(0, 20000, (2, 32, 32)).astype(np.float32), modality="PT")
    result = FusionJob([ct, pet], FusionOptions(method="average")).run()
    np.testing.assert_array_equal(result.originals[0].array, ct.array)
    np.testing.assert_array_equal(result.originals[1].array, pet.array)
    assert result.sources[1].array.max() <= 1.0 < result.originals[1].array.max()
