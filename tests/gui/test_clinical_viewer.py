"""The clinical viewer: three planes, true values, functional colour and SUV, contribution."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from clinical_data import HOT, PIXEL, SLICE, SUV_BW, write_pair
from gui_helpers import WAIT_MS, set_method

from fusionviewer.analysis.roi import PEAK_RADIUS_MM


@pytest.fixture
def fused(qtbot, window, tmp_path):
    """CT + PET (DICOM, SUV tags) loaded and fused with the average method."""
    ct, pet = write_pair(tmp_path / "data")
    set_method(window, "average")
    with qtbot.waitSignal(window.controller.metricsFinished, timeout=WAIT_MS):
        with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
            window.load_paths([str(ct), str(pet)])
    return window, window.doc.result


def test_three_planes_crosshair_letters_and_aspect(qtbot, fused):
    win, result = fused
    win.doc.set_display(layout="mpr")
    mpr = win.viewer.mpr
    assert win.viewer.stack.currentWidget() is mpr
    assert len(mpr.rows) == 3  # CT, PET, fused
    assert mpr.view(0, "axial").edge_letters() == ("R", "L", "A", "P")
    assert mpr.view(1, "coronal").edge_letters() == ("R", "L", "S", "I")
    assert mpr.view(2, "sagittal").edge_letters() == ("A", "P", "S", "I")
    # clicking on the CT axial view moves every plane of every image to that patient point
    axial = mpr.view(0, "axial")
    axial.clicked.emit(12.5, 30.5)  # column 12 (x), row 30 (y)
    point = win.doc.point
    ct = result.originals[0]
    expected_x = ct.origin[0] + 12 * PIXEL
    assert point[0] == pytest.approx(expected_x) and point[1] == pytest.approx(-24 + 30 * PIXEL)
    for r in range(3):
        coronal, sagittal = mpr.view(r, "coronal"), mpr.view(r, "sagittal")
        assert coronal.vline.value() == pytest.approx(12.5)       # same column R->L
        assert sagittal.vline.value() == pytest.approx(30.5)      # A->P column = row of axial
        assert mpr.view(r, "axial").vline.value() == pytest.approx(12.5)
    # the coronal plane shown is the one through row 30 of the volume
    np.testing.assert_array_equal(mpr.view(0, "coronal").image_item.image,
                                  ct.array[::-1, 30, :])
    # clicking in a coronal view moves the axial slice (and the stored-slice slider)
    coronal = mpr.view(0, "coronal")
    coronal.clicked.emit(12.5, 16 - 3.5)  # 3.5 slices above the bottom: z = 3
    assert win.doc.slice_index == 3
    np.testing.assert_array_equal(axial.image_item.image, ct.array[3])
    # a 0.98 x 0.98 x 5 mm volume keeps its physical shape in the coronal plane
    win.resize(1600, 980)
    qtbot.wait(50)
    px, py = coronal.vb.viewPixelSize()
    assert px / py == pytest.approx(SLICE / PIXEL, rel=0.02)
    ax, ay = axial.vb.viewPixelSize()
    assert ax / ay == pytest.approx(1.0, rel=0.02)


def test_mip_of_the_functional_source_rotates(qtbot, fused):
    win, result = fused
    win.doc.set_display(layout="mpr")
    mpr = win.viewer.mpr
    mip0 = np.array(mpr.mip_view.image_item.image)
    pet = result.originals[1].array
    assert mip0.max() == pet.max()
    assert mpr.mip_view.edge_letters() == ("R", "L", "S", "I")
    # the hot spot's column (x) and row (z from the top) in the coronal MIP
    row, col = np.unravel_index(np.argmax(mip0), mip0.shape)
    assert (row, col) == (pet.shape[0] - 1 - HOT[0], HOT[2])
    mpr.mip_slider.setValue(9)  # 90 degrees, rotated in a worker
    assert win.doc.mip_angle == 90
    qtbot.waitUntil(lambda: "90°" in mpr.mip_view.title.text(), timeout=WAIT_MS)
    turned = np.array(mpr.mip_view.image_item.image)
    assert np.unravel_index(np.argmax(turned), turned.shape)[1] != col


def test_values_and_roi_statistics_in_original_units(qtbot, fused):
    win, result = fused
    ct = result.originals[0].array.astype(np.float64)
    pet_bqml = result.originals[1].array.astype(np.float64)
    doc = win.doc
    k = HOT[0]
    doc.set_slice(k)
    # status bar: HU beyond any window and SUV from the tags
    doc.set_cursor((20.5, 7.5))
    text = win.cursor_label.text()
    assert f"A: {ct[k, 7, 20]:.5g} HU" in text and ct[k, 7, 20] > 2400
    doc.set_cursor((HOT[2] + 0.5, HOT[1] + 0.5))
    assert f"B: {pet_bqml[k, HOT[1], HOT[2]] * SUV_BW:.5g} SUVbw" in win.cursor_label.text()
    # rectangle
    win.viewer.roi_radio.setChecked(True)
    doc.set_roi((15.0, 3.0, 10.0, 9.0))
    stats = win.roi_panel.stats
    crop = ct[k, 3:12, 15:25]
    assert stats[0]["mean"] == pytest.approx(crop.mean()) and stats[0]["max"] == crop.max()
    assert stats[0]["volume_ml"] == pytest.approx(90 * PIXEL * PIXEL * SLICE / 1000)
    # ellipse around the hot spot: PET in SUV, SUVmax and SUVpeak
    doc.set_roi((HOT[2] - 5.0, HOT[1] - 4.0, 10.0, 8.0))
    win.roi_panel.shape_combo.setCurrentIndex(1)
    assert doc.roi_shape == "ellipse"
    view = win.viewer.views[0]
    assert view.ellipse.isVisible() and view.ellipse.rect().width() == 10.0  # drawn as one
    yy, xx = np.mgrid[0:48, 0:40] + 0.5
    inside = ((xx - HOT[2]) / 5) ** 2 + ((yy - HOT[1]) / 4) ** 2 <= 1
    pet_stats = win.roi_panel.stats[1]
    assert pet_stats["n"] == inside.sum()
    assert pet_stats["mean"] == pytest.approx(pet_bqml[k][inside].mean() * SUV_BW)
    assert pet_stats["max"] == pytest.approx(pet_bqml.max() * SUV_BW)
    z, y, x = np.mgrid[0:16, 0:48, 0:40]
    sphere = ((z - HOT[0]) * SLICE) ** 2 + ((y - HOT[1]) * PIXEL) ** 2 + \
        ((x - HOT[2]) * PIXEL) ** 2 <= PEAK_RADIUS_MM ** 2
    assert pet_stats["peak"] == pytest.approx(pet_bqml[sphere].mean() * SUV_BW)
    assert win.roi_panel.table.item(1, 0).text() == "B [SUVbw]"
    # SUVlbm (Janmahasatian, male 75 kg 1.80 m) from the toolbar, then back to SUVbw
    assert not win.viewer.suv_combo.isHidden()
    win.viewer.suv_combo.setCurrentIndex(win.viewer.suv_combo.findData("lbm"))
    lbm_factor = 9270 * 75 / (6680 + 216 * 75 / 1.8 ** 2) * 1000 / (370e6 * 2 ** (-3600 / 6586.2))
    assert win.roi_panel.stats[1]["max"] == pytest.approx(pet_bqml.max() * lbm_factor)
    assert win.roi_panel.table.item(1, 0).text() == "B [SUVlbm]"
    win.viewer.suv_combo.setCurrentIndex(win.viewer.suv_combo.findData("bw"))
    # the same ROI can be drawn on an axial plane of the three-plane layout
    doc.set_display(layout="mpr")
    axial = win.viewer.mpr.view(1, "axial")
    assert axial.roi.isVisible() and axial.roi_rect() == doc.roi
    axial.vb.roiDrag.emit((HOT[2] - 5.0, HOT[1] - 4.0, 10.0, 8.0), True)
    assert doc.roi == (HOT[2] - 5.0, HOT[1] - 4.0, 10.0, 8.0)
    doc.set_display(layout="side-by-side")
    # a 3-D box over slices 7..11
    win.roi_panel.shape_combo.setCurrentIndex(2)
    win.roi_panel.z0.setValue(8)
    win.roi_panel.z1.setValue(12)
    assert doc.roi_slices == (7, 11)
    box = ct[7:12, HOT[1] - 4:HOT[1] + 4, HOT[2] - 5:HOT[2] + 5]
    assert win.roi_panel.stats[0]["mean"] == pytest.approx(box.mean())
    assert win.roi_panel.stats[0]["n"] == box.size
    csv = win.roi_panel.csv_text()
    row = [l for l in csv.splitlines() if l.startswith("A: ct")][0].split(",")
    assert row[1] == "HU" and row[2] == "box" and float(row[4]) == pytest.approx(box.mean(),
                                                                               rel=1e-5)


def test_colour_map_and_colour_bar_survive_slice_and_layout(qtbot, fused):
    win, result = fused
    viewer = win.viewer
    pet_view = viewer.views[1]
    assert not viewer.cmap_combo.isHidden()  # shown as soon as a greyscale PET is loaded
    assert pet_view.lut_name == "hot iron" and pet_view.colorbar.isVisible()
    lo, hi = win.doc.levels(viewer.view_layers[1])
    assert (lo, hi) == (0.0, float(result.originals[1].array.max()))  # 0..max, no saturation
    top, bottom, unit = pet_view.colorbar.labels()
    assert unit == "SUVbw" and float(top) == pytest.approx(hi * SUV_BW, rel=1e-3)
    viewer.cmap_combo.setCurrentIndex(viewer.cmap_combo.findData("rainbow"))
    assert win.doc.colormap == "rainbow" and pet_view.lut_name == "rainbow"
    win.doc.step_slice(1)
    win.doc.set_display(layout="mpr")
    win.doc.set_display(layout="side-by-side")
    assert pet_view.lut_name == "rainbow"
    # the fused image of a greyscale PET is shown in its colour
    fused_img = viewer.fused_view().image_item.image
    assert fused_img.ndim == 3 and "rainbow colour of B" in viewer.fused_view().title.full_text
    # SUV presets
    viewer.apply_preset(1, "SUV 0-5")
    assert win.doc.levels(viewer.view_layers[1])[1] * SUV_BW == pytest.approx(5.0)
    assert float(pet_view.colorbar.labels()[0]) == pytest.approx(5.0)


def test_contribution_and_residual_modes(qtbot, fused):
    win, result = fused
    viewer = win.viewer
    view = viewer.fused_view()
    viewer.mode_combo.setCurrentIndex(viewer.mode_combo.findData("contribution"))
    qtbot.waitUntil(lambda: "Contribution" in view.title.full_text, timeout=WAIT_MS)
    img = view.image_item.image
    assert img.ndim == 3 and img.shape[:2] == result.fused.shape[1:]
    assert "■" in viewer.legend.text() and viewer.legend.isVisible()
    viewer.mode_combo.setCurrentIndex(viewer.mode_combo.findData("residual"))
    qtbot.waitUntil(lambda: view.title.full_text.startswith("Residual"), timeout=WAIT_MS)
    res = view.image_item.image
    assert res.shape == (48, 2 * 40 + 2)  # A | B side by side
    assert res.max() > 0
    # the three-plane layout shows the contribution on the fused axial plane
    viewer.mode_combo.setCurrentIndex(viewer.mode_combo.findData("contribution"))
    win.doc.set_display(layout="mpr")
    axial = viewer.mpr.view(2, "axial")
    qtbot.waitUntil(lambda: "contribution" in axial.title.text(), timeout=WAIT_MS)
    assert axial.image_item.image.ndim == 3


def test_ruler_measures_mm(qtbot, fused):
    win, _result = fused
    viewer = win.viewer
    viewer.ruler_radio.setChecked(True)
    view = viewer.views[0]
    view.vb.rulerDrag.emit((10.0, 10.0), (13.0, 14.0), True)
    assert viewer.ruler_mm() == pytest.approx(np.hypot(3 * PIXEL, 4 * PIXEL))
    assert view.ruler_text.toPlainText() == f"{np.hypot(3 * PIXEL, 4 * PIXEL):.1f} mm"
    win.doc.set_display(layout="mpr")
    win.viewer.mpr.view(0, "coronal").vb.rulerDrag.emit((5.0, 2.0), (5.0, 6.0), True)
    assert viewer.ruler_mm() == pytest.approx(4 * SLICE)


def test_titles_are_elided_with_a_tooltip(qtbot, fused):
    win, _result = fused
    win.resize(1600, 980)
    win.doc.set_display(layout="mpr")
    qtbot.wait(50)
    view = win.viewer.mpr.view(0, "axial")  # a narrow view: the title does not fit
    full = view.title.full_text
    assert "W " in full and "HU" in full
    assert view.title.toolTip() == full
    shown = view.title.text_shown()
    assert shown != full and "…" in shown
    assert view.title.fontMetrics().horizontalAdvance(shown) <= view.title.width()


def test_anonymised_export(qtbot, fused, tmp_path):
    win, _result = fused
    win.doc.set_display(anonymise=True)
    out = tmp_path / "out" / "fused_dicom"
    with qtbot.waitSignal(win.controller.exportFinished, timeout=WAIT_MS):
        assert win.export_to("dicom", str(out))
    files = sorted(out.glob("*.dcm"))
    assert files
    for f in files:
        text = str(pydicom.dcmread(f))
        for secret in ("DOE", "PID-4711", "19991231"):
            assert secret not in text
    win.doc.set_roi((1.0, 1.0, 5.0, 5.0))
    csv_path = tmp_path / "out" / "roi.csv"
    assert win.export_to("roi", str(csv_path))
    text = csv_path.read_text()
    assert "A CT," in text and "A: ct" not in text and "pet" not in text


def test_pet_without_weight_stays_in_bqml_with_a_note(qtbot, window, tmp_path):
    ct, pet = write_pair(tmp_path / "data")
    for f in pet.iterdir():
        ds = pydicom.dcmread(f)
        del ds.PatientWeight
        ds.save_as(f)
    set_method(window, "average")
    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        window.load_paths([str(ct), str(pet)])
    layer = window.viewer.view_layers[1]
    assert layer.units == "Bq/ml" and layer.scale == 1.0
    title = window.viewer.views[1].title.text()
    assert "no SUV: PatientWeight missing" in title
    assert window.viewer.views[1].colorbar.labels()[2] == "Bq/ml"
    window.doc.set_slice(HOT[0])
    window.doc.set_cursor((HOT[2] + 0.5, HOT[1] + 0.5))
    value = window.doc.result.originals[1].array[HOT[0], HOT[1], HOT[2]]
    assert f"B: {value:.5g} Bq/ml" in window.cursor_label.text()


def test_view_layout_mpr_screenshot(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image as PILImage

    ct, pet = write_pair(tmp_path / "data")
    out = tmp_path / "mpr.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               FUSIONVIEWER_SETTINGS_DIR=str(tmp_path / "settings"))
    proc = subprocess.run([sys.executable, "-m", "fusionviewer", "view", str(ct), str(pet),
                           "--layout", "mpr", "--screenshot", str(out)],
                          cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rgb = np.asarray(PILImage.open(out).convert("RGB"), dtype=np.int16)
    assert rgb.shape == (980, 1600, 3)
    letters = (rgb[..., 0] > 230) & (np.abs(rgb[..., 1] - 200) < 25) & (rgb[..., 2] < 90)
    assert letters.sum() > 200  # the orange orientation letters of 10 views
