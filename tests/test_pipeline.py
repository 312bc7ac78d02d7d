"""The fusion pipeline end to end on real Harvard pairs: colour, registration, volumes,
progress, cancel, CNN fallback, export and batch."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from scipy import ndimage

import fusionviewer.fusion as fusion
from fusionviewer.errors import Cancelled, InputError, ModelError
from fusionviewer.image import Image
from fusionviewer.normalization import rgb_to_ycbcr
from fusionviewer.pipeline import (FusionJob, FusionOptions, export_result, load_sources,
                                   measure, run_batch)
from fusionviewer.progress import CancelToken

from harvard_data import harvard_pair_paths, harvard_rows, read_gray_u8


def _gff(**kw) -> FusionOptions:
    return FusionOptions(method="gff", **kw)


def test_ct_mri_end_to_end(ct_mri_pair):
    result = FusionJob(ct_mri_pair, _gff(), modalities=["CT", "MR"]).run()
    assert result.method == "gff" and result.notices == []
    assert result.fused_gray.shape == (1, 256, 256) and result.fused_gray.dtype == np.float32
    assert 0.0 <= result.fused_gray.min() and result.fused_gray.max() <= 1.0
    assert not result.fused.is_color and result.fused.shape == (1, 256, 256)
    # 8-bit rasters are normalized by the fixed 0..255 map, so the sources are the PNG values
    ct = read_gray_u8(ct_mri_pair[0]) / 255.0
    np.testing.assert_allclose(result.sources[0].array[0], ct, atol=1e-6)
    expected = fusion.get_method("gff")([s.array[0] for s in result.sources])
    np.testing.assert_allclose(result.fused_gray[0], expected, atol=1e-6)
    assert set(result.timings) == {"loading", "normalizing", "fusing"}
    assert [s.modality for s in result.inputs] == ["CT", "MR"]
    assert "gff" in result.description and "no registration" in result.description


def test_colour_pet_gives_colour_output(pet_mri_pair):
    mri_path, pet_path = pet_mri_pair
    result = FusionJob([mri_path, pet_path], _gff(), modalities=["MR", "PET"]).run()
    assert result.fused.is_color and result.fused.array.shape == (1, 256, 256, 3)
    pet = result.sources[1].array[0]
    _, cb_pet, cr_pet = rgb_to_ycbcr(pet)
    y, cb, cr = rgb_to_ycbcr(result.fused.array[0])
    # chroma comes from the PET; luminance is the fused gray (up to RGB gamut clipping)
    unclipped = (result.fused.array[0] > 0.01).all(-1) & (result.fused.array[0] < 0.99).all(-1)
    assert unclipped.mean() > 0.2
    np.testing.assert_allclose(y[unclipped], result.fused_gray[0][unclipped], atol=2e-3)
    np.testing.assert_allclose(cb[unclipped], cb_pet[unclipped], atol=2e-3)
    np.testing.assert_allclose(cr[unclipped], cr_pet[unclipped], atol=2e-3)
    # the fused image is neither input
    mri = result.sources[0].array[0]
    assert np.abs(result.fused_gray[0] - mri).mean() > 0.01


def _shifted(image: Image, angle_deg: float, shift_yx: tuple[float, float]) -> Image:
    arr = image.array[0].astype(np.float64)
    moved = ndimage.rotate(arr, angle_deg, reshape=False, order=1)
    moved = ndimage.shift(moved, shift_yx, order=1)
    return image.with_array(np.clip(np.rint(moved), 0, 255).astype(np.uint8)[np.newaxis])


def test_registration_path_realigns_a_moved_source(ct_mri_pair):
    # mono-modal on purpose: this tests the pipeline's registration path, not the accuracy of
    # multimodal registration (tests/test_registration.py does that)
    _, mri = load_sources(ct_mri_pair, ["CT", "MR"])
    moved = _shifted(mri, 6.0, (4.0, -5.0))
    aligned = mri.array[0] / 255.0
    before = np.abs(moved.array[0] / 255.0 - aligned).mean()
    result = FusionJob([mri, moved], _gff(register="rigid")).run()
    assert result.registrations[0] is None and result.registrations[1] is not None
    after = np.abs(result.sources[1].array[0] - aligned).mean()
    assert after < 0.25 * before
    # fusing an image with its realigned copy gives back (nearly) the image
    unregistered = FusionJob([mri, moved], _gff()).run()
    err_reg = np.abs(result.fused_gray[0] - aligned).mean()
    assert err_reg < 0.5 * np.abs(unregistered.fused_gray[0] - aligned).mean()
    assert "registering" in result.timings
    assert "rigid registration onto source 1" in result.description


def test_mismatched_sizes_need_registration(ct_mri_pair):
    ct, mri = load_sources(ct_mri_pair, ["CT", "MR"])
    small = Image(array=mri.array[:, ::2, ::2].copy(), spacing=(2.0, 2.0, 1.0), modality="MR")
    with pytest.raises(InputError, match="mismatched sizes.*--register rigid"):
        FusionJob([ct, small], _gff()).run()
    result = FusionJob([ct, small], _gff(register="rigid")).run()
    assert result.sources[1].shape == ct.shape and result.fused_gray.shape == (1, 256, 256)


def test_three_sources_and_fixed_index(harvard):
    name = harvard_rows("spect-mri", "val")[0]["name"]
    mri_path, spect_path = harvard_pair_paths("spect-mri", name)
    ct_path, _ = harvard_pair_paths("ct-mri", "2010.png")
    srcs = load_sources([mri_path, spect_path, ct_path], ["MR", "SPECT", "CT"])
    srcs[2] = Image(array=srcs[2].array, spacing=(0.9, 0.9, 1.0), modality="CT")
    result = FusionJob(srcs, _gff(fixed_index=2)).run()
    assert result.fused.spacing == (0.9, 0.9, 1.0)  # geometry of the fixed (third) source
    assert result.fused.is_color  # the SPECT is colour
    two = FusionJob(srcs[:2], _gff()).run()
    assert np.abs(result.fused_gray - two.fused_gray).mean() > 0.005


def test_volume_fusion_slice_wise(harvard):
    names = [r["name"] for r in harvard_rows("ct-mri", "val")[:4]]
    ct = np.stack([read_gray_u8(harvard_pair_paths("ct-mri", n)[0]) for n in names])
    mri = np.stack([read_gray_u8(harvard_pair_paths("ct-mri", n)[1]) for n in names])
    vols = [Image(array=ct, spacing=(1, 1, 3), modality="CT"),
            Image(array=mri, spacing=(1, 1, 3), modality="MR")]
    result = FusionJob(vols, FusionOptions(method="laplacian")).run()
    assert result.fused_gray.shape == (4, 256, 256)
    for z in range(4):
        expected = fusion.get_method("laplacian")([ct[z] / 255.0, mri[z] / 255.0])
        np.testing.assert_allclose(result.fused_gray[z], expected, atol=1e-5)


def test_progress_stages_and_order(ct_mri_pair):
    calls = []
    FusionJob(ct_mri_pair, _gff()).run(progress=lambda s, f: calls.append((s, f)))
    stages = [s for s, _ in calls]
    assert stages[0] == "loading" and stages[-1] == "fusing"
    assert "normalizing" in stages
    order = ["loading", "normalizing", "fusing"]
    assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_progress_includes_registering(ct_mri_pair):
    stages = []
    ct, mri = load_sources(ct_mri_pair)
    FusionJob([ct, _shifted(mri, 3, (2, 2))], _gff(register="rigid")).run(
        progress=lambda s, f: stages.append(s))
    assert "registering" in stages and stages.index("registering") < stages.index("fusing")


def test_cancel_before_and_during(ct_mri_pair):
    token = CancelToken()
    token.set()
    with pytest.raises(Cancelled):
        FusionJob(ct_mri_pair, _gff()).run(cancel=token)
    token = CancelToken()

    def cancel_when_fusing(stage, fraction):
        if stage == "fusing":
            token.set()

    names = [r["name"] for r in harvard_rows("ct-mri", "val")[:3]]
    vol = [Image(array=np.stack([read_gray_u8(harvard_pair_paths("ct-mri", n)[k])
                                 for n in names])) for k in (0, 1)]
    with pytest.raises(Cancelled):
        FusionJob(vol, _gff()).run(progress=cancel_when_fusing, cancel=token)


def test_cnn_model_error_falls_back_to_gff(ct_mri_pair, monkeypatch):
    def broken(images, **kw):
        raise ModelError("weights file models/fusion_cnn.pt is missing")

    monkeypatch.setitem(fusion._METHODS, "cnn", broken)
    result = FusionJob(ct_mri_pair, FusionOptions(method="cnn")).run()
    assert result.method == "gff"
    assert len(result.notices) == 1
    assert "weights file models/fusion_cnn.pt is missing" in result.notices[0]
    assert "gff" in result.notices[0]
    gff = FusionJob(ct_mri_pair, _gff()).run()
    np.testing.assert_array_equal(result.fused_gray, gff.fused_gray)


def test_unknown_options_and_too_few_sources(ct_mri_pair):
    with pytest.raises(InputError, match="at least two"):
        FusionJob(ct_mri_pair[:1], _gff()).run()
    with pytest.raises(InputError, match="unknown fusion method"):
        FusionJob(ct_mri_pair, FusionOptions(method="wavelet")).run()
    with pytest.raises(InputError, match="fixed source 3"):
        FusionJob(ct_mri_pair, _gff(fixed_index=2)).run()
    with pytest.raises(InputError, match="unknown modality"):
        load_sources(ct_mri_pair, ["CT", "XR"])


def test_nan_source_is_rejected(ct_mri_pair):
    ct, mri = load_sources(ct_mri_pair)
    bad = mri.with_array(mri.array.astype(np.float32))
    bad.array[0, 10, 10] = np.nan
    with pytest.raises(InputError, match="NaN"):
        FusionJob([ct, bad], _gff()).run()


def test_metrics_of_a_result(pet_mri_pair):
    result = FusionJob(pet_mri_pair, FusionOptions(method="average"),
                       modalities=["MR", "PET"]).run()
    m = measure(result)
    for key in ("EN", "MI", "MI_MR", "MI_PT", "Qabf", "SSIM", "VIF", "CClow"):
        assert np.isfinite(m[key]), key
    assert m["MI"] == pytest.approx(m["MI_MR"] + m["MI_PT"])
    assert 0.0 < m["Qabf"] < 1.0


# --- export ---------------------------------------------------------------------------------

def test_export_png_nifti_dicom(ct_mri_pair, tmp_path):
    import pydicom
    import SimpleITK as sitk
    from PIL import Image as PILImage

    result = FusionJob(ct_mri_pair, _gff(), modalities=["CT", "MR"]).run()
    expected = np.rint(result.fused_gray[0] * 255)
    png = export_result(result, tmp_path / "f.png")
    assert png == [tmp_path / "f.png"]
    assert np.abs(np.asarray(PILImage.open(png[0])).astype(float) - expected).max() <= 1
    nii = export_result(result, tmp_path / "f.nii.gz")
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(nii[0])))
    assert arr.squeeze().shape == (256, 256)
    dicom = export_result(result, tmp_path / "dcm", "dicom")
    ds = pydicom.dcmread(dicom[0])
    assert ds.pixel_array.shape == (256, 256)
    assert "gff" in str(ds.DerivationDescription)
    with pytest.raises(InputError, match="exists"):
        export_result(result, tmp_path / "f.png")
    export_result(result, tmp_path / "f.png", force=True)


def test_export_refuses_to_overwrite_a_source(ct_mri_pair, tmp_path):
    src = tmp_path / "ct.png"
    shutil.copy(ct_mri_pair[0], src)
    result = FusionJob([src, ct_mri_pair[1]], _gff()).run()
    with pytest.raises(InputError, match="source"):
        export_result(result, src, force=True)
    assert src.read_bytes() == ct_mri_pair[0].read_bytes()


def test_colour_export_png_is_rgb(pet_mri_pair, tmp_path):
    from PIL import Image as PILImage

    result = FusionJob(pet_mri_pair, _gff(), modalities=["MR", "PET"]).run()
    out = export_result(result, tmp_path / "pet.png")
    arr = np.asarray(PILImage.open(out[0]))
    assert arr.shape == (256, 256, 3)
    assert np.abs(arr.astype(float) - result.fused.array[0] * 255).max() <= 1


# --- batch ----------------------------------------------------------------------------------

def _batch_dirs(tmp_path, names):
    a, b = tmp_path / "mri", tmp_path / "pet"
    a.mkdir()
    b.mkdir()
    for n in names:
        mri, pet = harvard_pair_paths("pet-mri", n)
        shutil.copy(mri, a / n)
        shutil.copy(pet, b / n)
    return a, b


def test_run_batch_pairs_reports_and_skips(tmp_path):
    names = [r["name"] for r in harvard_rows("pet-mri", "val")[:4]]
    a, b = _batch_dirs(tmp_path, names)
    (a / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    shutil.copy(b / names[0], b / "broken.png")
    shutil.copy(a / names[0], a / "only_here.png")
    out = tmp_path / "out"
    stages = []
    rows = run_batch([a, b], out, _gff(), progress=lambda s, f: stages.append(f))
    by_name = {r.name: r for r in rows}
    assert [by_name[n].status for n in names] == ["ok"] * 4
    assert by_name["broken.png"].status == "failed"
    assert "broken.png" in by_name["broken.png"].message
    assert by_name["only_here.png"].status == "skipped"
    for n in names:
        assert (out / n).is_file()
    assert not (out / "broken.png").exists()
    assert stages[-1] == 1.0
    with open(out / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 6 and {t["status"] for t in table} == {"ok", "failed", "skipped"}
    # grouped fusion gives the same pixels as one FusionJob per pair
    single = FusionJob([a / names[2], b / names[2]], _gff()).run()
    from PIL import Image as PILImage
    got = np.asarray(PILImage.open(out / names[2])).astype(float)
    assert np.abs(got - single.fused.array[0] * 255).max() <= 1
    with pytest.raises(InputError, match="exists"):
        run_batch([a, b], out, _gff())
    rows = run_batch([a, b], out, _gff(), force=True)
    assert sum(r.status == "ok" for r in rows) == 4


def test_run_batch_groups_cnn_calls(tmp_path, monkeypatch):
    names = [r["name"] for r in harvard_rows("pet-mri", "val")[:5]]
    a, b = _batch_dirs(tmp_path, names)
    calls = []

    def fake_cnn(images, **kw):
        calls.append(images[0].shape)
        return fusion.get_method("average")(images)

    monkeypatch.setitem(fusion._METHODS, "cnn", fake_cnn)
    rows = run_batch([a, b], tmp_path / "out", FusionOptions(method="cnn"))
    assert all(r.status == "ok" and r.method == "cnn" for r in rows)
    assert calls == [(5, 256, 256)]  # one call for the five same-sized pairs


def test_run_batch_with_metrics_and_fallback(tmp_path, monkeypatch):
    names = [r["name"] for r in harvard_rows("pet-mri", "val")[:2]]
    a, b = _batch_dirs(tmp_path, names)

    def broken(images, **kw):
        raise ModelError("no weights")

    monkeypatch.setitem(fusion._METHODS, "cnn", broken)
    rows = run_batch([a, b], tmp_path / "out", FusionOptions(method="cnn"), with_metrics=True)
    assert all(r.method == "gff" and "no weights" in r.message for r in rows)
    assert all(np.isfinite(r.metrics["Qabf"]) for r in rows)
    text = (tmp_path / "out" / "summary.csv").read_text()
    assert "Qabf" in text.splitlines()[0]


def test_dicom_series_in_dicom_series_out(tmp_path):
    import pydicom

    from fusionviewer.paths import samples_dir

    folder = samples_dir() / "dicom" / "ct-mri-34"
    result = FusionJob([folder / "ct", folder / "mr"], _gff()).run()
    assert result.fused_gray.shape == (8, 256, 256)
    assert result.sources[0].normalization.kind == "window"  # CT in HU -> a CT window
    ct_in = pydicom.dcmread(sorted((folder / "ct").iterdir())[0])
    files = export_result(result, tmp_path / "out", "dicom")
    assert len(files) == 8
    ds = pydicom.dcmread(files[0])
    assert ds.PatientID == ct_in.PatientID and ds.StudyInstanceUID == ct_in.StudyInstanceUID
    assert ds.SeriesInstanceUID != ct_in.SeriesInstanceUID
    assert "gff" in ds.DerivationDescription
    refs = {item.ReferencedSOPInstanceUID for item in ds.SourceImageSequence}
    assert ct_in.SOPInstanceUID in refs


def test_nifti_volumes_in_nifti_out(tmp_path):
    import SimpleITK as sitk

    from fusionviewer.paths import samples_dir

    folder = samples_dir() / "nifti" / "ct-mri-34"
    result = FusionJob([folder / "ct.nii.gz", folder / "mr.nii.gz"],
                       FusionOptions(method="average"), modalities=["CT", "MR"]).run()
    out = export_result(result, tmp_path / "fused.nii.gz")[0]
    img = sitk.ReadImage(str(out))
    ref = sitk.ReadImage(str(folder / "ct.nii.gz"))
    assert img.GetSize() == ref.GetSize()
    np.testing.assert_allclose(img.GetSpacing(), ref.GetSpacing())
    arr = sitk.GetArrayFromImage(img).astype(np.float64)
    assert np.abs(arr - result.fused.array).max() < 1e-3 * max(1.0, float(arr.max()))


def test_run_batch_cancel_still_writes_the_summary(tmp_path):
    names = [r["name"] for r in harvard_rows("pet-mri", "val")[:3]]
    a, b = _batch_dirs(tmp_path, names)
    token = CancelToken()

    def cancel_after_first(stage, fraction):
        if fraction > 0:
            token.set()

    with pytest.raises(Cancelled):
        run_batch([a, b], tmp_path / "out", _gff(), progress=cancel_after_first, cancel=token,
                  group_size=1)
    with open(tmp_path / "out" / "summary.csv", newline="") as fh:
        status = [r["status"] for r in csv.DictReader(fh)]
    assert status == ["ok", "cancelled", "cancelled"]


@pytest.fixture
def random_cnn_root(tmp_path, monkeypatch):
    """An app root whose models/ holds a randomly initialised (untrained) network with its
    checksum: exercises the real CNN code path without depending on the trained weights."""
    import torch

    from fusionviewer.fusion.model import PyramidFusionNet
    from fusionviewer.fusion.weights import write_checksum
    from fusionviewer.paths import resource_path

    root = tmp_path / "approot"
    (root / "models").mkdir(parents=True)
    (root / "resources").symlink_to(resource_path())
    torch.manual_seed(0)
    net = PyramidFusionNet()
    torch.save({"config": net.config(), "state_dict": net.state_dict()},
               root / "models" / "fusion_cnn.pt")
    write_checksum(root / "models" / "fusion_cnn.pt")
    monkeypatch.setenv("FUSIONVIEWER_ROOT", str(root))
    return root


def test_real_cnn_path_and_grouped_batch(random_cnn_root, tmp_path):
    names = [r["name"] for r in harvard_rows("pet-mri", "val")[:3]]
    a, b = _batch_dirs(tmp_path, names)
    single = FusionJob([a / names[1], b / names[1]], FusionOptions(method="cnn",
                                                                   device="cpu")).run()
    assert single.method == "cnn" and single.notices == []
    assert single.fused.is_color and 0 <= single.fused_gray.min() <= single.fused_gray.max() <= 1
    rows = run_batch([a, b], tmp_path / "out", FusionOptions(method="cnn", device="cpu"))
    assert [r.method for r in rows] == ["cnn"] * 3
    from PIL import Image as PILImage
    got = np.asarray(PILImage.open(tmp_path / "out" / names[1])).astype(float)
    assert np.abs(got - np.rint(single.fused.array[0] * 255)).max() <= 1


def test_corrupt_weights_fall_back_with_notice(random_cnn_root, ct_mri_pair):
    weights = random_cnn_root / "models" / "fusion_cnn.pt"
    weights.write_bytes(weights.read_bytes()[:-100])
    result = FusionJob(ct_mri_pair, FusionOptions(method="cnn")).run()
    assert result.method == "gff"
    assert "checksum" in result.notices[0] and "gff" in result.notices[0]


def test_already_normalized_sources_are_not_normalized_twice(ct_mri_pair):
    from fusionviewer.normalization import normalize

    ct, mri = load_sources(ct_mri_pair, ["CT", "MR"])
    ct_n = normalize(ct, mode="percentile", percentiles=(5, 95))
    mri_n = normalize(_shifted(mri, 3.0, (2.0, 1.0)), mode="percentile")
    result = FusionJob([ct_n, mri_n], _gff(register="rigid")).run()
    np.testing.assert_array_equal(result.sources[0].array, ct_n.array)
    assert result.sources[0].normalization is ct_n.normalization
    assert result.sources[1].normalization is mri_n.normalization
    # the resampled MRI keeps the [0, 1] values it had (no second window/percentile map)
    assert abs(float(result.sources[1].array.mean()) - float(mri_n.array.mean())) < 0.02
