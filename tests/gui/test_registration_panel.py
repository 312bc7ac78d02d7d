"""Registration in the GUI: the verdict next to the registration choice (a banner when doubtful
or failed), manual adjustment with keys and sliders, undo/redo, .tfm round trip, re-fusion
with the adjusted transform."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from PIL import Image as PILImage
from PySide6.QtCore import Qt

from gui_helpers import HARVARD, WAIT_MS, fuse_dropped, set_method

from fusionviewer.registration import load_transform

CT = HARVARD / "ct-mri" / "ct" / "34012.png"
MR = HARVARD / "ct-mri" / "mri" / "34012.png"
KNOWN = sitk.Euler2DTransform((127.5, 127.5), np.deg2rad(8.0), (6.0, -4.0))


def _moved_mr(tmp_path):
    mr = np.asarray(PILImage.open(MR)).astype(np.float32)
    img = sitk.GetImageFromArray(mr)
    moved = sitk.GetArrayFromImage(sitk.Resample(img, img, KNOWN, sitk.sitkLinear, 0.0))
    path = tmp_path / "moved_mri.png"
    PILImage.fromarray(np.clip(np.rint(moved), 0, 255).astype(np.uint8)).save(path)
    return path


def _registered(qtbot, window, paths):
    set_method(window, "average")
    combo = window.pipeline.registration
    combo.setCurrentIndex(combo.findData("rigid"))
    assert window.doc.options.register == "rigid"
    return fuse_dropped(qtbot, window, paths)


def test_verdict_shown_and_manual_adjustment_round_trips(qtbot, window, tmp_path):
    result = _registered(qtbot, window, [CT, _moved_mr(tmp_path)])
    label = window.pipeline.registration_quality
    assert result.registrations[1].report.verdict == "good"
    assert label.isVisible() and label.text().startswith("B: good: rigid")
    assert not label.is_warning

    panel = window.registration_panel
    assert panel.moving_index() == 1
    found = result.registrations[1].transform
    np.testing.assert_allclose(panel.current_transform().GetParameters(),
                               found.GetParameters(), atol=1e-9)
    before = panel.preview_array().copy()
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_Right)  # +1 mm in x
    qtbot.keyClick(panel, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)  # -1 degree
    panel.sliders["ty"].setValue(25)  # the slider: +2.5 mm in y
    assert panel.params["tx"] == 1.0 and panel.params["rz"] == -1.0 and panel.params["ty"] == 2.5
    assert not np.array_equal(panel.preview_array(), before)  # the checkerboard follows
    # the content moved: fixed point p now maps to where p - shift mapped before (no rotation)
    panel.undo()
    assert panel.params["ty"] == 0.0 and panel.params["rz"] == -1.0
    panel.undo()
    assert panel.params["rz"] == 0.0
    shifted = panel.current_transform()
    p = np.array([100.0, 120.0])
    np.testing.assert_allclose(shifted.TransformPoint(tuple(p)),
                               found.TransformPoint(tuple(p - [1.0, 0.0])), atol=1e-6)
    panel.redo()
    assert panel.params["rz"] == -1.0 and panel.redo_btn.isEnabled()
    adjusted = panel.current_transform()

    tfm = tmp_path / "adjusted.tfm"
    panel.save_transform_file(str(tfm))
    np.testing.assert_allclose(load_transform(tfm).GetParameters(), adjusted.GetParameters(),
                               atol=1e-9)
    panel.reset_from_result()
    panel.load_transform_file(str(tfm))
    np.testing.assert_allclose(panel.current_transform().GetParameters(),
                               adjusted.GetParameters(), atol=1e-9)
    panel.undo()  # loading is one step too
    np.testing.assert_allclose(panel.current_transform().GetParameters(),
                               found.GetParameters(), atol=1e-9)
    panel.redo()

    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        panel.apply_btn.click()
    rerun = window.doc.result
    assert window.doc.options.transforms[1] is not None
    np.testing.assert_allclose(rerun.registrations[1].transform.GetParameters(),
                               adjusted.GetParameters(), atol=1e-9)
    assert rerun.registrations[1].report is None
    assert "B: given transform" in label.text()


def test_failed_registration_shows_a_warning_banner(qtbot, window, tmp_path):
    noise = tmp_path / "noise.png"
    rng = np.random.default_rng(3)
    PILImage.fromarray(rng.integers(0, 255, (256, 256), dtype=np.uint8)).save(noise)
    result = _registered(qtbot, window, [CT, noise])
    assert result.registrations[1].report.verdict == "failed"
    label = window.pipeline.registration_quality
    assert label.is_warning and label.text().startswith("Warning: registration failed")
    assert "b00020" in label.styleSheet()


def test_adjustment_moves_the_content_in_3d():
    from fusionviewer.gui.registration_panel import adjusted

    base = sitk.Euler3DTransform((1.0, 2.0, 3.0), 0.1, -0.2, 3.0, (5.0, -4.0, 2.0))
    centre = np.array([10.0, 20.0, 30.0])
    params = {"tx": 2.0, "ty": -1.0, "tz": 3.0, "rx": 0.0, "ry": 0.0, "rz": 90.0}
    tx = adjusted(base, params, centre)
    assert isinstance(tx, sitk.Euler3DTransform)
    # content turned by +90 degrees about z around the centre, then shifted: the fixed point
    # where content from q now shows is motion(q); there the new transform gives base(q)
    q = np.array([14.0, 25.0, 33.0])
    d = q - centre
    moved_to = centre + np.array([-d[1], d[0], d[2]]) + [2.0, -1.0, 3.0]
    np.testing.assert_allclose(tx.TransformPoint(tuple(moved_to)), base.TransformPoint(tuple(q)),
                               atol=1e-9)
    affine = sitk.AffineTransform(3)
    affine.SetMatrix((1.1, 0, 0, 0, 1, 0, 0, 0, 0.9))
    assert isinstance(adjusted(affine, params, centre), sitk.AffineTransform)
