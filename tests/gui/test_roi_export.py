"""ROI zoom panel and export (PNG, DICOM, NIfTI, metrics CSV, screenshot)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from gui_helpers import WAIT_MS, fuse_dropped, set_method


def test_roi_move_updates_zoom_and_statistics(qtbot, window, ct_mri_pair):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_pair)
    window.viewer.roi_radio.setChecked(True)  # ROI mode places a default ROI
    assert window.doc.roi is not None
    view = window.viewer.views[1]
    view.roi.setPos(QPointF(100, 90))  # the user moves the ROI on view B
    view.roi.setSize(QPointF(40, 30))
    assert window.doc.roi == (100.0, 90.0, 40.0, 30.0)
    for other in window.viewer.views:  # every view shows the same region
        assert other.roi_rect() == (100.0, 90.0, 40.0, 30.0) and other.roi.isVisible()
    ct = result.inputs[0].array[0, 90:120, 100:140].astype(np.float64)
    mri = result.inputs[1].array[0, 90:120, 100:140].astype(np.float64)
    fused = result.fused.array[0, 90:120, 100:140].astype(np.float64) * 255
    stats = window.roi_panel.stats
    assert stats[0]["mean"] == pytest.approx(ct.mean(), rel=1e-5)
    assert stats[0]["sd"] == pytest.approx(ct.std(), rel=1e-5)
    assert stats[1]["min"] == pytest.approx(mri.min())
    assert stats[1]["max"] == pytest.approx(mri.max())
    assert stats[2]["mean"] == pytest.approx(fused.mean(), rel=1e-4)
    assert window.roi_panel.table.item(0, 1).text() == f"{ct.mean():.4g}"
    zoom = window.roi_panel.zooms[2][1].image
    np.testing.assert_array_equal(zoom, result.fused.array[0, 90:120, 100:140])
    # drawing a new ROI by left-drag in ROI mode reports a new rectangle
    view.vb.roiDrag.emit((10.0, 20.0, 30.0, 40.0), True)
    assert window.doc.roi == (10.0, 20.0, 30.0, 40.0)
    assert window.roi_panel.stats[0]["n"] == 30 * 40


class FakeDrag:
    """The parts of a pyqtgraph MouseDragEvent that SliceViewBox.mouseDragEvent reads."""

    def __init__(self, button, start, end, finish=True):
        from pyqtgraph import Point

        self._b, self._s, self._e, self._f = button, Point(*start), Point(*end), finish
        self.accepted = False

    def button(self):
        return self._b

    def buttonDownPos(self, _button=None):
        return self._s

    def pos(self):
        return self._e

    def lastPos(self):
        return self._s

    def screenPos(self):
        return self._e

    def lastScreenPos(self):
        return self._s

    def buttonDownScreenPos(self, _button=None):
        return self._s

    def isFinish(self):
        return self._f

    def isStart(self):
        return False

    def accept(self):
        self.accepted = True


def test_left_drag_draws_roi_or_changes_window_level(qtbot, window, ct_mri_pair):
    from PySide6.QtCore import Qt

    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    view = window.viewer.views[2]
    vb = view.vb
    a = vb.mapFromView(QPointF(20, 30))  # item coordinates of image pixels (20, 30)
    b = vb.mapFromView(QPointF(60, 90))
    window.viewer.roi_radio.setChecked(True)
    vb.mouseDragEvent(FakeDrag(Qt.MouseButton.LeftButton, (a.x(), a.y()), (b.x(), b.y())))
    x, y, w, h = window.doc.roi
    assert abs(x - 20) < 1 and abs(y - 30) < 1 and abs(w - 40) < 1 and abs(h - 60) < 1
    window.viewer.wl_radio.setChecked(True)
    before = view.levels
    vb.mouseDragEvent(FakeDrag(Qt.MouseButton.LeftButton, (0, 0), (50, 0)))
    assert view.levels[1] - view.levels[0] > before[1] - before[0]
    assert window.doc.roi == (x, y, w, h)  # W/L mode leaves the ROI alone
    rng = vb.viewRange()
    vb.mouseDragEvent(FakeDrag(Qt.MouseButton.MiddleButton, (100, 100), (140, 100), False))
    assert vb.viewRange()[0] != rng[0]  # middle-drag pans
    assert view.user_zoomed


def _export(qtbot, window, kind, path):
    with qtbot.waitSignal(window.controller.exportFinished, timeout=WAIT_MS) as blocker:
        assert window.export_to(kind, str(path))
    return blocker.args[0]


def test_export_png_dicom_nifti(qtbot, window, ct_mri_volumes, tmp_path):
    import nibabel as nib
    import pydicom
    from PIL import Image as PILImage

    from fusionviewer import RESEARCH_ONLY

    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_volumes)
    window.doc.set_slice(3)
    out = tmp_path / "out"

    png = _export(qtbot, window, "png", out / "slice.png")
    arr = np.asarray(PILImage.open(png[0]))
    expected = np.rint(np.clip(result.fused.array[3], 0, 1) * 255)
    assert arr.shape == (256, 256) and np.abs(arr.astype(float) - expected).max() <= 1

    folder = _export(qtbot, window, "png_all", out / "slices")
    assert len(folder) == 12 and all(p.exists() for p in folder)

    files = _export(qtbot, window, "dicom", out / "dicom")
    assert len(files) == 12
    ds = pydicom.dcmread(files[0])
    assert "DERIVED" in ds.ImageType and RESEARCH_ONLY in ds.DerivationDescription
    assert ds.pixel_array.shape == (256, 256)

    nifti = _export(qtbot, window, "nifti", out / "fused.nii.gz")
    vol = nib.load(str(nifti[0]))
    assert vol.shape[:3] == (256, 256, 12)

    csv_path = _export(qtbot, window, "metrics", out / "metrics.csv")
    text = csv_path[0].read_text()
    assert text.startswith("group,metric,slice") and "\nsimilarity to sources,CC," in text

    shot = _export(qtbot, window, "screenshot", out / "window.png")
    assert PILImage.open(shot[0]).size == (window.width(), window.height())
    assert window.dialogs == []


def test_export_refuses_source_and_existing_file(qtbot, window, ct_mri_pair, tmp_path):
    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    assert not window.export_to("png", str(ct_mri_pair[0]))
    assert window.dialogs and str(ct_mri_pair[0]) in window.dialogs[-1][2]
    assert "refusing to write over a source file" in window.dialogs[-1][2]
    assert ct_mri_pair[0].stat().st_size > 0
    target = tmp_path / "exists.png"
    target.write_bytes(b"keep me")
    for kind in ("png", "metrics", "screenshot"):  # one check for every kind, before any work
        assert not window.export_to(kind, str(target))
        assert target.read_bytes() == b"keep me"
        assert "output exists" in window.dialogs[-1][2]
