"""DICOM sources: info and patient line with anonymise, multi-series folders, registration of a
DICOM pair; GPU failure falls back to the CPU with a notice; whole-volume metrics; CSV copy."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtGui import QGuiApplication

from gui_helpers import WAIT_MS, drop_files, fuse_dropped, set_method

from fusionviewer.paths import samples_dir

DICOM_PAIR = [samples_dir() / "dicom" / "ct-mri-34" / "ct",
              samples_dir() / "dicom" / "ct-mri-34" / "mr"]


def test_dicom_folders_show_info_and_anonymise(qtbot, window):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, DICOM_PAIR)
    slot = window.sources.slots[0]
    assert slot.info.text().startswith("CT · 256×256×8 · 0.94×0.94×5.00 mm")
    assert "DEMO^ATLAS" in slot.patient.text() and "FV-ATLAS-34" in slot.patient.text()
    window.sources.anonymise.setChecked(True)
    assert "DEMO" not in slot.patient.text() and "hidden" in slot.patient.text()
    assert window.doc.num_slices() == 8 and result.fused.num_slices == 8
    # CT: read-out in HU through the recorded normalization
    window.doc.set_cursor((128.0, 128.0))
    hu = float(result.inputs[0].array[window.doc.slice_index, 128, 128])
    assert f"A: {hu:.5g} HU" in window.cursor_label.text()


def test_multi_series_folder_asks_which_series(qtbot, window, tmp_path):
    from fusionviewer.io.synthetic import write_series

    folder = tmp_path / "study"
    rng = np.random.default_rng(0)
    write_series(rng.integers(0, 1000, (3, 32, 32)).astype(np.int16), folder, modality="CT",
                 series_number=1, description="first", prefix="A", series_uid="1.2.3.1")
    write_series(rng.integers(0, 1000, (5, 32, 32)).astype(np.int16), folder, modality="MR",
                 series_number=2, description="second", prefix="B", series_uid="1.2.3.2")
    asked = []

    def choose(path, series):
        asked.append([s.uid for s in series])
        return series[1].uid

    window.controller.choose_series = choose
    window.pipeline.auto_run.setChecked(False)
    with qtbot.waitSignal(window.controller.loadFinished, timeout=WAIT_MS):
        drop_files(window.sources.slots[0], [folder])
    qtbot.waitUntil(lambda: window.doc.sources[0] is not None, timeout=WAIT_MS)
    assert asked == [["1.2.3.1", "1.2.3.2"]]
    src = window.doc.sources[0]
    assert src.series_uid == "1.2.3.2" and src.image.shape == (5, 32, 32)
    assert src.image.modality == "MR"


def test_gpu_failure_falls_back_to_cpu_with_notice(qtbot, window, ct_mri_pair, monkeypatch):
    from fusionviewer.pipeline import job

    devices = []
    real_call = job._call_method

    def call(method, gray, kwargs, progress, cancel):  # the CNN call inside pipeline.fuse_gray
        devices.append(kwargs.get("device"))
        if kwargs.get("device") == "cuda":
            raise RuntimeError("CUDA error: no kernel image is available for execution")
        return real_call("average", gray, {}, progress, cancel)  # fast stand-in for the CPU run

    monkeypatch.setattr(job, "_call_method", call)
    qtbot.waitUntil(lambda: bool(window.device_text), timeout=WAIT_MS)  # the probe ran
    assert window.pipeline.device_found.text().startswith("Found: ")
    window.pipeline.device.setCurrentIndex(window.pipeline.device.findData("cuda"))
    window.pipeline.auto_run.setChecked(False)
    with qtbot.waitSignal(window.controller.loadFinished, timeout=WAIT_MS):
        drop_files(window, ct_mri_pair)
    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        window.pipeline.run_btn.click()
    assert devices == ["cuda", "cpu"]
    notice = window.pipeline.notice.text()
    assert "GPU failed" in notice and "CPU" in notice and window.pipeline.notice.isVisible()
    assert window.dialogs == []


def test_whole_volume_metrics_and_csv_copy(qtbot, window, ct_mri_volumes):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_volumes)
    assert window.metrics.tree.isColumnHidden(2)
    with qtbot.waitSignal(window.controller.volumeMetricsFinished, timeout=WAIT_MS) as blocker:
        window.metrics.volume_btn.click()
    value = blocker.args[0]
    assert len(value["per_slice"]) == result.fused.num_slices == 12
    assert not window.metrics.tree.isColumnHidden(2)
    rows = {key: (s, v) for _g, key, s, v in window.metrics.rows()}
    assert rows["EN"][1] == value["mean"]["EN"]
    window.metrics.copy_btn.click()
    text = QGuiApplication.clipboard().text()
    assert text.splitlines()[0] == "group,metric,slice,volume"
    en = next(line for line in text.splitlines() if ",EN," in line)
    assert float(en.split(",")[3]) == value["mean"]["EN"]
    # group headings come from METRICS_INFO, with tooltips
    groups = [window.metrics.tree.topLevelItem(i).text(0)
              for i in range(window.metrics.tree.topLevelItemCount())]
    assert groups[:3] == ["Information", "Structure", "Similarity to sources"]
    child = window.metrics.tree.topLevelItem(0).child(0)
    assert "information" in child.toolTip(0).lower()


def test_empty_slice_metrics_are_flagged(qtbot, window, tmp_path):
    import SimpleITK as sitk

    from gui_helpers import stacked_volume

    a = stacked_volume(tmp_path, "ct-mri", 0, 4, "ct.nii.gz")
    b = stacked_volume(tmp_path, "ct-mri", 1, 4, "mri.nii.gz")
    for path in (a, b):  # blank the first slice of both
        img = sitk.ReadImage(str(path))
        arr = sitk.GetArrayFromImage(img)
        arr[0] = 0
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(img)
        sitk.WriteImage(out, str(path))
    set_method(window, "average")
    fuse_dropped(qtbot, window, [a, b])
    assert window.doc.metrics_signal and "empty" not in window.metrics.title.text()
    with qtbot.waitSignal(window.controller.metricsFinished, timeout=WAIT_MS):
        window.doc.set_slice(0)
    assert window.doc.metrics_slice == 0 and not window.doc.metrics_signal
    assert "empty slice" in window.metrics.title.text()


def test_registration_options_reach_the_pipeline(qtbot, window, ct_mri_pair):
    window.pipeline.auto_run.setChecked(False)
    with qtbot.waitSignal(window.controller.loadFinished, timeout=WAIT_MS):
        drop_files(window, ct_mri_pair)
    p = window.pipeline
    p.registration.setCurrentIndex(p.registration.findData("rigid"))
    p.fixed.setCurrentIndex(1)
    p.norm_combos[0].setCurrentIndex(p.norm_combos[0].findData("bone"))
    p.block.setCurrentIndex(p.block.findData(128))
    set_method(window, "laplacian")
    opts = window.doc.options  # the panel edits the document's options
    assert (opts.register, opts.fixed_index, opts.method, opts.block_size) == \
        ("rigid", 1, "laplacian", 128)
    assert list(opts.normalization) == ["bone", None]
    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        p.run_btn.click()
    result = window.doc.result
    assert result.options == dataclasses.replace(opts) and window.doc.result_is_current()
    assert result.registrations[0] is not None and result.registrations[1] is None
    assert result.sources[0].normalization.note.lower().find("bone") >= 0 or \
        result.sources[0].normalization.kind == "window"


def test_anisotropic_pixels_are_shown_with_their_shape(qtbot, window, tmp_path):
    import SimpleITK as sitk

    paths = []
    for name, seed in (("a.nii.gz", 1), ("b.nii.gz", 2)):
        arr = np.random.default_rng(seed).integers(0, 255, (2, 40, 80)).astype(np.uint8)
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing((0.5, 1.0, 3.0))  # x pixels half as wide as tall
        sitk.WriteImage(img, str(tmp_path / name))
        paths.append(tmp_path / name)
    set_method(window, "average")
    fuse_dropped(qtbot, window, paths)
    for view in window.viewer.views:
        assert view.vb.state["aspectLocked"] == 0.5
    (x0, x1), (y0, y1) = window.viewer.views[2].vb.viewRange()
    assert x0 <= 1 and x1 >= 79 and y0 <= 1 and y1 >= 39  # reset fits the whole image
