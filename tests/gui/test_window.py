"""Main window: opening, drops onto the window and onto a slot, fusion in the worker, cancel,
bad input, slice navigation, crosshair/status bar, registration-check modes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from gui_helpers import WAIT_MS, drop_files, fuse_dropped, set_method

from fusionviewer import RESEARCH_ONLY
from fusionviewer.gui.document import MODE_CHECKER, MODE_OVERLAY


def test_window_opens_empty(window):
    assert RESEARCH_ONLY in window.windowTitle()
    assert len(window.viewer.views) == 3  # A, B, fused
    assert window.doc.loaded() == []
    assert window.viewer.fused_view().image_item.image is None
    assert not window.pipeline.run_btn.isEnabled()
    assert window.metrics.tree.topLevelItemCount() == 0


def test_drop_two_real_pairs_fuses_in_worker(qtbot, window, ct_mri_pair, spect_mri_pair):
    set_method(window, "gff")
    result = fuse_dropped(qtbot, window, ct_mri_pair)
    assert [s.path for s in window.doc.loaded()] == [str(p) for p in ct_mri_pair]
    assert window.doc.loaded()[0].image.modality == "CT"  # from the folder name
    shown = window.viewer.fused_view().image_item.image
    np.testing.assert_array_equal(shown, result.fused.array[0])
    assert result.method == "gff"
    assert window.doc.metrics and np.isfinite(window.doc.metrics["EN"])
    assert window.metrics.tree.topLevelItemCount() >= 1
    assert "EN" in window.metrics.csv_text()
    first = result

    # a second real pair, SPECT (colour) with MRI: replaces both sources, fused in colour
    result = fuse_dropped(qtbot, window, spect_mri_pair)
    assert result is not first and result.fused.is_color
    assert window.viewer.fused_view().image_item.image.shape == (256, 256, 3)
    assert [s.path for s in window.doc.loaded()] == [str(p) for p in spect_mri_pair]
    assert window.doc.metrics_slice == 0
    assert window.dialogs == []


def test_drop_onto_a_slot_replaces_only_that_source(qtbot, window, ct_mri_pair, harvard):
    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    other_mri = harvard / "ct-mri" / "mri" / "2011.png"
    fuse_dropped(qtbot, window, [other_mri], target=window.sources.slots[1])
    assert [s.path for s in window.doc.loaded()] == [str(ct_mri_pair[0]), str(other_mri)]
    made_from = [path for path, _uid, _modality in window.doc.result_input[0]]
    assert made_from == [str(ct_mri_pair[0]), str(other_mri)]
    assert window.doc.result_is_current()


def test_cancel_mid_run_keeps_previous_result(qtbot, window, tmp_path):
    from gui_helpers import stacked_volume

    # 40 slices: GFF takes long enough that Esc lands mid-run even on a fast machine
    volumes = [stacked_volume(tmp_path, "ct-mri", k, 40, f"v{k}.nii.gz") for k in (0, 1)]
    set_method(window, "average")
    first = fuse_dropped(qtbot, window, volumes)
    set_method(window, "gff")
    stages = []
    window.doc.progressChanged.connect(lambda s, f: stages.append(s))
    with qtbot.waitSignal(window.controller.fusionCancelled, timeout=WAIT_MS):
        with qtbot.waitSignal(window.doc.progressChanged, timeout=WAIT_MS,
                              check_params_cb=lambda s, f: s == "fusing" and 0 < f < 1):
            assert window.controller.run_fusion()
        assert window.doc.busy
        qtbot.keyClick(window, Qt.Key.Key_Escape)  # Esc cancels
    qtbot.waitUntil(lambda: not window.doc.busy, timeout=WAIT_MS)
    assert window.doc.result is first
    assert window.doc.result.method == "average"
    np.testing.assert_array_equal(window.viewer.fused_view().image_item.image,
                                  first.fused.array[window.doc.slice_index])
    assert "fusing" in stages
    assert window.dialogs == []
    # still usable: a new run completes
    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        window.pipeline.run_btn.click()
    assert window.doc.result.method == "gff"


def test_bad_file_shows_dialog_and_app_stays_usable(qtbot, window, tmp_path, ct_mri_pair):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a PNG at all")
    with qtbot.waitSignal(window.controller.loadFinished, timeout=WAIT_MS):
        drop_files(window, [bad])
    assert len(window.dialogs) == 1
    kind, title, text = window.dialogs[0]
    assert kind == "warning" and "broken.png" in text
    assert window.doc.loaded() == []
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_pair)
    assert result is not None and len(window.dialogs) == 1


def test_mismatched_sizes_give_dialog(qtbot, window, tmp_path, ct_mri_pair):
    from PIL import Image as PILImage

    small = tmp_path / "small_mri.png"
    PILImage.open(ct_mri_pair[1]).resize((128, 128)).save(small)
    with qtbot.waitSignal(window.controller.fusionFailed, timeout=WAIT_MS):
        drop_files(window, [ct_mri_pair[0], small])
    assert any("small_mri.png" in text or "size" in text for _k, _t, text in window.dialogs)
    assert window.doc.result is None
    assert window.isVisible()


def test_slice_navigation_on_stacked_volume(qtbot, window, ct_mri_volumes):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_volumes)
    doc, viewer = window.doc, window.viewer
    assert result.fused.num_slices == 12 and doc.num_slices() == 12
    assert doc.slice_index == 6 and viewer.slider.maximum() == 11
    qtbot.keyClick(window, Qt.Key.Key_PageUp)
    assert doc.slice_index == 7
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert doc.slice_index == 5
    viewer.slider.setValue(10)
    assert doc.slice_index == 10
    viewer.views[0].vb.sliceStep.emit(1)  # what a wheel notch up emits
    assert doc.slice_index == 11
    qtbot.keyClick(viewer.views[1].graphics, Qt.Key.Key_Left)  # arrows on a focused view
    assert doc.slice_index == 10
    qtbot.keyClick(viewer.views[1].graphics, Qt.Key.Key_Up)
    assert doc.slice_index == 11
    combo = window.pipeline.method  # a focused combo box keeps its arrow keys
    combo.setFocus()
    before = combo.currentIndex()
    qtbot.keyClick(combo, Qt.Key.Key_Up)
    assert doc.slice_index == 11 and combo.currentIndex() == max(before - 1, 0)
    viewer.views[0].vb.sliceStep.emit(1)  # clamped at the last slice
    assert doc.slice_index == 11
    for i, layer in enumerate(doc.source_layers()):
        np.testing.assert_array_equal(viewer.views[i].image_item.image, layer.display(11))
    np.testing.assert_array_equal(viewer.fused_view().image_item.image, result.fused.array[11])
    assert viewer.slice_label.text() == "slice 12 / 12"
    # metrics follow the slice (debounced, in the background)
    qtbot.waitUntil(lambda: doc.metrics_slice == 11, timeout=WAIT_MS)


def test_wheel_steps_slices_and_ctrl_wheel_zooms(qtbot, window, ct_mri_volumes):
    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_volumes)

    class Wheel:
        def __init__(self, delta, mods=Qt.KeyboardModifier.NoModifier):
            self._d, self._m, self.accepted = delta, mods, False

        def delta(self):
            return self._d

        def modifiers(self):
            return self._m

        def accept(self):
            self.accepted = True

        def pos(self):
            from PySide6.QtCore import QPointF
            return QPointF(50, 50)

        def orientation(self):
            return Qt.Orientation.Vertical

    vb = window.viewer.views[1].vb
    start = window.doc.slice_index
    vb.wheelEvent(Wheel(-120))
    assert window.doc.slice_index == start - 1
    before = vb.viewRange()
    vb.wheelEvent(Wheel(120, Qt.KeyboardModifier.ControlModifier))
    assert window.doc.slice_index == start - 1
    assert vb.viewRange() != before
    # pan/zoom is linked: the other views follow
    assert np.allclose(window.viewer.views[0].vb.viewRange(), vb.viewRange(), atol=2)
    qtbot.keyClick(window, Qt.Key.Key_R)  # reset: the whole image fits again
    (x0, x1), (y0, y1) = window.viewer.views[0].vb.viewRange()
    assert x0 <= 1 and x1 >= 255 and y0 <= 1 and y1 >= 255
    assert min(x1 - x0, y1 - y0) < 300


def test_crosshair_leaves_with_the_mouse(qtbot, window, ct_mri_pair):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    window.doc.set_cursor((10.0, 10.0))
    assert window.viewer.views[2].vline.isVisible()
    QApplication.sendEvent(window.viewer.views[2].graphics, QEvent(QEvent.Type.Leave))
    assert window.doc.cursor is None and not window.viewer.views[2].vline.isVisible()
    assert window.cursor_label.text() == ""


def test_crosshair_and_pixel_values_in_status_bar(qtbot, window, ct_mri_pair):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, ct_mri_pair)
    window.doc.set_cursor((100.4, 120.7))
    for view in window.viewer.views:
        assert view.vline.isVisible() and view.vline.value() == 100.4
        assert view.hline.value() == 120.7
    text = window.cursor_label.text()
    ct = int(result.inputs[0].array[0, 120, 100])
    fused = result.fused.array[0, 120, 100] * 255
    assert "x 100  y 120" in text
    assert f"A: {ct:.5g}" in text
    assert f"Fused (average): {fused:.5g}" in text
    window.doc.set_cursor(None)
    assert not window.viewer.views[0].vline.isVisible()


def test_window_level_drag_and_presets(qtbot, window, ct_mri_pair):
    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    view = window.viewer.views[0]
    doc = window.doc

    def layer_a():  # window/level lives in the document, per layer
        return window.viewer.view_layers[0]

    lo, hi = view.levels
    assert doc.levels(layer_a()) == (lo, hi)
    view.vb.levelDrag.emit(40.0, 0.0)  # drag right widens the window
    lo2, hi2 = view.levels
    assert hi2 - lo2 > hi - lo
    assert doc.levels(layer_a()) == view.levels
    view.vb.levelDrag.emit(0.0, -30.0)  # drag up raises the level
    assert sum(view.levels) / 2 > (lo2 + hi2) / 2
    edited = view.levels
    with qtbot.waitSignal(window.controller.fusionFinished, timeout=WAIT_MS):
        window.controller.run_fusion()  # a re-run keeps the user's window/level
    assert doc.levels(layer_a()) == edited and view.levels == edited
    window.viewer.apply_preset(0, "default")
    assert view.levels == (lo, hi)
    view.vb.levelDrag.emit(40.0, 0.0)
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert doc.levels(layer_a()) == (lo, hi) and view.levels == (lo, hi)


def test_overlay_and_checkerboard_modes(qtbot, window, spect_mri_pair):
    set_method(window, "average")
    result = fuse_dropped(qtbot, window, spect_mri_pair)
    viewer = window.viewer
    viewer.mode_combo.setCurrentIndex(viewer.mode_combo.findData(MODE_OVERLAY))
    assert window.doc.mode == MODE_OVERLAY and viewer.opacity.isVisible()
    shown = viewer.fused_view().image_item.image
    assert shown.shape == (256, 256, 3)
    viewer.opacity.setValue(0)  # opacity 0: the anatomical source only (gray)
    base = viewer.fused_view().image_item.image
    assert np.allclose(base[..., 0], base[..., 1])
    np.testing.assert_allclose(base[..., 0], result.sources[0].array[0], atol=1e-6)
    viewer.opacity.setValue(100)  # opacity 1: the SPECT colours
    np.testing.assert_allclose(viewer.fused_view().image_item.image, result.sources[1].array[0],
                               atol=1e-6)
    viewer.mode_combo.setCurrentIndex(viewer.mode_combo.findData(MODE_CHECKER))
    viewer.tile.setValue(16)
    board = viewer.fused_view().image_item.image
    a, b = result.sources[0].array[0], result.sources[1].array[0]
    np.testing.assert_allclose(board[0:16, 0:16, 0], a[0:16, 0:16], atol=1e-6)
    np.testing.assert_allclose(board[0:16, 16:32], b[0:16, 16:32], atol=1e-6)
    viewer.mode_combo.setCurrentIndex(0)
    np.testing.assert_array_equal(viewer.fused_view().image_item.image, result.fused.array[0])


def test_recent_files_and_layout_persist(qtbot, window, settings_dir, ct_mri_pair):
    from fusionviewer.gui.app import create_window
    from fusionviewer.gui.settings import recent_files

    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    assert recent_files(window.settings)[:2] == [str(p) for p in ct_mri_pair]
    window.roi_dock.setVisible(False)
    window.save_layout()
    assert (settings_dir / "fusionviewer.ini").exists()
    again = create_window()
    qtbot.addWidget(again)
    again.show()
    assert [a.text() for a in again.recent_menu.actions()][:2] == [str(p) for p in ct_mri_pair]
    assert not again.roi_dock.isVisible()
    again.close()


def test_more_than_two_sources_use_a_grid(qtbot, window, harvard):
    set_method(window, "average")
    paths = [harvard / "ct-mri" / "ct" / "2010.png", harvard / "ct-mri" / "mri" / "2010.png",
             harvard / "ct-mri" / "mri" / "2011.png"]
    result = fuse_dropped(qtbot, window, paths)
    assert len(result.sources) == 3
    assert len(window.viewer.views) == 4
    assert window.viewer.fused_view().image_item.image is not None
    assert len(window.pipeline.norm_combos) == 3
