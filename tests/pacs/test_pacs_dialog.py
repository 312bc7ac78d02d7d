"""The PACS dialog against the Orthanc fixture (pytest-qt, offscreen)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
import pytest
from dicom_data import build_ct_mr_study
from orthanc_server import PASSWORD
from PySide6.QtCore import QSettings

from fusionviewer.gui.pacs_dialog import SETTINGS_KEY, PacsDialog

WAIT_MS = 30000


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "fusionviewer.ini"), QSettings.Format.IniFormat)
    s.setValue("pacs/cache_dir", str(tmp_path / "pacs-cache"))
    return s


@pytest.fixture
def dialog(qtbot, settings, dimse_server):
    dlg = PacsDialog(None, settings)
    qtbot.addWidget(dlg)
    dlg.add_server(dimse_server)
    return dlg


def _texts(table, col):
    return [table.item(r, col).text() for r in range(table.rowCount())]


def test_search_fills_tables_and_load_emits_signal(qtbot, dialog, study, tmp_path):
    dialog.patient_id.setText("FV-PACS-0002")
    with qtbot.waitSignal(dialog.seriesFound, timeout=WAIT_MS):  # one study: series listed
        dialog.search_button.click()
    assert dialog.study_table.rowCount() == 1
    assert _texts(dialog.study_table, 1) == ["Harvard Atlas Case2"]
    assert _texts(dialog.study_table, 3) == ["ACC-FV-2"]
    mods = _texts(dialog.series_table, 1)
    assert {"CT", "MR"} <= set(mods)
    mr_row = mods.index("MR")
    assert dialog.series_table.item(mr_row, 2).text() == "MR axial (atlas case 2)"
    assert dialog.series_table.item(mr_row, 3).text() == str(len(study.mr_files))

    dialog.select_series(mr_row)
    assert dialog.load_buttons[1].isEnabled()
    with qtbot.waitSignal(dialog.seriesRetrieved, timeout=WAIT_MS) as blocker:
        dialog.load_buttons[1].click()
    paths, slot = blocker.args
    assert slot == 1 and len(paths) == len(study.mr_files)
    assert all((tmp_path / "pacs-cache") in p.parents for p in paths)
    pixels = np.stack([d.pixel_array for d in sorted(map(pydicom.dcmread, paths),
                                                     key=lambda d: int(d.InstanceNumber))])
    assert np.array_equal(pixels, study.mr_pixels)
    assert "Cache: 19 files" in dialog.cache_label.text()
    assert dialog.clear_cache() == 19


def test_empty_search_and_errors(qtbot, dialog, study):
    dialog.patient_id.setText("NOBODY-HERE")
    with qtbot.waitSignal(dialog.studiesFound, timeout=WAIT_MS) as blocker:
        dialog.search()
    assert blocker.args == [[]] and dialog.study_table.rowCount() == 0
    dialog.date_from.setText("March")
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as blocker:
        dialog.search()
    assert "is not a date" in blocker.args[0]
    dialog.date_from.setText("")
    wrong = dataclasses.replace(dialog.current_server(), name="wrong", ae_title="NOPE")
    dialog.add_server(wrong)
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as blocker:
        dialog.search()
    assert "rejected the association" in blocker.args[0]
    assert "Error:" in dialog.status.text()


def test_send_series_reports_each_instance(qtbot, dialog, web_server, settings, tmp_path):
    dialog.add_server(web_server)  # DICOMweb, password kept for the session only
    assert PASSWORD not in str(settings.value(SETTINGS_KEY))
    data = build_ct_mr_study(tmp_path / "src", n_slices=4, accession="ACC-GUI",
                              patient_id="FV-GUI")
    dialog.set_send_paths(data.mr_files)
    assert dialog.send_button.isEnabled()
    with qtbot.waitSignal(dialog.sendFinished, timeout=WAIT_MS) as blocker:
        dialog.send_button.click()
    report = blocker.args[0]
    assert report.ok and len(report.results) == 4
    assert dialog.result_table.rowCount() == 4
    assert all(t.startswith("OK") for t in _texts(dialog.result_table, 2))

    reopened = PacsDialog(None, settings)  # the server list survives in the settings
    qtbot.addWidget(reopened)
    names = [reopened.server_combo.itemText(i) for i in range(reopened.server_combo.count())]
    assert names == ["orthanc-dimse", "orthanc-web"]
    assert reopened.servers[1].password == ""


def test_send_fused_result_lands_in_the_study(qtbot, dialog, study, dimse_server, tmp_path):
    from fusionviewer.pacs import PacsClient
    from fusionviewer.pipeline import FusionJob, FusionOptions

    client = PacsClient(dimse_server, cache_dir=tmp_path / "c")
    ct = client.retrieve_series(study.study_uid, study.ct_uid)
    mr = client.retrieve_series(study.study_uid, study.mr_uid)
    result = FusionJob([ct[0].parent, mr[0].parent], FusionOptions(method="average")).run()
    before = {s.series_uid for s in client.find_series(study.study_uid)}
    dialog.set_fused_result(result)
    assert dialog.send_button.isEnabled()
    with qtbot.waitSignal(dialog.sendFinished, timeout=WAIT_MS) as blocker:
        dialog.send_button.click()
    report = blocker.args[0]
    assert report.ok and len(report.results) == len(ct)
    new = [s for s in client.find_series(study.study_uid) if s.series_uid not in before]
    assert len(new) == 1 and new[0].num_instances == len(ct) and new[0].modality == "OT"


def test_cancel_retrieve_from_dialog(qtbot, dialog, study):
    dialog.patient_id.setText("FV-PACS-0002")
    with qtbot.waitSignal(dialog.seriesFound, timeout=WAIT_MS):
        dialog.search()
    dialog.select_series(_texts(dialog.series_table, 1).index("CT"))
    retrieved = []
    dialog.seriesRetrieved.connect(lambda paths, slot: retrieved.append(paths))
    task = dialog.load_selected(0)
    task.signals.progress.connect(lambda stage, f: dialog.cancel())
    with qtbot.waitSignal(task.signals.done, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text(), timeout=WAIT_MS)
    assert retrieved == [] and dialog.task is None
    assert not list(dialog.cache_dir.rglob("*.dcm"))
