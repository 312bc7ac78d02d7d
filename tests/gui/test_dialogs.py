"""Export dialog defaults, About, Batch, and the PACS menu entry."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QDialog

import numpy as np

from gui_helpers import HARVARD, WAIT_MS, batch_folders, fuse_dropped, set_method

from fusionviewer import RESEARCH_ONLY, __version__


def test_export_dialog_defaults_and_refusals(qtbot, window, ct_mri_pair, tmp_path, dialogs):
    from fusionviewer.gui.export_dialog import ExportDialog

    set_method(window, "average")
    fuse_dropped(qtbot, window, ct_mri_pair)
    window.settings.setValue("export/dir", str(tmp_path / "exports"))  # the last export folder
    dialog = ExportDialog(window.doc, window.settings, window, kind="png")
    qtbot.addWidget(dialog)
    default = Path(dialog.path_edit.text())
    assert default == (tmp_path / "exports").resolve() / "fused_average.png"
    # (a loaded DICOM series folder is never the default: test_pipeline_gui.py)
    # typing a source file is refused with a message, the dialog stays open
    dialog.path_edit.setText(str(ct_mri_pair[0]))
    dialog._accept()
    assert dialog.result() != QDialog.DialogCode.Accepted and dialog.path is None
    assert dialogs[-1][2] == f"{ct_mri_pair[0]}: refusing to write over a source file"
    # an existing non-source file asks before replacing (recorded answer: Yes)
    other = tmp_path / "old.png"
    other.write_bytes(b"x")
    dialog.path_edit.setText(str(other))
    dialog._accept()
    assert dialogs[-1][0] == "question" and dialog.force and dialog.path == other
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("dicom"))
    assert Path(dialog.path_edit.text()).name == "fused_average_dicom"


def test_about_shows_version_device_and_research_notice(qtbot, window):
    from fusionviewer.gui.about_dialog import AboutDialog

    dialog = AboutDialog(window, "CPU only (test)")
    qtbot.addWidget(dialog)
    assert __version__ in dialog.plain and RESEARCH_ONLY in dialog.plain
    assert "CPU only (test)" in dialog.text.toPlainText()
    assert "Model card" in dialog.text.toPlainText()
    from fusionviewer.fusion.weights import default_weights_path, model_card

    assert model_card().strip().splitlines()[0] in dialog.plain
    assert f"Weights: {default_weights_path().name}" in dialog.plain or "not found" in dialog.plain


def test_batch_dialog_runs_and_lists_failures(qtbot, window, tmp_path):
    a, b, out = batch_folders(tmp_path)
    (a / "2012.png").write_bytes(b"not an image")
    (b / "2012.png").write_bytes(b"not an image either")
    shutil.copy(HARVARD / "ct-mri" / "ct" / "2013.png", a / "2013.png")  # no partner
    set_method(window, "average")
    dialog = window.batch_dialog()
    qtbot.addWidget(dialog)
    dialog.set_folders([str(a), str(b)], str(out))
    with qtbot.waitSignal(dialog.finished_rows, timeout=WAIT_MS):
        assert dialog.start()
    status = {r.name: r.status for r in dialog.rows}
    assert status == {"2010.png": "ok", "2011.png": "ok", "2012.png": "failed",
                      "2013.png": "skipped"}
    assert (out / "2010.png").exists() and (out / "summary.csv").exists()
    assert dialog.table.rowCount() == 4
    assert "2 fused, 1 failed, 1 skipped" in dialog.summary.text()
    assert "2012.png" in dialog.summary.text()


def test_pacs_menu_entry_opens_the_pacs_dialog(qtbot, window, monkeypatch, tmp_path):
    import fusionviewer.gui.pacs_dialog as pacs
    from fusionviewer.io.synthetic import write_series

    assert window.pacs_action is not None
    opened = []
    monkeypatch.setattr(pacs.PacsDialog, "show", lambda self: opened.append(self))
    window.pacs_action.trigger()
    assert len(opened) == 1
    dialog = opened[0]
    qtbot.addWidget(dialog)
    window.pipeline.auto_run.setChecked(False)
    # a retrieved series: several files in one cache folder -> one source in slot B
    files = write_series(np.arange(4 * 32 * 32, dtype=np.int16).reshape(4, 32, 32),
                         tmp_path / "cache" / "series", modality="CT")
    with qtbot.waitSignal(window.controller.loadFinished, timeout=WAIT_MS):
        dialog.seriesRetrieved.emit([str(p) for p in files], 1)
    assert window.doc.sources[0] is None
    assert window.doc.sources[1].image.shape == (4, 32, 32)
    assert window.doc.sources[1].path == str(tmp_path / "cache" / "series")
    # a new fusion result becomes what "Send to PACS" sends
    set_method(window, "average")
    window.pipeline.auto_run.setChecked(True)
    result = fuse_dropped(qtbot, window, [HARVARD / "ct-mri" / "ct" / "2010.png",
                                          HARVARD / "ct-mri" / "mri" / "2010.png"])
    assert dialog.fused_result is result
